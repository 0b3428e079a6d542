# -*- coding: utf-8 -*-
"""slurm.conf node lines (plugins/module_utils/slurm_conf.py).

Topologies come from tests/sysfs_gen.py: the catalogue trees are parsed by
cpu_topology's collector (in memory) and the node values are checked against
the generator's own hardware model (``sysfs_gen.expected``), so a wrong
figure in either the fact or the line builder shows up.
"""
from __future__ import absolute_import, division, print_function

import copy
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sysfs_gen as gen  # noqa: E402

from ansible_collections.hpcai.cluster.plugins.module_utils import slurm_conf as sc  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils import topology as topo  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils.hostlist import expand  # noqa: E402

_FACTS = {}


def fact_of(name):
    """hpcai_cpu_topology of a catalogue spec, parsed from its rendered tree."""
    if name not in _FACTS:
        files, dirs = gen.render(gen.CATALOGUE[name])
        _FACTS[name] = topo.collect(gen.MemoryReader(files, dirs), None)
    return _FACTS[name]


# Catalogue entries without a container cpuset (those describe a slice, not a node).
NODE_SPECS = [n for n in gen.catalogue() if gen.CATALOGUE[n]["cpuset"] is None]


# ---------------------------------------------------------------- node values
@pytest.mark.parametrize("name", NODE_SPECS)
def test_node_values_match_the_hardware_model(name):
    spec = gen.CATALOGUE[name]
    want = gen.expected(spec)
    fact = fact_of(name)
    for l3, key in ((False, "slurm"), (True, "slurm_l3_as_socket")):
        values = sc.node_values(fact, l3_as_socket=l3)
        model = want[key]
        assert sorted(values) == sorted(sc.NODE_KEYS)
        for k in sc.TOPOLOGY_KEYS:
            assert values[k] == model[k], (key, k)
        assert values["RealMemory"] == sc.real_memory(model["RealMemory"])
        assert 1 <= values["RealMemory"] < model["RealMemory"]
        # never more than the hardware has: slurmd would drain the node
        assert values["Boards"] * values["SocketsPerBoard"] * values["CoresPerSocket"] * values["ThreadsPerCore"] \
            <= values["CPUs"]
        check = sc.compare_with_slurmd_C(values, fact["slurm"])
        assert check["ok"], check["drain"]
        assert check["drain"] == []


def test_l3_as_socket_line_milan_2p():
    fact = fact_of("milan_2p_nps4_smt")
    assert sc.node_values(fact) == {"CPUs": 256, "Boards": 1, "SocketsPerBoard": 2, "CoresPerSocket": 64,
                                    "ThreadsPerCore": 2, "RealMemory": 1006592}
    l3 = sc.node_values(fact, l3_as_socket=True)
    assert (l3["SocketsPerBoard"], l3["CoresPerSocket"], l3["ThreadsPerCore"]) == (16, 8, 2)
    lines = sc.node_lines(sc.group_nodes({"c001": l3, "c002": l3}))
    assert lines == ["NodeName=c[001-002] CPUs=256 Boards=1 SocketsPerBoard=16 CoresPerSocket=8 ThreadsPerCore=2 "
                     "RealMemory=1006592 State=UNKNOWN"]
    # against slurmd -C before 25.11 (physical sockets): same totals, so no drain, one note
    check = sc.compare_with_slurmd_C(lines[0], fact["slurm"])
    assert check["ok"] and len(check["notes"]) == 1
    assert "another layout" in check["notes"][0] and "l3cache_as_socket" in check["notes"][0]


@pytest.mark.parametrize("name, sockets, cores", [
    ("genoa_2p_nps1_smt", 24, 8),
    ("bergamo_2p_nps1_smt", 32, 8),
    ("rome_1p_nps4_smt", 16, 4),
    ("intel_spr_2p_snc2", 2, 56),      # L3 per socket on Intel: same as physical sockets
    ("arm_altra_q80_no_l3", 1, 80),    # no L3: the physical layout
])
def test_l3_as_socket_per_platform(name, sockets, cores):
    values = sc.node_values(fact_of(name), l3_as_socket=True)
    assert (values["SocketsPerBoard"], values["CoresPerSocket"]) == (sockets, cores)


def test_uneven_l3_domains_never_overstate():
    fact = fact_of("genoa_uneven_synthetic")
    values = sc.node_values(fact, l3_as_socket=True)
    assert values["SocketsPerBoard"] * values["CoresPerSocket"] <= fact["counts"]["cores"]
    check = sc.compare_with_slurmd_C(values, fact["slurm"])
    assert check["ok"]
    assert any("layout differs" in n for n in check["notes"])


# ---------------------------------------------------------------- RealMemory reserve
@pytest.mark.parametrize("measured, reserve, percent, round_mib, expected", [
    (1028177, 1024, 2, 1024, 1006592),   # 2 % (20564) beats 1 GiB, then rounded down to GiB
    (257049, 1024, 2, 1024, 251904),
    (31848, 1024, 2, 1024, 30720),       # 2 % = 637 < 1024: 1 GiB reserve
    (31848, 1024, 2, 0, 30824),          # no rounding
    (31848, 0, 0, 0, 31848),             # no reserve: exactly what slurmd measures, never more
    (31848, 0, 0, 1024, 31744),
    (31848, 4096, 0, 1, 27752),
    (1500, 1024, 2, 1024, 476),          # below one rounding step: not rounded to 0
    (1025, 1024, 0, 1024, 1),
    (100000, 0, 2.5, 0, 97500),
    (100001, 0, 2.5, 0, 97500),          # the percentage rounds up (ceil)
])
def test_real_memory_rules(measured, reserve, percent, round_mib, expected):
    value = sc.real_memory(measured, reserve, percent, round_mib)
    assert value == expected
    assert 1 <= value <= measured


def test_real_memory_defaults_documented():
    assert (sc.DEFAULT_RESERVE_MIB, sc.DEFAULT_RESERVE_PERCENT, sc.DEFAULT_ROUND_MIB) == (1024, 2, 1024)
    # 64 GiB node: reserve max(1024, ceil(2 % of 65536) = 1311) -> 64225 -> rounded down to 62 GiB
    assert sc.real_memory(65536) == 63488


def test_identical_nodes_with_slightly_different_memtotal_share_a_line():
    # firmware/kernel differences of a few MiB must not split a rack into many lines
    hosts = {}
    for i, memtotal in enumerate([257049, 257041, 257100, 256990]):
        fact = {"slurm": {"CPUs": 128, "Boards": 1, "SocketsPerBoard": 2, "CoresPerSocket": 32, "ThreadsPerCore": 2,
                          "RealMemory": memtotal}}
        hosts["node%02d" % (i + 1)] = sc.node_values(fact)
    assert sorted(set(v["RealMemory"] for v in hosts.values())) == [250880, 251904]  # straddles a GiB boundary
    groups = sc.group_nodes(hosts)
    assert len(groups) == 1 and groups[0]["hostlist"] == "node[01-04]"
    assert groups[0]["values"]["RealMemory"] == 250880  # the smallest: no member can drain
    strict = sc.group_nodes(hosts, memory_tolerance_mib=0)
    assert [g["hostlist"] for g in strict] == ["node[01,03]", "node[02,04]"]
    wide = dict(hosts, node05=dict(hosts["node01"], RealMemory=250880 + 1025))
    assert [g["hostlist"] for g in sc.group_nodes(wide)] == ["node[01-04]", "node05"]


@pytest.mark.parametrize("kwargs, needle", [
    (dict(measured_mib=1024), "leaves nothing of the 1024 MiB"),
    (dict(measured_mib=512, reserve_mib=0, reserve_percent=100), "reserve_percent must be a number in [0, 100)"),
    (dict(measured_mib=512, reserve_mib=-1), "real_memory_reserve_mib must be an integer >= 0"),
    (dict(measured_mib=512, reserve_mib=True), "real_memory_reserve_mib must be an integer >= 0"),
    (dict(measured_mib=0), "measured memory (MiB) must be an integer >= 1"),
    (dict(measured_mib=None), "measured memory (MiB) must be an integer >= 1"),
    (dict(measured_mib=4096, reserve_percent="2"), "reserve_percent must be a number"),
])
def test_real_memory_errors(kwargs, needle):
    with pytest.raises(sc.SlurmConfError) as err:
        sc.real_memory(**kwargs)
    assert needle in str(err.value)


def test_node_values_errors():
    with pytest.raises(sc.SlurmConfError, match="must be the hpcai_cpu_topology fact"):
        sc.node_values(None)
    with pytest.raises(sc.SlurmConfError, match="has no 'slurm_l3_as_socket' figures"):
        sc.node_values({"slurm": {}}, l3_as_socket=True)
    fact = {"slurm": {"CPUs": 8, "Boards": 1, "SocketsPerBoard": 1, "CoresPerSocket": 4, "ThreadsPerCore": 2,
                      "RealMemory": None}}
    with pytest.raises(sc.SlurmConfError, match="RealMemory is unknown"):
        sc.node_values(fact)
    fact["slurm"]["RealMemory"] = 2048
    fact["slurm"]["CoresPerSocket"] = 0
    with pytest.raises(sc.SlurmConfError, match="slurm.CoresPerSocket must be an integer >= 1"):
        sc.node_values(fact)
    fact["slurm"]["CoresPerSocket"] = 4
    with pytest.raises(sc.SlurmConfError, match="leaves nothing"):
        sc.node_values(fact, real_memory_reserve_mib=4096)
    assert sc.node_values(fact)["RealMemory"] == 1024


# ---------------------------------------------------------------- grouping and lines
def _cluster():
    milan = sc.node_values(fact_of("milan_2p_nps4_smt"))
    genoa = sc.node_values(fact_of("genoa_2p_nps1_smt"))
    hosts = dict(("cn%03d" % i, dict(milan)) for i in range(1, 65))
    for host in ("gpu01", "gpu02", "gpu03"):
        hosts[host] = dict(genoa, Gres=["gpu:h100:4"], Features=["h100", "nvlink"], CpuSpecList="0,1",
                           MemSpecLimit=8192)
    hosts["cn065"] = dict(milan, RealMemory=milan["RealMemory"] - 65536)  # one node with a failed DIMM
    hosts["cn010"]["Weight"] = 10
    return hosts


def test_group_nodes_identical_values():
    groups = sc.group_nodes(_cluster())
    assert [g["hostlist"] for g in groups] == ["cn[001-009,011-064]", "cn010", "cn065", "gpu[01-03]"]
    assert [len(g["hosts"]) for g in groups] == [63, 1, 1, 3]
    assert groups[0]["hosts"][:3] == ["cn001", "cn002", "cn003"]
    assert expand(groups[0]["hostlist"]) == groups[0]["hosts"]
    assert groups[3]["values"]["Gres"] == "gpu:h100:4"
    assert groups[3]["values"]["Features"] == "h100,nvlink"


def test_node_lines_stable_order():
    lines = sc.node_lines(sc.group_nodes(_cluster()))
    assert lines == [
        "NodeName=cn[001-009,011-064] CPUs=256 Boards=1 SocketsPerBoard=2 CoresPerSocket=64 ThreadsPerCore=2 "
        "RealMemory=1006592 State=UNKNOWN",
        "NodeName=cn010 CPUs=256 Boards=1 SocketsPerBoard=2 CoresPerSocket=64 ThreadsPerCore=2 RealMemory=1006592 "
        "Weight=10 State=UNKNOWN",
        "NodeName=cn065 CPUs=256 Boards=1 SocketsPerBoard=2 CoresPerSocket=64 ThreadsPerCore=2 RealMemory=941056 "
        "State=UNKNOWN",
        "NodeName=gpu[01-03] CPUs=384 Boards=1 SocketsPerBoard=2 CoresPerSocket=96 ThreadsPerCore=2 "
        "RealMemory=251904 CpuSpecList=0,1 MemSpecLimit=8192 Gres=gpu:h100:4 Features=h100,nvlink State=UNKNOWN",
    ]
    # the same input in another order gives the same lines
    shuffled = dict(reversed(list(_cluster().items())))
    assert sc.node_lines(sc.group_nodes(shuffled)) == lines
    assert sc.node_lines(sc.group_nodes(shuffled), state=None)[2].endswith("RealMemory=941056")
    own_state = sc.group_nodes({"n1": dict(_cluster()["cn001"], State="CLOUD")})
    assert sc.node_lines(own_state)[0].endswith("RealMemory=1006592 State=CLOUD")


def test_group_nodes_normalises_and_drops_empty_extras():
    base = {"CPUs": "8", "Boards": 1, "SocketsPerBoard": 1, "CoresPerSocket": 4, "ThreadsPerCore": 2,
            "RealMemory": 15000}
    groups = sc.group_nodes({"a1": dict(base, Gres=[], Features=""), "a2": dict(base, CPUs=8, Features=None)})
    assert len(groups) == 1 and groups[0]["values"]["CPUs"] == 8 and "Gres" not in groups[0]["values"]


@pytest.mark.parametrize("hosts, needle", [
    ({"n1": {"CPUs": 8}}, "n1: missing Boards, SocketsPerBoard, CoresPerSocket, ThreadsPerCore, RealMemory"),
    ({"n1": dict(CPUs=8, Boards=1, SocketsPerBoard=1, CoresPerSocket=4, ThreadsPerCore=2, RealMemory=1,
                 RealMem=2)}, "n1: unknown NodeName keys RealMem"),
    ({"n1": dict(CPUs=0, Boards=1, SocketsPerBoard=1, CoresPerSocket=4, ThreadsPerCore=2, RealMemory=1)},
     "n1: CPUs must be an integer >= 1"),
    ({"n1": dict(CPUs=8, Boards=1, SocketsPerBoard=1, CoresPerSocket=4, ThreadsPerCore=2, RealMemory=1,
                 Features="a b")}, "n1: Features: 'a b' cannot go into slurm.conf"),
    ({"n1": dict(CPUs=8, Boards=1, SocketsPerBoard=1, CoresPerSocket=4, ThreadsPerCore=2, RealMemory=1,
                 Gres={"gpu": 4})}, "n1: Gres must be a string or a list"),
    ({"n 1": {}}, "contains ' '"),
    ({"n1": None}, "n1: node values must be a dict"),
    ([], "hosts must be a dict"),
])
def test_group_nodes_errors(hosts, needle):
    with pytest.raises(sc.SlurmConfError) as err:
        sc.group_nodes(hosts)
    assert needle in str(err.value)


def test_node_lines_rejects_garbage():
    with pytest.raises(sc.SlurmConfError, match=r"groups\[0\] must be a group_nodes\(\) entry"):
        sc.node_lines([{"hosts": ["a"]}])
    assert sc.node_lines([]) == []


# ---------------------------------------------------------------- the whole cluster in one pass
class CountingVars(dict):
    """hostvars[host] stand-in that records which variables are read (a read is what costs in a play)."""

    def __init__(self, data, reads):
        super(CountingVars, self).__init__(data)
        self.reads = reads

    def __getitem__(self, key):
        self.reads.append(key)
        return super(CountingVars, self).__getitem__(key)


def _topo(cpus=128, mem=515000):
    return {"slurm": {"CPUs": cpus, "Boards": 1, "SocketsPerBoard": 2, "CoresPerSocket": cpus // 4, "ThreadsPerCore": 2,
                      "RealMemory": mem},
            "slurm_l3_as_socket": {"CPUs": cpus, "Boards": 1, "SocketsPerBoard": 16, "CoresPerSocket": cpus // 32,
                                   "ThreadsPerCore": 2, "RealMemory": mem},
            "cores": [{"id": i} for i in range(cpus // 2)]}


def _host(hostname, topology=True, plan=None, gpu=None, overrides=None, mem=515000, **facts):
    f = dict(facts, hostname=hostname, mounts=["/", "/home"], cmdline={"quiet": True})
    if topology:
        f["hpcai_cpu_topology"] = _topo(mem=mem)
    if plan is not None:
        f["hpcai_cgroup_partition"] = {"slurm": plan, "units": ["user.slice"], "memtotal_mib": mem}
    if gpu is not None:
        f["hpcai_gpu_facts"] = gpu
    hv = {"ansible_facts": f, "inventory_hostname": hostname + ".example", "group_names": ["compute"],
          "some_big_var": list(range(100))}
    if overrides is not None:
        hv["slurm_node_overrides"] = overrides
    return hv


GPU4 = {"gpus": [{}] * 4, "slurm": {"gres": "gpu:h100:4", "autodetect": "nvml",
                                    "conf_lines": ["Name=gpu Type=h100 File=/dev/nvidia%d" % i for i in range(4)]}}
PLAN = {"CpuSpecList": "0,64", "CoreSpecCount": None, "MemSpecLimit": 10300, "abstract_cpu_map": {"0": 0}}


def test_read_host_reads_only_what_the_lines_need():
    reads = []
    hv = CountingVars(_host("cn1", plan=PLAN, gpu=GPU4, overrides={"Weight": 5}), reads)
    record = sc.read_host(hv, "cn1.example")
    assert record["name"] == "cn1" and record["topology"]["slurm"]["CPUs"] == 128
    assert record["plan"] == PLAN and record["gpu"] == GPU4 and record["overrides"] == {"Weight": 5}
    assert sorted(reads) == ["ansible_facts", "slurm_node_overrides"]  # never some_big_var, group_names, ...
    reads[:] = []
    record = sc.read_host(hv, "cn1.example", core_spec=False, gres=False)
    assert "plan" not in record and "gpu" not in record and sorted(reads) == ["ansible_facts", "slurm_node_overrides"]
    reads[:] = []
    assert sc.read_host(hv, "cn1.example", node=False) == {"name": "cn1"} and reads == ["ansible_facts"]
    # no facts, no hostname, no topology: the inventory name, and no topology key
    assert sc.read_host({}, "cn2.example") == {"name": "cn2.example"}
    assert sc.read_host({"ansible_facts": {"hostname": ""}}, "cn2.example") == {"name": "cn2.example"}
    assert "topology" not in sc.read_host({"ansible_facts": {"hostname": "cn2"}}, "cn2.example")


def _records(hostvars, **kwargs):
    return [(h, sc.read_host(v, h, **kwargs) if v is not None else None) for h, v in hostvars.items()]


def test_cluster_nodes_lines_as_the_role_builds_them():
    hostvars = {
        "cn1.example": _host("cn1", plan=PLAN),
        "cn2.example": _host("cn2", plan=PLAN),
        "cn3.example": _host("cn3", plan=PLAN, overrides={"Features": "big", "Weight": 10}),
        "gpu1.example": _host("gpu1", plan=PLAN, gpu=GPU4),
        "gpu2.example": _host("gpu2", plan=PLAN, gpu=GPU4),
        "cpu9.example": _host("cpu9", gpu={"gpus": [], "slurm": {"gres": "", "conf_lines": [], "autodetect": None}}),
        "new1.example": _host("new1", topology=False),
        "gone.example": None,  # in the group, not in hostvars
    }
    out = sc.cluster_nodes(_records(hostvars))
    head = "CPUs=128 Boards=1 SocketsPerBoard=2 CoresPerSocket=32 ThreadsPerCore=2 RealMemory=503808"
    assert out["lines"] == [
        "NodeName=cn[1-2] %s CpuSpecList=0,64 MemSpecLimit=10300 State=UNKNOWN" % head,
        "NodeName=cn3 %s CpuSpecList=0,64 MemSpecLimit=10300 Features=big Weight=10 State=UNKNOWN" % head,
        "NodeName=cpu9 %s State=UNKNOWN" % head,
        "NodeName=gpu[1-2] %s CpuSpecList=0,64 MemSpecLimit=10300 Gres=gpu:h100:4 State=UNKNOWN" % head,
    ]
    # the same lines as the slurm_node_lines filter gets from {name: topology} and the extras
    extras = {"cn1": {"CpuSpecList": "0,64", "MemSpecLimit": 10300}, "cn2": {"CpuSpecList": "0,64", "MemSpecLimit": 10300},
              "cn3": {"CpuSpecList": "0,64", "MemSpecLimit": 10300, "Features": "big", "Weight": 10},
              "gpu1": {"CpuSpecList": "0,64", "MemSpecLimit": 10300, "Gres": "gpu:h100:4"},
              "gpu2": {"CpuSpecList": "0,64", "MemSpecLimit": 10300, "Gres": "gpu:h100:4"}, "cpu9": {}}
    topologies = dict((n, _topo()) for n in extras)
    assert sc.lines_for_nodes(topologies, extras) == out["lines"]
    assert out["missing"] == ["new1.example", "gone.example"]
    assert out["names"]["new1.example"] == "new1" and out["names"]["gone.example"] == "gone.example"
    assert sorted(out["gpu"]) == ["cn1", "cn2", "cn3", "cpu9", "gpu1", "gpu2"] and out["gpu"]["gpu1"] == GPU4
    # core_spec off: no plan values; mem_spec off: CpuSpecList only; gres off: no Gres, no GPU facts
    assert "Spec" not in sc.cluster_nodes(_records(hostvars), core_spec=False)["lines"][0]
    no_mem = sc.cluster_nodes(_records(hostvars), mem_spec=False)["lines"]
    assert "CpuSpecList=0,64 State" in no_mem[0] and not any("MemSpecLimit" in line for line in no_mem)
    no_gres = sc.cluster_nodes(_records(hostvars, gres=False), gres=False)
    assert not any("Gres" in line for line in no_gres["lines"]) and no_gres["gpu"] == {}
    l3 = sc.cluster_nodes(_records(hostvars), l3_as_socket=True, reserve_mib=4096, reserve_percent=0)["lines"][0]
    assert "SocketsPerBoard=16 CoresPerSocket=4" in l3 and "RealMemory=509952" in l3


def test_cluster_nodes_repeated_hosts_and_names():
    hostvars = [("a.example", sc.read_host(_host("n1"), "a.example")),
                ("a.example", sc.read_host(_host("n9"), "a.example")),  # listed twice: the first counts
                ("b.example", sc.read_host(_host("n1", overrides={"Weight": 3}), "b.example"))]  # same short name
    out = sc.cluster_nodes(hostvars)
    assert out["names"] == {"a.example": "n1", "b.example": "n1"}
    assert len(out["lines"]) == 1 and out["lines"][0].startswith("NodeName=n1 ") and "Weight=3" in out["lines"][0]


def test_cluster_nodes_errors_name_the_node():
    bad = _host("cn1")
    del bad["ansible_facts"]["hpcai_cpu_topology"]["slurm"]
    with pytest.raises(sc.SlurmConfError, match="no 'slurm' figures"):
        sc.cluster_nodes(_records({"cn1": bad}))
    with pytest.raises(sc.SlurmConfError, match="cn1: slurm_node_overrides must be a dict"):
        sc.cluster_nodes(_records({"cn1": _host("cn1", overrides=["Weight=1"])}))
    with pytest.raises(sc.SlurmConfError, match="cn1: unknown NodeName keys Wait"):
        sc.cluster_nodes(_records({"cn1": _host("cn1", overrides={"Wait": 1})}))


def _shifted(fact, mib):
    """The same machine with MemTotal ``mib`` MiB lower (firmware, kernel: identical nodes differ so)."""
    fact = copy.deepcopy(fact)
    fact["memtotal_kib"] -= mib * 1024
    for key in ("slurm", "slurm_l3_as_socket"):
        fact[key]["RealMemory"] -= mib
    return fact


def test_mem_spec_limit_of_identical_nodes_50_mib_apart_shares_a_line():
    # cgroup_partition's plan reserves 2 % of MemTotal: 5140 MiB on one node, 5139 MiB on its twin 50 MiB
    # smaller. Both must still share one NodeName line (as RealMemory does, see group_nodes).
    from ansible_collections.hpcai.cluster.plugins.module_utils import cgroup_partition

    records = []
    for host, shift in (("gpn01", 0), ("gpn02", 50), ("gpn03", 0)):
        fact = _shifted(fact_of("genoa_2p_nps1_smt"), shift)
        plan = cgroup_partition.plan(fact, policy="per_l3")
        records.append((host, {"name": host, "topology": fact, "plan": plan["slurm"]}))
    assert [r[1]["plan"]["MemSpecLimit"] for r in records] == [5140, 5139, 5140]
    lines = sc.cluster_nodes(records)["lines"]
    assert len(lines) == 1 and lines[0].startswith("NodeName=gpn[01-03] CPUs=384 ")
    assert " RealMemory=250880 " in lines[0] and " MemSpecLimit=5139 " in lines[0]  # the smaller node's values
    # strictly identical values only (tolerance 0): the twin gets its own line again
    strict = sc.lines_for_nodes(dict((h, r["topology"]) for h, r in records),
                                dict((h, {"MemSpecLimit": r["plan"]["MemSpecLimit"]}) for h, r in records),
                                memory_tolerance_mib=0)
    assert [line.split()[0] for line in strict] == ["NodeName=gpn[01,03]", "NodeName=gpn02"]


def test_group_nodes_mem_spec_limit_within_the_memory_tolerance():
    base = {"CPUs": 8, "Boards": 1, "SocketsPerBoard": 1, "CoresPerSocket": 4, "ThreadsPerCore": 2,
            "RealMemory": 30720}
    hosts = {"n1": dict(base, MemSpecLimit=4096), "n2": dict(base, MemSpecLimit=4100),
             "n3": dict(base, MemSpecLimit=5120), "n4": dict(base, MemSpecLimit=5121),  # 1025 above n1
             "n5": dict(base), "n6": dict(base, MemSpecLimit=None),  # none: never with a MemSpecLimit
             "n7": dict(base, MemSpecLimit=4200, RealMemory=31000)}  # RealMemory merges too
    groups = sc.group_nodes(hosts)
    assert [(g["hostlist"], g["values"].get("MemSpecLimit"), g["values"]["RealMemory"]) for g in groups] == [
        ("n[1-3,7]", 4096, 30720), ("n4", 5121, 30720), ("n[5-6]", None, 30720)]
    assert [g["hostlist"] for g in sc.group_nodes(hosts, memory_tolerance_mib=0)] == [
        "n1", "n2", "n3", "n4", "n[5-6]", "n7"]
    # other keys still split
    assert len(sc.group_nodes({"a": dict(base, MemSpecLimit=4096), "b": dict(base, MemSpecLimit=4097, Weight=2)})) == 2


def test_partition_hostlists():
    groups = {"compute": ["cn1.example", "cn2.example", "cn3.example"], "login": ["login1"], "empty": [],
              "bad": ["cn1.example", "a b"]}
    names = {"cn1.example": "cn1", "cn2.example": "cn2", "cn3.example": "cn3"}
    parts = [{"name": "batch", "nodes": "compute"}, {"name": "again", "nodes": "compute"},
             {"name": "login", "nodes": "login"}, {"name": "none", "nodes": "empty"}, {"name": "all"},
             {"name": "list", "nodes": ["cn1"]}, {"name": "expr", "nodes": "cn[1-2]"}]
    assert sc.partition_hostlists(parts, groups, names) == {"compute": "cn[1-3]", "login": "login1"}
    assert sc.partition_hostlists([], groups, names) == {} and sc.partition_hostlists(None, None, {}) == {}
    with pytest.raises(sc.SlurmConfError, match="partition x, group bad: .*' '"):
        sc.partition_hostlists([{"name": "x", "nodes": "bad"}], groups, names)


# ---------------------------------------------------------------- slurmd -C
# Debian 12 ships slurmd 22.05.8; its man page shows this exact output format.
SLURMD_C_2205 = (
    "NodeName=node1 CPUs=16 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=2 RealMemory=31848\n"
    "UpTime=12-03:04:05\n"
)


def test_parse_slurmd_C_debian_2205():
    parsed = sc.parse_slurmd_C(SLURMD_C_2205)
    assert parsed == {"NodeName": "node1", "CPUs": 16, "Boards": 1, "SocketsPerBoard": 1, "CoresPerSocket": 8,
                      "ThreadsPerCore": 2, "RealMemory": 31848, "UpTime": "12-03:04:05",
                      "UpTimeSeconds": ((12 * 24 + 3) * 60 + 4) * 60 + 5}


def test_parse_slurmd_C_newer_formats_and_noise():
    text = ("slurmd: error: Couldn't find the specified plugin name for gpu/nvml looking at all files\n"
            "ClusterName=hpc NodeName=gpu01 CPUs=384 Boards=1 SocketsPerBoard=2 CoresPerSocket=96 "
            "ThreadsPerCore=2 RealMemory=257049 Gres=gpu:h100:4(S:0-1)\n"
            "UpTime=0-00:10:00\n")
    parsed = sc.parse_slurmd_C(text)
    assert parsed["ClusterName"] == "hpc" and parsed["NodeName"] == "gpu01"
    assert parsed["Gres"] == "gpu:h100:4(S:0-1)" and parsed["CPUs"] == 384 and parsed["UpTimeSeconds"] == 600
    assert sc.parse_slurmd_C(b"NodeName=x CPUs=2 RealMemory=1000\n")["Boards"] == 1


@pytest.mark.parametrize("text, needle", [
    ("", "not slurmd -C output"),
    ("slurmd: fatal: Unable to determine this slurmd's NodeName", "not slurmd -C output"),
    ("NodeName=x CPUs=abc RealMemory=1", "CPUs=abc is not a number"),
    (None, "must be a string"),
])
def test_parse_slurmd_C_errors(text, needle):
    with pytest.raises(sc.SlurmConfError) as err:
        sc.parse_slurmd_C(text)
    assert needle in str(err.value)


def test_compare_exact_match_is_ok():
    line = "NodeName=node1 CPUs=16 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=2 RealMemory=30720"
    result = sc.compare_with_slurmd_C(line, SLURMD_C_2205)
    assert result["ok"] and result["drain"] == [] and result["notes"] == []
    assert result["measured"]["RealMemory"] == 31848 and result["configured"]["RealMemory"] == 30720


@pytest.mark.parametrize("override, drain_needles, note_needles", [
    (dict(RealMemory=32768), ["RealMemory=32768 MiB is more than the 31848 MiB", "Low RealMemory"], []),
    (dict(RealMemory=31848), [], []),                                     # equal is fine
    (dict(CPUs=32, ThreadsPerCore=4), ["CPUs=32 is more than the 16 CPUs", "Low socket*core*thread count"],
     ["layout differs"]),
    (dict(CPUs=32), ["Low CPUs"], ["CPUs=32 differs from Boards*SocketsPerBoard*CoresPerSocket*ThreadsPerCore = 16"]),
    (dict(SocketsPerBoard=2), ["= 32 is more than the 16 threads"], ["layout differs"]),
    (dict(CPUs=8, ThreadsPerCore=1), [], ["uses 8 of the 16 CPUs", "layout differs"]),
    (dict(SocketsPerBoard=2, CoresPerSocket=4), [], ["same 8 cores and 16 threads in another layout"]),
    (dict(CoresPerSocket=16, ThreadsPerCore=1), [], ["16 cores configured but 8 measured"]),
])
def test_compare_drain_rules(override, drain_needles, note_needles):
    values = {"CPUs": 16, "Boards": 1, "SocketsPerBoard": 1, "CoresPerSocket": 8, "ThreadsPerCore": 2,
              "RealMemory": 30720}
    values.update(override)
    result = sc.compare_with_slurmd_C(values, SLURMD_C_2205)
    assert result["ok"] == (not drain_needles)
    text = " | ".join(result["drain"])
    for needle in drain_needles:
        assert needle in text
    notes = " | ".join(result["notes"])
    for needle in note_needles:
        assert needle in notes
    if not drain_needles:
        assert result["drain"] == []


def test_compare_accepts_sockets_and_fact_figures():
    fact = fact_of("milan_2p_nps4_smt")
    line = "NodeName=n1 CPUs=256 Sockets=2 CoresPerSocket=64 ThreadsPerCore=2 RealMemory=1000000 State=UNKNOWN"
    result = sc.compare_with_slurmd_C(line, fact["slurm"])
    assert result["ok"] and result["configured"]["SocketsPerBoard"] == 2 and result["configured"]["Boards"] == 1
    partial = sc.compare_with_slurmd_C({"RealMemory": 2000000}, fact["slurm"])
    assert not partial["ok"] and len(partial["drain"]) == 1


def test_compare_errors():
    with pytest.raises(sc.SlurmConfError, match="line_values must be a dict or a NodeName line"):
        sc.compare_with_slurmd_C(None, SLURMD_C_2205)
    with pytest.raises(sc.SlurmConfError, match="slurmd_c_output must be slurmd -C text or a dict"):
        sc.compare_with_slurmd_C({}, 5)
    with pytest.raises(sc.SlurmConfError, match="not slurmd -C output"):
        sc.compare_with_slurmd_C({}, "garbage")


# ---------------------------------------------------------------- versions
@pytest.mark.parametrize("text, expected", [
    ("22.05.8", (22, 5, 8)),
    ("slurm 22.05.8", (22, 5, 8)),
    ("slurm-wlm 22.05.8-4+deb12u3", (22, 5, 8)),
    ("1:22.05.8-4", (22, 5, 8)),
    ("23.11.0rc1", (23, 11, 0)),
    ("24.05.4-1.el9", (24, 5, 4)),
    ("25.11", (25, 11, 0)),
    ((24, 5), (24, 5, 0)),
    ([23, 2, 1], (23, 2, 1)),
])
def test_parse_version(text, expected):
    assert sc.parse_version(text) == expected


@pytest.mark.parametrize("text", ["", "slurm", "v2", None, 22.05, (22,), (22, "05"), (1, 2, 3, 4)])
def test_parse_version_errors(text):
    with pytest.raises(sc.SlurmConfError):
        sc.parse_version(text)


def test_config_keys_debian_2205():
    keys = sc.config_keys_for("22.05.8")
    assert "CgroupPlugin" in keys["cgroup.conf"] and "CgroupAutomount" in keys["cgroup.conf"]
    for absent in ("EnableControllers", "SystemdTimeout", "CgroupSlice"):
        assert absent not in keys["cgroup.conf"]
    assert "SlurmctldParameters=enable_configless" in keys["slurm.conf"]
    assert "NodeName:Parameters" not in keys["slurm.conf"]
    assert keys["features"] == []
    assert keys["cgroup.conf"] == sorted(keys["cgroup.conf"])


@pytest.mark.parametrize("version, key, expected", [
    ("23.02.0", "cgroup.conf:EnableControllers", False),
    ("23.02.1", "cgroup.conf:EnableControllers", True),     # 23.02.1, not 23.11 (hardware-facts.md)
    ("23.02.7", "cgroup.conf:CgroupAutomount", True),
    ("23.11.0", "cgroup.conf:CgroupAutomount", False),       # removed in 23.11
    ("24.05.0", "cgroup.conf:SystemdTimeout", True),
    ("23.11.10", "cgroup.conf:SystemdTimeout", False),
    ("25.05.3", "cgroup.conf:CgroupSlice", False),
    ("25.11.0", "cgroup.conf:CgroupSlice", True),
    ("22.05.8", "cgroup.conf:ConstrainCores", True),
    ("20.02.0", "slurm.conf:SlurmctldParameters=enable_configless", True),
    ("19.05.8", "slurm.conf:SlurmctldParameters=enable_configless", False),
    ("25.05.0", "slurm.conf:NodeName:Parameters", False),
    ("25.11.1", "slurm.conf:NodeName:Parameters", True),
    ("23.02.7", "hostlist_suffix", False),
    ("23.11.1", "hostlist_suffix", True),
    ("24.11.0", "slurmd_C_parameters", False),
    ("25.11.0", "slurmd_C_parameters", True),
    ("24.05.1", "cgroup_plugin_disabled", True),
])
def test_supports(version, key, expected):
    assert sc.supports(version, key) is expected


def test_supports_unknown_names():
    with pytest.raises(sc.SlurmConfError, match="not in the version table"):
        sc.supports("23.11", "cgroup.conf:ConstrainKmem")
    with pytest.raises(sc.SlurmConfError, match="unknown feature"):
        sc.supports("23.11", "teleport")


def test_version_table_is_sourced():
    for row in sc.KEY_TABLE:
        assert row[0] in ("cgroup.conf", "slurm.conf") and row[4]
        assert row[2] is None or len(row[2]) == 3
    for row in sc.FEATURE_TABLE:
        assert row[3]
