# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPU / NUMA / L3 topology from sysfs and procfs (pure Python, 3.8+).

Layers:

* ``SysfsReader`` - the only code that touches the file system.  It reads
  files relative to a ``root`` directory, caches every read and turns missing or
  unreadable files into ``None``.
* ``parse_*`` helpers - pure text parsers.
* ``collect(reader, allowed)`` - builds the ``hpcai_cpu_topology`` fact from a
  reader (pure given the reader).
* ``gather(root)`` - convenience wrapper: reader + CPU-affinity/cgroup
  restriction + ``collect``.

Rules (see docs/design.md, "Module contract: cpu_topology"):

* Only *usable* CPUs count: online (``cpu/online``; per-CPU ``cpuN/online``
  files only when ``cpu/online`` is missing, ``cpu0`` usually has none) and
  allowed: ``cpuset.cpus.effective`` (cgroup v2) or ``cpuset/cpuset.effective_cpus``
  (v1) under ``root`` when present, plus ``sched_getaffinity`` for the live
  ``/`` root when running inside a container (see ``gather``).
* Cores are keyed by ``(physical_package_id, core_cpus_list)``
  (``thread_siblings_list`` on kernels without ``core_cpus_list``), never by
  ``core_id``.  Shared lists are parsed once and every sibling named in a list
  is assigned without reading its own files again.
* L3 domains are found by scanning ``cache/index*/level == 3`` with type
  ``Unified`` (the index number is not trusted) and de-duplicated by
  ``shared_cpu_list`` (the cache ``id`` file is optional: old kernels lack it).
* NUMA nodes come from ``node/nodeN``; CPU-less (memory-only) nodes are kept.
  No ``node/`` directory (non-NUMA kernel) = one node 0 with all CPUs and
  ``MemTotal``.

Fatal problems raise ``TopologyError`` (missing CPU tree, no online CPUs,
unparseable shared lists, no ``MemTotal``).  Missing optional data gives a
documented partial result plus a human-readable entry in ``warnings``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re

from ansible_collections.hpcai.cluster.plugins.module_utils.cpulist import (
    format_cpulist,
    parse_cpulist,
    parse_cpumask,
)
from ansible_collections.hpcai.cluster.plugins.module_utils.amd_generations import (
    amd_codename,
    arm_vendor,
    generation_for,
)

__all__ = [
    "TopologyError",
    "SysfsReader",
    "parse_cpuinfo",
    "parse_cpuinfo_processors",
    "parse_meminfo_kib",
    "parse_distance",
    "allowed_cpus",
    "detect_container",
    "collect",
    "gather",
    "CPU_DIR",
    "NODE_DIR",
    "CPUINFO",
    "MEMINFO",
]

CPU_DIR = "sys/devices/system/cpu"
NODE_DIR = "sys/devices/system/node"
CPUINFO = "proc/cpuinfo"
MEMINFO = "proc/meminfo"
CGROUP_CPUSET_FILES = (
    "sys/fs/cgroup/cpuset.cpus.effective",  # cgroup v2 (the process' namespace root)
    "sys/fs/cgroup/cpuset/cpuset.effective_cpus",  # cgroup v1
    "sys/fs/cgroup/cpuset/cpuset.cpus",  # cgroup v1 on kernels without effective_cpus
)

# The first processor block of /proc/cpuinfo is all the summary needs.  On the
# real procfs, reading only the head avoids generating (and on some kernels,
# sampling APERF/MPERF for) every one of hundreds of CPUs.
CPUINFO_HEAD_BYTES = 65536

_CPU_NAME_RE = re.compile(r"^cpu(\d+)$")
_NODE_NAME_RE = re.compile(r"^node(\d+)$")
_INDEX_NAME_RE = re.compile(r"^index(\d+)$")
_MEMTOTAL_RE = re.compile(r"^(?:Node\s+\d+\s+)?MemTotal:\s*(\d+)\s*(kB)?\s*$", re.MULTILINE)


class TopologyError(Exception):
    """The tree is missing or too broken to describe the machine."""


class SysfsReader(object):
    """Read-only, caching access to files below ``root``.

    ``read`` returns the file's text or ``None`` when it does not exist or cannot
    be read (ENOENT, EACCES, EISDIR, ENODEV ... all mean "not available" here).
    """

    # Read errors that mean a broken tree rather than "not available here": they are
    # recorded in ``problems`` ("<path>: <reason>") for the callers' warnings.
    PROBLEM_ERRNOS = (errno.EACCES, errno.EPERM, errno.ELOOP)

    def __init__(self, root="/"):
        self.root = root or "/"
        self._files = {}
        self._dirs = {}
        self.reads = 0  # number of real file reads (for tests / profiling)
        self.problems = []

    def _problem(self, rel, exc):
        if getattr(exc, "errno", None) in self.PROBLEM_ERRNOS:
            text = "%s: %s" % (os.path.join(self.root, rel), os.strerror(exc.errno))
            if text not in self.problems:
                self.problems.append(text)

    def path(self, rel):
        return os.path.join(self.root, rel)

    def read(self, rel):
        try:
            return self._files[rel]
        except KeyError:
            pass
        self.reads += 1
        try:
            with open(os.path.join(self.root, rel), "rb") as handle:
                data = handle.read()
        except (IOError, OSError) as exc:
            self._problem(rel, exc)
            data = None
        text = data.decode("utf-8", "replace") if data is not None else None
        self._files[rel] = text
        return text

    def read_head(self, rel, size):
        """First ``size`` bytes of a file, cut at the last complete line."""
        key = (rel, size)
        if key in self._files:
            return self._files[key]
        if rel in self._files:
            return self._files[rel]
        self.reads += 1
        try:
            with open(os.path.join(self.root, rel), "rb") as handle:
                data = handle.read(size)
                truncated = len(data) == size and handle.read(1) != b""
        except (IOError, OSError) as exc:
            self._problem(rel, exc)
            data = None
            truncated = False
        if data is None:
            text = None
        else:
            if truncated and b"\n" in data:
                data = data[: data.rindex(b"\n") + 1]
            text = data.decode("utf-8", "replace")
        if not truncated:
            self._files[rel] = text
        self._files[key] = text
        return text

    def listdir(self, rel):
        try:
            return self._dirs[rel]
        except KeyError:
            pass
        try:
            names = os.listdir(os.path.join(self.root, rel))
        except (IOError, OSError) as exc:
            self._problem(rel, exc)
            names = None
        self._dirs[rel] = names
        return names

    def isdir(self, rel):
        return os.path.isdir(os.path.join(self.root, rel))

    def exists(self, rel):
        return os.path.lexists(os.path.join(self.root, rel))

    def readlink(self, rel):
        """Target text of the symlink ``rel`` (not resolved), ``None`` when it is not a link."""
        key = ("readlink", rel)
        try:
            return self._files[key]
        except KeyError:
            pass
        try:
            target = os.readlink(os.path.join(self.root, rel))
        except (IOError, OSError, ValueError):
            target = None
        self._files[key] = target
        return target


# --------------------------------------------------------------------------
# Pure parsers
# --------------------------------------------------------------------------


def _int_auto(text):
    """int from decimal or 0x-hex text, None on failure."""
    if text is None:
        return None
    text = text.strip()
    try:
        if text.lower().startswith("0x"):
            return int(text, 16)
        return int(text, 10)
    except ValueError:
        return None


def _first_block(text):
    """Key/value pairs of the first processor block of /proc/cpuinfo."""
    fields = {}
    started = False
    for line in text.splitlines():
        if not line.strip():
            if started:
                break
            continue
        if ":" not in line:
            continue
        key, dummy, value = line.partition(":")
        key = key.strip().lower()
        value = value.strip()
        started = True
        if key not in fields:
            fields[key] = value
    return fields


def parse_cpuinfo(text):
    """Summarise /proc/cpuinfo (first processor block, plus global lines).

    Returns a dict: vendor, cpu_family, model, model_name, is_arm,
    cpu_implementer, cpu_part.  ``text`` may be ``None`` (missing file).
    """
    result = {
        "vendor": "unknown",
        "cpu_family": None,
        "model": None,
        "model_name": None,
        "is_arm": False,
        "cpu_implementer": None,
        "cpu_part": None,
    }
    if not text:
        return result
    fields = _first_block(text)
    if "cpu implementer" not in fields:
        # Old arm64 kernels print the "CPU implementer" lines after all the
        # "processor" lines, i.e. outside the first block.
        match = re.search(r"^CPU implementer\s*:\s*(\S+)", text, re.MULTILINE)
        if match:
            fields["cpu implementer"] = match.group(1)
            match = re.search(r"^CPU part\s*:\s*(\S+)", text, re.MULTILINE)
            if match:
                fields["cpu part"] = match.group(1)
    if "cpu implementer" in fields:
        implementer = _int_auto(fields.get("cpu implementer"))
        result["is_arm"] = True
        result["cpu_implementer"] = implementer
        result["cpu_part"] = _int_auto(fields.get("cpu part"))
        result["vendor"] = arm_vendor(implementer)
        name = fields.get("model name")
        result["model_name"] = name if name else None
        return result
    vendor = fields.get("vendor_id")
    if vendor:
        result["vendor"] = vendor
    result["cpu_family"] = _int_auto(fields.get("cpu family"))
    result["model"] = _int_auto(fields.get("model"))
    name = fields.get("model name")
    result["model_name"] = name if name else None
    return result


def parse_cpuinfo_processors(text):
    """``{cpu: (physical_id, core_id)}`` from every x86 processor block.

    Used only as a fallback when an online CPU has no ``topology/`` directory.
    Values are ``None`` where the lines are absent.
    """
    result = {}
    if not text:
        return result
    cpu = phys = core = None
    for line in text.splitlines() + [""]:
        if not line.strip():
            if cpu is not None:
                result[cpu] = (phys, core)
            cpu = phys = core = None
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        if key == "processor":
            cpu = _int_auto(value)
        elif key == "physical id":
            phys = _int_auto(value)
        elif key == "core id":
            core = _int_auto(value)
    return result


def parse_meminfo_kib(text):
    """MemTotal in kB from /proc/meminfo or nodeN/meminfo; ``None`` if absent."""
    if not text:
        return None
    match = _MEMTOTAL_RE.search(text)
    if not match:
        return None
    return int(match.group(1))


def parse_distance(text, source=None):
    """Space separated ints of ``nodeN/distance``."""
    if text is None:
        return []
    try:
        return [int(x) for x in text.split()]
    except ValueError:
        raise ValueError("invalid NUMA distance list in %s: %r" % (source or "distance", text.strip()[:60]))


# --------------------------------------------------------------------------
# Restriction (containers)
# --------------------------------------------------------------------------


_CONTAINER_CGROUP_RE = re.compile(r"(docker|kubepods|libpod|lxc|containerd|crio|cri-containerd|garden|actions_job)")


def detect_container(reader, environ=None):
    """Name of the container runtime this process runs in, or ``None`` (a host).

    Markers: ``/.dockerenv`` (Docker), ``/run/.containerenv`` (Podman),
    ``container=`` in PID 1's environment (LXC, systemd-nspawn, Podman),
    ``KUBERNETES_SERVICE_HOST`` in the environment, and container runtime
    names in ``/proc/self/cgroup`` (cgroup v1, or v2 without a cgroup namespace).
    """
    if reader.exists(".dockerenv"):
        return "docker"
    if reader.exists("run/.containerenv"):
        return "podman"
    env1 = reader.read("proc/1/environ")
    if env1:
        for item in env1.split("\0"):
            if item.startswith("container="):
                return item.split("=", 1)[1].strip() or "container"
    if environ is not None and environ.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes"
    cgroup = reader.read("proc/self/cgroup")
    if cgroup:
        match = _CONTAINER_CGROUP_RE.search(cgroup)
        if match:
            return match.group(1)
    return None


def allowed_cpus(reader, affinity=None):
    """CPUs this process may use, as ``(set or None, [source, ...])``.

    ``affinity`` (a set, e.g. ``os.sched_getaffinity(0)``) is intersected in when
    given.  The first existing, non-empty cgroup cpuset file under the reader's
    root is intersected in too: ``sys/fs/cgroup/cpuset.cpus.effective`` is the
    cgroup-namespace root, i.e. the container's limit inside a container and all
    CPUs on a host.  ``None`` = no restriction source (all online CPUs usable).
    """
    allowed = None
    sources = []
    if affinity is not None:
        allowed = set(affinity)
        sources.append("sched_getaffinity")
    for rel in CGROUP_CPUSET_FILES:
        text = reader.read(rel)
        if text is None or not text.strip():
            continue
        try:
            cpus = set(parse_cpulist(text, source=reader.path(rel)))
        except ValueError as exc:
            raise TopologyError(str(exc))
        allowed = cpus if allowed is None else (allowed & cpus)
        sources.append("/" + rel)
        break
    return allowed, sources


# --------------------------------------------------------------------------
# Collection
# --------------------------------------------------------------------------


class _ListCache(object):
    """Parse each distinct cpulist / cpumask text once."""

    def __init__(self):
        self._lists = {}
        self._masks = {}

    def cpulist(self, text, source):
        try:
            return self._lists[text]
        except KeyError:
            pass
        try:
            value = frozenset(parse_cpulist(text, source=source))
        except ValueError as exc:
            raise TopologyError(str(exc))
        self._lists[text] = value
        return value

    def cpumask(self, text, source):
        try:
            return self._masks[text]
        except KeyError:
            pass
        try:
            value = frozenset(parse_cpumask(text, source=source))
        except ValueError as exc:
            raise TopologyError(str(exc))
        self._masks[text] = value
        return value


def _read_online(reader, warnings):
    rel = CPU_DIR + "/online"
    text = reader.read(rel)
    if text is not None:
        try:
            online = parse_cpulist(text, source=reader.path(rel))
        except ValueError as exc:
            raise TopologyError(str(exc))
        if online:
            return set(online)
        warnings.append("%s is empty; falling back to per-CPU online files" % reader.path(rel))
    names = reader.listdir(CPU_DIR) or []
    online = set()
    for name in names:
        match = _CPU_NAME_RE.match(name)
        if not match:
            continue
        cpu = int(match.group(1))
        flag = reader.read("%s/%s/online" % (CPU_DIR, name))
        if flag is not None:
            if flag.strip() == "1":
                online.add(cpu)
        elif reader.isdir("%s/%s/topology" % (CPU_DIR, name)):
            # cpu0 (and CPUs that cannot be hot-unplugged) have no online file.
            online.add(cpu)
    return online


def _scan_l3(reader, cpu, lists, index_hint, bad=None):
    """Return (shared_set, cache_id, size_kib, index_name) for the CPU's L3 or None.

    ``bad`` (a list) collects the paths of level/size files whose text is not understood."""
    bad = [] if bad is None else bad
    base = "%s/cpu%d/cache" % (CPU_DIR, cpu)
    names = []
    if index_hint is not None:
        names.append(index_hint)
    listing = reader.listdir(base)
    if listing is None:
        return None
    others = []
    for name in listing:
        match = _INDEX_NAME_RE.match(name)
        if match and name != index_hint:
            others.append((int(match.group(1)), name))
    others.sort()
    names.extend(item[1] for item in others)
    for name in names:
        level = reader.read("%s/%s/level" % (base, name))
        if level is not None and not level.strip().isdigit():
            bad.append(reader.path("%s/%s/level" % (base, name)))
        if level is None or level.strip() != "3":
            continue
        ctype = reader.read("%s/%s/type" % (base, name))
        if ctype is not None and ctype.strip() != "Unified":
            continue
        rel = "%s/%s/shared_cpu_list" % (base, name)
        text = reader.read(rel)
        if text is not None:
            shared = lists.cpulist(text, reader.path(rel))
        else:
            rel = "%s/%s/shared_cpu_map" % (base, name)
            text = reader.read(rel)
            shared = lists.cpumask(text, reader.path(rel)) if text is not None else frozenset()
        if cpu not in shared:
            shared = shared | frozenset([cpu])
        cache_id = _int_auto(reader.read("%s/%s/id" % (base, name)))
        size_text = reader.read("%s/%s/size" % (base, name))
        size_kib = _parse_size_kib(size_text)
        if size_text is not None and size_kib is None:
            bad.append(reader.path("%s/%s/size" % (base, name)))
        return shared, cache_id, size_kib, name
    return None


def _parse_size_kib(text):
    if not text:
        return None
    text = text.strip()
    match = re.match(r"^(\d+)\s*([KMG]?)$", text)
    if not match:
        return None
    value = int(match.group(1))
    unit = match.group(2)
    if unit == "M":
        value *= 1024
    elif unit == "G":
        value *= 1024 * 1024
    elif unit == "":
        value //= 1024
    return value


def _slurm(cpus, sockets, cores, memory_mib):
    """Slurm node figures computed the way slurmd (xcpuinfo.c) does.

    ThreadsPerCore = CPUs // cores and CoresPerSocket = cores // sockets
    (integer division, like slurmd, so a heterogeneous node is never described
    with more resources than slurmd will register).
    """
    sockets = max(sockets, 1)
    cores = max(cores, 1)
    return {
        "CPUs": cpus,
        "Boards": 1,
        "SocketsPerBoard": sockets,
        "CoresPerSocket": max(cores // sockets, 1),
        "ThreadsPerCore": max(cpus // cores, 1),
        "RealMemory": memory_mib,
    }


def collect(reader, allowed=None, allowed_sources=None):
    """Build the ``hpcai_cpu_topology`` fact from ``reader``.

    ``allowed``: set of CPU ids this process may use, or None (no restriction).
    """
    warnings = []
    lists = _ListCache()

    if not reader.isdir(CPU_DIR):
        raise TopologyError("%s: not found (is root a Linux system tree?)" % reader.path(CPU_DIR))

    # ---- online / offline / usable ---------------------------------------
    host_online = _read_online(reader, warnings)
    if not host_online:
        raise TopologyError("no online CPUs found under %s" % reader.path(CPU_DIR))

    present_text = reader.read(CPU_DIR + "/present")
    if present_text is not None:
        try:
            present = set(parse_cpulist(present_text, source=reader.path(CPU_DIR + "/present")))
        except ValueError as exc:
            raise TopologyError(str(exc))
        offline = present - host_online
    else:
        offline_text = reader.read(CPU_DIR + "/offline")
        try:
            offline = set(parse_cpulist(offline_text, source=reader.path(CPU_DIR + "/offline")))
        except ValueError as exc:
            raise TopologyError(str(exc))

    usable = set(host_online)
    if allowed is not None:
        restricted = host_online & set(allowed)
        if restricted:
            usable = restricted
        else:
            warnings.append(
                "allowed CPU set %s (%s) does not intersect the online CPUs %s; ignoring it"
                % (format_cpulist(allowed), ", ".join(allowed_sources or []), format_cpulist(host_online))
            )
            allowed = None
    usable_sorted = sorted(usable)

    # ---- cpuinfo ---------------------------------------------------------
    cpuinfo_text = reader.read_head(CPUINFO, CPUINFO_HEAD_BYTES)
    if cpuinfo_text is None:
        warnings.append("%s not readable: vendor/family/model unknown" % reader.path(CPUINFO))
    info = parse_cpuinfo(cpuinfo_text)
    if cpuinfo_text is not None and info["vendor"] == "unknown" and info["cpu_family"] is None and not info["is_arm"]:
        warnings.append("%s has no vendor_id / cpu family / model lines that could be read: vendor/family/model unknown"
                        % reader.path(CPUINFO))

    # ---- cores and packages ----------------------------------------------
    core_of = {}  # cpu -> core key
    pkg_of = {}  # cpu -> package id
    cpuinfo_map = None
    no_topology = []
    for cpu in usable_sorted:
        if cpu in core_of:
            continue
        base = "%s/cpu%d/topology/" % (CPU_DIR, cpu)
        sib_rel = base + "core_cpus_list"
        sib_text = reader.read(sib_rel)
        if sib_text is None:
            sib_rel = base + "thread_siblings_list"
            sib_text = reader.read(sib_rel)
        siblings = None
        if sib_text is not None:
            siblings = lists.cpulist(sib_text, reader.path(sib_rel))
        else:
            mask_rel = base + "thread_siblings"
            mask_text = reader.read(mask_rel)
            if mask_text is not None:
                siblings = lists.cpumask(mask_text, reader.path(mask_rel))
        pkg_rel = base + "physical_package_id"
        pkg_text = reader.read(pkg_rel)
        pkg = None
        if pkg_text is not None:
            pkg = _int_auto(pkg_text)
            if pkg is None:
                raise TopologyError("invalid %s: %r" % (reader.path(pkg_rel), pkg_text.strip()[:60]))
            if pkg < 0:
                pkg = 0  # arm64 without PPTT/DT package info reports -1
        if siblings is None and pkg is None:
            # No topology/ for an online CPU: masked sysfs or a very odd kernel.
            if cpuinfo_map is None:
                cpuinfo_map = parse_cpuinfo_processors(reader.read(CPUINFO))
            phys, core_id = cpuinfo_map.get(cpu, (None, None))
            no_topology.append(cpu)
            pkg = phys if phys is not None and phys >= 0 else 0
            if core_id is not None:
                key = (pkg, "cpuinfo-core", core_id)
            else:
                key = (pkg, frozenset([cpu]))
            core_of[cpu] = key
            pkg_of[cpu] = pkg
            continue
        if pkg is None:
            pkg = 0
            warnings.append("%s missing; assuming package 0" % reader.path(pkg_rel))
        if siblings is None:
            siblings = frozenset([cpu])
        elif cpu not in siblings:
            siblings = siblings | frozenset([cpu])
        key = (pkg, siblings)
        for sib in siblings:
            if sib in usable and sib not in core_of:
                core_of[sib] = key
                pkg_of[sib] = pkg
        if cpu not in core_of:
            core_of[cpu] = key
            pkg_of[cpu] = pkg
    if no_topology:
        warnings.append(
            "online CPUs %s have no topology/ directory; cores taken from %s "
            "(physical id, core id) where available, else one core per CPU"
            % (format_cpulist(no_topology), reader.path(CPUINFO))
        )

    cores = {}
    for cpu in usable_sorted:
        cores.setdefault(core_of[cpu], []).append(cpu)
    sockets = {}
    for key, members in cores.items():
        entry = sockets.setdefault(pkg_of[members[0]], {"cpus": [], "cores": 0})
        entry["cpus"].extend(members)
        entry["cores"] += 1

    # ---- L3 domains --------------------------------------------------------
    l3_of = {}
    domains = {}
    index_hint = None
    no_l3 = []
    bad_cache = []
    for cpu in usable_sorted:
        if cpu in l3_of:
            continue
        found = _scan_l3(reader, cpu, lists, index_hint, bad_cache)
        if found is None:
            no_l3.append(cpu)
            continue
        shared, cache_id, size_kib, index_hint = found
        if shared not in domains:
            domains[shared] = {"cache_id": cache_id, "size_kib": size_kib}
        for member in shared:
            if member in usable and member not in l3_of:
                l3_of[member] = shared
        if cpu not in l3_of:
            l3_of[cpu] = shared
    if no_l3 and domains:
        warnings.append("online CPUs %s have no L3 cache entry in sysfs" % format_cpulist(no_l3))
    if bad_cache:
        warnings.append("cache files not understood (L3 domains or sizes may be missing): %s%s"
                        % ("; ".join(bad_cache[:3]), " (and %d more)" % (len(bad_cache) - 3) if len(bad_cache) > 3 else ""))

    # ---- NUMA nodes ----------------------------------------------------------
    mem_kib = parse_meminfo_kib(reader.read(MEMINFO))
    if mem_kib is None:
        raise TopologyError("%s: missing or has no MemTotal line" % reader.path(MEMINFO))
    memory_mib = mem_kib // 1024

    node_ids = []
    names = reader.listdir(NODE_DIR)
    if names is not None:
        for name in names:
            match = _NODE_NAME_RE.match(name)
            if match:
                node_ids.append(int(match.group(1)))
    node_ids.sort()
    node_of = {}
    numa_nodes = []
    if not node_ids:
        warnings.append(
            "%s has no nodeN directories (non-NUMA kernel?): reporting one node 0 "
            "with all CPUs and MemTotal" % reader.path(NODE_DIR)
        )
        for cpu in usable_sorted:
            node_of[cpu] = 0
        numa_nodes.append({"id": 0, "cpus": usable_sorted, "memory_mib": memory_mib, "distances": [10]})
    else:
        for nid in node_ids:
            base = "%s/node%d/" % (NODE_DIR, nid)
            text = reader.read(base + "cpulist")
            if text is None:
                mask = reader.read(base + "cpumap")
                ncpus = lists.cpumask(mask, reader.path(base + "cpumap")) if mask is not None else frozenset()
            else:
                ncpus = lists.cpulist(text, reader.path(base + "cpulist"))
            members = sorted(c for c in ncpus if c in usable)
            for cpu in members:
                node_of.setdefault(cpu, nid)
            node_kib = parse_meminfo_kib(reader.read(base + "meminfo"))
            if node_kib is None:
                warnings.append("%smeminfo missing or without MemTotal; memory_mib is null" % reader.path(base))
            elif node_kib > mem_kib:
                warnings.append("%smeminfo says %d kB, more than the machine's MemTotal %d kB (%s); memory_mib is null"
                                % (reader.path(base), node_kib, mem_kib, reader.path(MEMINFO)))
                node_kib = None
            try:
                distances = parse_distance(reader.read(base + "distance"), reader.path(base + "distance"))
            except ValueError as exc:
                raise TopologyError(str(exc))
            if not distances:
                warnings.append("%sdistance missing or empty; the distances of node %d are unknown" % (reader.path(base), nid))
            if distances and len(distances) != len(node_ids):
                warnings.append(
                    "%sdistance has %d entries for %d nodes; the list is passed through unchanged"
                    % (reader.path(base), len(distances), len(node_ids))
                )
            numa_nodes.append(
                {
                    "id": nid,
                    "cpus": members,
                    "memory_mib": node_kib // 1024 if node_kib is not None else None,
                    "distances": distances,
                }
            )
        orphans = [c for c in usable_sorted if c not in node_of]
        if orphans:
            warnings.append("online CPUs %s are not listed in any NUMA node" % format_cpulist(orphans))

    # ---- assemble ------------------------------------------------------------
    l3_list = []
    for shared, meta in domains.items():
        members = sorted(c for c in shared if l3_of.get(c) is shared)
        if not members:
            continue
        l3_list.append((members[0], shared, members, meta))
    l3_list.sort(key=lambda item: item[0])
    l3_domains = []
    for index, (first, shared, members, meta) in enumerate(l3_list):
        l3_domains.append(
            {
                "index": index,
                "cpus": format_cpulist(members),
                "cores": len(set(core_of[c] for c in members)),
                "socket": pkg_of[first],
                "numa_nodes": sorted(set(node_of[c] for c in members if c in node_of)),
                "cache_id": meta["cache_id"],
                "size_kib": meta["size_kib"],
            }
        )

    n_cpus = len(usable_sorted)
    n_cores = len(cores)
    n_sockets = len(sockets)
    n_l3 = len(l3_domains)
    threads_per_core = max(len(m) for m in cores.values())
    core_counts = set(s["cores"] for s in sockets.values())
    thread_counts = set(len(m) for m in cores.values())
    homogeneous = len(core_counts) == 1 and len(thread_counts) == 1
    l3_homogeneous = bool(l3_domains) and len(set(d["cores"] for d in l3_domains)) == 1 and len(thread_counts) == 1

    slurm = _slurm(n_cpus, n_sockets, n_cores, memory_mib)
    if n_l3:
        slurm_l3 = _slurm(n_cpus, n_l3, n_cores, memory_mib)
    else:
        slurm_l3 = dict(slurm)

    vendor = info["vendor"]
    codename = None
    if vendor == "AuthenticAMD":
        codename = amd_codename(info["cpu_family"], info["model"], info["model_name"])

    fact = {
        "vendor": vendor,
        "cpu_family": info["cpu_family"],
        "model": info["model"],
        "model_name": info["model_name"],
        "generation": generation_for(vendor, info["cpu_family"], info["model"], is_arm=info["is_arm"]),
        "cpus_online": format_cpulist(usable_sorted),
        "cpus_offline": format_cpulist(offline),
        "threads_per_core": threads_per_core,
        "counts": {
            "cpus_online": n_cpus,
            "cores": n_cores,
            "sockets": n_sockets,
            "numa_nodes": sum(1 for n in numa_nodes if n["cpus"]),
            "numa_nodes_total": len(numa_nodes),
            "l3_domains": n_l3,
        },
        "sockets": [
            {"id": pid, "cpus": format_cpulist(sorted(sockets[pid]["cpus"])), "cores": sockets[pid]["cores"]}
            for pid in sorted(sockets)
        ],
        "numa_nodes": [
            {
                "id": n["id"],
                "cpus": format_cpulist(n["cpus"]),
                "memory_mib": n["memory_mib"],
                "distances": n["distances"],
            }
            for n in numa_nodes
        ],
        "l3_domains": l3_domains,
        "slurm": slurm,
        "slurm_l3_as_socket": slurm_l3,
        # ---- extra keys (not in the design contract table) ----
        "codename": codename,
        "cpu_implementer": info["cpu_implementer"],
        "cpu_part": info["cpu_part"],
        "cpus_online_host": format_cpulist(host_online),
        "cpus_allowed": format_cpulist(allowed) if allowed is not None else None,
        "cpus_allowed_sources": list(allowed_sources or []) if allowed is not None else [],
        "restricted": usable != host_online,
        "homogeneous": homogeneous,
        "l3_homogeneous": l3_homogeneous,
        "cores": [format_cpulist(members) for members in sorted(cores.values(), key=lambda m: m[0])],
        "memtotal_kib": mem_kib,
        "container": None,
        "cpus_affinity": None,
        "warnings": warnings + reader_problems(reader),
    }
    return fact


def reader_problems(reader, limit=5):
    """Warnings for what ``reader`` could not read because the tree is broken (permission denied,
    symlink loops): ``SysfsReader.problems``; [] for readers without that list."""
    problems = list(getattr(reader, "problems", None) or [])
    if not problems:
        return []
    shown = "; ".join(problems[:limit])
    more = " (and %d more)" % (len(problems) - limit) if len(problems) > limit else ""
    return ["could not read %d path(s), treated as missing: %s%s" % (len(problems), shown, more)]


def root_problem(root):
    """Why ``root`` cannot be read as a machine root (a message naming ``root``), or None.

    A relative path would depend on the directory ansible happens to run in.
    """
    if not isinstance(root, str) or not root:
        return "root must be an absolute path (/ or a copied machine tree), got %r" % (root,)
    if not os.path.isabs(root):
        return "root %r must be an absolute path (/ or a copied machine tree)" % root
    if not os.path.isdir(root):
        return "root %s: not a directory" % root
    return None


def gather(root="/", affinity=None, container=None, environ=None):
    """Read the topology below ``root``.

    For the live root ``/``: ``affinity`` defaults to ``os.sched_getaffinity(0)``
    and ``container`` to ``detect_container()``.  The affinity restricts the
    usable CPUs only inside a container; on a host it is reported
    (``cpus_affinity``) but not applied, because a host process is commonly
    narrowed by ``isolcpus=``, systemd ``CPUAffinity=`` or ``AllowedCPUs=`` on
    its slice, none of which changes what the machine (or slurmd) has.
    For any other root both default to ``None`` so synthetic trees give
    deterministic results; tests pass them explicitly.
    """
    root = root or "/"
    problem = root_problem(root)
    if problem:
        raise TopologyError(problem)
    reader = SysfsReader(root)
    if os.path.realpath(root) == "/":
        if affinity is None and hasattr(os, "sched_getaffinity"):
            try:
                affinity = set(os.sched_getaffinity(0))
            except OSError:
                affinity = None
        if container is None:
            container = detect_container(reader, os.environ if environ is None else environ)
    applied = affinity if (affinity is not None and container) else None
    allowed, sources = allowed_cpus(reader, applied)
    fact = collect(reader, allowed, sources)
    fact["container"] = container or None
    fact["cpus_affinity"] = format_cpulist(affinity) if affinity is not None else None
    return fact
