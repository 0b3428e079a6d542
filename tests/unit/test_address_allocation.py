"""Per-host address allocation: cluster_network.allocate_addresses / host_address /
with_prefix (plugins/module_utils/cluster_network.py) and the hpcai.cluster.allocate_addresses
and hpcai.cluster.host_address filters (plugins/filter/network.py).

address = first address of the network + offset + index (explicit index, else list position).
Expected addresses below are written by hand, not computed with netaddr.
"""
from __future__ import annotations

import inspect
import pathlib

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.hpcai.cluster.plugins.filter import network as flt
from ansible_collections.hpcai.cluster.plugins.module_utils import cluster_network as cn
from render_helpers import evaluate

FILTER_DIR = pathlib.Path(__file__).resolve().parents[2] / "plugins" / "filter"
VAR = "fabric_ipoib_network"


def alloc(network, hosts, **kwargs):
    return cn.allocate_addresses(network, hosts, **kwargs)


def alloc_error(network, hosts, **kwargs):
    with pytest.raises(cn.AllocationError) as err:
        cn.allocate_addresses(network, hosts, **kwargs)
    return str(err.value)


# ---------------------------------------------------------------- good allocations
def test_ipv4_positions_from_offset_1():
    assert alloc("10.20.0.0/24", ["node1", "node2", "node3"]) == {
        "node1": "10.20.0.1", "node2": "10.20.0.2", "node3": "10.20.0.3"}


def test_result_keeps_host_order():
    assert list(alloc("10.20.0.0/24", ["c", "a", "b"])) == ["c", "a", "b"]


def test_ipv4_offset_and_octet_carry():
    assert alloc("10.20.0.0/24", ["a", "b"], offset=11) == {"a": "10.20.0.11", "b": "10.20.0.12"}
    hosts = ["n%03d" % i for i in range(300)]
    got = alloc("10.20.0.0/16", hosts)
    assert got["n000"] == "10.20.0.1"
    assert got["n254"] == "10.20.0.255"       # inside a /16 .255 is an ordinary host address
    assert got["n255"] == "10.20.1.0"
    assert got["n299"] == "10.20.1.44"
    assert len(set(got.values())) == 300


def test_ipv4_network_not_at_a_round_address():
    assert alloc("192.168.1.128/25", ["a", "b"], offset=10) == {"a": "192.168.1.138", "b": "192.168.1.139"}


def test_ipv4_last_usable_address_fits():
    hosts = ["n%d" % i for i in range(14)]
    got = alloc("10.20.0.0/28", hosts)
    assert got["n0"] == "10.20.0.1" and got["n13"] == "10.20.0.14"
    assert alloc("10.20.0.0/24", ["a", "b", "c", "d", "e"], offset=250)["e"] == "10.20.0.254"
    assert alloc("10.20.0.0/30", ["a", "b"]) == {"a": "10.20.0.1", "b": "10.20.0.2"}


def test_ipv6_positions_and_offset():
    assert alloc("fd00:20::/64", ["gpu1", "gpu2"]) == {"gpu1": "fd00:20::1", "gpu2": "fd00:20::2"}
    assert alloc("fd00:20::/64", ["a", "b"], offset=255) == {"a": "fd00:20::ff", "b": "fd00:20::100"}
    assert alloc("FD00:20::/64", ["a"]) == {"a": "fd00:20::1"}   # canonical spelling out


def test_ipv6_the_last_address_is_usable():
    # no broadcast in IPv6: a /126 has ::1, ::2, ::3 (::0 is the subnet-router anycast address)
    assert alloc("fd00:20::/126", ["a", "b", "c"]) == {"a": "fd00:20::1", "b": "fd00:20::2", "c": "fd00:20::3"}


def test_explicit_indexes_list_of_dicts_dict_and_mixed():
    assert alloc("10.20.0.0/24", [{"name": "a", "index": 10}, {"name": "b", "index": 0}]) == {
        "a": "10.20.0.11", "b": "10.20.0.1"}
    assert alloc("10.20.0.0/24", {"node7": 6, "node2": 1}) == {"node7": "10.20.0.7", "node2": "10.20.0.2"}
    # names and dicts mixed; a dict without index takes its list position; gaps are fine
    assert alloc("10.20.0.0/24", ["a", {"name": "b"}, {"name": "c", "index": 20}, "d"]) == {
        "a": "10.20.0.1", "b": "10.20.0.2", "c": "10.20.0.21", "d": "10.20.0.4"}
    # index as a string of digits (templating without native types)
    assert alloc("10.20.0.0/24", {"a": "5"}) == {"a": "10.20.0.6"}
    assert alloc("fd00:20::/64", {"gpu1": 0, "gpu9": 8}, offset=256) == {"gpu1": "fd00:20::100", "gpu9": "fd00:20::108"}


def test_no_hosts():
    assert alloc("10.20.0.0/24", []) == {}
    assert alloc("10.20.0.0/24", {}) == {}


def test_adding_a_host_moves_nobody():
    before = alloc("10.20.0.0/24", ["a", "b"])
    after = alloc("10.20.0.0/24", ["a", "b", "c"])
    assert {k: after[k] for k in before} == before


# ---------------------------------------------------------------- /31 /32 /127 /128
def test_slash_31_both_addresses_usable():
    assert alloc("10.20.0.0/31", ["a", "b"], offset=0) == {"a": "10.20.0.0", "b": "10.20.0.1"}
    assert alloc("10.20.0.0/31", ["a"]) == {"a": "10.20.0.1"}
    assert alloc_error("10.20.0.0/31", ["a", "b"]) == (
        "network 10.20.0.0/31 has 1 usable address from offset 1: 2 hosts do not fit (need a /30 or larger)")


def test_slash_32_the_one_address():
    assert alloc("10.20.0.5/32", ["a"], offset=0) == {"a": "10.20.0.5"}
    assert alloc_error("10.20.0.5/32", ["a"]) == (
        "network 10.20.0.5/32: offset 1 is outside its usable addresses; offset 0 is the only one allowed (10.20.0.5)")
    assert alloc_error("10.20.0.5/32", ["a", "b"], offset=0) == (
        "network 10.20.0.5/32 has 1 usable address from offset 0: 2 hosts do not fit (need a /31 or larger)")


def test_ipv6_slash_127_and_128():
    assert alloc("fd00:20::/127", ["a", "b"], offset=0) == {"a": "fd00:20::", "b": "fd00:20::1"}
    assert alloc("fd00:20::5/128", ["a"], offset=0) == {"a": "fd00:20::5"}
    assert "offset 0 is the only one allowed (fd00:20::5)" in alloc_error("fd00:20::5/128", ["a"])


def test_offset_0_would_hit_the_network_or_anycast_address():
    assert alloc_error("10.20.0.0/24", ["a"], offset=0) == (
        "network 10.20.0.0/24: offset 0 is outside its usable addresses; offsets 1-254 are allowed "
        "(10.20.0.1-10.20.0.254)")
    assert "offsets 1-3 are allowed (fd00:20::1-fd00:20::3)" in alloc_error("fd00:20::/126", ["a"], offset=0)


# ---------------------------------------------------------------- bad networks
@pytest.mark.parametrize("network,message", [
    ("10.20.0.5/16", "fabric_ipoib_network 10.20.0.5/16 has host bits set; did you mean 10.20.0.0/16?"),
    ("fd00:20::1/64", "fabric_ipoib_network fd00:20::1/64 has host bits set; did you mean fd00:20::/64?"),
    ("garbage", "fabric_ipoib_network 'garbage' is not an IPv4/IPv6 network in CIDR form "
                "(e.g. 10.10.0.0/16 or fd00:10::/64)"),
    ("10.20.0.0/33", "fabric_ipoib_network '10.20.0.0/33' is not an IPv4/IPv6 network in CIDR form "
                     "(e.g. 10.10.0.0/16 or fd00:10::/64): an IPv4 prefix length is 0-32"),
    ("fd00::/129", "fabric_ipoib_network 'fd00::/129' is not an IPv4/IPv6 network in CIDR form "
                   "(e.g. 10.10.0.0/16 or fd00:10::/64): an IPv6 prefix length is 0-128"),
])
def test_bad_network_messages(network, message):
    assert alloc_error(network, ["a"], varname=VAR) == message


@pytest.mark.parametrize("network", ["10.20.0.0", "10.20/16", "10.20.0.0/016", "010.20.0.0/16", "10.20.0.0/255.255.0.0",
                                     " 10.20.0.0/16", "", None, 42, ["10.20.0.0/16"]])
def test_bad_network_forms(network):
    message = alloc_error(network, ["a"])
    assert message.startswith("network ")
    assert "is not an IPv4/IPv6 network in CIDR form" in message or "is not a string" in message


# ---------------------------------------------------------------- hosts that do not fit
def test_too_many_hosts_names_the_smallest_fitting_prefix():
    hosts = ["n%d" % i for i in range(20)]
    assert alloc_error("10.20.0.0/28", hosts) == (
        "network 10.20.0.0/28 has 14 usable addresses from offset 1: 20 hosts do not fit (need a /27 or larger)")
    assert alloc_error("10.20.0.0/28", hosts[:15]) == (
        "network 10.20.0.0/28 has 14 usable addresses from offset 1: 15 hosts do not fit (need a /27 or larger)")
    # 254 usable addresses in a /24: 255 hosts need a /23
    assert "255 hosts do not fit (need a /23 or larger)" in alloc_error(
        "10.20.0.0/24", ["n%d" % i for i in range(255)], varname=VAR)


def test_offset_counts_against_the_space():
    # offsets 250-254 are 5 addresses; the 6th host needs offset 255 = broadcast of the /24
    assert alloc_error("10.20.0.0/24", list("abcdef"), offset=250) == (
        "network 10.20.0.0/24 has 5 usable addresses from offset 250: 6 hosts do not fit (need a /23 or larger)")


def test_explicit_index_past_the_end():
    assert alloc_error("10.20.0.0/28", {"a": 0, "b": 40}) == (
        "network 10.20.0.0/28 has 14 usable addresses from offset 1: index 40 of host b does not fit "
        "(indexes 0-13 do; need a /26 or larger)")


def test_ipv6_too_many_hosts():
    assert alloc_error("fd00:20::/126", list("abcd")) == (
        "network fd00:20::/126 has 3 usable addresses from offset 1: 4 hosts do not fit (need a /125 or larger)")


def test_no_network_is_large_enough():
    assert alloc_error("0.0.0.0/0", {"a": 2 ** 32}).endswith("(indexes 0-4294967293 do; no IPv4 network is large enough)")


# ---------------------------------------------------------------- offset and index values
@pytest.mark.parametrize("offset,reason", [
    (-1, "offset must be 0 or more, got -1"),
    ("-3", "offset must be 0 or more, got -3"),
    ("x", "offset must be an integer 0 or more, got 'x'"),
    (1.5, "offset must be an integer 0 or more, got 1.5"),
    (2.0, "offset must be an integer 0 or more, got 2.0"),
    (True, "offset must be an integer 0 or more, got True"),
    (None, "offset must be an integer 0 or more, got None"),
    (255, "offset 255 is outside its usable addresses; offsets 1-254 are allowed (10.20.0.1-10.20.0.254)"),
])
def test_bad_offsets(offset, reason):
    assert alloc_error("10.20.0.0/24", ["a"], offset=offset, varname=VAR) == "%s 10.20.0.0/24: %s" % (VAR, reason)


def test_offset_as_digit_string():
    assert alloc("10.20.0.0/24", ["a"], offset="100") == {"a": "10.20.0.100"}


@pytest.mark.parametrize("index,reason", [
    (-1, "must be 0 or more, got -1"),
    ("one", "must be an integer 0 or more, got 'one'"),
    (1.0, "must be an integer 0 or more, got 1.0"),
    (False, "must be an integer 0 or more, got False"),
    ([1], "must be an integer 0 or more, got [1]"),
])
def test_bad_indexes(index, reason):
    assert alloc_error("10.20.0.0/24", [{"name": "a", "index": index}]) == (
        "network 10.20.0.0/24: index of host a %s" % reason)
    assert alloc_error("10.20.0.0/24", {"a": index}) == "network 10.20.0.0/24: index of host a %s" % reason


# ---------------------------------------------------------------- hosts list problems
def test_duplicate_host_names():
    assert alloc_error("10.20.0.0/24", ["a", "b", "a"]) == "network 10.20.0.0/24: host a is listed twice (hosts[0] and hosts[2])"
    assert "host a is listed twice (hosts[0] and hosts[1])" in alloc_error("10.20.0.0/24", ["a", {"name": "a", "index": 9}])


def test_duplicate_indexes_name_both_hosts():
    assert alloc_error("10.20.0.0/24", [{"name": "a", "index": 3}, {"name": "b", "index": 3}]) == (
        "network 10.20.0.0/24: hosts a and b both have index 3")
    # an explicit index taking another host's list position
    assert alloc_error("10.20.0.0/24", ["a", "b", {"name": "c", "index": 1}]) == (
        "network 10.20.0.0/24: hosts b and c both have index 1")


@pytest.mark.parametrize("hosts,needle", [
    ("node1", "hosts must be a list of host names or {name, index} dicts, or a dict {name: index}, got 'node1'"),
    (None, "hosts must be a list of host names or {name, index} dicts, or a dict {name: index}, got None"),
    (5, "hosts must be a list"),
    ({"a", "b"}, "hosts must be a list"),                     # a set has no order
    (["a", 5], "hosts[1] must be a host name or a {name, index} dict, got 5"),
    (["a", ["b"]], "hosts[1] must be a host name or a {name, index} dict, got ['b']"),
    (["a", ""], "hosts[1] has no host name (got '')"),
    ([{"index": 2}], "hosts[0] has no host name (got None)"),
    ([{"name": "a", "idx": 2}], "hosts[0] has unknown key(s) idx (allowed: name, index)"),
    ({1: 2}, "hosts[1] has no host name (got 1)"),
])
def test_bad_hosts(hosts, needle):
    assert needle in alloc_error("10.20.0.0/24", hosts)


def test_every_hosts_problem_is_listed():
    with pytest.raises(cn.AllocationError) as err:
        alloc("10.20.0.0/24", ["a", "a", {"name": "b", "index": -1}, 7])
    assert isinstance(err.value, ValueError)
    assert err.value.errors == [
        "network 10.20.0.0/24: hosts[3] must be a host name or a {name, index} dict, got 7",
        "network 10.20.0.0/24: host a is listed twice (hosts[0] and hosts[1])",
        "network 10.20.0.0/24: index of host b must be 0 or more, got -1",
    ]
    assert str(err.value) == "; ".join(err.value.errors)


def test_long_error_lists_are_cut_in_the_message():
    with pytest.raises(cn.AllocationError) as err:
        alloc("10.20.0.0/24", ["a"] * 26)
    assert len(err.value.errors) == 25
    assert str(err.value).count("listed twice") == 20
    assert str(err.value).endswith("; ... and 5 more")


# ---------------------------------------------------------------- overrides
def test_override_replaces_one_address_and_moves_nobody():
    got = alloc("10.20.0.0/24", ["a", "b", "c"], overrides={"b": "10.20.0.200"})
    assert got == {"a": "10.20.0.1", "b": "10.20.0.200", "c": "10.20.0.3"}


def test_override_of_a_host_past_the_end_fits():
    # from offset 2 a /28 has 13 addresses; the 14th host gets an override, so nothing is computed past .14
    hosts = ["n%d" % i for i in range(14)]
    got = alloc("10.20.0.0/28", hosts, offset=2, overrides={"n13": "10.20.0.1"})
    assert (got["n0"], got["n12"], got["n13"]) == ("10.20.0.2", "10.20.0.14", "10.20.0.1")
    assert "14 hosts do not fit" in alloc_error("10.20.0.0/28", hosts, offset=2)


def test_empty_overrides_mean_computed():
    assert alloc("10.20.0.0/24", ["a", "b"], overrides={"a": "", "b": None, "zz": ""}) == {
        "a": "10.20.0.1", "b": "10.20.0.2"}


def test_ipv6_override_canonical():
    assert alloc("fd00:20::/64", ["a", "b"], overrides={"b": "FD00:20:0::99"}) == {"a": "fd00:20::1", "b": "fd00:20::99"}


@pytest.mark.parametrize("address,reason", [
    ("10.30.0.5", "is outside the network (usable: 10.20.0.1-10.20.0.254)"),
    ("10.20.0.0", "is the network address (usable: 10.20.0.1-10.20.0.254)"),
    ("10.20.0.255", "is the broadcast address (usable: 10.20.0.1-10.20.0.254)"),
    ("fd00:20::5", "is outside the network (usable: 10.20.0.1-10.20.0.254)"),
])
def test_override_outside_or_unusable(address, reason):
    assert alloc_error("10.20.0.0/24", ["a", "b"], overrides={"b": address}, varname=VAR) == (
        "%s 10.20.0.0/24: override %s for host b %s" % (VAR, address, reason))


def test_override_ipv6_anycast_address():
    assert "override fd00:20:: for host a is the subnet-router anycast address (usable: fd00:20::1-" in alloc_error(
        "fd00:20::/64", ["a"], overrides={"a": "fd00:20::"})


@pytest.mark.parametrize("address", ["10.20.0.5/24", "node1", "10.20.5", 167772165])
def test_override_not_an_address(address):
    assert "is not an IP address (write it without a prefix, e.g. 10.20.0.1)" in alloc_error(
        "10.20.0.0/24", ["a"], overrides={"a": address})


def test_override_for_an_unknown_host():
    assert alloc_error("10.20.0.0/24", ["a"], overrides={"ghost": "10.20.0.9"}) == (
        "network 10.20.0.0/24: override '10.20.0.9' for host 'ghost', which is not in hosts")


def test_override_colliding_with_another_override():
    assert alloc_error("10.20.0.0/24", ["a", "b", "c"], overrides={"a": "10.20.0.100", "c": "10.20.0.100"}) == (
        "network 10.20.0.0/24: hosts a and c both have override 10.20.0.100")


def test_override_colliding_with_a_computed_address():
    assert alloc_error("10.20.0.0/24", ["a", "b", "c"], overrides={"a": "10.20.0.3"}) == (
        "network 10.20.0.0/24: host c (index 2) would get 10.20.0.3, the override of host a; "
        "give one of them another address")
    # spelled differently, same address
    assert "the override of host a" in alloc_error("fd00:20::/64", ["a", "b"], overrides={"a": "fd00:20:0:0::2"})


def test_overrides_must_be_a_dict():
    assert alloc_error("10.20.0.0/24", ["a"], overrides=["10.20.0.9"]) == (
        "network 10.20.0.0/24: overrides must be a dict {host: address}, got ['10.20.0.9']")


# ---------------------------------------------------------------- reserved
def test_reserved_not_hit():
    assert alloc("10.20.0.0/24", ["a", "b"], offset=10, reserved=["10.20.0.1", "10.20.0.250-10.20.0.254"]) == {
        "a": "10.20.0.10", "b": "10.20.0.11"}


def test_reserved_collision_names_the_host_and_never_shifts():
    assert alloc_error("10.20.0.0/24", ["a", "b", "c"], reserved=["10.20.0.250-10.20.0.254", "10.20.0.2"]) == (
        "network 10.20.0.0/24: host b (index 1) would get 10.20.0.2, which is reserved (reserved[1] '10.20.0.2'); "
        "change its index or the offset, or give it an override")
    message = alloc_error("10.20.0.0/24", list("abcd"), reserved=["10.20.0.2 - 10.20.0.3"])
    assert "host b (index 1) would get 10.20.0.2, which is reserved (reserved[0] '10.20.0.2 - 10.20.0.3')" in message
    assert "host c (index 2) would get 10.20.0.3" in message
    assert "host d" not in message


def test_reserved_ipv6():
    assert "host a (index 0) would get fd00:20::1, which is reserved" in alloc_error(
        "fd00:20::/64", ["a"], reserved=["fd00:20::1-fd00:20::ff"])


def test_override_may_point_into_a_reserved_range():
    assert alloc("10.20.0.0/24", ["head", "n1"], offset=10, overrides={"head": "10.20.0.1"}, reserved=["10.20.0.1-10.20.0.9"]) == {
        "head": "10.20.0.1", "n1": "10.20.0.11"}


@pytest.mark.parametrize("entry,reason", [
    ("10.30.0.1", "is outside the network (10.20.0.0-10.20.0.255)"),
    ("10.20.0.250-10.20.1.3", "is outside the network (10.20.0.0-10.20.0.255)"),
    ("fd00::1", "is outside the network (10.20.0.0-10.20.0.255)"),
    ("10.20.0.9-10.20.0.3", "ends before it starts"),
    ("10.20.0.1-fd00::1", "ends before it starts"),
    ("10.20.0.1-10.20.0.2-10.20.0.3", "is not an address or a range first-last"),
    ("10.20.0.0/28", "is not an address or a range first-last"),
    ("10.20.0.1-", "is not an address or a range first-last"),
    ("", "is not an address or a range first-last"),
])
def test_bad_reserved_entries(entry, reason):
    assert alloc_error("10.20.0.0/24", ["a"], reserved=["10.20.0.254", entry]).startswith(
        "network 10.20.0.0/24: reserved[1] '%s' %s" % (entry, reason))


def test_reserved_must_be_a_list():
    assert "reserved must be a list, each entry an address or a range first-last" in alloc_error(
        "10.20.0.0/24", ["a"], reserved="10.20.0.1")
    assert "reserved[0] 5 is not an address" in alloc_error("10.20.0.0/24", ["a"], reserved=[5])


def test_problems_of_every_kind_are_listed_together():
    with pytest.raises(cn.AllocationError) as err:
        alloc("10.20.0.0/28", ["n%d" % i for i in range(16)], overrides={"ghost": "10.20.0.9"},
              reserved=["10.20.0.3", "10.99.0.1"])
    assert err.value.errors == [
        "network 10.20.0.0/28: override '10.20.0.9' for host 'ghost', which is not in hosts",
        "network 10.20.0.0/28: reserved[1] '10.99.0.1' is outside the network (10.20.0.0-10.20.0.15)",
        "network 10.20.0.0/28 has 14 usable addresses from offset 1: 16 hosts do not fit (need a /27 or larger)",
        "network 10.20.0.0/28: host n2 (index 2) would get 10.20.0.3, which is reserved (reserved[0] '10.20.0.3'); "
        "change its index or the offset, or give it an override",
    ]


# ---------------------------------------------------------------- host_address / with_prefix
def test_host_address():
    assert cn.host_address("10.20.0.0/16", 0) == "10.20.0.1"
    assert cn.host_address("10.20.0.0/16", 300) == "10.20.1.45"
    assert cn.host_address("10.20.0.0/16", "4", offset=10) == "10.20.0.14"
    assert cn.host_address("fd00:20::/64", 9, offset=0x100) == "fd00:20::109"
    assert cn.host_address("10.20.0.0/31", 1, offset=0) == "10.20.0.1"
    assert cn.host_address("10.20.0.0/28", 13) == "10.20.0.14"


def test_host_address_errors():
    with pytest.raises(cn.AllocationError) as err:
        cn.host_address("10.20.0.0/28", 20, varname=VAR)
    assert str(err.value) == ("fabric_ipoib_network 10.20.0.0/28 has 14 usable addresses from offset 1: index 20 "
                              "does not fit (indexes 0-13 do; need a /27 or larger)")
    with pytest.raises(cn.AllocationError, match=r"^network 10.20.0.0/28: index must be 0 or more, got -1$"):
        cn.host_address("10.20.0.0/28", -1)
    with pytest.raises(cn.AllocationError, match=r"did you mean 10.20.0.0/28\?"):
        cn.host_address("10.20.0.1/28", 0)
    with pytest.raises(cn.AllocationError, match="offset 0 is outside"):
        cn.host_address("10.20.0.0/28", 0, offset=0)


def test_with_prefix():
    assert cn.with_prefix("10.20.0.5", "10.20.0.0/16") == "10.20.0.5/16"
    assert cn.with_prefix("FD00:20::5", "fd00:20::/64") == "fd00:20::5/64"
    assert cn.with_prefix("10.20.0.5", "10.20.0.5/32") == "10.20.0.5/32"
    with pytest.raises(cn.AllocationError, match=r"^fabric_ipoib_network 10.20.0.0/16: 10.21.0.5 is outside the network$"):
        cn.with_prefix("10.21.0.5", "10.20.0.0/16", varname=VAR)
    with pytest.raises(cn.AllocationError, match="fd00:20::5 is outside the network"):
        cn.with_prefix("fd00:20::5", "10.20.0.0/16")
    with pytest.raises(cn.AllocationError, match="'10.20.0.5/16' is not an IP address"):
        cn.with_prefix("10.20.0.5/16", "10.20.0.0/16")
    with pytest.raises(cn.AllocationError, match="has host bits set"):
        cn.with_prefix("10.20.0.5", "10.20.0.5/16")


def test_all_lists_the_new_functions():
    for name in ("AllocationError", "allocate_addresses", "host_address", "with_prefix"):
        assert name in cn.__all__ and hasattr(cn, name)


# ---------------------------------------------------------------- the filters
def test_filters_are_exposed():
    filters = flt.FilterModule().filters()
    assert filters["allocate_addresses"] is flt.allocate_addresses
    assert filters["host_address"] is flt.host_address


def test_filter_allocate_addresses():
    assert flt.allocate_addresses("10.20.0.0/24", ["a", "b"], offset=5, overrides={"b": "10.20.0.99"}) == {
        "a": "10.20.0.5", "b": "10.20.0.99"}


def test_filter_errors_name_filter_and_variable():
    with pytest.raises(AnsibleFilterError) as err:
        flt.allocate_addresses("10.20.0.0/28", ["n%d" % i for i in range(20)], varname=VAR)
    assert str(err.value) == (
        "hpcai.cluster.allocate_addresses (addresses in fabric_ipoib_network): fabric_ipoib_network 10.20.0.0/28 has "
        "14 usable addresses from offset 1: 20 hosts do not fit (need a /27 or larger)")
    with pytest.raises(AnsibleFilterError) as err:
        flt.allocate_addresses("10.20.0.5/16", ["a"], varname=VAR)
    assert str(err.value) == ("hpcai.cluster.allocate_addresses (addresses in fabric_ipoib_network): "
                              "fabric_ipoib_network 10.20.0.5/16 has host bits set; did you mean 10.20.0.0/16?")
    with pytest.raises(AnsibleFilterError) as err:
        flt.host_address("10.20.0.0/28", 20, varname="fabric_roce_network")
    assert str(err.value).startswith("hpcai.cluster.host_address (index 20 in fabric_roce_network): "
                                     "fabric_roce_network 10.20.0.0/28 has 14 usable addresses")


@pytest.fixture()
def no_netaddr(monkeypatch):
    monkeypatch.setattr(cn, "netaddr", None)
    monkeypatch.setattr(cn, "NETADDR_IMPORT_ERROR", ImportError("No module named 'netaddr'"))


def test_filters_without_netaddr(no_netaddr):
    with pytest.raises(AnsibleFilterError) as err:
        flt.allocate_addresses("10.20.0.0/24", ["a"], varname=VAR)
    assert str(err.value).startswith("hpcai.cluster.allocate_addresses (addresses in fabric_ipoib_network): "
                                     "the Python library netaddr is not installed")
    with pytest.raises(AnsibleFilterError, match=r"hpcai.cluster.host_address \(index 0 in network\): .*pip install netaddr"):
        flt.host_address("10.20.0.0/24", 0)


def test_fqcn_filters_in_templates():
    variables = {"groups": {"compute": ["node1", "node2", "node3"]}, "fabric_ipoib_network": "10.20.0.0/24",
                 "fabric_overrides": {"node2": "10.20.0.200"}}
    assert evaluate("{{ fabric_ipoib_network | hpcai.cluster.allocate_addresses(groups['compute'], offset=11, "
                    "overrides=fabric_overrides, reserved=['10.20.0.250-10.20.0.254'], "
                    "varname='fabric_ipoib_network') }}", variables) == {
        "node1": "10.20.0.11", "node2": "10.20.0.200", "node3": "10.20.0.13"}
    assert evaluate("{{ fabric_ipoib_network | hpcai.cluster.host_address(groups['compute'].index('node3')) }}",
                    variables) == "10.20.0.3"
    with pytest.raises(AnsibleFilterError, match="hosts node1 and node3 both have index 0"):
        evaluate("{{ '10.20.0.0/24' | hpcai.cluster.allocate_addresses({'node1': 0, 'node3': 0}) }}", {})


# ---------------------------------------------------------------- the .yml docs match the filters
@pytest.mark.parametrize("name", ["allocate_addresses", "host_address"])
def test_filter_docs_match_the_signatures(name):
    doc = yaml.safe_load((FILTER_DIR / ("%s.yml" % name)).read_text(encoding="utf-8"))
    assert doc["DOCUMENTATION"]["name"] == name
    options = doc["DOCUMENTATION"]["options"]
    params = inspect.signature(getattr(flt, name)).parameters
    assert list(options) == ["_input"] + list(params)[1:]
    for param in list(params)[1:]:
        default = params[param].default
        if default is inspect.Parameter.empty:
            assert options[param].get("required") is True, param
        elif default is not None:
            assert options[param]["default"] == default, param
    assert "_value" in doc["RETURN"]
