# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Documentation: slurm_node_lines.yml and slurm_node_check.yml next to this file.

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.hpcai.cluster.plugins.module_utils.slurm_conf import (
    SlurmConfError,
    compare_with_slurmd_C,
    group_nodes,
    node_lines,
    node_values,
)


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


def slurm_node_check(slurmd_c_output, line):
    """slurmd -C text | slurm_node_check(NodeName line or values) -> {ok, drain, notes, configured, measured}."""
    try:
        return compare_with_slurmd_C(line, slurmd_c_output)
    except SlurmConfError as exc:
        raise AnsibleFilterError("slurm_node_check: %s" % to_native(exc))


class FilterModule(object):
    def filters(self):
        return {"slurm_node_lines": slurm_node_lines, "slurm_node_check": slurm_node_check}
