"""Behaviour of a converged base role (testinfra, run on every instance)."""
import pytest

HEAD = "base-head"
COMPUTE = "base-c01"


def _peer(host):
    return COMPUTE if host.backend.get_hostname() == HEAD else HEAD


def test_systemd_is_up(host):
    assert host.run("systemctl is-system-running").stdout.strip() in ("running", "degraded")


def test_every_node_resolves_every_node_from_etc_hosts(host):
    for name in (HEAD, COMPUTE):
        # getent hosts via files only: Docker's embedded DNS must not be what answers
        out = host.check_output("getent -s files hosts %s.molecule.test" % name)
        assert name in out


def test_root_ssh_between_nodes_without_prompt(host):
    peer = _peer(host)
    out = host.check_output("ssh -o BatchMode=yes -o ConnectTimeout=5 %s hostname" % peer)
    assert out.strip() == peer
    # host keys come from the managed known_hosts, not from an accepted prompt
    assert host.file("/etc/ssh/ssh_known_hosts").contains(peer)
    assert host.file("/root/.ssh/id_ed25519").mode == 0o600


def test_sshd_is_running_and_listening(host):
    assert host.socket("tcp://0.0.0.0:22").is_listening or host.socket("tcp://:::22").is_listening


def test_fixed_ids_for_cluster_accounts(host):
    assert host.user("munge").uid == 981
    assert host.user("slurm").uid == 982
    assert host.group("hpcusers").gid == 2000
    alice = host.user("alice")
    assert alice.uid == 2001 and alice.group == "hpcusers"


def test_firewall_trusts_cluster_network_and_opens_listed_port(host):
    ruleset = host.check_output("nft list table inet hpcai_base")
    assert "172.30.88.0/24" in ruleset
    assert "8443" in ruleset
    assert "policy drop" in ruleset
    assert host.service("nftables").is_enabled


PROBE = (
    "import socket, sys, time\n"
    "for _ in range(40):\n"
    "    try:\n"
    "        socket.create_connection((sys.argv[1], 9999), 1).close(); print('open'); break\n"
    "    except OSError:\n"
    "        time.sleep(0.1)\n"
)


def test_cluster_traffic_passes_the_firewall(host):
    """A port nobody opened explicitly is reachable from the trusted cluster network."""
    me = host.backend.get_hostname()
    assert host.run("(timeout 8 python3 -m http.server 9999 >/dev/null 2>&1 &)").rc == 0
    host.check_output("printf %s > /tmp/probe.py", PROBE)
    host.check_output("scp -q -o BatchMode=yes /tmp/probe.py %s:/tmp/probe.py", _peer(host))
    out = host.check_output("ssh -o BatchMode=yes %s python3 /tmp/probe.py %s", _peer(host), me)
    assert out.strip() == "open"


def test_chrony_configured_with_cluster_time_source(host):
    conf = host.file("/etc/chrony/chrony.conf")
    assert conf.exists
    if host.backend.get_hostname() == HEAD:
        assert conf.contains("^allow 172.30.88.0/24")
    else:
        assert conf.contains("^server .* iburst")
    # containers must not get CAP_SYS_TIME: the role configures chrony but does not start it
    assert not host.service("chrony").is_running


def test_journald_is_persistent(host):
    cfg = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    assert "Storage=persistent" in cfg
    machine_id = host.file("/etc/machine-id").content_string.strip()
    assert host.file("/var/log/journal/%s" % machine_id).is_directory


def test_limits_for_rdma_and_mpi(host):
    limits = host.file("/etc/security/limits.d/90-hpcai.conf").content_string
    assert any(ln.split()[1:] == ["hard", "memlock", "unlimited"] for ln in limits.splitlines() if ln.startswith("*"))
    assert "DefaultLimitMEMLOCK=infinity" in host.check_output("systemd-analyze cat-config systemd/system.conf")


@pytest.mark.parametrize("cmd", ["numactl --hardware", "lstopo-no-graphics --version", "lspci -n", "jq --version"])
def test_baseline_tools_answer(host, cmd):
    assert host.run(cmd).rc == 0


def test_timezone(host):
    assert host.file("/etc/localtime").linked_to.endswith("UTC")
