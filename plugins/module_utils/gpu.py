# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU facts and Slurm GRES values (pure Python 3.8+, no deps).

Builds the ``hpcai_gpu_facts`` fact of the ``hpcai.cluster.gpu_facts`` module
from the PCI scan of ``pci.scan`` (GPUs and NVSwitches are classified there,
by PCI class and vendor) and the ``hpcai_cpu_topology`` fact of
``topology.gather``.  Everything reads through a reader with the
``topology.SysfsReader`` interface, so the synthetic trees of the tests and a
real ``/`` go through the same code.

Per GPU (``gpu_entries``), sorted by PCI address, ``index`` 0..n-1 in that
order:

* ``model`` / ``gres_type`` from ``MODELS`` (vendor id, device id).  The GRES
  type is a lower-case slug chosen to be a substring of the name Slurm's
  AutoDetect plugins derive from NVML / ROCm SMI / oneAPI (``NVIDIA H100 80GB
  HBM3`` -> ``nvidia_h100_80gb_hbm3`` contains ``h100``), because slurmd
  matches a configured ``Type=`` against the detected name by substring.  One
  type per product family (H100 SXM and PCIe are both ``h100``).  Unknown
  devices get ``<vendor>_<device id>`` (``nvidia_2330``) and model ``None``.
* ``local_cpus`` is the device's ``local_cpulist``; when it is unreadable but
  ``numa_node`` is known, the CPUs of that node in the topology.
* ``l3_domains``: indexes of the topology's L3 domains with at least one CPU in
  ``local_cpus`` (on EPYC an L3 domain never straddles a NUMA node, so these
  lie wholly inside; with Intel SNC the socket-wide L3 is reported); every
  domain when ``numa_node`` is ``None`` (no proximity information).
* ``device_file``: NVIDIA ``/dev/nvidia<minor>`` with the minor from
  ``<root>/proc/driver/nvidia/gpus/<address>/information`` (``Device Minor:``,
  printed by nv-procfs.c).  When that directory exists (the driver is loaded)
  a GPU missing from it has no device file.  When it does not exist (facts
  gathered before the driver is installed), the minor is predicted as the
  index among the NVIDIA GPUs in PCI order that are not bound to another
  driver (the driver probes in PCI order); an NVIDIA GPU bound to
  ``vfio-pci``/``nouveau`` has no ``/dev/nvidiaN``.  AMD and Intel:
  ``/dev/dri/renderD<minor>`` from the device's ``drm/renderD*`` entry (only
  present while ``amdgpu``/``i915``/``xe`` is bound).

SR-IOV virtual functions (a ``physfn`` link: MI300X VFs, vGPU VFs) are *not*
GPUs of the node: they belong to virtual machines.  They are left out of
``gpus`` and of every Slurm value and listed in ``vfs``.

Slurm (``slurm_values``):

* ``gres``: the ``NodeName`` ``Gres=`` value, ``gpu:<type>:<count>`` per type,
  types sorted alphabetically and comma-joined, ``''`` without GPUs.
* ``conf_lines``: one gres.conf line per GPU, ``Name=gpu Type=<t>
  File=<device> Cores=<ids>``.  ``Cores=`` are Slurm *abstract core* ids: slurmd
  converts them with ``xcpuinfo_abs_to_mac`` (gres.c ``_parse_gres_config``),
  which expands abstract core ``c`` to the abstract CPUs ``c * threads + t``
  and maps those through its hwloc block map; the same map
  ``cgroup_partition.slurm_cpu_map`` replays.  ``Cores=`` is left out when the
  GPU has no NUMA node or its local CPUs are all CPUs (no binding to express).
  ``File=`` is left out for a GPU without a device file; Slurm rejects a
  gres.conf where some ``gpu`` records have ``File`` and others do not, so
  when only some GPUs have one, the others are left out of ``gres`` and
  ``conf_lines`` (with a warning) rather than producing a file slurmd refuses.
* ``conf_lines_l3_as_socket``: the same for ``SlurmdParameters=l3cache_as_socket``.
  See ``slurm_core_ids``: the ids do not differ from the physical layout.
* ``autodetect``: ``nvml`` when ``libnvidia-ml.so.1`` exists and every GPU is
  NVIDIA, ``rsmi`` when ``librocm_smi64.so*`` exists and every GPU is AMD, else
  ``off``.

Robustness: no ``sys/bus/pci`` gives no GPUs; ``numa_node`` -1 is ``None``;
missing files give ``None``; a missing or unusable topology gives empty
``l3_domains``, no ``Cores=`` and a warning.  Nothing here raises for a bad tree.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re

from ansible_collections.hpcai.cluster.plugins.module_utils import pci
from ansible_collections.hpcai.cluster.plugins.module_utils.cgroup_partition import (
    Machine,
    PartitionError,
    slurm_cpu_map,
)
from ansible_collections.hpcai.cluster.plugins.module_utils.cpulist import (
    format_cpulist,
    parse_cpulist,
)
from ansible_collections.hpcai.cluster.plugins.module_utils.topology import (
    SysfsReader,
    TopologyError,
    collect,
    reader_problems,
    root_problem,
)
from ansible_collections.hpcai.cluster.plugins.module_utils.topology import gather as gather_topology

__all__ = [
    "MODELS",
    "VENDORS",
    "LIB_DIRS",
    "ROCM_LIB_DIRS",
    "NVIDIA_PROC",
    "model_of",
    "parse_device_minor",
    "gpu_entries",
    "scan_gpus",
    "find_library",
    "slurm_core_ids",
    "gres_cores",
    "gres_conf_lines",
    "node_gres",
    "autodetect",
    "slurm_values",
    "collect_facts",
    "gather",
]

VENDORS = {"0x10de": "nvidia", "0x1002": "amd", "0x8086": "intel"}

NVIDIA_PROC = "proc/driver/nvidia/gpus"

#: Library directories searched below root for the NVML and ROCm SMI libraries.
LIB_DIRS = ("usr/lib64", "usr/lib/x86_64-linux-gnu", "usr/lib/aarch64-linux-gnu", "usr/lib")
#: ROCm installs below /opt/rocm (rocm-smi-lib), usually without a link in /usr/lib*.
ROCM_LIB_DIRS = LIB_DIRS + ("opt/rocm/lib", "opt/rocm/lib64")
NVML_LIB = "libnvidia-ml.so.1"
ROCM_SMI_PREFIX = "librocm_smi64.so"

# (vendor id, device id) -> (model, Slurm GRES type).
# Device ids and names from the PCI ID database, pci.ids version 2026.05.24
# (https://pci-ids.ucw.cz/, github.com/pciutils/pciids); the model strings are
# the bracketed product names there, shortened.  Data-centre parts only.
MODELS = {
    # NVIDIA (10de)
    ("0x10de", "0x1db1"): ("Tesla V100 SXM2 16GB", "v100"),
    ("0x10de", "0x1db4"): ("Tesla V100 PCIe 16GB", "v100"),
    ("0x10de", "0x1db5"): ("Tesla V100 SXM2 32GB", "v100"),
    ("0x10de", "0x1db6"): ("Tesla V100 PCIe 32GB", "v100"),
    ("0x10de", "0x1db8"): ("Tesla V100 SXM3 32GB", "v100"),
    ("0x10de", "0x1df6"): ("Tesla V100S PCIe 32GB", "v100"),
    ("0x10de", "0x1eb8"): ("Tesla T4", "t4"),
    ("0x10de", "0x20b0"): ("A100 SXM4 40GB", "a100"),
    ("0x10de", "0x20b1"): ("A100 PCIe 40GB", "a100"),
    ("0x10de", "0x20b2"): ("A100 SXM4 80GB", "a100"),
    ("0x10de", "0x20b3"): ("A100 SXM 64GB", "a100"),
    ("0x10de", "0x20b5"): ("A100 PCIe 80GB", "a100"),
    ("0x10de", "0x20f1"): ("A100 PCIe 40GB", "a100"),
    ("0x10de", "0x20b7"): ("A30 PCIe", "a30"),
    ("0x10de", "0x20f3"): ("A800 SXM4 80GB", "a800"),
    ("0x10de", "0x20f5"): ("A800 PCIe 80GB", "a800"),
    ("0x10de", "0x2235"): ("A40", "a40"),
    ("0x10de", "0x2236"): ("A10", "a10"),
    ("0x10de", "0x2237"): ("A10G", "a10g"),
    ("0x10de", "0x2321"): ("H100 NVL 94GB", "h100"),
    ("0x10de", "0x2330"): ("H100 SXM5 80GB", "h100"),
    ("0x10de", "0x2331"): ("H100 PCIe", "h100"),
    ("0x10de", "0x2336"): ("H100", "h100"),
    ("0x10de", "0x2337"): ("H100 SXM5 64GB", "h100"),
    ("0x10de", "0x2338"): ("H100 SXM5 96GB", "h100"),
    ("0x10de", "0x2339"): ("H100 SXM5 94GB", "h100"),
    ("0x10de", "0x233d"): ("H100 96GB", "h100"),
    ("0x10de", "0x2322"): ("H800 PCIe", "h800"),
    ("0x10de", "0x2324"): ("H800", "h800"),
    ("0x10de", "0x2335"): ("H200 SXM 141GB", "h200"),
    ("0x10de", "0x233b"): ("H200 NVL", "h200"),
    ("0x10de", "0x2342"): ("GH200 120GB / 480GB", "gh200"),
    ("0x10de", "0x2348"): ("GH200 144GB HBM3e", "gh200"),
    ("0x10de", "0x26b5"): ("L40", "l40"),
    ("0x10de", "0x26b9"): ("L40S", "l40s"),
    ("0x10de", "0x27b8"): ("L4", "l4"),
    ("0x10de", "0x2901"): ("B200", "b200"),
    ("0x10de", "0x2909"): ("HGX B200 168GB", "b200"),
    ("0x10de", "0x2941"): ("GB200", "gb200"),
    ("0x10de", "0x3182"): ("B300 SXM6", "b300"),
    ("0x10de", "0x2bb5"): ("RTX PRO 6000 Blackwell Server Edition", "rtx_pro_6000"),
    # AMD (1002)
    ("0x1002", "0x738c"): ("Instinct MI100", "mi100"),
    ("0x1002", "0x738e"): ("Instinct MI100", "mi100"),
    ("0x1002", "0x740f"): ("Instinct MI210", "mi210"),
    ("0x1002", "0x7408"): ("Instinct MI250X", "mi250x"),
    ("0x1002", "0x740c"): ("Instinct MI250X/MI250", "mi250"),
    ("0x1002", "0x74a0"): ("Instinct MI300A", "mi300a"),
    ("0x1002", "0x74a1"): ("Instinct MI300X", "mi300x"),
    ("0x1002", "0x74a9"): ("Instinct MI300X HF", "mi300x"),
    ("0x1002", "0x74bd"): ("Instinct MI300X HF", "mi300x"),
    ("0x1002", "0x74a2"): ("Instinct MI308X", "mi308x"),
    ("0x1002", "0x74a5"): ("Instinct MI325X", "mi325x"),
    ("0x1002", "0x75a0"): ("Instinct MI350X", "mi350x"),
    ("0x1002", "0x75a3"): ("Instinct MI355X", "mi355x"),
    # Intel (8086)
    ("0x8086", "0x0bd5"): ("Data Center GPU Max 1550", "max_1550"),
    ("0x8086", "0x0bd6"): ("Data Center GPU Max 1550", "max_1550"),
    ("0x8086", "0x0bd7"): ("Data Center GPU Max 1350", "max_1350"),
    ("0x8086", "0x0bd8"): ("Data Center GPU Max 1350", "max_1350"),
    ("0x8086", "0x0bd9"): ("Data Center GPU Max 1100", "max_1100"),
    ("0x8086", "0x0bda"): ("Data Center GPU Max 1100", "max_1100"),
    ("0x8086", "0x0bdb"): ("Data Center GPU Max 1100", "max_1100"),
    ("0x8086", "0x56c0"): ("Data Center GPU Flex 170", "flex_170"),
    ("0x8086", "0x56c1"): ("Data Center GPU Flex 140", "flex_140"),
}

_MINOR_RE = re.compile(r"^\s*Device Minor:\s*(\d+)\s*$", re.MULTILINE)
_RENDER_RE = re.compile(r"^renderD(\d+)$")


def model_of(vendor_id, device_id):
    """``(model or None, gres_type)`` for ``0x``-prefixed lower-case hex ids."""
    vendor_id = (vendor_id or "").lower()
    device_id = (device_id or "").lower()
    known = MODELS.get((vendor_id, device_id))
    if known:
        return known
    vendor = VENDORS.get(vendor_id) or "pci%s" % vendor_id[2:]
    return None, "%s_%s" % (vendor, device_id[2:] or "unknown")


def parse_device_minor(text):
    """The ``Device Minor`` of an NVIDIA ``information`` file, ``None`` if absent."""
    match = _MINOR_RE.search(text or "")
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------
# GPUs
# --------------------------------------------------------------------------


def _cpus(text):
    try:
        return set(parse_cpulist(text or ""))
    except ValueError:
        return None


def _render_minor(reader, address):
    minors = []
    for name in reader.listdir("%s/%s/drm" % (pci.PCI_DEVICES, address)) or []:
        match = _RENDER_RE.match(name)
        if match:
            minors.append(int(match.group(1)))
    return min(minors) if minors else None


def _node_cpus(topology, node):
    for entry in (topology or {}).get("numa_nodes") or []:
        if entry.get("id") == node:
            return entry.get("cpus") or None
    return None


def _l3_domains(topology, local, numa_node):
    domains = (topology or {}).get("l3_domains") or []
    if numa_node is None:
        return [d["index"] for d in domains]
    if local is None:
        return []
    out = []
    for dom in domains:
        members = _cpus(dom.get("cpus"))
        if members and members & local:
            out.append(dom["index"])
    return out


def gpu_entries(devices, reader, topology=None, warnings=None):
    """``(gpus, vfs)`` from ``pci.scan`` devices (other kinds are ignored).

    ``gpus``: the contract entries (see the module docstring); ``vfs``:
    ``{pci_address, physfn, vendor, device_id}`` of skipped SR-IOV virtual
    functions.  ``warnings`` (a list) receives problems worth telling.
    """
    if warnings is None:
        warnings = []
    gpus = []
    vfs = []
    for dev in devices or []:
        if dev.get("kind") != "gpu":
            continue
        if dev.get("vf"):
            vfs.append({"pci_address": dev["address"], "physfn": dev.get("physfn"),
                        "vendor": VENDORS.get(dev.get("vendor")), "device_id": dev.get("device")})
            continue
        gpus.append(dev)

    nvidia_loaded = reader.listdir(NVIDIA_PROC) is not None
    predicted = 0
    out = []
    for index, dev in enumerate(gpus):
        address = dev["address"]
        vendor_id = dev.get("vendor")
        vendor = VENDORS.get(vendor_id)
        model, gres_type = model_of(vendor_id, dev.get("device"))
        numa_node = dev.get("numa_node")
        local_text = dev.get("local_cpus")
        if local_text is None and numa_node is not None:
            local_text = _node_cpus(topology, numa_node)
        local = _cpus(local_text) if local_text is not None else None
        driver = dev.get("driver")
        device_file = None
        if vendor == "nvidia":
            if nvidia_loaded:
                minor = parse_device_minor(reader.read("%s/%s/information" % (NVIDIA_PROC, address)))
                if minor is not None:
                    device_file = "/dev/nvidia%d" % minor
                else:
                    warnings.append(
                        "GPU %s: the NVIDIA driver is loaded but %s/%s/information has no Device Minor "
                        "(driver %s); it has no /dev/nvidiaN" % (address, NVIDIA_PROC, address, driver or "none bound"))
            elif driver in (None, "nvidia"):
                device_file = "/dev/nvidia%d" % predicted
                predicted += 1
            else:
                warnings.append("GPU %s is bound to %s, not nvidia: it has no /dev/nvidiaN" % (address, driver))
        else:
            minor = _render_minor(reader, address)
            if minor is not None:
                device_file = "/dev/dri/renderD%d" % minor
        out.append(
            {
                "index": index,
                "pci_address": address,
                "vendor": vendor,
                "vendor_id": vendor_id,
                "device_id": dev.get("device"),
                "model": model,
                "gres_type": gres_type,
                "numa_node": numa_node,
                "local_cpus": format_cpulist(local) if local is not None else local_text,
                "l3_domains": _l3_domains(topology, local, numa_node),
                "driver": driver,
                "device_file": device_file,
            }
        )
    return out, vfs


def scan_gpus(reader, topology=None, warnings=None):
    """The ``gpus`` list for the tree behind ``reader`` (or below a root path), VFs left out."""
    if isinstance(reader, str):
        reader = SysfsReader(reader)
    devices = pci.scan(reader, kinds=("gpu",))
    return gpu_entries(devices, reader, topology, warnings)[0]


def _exists(reader, rel, depth=0):
    """``rel`` exists below the root, following symlinks (a dangling link does not count)."""
    if depth > 20 or not reader.exists(rel):
        return False
    target = reader.readlink(rel)
    if target is None:
        return True
    if target.startswith("/"):
        nxt = target.lstrip("/")
    else:
        nxt = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
    if nxt.startswith(".."):
        return False
    return _exists(reader, nxt, depth + 1)


def find_library(reader, name, dirs=LIB_DIRS, prefix=False):
    """Relative path of library ``name`` (or the first ``name*`` with ``prefix``) in ``dirs``, else ``None``."""
    for base in dirs:
        if prefix:
            for entry in sorted(reader.listdir(base) or []):
                if entry.startswith(name) and _exists(reader, "%s/%s" % (base, entry)):
                    return "%s/%s" % (base, entry)
        elif _exists(reader, "%s/%s" % (base, name)):
            return "%s/%s" % (base, name)
    return None


# --------------------------------------------------------------------------
# Slurm
# --------------------------------------------------------------------------


def slurm_core_ids(topology, l3_as_socket=False):
    """``({os cpu: abstract core id}, notes)`` as slurmd numbers cores for gres.conf ``Cores=``.

    Physical layout: ``cgroup_partition.slurm_cpu_map`` (the replay of
    ``xcpuinfo_hwloc_topo_get``); the abstract core of CPU ``c`` is
    ``block_map_inv[c] // ThreadsPerCore``.

    L3-as-socket layout (``SlurmdParameters=l3cache_as_socket``): slurmd uses
    ``HWLOC_OBJ_L3CACHE`` as its socket object and walks the L3 objects by
    hwloc *logical* index, which follows the topology tree (package order, then
    the L3s inside each package, siblings ordered by first CPU), numbering the
    cores inside each in the same order.  The sequence of cores is therefore the
    same as in the physical layout and so are the ids: they do NOT differ.  (Only
    a naive "every L3 domain is a socket, ordered by its first CPU" numbering
    would differ, on machines that enumerate CPUs round-robin over sockets.)
    The L3 layout is computed separately here, by regrouping the cores per L3
    domain in tree order, so the tests can check that claim instead of assuming
    it.  A machine without L3 in sysfs falls back to packages, like slurmd.
    Caveat shared with ``cgroup_partition.Machine``: the L3s of a package are
    ordered by first CPU; hwloc may put Die/Group levels between package and
    L3 and orders by those first, which only differs if the dies' CPU ranges
    interleave (not seen on x86 firmware).

    ``notes`` explains CPUs without an abstract id (irregular SMT, ids above
    the CPU count, a restricted topology); raises ``PartitionError`` when the
    topology is unusable.
    """
    machine = Machine(topology)
    block, inv, threads, exact, notes = slurm_cpu_map(machine)
    total = len(machine.online)
    # CPUs that got an abstract id of their own in slurmd's block map
    mapped = set(cpu for cpu in machine.online if cpu < total and block[inv[cpu]] == cpu)
    if not l3_as_socket or not machine.l3_order:
        return dict((cpu, inv[cpu] // threads) for cpu in mapped), list(notes)
    socket_first = dict((sid, min(members)) for sid, members in machine.sockets.items() if members)
    l3_first = dict((index, min(members)) for index, members, dummy in machine.l3 if members)
    l3_socket = dict((index, machine.socket_of[l3_first[index]]) for index in machine.l3_cores)
    order = sorted(machine.l3_cores, key=lambda idx: (socket_first[l3_socket[idx]], l3_first[idx]))
    ids = {}
    abstract = 0
    for idx in order:
        for core in sorted(machine.l3_cores[idx], key=lambda i: machine.cores[i][0]):
            for cpu in machine.cores[core]:
                if cpu in mapped:
                    ids[cpu] = abstract
            abstract += 1
    return ids, list(notes)


def gres_cores(gpu, core_ids, online):
    """``Cores=`` value (abstract core id list) for a GPU entry, ``None`` when no binding applies."""
    if gpu.get("numa_node") is None or core_ids is None:
        return None
    local = _cpus(gpu.get("local_cpus"))
    if not local:
        return None
    local &= online
    if not local or local >= online:
        return None
    cores = set(core_ids[c] for c in local if c in core_ids)
    return format_cpulist(cores) if cores else None


def _usable(gpus, warnings):
    """GPUs that go into the Slurm values (see the module docstring: all, or those with a device file)."""
    with_file = [g for g in gpus if g.get("device_file")]
    if with_file and len(with_file) != len(gpus):
        for g in gpus:
            if not g.get("device_file"):
                warnings.append(
                    "GPU %s (%s, driver %s) has no device file while other GPUs do; Slurm rejects gres.conf "
                    "records of one name with and without File=, so it is left out of Gres and gres.conf"
                    % (g["pci_address"], g.get("model") or g.get("gres_type"), g.get("driver") or "none bound"))
        return with_file
    return list(gpus)


def gres_conf_lines(gpus, topology=None, l3_as_socket=False, warnings=None):
    """gres.conf lines (``Name=gpu Type=... [File=...] [Cores=...]``), one per usable GPU."""
    if warnings is None:
        warnings = []
    core_ids = None
    online = set()
    if topology:
        try:
            core_ids, notes = slurm_core_ids(topology, l3_as_socket)
            online = set(parse_cpulist(topology.get("cpus_online") or ""))
        except (PartitionError, ValueError) as exc:
            warnings.append("Cores= left out: the CPU topology cannot be numbered like slurmd does (%s)" % exc)
            core_ids, notes = None, []
        for note in notes:
            warnings.append("Cores= may not match slurmd: %s" % note)
    lines = []
    for gpu in _usable(gpus, warnings):
        parts = ["Name=gpu", "Type=%s" % gpu["gres_type"]]
        if gpu.get("device_file"):
            parts.append("File=%s" % gpu["device_file"])
        cores = gres_cores(gpu, core_ids, online)
        if cores:
            parts.append("Cores=%s" % cores)
        lines.append(" ".join(parts))
    return lines


def node_gres(gpus, warnings=None):
    """``Gres=`` value of the NodeName line: ``gpu:h100:8``, types sorted, ``''`` without GPUs."""
    counts = {}
    for gpu in _usable(gpus, [] if warnings is None else warnings):
        counts[gpu["gres_type"]] = counts.get(gpu["gres_type"], 0) + 1
    return ",".join("gpu:%s:%d" % (t, counts[t]) for t in sorted(counts))


def autodetect(gpus, nvml, rocm_smi):
    """gres.conf ``AutoDetect`` value: ``nvml``, ``rsmi`` or ``off``."""
    vendors = set(g.get("vendor") for g in gpus)
    if nvml and vendors == {"nvidia"}:
        return "nvml"
    if rocm_smi and vendors == {"amd"}:
        return "rsmi"
    return "off"


def slurm_values(gpus, topology=None, nvml=False, rocm_smi=False, warnings=None):
    """The ``slurm`` section of the fact."""
    if warnings is None:
        warnings = []
    lines = gres_conf_lines(gpus, topology, False, warnings)
    lines_l3 = gres_conf_lines(gpus, topology, True, [])
    return {
        "gres": node_gres(gpus),
        "conf_lines": lines,
        "conf_lines_l3_as_socket": lines_l3,
        "autodetect": autodetect(gpus, nvml, rocm_smi),
    }


# --------------------------------------------------------------------------
# The fact
# --------------------------------------------------------------------------


def collect_facts(reader, topology=None, slurm_topology=None, warnings=None):
    """The ``hpcai_gpu_facts`` fact for the tree behind ``reader``.

    ``topology``: the ``hpcai_cpu_topology`` fact (``l3_domains`` indexes and
    node CPUs); ``slurm_topology``: the topology slurmd numbers (default
    ``topology``; the unrestricted host topology when ``topology`` is restricted
    to a container's cpuset, see ``gather``).
    """
    warnings = list(warnings or [])
    devices = pci.scan(reader, kinds=("gpu", "nvswitch"), warnings=warnings)
    gpus, vfs = gpu_entries(devices, reader, topology, warnings)
    nvswitches = [{"pci_address": d["address"], "numa_node": d["numa_node"]}
                  for d in devices if d["kind"] == "nvswitch"]
    nvml = find_library(reader, NVML_LIB) is not None
    rocm_smi = find_library(reader, ROCM_SMI_PREFIX, ROCM_LIB_DIRS, prefix=True) is not None
    slurm = slurm_values(gpus, slurm_topology if slurm_topology is not None else topology, nvml, rocm_smi, warnings)
    seen = set()
    unique = []
    for text in warnings:
        if text not in seen:
            seen.add(text)
            unique.append(text)
    return {
        "gpus": gpus,
        "nvswitches": nvswitches,
        "counts": {"gpus": len(gpus), "nvswitches": len(nvswitches)},
        "vendors": sorted(set(g["vendor"] for g in gpus if g["vendor"])),
        "nvml": nvml,
        "rocm_smi": rocm_smi,
        "slurm": slurm,
        # ---- extra keys ----
        "vfs": vfs,
        "pci_sysfs": pci.has_pci(reader),
        "warnings": unique,
    }


def gather(root="/"):
    """Read GPUs and CPU topology below ``root`` and return the fact.

    The topology is ``topology.gather(root)``, the same fact the
    ``cpu_topology`` module returns (its ``l3_domains`` indexes are the ones
    reported per GPU).  When that topology is restricted to a container's
    cpuset, ``Cores=`` are numbered on the unrestricted host topology, which is
    what slurmd's hwloc (``HWLOC_TOPOLOGY_FLAG_WHOLE_SYSTEM``) sees.  A tree
    without a readable CPU topology still gives the GPUs, with a warning.
    """
    root = root or "/"
    problem = root_problem(root)
    if problem:
        raise TopologyError(problem)
    reader = SysfsReader(root)
    warnings = []
    topology = None
    slurm_topology = None
    if pci.has_pci(reader):
        try:
            topology = gather_topology(root)
        except TopologyError as exc:
            warnings.append("CPU topology unreadable (%s): l3_domains are empty and gres.conf has no Cores=" % exc)
        if topology is not None and topology.get("restricted"):
            try:
                slurm_topology = collect(SysfsReader(root), None)
            except TopologyError:
                slurm_topology = None
    fact = collect_facts(reader, topology, slurm_topology, warnings)
    fact["warnings"].extend(w for w in reader_problems(reader) if w not in fact["warnings"])
    return fact
