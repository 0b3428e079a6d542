# -*- coding: utf-8 -*-
"""The hpcai.cluster.cluster inventory plugin: module_utils/cluster_inventory.build() on good and bad
cluster files (expected addresses written by hand: network address + offset + host index), and the real
plugin through ansible-inventory (constructed options, errors, inventories/template).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import yaml

from ansible_collections.hpcai.cluster.plugins.module_utils import cluster_inventory as ci
from render_helpers import REPO

TEMPLATE = REPO / "inventories" / "template"

EXAMPLE = """
plugin: hpcai.cluster.cluster
cluster: {name: hpc1, domain: hpc.example}
networks:
  mgmt: {cidr: 10.10.0.0/16, offset: 10}
  ib: {cidr: 10.20.0.0/16, offset: 10, kind: ipoib, mtu: 2044}
hardware:
  epyc9654: {vars: {kernel_tuning_workload: hpc}}
nodes:
  - hosts: head01
    roles: [slurm_controller, slurm_dbd, nfs_server, login]
    vars: {site_rack: r1}
  - hosts: cpu[001-004]
    roles: [slurm_compute]
    hardware: epyc9654
    index: 100
hosts:
  cpu003: {mgmt: 10.10.9.3, ib: 10.20.9.3, vars: {site_rack: r9}}
"""


def load(text):
    return yaml.safe_load(textwrap.dedent(text))


def build(text, **changes):
    config = load(text)
    config.update(changes)
    return ci.build(config, source="test.cluster.yml")


def problems(text, **changes):
    """The list of problems build() reports (it must fail)."""
    config = load(text) if isinstance(text, str) else text
    config.update(changes)
    with pytest.raises(ci.ClusterInventoryError) as err:
        ci.build(config, source="bad.cluster.yml")
    assert str(err.value).startswith("bad.cluster.yml: %d problem" % len(err.value.errors))
    for line in err.value.errors:
        assert "  - %s" % line in str(err.value)
    return err.value.errors


def one_problem(text, **changes):
    errors = problems(text, **changes)
    assert len(errors) == 1, errors
    return errors[0]


def nodes(*entries, networks=None, **top):
    """A config with these nodes entries (dicts)."""
    config = {"plugin": "hpcai.cluster.cluster", "nodes": list(entries)}
    if networks is not None:
        config["networks"] = networks
    config.update(top)
    return config


def names(result):
    return result["groups"]["all"]


def addresses(result, var="ansible_host"):
    return dict((host, hv.get(var)) for host, hv in result["hostvars"].items())


# ---------------------------------------------------------------- good files
def test_example_groups():
    result = build(EXAMPLE)
    assert result["groups"] == {
        "all": ["head01", "cpu001", "cpu002", "cpu003", "cpu004"],
        "slurm_controller": ["head01"],
        "slurm_dbd": ["head01"],
        "nfs_server": ["head01"],
        "login": ["head01"],
        "slurm_compute": ["cpu001", "cpu002", "cpu003", "cpu004"],
        "hw_epyc9654": ["cpu001", "cpu002", "cpu003", "cpu004"],
    }
    assert result["warnings"] == []


def test_example_group_all():
    assert build(EXAMPLE)["group_vars"] == {"all": {
        "base_cluster_name": "hpc1",
        "base_cluster_domain": "hpc.example",
        "base_cluster_networks": ["10.10.0.0/16"],
        "fabric_networks": [{"name": "ib", "kind": "ipoib", "cidr": "10.20.0.0/16", "offset": 10, "mtu": 2044}],
    }}


def test_example_hostvars():
    hostvars = build(EXAMPLE)["hostvars"]
    assert hostvars["head01"] == {
        "ansible_host": "10.10.0.10", "base_cluster_address": "10.10.0.10",
        "hpcai_host_index": 0, "hpcai_hardware_class": None, "fabric_host_index": 0, "site_rack": "r1"}
    assert hostvars["cpu001"] == {
        "ansible_host": "10.10.0.110", "base_cluster_address": "10.10.0.110",
        "hpcai_host_index": 100, "hpcai_hardware_class": "epyc9654", "fabric_host_index": 100,
        "kernel_tuning_workload": "hpc"}
    # cpu003: both addresses overridden; only the fabric override is passed on (the fabric role computes the others)
    assert hostvars["cpu003"] == {
        "ansible_host": "10.10.9.3", "base_cluster_address": "10.10.9.3", "fabric_addresses": {"ib": "10.20.9.3"},
        "hpcai_host_index": 102, "hpcai_hardware_class": "epyc9654", "fabric_host_index": 102,
        "kernel_tuning_workload": "hpc", "site_rack": "r9"}
    assert addresses(build(EXAMPLE)) == {"head01": "10.10.0.10", "cpu001": "10.10.0.110", "cpu002": "10.10.0.111",
                                         "cpu003": "10.10.9.3", "cpu004": "10.10.0.113"}
    assert [hv.get("fabric_addresses") for hv in hostvars.values()] == [None, None, None, {"ib": "10.20.9.3"}, None]


def test_running_index_without_index():
    # no index anywhere: the host's position over all entries in file order
    result = ci.build(nodes({"hosts": "head01"}, {"hosts": "cpu[1-3]"}, {"hosts": "gpu01"},
                            networks={"mgmt": {"cidr": "10.0.0.0/24"}}))
    assert names(result) == ["head01", "cpu1", "cpu2", "cpu3", "gpu01"]
    assert [hv["hpcai_host_index"] for hv in result["hostvars"].values()] == [0, 1, 2, 3, 4]
    assert addresses(result) == {"head01": "10.0.0.1", "cpu1": "10.0.0.2", "cpu2": "10.0.0.3", "cpu3": "10.0.0.4",
                                 "gpu01": "10.0.0.5"}


def test_explicit_index_and_running_positions_after_it():
    # the entry after an indexed one keeps its running position (4, 5), not 102
    result = ci.build(nodes({"hosts": "head01"}, {"hosts": "cpu[01-02]", "index": 100}, {"hosts": "login01"},
                            {"hosts": "gpu[1-2]", "index": 200},
                            networks={"mgmt": {"cidr": "10.0.0.0/16", "offset": 10}}))
    indexes = dict((h, hv["hpcai_host_index"]) for h, hv in result["hostvars"].items())
    assert indexes == {"head01": 0, "cpu01": 100, "cpu02": 101, "login01": 3, "gpu1": 200, "gpu2": 201}
    assert all(hv["fabric_host_index"] == hv["hpcai_host_index"] for hv in result["hostvars"].values())
    assert addresses(result) == {"head01": "10.0.0.10", "cpu01": "10.0.0.110", "cpu02": "10.0.0.111",
                                 "login01": "10.0.0.13", "gpu1": "10.0.0.210", "gpu2": "10.0.0.211"}


def test_index_past_255_carries_into_the_next_octet():
    result = ci.build(nodes({"hosts": "n[1-3]", "index": 254}, networks={"mgmt": {"cidr": "10.0.0.0/16"}}))
    assert addresses(result) == {"n1": "10.0.0.255", "n2": "10.0.1.0", "n3": "10.0.1.1"}


def test_zero_padded_ranges():
    result = ci.build(nodes({"hosts": "cpu[008-010]"}, {"hosts": "n[8-10]"}, {"hosts": "g[08-10]"}))
    assert names(result) == ["cpu008", "cpu009", "cpu010", "n8", "n9", "n10", "g08", "g09", "g10"]


def test_multiple_ranges_in_one_entry():
    result = ci.build(nodes({"hosts": "cpu[01-04,10]", "roles": ["slurm_compute"]},
                            {"hosts": "a[1-2]b[1-2]", "roles": ["x_lab"]},
                            {"hosts": ["gpu01", "gpu[03-04]"], "roles": ["slurm_compute"]}))
    assert result["groups"]["slurm_compute"] == ["cpu01", "cpu02", "cpu03", "cpu04", "cpu10", "gpu01", "gpu03",
                                                 "gpu04"]
    assert result["groups"]["x_lab"] == ["a1b1", "a1b2", "a2b1", "a2b2"]
    assert [result["hostvars"][h]["hpcai_host_index"] for h in ("cpu10", "a1b1", "a2b2", "gpu01", "gpu04")] == \
        [4, 5, 8, 9, 11]


def test_fabric_networks_entries_and_default_offset():
    result = ci.build(nodes({"hosts": "n[1-2]"}, networks={
        "ib": {"cidr": "10.20.0.0/16", "kind": "ipoib", "ipoib_mode": "connected", "mtu": 65520, "port": 1},
        "roce": {"cidr": "fd00:30::/64", "kind": "roce", "mtu": 9000, "interface": "ens1f0np0"}}))
    assert result["group_vars"] == {"all": {"fabric_networks": [
        {"name": "ib", "kind": "ipoib", "cidr": "10.20.0.0/16", "offset": 1, "mtu": 65520, "port": 1,
         "ipoib_mode": "connected"},
        {"name": "roce", "kind": "roce", "cidr": "fd00:30::/64", "offset": 1, "mtu": 9000, "interface": "ens1f0np0"}]}}
    # no management network: no ansible_host, no base_cluster_address / base_cluster_networks
    assert result["hostvars"]["n1"] == {"hpcai_host_index": 0, "hpcai_hardware_class": None, "fabric_host_index": 0}


def test_no_networks_lets_ansible_host_come_from_vars():
    result = ci.build(nodes({"hosts": "n1", "vars": {"ansible_host": "n1.bmc.example"}}))
    assert result["hostvars"]["n1"]["ansible_host"] == "n1.bmc.example"
    assert result["group_vars"] == {"all": {}}


def test_ipv6_management_network():
    result = ci.build(nodes({"hosts": "n[1-2]", "index": 15}, networks={"mgmt": {"cidr": "fd00:10::/64", "offset": 1}}))
    assert addresses(result) == {"n1": "fd00:10::10", "n2": "fd00:10::11"}
    assert result["group_vars"]["all"]["base_cluster_networks"] == ["fd00:10::/64"]


def test_overrides_keep_every_other_address():
    networks = {"mgmt": {"cidr": "10.0.0.0/24"}, "ib": {"cidr": "10.1.0.0/24", "kind": "ipoib"}}
    result = ci.build(nodes({"hosts": "n[1-3]"}, networks=networks,
                            hosts={"n2": {"mgmt": "10.0.0.200", "ib": ""}, "n3": {"ib": "10.1.0.99"}}))
    assert addresses(result) == {"n1": "10.0.0.1", "n2": "10.0.0.200", "n3": "10.0.0.3"}
    assert addresses(result, "fabric_addresses") == {"n1": None, "n2": None, "n3": {"ib": "10.1.0.99"}}


def test_vars_precedence_class_then_entry_then_host():
    result = ci.build(nodes({"hosts": "n[1-2]", "hardware": "big", "vars": {"b": "entry", "c": "entry"}},
                            hardware={"big": {"vars": {"a": "class", "b": "class", "c": "class"}}},
                            hosts={"n2": {"vars": {"c": "host"}}}))
    assert {k: result["hostvars"]["n1"][k] for k in "abc"} == {"a": "class", "b": "entry", "c": "entry"}
    assert {k: result["hostvars"]["n2"][k] for k in "abc"} == {"a": "class", "b": "entry", "c": "host"}
    assert result["groups"]["hw_big"] == ["n1", "n2"]


def test_hosts_get_their_own_copies_of_vars():
    result = ci.build(nodes({"hosts": "n[1-2]", "vars": {"mounts": ["/a"]}}))
    result["hostvars"]["n1"]["mounts"].append("/b")
    assert result["hostvars"]["n2"]["mounts"] == ["/a"]


def test_roles_site_groups_and_duplicates():
    result = ci.build(nodes({"hosts": "h1", "roles": ["head", "fabric_sm", "x_storage", "head"]}))
    assert result["groups"] == {"all": ["h1"], "head": ["h1"], "fabric_sm": ["h1"], "x_storage": ["h1"]}


def test_unused_hardware_class_is_a_warning():
    result = ci.build(nodes({"hosts": "h1"}, hardware={"spare": {"vars": {"a": 1}}}))
    assert result["warnings"] == ["hardware.spare is used by no nodes entry (group hw_spare not created)"]
    assert "hw_spare" not in result["groups"]


def test_constructed_options_pass_through():
    result = ci.build(nodes({"hosts": "h1"}, keyed_groups=[{"key": "x"}], compose={"y": "1"}, groups={"g": "true"},
                            strict=True, use_extra_vars=False, leading_separator=True))
    assert names(result) == ["h1"]


def test_reserved_addresses_are_honoured():
    result = ci.build(nodes({"hosts": "n[1-2]"}, networks={"mgmt": {"cidr": "10.0.0.0/24", "reserved": ["10.0.0.1"],
                                                                    "offset": 2}}))
    assert addresses(result) == {"n1": "10.0.0.2", "n2": "10.0.0.3"}


# ---------------------------------------------------------------- bad files
def test_overlapping_ranges():
    assert one_problem(nodes({"hosts": "head01"}, {"hosts": "cpu[001-004]"}, {"hosts": "cpu[003-005]"})) == (
        "nodes[2].hosts 'cpu[003-005]' overlaps nodes[1] (cpu003, cpu004); a host belongs to one nodes entry "
        "(put several roles in its roles list)")


def test_subnet_too_small_names_network_and_prefix():
    # /28 from offset 1: 10.0.0.1-10.0.0.14 usable; 20 hosts need offsets 1-20, a /27 (30 usable)
    assert one_problem(nodes({"hosts": "n[01-20]"}, networks={"mgmt": {"cidr": "10.0.0.0/28"}})) == (
        "networks.mgmt 10.0.0.0/28 has 14 usable addresses from offset 1: 20 hosts do not fit (need a /27 or larger)")


def test_subnet_too_small_for_an_explicit_index():
    message = one_problem(nodes({"hosts": "n[1-2]", "index": 300},
                                networks={"ib": {"cidr": "10.20.0.0/24", "kind": "ipoib", "offset": 10}}))
    # usable offsets 1-254, from offset 10: indexes 0-244; 10 + 301 = 311 needs 512 addresses, a /23
    assert message == ("networks.ib 10.20.0.0/24 has 245 usable addresses from offset 10: index 301 of host n2 does not "
                       "fit (indexes 0-244 do; need a /23 or larger)")


def test_unknown_role():
    assert one_problem(nodes({"hosts": "h1", "roles": ["slurm_compute", "storage"]})) == (
        "nodes[0].roles[1] 'storage': unknown role (allowed: slurm_controller, slurm_dbd, slurm_compute, login, "
        "nfs_server, fabric_sm, head, or x_<name> for a site group)")


def test_unknown_role_suggests():
    assert one_problem(nodes({"hosts": "h1", "roles": ["slurm_controler"]})).endswith("; did you mean slurm_controller?")


def test_unknown_hardware_class():
    assert one_problem(nodes({"hosts": "h1", "hardware": "epyc9645"}, hardware={"epyc9654": {}, "h100x8": {}})) == (
        "nodes[0].hardware 'epyc9645': unknown hardware class (defined under hardware: epyc9654, h100x8); "
        "did you mean epyc9654?")


def test_unknown_keys_everywhere():
    config = nodes({"hosts": "h1", "role": ["login"]}, cluster={"name": "c", "dns": "x"}, extra=1,
                   networks={"mgmt": {"cidr": "10.0.0.0/24", "ofset": 3}}, hardware={"c1": {"var": {}}},
                   hosts={"h1": {"mgmt": "10.0.0.9", "ib": "10.1.0.1"}})
    assert problems(config) == [
        "top level: unknown key 'extra' (allowed: plugin, cluster, networks, hardware, nodes, hosts, strict, compose, "
        "groups, keyed_groups, use_extra_vars, leading_separator)",
        "cluster: unknown key 'dns' (allowed: name, domain)",
        "networks.mgmt: unknown key 'ofset' (allowed: cidr, offset, reserved; fabric networks also take kind, mtu, "
        "port, interface, ipoib_mode); did you mean offset?",
        "hardware.c1: unknown key 'var' (allowed: vars); did you mean vars?",
        "nodes[0]: unknown key 'role' (allowed: hosts, roles, hardware, index, vars); did you mean roles?",
        "hosts.h1: unknown key 'ib' (allowed: mgmt, vars (the networks and vars))",
    ]


def test_fabric_keys_on_the_management_network():
    assert one_problem(nodes({"hosts": "h1"}, networks={"mgmt": {"cidr": "10.0.0.0/24", "mtu": 9000}})) == (
        "networks.mgmt.mtu: only fabric networks (kind ipoib or roce) take mtu; the network without kind is the "
        "management network")


@pytest.mark.parametrize("hosts, message", [
    ("cpu[001-004", "nodes[0].hosts: unclosed '[' in 'cpu[001-004'"),
    ("cpu[004-001]", "nodes[0].hosts: reversed range '004-001' in 'cpu[004-001]' of 'cpu[004-001]'"),
    ("cpu[a-b]", "nodes[0].hosts: bad range 'a-b' in 'cpu[a-b]' of 'cpu[a-b]' (expected N or N-M with decimal N <= M, "
                 "comma separated)"),
    ("", "nodes[0].hosts is empty"),
    ("cpu_01", "nodes[0].hosts 'cpu_01': cpu_01 is not a valid host name (letters, digits and '-', not at either end, "
               "at most 63 characters; short names only, the domain goes in cluster.domain)"),
    ("n1.hpc.example", "nodes[0].hosts 'n1.hpc.example': n1.hpc.example is not a valid host name (letters, digits and "
                       "'-', not at either end, at most 63 characters; short names only, the domain goes in "
                       "cluster.domain)"),
    (None, "nodes[0].hosts is required (a host name or a Slurm hostlist such as cpu[001-004])"),
    (5, "nodes[0].hosts must be a host name, a Slurm hostlist (cpu[001-004]) or a list of them, got 5"),
])
def test_bad_hostlists(hosts, message):
    assert one_problem(nodes({"hosts": hosts})) == message


def test_index_collision_explicit():
    assert one_problem(nodes({"hosts": "cpu[1-4]", "index": 100}, {"hosts": "gpu[1-2]", "index": 102})) == (
        "nodes[1].index 102: gpu1 has 102, gpu2 has 103, already taken by nodes[0] (cpu3, cpu4); give the entries "
        "index ranges that do not overlap")


def test_index_collision_with_running_positions():
    # cpu1-2 take 3-4 (index 3); x1-x3 have no index and run at positions 2-4
    assert one_problem(nodes({"hosts": "cpu[1-2]", "index": 3}, {"hosts": "x[1-3]"})) == (
        "nodes[1] (no index: running positions 2-4): x2 has 3, x3 has 4, already taken by nodes[0] (cpu1, cpu2); "
        "give the entries index ranges that do not overlap")


def test_index_collision_reports_each_earlier_entry():
    errors = problems(nodes({"hosts": "head01"}, {"hosts": "cpu[1-2]"}, {"hosts": "gpu[1-3]", "index": 0}))
    assert errors == [
        "nodes[2].index 0: gpu1 has 0, already taken by nodes[0] (head01); give the entries index ranges that do not "
        "overlap",
        "nodes[2].index 0: gpu2 has 1, gpu3 has 2, already taken by nodes[1] (cpu1, cpu2); give the entries index "
        "ranges that do not overlap",
    ]


def test_override_outside_subnet():
    assert one_problem(nodes({"hosts": "n[1-2]"}, networks={"mgmt": {"cidr": "10.0.0.0/24"}},
                             hosts={"n2": {"mgmt": "10.0.1.5"}})) == (
        "networks.mgmt 10.0.0.0/24: override 10.0.1.5 for host n2 is outside the network (usable: 10.0.0.1-10.0.0.254)")


def test_override_colliding_with_a_computed_address():
    assert one_problem(nodes({"hosts": "n[1-2]"}, networks={"mgmt": {"cidr": "10.0.0.0/24"}},
                             hosts={"n2": {"mgmt": "10.0.0.1"}})) == (
        "networks.mgmt 10.0.0.0/24: host n1 (index 0) would get 10.0.0.1, the override of host n2; give one of them "
        "another address")


def test_override_of_an_unknown_host():
    assert one_problem(nodes({"hosts": "n1"}, hosts={"n9": {"vars": {"a": 1}}})) == (
        "hosts.n9: 'n9' is in no nodes entry (hosts: only overrides hosts listed under nodes)")


def test_computed_address_on_a_reserved_one():
    assert one_problem(nodes({"hosts": "n[1-2]"}, networks={"mgmt": {"cidr": "10.0.0.0/24",
                                                                     "reserved": ["10.0.0.2-10.0.0.9"]}})) == (
        "networks.mgmt 10.0.0.0/24: host n2 (index 1) would get 10.0.0.2, which is reserved (reserved[0] "
        "'10.0.0.2-10.0.0.9'); change its index or the offset, or give it an override")


def test_network_problems():
    config = nodes({"hosts": "h1"}, networks={
        "mgmt": {"cidr": "10.0.0.1/24"},
        "eth2": {"cidr": "10.9.0.0/16"},
        "ib": {"cidr": "10.9.128.0/17", "kind": "ib", "mtu": 9000},
        "roce": {"cidr": "10.3.0.0/16", "kind": "roce", "mtu": 1000, "ipoib_mode": "connected"},
        "ib_with_a_long_name": {"cidr": "10.4.0.0/16", "kind": "ipoib", "offset": -1},
        "2nd": {"cidr": "10.5.0.0/16"},
        "nocidr": {"kind": "roce"},
    })
    assert problems(config) == [
        "networks.mgmt.cidr '10.0.0.1/24' has host bits set (the network is 10.0.0.0/24)",
        "networks.ib.kind 'ib': allowed are ipoib, roce, or no kind for the management network",
        "networks.roce.ipoib_mode: only for kind ipoib",
        "networks.roce.mtu 1000: RoCE allows 1280-9216",
        "networks.ib_with_a_long_name: a fabric network name has at most 15 characters (the fabric role's limit)",
        "networks.ib_with_a_long_name.offset must be 0 or more, got -1",
        "networks.2nd: a network name must be an identifier (a letter, then letters, digits, _) and not 'vars'",
        "networks.nocidr.cidr is required (e.g. 10.10.0.0/16)",
        "networks: only one network may have no kind (the management network), got mgmt, eth2; give the others kind: "
        "ipoib or roce",
        "networks.ib.cidr 10.9.128.0/17 overlaps networks.eth2.cidr 10.9.0.0/16",
    ]


def test_plugin_set_variables_are_refused_in_vars():
    config = nodes({"hosts": "h1", "vars": {"ansible_host": "1.2.3.4", "fabric_host_index": 3}},
                   networks={"mgmt": {"cidr": "10.0.0.0/24"}}, cluster={"name": "c1"},
                   hardware={"k": {"vars": {"base_cluster_name": "x"}}},
                   hosts={"h1": {"vars": {"hpcai_hardware_class": "k", "bad-name": 1}}})
    assert problems(config) == [
        "hosts.h1.vars: 'bad-name' is not a valid variable name (letters, digits and _, not starting with a digit)",
        "hardware.k.vars.base_cluster_name is set by the plugin (set from cluster.name)",
        "nodes[0].vars.ansible_host is set by the plugin (the host's address on networks.mgmt: override it with "
        "hosts.<host>.mgmt)",
        "nodes[0].vars.fabric_host_index is set by the plugin (the host index: set it with nodes[].index)",
        "hosts.h1.vars.hpcai_hardware_class is set by the plugin (set it with nodes[].hardware)",
    ]


def test_structure_problems():
    assert problems({"plugin": "other.plugin", "cluster": "hpc1", "nodes": []}) == [
        "plugin 'other.plugin': this file is for hpcai.cluster.cluster",
        "cluster must be a dict, got 'hpc1'",
        "nodes must be a non-empty list of {hosts, roles, hardware, index, vars} entries, got a list",
    ]
    assert problems({"plugin": "hpcai.cluster.cluster"}) == [
        "nodes is required: a list of {hosts, roles, hardware, index, vars} entries"]
    assert problems(nodes("h1", {"hosts": "h2", "roles": "login", "index": "3", "vars": []})) == [
        "nodes[0] must be a dict {hosts, roles, hardware, index, vars}, got 'h1'",
        "nodes[1].roles must be a list such as [slurm_compute], got 'login'",
        "nodes[1].index must be an integer 0 or more, got '3'",
        "nodes[1].vars must be a dict of variables, got a list",
    ]
    with pytest.raises(ci.ClusterInventoryError) as err:
        ci.build(["not", "a", "dict"])
    assert str(err.value) == ("<file>: 1 problem:\n  - the file must hold a dict (plugin, cluster, networks, hardware, "
                              "nodes, hosts), got a list")


def test_cluster_name_and_domain_checked():
    assert problems(nodes({"hosts": "h1"}, cluster={"name": "my cluster", "domain": "-bad.example"})) == [
        "cluster.name 'my cluster' must be 1-40 letters, digits, '-' or '_', starting with a letter or digit (it "
        "becomes base_cluster_name and Slurm's ClusterName)",
        "cluster.domain '-bad.example' must be a DNS domain such as hpc.example (labels of letters, digits and '-', "
        "separated by dots)",
    ]


def test_all_problems_at_once():
    # one file, many mistakes: every one is listed
    config = load(EXAMPLE)
    config["nodes"][0]["roles"].append("slurmctld")
    config["nodes"][1]["hardware"] = "epyc"
    config["nodes"].append({"hosts": "cpu[004-006]", "roles": ["slurm_compute"]})
    config["networks"]["mgmt"]["colour"] = "blue"
    errors = problems(config)
    assert len(errors) == 4
    assert errors[3] == ("nodes[2].hosts 'cpu[004-006]' overlaps nodes[1] (cpu004); a host belongs to one nodes entry "
                         "(put several roles in its roles list)")


# ---------------------------------------------------------------- the template
def test_template_builds_with_the_expected_addresses():
    config = yaml.safe_load((TEMPLATE / "hpc.cluster.yml").read_text())
    result = ci.build(config, source="hpc.cluster.yml")
    assert result["warnings"] == []
    assert addresses(result) == {
        "head01": "10.10.0.10", "login01": "10.10.0.11", "stor01": "10.10.3.1",
        "cpu001": "10.10.0.110", "cpu002": "10.10.0.111", "cpu003": "10.10.0.112", "cpu004": "10.10.0.113",
        "gpu01": "10.10.0.210", "gpu02": "10.10.0.211"}
    assert result["hostvars"]["stor01"]["fabric_addresses"] == {"ib": "10.20.3.1"}
    assert result["hostvars"]["gpu01"]["gpu_stack"] == "nvidia"
    assert result["group_vars"]["all"]["fabric_networks"] == [
        {"name": "ib", "kind": "ipoib", "cidr": "10.20.0.0/16", "offset": 10}]


def test_template_group_vars_leave_the_plugin_variables_alone():
    group_vars = yaml.safe_load((TEMPLATE / "group_vars" / "all.yml").read_text())
    plugin_all = ("base_cluster_name", "base_cluster_domain", "base_cluster_networks", "fabric_networks")
    assert not set(group_vars) & set(plugin_all)


# ---------------------------------------------------------------- the plugin through ansible-inventory
def _exe(name):
    exe = os.path.join(os.path.dirname(sys.executable), name)
    return exe if os.path.exists(exe) else shutil.which(name)


def plain(value):
    """ansible-inventory --list writes strings the plugin computed (not read from the trusted file) as
    {"__ansible_unsafe": text}; the text is what matters here."""
    if isinstance(value, dict):
        if list(value) == ["__ansible_unsafe"]:
            return value["__ansible_unsafe"]
        return dict((key, plain(item)) for key, item in value.items())
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def run(tool, *args, cwd=None, cfg=None, **env):
    exe = _exe(tool)
    if not exe:
        pytest.skip("%s not found" % tool)
    environ = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"),
                   ANSIBLE_CONFIG=str(cfg or REPO / "ansible.cfg"), **env)
    proc = subprocess.run([exe, *args], cwd=cwd or REPO, env=environ, capture_output=True, text=True, timeout=300,
                          check=False)
    return proc.returncode, proc.stdout, proc.stderr


CONSTRUCTED = EXAMPLE + """
keyed_groups:
  - key: kernel_tuning_workload | default('none')
    prefix: workload
  - key: base_cluster_name
    prefix: cluster
compose:
  bmc_address: ansible_host | regex_replace('^10\\.10\\.', '10.11.')
  rack: site_rack | upper
groups:
  upper_range: hpcai_host_index >= 102
  accounting: "'slurm_dbd' in group_names"
"""


def test_plugin_keyed_groups_and_compose(tmp_path):
    source = tmp_path / "hpc.cluster.yml"
    source.write_text(CONSTRUCTED)
    rc, out, err = run("ansible-inventory", "--list", "-i", str(source), ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    assert rc == 0, err
    data = plain(json.loads(out))
    hostvars = data["_meta"]["hostvars"]
    assert data["workload_hpc"]["hosts"] == ["cpu001", "cpu002", "cpu003", "cpu004"]
    assert data["workload_none"]["hosts"] == ["head01"]
    # group vars of "all" are visible to keyed_groups
    assert sorted(data["cluster_hpc1"]["hosts"]) == ["cpu001", "cpu002", "cpu003", "cpu004", "head01"]
    assert data["upper_range"]["hosts"] == ["cpu003", "cpu004"]
    assert data["accounting"]["hosts"] == ["head01"]
    assert data["hw_epyc9654"]["hosts"] == ["cpu001", "cpu002", "cpu003", "cpu004"]
    assert data["slurm_compute"]["hosts"] == ["cpu001", "cpu002", "cpu003", "cpu004"]
    assert hostvars["cpu003"]["bmc_address"] == "10.11.9.3"
    assert hostvars["cpu003"]["rack"] == "R9"
    assert hostvars["head01"]["bmc_address"] == "10.11.0.10"
    assert hostvars["cpu002"]["ansible_host"] == "10.10.0.111"
    assert hostvars["cpu002"]["fabric_host_index"] == 101
    assert hostvars["cpu003"]["fabric_addresses"] == {"ib": "10.20.9.3"}
    # --list folds the group variables into every host
    assert hostvars["head01"]["fabric_networks"] == [
        {"name": "ib", "kind": "ipoib", "cidr": "10.20.0.0/16", "offset": 10, "mtu": 2044}]


def test_plugin_reports_every_problem(tmp_path):
    source = tmp_path / "bad.cluster.yml"
    source.write_text(EXAMPLE.replace("cpu[001-004]", "cpu[001-004").replace("login]", "logon]"))
    rc, out, err = run("ansible-inventory", "--list", "-i", str(source), ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    assert rc != 0
    assert "%s: 2 problems:" % source in err
    assert "nodes[0].roles[3] 'logon': unknown role" in err
    assert "nodes[1].hosts: unclosed '[' in 'cpu[001-004'" in err


def test_plugin_only_takes_cluster_files(tmp_path):
    source = tmp_path / "hpc.yml"
    source.write_text(EXAMPLE)
    rc, out, err = run("ansible-inventory", "--list", "-i", str(source), ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    assert rc != 0
    assert "could not be verified by inventory plugin 'hpcai.cluster.cluster'" in err


TEMPLATE_GRAPH = """\
@all:
  |--@ungrouped:
  |--@slurm_controller:
  |  |--head01
  |--@slurm_dbd:
  |  |--head01
  |--@nfs_server:
  |  |--head01
  |--@fabric_sm:
  |  |--head01
  |--@login:
  |  |--login01
  |--@x_storage:
  |  |--stor01
  |--@slurm_compute:
  |  |--cpu001
  |  |--cpu002
  |  |--cpu003
  |  |--cpu004
  |  |--gpu01
  |  |--gpu02
  |--@hw_epyc9654:
  |  |--cpu001
  |  |--cpu002
  |  |--cpu003
  |  |--cpu004
  |--@hw_h100x8:
  |  |--gpu01
  |  |--gpu02
"""


def test_template_graph():
    rc, out, err = run("ansible-inventory", "-i", "inventories/template", "--graph",
                       ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    assert rc == 0, err
    assert out == TEMPLATE_GRAPH


def test_template_host_vars_with_group_vars():
    rc, out, err = run("ansible-inventory", "-i", "inventories/template", "--host", "gpu02",
                       ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    assert rc == 0, err
    hostvars = json.loads(out)
    assert hostvars["ansible_host"] == "10.10.0.211"
    assert hostvars["fabric_host_index"] == 201
    assert hostvars["gpu_stack"] == "nvidia"  # the class wins over group_vars/all.yml (gpu_stack: auto)
    assert hostvars["kernel_tuning_partition"]["policy"] == "per_l3"  # group_vars/all.yml applies
    assert hostvars["slurm_node_overrides"] == {"RealMemory": 1500000}
    assert hostvars["base_cluster_name"] == "hpc1"


def test_ansible_doc():
    rc, out, err = run("ansible-doc", "-t", "inventory", "hpcai.cluster.cluster")
    assert rc == 0, err
    for option in ("cluster", "networks", "hardware", "nodes", "hosts", "keyed_groups", "compose"):
        assert option in out
