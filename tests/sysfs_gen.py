# -*- coding: utf-8 -*-
"""Synthetic Linux sysfs/procfs trees for CPU topology tests.

``build_tree(path, spec) -> root`` writes a tree that looks like a real machine
(``sys/devices/system/cpu``, ``sys/devices/system/node``, ``proc/cpuinfo``,
``proc/meminfo`` and optionally a cgroup cpuset file) and ``expected(spec)``
computes the ``hpcai_cpu_topology`` contract keys *from the spec's hardware
model*, without reading the tree or calling the parser, so tests comparing the
two mean something.  ``CATALOGUE`` holds named specs (``catalogue()``).

Hardware model: ``sockets`` x ``ccx_per_socket`` L3 complexes (CCX on EPYC, a
whole socket on Intel, nothing on some ARM parts), each with
``core_slots_per_ccx`` physical core positions of which ``cores_per_ccx`` are
enabled (low-core SKUs fuse cores off: core_id gaps), ``threads`` hardware
threads per core.

Linux numbering (what real x86 firmware/kernels produce): thread 0 of every
core first, then thread 1 of every core, so SMT siblings are ``N`` and
``N + total_cores``.  ``enumeration='linear'`` numbers cores socket by socket
(most AMD and Dell/Supermicro Intel boxes); ``'socket_rr'`` alternates sockets
(CPU 0 on socket 0, CPU 1 on socket 1, ...: common on HPE/Intel and some AMD
BIOSes with round-robin MADT enumeration).

NUMA numbering: CPU nodes are numbered socket by socket (socket 0 has nodes
0..nps-1, socket 1 the next nps), which is what the SRAT of NPS2/NPS4 EPYC
machines and SNC Xeons gives; with ``socket_rr`` the *CPU ids* of the nodes
interleave.  ``node_ids`` renames the nodes (sparse/odd ids); memory-only
(CPU-less) nodes follow the CPU nodes unless given explicit ids.

PCI devices (``pci_devices``, optional): each entry is a dict made with
``pci_device()`` (address, vendor, device, class, numa_node, netdevs, ibdevs,
drm cards, physfn for SR-IOV VFs, driver, and a hand-written ``expect_kind``).
They are written the way Linux lays them out: the device directory under
``sys/devices/pci<domain>:<root bus>/<root port>/<address>`` (root ports and a
host bridge per root bus are added automatically, as ``other`` devices),
``sys/bus/pci/devices/<address>`` symlinks to it, ``<dev>/net/<if>``,
``<dev>/infiniband/<ibdev>`` and ``<dev>/drm/cardN`` directories with
``device`` links back and ``sys/class/{net,infiniband,drm}/<name>`` symlinks to
them, ``physfn``/``virtfnN`` links, a ``driver`` link, and ``local_cpulist`` /
``local_cpus`` from the NUMA node's online CPUs (all online CPUs for
``numa_node`` -1, as ``cpumask_of_pcibus`` gives).  ``expected_pci(spec)`` is
the scanner's answer derived from the spec alone.  Symlinks need
``render_tree``/``build_tree``/``MemoryReader`` (``render`` keeps returning
files and directories only).

GPU nodes (``_gpu_catalogue``): a GPU entry may carry ``nvidia_minor`` (the
NVIDIA driver's ``proc/driver/nvidia/gpus/<address>/information`` is written
with that ``Device Minor``) and hand-written ``expect_model`` /
``expect_gres_type`` / ``expect_device_file``; ``extra_files`` /
``extra_links`` put other files in the root (the NVML and ROCm SMI
libraries).  ``expected_slurm_cores`` and ``expected_l3_domains`` derive the
gres.conf ``Cores=`` and the GPU's L3 domains from the hardware model.

RDMA fabric (``_fabric_catalogue``, ``_render_fabric``): PCI entries may set
port states, rates, LIDs and SM LIDs per port (``port_state``, ``phys_state``,
``port_rate``, ``lid``, ``sm_lid``, ``ib_ports``), ``fw_ver``/``node_guid``,
RoCE GID netdevs (``gid_ndevs``), netdev details (``netdev_attrs``:
address, dev_port, ifindex, iflink; ``netdev_speed``, ``netdev_operstate``,
``ipoib_mode``), IPoIB P_Key children (``ipoib_children``, virtual devices),
``no_ports`` and ``unreadable`` paths (rendered as directories); the spec key
``soft_rdma`` adds rdma_rxe devices without a parent device.  Every default
renders exactly what was rendered before.  What the fabric facts must be is
hand-written in tests/unit/test_fabric.py.

The generator is pure test code: Python 3.8+, no dependencies.
"""

from __future__ import absolute_import, division, print_function

import copy
import os
import posixpath
import re

__all__ = [
    "make_spec", "render", "render_tree", "build_tree", "MemoryReader", "expected", "expected_pci",
    "pci_device", "CATALOGUE", "catalogue", "model", "fast_tmp_base", "expected_slurm_cores",
    "expected_l3_domains", "soft_rdma",
]


# --------------------------------------------------------------------------
# Defaults and spec construction
# --------------------------------------------------------------------------

DEFAULTS = {
    "name": "unnamed",
    "arch": "x86",  # x86 | arm
    "vendor": "AuthenticAMD",
    "family": 0x19,
    "model": 0x01,
    "stepping": 1,
    "model_name": "AMD EPYC 7763 64-Core Processor",
    "arm_implementer": None,  # int, arm only
    "arm_part": None,
    "arm_package_id": None,  # e.g. -1 for arm64 without package info
    "arm_cluster_size": 2,  # cores per cluster_cpus_list on arm
    "sockets": 1,
    "ccx_per_socket": 8,
    "core_slots_per_ccx": 8,
    "cores_per_ccx": 8,  # int, or list (per CCX index within a socket)
    "threads": 2,  # hardware threads per core (with SMT enabled)
    "smt": "on",  # on | bios_off (siblings do not exist) | kernel_off (present, offline)
    "l3": "ccx",  # ccx | socket | none
    "l3_size_kib": 32768,
    "l2_size_kib": 512,
    "nps": 1,  # CPU NUMA nodes per socket, or "l3" (one node per L3 domain)
    "node_ids": None,  # rename CPU nodes (list, in default order)
    "memless_nodes": [],  # [{"id": opt, "mem_kib": n, "socket": s, "near": d, "far": d}]
    "node_possible_extra": 0,
    "mem_per_node_kib": 131611236,
    "local_distance": 10,
    "socket_distance": 12,  # other node in the same socket
    "remote_distance": 32,  # node in another socket
    "offline": [],  # Linux CPU ids offlined at runtime
    "possible_extra": 0,  # hot-pluggable CPU slots beyond the present ones
    "cpuset": None,  # container cpuset (cpulist string)
    "cgroup": "v2",  # v2 | v1 (where the cpuset file is written)
    "old_kernel": False,  # no core_cpus*, die_*, cluster_*, package_cpus*, cache id
    "no_node_dir": False,  # CONFIG_NUMA=n
    "enumeration": "linear",  # linear | socket_rr
    "core_id_mode": "slot",  # slot | per_ccx | sequential
    "cache_layout": "standard",  # standard | l3_at_index2 | with_l4
    # PCI devices (see "PCI devices" below): None = no sys/bus/pci at all (as
    # before), [] = an empty sys/bus/pci/devices, else a list of device dicts.
    "pci_devices": None,
    # Software RDMA devices (see "RDMA fabric" below): [{"name": "rxe0", "netdev": "enp1s0", ...}],
    # rendered below sys/devices/virtual/infiniband (rdma_rxe registers them without a parent).
    "soft_rdma": [],
    # Other files and symlinks of the root (``{relative path: text}``,
    # ``{relative path: target relative to the link's directory}``), e.g. the
    # NVML / ROCm SMI libraries the GPU facts look for.
    "extra_files": {},
    "extra_links": {},
    # Hand-written expectations that are not topology (kept independent of the
    # module's tables on purpose).
    "expect_vendor": "AuthenticAMD",
    "expect_generation": "zen3",
}


def make_spec(base=None, **overrides):
    spec = copy.deepcopy(DEFAULTS)
    if base:
        spec.update(copy.deepcopy(base))
    spec.update(copy.deepcopy(overrides))
    return spec


# --------------------------------------------------------------------------
# Hardware model
# --------------------------------------------------------------------------


class _Core(object):
    __slots__ = ("socket", "ccx", "ccx_in_socket", "slot", "core_id", "index", "node", "cpus", "cluster")

    def __init__(self, socket, ccx, ccx_in_socket, slot):
        self.socket = socket
        self.ccx = ccx
        self.ccx_in_socket = ccx_in_socket
        self.slot = slot
        self.core_id = None
        self.index = None
        self.node = None
        self.cpus = []  # Linux ids of all existing threads (online or not)
        self.cluster = None


def _cores_in_ccx(spec, ccx_in_socket):
    value = spec["cores_per_ccx"]
    if isinstance(value, (list, tuple)):
        return value[ccx_in_socket]
    return value


def model(spec):
    """Return the hardware model dict for a spec (pure, no I/O)."""
    cores = []
    ccx_global = 0
    for sock in range(spec["sockets"]):
        for x in range(spec["ccx_per_socket"]):
            enabled = _cores_in_ccx(spec, x)
            slots = spec["core_slots_per_ccx"]
            # Fused-off cores: keep the first `enabled` slots of the CCX.
            for slot in range(enabled):
                cores.append(_Core(sock, ccx_global, x, slot))
            ccx_global += 1
    if spec["core_slots_per_ccx"] < max(
        _cores_in_ccx(spec, x) for x in range(spec["ccx_per_socket"])
    ):
        raise ValueError("core_slots_per_ccx smaller than cores_per_ccx in %s" % spec["name"])

    # core_id as the kernel shows it
    seq = {}
    for core in cores:
        if spec["core_id_mode"] == "slot":
            core.core_id = core.ccx_in_socket * spec["core_slots_per_ccx"] + core.slot
        elif spec["core_id_mode"] == "per_ccx":
            core.core_id = core.slot  # repeats inside a socket
        else:
            core.core_id = seq.get(core.socket, 0)
            seq[core.socket] = core.core_id + 1

    # Linux enumeration order of cores (thread 0)
    if spec["enumeration"] == "socket_rr":
        per_socket = [[c for c in cores if c.socket == s] for s in range(spec["sockets"])]
        order = []
        longest = max(len(p) for p in per_socket)
        for i in range(longest):
            for p in per_socket:
                if i < len(p):
                    order.append(p[i])
    else:
        order = list(cores)
    total = len(order)
    threads = spec["threads"] if spec["smt"] != "bios_off" else 1
    for i, core in enumerate(order):
        core.index = i
        core.cpus = [i + t * total for t in range(threads)]

    # NUMA: CPU nodes per socket
    nps = spec["nps"]
    nodes_per_socket = spec["ccx_per_socket"] if nps == "l3" else nps
    default_ids = []
    for sock in range(spec["sockets"]):
        socket_cores = [c for c in cores if c.socket == sock]
        for pos, core in enumerate(socket_cores):
            if spec["ccx_per_socket"] >= nodes_per_socket and spec["ccx_per_socket"] % nodes_per_socket == 0:
                local = core.ccx_in_socket * nodes_per_socket // spec["ccx_per_socket"]
            else:
                local = pos * nodes_per_socket // len(socket_cores)
            core.node = sock * nodes_per_socket + local
        default_ids.extend(sock * nodes_per_socket + j for j in range(nodes_per_socket))
    rename = {}
    if spec["node_ids"]:
        rename = dict(zip(default_ids, spec["node_ids"]))
        for core in cores:
            core.node = rename[core.node]
    cpu_nodes = [rename.get(n, n) for n in default_ids]
    node_socket = {}
    for core in cores:
        node_socket[core.node] = core.socket

    # ARM clusters
    if spec["arch"] == "arm":
        size = spec["arm_cluster_size"] or 1
        for core in cores:
            core.cluster = core.index // size

    present = sorted(cpu for core in cores for cpu in core.cpus)
    offline = set(spec["offline"])
    if spec["smt"] == "kernel_off":
        offline.update(cpu for core in cores for cpu in core.cpus[1:])
    online = [c for c in present if c not in offline]
    possible_max = present[-1] + spec["possible_extra"]
    possible = list(range(0, possible_max + 1))
    usable = list(online)
    if spec["cpuset"] is not None:
        allowed = set(_parse_list(spec["cpuset"]))
        usable = [c for c in online if c in allowed]

    memless = []
    next_id = (max(cpu_nodes) + 1) if cpu_nodes else 0
    for entry in spec["memless_nodes"]:
        entry = dict(entry)
        if entry.get("id") is None:
            entry["id"] = next_id
        next_id = max(next_id, entry["id"] + 1)
        memless.append(entry)

    return {
        "cores": cores,
        "order": order,
        "present": present,
        "online": online,
        "possible": possible,
        "usable": usable,
        "cpu_nodes": cpu_nodes,
        "node_socket": node_socket,
        "memless": memless,
    }


def _parse_list(text):
    out = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def _fmt_list(ids):
    ids = sorted(set(ids))
    if not ids:
        return ""
    out = []
    start = prev = ids[0]
    for c in ids[1:]:
        if c == prev + 1:
            prev = c
            continue
        out.append("%d" % start if start == prev else "%d-%d" % (start, prev))
        start = prev = c
    out.append("%d" % start if start == prev else "%d-%d" % (start, prev))
    return ",".join(out)


def _fmt_mask(ids, nbits):
    value = 0
    for c in ids:
        value |= 1 << c
    nwords = max(1, (nbits + 31) // 32)
    words = ["%08x" % ((value >> (32 * i)) & 0xFFFFFFFF) for i in range(nwords - 1, -1, -1)]
    top = nbits - 32 * (nwords - 1)
    if top < 32:
        words[0] = words[0][-max(1, (top + 3) // 4):]
    return ",".join(words)


def _node_mem_kib(spec, node_id, ordinal):
    value = spec["mem_per_node_kib"]
    if isinstance(value, (list, tuple)):
        return value[ordinal % len(value)]
    # Real nodes never have identical MemTotal: firmware reservations differ.
    return value - 1024 * (ordinal * 37 % 11)


def _nodes(spec, mdl):
    """[(node_id, {"mem_kib", "socket", "memless", "near", "far"})] sorted by id."""
    out = []
    for ordinal, nid in enumerate(mdl["cpu_nodes"]):
        out.append((nid, {"mem_kib": _node_mem_kib(spec, nid, ordinal), "socket": mdl["node_socket"][nid], "memless": False}))
    for entry in mdl["memless"]:
        out.append(
            (
                entry["id"],
                {
                    "mem_kib": entry["mem_kib"],
                    "socket": entry.get("socket", 0),
                    "memless": True,
                    "near": entry.get("near", 20),
                    "far": entry.get("far", 40),
                },
            )
        )
    out.sort(key=lambda item: item[0])
    return out


def _distance(spec, a, b):
    (aid, ainfo), (bid, binfo) = a, b
    if aid == bid:
        return spec["local_distance"]
    if ainfo["memless"] or binfo["memless"]:
        m = ainfo if ainfo["memless"] else binfo
        if ainfo["memless"] and binfo["memless"]:
            return max(ainfo["far"], binfo["far"])
        return m["near"] if ainfo["socket"] == binfo["socket"] else m["far"]
    if ainfo["socket"] == binfo["socket"]:
        return spec["socket_distance"]
    return spec["remote_distance"]


# --------------------------------------------------------------------------
# Tree writer
# --------------------------------------------------------------------------

_AMD_FLAGS = (
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht "
    "syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good amd_lbr_v2 nopl nonstop_tsc cpuid "
    "extd_apicid aperfmperf rapl pni pclmulqdq monitor ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt "
    "aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch "
    "osvw ibs skinit wdt tce topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 hw_pstate "
    "ssbd mba perfmon_v2 ibrs ibpb stibp ibrs_enhanced vmmcall fsgsbase bmi1 avx2 smep bmi2 erms invpcid cqm "
    "rdt_a avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl "
    "xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local avx512_bf16 clzero "
    "irperf xsaveerptr rdpru wbnoinvd amd_ppin cppc arat npt lbrv svm_lock nrip_save tsc_scale vmcb_clean "
    "flushbyasid decodeassists pausefilter pfthreshold avic v_vmsave_vmload vgif x2avic v_spec_ctrl vnmi "
    "avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq "
    "la57 rdpid overflow_recov succor smca fsrm flush_l1d debug_swap"
)
_INTEL_FLAGS = (
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse "
    "sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl "
    "xtopology nonstop_tsc cpuid aperfmperf tsc_known_freq pni pclmulqdq dtes64 monitor ds_cpl vmx smx est "
    "tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid dca sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes "
    "xsave avx f16c rdrand lahf_lm abm 3dnowprefetch cpuid_fault epb cat_l3 cat_l2 cdp_l3 intel_ppin cdp_l2 "
    "ssbd mba ibrs ibpb stibp ibrs_enhanced tpr_shadow flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 "
    "hle avx2 smep bmi2 erms invpcid rtm cqm rdt_a avx512f avx512dq rdseed adx smap avx512ifma clflushopt "
    "clwb intel_pt avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc "
    "cqm_mbm_total cqm_mbm_local split_lock_detect avx_vnni avx512_bf16 wbnoinvd dtherm ida arat pln pts "
    "hfi vnmi avx512vbmi umip pku ospke waitpkg avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg "
    "tme avx512_vpopcntdq la57 rdpid bus_lock_detect cldemote movdiri movdir64b enqcmd fsrm md_clear serialize "
    "tsxldtrk pconfig arch_lbr ibt amx_bf16 avx512_fp16 amx_tile amx_int8 flush_l1d arch_capabilities"
)
_ARM_FEATURES = "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs"


class _Writer(object):
    """Collects ``{relative path: text}``; directories are implied by paths
    (``mkdir`` records empty directories)."""

    def __init__(self):
        self.files = {}
        self.dirs = set()
        self.links = {}  # relative path -> link target (relative, as sysfs has them)

    def write(self, rel, text):
        self.files[rel] = text

    def mkdir(self, rel):
        self.dirs.add(rel)

    def link(self, rel, target_rel):
        """Symlink at ``rel`` pointing to the tree path ``target_rel`` (stored relative)."""
        self.links[rel] = posixpath.relpath(target_rel, posixpath.dirname(rel))


def render(spec, full=True):
    """Pure: the synthetic tree as ``({relpath: text}, {empty dir relpaths})``.

    ``full=False`` leaves out files no parser in this collection reads
    (cache geometry, die/package/cluster masks ...) to make on-disk trees
    cheaper; the files the design calls out are always written.
    Symlinks (PCI devices) are left out: use ``render_tree`` for them.
    """
    files, dirs, dummy = render_tree(spec, full=full)
    return files, dirs


def render_tree(spec, full=True):
    """Pure: ``(files, dirs, links)``; ``links`` maps a relative path to its target."""
    w = _Writer()
    _render(w, spec, full)
    return w.files, w.dirs, w.links


def build_tree(path, spec, full=True):
    """Write the synthetic tree for ``spec`` below ``path``; return the root (str)."""
    root = str(path)
    files, dirs, links = render_tree(spec, full=full)
    made = set()
    for rel in sorted(dirs):
        os.makedirs(os.path.join(root, rel), exist_ok=True)
    for rel, text in files.items():
        full_path = os.path.join(root, rel)
        parent = os.path.dirname(full_path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        with open(full_path, "w") as handle:
            handle.write(text)
    for rel, target in sorted(links.items()):
        full_path = os.path.join(root, rel)
        parent = os.path.dirname(full_path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        os.symlink(target, full_path)
    return root


class MemoryReader(object):
    """In-memory stand-in for ``topology.SysfsReader`` (same interface).

    Lets the pure ``topology.collect`` run on a rendered tree without touching
    the disk, so the whole catalogue can be checked quickly.
    """

    def __init__(self, files, dirs=(), root="/synthetic", links=None):
        self.root = root
        self.files = files
        self.links = dict(links or {})
        self.reads = 0
        index = {}
        for rel in dirs:
            index.setdefault(rel, set())
        for rel in list(files) + list(dirs) + list(self.links):
            child = rel
            while child:
                parent, dummy, name = child.rpartition("/")
                kids = index.get(parent)
                if kids is not None:
                    kids.add(name)
                    break
                index[parent] = set([name])
                child = parent
        self._dirs = index

    @classmethod
    def for_spec(cls, spec, full=True):
        files, dirs, links = render_tree(spec, full=full)
        return cls(files, dirs, links=links)

    def path(self, rel):
        return os.path.join(self.root, rel)

    def _resolve(self, rel, follow_last=True, depth=0):
        """``rel`` with every symlink component replaced by its target; None if broken/looping."""
        if depth > 40:
            return None
        out = []
        parts = [p for p in rel.split("/") if p and p != "."]
        for i, part in enumerate(parts):
            if part == "..":
                if not out:
                    return None
                out.pop()
                continue
            cur = "/".join(out + [part])
            if cur in self.links and (follow_last or i < len(parts) - 1):
                joined = posixpath.normpath(posixpath.join("/".join(out), self.links[cur]))
                if joined.startswith("..") or joined.startswith("/"):
                    return None
                resolved = self._resolve(joined, True, depth + 1)
                if resolved is None:
                    return None
                out = resolved.split("/") if resolved else []
            else:
                out.append(part)
        return "/".join(out)

    def _real(self, rel):
        if not self.links or rel in self.files or rel in self._dirs:
            return rel
        return self._resolve(rel)

    def read(self, rel):
        self.reads += 1
        real = self._real(rel)
        return self.files.get(real) if real is not None else None

    def read_head(self, rel, size):
        real = self._real(rel)
        text = self.files.get(real) if real is not None else None
        if text is None or len(text) <= size:
            return text
        head = text[:size]
        return head[: head.rindex("\n") + 1] if "\n" in head else head

    def listdir(self, rel):
        real = self._real(rel)
        if real is None or real in self.files:
            return None
        names = self._dirs.get(real)
        return sorted(names) if names is not None else None

    def isdir(self, rel):
        real = self._real(rel)
        return real is not None and real not in self.files and real in self._dirs

    def exists(self, rel):
        """Like ``os.path.lexists``: a (possibly broken) link counts."""
        if rel in self.files or rel in self._dirs or rel in self.links:
            return True
        if not self.links:
            return False
        real = self._resolve(rel, follow_last=False)
        return real is not None and (real in self.files or real in self._dirs or real in self.links)

    def readlink(self, rel):
        real = self._resolve(rel, follow_last=False) if self.links else rel
        if real is None:
            return None
        return self.links.get(real)


def _render(w, spec, full):
    mdl = model(spec)
    cpu_dir = "sys/devices/system/cpu"
    node_dir = "sys/devices/system/node"
    online = set(mdl["online"])
    nbits = len(mdl["possible"])
    core_by_cpu = {}
    for core in mdl["cores"]:
        for cpu in core.cpus:
            core_by_cpu[cpu] = core
    old = spec["old_kernel"]
    arm = spec["arch"] == "arm"

    # global CPU files
    w.write(cpu_dir + "/online", _fmt_list(mdl["online"]) + "\n")
    w.write(cpu_dir + "/offline", _fmt_list(set(mdl["possible"]) - online) + "\n")
    w.write(cpu_dir + "/present", _fmt_list(mdl["present"]) + "\n")
    w.write(cpu_dir + "/possible", _fmt_list(mdl["possible"]) + "\n")
    w.write(cpu_dir + "/kernel_max", "8191\n")
    if not old:
        smt_control = {"on": "on", "bios_off": "notsupported", "kernel_off": "off"}[spec["smt"]]
        if spec["threads"] == 1:
            smt_control = "notsupported"
        w.write(cpu_dir + "/smt/control", smt_control + "\n")
        w.write(cpu_dir + "/smt/active", "1\n" if smt_control == "on" else "0\n")

    # groups of online CPUs
    def online_cpus(cores):
        return sorted(c for core in cores for c in core.cpus if c in online)

    by_socket = {}
    by_ccx = {}
    by_cluster = {}
    for core in mdl["cores"]:
        by_socket.setdefault(core.socket, []).append(core)
        by_ccx.setdefault(core.ccx, []).append(core)
        if core.cluster is not None:
            by_cluster.setdefault(core.cluster, []).append(core)
    socket_cpus = {s: online_cpus(cs) for s, cs in by_socket.items()}
    ccx_cpus = {x: online_cpus(cs) for x, cs in by_ccx.items()}
    cluster_cpus = {k: online_cpus(cs) for k, cs in by_cluster.items()}
    socket_cores_online = {s: sum(1 for c in cs if any(t in online for t in c.cpus)) for s, cs in by_socket.items()}

    list_cache = {}

    def lm(ids):
        key = tuple(ids)
        if key not in list_cache:
            list_cache[key] = (_fmt_list(ids) + "\n", _fmt_mask(ids, nbits) + "\n")
        return list_cache[key]

    for cpu in mdl["possible"]:
        if cpu not in core_by_cpu:
            continue  # possible but not present: no cpuN directory
        core = core_by_cpu[cpu]
        base = "%s/cpu%d" % (cpu_dir, cpu)
        if cpu != mdl["present"][0]:
            w.write(base + "/online", "1\n" if cpu in online else "0\n")
        else:
            w.mkdir(base)
        if cpu not in online:
            continue  # offline CPUs have no topology/ and no cache/
        t = base + "/topology/"
        siblings = sorted(c for c in core.cpus if c in online)
        sib_list, sib_mask = lm(siblings)
        pkg = core.socket
        if arm and spec["arm_package_id"] is not None:
            pkg = spec["arm_package_id"]
        w.write(t + "physical_package_id", "%d\n" % pkg)
        w.write(t + "core_id", "%d\n" % core.core_id)
        w.write(t + "thread_siblings_list", sib_list)
        w.write(t + "thread_siblings", sib_mask)
        pk_list, pk_mask = lm(socket_cpus[core.socket])
        if full:
            w.write(t + "core_siblings_list", pk_list)
            w.write(t + "core_siblings", pk_mask)
        if not old:
            w.write(t + "core_cpus_list", sib_list)
            w.write(t + "core_cpus", sib_mask)
            w.write(t + "die_id", "%d\n" % (-1 if arm else 0))
            if full:
                w.write(t + "package_cpus_list", pk_list)
                w.write(t + "package_cpus", pk_mask)
                w.write(t + "die_cpus_list", pk_list)
                w.write(t + "die_cpus", pk_mask)
            if arm:
                cl_list, cl_mask = lm(cluster_cpus[core.cluster])
                cl_id = core.cluster
            else:
                cl_list, cl_mask = sib_list, sib_mask  # x86 cluster = L2 sharing = the core
                cl_id = 65535
            w.write(t + "cluster_cpus_list", cl_list)
            if full:
                w.write(t + "cluster_cpus", cl_mask)
                w.write(t + "cluster_id", "%d\n" % cl_id)

        # caches
        caches = [
            (1, "Data", 48 if spec["family"] >= 0x1A or arm else 32, siblings, core.index),
            (1, "Instruction", 32 if not arm else 64, siblings, core.index),
            (2, "Unified", spec["l2_size_kib"], siblings, core.index),
        ]
        if spec["l3"] == "ccx":
            caches.append((3, "Unified", spec["l3_size_kib"], ccx_cpus[core.ccx], core.ccx))
        elif spec["l3"] == "socket":
            caches.append((3, "Unified", spec["l3_size_kib"], socket_cpus[core.socket], core.socket))
        if spec["cache_layout"] == "l3_at_index2" and len(caches) == 4:
            caches[2], caches[3] = caches[3], caches[2]
        elif spec["cache_layout"] == "with_l4":
            caches.append((4, "Unified", 131072, socket_cpus[core.socket], core.socket))
        for idx, (level, ctype, size, shared, cid) in enumerate(caches):
            c = "%s/cache/index%d/" % (base, idx)
            s_list, s_mask = lm(shared)
            w.write(c + "level", "%d\n" % level)
            w.write(c + "type", ctype + "\n")
            w.write(c + "size", "%dK\n" % size)
            w.write(c + "shared_cpu_list", s_list)
            w.write(c + "shared_cpu_map", s_mask)
            if full:
                w.write(c + "coherency_line_size", "64\n")
                w.write(c + "ways_of_associativity", "%d\n" % (16 if level == 3 else 8))
                w.write(c + "number_of_sets", "%d\n" % max(1, size * 1024 // 64 // (16 if level == 3 else 8)))
                w.write(c + "physical_line_partition", "1\n")
            if not old:
                w.write(c + "id", "%d\n" % cid)

    # NUMA
    nodes = _nodes(spec, mdl)
    all_node_ids = [item[0] for item in nodes]
    if not spec["no_node_dir"]:
        node_cpus = {}
        for core in mdl["cores"]:
            node_cpus.setdefault(core.node, []).extend(c for c in core.cpus if c in online)
        w.write(node_dir + "/online", _fmt_list(all_node_ids) + "\n")
        w.write(
            node_dir + "/possible",
            _fmt_list(range(0, max(all_node_ids) + 1 + spec["node_possible_extra"])) + "\n",
        )
        w.write(node_dir + "/has_cpu", _fmt_list(n for n in all_node_ids if node_cpus.get(n)) + "\n")
        with_mem = [nid for nid, info in nodes if info["mem_kib"] > 0]
        w.write(node_dir + "/has_memory", _fmt_list(with_mem) + "\n")
        w.write(node_dir + "/has_normal_memory", _fmt_list(with_mem) + "\n")
        for a in nodes:
            nid, info = a
            base = "%s/node%d/" % (node_dir, nid)
            ids = sorted(node_cpus.get(nid, []))
            w.write(base + "cpulist", _fmt_list(ids) + "\n")
            w.write(base + "cpumap", _fmt_mask(ids, nbits) + "\n")
            w.write(base + "distance", " ".join(str(_distance(spec, a, b)) for b in nodes) + "\n")
            kib = info["mem_kib"]
            free = kib * 9 // 10
            w.write(
                base + "meminfo",
                "".join(
                    "Node %d %-15s %8d kB\n" % (nid, key + ":", val)
                    for key, val in (
                        ("MemTotal", kib),
                        ("MemFree", free),
                        ("MemUsed", kib - free),
                        ("SwapCached", 0),
                        ("Active", kib // 50),
                        ("Inactive", kib // 60),
                        ("FilePages", kib // 40),
                        ("Mapped", 1024),
                        ("AnonPages", kib // 80),
                        ("Shmem", 2048),
                        ("KernelStack", 16384),
                        ("PageTables", 4096),
                        ("Slab", kib // 200),
                        ("HugePages_Total", 0),
                    )
                )
                + "Node %d HugePages_Total:     0\nNode %d HugePages_Free:      0\n" % (nid, nid),
            )

    # procfs
    mem_total = sum(item[1]["mem_kib"] for item in nodes)
    w.write(
        "proc/meminfo",
        "MemTotal:       %d kB\nMemFree:        %d kB\nMemAvailable:   %d kB\nBuffers:           10240 kB\n"
        "Cached:          2097152 kB\nSwapCached:            0 kB\nHugePages_Total:       0\n"
        "Hugepagesize:       2048 kB\n" % (mem_total, mem_total * 9 // 10, mem_total * 9 // 10),
    )
    w.write("proc/cpuinfo", _cpuinfo(spec, mdl, online, socket_cpus, socket_cores_online))

    # container cpuset
    if spec["cpuset"] is not None:
        rel = "sys/fs/cgroup/cpuset.cpus.effective" if spec["cgroup"] == "v2" else "sys/fs/cgroup/cpuset/cpuset.effective_cpus"
        w.write(rel, spec["cpuset"] + "\n")

    if spec["pci_devices"] is not None:
        _render_pci(w, spec, mdl, full)
    for soft in spec["soft_rdma"]:
        _render_soft_rdma(w, soft)

    for rel, text in sorted(spec["extra_files"].items()):
        w.write(rel, text)
    for rel, target in sorted(spec["extra_links"].items()):
        w.links[rel] = target


# --------------------------------------------------------------------------
# PCI devices
# --------------------------------------------------------------------------

PCI_DEFAULTS = {
    "address": None,  # "0000:41:00.0"
    "vendor": None,  # int
    "device": None,  # int
    "class": None,  # int, 24 bits (0x030200)
    "numa_node": None,  # int; -1 = no affinity; None = the PF's (VFs) or -1
    "netdevs": [],
    "ibdevs": [],
    "drm": [],  # card names, e.g. ["card1"] (a renderD node is added for each)
    "physfn": None,  # PF address: this is an SR-IOV virtual function
    "driver": None,  # bound driver name (driver symlink)
    "subsystem_vendor": None,
    "subsystem_device": None,
    "link_layer": None,  # of the RDMA ports; default InfiniBand for class 0x0207, else Ethernet
    # RDMA fabric details (see "RDMA fabric" below); the defaults render what was always rendered.
    "ib_ports": 1,  # ports per RDMA device (ports/1 .. ports/N)
    "port_state": None,  # "ACTIVE", "INIT", "DOWN", "ARMED" ... or a list per port; None = ACTIVE
    "phys_state": None,  # "LinkUp", "Polling", "Disabled" ... or a list per port; None = LinkUp
    "port_rate": None,  # rate text or a list per port; None = 400 Gb/sec NDR (IB) / 100 Gb/sec EDR (Ethernet)
    "lid": None,  # int or list per port: ports/<n>/lid ("0x%x"); None = no file
    "sm_lid": None,  # int or list per port: ports/<n>/sm_lid; None = no file
    "node_type": None,  # node_type of the RDMA devices ("4: RNIC" for iWARP); None = "1: CA"
    "fw_ver": None,  # text of the RDMA device's fw_ver; None = no file
    "node_guid": None,  # text of node_guid; None = no file
    "gid_ndevs": False,  # ports/<n>/gid_attrs/ndevs/0 names the n-th netdev (RoCE GID 0)
    "no_ports": False,  # the RDMA device has no ports directory
    "netdev_attrs": False,  # netdevs get address, dev_port (index), ifindex and iflink
    "netdev_speed": None,  # Mbps (int, or list per netdev; -1 = unknown): net/<if>/speed; None = no file
    "netdev_operstate": None,  # text or list per netdev; None = "up"
    "ipoib_mode": None,  # "datagram" / "connected": net/<if>/mode of the IPoIB netdevs; None = no file
    # IPoIB P_Key child interfaces: [{"name", "parent" (a netdev of this device), "pkey", "legacy"}];
    # virtual devices (sys/devices/virtual/net) whose iflink is the parent's ifindex; "legacy"
    # (created through create_child) ones also have parent, pkey and mode files. Needs netdev_attrs.
    "ipoib_children": [],
    # paths below the device directory rendered as empty directories: reading them fails (EISDIR),
    # which stands in for unreadable files (EACCES). Fabric files only: the PCI scan expectations ignore it.
    "unreadable": [],
    # NVIDIA driver loaded: proc/driver/nvidia/gpus/<address>/information with this Device Minor
    "nvidia_minor": None,
    "expect_kind": "other",  # hand-written expectation (kept independent of the scanner)
    # hand-written GPU expectations (kept independent of gpu.py's tables)
    "expect_model": None,
    "expect_gres_type": None,
    "expect_device_file": None,
}

SYS_PCI = "sys/bus/pci/devices"


def pci_device(address, vendor, device, pci_class, expect_kind="other", **kw):
    """One ``pci_devices`` entry (validated against ``PCI_DEFAULTS``)."""
    entry = dict(copy.deepcopy(PCI_DEFAULTS), address=address, vendor=vendor, device=device,
                 expect_kind=expect_kind)
    entry["class"] = pci_class
    for key, value in kw.items():
        if key not in PCI_DEFAULTS:
            raise ValueError("unknown pci device key %r" % key)
        entry[key] = value
    return entry


def _addr_parts(address):
    dom, bus, devfn = address.split(":")
    return dom, int(bus, 16), devfn


def _bridge_ids(spec):
    if spec["arch"] == "arm":
        return 0x1DEF, 0xE100
    if spec["vendor"] == "GenuineIntel":
        return 0x8086, 0x352A
    return 0x1022, 0x14AB


def _pci_layout(spec, mdl):
    """All PCI devices (spec entries plus generated host bridges and root ports)
    as ``{address: entry}`` with ``_dir`` (device directory) filled in."""
    entries = [dict(copy.deepcopy(PCI_DEFAULTS), **d) for d in spec["pci_devices"] or []]
    by_addr = {}
    for entry in entries:
        entry["address"] = entry["address"].lower()
        if entry["address"] in by_addr:
            raise ValueError("duplicate PCI address %s in %s" % (entry["address"], spec["name"]))
        by_addr[entry["address"]] = entry
    for entry in entries:
        if entry["numa_node"] is None:
            pf = by_addr.get(entry["physfn"]) if entry["physfn"] else None
            entry["numa_node"] = pf["numa_node"] if pf and pf["numa_node"] is not None else -1
        if entry["physfn"] and entry["physfn"] not in by_addr:
            raise ValueError("physfn %s of %s is not a device" % (entry["physfn"], entry["address"]))
    # Root bus = the 32-bus segment; a device on a root bus sits directly below it,
    # any other bus gets its own root port on the root bus.
    vendor, device = _bridge_ids(spec)
    buses = {}
    for entry in entries:
        dom, bus, dummy = _addr_parts(entry["address"])
        buses.setdefault((dom, bus), entry)
    ports = {}
    per_root = {}
    for (dom, bus) in sorted(buses):
        root_bus = bus & 0xE0
        first = buses[(dom, bus)]
        host = "%s:%02x:00.0" % (dom, root_bus)
        if host not in by_addr:
            by_addr[host] = dict(copy.deepcopy(PCI_DEFAULTS), address=host, vendor=vendor, device=device - 1,
                                 numa_node=first["numa_node"], expect_kind="other")
            by_addr[host]["class"] = 0x060000
        if bus == root_bus:
            continue
        n = per_root.get((dom, root_bus), 0)
        per_root[(dom, root_bus)] = n + 1
        port = "%s:%02x:%02x.%d" % (dom, root_bus, 1 + n // 8, n % 8)
        if port in by_addr:
            raise ValueError("generated root port %s collides with a spec device" % port)
        by_addr[port] = dict(copy.deepcopy(PCI_DEFAULTS), address=port, vendor=vendor, device=device,
                             numa_node=first["numa_node"], expect_kind="other", driver="pcieport")
        by_addr[port]["class"] = 0x060400
        ports[(dom, bus)] = port
    for address, entry in by_addr.items():
        dom, bus, dummy = _addr_parts(address)
        top = "sys/devices/pci%s:%02x" % (dom, bus & 0xE0)
        port = ports.get((dom, bus))
        if port and port != address:
            entry["_dir"] = "%s/%s/%s" % (top, port, address)
        else:
            entry["_dir"] = "%s/%s" % (top, address)
    return by_addr


def _pci_node_cpus(spec, mdl):
    online = set(mdl["online"])
    node_cpus = {}
    for core in mdl["cores"]:
        node_cpus.setdefault(core.node, []).extend(c for c in core.cpus if c in online)
    return sorted(online), dict((k, sorted(v)) for k, v in node_cpus.items())


def _local_cpus_for(spec, mdl, numa_node):
    all_online, node_cpus = _pci_node_cpus(spec, mdl)
    if spec["no_node_dir"] or numa_node is None or numa_node < 0:
        return all_online
    return node_cpus.get(numa_node, [])


def _render_pci(w, spec, mdl, full):
    layout = _pci_layout(spec, mdl)
    nbits = len(mdl["possible"])
    w.mkdir(SYS_PCI)
    w.mkdir("sys/class/net")
    # every Linux host has lo (virtual: no device link)
    w.write("sys/devices/virtual/net/lo/type", "772\n")
    w.write("sys/devices/virtual/net/lo/operstate", "unknown\n")
    w.link("sys/class/net/lo", "sys/devices/virtual/net/lo")
    vfs = {}
    ifindexes = {"next": 2}  # lo is 1
    for address in sorted(layout):
        entry = layout[address]
        if entry["physfn"]:
            vfs.setdefault(entry["physfn"], []).append(address)
    for address in sorted(layout):
        entry = layout[address]
        d = entry["_dir"]
        w.link("%s/%s" % (SYS_PCI, address), d)
        w.write(d + "/vendor", "0x%04x\n" % entry["vendor"])
        w.write(d + "/device", "0x%04x\n" % entry["device"])
        w.write(d + "/class", "0x%06x\n" % entry["class"])
        w.write(d + "/subsystem_vendor", "0x%04x\n" % (entry["subsystem_vendor"] or entry["vendor"]))
        w.write(d + "/subsystem_device", "0x%04x\n" % (entry["subsystem_device"] or entry["device"]))
        w.write(d + "/revision", "0x00\n")
        w.write(d + "/enable", "1\n")
        if not spec["no_node_dir"]:
            w.write(d + "/numa_node", "%d\n" % entry["numa_node"])
        cpus = _local_cpus_for(spec, mdl, entry["numa_node"])
        w.write(d + "/local_cpulist", _fmt_list(cpus) + "\n")
        w.write(d + "/local_cpus", _fmt_mask(cpus, nbits) + "\n")
        if full:
            w.write(d + "/irq", "%d\n" % (32 + len(w.links) % 200))
            w.write(d + "/current_link_speed", "32.0 GT/s PCIe\n")
            w.write(d + "/current_link_width", "16\n")
        if entry["driver"]:
            w.mkdir("sys/bus/pci/drivers/" + entry["driver"])
            w.link(d + "/driver", "sys/bus/pci/drivers/" + entry["driver"])
        if entry["physfn"]:
            w.link(d + "/physfn", layout[entry["physfn"]]["_dir"])
        if address in vfs:
            w.write(d + "/sriov_totalvfs", "%d\n" % max(8, len(vfs[address])))
            w.write(d + "/sriov_numvfs", "%d\n" % len(vfs[address]))
            for i, vf in enumerate(vfs[address]):
                w.link("%s/virtfn%d" % (d, i), layout[vf]["_dir"])
        _render_fabric(w, entry, d, ifindexes)
        if entry["nvidia_minor"] is not None:
            w.write(
                "proc/driver/nvidia/gpus/%s/information" % address,
                "Model: \t\t NVIDIA synthetic %04x\nIRQ:   \t\t %d\nGPU UUID: \t GPU-%08x-0000-0000-0000-000000000000\n"
                "Video BIOS: \t 96.00.99.00.01\nBus Type: \t PCIe\nDMA Size: \t 52 bits\nDMA Mask: \t 0xfffffffffffff\n"
                "Bus Location: \t %s\nDevice Minor: \t %u\nGPU Excluded:\t No\n"
                % (entry["device"], 100 + entry["nvidia_minor"], entry["nvidia_minor"], address, entry["nvidia_minor"]),
            )
        for card in entry["drm"]:
            minor = int(card[len("card"):])
            for node, num in ((card, minor), ("renderD%d" % (128 + minor), 128 + minor)):
                dd = "%s/drm/%s" % (d, node)
                w.write(dd + "/dev", "226:%d\n" % num)
                w.link(dd + "/device", d)
                w.link("sys/class/drm/" + node, dd)


# --------------------------------------------------------------------------
# RDMA fabric (netdevs, RDMA devices, IPoIB children, soft-RoCE)
# --------------------------------------------------------------------------
#
# Written like the kernel does (drivers/infiniband/core/sysfs.c, net/core/net-sysfs.c,
# drivers/infiniband/ulp/ipoib): ports/<n>/state "4: ACTIVE", phys_state "5: LinkUp",
# rate "400 Gb/sec (4X NDR)", lid / sm_lid "0x%x", node_type "1: CA"; a netdev's type is
# 32 (ARPHRD_INFINIBAND) for IPoIB and 1 (ARPHRD_ETHER) otherwise.  IPoIB P_Key children
# are virtual net devices without a device link: legacy ones (sysfs create_child) have
# parent / pkey / mode files, rtnetlink ones (ip link add ... type ipoib) only iflink.
# rdma_rxe devices have no parent device at all (sys/devices/virtual/infiniband/rxe0)
# and a ``parent`` file naming their netdev.

PORT_STATES = {"NOP": 0, "DOWN": 1, "INIT": 2, "ARMED": 3, "ACTIVE": 4, "ACTIVE_DEFER": 5}
PHYS_STATES = {"Sleep": 1, "Polling": 2, "Disabled": 3, "PortConfigurationTraining": 4, "LinkUp": 5,
               "LinkErrorRecovery": 6, "Phy Test": 7}

SOFT_RDMA_DEFAULTS = {
    "name": None,  # "rxe0"
    "netdev": None,  # the interface it runs on
    "node_desc": "rxe",  # "Software iWARP stack" for siw
    "node_type": "1: CA",  # "4: RNIC" for siw
    "parent_file": True,  # rdma_rxe's parent attribute (siw has none)
    "state": "ACTIVE",
    "phys_state": "LinkUp",
    "rate": "2.5 Gb/sec (1X SDR)",  # rxe on a 1 GbE or unknown-speed link
    "node_guid": "5054:00ff:fe12:3401",
}


def soft_rdma(name, netdev, **kw):
    """One ``soft_rdma`` entry (validated against ``SOFT_RDMA_DEFAULTS``)."""
    entry = dict(copy.deepcopy(SOFT_RDMA_DEFAULTS), name=name, netdev=netdev)
    for key, value in kw.items():
        if key not in SOFT_RDMA_DEFAULTS:
            raise ValueError("unknown soft_rdma key %r" % key)
        entry[key] = value
    return entry


def _per(value, index, default):
    """``value`` for item ``index``: the list item, the scalar itself, or ``default`` for None."""
    if isinstance(value, (list, tuple)):
        value = value[index] if index < len(value) else None
    return default if value is None else value


def _state_text(state, table):
    if state in table:
        return "%d: %s\n" % (table[state], state)
    return "%s\n" % state  # garbage on purpose


def _guid_bytes(guid):
    digits = guid.replace(":", "")
    return ":".join(digits[i:i + 2] for i in range(0, 16, 2))


def _render_fabric(w, entry, d, ifindexes):
    is_ib = (entry["class"] >> 8) == 0x0207
    dummy, bus, devfn = _addr_parts(entry["address"])
    slot, fn = devfn.split(".")
    guid = entry["node_guid"] or "0c42:a103:00%02x:%s%s" % (bus, slot, fn.zfill(2))
    names = {}
    for i, ifname in enumerate(entry["netdevs"]):
        nd = "%s/net/%s" % (d, ifname)
        w.write(nd + "/type", "32\n" if is_ib else "1\n")
        w.write(nd + "/operstate", "%s\n" % _per(entry["netdev_operstate"], i, "up"))
        w.write(nd + "/mtu", "2044\n" if is_ib else "9000\n")
        if entry["netdev_attrs"]:
            if is_ib:
                address = "00:00:10:%02x:fe:80:00:00:00:00:00:00:%s" % (0x87 + i, _guid_bytes(guid))
            else:
                address = "02:00:%02x:%s:%s:%02x" % (bus, slot, fn.zfill(2), i)
            names[ifname] = ifindexes["next"]
            ifindexes["next"] += 1
            w.write(nd + "/address", address + "\n")
            w.write(nd + "/dev_port", "%d\n" % i)
            w.write(nd + "/ifindex", "%d\n" % names[ifname])
            w.write(nd + "/iflink", "%d\n" % names[ifname])
        speed = _per(entry["netdev_speed"], i, None)
        if speed is not None:
            w.write(nd + "/speed", "%d\n" % speed)
        if is_ib and entry["ipoib_mode"]:
            w.write(nd + "/mode", entry["ipoib_mode"] + "\n")
        w.link(nd + "/device", d)
        w.link("sys/class/net/" + ifname, nd)
    for child in entry["ipoib_children"]:
        parent = child["parent"]
        if parent not in names:
            raise ValueError("IPoIB child %s: parent %s is not a netdev of %s with netdev_attrs"
                             % (child["name"], parent, entry["address"]))
        cd = "sys/devices/virtual/net/" + child["name"]
        w.write(cd + "/type", "32\n")
        w.write(cd + "/operstate", "%s\n" % child.get("operstate", "up"))
        w.write(cd + "/mtu", "2044\n")
        w.write(cd + "/address", w.files["%s/net/%s/address" % (d, parent)])
        w.write(cd + "/dev_port", "0\n")
        w.write(cd + "/ifindex", "%d\n" % ifindexes["next"])
        w.write(cd + "/iflink", "%d\n" % names[parent])
        ifindexes["next"] += 1
        if child.get("legacy"):
            w.write(cd + "/parent", parent + "\n")
            w.write(cd + "/pkey", "0x%04x\n" % child["pkey"])
            w.write(cd + "/mode", child.get("mode", "datagram") + "\n")
            w.write(cd + "/umcast", "0\n")
        w.link("sys/class/net/" + child["name"], cd)
    for ibdev in entry["ibdevs"]:
        ib = "%s/infiniband/%s" % (d, ibdev)
        layer = entry["link_layer"] or ("InfiniBand" if is_ib else "Ethernet")
        w.write(ib + "/node_type", (entry["node_type"] or "1: CA") + "\n")
        if entry["fw_ver"] is not None:
            w.write(ib + "/fw_ver", entry["fw_ver"] + "\n")
        if entry["node_guid"] is not None:
            w.write(ib + "/node_guid", entry["node_guid"] + "\n")
        for i in range(0 if entry["no_ports"] else entry["ib_ports"]):
            p = "%s/ports/%d/" % (ib, i + 1)
            default_rate = "400 Gb/sec (4X NDR)" if layer == "InfiniBand" else "100 Gb/sec (4X EDR)"
            w.write(p + "state", _state_text(_per(entry["port_state"], i, "ACTIVE"), PORT_STATES))
            w.write(p + "phys_state", _state_text(_per(entry["phys_state"], i, "LinkUp"), PHYS_STATES))
            w.write(p + "link_layer", layer + "\n")
            w.write(p + "rate", _per(entry["port_rate"], i, default_rate) + "\n")
            for key in ("lid", "sm_lid"):
                value = _per(entry[key], i, None)
                if value is not None:
                    w.write(p + key, "0x%x\n" % value)
            if entry["gid_ndevs"] and layer == "Ethernet" and i < len(entry["netdevs"]):
                w.write(p + "gid_attrs/ndevs/0", entry["netdevs"][i] + "\n")
        w.link(ib + "/device", d)
        w.link("sys/class/infiniband/" + ibdev, ib)
    for rel in entry["unreadable"]:
        w.files.pop("%s/%s" % (d, rel), None)
        w.mkdir("%s/%s" % (d, rel))


def _render_soft_rdma(w, soft):
    ib = "sys/devices/virtual/infiniband/" + soft["name"]
    w.write(ib + "/node_type", soft["node_type"] + "\n")
    w.write(ib + "/node_desc", soft["node_desc"] + "\n")
    w.write(ib + "/node_guid", soft["node_guid"] + "\n")
    w.write(ib + "/fw_ver", "\n")  # no get_dev_fw_str: empty
    if soft["parent_file"]:
        w.write(ib + "/parent", soft["netdev"] + "\n")
    p = ib + "/ports/1/"
    w.write(p + "state", _state_text(soft["state"], PORT_STATES))
    w.write(p + "phys_state", _state_text(soft["phys_state"], PHYS_STATES))
    w.write(p + "link_layer", "Ethernet\n")
    w.write(p + "rate", soft["rate"] + "\n")
    w.write(p + "lid", "0x0\n")
    w.write(p + "sm_lid", "0x0\n")
    w.write(p + "gid_attrs/ndevs/0", soft["netdev"] + "\n")
    w.link("sys/class/infiniband/" + soft["name"], ib)


def _natural_key(name):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def expected_pci(spec, kinds=("gpu", "nvswitch", "nic", "ib")):
    """The scanner's list for ``spec`` (from the spec and model only), ``[]`` without PCI."""
    if spec["pci_devices"] is None:
        return []
    mdl = model(spec)
    layout = _pci_layout(spec, mdl)
    out = []
    for address, entry in layout.items():
        kind = entry["expect_kind"] or "other"
        if kind not in kinds:
            continue
        netdevs = sorted(entry["netdevs"], key=_natural_key)
        ibdevs = sorted(entry["ibdevs"], key=_natural_key)
        cards = sorted(entry["drm"], key=_natural_key)
        if kind == "ib":
            names = ibdevs + netdevs + cards
        elif kind == "gpu":
            names = cards + netdevs + ibdevs
        else:
            names = netdevs + ibdevs + cards
        numa = entry["numa_node"]
        out.append(
            {
                "address": address,
                "vendor": "0x%04x" % entry["vendor"],
                "device": "0x%04x" % entry["device"],
                "class": "0x%06x" % entry["class"],
                "kind": kind,
                "numa_node": None if (spec["no_node_dir"] or numa < 0) else numa,
                "local_cpus": _fmt_list(_local_cpus_for(spec, mdl, numa)),
                "names": names,
                "vf": entry["physfn"] is not None,
                "physfn": entry["physfn"],
                "roce": kind == "nic" and bool(ibdevs),
                "driver": entry["driver"],
                "netdevs": netdevs,
                "ibdevs": ibdevs,
                "drm": cards,
            }
        )

    def sort_key(dev):
        dom, bus, devfn = dev["address"].split(":")
        slot, fn = devfn.split(".")
        return (int(dom, 16), int(bus, 16), int(slot, 16), int(fn))

    out.sort(key=sort_key)
    return out


def _cpuinfo(spec, mdl, online, socket_cpus, socket_cores_online):
    core_by_cpu = {}
    for core in mdl["cores"]:
        for cpu in core.cpus:
            core_by_cpu[cpu] = core
    blocks = []
    if spec["arch"] == "arm":
        for cpu in sorted(online):
            lines = [
                "processor\t: %d" % cpu,
                "BogoMIPS\t: 50.00",
                "Features\t: %s" % _ARM_FEATURES,
                "CPU implementer\t: 0x%02x" % spec["arm_implementer"],
                "CPU architecture: 8",
                "CPU variant\t: 0x3",
                "CPU part\t: 0x%03x" % spec["arm_part"],
                "CPU revision\t: 1",
            ]
            if spec["model_name"]:
                lines.insert(1, "model name\t: %s" % spec["model_name"])
            blocks.append("\n".join(lines) + "\n")
        return "\n".join(blocks) + "\n"
    flags = _AMD_FLAGS if spec["vendor"] == "AuthenticAMD" else _INTEL_FLAGS
    cache_size = spec["l2_size_kib"] if spec["vendor"] == "AuthenticAMD" else spec["l3_size_kib"]
    for cpu in sorted(online):
        core = core_by_cpu[cpu]
        apic = core.socket * 256 + core.core_id * 2 + core.cpus.index(cpu)
        lines = [
            "processor\t: %d" % cpu,
            "vendor_id\t: %s" % spec["vendor"],
            "cpu family\t: %d" % spec["family"],
            "model\t\t: %d" % spec["model"],
            "model name\t: %s" % spec["model_name"],
            "stepping\t: %d" % spec["stepping"],
            "microcode\t: 0xa0011d1",
            "cpu MHz\t\t: 2450.000",
            "cache size\t: %d KB" % cache_size,
            "physical id\t: %d" % core.socket,
            "siblings\t: %d" % len(socket_cpus[core.socket]),
            "core id\t\t: %d" % core.core_id,
            "cpu cores\t: %d" % socket_cores_online[core.socket],
            "apicid\t\t: %d" % apic,
            "initial apicid\t: %d" % apic,
            "fpu\t\t: yes",
            "fpu_exception\t: yes",
            "cpuid level\t: 16",
            "wp\t\t: yes",
            "flags\t\t: %s" % flags,
            "bugs\t\t: sysret_ss_attrs spectre_v1 spectre_v2 spec_store_bypass srso",
            "bogomips\t: 4900.00",
            "TLB size\t: 3584 4K pages",
            "clflush size\t: 64",
            "cache_alignment\t: 64",
            "address sizes\t: 52 bits physical, 57 bits virtual",
            "power management: ts ttp tm hwpstate cpb eff_freq_ro [13] [14]",
        ]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks) + "\n"


# --------------------------------------------------------------------------
# Expected answer (from the model only)
# --------------------------------------------------------------------------


def expected(spec):
    """Contract keys of ``hpcai_cpu_topology`` for ``spec`` (from the model)."""
    mdl = model(spec)
    usable = set(mdl["usable"])
    online = set(mdl["online"])
    cores = []  # (core, [usable cpus])
    for core in mdl["cores"]:
        cpus = sorted(c for c in core.cpus if c in usable)
        if cpus:
            cores.append((core, cpus))
    n_cpus = len(usable)
    n_cores = len(cores)
    sockets = {}
    for core, cpus in cores:
        entry = sockets.setdefault(core.socket, {"cpus": [], "cores": 0})
        entry["cpus"].extend(cpus)
        entry["cores"] += 1
    socket_id = (lambda s: 0) if (spec["arch"] == "arm" and spec["arm_package_id"] == -1) else (lambda s: s)
    n_sockets = len(set(socket_id(s) for s in sockets))

    nodes = _nodes(spec, mdl)
    node_of_cpu = {}
    for core, cpus in cores:
        for c in cpus:
            node_of_cpu[c] = core.node
    if spec["no_node_dir"]:
        mem_total = sum(item[1]["mem_kib"] for item in nodes)
        numa = [{"id": 0, "cpus": _fmt_list(usable), "memory_mib": mem_total // 1024, "distances": [10]}]
        node_of_cpu = dict((c, 0) for c in usable)
    else:
        numa = []
        for a in nodes:
            nid, info = a
            numa.append(
                {
                    "id": nid,
                    "cpus": _fmt_list(c for c in usable if node_of_cpu.get(c) == nid),
                    "memory_mib": info["mem_kib"] // 1024,
                    "distances": [_distance(spec, a, b) for b in nodes],
                }
            )

    groups = {}
    if spec["l3"] == "ccx":
        for core, cpus in cores:
            groups.setdefault(("ccx", core.ccx), []).append((core, cpus))
    elif spec["l3"] == "socket":
        for core, cpus in cores:
            groups.setdefault(("socket", core.socket), []).append((core, cpus))
    l3 = []
    for members in groups.values():
        cpus = sorted(c for item in members for c in item[1])
        l3.append(
            {
                "cpus": cpus,
                "cores": len(members),
                "socket": socket_id(members[0][0].socket),
                "numa_nodes": sorted(set(node_of_cpu[c] for c in cpus if c in node_of_cpu)),
            }
        )
    l3.sort(key=lambda d: d["cpus"][0])
    for i, d in enumerate(l3):
        d["index"] = i
        d["cpus"] = _fmt_list(d["cpus"])

    mem_total_kib = sum(item[1]["mem_kib"] for item in nodes)
    real_memory = mem_total_kib // 1024

    def slurm(n_sock):
        return {
            "CPUs": n_cpus,
            "Boards": 1,
            "SocketsPerBoard": n_sock,
            "CoresPerSocket": n_cores // n_sock,
            "ThreadsPerCore": n_cpus // n_cores,
            "RealMemory": real_memory,
        }

    socket_list = []
    merged = {}
    for s, entry in sockets.items():
        m = merged.setdefault(socket_id(s), {"cpus": [], "cores": 0})
        m["cpus"].extend(entry["cpus"])
        m["cores"] += entry["cores"]
    for s in sorted(merged):
        socket_list.append({"id": s, "cpus": _fmt_list(merged[s]["cpus"]), "cores": merged[s]["cores"]})
    return {
        "vendor": spec["expect_vendor"],
        "cpu_family": spec["family"] if spec["arch"] == "x86" else None,
        "model": spec["model"] if spec["arch"] == "x86" else None,
        "model_name": spec["model_name"] or None,
        "generation": spec["expect_generation"],
        "cpus_online": _fmt_list(usable),
        "cpus_offline": _fmt_list(set(mdl["present"]) - online),
        "threads_per_core": max(len(item[1]) for item in cores),
        "counts": {
            "cpus_online": n_cpus,
            "cores": n_cores,
            "sockets": n_sockets,
            "numa_nodes": sum(1 for n in numa if n["cpus"]),
            "numa_nodes_total": len(numa),
            "l3_domains": len(l3),
        },
        "sockets": socket_list,
        "numa_nodes": numa,
        "l3_domains": l3,
        "slurm": slurm(n_sockets),
        "slurm_l3_as_socket": slurm(len(l3)) if l3 else slurm(n_sockets),
    }


# --------------------------------------------------------------------------
# Catalogue
# --------------------------------------------------------------------------

# Platform bases (one socket's worth of silicon; cores per CCX are the full-die
# figures of the flagship SKU).
NAPLES = dict(
    family=0x17, model=0x01, stepping=2, model_name="AMD EPYC 7601 32-Core Processor",
    ccx_per_socket=8, core_slots_per_ccx=4, cores_per_ccx=4, l3_size_kib=8192,
    nps=4, socket_distance=16, expect_generation="zen1",
)
ROME = dict(
    family=0x17, model=0x31, stepping=0, model_name="AMD EPYC 7742 64-Core Processor",
    ccx_per_socket=16, core_slots_per_ccx=4, cores_per_ccx=4, l3_size_kib=16384, expect_generation="zen2",
)
MILAN = dict(
    family=0x19, model=0x01, stepping=1, model_name="AMD EPYC 7763 64-Core Processor",
    ccx_per_socket=8, core_slots_per_ccx=8, cores_per_ccx=8, l3_size_kib=32768, expect_generation="zen3",
)
MILAN_X = dict(MILAN, model=0x01, stepping=2, model_name="AMD EPYC 7773X 64-Core Processor", l3_size_kib=98304)
GENOA = dict(
    family=0x19, model=0x11, stepping=1, model_name="AMD EPYC 9654 96-Core Processor",
    ccx_per_socket=12, core_slots_per_ccx=8, cores_per_ccx=8, l3_size_kib=32768, l2_size_kib=1024,
    socket_distance=11, expect_generation="zen4",
)
GENOA_X = dict(GENOA, stepping=2, model_name="AMD EPYC 9684X 96-Core Processor", l3_size_kib=98304)
BERGAMO = dict(
    family=0x19, model=0xA0, stepping=1, model_name="AMD EPYC 9754 128-Core Processor",
    ccx_per_socket=16, core_slots_per_ccx=8, cores_per_ccx=8, l3_size_kib=16384, l2_size_kib=1024,
    socket_distance=11, expect_generation="zen4c",
)
SIENA = dict(
    family=0x19, model=0xA0, stepping=2, model_name="AMD EPYC 8534P 64-Core Processor",
    ccx_per_socket=8, core_slots_per_ccx=8, cores_per_ccx=8, l3_size_kib=16384, l2_size_kib=1024,
    socket_distance=11, expect_generation="zen4c",
)
TURIN = dict(
    family=0x1A, model=0x02, stepping=1, model_name="AMD EPYC 9755 128-Core Processor",
    ccx_per_socket=16, core_slots_per_ccx=8, cores_per_ccx=8, l3_size_kib=32768, l2_size_kib=1024,
    socket_distance=11, expect_generation="zen5",
)
TURIN_DENSE = dict(
    family=0x1A, model=0x11, stepping=0, model_name="AMD EPYC 9965 192-Core Processor",
    ccx_per_socket=12, core_slots_per_ccx=16, cores_per_ccx=16, l3_size_kib=32768, l2_size_kib=1024,
    socket_distance=11, expect_generation="zen5c",
)
SPR = dict(
    vendor="GenuineIntel", family=6, model=0x8F, stepping=8,
    model_name="Intel(R) Xeon(R) Platinum 8480+", ccx_per_socket=1, core_slots_per_ccx=60,
    cores_per_ccx=56, l3="socket", l3_size_kib=107520, l2_size_kib=2048, socket_distance=12,
    remote_distance=21, expect_vendor="GenuineIntel", expect_generation="intel",
)
ICX = dict(
    vendor="GenuineIntel", family=6, model=0x6A, stepping=6,
    model_name="Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz", ccx_per_socket=1, core_slots_per_ccx=40,
    cores_per_ccx=40, l3="socket", l3_size_kib=61440, l2_size_kib=1280, remote_distance=20,
    expect_vendor="GenuineIntel", expect_generation="intel",
)
ALTRA = dict(
    arch="arm", vendor=None, family=0, model=0, model_name=None, arm_implementer=0x41, arm_part=0xD0C,
    ccx_per_socket=1, core_slots_per_ccx=80, cores_per_ccx=80, threads=1, l3="none", l2_size_kib=1024,
    remote_distance=20, expect_vendor="ARM", expect_generation="arm",
)


def _matrix():
    specs = {}
    plats = (
        ("rome", ROME), ("milan", MILAN), ("genoa", GENOA), ("bergamo", BERGAMO),
        ("turin", TURIN), ("turin_dense", TURIN_DENSE),
    )
    for pname, plat in plats:
        for sockets in (1, 2):
            for nps in (1, 2, 4):
                for smt in ("on", "bios_off"):
                    name = "%s_%dp_nps%d_%s" % (pname, sockets, nps, "smt" if smt == "on" else "nosmt")
                    specs[name] = make_spec(plat, name=name, sockets=sockets, nps=nps, smt=smt)
    for sockets in (1, 2):
        for smt in ("on", "bios_off"):
            name = "naples_%dp_%s" % (sockets, "smt" if smt == "on" else "nosmt")
            specs[name] = make_spec(NAPLES, name=name, sockets=sockets, smt=smt)
    for nps in (1, 2, 4):
        name = "siena_1p_nps%d_smt" % nps
        specs[name] = make_spec(SIENA, name=name, nps=nps)
    return specs


def _quirks():
    s = {}

    def add(name, base, **kw):
        s[name] = make_spec(base, name=name, **kw)

    add("milan_x_2p_nps1_smt", MILAN_X, sockets=2)
    add("genoa_x_1p_nps1_smt", GENOA_X)
    # L3-as-NUMA ("LLC as NUMA node" BIOS option): one node per CCX.
    add("rome_2p_l3_as_numa", ROME, sockets=2, nps="l3")
    add("milan_1p_l3_as_numa", MILAN, nps="l3")
    # Offline CPUs: a whole core, one SMT sibling, and a whole CCX (uneven result).
    add("milan_2p_offline", MILAN, sockets=2, offline=[5, 133, 130] + list(range(64, 72)) + list(range(192, 200)))
    # SMT disabled by the kernel (nosmt / smt/control=off): siblings present but offline.
    add("rome_2p_nosmt_kernel", ROME, sockets=2, smt="kernel_off")
    # Hot-pluggable slots: possible > present (cpu/offline lists the empty slots).
    add("genoa_1p_possible_extra", GENOA, possible_extra=192, offline=[3])
    # CPU-less memory nodes.
    add(
        "genoa_2p_cxl", GENOA, sockets=2,
        memless_nodes=[{"mem_kib": 268435456, "socket": 0, "near": 20, "far": 32}],
    )
    add(
        "genoa_2p_nps4_gpu_hbm", GENOA, sockets=2, nps=4,
        memless_nodes=[
            {"mem_kib": 100663296, "socket": i // 4, "near": 40, "far": 80} for i in range(8)
        ],
    )
    # Odd / sparse node ids.
    add("milan_2p_odd_nodes", MILAN, sockets=2, node_ids=[1, 3])
    add("rome_1p_nps4_sparse_nodes", ROME, nps=4, node_ids=[0, 2, 5, 7])
    # core_id repeating within a socket / sequential without gaps.
    add("rome_2p_coreid_per_ccx", ROME, sockets=2, core_id_mode="per_ccx")
    add("genoa_1p_coreid_sequential", GENOA, core_id_mode="sequential")
    # Low-core SKUs: cores fused off per CCX (core_id gaps).
    add("rome_7302_2p", ROME, sockets=2, ccx_per_socket=8, cores_per_ccx=2, model_name="AMD EPYC 7302 16-Core Processor", l3_size_kib=16384)
    add("milan_73f3_2p", MILAN, sockets=2, cores_per_ccx=2, model_name="AMD EPYC 73F3 16-Core Processor")
    add("genoa_9174f_1p", GENOA, ccx_per_socket=8, cores_per_ccx=2, model_name="AMD EPYC 9174F 16-Core Processor")
    add("turin_9175f_1p", TURIN, cores_per_ccx=1, model_name="AMD EPYC 9175F 16-Core Processor")
    add("genoa_9634_2p", GENOA, sockets=2, cores_per_ccx=7, model_name="AMD EPYC 9634 84-Core Processor")
    # Synthetic uneven CCXs (not a real SKU: exercises heterogeneous Slurm maths).
    add("genoa_uneven_synthetic", GENOA, cores_per_ccx=[8, 7, 8, 6, 8, 8, 8, 8, 8, 8, 8, 5])
    # Old kernel (EL7/EL8 era): no core_cpus_list, die/cluster files, cache id.
    add("rome_2p_old_kernel", ROME, sockets=2, nps=4, old_kernel=True)
    add("naples_2p_old_kernel", NAPLES, sockets=2, old_kernel=True)
    # Non-NUMA kernel (no node/ directory).
    add("milan_1p_no_numa", MILAN, no_node_dir=True)
    # Cache index layout variants (level is read, index number not trusted).
    add("genoa_1p_l3_at_index2", GENOA, cache_layout="l3_at_index2")
    add("milan_1p_with_l4", MILAN, cache_layout="with_l4")
    # Containers.
    add("genoa_2p_container_v2", GENOA, sockets=2, cpuset="8-15,200-207")
    add("milan_2p_container_v1", MILAN, sockets=2, cpuset="0-3,64-71,128-131", cgroup="v1")
    # Round-robin (socket interleaved) CPU enumeration.
    add("rome_2p_nps4_socket_rr", ROME, sockets=2, nps=4, enumeration="socket_rr")
    # Intel.
    # SNC2 as most kernels report it: CPUID leaf 4 describes one socket-wide
    # L3, so shared_cpu_list spans both SNC nodes of the socket ...
    add("intel_spr_2p_snc2", SPR, sockets=2, nps=2)
    # ... and a variant whose L3 is split per SNC node (unverified on real
    # hardware; the parser must simply follow whatever sysfs says).
    add("intel_spr_2p_snc2_split_l3", SPR, sockets=2, nps=2, ccx_per_socket=2, core_slots_per_ccx=30,
        cores_per_ccx=28, l3="ccx", l3_size_kib=53760)
    add("intel_icx_2p_socket_rr", ICX, sockets=2, enumeration="socket_rr")
    add("intel_spr_1p_nosmt", SPR, smt="bios_off")
    # ARM.
    add("arm_altra_q80_no_l3", ALTRA)
    add("arm_altra_max_2p_l3", ALTRA, sockets=2, core_slots_per_ccx=128, cores_per_ccx=128, l3="socket", l3_size_kib=16384)
    add("arm_altra_old_pkg_minus1", ALTRA, arm_package_id=-1, old_kernel=True)
    add(
        "arm_grace_hopper_like", ALTRA, arm_part=0xD4F, core_slots_per_ccx=72, cores_per_ccx=72, l3="socket",
        l3_size_kib=116736, mem_per_node_kib=500000000,
        memless_nodes=[{"mem_kib": 100663296, "socket": 0, "near": 80, "far": 80}], node_possible_extra=8,
    )
    add(
        "arm_ampereone_1p", ALTRA, arm_implementer=0xC0, arm_part=0xAC3, core_slots_per_ccx=192,
        cores_per_ccx=192, l3="socket", l3_size_kib=65536, expect_vendor="Ampere",
    )
    add("arm_altra_quadrant", ALTRA, nps=4)
    return s


# PCI ids used below (vendor, device, class). The kinds in ``expect_kind`` are
# hand-written from what the hardware is, not computed by the scanner's rules.
NV, AMDGPU, AMDCPU, INTEL, MLX, BRCM = 0x10DE, 0x1002, 0x1022, 0x8086, 0x15B3, 0x14E4
ASPEED_VGA = (0x1A03, 0x2000, 0x030000)  # BMC console: never a GPU
SAMSUNG_NVME = (0x144D, 0xA80A, 0x010802)


def _pci_catalogue():
    s = {}

    def add(name, base, devices, **kw):
        s[name] = make_spec(base, name=name, pci_devices=devices, **kw)

    def dev(address, ids, kind="other", **kw):
        return pci_device(address, ids[0], ids[1], ids[2], expect_kind=kind, **kw)

    # 8-GPU HGX H100 on 2 x Genoa, NPS4: one GPU and one ConnectX-7 (InfiniBand
    # mode, class 0x0207) per root complex = per NUMA node, 4 NVSwitches and the
    # BMC VGA / boot NVMe on node 0, a dual-port ConnectX-6 Dx (Ethernet, RoCE)
    # for storage on node 2.
    hgx = [
        dev("0000:02:00.0", ASPEED_VGA, numa_node=0, drm=["card0"], driver="ast"),
        dev("0000:03:00.0", SAMSUNG_NVME, numa_node=0, driver="nvme"),
    ]
    for i in range(4):
        hgx.append(dev("0000:%02x:00.0" % (0x0C + i), (NV, 0x22A3, 0x068000), "nvswitch", numa_node=0))
    for node in range(8):
        root = node * 0x20
        ib_bus = root + 0x06
        hgx.append(dev("0000:%02x:00.0" % ib_bus, (MLX, 0x1021, 0x020700), "ib", numa_node=node,
                       ibdevs=["mlx5_%d" % node], netdevs=["ibp%ds0" % ib_bus], driver="mlx5_core"))
        hgx.append(dev("0000:%02x:00.0" % (root + 0x08), (NV, 0x2330, 0x030200), "gpu", numa_node=node,
                       drm=["card%d" % (node + 1)], driver="nvidia"))
    for port in range(2):
        hgx.append(dev("0000:41:00.%d" % port, (MLX, 0x101D, 0x020000), "nic", numa_node=2,
                       netdevs=["ens41f%dnp%d" % (port, port)], ibdevs=["mlx5_%d" % (8 + port)],
                       driver="mlx5_core"))
    add("hgx_h100_genoa_2p_nps4", GENOA, hgx, sockets=2, nps=4)

    # 4 x MI300X (class 0x1200, processing accelerator) on 2 x Genoa NPS1, two per
    # socket, with two Broadcom 400G NICs (RoCE through bnxt_re) and an AMD
    # non-essential-instrumentation function that must stay ``other``.
    mi = [
        dev("0000:02:00.0", ASPEED_VGA, numa_node=0, drm=["card0"], driver="ast"),
        dev("0000:00:00.2", (AMDCPU, 0x14DC, 0x130000), numa_node=0),
    ]
    for i, (bus, node) in enumerate(((0x05, 0), (0x25, 0), (0x85, 1), (0xA5, 1))):
        mi.append(dev("0000:%02x:00.0" % bus, (AMDGPU, 0x74A1, 0x120000), "gpu", numa_node=node,
                      drm=["card%d" % (i + 1)], driver="amdgpu"))
    for i, (bus, node) in enumerate(((0x47, 0), (0xC7, 1))):
        mi.append(dev("0000:%02x:00.0" % bus, (BRCM, 0x1760, 0x020000), "nic", numa_node=node,
                      netdevs=["ens%dnp0" % bus], ibdevs=["bnxt_re%d" % i], driver="bnxt_en"))
    add("mi300x_genoa_2p_nps1", GENOA, mi, sockets=2, nps=1)

    # Single-socket workstation with one PCIe RTX 6000 Ada (VGA class 0x0300) and its
    # HDMI audio function, an Intel i210 NIC and an NVMe; the firmware gives no
    # proximity information, so every device reports numa_node -1.
    ws = [
        dev("0000:01:00.0", (NV, 0x26B1, 0x030000), "gpu", drm=["card0"], driver="nvidia"),
        dev("0000:01:00.1", (NV, 0x22BA, 0x040300), driver="snd_hda_intel"),
        dev("0000:02:00.0", SAMSUNG_NVME, driver="nvme"),
        dev("0000:05:00.0", (INTEL, 0x1533, 0x020000), "nic", netdevs=["enp5s0"], driver="igb"),
    ]
    add("workstation_milan_1p_pcie_gpu", MILAN, ws, ccx_per_socket=2,
        model_name="AMD EPYC 7313P 16-Core Processor")

    # ConnectX-6 Dx with SR-IOV: two PFs with RoCE, two VFs of port 0 (each with its
    # own netdev and RDMA device), and a ConnectX-6 in InfiniBand mode on socket 1.
    sriov = [
        dev("0000:41:00.0", (MLX, 0x101D, 0x020000), "nic", numa_node=0, netdevs=["ens1f0np0"],
            ibdevs=["mlx5_0"], driver="mlx5_core"),
        dev("0000:41:00.1", (MLX, 0x101D, 0x020000), "nic", numa_node=0, netdevs=["ens1f1np1"],
            ibdevs=["mlx5_1"], driver="mlx5_core"),
        dev("0000:41:00.2", (MLX, 0x101E, 0x020000), "nic", physfn="0000:41:00.0", netdevs=["ens1f0v0"],
            ibdevs=["mlx5_2"], driver="mlx5_core"),
        dev("0000:41:00.3", (MLX, 0x101E, 0x020000), "nic", physfn="0000:41:00.0", netdevs=["ens1f0v1"],
            ibdevs=["mlx5_3"], driver="mlx5_core"),
        dev("0000:c1:00.0", (MLX, 0x101B, 0x020700), "ib", numa_node=1, ibdevs=["mlx5_4"],
            netdevs=["ibp193s0"], driver="mlx5_core"),
    ]
    add("milan_2p_roce_sriov", MILAN, sriov, sockets=2)

    # A PCI bus with nothing on it (microVM / virtio-mmio guest).
    add("genoa_1p_pci_empty", GENOA, [], ccx_per_socket=2)
    return s


NVML_FILES = {"usr/lib64/libnvidia-ml.so.570.133.20": "\x7fELF synthetic NVML\n"}
NVML_LINKS = {"usr/lib64/libnvidia-ml.so.1": "libnvidia-ml.so.570.133.20"}


def _gpu_catalogue():
    """GPU nodes for the gpu_facts tests.  ``expect_*`` fields are hand-written
    from the hardware and the device ids' pci.ids names, not from gpu.py."""
    s = {}

    def add(name, base, devices, **kw):
        s[name] = make_spec(base, name=name, pci_devices=devices, **kw)

    def dev(address, ids, kind="other", **kw):
        return pci_device(address, ids[0], ids[1], ids[2], expect_kind=kind, **kw)

    h100 = (NV, 0x2330, 0x030200)
    # HGX H100 (8 x H100 SXM5 80GB, 4 NVSwitches) on 2 x Genoa NPS1: GPUs 0-3 behind
    # the root complexes of socket 0, 4-7 behind socket 1; the driver is loaded
    # (proc/driver/nvidia) and NVML is installed (EL layout, versioned file + link).
    hgx = [
        dev("0000:02:00.0", ASPEED_VGA, numa_node=0, drm=["card0"], driver="ast"),
        dev("0000:03:00.0", SAMSUNG_NVME, numa_node=0, driver="nvme"),
    ]
    for i, bus in enumerate((0x05, 0x25, 0x45, 0x65, 0x85, 0xA5, 0xC5, 0xE5)):
        node = 0 if bus < 0x80 else 1
        hgx.append(dev("0000:%02x:00.0" % (bus - 1), (MLX, 0x1021, 0x020700), "ib", numa_node=node,
                       ibdevs=["mlx5_%d" % i], netdevs=["ibp%ds0" % (bus - 1)], driver="mlx5_core"))
        hgx.append(dev("0000:%02x:00.0" % bus, h100, "gpu", numa_node=node, driver="nvidia", nvidia_minor=i,
                       expect_model="H100 SXM5 80GB", expect_gres_type="h100",
                       expect_device_file="/dev/nvidia%d" % i))
    for bus in (0x0B, 0x0C, 0x8B, 0x8C):
        hgx.append(dev("0000:%02x:00.0" % bus, (NV, 0x22A3, 0x068000), "nvswitch", numa_node=0 if bus < 0x80 else 1,
                       driver="nvidia"))
    add("hgx_h100_genoa_2p_nps1", GENOA, hgx, sockets=2, nps=1,
        extra_files=dict(NVML_FILES), extra_links=dict(NVML_LINKS))

    # 4 x MI300X (class 0x1200) on 2 x Genoa NPS4, one GPU behind each of the
    # root complexes of NUMA nodes 0, 3, 4 and 7; ROCm 6.4 below /opt/rocm-6.4.0
    # with the usual /opt/rocm link.
    mi = [dev("0000:02:00.0", ASPEED_VGA, numa_node=0, drm=["card0"], driver="ast")]
    for i, node in enumerate((0, 3, 4, 7)):
        mi.append(dev("0000:%02x:00.0" % (node * 0x20 + 0x05), (AMDGPU, 0x74A1, 0x120000), "gpu", numa_node=node,
                      drm=["card%d" % (i + 1)], driver="amdgpu", expect_model="Instinct MI300X",
                      expect_gres_type="mi300x", expect_device_file="/dev/dri/renderD%d" % (129 + i)))
    add("mi300x_genoa_2p_nps4", GENOA, mi, sockets=2, nps=4,
        extra_files={"opt/rocm-6.4.0/lib/librocm_smi64.so.7.5.60400": "\x7fELF synthetic rocm_smi\n"},
        extra_links={"opt/rocm": "rocm-6.4.0",
                     "opt/rocm-6.4.0/lib/librocm_smi64.so.7": "librocm_smi64.so.7.5.60400"})

    # One PCIe L40S in a 1-socket Milan (NPS1): local to every CPU, so no Cores=.
    # Driver bound (nvidia-drm gives it card1/renderD129) but /proc/driver/nvidia is
    # not in the tree; NVML in the Debian multiarch directory.
    l40s = [
        dev("0000:02:00.0", ASPEED_VGA, numa_node=0, drm=["card0"], driver="ast"),
        dev("0000:41:00.0", (NV, 0x26B9, 0x030200), "gpu", numa_node=0, drm=["card1"], driver="nvidia",
            expect_model="L40S", expect_gres_type="l40s", expect_device_file="/dev/nvidia0"),
        dev("0000:42:00.0", (INTEL, 0x1593, 0x020000), "nic", numa_node=0, netdevs=["ens42f0"], driver="ice"),
    ]
    add("l40s_milan_1p", MILAN, l40s,
        extra_files={"usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1": "\x7fELF synthetic NVML\n"})

    # No GPU: BMC VGA (never a GPU), NVMe, an E810 NIC; NVML is not installed.
    add("genoa_1p_no_gpu", GENOA, [
        dev("0000:02:00.0", ASPEED_VGA, numa_node=0, drm=["card0"], driver="ast"),
        dev("0000:03:00.0", SAMSUNG_NVME, numa_node=0, driver="nvme"),
        dev("0000:41:00.0", (INTEL, 0x1593, 0x020000), "nic", numa_node=0, netdevs=["ens41f0"], driver="ice"),
    ], ccx_per_socket=4)

    # Quirks on 2 x Milan NPS1: an A100 whose firmware gives no proximity (numa_node
    # -1), an H100 PCIe handed to VMs (vfio-pci), an unbound T4, a GPU not in the
    # model table (GeForce RTX 5090, VGA class), an MI210 with amdgpu, an MI300X PF
    # with one SR-IOV VF (a VM's, bound to vfio-pci), and an MI210 without a driver.
    # NVML is installed but the node mixes vendors.
    quirks = [
        dev("0000:01:00.0", (NV, 0x20B5, 0x030200), "gpu", numa_node=-1, driver="nvidia",
            expect_model="A100 PCIe 80GB", expect_gres_type="a100", expect_device_file="/dev/nvidia0"),
        dev("0000:21:00.0", (NV, 0x2331, 0x030200), "gpu", numa_node=0, driver="vfio-pci",
            expect_model="H100 PCIe", expect_gres_type="h100", expect_device_file=None),
        dev("0000:41:00.0", (NV, 0x1EB8, 0x030200), "gpu", numa_node=0,
            expect_model="Tesla T4", expect_gres_type="t4", expect_device_file="/dev/nvidia1"),
        dev("0000:61:00.0", (NV, 0x2B85, 0x030000), "gpu", numa_node=0, driver="nvidia",
            expect_model=None, expect_gres_type="nvidia_2b85", expect_device_file="/dev/nvidia2"),
        dev("0000:81:00.0", (AMDGPU, 0x740F, 0x038000), "gpu", numa_node=1, drm=["card1"], driver="amdgpu",
            expect_model="Instinct MI210", expect_gres_type="mi210", expect_device_file="/dev/dri/renderD129"),
        dev("0000:a1:00.0", (AMDGPU, 0x74A1, 0x120000), "gpu", numa_node=1, drm=["card2"], driver="amdgpu",
            expect_model="Instinct MI300X", expect_gres_type="mi300x", expect_device_file="/dev/dri/renderD130"),
        dev("0000:a1:00.1", (AMDGPU, 0x74B5, 0x120000), "gpu", physfn="0000:a1:00.0", driver="vfio-pci"),
        dev("0000:c1:00.0", (AMDGPU, 0x740F, 0x038000), "gpu", numa_node=1,
            expect_model="Instinct MI210", expect_gres_type="mi210", expect_device_file=None),
    ]
    add("gpu_quirks_milan_2p", MILAN, quirks, sockets=2,
        extra_files=dict(NVML_FILES), extra_links=dict(NVML_LINKS))
    return s


def expected_slurm_cores(spec, numa_node):
    """Slurm abstract core ids (gres.conf ``Cores=``) of the cores on NUMA node
    ``numa_node``, as a cpulist, from the hardware model alone.

    slurmd numbers cores in hwloc's tree order: package by package, inside a
    package L3 by L3, inside an L3 core by core (siblings ordered by first CPU).
    That is the order in which ``model()`` creates the cores (socket, CCX, slot),
    whatever the Linux CPU numbering; cores without an online CPU do not count.
    """
    mdl = model(spec)
    online = set(mdl["online"])
    usable = [c for c in mdl["cores"] if any(t in online for t in c.cpus)]
    return _fmt_list(i for i, core in enumerate(usable) if core.node == numa_node)


def expected_l3_domains(spec, numa_node):
    """Indexes (sorted by first CPU, like the topology fact) of the L3 domains
    with a core on ``numa_node``; every domain for ``None`` / -1."""
    mdl = model(spec)
    online = set(mdl["online"])
    if spec["l3"] == "none":
        return []
    groups = {}
    for core in mdl["cores"]:
        cpus = [t for t in core.cpus if t in online]
        if not cpus:
            continue
        key = core.ccx if spec["l3"] == "ccx" else core.socket
        group = groups.setdefault(key, {"first": cpus[0], "nodes": set()})
        group["first"] = min(group["first"], *cpus)
        group["nodes"].add(core.node)
    ordered = sorted(groups.values(), key=lambda g: g["first"])
    if numa_node is None or numa_node < 0:
        return list(range(len(ordered)))
    return [i for i, g in enumerate(ordered) if numa_node in g["nodes"]]


def _fabric_catalogue():
    """RDMA fabric nodes for the fabric_facts tests.  What each node should give
    is hand-written in tests/unit/test_fabric.py, not derived from fabric.py."""
    s = {}

    def add(name, base, devices, **kw):
        s[name] = make_spec(base, name=name, pci_devices=devices, **kw)

    def dev(address, ids, kind="other", **kw):
        return pci_device(address, ids[0], ids[1], ids[2], expect_kind=kind, **kw)

    cx7_ib = (MLX, 0x1021, 0x020700)
    cx6_ib = (MLX, 0x101B, 0x020700)
    i210 = (INTEL, 0x1533, 0x020000)

    # 4 x ConnectX-7 NDR InfiniBand, two per socket of a 2 x Genoa (NPS1), all ports
    # ACTIVE under a subnet manager at LID 1; IPoIB in datagram mode (one in connected
    # mode, as ConnectX-3 era configs still ask) and a legacy P_Key child ibp33s0.8001;
    # an i210 for management that is not an RDMA adapter.
    ib = [dev("0000:02:00.0", ASPEED_VGA, numa_node=0, drm=["card0"], driver="ast"),
          dev("0000:05:00.0", i210, "nic", numa_node=0, netdevs=["eno1"], driver="igb")]
    for i, (bus, node) in enumerate(((0x21, 0), (0x41, 0), (0x81, 1), (0xA1, 1))):
        ib.append(dev("0000:%02x:00.0" % bus, cx7_ib, "ib", numa_node=node, ibdevs=["mlx5_%d" % i],
                      netdevs=["ibp%ds0" % bus], driver="mlx5_core", port_state="ACTIVE", lid=0x10 + i, sm_lid=1,
                      fw_ver="28.42.1000", node_guid="a088:c203:0045:6a%02x" % i, netdev_attrs=True,
                      netdev_speed=400000, ipoib_mode="connected" if i == 3 else "datagram",
                      ipoib_children=[{"name": "ibp33s0.8001", "parent": "ibp33s0", "pkey": 0x8001, "legacy": True}]
                      if i == 0 else []))
    add("fabric_ib_sm_genoa_2p", GENOA, ib, sockets=2, ccx_per_socket=2)

    # 2 x ConnectX-6 HDR InfiniBand without a subnet manager: one port is physically
    # up but stays INIT with SM LID 0, the other has no link partner (Polling).
    add("fabric_ib_no_sm_milan_2p", MILAN, [
        dev("0000:41:00.0", cx6_ib, "ib", numa_node=0, ibdevs=["mlx5_0"], netdevs=["ibp65s0"], driver="mlx5_core",
            port_state="INIT", phys_state="LinkUp", lid=0, sm_lid=0, port_rate="200 Gb/sec (4X HDR)",
            netdev_operstate="down", netdev_attrs=True, ipoib_mode="datagram"),
        dev("0000:c1:00.0", cx6_ib, "ib", numa_node=1, ibdevs=["mlx5_1"], netdevs=["ibp193s0"], driver="mlx5_core",
            port_state="DOWN", phys_state="Polling", lid=0, sm_lid=0, port_rate="10 Gb/sec (4X SDR)",
            netdev_operstate="down", netdev_attrs=True, netdev_speed=-1),
    ], sockets=2, ccx_per_socket=2)

    # Dual-port ConnectX-6 Dx (one PCI function and one RDMA device per port), RoCE:
    # port 0 up at 100 GbE, port 1 without link (speed -1, Disabled).
    cx6dx = (MLX, 0x101D, 0x020000)
    add("fabric_roce_cx6dx_genoa_1p", GENOA, [
        dev("0000:41:00.0", cx6dx, "nic", numa_node=0, ibdevs=["mlx5_0"], netdevs=["ens41f0np0"], driver="mlx5_core",
            gid_ndevs=True, netdev_attrs=True, netdev_speed=100000, fw_ver="22.41.1000", lid=0, sm_lid=0),
        dev("0000:41:00.1", cx6dx, "nic", numa_node=0, ibdevs=["mlx5_1"], netdevs=["ens41f1np1"], driver="mlx5_core",
            gid_ndevs=True, netdev_attrs=True, netdev_speed=-1, netdev_operstate="down", fw_ver="22.41.1000",
            port_state="DOWN", phys_state="Disabled", port_rate="25 Gb/sec (1X EDR)", lid=0, sm_lid=0),
    ], ccx_per_socket=2)

    # A ConnectX-6 Lx pair whose netdevs are up (mlx5_core) but mlx5_ib is not loaded:
    # no RDMA device, no sys/class/infiniband.
    cx6lx = (MLX, 0x101F, 0x020000)
    add("fabric_mlx_no_rdma_driver_milan_1p", MILAN, [
        dev("0000:41:00.0", cx6lx, "nic", numa_node=0, netdevs=["ens41f0np0"], driver="mlx5_core"),
        dev("0000:41:00.1", cx6lx, "nic", numa_node=0, netdevs=["ens41f1np1"], driver="mlx5_core"),
    ], ccx_per_socket=2)

    # No RDMA at all: an i210 and a dual-port X710 (i40e, but not an X722: no iWARP).
    add("fabric_no_rdma_milan_1p", MILAN, [
        dev("0000:03:00.0", SAMSUNG_NVME, numa_node=0, driver="nvme"),
        dev("0000:05:00.0", i210, "nic", numa_node=0, netdevs=["enp5s0"], driver="igb"),
        dev("0000:21:00.0", (INTEL, 0x1572, 0x020000), "nic", numa_node=0, netdevs=["ens21f0"], driver="i40e"),
        dev("0000:21:00.1", (INTEL, 0x1572, 0x020000), "nic", numa_node=0, netdevs=["ens21f1"], driver="i40e"),
    ], ccx_per_socket=2)

    # A virtual machine with virtio-net (no NUMA information) and soft-RoCE rxe0 on it.
    add("fabric_soft_roce_vm", MILAN, [
        dev("0000:01:00.0", (0x1AF4, 0x1041, 0x020000), "nic", netdevs=["enp1s0"], driver="virtio-pci"),
    ], ccx_per_socket=1, soft_rdma=[soft_rdma("rxe0", "enp1s0")])

    # Quirks on 2 x Genoa: a ConnectX-6 IB without proximity information (numa_node -1)
    # whose rate is garbage, whose IPoIB mode file is unreadable and which has an
    # rtnetlink P_Key child (no parent file: found through iflink); a ConnectX-5 whose
    # RDMA device has no ports directory; a ConnectX-7 whose port state is unreadable
    # and one of its VFs handed to a VM (vfio-pci, no RDMA device on the host); a
    # BCM5720 (tg3, not RDMA); a Mellanox function with an id this collection does
    # not know and no driver; an E810 with irdma in iWARP mode (node type RNIC).
    add("fabric_quirks_genoa_2p", GENOA, [
        dev("0000:21:00.0", cx6_ib, "ib", numa_node=-1, ibdevs=["mlx5_0"], netdevs=["ibp33s0"], driver="mlx5_core",
            port_rate="fast enough", lid=5, sm_lid=1, netdev_attrs=True, ipoib_mode="datagram",
            unreadable=["net/ibp33s0/mode"],
            ipoib_children=[{"name": "ibp33s0.7fff", "parent": "ibp33s0", "pkey": 0x7FFF, "legacy": False}]),
        dev("0000:41:00.0", (MLX, 0x1017, 0x020000), "nic", numa_node=0, ibdevs=["mlx5_1"], netdevs=["ens41f0np0"],
            driver="mlx5_core", no_ports=True),
        dev("0000:81:00.0", cx7_ib, "ib", numa_node=1, ibdevs=["mlx5_2"], netdevs=["ibp129s0"], driver="mlx5_core",
            lid=7, sm_lid=1, unreadable=["infiniband/mlx5_2/ports/1/state"]),
        dev("0000:81:00.1", (MLX, 0x101E, 0x020700), "ib", physfn="0000:81:00.0", driver="vfio-pci"),
        dev("0000:c1:00.0", (BRCM, 0x165F, 0x020000), "nic", numa_node=1, netdevs=["eno1"], driver="tg3"),
        dev("0000:c2:00.0", (MLX, 0x1025, 0x020000), "nic", numa_node=1),
        dev("0000:e1:00.0", (INTEL, 0x1593, 0x020000), "nic", numa_node=1, ibdevs=["iwp225s0f0"], netdevs=["ens225f0"],
            driver="ice", node_type="4: RNIC", port_rate="25 Gb/sec (1X EDR)"),
    ], sockets=2, ccx_per_socket=2)
    return s


CATALOGUE = {}
CATALOGUE.update(_matrix())
CATALOGUE.update(_quirks())
CATALOGUE.update(_pci_catalogue())
CATALOGUE.update(_gpu_catalogue())
CATALOGUE.update(_fabric_catalogue())

# The performance reference: 2 x 192-core Zen 5c with SMT = 768 CPUs.
PERF_SPEC = "turin_dense_2p_nps1_smt"


def catalogue():
    """Sorted list of catalogue names."""
    return sorted(CATALOGUE)


def fast_tmp_base():
    """Directory for on-disk test trees: ``$HPCAI_TEST_TMPDIR``, else ``/dev/shm``
    when it is writable with more than 1 GiB free (writing tens of thousands of
    small files to a slow disk dominates test time), else ``None`` (the system
    temp dir)."""
    base = os.environ.get("HPCAI_TEST_TMPDIR")
    if base:
        return base
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        try:
            st = os.statvfs("/dev/shm")
        except OSError:
            return None
        if st.f_bavail * st.f_frsize > 1 << 30:
            return "/dev/shm"
    return None
