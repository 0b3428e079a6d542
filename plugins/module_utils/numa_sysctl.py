# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NUMA / chiplet sysctl, hugepage and THP planner (pure Python 3.8+, no I/O).

``plan()`` turns the ``hpcai_cpu_topology`` fact (see docs/design.md), a
workload profile and user overrides into the settings the
``hpcai.cluster.numa_sysctl`` module writes: one sysctl.d file, live
``/proc/sys`` values, per-NUMA-node hugepages and the THP mode.  Nothing here
reads or writes files: the module collects the inputs (which sysctl keys exist
under ``/proc/sys``, the kernel release, the THP choices the kernel offers, the
hugepage sizes it supports) and does the I/O.

Profile table (``-`` = the profile leaves the kernel's value alone)::

    key                                 hpc            ai_training    ai_inference   mixed
    kernel.numa_balancing               0              0              1 (*1)         1 (*1)
    vm.zone_reclaim_mode                1 (*2)         0              0              0
    vm.min_free_kbytes                  formula (*3)   formula        formula        formula
    vm.swappiness                       10             10             10             -
    vm.max_map_count                    1048576        1048576        1048576        262144
    vm.dirty_background_bytes (*4)      0.5% RAM       0.5% RAM       0.5% RAM       0.5% RAM
    vm.dirty_bytes (*4)                 2% RAM         2% RAM         2% RAM         2% RAM
    kernel.sched_autogroup_enabled      0              0              0              -
    kernel.sched_migration_cost_ns (*5) 5000000        5000000        -              -
    kernel.sched_min_granularity_ns(*5) 10000000       -              -              -
    kernel.sched_wakeup_granularity_ns  15000000       -              -              -
    THP enabled                         always         madvise        madvise        madvise
    THP defrag                          defer+madvise  madvise        madvise        madvise

    (*1) 0 when CPU-less memory nodes (GPU HBM, CXL) exist.
    (*2) only with >= 2 NUMA nodes that have CPUs and memory, else 0.
    (*3) see ``min_free_kbytes()``.
    (*4) only when the node has >= 256 GiB; clamped to [1, 4] GiB and [4, 16] GiB.
    (*5) only where the key is still in /proc/sys (kernels before 5.13).

``kernel.numa_balancing`` and ``vm.zone_reclaim_mode`` are skipped (with a
reason) on machines with a single NUMA node that has memory: both only act
between nodes.  The reasons for every choice are in ``_PROFILE_ROWS``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hpcai.cluster.plugins.module_utils.kernel_checks import llc_scheduler_check

__all__ = [
    "PROFILES",
    "THP_ENABLED_CHOICES",
    "THP_DEFRAG_CHOICES",
    "DEFAULT_DEST",
    "NumaSysctlError",
    "parse_kernel_release",
    "parse_size_kb",
    "size_label",
    "parse_thp_file",
    "normalize_value",
    "values_equal",
    "validate_key",
    "key_to_path",
    "candidate_keys",
    "min_free_kbytes",
    "kernel_min_free_kbytes",
    "khugepaged_min_free_kbytes",
    "dirty_bytes",
    "plan",
    "render",
    "live_items",
    "diff_live",
    "file_diff",
    "hugepage_reboot",
]

PROFILES = ("hpc", "ai_training", "ai_inference", "mixed")
THP_ENABLED_CHOICES = ("always", "madvise", "never")
THP_DEFRAG_CHOICES = ("always", "defer", "defer+madvise", "madvise", "never")
DEFAULT_DEST = "/etc/sysctl.d/90-hpcai-numa.conf"

KIB_PER_MIB = 1024
KIB_PER_GIB = 1024 * 1024

# Sysctl names: dotted components. Lower case in practice, but a few real keys
# carry capitals (kernel.numa_balancing_promote_rate_limit_MBps), so they are
# accepted after the first component. Slashes (sysctl.d's alternative
# separator) and a leading '-' (sysctl.d's "ignore errors") are rejected.
_KEY_RE = re.compile(r"^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$")
_RELEASE_RE = re.compile(r"^\s*(\d+)\.(\d+)")
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kKmMgG])?(?:[bB]|i[bB])?\s*$")
_INT_RE = re.compile(r"^-?\d+$")

THP_DIR = "sys/kernel/mm/transparent_hugepage"
HUGEPAGES_DIR = "sys/kernel/mm/hugepages"
NODE_DIR = "sys/devices/system/node"

# Large-memory threshold for byte-based dirty limits.
LARGE_MEMORY_KIB = 256 * KIB_PER_GIB
# Hard cap for vm.min_free_kbytes computed by the profile: min(5% RAM, 4 GiB).
MIN_FREE_CAP_KIB = 4 * KIB_PER_GIB
MIN_FREE_CAP_PERCENT = 5
# Hugepages may never take more than this share of a node's memory.
HUGEPAGES_MAX_PERCENT = 90


class NumaSysctlError(ValueError):
    """Bad input: the message names the option and the offending value."""


# --------------------------------------------------------------------------
# Profile table
# --------------------------------------------------------------------------

# Marker for values computed from the topology.
COMPUTED = object()

# (key, {profile: value or None (not managed)}, {profile or "*": reason})
_PROFILE_ROWS = [
    (
        "kernel.numa_balancing",
        {"hpc": "0", "ai_training": "0", "ai_inference": "1", "mixed": "1"},
        {
            "hpc": "hpc: MPI/OpenMP ranks are pinned and first-touch their memory; "
                   "automatic NUMA balancing only adds hinting faults and migrations (tuned hpc-compute sets 0)",
            "ai_training": "ai_training: Slurm binds tasks and GPUs (--gpu-bind=closest); pinned and RDMA-registered "
                           "buffers cannot migrate, so NUMA hinting faults over huge address spaces are pure overhead",
            "ai_inference": "ai_inference: long-lived inference services are usually not CPU-pinned; "
                            "automatic NUMA balancing keeps their threads and memory together (set 0 if you pin them)",
            "mixed": "mixed: kernel default for unpinned, shared workloads",
        },
    ),
    (
        "vm.zone_reclaim_mode",
        {"hpc": COMPUTED, "ai_training": "0", "ai_inference": "0", "mixed": "0"},
        {
            "hpc": "hpc: reclaim clean page cache on the local node before spilling a pinned rank's "
                   "allocations onto a remote node (tuned hpc-compute sets 1)",
            "ai_training": "ai_training: data loaders stream datasets through the page cache; zone reclaim "
                           "would evict it and stall allocations while remote nodes have free memory",
            "ai_inference": "ai_inference: model weights are usually mmapped files (page cache); zone reclaim "
                            "would evict them under local pressure",
            "mixed": "mixed: kernel default since 3.16; page-cache-heavy jobs share the node",
        },
    ),
    ("vm.min_free_kbytes", {"hpc": COMPUTED, "ai_training": COMPUTED, "ai_inference": COMPUTED, "mixed": COMPUTED}, {}),
    (
        "vm.swappiness",
        {"hpc": "10", "ai_training": "10", "ai_inference": "10", "mixed": None},
        {
            "*": "prefer dropping page cache over swapping the job's anonymous memory "
                 "(tuned latency-/throughput-performance use 10)",
        },
    ),
    (
        "vm.max_map_count",
        {"hpc": "1048576", "ai_training": "1048576", "ai_inference": "1048576", "mixed": "262144"},
        {
            "*": "large jobs (MPI shared-memory transports, PyTorch data loaders, mmapped dataset and weight shards) "
                 "exceed the 65530 default; it is a limit and costs nothing until used",
        },
    ),
    ("vm.dirty_background_bytes", {"hpc": COMPUTED, "ai_training": COMPUTED, "ai_inference": COMPUTED, "mixed": COMPUTED}, {}),
    ("vm.dirty_bytes", {"hpc": COMPUTED, "ai_training": COMPUTED, "ai_inference": COMPUTED, "mixed": COMPUTED}, {}),
    (
        "kernel.sched_autogroup_enabled",
        {"hpc": "0", "ai_training": "0", "ai_inference": "0", "mixed": None},
        {
            "*": "autogroup is a desktop feature (per-session fairness); on compute nodes it skews CPU shares "
                 "between job steps and daemons started from different sessions",
        },
    ),
    (
        "kernel.sched_migration_cost_ns",
        {"hpc": "5000000", "ai_training": "5000000", "ai_inference": None, "mixed": None},
        {
            "*": "treat tasks as cache-hot for 5 ms (default 0.5 ms) so the balancer moves them less often",
        },
    ),
    (
        "kernel.sched_min_granularity_ns",
        {"hpc": "10000000", "ai_training": None, "ai_inference": None, "mixed": None},
        {"*": "longer slices for CPU-bound ranks, fewer preemptions (tuned throughput-performance value)"},
    ),
    (
        "kernel.sched_wakeup_granularity_ns",
        {"hpc": "15000000", "ai_training": None, "ai_inference": None, "mixed": None},
        {"*": "fewer wakeup preemptions of CPU-bound ranks (tuned throughput-performance value)"},
    ),
]

# vm.min_free_kbytes terms per profile: (floor KiB, basis points of RAM, KiB per NUMA node with memory)
_MIN_FREE = {
    "hpc": (135168, 20, 64 * KIB_PER_MIB),
    "ai_training": (262144, 40, 128 * KIB_PER_MIB),
    "ai_inference": (135168, 20, 64 * KIB_PER_MIB),
    "mixed": (65536, 10, 32 * KIB_PER_MIB),
}
_MIN_FREE_WHY = {
    "hpc": "hpc: floor 132 MiB as tuned hpc-compute",
    "ai_training": "ai_training: RDMA receive rings, GPU pinned-memory and page-cache churn from data loaders "
                   "allocate in bursts; a bigger atomic reserve avoids allocation failures and direct reclaim",
    "ai_inference": "ai_inference: same reserve as hpc",
    "mixed": "mixed: modest reserve, close to kernel defaults",
}

_THP = {
    "hpc": ("always", "defer+madvise"),
    "ai_training": ("madvise", "madvise"),
    "ai_inference": ("madvise", "madvise"),
    "mixed": ("madvise", "madvise"),
}
_THP_WHY = {
    "hpc": ("hpc: dense arrays benefit from 2 MiB pages everywhere (tuned hpc-compute sets always)",
            "hpc: no direct-compaction stalls on page faults; kcompactd works in the background and "
            "madvised regions still compact directly"),
    "ai_training": ("ai_training: frameworks opt in (PyTorch THP_MEM_ALLOC_ENABLE, glibc.malloc.hugetlb); 'always' inflates "
                    "RSS of forked data-loader workers against the Slurm cgroup memory limit",
                    "ai_training: only madvised regions may stall for compaction (kernel default)"),
    "ai_inference": ("ai_inference: opt-in only; avoids khugepaged latency spikes and RSS bloat in request threads",
                     "ai_inference: only madvised regions may stall for compaction (kernel default)"),
    "mixed": ("mixed: opt-in only (safe default for shared nodes)",
              "mixed: kernel default"),
}

# kernel.sched_* keys that moved from /proc/sys to debugfs (CONFIG_SCHED_DEBUG) in 5.13:
# key -> (debugfs file under /sys/kernel/debug/sched/, what EEVDF (6.6) did to it or None)
_SCHED_DEBUGFS = {
    "kernel.sched_migration_cost_ns": ("migration_cost_ns", None),
    "kernel.sched_min_granularity_ns": ("min_granularity_ns", "EEVDF (6.6) replaced it with base_slice_ns, debugfs only"),
    "kernel.sched_wakeup_granularity_ns": ("wakeup_granularity_ns", "removed by EEVDF in 6.6"),
    "kernel.sched_latency_ns": ("latency_ns", "removed by EEVDF in 6.6"),
    "kernel.sched_nr_migrate": ("nr_migrate", None),
    "kernel.sched_tunable_scaling": ("tunable_scaling", None),
}

_CONFIG_OF = {
    "kernel.numa_balancing": "CONFIG_NUMA_BALANCING",
    "vm.zone_reclaim_mode": "CONFIG_NUMA",
    "kernel.sched_autogroup_enabled": "CONFIG_SCHED_AUTOGROUP",
}


# --------------------------------------------------------------------------
# Small parsers and helpers
# --------------------------------------------------------------------------


def parse_kernel_release(release):
    """``'5.14.0-503.el9.x86_64'`` -> ``(5, 14)``; None when unparseable."""
    if not release:
        return None
    match = _RELEASE_RE.match(str(release))
    if not match:
        return None
    return (int(match.group(1)), int(match.group(2)))


def parse_size_kb(value, option="hugepages.size"):
    """Hugepage size (``2M``, ``1G``, ``2MB``, ``1GiB``, ``2048kB``, int KiB) -> KiB."""
    if isinstance(value, bool):
        raise NumaSysctlError("%s: invalid size %r (expected 2M or 1G)" % (option, value))
    if isinstance(value, int):
        if value <= 0:
            raise NumaSysctlError("%s: size must be positive, got %d" % (option, value))
        return value
    match = _SIZE_RE.match(str(value))
    if not match:
        raise NumaSysctlError("%s: invalid size %r (expected 2M or 1G)" % (option, value))
    number = int(match.group(1))
    unit = (match.group(2) or "k").lower()
    kib = number * {"k": 1, "m": KIB_PER_MIB, "g": KIB_PER_GIB}[unit]
    if kib <= 0:
        raise NumaSysctlError("%s: size must be positive, got %r" % (option, value))
    return kib


def size_label(size_kb):
    """KiB -> the kernel command line spelling (``2M``, ``1G``, ``64K``)."""
    if size_kb % KIB_PER_GIB == 0:
        return "%dG" % (size_kb // KIB_PER_GIB)
    if size_kb % KIB_PER_MIB == 0:
        return "%dM" % (size_kb // KIB_PER_MIB)
    return "%dK" % size_kb


def parse_thp_file(text):
    """``'always [madvise] never'`` -> ``('madvise', ['always', 'madvise', 'never'])``.

    A file without brackets (a plain value, as in a test tree after a write)
    gives ``(value, None)``; ``None`` gives ``(None, None)``.
    """
    if text is None:
        return None, None
    words = text.split()
    current = None
    choices = []
    for word in words:
        if word.startswith("[") and word.endswith("]"):
            word = word[1:-1]
            current = word
        choices.append(word)
    if current is None:
        return (text.strip() or None), None
    return current, choices


def normalize_value(value, option="value"):
    """Canonical string for a sysctl value (whitespace runs -> one blank)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise NumaSysctlError("%s: floating point value %r is not a sysctl value (use an integer or a string)" % (option, value))
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    if not isinstance(value, str):
        raise NumaSysctlError("%s: unsupported value type %s" % (option, type(value).__name__))
    if "\n" in value or "\r" in value:
        raise NumaSysctlError("%s: value must be one line, got %r" % (option, value))
    text = " ".join(value.split())
    if text == "":
        raise NumaSysctlError("%s: empty value (use null to remove a key)" % option)
    return text


def values_equal(a, b):
    """Compare two sysctl values as the kernel would print them (tabs vs blanks, ints)."""
    if a is None or b is None:
        return a is None and b is None
    ta = str(a).split()
    tb = str(b).split()
    if len(ta) != len(tb):
        return False
    for x, y in zip(ta, tb):
        if x == y:
            continue
        if _INT_RE.match(x) and _INT_RE.match(y) and int(x) == int(y):
            continue
        return False
    return True


def validate_key(key, option="overrides"):
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise NumaSysctlError(
            "%s: invalid sysctl name %r (expected a dotted name such as vm.swappiness: "
            "letters, digits, '_' and '-', no '/' or blanks)" % (option, key)
        )
    return key


def key_to_path(key):
    """``vm.min_free_kbytes`` -> ``proc/sys/vm/min_free_kbytes`` (relative to a root)."""
    return "proc/sys/" + key.replace(".", "/")


def _isqrt(n):
    if n <= 0:
        return 0
    x = int(n ** 0.5)
    while x * x > n:
        x -= 1
    while (x + 1) * (x + 1) <= n:
        x += 1
    return x


def _fmt_kib(kib):
    """KiB -> short human text (``768 GiB``, ``1.54 GiB``, ``132 MiB``)."""
    for unit, size in (("GiB", KIB_PER_GIB), ("MiB", KIB_PER_MIB)):
        if kib >= size:
            text = ("%.2f" % (kib / float(size))).rstrip("0").rstrip(".")
            return "%s %s" % (text, unit)
    return "%d KiB" % kib


def _has_cpus(node):
    cpus = node.get("cpus")
    if cpus is None:
        return False
    if isinstance(cpus, str):
        return cpus.strip() != ""
    return len(cpus) > 0


# --------------------------------------------------------------------------
# Topology summary
# --------------------------------------------------------------------------


def _summary(topology):
    if not isinstance(topology, dict):
        raise NumaSysctlError("topology: expected the hpcai_cpu_topology dict, got %s" % type(topology).__name__)
    nodes = topology.get("numa_nodes")
    if not isinstance(nodes, list) or not nodes:
        raise NumaSysctlError("topology: 'numa_nodes' must be a non-empty list (hpcai_cpu_topology fact)")
    parsed = []
    for index, node in enumerate(nodes):
        if not isinstance(node, dict) or "id" not in node:
            raise NumaSysctlError("topology: numa_nodes[%d] must be a dict with an 'id'" % index)
        try:
            nid = int(node["id"])
        except (TypeError, ValueError):
            raise NumaSysctlError("topology: numa_nodes[%d].id %r is not an integer" % (index, node["id"]))
        mem = node.get("memory_mib")
        if mem is not None:
            try:
                mem = int(mem)
            except (TypeError, ValueError):
                raise NumaSysctlError("topology: numa_nodes[%d].memory_mib %r is not an integer" % (index, mem))
        parsed.append({"id": nid, "has_cpus": _has_cpus(node), "memory_mib": mem})
    counts = topology.get("counts") or {}
    cpu_nodes = [n for n in parsed if n["has_cpus"]]
    # A node "has memory" when memory_mib > 0; unknown (None) memory on a CPU node counts as memory.
    mem_nodes = [n for n in parsed if (n["memory_mib"] or 0) > 0 or (n["memory_mib"] is None and n["has_cpus"])]
    cpuless_mem_nodes = [n for n in mem_nodes if not n["has_cpus"]]
    known = [n["memory_mib"] for n in parsed if n["memory_mib"] is not None]
    memory_kib = sum(known) * KIB_PER_MIB if known else None
    if any(n["memory_mib"] is None for n in mem_nodes) or not memory_kib:
        memtotal = topology.get("memtotal_kib")
        if memtotal:
            memory_kib = int(memtotal)
        elif not memory_kib:
            real = (topology.get("slurm") or {}).get("RealMemory")
            memory_kib = int(real) * KIB_PER_MIB if real else None
    l3 = counts.get("l3_domains")
    if l3 is None:
        l3 = len(topology.get("l3_domains") or [])
    sockets = counts.get("sockets")
    if sockets is None:
        sockets = len(topology.get("sockets") or []) or None
    generation = topology.get("generation") or "unknown"
    vendor = topology.get("vendor") or "unknown"
    return {
        "vendor": vendor,
        "generation": generation,
        "amd": vendor == "AuthenticAMD" or str(generation).startswith("zen"),
        "sockets": sockets,
        "cores": counts.get("cores"),
        "cpus": counts.get("cpus_online"),
        "nodes": parsed,
        "cpu_nodes": len(cpu_nodes),
        "numa_nodes_total": len(parsed),
        "mem_nodes": len(mem_nodes),
        "mem_node_ids": [n["id"] for n in mem_nodes],
        "cpuless_mem_nodes": [n["id"] for n in cpuless_mem_nodes],
        "l3_domains": int(l3 or 0),
        "memory_kib": memory_kib,
    }


def _l3_note(s):
    """One sentence on the L3 layout for reasons that depend on caches."""
    n = s["l3_domains"]
    if n == 0:
        return "%s: no L3 domains in sysfs, value from the profile only" % s["generation"]
    per_node = ""
    if s["cpu_nodes"]:
        ratio = n / float(s["cpu_nodes"])
        per_node = ", %s per NUMA node" % (("%d" % ratio) if ratio == int(ratio) else ("%.1f" % ratio))
    if s["amd"]:
        mode = ""
        if s["cpu_nodes"] == n and s["sockets"] and n > s["sockets"]:
            mode = " (L3-as-NUMA BIOS mode)"
        return "%s: %d L3 domains (CCX)%s%s; a migration to another CCX loses the L3 working set" % (
            s["generation"], n, per_node, mode)
    return "%s: %d L3 domain(s)%s; not a chiplet part, the value is the profile's" % (s["generation"], n, per_node)


# --------------------------------------------------------------------------
# Computed values
# --------------------------------------------------------------------------


def kernel_min_free_kbytes(memory_kib):
    """The kernel's own boot-time choice: int_sqrt(16 * lowmem_kB) clamped to [128, 262144]
    (mm/page_alloc.c; the upper clamp was 65536 before it was raised in 5.x - irrelevant here
    because the profile terms exceed it on any machine above 16 GiB)."""
    return max(128, min(262144, _isqrt(memory_kib * 16)))


def khugepaged_min_free_kbytes(memory_kib, mem_nodes):
    """Estimate of khugepaged's set_recommended_min_free_kbytes() when THP is enabled
    (always or madvise): (2 + 3*3) pageblocks of 2 MiB per zone up to ZONE_NORMAL,
    at most 5% of memory.  Zones are estimated as one Normal zone per memory node plus
    DMA and DMA32 on the first node (x86_64, 4 KiB pages)."""
    zones = mem_nodes + 2
    return min(11 * 2048 * zones, memory_kib // 20)


def min_free_kbytes(memory_kib, mem_nodes, profile, thp_enabled=None):
    """vm.min_free_kbytes for ``memory_kib`` KiB over ``mem_nodes`` NUMA nodes with memory.

    value = min(cap, max(profile floor, bp/10000 of RAM, per-node reserve x nodes,
                         kernel default, khugepaged recommendation if THP is on))
    cap   = min(5% of RAM, 4 GiB); rounded down to whole MiB.

    Returns ``(value_kib, explanation)``.  Monotonic (non-decreasing) in memory for
    a fixed node count, and never above the cap.
    """
    floor, bp, per_node = _MIN_FREE[profile]
    mem_nodes = max(1, int(mem_nodes))
    terms = [
        ("profile floor", floor),
        ("%s%% of %s" % (("%.2f" % (bp / 100.0)).rstrip("0"), _fmt_kib(memory_kib)), memory_kib * bp // 10000),
        ("%s x %d node(s)" % (_fmt_kib(per_node), mem_nodes), per_node * mem_nodes),
        ("kernel default", kernel_min_free_kbytes(memory_kib)),
    ]
    if thp_enabled in ("always", "madvise"):
        terms.append(("khugepaged (THP %s)" % thp_enabled, khugepaged_min_free_kbytes(memory_kib, mem_nodes)))
    cap = min(memory_kib * MIN_FREE_CAP_PERCENT // 100, MIN_FREE_CAP_KIB)
    best_name, best = max(terms, key=lambda t: t[1])
    value = min(cap, best)
    if value >= KIB_PER_MIB:
        value = value // KIB_PER_MIB * KIB_PER_MIB
    parts = ", ".join("%s = %s" % (name, _fmt_kib(v)) for name, v in terms)
    if best > cap:
        why = "max(%s) capped at min(5%% RAM, 4 GiB) = %s" % (parts, _fmt_kib(cap))
    else:
        why = "max(%s) -> %s wins" % (parts, best_name)
    return value, why


def dirty_bytes(memory_kib):
    """(dirty_background_bytes, dirty_bytes) for large-memory nodes, or None below 256 GiB.

    background = 0.5% of RAM clamped to [1 GiB, 4 GiB]; limit = 2% of RAM clamped to
    [4 GiB, 16 GiB]; both rounded down to whole MiB.
    """
    if memory_kib is None or memory_kib < LARGE_MEMORY_KIB:
        return None
    bg = max(KIB_PER_GIB, min(4 * KIB_PER_GIB, memory_kib // 200))
    hard = max(4 * KIB_PER_GIB, min(16 * KIB_PER_GIB, memory_kib // 50))
    bg = bg // KIB_PER_MIB * KIB_PER_MIB
    hard = hard // KIB_PER_MIB * KIB_PER_MIB
    return bg * 1024, hard * 1024


# --------------------------------------------------------------------------
# Availability of keys
# --------------------------------------------------------------------------


def candidate_keys(profile, overrides=None):
    """Every sysctl key ``plan()`` may want for ``profile`` and ``overrides`` (the module
    checks only these under /proc/sys instead of walking the whole tree)."""
    keys = []
    for key, values, _why in _PROFILE_ROWS:
        if values.get(profile) is not None:
            keys.append(key)
    for key in sorted(overrides or {}):
        if key not in keys:
            keys.append(key)
    return keys


def _absent_reason(key, kver):
    if key in _SCHED_DEBUGFS:
        debugfs, eevdf = _SCHED_DEBUGFS[key]
        if kver is None:
            return "not in /proc/sys on this kernel (sched_* tunables moved to debugfs in 5.13)"
        if kver >= (6, 6) and eevdf:
            return "not in /proc/sys: moved to debugfs in 5.13 and %s" % eevdf
        if kver >= (5, 13):
            return ("not in /proc/sys on this kernel (moved to debugfs in 5.13: /sys/kernel/debug/sched/%s; "
                    "use tuned's [scheduler] plugin if you need it)" % debugfs)
        return "not in /proc/sys on this kernel (CONFIG_SCHED_DEBUG off?)"
    if key in _CONFIG_OF:
        return "not in /proc/sys on this kernel (built without %s)" % _CONFIG_OF[key]
    return "not in /proc/sys on this kernel (systemd-sysctl would log an error for it)"


def _available(key, available_keys, kver):
    if available_keys is not None:
        return key in available_keys
    # Unknown: infer from the kernel release for the debugfs-moved keys, assume present otherwise.
    if key in _SCHED_DEBUGFS:
        return kver is not None and kver < (5, 13)
    return True


# --------------------------------------------------------------------------
# Hugepages
# --------------------------------------------------------------------------


def _int_option(value, option, minimum=0):
    if isinstance(value, bool) or value is None:
        raise NumaSysctlError("%s: expected an integer, got %r" % (option, value))
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise NumaSysctlError("%s: expected an integer, got %r" % (option, value))
    if isinstance(value, float) and value != number:
        raise NumaSysctlError("%s: expected an integer, got %r" % (option, value))
    if number < minimum:
        raise NumaSysctlError("%s: must be >= %d, got %d" % (option, minimum, number))
    return number


def _plan_hugepages(spec, s, kver, hugepage_sizes, out):
    """Fill out['hugepages'], reasons, cmdline args, reboot flags.  ``spec`` is the
    ``hugepages`` option: {size, per_node | percent_of_memory | nodes, include_cpuless}."""
    if not isinstance(spec, dict):
        raise NumaSysctlError("hugepages: expected a dict, got %s" % type(spec).__name__)
    known = {"size", "per_node", "percent_of_memory", "nodes", "include_cpuless"}
    unknown = sorted(k for k in spec if k not in known)
    if unknown:
        raise NumaSysctlError("hugepages: unknown key(s) %s (expected size, per_node, percent_of_memory, nodes, include_cpuless)"
                              % ", ".join(unknown))
    size_kb = parse_size_kb(spec.get("size") if spec.get("size") is not None else "2M")
    modes = [k for k in ("per_node", "percent_of_memory", "nodes") if spec.get(k) is not None]
    if len(modes) != 1:
        raise NumaSysctlError("hugepages: give exactly one of per_node, percent_of_memory or nodes (got %s)"
                              % (", ".join(modes) or "none"))
    mode = modes[0]
    label = size_label(size_kb)
    item_prefix = "hugepages"
    if hugepage_sizes is not None and size_kb not in hugepage_sizes:
        out["skipped"].append({
            "key": "%s.%dkB" % (item_prefix, size_kb),
            "reason": "%s hugepages not supported here (no %s/hugepages-%dkB; 1G needs the pdpe1gb CPU flag)"
                      % (label, HUGEPAGES_DIR, size_kb),
        })
        return
    by_id = dict((n["id"], n) for n in s["nodes"])
    include_cpuless = bool(spec.get("include_cpuless"))
    counts = {}
    if mode == "nodes":
        raw = spec["nodes"]
        if not isinstance(raw, dict) or not raw:
            raise NumaSysctlError("hugepages.nodes: expected a non-empty dict {node_id: count}")
        for key in raw:
            try:
                nid = int(key)
            except (TypeError, ValueError):
                raise NumaSysctlError("hugepages.nodes: node id %r is not an integer" % (key,))
            if nid not in by_id:
                raise NumaSysctlError("hugepages.nodes: NUMA node %d does not exist (nodes: %s)"
                                      % (nid, ", ".join(str(i) for i in sorted(by_id))))
            counts[nid] = _int_option(raw[key], "hugepages.nodes.%s" % key)
        why = "explicit per-node count"
    else:
        selected = [n for n in s["nodes"] if (n["has_cpus"] or include_cpuless) and (n["memory_mib"] or 0) > 0]
        if not selected:
            raise NumaSysctlError("hugepages: no NUMA node with known memory%s to place hugepages on"
                                  % ("" if include_cpuless else " and CPUs"))
        if mode == "per_node":
            per = _int_option(spec["per_node"], "hugepages.per_node")
            for n in selected:
                counts[n["id"]] = per
            why = "%d per node" % per
        else:
            pct = spec["percent_of_memory"]
            if isinstance(pct, bool):
                raise NumaSysctlError("hugepages.percent_of_memory: expected a number, got %r" % (pct,))
            try:
                pct = float(pct)
            except (TypeError, ValueError):
                raise NumaSysctlError("hugepages.percent_of_memory: expected a number, got %r" % (pct,))
            if not 0 < pct <= HUGEPAGES_MAX_PERCENT:
                raise NumaSysctlError("hugepages.percent_of_memory: must be > 0 and <= %d, got %s"
                                      % (HUGEPAGES_MAX_PERCENT, pct))
            for n in selected:
                counts[n["id"]] = int(n["memory_mib"] * KIB_PER_MIB * pct / 100.0) // size_kb
            why = "%s%% of each node's memory" % (("%d" % pct) if pct == int(pct) else pct)
        if not include_cpuless and s["cpuless_mem_nodes"]:
            why += " (CPU-less nodes %s left alone; include_cpuless: true adds them)" % ", ".join(
                str(i) for i in s["cpuless_mem_nodes"])
    for nid in sorted(counts):
        mem = by_id[nid]["memory_mib"]
        want_kib = counts[nid] * size_kb
        if mem is not None and want_kib > mem * KIB_PER_MIB * HUGEPAGES_MAX_PERCENT // 100:
            raise NumaSysctlError(
                "hugepages: node %d: %d x %s = %s exceeds %d%% of the node's %s"
                % (nid, counts[nid], label, _fmt_kib(want_kib), HUGEPAGES_MAX_PERCENT, _fmt_kib(mem * KIB_PER_MIB))
            )
        out["hugepages"][nid] = {size_kb: counts[nid]}
        out["reasons"]["%s.node%d.%dkB" % (item_prefix, nid, size_kb)] = "%s: %s" % (label, why)

    # Boot-time reservation (the role persists cmdline_args).
    total = sum(counts.values())
    all_mem = sorted(s["mem_node_ids"])
    even = sorted(counts) == all_mem and len(set(counts.values())) == 1
    if even or len(all_mem) <= 1:
        out["cmdline_args"].append("hugepagesz=%s hugepages=%d" % (label, total))
    elif kver is not None and kver >= (5, 16):
        out["cmdline_args"].append("hugepagesz=%s hugepages=%s" % (
            label, ",".join("%d:%d" % (nid, counts[nid]) for nid in sorted(counts))))
    else:
        out["cmdline_args"].append("hugepagesz=%s hugepages=%d" % (label, total))
        out["warnings"].append(
            "kernel %s has no per-node hugepages= syntax (added in 5.16): the boot-time reservation "
            "hugepagesz=%s hugepages=%d is spread evenly over all %d memory nodes, unlike the live per-node counts"
            % ("%d.%d" % kver if kver else "(unknown)", label, total, len(all_mem))
        )
    if size_kb >= KIB_PER_GIB and total > 0:
        out["reboot_required"] = True
        out["reboot_reasons"].append(
            "%d x %s hugepages: reserving gigantic pages is reliable only at boot (%s); a runtime allocation "
            "fails on fragmented memory" % (total, label, out["cmdline_args"][-1])
        )


# --------------------------------------------------------------------------
# plan()
# --------------------------------------------------------------------------


def plan(topology, profile="hpc", overrides=None, available_keys=None, kernel_release=None,
         hugepages=None, thp=None, thp_defrag=None, thp_choices=None, hugepage_sizes=None):
    """Compute the settings.  Pure; raises NumaSysctlError on bad input.

    ``available_keys``: set of sysctl names present under /proc/sys (None = unknown:
    the sched_* keys are then inferred from ``kernel_release``, others assumed present).
    ``thp``/``thp_defrag``: override the profile's THP mode (None = profile default).
    ``thp_choices``: {'enabled': [...], 'defrag': [...]} as the kernel offers them
    (a None value = the file is missing); None = assume every mode exists.
    ``hugepage_sizes``: set of supported sizes in KiB (None = assume any).

    Returns a dict: profile, summary, sysctls (ordered key -> str), reasons
    (key -> why), skipped [{key, reason}], hugepages {node: {size_kb: count}}, thp
    {enabled, defrag} (only the managed ones), cmdline_args, tmpfiles_lines,
    reboot_required, reboot_reasons, warnings.
    """
    if profile not in PROFILES:
        raise NumaSysctlError("profile: %r is not one of %s" % (profile, ", ".join(PROFILES)))
    s = _summary(topology)
    kver = parse_kernel_release(kernel_release)
    s["kernel"] = "%d.%d" % kver if kver else None
    out = {
        "profile": profile,
        "summary": s,
        "sysctls": {},
        "reasons": {},
        "skipped": [],
        "hugepages": {},
        "thp": {},
        "cmdline_args": [],
        "tmpfiles_lines": [],
        "reboot_required": False,
        "reboot_reasons": [],
        "warnings": [],
    }

    # ---- overrides: validate first (fail before computing anything) ----------
    ovr = {}
    if overrides is not None:
        if not isinstance(overrides, dict):
            raise NumaSysctlError("overrides: expected a dict of sysctl name -> value, got %s" % type(overrides).__name__)
        for key, value in overrides.items():
            validate_key(key, "overrides")
            ovr[key] = None if value is None else normalize_value(value, "overrides.%s" % key)

    # ---- THP (needed before min_free_kbytes: khugepaged raises it) -----------
    thp_enabled, thp_def = _THP[profile]
    why_enabled, why_defrag = _THP_WHY[profile]
    if thp is not None:
        if thp not in THP_ENABLED_CHOICES:
            raise NumaSysctlError("thp: %r is not one of %s" % (thp, ", ".join(THP_ENABLED_CHOICES)))
        thp_enabled, why_enabled = thp, "thp option (profile %s: %s)" % (profile, _THP[profile][0])
    if thp_defrag is not None:
        if thp_defrag not in THP_DEFRAG_CHOICES:
            raise NumaSysctlError("thp_defrag: %r is not one of %s" % (thp_defrag, ", ".join(THP_DEFRAG_CHOICES)))
        thp_def, why_defrag = thp_defrag, "thp_defrag option (profile %s: %s)" % (profile, _THP[profile][1])
    choices = thp_choices if thp_choices is not None else {
        "enabled": list(THP_ENABLED_CHOICES), "defrag": list(THP_DEFRAG_CHOICES)}
    live_thp_enabled = None
    if choices.get("enabled") is None:
        out["skipped"].append({"key": "thp.enabled", "reason": "no /%s (kernel without CONFIG_TRANSPARENT_HUGEPAGE)" % THP_DIR})
    elif thp_enabled not in choices["enabled"]:
        out["skipped"].append({"key": "thp.enabled", "reason": "this kernel does not offer %r (offers: %s)"
                               % (thp_enabled, " ".join(choices["enabled"]))})
    else:
        out["thp"]["enabled"] = thp_enabled
        out["reasons"]["thp.enabled"] = why_enabled
        out["cmdline_args"].append("transparent_hugepage=%s" % thp_enabled)
        live_thp_enabled = thp_enabled
    if choices.get("defrag") is None:
        if choices.get("enabled") is not None:
            out["skipped"].append({"key": "thp.defrag", "reason": "no /%s/defrag on this kernel" % THP_DIR})
    else:
        if thp_def not in choices["defrag"] and thp_def == "defer+madvise" and "madvise" in choices["defrag"]:
            why_defrag = "%s; this kernel has no defer+madvise (added in 4.11), madvise instead" % why_defrag
            thp_def = "madvise"
        if thp_def not in choices["defrag"]:
            out["skipped"].append({"key": "thp.defrag", "reason": "this kernel does not offer %r (offers: %s)"
                                   % (thp_def, " ".join(choices["defrag"]))})
        else:
            out["thp"]["defrag"] = thp_def
            out["reasons"]["thp.defrag"] = why_defrag + "; no kernel parameter exists for defrag, so it persists via tmpfiles.d"
            out["tmpfiles_lines"].append("w /%s/defrag - - - - %s" % (THP_DIR, thp_def))

    # ---- sysctls from the profile table --------------------------------------
    memory_kib = s["memory_kib"]
    single = s["mem_nodes"] <= 1
    single_why = ("only %d NUMA node with memory: it acts only between nodes, kernel value left alone" % s["mem_nodes"])
    for key, values, whys in _PROFILE_ROWS:
        value = values.get(profile)
        if value is None:
            continue
        why = whys.get(profile) or whys.get("*") or ""
        if key == "kernel.numa_balancing":
            if single:
                out["skipped"].append({"key": key, "reason": single_why})
                continue
            if value == "1" and s["cpuless_mem_nodes"]:
                value = "0"
                why = ("CPU-less memory node(s) %s (GPU HBM / CXL): hinting-fault migration would move hot pages "
                       "onto or off device memory; profile %s would use 1 (override 2 for CXL memory tiering)"
                       % (", ".join(str(i) for i in s["cpuless_mem_nodes"]), profile))
            else:
                why = "%s [%s]" % (why, _l3_note(s))
        elif key == "vm.zone_reclaim_mode":
            if single:
                out["skipped"].append({"key": key, "reason": single_why})
                continue
            if value is COMPUTED:  # hpc
                if s["cpu_nodes"] >= 2:
                    value = "1"
                    why = "%s; %d NUMA nodes with CPUs" % (why, s["cpu_nodes"])
                else:
                    value = "0"
                    why = ("hpc: only %d NUMA node with CPUs, the other memory is CPU-less (GPU HBM / CXL): "
                           "no remote CPU node to protect, keep the kernel default" % s["cpu_nodes"])
        elif key == "vm.min_free_kbytes":
            if not memory_kib:
                out["skipped"].append({"key": key, "reason": "memory size unknown in the topology"})
                continue
            kib, formula = min_free_kbytes(memory_kib, s["mem_nodes"], profile, live_thp_enabled)
            value = str(kib)
            why = "%s; %s; the kernel splits it over zones by size, about %s per node" % (
                _MIN_FREE_WHY[profile], formula, _fmt_kib(kib // max(1, s["mem_nodes"])))
        elif key in ("vm.dirty_background_bytes", "vm.dirty_bytes"):
            pair = dirty_bytes(memory_kib)
            if pair is None:
                out["skipped"].append({"key": key, "reason": "memory %s < 256 GiB: the ratio defaults are kept"
                                       % (_fmt_kib(memory_kib) if memory_kib else "unknown")})
                continue
            bg, hard = pair
            value = str(bg if key == "vm.dirty_background_bytes" else hard)
            if key == "vm.dirty_background_bytes":
                why = ("%s memory: dirty_background_ratio 10%% would let %s of dirty page cache pile up before "
                       "background writeback starts (writeback storms after checkpoints); 0.5%% of RAM in [1, 4] GiB "
                       "(setting it zeroes the ratio)" % (_fmt_kib(memory_kib), _fmt_kib(memory_kib // 10)))
            else:
                why = ("%s memory: dirty_ratio 20%% would let writers dirty %s before they are throttled; "
                       "2%% of RAM in [4, 16] GiB (setting it zeroes the ratio)"
                       % (_fmt_kib(memory_kib), _fmt_kib(memory_kib // 5)))
        elif key == "kernel.sched_migration_cost_ns":
            why = "%s [%s]" % (why, _l3_note(s))
        if not _available(key, available_keys, kver) and key not in ovr:
            out["skipped"].append({"key": key, "reason": _absent_reason(key, kver)})
            continue
        out["sysctls"][key] = value
        out["reasons"][key] = why

    # ---- overrides -------------------------------------------------------------
    profile_skip = dict((item["key"], item["reason"]) for item in out["skipped"])
    for key in sorted(ovr, key=lambda k: (k not in out["sysctls"], k)):
        value = ovr[key]
        if value is None:
            out["sysctls"].pop(key, None)
            out["reasons"].pop(key, None)
            out["skipped"] = [item for item in out["skipped"] if item["key"] != key]
            out["skipped"].append({"key": key, "reason": "disabled by override"})
            continue
        if not _available(key, available_keys, kver):
            out["sysctls"].pop(key, None)
            out["reasons"].pop(key, None)
            out["skipped"] = [item for item in out["skipped"] if item["key"] != key]
            out["skipped"].append({"key": key, "reason": "override ignored: " + _absent_reason(key, kver)})
            continue
        before = out["sysctls"].get(key)
        if before is not None:
            out["reasons"][key] = "override (profile %s: %s)" % (profile, before)
        elif key in profile_skip:
            out["reasons"][key] = "override (the profile skipped it: %s)" % profile_skip[key]
            out["skipped"] = [item for item in out["skipped"] if item["key"] != key]
        else:
            out["reasons"][key] = "override"
        out["sysctls"][key] = value

    # ---- hugepages ---------------------------------------------------------------
    if hugepages:
        _plan_hugepages(hugepages, s, kver, hugepage_sizes, out)

    # ---- warnings ------------------------------------------------------------------
    # One rule for the collection (module_utils/kernel_checks.py): AMD, several L3 per NUMA node,
    # kernel before 5.18 and not an EL9+ kernel (those carry the backport).
    llc = llc_scheduler_check(topology, kernel_release)
    if llc["warn"]:
        out["warnings"].append(llc["message"])
    return out


# --------------------------------------------------------------------------
# Rendering and diffs
# --------------------------------------------------------------------------


def render(result):
    """sysctl.d file content for a ``plan()`` result.

    sysctl.d only knows whole-line comments ('#' or ';' first), so each key's
    reason goes on the line above it.  The content depends only on the plan
    (no timestamps, kernel as major.minor) so reruns are idempotent.
    """
    s = result["summary"]
    lines = [
        "# Generated by hpcai.cluster.numa_sysctl - do not edit, the next run overwrites it.",
        "# Change the module's profile/overrides (kernel_tuning role) instead.",
        "#",
        "# profile:    %s" % result["profile"],
        "# cpu:        %s %s, %s socket(s), %s cores, %s CPUs" % (
            s["vendor"], s["generation"], _or_q(s["sockets"]), _or_q(s["cores"]), _or_q(s["cpus"])),
        "# NUMA nodes: %d with CPUs, %d total, %d with memory (%s)" % (
            s["cpu_nodes"], s["numa_nodes_total"], s["mem_nodes"],
            _fmt_kib(s["memory_kib"]) if s["memory_kib"] else "memory unknown"),
        "# L3 domains: %d" % s["l3_domains"],
        "# kernel:     %s" % (s["kernel"] or "unknown"),
    ]
    thp = result.get("thp") or {}
    if thp:
        lines.append("# THP (sysfs, not sysctl): %s" % ", ".join(
            "%s=%s" % (k, thp[k]) for k in ("enabled", "defrag") if k in thp))
    pages = []
    for nid in sorted(result.get("hugepages") or {}):
        for size_kb, count in sorted(result["hugepages"][nid].items()):
            pages.append("node%d=%d x %s" % (nid, count, size_label(size_kb)))
    if pages:
        lines.append("# hugepages (sysfs, not sysctl): %s" % " ".join(pages))
    if result["skipped"]:
        lines.append("#")
        lines.append("# skipped:")
        for item in result["skipped"]:
            lines.append("#   %s: %s" % (item["key"], item["reason"]))
    for key, value in result["sysctls"].items():
        lines.append("")
        why = result["reasons"].get(key)
        if why:
            lines.append("# " + why)
        lines.append("%s = %s" % (key, value))
    return "\n".join(lines) + "\n"


def file_settings(text):
    """``[(key, value), ...]`` of a sysctl.d file plus its ``# profile:`` line; comments and blanks ignored."""
    out = []
    for line in (text or "").splitlines():
        stripped = line.strip()
        if stripped.startswith("# profile:"):
            out.append(("#profile", stripped.split(":", 1)[1].strip()))
            continue
        if not stripped or stripped[0] in "#;":
            continue
        key, sep, value = stripped.partition("=")
        out.append((key.strip(), value.strip() if sep else None))
    return out


def same_settings(old, new):
    """True when two rendered files set the same keys to the same values under the same profile.

    The explanatory comments carry the memory size, which changes on VMs with memory
    ballooning/hot-plug; a comment-only difference must not rewrite the file (idempotence).
    """
    return old is not None and file_settings(old) == file_settings(new)


def _or_q(value):
    return "?" if value is None else str(value)


def live_items(result):
    """[(item, path relative to root, value)] for everything applied live: sysctls
    (``proc/sys/...``), THP (``thp.enabled``/``thp.defrag``) and per-node hugepages
    (``hugepages.nodeN.<size>kB``)."""
    items = []
    for key, value in result["sysctls"].items():
        items.append((key, key_to_path(key), value))
    for name in ("enabled", "defrag"):
        if name in (result.get("thp") or {}):
            items.append(("thp." + name, "%s/%s" % (THP_DIR, name), result["thp"][name]))
    for nid in sorted(result.get("hugepages") or {}):
        for size_kb, count in sorted(result["hugepages"][nid].items()):
            items.append((
                "hugepages.node%d.%dkB" % (nid, size_kb),
                "%s/node%d/hugepages/hugepages-%dkB/nr_hugepages" % (NODE_DIR, nid, size_kb),
                str(count),
            ))
    return items


def diff_live(items, current):
    """Compare ``live_items()`` with ``current`` {item: value or None}.

    Returns {'before': {item: current}, 'after': {item: wanted}, 'changed': [items
    that differ]}.  Current values are whitespace-normalised; THP files are
    compared by their selected ``[value]``.
    """
    before = {}
    after = {}
    changed = []
    for item, _path, value in items:
        cur = current.get(item)
        if cur is not None:
            cur = parse_thp_file(cur)[0] if item.startswith("thp.") else " ".join(cur.split())
        before[item] = cur
        after[item] = value
        if not values_equal(cur, value):
            changed.append(item)
    return {"before": before, "after": after, "changed": changed}


def file_diff(old, new, path):
    """Ansible diff dict for the sysctl.d file (``old`` None = missing)."""
    return {
        "before": old if old is not None else "",
        "after": new,
        "before_header": path if old is not None else "%s (absent)" % path,
        "after_header": path,
    }


def hugepage_reboot(result, live_counts):
    """Recompute reboot_required from what is live after the run.

    ``live_counts``: {item: int or None} for the ``hugepages.*`` items (None =
    unknown/unreadable).  A hugepage item whose live count is below the plan
    needs the boot-time reservation (``cmdline_args``) and so a reboot; gigantic
    (1G) pages that are fully allocated live need none.  Returns
    ``(reboot_required, reboot_reasons)``.
    """
    reasons = []
    for item, _path, value in live_items(result):
        if not item.startswith("hugepages."):
            continue
        got = live_counts.get(item)
        want = int(value)
        if got is None or got < want:
            reasons.append("%s: %s of %d pages allocated live; the boot-time reservation (%s) takes effect "
                           "after a reboot" % (item, "unknown" if got is None else got, want,
                                               " ".join(a for a in result["cmdline_args"] if a.startswith("hugepagesz="))))
    return bool(reasons), reasons
