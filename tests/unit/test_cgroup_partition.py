# -*- coding: utf-8 -*-
"""Tests for plugins/module_utils/cgroup_partition.py (pure planner).

Expectations come from the synthetic generator's hardware *model* (cores,
CCX, NUMA node and socket of every core, the Linux numbering), never from the
planner's own helpers, and the Slurm abstract-id examples are written out by
hand from the rule in slurmd's xcpuinfo.c (socket-major, cores in order, the
threads of a core consecutive).
"""

from __future__ import absolute_import, division, print_function

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sysfs_gen as gen  # noqa: E402

from ansible_collections.hpcai.cluster.plugins.module_utils import cgroup_partition as cp  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils import topology as topo  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils.cpulist import (  # noqa: E402
    format_cpulist,
    parse_cpulist,
)

CATALOGUE = gen.catalogue()
POLICIES = ("per_l3", "per_numa", "per_socket")
_FACTS = {}


def fact_for(spec):
    """hpcai_cpu_topology for a spec (rendered in memory, cached by name)."""
    key = spec["name"]
    if key not in _FACTS or _FACTS[key][0] is not spec:
        reader = gen.MemoryReader.for_spec(spec, full=False)
        _FACTS[key] = (spec, topo.collect(reader, *topo.allowed_cpus(reader)))
    return _FACTS[key][1]


def cat(name):
    return fact_for(gen.CATALOGUE[name])


def cpus(text):
    return set(parse_cpulist(text))


# --------------------------------------------------------------------------
# What the model says (independent of the planner)
# --------------------------------------------------------------------------


def model_cores(spec):
    """[(core, [usable cpus])] in the model's order (socket, CCX, slot)."""
    mdl = gen.model(spec)
    usable = set(mdl["usable"])
    out = []
    for core in mdl["cores"]:
        members = sorted(c for c in core.cpus if c in usable)
        if members:
            out.append((core, members))
    return out


def model_units(spec, policy):
    """{unit key: [[cpus of a core], ...]} for a policy, from the model; None = no such units."""
    units = {}
    for core, members in model_cores(spec):
        if policy == "per_l3":
            if spec["l3"] == "none":
                return None
            key = core.ccx if spec["l3"] == "ccx" else core.socket
        elif policy == "per_numa":
            key = 0 if spec["no_node_dir"] else core.node
        else:
            key = 0 if spec["arm_package_id"] == -1 else core.socket
        units.setdefault(key, []).append(members)
    return units


def expected_abstract(spec):
    """{os id: abstract id} by the xcpuinfo.c rule, from the model (exact machines only)."""
    cores = model_cores(spec)
    threads = len(cores[0][1])
    out = {}
    index = 0
    for sock in sorted(set(core.socket for core, _m in cores)):
        for core, members in cores:  # model order inside a socket = hwloc order (ids increase)
            if core.socket != sock:
                continue
            for t, cpu in enumerate(members):
                out[cpu] = index * threads + t
            index += 1
    return out


# --------------------------------------------------------------------------
# The fact's cores list (added to cpu_topology for this planner)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", CATALOGUE)
def test_fact_cores_are_the_models_cores(name):
    spec = gen.CATALOGUE[name]
    want = sorted((format_cpulist(m) for _c, m in model_cores(spec)), key=lambda t: parse_cpulist(t)[0])
    assert cat(name)["cores"] == want


# --------------------------------------------------------------------------
# Invariants over the whole catalogue
# --------------------------------------------------------------------------


def _expected_error(spec, policy, count):
    units = model_units(spec, policy)
    if units is None:  # per_l3 without L3 falls back to per_numa
        units = model_units(spec, "per_numa")
    smallest = min(len(v) for v in units.values())
    if count > smallest:
        return "is larger than the"
    total = sum(len(v) for v in units.values())
    if count * len(units) >= total:
        return "no workload CPUs would be left"
    return None


@pytest.mark.parametrize("count", (1, 2))
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", CATALOGUE)
def test_invariants(name, policy, count):
    spec = gen.CATALOGUE[name]
    fact = cat(name)
    error = _expected_error(spec, policy, count)
    if error:
        with pytest.raises(cp.PartitionError, match=error):
            cp.plan(fact, policy=policy, count=count)
        return
    result = cp.plan(fact, policy=policy, count=count)
    online = cpus(fact["cpus_online"])
    hk = cpus(result["housekeeping_cpus"])
    wl = cpus(result["workload_cpus"])
    # disjoint and complete
    assert hk and wl
    assert not hk & wl
    assert hk | wl == online
    # contract with kernel_tuning
    assert result["irqbalance_banned_cpus"] == result["workload_cpus"]
    assert result["irqaffinity"] == result["housekeeping_cpus"]
    # whole cores (SMT siblings together), from the model's cores
    for _core, members in model_cores(spec):
        assert set(members) <= hk or set(members) <= wl, (members, result["housekeeping_cpus"])
    # count cores per unit, the first cores of each unit
    units = model_units(spec, policy)
    used_policy = policy
    if units is None:
        used_policy = "per_numa"
        units = model_units(spec, "per_numa")
    assert result["policy"] == used_policy and result["policy_requested"] == policy
    assert len(result["units"]) == len(units)
    got = sorted((cpus(u["housekeeping_cpus"]) for u in result["units"]), key=min)
    want = sorted((set(c for m in sorted(members, key=lambda m: m[0])[:count] for c in m)
                   for members in units.values()), key=min)
    assert got == want
    assert result["housekeeping_cores"] == count * len(units)
    for unit in result["units"]:
        assert cpus(unit["housekeeping_cpus"]) <= cpus(unit["cpus"])
    # Slurm abstract ids: exact machines against the hand-derived rule
    slurm = result["slurm"]
    if slurm["abstract_map_exact"]:
        expect = expected_abstract(spec)
        assert slurm["abstract_cpu_map"] == dict((str(k), v) for k, v in expect.items())
        assert slurm["CpuSpecList"] == format_cpulist(expect[c] for c in hk)
    assert slurm["node"]["CPUs"] == len(online)
    assert slurm["node"]["RealMemory"] < fact["memtotal_kib"] // 1024


def test_catalogue_has_inexact_and_exact_machines():
    """The invariant test above must exercise both branches."""
    exact = [n for n in CATALOGUE if cp.plan(cat(n), policy="per_socket")["slurm"]["abstract_map_exact"]]
    assert len(exact) > 80
    assert "milan_2p_offline" not in exact and "genoa_2p_container_v2" not in exact


# --------------------------------------------------------------------------
# Hand-worked Slurm abstract ids: 2 sockets x 4 cores x SMT2 (siblings N, N+8)
# --------------------------------------------------------------------------


def small(enumeration, ccx_per_socket=1):
    spec = gen.make_spec(gen.MILAN, name="hand_%s_%d" % (enumeration, ccx_per_socket), sockets=2,
                         ccx_per_socket=ccx_per_socket, core_slots_per_ccx=4 // ccx_per_socket,
                         cores_per_ccx=4 // ccx_per_socket, enumeration=enumeration)
    return fact_for(spec)


# Linear: socket 0 = cores (0,8) (1,9) (2,10) (3,11); socket 1 = (4,12) ... (7,15).
# Abstract: core k of the node (socket-major) gets 2k for thread 0 and 2k+1 for thread 1.
HAND_LINEAR = {0: 0, 8: 1, 1: 2, 9: 3, 2: 4, 10: 5, 3: 6, 11: 7,
               4: 8, 12: 9, 5: 10, 13: 11, 6: 12, 14: 13, 7: 14, 15: 15}
# Socket round-robin: socket 0 = cores (0,8) (2,10) (4,12) (6,14); socket 1 = (1,9) (3,11) (5,13) (7,15).
HAND_SOCKET_RR = {0: 0, 8: 1, 2: 2, 10: 3, 4: 4, 12: 5, 6: 6, 14: 7,
                  1: 8, 9: 9, 3: 10, 11: 11, 5: 12, 13: 13, 7: 14, 15: 15}


@pytest.mark.parametrize("enumeration, hand", [("linear", HAND_LINEAR), ("socket_rr", HAND_SOCKET_RR)])
def test_abstract_ids_hand_worked(enumeration, hand):
    result = cp.plan(small(enumeration), policy="per_socket")
    slurm = result["slurm"]
    assert slurm["abstract_map_exact"] is True
    assert slurm["abstract_cpu_map"] == dict((str(k), v) for k, v in hand.items())
    # first core of each socket -> abstract cores 0 and 4 -> ids 0,1 and 8,9
    assert slurm["CpuSpecList"] == "0-1,8-9"
    assert result["housekeeping_cpus"] == ("0,4,8,12" if enumeration == "linear" else "0-1,8-9")
    assert slurm["node"]["SocketsPerBoard"] == 2 and slurm["node"]["CoresPerSocket"] == 4
    assert slurm["node"]["ThreadsPerCore"] == 2 and slurm["node"]["CPUs"] == 16


@pytest.mark.parametrize("enumeration, housekeeping", [("linear", "0,2,4,6,8,10,12,14"),
                                                       ("socket_rr", "0-1,4-5,8-9,12-13")])
def test_abstract_ids_two_ccx_per_socket(enumeration, housekeeping):
    # 2 CCX of 2 cores per socket: per_l3 takes the first core of each CCX,
    # abstract cores 0, 2, 4, 6 in both numberings.
    result = cp.plan(small(enumeration, ccx_per_socket=2), policy="per_l3")
    assert result["housekeeping_cpus"] == housekeeping
    assert result["slurm"]["CpuSpecList"] == "0-1,4-5,8-9,12-13"
    assert result["slurm"]["node_l3_as_socket"]["SocketsPerBoard"] == 4
    assert result["slurm"]["node_l3_as_socket"]["CoresPerSocket"] == 2


@pytest.mark.parametrize("enumeration", ("linear", "socket_rr"))
def test_core_spec_count_per_socket_needs_spec_cores_first(enumeration):
    result = cp.plan(small(enumeration), policy="per_socket", slurm_spec=["CoreSpecCount", "MemSpecLimit"])
    slurm = result["slurm"]
    assert slurm["CoreSpecCount"] == 2 and slurm["CpuSpecList"] is None
    assert slurm["core_spec_layout"] == "sockets"
    assert slurm["slurm_conf"]["SchedulerParameters"] == "spec_cores_first"
    assert "SlurmdParameters" not in slurm["slurm_conf"]


def test_core_spec_count_per_l3_needs_l3cache_as_socket():
    result = cp.plan(small("linear", ccx_per_socket=2), policy="per_l3", slurm_spec=["CoreSpecCount"])
    slurm = result["slurm"]
    assert slurm["CoreSpecCount"] == 4 and slurm["core_spec_layout"] == "l3_as_socket"
    assert slurm["slurm_conf"]["SchedulerParameters"] == "spec_cores_first"
    assert slurm["slurm_conf"]["SlurmdParameters"] == "l3cache_as_socket"


def test_core_spec_count_default_order_is_last_core_of_each_socket():
    # Slurm's default: highest core of the highest socket, then of the lower sockets.
    result = cp.plan(small("linear"), policy="explicit", cpus="3,7,11,15", slurm_spec=["CoreSpecCount"])
    assert result["slurm"]["CoreSpecCount"] == 2
    assert "SchedulerParameters" not in result["slurm"]["slurm_conf"]


def test_core_spec_count_that_slurm_would_not_pick_is_refused():
    with pytest.raises(cp.PartitionError, match=r"Slurm picks the specialized cores itself.*CpuSpecList"):
        cp.plan(small("linear"), policy="explicit", cpus="0-1,8-9", slurm_spec=["CoreSpecCount"])


def test_slurm_spec_cores_order():
    groups = [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert cp.slurm_spec_cores(groups, 4, 3, first=False) == [7, 3, 6]
    assert cp.slurm_spec_cores(groups, 4, 3, first=True) == [0, 4, 1]


# --------------------------------------------------------------------------
# Bad options
# --------------------------------------------------------------------------


def test_count_larger_than_a_unit():
    with pytest.raises(cp.PartitionError, match=r"count=2 is larger than the 1 core\(s\) of l3:0 \(CPUs 0,16\)"):
        cp.plan(cat("turin_9175f_1p"), policy="per_l3", count=2)


def test_uneven_units_name_the_smallest():
    # genoa_uneven_synthetic has a CCX with 5 cores
    with pytest.raises(cp.PartitionError, match=r"count=6 is larger than the 5 core\(s\) of l3:11.*smallest per_l3 unit has 5"):
        cp.plan(cat("genoa_uneven_synthetic"), policy="per_l3", count=6)


def test_no_workload_left():
    with pytest.raises(cp.PartitionError, match="no workload CPUs would be left"):
        cp.plan(cat("turin_9175f_1p"), policy="per_l3", count=1)


def test_explicit_cpus_that_do_not_exist():
    with pytest.raises(cp.PartitionError, match=r"cpus: CPUs 512,4000 do not exist or are not online"):
        cp.plan(cat("milan_2p_nps1_smt"), policy="explicit", cpus="0,512,4000")


def test_explicit_offline_cpu_is_refused():
    with pytest.raises(cp.PartitionError, match=r"cpus: CPUs 5 do not exist or are not online"):
        cp.plan(cat("milan_2p_offline"), policy="explicit", cpus="4-5")


def test_explicit_bad_cpulist():
    with pytest.raises(cp.PartitionError, match="invalid cpulist in cpus"):
        cp.plan(cat("milan_2p_nps1_smt"), policy="explicit", cpus="0-3:2")


def test_explicit_is_expanded_to_whole_cores():
    result = cp.plan(cat("milan_2p_nps1_smt"), policy="explicit", cpus="0-1")
    assert result["housekeeping_cpus"] == "0-1,128-129"
    assert any("expanded to whole cores 0-1,128-129" in w for w in result["warnings"])
    assert result["units"][0]["unit"] == "explicit" and result["count"] is None


def test_both_cpu_spec_list_and_core_spec_count():
    with pytest.raises(cp.PartitionError, match="CpuSpecList and CoreSpecCount were both requested"):
        cp.plan(cat("milan_2p_nps1_smt"), slurm_spec=["CpuSpecList", "CoreSpecCount"])


@pytest.mark.parametrize("kwargs, message", [
    ({"policy": "per_core"}, "policy must be one of"),
    ({"gpu_local_cpus": "maybe"}, "gpu_local_cpus must be one of"),
    ({"slurm_spec": ["CpuSpecList", "Cores"]}, "slurm_spec: unknown Cores"),
    ({"count": 0}, "count must be an integer >= 1"),
    ({"count": True}, "count must be an integer >= 1"),
    ({"cpus": "0-1"}, "cpus is only used with policy=explicit"),
    ({"policy": "explicit"}, "policy=explicit needs cpus"),
    ({"memory_reserve_mib": 1, "memory_reserve_percent": 1}, "mutually exclusive"),
    ({"memory_reserve_mib": -1}, "memory_reserve_mib must be >= 0"),
    ({"memory_reserve_percent": 60}, r"memory_reserve_percent must be within \[0, 50\]"),
    ({"memory_reserve_mib": 10 ** 7}, "is not below RealMemory"),
    ({"real_memory_margin_mib": -5}, "real_memory_margin_mib must be >= 0"),
    ({"real_memory_margin_mib": 10 ** 8}, "leaves no memory"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(cp.PartitionError, match=message):
        cp.plan(cat("milan_2p_nps1_smt"), **kwargs)


def test_topology_without_cores_or_broken():
    fact = dict(cat("milan_2p_nps1_smt"))
    del fact["cores"]
    with pytest.raises(cp.PartitionError, match="no 'cores' list"):
        cp.plan(fact)
    fact = dict(cat("milan_2p_nps1_smt"), cores=["0,128", "0,1"])
    with pytest.raises(cp.PartitionError, match="overlaps another core"):
        cp.plan(fact)
    fact = dict(cat("milan_2p_nps1_smt"), cores=["0,128"])
    with pytest.raises(cp.PartitionError, match="topology.cores covers CPUs 0,128 but cpus_online is 0-255"):
        cp.plan(fact)
    with pytest.raises(cp.PartitionError, match="must be the hpcai_cpu_topology fact"):
        cp.plan(["not", "a", "dict"])


# --------------------------------------------------------------------------
# Special machines
# --------------------------------------------------------------------------


def test_arm_without_l3_falls_back_to_per_numa():
    result = cp.plan(cat("arm_altra_q80_no_l3"), policy="per_l3")
    assert result["policy"] == "per_numa" and result["policy_requested"] == "per_l3"
    assert [u["unit"] for u in result["units"]] == ["numa:0"]
    assert any("no L3 cache" in w for w in result["warnings"])
    # the ARM quadrant layout: one housekeeping core per NUMA node
    result = cp.plan(cat("arm_altra_quadrant"), policy="per_l3")
    assert result["policy"] == "per_numa" and len(result["units"]) == 4


def test_cpu_less_numa_nodes_are_no_unit():
    fact = cat("genoa_2p_nps4_gpu_hbm")
    assert len(fact["numa_nodes"]) == 16
    result = cp.plan(fact, policy="per_numa")
    assert [u["unit"] for u in result["units"]] == ["numa:%d" % i for i in range(8)]


def test_offline_cpus_are_in_neither_set():
    fact = cat("milan_2p_offline")
    result = cp.plan(fact, policy="per_socket")
    offline = cpus(fact["cpus_offline"])
    assert offline and not offline & (cpus(result["housekeeping_cpus"]) | cpus(result["workload_cpus"]))
    # CPU 5's core is offline; core (2,130) lost its sibling: slurmd's map has holes
    assert result["slurm"]["abstract_map_exact"] is False
    assert any("1/2 threads" in n for n in result["slurm"]["abstract_map_notes"])
    assert any(">= CPUs (237)" in n for n in result["slurm"]["abstract_map_notes"])


def test_offline_cpus_cpu_spec_list_is_withheld_with_a_reason():
    result = cp.plan(cat("milan_2p_offline"), policy="per_l3")
    assert result["slurm"]["CpuSpecList"] is None
    assert any(w.startswith("CpuSpecList not computed") for w in result["warnings"])


def test_container_restricted_topology():
    fact = cat("genoa_2p_container_v2")  # cpuset 8-15,200-207 = cores 8-15 of CCX 1
    result = cp.plan(fact, policy="per_l3")
    assert result["housekeeping_cpus"] == "8,200"
    assert result["workload_cpus"] == "9-15,201-207"
    assert result["slurm"]["CpuSpecList"] is None
    assert any("HWLOC_TOPOLOGY_FLAG_WHOLE_SYSTEM" in w for w in result["warnings"])


def test_core_spec_count_refused_on_irregular_machine():
    with pytest.raises(cp.PartitionError, match="irregular"):
        cp.plan(cat("milan_2p_offline"), policy="per_socket", slurm_spec=["CoreSpecCount"])


# --------------------------------------------------------------------------
# GPUs
# --------------------------------------------------------------------------


def gpus_on_nodes(fact, nodes):
    by_id = dict((n["id"], n["cpus"]) for n in fact["numa_nodes"])
    devs = [{"address": "0000:%02x:00.0" % (0x10 + n), "kind": "gpu", "numa_node": n, "local_cpus": by_id[n]}
            for n in nodes]
    devs.append({"address": "0000:c1:00.0", "kind": "ib", "numa_node": 1, "local_cpus": by_id[1]})
    return devs


def test_gpu_avoid_skips_gpu_local_units():
    fact = cat("genoa_2p_nps4_smt")
    devs = gpus_on_nodes(fact, [0, 2])
    result = cp.plan(fact, policy="per_numa", gpu_local_cpus="avoid", pci_devices=devs)
    assert [u["unit"] for u in result["units"]] == ["numa:1", "numa:3", "numa:4", "numa:5", "numa:6", "numa:7"]
    assert [s["unit"] for s in result["units_skipped"]] == ["numa:0", "numa:2"]
    gpu = cpus(result["gpu_cpus"])
    assert gpu == cpus(fact["numa_nodes"][0]["cpus"]) | cpus(fact["numa_nodes"][2]["cpus"])  # the NIC is no GPU
    assert not cpus(result["housekeeping_cpus"]) & gpu
    # per_l3: the L3 domains of nodes 0 and 2 are skipped (3 per node on Genoa NPS4)
    result = cp.plan(fact, policy="per_l3", gpu_local_cpus="avoid", pci_devices=devs)
    assert len(result["units"]) == 24 - 6 and not cpus(result["housekeeping_cpus"]) & gpu


def test_gpu_avoid_inside_a_socket_takes_non_gpu_cores():
    fact = cat("genoa_2p_nps4_smt")
    result = cp.plan(fact, policy="per_socket", gpu_local_cpus="avoid", pci_devices=gpus_on_nodes(fact, [0]))
    node1_first = min(cpus(fact["numa_nodes"][1]["cpus"]))
    assert min(cpus(result["units"][0]["housekeeping_cpus"])) == node1_first
    assert result["units"][1]["housekeeping_cpus"] == "96,288"  # socket 1: first core, no GPU there


def test_gpu_prefer_takes_gpu_local_cores_first():
    fact = cat("genoa_2p_nps4_smt")
    result = cp.plan(fact, policy="per_socket", gpu_local_cpus="prefer", pci_devices=gpus_on_nodes(fact, [2]))
    node2_first = min(cpus(fact["numa_nodes"][2]["cpus"]))
    assert min(cpus(result["units"][0]["housekeeping_cpus"])) == node2_first
    assert result["units_skipped"] == []


def test_gpu_avoid_when_every_unit_is_gpu_local():
    spec = gen.CATALOGUE["hgx_h100_genoa_2p_nps4"]
    fact = cat("hgx_h100_genoa_2p_nps4")
    result = cp.plan(fact, policy="per_numa", gpu_local_cpus="avoid", pci_devices=gen.expected_pci(spec))
    assert len(result["units"]) == 8 and result["units_skipped"] == []
    assert all(u["gpu_local"] for u in result["units"])
    assert any("every per_numa unit is local to a GPU" in w for w in result["warnings"])


def test_gpu_without_local_cpus_and_no_gpus():
    fact = cat("milan_2p_nps1_smt")
    result = cp.plan(fact, gpu_local_cpus="avoid", pci_devices=[{"address": "x", "kind": "gpu", "local_cpus": None}])
    assert any("has no local_cpus" in w for w in result["warnings"])
    assert any("no GPU with local CPUs" in w for w in result["warnings"])
    with pytest.raises(cp.PartitionError, match="must be a dict"):
        cp.plan(fact, gpu_local_cpus="avoid", pci_devices=["0000:01:00.0"])


# --------------------------------------------------------------------------
# Memory and Slurm node values
# --------------------------------------------------------------------------


def test_memory_defaults_and_node_values():
    fact = cat("genoa_2p_nps4_smt")
    memtotal = fact["memtotal_kib"] // 1024
    result = cp.plan(fact)
    margin = min(max(memtotal // 100, 128), 4096)
    reserve = min(max(memtotal * 2 // 100, 1024), 16384)
    assert result["memtotal_mib"] == memtotal
    assert result["real_memory_margin_mib"] == margin and result["memory_reserve_mib"] == reserve
    slurm = result["slurm"]
    assert slurm["MemSpecLimit"] == reserve
    assert slurm["node"] == dict(fact["slurm"], RealMemory=memtotal - margin)
    assert slurm["node_l3_as_socket"] == dict(fact["slurm_l3_as_socket"], RealMemory=memtotal - margin)
    assert slurm["slurm_conf"]["SelectTypeParameters"] == "CR_Core_Memory"
    assert slurm["cgroup_conf"] == {"CgroupPlugin": "autodetect", "ConstrainCores": "yes",
                                    "ConstrainRAMSpace": "yes", "ConstrainDevices": "yes"}


def test_memory_options():
    fact = cat("genoa_2p_nps4_smt")
    memtotal = fact["memtotal_kib"] // 1024
    result = cp.plan(fact, memory_reserve_percent=5, real_memory_margin_mib=0)
    assert result["memory_reserve_mib"] == memtotal * 5 // 100
    assert result["slurm"]["node"]["RealMemory"] == memtotal
    result = cp.plan(fact, memory_reserve_mib=0)
    assert result["slurm"]["MemSpecLimit"] is None and "SelectTypeParameters" not in result["slurm"]["slurm_conf"]
    result = cp.plan(fact, memory_reserve_mib=4096, slurm_spec=["CpuSpecList"])
    assert result["memory_reserve_mib"] == 4096 and result["slurm"]["MemSpecLimit"] is None
    result = cp.plan(fact, slurm_spec=[])
    assert result["slurm"]["CpuSpecList"] is None and result["slurm"]["CoreSpecCount"] is None


def test_small_memory_reserve_never_exceeds_a_quarter():
    assert cp.default_memory_reserve_mib(2048) == 512
    assert cp.default_memory_reserve_mib(64 * 1024) == 1310
    assert cp.default_memory_reserve_mib(4 * 1024 * 1024) == 16384
    assert cp.default_real_memory_margin_mib(1000) == 128
    assert cp.default_real_memory_margin_mib(10 ** 7) == 4096


def test_memtotal_falls_back_to_slurm_real_memory():
    fact = dict(cat("milan_2p_nps1_smt"))
    del fact["memtotal_kib"]
    assert cp.plan(fact)["memtotal_mib"] == fact["slurm"]["RealMemory"]
    del fact["slurm"]
    with pytest.raises(cp.PartitionError, match="memory size is unknown"):
        cp.plan(fact)


# --------------------------------------------------------------------------
# systemd helpers
# --------------------------------------------------------------------------


def test_validate_units():
    assert cp.validate_units([]) == ["user.slice", "init.scope"]
    assert cp.validate_units(["sssd.service", "user.slice", "getty@tty1.service", "sssd.service"]) == \
        ["user.slice", "init.scope", "sssd.service", "getty@tty1.service"]
    for bad in ("system.slice", "-.slice", "slurmstepd.scope"):
        with pytest.raises(cp.PartitionError, match="must not be restricted: .*(Slurm|slurm)"):
            cp.validate_units([bad])
    for bad in ("sshd", "../etc.service", "a b.service", "x.timer", 5):
        with pytest.raises(cp.PartitionError, match="is not a systemd unit name"):
            cp.validate_units([bad])


def test_render_dropin_sections():
    text = cp.render_dropin("user.slice", "0,8", "per_l3")
    assert text.startswith(cp.MARKER) and "\n[Slice]\nAllowedCPUs=0,8\n" in text
    assert "\n[Scope]\n" in cp.render_dropin("init.scope", "0", "per_l3")
    assert "\n[Service]\n" in cp.render_dropin("sssd.service", "0", "per_l3")
    assert cp.dropin_rel("init.scope") == "etc/systemd/system/init.scope.d/90-hpcai-cpus.conf"
    assert cp.render_dropin("user.slice", "0,8", "per_l3") == text  # stable


def test_parse_systemd_version():
    assert cp.parse_systemd_version("systemd 252 (252-46.el9_5.2)\n+PAM +AUDIT\n") == 252
    assert cp.parse_systemd_version("systemd 257.4-1\n") == 257
    assert cp.parse_systemd_version("") is None and cp.parse_systemd_version(None) is None


def test_enforcement_status():
    ok = cp.enforcement_status("cpuset cpu io memory pids", False, True, True, 252, None)
    assert ok["allowed_cpus"] is True and ok["reason"] is None and ok["cgroup"] == "v2"
    v1 = cp.enforcement_status(None, False, True, True, 239, "docker")
    assert v1["allowed_cpus"] is False and v1["cgroup"] == "v1"
    assert v1["reason"].startswith("inside a docker container")
    assert "cgroup v1 hierarchy" in v1["reason"] and "older than 244" in v1["reason"]
    hybrid = cp.enforcement_status(None, True, True, True, 252, None)
    assert "hybrid" in hybrid["reason"] and "unified" in hybrid["reason"]
    no_cpuset = cp.enforcement_status("cpu memory pids", False, True, True, 252, "podman")
    assert "cpuset controller is not available" in no_cpuset["reason"] and "not delegated" in no_cpuset["reason"]
    no_systemd = cp.enforcement_status("cpuset", False, True, False, None, None, version_error="systemctl not found")
    assert "not the running init system" in no_systemd["reason"] and "systemctl not found" in no_systemd["reason"]
    assert cp.enforcement_status(None, False, False, True, 252, None)["cgroup"] is None
