# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readable map of a node's topology (pure Python, 3.8+).

``render_map(topology, devices=None, title=None)`` turns an
``hpcai_cpu_topology`` fact (see docs/design.md) into a tree:

    socket -> NUMA node -> L3 domain (CCX on EPYC) -> cores/CPUs
                        -> devices (GPUs, NVSwitches, NICs) on that node

with memory-only NUMA nodes (GPU HBM, CXL) listed on their own.  ``devices``
are the ``hpcai_pci_devices`` entries of the ``pci_devices`` module
(``module_utils/pci.py``) or any dicts with ``numa_node`` and a ``name`` or
``names``/``address``; optional keys ``kind``, ``address``, ``vendor``,
``device``, ``roce``, ``vf``/``physfn`` and ``local_cpus`` are shown when
present (``local_cpus`` only where it differs from the node's CPUs).  Devices
without NUMA affinity (``numa_node`` null or -1) and devices on a node the
topology does not list are printed after the tree, saying so.

Used by the ``hpcai.cluster.topology_map`` filter, ``playbooks/topology.yml``
and the admin command line::

    python -m ansible_collections.hpcai.cluster.plugins.module_utils.topology_report [--no-devices] [ROOT|FILE.json]

which reads the CPU topology and the PCI devices below ROOT (default ``/``),
or a JSON file holding the ``hpcai_cpu_topology`` fact (and optionally
``hpcai_pci_devices``), e.g. ``ansible -m hpcai.cluster.cpu_topology`` output.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import sys


def _gib(mib):
    if mib is None:
        return "? GiB"
    if mib >= 10240:
        return "%d GiB" % round(mib / 1024.0)
    return "%.1f GiB" % (mib / 1024.0)


def _cache(kib):
    if not kib:
        return ""
    if kib % 1024 == 0:
        return "  %d MiB" % (kib // 1024)
    return "  %d KiB" % kib


def _first_cpu(cpulist):
    head = (cpulist or "").split(",")[0].split("-")[0].strip()
    return int(head) if head.isdigit() else -1


def _slurm_line(values):
    keys = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory")
    return " ".join("%s=%s" % (k, values[k]) for k in keys if k in values)


# Short vendor names for device lines (display only).
_VENDORS = {
    "0x10de": "NVIDIA", "0x1002": "AMD", "0x1022": "AMD", "0x8086": "Intel", "0x15b3": "Mellanox",
    "0x14e4": "Broadcom", "0x1077": "QLogic", "0x1924": "Solarflare", "0x1af4": "virtio",
}


def _cpu_set(cpulist):
    """Set of CPU ids of a cpulist string, ``None`` when it does not parse."""
    if cpulist is None:
        return None
    out = set()
    for item in str(cpulist).split(","):
        item = item.strip()
        if not item:
            continue
        low, dummy, high = item.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            return None
        out.update(range(int(low), int(high or low) + 1))
    return out


def _device_name(dev):
    if dev.get("name"):
        return str(dev["name"])
    names = dev.get("names")
    if isinstance(names, (list, tuple)) and names:
        return ",".join(str(n) for n in names)
    return None


def _device_line(dev, node_cpus=None):
    """``kind name (address) vendor ids flags [local cpus ...]``.

    ``node_cpus``: cpulist of the node the device is printed under; the device's
    ``local_cpus`` is shown only when it differs.
    """
    name = _device_name(dev)
    parts = [str(dev.get("kind") or "device"), name or str(dev.get("address") or "?")]
    if dev.get("address") and name:
        parts.append("(%s)" % dev["address"])
    vendor = dev.get("vendor")
    if vendor and dev.get("device"):
        ids = "%s:%s" % (str(vendor).replace("0x", ""), str(dev["device"]).replace("0x", ""))
        label = _VENDORS.get(str(vendor).lower())
        parts.append("%s %s" % (label, ids) if label else ids)
    if dev.get("roce"):
        parts.append("RoCE")
    if dev.get("vf"):
        parts.append("VF of %s" % dev["physfn"] if dev.get("physfn") else "VF")
    local = dev.get("local_cpus")
    if local and (node_cpus is None or _cpu_set(local) != _cpu_set(node_cpus)):
        parts.append("local cpus %s" % local)
    return " ".join(parts)


def _device_summary(devices):
    counts = {}
    order = []
    for dev in devices:
        kind = str(dev.get("kind") or "device")
        if kind not in counts:
            order.append(kind)
            counts[kind] = 0
        counts[kind] += 1
    preferred = ["gpu", "nvswitch", "ib", "nic"]
    order.sort(key=lambda k: (preferred.index(k) if k in preferred else len(preferred), k))
    return "devices: " + ", ".join("%d %s" % (counts[k], k) for k in order)


def render_map(topology, devices=None, title=None):
    """Return the map as a string. Tolerates missing optional keys."""
    topo = topology or {}
    counts = topo.get("counts") or {}
    devices = devices or []
    lines = []

    name = topo.get("model_name") or topo.get("vendor") or "unknown CPU"
    gen = topo.get("generation") or "unknown"
    codename = topo.get("codename")
    gen_txt = "%s, %s" % (codename, gen) if codename else gen
    header = "%s (%s): %d socket(s), %d NUMA node(s)" % (
        name, gen_txt, counts.get("sockets", 0), counts.get("numa_nodes", 0))
    memory_only = counts.get("numa_nodes_total", 0) - counts.get("numa_nodes", 0)
    if memory_only > 0:
        header += " (+%d memory-only)" % memory_only
    header += ", %d L3 domain(s), %d cores / %d CPUs, %d thread(s) per core" % (
        counts.get("l3_domains", 0), counts.get("cores", 0), counts.get("cpus_online", 0),
        topo.get("threads_per_core") or 0)
    lines.append("%s: %s" % (title, header) if title else header)
    if topo.get("cpus_offline"):
        lines.append("offline CPUs: %s" % topo["cpus_offline"])
    if topo.get("restricted"):
        lines.append("restricted to CPUs %s (container or cpuset)" % topo.get("cpus_allowed"))
    if devices:
        lines.append(_device_summary(devices))

    nodes = sorted(topo.get("numa_nodes") or [], key=lambda n: n.get("id", 0))
    l3s = sorted(topo.get("l3_domains") or [], key=lambda d: _first_cpu(d.get("cpus")))
    dev_by_node = {}
    for dev in devices:
        nid = dev.get("numa_node")
        if nid is None or (isinstance(nid, int) and nid < 0):
            nid = None
        dev_by_node.setdefault(nid, []).append(dev)

    placed_nodes = set()
    for sock in sorted(topo.get("sockets") or [], key=lambda s: s.get("id", 0)):
        lines.append("socket %s  cpus %s  %s cores" % (sock.get("id"), sock.get("cpus"), sock.get("cores")))
        sock_l3 = [d for d in l3s if d.get("socket") == sock.get("id")]
        node_ids = []
        for dom in sock_l3:
            for nid in dom.get("numa_nodes") or []:
                if nid not in node_ids:
                    node_ids.append(nid)
        if not sock_l3:
            # no L3 information (e.g. some ARM parts): place nodes by CPU overlap text only
            node_ids = [n["id"] for n in nodes if n.get("cpus") and n["id"] not in placed_nodes]
            if len(topo.get("sockets") or []) > 1:
                node_ids = node_ids[:1]
        for node in nodes:
            if node.get("id") not in node_ids:
                continue
            placed_nodes.add(node["id"])
            dist = node.get("distances")
            dist_txt = ""
            if isinstance(dist, list) and dist:
                dist_txt = "  distances %s" % " ".join(str(x) for x in dist)
            elif isinstance(dist, dict) and dist:
                dist_txt = "  distances %s" % " ".join("%s:%s" % kv for kv in sorted(dist.items()))
            lines.append("  numa %s  cpus %s  %s%s" % (
                node["id"], node.get("cpus") or "-", _gib(node.get("memory_mib")), dist_txt))
            for dom in sock_l3:
                dom_nodes = dom.get("numa_nodes") or []
                if not dom_nodes or dom_nodes[0] != node["id"]:
                    continue
                spans = "  spans NUMA %s" % ",".join(str(x) for x in dom_nodes) if len(dom_nodes) > 1 else ""
                lines.append("    L3 %s  cpus %s  %s cores%s%s" % (
                    dom.get("index"), dom.get("cpus"), dom.get("cores"), _cache(dom.get("size_kib")), spans))
            for dev in dev_by_node.get(node["id"], []):
                lines.append("    %s" % _device_line(dev, node.get("cpus")))
    if not l3s:
        lines.append("no L3 cache reported: 0 L3 domains (Slurm L3-as-socket layout not applicable)")
    for node in nodes:
        if node["id"] in placed_nodes:
            continue
        kind = "memory-only" if not node.get("cpus") else "unplaced"
        lines.append("numa %s  %s  %s" % (node["id"], kind, _gib(node.get("memory_mib"))))
        for dev in dev_by_node.get(node["id"], []):
            lines.append("  %s" % _device_line(dev, node.get("cpus")))
    known = set(n.get("id") for n in nodes)
    for nid in sorted((k for k in dev_by_node if k is not None and k not in known), key=str):
        for dev in dev_by_node[nid]:
            lines.append("%s  (NUMA node %s is not in the topology)" % (_device_line(dev), nid))
    for dev in dev_by_node.get(None, []):
        lines.append("%s  (no NUMA affinity reported)" % _device_line(dev, topo.get("cpus_online")))
    if topo.get("slurm"):
        lines.append("slurm:                %s" % _slurm_line(topo["slurm"]))
    if topo.get("slurm_l3_as_socket"):
        lines.append("slurm (L3 as socket): %s" % _slurm_line(topo["slurm_l3_as_socket"]))
    for warning in topo.get("warnings") or []:
        lines.append("warning: %s" % warning)
    return "\n".join(lines)


def _parse_args(argv):
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m ansible_collections.hpcai.cluster.plugins.module_utils.topology_report",
        description="Print a readable map of a node: sockets -> NUMA nodes -> L3 domains -> cores, "
        "with GPUs, NVSwitches and NICs under their NUMA nodes.",
    )
    parser.add_argument(
        "source", nargs="?", default="/",
        help="root of the sys/ and proc/ trees to read (default /), or a JSON file with the "
        "hpcai_cpu_topology fact (and optionally hpcai_pci_devices)",
    )
    parser.add_argument("--no-devices", action="store_true", help="do not scan or show PCI devices")
    parser.add_argument("--title", default=None, help="text put in front of the first line")
    return parser.parse_args(argv)


def main(argv=None):
    """Command line entry point; returns the exit code (0, or 1 when the tree is unusable)."""
    args = _parse_args(list(sys.argv[1:] if argv is None else argv))
    source = args.source
    devices = []
    if source.endswith(".json"):
        try:
            with open(source) as handle:
                data = json.load(handle)
        except (IOError, OSError, ValueError) as exc:
            sys.stderr.write("topology: %s: %s\n" % (source, exc))
            return 1
        facts = data.get("ansible_facts", data) if isinstance(data, dict) else {}
        topo = facts.get("hpcai_cpu_topology", data)
        if not args.no_devices:
            devices = facts.get("hpcai_pci_devices") or []
    else:
        from ansible_collections.hpcai.cluster.plugins.module_utils.topology import TopologyError, gather
        try:
            topo = gather(source)
        except TopologyError as exc:
            sys.stderr.write("topology: %s\n" % exc)
            return 1
        if not args.no_devices:
            from ansible_collections.hpcai.cluster.plugins.module_utils import pci

            devices = pci.gather(source)
    sys.stdout.write(render_map(topo, devices=devices, title=args.title) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
