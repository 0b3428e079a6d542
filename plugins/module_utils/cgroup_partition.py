# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Housekeeping / workload CPU partition planner (pure Python 3.8+, no I/O).

``plan()`` turns the ``hpcai_cpu_topology`` fact (with its ``cores`` list), a
policy and a memory reserve into the ``hpcai_cgroup_partition`` fact: which
whole cores keep the OS (housekeeping) and which are left to Slurm jobs
(workload), the Slurm node values that describe the same split, and the systemd
drop-ins that enforce it.  The ``hpcai.cluster.cgroup_partition`` module does
all file and command I/O.

Policies (a *unit* gets ``count`` housekeeping cores, the rest is workload):

* ``per_l3``     one unit per L3 domain (the CCX on EPYC).  A machine whose sysfs
                 shows no L3 at all (Ampere Altra) falls back to ``per_numa``
                 with a warning, so one policy can serve a mixed fleet.
* ``per_numa``   one unit per NUMA node with CPUs; CPU-less (GPU HBM, CXL)
                 nodes are no unit.
* ``per_socket`` one unit per package.
* ``explicit``   the cores of ``cpus`` (expanded to whole cores, like Slurm
                 expands ``CpuSpecList``).

Inside a unit the housekeeping cores are the first ``count`` cores by first CPU
id, except that ``gpu_local_cpus=avoid`` puts cores that are not local to a GPU
first (and skips units that lie entirely in GPU-local CPUs, as long as one unit
does not), and ``gpu_local_cpus=prefer`` puts GPU-local cores first (device
interrupts, which ``irqaffinity=`` sends to housekeeping CPUs, then stay on the
GPU's NUMA node).

Slurm abstract CPU ids (``CpuSpecList``), as slurmd computes them with hwloc
(src/slurmd/common/xcpuinfo.c, ``xcpuinfo_hwloc_topo_get``)::

    for socket in packages (hwloc order), for core in the socket (hwloc order):
        for thread index t < ThreadsPerCore:
            abstract id = core_index * ThreadsPerCore + t      (os id = the t-th PU)

i.e. socket-major, cores in order, the threads of a core consecutive, with
``ThreadsPerCore = CPUs // cores``.  hwloc orders objects of one level by the
first CPU of their cpuset and numbers a level in tree order, so cores are
ordered by (package first CPU, L3 first CPU, core first CPU) and the PUs of a
core by OS id.  ``CpuSpecList`` is expanded by slurmd to whole abstract cores
and converted back with the same map (``xcpuinfo_abs_to_mac``); ``plan()``
replays that round trip and only returns a ``CpuSpecList`` that gives back
exactly the housekeeping CPUs.  ``CoreSpecCount`` lets Slurm pick the cores
(highest core of the highest socket first, or with
``SchedulerParameters=spec_cores_first`` the lowest core of the lowest socket
first, round-robin over sockets; doc/html/core_spec.shtml and slurmd's
``_select_spec_cores``); it is only returned when that choice equals the plan.

Memory: ``RealMemory = MemTotal (MiB) - margin`` (slurmd measures
``sysconf(_SC_PHYS_PAGES) * page size`` in float arithmetic and drains a node
configured above it), ``MemSpecLimit = memory reserve`` (carved out of
``RealMemory`` for the OS and slurmd).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hpcai.cluster.plugins.module_utils.cpulist import (
    format_cpulist,
    parse_cpulist,
)

__all__ = [
    "POLICIES",
    "GPU_MODES",
    "SLURM_SPEC_CHOICES",
    "DEFAULT_SLURM_SPEC",
    "DEFAULT_UNITS",
    "DROPIN_NAME",
    "DROPIN_DIR",
    "MARKER",
    "MIN_SYSTEMD",
    "CGROUP_CONF",
    "PartitionError",
    "Machine",
    "slurm_cpu_map",
    "slurm_spec_cores",
    "default_memory_reserve_mib",
    "default_real_memory_margin_mib",
    "plan",
    "validate_units",
    "unit_section",
    "render_dropin",
    "dropin_rel",
    "parse_systemd_version",
    "enforcement_status",
]

POLICIES = ("per_l3", "per_numa", "per_socket", "explicit")
GPU_MODES = ("ignore", "avoid", "prefer")
SLURM_SPEC_CHOICES = ("CpuSpecList", "CoreSpecCount", "MemSpecLimit")
DEFAULT_SLURM_SPEC = ("CpuSpecList", "MemSpecLimit")
DEFAULT_UNITS = ("user.slice", "init.scope")
DROPIN_NAME = "90-hpcai-cpus.conf"
DROPIN_DIR = "etc/systemd/system"
MARKER = "# Managed by hpcai.cluster.cgroup_partition"
MIN_SYSTEMD = 244

# cgroup.conf keys the partition needs (accepted by Slurm 22.05 and later).
CGROUP_CONF = {
    "CgroupPlugin": "autodetect",
    "ConstrainCores": "yes",
    "ConstrainRAMSpace": "yes",
    "ConstrainDevices": "yes",
}

# Default memory reserve (MemSpecLimit): 2% of MemTotal within [1 GiB, 16 GiB].
RESERVE_PERCENT = 2
RESERVE_MIN_MIB = 1024
RESERVE_MAX_MIB = 16384
# Default RealMemory margin below MemTotal: 1% within [128 MiB, 4 GiB].
MARGIN_PERCENT = 1
MARGIN_MIN_MIB = 128
MARGIN_MAX_MIB = 4096
RESERVE_MAX_PERCENT = 50

_UNIT_RE = re.compile(r"^[A-Za-z0-9:_.@\\-]+\.(service|slice|scope)$")
_FORBIDDEN_UNITS = {
    "system.slice": "slurmstepd scopes, and every Slurm job below them, live in system.slice: AllowedCPUs= "
                    "there would confine the jobs to the housekeeping CPUs too",
    "-.slice": "the root slice contains system.slice and with it every Slurm job",
    "slurmstepd.scope": "the Slurm job cgroups live below slurmstepd.scope",
}
_SYSTEMD_VERSION_RE = re.compile(r"^\s*systemd\s+(\d+)", re.MULTILINE)


class PartitionError(ValueError):
    """Bad input: the message names the option and the offending value."""


# --------------------------------------------------------------------------
# The machine as the planner sees it
# --------------------------------------------------------------------------


def _cpus(text, what):
    try:
        return parse_cpulist(text or "", source=what)
    except ValueError as exc:
        raise PartitionError("topology: %s" % exc)


class Machine(object):
    """Cores, packages, L3 domains and NUMA nodes of a ``hpcai_cpu_topology`` fact.

    ``cores`` is a list of sorted tuples of CPU ids in hwloc/Slurm order
    (package first CPU, L3 first CPU, core first CPU); ``core_index[cpu]`` is
    the position of the CPU's core in that list.
    """

    def __init__(self, topology):
        if not isinstance(topology, dict):
            raise PartitionError("topology must be the hpcai_cpu_topology fact (a dict), got %s"
                                 % type(topology).__name__)
        if topology.get("cores") is None:
            raise PartitionError(
                "topology has no 'cores' list (a fact gathered by an older hpcai.cluster.cpu_topology): "
                "gather it again or omit topology so the module reads the machine itself"
            )
        self.online = set(_cpus(topology.get("cpus_online"), "topology.cpus_online"))
        if not self.online:
            raise PartitionError("topology.cpus_online is empty")
        raw_cores = []
        seen = set()
        for i, text in enumerate(topology["cores"]):
            members = tuple(_cpus(text, "topology.cores[%d]" % i))
            if not members:
                raise PartitionError("topology.cores[%d] is empty" % i)
            if seen.intersection(members):
                raise PartitionError("topology.cores[%d] (%s) overlaps another core" % (i, text))
            seen.update(members)
            raw_cores.append(members)
        if seen != self.online:
            raise PartitionError(
                "topology.cores covers CPUs %s but cpus_online is %s"
                % (format_cpulist(seen), format_cpulist(self.online))
            )

        # packages
        self.socket_of = {}
        self.sockets = {}
        for entry in topology.get("sockets") or []:
            sid = entry["id"]
            members = set(_cpus(entry.get("cpus"), "topology.sockets[%s].cpus" % sid))
            self.sockets[sid] = members
            for cpu in members:
                self.socket_of[cpu] = sid
        if not self.sockets:
            self.sockets = {0: set(self.online)}
            self.socket_of = dict((cpu, 0) for cpu in self.online)
        missing = [c for c in self.online if c not in self.socket_of]
        if missing:
            raise PartitionError("topology.sockets does not list CPUs %s" % format_cpulist(missing))

        # L3 domains (index = position in the fact's list)
        self.l3 = []
        self.l3_of = {}
        for pos, entry in enumerate(topology.get("l3_domains") or []):
            index = entry.get("index", pos)
            members = set(_cpus(entry.get("cpus"), "topology.l3_domains[%s].cpus" % index))
            self.l3.append((index, members, entry))
            for cpu in members:
                self.l3_of.setdefault(cpu, index)

        # NUMA nodes with CPUs
        self.numa = []
        self.node_of = {}
        for entry in topology.get("numa_nodes") or []:
            members = set(_cpus(entry.get("cpus"), "topology.numa_nodes[%s].cpus" % entry.get("id")))
            if members:
                self.numa.append((entry["id"], members))
                for cpu in members:
                    self.node_of.setdefault(cpu, entry["id"])

        socket_first = dict((sid, min(members)) for sid, members in self.sockets.items() if members)
        l3_first = dict((index, min(members)) for index, members, dummy in self.l3 if members)

        def order(core):
            first = core[0]
            l3 = self.l3_of.get(first)
            return (socket_first[self.socket_of[first]], l3_first[l3] if l3 is not None else first, first)

        self.cores = sorted(raw_cores, key=order)
        self.core_index = {}
        for i, core in enumerate(self.cores):
            for cpu in core:
                self.core_index[cpu] = i
        # socket id -> core indexes in order; l3 index -> core indexes in order
        self.socket_cores = {}
        self.l3_cores = {}
        for i, core in enumerate(self.cores):
            self.socket_cores.setdefault(self.socket_of[core[0]], []).append(i)
            l3 = self.l3_of.get(core[0])
            if l3 is not None:
                self.l3_cores.setdefault(l3, []).append(i)
        self.socket_order = sorted(self.socket_cores, key=lambda sid: socket_first[sid])
        self.l3_order = sorted(self.l3_cores, key=lambda idx: l3_first[idx])
        self.restricted = bool(topology.get("restricted"))
        self.host_online = topology.get("cpus_online_host")
        self.memtotal_mib = _memtotal_mib(topology)


def _memtotal_mib(topology):
    kib = topology.get("memtotal_kib")
    if isinstance(kib, int) and kib > 0:
        return kib // 1024
    slurm = topology.get("slurm") or {}
    value = slurm.get("RealMemory")
    if isinstance(value, int) and value > 0:
        return value
    raise PartitionError("topology has neither memtotal_kib nor slurm.RealMemory: the memory size is unknown")


# --------------------------------------------------------------------------
# Slurm
# --------------------------------------------------------------------------


def slurm_cpu_map(machine):
    """Replay slurmd's hwloc block map for ``machine``.

    Returns ``(block_map, block_map_inv, threads, exact, notes)``: ``block_map``
    (abstract -> OS id) and ``block_map_inv`` (OS id -> abstract), both lists
    of ``CPUs`` entries initialised linearly and overwritten where the loop of
    ``xcpuinfo_hwloc_topo_get`` maps a PU, exactly like slurmd; ``exact`` is
    true when every usable CPU got its own abstract id (uniform SMT, CPU ids
    ``0..CPUs-1``, no container restriction).
    """
    total = len(machine.online)
    ncores = len(machine.cores)
    threads = max(total // ncores, 1)
    block = list(range(total))
    inv = list(range(total))
    mapped = set()
    for index, core in enumerate(machine.cores):
        for t in range(min(threads, len(core))):
            mac = core[t]
            absid = index * threads + t
            if mac >= total or absid >= total:
                continue
            block[absid] = mac
            inv[mac] = absid
            mapped.add(mac)
    notes = []
    sizes = set(len(core) for core in machine.cores)
    if len(sizes) > 1:
        notes.append(
            "cores have %s threads; slurmd assumes ThreadsPerCore=%d (CPUs // cores) for every core, so some "
            "CPUs get no abstract id of their own" % ("/".join(str(s) for s in sorted(sizes)), threads)
        )
    high = sorted(c for c in machine.online if c >= total)
    if high:
        notes.append(
            "CPU ids %s are >= CPUs (%d) because lower ids are offline; slurmd skips such ids when it builds "
            "its map" % (format_cpulist(high), total)
        )
    if machine.restricted:
        notes.append(
            "this topology is restricted to %s by a cpuset/affinity (a container?) while the host has %s online; "
            "slurmd's hwloc (HWLOC_TOPOLOGY_FLAG_WHOLE_SYSTEM) numbers every online CPU of the host, so this map "
            "only holds for an unrestricted slurmd" % (format_cpulist(machine.online), machine.host_online)
        )
    exact = not notes and mapped == machine.online
    return block, inv, threads, exact, notes


def _abs_to_mac(abs_ids, block, threads, total):
    """Machine CPUs slurmd reserves for abstract CPU ids (whole cores, xcpuinfo_abs_to_mac)."""
    out = set()
    for core in set(a // threads for a in abs_ids):
        for t in range(threads):
            out.add(block[(core * threads + t) % total])
    return out


def slurm_spec_cores(groups, cores_per_socket, count, first):
    """Core indexes slurmd reserves for ``CoreSpecCount=count`` (``_select_spec_cores``).

    ``groups``: per Slurm socket, the core indexes in abstract order.
    ``first``: ``SchedulerParameters=spec_cores_first``.
    """
    sockets = len(groups)
    core_range = range(cores_per_socket) if first else range(cores_per_socket - 1, -1, -1)
    sock_range = list(range(sockets)) if first else list(range(sockets - 1, -1, -1))
    picked = []
    for core in core_range:
        for sock in sock_range:
            if len(picked) == count:
                return picked
            picked.append(groups[sock][core])
    return picked


def _core_spec(machine, hk_cores):
    """``(CoreSpecCount, layout, requirements)`` reproducing ``hk_cores``, or raise."""
    count = len(hk_cores)
    if count >= len(machine.cores):
        raise PartitionError("CoreSpecCount=%d would reserve every core (slurmd rejects CoreSpecCount >= cores)"
                             % count)
    layouts = [("sockets", [machine.socket_cores[s] for s in machine.socket_order])]
    if machine.l3_order and sum(len(v) for v in machine.l3_cores.values()) == len(machine.cores):
        layouts.append(("l3_as_socket", [machine.l3_cores[i] for i in machine.l3_order]))
    tried = []
    for name, groups in layouts:
        sizes = set(len(g) for g in groups)
        if len(sizes) != 1:
            tried.append("%s: uneven cores per socket %s" % (name, sorted(sizes)))
            continue
        cps = sizes.pop()
        for first in (False, True):
            picked = set(slurm_spec_cores(groups, cps, count, first))
            label = "%s%s" % (name, ", spec_cores_first" if first else "")
            if picked == set(hk_cores):
                requires = {}
                if first:
                    requires["SchedulerParameters"] = "spec_cores_first"
                if name == "l3_as_socket":
                    requires["SlurmdParameters"] = "l3cache_as_socket"
                return count, name, requires
            tried.append("%s: cores of CPUs %s" % (
                label, format_cpulist(c for i in sorted(picked) for c in machine.cores[i])))
    raise PartitionError(
        "slurm_spec CoreSpecCount: Slurm picks the specialized cores itself and CoreSpecCount=%d would not "
        "give the housekeeping CPUs %s (%s); use CpuSpecList (the default) or a policy whose cores Slurm "
        "picks (per_socket or per_l3 with count cores from the start of each unit)"
        % (count, format_cpulist(c for i in hk_cores for c in machine.cores[i]), "; ".join(tried))
    )


def _node(machine, sockets, real_memory):
    cpus = len(machine.online)
    cores = len(machine.cores)
    sockets = max(sockets, 1)
    return {
        "CPUs": cpus,
        "Boards": 1,
        "SocketsPerBoard": sockets,
        "CoresPerSocket": max(cores // sockets, 1),
        "ThreadsPerCore": max(cpus // cores, 1),
        "RealMemory": real_memory,
    }


# --------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------


def default_memory_reserve_mib(memtotal_mib):
    """2% of MemTotal, at least 1 GiB, at most 16 GiB (never more than a quarter of MemTotal)."""
    value = memtotal_mib * RESERVE_PERCENT // 100
    value = min(max(value, RESERVE_MIN_MIB), RESERVE_MAX_MIB)
    return min(value, memtotal_mib // 4)


def default_real_memory_margin_mib(memtotal_mib):
    """1% of MemTotal, at least 128 MiB, at most 4 GiB."""
    return min(max(memtotal_mib * MARGIN_PERCENT // 100, MARGIN_MIN_MIB), MARGIN_MAX_MIB)


# --------------------------------------------------------------------------
# Units and GPUs
# --------------------------------------------------------------------------


def _gpu_cpus(machine, pci_devices, warnings):
    """(set of CPUs local to a GPU, [addresses]) from the hpcai_pci_devices fact."""
    cpus = set()
    addresses = []
    for i, dev in enumerate(pci_devices or []):
        if not isinstance(dev, dict):
            raise PartitionError("pci_devices[%d] must be a dict (an hpcai_pci_devices entry)" % i)
        if dev.get("kind", "gpu") != "gpu":
            continue
        address = dev.get("address") or "pci_devices[%d]" % i
        text = dev.get("local_cpus")
        if text is None:
            warnings.append("GPU %s has no local_cpus; it is not taken into account" % address)
            continue
        try:
            local = set(parse_cpulist(text, source="pci_devices[%d].local_cpus" % i))
        except ValueError as exc:
            raise PartitionError(str(exc))
        cpus.update(local & machine.online)
        addresses.append(address)
    return cpus, addresses


def _units(machine, policy):
    """[(name, kind, id, set of cpus, [core indexes])] for a per_* policy."""
    out = []
    if policy == "per_l3":
        for index in machine.l3_order:
            members = set(c for i in machine.l3_cores[index] for c in machine.cores[i])
            out.append(("l3:%d" % index, "l3", index, members, list(machine.l3_cores[index])))
    elif policy == "per_numa":
        by_node = {}
        for i, core in enumerate(machine.cores):
            node = machine.node_of.get(core[0])
            if node is not None:
                by_node.setdefault(node, []).append(i)
        for nid, members in machine.numa:
            if nid in by_node:
                out.append(("numa:%d" % nid, "numa", nid, set(members), by_node[nid]))
    else:
        for sid in machine.socket_order:
            members = set(c for i in machine.socket_cores[sid] for c in machine.cores[i])
            out.append(("socket:%d" % sid, "socket", sid, members, list(machine.socket_cores[sid])))
    return out


def _unit_entry(machine, name, kind, uid, members, core_idx, gpu_local, hk):
    first = min(members)
    return {
        "unit": name,
        "kind": kind,
        "id": uid,
        "cpus": format_cpulist(members),
        "cores": len(core_idx),
        "socket": machine.socket_of[first],
        "numa_nodes": sorted(set(machine.node_of[c] for c in members if c in machine.node_of)),
        "gpu_local": gpu_local,
        "housekeeping_cpus": format_cpulist(c for i in hk for c in machine.cores[i]),
    }


# --------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------


def plan(topology, policy="per_l3", count=1, cpus=None, memory_reserve_mib=None, memory_reserve_percent=None,
         real_memory_margin_mib=None, gpu_local_cpus="ignore", pci_devices=None, slurm_spec=DEFAULT_SLURM_SPEC):
    """Compute the partition; returns the ``hpcai_cgroup_partition`` fact without ``files``/``enforcement``.

    Raises ``PartitionError`` with a message naming the option for bad input.
    """
    warnings = []
    if policy not in POLICIES:
        raise PartitionError("policy must be one of %s, got %r" % (", ".join(POLICIES), policy))
    if gpu_local_cpus not in GPU_MODES:
        raise PartitionError("gpu_local_cpus must be one of %s, got %r" % (", ".join(GPU_MODES), gpu_local_cpus))
    spec = list(slurm_spec or [])
    bad = [s for s in spec if s not in SLURM_SPEC_CHOICES]
    if bad:
        raise PartitionError("slurm_spec: unknown %s (choices: %s)" % (", ".join(bad), ", ".join(SLURM_SPEC_CHOICES)))
    if "CpuSpecList" in spec and "CoreSpecCount" in spec:
        raise PartitionError(
            "slurm_spec: CpuSpecList and CoreSpecCount were both requested; Slurm rejects a node that has both "
            "(slurm.conf(5)): keep one"
        )
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise PartitionError("count must be an integer >= 1, got %r" % (count,))
    if cpus is not None and policy != "explicit":
        raise PartitionError("cpus is only used with policy=explicit (policy is %s)" % policy)
    if memory_reserve_mib is not None and memory_reserve_percent is not None:
        raise PartitionError("memory_reserve_mib and memory_reserve_percent are mutually exclusive")

    machine = Machine(topology)
    requested = policy
    if policy == "per_l3" and not machine.l3_order:
        policy = "per_numa"
        warnings.append(
            "policy per_l3: this machine exposes no L3 cache in sysfs (no cache/index*/level 3), so there are no "
            "L3 domains; using per_numa instead (one housekeeping unit per NUMA node)"
        )

    gpu_cpus, gpu_addresses = set(), []
    if gpu_local_cpus != "ignore":
        gpu_cpus, gpu_addresses = _gpu_cpus(machine, pci_devices, warnings)
        if not gpu_addresses:
            warnings.append("gpu_local_cpus=%s: no GPU with local CPUs was found; nothing to %s"
                            % (gpu_local_cpus, gpu_local_cpus))
        if policy == "explicit":
            warnings.append("gpu_local_cpus=%s is ignored with policy=explicit" % gpu_local_cpus)

    hk_cores = []
    units = []
    skipped = []
    if policy == "explicit":
        if cpus is None or not str(cpus).strip():
            raise PartitionError("policy=explicit needs cpus (a cpulist of housekeeping CPUs)")
        try:
            wanted = set(parse_cpulist(str(cpus), source="cpus"))
        except ValueError as exc:
            raise PartitionError(str(exc))
        unknown = sorted(wanted - machine.online)
        if unknown:
            raise PartitionError(
                "cpus: CPUs %s do not exist or are not online/usable on this machine (usable CPUs: %s)"
                % (format_cpulist(unknown), format_cpulist(machine.online))
            )
        hk_cores = sorted(set(machine.core_index[c] for c in wanted))
        whole = set(c for i in hk_cores for c in machine.cores[i])
        if whole != wanted:
            warnings.append(
                "cpus %s expanded to whole cores %s (SMT siblings stay together, as Slurm does for CpuSpecList)"
                % (format_cpulist(wanted), format_cpulist(whole))
            )
        units.append(_unit_entry(machine, "explicit", "explicit", None, whole, hk_cores,
                                 bool(whole & gpu_cpus), hk_cores))
    else:
        candidates = _units(machine, policy)
        if not candidates:
            raise PartitionError("policy %s: this machine has no such units" % policy)
        chosen = candidates
        if gpu_local_cpus == "avoid" and gpu_cpus:
            keep = [u for u in candidates if not u[3] <= gpu_cpus]
            if keep:
                for u in candidates:
                    if u[3] <= gpu_cpus:
                        skipped.append({"unit": u[0], "reason": "every CPU of it is local to a GPU (%s)"
                                                                % ", ".join(gpu_addresses)})
                chosen = keep
            else:
                warnings.append(
                    "gpu_local_cpus=avoid: every %s unit is local to a GPU (%s); housekeeping cores are placed "
                    "in all of them" % (policy, ", ".join(gpu_addresses))
                )

        def rank(i):
            local = bool(gpu_cpus.intersection(machine.cores[i]))
            if gpu_local_cpus == "avoid":
                return (local, machine.cores[i][0])
            if gpu_local_cpus == "prefer":
                return (not local, machine.cores[i][0])
            return (False, machine.cores[i][0])

        for name, kind, uid, members, core_idx in chosen:
            if count > len(core_idx):
                raise PartitionError(
                    "count=%d is larger than the %d core(s) of %s (CPUs %s); the smallest %s unit has %d"
                    % (count, len(core_idx), name, format_cpulist(members), policy,
                       min(len(u[4]) for u in chosen))
                )

            picked = sorted(sorted(core_idx, key=rank)[:count])
            hk_cores.extend(picked)
            units.append(_unit_entry(machine, name, kind, uid, members, core_idx,
                                     bool(members <= gpu_cpus) if gpu_cpus else False, picked))
        hk_cores = sorted(set(hk_cores))

    hk = set(c for i in hk_cores for c in machine.cores[i])
    workload = machine.online - hk
    if not workload:
        raise PartitionError(
            "the housekeeping cores (%s) would take every usable CPU; no workload CPUs would be left for jobs: "
            "lower count or choose a coarser policy" % format_cpulist(hk)
        )

    # ---- memory ------------------------------------------------------------
    memtotal = machine.memtotal_mib
    if real_memory_margin_mib is None:
        margin = default_real_memory_margin_mib(memtotal)
        margin_source = "default: 1% of MemTotal within [128 MiB, 4 GiB]"
    else:
        if real_memory_margin_mib < 0:
            raise PartitionError("real_memory_margin_mib must be >= 0, got %d" % real_memory_margin_mib)
        margin = real_memory_margin_mib
        margin_source = "real_memory_margin_mib"
    real_memory = memtotal - margin
    if real_memory < 1:
        raise PartitionError("real_memory_margin_mib=%d leaves no memory (MemTotal %d MiB)" % (margin, memtotal))
    if memory_reserve_mib is not None:
        if memory_reserve_mib < 0:
            raise PartitionError("memory_reserve_mib must be >= 0, got %d" % memory_reserve_mib)
        reserve = memory_reserve_mib
        reserve_source = "memory_reserve_mib"
    elif memory_reserve_percent is not None:
        if not 0 <= memory_reserve_percent <= RESERVE_MAX_PERCENT:
            raise PartitionError("memory_reserve_percent must be within [0, %d], got %s"
                                 % (RESERVE_MAX_PERCENT, memory_reserve_percent))
        reserve = int(memtotal * memory_reserve_percent // 100)
        reserve_source = "memory_reserve_percent=%s of MemTotal" % memory_reserve_percent
    else:
        reserve = default_memory_reserve_mib(memtotal)
        reserve_source = "default: 2% of MemTotal within [1 GiB, 16 GiB]"
    if reserve >= real_memory:
        raise PartitionError(
            "memory reserve %d MiB (%s) is not below RealMemory %d MiB (MemTotal %d MiB - margin %d MiB); "
            "MemSpecLimit must be less than RealMemory" % (reserve, reserve_source, real_memory, memtotal, margin)
        )

    # ---- Slurm ---------------------------------------------------------------
    block, inv, threads, exact, notes = slurm_cpu_map(machine)
    total = len(machine.online)
    abstract_map = dict((str(cpu), inv[cpu]) for cpu in sorted(machine.online) if cpu < total)
    cpu_spec_list = None
    core_spec_count = None
    core_spec_layout = None
    slurm_conf = {
        "TaskPlugin": "task/cgroup,task/affinity",
        "ProctrackType": "proctrack/cgroup",
    }
    if "CpuSpecList" in spec:
        if machine.restricted:
            warnings.append("CpuSpecList not computed: " + notes[-1])
        elif all(c < total for c in hk):
            abs_ids = sorted(inv[c] for c in hk)
            if _abs_to_mac(abs_ids, block, threads, total) == hk:
                cpu_spec_list = format_cpulist(abs_ids)
            else:
                warnings.append(
                    "CpuSpecList not computed: slurmd would turn the abstract ids %s into CPUs %s, not the "
                    "housekeeping CPUs %s (%s)" % (format_cpulist(abs_ids),
                                                   format_cpulist(_abs_to_mac(abs_ids, block, threads, total)),
                                                   format_cpulist(hk), "; ".join(notes))
                )
        else:
            warnings.append("CpuSpecList not computed: housekeeping CPUs %s have no abstract id (%s)"
                            % (format_cpulist(c for c in hk if c >= total), "; ".join(notes)))
    if "CoreSpecCount" in spec:
        if not exact:
            raise PartitionError("slurm_spec CoreSpecCount: slurmd's core numbering is irregular on this machine "
                                 "(%s)" % "; ".join(notes))
        core_spec_count, core_spec_layout, requires = _core_spec(machine, hk_cores)
        slurm_conf.update(requires)
    mem_spec_limit = reserve if ("MemSpecLimit" in spec and reserve > 0) else None
    if mem_spec_limit is not None:
        slurm_conf["SelectTypeParameters"] = "CR_Core_Memory"

    l3_sockets = len(machine.l3_order) if machine.l3_order else len(machine.socket_order)
    slurm = {
        "CpuSpecList": cpu_spec_list,
        "CoreSpecCount": core_spec_count,
        "MemSpecLimit": mem_spec_limit,
        "abstract_cpu_map": abstract_map,
        "abstract_map_exact": exact,
        "abstract_map_notes": notes,
        "core_spec_layout": core_spec_layout,
        "node": _node(machine, len(machine.socket_order), real_memory),
        "node_l3_as_socket": _node(machine, l3_sockets, real_memory),
        "cgroup_conf": dict(CGROUP_CONF),
        "slurm_conf": slurm_conf,
    }

    hk_text = format_cpulist(hk)
    workload_text = format_cpulist(workload)
    return {
        "policy": policy,
        "policy_requested": requested,
        "count": count if policy != "explicit" else None,
        "cpus_online": format_cpulist(machine.online),
        "housekeeping_cpus": hk_text,
        "workload_cpus": workload_text,
        "irqbalance_banned_cpus": workload_text,
        "irqaffinity": hk_text,
        "housekeeping_cores": len(hk_cores),
        "workload_cores": len(machine.cores) - len(hk_cores),
        "units": units,
        "units_skipped": skipped,
        "gpu_local_cpus": gpu_local_cpus,
        "gpu_cpus": format_cpulist(gpu_cpus),
        "memtotal_mib": memtotal,
        "memory_reserve_mib": reserve,
        "memory_reserve_source": reserve_source,
        "real_memory_margin_mib": margin,
        "real_memory_margin_source": margin_source,
        "slurm": slurm,
        "warnings": warnings,
    }


# --------------------------------------------------------------------------
# systemd
# --------------------------------------------------------------------------


def validate_units(services):
    """``DEFAULT_UNITS`` plus ``services`` (deduplicated, order kept); raise for bad or forbidden names."""
    out = list(DEFAULT_UNITS)
    for i, name in enumerate(services or []):
        if not isinstance(name, str) or not _UNIT_RE.match(name):
            raise PartitionError(
                "services[%d]: %r is not a systemd unit name ending in .service, .slice or .scope" % (i, name)
            )
        if name in _FORBIDDEN_UNITS:
            raise PartitionError("services[%d]: %s must not be restricted: %s" % (i, name, _FORBIDDEN_UNITS[name]))
        if name not in out:
            out.append(name)
    return out


def unit_section(unit):
    """``Slice``, ``Scope`` or ``Service``: the drop-in section for the unit type."""
    return {"slice": "Slice", "scope": "Scope", "service": "Service"}[unit.rsplit(".", 1)[1]]


def dropin_rel(unit):
    """Drop-in path relative to the destination root."""
    return "%s/%s.d/%s" % (DROPIN_DIR, unit, DROPIN_NAME)


def render_dropin(unit, housekeeping_cpus, policy):
    """The drop-in text for ``unit`` (stable: no sizes or dates, so a rerun compares equal)."""
    return (
        "%s (policy %s): keep %s on the housekeeping CPUs;\n"
        "# the other CPUs are left to Slurm jobs. Do not edit, the next run rewrites this file.\n"
        "[%s]\n"
        "AllowedCPUs=%s\n" % (MARKER, policy, unit, unit_section(unit), housekeeping_cpus)
    )


def parse_systemd_version(text):
    """Major version from ``systemctl --version`` output (``systemd 252 (252-46.el9)``), ``None`` if absent."""
    match = _SYSTEMD_VERSION_RE.search(text or "")
    return int(match.group(1)) if match else None


def enforcement_status(controllers, hybrid, cgroup_dir, systemd_running, systemd_version, container,
                       version_error=None, root="/"):
    """Can systemd enforce ``AllowedCPUs=`` here?  Returns the ``enforcement`` dict.

    ``controllers``: text of ``<root>/sys/fs/cgroup/cgroup.controllers`` or ``None``
    (not the unified hierarchy); ``hybrid``: ``<root>/sys/fs/cgroup/unified``
    exists; ``cgroup_dir``: ``<root>/sys/fs/cgroup`` exists; ``systemd_running``:
    ``<root>/run/systemd/system`` exists (sd_booted); ``systemd_version``: int
    or ``None``; ``container``: runtime name or ``None``.
    """
    prefix = root.rstrip("/") if root and root != "/" else ""
    reasons = []
    if controllers is not None:
        cgroup = "v2"
    elif hybrid:
        cgroup = "hybrid"
    elif cgroup_dir:
        cgroup = "v1"
    else:
        cgroup = None
    available = sorted((controllers or "").split())
    cpuset = "cpuset" in available
    where = "%s/sys/fs/cgroup" % prefix
    if cgroup is None:
        reasons.append("no cgroup hierarchy at %s" % where)
    elif cgroup != "v2":
        reasons.append(
            "%s is a cgroup %s hierarchy (%s); AllowedCPUs= works only on the unified (v2) hierarchy "
            "(systemd.resource-control(5))"
            % (where, "v1" if cgroup == "v1" else "hybrid",
               "legacy controllers" if cgroup == "v1" else "v1 controllers plus a controller-less cgroup2 at "
                                                           "%s/unified" % where)
        )
    elif not cpuset:
        reasons.append(
            "the cpuset controller is not available in %s/cgroup.controllers (%s)%s"
            % (where, " ".join(available) or "empty",
               ": it is not delegated to this container" if container else "")
        )
    if not systemd_running:
        reasons.append("systemd is not the running init system (no %s/run/systemd/system)" % prefix)
    if systemd_version is None:
        reasons.append("systemd version unknown%s" % (": %s" % version_error if version_error else ""))
    elif systemd_version < MIN_SYSTEMD:
        reasons.append("systemd %d is older than %d, the first version with AllowedCPUs="
                       % (systemd_version, MIN_SYSTEMD))
    reason = None
    if reasons:
        reason = "; ".join(reasons)
        if container:
            reason = "inside a %s container (it shares the host's cgroup setup): %s" % (container, reason)
        reason += ". Nothing is enforced; the plan, Slurm values and irqbalance/irqaffinity CPUs are still returned"
    return {
        "allowed_cpus": not reasons,
        "reason": reason,
        "cgroup": cgroup,
        "cpuset_controller": cpuset,
        "controllers": available,
        "systemd_running": bool(systemd_running),
        "systemd_version": systemd_version,
        "container": container,
    }
