# -*- coding: utf-8 -*-
"""Tests for plugins/module_utils/topology.py and amd_generations.py.

Every catalogue entry of tests/sysfs_gen.py is parsed (in memory through the
same reader interface, and a representative subset from real files on disk)
and compared key by key with the answer the generator derives from its own
hardware model.
"""

from __future__ import absolute_import, division, print_function

import os
import random
import shutil
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sysfs_gen as gen  # noqa: E402

from ansible_collections.hpcai.cluster.plugins.module_utils import topology as topo  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils.amd_generations import (  # noqa: E402
    amd_codename,
    amd_generation,
    arm_vendor,
    generation_for,
)
from ansible_collections.hpcai.cluster.plugins.module_utils.cpulist import parse_cpulist  # noqa: E402

CONTRACT_KEYS = [
    "vendor",
    "cpu_family",
    "model",
    "model_name",
    "generation",
    "cpus_online",
    "cpus_offline",
    "threads_per_core",
    "counts",
    "sockets",
    "numa_nodes",
    "l3_domains",
    "slurm",
    "slurm_l3_as_socket",
]
L3_KEYS = ["index", "cpus", "cores", "socket", "numa_nodes"]
SLURM_KEYS = ["CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory"]

# Specs that legitimately produce a warning.
EXPECTED_WARNINGS = {"milan_1p_no_numa": "non-NUMA kernel"}

# Representative entries also checked from real files on disk.
DISK_SPECS = [
    "milan_2p_nps4_smt",
    "rome_2p_old_kernel",
    "milan_2p_container_v1",
    "genoa_2p_nps4_gpu_hbm",
    "intel_spr_2p_snc2",
    "arm_altra_q80_no_l3",
    "arm_altra_old_pkg_minus1",
    "milan_1p_no_numa",
    "milan_2p_offline",
    "rome_1p_nps4_sparse_nodes",
    "genoa_1p_l3_at_index2",
    "naples_1p_smt",
]


def _allowed(spec):
    return None if spec["cpuset"] is None else set(gen._parse_list(spec["cpuset"]))


def _collect_mem(spec, mutate=None, allowed="spec"):
    files, dirs = gen.render(spec)
    if mutate:
        mutate(files, dirs)
    reader = gen.MemoryReader(files, dirs)
    if allowed == "spec":
        allowed_set, sources = topo.allowed_cpus(reader)
    else:
        allowed_set, sources = allowed, ["test"]
    return topo.collect(reader, allowed_set, sources)


def _contract_view(fact):
    view = dict((k, fact[k]) for k in CONTRACT_KEYS)
    view["l3_domains"] = [dict((k, d[k]) for k in L3_KEYS) for d in fact["l3_domains"]]
    return view


def _check_invariants(fact):
    online = set(parse_cpulist(fact["cpus_online"]))
    counts = fact["counts"]
    assert counts["cpus_online"] == len(online)
    assert sum(s["cores"] for s in fact["sockets"]) == counts["cores"]
    assert len(fact["sockets"]) == counts["sockets"]
    socket_cpus = [set(parse_cpulist(s["cpus"])) for s in fact["sockets"]]
    assert set().union(*socket_cpus) == online
    assert sum(len(s) for s in socket_cpus) == len(online)
    node_cpus = [set(parse_cpulist(n["cpus"])) for n in fact["numa_nodes"]]
    assert sum(len(s) for s in node_cpus) == len(set().union(*node_cpus))  # disjoint
    assert set().union(*node_cpus) <= online
    assert counts["numa_nodes"] == sum(1 for s in node_cpus if s)
    assert counts["numa_nodes_total"] == len(fact["numa_nodes"])
    ids = [n["id"] for n in fact["numa_nodes"]]
    assert ids == sorted(ids)
    l3_cpus = [set(parse_cpulist(d["cpus"])) for d in fact["l3_domains"]]
    assert counts["l3_domains"] == len(l3_cpus)
    assert sum(len(s) for s in l3_cpus) == len(set().union(*l3_cpus)) if l3_cpus else True
    firsts = [min(s) for s in l3_cpus]
    assert firsts == sorted(firsts)
    assert [d["index"] for d in fact["l3_domains"]] == list(range(len(l3_cpus)))
    for key in ("slurm", "slurm_l3_as_socket"):
        assert sorted(fact[key]) == sorted(SLURM_KEYS)
        assert fact[key]["CPUs"] == len(online)
        assert fact[key]["Boards"] == 1
    assert fact["slurm"]["SocketsPerBoard"] == counts["sockets"]
    if counts["l3_domains"]:
        assert fact["slurm_l3_as_socket"]["SocketsPerBoard"] == counts["l3_domains"]
    assert 1 <= fact["threads_per_core"] <= 8


# --------------------------------------------------------------------------
# The whole catalogue
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", gen.catalogue())
def test_catalogue_entry_matches_model(name):
    spec = gen.CATALOGUE[name]
    fact = _collect_mem(spec)
    want = gen.expected(spec)
    got = _contract_view(fact)
    for key in CONTRACT_KEYS:
        assert got[key] == want[key], "%s: key %s differs" % (name, key)
    _check_invariants(fact)
    if name in EXPECTED_WARNINGS:
        assert any(EXPECTED_WARNINGS[name] in w for w in fact["warnings"])
    else:
        assert fact["warnings"] == []
    # extra keys
    assert fact["restricted"] == (spec["cpuset"] is not None)
    for dom in fact["l3_domains"]:
        assert dom["size_kib"] == spec["l3_size_kib"]
        if spec["old_kernel"]:
            assert dom["cache_id"] is None
        else:
            assert isinstance(dom["cache_id"], int)


@pytest.fixture(scope="module")
def disk_base():
    """Directory for on-disk trees (tmpfs when available, see gen.fast_tmp_base)."""
    path = tempfile.mkdtemp(prefix="hpcai-sysfs-", dir=gen.fast_tmp_base())
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("name", DISK_SPECS)
def test_disk_tree_matches_memory_and_model(name, disk_base):
    spec = gen.CATALOGUE[name]
    root = gen.build_tree(os.path.join(disk_base, name), spec)
    fact = topo.gather(root)
    want = gen.expected(spec)
    assert _contract_view(fact) == dict((k, want[k]) for k in CONTRACT_KEYS)
    mem = _collect_mem(spec)
    for key in fact:
        if key != "warnings":
            assert fact[key] == mem[key], key
    assert len(fact["warnings"]) == len(mem["warnings"])


def test_performance_768_cpus(disk_base):
    """2 x 192-core Zen 5c with SMT: whole gather (reads included) < 1 s (target 200 ms)."""
    name = gen.PERF_SPEC
    spec = gen.CATALOGUE[name]
    root = gen.build_tree(os.path.join(disk_base, "perf"), spec)
    timings = []
    for dummy in range(3):
        start = time.perf_counter()
        fact = topo.gather(root)
        timings.append(time.perf_counter() - start)
    reader = topo.SysfsReader(root)
    topo.collect(reader, None)
    print(
        "\ncpu_topology gather on %d CPUs: first %.1f ms, best %.1f ms, %d file reads"
        % (fact["counts"]["cpus_online"], timings[0] * 1000, min(timings) * 1000, reader.reads)
    )
    assert fact["counts"]["cpus_online"] == 768
    assert fact["counts"]["l3_domains"] == 24
    assert timings[0] < 1.0
    # Shared lists are parsed once: far fewer reads than CPUs x files.
    assert reader.reads < 2 * 768


# --------------------------------------------------------------------------
# Targeted quirks
# --------------------------------------------------------------------------


def test_core_id_repeats_do_not_merge_cores():
    spec = gen.CATALOGUE["rome_2p_coreid_per_ccx"]
    files = gen.render(spec)[0]
    core_ids = set(files["sys/devices/system/cpu/cpu%d/topology/core_id" % c] for c in range(64))
    assert len(core_ids) == 4  # core_id only 0..3 within a socket
    fact = _collect_mem(spec)
    assert fact["counts"]["cores"] == 128
    assert fact["slurm"]["CoresPerSocket"] == 64


def test_low_core_sku_core_id_gaps():
    fact = _collect_mem(gen.CATALOGUE["rome_7302_2p"])
    assert fact["counts"]["cores"] == 32
    assert fact["counts"]["l3_domains"] == 16
    assert all(d["cores"] == 2 for d in fact["l3_domains"])
    assert fact["slurm_l3_as_socket"]["CoresPerSocket"] == 2
    assert fact["slurm_l3_as_socket"]["SocketsPerBoard"] == 16


def test_offline_cpus_and_heterogeneous_slurm():
    spec = gen.CATALOGUE["milan_2p_offline"]
    files = gen.render(spec)[0]
    assert "sys/devices/system/cpu/cpu5/topology/core_id" not in files
    assert files["sys/devices/system/cpu/cpu5/online"] == "0\n"
    fact = _collect_mem(spec)
    assert fact["cpus_offline"] == "5,64-71,130,133,192-199"
    # core 5 fully offline, CCX 8 fully offline: 128 - 1 - 8 = 119 cores
    assert fact["counts"]["cores"] == 119
    assert fact["counts"]["cpus_online"] == 256 - 19
    assert fact["threads_per_core"] == 2
    assert fact["homogeneous"] is False
    assert fact["slurm"]["CoresPerSocket"] == 119 // 2
    assert fact["slurm"]["ThreadsPerCore"] == 237 // 119
    assert fact["counts"]["l3_domains"] == 15


def test_kernel_nosmt_reports_siblings_offline():
    fact = _collect_mem(gen.CATALOGUE["rome_2p_nosmt_kernel"])
    assert fact["cpus_online"] == "0-127"
    assert fact["cpus_offline"] == "128-255"
    assert fact["threads_per_core"] == 1
    assert fact["slurm"]["ThreadsPerCore"] == 1


def test_possible_hotplug_slots_are_not_offline_cpus():
    spec = gen.CATALOGUE["genoa_1p_possible_extra"]
    files = gen.render(spec)[0]
    assert files["sys/devices/system/cpu/offline"] == "3,192-383\n"
    fact = _collect_mem(spec)
    assert fact["cpus_offline"] == "3"


def test_offline_fallback_without_present_file():
    def drop(files, dirs):
        del files["sys/devices/system/cpu/present"]

    fact = _collect_mem(gen.CATALOGUE["milan_2p_offline"], drop)
    assert fact["cpus_offline"] == "5,64-71,130,133,192-199"  # possible == present here


def test_per_cpu_online_files_when_global_online_missing():
    def drop(files, dirs):
        del files["sys/devices/system/cpu/online"]

    spec = gen.CATALOGUE["milan_2p_offline"]
    files = gen.render(spec)[0]
    assert "sys/devices/system/cpu/cpu0/online" not in files  # cpu0 has none
    fact = _collect_mem(spec, drop)
    assert fact["cpus_online"] == gen.expected(spec)["cpus_online"]
    assert fact["warnings"] == []


def test_empty_online_file_falls_back_with_warning():
    def empty(files, dirs):
        files["sys/devices/system/cpu/online"] = "\n"

    fact = _collect_mem(gen.CATALOGUE["milan_1p_nps1_smt"], empty)
    assert fact["cpus_online"] == "0-127"
    assert any("empty" in w for w in fact["warnings"])


def test_cpuless_nodes():
    fact = _collect_mem(gen.CATALOGUE["genoa_2p_nps4_gpu_hbm"])
    assert fact["counts"]["numa_nodes"] == 8
    assert fact["counts"]["numa_nodes_total"] == 16
    hbm = [n for n in fact["numa_nodes"] if not n["cpus"]]
    assert [n["id"] for n in hbm] == list(range(8, 16))
    assert all(n["memory_mib"] == 98304 for n in hbm)
    assert all(len(n["distances"]) == 16 for n in fact["numa_nodes"])
    cxl = _collect_mem(gen.CATALOGUE["genoa_2p_cxl"])
    assert [(n["id"], n["cpus"]) for n in cxl["numa_nodes"]][-1] == (2, "")
    assert cxl["numa_nodes"][2]["distances"] == [20, 32, 10]


def test_sparse_node_ids_distances_follow_list_order():
    fact = _collect_mem(gen.CATALOGUE["rome_1p_nps4_sparse_nodes"])
    assert [n["id"] for n in fact["numa_nodes"]] == [0, 2, 5, 7]
    assert fact["numa_nodes"][2]["distances"] == [12, 12, 10, 12]  # node 5 is list position 2
    assert [d["numa_nodes"] for d in fact["l3_domains"][:5]] == [[0], [0], [0], [0], [2]]
    odd = _collect_mem(gen.CATALOGUE["milan_2p_odd_nodes"])
    assert [n["id"] for n in odd["numa_nodes"]] == [1, 3]
    assert odd["numa_nodes"][0]["distances"] == [10, 32]


def test_l3_as_numa():
    fact = _collect_mem(gen.CATALOGUE["rome_2p_l3_as_numa"])
    assert fact["counts"]["numa_nodes"] == 32
    assert fact["counts"]["l3_domains"] == 32
    assert [d["numa_nodes"] for d in fact["l3_domains"]] == [[i] for i in range(32)]


def test_no_node_dir_single_node_with_memtotal():
    fact = _collect_mem(gen.CATALOGUE["milan_1p_no_numa"])
    assert fact["numa_nodes"] == [
        {"id": 0, "cpus": "0-127", "memory_mib": fact["memtotal_kib"] // 1024, "distances": [10]}
    ]
    assert fact["counts"]["numa_nodes"] == fact["counts"]["numa_nodes_total"] == 1
    assert fact["l3_domains"][0]["numa_nodes"] == [0]


def test_l3_found_by_level_not_index():
    fact = _collect_mem(gen.CATALOGUE["genoa_1p_l3_at_index2"])
    assert fact["counts"]["l3_domains"] == 12
    files = gen.render(gen.CATALOGUE["genoa_1p_l3_at_index2"])[0]
    assert files["sys/devices/system/cpu/cpu0/cache/index2/level"] == "3\n"
    l4 = _collect_mem(gen.CATALOGUE["milan_1p_with_l4"])
    assert l4["counts"]["l3_domains"] == 8


def test_non_unified_level3_is_ignored():
    def retype(files, dirs):
        for rel in list(files):
            if rel.endswith("/cache/index3/type"):
                files[rel] = "Data\n"

    fact = _collect_mem(gen.CATALOGUE["milan_1p_nps1_smt"], retype)
    assert fact["counts"]["l3_domains"] == 0


def test_old_kernel_uses_thread_siblings_and_no_cache_id():
    spec = gen.CATALOGUE["rome_2p_old_kernel"]
    files = gen.render(spec)[0]
    assert "sys/devices/system/cpu/cpu0/topology/core_cpus_list" not in files
    assert "sys/devices/system/cpu/cpu0/cache/index3/id" not in files
    fact = _collect_mem(spec)
    assert fact["counts"]["cores"] == 128
    assert fact["counts"]["l3_domains"] == 32
    assert all(d["cache_id"] is None for d in fact["l3_domains"])


def test_mask_fallbacks_when_lists_missing():
    def drop_lists(files, dirs):
        for rel in list(files):
            if rel.endswith(("/shared_cpu_list", "/thread_siblings_list", "/core_cpus_list")):
                del files[rel]

    spec = gen.CATALOGUE["milan_2p_nps1_smt"]
    fact = _collect_mem(spec, drop_lists)
    assert _contract_view(fact) == dict((k, gen.expected(spec)[k]) for k in CONTRACT_KEYS)


def test_intel_snc2_l3_spans_two_nodes():
    fact = _collect_mem(gen.CATALOGUE["intel_spr_2p_snc2"])
    assert fact["generation"] == "intel"
    assert fact["counts"]["numa_nodes"] == 4
    assert [d["numa_nodes"] for d in fact["l3_domains"]] == [[0, 1], [2, 3]]
    assert fact["slurm_l3_as_socket"] == fact["slurm"]


def test_socket_round_robin_enumeration():
    fact = _collect_mem(gen.CATALOGUE["intel_icx_2p_socket_rr"])
    assert fact["sockets"][0]["cpus"].startswith("0,2,4,")
    assert fact["counts"]["cores"] == 80
    assert fact["slurm"]["CoresPerSocket"] == 40


def test_arm_without_l3():
    fact = _collect_mem(gen.CATALOGUE["arm_altra_q80_no_l3"])
    assert fact["vendor"] == "ARM"
    assert fact["generation"] == "arm"
    assert fact["cpu_family"] is None and fact["model"] is None and fact["model_name"] is None
    assert fact["cpu_implementer"] == 0x41 and fact["cpu_part"] == 0xD0C
    assert fact["counts"]["l3_domains"] == 0
    assert fact["l3_domains"] == []
    assert fact["slurm_l3_as_socket"] == fact["slurm"]
    assert fact["l3_homogeneous"] is False


def test_arm_package_minus_one_becomes_zero():
    fact = _collect_mem(gen.CATALOGUE["arm_altra_old_pkg_minus1"])
    assert [s["id"] for s in fact["sockets"]] == [0]


def test_arm_vendor_names():
    assert _collect_mem(gen.CATALOGUE["arm_ampereone_1p"])["vendor"] == "Ampere"
    assert arm_vendor(0x48) == "HiSilicon"
    assert arm_vendor(0x4E) == "NVIDIA"
    assert arm_vendor(0x99) == "unknown"
    assert arm_vendor(None) == "unknown"


def test_container_cpuset_v2_and_v1():
    fact = _collect_mem(gen.CATALOGUE["genoa_2p_container_v2"])
    assert fact["cpus_online"] == "8-15,200-207"
    assert fact["cpus_online_host"] == "0-383"
    assert fact["cpus_allowed"] == "8-15,200-207"
    assert fact["cpus_allowed_sources"] == ["/sys/fs/cgroup/cpuset.cpus.effective"]
    assert fact["restricted"] is True
    assert fact["counts"]["sockets"] == 1 and fact["counts"]["l3_domains"] == 1
    assert fact["counts"]["numa_nodes"] == 1 and fact["counts"]["numa_nodes_total"] == 2
    v1 = _collect_mem(gen.CATALOGUE["milan_2p_container_v1"])
    assert v1["cpus_allowed_sources"] == ["/sys/fs/cgroup/cpuset/cpuset.effective_cpus"]
    assert v1["slurm"] == {
        "CPUs": 16, "Boards": 1, "SocketsPerBoard": 2, "CoresPerSocket": 6, "ThreadsPerCore": 1,
        "RealMemory": v1["slurm"]["RealMemory"],
    }
    assert v1["threads_per_core"] == 2
    assert v1["homogeneous"] is False


def test_affinity_only_for_live_root(disk_base, monkeypatch):
    spec = gen.CATALOGUE["milan_1p_nps1_smt"]
    root = gen.build_tree(os.path.join(disk_base, "affinity"), spec, full=False)

    def boom(pid):
        raise AssertionError("sched_getaffinity must not be used for a non-/ root")

    monkeypatch.setattr(os, "sched_getaffinity", boom, raising=False)
    fact = topo.gather(root)
    assert fact["cpus_allowed"] is None
    assert fact["cpus_affinity"] is None and fact["container"] is None
    assert fact["restricted"] is False
    # Inside a container the affinity is intersected ...
    fact = topo.gather(root, affinity=set([0, 1, 64, 65, 200]), container="docker")
    assert fact["cpus_online"] == "0-1,64-65"
    assert fact["cpus_allowed_sources"] == ["sched_getaffinity"]
    assert fact["counts"]["cores"] == 2
    assert fact["container"] == "docker"
    # ... on a host (isolcpus, CPUAffinity=, AllowedCPUs= on user.slice) it is
    # only reported: the topology describes the whole machine.
    fact = topo.gather(root, affinity=set(range(8)), container=False)
    assert fact["cpus_online"] == "0-127"
    assert fact["cpus_affinity"] == "0-7"
    assert fact["restricted"] is False


@pytest.mark.parametrize(
    "files, environ, expected",
    [
        ({".dockerenv": ""}, {}, "docker"),
        ({"run/.containerenv": "engine=podman"}, {}, "podman"),
        ({"proc/1/environ": "PATH=/bin\0container=lxc\0"}, {}, "lxc"),
        ({"proc/1/environ": "container=systemd-nspawn\0"}, {}, "systemd-nspawn"),
        ({}, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, "kubernetes"),
        ({"proc/self/cgroup": "12:cpuset:/kubepods/burstable/pod1/abc\n"}, {}, "kubepods"),
        ({"proc/self/cgroup": "0::/user.slice/user-0.slice/session-4.scope\n"}, {}, None),
        ({"proc/1/environ": "PATH=/bin\0HOME=/\0"}, {}, None),
        ({}, {}, None),
    ],
)
def test_detect_container(files, environ, expected):
    assert topo.detect_container(gen.MemoryReader(files), environ) == expected


def test_disjoint_cpuset_is_ignored_with_warning():
    fact = _collect_mem(gen.CATALOGUE["milan_1p_nps1_smt"], allowed=set([500, 501]))
    assert fact["cpus_online"] == "0-127"
    assert fact["cpus_allowed"] is None
    assert any("does not intersect" in w for w in fact["warnings"])


def test_garbage_cpuset_is_an_error():
    def bad(files, dirs):
        files["sys/fs/cgroup/cpuset.cpus.effective"] = "zero-to-three\n"

    with pytest.raises(topo.TopologyError) as err:
        _collect_mem(gen.CATALOGUE["milan_1p_nps1_smt"], bad)
    assert "cpuset.cpus.effective" in str(err.value)


def test_missing_topology_dir_uses_cpuinfo():
    def strip(files, dirs):
        for rel in list(files):
            if "/topology/" in rel:
                del files[rel]

    spec = gen.CATALOGUE["milan_2p_nps1_smt"]
    fact = _collect_mem(spec, strip)
    assert fact["counts"]["cores"] == 128  # (physical id, core id) from cpuinfo
    assert fact["counts"]["sockets"] == 2
    assert any("no topology/ directory" in w for w in fact["warnings"])


def test_missing_cpuinfo_is_partial():
    def strip(files, dirs):
        del files["proc/cpuinfo"]

    fact = _collect_mem(gen.CATALOGUE["milan_1p_nps1_smt"], strip)
    assert fact["vendor"] == "unknown"
    assert fact["generation"] == "unknown"
    assert fact["cpu_family"] is None
    assert fact["counts"]["cores"] == 64
    assert any("cpuinfo" in w for w in fact["warnings"])


def test_large_cpuinfo_only_head_needed():
    reader_calls = []

    class Spy(gen.MemoryReader):
        def read(self, rel):
            reader_calls.append(rel)
            return gen.MemoryReader.read(self, rel)

    spec = gen.CATALOGUE["turin_dense_2p_nps1_smt"]
    files, dirs = gen.render(spec)
    assert len(files["proc/cpuinfo"]) > topo.CPUINFO_HEAD_BYTES
    fact = topo.collect(Spy(files, dirs), None)
    assert fact["model_name"] == "AMD EPYC 9965 192-Core Processor"
    assert "proc/cpuinfo" not in reader_calls  # full read only for the fallback


def test_node_meminfo_missing_and_distance_mismatch():
    def strip(files, dirs):
        del files["sys/devices/system/node/node1/meminfo"]
        files["sys/devices/system/node/node0/distance"] = "10\n"

    fact = _collect_mem(gen.CATALOGUE["milan_2p_nps1_smt"], strip)
    assert fact["numa_nodes"][1]["memory_mib"] is None
    assert fact["numa_nodes"][0]["distances"] == [10]
    assert len(fact["warnings"]) == 2


@pytest.mark.parametrize(
    "rel, text, fragment",
    [
        ("sys/devices/system/cpu/online", "0-3,banana\n", "banana"),
        ("sys/devices/system/cpu/present", "x\n", "present"),
        ("sys/devices/system/cpu/cpu0/topology/core_cpus_list", "0,zz\n", "core_cpus_list"),
        ("sys/devices/system/cpu/cpu0/topology/physical_package_id", "socket0\n", "physical_package_id"),
        ("sys/devices/system/cpu/cpu0/cache/index3/shared_cpu_list", "0-7;\n", "shared_cpu_list"),
        ("sys/devices/system/node/node0/cpulist", "?\n", "node0/cpulist"),
        ("sys/devices/system/node/node0/distance", "10 x\n", "distance"),
        ("proc/meminfo", "garbage\n", "MemTotal"),
    ],
)
def test_garbage_gives_clear_error(rel, text, fragment):
    def corrupt(files, dirs):
        files[rel] = text

    with pytest.raises(topo.TopologyError) as err:
        _collect_mem(gen.CATALOGUE["milan_1p_nps1_smt"], corrupt)
    assert fragment in str(err.value)


def test_missing_tree_errors(tmp_path):
    with pytest.raises(topo.TopologyError) as err:
        topo.gather(str(tmp_path / "nope"))
    assert "not a directory" in str(err.value)
    with pytest.raises(topo.TopologyError) as err:
        topo.gather(str(tmp_path))
    assert "sys/devices/system/cpu: not found" in str(err.value)
    (tmp_path / "sys/devices/system/cpu").mkdir(parents=True)
    with pytest.raises(topo.TopologyError) as err:
        topo.gather(str(tmp_path))
    assert "no online CPUs" in str(err.value)
    (tmp_path / "sys/devices/system/cpu/online").write_text("0-1\n")
    with pytest.raises(topo.TopologyError) as err:
        topo.gather(str(tmp_path))
    assert "meminfo" in str(err.value)


def test_random_damage_never_crashes():
    """Delete, empty or corrupt random files: a result or a TopologyError, nothing else."""
    rng = random.Random(20240501)
    small = dict(sockets=2, ccx_per_socket=2)
    specs = {
        "milan_nps4": gen.make_spec(gen.MILAN, nps=4, ccx_per_socket=4, sockets=2),
        "altra_no_l3": gen.make_spec(gen.ALTRA, cores_per_ccx=16, core_slots_per_ccx=16),
        "rome_old": gen.make_spec(gen.ROME, old_kernel=True, **small),
        "genoa_cxl": gen.make_spec(gen.GENOA, memless_nodes=[{"mem_kib": 1 << 28}], **small),
        "container": gen.make_spec(gen.MILAN, cpuset="0-3,40", **small),
    }
    rendered = dict((n, gen.render(spec)) for n, spec in specs.items())
    specs = sorted(specs)
    outcomes = {"ok": 0, "error": 0}
    junk = ["", "\n", "-1\n", "abc\n", "0-\n", "\x00\xff", "99999999\n", "3-1\n", "1,,2\n", "Node 0 MemTotal: x kB"]
    for i in range(500):
        name = specs[i % len(specs)]
        files, dirs = rendered[name]
        files = dict(files)
        keys = sorted(files)
        for dummy in range(rng.randint(1, 40)):
            rel = rng.choice(keys)
            action = rng.random()
            if action < 0.4:
                files.pop(rel, None)
            else:
                files[rel] = rng.choice(junk)
        try:
            reader = gen.MemoryReader(files, dirs)
            fact = topo.collect(reader, *topo.allowed_cpus(reader))
        except topo.TopologyError:
            outcomes["error"] += 1
            continue
        outcomes["ok"] += 1
        assert set(CONTRACT_KEYS) <= set(fact)
    assert outcomes["ok"] > 0 and outcomes["error"] > 0


@pytest.mark.skipif(not os.path.isdir("/sys/devices/system/cpu"), reason="not a Linux host")
def test_this_machine():
    fact = topo.gather("/")
    print("\nthis machine:", fact["cpus_online"], fact["counts"], fact["slurm"], fact["generation"])
    _check_invariants(fact)
    assert fact["counts"]["cpus_online"] <= os.cpu_count()
    if fact["container"] and hasattr(os, "sched_getaffinity"):
        assert set(parse_cpulist(fact["cpus_online"])) <= set(os.sched_getaffinity(0))


# --------------------------------------------------------------------------
# Pure parsers
# --------------------------------------------------------------------------


def test_parse_cpuinfo_x86_and_arm_variants():
    x86 = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 143\nmodel name\t: Xeon\n\n"
    info = topo.parse_cpuinfo(x86)
    assert (info["vendor"], info["cpu_family"], info["model"], info["model_name"]) == ("GenuineIntel", 6, 143, "Xeon")
    # old arm64 layout: processor lines first, implementer lines afterwards
    old_arm = "processor\t: 0\nprocessor\t: 1\n\nFeatures\t: fp\nCPU implementer\t: 0x48\nCPU part\t: 0xd01\n"
    info = topo.parse_cpuinfo(old_arm)
    assert info["vendor"] == "HiSilicon" and info["is_arm"] and info["cpu_part"] == 0xD01
    arm32 = "processor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\nCPU implementer\t: 0x41\n\n"
    assert topo.parse_cpuinfo(arm32)["model_name"] == "ARMv7 Processor rev 4 (v7l)"
    assert topo.parse_cpuinfo(None)["vendor"] == "unknown"
    assert topo.parse_cpuinfo("garbage without colons\n")["cpu_family"] is None
    assert topo.parse_cpuinfo("cpu family : x\n")["cpu_family"] is None


def test_parse_meminfo_and_distance():
    assert topo.parse_meminfo_kib("MemTotal:       24684092 kB\nMemFree: 1 kB\n") == 24684092
    assert topo.parse_meminfo_kib("Node 3 MemTotal:  123 kB\n") == 123
    assert topo.parse_meminfo_kib("MemFree: 1 kB\n") is None
    assert topo.parse_meminfo_kib(None) is None
    assert topo.parse_distance("10 12 32\n") == [10, 12, 32]
    assert topo.parse_distance(None) == []
    with pytest.raises(ValueError):
        topo.parse_distance("10 x")


# --------------------------------------------------------------------------
# Generation table
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "family, model, generation",
    [
        (0x17, 0x01, "zen1"),  # Naples
        (0x17, 0x08, "zen1"),  # Zen+ (Pinnacle Ridge / Colfax)
        (0x17, 0x31, "zen2"),  # Rome
        (0x17, 0x71, "zen2"),  # Matisse
        (0x17, 0xA0, "zen2"),  # Mendocino
        (0x17, 0x50, "zen1"),
        (0x17, 0xF0, "unknown"),
        (0x19, 0x01, "zen3"),  # Milan / Milan-X
        (0x19, 0x08, "zen3"),  # Chagall
        (0x19, 0x21, "zen3"),  # Vermeer
        (0x19, 0x11, "zen4"),  # Genoa / Genoa-X
        (0x19, 0x18, "zen4"),  # Storm Peak
        (0x19, 0x61, "zen4"),  # Raphael
        (0x19, 0x90, "zen4"),  # MI300A
        (0x19, 0xA0, "zen4c"),  # Bergamo / Siena
        (0x19, 0xAF, "zen4c"),
        (0x19, 0xB0, "unknown"),
        (0x1A, 0x02, "zen5"),  # Turin
        (0x1A, 0x11, "zen5c"),  # Turin dense
        (0x1A, 0x24, "zen5"),  # Strix Point
        (0x1A, 0x44, "zen5"),  # Granite Ridge
        (0x1A, 0x70, "zen5"),  # Strix Halo
        (0x1A, 0x50, "unknown"),  # Zen 6: not in the contract
        (0x1A, 0x90, "unknown"),
        (0x18, 0x00, "unknown"),
        (0x10, 0x02, "unknown"),
        (None, 1, "unknown"),
    ],
)
def test_amd_generation(family, model, generation):
    assert amd_generation(family, model) == generation


def test_codenames_and_generation_for():
    assert amd_codename(0x19, 0x11, "AMD EPYC 9684X 96-Core Processor") == "Genoa-X"
    assert amd_codename(0x19, 0x01, "AMD EPYC 7773X 64-Core Processor") == "Milan-X"
    assert amd_codename(0x19, 0x01, "AMD EPYC 7763 64-Core Processor") == "Milan"
    assert amd_codename(0x19, 0xA0, None) == "Bergamo/Siena"
    assert amd_codename(0x1A, 0x11, None) == "Turin Dense"
    assert amd_codename(0x1A, 0x90, None) == "Zen 6"
    assert amd_codename(0x19, 0x61, None) is None
    assert generation_for("GenuineIntel", 6, 143) == "intel"
    assert generation_for("HygonGenuine", 0x18, 0) == "unknown"
    assert generation_for("ARM", None, None, is_arm=True) == "arm"
    assert generation_for("AuthenticAMD", 0x1A, 0x02) == "zen5"
