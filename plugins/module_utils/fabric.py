# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RDMA fabric detection: adapters, RDMA devices, ports and interfaces (pure Python 3.8+, no deps).

Builds the ``hpcai_fabric`` fact of the ``hpcai.cluster.fabric_facts`` module
from three sources, all read through a reader with the ``topology.SysfsReader``
interface (``read``, ``listdir``, ``exists``, ``readlink``; the test
generator's ``MemoryReader`` has the same):

* the PCI scan of ``pci.scan`` (Ethernet 0x0200 and InfiniBand 0x0207
  functions, their driver, NUMA node, netdevs and RDMA devices);
* ``sys/class/infiniband/<dev>`` (``node_type`` "1: CA", ``fw_ver``,
  ``node_guid``, ``ports/<n>/{state,phys_state,link_layer,rate,lid,sm_lid}``,
  ``ports/<n>/gid_attrs/ndevs/0``; drivers/infiniband/core/sysfs.c);
* ``sys/class/net/<if>`` (``type`` 1 Ethernet / 32 InfiniBand, ``operstate``,
  ``mtu``, ``address``, ``speed``, ``dev_port``, ``ifindex``, ``iflink``, and
  the IPoIB ``mode`` / ``parent`` files; net/core/net-sysfs.c, ipoib).

Adapters are the RDMA-capable PCI functions, whether or not their RDMA driver
is loaded: every InfiniBand-class function, every Ethernet function with a
(hardware) RDMA device, and Ethernet functions of the families below without
one.  ``rdma_module`` is the kernel module that gives the adapter its RDMA
device: from the bound driver (``RDMA_MODULES``), from the family for an
unbound function, ``None`` for a function bound to something else
(``vfio-pci``: it belongs to a virtual machine).

================ =============================================== ============
family           functions                                        rdma_module
================ =============================================== ============
NVIDIA/Mellanox  vendor 0x15b3, not a Spectrum switch (mlxsw_*)  mlx5_ib, mlx4_ib (ConnectX-3)
Broadcom         bnxt_en or a NetXtreme-C/E/P5/P7 device id       bnxt_re
Intel            ice (E800), or an E810 / X722 device id          irdma
AWS EFA          vendor 0x1d0f, device 0xefa0-0xefa4 or efa       efa
Marvell/QLogic   qede                                              qedr
Chelsio          cxgb4                                             iw_cxgb4
================ =============================================== ============

Adapter ``kind``: ``ib`` (InfiniBand class or an InfiniBand port), ``roce``
(an Ethernet port on a node type CA device, or a RoCE family without an RDMA
device) or ``ethernet`` (RDMA over Ethernet that is not RoCE: iWARP node type
RNIC, EFA's SRD with link layer "Unknown", an Intel adapter without an RDMA
device).

Netdev -> RDMA port: ``ports/<n>/gid_attrs/ndevs/0`` (RoCE GID 0 names its
netdev), rdma_rxe's ``parent`` file, then the netdevs below the same PCI
function (``dev_port`` + 1 = port, or the only netdev of the matching type).
With RoCE LAG the bond's RDMA device (``mlx5_bond_0``, GID 0 names the bond)
also serves the PFs whose netdev has the bond as ``master``.
IPoIB P_Key children (``ib0.8001``) have no device link of their own (virtual
devices, ipoib_vlan.c): the legacy ones (sysfs ``create_child``) have a
``parent`` file, rtnetlink ones (``ip link add ... type ipoib``) only
``iflink``, the parent's ``ifindex`` (``ipoib_get_iflink``).

Software RDMA devices (rdma_rxe: registered without a parent, so in
``sys/devices/virtual/infiniband`` with a ``parent`` file; siw: node
description "Software iWARP stack") are reported with ``pci_address`` ``None``
and ``soft`` true and never make an adapter.

Robustness: missing files, garbage, unreadable files (EACCES, EISDIR ...) and
broken links give ``None`` for the value and, where the fact loses something
that matters (a port's state or link layer, a rate or LID that is not
understood, a device without ports), a warning; a reader that raises
``OSError`` gives the same plus a warning naming the path.  Nothing here
raises for a bad tree.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re

from ansible_collections.hpcai.cluster.plugins.module_utils import pci
from ansible_collections.hpcai.cluster.plugins.module_utils.topology import SysfsReader, reader_problems, root_problem

__all__ = [
    "RDMA_CLASS",
    "NET_CLASS",
    "MODELS",
    "RDMA_MODULES",
    "CORE_MODULES",
    "IB_MODULES",
    "model_of",
    "parse_state",
    "parse_rate",
    "adapter_family",
    "collect_facts",
    "gather",
    "device_list_for_map",
]

RDMA_CLASS = "sys/class/infiniband"
NET_CLASS = "sys/class/net"

VENDOR_MELLANOX = "0x15b3"
VENDOR_BROADCOM = "0x14e4"
VENDOR_INTEL = "0x8086"
VENDOR_AMAZON = "0x1d0f"

ARPHRD_ETHER = 1
ARPHRD_INFINIBAND = 32

#: Bound PCI driver -> kernel module that provides the RDMA device.
RDMA_MODULES = {
    "mlx5_core": "mlx5_ib",
    "mlx4_core": "mlx4_ib",
    "bnxt_en": "bnxt_re",
    "ice": "irdma",
    "i40e": "irdma",  # X722 only (see adapter_family)
    "efa": "efa",
    "qede": "qedr",
    "cxgb4": "iw_cxgb4",
}
#: Always needed for RDMA from user space (verbs, RDMA-CM).
CORE_MODULES = ("ib_uverbs", "rdma_ucm")
#: Needed with InfiniBand (MAD access for the SM and diagnostics, IPoIB).
IB_MODULES = ("ib_umad", "ib_ipoib")

# (vendor id, device id) -> model.  Ids and names from the PCI ID database
# (https://pci-ids.ucw.cz/) and the bnxt_en / efa device tables.
MODELS = {
    ("0x15b3", "0x1003"): "ConnectX-3",
    ("0x15b3", "0x1004"): "ConnectX-3 VF",
    ("0x15b3", "0x1007"): "ConnectX-3 Pro",
    ("0x15b3", "0x1011"): "Connect-IB",
    ("0x15b3", "0x1013"): "ConnectX-4",
    ("0x15b3", "0x1014"): "ConnectX-4 VF",
    ("0x15b3", "0x1015"): "ConnectX-4 Lx",
    ("0x15b3", "0x1016"): "ConnectX-4 Lx VF",
    ("0x15b3", "0x1017"): "ConnectX-5",
    ("0x15b3", "0x1018"): "ConnectX-5 VF",
    ("0x15b3", "0x1019"): "ConnectX-5 Ex",
    ("0x15b3", "0x101a"): "ConnectX-5 Ex VF",
    ("0x15b3", "0x101b"): "ConnectX-6",
    ("0x15b3", "0x101c"): "ConnectX-6 VF",
    ("0x15b3", "0x101d"): "ConnectX-6 Dx",
    ("0x15b3", "0x101e"): "ConnectX VF",
    ("0x15b3", "0x101f"): "ConnectX-6 Lx",
    ("0x15b3", "0x1021"): "ConnectX-7",
    ("0x15b3", "0x1023"): "ConnectX-8",
    ("0x15b3", "0xa2d2"): "BlueField",
    ("0x15b3", "0xa2d6"): "BlueField-2",
    ("0x15b3", "0xa2dc"): "BlueField-3",
    ("0x14e4", "0x16d7"): "BCM57414",
    ("0x14e4", "0x16d8"): "BCM57416",
    ("0x14e4", "0x1750"): "BCM57508",
    ("0x14e4", "0x1751"): "BCM57504",
    ("0x14e4", "0x1752"): "BCM57502",
    ("0x14e4", "0x1760"): "BCM57608",
    ("0x14e4", "0x1761"): "BCM57604",
    ("0x14e4", "0x1762"): "BCM57602",
    ("0x8086", "0x1591"): "E810-C",
    ("0x8086", "0x1592"): "E810-C",
    ("0x8086", "0x1593"): "E810-C",
    ("0x8086", "0x1599"): "E810-XXV",
    ("0x8086", "0x159a"): "E810-XXV",
    ("0x8086", "0x159b"): "E810-XXV",
    ("0x8086", "0x37d0"): "X722",
    ("0x8086", "0x37d2"): "X722",
    ("0x1d0f", "0xefa0"): "EFA",
    ("0x1d0f", "0xefa1"): "EFA",
    ("0x1d0f", "0xefa2"): "EFA",
    ("0x1d0f", "0xefa3"): "EFA",
    ("0x1d0f", "0xefa4"): "EFA",
}

_MLX4_IDS = frozenset((0x1003, 0x1004, 0x1007))
_MLX5_IDS = frozenset(list(range(0x1011, 0x1024)) + [0xA2D2, 0xA2D3, 0xA2D6, 0xA2D9, 0xA2DC, 0xA2DF])
# bnxt_en's NetXtreme-C/E (57300/57400), P5 (57500) and P7 (57600) ids, VFs and NPAR included
_BNXT_IDS = frozenset(
    list(range(0x16C0, 0x16F2)) + [0x1604, 0x1605, 0x1606, 0x1607, 0x1608, 0x1609, 0x1614]
    + list(range(0x1750, 0x1753)) + list(range(0x1760, 0x1764)) + list(range(0x1800, 0x180A)) + [0x1819]
)
_E810_IDS = frozenset((0x1591, 0x1592, 0x1593, 0x1599, 0x159A, 0x159B))
_X722_IDS = frozenset(range(0x37CC, 0x37D5)) | frozenset((0x0DDA, 0x37CD))
_EFA_IDS = frozenset(range(0xEFA0, 0xEFA5))
_SOFT_NODE_DESC = ("Software iWARP stack",)
# names drivers/infiniband/core/sysfs.c prints for state, phys_state and node_type
_KNOWN_STATES = frozenset((
    "NOP", "DOWN", "INIT", "ARMED", "ACTIVE", "ACTIVE_DEFER",
    "Sleep", "Polling", "Disabled", "PortConfigurationTraining", "LinkUp", "LinkErrorRecovery", "Phy Test",
    "CA", "switch", "router", "RNIC", "usNIC", "usNIC UDP", "unspecified",
))

_ADDRESS_RE = re.compile(r"^[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")
_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*Gb/sec\b")
_NATURAL_RE = re.compile(r"(\d+)")


# --------------------------------------------------------------------------
# Parsing helpers
# --------------------------------------------------------------------------


def _natural(name):
    return [int(part) if part.isdigit() else part for part in _NATURAL_RE.split(name)]


def _text(raw):
    """Stripped file text, ``None`` for a missing/unreadable file or an empty one."""
    if raw is None:
        return None
    raw = raw.strip()
    return raw or None


def _int(raw, base=10):
    text = _text(raw)
    if text is None:
        return None
    try:
        return int(text, base)
    except ValueError:
        return None


def parse_state(text):
    """``"4: ACTIVE"`` -> ``"ACTIVE"``, ``"5: LinkUp"`` -> ``"LinkUp"``, ``"1: CA"`` -> ``"CA"``.

    The kernel prints ``"%d: %s"``; a bare name is accepted only when it is one
    the kernel uses.  ``None`` for anything else.
    """
    text = _text(text)
    if text is None:
        return None
    number, sep, name = text.partition(":")
    if sep:
        name = name.strip()
        if not number.strip().isdigit() or not name:
            return None
        return name
    return text if text in _KNOWN_STATES else None


def parse_rate(text):
    """``(rate text, Gb/s)`` of a port's ``rate`` file.

    ``"400 Gb/sec (4X NDR)"`` -> ``("400 Gb/sec (4X NDR)", 400)``,
    ``"2.5 Gb/sec (1X SDR)"`` -> ``(..., 2.5)``; the number is ``None`` when it
    cannot be read (the text is kept).
    """
    text = _text(text)
    if text is None:
        return None, None
    match = _RATE_RE.match(text)
    if not match:
        return text, None
    value = float(match.group(1))
    return text, int(value) if value == int(value) else value


def _lid(text):
    """``"0x1a"`` -> 26 (lid, sm_lid are printed ``0x%x``); ``(value, garbage)``."""
    text = _text(text)
    if text is None:
        return None, False
    try:
        return int(text, 16), False
    except ValueError:
        return None, True


def _speed(raw):
    value = _int(raw)
    if value is None or value <= 0 or value in (0xFFFF, 0xFFFFFFFF):
        return None  # SPEED_UNKNOWN (-1, older kernels printed it unsigned), or no link
    return value


def _numa(raw):
    value = _int(raw)
    return value if value is not None and value >= 0 else None


def _owner(target):
    """PCI address of the nearest PCI device in a link target, or ``None``."""
    if not target:
        return None
    for part in reversed(target.replace("\\", "/").split("/")):
        if _ADDRESS_RE.match(part):
            return part.lower()
    return None


def _basename_address(target):
    """PCI address a ``device`` link points at (``../../../0000:41:00.0``), else ``None``."""
    if not target:
        return None
    name = posixpath.basename(target.rstrip("/"))
    return name.lower() if _ADDRESS_RE.match(name) else None


def model_of(vendor, device):
    """Model name for ``0x``-prefixed lower-case ids, ``None`` when not in ``MODELS``."""
    return MODELS.get(((vendor or "").lower(), (device or "").lower()))


def adapter_family(vendor, device, driver):
    """``(rdma_capable, rdma_module for an unbound function, kind without an RDMA device)``.

    For a PCI function *without* an RDMA device: whether it belongs to a family
    whose hardware does RDMA (see the module docstring).
    """
    vendor = (vendor or "").lower()
    try:
        dev_id = int(device, 16) if device else None
    except ValueError:
        dev_id = None
    if vendor == VENDOR_MELLANOX:
        if driver and driver.startswith("mlxsw"):
            return False, None, None  # Spectrum switch ASIC
        module = "mlx4_ib" if dev_id in _MLX4_IDS else ("mlx5_ib" if dev_id in _MLX5_IDS else None)
        return True, module, "roce"
    if vendor == VENDOR_BROADCOM and (driver == "bnxt_en" or dev_id in _BNXT_IDS):
        return True, "bnxt_re", "roce"
    if vendor == VENDOR_INTEL and (driver == "ice" or dev_id in _E810_IDS or dev_id in _X722_IDS):
        return True, "irdma", "ethernet"
    if vendor == VENDOR_AMAZON and (driver == "efa" or dev_id in _EFA_IDS):
        return True, "efa", "ethernet"
    if driver == "qede":
        return True, "qedr", "roce"
    if driver == "cxgb4":
        return True, "iw_cxgb4", "ethernet"
    return False, None, None


def _kind_of_ports(ports, node_type):
    """``ib`` / ``roce`` / ``ethernet`` from an RDMA device's ports, ``None`` without a usable port."""
    layers = [p["link_layer"] for p in ports if p["link_layer"]]
    if "InfiniBand" in layers:
        return "ib"
    if "Ethernet" in layers:
        return "ethernet" if node_type == "RNIC" else "roce"
    return "ethernet" if layers else None


class _Guarded(object):
    """Reader wrapper: an ``OSError`` from the wrapped reader becomes "not available" plus a warning.

    ``topology.SysfsReader`` already returns ``None`` for unreadable files; this
    keeps a reader that raises (``PermissionError`` from a custom reader, a
    vanishing device) from turning into a traceback.
    """

    def __init__(self, reader, warnings):
        self._reader = reader
        self._warnings = warnings

    def _call(self, method, rel, default):
        try:
            return getattr(self._reader, method)(rel)
        except (IOError, OSError) as exc:
            self._warnings.append("cannot read %s: %s" % (rel, exc))
            return default

    def read(self, rel):
        return self._call("read", rel, None)

    def listdir(self, rel):
        return self._call("listdir", rel, None)

    def exists(self, rel):
        return self._call("exists", rel, False)

    def isdir(self, rel):
        isdir = getattr(self._reader, "isdir", None)
        if isdir is None:
            return self.listdir(rel) is not None
        try:
            return isdir(rel)
        except (IOError, OSError) as exc:
            self._warnings.append("cannot read %s: %s" % (rel, exc))
            return False

    def readlink(self, rel):
        return self._call("readlink", rel, None)


# --------------------------------------------------------------------------
# RDMA devices
# --------------------------------------------------------------------------


def _read_port(reader, base, name, number, warnings):
    pbase = "%s/ports/%d" % (base, number)
    raw_state = reader.read(pbase + "/state")
    state = parse_state(raw_state)
    if state is None:
        warnings.append("RDMA device %s port %d: state %s" % (
            name, number, "unreadable" if raw_state is None else "not understood (%r)" % raw_state.strip()))
    phys_state = parse_state(reader.read(pbase + "/phys_state"))
    link_layer = _text(reader.read(pbase + "/link_layer"))
    if link_layer is None:
        warnings.append("RDMA device %s port %d: link_layer unreadable" % (name, number))
    elif link_layer not in ("InfiniBand", "Ethernet"):
        warnings.append("RDMA device %s port %d: link_layer not understood (%r); the port is neither IB nor RoCE"
                        % (name, number, link_layer[:40]))
    rate, rate_gbps = parse_rate(reader.read(pbase + "/rate"))
    if rate is not None and rate_gbps is None:
        warnings.append("RDMA device %s port %d: rate not understood (%r)" % (name, number, rate))
    lid = sm_lid = None
    if link_layer == "InfiniBand":
        lid, bad_lid = _lid(reader.read(pbase + "/lid"))
        sm_lid, bad_sm = _lid(reader.read(pbase + "/sm_lid"))
        for key, bad in (("lid", bad_lid), ("sm_lid", bad_sm)):
            if bad:
                warnings.append("RDMA device %s port %d: %s not understood" % (name, number, key))
    return {
        "port": number,
        "link_layer": link_layer,
        "state": state,
        "phys_state": phys_state,
        "rate": rate,
        "rate_gbps": rate_gbps,
        "lid": lid,
        "sm_lid": sm_lid,
        "netdev": None,  # filled in once the netdevs are known
        "_gid_ndev": _text(reader.read(pbase + "/gid_attrs/ndevs/0")),
    }


def _read_rdma_device(reader, name, owners, warnings):
    base = "%s/%s" % (RDMA_CLASS, name)
    address = owners.get(name) or _basename_address(reader.readlink(base + "/device"))
    parent = _text(reader.read(base + "/parent"))  # rdma_rxe's netdev
    node_desc = _text(reader.read(base + "/node_desc")) or ""
    soft = parent is not None or address is None or node_desc.startswith(_SOFT_NODE_DESC)
    node_type = parse_state(reader.read(base + "/node_type"))
    ports = []
    entries = reader.listdir(base + "/ports")
    if entries is None:
        warnings.append("RDMA device %s: no readable ports directory (%s/ports): its ports are not reported"
                        % (name, base))
    else:
        for number in sorted(int(e) for e in entries if e.isdigit()):
            ports.append(_read_port(reader, base, name, number, warnings))
    return {
        "name": name,
        "pci_address": None if soft else address,
        "node_type": node_type,
        "fw_ver": _text(reader.read(base + "/fw_ver")),
        "node_guid": _text(reader.read(base + "/node_guid")),
        "numa_node": None,  # from the PCI function (or a soft device's netdev), below
        "ports": ports,
        # ---- extra keys ----
        "kind": _kind_of_ports(ports, node_type),
        "soft": soft,
        "_parent": parent,
    }


# --------------------------------------------------------------------------
# Netdevs
# --------------------------------------------------------------------------


class _Netdevs(object):
    """Lazy, cached reads of ``sys/class/net/<if>``."""

    def __init__(self, reader, owners, warnings=None):
        self.reader = reader
        self.owners = owners  # netdev -> PCI address from the PCI scan
        self.names = set(reader.listdir(NET_CLASS) or [])
        self._cache = {}
        self.warnings = [] if warnings is None else warnings

    def base(self, name):
        """``sys/class/net/<if>``, or the directory below the PCI function when the class link is missing."""
        if name not in self.names and name in self.owners:
            return "%s/%s/net/%s" % (pci.PCI_DEVICES, self.owners[name], name)
        return "%s/%s" % (NET_CLASS, name)

    def get(self, name, key, parse=_int):
        cache_key = (name, key)
        if cache_key not in self._cache:
            rel = "%s/%s" % (self.base(name), key)
            raw = self.reader.read(rel)
            value = parse(raw)
            if isinstance(value, str) and not value.isprintable():
                value = None
            if raw is not None and value is None and not (key == "speed" and raw.strip() in ("", "-1")):
                self.warnings.append("%s: %r not understood; %s is null" % (rel, raw.strip()[:40], key))
            self._cache[cache_key] = value
        return self._cache[cache_key]

    def type(self, name):
        return self.get(name, "type")

    def address(self, name):
        """PCI address of the device the netdev belongs to, ``None`` for a virtual one."""
        if name in self.owners:
            return self.owners[name]
        return _owner(self.reader.readlink("%s/%s" % (NET_CLASS, name))) or _basename_address(
            self.reader.readlink("%s/%s/device" % (NET_CLASS, name)))


def _map_ports(rdma, by_addr, nets):
    """``{netdev: (rdma device, port)}`` and each port's ``netdev``."""
    mapping = {}
    for dev in rdma:
        for port in dev["ports"]:
            ndev = port.pop("_gid_ndev")
            if ndev and ndev not in mapping:
                mapping[ndev] = (dev["name"], port["port"])
        if dev["_parent"] and dev["_parent"] not in mapping and dev["ports"]:
            mapping[dev["_parent"]] = (dev["name"], dev["ports"][0]["port"])
    for dev in rdma:
        address = dev["pci_address"]
        if address is None:
            continue
        taken_ports = set(p for n, (d, p) in mapping.items() if d == dev["name"])
        netdevs = (by_addr.get(address) or {}).get("netdevs") or []
        for port in dev["ports"]:
            if port["port"] in taken_ports:
                continue
            want = {"InfiniBand": ARPHRD_INFINIBAND, "Ethernet": ARPHRD_ETHER}.get(port["link_layer"])
            if want is None:
                continue
            cands = [n for n in netdevs if n not in mapping and nets.type(n) == want]
            by_port = [n for n in cands if nets.get(n, "dev_port") is not None and nets.get(n, "dev_port") + 1 == port["port"]]
            same_layer = [p for p in dev["ports"] if p["link_layer"] == port["link_layer"]]
            if by_port:
                chosen = by_port[0]
            elif len(cands) == 1 and len(same_layer) == 1:
                chosen = cands[0]
            else:
                continue
            mapping[chosen] = (dev["name"], port["port"])
    for dev in rdma:
        for port in dev["ports"]:
            found = sorted((n for n, (d, p) in mapping.items() if d == dev["name"] and p == port["port"]), key=_natural)
            port["netdev"] = found[0] if found else None
    return mapping


def _ipoib_children(nets, parents, warnings):
    """``{child: parent}`` for IPoIB P_Key children of the netdevs ``parents``."""
    children = {}
    ifindex = None
    for name in sorted(nets.names, key=_natural):
        if name in parents or nets.address(name) is not None or nets.type(name) != ARPHRD_INFINIBAND:
            continue
        named = nets.get(name, "parent", _text)  # legacy children only
        parent = named
        if parent is None:
            if ifindex is None:
                ifindex = dict((nets.get(p, "ifindex"), p) for p in parents if nets.get(p, "ifindex") is not None)
            parent = ifindex.get(nets.get(name, "iflink"))
        if parent in parents:
            children[name] = parent
        elif named:
            warnings.append("IPoIB interface %s: its parent %s is not an interface of an RDMA adapter" % (name, named))
        else:
            warnings.append("IPoIB interface %s: parent interface not found (no parent file, iflink %s)"
                            % (name, nets.get(name, "iflink")))
    return children


# --------------------------------------------------------------------------
# The fact
# --------------------------------------------------------------------------


def _subnet_manager(ib_ports):
    for port in ib_ports:
        if port["state"] in ("ACTIVE", "ARMED") and port["sm_lid"] != 0:
            return "present"
    for port in ib_ports:
        if port["phys_state"] == "LinkUp" and (port["state"] == "INIT" or port["sm_lid"] == 0):
            return "absent"
    return "unknown"


def _unique(items):
    seen = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def collect_facts(reader, warnings=None):
    """The ``hpcai_fabric`` fact for the tree behind ``reader``."""
    warnings = list(warnings or [])
    reader = _Guarded(reader, warnings)
    scan = pci.scan(reader, kinds=("nic", "ib"), warnings=warnings)
    by_addr = dict((d["address"], d) for d in scan)
    net_owner = dict((n, d["address"]) for d in scan for n in d["netdevs"])
    ib_owner = dict((n, d["address"]) for d in scan for n in d["ibdevs"])

    rdma_names = reader.listdir(RDMA_CLASS)
    rdma = []
    for name in sorted(rdma_names or [], key=_natural):
        rdma.append(_read_rdma_device(reader, name, ib_owner, warnings))
    soft_names = set(d["name"] for d in rdma if d["soft"])
    by_name = dict((d["name"], d) for d in rdma)

    nets = _Netdevs(reader, net_owner, warnings)
    mapping = _map_ports(rdma, by_addr, nets)

    # ---- adapters
    adapters = []
    for dev in scan:
        hard = set(n for n in dev["ibdevs"] if n not in soft_names)
        hard.update(d["name"] for d in rdma if d["pci_address"] == dev["address"] and not d["soft"])
        if not hard:
            # RoCE LAG (mlx5_bond_0): the bond's RDMA device serves every PF whose netdev is enslaved to it
            for ndev in dev["netdevs"]:
                master = posixpath.basename((reader.readlink(nets.base(ndev) + "/master") or "").rstrip("/"))
                if master in mapping and mapping[master][0] in by_name:
                    hard.add(mapping[master][0])
                    break
        hard = sorted(hard, key=_natural)
        capable, family_module, family_kind = adapter_family(dev["vendor"], dev["device"], dev["driver"])
        if not (dev["kind"] == "ib" or hard or capable):
            continue
        ports = [p for n in hard if n in by_name for p in by_name[n]["ports"]]
        node_types = set(by_name[n]["node_type"] for n in hard if n in by_name)
        if dev["kind"] == "ib":
            kind = "ib"
        else:
            kind = _kind_of_ports(ports, "RNIC" if node_types == {"RNIC"} else "CA") or family_kind or "ethernet"
        driver = dev["driver"]
        if driver in RDMA_MODULES and (driver != "i40e" or capable):
            module = RDMA_MODULES[driver]
        elif driver is None:
            module = family_module
        else:
            module = None  # bound to vfio-pci & co: the function belongs to someone else
        adapters.append({
            "pci_address": dev["address"],
            "vendor": dev["vendor"],
            "device": dev["device"],
            "model": model_of(dev["vendor"], dev["device"]),
            "kind": kind,
            "driver": driver,
            "rdma_module": module,
            "rdma_devices": hard,
            "netdevs": list(dev["netdevs"]),
            "numa_node": dev["numa_node"],
            "local_cpus": dev["local_cpus"],
            "vf": dev["vf"],
            "physfn": dev["physfn"],
        })
    adapter_by_addr = dict((a["pci_address"], a) for a in adapters)

    # ---- numa nodes of the RDMA devices
    def numa_of(address):
        if address is None:
            return None
        if address in by_addr:
            return by_addr[address]["numa_node"]
        return _numa(reader.read("%s/%s/numa_node" % (pci.PCI_DEVICES, address)))

    for dev in rdma:
        if not dev["soft"]:
            dev["numa_node"] = numa_of(dev["pci_address"])
        else:
            ndevs = [n for n, (d, p) in mapping.items() if d == dev["name"]]
            dev["numa_node"] = numa_of(nets.address(ndevs[0])) if ndevs else None

    # ---- interfaces
    wanted = []
    for adapter in adapters:
        wanted.extend(adapter["netdevs"])
    wanted.extend(n for n in mapping if n in nets.names or n in net_owner)
    wanted = _unique(wanted)
    ipoib_parents = [n for n in wanted if nets.type(n) == ARPHRD_INFINIBAND]
    children = _ipoib_children(nets, ipoib_parents, warnings) if ipoib_parents else {}

    interfaces = []
    entries = {}
    for name in sorted(wanted, key=_natural) + sorted(children, key=_natural):
        parent = children.get(name)
        rdma_device, port = mapping.get(parent or name, (None, None))
        if parent:
            address = entries[parent]["pci_address"] if parent in entries else nets.address(parent)
        else:
            address = nets.address(name)
        if address is None and rdma_device is not None:
            address = by_name[rdma_device]["pci_address"]
        netdev_type = nets.type(name)
        if netdev_type == ARPHRD_INFINIBAND:
            kind = "ipoib"
        elif rdma_device is not None:
            dev = by_name[rdma_device]
            layer = [p["link_layer"] for p in dev["ports"] if p["port"] == port]
            kind = "roce" if layer == ["Ethernet"] and dev["node_type"] != "RNIC" else "ethernet"
        else:
            owner = adapter_by_addr.get(address)
            hard = owner["rdma_devices"] if owner else []
            kind = "roce" if hard and owner["kind"] == "roce" else "ethernet"
            if len(hard) == 1:
                rdma_device = hard[0]
        numa = numa_of(address)
        if numa is None and address is None and rdma_device is not None:
            numa = by_name[rdma_device]["numa_node"]
        mode = nets.get(name, "mode", _text) if netdev_type == ARPHRD_INFINIBAND else None
        entry = {
            "name": name,
            "kind": kind,
            "rdma_device": rdma_device,
            "port": port,
            "pci_address": address,
            "numa_node": numa,
            "operstate": nets.get(name, "operstate", _text),
            "mtu": nets.get(name, "mtu"),
            "mac": nets.get(name, "address", _text),
            "speed_mbps": nets.get(name, "speed", _speed),
            "ipoib_mode": mode if mode in ("datagram", "connected") else None,
            "vf": bool((by_addr.get(address) or {}).get("vf")),
            "parent": parent,
        }
        entries[name] = entry
        interfaces.append(entry)
    interfaces.sort(key=lambda e: _natural(e["name"]))

    # ---- summary
    for dev in rdma:
        dev.pop("_parent", None)
    all_ports = [(d, p) for d in rdma for p in d["ports"]]
    ib_ports = [p for d, p in all_ports if p["link_layer"] == "InfiniBand"]
    roce_ports = [p for d, p in all_ports if p["link_layer"] == "Ethernet" and d["node_type"] != "RNIC"]
    counts = {
        "adapters": len(adapters),
        "rdma_devices": len(rdma),
        "ib_ports": len(ib_ports),
        "ib_ports_active": len([p for p in ib_ports if p["state"] == "ACTIVE"]),
        "roce_ports": len(roce_ports),
        "roce_ports_active": len([p for p in roce_ports if p["state"] == "ACTIVE"]),
    }
    has_ib = any(a["kind"] == "ib" for a in adapters) or bool(ib_ports)
    has_roce = any(a["kind"] == "roce" for a in adapters) or bool(roce_ports)
    modules = []
    if adapters:
        modules = set(a["rdma_module"] for a in adapters if a["rdma_module"])
        modules.update(CORE_MODULES)
        if has_ib:
            modules.update(IB_MODULES)
        modules = sorted(modules)
    missing = [a["pci_address"] for a in adapters
               if not a["rdma_devices"] and (a["driver"] is None or a["driver"] in RDMA_MODULES)]
    return {
        "rdma_sysfs": rdma_names is not None,
        "adapters": adapters,
        "rdma_devices": rdma,
        "interfaces": interfaces,
        "counts": counts,
        "has_infiniband": has_ib,
        "has_roce": has_roce,
        "subnet_manager": _subnet_manager(ib_ports),
        "kernel_modules": modules,
        "missing_rdma_drivers": missing,
        "warnings": _unique(warnings),
    }


def gather(root="/"):
    """``collect_facts`` below ``root`` with a fresh ``SysfsReader``; raises ``OSError`` if root is not a directory."""
    root = root or "/"
    problem = root_problem(root)
    if problem:
        raise OSError(problem)
    reader = SysfsReader(root)
    fact = collect_facts(reader)
    fact["warnings"].extend(w for w in reader_problems(reader) if w not in fact["warnings"])
    return fact


def device_list_for_map(fact):
    """Fabric devices in the ``topology_map`` filter's ``devices`` format.

    One entry per adapter (``names``: its RDMA devices then netdevs, PCI ids,
    NUMA node, local CPUs, VF marks) and one per software RDMA device (no PCI
    address, listed under the NUMA node of its netdev if known).
    """
    out = []
    for adapter in (fact or {}).get("adapters") or []:
        out.append({
            "kind": adapter["kind"],
            "names": list(adapter["rdma_devices"]) + list(adapter["netdevs"]),
            "address": adapter["pci_address"],
            "vendor": adapter["vendor"],
            "device": adapter["device"],
            "model": adapter["model"],
            "numa_node": adapter["numa_node"],
            "local_cpus": adapter["local_cpus"],
            "vf": adapter["vf"],
            "physfn": adapter["physfn"],
        })
    for dev in (fact or {}).get("rdma_devices") or []:
        if dev.get("pci_address") is None:
            netdevs = [p["netdev"] for p in dev.get("ports") or [] if p.get("netdev")]
            out.append({
                "kind": dev.get("kind") or "rdma",
                "names": [dev["name"]] + netdevs,
                "address": None,
                "numa_node": dev.get("numa_node"),
            })
    return out
