"""Verify the fabric role on the Molecule nodes (see ../molecule.yml).

fabric-ib:   synthetic HGX H100 (8 x ConnectX-7 IB, 2 x ConnectX-6 Dx RoCE),
             NetworkManager keyfiles, opensm configured (not started).
fabric-roce: synthetic Milan with ConnectX-6 Dx RoCE PFs + VFs and one
             ConnectX-6 IB port, systemd-networkd files, lossless RoCE files.
fabric-none: the container's own sysfs, no RDMA: userspace only.

Addresses (converge.yml): ib 10.20.0.0/16 offset 10, roce 10.30.0.0/24 offset
1; host index = position in the inventory (fabric-ib 0, fabric-roce 1,
fabric-none 2).
"""
import configparser

import pytest

MODULES_LOAD = "/etc/modules-load.d/hpcai-rdma.conf"
NM_DIR = "/etc/NetworkManager/system-connections"
NETWORKD_DIR = "/etc/systemd/network"


def name(host):
    return host.backend.get_hostname()


def ini(text):
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    parser.read_string(text)
    return parser


def active_lines(text):
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


@pytest.mark.parametrize("command", ["ibv_devinfo", "ibstat", "ib_write_bw", "ucx_info", "fi_info", "rping"])
def test_userspace_installed_everywhere(host, command):
    assert host.exists(command), f"{command} missing on {name(host)}"


def test_modules_load_file_only_with_hardware(host):
    f = host.file(MODULES_LOAD)
    if name(host) == "fabric-none":
        assert not f.exists
        return
    assert f.is_file and f.user == "root" and f.mode == 0o644
    modules = set(active_lines(f.content_string))
    # mlx5_ib for the ConnectX adapters, the verbs/CM core, IPoIB and umad for IB ports.
    assert {"mlx5_ib", "ib_uverbs", "rdma_ucm", "ib_ipoib", "ib_umad"} <= modules


def test_no_fabric_files_without_hardware(host):
    if name(host) != "fabric-none":
        pytest.skip("node with (synthetic) RDMA hardware")
    out = host.check_output("ls /etc/NetworkManager/system-connections /etc/systemd/network /etc/network/interfaces.d "
                            "2>/dev/null || true")
    assert "hpcai-fabric" not in out
    assert not host.file("/etc/systemd/system/hpcai-roce-qos.service").exists


def test_networkmanager_keyfiles(host):
    if name(host) != "fabric-ib":
        pytest.skip("NetworkManager backend only on fabric-ib")
    ib = host.file(f"{NM_DIR}/hpcai-fabric-ib.nmconnection")
    roce = host.file(f"{NM_DIR}/hpcai-fabric-roce.nmconnection")
    for f in (ib, roce):
        # NetworkManager ignores keyfiles that are not root-owned 0600.
        assert f.is_file and f.user == "root" and f.mode == 0o600
    k = ini(ib.content_string)
    assert k["connection"]["type"] == "infiniband"
    # first IB port in PCI order: ConnectX-7 at 0000:06:00.0
    assert k["connection"]["interface-name"] == "ibp6s0"
    assert k["infiniband"]["transport-mode"] == "datagram"
    assert k["infiniband"]["mtu"] == "2044"
    assert k["ipv4"]["method"] == "manual"
    assert k["ipv4"]["address1"] == "10.20.0.10/16"
    r = ini(roce.content_string)
    assert r["connection"]["type"] == "ethernet"
    assert r["connection"]["interface-name"] == "ens41f0np0"
    assert r["ethernet"]["mtu"] == "9000"
    assert r["ipv4"]["address1"] == "10.30.0.1/24"
    assert k["connection"]["uuid"] != r["connection"]["uuid"]


def test_networkmanager_parses_the_keyfiles(host):
    if name(host) != "fabric-ib":
        pytest.skip("NetworkManager backend only on fabric-ib")
    with host.sudo():
        host.run_expect([0], "nmcli connection reload")
        out = host.check_output("nmcli -t -g connection.type,connection.interface-name,ipv4.addresses "
                                "connection show hpcai-fabric-ib")
        assert out.splitlines() == ["infiniband", "ibp6s0", "10.20.0.10/16"]
        out = host.check_output("nmcli -t -g connection.type,connection.interface-name,802-3-ethernet.mtu,ipv4.addresses "
                                "connection show hpcai-fabric-roce")
        assert out.splitlines() == ["802-3-ethernet", "ens41f0np0", "9000", "10.30.0.1/24"]


def test_networkd_files(host):
    if name(host) != "fabric-roce":
        pytest.skip("systemd-networkd backend only on fabric-roce")
    ib = host.file(f"{NETWORKD_DIR}/60-hpcai-fabric-ib.network")
    roce = host.file(f"{NETWORKD_DIR}/60-hpcai-fabric-roce.network")
    assert ib.mode == 0o644 and roce.mode == 0o644
    k = ini(ib.content_string)
    assert k["Match"]["Name"] == "ibp193s0"
    assert k["Network"]["Address"] == "10.20.0.11/16"
    assert k["IPoIB"]["Mode"] == "datagram"
    assert k["Link"]["MTUBytes"] == "2044"
    r = ini(roce.content_string)
    # the first RoCE physical function, not an SR-IOV VF
    assert r["Match"]["Name"] == "ens1f0np0"
    assert r["Network"]["Address"] == "10.30.0.2/24"
    assert "IPoIB" not in r


def test_lossless_roce_files(host):
    script = host.file("/usr/local/sbin/hpcai-roce-qos")
    unit = host.file("/etc/systemd/system/hpcai-roce-qos.service")
    if name(host) != "fabric-roce":
        assert not script.exists and not unit.exists
        return
    assert script.mode == 0o755 and unit.mode == 0o644
    text = script.content_string
    for dev in ("ens1f0np0", "ens1f1np1"):
        assert f"pfc set dev {dev} prio-pfc all:off 3:on" in text
        assert f"app replace dev {dev} dscp-prio 26:3 48:6" in text
    # VFs inherit the PF's QoS: never configured themselves
    assert "ens1f0v0" not in text and "ens1f0v1" not in text
    assert "echo 106 >" in text
    host.run_expect([0], "sh -n /usr/local/sbin/hpcai-roce-qos")
    assert "ExecStart=/usr/local/sbin/hpcai-roce-qos" in unit.content_string


def test_opensm_configured_on_the_sm_host(host):
    conf = host.file("/etc/opensm/opensm.conf")
    if name(host) != "fabric-ib":
        assert not host.file("/etc/default/opensm").exists or "hpcai" not in host.file("/etc/default/opensm").content_string
        return
    assert "sm_priority 14" in active_lines(conf.content_string)
    assert 'PORTS="ALL"' in active_lines(host.file("/etc/default/opensm").content_string)
