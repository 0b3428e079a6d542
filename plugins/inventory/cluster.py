# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: cluster
short_description: A whole HPC cluster from one small C(*.cluster.yml) file
version_added: 0.1.0
author:
  - hpcai.cluster developers (@hpcai)
description:
  - Reads a file ending in C(.cluster.yml) or C(.cluster.yaml) that describes a cluster in a few lines (name and
    domain, networks, hardware classes, node ranges written as Slurm hostlists with their roles) and turns it into
    hosts, groups and variables for the roles of this collection.
  - 'Groups: one per role of O(nodes[].roles) (V(slurm_controller), V(slurm_dbd), V(slurm_compute), V(login),
    V(nfs_server), V(fabric_sm), V(head), or any V(x_<name>) site group) and C(hw_<class>) for every hardware class
    in use (O(hardware)).'
  - 'Group C(all) gets C(base_cluster_name) and C(base_cluster_domain) (O(cluster)), C(base_cluster_networks) (the
    management network) and C(fabric_networks) (the networks with a C(kind), in the fabric role''s format: C(name),
    C(kind), C(cidr), C(offset) and C(mtu), C(port), C(interface), C(ipoib_mode) when given).'
  - 'Every host gets C(hpcai_host_index) and C(fabric_host_index) (its host index), C(hpcai_hardware_class) (the class
    name or null), C(ansible_host) and C(base_cluster_address) (its address on the management network, when there is
    one), C(fabric_addresses) (only the fabric addresses overridden in O(hosts); the fabric role computes the others
    from C(fabric_host_index) the same way), then the C(vars) of its hardware class, O(nodes[].vars) and
    C(hosts.<host>.vars), each winning over the one before.'
  - 'Hardware class variables are host variables, not variables of the group C(hw_<class>): Ansible ranks the group
    variables of every inventory source below C(group_vars/all.yml), where a site-wide default would silently beat
    the class. As host variables they win over every C(group_vars/) file and lose only to C(host_vars/<host>.yml).'
  - 'Host index: the host''s running position over all O(nodes) entries in file order (0, 1, 2, ...), unless its entry
    has O(nodes[].index); then that entry''s hosts take index, index+1, ... Two hosts with the same index are an error.
    An address is the network address + C(offset) + the host index (IPv4 or IPv6; network and broadcast addresses are
    never used), unless C(hosts.<host>.<network>) overrides it.'
  - 'Every key is checked before anything is added to the inventory; a wrong file fails with one line per problem,
    each naming its key path, for example "nodes[2].hosts ''cpu[003-005]'' overlaps nodes[1] (cpu003, cpu004)" or
    "networks.mgmt 10.10.0.0/28 has 5 usable addresses from offset 10: 20 hosts do not fit (need a /27 or larger)".'
  - Group variables from C(group_vars/) next to the file apply as usual; C(group_vars/all.yml) there overrides what
    this plugin sets for C(all), so keep C(base_cluster_*) and C(fabric_networks) out of it.
  - O(compose), O(groups) and O(keyed_groups) see each host's variables merged over those of its groups (C(all)
    included, C(group_vars/) files not).
  - Needs the Python library netaddr on the controller when O(networks) is used.
extends_documentation_fragment:
  - constructed
options:
  plugin:
    description: Marks the file as one for this plugin.
    type: str
    required: true
    choices: [hpcai.cluster.cluster]
  cluster:
    description: Cluster-wide names.
    type: dict
    suboptions:
      name:
        description:
          - Cluster name (1-40 letters, digits, C(-), C(_)); becomes C(base_cluster_name), which is also the default
            of C(slurm_cluster_name).
        type: str
      domain:
        description: DNS domain of the cluster network (C(hpc.example)); becomes C(base_cluster_domain).
        type: str
  networks:
    description:
      - 'Networks by name (an identifier; not V(vars)). Each is a dict with C(cidr) (required, strict CIDR with the host
        bits cleared, IPv4 or IPv6), C(offset) (integer, default 1: the host with index 0 gets network address +
        offset) and C(reserved) (addresses or C(first-last) ranges no computed address may land on; checked here only).'
      - 'The one network without C(kind) is the management network: C(ansible_host) and C(base_cluster_address) of
        every host, C(base_cluster_networks). There may be none (then no C(ansible_host) is set: the host names must
        resolve, or set C(ansible_host) in O(nodes[].vars)).'
      - 'Networks with C(kind) (V(ipoib) or V(roce)) are fabric networks for the fabric role (C(fabric_networks)); they
        also take C(mtu) (RoCE 1280-9216, IPoIB datagram 256-4092, connected 256-65520), C(port) (which interface of
        that kind, 0 = the first), C(interface) (an explicit interface name) and C(ipoib_mode) (V(datagram) or
        V(connected), IPoIB only). A fabric network name has at most 15 characters.'
      - Networks must not overlap.
    type: dict
  hardware:
    description:
      - 'Hardware classes by name (letters, digits, C(_)): C({vars: {...}}). Hosts of a class are in the group
        C(hw_<name>) and get C(vars) as host variables (O(nodes[].vars) and C(hosts.<host>.vars) win over them, they
        win over C(group_vars/) files).'
    type: dict
  nodes:
    description: The hosts, as entries of hosts sharing roles, hardware and variables. A host is in exactly one entry.
    type: list
    elements: dict
    required: true
    suboptions:
      hosts:
        description:
          - 'A host name or a Slurm hostlist: V(head01), V(gpu[001-032]), V(cpu[01-04,10]), V(a[1-2]b[1-2]) (the
            width of the low bound sets the zero padding), or a list of them. Names are DNS labels (letters, digits,
            C(-)); the domain goes in O(cluster.domain).'
        type: raw
        required: true
      roles:
        description:
          - 'Groups of these hosts: V(slurm_controller), V(slurm_dbd), V(slurm_compute), V(login), V(nfs_server),
            V(fabric_sm), V(head), or V(x_<name>) for a site-specific group.'
        type: list
        elements: str
        default: []
      hardware:
        description: A class of O(hardware).
        type: str
      index:
        description:
          - Host index of the first host of this entry (the next hosts follow, +1 each). Without it the hosts take
            their running position in the file. Set it on every entry of a cluster in production, so adding hosts
            to one range never moves the addresses of the others.
        type: int
      vars:
        description: Host variables of these hosts.
        type: dict
        default: {}
  hosts:
    description:
      - 'Per-host overrides, by host name: C({<network name>: address, vars: {...}}). An address replaces the computed
        one on that network (it must be a usable address of the network and not another host''s); C(vars) are host
        variables merged over O(nodes[].vars). The host must be listed in O(nodes).'
    type: dict
notes:
  - Enabled through the default C(auto) inventory plugin (the file starts with C(plugin) set to this plugin) or by
    listing V(hpcai.cluster.cluster) in C(enable_plugins) of the C([inventory]) section of C(ansible.cfg).
  - Ansible reports an inventory source that fails to parse as a warning and goes on without it; set
    C(ANSIBLE_INVENTORY_UNPARSED_FAILED=true) (or C(unparsed_is_failed) in C([inventory])) to stop instead.
seealso:
  - plugin: hpcai.cluster.allocate_addresses
    plugin_type: filter
    description: The address arithmetic (network address + offset + index).
"""

EXAMPLES = r"""
# inventories/hpc1/hpc.cluster.yml  (ansible-inventory -i inventories/hpc1 --graph)
plugin: hpcai.cluster.cluster
cluster: {name: hpc1, domain: hpc.example}
networks:
  mgmt: {cidr: 10.10.0.0/16, offset: 10}
  ib: {cidr: 10.20.0.0/16, offset: 10, kind: ipoib, mtu: 2044}
hardware:
  epyc9654: {vars: {kernel_tuning_workload: hpc}}
  h100x8: {vars: {kernel_tuning_node_class: compute_gpu}}
nodes:
  - hosts: head01
    roles: [slurm_controller, slurm_dbd, nfs_server, fabric_sm]
  - hosts: login01
    roles: [login]
  - hosts: cpu[001-004]
    roles: [slurm_compute]
    hardware: epyc9654
    index: 100
  - hosts: gpu[01-02]
    roles: [slurm_compute, x_gpu]
    hardware: h100x8
    index: 200
hosts:
  cpu003: {mgmt: 10.10.9.3, vars: {kernel_tuning_reboot: true}}

# With Ansible's constructed options: a group per workload, a variable from others.
# plugin: hpcai.cluster.cluster
# ...
# keyed_groups:
#   - key: kernel_tuning_workload | default('none')
#     prefix: workload
# compose:
#   bmc_address: ansible_host | regex_replace('^10\.10\.', '10.11.')
# groups:
#   big_index: hpcai_host_index >= 100
"""

import inspect

from ansible.errors import AnsibleParserError
from ansible.inventory.helpers import get_group_vars
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.utils.vars import combine_vars
from ansible_collections.hpcai.cluster.plugins.module_utils import cluster_inventory

_SUFFIXES = (".cluster.yml", ".cluster.yaml")


class InventoryModule(BaseInventoryPlugin, Constructable):

    NAME = "hpcai.cluster.cluster"

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and to_native(path).endswith(_SUFFIXES)

    def _load(self, path):
        load = self.loader.load_from_file
        kwargs = {"cache": "none"}
        # ansible-core 2.19+: the file's strings may hold templates (vars, compose), as in any inventory file
        if "trusted_as_template" in inspect.signature(load).parameters:
            kwargs["trusted_as_template"] = True
        try:
            config = load(path, **kwargs)
        except Exception as exc:
            raise AnsibleParserError("%s: %s" % (to_native(path), to_native(exc)))
        if not config:
            raise AnsibleParserError("%s is empty" % to_native(path))
        valid_names = getattr(self, "_redirected_names", None) or [self.NAME]
        if not hasattr(config, "get") or config.get("plugin") not in valid_names:
            raise AnsibleParserError("%s: not a file for %s (plugin: %s)"
                                     % (to_native(path), self.NAME, config.get("plugin") if hasattr(config, "get") else None))
        return config

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        config = self._load(path)
        try:
            result = cluster_inventory.build(config, source=to_native(path))
        except cluster_inventory.ClusterInventoryError as exc:
            raise AnsibleParserError(to_native(exc))
        # only now: the checks above name every problem, Ansible's option parsing would stop at the first
        self.set_options(direct=config, var_options=self._vars)
        for warning in result["warnings"]:
            self.display.warning("%s: %s" % (to_native(path), warning))
        self._populate(result)
        self._construct(result["groups"]["all"])

    def _populate(self, result):
        groups = result["groups"]
        for name in groups["all"]:
            self.inventory.add_host(name)
            for key, value in result["hostvars"][name].items():
                self.inventory.set_variable(name, key, value)
        for group, members in groups.items():
            if group == "all":
                continue
            self.inventory.add_group(group)
            for name in members:
                self.inventory.add_child(group, name)
        for group, variables in result["group_vars"].items():
            for key, value in variables.items():
                self.inventory.set_variable(group, key, value)

    def _construct(self, names):
        strict = self.get_option("strict")
        compose = self.get_option("compose")
        conditionals = self.get_option("groups")
        keyed = self.get_option("keyed_groups")
        if not (compose or conditionals or keyed):
            return
        group_all = self.inventory.groups["all"]
        for name in names:
            host = self.inventory.get_host(name)
            groups = set(host.get_groups())
            groups.add(group_all)
            variables = combine_vars(get_group_vars(list(groups)), host.get_vars())
            self._set_composite_vars(compose, variables, name, strict=strict)
            self._add_host_to_composed_groups(conditionals, variables, name, strict=strict)
            self._add_host_to_keyed_groups(keyed, variables, name, strict=strict)
