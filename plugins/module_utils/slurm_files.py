# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a slurm.conf change needs, and the side files (pure Python 3.8+, no deps).

* ``conf_change(old_text, new_text)``: which daemons must restart and whether
  ``scontrol reconfigure`` is enough, with the reasons, so the role restarts
  nothing on a partition or limit change and restarts only the slurmd of the
  nodes whose NodeName values changed.
* ``topology_lines(spec, nodes, version)``: topology.conf for topology/tree or
  topology/block from an inventory description, checked (every node in one
  leaf, no unknown names, no loops).
* ``gres_lines(hosts)``: gres.conf lines for the whole cluster (configless
  serves one file) from each node's ``hpcai_gpu_facts.slurm.conf_lines``,
  identical nodes grouped under one hostlist.
* ``tmpfs_lines(spec)``: job_container.conf (job_container/tmpfs, or
  namespace/tmpfs from 25.11, which keeps the file name and keys).

Which changes need a restart (our reading, conservative where the manuals are
vague): scontrol(1) "reconfigure" up to 23.11 says "The slurmctld daemon and
all slurmd daemons must be restarted if changes are made to any of these
parameters: AuthType, ControlMach, PluginDir, StateSaveLocation, SlurmctldHost,
SlurmctldPort, or SlurmdPort. The slurmctld daemon must be restarted if nodes
are added to or removed from the cluster."  slurm.conf(5) adds, per key, that
changing SelectType, SelectTypeParameters, SwitchType, GresTypes, PrologFlags,
ProctrackType, TaskPlugin, JobAcctGatherType, JobContainerType and
TopologyPlugin needs the daemons restarted.  slurmd reads its own node
definition (CPUs, CpuSpecList, MemSpecLimit, Gres) only when it starts, so a
changed NodeName line restarts that node's slurmd, and slurmctld re-reads it
on reconfigure (the StackHPC openhpc role's issue #199: restarting slurmctld
alone after a CPUSpecList change left nodes "CoreSpec differ" until the slurmd
restarted).  Nodes added or removed restart slurmctld and every slurmd (the
"safe procedure" in SchedMD's field notes, quoted on the Niflheim wiki).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hpcai.cluster.plugins.module_utils.hostlist import (
    HostlistError,
    check_name,
    compress,
    expand,
)
from ansible_collections.hpcai.cluster.plugins.module_utils.slurm_conf import (
    SlurmConfError,
    parse_version,
    supports,
)

__all__ = [
    "SlurmFilesError",
    "CTLD_RESTART_KEYS",
    "SLURMD_RESTART_KEYS",
    "parse_conf",
    "conf_change",
    "topology_lines",
    "gres_lines",
    "tmpfs_lines",
]


class SlurmFilesError(ValueError):
    """Bad input; the message names the value and what is allowed."""


# Keys (lower case) whose change restarts slurmctld / every slurmd.  The
# first seven are scontrol(1)'s list; the rest slurm.conf(5)'s per-key notes.
_BOTH = ("authtype", "authinfo", "credtype", "cryptotype", "controlmachine", "slurmctldhost", "slurmctldport",
         "slurmdport", "plugindir", "selecttype", "selecttypeparameters", "switchtype", "grestypes", "prologflags",
         "jobcontainertype", "namespacetype", "topologyplugin")
CTLD_RESTART_KEYS = frozenset(_BOTH + (
    "statesavelocation", "slurmuser", "clustername", "slurmctldparameters", "slurmctldpidfile",
    "accountingstoragetype", "accountingstoragehost", "accountingstorageport", "jobcomptype"))
SLURMD_RESTART_KEYS = frozenset(_BOTH + (
    "slurmdspooldir", "slurmduser", "slurmdparameters", "slurmdpidfile", "proctracktype", "taskplugin",
    "jobacctgathertype"))

_LINE_KINDS = {"nodename": "nodes", "partitionname": "partitions", "nodeset": "nodesets",
               "frontendname": "other", "downnodes": "other"}
_WORD_RE = re.compile(r"(\S+?)=(\S*)")


def _strip_comment(line):
    return line.split("#", 1)[0].strip()


def parse_conf(text):
    """slurm.conf text -> {'keys': {lower: (Key, value)}, 'nodes': {name: {key: value}},
    'partitions': {name: {...}}, 'nodesets': {...}, 'node_defaults': {...}, 'includes': [...]}.

    NodeName hostlists are expanded, so regrouping nodes is not a change;
    keys compare case-insensitively, as Slurm reads them.  Raises
    SlurmFilesError on a line Slurm would reject (no Key=value).
    """
    if text is None:
        text = ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        raise SlurmFilesError("slurm.conf text must be a string, got %s" % type(text).__name__)
    out = {"keys": {}, "nodes": {}, "partitions": {}, "nodesets": {}, "node_defaults": {}, "other": [],
           "includes": []}
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        if not line:
            continue
        if line.lower().startswith("include ") or line.lower().startswith("include\t"):
            out["includes"].append(line.split(None, 1)[1])
            continue
        words = _WORD_RE.findall(line)
        if not words:
            raise SlurmFilesError("slurm.conf line %d is not Key=value: %r" % (number, raw.strip()[:120]))
        first_key, first_value = words[0]
        kind = _LINE_KINDS.get(first_key.lower())
        if kind is None:
            if len(words) != 1:
                # Global keys take one value; several Key=value on a line is a
                # definition we do not know: compare it verbatim.
                out["other"].append(line)
                continue
            out["keys"][first_key.lower()] = (first_key, first_value)
            continue
        values = dict((k.lower(), v) for k, v in words[1:])
        if kind == "nodes":
            if first_value.upper() == "DEFAULT":
                out["node_defaults"].update(values)
                continue
            try:
                names = expand(first_value)
            except HostlistError as exc:
                raise SlurmFilesError("slurm.conf line %d: NodeName=%s: %s" % (number, first_value, exc))
            for name in names:
                out["nodes"][name] = values
        elif kind == "other":
            out["other"].append(line)
        else:
            out[kind][first_value] = values
    return out


def conf_change(old_text, new_text):
    """What changing slurm.conf from ``old_text`` to ``new_text`` needs.

    Returns ``{changed, first, restart_slurmctld, restart_slurmd_all,
    restart_slurmd_nodes, reconfigure, reasons}``.  ``first`` is true when
    there was no old file (the daemons are started, not restarted).  Comment
    and ordering differences are not changes.  ``restart_slurmd_nodes`` lists
    the node names whose NodeName values changed; their slurmd restarts, and
    ``reconfigure`` makes slurmctld re-read the file.
    """
    old_blank = old_text is None or (isinstance(old_text, (str, bytes)) and not old_text.strip())
    new = parse_conf(new_text)
    result = {"changed": False, "first": bool(old_blank), "restart_slurmctld": False, "restart_slurmd_all": False,
              "restart_slurmd_nodes": [], "reconfigure": False, "reasons": []}
    if old_blank:
        result.update(changed=True, reasons=["no slurm.conf yet"])
        return result
    old = parse_conf(old_text)
    reasons = result["reasons"]

    for lower in sorted(set(old["keys"]) | set(new["keys"])):
        before = old["keys"].get(lower, (None, None))
        after = new["keys"].get(lower, (None, None))
        if before[1] == after[1]:
            continue
        name = after[0] or before[0]
        what = "%s %s -> %s" % (name, before[1] if before[1] is not None else "(unset)",
                                after[1] if after[1] is not None else "(unset)")
        result["changed"] = True
        if lower in CTLD_RESTART_KEYS:
            result["restart_slurmctld"] = True
        if lower in SLURMD_RESTART_KEYS:
            result["restart_slurmd_all"] = True
        if lower in CTLD_RESTART_KEYS or lower in SLURMD_RESTART_KEYS:
            daemons = [d for d, keys in (("slurmctld", CTLD_RESTART_KEYS), ("slurmd", SLURMD_RESTART_KEYS))
                       if lower in keys]
            reasons.append("%s: restart %s" % (what, " and ".join(daemons)))
        else:
            result["reconfigure"] = True
            reasons.append("%s: scontrol reconfigure" % what)

    added = sorted(set(new["nodes"]) - set(old["nodes"]))
    removed = sorted(set(old["nodes"]) - set(new["nodes"]))
    if added or removed:
        result.update(changed=True, restart_slurmctld=True, restart_slurmd_all=True)
        parts = []
        if added:
            parts.append("added %s" % compress(added))
        if removed:
            parts.append("removed %s" % compress(removed))
        reasons.append("nodes %s: restart slurmctld and every slurmd" % ", ".join(parts))
    if old["node_defaults"] != new["node_defaults"]:
        result.update(changed=True, restart_slurmd_all=True, reconfigure=True)
        reasons.append("NodeName=DEFAULT changed: restart every slurmd, scontrol reconfigure")
    changed_nodes = sorted(n for n in set(old["nodes"]) & set(new["nodes"]) if old["nodes"][n] != new["nodes"][n])
    if changed_nodes:
        result.update(changed=True, reconfigure=True, restart_slurmd_nodes=changed_nodes)
        keys = sorted(set(k for n in changed_nodes
                          for k in set(old["nodes"][n]) | set(new["nodes"][n])
                          if old["nodes"][n].get(k) != new["nodes"][n].get(k)))
        reasons.append("node values (%s) of %s changed: restart their slurmd, scontrol reconfigure"
                       % (", ".join(keys), compress(changed_nodes)))
    for kind in ("partitions", "nodesets"):
        if old[kind] != new[kind]:
            names = sorted(n for n in set(old[kind]) | set(new[kind]) if old[kind].get(n) != new[kind].get(n))
            result.update(changed=True, reconfigure=True)
            reasons.append("%s %s changed: scontrol reconfigure" % (kind[:-1], ", ".join(names)))
    if sorted(old["other"]) != sorted(new["other"]) or old["includes"] != new["includes"]:
        result.update(changed=True, reconfigure=True)
        reasons.append("other definitions or Include lines changed: scontrol reconfigure")
    return result


# ----------------------------------------------------------------- topology.conf

_TOPO_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _names(value, what, groups):
    """A group name, a hostlist string or a list of names -> list of names."""
    if value is None:
        return []
    if isinstance(value, str):
        if value in groups:
            return list(groups[value])
        try:
            return expand(value)
        except HostlistError as exc:
            raise SlurmFilesError("%s: %s" % (what, exc))
    if isinstance(value, (list, tuple)):
        names = []
        for item in value:
            names.extend(_names(item, what, groups))
        return names
    raise SlurmFilesError("%s must be a group name, a hostlist or a list, got %s" % (what, type(value).__name__))


def topology_lines(spec, nodes, version, groups=None):
    """topology.conf lines and the slurm.conf TopologyPlugin for ``spec``.

    ``spec`` (the role's ``slurm_topology``): ``{plugin: tree, switches:
    [{name, nodes | switches, link_speed}]}`` or ``{plugin: block, blocks:
    [{name, nodes}], block_sizes: [..]}``.  ``nodes``: every compute node name
    (each must sit in exactly one leaf switch / block).  ``groups``:
    {inventory group: [node names]} so ``nodes: gpu_nodes`` works.
    Returns ``{plugin: 'topology/tree', lines: [...]}``; ``{}`` for an empty spec.
    """
    if not spec:
        return {}
    if not isinstance(spec, dict):
        raise SlurmFilesError("slurm_topology must be a dict with plugin tree or block, got %s"
                              % type(spec).__name__)
    if isinstance(nodes, dict):
        # {inventory name: Slurm node name}: groups hold inventory names; keep
        # their compute members, under their Slurm names.
        name_map = nodes
        groups = dict((g, [name_map[m] for m in members if m in name_map])
                      for g, members in (groups or {}).items())
        nodes = list(name_map.values())
    groups = groups or {}
    plugin = spec.get("plugin", "tree")
    known = set(nodes or [])
    if plugin == "tree":
        switches = spec.get("switches")
        if not isinstance(switches, list) or not switches:
            raise SlurmFilesError("slurm_topology.switches must be a non-empty list of {name, nodes | switches}")
        names = [s.get("name") if isinstance(s, dict) else None for s in switches]
        for index, name in enumerate(names):
            if not isinstance(name, str) or not _TOPO_NAME_RE.match(name):
                raise SlurmFilesError("slurm_topology.switches[%d].name must be letters, digits, _ . -; got %r"
                                      % (index, name))
        if len(set(names)) != len(names):
            raise SlurmFilesError("slurm_topology.switches: switch names repeat: %s"
                                  % ", ".join(sorted(set(n for n in names if names.count(n) > 1))))
        placed = {}
        children = {}
        lines = []
        for index, switch in enumerate(switches):
            what = "slurm_topology.switches[%d] (%s)" % (index, switch["name"])
            has_nodes, has_switches = "nodes" in switch, "switches" in switch
            if has_nodes == has_switches:
                raise SlurmFilesError("%s needs exactly one of nodes (a leaf) or switches (above leaves)" % what)
            words = ["SwitchName=%s" % switch["name"]]
            if has_nodes:
                members = _names(switch["nodes"], what + ".nodes", groups)
                if not members:
                    raise SlurmFilesError("%s.nodes is empty" % what)
                unknown = sorted(set(members) - known)
                if unknown:
                    raise SlurmFilesError("%s.nodes: %s are not compute nodes (known: %s)"
                                          % (what, compress(unknown), compress(sorted(known)) if known else "none"))
                for member in members:
                    if member in placed and placed[member] != switch["name"]:
                        raise SlurmFilesError("%s.nodes: %s is already in leaf switch %s"
                                              % (what, member, placed[member]))
                    placed[member] = switch["name"]
                words.append("Nodes=%s" % compress(sorted(set(members))))
            else:
                subs = _names(switch["switches"], what + ".switches", {})
                unknown = sorted(set(subs) - set(names))
                if unknown or not subs:
                    raise SlurmFilesError("%s.switches: %s not defined in slurm_topology.switches"
                                          % (what, ", ".join(unknown) or "(none given)"))
                children[switch["name"]] = subs
                words.append("Switches=%s" % compress(sorted(set(subs))))
            if switch.get("link_speed") is not None:
                speed = switch["link_speed"]
                if not isinstance(speed, int) or isinstance(speed, bool) or speed <= 0:
                    raise SlurmFilesError("%s.link_speed must be a positive integer, got %r" % (what, speed))
                words.append("LinkSpeed=%d" % speed)
            lines.append(" ".join(words))
        missing = sorted(known - set(placed))
        if missing:
            raise SlurmFilesError("slurm_topology: compute nodes %s are in no leaf switch (topology/tree needs "
                                  "every node under a switch)" % compress(missing))
        # No switch may be its own ancestor.
        for start in children:
            seen, stack = set(), list(children[start])
            while stack:
                current = stack.pop()
                if current == start:
                    raise SlurmFilesError("slurm_topology: switch %s is below itself" % start)
                if current not in seen:
                    seen.add(current)
                    stack.extend(children.get(current, []))
        return {"plugin": "topology/tree", "lines": lines}
    if plugin == "block":
        try:
            ok = supports(version, "slurm.conf:TopologyPlugin=topology/block")
        except SlurmConfError as exc:
            raise SlurmFilesError(str(exc))
        if not ok:
            raise SlurmFilesError("slurm_topology.plugin block needs Slurm 24.05 or newer (BlockSizes); this "
                                  "cluster runs %s: use plugin tree" % ".".join(str(p) for p in parse_version(version)))
        blocks = spec.get("blocks")
        if not isinstance(blocks, list) or not blocks:
            raise SlurmFilesError("slurm_topology.blocks must be a non-empty list of {name, nodes}")
        placed = {}
        lines = []
        sizes = []
        for index, block in enumerate(blocks):
            if not isinstance(block, dict) or not isinstance(block.get("name"), str) \
                    or not _TOPO_NAME_RE.match(block["name"]):
                raise SlurmFilesError("slurm_topology.blocks[%d] needs a name (letters, digits, _ . -)" % index)
            what = "slurm_topology.blocks[%d] (%s)" % (index, block["name"])
            members = _names(block.get("nodes"), what + ".nodes", groups)
            unknown = sorted(set(members) - known)
            if not members or unknown:
                problem = ("%s are not compute nodes" % compress(unknown)) if unknown else "empty"
                raise SlurmFilesError("%s.nodes: %s" % (what, problem))
            for member in members:
                if member in placed:
                    raise SlurmFilesError("%s.nodes: %s is already in block %s" % (what, member, placed[member]))
                placed[member] = block["name"]
            sizes.append(len(set(members)))
            lines.append("BlockName=%s Nodes=%s" % (block["name"], compress(sorted(set(members)))))
        block_sizes = spec.get("block_sizes")
        if block_sizes:
            if not isinstance(block_sizes, list) or not all(isinstance(s, int) and not isinstance(s, bool)
                                                            and s > 0 for s in block_sizes):
                raise SlurmFilesError("slurm_topology.block_sizes must be a list of positive integers, got %r"
                                      % (block_sizes,))
            smallest = min(sizes)
            if block_sizes[0] > smallest:
                raise SlurmFilesError("slurm_topology.block_sizes starts at %d but the smallest block has %d nodes "
                                      "(the first size is the base block)" % (block_sizes[0], smallest))
            lines.append("BlockSizes=%s" % ",".join(str(s) for s in block_sizes))
        return {"plugin": "topology/block", "lines": lines}
    raise SlurmFilesError("slurm_topology.plugin must be tree or block, got %r" % (plugin,))


# ----------------------------------------------------------------- gres.conf

def gres_lines(hosts):
    """{node name: hpcai_gpu_facts} -> gres.conf lines, identical nodes grouped.

    Uses each fact's ``slurm.conf_lines`` (``Name=gpu Type=... File=...
    Cores=...``) and ``slurm.autodetect``: ``AutoDetect=<nvml|rsmi>`` goes on
    the node's lines only where the library was found (``off`` otherwise,
    which also stops a slurmd built with NVML from probing a node without it).
    Nodes without GPUs get no line.  Returns {'lines': [...], 'gres_types':
    ['gpu'] or []}.
    """
    if not isinstance(hosts, dict):
        raise SlurmFilesError("gres_lines: input must be {node name: hpcai_gpu_facts}, got %s"
                              % type(hosts).__name__)
    groups = {}
    for name, facts in hosts.items():
        try:
            check_name(name)
        except HostlistError as exc:
            raise SlurmFilesError(str(exc))
        if not facts:
            continue
        if not isinstance(facts, dict) or not isinstance(facts.get("slurm"), dict):
            raise SlurmFilesError("%s: hpcai_gpu_facts has no 'slurm' key (gathered by an older gpu_facts?)" % name)
        lines = facts["slurm"].get("conf_lines") or []
        if not lines:
            continue
        if not isinstance(lines, list) or not all(isinstance(l, str) and l.startswith("Name=") for l in lines):
            raise SlurmFilesError("%s: hpcai_gpu_facts.slurm.conf_lines must be gres.conf lines "
                                  "starting with Name=, got %r" % (name, lines))
        auto = facts["slurm"].get("autodetect") or "off"
        if auto not in ("off", "nvml", "rsmi", "nvidia", "oneapi", "nrt"):
            raise SlurmFilesError("%s: hpcai_gpu_facts.slurm.autodetect %r is not a Slurm AutoDetect value"
                                  % (name, auto))
        groups.setdefault((auto, tuple(lines)), []).append(name)
    out = []
    for (auto, lines), names in sorted(groups.items(), key=lambda item: sorted(item[1])[0]):
        hostlist = compress(sorted(names))
        out.append("NodeName=%s AutoDetect=%s" % (hostlist, auto))
        for line in lines:
            out.append("NodeName=%s %s" % (hostlist, line))
    return {"lines": out, "gres_types": ["gpu"] if out else []}


# ----------------------------------------------------------------- job_container.conf

def tmpfs_lines(spec):
    """job_container.conf lines for a per-job private /tmp and /dev/shm.

    ``spec``: ``{base_path, dirs (list), shared (bool), auto_base_path
    (bool)}``.  BasePath must be a local directory on each node (not /tmp:
    the job's /tmp is mounted from below it).
    """
    if not isinstance(spec, dict):
        raise SlurmFilesError("slurm_job_tmpfs must be a dict, got %s" % type(spec).__name__)
    base = spec.get("base_path")
    if not isinstance(base, str) or not base.startswith("/") or base.rstrip("/") in ("", "/tmp", "/dev/shm") \
            or any(c.isspace() for c in base):
        raise SlurmFilesError("slurm_job_tmpfs.base_path must be an absolute local directory other than / , /tmp "
                              "or /dev/shm (no blanks), got %r" % (base,))
    dirs = spec.get("dirs") or ["/tmp", "/dev/shm"]
    if not isinstance(dirs, list) or not all(isinstance(d, str) and d.startswith("/") and "," not in d
                                             and not any(c.isspace() for c in d) for d in dirs):
        raise SlurmFilesError("slurm_job_tmpfs.dirs must be a list of absolute paths without commas or blanks, "
                              "got %r" % (dirs,))
    lines = []
    if spec.get("auto_base_path", True):
        lines.append("AutoBasePath=true")
    lines.append("BasePath=%s" % base.rstrip("/"))
    lines.append("Dirs=%s" % ",".join(dirs))
    if spec.get("shared"):
        lines.append("Shared=true")
    return lines
