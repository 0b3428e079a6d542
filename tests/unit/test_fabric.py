# -*- coding: utf-8 -*-
"""Tests for plugins/module_utils/fabric.py (RDMA fabric facts).

The fabric nodes of tests/sysfs_gen.py (and the older PCI/GPU nodes with
InfiniBand or RoCE adapters) are read in memory and from disk.  What each node
must give is written here by hand from the hardware the spec describes, never
computed with fabric.py's tables or code.  Hand-made and randomly damaged
trees check that nothing raises and that the documented fallbacks hold.
"""

from __future__ import absolute_import, division, print_function

import copy
import os
import random
import shutil
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sysfs_gen as gen  # noqa: E402

from ansible_collections.hpcai.cluster.plugins.module_utils import fabric  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils.topology import SysfsReader  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils.topology_report import render_map  # noqa: E402

FABRIC_SPECS = sorted(n for n in gen.catalogue() if n.startswith("fabric_"))
PCI_SPECS = sorted(n for n in gen.catalogue() if gen.CATALOGUE[n]["pci_devices"] is not None)
FACT_KEYS = ["rdma_sysfs", "adapters", "rdma_devices", "interfaces", "counts", "has_infiniband", "has_roce",
             "subnet_manager", "kernel_modules", "missing_rdma_drivers", "warnings"]
ADAPTER_KEYS = ["pci_address", "vendor", "device", "model", "kind", "driver", "rdma_module", "rdma_devices",
                "netdevs", "numa_node", "local_cpus", "vf", "physfn"]
RDMA_KEYS = ["name", "pci_address", "node_type", "fw_ver", "node_guid", "numa_node", "ports"]
RDMA_EXTRA = ["kind", "soft"]
PORT_KEYS = ["port", "link_layer", "state", "phys_state", "rate", "rate_gbps", "lid", "sm_lid", "netdev"]
IFACE_KEYS = ["name", "kind", "rdma_device", "port", "pci_address", "numa_node", "operstate", "mtu", "mac",
              "speed_mbps", "ipoib_mode", "vf", "parent"]
COUNT_KEYS = ["adapters", "rdma_devices", "ib_ports", "ib_ports_active", "roce_ports", "roce_ports_active"]
IB_MODS = ["ib_ipoib", "ib_umad", "ib_uverbs", "mlx5_ib", "rdma_ucm"]
MLX, INTEL, BRCM, AMAZON = 0x15B3, 0x8086, 0x14E4, 0x1D0F


_READERS = {}


def _reader(name):
    if name not in _READERS:
        _READERS[name] = gen.MemoryReader.for_spec(gen.CATALOGUE[name], full=False)
    return _READERS[name]


def _facts(name_or_spec):
    if isinstance(name_or_spec, str):
        return fabric.collect_facts(_reader(name_or_spec))
    return fabric.collect_facts(gen.MemoryReader.for_spec(name_or_spec, full=False))


def _small(devices, **kw):
    """2 sockets x 2 CCX x 8 cores with SMT (CPUs 0-63; node 0 = 0-15,32-47), NPS1."""
    return gen.make_spec(gen.MILAN, name="small", sockets=2, ccx_per_socket=2, pci_devices=devices, **kw)


def _by(items, key):
    return dict((item[key], item) for item in items)


def _natural(name):
    import re
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


@pytest.fixture(scope="module")
def disk_base():
    path = tempfile.mkdtemp(prefix="hpcai-fabric-", dir=gen.fast_tmp_base())
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def tmp_path(disk_base):
    import pathlib

    return pathlib.Path(tempfile.mkdtemp(dir=disk_base))


# --------------------------------------------------------------------------
# Contract and invariants over every PCI node
# --------------------------------------------------------------------------


def test_catalogue_has_the_fabric_nodes():
    assert FABRIC_SPECS == [
        "fabric_ib_no_sm_milan_2p", "fabric_ib_sm_genoa_2p", "fabric_mlx_no_rdma_driver_milan_1p",
        "fabric_no_rdma_milan_1p", "fabric_quirks_genoa_2p", "fabric_roce_cx6dx_genoa_1p", "fabric_soft_roce_vm"]


@pytest.mark.parametrize("name", PCI_SPECS)
def test_contract_and_invariants(name):
    fact = _facts(name)
    assert sorted(fact) == sorted(FACT_KEYS)
    assert sorted(fact["counts"]) == sorted(COUNT_KEYS)
    for adapter in fact["adapters"]:
        assert sorted(adapter) == sorted(ADAPTER_KEYS)
        assert adapter["kind"] in ("ib", "roce", "ethernet")
        assert adapter["numa_node"] is None or adapter["numa_node"] >= 0
    for dev in fact["rdma_devices"]:
        assert sorted(dev) == sorted(RDMA_KEYS + RDMA_EXTRA)
        assert [p["port"] for p in dev["ports"]] == sorted(p["port"] for p in dev["ports"])
        for port in dev["ports"]:
            assert sorted(port) == sorted(PORT_KEYS)
            if port["link_layer"] != "InfiniBand":
                assert port["lid"] is None and port["sm_lid"] is None
    for iface in fact["interfaces"]:
        assert sorted(iface) == sorted(IFACE_KEYS)
        assert iface["kind"] in ("ipoib", "roce", "ethernet")
        assert iface["name"] != "lo"
    assert [a["pci_address"] for a in fact["adapters"]] == sorted(a["pci_address"] for a in fact["adapters"])
    assert [d["name"] for d in fact["rdma_devices"]] == sorted((d["name"] for d in fact["rdma_devices"]), key=_natural)
    assert [i["name"] for i in fact["interfaces"]] == sorted((i["name"] for i in fact["interfaces"]), key=_natural)
    counts = fact["counts"]
    assert counts["adapters"] == len(fact["adapters"]) and counts["rdma_devices"] == len(fact["rdma_devices"])
    assert counts["ib_ports_active"] <= counts["ib_ports"] and counts["roce_ports_active"] <= counts["roce_ports"]
    assert fact["kernel_modules"] == sorted(set(fact["kernel_modules"]))
    assert (fact["kernel_modules"] == []) == (fact["adapters"] == [])
    assert set(fact["missing_rdma_drivers"]) <= set(a["pci_address"] for a in fact["adapters"])
    assert fact["subnet_manager"] in ("present", "absent", "unknown")
    if not fact["has_infiniband"]:
        assert fact["subnet_manager"] == "unknown"


@pytest.mark.parametrize("name", FABRIC_SPECS + ["hgx_h100_genoa_2p_nps4", "milan_2p_roce_sriov"])
def test_disk_matches_memory(name, disk_base):
    root = gen.build_tree(os.path.join(disk_base, name), gen.CATALOGUE[name], full=False)
    assert fabric.gather(root) == _facts(name)


# --------------------------------------------------------------------------
# The generator's fabric files look like Linux
# --------------------------------------------------------------------------


def test_generator_fabric_layout_like_linux(tmp_path):
    root = gen.build_tree(str(tmp_path / "root"), gen.CATALOGUE["fabric_ib_sm_genoa_2p"], full=False)
    real = os.path.realpath

    def read(rel):
        with open(os.path.join(root, rel)) as handle:
            return handle.read()

    port = "sys/class/infiniband/mlx5_1/ports/1/"
    assert [read(port + n) for n in ("state", "phys_state", "rate", "lid", "sm_lid", "link_layer")] == [
        "4: ACTIVE\n", "5: LinkUp\n", "400 Gb/sec (4X NDR)\n", "0x11\n", "0x1\n", "InfiniBand\n"]
    assert read("sys/class/infiniband/mlx5_1/node_type") == "1: CA\n"
    assert real(os.path.join(root, "sys/class/infiniband/mlx5_1/device")) == _dev_path(root, "0000:41:00.0")
    # IPoIB parent below the PCI function; the legacy P_Key child is virtual, with parent / pkey / mode
    assert real(os.path.join(root, "sys/class/net/ibp65s0/device")) == _dev_path(root, "0000:41:00.0")
    assert read("sys/class/net/ibp65s0/type") == "32\n" and read("sys/class/net/ibp65s0/mode") == "datagram\n"
    child = "sys/class/net/ibp33s0.8001/"
    assert real(os.path.join(root, child)).endswith("/sys/devices/virtual/net/ibp33s0.8001")
    assert not os.path.lexists(os.path.join(root, child, "device"))
    assert (read(child + "parent"), read(child + "pkey")) == ("ibp33s0\n", "0x8001\n")
    assert read(child + "iflink") == read("sys/class/net/ibp33s0/ifindex") != read(child + "ifindex")
    # soft-RoCE: no parent device at all
    vm = gen.build_tree(str(tmp_path / "vm"), gen.CATALOGUE["fabric_soft_roce_vm"], full=False)
    rxe = os.path.join(vm, "sys/class/infiniband/rxe0")
    assert real(rxe).endswith("/sys/devices/virtual/infiniband/rxe0")
    assert not os.path.lexists(os.path.join(rxe, "device"))
    with open(os.path.join(rxe, "ports/1/gid_attrs/ndevs/0")) as handle:
        assert handle.read() == "enp1s0\n"


def test_generator_defaults_add_no_fabric_files():
    files = gen.render_tree(gen.CATALOGUE["hgx_h100_genoa_2p_nps4"], full=True)[0]
    new = ("/lid", "/sm_lid", "/fw_ver", "/node_guid", "/dev_port", "/ifindex", "/iflink", "/speed", "/mode", "/address")
    assert not [rel for rel in files if rel.endswith(new) and ("/infiniband/" in rel or "/net/" in rel)]
    assert not any("gid_attrs" in rel or "sys/devices/virtual/infiniband" in rel for rel in files)


def test_generator_rejects_bad_fabric_specs():
    nic = gen.pci_device("0000:41:00.0", MLX, 0x1021, 0x020700, "ib", ibdevs=["mlx5_0"], netdevs=["ib0"],
                         ipoib_children=[{"name": "ib0.8001", "parent": "ib0", "pkey": 0x8001}])
    with pytest.raises(ValueError):
        gen.render_tree(_small([nic]))  # a child needs netdev_attrs on its parent (ifindex)
    with pytest.raises(ValueError):
        gen.soft_rdma("rxe0", "eth0", colour="green")
    with pytest.raises(ValueError):
        gen.pci_device("0000:41:00.0", MLX, 0x1021, 0x020700, "ib", sm_lids=[1])


# --------------------------------------------------------------------------
# The fabric nodes, expectations by hand
# --------------------------------------------------------------------------


def test_cx7_infiniband_with_subnet_manager():
    fact = _facts("fabric_ib_sm_genoa_2p")
    assert fact["rdma_sysfs"] is True and fact["warnings"] == []
    # the i210 for management is not an RDMA adapter
    assert [a["pci_address"] for a in fact["adapters"]] == ["0000:21:00.0", "0000:41:00.0", "0000:81:00.0", "0000:a1:00.0"]
    first = fact["adapters"][0]
    assert first == {
        "pci_address": "0000:21:00.0", "vendor": "0x15b3", "device": "0x1021", "model": "ConnectX-7", "kind": "ib",
        "driver": "mlx5_core", "rdma_module": "mlx5_ib", "rdma_devices": ["mlx5_0"], "netdevs": ["ibp33s0"],
        "numa_node": 0, "local_cpus": "0-15,32-47", "vf": False, "physfn": None}
    assert [(a["numa_node"], a["local_cpus"]) for a in fact["adapters"][2:]] == [(1, "16-31,48-63")] * 2
    mlx5_3 = fact["rdma_devices"][3]
    assert mlx5_3 == {
        "name": "mlx5_3", "pci_address": "0000:a1:00.0", "node_type": "CA", "fw_ver": "28.42.1000",
        "node_guid": "a088:c203:0045:6a03", "numa_node": 1, "kind": "ib", "soft": False,
        "ports": [{"port": 1, "link_layer": "InfiniBand", "state": "ACTIVE", "phys_state": "LinkUp",
                   "rate": "400 Gb/sec (4X NDR)", "rate_gbps": 400, "lid": 0x13, "sm_lid": 1, "netdev": "ibp161s0"}]}
    assert [i["name"] for i in fact["interfaces"]] == ["ibp33s0", "ibp33s0.8001", "ibp65s0", "ibp129s0", "ibp161s0"]
    ifaces = _by(fact["interfaces"], "name")
    assert ifaces["ibp33s0"] == {
        "name": "ibp33s0", "kind": "ipoib", "rdma_device": "mlx5_0", "port": 1, "pci_address": "0000:21:00.0",
        "numa_node": 0, "operstate": "up", "mtu": 2044,
        "mac": "00:00:10:87:fe:80:00:00:00:00:00:00:a0:88:c2:03:00:45:6a:00", "speed_mbps": 400000,
        "ipoib_mode": "datagram", "vf": False, "parent": None}
    # the legacy P_Key child: virtual, found through its parent file, placed like its parent
    child = ifaces["ibp33s0.8001"]
    assert (child["parent"], child["rdma_device"], child["port"], child["pci_address"], child["numa_node"]) == (
        "ibp33s0", "mlx5_0", 1, "0000:21:00.0", 0)
    assert child["kind"] == "ipoib" and child["ipoib_mode"] == "datagram" and child["mac"] == ifaces["ibp33s0"]["mac"]
    assert ifaces["ibp161s0"]["ipoib_mode"] == "connected"
    assert fact["counts"] == {"adapters": 4, "rdma_devices": 4, "ib_ports": 4, "ib_ports_active": 4,
                              "roce_ports": 0, "roce_ports_active": 0}
    assert fact["has_infiniband"] is True and fact["has_roce"] is False
    assert fact["subnet_manager"] == "present"
    assert fact["kernel_modules"] == IB_MODS and fact["missing_rdma_drivers"] == []


def test_cx6_infiniband_without_subnet_manager():
    fact = _facts("fabric_ib_no_sm_milan_2p")
    ports = [(d["name"], p["state"], p["phys_state"], p["lid"], p["sm_lid"], p["rate_gbps"])
             for d in fact["rdma_devices"] for p in d["ports"]]
    assert ports == [("mlx5_0", "INIT", "LinkUp", 0, 0, 200), ("mlx5_1", "DOWN", "Polling", 0, 0, 10)]
    assert fact["subnet_manager"] == "absent"
    assert fact["counts"]["ib_ports"] == 2 and fact["counts"]["ib_ports_active"] == 0
    ifaces = _by(fact["interfaces"], "name")
    assert ifaces["ibp65s0"]["operstate"] == "down" and ifaces["ibp65s0"]["speed_mbps"] is None
    assert ifaces["ibp193s0"]["speed_mbps"] is None  # speed -1: unknown
    assert ifaces["ibp193s0"]["ipoib_mode"] is None  # no mode file
    assert [a["model"] for a in fact["adapters"]] == ["ConnectX-6", "ConnectX-6"]
    assert fact["kernel_modules"] == IB_MODS and fact["warnings"] == []


def test_roce_dual_port_cx6dx():
    fact = _facts("fabric_roce_cx6dx_genoa_1p")
    assert [(a["pci_address"], a["model"], a["kind"], a["rdma_devices"], a["netdevs"]) for a in fact["adapters"]] == [
        ("0000:41:00.0", "ConnectX-6 Dx", "roce", ["mlx5_0"], ["ens41f0np0"]),
        ("0000:41:00.1", "ConnectX-6 Dx", "roce", ["mlx5_1"], ["ens41f1np1"])]
    mlx5_1 = fact["rdma_devices"][1]
    assert mlx5_1["ports"] == [{"port": 1, "link_layer": "Ethernet", "state": "DOWN", "phys_state": "Disabled",
                                "rate": "25 Gb/sec (1X EDR)", "rate_gbps": 25, "lid": None, "sm_lid": None,
                                "netdev": "ens41f1np1"}]
    assert fact["interfaces"] == [
        {"name": "ens41f0np0", "kind": "roce", "rdma_device": "mlx5_0", "port": 1, "pci_address": "0000:41:00.0",
         "numa_node": 0, "operstate": "up", "mtu": 9000, "mac": "02:00:41:00:00:00", "speed_mbps": 100000,
         "ipoib_mode": None, "vf": False, "parent": None},
        {"name": "ens41f1np1", "kind": "roce", "rdma_device": "mlx5_1", "port": 1, "pci_address": "0000:41:00.1",
         "numa_node": 0, "operstate": "down", "mtu": 9000, "mac": "02:00:41:00:01:00", "speed_mbps": None,
         "ipoib_mode": None, "vf": False, "parent": None}]
    assert fact["counts"] == {"adapters": 2, "rdma_devices": 2, "ib_ports": 0, "ib_ports_active": 0,
                              "roce_ports": 2, "roce_ports_active": 1}
    assert fact["has_roce"] is True and fact["has_infiniband"] is False and fact["subnet_manager"] == "unknown"
    assert fact["kernel_modules"] == ["ib_uverbs", "mlx5_ib", "rdma_ucm"]


def test_mellanox_nic_without_mlx5_ib():
    fact = _facts("fabric_mlx_no_rdma_driver_milan_1p")
    assert fact["rdma_sysfs"] is False and fact["rdma_devices"] == []
    assert [(a["model"], a["kind"], a["driver"], a["rdma_module"], a["rdma_devices"]) for a in fact["adapters"]] == [
        ("ConnectX-6 Lx", "roce", "mlx5_core", "mlx5_ib", [])] * 2
    assert fact["missing_rdma_drivers"] == ["0000:41:00.0", "0000:41:00.1"]
    assert fact["kernel_modules"] == ["ib_uverbs", "mlx5_ib", "rdma_ucm"]
    assert fact["has_roce"] is True and fact["counts"]["roce_ports"] == 0
    # without the RDMA device the netdevs are plain Ethernet
    assert [(i["name"], i["kind"], i["rdma_device"], i["port"]) for i in fact["interfaces"]] == [
        ("ens41f0np0", "ethernet", None, None), ("ens41f1np1", "ethernet", None, None)]


def test_no_rdma_hardware():
    fact = _facts("fabric_no_rdma_milan_1p")
    assert fact == {
        "rdma_sysfs": False, "adapters": [], "rdma_devices": [], "interfaces": [],
        "counts": {"adapters": 0, "rdma_devices": 0, "ib_ports": 0, "ib_ports_active": 0, "roce_ports": 0,
                   "roce_ports_active": 0},
        "has_infiniband": False, "has_roce": False, "subnet_manager": "unknown", "kernel_modules": [],
        "missing_rdma_drivers": [], "warnings": []}


def test_soft_roce_in_a_vm():
    fact = _facts("fabric_soft_roce_vm")
    assert fact == {
        "rdma_sysfs": True,
        "adapters": [],  # virtio-net is not an RDMA adapter
        "rdma_devices": [{
            "name": "rxe0", "pci_address": None, "node_type": "CA", "fw_ver": None, "node_guid": "5054:00ff:fe12:3401",
            "numa_node": None, "kind": "roce", "soft": True,
            "ports": [{"port": 1, "link_layer": "Ethernet", "state": "ACTIVE", "phys_state": "LinkUp",
                       "rate": "2.5 Gb/sec (1X SDR)", "rate_gbps": 2.5, "lid": None, "sm_lid": None,
                       "netdev": "enp1s0"}]}],
        "interfaces": [{
            "name": "enp1s0", "kind": "roce", "rdma_device": "rxe0", "port": 1, "pci_address": "0000:01:00.0",
            "numa_node": None, "operstate": "up", "mtu": 9000, "mac": None, "speed_mbps": None, "ipoib_mode": None,
            "vf": False, "parent": None}],
        "counts": {"adapters": 0, "rdma_devices": 1, "ib_ports": 0, "ib_ports_active": 0, "roce_ports": 1,
                   "roce_ports_active": 1},
        "has_infiniband": False, "has_roce": True, "subnet_manager": "unknown",
        "kernel_modules": [],  # no RDMA-capable adapter: nothing to load for hardware
        "missing_rdma_drivers": [], "warnings": []}


def test_quirks_node():
    fact = _facts("fabric_quirks_genoa_2p")
    assert fact["warnings"] == [
        "RDMA device mlx5_0 port 1: rate not understood ('fast enough')",
        "RDMA device mlx5_1: no readable ports directory (sys/class/infiniband/mlx5_1/ports): its ports are not reported",
        "RDMA device mlx5_2 port 1: state unreadable"]
    adapters = _by(fact["adapters"], "pci_address")
    # the BCM5720 (tg3) is no RDMA adapter; everything else is
    assert sorted(adapters) == ["0000:21:00.0", "0000:41:00.0", "0000:81:00.0", "0000:81:00.1", "0000:c2:00.0",
                                "0000:e1:00.0"]
    assert adapters["0000:21:00.0"]["numa_node"] is None and adapters["0000:21:00.0"]["local_cpus"] == "0-63"
    vf = adapters["0000:81:00.1"]
    assert (vf["vf"], vf["physfn"], vf["driver"], vf["rdma_module"], vf["kind"], vf["model"]) == (
        True, "0000:81:00.0", "vfio-pci", None, "ib", "ConnectX VF")
    unknown = adapters["0000:c2:00.0"]
    assert (unknown["model"], unknown["driver"], unknown["rdma_module"], unknown["kind"]) == (None, None, None, "roce")
    e810 = adapters["0000:e1:00.0"]
    assert (e810["model"], e810["kind"], e810["rdma_module"], e810["rdma_devices"]) == (
        "E810-C", "ethernet", "irdma", ["iwp225s0f0"])
    # the VM's VF is not missing a driver; the unbound unknown Mellanox function is
    assert fact["missing_rdma_drivers"] == ["0000:c2:00.0"]
    devs = _by(fact["rdma_devices"], "name")
    assert devs["mlx5_0"]["ports"][0]["rate"] == "fast enough" and devs["mlx5_0"]["ports"][0]["rate_gbps"] is None
    assert devs["mlx5_0"]["numa_node"] is None
    assert devs["mlx5_1"]["ports"] == [] and devs["mlx5_1"]["kind"] is None
    assert devs["mlx5_2"]["ports"][0]["state"] is None and devs["mlx5_2"]["ports"][0]["phys_state"] == "LinkUp"
    assert devs["iwp225s0f0"]["node_type"] == "RNIC" and devs["iwp225s0f0"]["kind"] == "ethernet"
    ifaces = _by(fact["interfaces"], "name")
    assert [i["name"] for i in fact["interfaces"]] == ["ens41f0np0", "ens225f0", "ibp33s0", "ibp33s0.7fff", "ibp129s0"]
    assert ifaces["ibp33s0"]["ipoib_mode"] is None  # mode file unreadable
    # the rtnetlink child has no parent file: its iflink is the parent's ifindex
    child = ifaces["ibp33s0.7fff"]
    assert (child["parent"], child["rdma_device"], child["port"], child["pci_address"], child["ipoib_mode"]) == (
        "ibp33s0", "mlx5_0", 1, "0000:21:00.0", None)
    # the ConnectX-5's RDMA device has no ports: the netdev is tied to it, without a port
    assert (ifaces["ens41f0np0"]["kind"], ifaces["ens41f0np0"]["rdma_device"], ifaces["ens41f0np0"]["port"]) == (
        "roce", "mlx5_1", None)
    # iWARP is RDMA over Ethernet but not RoCE
    assert (ifaces["ens225f0"]["kind"], ifaces["ens225f0"]["rdma_device"], ifaces["ens225f0"]["port"]) == (
        "ethernet", "iwp225s0f0", 1)
    assert "eno1" not in ifaces
    assert fact["counts"] == {"adapters": 6, "rdma_devices": 4, "ib_ports": 2, "ib_ports_active": 1,
                              "roce_ports": 0, "roce_ports_active": 0}
    assert fact["subnet_manager"] == "present"
    assert fact["kernel_modules"] == ["ib_ipoib", "ib_umad", "ib_uverbs", "irdma", "mlx5_ib", "rdma_ucm"]


# --------------------------------------------------------------------------
# The older catalogue nodes with InfiniBand / RoCE
# --------------------------------------------------------------------------


def test_hgx_h100_nps4_ib_and_roce():
    fact = _facts("hgx_h100_genoa_2p_nps4")
    assert fact["counts"] == {"adapters": 10, "rdma_devices": 10, "ib_ports": 8, "ib_ports_active": 8,
                              "roce_ports": 2, "roce_ports_active": 2}
    ib = [a for a in fact["adapters"] if a["kind"] == "ib"]
    assert [(a["numa_node"], a["rdma_devices"], a["netdevs"]) for a in ib] == [
        (n, ["mlx5_%d" % n], ["ibp%ds0" % (n * 32 + 6)]) for n in range(8)]
    assert set(a["model"] for a in ib) == {"ConnectX-7"}
    roce = [a for a in fact["adapters"] if a["kind"] == "roce"]
    assert [(a["pci_address"], a["model"], a["rdma_devices"]) for a in roce] == [
        ("0000:41:00.0", "ConnectX-6 Dx", ["mlx5_8"]), ("0000:41:00.1", "ConnectX-6 Dx", ["mlx5_9"])]
    ifaces = _by(fact["interfaces"], "name")
    assert len(ifaces) == 10
    assert (ifaces["ens41f1np1"]["kind"], ifaces["ens41f1np1"]["rdma_device"], ifaces["ens41f1np1"]["numa_node"]) == (
        "roce", "mlx5_9", 2)
    assert (ifaces["ibp230s0"]["kind"], ifaces["ibp230s0"]["rdma_device"], ifaces["ibp230s0"]["port"]) == (
        "ipoib", "mlx5_7", 1)
    # ports ACTIVE, no sm_lid file in this tree: an active port means an SM configured it
    assert fact["subnet_manager"] == "present"
    assert fact["has_infiniband"] is True and fact["has_roce"] is True
    assert fact["kernel_modules"] == IB_MODS and fact["missing_rdma_drivers"] == [] and fact["warnings"] == []


def test_roce_sriov_virtual_functions():
    fact = _facts("milan_2p_roce_sriov")
    adapters = _by(fact["adapters"], "pci_address")
    assert len(adapters) == 5
    for vf in ("0000:41:00.2", "0000:41:00.3"):
        assert adapters[vf]["vf"] is True and adapters[vf]["physfn"] == "0000:41:00.0"
        assert adapters[vf]["model"] == "ConnectX VF" and adapters[vf]["kind"] == "roce"
        assert adapters[vf]["numa_node"] == 0 and adapters[vf]["rdma_module"] == "mlx5_ib"
    assert adapters["0000:c1:00.0"]["kind"] == "ib" and adapters["0000:c1:00.0"]["model"] == "ConnectX-6"
    assert [(i["name"], i["kind"], i["rdma_device"], i["vf"]) for i in fact["interfaces"]] == [
        ("ens1f0np0", "roce", "mlx5_0", False), ("ens1f0v0", "roce", "mlx5_2", True),
        ("ens1f0v1", "roce", "mlx5_3", True), ("ens1f1np1", "roce", "mlx5_1", False),
        ("ibp193s0", "ipoib", "mlx5_4", False)]
    assert fact["counts"]["roce_ports"] == 4 and fact["counts"]["ib_ports"] == 1
    assert fact["kernel_modules"] == IB_MODS


def test_mi300x_broadcom_bnxt_re():
    fact = _facts("mi300x_genoa_2p_nps1")
    assert [(a["pci_address"], a["model"], a["kind"], a["driver"], a["rdma_module"], a["rdma_devices"], a["numa_node"])
            for a in fact["adapters"]] == [
        ("0000:47:00.0", "BCM57608", "roce", "bnxt_en", "bnxt_re", ["bnxt_re0"], 0),
        ("0000:c7:00.0", "BCM57608", "roce", "bnxt_en", "bnxt_re", ["bnxt_re1"], 1)]
    assert [(i["name"], i["kind"], i["rdma_device"]) for i in fact["interfaces"]] == [
        ("ens71np0", "roce", "bnxt_re0"), ("ens199np0", "roce", "bnxt_re1")]
    assert fact["kernel_modules"] == ["bnxt_re", "ib_uverbs", "rdma_ucm"]
    assert fact["has_roce"] is True and fact["has_infiniband"] is False


def test_intel_e810_without_irdma():
    fact = _facts("l40s_milan_1p")
    assert [(a["model"], a["kind"], a["driver"], a["rdma_module"]) for a in fact["adapters"]] == [
        ("E810-C", "ethernet", "ice", "irdma")]
    assert fact["missing_rdma_drivers"] == ["0000:42:00.0"]
    assert fact["kernel_modules"] == ["ib_uverbs", "irdma", "rdma_ucm"]
    assert fact["has_roce"] is False and fact["has_infiniband"] is False


def test_nodes_without_fabric():
    for name in ("workstation_milan_1p_pcie_gpu", "genoa_1p_pci_empty", "gpu_quirks_milan_2p"):
        fact = _facts(name)
        assert fact["adapters"] == [] and fact["interfaces"] == [] and fact["kernel_modules"] == [], name
    none = _facts("milan_1p_nps1_smt")  # no sys/bus/pci, no sys/class at all
    assert none["rdma_sysfs"] is False and none["adapters"] == [] and none["warnings"] == []


# --------------------------------------------------------------------------
# Parsers
# --------------------------------------------------------------------------


@pytest.mark.parametrize("text, want", [
    ("400 Gb/sec (4X NDR)\n", ("400 Gb/sec (4X NDR)", 400)),
    ("2.5 Gb/sec (1X SDR)\n", ("2.5 Gb/sec (1X SDR)", 2.5)),
    ("10 Gb/sec\n", ("10 Gb/sec", 10)),
    ("56 Gb/sec (4X FDR)", ("56 Gb/sec (4X FDR)", 56)),
    ("800 Gb/sec (4X XDR)", ("800 Gb/sec (4X XDR)", 800)),
    ("  25 Gb/sec (1X EDR)  ", ("25 Gb/sec (1X EDR)", 25)),
    ("fast", ("fast", None)),
    ("Gb/sec", ("Gb/sec", None)),
    ("-1 Gb/sec", ("-1 Gb/sec", None)),
    ("", (None, None)),
    ("\n", (None, None)),
    (None, (None, None)),
])
def test_parse_rate(text, want):
    got = fabric.parse_rate(text)
    assert got == want
    if want[1] is not None:
        assert type(got[1]) is type(want[1])


@pytest.mark.parametrize("text, want", [
    ("4: ACTIVE\n", "ACTIVE"), ("2: INIT", "INIT"), ("1: DOWN", "DOWN"), ("3: ARMED", "ARMED"),
    ("5: LinkUp\n", "LinkUp"), ("2: Polling", "Polling"), ("3: Disabled", "Disabled"), ("7: Phy Test", "Phy Test"),
    ("1: CA", "CA"), ("4: RNIC", "RNIC"), ("ACTIVE", "ACTIVE"), ("LinkUp", "LinkUp"),
    ("", None), (None, None), ("4:", None), ("x: ACTIVE", None), ("\x00\xff", None), ("12345", None),
    ("nope", None), ("ACTIVE ACTIVE", None),
])
def test_parse_state(text, want):
    assert fabric.parse_state(text) == want


def test_model_table_by_hand():
    assert fabric.model_of("0x15b3", "0x1017") == "ConnectX-5"
    assert fabric.model_of("0x15b3", "0x1019") == "ConnectX-5 Ex"
    assert fabric.model_of("0x15b3", "0x101f") == "ConnectX-6 Lx"
    assert fabric.model_of("0x15B3", "0x1023") == "ConnectX-8"
    assert fabric.model_of("0x15b3", "0xa2dc") == "BlueField-3"
    assert fabric.model_of("0x14e4", "0x1760") == "BCM57608"
    assert fabric.model_of("0x15b3", "0x9999") is None and fabric.model_of(None, None) is None


@pytest.mark.parametrize("vendor, device, driver, want", [
    ("0x15b3", "0x1021", None, (True, "mlx5_ib", "roce")),
    ("0x15b3", "0x1007", None, (True, "mlx4_ib", "roce")),
    ("0x15b3", "0xcf70", "mlxsw_spectrum", (False, None, None)),  # Spectrum-3 switch ASIC
    ("0x14e4", "0x1750", None, (True, "bnxt_re", "roce")),
    ("0x14e4", "0x165f", "tg3", (False, None, None)),  # BCM5720
    ("0x8086", "0x159b", None, (True, "irdma", "ethernet")),
    ("0x8086", "0x37d2", "i40e", (True, "irdma", "ethernet")),  # X722
    ("0x8086", "0x1572", "i40e", (False, None, None)),  # X710: no RDMA
    ("0x8086", "0x1533", "igb", (False, None, None)),
    ("0x1d0f", "0xefa1", None, (True, "efa", "ethernet")),
    ("0x1d0f", "0xec20", "ena", (False, None, None)),  # ENA
    ("0x1077", "0x8070", "qede", (True, "qedr", "roce")),
    ("0x1af4", "0x1041", "virtio-pci", (False, None, None)),
])
def test_adapter_family(vendor, device, driver, want):
    assert fabric.adapter_family(vendor, device, driver) == want


# --------------------------------------------------------------------------
# Hand-made hardware
# --------------------------------------------------------------------------


def test_connectx3_dual_port_ports_and_dev_port():
    """mlx4: one PCI function, one RDMA device with two ports, two IPoIB netdevs told apart by dev_port."""
    cx3 = gen.pci_device("0000:41:00.0", MLX, 0x1007, 0x020700, "ib", numa_node=1, ibdevs=["mlx4_0"],
                         netdevs=["ib0", "ib1"], driver="mlx4_core", ib_ports=2, port_state=["ACTIVE", "DOWN"],
                         phys_state=["LinkUp", "Polling"], port_rate=["56 Gb/sec (4X FDR)", "10 Gb/sec (4X SDR)"],
                         lid=[3, 0], sm_lid=[1, 0], netdev_attrs=True)
    fact = _facts(_small([cx3]))
    dev = fact["rdma_devices"][0]
    assert [(p["port"], p["state"], p["rate_gbps"], p["lid"], p["sm_lid"], p["netdev"]) for p in dev["ports"]] == [
        (1, "ACTIVE", 56, 3, 1, "ib0"), (2, "DOWN", 10, 0, 0, "ib1")]
    assert [(i["name"], i["port"]) for i in fact["interfaces"]] == [("ib0", 1), ("ib1", 2)]
    adapter = fact["adapters"][0]
    assert (adapter["model"], adapter["rdma_module"], adapter["kind"]) == ("ConnectX-3 Pro", "mlx4_ib", "ib")
    assert fact["counts"]["ib_ports"] == 2 and fact["counts"]["ib_ports_active"] == 1
    assert fact["kernel_modules"] == ["ib_ipoib", "ib_umad", "ib_uverbs", "mlx4_ib", "rdma_ucm"]
    assert fact["subnet_manager"] == "present"


def test_dual_port_without_dev_port_is_not_guessed():
    """Two IPoIB netdevs, two ports and no dev_port: which is which cannot be told; nothing is invented."""
    cx3 = gen.pci_device("0000:41:00.0", MLX, 0x1003, 0x020700, "ib", numa_node=1, ibdevs=["mlx4_0"],
                         netdevs=["ib0", "ib1"], driver="mlx4_core", ib_ports=2)
    fact = _facts(_small([cx3]))
    assert [p["netdev"] for p in fact["rdma_devices"][0]["ports"]] == [None, None]
    assert [(i["name"], i["kind"], i["rdma_device"], i["port"]) for i in fact["interfaces"]] == [
        ("ib0", "ipoib", None, None), ("ib1", "ipoib", None, None)]


def test_efa_is_rdma_but_not_roce():
    efa = gen.pci_device("0000:10:1b.0", AMAZON, 0xEFA1, 0x020000, "nic", ibdevs=["rdmap16s27"], driver="efa",
                         link_layer="Unknown", node_type="7: unspecified", port_rate="100 Gb/sec (4X EDR)")
    ena = gen.pci_device("0000:10:1c.0", AMAZON, 0xEC20, 0x020000, "nic", netdevs=["ens28"], driver="ena")
    fact = _facts(_small([efa, ena]))
    assert [(a["pci_address"], a["model"], a["kind"], a["rdma_module"]) for a in fact["adapters"]] == [
        ("0000:10:1b.0", "EFA", "ethernet", "efa")]
    dev = fact["rdma_devices"][0]
    assert dev["node_type"] == "unspecified" and dev["ports"][0]["link_layer"] == "Unknown"
    assert fact["has_roce"] is False and fact["counts"]["roce_ports"] == 0
    assert fact["kernel_modules"] == ["efa", "ib_uverbs", "rdma_ucm"]
    assert fact["interfaces"] == []  # EFA has no netdev; the ENA's is not an RDMA interface


def test_unbound_x722_and_e810():
    x722 = gen.pci_device("0000:3d:00.0", INTEL, 0x37D2, 0x020000, "nic", numa_node=0)
    e810 = gen.pci_device("0000:41:00.0", INTEL, 0x159B, 0x020000, "nic", numa_node=0, netdevs=["ens41f0"],
                          driver="vfio-pci")
    fact = _facts(_small([x722, e810]))
    assert [(a["model"], a["driver"], a["rdma_module"]) for a in fact["adapters"]] == [
        ("X722", None, "irdma"), ("E810-XXV", "vfio-pci", None)]
    assert fact["missing_rdma_drivers"] == ["0000:3d:00.0"]  # the vfio-pci one belongs to a VM


def test_siw_on_a_pci_nic_is_soft():
    i210 = gen.pci_device("0000:05:00.0", INTEL, 0x1533, 0x020000, "nic", numa_node=0, netdevs=["enp5s0"],
                          ibdevs=["siw0"], driver="igb", node_type="4: RNIC", gid_ndevs=True)
    spec = _small([i210])
    files, dirs, links = gen.render_tree(spec, full=False)
    ibdir = [rel for rel in files if rel.endswith("/infiniband/siw0/node_type")][0].rsplit("/", 1)[0]
    files[ibdir + "/node_desc"] = "Software iWARP stack\n"
    fact = fabric.collect_facts(gen.MemoryReader(files, dirs, links=links))
    assert fact["adapters"] == []  # a software stack does not make an RDMA adapter
    dev = fact["rdma_devices"][0]
    assert (dev["name"], dev["pci_address"], dev["soft"], dev["node_type"], dev["kind"]) == (
        "siw0", None, True, "RNIC", "ethernet")
    assert dev["numa_node"] == 0  # from its netdev's PCI function
    assert [(i["name"], i["kind"], i["rdma_device"]) for i in fact["interfaces"]] == [("enp5s0", "ethernet", "siw0")]
    assert fact["counts"]["roce_ports"] == 0 and fact["kernel_modules"] == []


def test_roce_lag_bond_from_gid_table():
    """mlx5 RoCE LAG: one RDMA device for a bond, GID 0 names the bond (a virtual netdev)."""
    pf0 = gen.pci_device("0000:41:00.0", MLX, 0x101D, 0x020000, "nic", numa_node=1, ibdevs=["mlx5_bond_0"],
                         netdevs=["ens41f0np0"], driver="mlx5_core")
    pf1 = gen.pci_device("0000:41:00.1", MLX, 0x101D, 0x020000, "nic", numa_node=1, netdevs=["ens41f1np1"],
                         driver="mlx5_core")
    files, dirs, links = gen.render_tree(_small([pf0, pf1]), full=False)
    port = [rel for rel in files if rel.endswith("/mlx5_bond_0/ports/1/state")][0].rsplit("/", 1)[0]
    files[port + "/gid_attrs/ndevs/0"] = "bond0\n"
    files["sys/devices/virtual/net/bond0/type"] = "1\n"
    files["sys/devices/virtual/net/bond0/operstate"] = "up\n"
    links["sys/class/net/bond0"] = "../../devices/virtual/net/bond0"
    without_master = fabric.collect_facts(gen.MemoryReader(dict(files), set(dirs), links=dict(links)))
    for address, ifname in (("0000:41:00.0", "ens41f0np0"), ("0000:41:00.1", "ens41f1np1")):
        links["sys/devices/pci0000:40/0000:40:01.0/%s/net/%s/master" % (address, ifname)] = "../../../../../virtual/net/bond0"
    fact = fabric.collect_facts(gen.MemoryReader(files, dirs, links=links))
    ifaces = _by(fact["interfaces"], "name")
    assert (ifaces["bond0"]["kind"], ifaces["bond0"]["rdma_device"], ifaces["bond0"]["port"]) == ("roce", "mlx5_bond_0", 1)
    # a virtual netdev: placed at the RDMA device's PCI function
    assert ifaces["bond0"]["pci_address"] == "0000:41:00.0" and ifaces["bond0"]["numa_node"] == 1
    assert fact["rdma_devices"][0]["ports"][0]["netdev"] == "bond0"
    # the second PF has no RDMA device of its own in LAG mode: its netdev's master is the bond
    assert [(a["pci_address"], a["rdma_devices"]) for a in fact["adapters"]] == [
        ("0000:41:00.0", ["mlx5_bond_0"]), ("0000:41:00.1", ["mlx5_bond_0"])]
    assert fact["missing_rdma_drivers"] == []
    assert (ifaces["ens41f1np1"]["kind"], ifaces["ens41f1np1"]["rdma_device"]) == ("roce", "mlx5_bond_0")
    # without the master links the second PF looks like one whose mlx5_ib is missing
    assert without_master["missing_rdma_drivers"] == ["0000:41:00.1"]


# --------------------------------------------------------------------------
# Broken trees
# --------------------------------------------------------------------------


def _dev_path(root, address):
    return os.path.realpath(os.path.join(root, "sys/bus/pci/devices", address))


def test_unreadable_and_garbage_files_on_disk(tmp_path):
    root = gen.build_tree(str(tmp_path / "root"), gen.CATALOGUE["fabric_roce_cx6dx_genoa_1p"], full=False)
    port = os.path.join(root, "sys/class/infiniband/mlx5_0/ports/1")
    for name, data in (("link_layer", None), ("rate", b"\x00\xff garbage\n"), ("phys_state", b"nope\n")):
        os.unlink(os.path.join(port, name))
        if data is None:
            os.mkdir(os.path.join(port, name))  # EISDIR stands in for EACCES (tests run as root)
        else:
            with open(os.path.join(port, name), "wb") as handle:
                handle.write(data)
    net = os.path.join(root, "sys/class/net/ens41f0np0")
    for name, data in (("mtu", b"big\n"), ("speed", b"")):
        with open(os.path.join(net, name), "wb") as handle:
            handle.write(data)
    fact = fabric.gather(root)
    mlx5_0 = fact["rdma_devices"][0]["ports"][0]
    assert (mlx5_0["link_layer"], mlx5_0["phys_state"], mlx5_0["rate_gbps"], mlx5_0["state"]) == (None, None, None, "ACTIVE")
    assert mlx5_0["netdev"] == "ens41f0np0"  # the GID table still names it
    assert fact["warnings"] == [
        "RDMA device mlx5_0 port 1: link_layer unreadable",
        "RDMA device mlx5_0 port 1: rate not understood ('\\x00\ufffd garbage')",
        "sys/class/net/ens41f0np0/mtu: 'big' not understood; mtu is null"]
    iface = _by(fact["interfaces"], "name")["ens41f0np0"]
    assert iface["mtu"] is None and iface["speed_mbps"] is None
    # an unknown link layer is no RoCE port
    assert fact["counts"]["roce_ports"] == 1 and fact["adapters"][0]["kind"] == "roce"


def test_missing_class_directories(tmp_path):
    root = gen.build_tree(str(tmp_path / "root"), gen.CATALOGUE["fabric_ib_sm_genoa_2p"], full=False)
    want = fabric.gather(root)
    shutil.rmtree(os.path.join(root, "sys/class/net"))
    fact = fabric.gather(root)
    # the netdevs are read below the PCI functions; the (virtual) child is gone with the class links
    assert fact["interfaces"] == [i for i in want["interfaces"] if i["name"] != "ibp33s0.8001"]
    assert fact["adapters"] == want["adapters"] and fact["rdma_devices"] == want["rdma_devices"]
    shutil.rmtree(os.path.join(root, "sys/class/infiniband"))
    fact = fabric.gather(root)
    assert fact["rdma_sysfs"] is False and fact["rdma_devices"] == []
    assert [a["rdma_devices"] for a in fact["adapters"]] == [["mlx5_%d" % i] for i in range(4)]  # from below the device
    assert fact["missing_rdma_drivers"] == []


def test_rdma_device_with_broken_device_link(tmp_path):
    root = gen.build_tree(str(tmp_path / "root"), gen.CATALOGUE["fabric_ib_no_sm_milan_2p"], full=False)
    os.makedirs(os.path.join(root, "sys/devices/virtual/infiniband/mlx5_9/ports"))
    os.symlink("../../devices/virtual/infiniband/mlx5_9", os.path.join(root, "sys/class/infiniband/mlx5_9"))
    os.symlink("../../../0000:99:00.0", os.path.join(root, "sys/devices/virtual/infiniband/mlx5_9/device"))
    fact = fabric.gather(root)
    dev = _by(fact["rdma_devices"], "name")["mlx5_9"]
    # the device link names a PCI address, but the RDMA device is not below it: keep it, as found
    assert dev["pci_address"] == "0000:99:00.0" and dev["ports"] == [] and dev["numa_node"] is None
    assert len(fact["adapters"]) == 2 and fact["warnings"] == []


def test_reader_that_raises_gives_warnings_not_tracebacks():
    spec = gen.CATALOGUE["fabric_ib_sm_genoa_2p"]

    class Raising(gen.MemoryReader):
        def read(self, rel):
            if rel.endswith("/ports/1/sm_lid") or rel.endswith("ibp65s0/mtu"):
                raise PermissionError(13, "Permission denied")
            return super(Raising, self).read(rel)

        def listdir(self, rel):
            if rel == "sys/class/infiniband/mlx5_3/ports":
                raise OSError(5, "Input/output error")
            return super(Raising, self).listdir(rel)

    files, dirs, links = gen.render_tree(spec, full=False)
    fact = fabric.collect_facts(Raising(files, dirs, links=links))
    assert "cannot read sys/class/infiniband/mlx5_0/ports/1/sm_lid: [Errno 13] Permission denied" in fact["warnings"]
    assert "cannot read sys/class/net/ibp65s0/mtu: [Errno 13] Permission denied" in fact["warnings"]
    assert any("mlx5_3: no readable ports directory" in w for w in fact["warnings"])
    assert [p["sm_lid"] for d in fact["rdma_devices"] for p in d["ports"]] == [None, None, None]
    assert _by(fact["interfaces"], "name")["ibp65s0"]["mtu"] is None
    # ACTIVE ports with an unknown SM LID: an SM configured them
    assert fact["subnet_manager"] == "present"


def test_orphan_ipoib_child_is_reported():
    spec = gen.CATALOGUE["fabric_ib_sm_genoa_2p"]
    files, dirs, links = gen.render_tree(spec, full=False)
    files["sys/devices/virtual/net/ib9.8001/type"] = "32\n"
    files["sys/devices/virtual/net/ib9.8001/iflink"] = "99\n"
    links["sys/class/net/ib9.8001"] = "../../devices/virtual/net/ib9.8001"
    fact = fabric.collect_facts(gen.MemoryReader(files, dirs, links=links))
    assert "ib9.8001" not in _by(fact["interfaces"], "name")
    assert fact["warnings"] == [
        "IPoIB interface ib9.8001: parent interface not found (no parent file, iflink 99)"]
    files["sys/devices/virtual/net/ib9.8001/parent"] = "ib9\n"
    fact = fabric.collect_facts(gen.MemoryReader(files, dirs, links=links))
    assert fact["warnings"] == ["IPoIB interface ib9.8001: its parent ib9 is not an interface of an RDMA adapter"]


def test_random_damage_never_crashes():
    """Delete, empty or corrupt random files and links of the quirks node: a fact, never an exception."""
    rng = random.Random(20250707)
    spec = gen.CATALOGUE["fabric_quirks_genoa_2p"]
    files, dirs, links = gen.render_tree(spec, full=False)
    files = dict((rel, text) for rel, text in files.items()
                 if rel.startswith("sys/") and not rel.startswith("sys/devices/system"))
    targets = sorted(rel for rel in files if "/infiniband/" in rel or "/net/" in rel)
    link_names = sorted(links)
    junk = ["", "\n", "-1\n", "0xzz\n", "\x00\xff", "99999999999999999999\n", "4:\n", ": ACTIVE\n", "ACTIVE ACTIVE\n"]
    for dummy in range(200):
        f = dict(files)
        lk = dict(links)
        for dummy2 in range(rng.randint(1, 25)):
            if rng.random() < 0.3:
                rel = rng.choice(link_names)
                if rng.random() < 0.5:
                    lk.pop(rel, None)
                else:
                    lk[rel] = "../nowhere/" + rel.rsplit("/", 1)[-1]
            else:
                rel = rng.choice(targets)
                if rng.random() < 0.4:
                    f.pop(rel, None)
                else:
                    f[rel] = rng.choice(junk)
        fact = fabric.collect_facts(gen.MemoryReader(f, dirs, links=lk))
        assert sorted(fact) == sorted(FACT_KEYS)
        for dev in fact["rdma_devices"]:
            for port in dev["ports"]:
                assert port["lid"] is None or isinstance(port["lid"], int)
                assert port["rate_gbps"] is None or port["rate_gbps"] >= 0
        for iface in fact["interfaces"]:
            assert iface["speed_mbps"] is None or iface["speed_mbps"] > 0


def test_missing_root_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        fabric.gather(str(tmp_path / "nope"))


# --------------------------------------------------------------------------
# Topology map
# --------------------------------------------------------------------------


def test_device_list_for_map_places_adapters_on_numa_nodes():
    name = "fabric_ib_sm_genoa_2p"
    devices = fabric.device_list_for_map(_facts(name))
    assert devices[0] == {"kind": "ib", "names": ["mlx5_0", "ibp33s0"], "address": "0000:21:00.0", "vendor": "0x15b3",
                          "device": "0x1021", "model": "ConnectX-7", "numa_node": 0, "local_cpus": "0-15,32-47",
                          "vf": False, "physfn": None}
    text = render_map(gen.expected(gen.CATALOGUE[name]), devices=devices)
    assert "devices: 4 ib" in text
    lines = text.splitlines()
    node1 = [i for i, ln in enumerate(lines) if ln.lstrip().startswith("numa 1 ")][0]
    assert any("mlx5_2,ibp129s0 (0000:81:00.0)" in ln for ln in lines[node1:])
    assert not any("mlx5_2" in ln for ln in lines[:node1])


def test_device_list_for_map_soft_devices_and_empty():
    devices = fabric.device_list_for_map(_facts("fabric_soft_roce_vm"))
    assert devices == [{"kind": "roce", "names": ["rxe0", "enp1s0"], "address": None, "numa_node": None}]
    text = render_map(gen.expected(gen.CATALOGUE["fabric_soft_roce_vm"]), devices=devices)
    assert "roce rxe0,enp1s0" in text
    assert fabric.device_list_for_map({}) == [] and fabric.device_list_for_map(None) == []


# --------------------------------------------------------------------------
# Speed and this machine
# --------------------------------------------------------------------------


def test_performance_hgx(disk_base):
    root = gen.build_tree(os.path.join(disk_base, "perf_hgx"), gen.CATALOGUE["hgx_h100_genoa_2p_nps4"], full=False)
    start = time.perf_counter()
    fact = fabric.gather(root)
    elapsed = time.perf_counter() - start
    print("\nfabric facts of the HGX tree: %.1f ms" % (elapsed * 1000))
    assert fact["counts"]["adapters"] == 10
    assert elapsed < 0.5


def test_this_machine():
    start = time.perf_counter()
    fact = fabric.gather("/")
    elapsed = time.perf_counter() - start
    print("\nthis machine: %.1f ms: %s" % (elapsed * 1000, fact["counts"]))
    assert fact["rdma_sysfs"] == os.path.isdir("/sys/class/infiniband")
    assert sorted(fact) == sorted(FACT_KEYS)
    assert elapsed < 2.0


def test_fact_is_independent_of_reader_state():
    """Two runs on one reader (cached reads) give the same fact; the input dicts are not changed."""
    reader = gen.MemoryReader.for_spec(gen.CATALOGUE["fabric_quirks_genoa_2p"], full=False)
    before = copy.deepcopy(reader.files)
    assert fabric.collect_facts(reader) == fabric.collect_facts(reader)
    assert reader.files == before
    assert fabric.collect_facts(SysfsReader("/nonexistent-root"))["adapters"] == []
