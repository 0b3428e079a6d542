# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Documentation: drift_*.yml next to this file. The logic is in module_utils/drift.py;
# playbooks/validate.yml is the user.

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.hpcai.cluster.plugins.module_utils.slurm_conf import SlurmConfError
from ansible_collections.hpcai.cluster.plugins.module_utils.drift import (
    DEFAULT_MEMORY_TOLERANCE_MIB,
    DriftError,
    command_result,
    compare_gpus,
    compare_hwloc,
    compare_slurm_node,
    compare_slurmd,
    compare_sysctls,
    compare_tuned,
    parse_hwloc_calc,
    parse_sysctl_text,
    report,
    row,
    scontrol_nodes,
    unknown_nodes,
)


def _call(name, func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except (DriftError, SlurmConfError) as exc:
        raise AnsibleFilterError("%s: %s" % (name, to_native(exc)))


def _nodes(name, nodes):
    if nodes is None or nodes == "":
        return None
    if not isinstance(nodes, dict):
        raise AnsibleFilterError("%s: nodes must be the drift_scontrol_nodes result (a dict) or None, got %s"
                                 % (name, type(nodes).__name__))
    return nodes


_NO_RECORD = "no /etc/ansible/facts.d/hpcai_kernel_tuning.fact: the kernel_tuning role has not run here"


def _record_rows(kind, node, record):
    """([], record) for a usable kernel_tuning record, else (one row, None).

    Absent: a note. Not a dict (Ansible puts the error text of an unreadable
    .fact file there, or a list/number was passed): drift.
    """
    if record is None or record == "" or record == {}:
        return [row(node, kind, "%s record" % kind, "kernel_tuning record", "absent", "note", _NO_RECORD)], None
    if not isinstance(record, dict):
        return [row(node, kind, "%s record" % kind, "kernel_tuning record (JSON object)", "unreadable", "drift",
                    "ansible_local.hpcai_kernel_tuning is %s %s" % (type(record).__name__, to_native(record)[:200]))], \
            None
    return [], record


def drift_scontrol_nodes(data):
    """scontrol --json document / its nodes (or a json_query projection) / scontrol -o text -> {name: record}."""
    return _call("drift_scontrol_nodes", scontrol_nodes, data)


def drift_slurm_node_rows(topology, nodes, node, slurm_name=None, l3_as_socket=False, reserve_mib=1024,
                          reserve_percent=2, overrides=None, memory_tolerance_mib=DEFAULT_MEMORY_TOLERANCE_MIB):
    """hpcai_cpu_topology | drift_slurm_node_rows(nodes, node, ...) -> rows (check a)."""
    name = "drift_slurm_node_rows"
    if overrides is not None and not isinstance(overrides, dict):
        raise AnsibleFilterError("%s: overrides (slurm_node_overrides) must be a dict, got %s"
                                 % (name, type(overrides).__name__))
    return _call(name, compare_slurm_node, node, topology, _nodes(name, nodes), slurm_name, bool(l3_as_socket),
                 reserve_mib, reserve_percent, overrides, memory_tolerance_mib)


def drift_slurmd_rows(slurmd_c, nodes, node, slurm_name=None):
    """slurmd -C result | drift_slurmd_rows(nodes, node) -> rows (check b)."""
    name = "drift_slurmd_rows"
    return _call(name, compare_slurmd, node, slurmd_c, _nodes(name, nodes), slurm_name)


_HWLOC_TYPES = ("package", "core", "pu")


def drift_hwloc_rows(results, topology, node, container=False):
    """hwloc-calc results | drift_hwloc_rows(topology, node, container) -> rows (check c).

    ``results``: the registered loop over package/core/pu ({results: [{item, rc,
    stdout, ...}]}), or {package: text, core: text, pu: text}; None or skipped: no rows.
    """
    name = "drift_hwloc_rows"
    if results is None:
        return []
    if not isinstance(results, dict):
        raise AnsibleFilterError("%s: input must be the registered hwloc-calc loop or {package, core, pu}, got %s"
                                 % (name, type(results).__name__))
    if results.get("skipped") and "results" not in results:
        return []
    runs = {}
    if "results" in results:
        for item in results.get("results") or []:
            if isinstance(item, dict) and item.get("item") in _HWLOC_TYPES:
                runs[item["item"]] = item
    else:
        runs = dict((k, v) for k, v in results.items() if k in _HWLOC_TYPES)
    counts = {}
    error = None
    for hw_type in _HWLOC_TYPES:
        run = _call(name, command_result, runs.get(hw_type))
        if not run["ran"]:
            continue
        if run["missing"]:
            error = "hwloc-calc not installed (install hwloc to compare)"
            break
        if run["rc"] != 0:
            error = "hwloc-calc --number-of %s failed (rc=%s): %s" % (hw_type, run["rc"], run["error"])
            break
        try:
            counts[hw_type] = parse_hwloc_calc(run["stdout"])
        except DriftError as exc:
            error = to_native(exc)
            break
    if not counts and error is None:
        return []
    return _call(name, compare_hwloc, node, topology, counts, bool(container), error)


def drift_gpu_rows(gpu_facts, nodes, node, slurm_name=None, gres_conf=None, gres_conf_path="gres.conf",
                   gres_enabled=True):
    """hpcai_gpu_facts | drift_gpu_rows(nodes, node, gres_conf=text) -> rows (check d)."""
    name = "drift_gpu_rows"
    return _call(name, compare_gpus, node, gpu_facts, _nodes(name, nodes), slurm_name, gres_conf, gres_conf_path,
                 bool(gres_enabled))


def _live_values(name, live):
    """`sysctl key ...` result (or text, or {key: value}) -> {key: value}, or (None, why) when not read."""
    if live is None:
        return None, None
    if isinstance(live, dict) and "rc" not in live and "stdout" not in live and not live.get("skipped") \
            and "msg" not in live:
        return dict((k, v) for k, v in live.items()), None
    run = _call(name, command_result, live)
    if not run["ran"]:
        return None, None
    if run["missing"]:
        return None, "sysctl not installed: live values not read"
    # rc != 0 when some keys do not exist: the others are on stdout.
    return _call(name, parse_sysctl_text, run["stdout"])["values"], None


def drift_sysctl_rows(record, node, file_text=None, live=None, container=False):
    """kernel_tuning record | drift_sysctl_rows(node, file_text, live, container) -> rows (check e).

    ``file_text``: the record's sysctl_file as text (None: missing). ``live``:
    the registered ``sysctl <keys>`` result. No record: one note.
    """
    name = "drift_sysctl_rows"
    rows, record = _record_rows("sysctl", node, record)
    if record is None:
        return rows
    sysctls = record.get("sysctls") or {}
    values, why = _live_values(name, live)
    rows = []
    if why:
        rows.append(row(node, "sysctl", "sysctl live", "live values", "not read", "note", why))
    root = record.get("topology_root") or "/"
    live_note = None
    if root != "/":
        live_note = ("tuned for the topology under %s, not this kernel's: live values not comparable" % root)
    rows.extend(_call(name, compare_sysctls, node, sysctls, file_text, record.get("sysctl_file") or "sysctl file",
                      values, bool(container), live_note, bool(record.get("sysctl_file"))))
    return rows


def drift_tuned_rows(record, tuned_adm, node):
    """kernel_tuning record | drift_tuned_rows(tuned-adm active result, node) -> rows (check f)."""
    name = "drift_tuned_rows"
    rows, record = _record_rows("tuned", node, record)
    if record is None:
        return rows
    return _call(name, compare_tuned, node, record.get("tuned_profile"), tuned_adm)


def drift_unknown_nodes(nodes, known):
    """drift_scontrol_nodes result | drift_unknown_nodes(names of the compute nodes) -> rows."""
    name = "drift_unknown_nodes"
    if known is not None and not isinstance(known, (list, tuple)):
        raise AnsibleFilterError("%s: known must be a list of node names, got %s" % (name, type(known).__name__))
    return _call(name, unknown_nodes, _nodes(name, nodes), known)


def drift_report(rows, checks=None, incomplete=None):
    """Every host's rows | drift_report(checks, incomplete) -> {ok, drift_nodes, lines, message, ...}."""
    return _call("drift_report", report, rows, checks, incomplete)


class FilterModule(object):
    def filters(self):
        return {
            "drift_scontrol_nodes": drift_scontrol_nodes,
            "drift_slurm_node_rows": drift_slurm_node_rows,
            "drift_slurmd_rows": drift_slurmd_rows,
            "drift_hwloc_rows": drift_hwloc_rows,
            "drift_gpu_rows": drift_gpu_rows,
            "drift_sysctl_rows": drift_sysctl_rows,
            "drift_tuned_rows": drift_tuned_rows,
            "drift_unknown_nodes": drift_unknown_nodes,
            "drift_report": drift_report,
        }
