# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Documentation: slurm_node_lines.yml, slurm_nodes.yml and slurm_node_check.yml next to this file.

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.hpcai.cluster.plugins.module_utils.slurm_conf import (
    SlurmConfError,
    cluster_nodes,
    compare_with_slurmd_C,
    group_nodes,
    node_lines,
    node_values,
    partition_hostlists,
    read_host,
)
from ansible_collections.hpcai.cluster.plugins.module_utils.slurm_files import SlurmFilesError, gres_lines, topology_lines


def slurm_node_lines(hosts, l3_as_socket=False, reserve_mib=1024, reserve_percent=2, extras=None):
    """{nodename: hpcai_cpu_topology} -> NodeName lines, identical nodes grouped under one hostlist."""
    if not isinstance(hosts, dict):
        raise AnsibleFilterError("slurm_node_lines: input must be {node name: hpcai_cpu_topology}, got %s"
                                 % type(hosts).__name__)
    extras = extras or {}
    values = {}
    try:
        for name, topology in hosts.items():
            node = node_values(topology, real_memory_reserve_mib=reserve_mib, reserve_percent=reserve_percent,
                               l3_as_socket=l3_as_socket)
            node.update(extras.get(name) or {})
            values[name] = node
        return node_lines(group_nodes(values))
    except SlurmConfError as exc:
        raise AnsibleFilterError("slurm_node_lines: %s" % to_native(exc))


def _host_list(value, what):
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise AnsibleFilterError("slurm_nodes: %s must be a list of inventory host names, got %s"
                                 % (what, type(value).__name__))
    return list(value)


def slurm_nodes(hostvars, computes, l3_as_socket=False, reserve_mib=1024, reserve_percent=2, core_spec=True,
                mem_spec=True, gres=True, partitions=None, groups=None, topology=None, version=None):
    """hostvars | slurm_nodes(compute hosts, ...) -> {missing, lines, gres, partitions, topology}.

    One pass over the compute hosts: each host's hostvars entry is read once,
    and only the keys the NodeName lines need (module_utils/slurm_conf.py
    read_host); the rest is plain Python (cluster_nodes, partition_hostlists,
    and slurm_files gres_lines / topology_lines on the node names).
    """
    computes = _host_list(computes, "computes")
    core_spec, mem_spec, gres = boolean(core_spec), boolean(mem_spec), boolean(gres)
    groups = groups or {}

    def record(host, node):
        return read_host(hostvars[host], host, node=node, core_spec=core_spec, gres=gres) if host in hostvars else None

    try:
        result = cluster_nodes([(host, record(host, True)) for host in computes], l3_as_socket=boolean(l3_as_socket),
                               reserve_mib=reserve_mib, reserve_percent=reserve_percent, core_spec=core_spec,
                               mem_spec=mem_spec, gres=gres)
        names = result.pop("names")
        # Partition groups may hold other hosts (logins, say): their names too.
        others = {}
        for part in partitions or []:
            group = part.get("nodes") if isinstance(part, dict) else None
            for host in (groups.get(group) or []) if isinstance(group, str) else []:
                if host not in names and host not in others:
                    others[host] = (record(host, False) or {}).get("name") or host
        others.update(names)
        result["partitions"] = partition_hostlists(partitions, groups, others)
        result["gres"] = gres_lines(result.pop("gpu"))
        result["topology"] = topology_lines(topology, names, version, groups)
    except (SlurmConfError, SlurmFilesError) as exc:
        raise AnsibleFilterError("slurm_nodes: %s" % to_native(exc))
    return result


def slurm_node_check(slurmd_c_output, line):
    """slurmd -C text | slurm_node_check(NodeName line or values) -> {ok, drain, notes, configured, measured}."""
    try:
        return compare_with_slurmd_C(line, slurmd_c_output)
    except SlurmConfError as exc:
        raise AnsibleFilterError("slurm_node_check: %s" % to_native(exc))


class FilterModule(object):
    def filters(self):
        return {"slurm_node_lines": slurm_node_lines, "slurm_nodes": slurm_nodes, "slurm_node_check": slurm_node_check}
