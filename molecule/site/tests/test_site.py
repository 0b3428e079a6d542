"""Verify playbooks/site.yml on a lab-like cluster (see ../molecule.yml).

site-head: slurmctld, slurmdbd + MariaDB, login tools, NFS server (exports
written; this kernel has no nfsd). site-c01 (synthetic 2P Genoa NPS4, EL9
kernel) and site-c02 (synthetic 2P Rome NPS1, 5.15 kernel): slurmd, tuned for
their synthetic machines. Each layer leaves its mark; the cluster runs jobs.
"""
import json
import os
import re
import time

import pytest
import testinfra

HEAD = "site-head"
COMPUTES = ["site-c01", "site-c02"]
NODES = [HEAD] + COMPUTES
MUNGE_KEY = "/etc/munge/munge.key"
SYSCTL = "/etc/sysctl.d/90-hpcai-numa.conf"
TUNING_FACT = "/etc/ansible/facts.d/hpcai_kernel_tuning.fact"


def name(host):
    return host.backend.get_hostname()


@pytest.fixture(scope="module")
def head(host):
    return testinfra.get_host("ansible://%s" % HEAD, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def run_ok(host, command):
    result = host.run(command)
    assert result.rc == 0, "%s on %s: rc %d\n%s\n%s" % (command, name(host), result.rc, result.stdout, result.stderr)
    return result.stdout


# ---------------------------------------------------------------- base
def test_every_node_resolves_every_node(host):
    for node in NODES:
        address = host.check_output("getent hosts %s" % node).split()[0]
        assert address.startswith("172.30.92."), (node, address)


# ---------------------------------------------------------------- kernel_tuning
def test_sysctl_file_on_every_node(host):
    f = host.file(SYSCTL)
    assert f.is_file and f.user == "root" and f.mode == 0o644, "%s on %s" % (SYSCTL, name(host))
    assert host.file(TUNING_FACT).is_file


def test_computes_tuned_for_their_synthetic_machines(host):
    if name(host) not in COMPUTES:
        pytest.skip("computes only")
    record = json.loads(host.file(TUNING_FACT).content_string)
    spec, generation = {"site-c01": ("genoa_2p_nps4_smt-el9", "zen4"),
                        "site-c02": ("rome_2p_nps1_smt-5.15", "zen2")}[name(host)]
    assert record["topology_root"] == "/var/lib/hpcai-lab/topology/%s" % spec
    assert record["generation"] == generation


# ---------------------------------------------------------------- fabric / gpu
def test_rdma_userspace_installed(host):
    assert host.exists("ibv_devinfo"), "fabric userspace missing on %s" % name(host)


def test_no_gpu_stack_on_cpu_only_nodes(host):
    # The lab's machines (real and synthetic) have no GPU: nothing from the gpu layer.
    assert not host.file("/etc/apt/sources.list.d/hpcai-cuda.sources").exists
    assert not host.file("/etc/ansible/facts.d/hpcai_kernel_guard.fact").exists
    assert host.check_output("apt-mark showhold") == ""


# ---------------------------------------------------------------- shared_fs
def test_nfs_export_on_head_mount_on_computes(host):
    exports = host.file("/etc/exports.d/hpcai.exports")
    fstab = host.file("/etc/fstab").content_string
    if name(host) == HEAD:
        assert exports.is_file and "/srv/home" in exports.content_string
        assert "172.30.92.0/24" in exports.content_string
        assert "/home/shared" not in fstab
    else:
        assert not exports.exists
        entries = [ln.split() for ln in fstab.splitlines() if not ln.startswith("#") and len(ln.split()) >= 4]
        home = [e for e in entries if e[1] == "/home/shared"]
        assert len(home) == 1 and home[0][0] == "site-head:/srv/home" and home[0][2] == "nfs4", fstab
        assert {"hard", "_netdev", "x-systemd.automount"} <= set(home[0][3].split(","))


# ---------------------------------------------------------------- slurm
def test_munge_key_same_everywhere_and_private(host, head):
    key = host.file(MUNGE_KEY)
    assert key.exists and key.user == "munge" and key.group == "munge" and key.mode == 0o400
    assert key.sha256sum == head.file(MUNGE_KEY).sha256sum
    assert host.service("munge").is_running


def test_slurmdbd_conf_is_private(host):
    if name(host) != HEAD:
        pytest.skip("dbd host only")
    conf = host.file("/etc/slurm/slurmdbd.conf")
    assert conf.user == "slurm" and conf.mode == 0o600
    assert "StoragePass=hpcai-lab-not-a-secret" in conf.content_string


def test_daemons_per_class(host):
    me = name(host)
    assert host.service("slurmctld").is_running == (me == HEAD)
    assert host.service("slurmdbd").is_running == (me == HEAD)
    assert host.service("slurmd").is_running == (me in COMPUTES)


def _wait_idle(head_host, timeout=120):
    deadline = time.time() + timeout
    states = {}
    while time.time() < deadline:
        out = head_host.run("sinfo --noheader --Node --format='%N %t'").stdout
        states = dict(line.split() for line in out.splitlines() if line.strip())
        if all(states.get(c) == "idle" for c in COMPUTES):
            return states
        time.sleep(2)
    return states


def test_sinfo_shows_both_computes_idle(host, head):
    if name(host) != HEAD:
        pytest.skip("run once, from the head (login) node")
    states = _wait_idle(head)
    assert {c: states.get(c) for c in COMPUTES} == {c: "idle" for c in COMPUTES}, states
    assert run_ok(head, "sinfo --noheader --list-reasons").strip() == ""


def test_srun_across_both_computes(host, head):
    if name(host) != HEAD:
        pytest.skip("run once, from the head (login) node")
    _wait_idle(head)
    out = run_ok(head, "timeout 120 srun --nodes=2 --ntasks=2 hostname")
    assert sorted(out.split()) == COMPUTES


def test_compute_records_match_slurmd(host, head):
    if name(host) not in COMPUTES:
        pytest.skip("computes only")
    info = run_ok(head, "scontrol show node %s" % name(host))
    assert re.search(r"State=(IDLE|ALLOCATED|MIXED)", info), info
    measured = dict(w.split("=", 1) for w in run_ok(host, "slurmd -C").splitlines()[0].split()[1:])
    assert re.search(r"\bCPUTot=%s\b" % measured["CPUs"], info), (measured, info)
