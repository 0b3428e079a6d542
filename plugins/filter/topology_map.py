# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: topology_map
short_description: Render a node's CPU topology fact as a readable map
version_added: 0.1.0
author: hpcai.cluster contributors
description:
  - Turns the C(hpcai_cpu_topology) fact returned by M(hpcai.cluster.cpu_topology) into a text tree
    socket -> NUMA node -> L3 domain (the CCX on AMD EPYC) with core and CPU lists, memory per node,
    memory-only NUMA nodes (GPU HBM, CXL), devices (GPUs, NVSwitches, NICs) attached to their NUMA
    node, and the Slurm node values both as Slurm counts them and with L3 domains as sockets.
options:
  _input:
    description: The C(hpcai_cpu_topology) fact.
    type: dict
    required: true
  devices:
    description:
      - Devices to attach to NUMA nodes, usually the C(hpcai_pci_devices) fact returned by
        M(hpcai.cluster.pci_devices) as it is.
      - Each a dict with C(numa_node) (null or -1 means no affinity, listed after the tree) and a
        C(name), or C(names) (joined with commas) or C(address); optionally C(kind) (for example
        C(gpu), C(nvswitch), C(nic), C(ib)), C(address), C(vendor) and C(device) (hex strings),
        C(roce), C(vf) and C(physfn), and C(local_cpus) (shown only where it differs from the
        CPUs of the node the device is listed under).
    type: list
    elements: dict
    default: []
  title:
    description: Text put in front of the first line, usually the host name.
    type: str
"""

EXAMPLES = r"""
- name: Show the map of every node
  ansible.builtin.debug:
    msg: "{{ ansible_facts['hpcai_cpu_topology'] | hpcai.cluster.topology_map(title=inventory_hostname) }}"

- name: Show the map with the GPUs and NICs found by hpcai.cluster.pci_devices
  ansible.builtin.debug:
    msg: >-
      {{ ansible_facts['hpcai_cpu_topology']
         | hpcai.cluster.topology_map(devices=ansible_facts['hpcai_pci_devices'], title=inventory_hostname) }}
"""

RETURN = r"""
_value:
  description: The map, one line per socket, NUMA node, L3 domain and device.
  type: str
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.hpcai.cluster.plugins.module_utils.topology_report import render_map


def topology_map(topology, devices=None, title=None):
    if not isinstance(topology, dict):
        raise AnsibleFilterError("topology_map: input must be the hpcai_cpu_topology dict, got %s" % type(topology).__name__)
    try:
        return render_map(topology, devices=devices or [], title=title)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("topology_map: malformed topology fact: %s" % to_native(exc))


class FilterModule(object):
    def filters(self):
        return {"topology_map": topology_map}
