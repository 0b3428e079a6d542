# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PCI device scanner for GPUs, NVSwitches and NICs (pure Python, 3.8+, no deps).

Reads ``<root>/sys/bus/pci/devices/*`` through a reader with the
``topology.SysfsReader`` interface (``read``, ``listdir``, ``exists``,
``readlink``; the test generator's ``MemoryReader`` has the same) and returns
one dict per kept device, sorted by PCI address::

    {"address": "0000:41:00.0", "vendor": "0x10de", "device": "0x2330",
     "class": "0x030200", "kind": "gpu", "numa_node": 1,
     "local_cpus": "24-47,216-239", "names": ["card1"], "vf": False,
     # extra keys
     "physfn": None, "roce": False, "driver": "nvidia",
     "netdevs": [], "ibdevs": [], "drm": ["card1"]}

It is the shared base of the ``pci_devices`` module, the topology map and later
GPU (``gpu_facts``) and fabric detection.

Classification (``classify``) uses the PCI class code (base class, subclass;
the programming interface is ignored) and, for display-type classes, the vendor:

=========== ==================================================== ===========
class       vendor                                                kind
=========== ==================================================== ===========
0x0300xx    NVIDIA 0x10de, AMD 0x1002 (VGA compatible)           gpu
0x0302xx    NVIDIA, AMD, Intel 0x8086 (3D controller: H100, ...)  gpu
0x0380xx    NVIDIA, AMD, Intel (display other: MI100/MI200, PVC)  gpu
0x1200xx    AMD (processing accelerator: MI300 series)            gpu
0x0680xx    NVIDIA (bridge, other: NVSwitch)                      nvswitch
0x0200xx    any (Ethernet controller)                             nic
0x0207xx    any (InfiniBand controller)                           ib
anything    else (bridges, NVMe, USB, BMC VGA, Intel iGPU ...)    other
=========== ==================================================== ===========

Intel 0x0300 (integrated and client graphics) and every other vendor's VGA
(ASPEED/Matrox BMC consoles) are ``other`` on purpose.  ``roce`` is true for an
Ethernet NIC that also has an RDMA device (``<dev>/infiniband/*``).  Omni-Path
(0x0208) and other network classes (0x0280) are ``other`` for now.

Names attached to a device: network interfaces, InfiniBand (RDMA) devices and
DRM cards, found both below the device (``<dev>/net/*``, ``<dev>/infiniband/*``,
``<dev>/drm/card*``) and from the class links ``sys/class/{net,infiniband,drm}/*``,
whose targets name the owning PCI device; interfaces of a child device (virtio
``virtioN/net/eth0``) belong to the nearest PCI ancestor.  ``names`` lists the
most specific name first: the RDMA device then IPoIB interfaces for ``ib``,
interfaces then the RDMA device for ``nic``, DRM cards for ``gpu``.

Robustness: a missing ``sys/bus/pci`` (containers without it, ARM VMs with
virtio-mmio, non-PCI systems) gives an empty list; missing or unreadable files
give ``None`` for that key (``numa_node`` -1 is ``None`` too); broken device
links are skipped; a ``physfn`` link marks an SR-IOV virtual function.
Nothing here raises for a bad tree. ``scan(..., warnings=[])`` says what it
left out or could not understand (broken links, class/vendor missing or not
hex, unreadable device id, NUMA node or local CPUs); ``gather`` adds what the
reader could not open (permission denied, symlink loops).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import posixpath
import re

from ansible_collections.hpcai.cluster.plugins.module_utils.cpulist import (
    format_cpulist,
    parse_cpulist,
    parse_cpumask,
)
from ansible_collections.hpcai.cluster.plugins.module_utils.topology import SysfsReader, reader_problems

__all__ = [
    "PCI_DEVICES",
    "KINDS",
    "DEFAULT_KINDS",
    "classify",
    "parse_address",
    "scan",
    "gather",
    "count_by_kind",
    "has_pci",
]

PCI_DEVICES = "sys/bus/pci/devices"
CLASS_DIRS = ("net", "infiniband", "drm")

VENDOR_NVIDIA = 0x10DE
VENDOR_AMD = 0x1002  # AMD/ATI graphics; AMD CPU/chipset devices are 0x1022
VENDOR_INTEL = 0x8086

#: Every kind ``classify`` returns; ``other`` is everything not recognised.
KINDS = ("gpu", "nvswitch", "nic", "ib", "other")
#: What ``scan`` keeps unless told otherwise.
DEFAULT_KINDS = ("gpu", "nvswitch", "nic", "ib")

# (base class << 8 | subclass) -> vendors that make it a GPU
_GPU_CLASSES = {
    0x0300: (VENDOR_NVIDIA, VENDOR_AMD),
    0x0302: (VENDOR_NVIDIA, VENDOR_AMD, VENDOR_INTEL),
    0x0380: (VENDOR_NVIDIA, VENDOR_AMD, VENDOR_INTEL),
    0x1200: (VENDOR_AMD,),
}

_ADDRESS_RE = re.compile(r"^([0-9a-fA-F]{4,8}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$")
_CARD_RE = re.compile(r"^card\d+$")
_NATURAL_RE = re.compile(r"(\d+)")


def parse_address(name):
    """``(domain, bus, device, function)`` ints of a PCI address, ``None`` if it is not one."""
    match = _ADDRESS_RE.match(name or "")
    if not match:
        return None
    return tuple(int(part, 16) for part in match.groups())


def _hex(text, width):
    """``0x``-prefixed lower-case hex of ``width`` digits from sysfs text, or ``None``."""
    if text is None:
        return None
    text = text.strip().lower()
    try:
        value = int(text, 16)
    except ValueError:
        return None
    if value < 0:
        return None
    return "0x%0*x" % (width, value)


def classify(vendor, pci_class):
    """Kind of a device from its vendor and class (ints or sysfs hex text).

    Returns ``gpu``, ``nvswitch``, ``nic``, ``ib`` or ``other`` (see the module
    docstring for the table); an unknown class (``None``) is ``other``.
    """
    vendor = _as_int(vendor)
    pci_class = _as_int(pci_class)
    if pci_class is None:
        return "other"
    code = (pci_class >> 8) & 0xFFFF
    if code in _GPU_CLASSES:
        return "gpu" if vendor in _GPU_CLASSES[code] else "other"
    if code == 0x0680 and vendor == VENDOR_NVIDIA:
        return "nvswitch"
    if code == 0x0200:
        return "nic"
    if code == 0x0207:
        return "ib"
    return "other"


def _as_int(value):
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip(), 16)
    except ValueError:
        return None


def _natural(name):
    return [int(part) if part.isdigit() else part for part in _NATURAL_RE.split(name)]


# Linux has at most 1 << 10 NUMA nodes (MAX_NUMNODES); anything far above is garbage.
_MAX_NUMA_NODE = 1 << 16


def _numa_node(text):
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value if 0 <= value < _MAX_NUMA_NODE else None


def _isdir(reader, rel):
    isdir = getattr(reader, "isdir", None)
    return isdir(rel) if isdir is not None else reader.listdir(rel) is not None


def _not_understood(reader, rel, text):
    return "%s: %r not understood" % (reader.path(rel) if hasattr(reader, "path") else rel, text.strip()[:40])


def _local_cpus(reader, base, cache):
    """Canonical cpulist of ``local_cpulist`` (``local_cpus`` mask as fallback), or ``None``.

    ``cache`` maps file text to the result: devices of one NUMA node share it.
    """
    for name, parse in (("local_cpulist", parse_cpulist), ("local_cpus", parse_cpumask)):
        text = reader.read(base + "/" + name)
        if text is None:
            continue
        key = (name, text)
        if key not in cache:
            try:
                cache[key] = format_cpulist(parse(text))
            except ValueError:
                cache[key] = None
        if cache[key] is not None:
            return cache[key]
    return None


def _owner_from_target(target):
    """PCI address of the nearest PCI device in a class link target, or ``None``.

    ``../../devices/pci0000:00/0000:00:03.0/virtio2/net/eth0`` -> ``0000:00:03.0``.
    """
    if not target:
        return None
    parts = target.replace("\\", "/").split("/")[:-1]
    for part in reversed(parts):
        if _ADDRESS_RE.match(part):
            return part.lower()
    return None


def _class_names(reader):
    """``{address: {"net": [...], "infiniband": [...], "drm": [...]}}`` from sys/class links."""
    owners = {}
    for cls in CLASS_DIRS:
        base = "sys/class/" + cls
        for name in reader.listdir(base) or []:
            if cls == "drm" and not _CARD_RE.match(name):
                continue  # renderD*, card0-DP-1 connectors, version ...
            owner = _owner_from_target(reader.readlink(base + "/" + name))
            if owner is None:
                continue
            owners.setdefault(owner, {}).setdefault(cls, set()).add(name)
    return owners


def _child_names(reader, base, cls):
    names = reader.listdir(base + "/" + cls) or []
    if cls == "drm":
        names = [n for n in names if _CARD_RE.match(n)]
    return set(names)


def has_pci(reader):
    """True when the tree has a ``sys/bus/pci/devices`` directory."""
    return reader.listdir(PCI_DEVICES) is not None


def scan(reader, kinds=DEFAULT_KINDS, warnings=None):
    """PCI devices of the requested ``kinds`` as a list of dicts sorted by address.

    ``kinds``: iterable of ``KINDS`` members (``None`` = ``DEFAULT_KINDS``).
    Never raises for a broken or missing tree (see the module docstring).
    ``warnings`` (a list) receives one message per device entry that could not
    be read as a device (broken link, class or vendor missing or not hex, left
    out or classified ``other``) and per unreadable attribute of a kept device.
    """
    warnings = [] if warnings is None else warnings
    wanted = set(DEFAULT_KINDS if kinds is None else kinds)
    entries = reader.listdir(PCI_DEVICES)
    if not entries:
        return []
    found = []
    for name in entries:
        key = parse_address(name)
        if key is None:
            continue
        base = "%s/%s" % (PCI_DEVICES, name)
        class_text = reader.read(base + "/class")
        vendor_text = reader.read(base + "/vendor")
        pci_class = _hex(class_text, 6)
        vendor = _hex(vendor_text, 4)
        if class_text is None and vendor_text is None:
            if reader.exists(base) and not _isdir(reader, base):
                warnings.append("PCI device %s: %s is a broken link; device left out" % (name, base))
            elif _isdir(reader, base):
                warnings.append("PCI device %s: no readable class or vendor file; device left out" % name)
            continue  # broken link or not a device directory
        if pci_class is None or vendor is None:
            bad = [(f, t) for f, t, v in (("class", class_text, pci_class), ("vendor", vendor_text, vendor)) if v is None]
            warnings.append("PCI device %s: %s; it is classified by what could be read (%s)" % (
                name, ", ".join("%s missing" % f if t is None else _not_understood(reader, base + "/" + f, t) for f, t in bad),
                classify(vendor, pci_class)))
        kind = classify(vendor, pci_class)
        if kind not in wanted:
            continue
        found.append((key, name, base, vendor, pci_class, kind))
    if not found:
        return []
    found.sort(key=lambda item: item[0])

    class_names = _class_names(reader)
    cpus_cache = {}
    devices = []
    for key, name, base, vendor, pci_class, kind in found:
        address = name.lower()
        linked = class_names.get(address, {})
        netdevs = sorted(_child_names(reader, base, "net") | linked.get("net", set()), key=_natural)
        ibdevs = sorted(_child_names(reader, base, "infiniband") | linked.get("infiniband", set()), key=_natural)
        cards = sorted(_child_names(reader, base, "drm") | linked.get("drm", set()), key=_natural)
        if kind == "ib":
            names = ibdevs + netdevs + cards
        elif kind == "gpu":
            names = cards + netdevs + ibdevs
        else:
            names = netdevs + ibdevs + cards
        physfn_target = reader.readlink(base + "/physfn")
        driver_target = reader.readlink(base + "/driver")
        device_text = reader.read(base + "/device")
        numa_text = reader.read(base + "/numa_node")
        local_cpus = _local_cpus(reader, base, cpus_cache)
        for attr, text, value in (("device", device_text, _hex(device_text, 4)), ("numa_node", numa_text, _numa_node(numa_text))):
            if text is not None and value is None and not (attr == "numa_node" and text.strip() == "-1"):
                warnings.append("PCI device %s: %s; %s is null" % (name, _not_understood(reader, base + "/" + attr, text), attr))
        if local_cpus is None and (reader.read(base + "/local_cpulist") is not None or reader.read(base + "/local_cpus") is not None):
            warnings.append("PCI device %s: local_cpulist / local_cpus not understood; local_cpus is null" % name)
        devices.append(
            {
                "address": address,
                "vendor": vendor,
                "device": _hex(device_text, 4),
                "class": pci_class,
                "kind": kind,
                "numa_node": _numa_node(numa_text),
                "local_cpus": local_cpus,
                "names": names,
                "vf": physfn_target is not None,
                # ---- extra keys ----
                "physfn": posixpath.basename(physfn_target.rstrip("/")).lower() if physfn_target else None,
                "roce": kind == "nic" and bool(ibdevs),
                "driver": posixpath.basename(driver_target.rstrip("/")) if driver_target else None,
                "netdevs": netdevs,
                "ibdevs": ibdevs,
                "drm": cards,
            }
        )
    return devices


def gather(root="/", kinds=DEFAULT_KINDS, warnings=None):
    """``scan`` below ``root`` with a fresh ``SysfsReader``; ``[]`` if root is not a directory.

    ``warnings`` (a list) receives scan's messages and what could not be read (permission, loops)."""
    root = root or "/"
    if not os.path.isdir(root):
        return []
    reader = SysfsReader(root)
    devices = scan(reader, kinds, warnings)
    if warnings is not None:
        warnings.extend(reader_problems(reader))
    return devices


def count_by_kind(devices, kinds=DEFAULT_KINDS):
    """``{kind: n}`` with every kind of ``kinds`` present (0 when none), plus ``vf``."""
    counts = dict((kind, 0) for kind in (kinds or ()))
    counts["vf"] = 0
    for dev in devices:
        counts[dev["kind"]] = counts.get(dev["kind"], 0) + 1
        if dev.get("vf"):
            counts["vf"] += 1
    return counts
