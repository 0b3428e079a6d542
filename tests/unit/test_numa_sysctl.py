# -*- coding: utf-8 -*-
"""Tests for plugins/module_utils/numa_sysctl.py (pure planner, renderer, diff helpers).

Topologies are written by hand following the hpcai_cpu_topology contract
(docs/design.md), independent of the sysfs parser, so these tests do not move
when the parser does.
"""

from __future__ import absolute_import, division, print_function

import re
import time

import pytest

from ansible_collections.hpcai.cluster.plugins.module_utils import numa_sysctl as ns
from ansible_collections.hpcai.cluster.plugins.module_utils.numa_sysctl import (
    NumaSysctlError,
    diff_live,
    dirty_bytes,
    file_diff,
    hugepage_reboot,
    live_items,
    min_free_kbytes,
    normalize_value,
    parse_kernel_release,
    parse_size_kb,
    parse_thp_file,
    plan,
    render,
    values_equal,
)

GIB_MIB = 1024
GIB_KIB = 1024 * 1024


# --------------------------------------------------------------------------
# Hand-made topologies (contract shape)
# --------------------------------------------------------------------------


def _fmt(ids):
    ids = sorted(ids)
    if not ids:
        return ""
    out, start, prev = [], ids[0], ids[0]
    for c in ids[1:]:
        if c == prev + 1:
            prev = c
            continue
        out.append(str(start) if start == prev else "%d-%d" % (start, prev))
        start = prev = c
    out.append(str(start) if start == prev else "%d-%d" % (start, prev))
    return ",".join(out)


def make_topology(vendor="AuthenticAMD", generation="zen4", sockets=1, cores_per_socket=64, smt=2,
                  nodes_per_socket=1, l3_per_socket=8, mem_per_node_gib=128, cpuless_gib=()):
    """Cores numbered socket by socket, SMT siblings at N + total_cores (Linux x86 style)."""
    total_cores = sockets * cores_per_socket
    n_cpu_nodes = sockets * nodes_per_socket
    cores_per_node = cores_per_socket // nodes_per_socket
    n_total = n_cpu_nodes + len(cpuless_gib)
    nodes = []
    for nid in range(n_cpu_nodes):
        cores = range(nid * cores_per_node, (nid + 1) * cores_per_node)
        cpus = list(cores) + ([c + total_cores for c in cores] if smt == 2 else [])
        dist = [10 if j == nid else (12 if j // nodes_per_socket == nid // nodes_per_socket else 32) for j in range(n_total)]
        nodes.append({"id": nid, "cpus": _fmt(cpus), "memory_mib": mem_per_node_gib * GIB_MIB, "distances": dist})
    for i, gib in enumerate(cpuless_gib):
        nid = n_cpu_nodes + i
        nodes.append({"id": nid, "cpus": "", "memory_mib": gib * GIB_MIB, "distances": [80] * n_total})
    l3 = []
    n_l3 = sockets * l3_per_socket
    if n_l3:
        per_l3 = total_cores // n_l3
        for i in range(n_l3):
            cores = range(i * per_l3, (i + 1) * per_l3)
            cpus = list(cores) + ([c + total_cores for c in cores] if smt == 2 else [])
            l3.append({"index": i, "cpus": _fmt(cpus), "cores": per_l3, "socket": i // l3_per_socket,
                       "numa_nodes": [(i * per_l3) // cores_per_node]})
    return {
        "vendor": vendor,
        "cpu_family": None,
        "model": None,
        "model_name": None,
        "generation": generation,
        "cpus_online": _fmt(range(total_cores * smt)),
        "cpus_offline": "",
        "threads_per_core": smt,
        "counts": {
            "cpus_online": total_cores * smt,
            "cores": total_cores,
            "sockets": sockets,
            "numa_nodes": n_cpu_nodes,
            "numa_nodes_total": n_total,
            "l3_domains": n_l3,
        },
        "sockets": [{"id": s, "cpus": "", "cores": cores_per_socket} for s in range(sockets)],
        "numa_nodes": nodes,
        "l3_domains": l3,
    }


TOPOLOGIES = {
    # 1 x EPYC 7742 (Rome), NPS1: 16 CCX of 4 cores, 512 GiB
    "rome_1p_nps1": make_topology(generation="zen2", cores_per_socket=64, l3_per_socket=16, mem_per_node_gib=512),
    # 2 x EPYC 9654 (Genoa), NPS4: 8 nodes, 24 CCX (12 per socket), 96 GiB per node = 768 GiB
    "genoa_2p_nps4": make_topology(generation="zen4", sockets=2, cores_per_socket=96, nodes_per_socket=4,
                                   l3_per_socket=12, mem_per_node_gib=96),
    # 2 x Xeon 8480+, one L3 per socket, 256 GiB per socket
    "intel_2p": make_topology(vendor="GenuineIntel", generation="intel", sockets=2, cores_per_socket=56,
                              l3_per_socket=1, mem_per_node_gib=256),
    # Ampere Altra Q80-30: 1 node, no L3 in sysfs, no SMT
    "arm_1n_no_l3": make_topology(vendor="ARM", generation="arm", cores_per_socket=80, smt=1, l3_per_socket=0,
                                  mem_per_node_gib=256),
    # Genoa 2P NPS1 with two CPU-less GPU HBM nodes
    "genoa_2p_cpuless": make_topology(generation="zen4", sockets=2, cores_per_socket=96, l3_per_socket=12,
                                      mem_per_node_gib=384, cpuless_gib=(96, 96)),
    # 2 x EPYC 9965 (Turin dense): 2 x 192 cores, SMT -> 768 CPUs, 12 CCX of 16 cores per socket, 1.5 TiB
    "turin_dense_768": make_topology(generation="zen5c", sockets=2, cores_per_socket=192, l3_per_socket=12,
                                     mem_per_node_gib=768),
    # Grace-Hopper-like: 1 CPU node + 1 CPU-less HBM node
    "arm_1cpu_node_hbm": make_topology(vendor="ARM", generation="arm", cores_per_socket=72, smt=1,
                                       l3_per_socket=1, mem_per_node_gib=480, cpuless_gib=(96,)),
}

BASE_KEYS = {
    "kernel.numa_balancing", "vm.zone_reclaim_mode", "vm.min_free_kbytes", "vm.swappiness", "vm.max_map_count",
    "vm.dirty_background_bytes", "vm.dirty_bytes", "vm.dirty_ratio", "vm.dirty_background_ratio",
    "vm.watermark_scale_factor", "vm.nr_hugepages", "kernel.sched_autogroup_enabled",
    "kernel.sched_rt_runtime_us", "kernel.numa_balancing_promote_rate_limit_MBps",
}
SCHED_DEBUG_KEYS = {
    "kernel.sched_migration_cost_ns", "kernel.sched_min_granularity_ns", "kernel.sched_wakeup_granularity_ns",
    "kernel.sched_latency_ns", "kernel.sched_nr_migrate", "kernel.sched_tunable_scaling",
}
KERNELS = {
    # EL8: sched_*_ns still in /proc/sys
    "el8": ("4.18.0-553.el8_10.x86_64", BASE_KEYS | SCHED_DEBUG_KEYS),
    # EL9: moved to debugfs in 5.13 (autogroup left out: tests the CONFIG_ reason)
    "el9": ("5.14.0-503.el9.x86_64", BASE_KEYS - {"kernel.sched_autogroup_enabled"}),
    # EL10: EEVDF
    "el10": ("6.12.0-55.el10.x86_64", BASE_KEYS),
    # Debian 12
    "deb12": ("6.1.0-28-amd64", BASE_KEYS),
}


def run(topo="genoa_2p_nps4", profile="hpc", kernel="el9", **kw):
    release, keys = KERNELS[kernel]
    kw.setdefault("available_keys", keys)
    return plan(TOPOLOGIES[topo], profile=profile, kernel_release=release, **kw)


def skipped(result):
    return dict((item["key"], item["reason"]) for item in result["skipped"])


# --------------------------------------------------------------------------
# Matrix: every profile x topology x kernel
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("topo", sorted(TOPOLOGIES))
@pytest.mark.parametrize("profile", ns.PROFILES)
def test_matrix_invariants(profile, topo, kernel):
    release, keys = KERNELS[kernel]
    result = run(topo, profile, kernel)
    assert result["profile"] == profile
    for key, value in result["sysctls"].items():
        assert key in keys, "%s written although not in /proc/sys" % key
        assert isinstance(value, str) and value.strip() == value and value
        assert result["reasons"][key], key
    for item in result["skipped"]:
        assert item["reason"] and item["key"] not in result["sysctls"]
    # every profile row is either written or skipped with a reason
    for key in ns.candidate_keys(profile):
        assert key in result["sysctls"] or key in skipped(result), key
    memory_kib = result["summary"]["memory_kib"]
    mfk = int(result["sysctls"]["vm.min_free_kbytes"])
    assert 0 < mfk <= min(memory_kib * 5 // 100, 4 * GIB_KIB)
    # sched debug keys only where the kernel still has them in /proc/sys
    for key in SCHED_DEBUG_KEYS:
        if kernel != "el8":
            assert key not in result["sysctls"]
    content = render(result)
    assert content.endswith("\n")
    assert "# profile:    %s" % profile in content
    assert parse_file(content) == result["sysctls"]
    assert result["thp"]["enabled"] in ("always", "madvise")
    assert "transparent_hugepage=%s" % result["thp"]["enabled"] in result["cmdline_args"]
    assert result["reboot_required"] is False


def parse_file(content):
    values = {}
    for line in content.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        key, _sep, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


# --------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------


def test_hpc_genoa_nps4_el9():
    r = run("genoa_2p_nps4", "hpc", "el9")
    v = r["sysctls"]
    assert v["kernel.numa_balancing"] == "0"
    assert v["vm.zone_reclaim_mode"] == "1"
    assert v["vm.swappiness"] == "10"
    assert v["vm.max_map_count"] == "1048576"
    # 768 GiB: 0.2% = 1.536 GiB beats 8 x 64 MiB, khugepaged (10 zones x 22 MiB) and the kernel default
    assert v["vm.min_free_kbytes"] == str(768 * GIB_KIB * 20 // 10000 // 1024 * 1024)
    assert v["vm.dirty_background_bytes"] == str(int(768 * GIB_KIB * 0.005) // 1024 * 1024 * 1024)
    assert v["vm.dirty_bytes"] == str(int(768 * GIB_KIB * 0.02) // 1024 * 1024 * 1024)
    sk = skipped(r)
    assert "moved to debugfs in 5.13" in sk["kernel.sched_migration_cost_ns"]
    assert "/sys/kernel/debug/sched/migration_cost_ns" in sk["kernel.sched_migration_cost_ns"]
    assert "CONFIG_SCHED_AUTOGROUP" in sk["kernel.sched_autogroup_enabled"]
    assert r["thp"] == {"enabled": "always", "defrag": "defer+madvise"}
    assert "CCX" in r["reasons"]["kernel.numa_balancing"] and "24 L3" in r["reasons"]["kernel.numa_balancing"]
    assert r["warnings"] == []  # EL9 carries the LLC-imbalance backport


def test_hpc_el8_sets_sched_keys_and_warns_about_llc_balancing():
    r = run("genoa_2p_nps4", "hpc", "el8")
    v = r["sysctls"]
    assert v["kernel.sched_migration_cost_ns"] == "5000000"
    assert v["kernel.sched_min_granularity_ns"] == "10000000"
    assert v["kernel.sched_wakeup_granularity_ns"] == "15000000"
    assert v["kernel.sched_autogroup_enabled"] == "0"
    assert "CCX" in r["reasons"]["kernel.sched_migration_cost_ns"]
    assert len(r["warnings"]) == 1 and "5.18" in r["warnings"][0]


def test_eevdf_kernel_reasons():
    sk = skipped(run("genoa_2p_nps4", "hpc", "el10"))
    assert "EEVDF" in sk["kernel.sched_min_granularity_ns"] and "base_slice_ns" in sk["kernel.sched_min_granularity_ns"]
    assert "EEVDF" in sk["kernel.sched_wakeup_granularity_ns"]
    # migration_cost_ns still exists in debugfs under EEVDF
    assert "EEVDF" not in sk["kernel.sched_migration_cost_ns"]
    assert "debugfs in 5.13" in sk["kernel.sched_migration_cost_ns"]


def test_unknown_available_keys_are_inferred_from_the_kernel():
    old = plan(TOPOLOGIES["genoa_2p_nps4"], "hpc", kernel_release="4.18.0-553.el8_10.x86_64")
    new = plan(TOPOLOGIES["genoa_2p_nps4"], "hpc", kernel_release="6.12.0-55.el10")
    unknown = plan(TOPOLOGIES["genoa_2p_nps4"], "hpc", kernel_release=None)
    assert "kernel.sched_migration_cost_ns" in old["sysctls"]
    assert "kernel.sched_migration_cost_ns" not in new["sysctls"]
    assert "kernel.sched_migration_cost_ns" not in unknown["sysctls"]
    assert "kernel.sched_autogroup_enabled" in new["sysctls"]


def test_ai_training():
    r = run("genoa_2p_nps4", "ai_training", "el10")
    v = r["sysctls"]
    assert v["kernel.numa_balancing"] == "0"
    assert v["vm.zone_reclaim_mode"] == "0"
    assert "page cache" in r["reasons"]["vm.zone_reclaim_mode"]
    assert r["thp"] == {"enabled": "madvise", "defrag": "madvise"}
    assert int(v["vm.min_free_kbytes"]) > int(run("genoa_2p_nps4", "hpc", "el10")["sysctls"]["vm.min_free_kbytes"])


def test_ai_inference_and_cpuless_nodes():
    assert run("genoa_2p_nps4", "ai_inference")["sysctls"]["kernel.numa_balancing"] == "1"
    r = run("genoa_2p_cpuless", "ai_inference")
    assert r["sysctls"]["kernel.numa_balancing"] == "0"
    assert "CPU-less" in r["reasons"]["kernel.numa_balancing"] and "2, 3" in r["reasons"]["kernel.numa_balancing"]
    assert r["sysctls"]["vm.zone_reclaim_mode"] == "0"


def test_mixed_is_conservative():
    r = run("genoa_2p_nps4", "mixed", "deb12")
    v = r["sysctls"]
    assert v["kernel.numa_balancing"] == "1"
    assert v["vm.zone_reclaim_mode"] == "0"
    assert v["vm.max_map_count"] == "262144"
    assert "vm.swappiness" not in v and "kernel.sched_autogroup_enabled" not in v
    assert r["thp"] == {"enabled": "madvise", "defrag": "madvise"}


@pytest.mark.parametrize("topo", ["rome_1p_nps1", "arm_1n_no_l3"])
@pytest.mark.parametrize("profile", ns.PROFILES)
def test_single_numa_node_skips_node_knobs(topo, profile):
    r = run(topo, profile)
    sk = skipped(r)
    for key in ("kernel.numa_balancing", "vm.zone_reclaim_mode"):
        assert key not in r["sysctls"]
        assert "only 1 NUMA node with memory" in sk[key]


def test_hpc_one_cpu_node_plus_hbm():
    r = run("arm_1cpu_node_hbm", "hpc", "el10")
    assert r["sysctls"]["vm.zone_reclaim_mode"] == "0"
    assert "only 1 NUMA node with CPUs" in r["reasons"]["vm.zone_reclaim_mode"]
    assert r["sysctls"]["kernel.numa_balancing"] == "0"


def test_vendor_specific_reasons():
    assert "not a chiplet part" in run("intel_2p", "hpc", "el8")["reasons"]["kernel.sched_migration_cost_ns"]
    assert "CCX" in run("genoa_2p_nps4", "hpc", "el8")["reasons"]["kernel.sched_migration_cost_ns"]
    arm = plan(TOPOLOGIES["arm_1n_no_l3"], "hpc", kernel_release="4.18.0-553.el8_10.aarch64")
    assert "no L3 domains" in arm["reasons"]["kernel.sched_migration_cost_ns"]
    assert arm["warnings"] == []  # the LLC warning is for AMD chiplets only


def test_l3_as_numa_is_named():
    topo = make_topology(generation="zen3", sockets=2, cores_per_socket=64, nodes_per_socket=8, l3_per_socket=8,
                         mem_per_node_gib=32)
    r = plan(topo, "hpc", kernel_release="6.12.0-55.el10")
    assert "L3-as-NUMA" in r["reasons"]["kernel.numa_balancing"]


def test_missing_numa_balancing_key_is_explained():
    release, keys = KERNELS["el9"]
    r = plan(TOPOLOGIES["genoa_2p_nps4"], "hpc", kernel_release=release, available_keys=keys - {"kernel.numa_balancing"})
    assert "CONFIG_NUMA_BALANCING" in skipped(r)["kernel.numa_balancing"]


def test_memory_below_256g_keeps_dirty_ratios():
    small = make_topology(sockets=1, mem_per_node_gib=128)
    sk = skipped(plan(small, "hpc", kernel_release="6.12.0"))
    assert "< 256 GiB" in sk["vm.dirty_bytes"] and "< 256 GiB" in sk["vm.dirty_background_bytes"]


def test_unknown_memory_skips_memory_keys():
    topo = make_topology(sockets=2)
    for node in topo["numa_nodes"]:
        node["memory_mib"] = None
    r = plan(topo, "hpc", kernel_release="6.12.0")
    assert "memory size unknown" in skipped(r)["vm.min_free_kbytes"]
    topo["memtotal_kib"] = 512 * GIB_KIB
    assert "vm.min_free_kbytes" in plan(topo, "hpc", kernel_release="6.12.0")["sysctls"]


def test_bad_inputs():
    with pytest.raises(NumaSysctlError, match="profile"):
        plan(TOPOLOGIES["rome_1p_nps1"], "throughput")
    with pytest.raises(NumaSysctlError, match="topology: 'numa_nodes'"):
        plan({"vendor": "x"}, "hpc")
    with pytest.raises(NumaSysctlError, match="topology"):
        plan("not a dict", "hpc")
    with pytest.raises(NumaSysctlError, match="thp"):
        run(thp="sometimes")


# --------------------------------------------------------------------------
# vm.min_free_kbytes and dirty bytes
# --------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ns.PROFILES)
@pytest.mark.parametrize("nodes", [1, 2, 8, 16])
@pytest.mark.parametrize("thp", [None, "always"])
def test_min_free_monotonic_and_bounded(profile, nodes, thp):
    prev = 0
    mem = 512 * 1024  # 512 MiB
    while mem <= 16 * 1024 * GIB_KIB:  # 16 TiB
        value, why = min_free_kbytes(mem, nodes, profile, thp)
        cap = min(mem * 5 // 100, 4 * GIB_KIB)
        assert value <= cap, (mem, value, cap)
        assert value >= prev, "not monotonic at %d KiB: %d < %d" % (mem, value, prev)
        if cap >= 262144 + 1024:
            assert value >= ns.kernel_min_free_kbytes(mem) - 1023  # never below the kernel's own default
        assert why
        prev = value
        mem = mem * 9 // 8 + 1


def test_min_free_examples():
    # 16 GiB, 1 node: tuned hpc-compute's 132 MiB floor wins
    assert min_free_kbytes(16 * GIB_KIB, 1, "hpc")[0] == 135168
    # huge memory: capped at 4 GiB
    value, why = min_free_kbytes(8 * 1024 * GIB_KIB, 2, "ai_training")
    assert value == 4 * GIB_KIB and "capped" in why
    # tiny memory: capped at 5% of RAM
    assert min_free_kbytes(1 * GIB_KIB, 1, "hpc")[0] == GIB_KIB * 5 // 100 // 1024 * 1024
    # more NUMA nodes never lower it
    for mem in (64 * GIB_KIB, 256 * GIB_KIB):
        assert min_free_kbytes(mem, 16, "hpc")[0] >= min_free_kbytes(mem, 1, "hpc")[0]
    # khugepaged floor: 2 nodes -> 4 zones x 11 x 2 MiB = 90112 kB (the value seen on 2-socket THP boxes)
    assert ns.khugepaged_min_free_kbytes(64 * GIB_KIB, 2) == 90112
    assert ns.kernel_min_free_kbytes(1024 * GIB_KIB) == 131072


def test_dirty_bytes_thresholds():
    assert dirty_bytes(None) is None
    assert dirty_bytes(255 * GIB_KIB) is None
    bg, hard = dirty_bytes(256 * GIB_KIB)
    assert bg == int(256 * GIB_KIB * 0.005) // 1024 * 1024 * 1024 and hard == int(256 * GIB_KIB * 0.02) // 1024 * 1024 * 1024
    assert dirty_bytes(4096 * GIB_KIB) == (4 << 30, 16 << 30)
    assert bg < hard


# --------------------------------------------------------------------------
# Overrides
# --------------------------------------------------------------------------


def test_override_changes_removes_and_adds():
    r = run("genoa_2p_nps4", "hpc", "el9", overrides={
        "vm.swappiness": 1,
        "vm.max_map_count": None,
        "vm.watermark_scale_factor": "200",
        "kernel.numa_balancing_promote_rate_limit_MBps": 65536,
        "vm.zone_reclaim_mode": True,
    })
    v = r["sysctls"]
    assert v["vm.swappiness"] == "1" and r["reasons"]["vm.swappiness"] == "override (profile hpc: 10)"
    assert "vm.max_map_count" not in v
    assert skipped(r)["vm.max_map_count"] == "disabled by override"
    assert v["vm.watermark_scale_factor"] == "200" and r["reasons"]["vm.watermark_scale_factor"] == "override"
    assert v["kernel.numa_balancing_promote_rate_limit_MBps"] == "65536"
    assert v["vm.zone_reclaim_mode"] == "1"
    # profile keys keep their place, new keys come last (sorted)
    keys = list(v)
    assert keys[:2] == ["kernel.numa_balancing", "vm.zone_reclaim_mode"]
    assert keys[-2:] == ["kernel.numa_balancing_promote_rate_limit_MBps", "vm.watermark_scale_factor"]
    content = render(r)
    assert "vm.max_map_count =" not in content
    assert "vm.watermark_scale_factor = 200" in content


def test_override_wins_over_topology_skip_and_respects_kernel():
    r = run("rome_1p_nps1", "hpc", "el9", overrides={"kernel.numa_balancing": 0, "kernel.sched_latency_ns": 1})
    assert r["sysctls"]["kernel.numa_balancing"] == "0"
    assert "the profile skipped it" in r["reasons"]["kernel.numa_balancing"]
    assert "kernel.numa_balancing" not in skipped(r)
    assert "override ignored" in skipped(r)["kernel.sched_latency_ns"]
    assert "kernel.sched_latency_ns" not in r["sysctls"]


def test_override_multi_value_normalised():
    r = run(overrides={"kernel.printk": "4\t4  1 7"}, available_keys=KERNELS["el9"][1] | {"kernel.printk"})
    assert r["sysctls"]["kernel.printk"] == "4 4 1 7"


@pytest.mark.parametrize("key", ["vm swappiness", "swappiness", "vm/swappiness", "-vm.swappiness", "vm..x", "Vm.x", ""])
def test_bad_override_key(key):
    with pytest.raises(NumaSysctlError) as exc:
        run(overrides={key: 1})
    assert "overrides" in str(exc.value) and repr(key) in str(exc.value)


@pytest.mark.parametrize("value", [0.5, "", "1\n2", {"a": 1}])
def test_bad_override_value(value):
    with pytest.raises(NumaSysctlError, match="overrides.vm.swappiness"):
        run(overrides={"vm.swappiness": value})


def test_overrides_must_be_a_dict():
    with pytest.raises(NumaSysctlError, match="overrides"):
        run(overrides=["vm.swappiness=1"])


# --------------------------------------------------------------------------
# Hugepages
# --------------------------------------------------------------------------


def test_hugepages_per_node_2m():
    r = run("genoa_2p_nps4", "hpc", "el9", hugepages={"size": "2M", "per_node": 1024})
    assert r["hugepages"] == dict((n, {2048: 1024}) for n in range(8))
    assert sum(c for sizes in r["hugepages"].values() for c in sizes.values()) == 8 * 1024
    assert r["reboot_required"] is False
    assert "hugepagesz=2M hugepages=8192" in r["cmdline_args"]
    items = [i for i in live_items(r) if i[0].startswith("hugepages.")]
    assert items[0] == ("hugepages.node0.2048kB",
                        "sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages", "1024")


def test_hugepages_1g_requires_reboot():
    r = run("genoa_2p_nps4", "hpc", "el9", hugepages={"size": "1G", "per_node": 16})
    assert r["reboot_required"] is True
    assert r["reboot_reasons"] and "boot" in r["reboot_reasons"][0]
    assert "hugepagesz=1G hugepages=128" in r["cmdline_args"]
    assert r["hugepages"][7] == {1048576: 16}


def test_hugepages_percent_and_cpuless_nodes():
    r = run("genoa_2p_cpuless", "ai_training", "el10", hugepages={"size": "2M", "percent_of_memory": 25})
    # 25% of 384 GiB in 2 MiB pages on the two CPU nodes only
    assert r["hugepages"] == {0: {2048: 384 * 1024 // 4 // 2}, 1: {2048: 384 * 1024 // 4 // 2}}
    assert "CPU-less nodes 2, 3 left alone" in r["reasons"]["hugepages.node0.2048kB"]
    # uneven over the memory nodes -> per-node boot syntax on >= 5.16
    assert "hugepagesz=2M hugepages=0:49152,1:49152" in r["cmdline_args"]
    r2 = run("genoa_2p_cpuless", "ai_training", "el10",
             hugepages={"size": "2M", "percent_of_memory": 25, "include_cpuless": True})
    assert sorted(r2["hugepages"]) == [0, 1, 2, 3]
    assert r2["hugepages"][2] == {2048: 96 * 1024 // 4 // 2}


def test_hugepages_explicit_nodes_and_old_kernel_syntax():
    r = run("genoa_2p_nps4", "hpc", "el9", hugepages={"size": "1G", "nodes": {"1": 4, 5: 2}})
    assert r["hugepages"] == {1: {1048576: 4}, 5: {1048576: 2}}
    # 5.14 has no node:count syntax: total plus a warning
    assert "hugepagesz=1G hugepages=6" in r["cmdline_args"]
    assert any("5.16" in w for w in r["warnings"])
    r2 = run("genoa_2p_nps4", "hpc", "el10", hugepages={"size": "1G", "nodes": {"1": 4, 5: 2}})
    assert "hugepagesz=1G hugepages=1:4,5:2" in r2["cmdline_args"]


@pytest.mark.parametrize("spec, message", [
    ({"size": "2M", "per_node": 1, "nodes": {0: 1}}, "exactly one of"),
    ({"size": "2M"}, "exactly one of"),
    ({"size": "3X", "per_node": 1}, "hugepages.size"),
    ({"size": "2M", "per_node": -1}, "hugepages.per_node"),
    ({"size": "2M", "percent_of_memory": 95}, "percent_of_memory"),
    ({"size": "2M", "nodes": {9: 1}}, "NUMA node 9 does not exist"),
    ({"size": "1G", "per_node": 90}, "exceeds 90% of the node's 96 GiB"),
    ({"size": "2M", "per_node": 1, "colour": "red"}, "unknown key"),
])
def test_hugepages_errors(spec, message):
    with pytest.raises(NumaSysctlError) as exc:
        run("genoa_2p_nps4", hugepages=spec)
    assert message in str(exc.value)


def test_hugepages_unsupported_size_is_skipped():
    r = run("genoa_2p_nps4", hugepages={"size": "1G", "per_node": 1}, hugepage_sizes={2048})
    assert r["hugepages"] == {} and r["reboot_required"] is False
    assert "pdpe1gb" in skipped(r)["hugepages.1048576kB"]


def test_hugepage_reboot_from_live_counts():
    r = run("genoa_2p_nps4", "hpc", "el10", hugepages={"size": "1G", "nodes": {0: 4, 1: 4}})
    full = {"hugepages.node0.1048576kB": 4, "hugepages.node1.1048576kB": 4}
    assert hugepage_reboot(r, full) == (False, [])
    need, why = hugepage_reboot(r, {"hugepages.node0.1048576kB": 4, "hugepages.node1.1048576kB": 1})
    assert need is True and len(why) == 1 and "node1" in why[0] and "1 of 4" in why[0]


# --------------------------------------------------------------------------
# THP
# --------------------------------------------------------------------------


def test_thp_override_and_persistence_hints():
    r = run(profile="hpc", thp="never", thp_defrag="never")
    assert r["thp"] == {"enabled": "never", "defrag": "never"}
    assert "transparent_hugepage=never" in r["cmdline_args"]
    assert r["tmpfiles_lines"] == ["w /sys/kernel/mm/transparent_hugepage/defrag - - - - never"]
    assert r["reasons"]["thp.enabled"].startswith("thp option")
    # THP never: no khugepaged floor in min_free_kbytes
    assert "khugepaged" not in r["reasons"]["vm.min_free_kbytes"]
    assert "khugepaged" in run(profile="hpc")["reasons"]["vm.min_free_kbytes"]


def test_thp_missing_or_old_kernel():
    r = run(thp_choices={"enabled": None, "defrag": None})
    assert r["thp"] == {} and "CONFIG_TRANSPARENT_HUGEPAGE" in skipped(r)["thp.enabled"]
    assert not any(a.startswith("transparent_hugepage=") for a in r["cmdline_args"])
    old = run(thp_choices={"enabled": ["always", "madvise", "never"], "defrag": ["always", "madvise", "never"]})
    assert old["thp"]["defrag"] == "madvise" and "no defer+madvise" in old["reasons"]["thp.defrag"]


# --------------------------------------------------------------------------
# Renderer and helpers
# --------------------------------------------------------------------------


def test_render_layout():
    r = run("genoa_2p_nps4", "hpc", "el9", hugepages={"size": "2M", "per_node": 2})
    content = render(r)
    lines = content.splitlines()
    assert lines[0].startswith("# Generated by hpcai.cluster.numa_sysctl")
    assert "# NUMA nodes: 8 with CPUs, 8 total, 8 with memory (768 GiB)" in lines
    assert "# L3 domains: 24" in lines
    assert "# kernel:     5.14" in lines
    assert any(line.startswith("#   kernel.sched_migration_cost_ns: not in /proc/sys") for line in lines)
    assert any(line.startswith("# hugepages (sysfs, not sysctl): node0=2 x 2M") for line in lines)
    # every key line is preceded by its reason comment; no inline comments (sysctl.d has none)
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            assert re.match(r"^[a-z0-9_.A-Z-]+ = [^#]+$", line), line
            assert lines[i - 1].startswith("# "), line
    assert render(r) == content  # deterministic


def test_helpers():
    assert parse_kernel_release("5.14.0-503.el9.x86_64") == (5, 14)
    assert parse_kernel_release("6.12.0-55.el10") == (6, 12)
    assert parse_kernel_release("6.1.0-28-amd64") == (6, 1)
    assert parse_kernel_release("garbage") is None and parse_kernel_release(None) is None
    assert parse_size_kb("2M") == 2048 and parse_size_kb("1G") == 1048576 and parse_size_kb("1GiB") == 1048576
    assert parse_size_kb("2048kB") == 2048 and parse_size_kb(2048) == 2048 and parse_size_kb("2MB") == 2048
    assert parse_thp_file("always [madvise] never\n") == ("madvise", ["always", "madvise", "never"])
    assert parse_thp_file("always defer defer+madvise [madvise] never")[0] == "madvise"
    assert parse_thp_file("always\n") == ("always", None)
    assert parse_thp_file(None) == (None, None)
    assert normalize_value(True) == "1" and normalize_value(10) == "10" and normalize_value(" 4\t4 ") == "4 4"
    assert values_equal("4\t4\t1\t7\n", "4 4 1 7") and values_equal("010", "10") and not values_equal("1", "0")
    assert not values_equal(None, "0") and values_equal(None, None)


def test_diff_helpers():
    r = run("genoa_2p_nps4", "hpc", "el9", hugepages={"size": "2M", "per_node": 2})
    items = live_items(r)
    current = dict((item, None) for item, _p, _v in items)
    current["kernel.numa_balancing"] = "1\n"
    current["vm.zone_reclaim_mode"] = "1\n"
    current["thp.enabled"] = "always [madvise] never\n"
    d = diff_live(items, current)
    assert d["before"]["kernel.numa_balancing"] == "1" and d["after"]["kernel.numa_balancing"] == "0"
    assert "kernel.numa_balancing" in d["changed"] and "vm.zone_reclaim_mode" not in d["changed"]
    assert d["before"]["thp.enabled"] == "madvise" and "thp.enabled" in d["changed"]
    assert "hugepages.node3.2048kB" in d["changed"]
    fd = file_diff(None, "x\n", "/etc/sysctl.d/f.conf")
    assert fd["before"] == "" and fd["after"] == "x\n" and "absent" in fd["before_header"]


# --------------------------------------------------------------------------
# Timing: the 768-CPU reference topology
# --------------------------------------------------------------------------


def test_timing_768_cpus():
    topo = TOPOLOGIES["turin_dense_768"]
    assert topo["counts"]["cpus_online"] == 768
    release, keys = KERNELS["el10"]
    start = time.perf_counter()
    rounds = 20
    for _round in range(rounds):
        r = plan(topo, "hpc", available_keys=keys, kernel_release=release, hugepages={"size": "1G", "per_node": 64})
        content = render(r)
        diff_live(live_items(r), {})
    elapsed_ms = (time.perf_counter() - start) * 1000.0 / rounds
    print("\nnuma_sysctl plan+render+diff on 768 CPUs: %.3f ms" % elapsed_ms)
    assert elapsed_ms < 1000
    assert "# NUMA nodes: 2 with CPUs, 2 total, 2 with memory (1536 GiB)" in content
    assert r["sysctls"]["vm.min_free_kbytes"] == str(int(1536 * GIB_KIB * 0.002) // 1024 * 1024)
