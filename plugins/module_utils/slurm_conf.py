# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""slurm.conf node lines from ``hpcai_cpu_topology`` facts (pure Python 3.8+, no deps).

The slurm role renders ``NodeName=`` lines on the controller from the compute
nodes' facts; ``validate.yml`` and the role's preflight compare them with what
``slurmd -C`` measures.  Everything here is pure (no I/O) so it also runs on
targets:

* ``node_values(topology, ...)``: the six hardware figures of one node from the
  fact's ``slurm`` (or ``slurm_l3_as_socket``) key, with ``RealMemory`` =
  measured MemTotal minus a reserve (``real_memory()``).
* ``group_nodes(hosts)``: nodes with identical values -> one group each, with
  its hostlist (``module_utils/hostlist.py``, the same code as the
  ``hostlist_compress`` filter); RealMemory values within 1 GiB of each other
  merge to the smallest, and so do MemSpecLimit values within 1 GiB.
* ``node_lines(groups)``: ``NodeName=node[001-064] CPUs=... State=UNKNOWN`` in a
  fixed key order.
* ``parse_slurmd_C(text)`` / ``compare_with_slurmd_C(line, measured)``: what
  slurmd measures, and which configured values would drain the node.
* ``parse_version()``, ``config_keys_for()``, ``supports()``: which
  slurm.conf / cgroup.conf keys an installed Slurm accepts.

RealMemory reserve (the default is our choice, documented here): slurmctld
drains a node that registers with less memory than its ``RealMemory``
("Low RealMemory", src/slurmctld/node_mgr.c ``validate_node_specs``), and
slurmd's figure is the kernel's total RAM, which moves by a few MiB to a few
hundred MiB with kernel, firmware, ``crashkernel=`` or boot-time hugepage
changes.  Sites leave headroom: the StackHPC OpenHPC role uses 95 % of
``free --mebi`` (``openhpc_ram_multiplier: 0.95``), others subtract a fixed
1-4 GiB.  We subtract ``max(real_memory_reserve_mib, reserve_percent % of
MemTotal)`` = ``max(1024 MiB, 2 %)`` by default and round down to a multiple
of ``round_mib`` (1024); ``group_nodes`` then merges RealMemory values within
``memory_tolerance_mib`` (1024) to their minimum, so identical nodes whose
MemTotal differs by a few MiB (and happens to straddle a GiB boundary) still
share one line.  The reserve is not an OS memory reservation: that is
``MemSpecLimit`` (cgroup_partition's plan).  The result is never more than the
measured value, and a reserve that leaves nothing is an error, not 0.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re
from collections.abc import Mapping

from ansible_collections.hpcai.cluster.plugins.module_utils.hostlist import (
    HostlistError,
    check_name,
    compress,
    natural_key,
)

__all__ = [
    "SlurmConfError",
    "TOPOLOGY_KEYS",
    "NODE_KEYS",
    "EXTRA_KEYS",
    "LINE_ORDER",
    "DEFAULT_RESERVE_MIB",
    "DEFAULT_RESERVE_PERCENT",
    "DEFAULT_ROUND_MIB",
    "KEY_TABLE",
    "FEATURE_TABLE",
    "real_memory",
    "node_values",
    "group_nodes",
    "node_lines",
    "lines_for_nodes",
    "read_host",
    "cluster_nodes",
    "partition_hostlists",
    "parse_node_line",
    "parse_slurmd_C",
    "compare_with_slurmd_C",
    "parse_version",
    "config_keys_for",
    "supports",
]

TOPOLOGY_KEYS = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore")
NODE_KEYS = TOPOLOGY_KEYS + ("RealMemory",)
# Per-node extras the role may add (from the partition plan, GPU facts or inventory).
EXTRA_KEYS = ("TmpDisk", "CpuSpecList", "CoreSpecCount", "MemSpecLimit", "Gres", "Features", "Weight",
              "Parameters", "State")
LINE_ORDER = NODE_KEYS + EXTRA_KEYS
_INT_KEYS = frozenset(NODE_KEYS + ("TmpDisk", "CoreSpecCount", "MemSpecLimit", "Weight"))
_LIST_KEYS = frozenset(("CpuSpecList", "Gres", "Features", "Parameters"))

DEFAULT_RESERVE_MIB = 1024
DEFAULT_RESERVE_PERCENT = 2
DEFAULT_ROUND_MIB = 1024

_VALUE_RE = re.compile(r"^[A-Za-z0-9_.:/+@%()\-,]+$")
_TOKEN_RE = re.compile(r"([A-Za-z][A-Za-z0-9_]*)=(\S*)")


class SlurmConfError(ValueError):
    """Bad input for a slurm.conf builder (the message names the value)."""


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _as_int(value, what, minimum=0):
    if isinstance(value, str) and re.match(r"^\s*\d+\s*$", value):
        value = int(value)
    if not _is_int(value) or value < minimum:
        raise SlurmConfError("%s must be an integer >= %d, got %r" % (what, minimum, value))
    return value


# ----------------------------------------------------------------- node values


def real_memory(measured_mib, reserve_mib=DEFAULT_RESERVE_MIB, reserve_percent=DEFAULT_RESERVE_PERCENT,
                round_mib=DEFAULT_ROUND_MIB):
    """RealMemory (MiB) for a node whose slurmd measures ``measured_mib``.

    ``measured - max(reserve_mib, ceil(measured * reserve_percent / 100))``,
    rounded down to a multiple of ``round_mib`` when that leaves at least one
    multiple (0 or None: no rounding).  Always ``1 <= result <= measured``.
    """
    measured = _as_int(measured_mib, "measured memory (MiB)", 1)
    reserve_mib = _as_int(reserve_mib, "real_memory_reserve_mib", 0)
    if isinstance(reserve_percent, bool) or not isinstance(reserve_percent, (int, float)) \
            or not 0 <= reserve_percent < 100:
        raise SlurmConfError("reserve_percent must be a number in [0, 100), got %r" % (reserve_percent,))
    round_mib = _as_int(round_mib or 0, "round_mib", 0)
    percent_mib = int(math.ceil(measured * reserve_percent / 100.0))
    reserve = max(reserve_mib, percent_mib)
    value = measured - reserve
    if value < 1:
        raise SlurmConfError(
            "RealMemory would be %d MiB: the reserve of %d MiB (max of %d MiB and %s%% = %d MiB) leaves nothing of the "
            "%d MiB slurmd measures; lower real_memory_reserve_mib / reserve_percent"
            % (value, reserve, reserve_mib, reserve_percent, percent_mib, measured)
        )
    if round_mib and value >= round_mib:
        value = value // round_mib * round_mib
    return value


def node_values(topology, real_memory_reserve_mib=DEFAULT_RESERVE_MIB, reserve_percent=DEFAULT_RESERVE_PERCENT,
                l3_as_socket=False, round_mib=DEFAULT_ROUND_MIB):
    """{CPUs, Boards, SocketsPerBoard, CoresPerSocket, ThreadsPerCore, RealMemory} of one node.

    ``topology`` is the ``hpcai_cpu_topology`` fact.  ``l3_as_socket`` takes
    its ``slurm_l3_as_socket`` figures (Sockets = L3 domains, what
    ``SlurmdParameters=l3cache_as_socket`` makes slurmd count; ``slurmd -C``
    before 25.11 cannot print that layout).  RealMemory: see ``real_memory()``.
    """
    if not isinstance(topology, dict):
        raise SlurmConfError("topology must be the hpcai_cpu_topology fact (a dict), got %s" % type(topology).__name__)
    key = "slurm_l3_as_socket" if l3_as_socket else "slurm"
    source = topology.get(key)
    if not isinstance(source, dict):
        raise SlurmConfError("hpcai_cpu_topology has no '%s' figures (gathered by an older cpu_topology?)" % key)
    values = {}
    for name in TOPOLOGY_KEYS:
        values[name] = _as_int(source.get(name), "hpcai_cpu_topology.%s.%s" % (key, name), 1)
    measured = source.get("RealMemory")
    if measured is None:
        raise SlurmConfError("hpcai_cpu_topology.%s.RealMemory is unknown (no MemTotal in /proc/meminfo)" % key)
    values["RealMemory"] = real_memory(measured, real_memory_reserve_mib, reserve_percent, round_mib)
    return values


# ----------------------------------------------------------------- grouping


def _normalise_value(host, key, value):
    where = "%s: %s" % (host, key)
    if key in _INT_KEYS:
        return _as_int(value, where, 1 if key in NODE_KEYS else 0)
    if key in _LIST_KEYS and isinstance(value, (list, tuple)):
        parts = []
        for item in value:
            if _is_int(item):
                item = str(item)
            if not isinstance(item, str) or not item:
                raise SlurmConfError("%s: list items must be non-empty strings or integers, got %r" % (where, item))
            parts.append(item)
        value = ",".join(parts)
    if _is_int(value):
        value = str(value)
    if not isinstance(value, str):
        raise SlurmConfError("%s must be a string%s, got %s %r" % (
            where, " or a list" if key in _LIST_KEYS else "", type(value).__name__, value))
    if not _VALUE_RE.match(value):
        raise SlurmConfError("%s: %r cannot go into slurm.conf unquoted (no blanks, '#' or '=')" % (where, value))
    return value


def _normalise_host(host, values):
    try:
        check_name(host)
    except HostlistError as exc:
        raise SlurmConfError(str(exc))
    if not isinstance(values, dict):
        raise SlurmConfError("%s: node values must be a dict, got %s" % (host, type(values).__name__))
    unknown = sorted(set(values) - set(LINE_ORDER))
    if unknown:
        raise SlurmConfError("%s: unknown NodeName keys %s (allowed: %s)" % (host, ", ".join(unknown), ", ".join(LINE_ORDER)))
    missing = [k for k in NODE_KEYS if values.get(k) is None]
    if missing:
        raise SlurmConfError("%s: missing %s" % (host, ", ".join(missing)))
    normalised = {}
    for key, value in values.items():
        if value is None or value == "" or value == [] or value == ():
            continue
        normalised[key] = _normalise_value(host, key, value)
    return normalised


def _merge_close(values, tolerance):
    """Sorted distinct numbers -> runs of numbers within ``tolerance`` of each run's smallest."""
    runs = []
    for value in sorted(values):
        if runs and value - runs[-1][0] <= tolerance:
            runs[-1].append(value)
        else:
            runs.append([value])
    return runs


def group_nodes(hosts, memory_tolerance_mib=DEFAULT_ROUND_MIB):
    """{host: values} -> [{'hostlist', 'hosts', 'values'}], one group per identical values.

    Nodes whose values are identical except ``RealMemory``, and whose
    RealMemory values lie within ``memory_tolerance_mib`` of the smallest of
    them, share one group with that smallest RealMemory (never more than any
    member's own value, so no member can drain): identical nodes whose MemTotal
    differs by a few MiB may round to neighbouring GiB.  0 = strictly identical.

    ``MemSpecLimit`` merges the same way inside such a group: the partition
    plan makes it a share of each node's MemTotal (2 % by default), so nodes a
    few MiB apart get values a MiB or so apart.  Values within
    ``memory_tolerance_mib`` of the smallest share a line with that smallest
    value (the one of the nodes RealMemory comes from: what jobs may use,
    RealMemory - MemSpecLimit, is never more than on the smallest node); nodes
    with and without a MemSpecLimit never share a line.

    Groups come in natural order of their first host; hosts inside a group in
    natural order; 'hostlist' is ``hostlist.compress(hosts)``.  Values are
    normalised (integers for counts, comma-joined strings for list keys).
    """
    if not isinstance(hosts, dict):
        raise SlurmConfError("hosts must be a dict {hostname: node values}, got %s" % type(hosts).__name__)
    tolerance = _as_int(memory_tolerance_mib or 0, "memory_tolerance_mib", 0)
    by_layout = {}  # values without RealMemory and MemSpecLimit -> {RealMemory: {MemSpecLimit: [hosts]}}
    for host, values in hosts.items():
        normalised = _normalise_host(host, values)
        memory = normalised.pop("RealMemory")
        mem_spec = normalised.pop("MemSpecLimit", None)
        signature = tuple(sorted(normalised.items()))
        by_layout.setdefault(signature, {}).setdefault(memory, {}).setdefault(mem_spec, []).append(host)
    groups = []
    for signature, by_memory in by_layout.items():
        for memory_run in _merge_close(by_memory, tolerance):
            by_spec = {}
            for memory in memory_run:
                for mem_spec, members in by_memory[memory].items():
                    by_spec.setdefault(mem_spec, []).extend(members)
            spec_runs = [[None]] if None in by_spec else []
            spec_runs += _merge_close([v for v in by_spec if v is not None], tolerance)
            for spec_run in spec_runs:
                values = dict(signature)
                values["RealMemory"] = memory_run[0]
                if spec_run[0] is not None:
                    values["MemSpecLimit"] = spec_run[0]
                members = sorted((h for v in spec_run for h in by_spec[v]), key=natural_key)
                groups.append({"hostlist": compress(members), "hosts": members, "values": values})
    groups.sort(key=lambda g: natural_key(g["hosts"][0]))
    return groups


def node_lines(groups, state="UNKNOWN"):
    """NodeName lines for ``group_nodes()`` output, keys in ``LINE_ORDER``.

    ``State=<state>`` ends each line unless the group sets its own State
    (``state=None`` leaves it out).
    """
    lines = []
    for index, group in enumerate(groups or []):
        if not isinstance(group, dict) or not group.get("hostlist") or not isinstance(group.get("values"), dict):
            raise SlurmConfError("groups[%d] must be a group_nodes() entry with 'hostlist' and 'values'" % index)
        values = dict(group["values"])
        if "State" not in values and state:
            values["State"] = state
        words = ["NodeName=%s" % group["hostlist"]]
        for key in LINE_ORDER:
            if key in values:
                words.append("%s=%s" % (key, values[key]))
        lines.append(" ".join(words))
    return lines


def lines_for_nodes(topologies, extras=None, l3_as_socket=False, reserve_mib=DEFAULT_RESERVE_MIB,
                    reserve_percent=DEFAULT_RESERVE_PERCENT, memory_tolerance_mib=DEFAULT_ROUND_MIB):
    """{node: hpcai_cpu_topology} (+ {node: extra NodeName keys}) -> NodeName lines.

    ``node_values`` of each node with its extras on top, ``group_nodes``,
    ``node_lines``: what the ``slurm_node_lines`` filter returns.
    """
    if not isinstance(topologies, dict):
        raise SlurmConfError("input must be {node name: hpcai_cpu_topology}, got %s" % type(topologies).__name__)
    extras = extras or {}
    values = {}
    for name, topology in topologies.items():
        node = node_values(topology, real_memory_reserve_mib=reserve_mib, reserve_percent=reserve_percent,
                           l3_as_socket=l3_as_socket)
        node.update(extras.get(name) or {})
        values[name] = node
    return node_lines(group_nodes(values, memory_tolerance_mib))


# ----------------------------------------------------------------- the whole cluster in one pass

def _get(mapping, key):
    """mapping[key], or None when ``mapping`` is not a mapping or lacks the key.

    Only the one key is read: for Ansible's ``hostvars[host]`` each read
    templates that variable of that host, and nothing else.
    """
    if not isinstance(mapping, Mapping) or key not in mapping:
        return None
    return mapping[key]


def read_host(host_vars, inventory_name, node=True, core_spec=True, gres=True):
    """What ``cluster_nodes`` needs of one host, read from its variables (``hostvars[host]``).

    Reads ``ansible_facts`` and in it ``hostname``; with ``node`` also
    ``hpcai_cpu_topology`` and (``core_spec``) ``hpcai_cgroup_partition``,
    (``gres``) ``hpcai_gpu_facts``, and the host's ``slurm_node_overrides``.
    Returns ``{'name', 'topology'?, 'plan', 'gpu', 'overrides'}``: ``name`` is
    the short host name slurmd goes by (``ansible_facts.hostname``, else the
    inventory name); ``topology`` is there only when the fact is.
    """
    facts = _get(host_vars, "ansible_facts")
    record = {"name": _get(facts, "hostname") or inventory_name}
    if not node or not isinstance(facts, Mapping) or "hpcai_cpu_topology" not in facts:
        return record
    record["topology"] = facts["hpcai_cpu_topology"]
    if core_spec:
        record["plan"] = _get(_get(facts, "hpcai_cgroup_partition"), "slurm")
    if gres:
        record["gpu"] = _get(facts, "hpcai_gpu_facts")
    record["overrides"] = _get(host_vars, "slurm_node_overrides")
    return record


def _node_extra(record, core_spec, mem_spec, gres):
    """The NodeName keys a node gets beyond its measured values (the role's rules)."""
    extra = {}
    plan = record.get("plan")
    if core_spec and plan:
        extra["CpuSpecList"] = _get(plan, "CpuSpecList")
        extra["CoreSpecCount"] = _get(plan, "CoreSpecCount")
        extra["MemSpecLimit"] = _get(plan, "MemSpecLimit") if mem_spec else None
    if gres:
        value = _get(_get(record.get("gpu"), "slurm"), "gres")
        if value:
            extra["Gres"] = value
    overrides = record.get("overrides")
    if overrides:
        if not isinstance(overrides, Mapping):
            raise SlurmConfError("%s: slurm_node_overrides must be a dict, got %s"
                                 % (record["name"], type(overrides).__name__))
        extra.update(overrides)
    return extra


def cluster_nodes(hosts, l3_as_socket=False, reserve_mib=DEFAULT_RESERVE_MIB, reserve_percent=DEFAULT_RESERVE_PERCENT,
                  core_spec=True, mem_spec=True, gres=True, memory_tolerance_mib=DEFAULT_ROUND_MIB):
    """Everything slurm.conf and gres.conf need from the compute nodes, in one pass.

    ``hosts``: ``[(inventory name, read_host() record or None)]`` in group
    order (None: the host is not in the inventory).  A node's NodeName values
    are its ``node_values`` plus, with ``core_spec`` and a partition plan, the
    plan's CpuSpecList, CoreSpecCount and (``mem_spec``) MemSpecLimit, with
    ``gres`` its GPU facts' ``slurm.gres``, then its ``slurm_node_overrides``.

    Returns ``{'missing': [inventory names without hpcai_cpu_topology],
    'names': {inventory name: Slurm node name} (every host), 'lines':
    NodeName lines, 'gpu': {node name: hpcai_gpu_facts} (with ``gres``)}``.
    A node name that repeats keeps the last host's values.
    """
    missing = []
    names = {}
    topologies = {}
    extras = {}
    gpu = {}
    for inventory_name, record in hosts:
        if inventory_name in names:
            continue
        name = (record or {}).get("name") or inventory_name
        names[inventory_name] = name
        if not record or "topology" not in record:
            missing.append(inventory_name)
            continue
        topologies[name] = record["topology"]
        extras[name] = _node_extra(record, core_spec, mem_spec, gres)
        if gres:
            gpu[name] = record.get("gpu")
    return {
        "missing": missing,
        "names": names,
        "lines": lines_for_nodes(topologies, extras, l3_as_socket=l3_as_socket, reserve_mib=reserve_mib,
                                 reserve_percent=reserve_percent, memory_tolerance_mib=memory_tolerance_mib),
        "gpu": gpu,
    }


def partition_hostlists(partitions, groups, names):
    """{group name: hostlist of its members' node names} for the partitions whose ``nodes`` is a group.

    ``partitions``: the role's ``slurm_partitions``; ``groups``: the
    inventory's groups; ``names``: {inventory name: node name} (members not in
    it keep their inventory name).  Empty groups are left out: such a
    partition's ``nodes`` is written as it is.
    """
    out = {}
    for part in partitions or []:
        group = _get(part, "nodes")
        if not isinstance(group, str) or group in out or group not in (groups or {}):
            continue
        members = [names.get(m) or m for m in groups[group]]
        if not members:
            continue
        for member in members:
            try:
                check_name(member)
            except HostlistError as exc:
                raise SlurmConfError("partition %s, group %s: %s" % (_get(part, "name"), group, exc))
        out[group] = compress(members)
    return out


# ----------------------------------------------------------------- slurmd -C


def parse_node_line(text):
    """'NodeName=x CPUs=8 ...' -> {'NodeName': 'x', 'CPUs': 8, ...} (counts as int)."""
    if not isinstance(text, str):
        raise SlurmConfError("a node line must be a string, got %s" % type(text).__name__)
    result = {}
    for key, value in _TOKEN_RE.findall(text):
        if key in _INT_KEYS or key == "Sockets":
            if not value.isdigit():
                raise SlurmConfError("%s=%s is not a number in %r" % (key, value, text))
            result[key] = int(value)
        else:
            result[key] = value
    return result


def parse_slurmd_C(text):
    """Parse ``slurmd -C`` output.

    22.05 (Debian 12) prints, e.g.::

        NodeName=node1 CPUs=16 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=2 RealMemory=31848
        UpTime=0-02:05:31

    newer releases may prefix ``ClusterName=`` and append `` Gres=...``
    (GPU autodetection) to the first line (src/slurmd/slurmd/slurmd.c
    ``_print_config``).  Log lines around it are ignored.  Returns the node
    values (ints), ``NodeName``, extras as strings, ``UpTime`` and
    ``UpTimeSeconds`` when present.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        raise SlurmConfError("slurmd -C output must be a string, got %s" % type(text).__name__)
    node = None
    uptime = None
    for line in text.splitlines():
        if node is None and "CPUs=" in line and "RealMemory=" in line:
            node = parse_node_line(line)
        match = re.search(r"\bUpTime=(\d+)-(\d+):(\d+):(\d+)", line)
        if match:
            days, hours, minutes, seconds = (int(g) for g in match.groups())
            uptime = (match.group(0).split("=", 1)[1], ((days * 24 + hours) * 60 + minutes) * 60 + seconds)
    if node is None:
        short = text.strip()[:200]
        raise SlurmConfError("not slurmd -C output (no line with CPUs= and RealMemory=): %r" % short)
    for key in ("CPUs", "RealMemory"):
        if key not in node:
            raise SlurmConfError("slurmd -C output lacks %s: %r" % (key, text.strip()[:200]))
    node.setdefault("Boards", 1)
    if uptime:
        node["UpTime"], node["UpTimeSeconds"] = uptime
    return node


def _layout(values, what):
    """Normalise configured/measured figures; None where unknown."""
    out = {}
    for key in NODE_KEYS:
        value = values.get(key)
        if value is None:
            out[key] = None
        else:
            out[key] = _as_int(value, "%s %s" % (what, key), 0)
    if out["SocketsPerBoard"] is None and values.get("Sockets") is not None:
        sockets = _as_int(values["Sockets"], "%s Sockets" % what, 1)
        boards = out["Boards"] or 1
        out["SocketsPerBoard"] = max(sockets // boards, 1)
    if out["Boards"] is None:
        out["Boards"] = 1
    return out


def _product(values, keys):
    result = 1
    for key in keys:
        if values[key] is None:
            return None
        result *= values[key]
    return result


def compare_with_slurmd_C(line_values, slurmd_c_output):
    """Which configured values would drain the node, and which merely differ.

    ``line_values``: the NodeName values (dict, e.g. from ``node_values``, or a
    ``NodeName=...`` line).  ``slurmd_c_output``: ``slurmd -C`` text, or an
    already parsed dict (``parse_slurmd_C`` or the fact's ``slurm`` figures).

    ``drain`` lists what slurmctld's ``validate_node_specs`` drains a node for
    (reasons "Low CPUs", "Low socket*core*thread count", "Low RealMemory"):
    configured CPUs, Boards*Sockets*Cores*Threads or RealMemory above the
    measured ones.  ``notes`` lists differences that do not drain (a
    different socket/core layout with the same totals, as the L3-as-socket
    line has against ``slurmd -C`` before 25.11; fewer CPUs or memory than
    measured).  Returns {ok, drain, notes, configured, measured}.
    """
    if isinstance(line_values, str):
        line_values = parse_node_line(line_values)
    if not isinstance(line_values, dict):
        raise SlurmConfError("line_values must be a dict or a NodeName line, got %s" % type(line_values).__name__)
    measured_raw = slurmd_c_output
    if isinstance(measured_raw, (str, bytes)):
        measured_raw = parse_slurmd_C(measured_raw)
    if not isinstance(measured_raw, dict):
        raise SlurmConfError("slurmd_c_output must be slurmd -C text or a dict, got %s" % type(measured_raw).__name__)
    conf = _layout(line_values, "configured")
    real = _layout(measured_raw, "measured")
    drain = []
    notes = []

    if conf["CPUs"] is not None and real["CPUs"] is not None:
        if conf["CPUs"] > real["CPUs"]:
            drain.append("CPUs=%d is more than the %d CPUs slurmd measures (slurmctld drains it: Low CPUs)"
                         % (conf["CPUs"], real["CPUs"]))
        elif conf["CPUs"] < real["CPUs"]:
            notes.append("CPUs=%d uses %d of the %d CPUs slurmd measures" % (conf["CPUs"], conf["CPUs"], real["CPUs"]))

    threads_keys = ("Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore")
    cores_keys = ("Boards", "SocketsPerBoard", "CoresPerSocket")
    conf_threads, real_threads = _product(conf, threads_keys), _product(real, threads_keys)
    conf_cores, real_cores = _product(conf, cores_keys), _product(real, cores_keys)
    if conf_threads is not None and real_threads is not None:
        if conf_threads > real_threads:
            drain.append(
                "Boards*SocketsPerBoard*CoresPerSocket*ThreadsPerCore = %d is more than the %d threads slurmd measures "
                "(slurmctld drains it: Low socket*core*thread count)" % (conf_threads, real_threads))
        layout_keys = [k for k in threads_keys if conf[k] != real[k]]
        if layout_keys:
            detail = ", ".join("%s %d (measured %d)" % (k, conf[k], real[k]) for k in layout_keys)
            if conf_threads == real_threads and conf_cores == real_cores:
                notes.append("same %d cores and %d threads in another layout: %s (L3 domains as sockets? slurmd -C "
                             "prints them only from 25.11 with --parameters l3cache_as_socket)"
                             % (conf_cores, conf_threads, detail))
            else:
                notes.append("layout differs from the hardware: %s" % detail)
        if conf["CPUs"] is not None and conf["CPUs"] != conf_threads:
            notes.append("CPUs=%d differs from Boards*SocketsPerBoard*CoresPerSocket*ThreadsPerCore = %d"
                         % (conf["CPUs"], conf_threads))
        if conf_cores is not None and real_cores is not None and conf_cores > real_cores \
                and conf_threads <= real_threads:
            notes.append("%d cores configured but %d measured (threads counted as cores: jobs bind to SMT siblings "
                         "as if they were cores)" % (conf_cores, real_cores))

    if conf["RealMemory"] is not None and real["RealMemory"] is not None:
        if conf["RealMemory"] > real["RealMemory"]:
            drain.append("RealMemory=%d MiB is more than the %d MiB slurmd measures (slurmctld drains it: Low RealMemory)"
                         % (conf["RealMemory"], real["RealMemory"]))

    return {
        "ok": not drain,
        "drain": drain,
        "notes": notes,
        "configured": conf,
        "measured": real,
    }


# ----------------------------------------------------------------- versions

# (file, key, since, removed_in, source).  "since"/"removed_in" are (major,
# minor, micro); None = no bound.  Sources are the Slurm repository files
# (SchedMD/slurm) unless said otherwise; "UNVERIFIED" marks what we could not
# check against a changelog.
KEY_TABLE = (
    ("cgroup.conf", "CgroupAutomount", None, (23, 11, 0),
     "CHANGELOG/slurm-23.11.md 23.11.0rc1: 'Remove CgroupAutomount= option from cgroup.conf'"),
    ("cgroup.conf", "CgroupPlugin", (22, 5, 0), None,
     "UNVERIFIED since-version: docs/hardware-facts.md says 22.05 (the cgroup/v2 plugin's first release); "
     "the key may be older with cgroup/v1 only. 22.05 is the oldest release we support, so the bound is safe"),
    ("cgroup.conf", "EnableControllers", (23, 2, 1), None,
     "CHANGELOG/slurm-23.02.md 23.02.1: 'Add cgroup.conf EnableControllers option for cgroup/v2' "
     "(docs/hardware-facts.md says 23.11)"),
    ("cgroup.conf", "SystemdTimeout", (24, 5, 0), None,
     "CHANGELOG/slurm-24.05.md 24.05.0rc1: 'Add SystemdTimeout= parameter in cgroup.conf'"),
    ("cgroup.conf", "CgroupSlice", (25, 11, 0), None,
     "CHANGELOG/slurm-25.11.md 25.11.0rc1: 'Add CgroupSlice option to cgroup.conf'"),
    ("slurm.conf", "SlurmctldParameters=enable_configless", (20, 2, 0), None,
     "configless mode is a Slurm 20.02 feature (slurm.schedmd.com/configless_slurm.html, Niflheim Slurm notes); "
     "UNVERIFIED against the 20.02 NEWS file"),
    ("slurm.conf", "SlurmdParameters=l3cache_as_socket", (22, 5, 0), None,
     "UNVERIFIED since-version: present in src/common/xcpuinfo.c (needs hwloc 2); believed to date from 21.08. "
     "slurmd -C ignores it before 25.11 (it prints before reading slurm.conf)"),
    ("slurm.conf", "TopologyPlugin=topology/block", (24, 5, 0), None,
     "CHANGELOG/slurm-24.05.md 24.05.0rc1: 'topology/block - Replaced the BlockLevels with BlockSizes in "
     "topology.conf' (23.11 had the plugin with BlockLevels; we write BlockSizes only)"),
    ("slurm.conf", "JobContainerType", None, (25, 11, 0),
     "job_container.conf(5) of 25.11 (man.freebsd.org, slurm 25.11 port): the tmpfs plugin is loaded with "
     "NamespaceType=namespace/tmpfs; slurm.schedmd.com/namespace.html: namespace/linux 'added 25.11'. "
     "UNVERIFIED against the 25.11 CHANGELOG"),
    ("slurm.conf", "NamespaceType", (25, 11, 0), None, "see JobContainerType"),
    ("slurm.conf", "NodeName:Parameters", (25, 11, 0), None,
     "CHANGELOG/slurm-25.11.md 25.11.0rc1: 'Add per-node Parameters option, allowing node-specific SlurmdParameters'"),
)

_BASE_KEYS = {
    # cgroup.conf keys every release we support (22.05+) accepts.
    "cgroup.conf": ("AllowedRAMSpace", "AllowedSwapSpace", "CgroupMountpoint", "ConstrainCores", "ConstrainDevices",
                    "ConstrainRAMSpace", "ConstrainSwapSpace", "MaxRAMPercent", "MaxSwapPercent", "MemorySwappiness",
                    "MinRAMSpace"),
    # slurm.conf is not enumerated: only the version-dependent entries are listed.
    "slurm.conf": (),
}

# Behaviour that depends on the version but is not a key.
FEATURE_TABLE = (
    ("hostlist_suffix", (23, 11, 0), None,
     "CHANGELOG/slurm-23.11.md 23.11.0rc1: 'Allow for a shared suffix to be used with the hostlist format. "
     "E.g., \"node[0001-0010]-int\"'; 22.05/23.02 hostlist.c rejects text after ']'"),
    ("slurmd_C_parameters", (25, 11, 0), None,
     "CHANGELOG/slurm-25.11.md 25.11.0rc1: slurmd --parameters, 'slurmd -C --parameters l3cache_as_socket'"),
    ("cgroup_plugin_disabled", (24, 5, 0), None,
     "CHANGELOG/slurm-24.05.md 24.05.0rc1: 'Add CgroupPlugin=disabled'"),
    ("enable_controllers", (23, 2, 1), None, "see KEY_TABLE EnableControllers"),
)

_VERSION_RE = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})(?:\.(\d+))?")


def parse_version(version):
    """'22.05.8', 'slurm 22.05.8', '22.05.8-4+deb12u3', '23.11.0rc1', (24, 5) -> (major, minor, micro)."""
    if isinstance(version, (tuple, list)):
        parts = list(version)
        if not 2 <= len(parts) <= 3 or not all(_is_int(p) and p >= 0 for p in parts):
            raise SlurmConfError("a Slurm version tuple is (major, minor[, micro]), got %r" % (version,))
        return tuple(parts + [0] * (3 - len(parts)))
    if not isinstance(version, str):
        raise SlurmConfError("Slurm version must be a string such as '22.05.8', got %s %r"
                             % (type(version).__name__, version))
    match = _VERSION_RE.search(version)
    if not match:
        raise SlurmConfError("not a Slurm version: %r (expected e.g. '22.05.8' or 'slurm 23.11.4')" % version)
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def _in_range(version, since, removed_in):
    if since is not None and version < since:
        return False
    if removed_in is not None and version >= removed_in:
        return False
    return True


def config_keys_for(version):
    """Keys the given Slurm version accepts.

    Returns ``{'cgroup.conf': [...], 'slurm.conf': [...], 'features': [...]}``:
    every cgroup.conf key we write (base keys plus the version-dependent ones
    of ``KEY_TABLE``), the version-dependent slurm.conf entries
    (``Key`` or ``Key=value`` for a parameter value, ``NodeName:Key`` for a node
    line key) and the ``FEATURE_TABLE`` names, each list sorted.
    """
    ver = parse_version(version)
    result = {"cgroup.conf": set(_BASE_KEYS["cgroup.conf"]), "slurm.conf": set(_BASE_KEYS["slurm.conf"]),
              "features": set()}
    for conf_file, key, since, removed_in, _source in KEY_TABLE:
        if _in_range(ver, since, removed_in):
            result[conf_file].add(key)
    for name, since, removed_in, _source in FEATURE_TABLE:
        if _in_range(ver, since, removed_in):
            result["features"].add(name)
    return dict((k, sorted(v)) for k, v in result.items())


def supports(version, item):
    """True if ``version`` accepts ``item``: 'cgroup.conf:SystemdTimeout',
    'slurm.conf:SlurmdParameters=l3cache_as_socket' or a feature name."""
    if not isinstance(item, str) or not item:
        raise SlurmConfError("item must be a string such as 'cgroup.conf:CgroupSlice', got %r" % (item,))
    keys = config_keys_for(version)
    if ":" in item and item.split(":", 1)[0] in ("cgroup.conf", "slurm.conf"):
        conf_file, key = item.split(":", 1)
        known = set(k for f, k, _s, _r, _src in KEY_TABLE if f == conf_file) | set(_BASE_KEYS[conf_file])
        if key not in known:
            raise SlurmConfError("%s is not in the version table (known %s keys: %s)"
                                 % (item, conf_file, ", ".join(sorted(known))))
        return key in keys[conf_file]
    names = set(name for name, _s, _r, _src in FEATURE_TABLE)
    if item not in names:
        raise SlurmConfError("unknown feature %r (known: %s)" % (item, ", ".join(sorted(names))))
    return item in keys["features"]
