# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readable map of a node's topology (pure Python, 3.8+).

``render_map(topology, devices=None, title=None)`` turns an
``hpcai_cpu_topology`` fact (see docs/design.md) into a tree:

    socket -> NUMA node -> L3 domain (CCX on EPYC) -> cores/CPUs

with memory-only NUMA nodes (GPU HBM, CXL) listed on their own and devices
(GPUs, NICs: dicts with at least ``name`` and ``numa_node``) attached to the
NUMA node they hang off.  Used by the ``hpcai.cluster.topology_map`` filter,
``playbooks/topology.yml`` and ``python -m ...topology_report``.
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


def _device_line(dev):
    parts = [str(dev.get("kind") or "device"), str(dev.get("name") or dev.get("address") or "?")]
    if dev.get("address") and dev.get("name"):
        parts.append("(%s)" % dev["address"])
    if dev.get("local_cpus"):
        parts.append("local cpus %s" % dev["local_cpus"])
    return " ".join(parts)


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

    nodes = sorted(topo.get("numa_nodes") or [], key=lambda n: n.get("id", 0))
    l3s = sorted(topo.get("l3_domains") or [], key=lambda d: _first_cpu(d.get("cpus")))
    dev_by_node = {}
    for dev in devices:
        dev_by_node.setdefault(dev.get("numa_node", -1), []).append(dev)

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
                lines.append("    %s" % _device_line(dev))
    if not l3s:
        lines.append("no L3 cache reported: 0 L3 domains (Slurm L3-as-socket layout not applicable)")
    for node in nodes:
        if node["id"] in placed_nodes:
            continue
        kind = "memory-only" if not node.get("cpus") else "unplaced"
        lines.append("numa %s  %s  %s" % (node["id"], kind, _gib(node.get("memory_mib"))))
        for dev in dev_by_node.get(node["id"], []):
            lines.append("  %s" % _device_line(dev))
    for dev in dev_by_node.get(-1, []) + dev_by_node.get(None, []):
        lines.append("%s  (no NUMA affinity reported)" % _device_line(dev))
    if topo.get("slurm"):
        lines.append("slurm:                %s" % _slurm_line(topo["slurm"]))
    if topo.get("slurm_l3_as_socket"):
        lines.append("slurm (L3 as socket): %s" % _slurm_line(topo["slurm_l3_as_socket"]))
    for warning in topo.get("warnings") or []:
        lines.append("warning: %s" % warning)
    return "\n".join(lines)


def main(argv=None):
    """``python -m ansible_collections.hpcai.cluster.plugins.module_utils.topology_report [ROOT|FILE.json]``"""
    args = list(sys.argv[1:] if argv is None else argv)
    source = args[0] if args else "/"
    if source.endswith(".json"):
        with open(source) as handle:
            data = json.load(handle)
        topo = data.get("ansible_facts", {}).get("hpcai_cpu_topology", data)
    else:
        from ansible_collections.hpcai.cluster.plugins.module_utils.topology import TopologyError, gather
        try:
            topo = gather(source)
        except TopologyError as exc:
            sys.stderr.write("topology: %s\n" % exc)
            return 1
    sys.stdout.write(render_map(topo) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
