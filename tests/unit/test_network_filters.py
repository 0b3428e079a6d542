"""hpcai.cluster network filters (plugins/filter/network.py) and their logic
(plugins/module_utils/cluster_network.py), plus the base role variables built
on them (__base_host_addresses, __base_cluster_address_in_networks, ...).

The role's vars call the filters by FQCN; tests/conftest.py installs ansible's
collection loader so the Templar resolves them as ansible-playbook does.
"""
from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.hpcai.cluster.plugins.filter import network as flt
from ansible_collections.hpcai.cluster.plugins.module_utils import cluster_network as cn
from render_helpers import HOSTS, ROLES_DIR, evaluate, host_facts, render, role_variables

VAR = "base_cluster_networks"


# ---------------------------------------------------------------- CIDR checks
@pytest.mark.parametrize("network,version", [
    ("10.10.0.0/16", 4),
    ("0.0.0.0/0", 4),
    ("192.168.1.128/25", 4),
    ("10.10.1.2/32", 4),
    ("fd00:10::/64", 6),
    ("FD00:10::/64", 6),
    ("::/0", 6),
    ("2001:db8::1/128", 6),
    ("::ffff:10.0.0.0/120", 6),
])
def test_valid_networks(network, version):
    net, reason = cn.parse_network(network)
    assert reason is None and net.version == version
    assert cn.network_errors([network], VAR) == []


@pytest.mark.parametrize("network,needle", [
    ("10.0.0.1/33", "an IPv4 prefix length is 0-32"),
    ("fd00::/129", "an IPv6 prefix length is 0-128"),
    ("300.1.0.0/16", "is not an IPv4/IPv6 network in CIDR form"),
    ("10.0.0.0", "is not an IPv4/IPv6 network in CIDR form"),           # no prefix
    ("10/8", "is not an IPv4/IPv6 network in CIDR form"),                # netaddr shorthand
    ("010.0.0.0/8", "is not an IPv4/IPv6 network in CIDR form"),         # leading zero
    ("10.0.0.0/08", "is not an IPv4/IPv6 network in CIDR form"),         # netaddr accepts it
    ("10.0.0.0/255.0.0.0", "is not an IPv4/IPv6 network in CIDR form"),  # netmask, netaddr accepts it
    ("10.0.0.0/ 8", "is not an IPv4/IPv6 network in CIDR form"),
    (" 10.0.0.0/8", "is not an IPv4/IPv6 network in CIDR form"),
    ("10.0.0.0/8/8", "is not an IPv4/IPv6 network in CIDR form"),
    ("fd00:::/64", "is not an IPv4/IPv6 network in CIDR form"),          # the old regex let this through
    ("fe80::%eth0/64", "is not an IPv4/IPv6 network in CIDR form"),
    ("", "is not an IPv4/IPv6 network in CIDR form"),
    ("10.0.0.1/8", "has host bits set (the network is 10.0.0.0/8)"),
    ("192.168.1.129/25", "has host bits set (the network is 192.168.1.128/25)"),
    ("fd00::1/64", "has host bits set (the network is fd00::/64)"),       # IPv6 host bits: new check
])
def test_invalid_networks_are_named(network, needle):
    assert cn.parse_network(network)[0] is None
    errors = cn.network_errors(["10.10.0.0/16", network], VAR)
    assert len(errors) == 1
    assert errors[0].startswith("%s[1] '%s' " % (VAR, network))
    assert needle in errors[0]


def test_network_errors_lists_every_bad_entry():
    errors = cn.network_errors(["10.0.0.1/8", "10.10.0.0/16", "10.0.0.1/33", 42], VAR)
    assert [e.split(" ")[0] for e in errors] == ["%s[0]" % VAR, "%s[2]" % VAR, "%s[3]" % VAR]
    assert "is not a string" in errors[2]
    assert errors[1] == ("base_cluster_networks[2] '10.0.0.1/33' is not an IPv4/IPv6 network in CIDR form "
                         "(e.g. 10.10.0.0/16 or fd00:10::/64): an IPv4 prefix length is 0-32")


@pytest.mark.parametrize("value", ["10.10.0.0/16", None, 5])
def test_network_errors_wants_a_list(value):
    (error,) = cn.network_errors(value, VAR)
    assert error.startswith("%s must be a list of networks in CIDR form" % VAR)


def test_networks_of_version_keeps_spelling_and_order_and_drops_invalid():
    nets = ["FD00:10::/64", "10.10.0.0/16", "bogus", "10.0.0.1/8", "192.168.0.0/24", "::/0"]
    assert cn.networks_of_version(nets, 4) == ["10.10.0.0/16", "192.168.0.0/24"]
    assert cn.networks_of_version(nets, "6") == ["FD00:10::/64", "::/0"]
    assert cn.networks_of_version([], 4) == []


@pytest.mark.parametrize("value,version", [
    ("10.0.0.1", 4), ("255.255.255.255", 4), ("fd00::1", 6), ("::ffff:10.0.0.1", 6), ("::", 6),
    ("10.1", 0), ("010.0.0.1", 0), ("256.0.0.1", 0), (" 10.0.0.1", 0), ("10.0.0.0/8", 0), ("fe80::1%eth0", 0),
    ("node1.example", 0), ("", 0), (None, 0), (167772161, 0),
])
def test_ip_version(value, version):
    assert cn.ip_version(value) == version


# ---------------------------------------------------------------- address in networks
def test_address_in_networks_returns_the_first_address_in_fact_order():
    # multi-homed host: eth0 outside, eth1 and ib0 inside the cluster networks
    addrs = ["192.0.2.10", "10.10.1.1", "10.20.0.5"]
    assert cn.address_in_networks(addrs, ["10.20.0.0/16", "10.10.0.0/16"]) == "10.10.1.1"
    assert cn.address_in_networks(addrs, ["10.20.0.0/16"]) == "10.20.0.5"
    assert cn.address_in_networks(addrs, ["172.16.0.0/12"]) == ""
    assert cn.address_in_networks(addrs, []) == ""
    assert cn.address_in_networks([], ["10.0.0.0/8"]) == ""


def test_address_in_networks_boundaries():
    assert cn.address_in_networks("192.168.1.128", ["192.168.1.128/25"]) == "192.168.1.128"
    assert cn.address_in_networks("192.168.1.255", ["192.168.1.128/25"]) == "192.168.1.255"
    assert cn.address_in_networks("192.168.1.127", ["192.168.1.128/25"]) == ""
    assert cn.address_in_networks("10.10.1.2", ["10.10.1.2/32"]) == "10.10.1.2"
    assert cn.address_in_networks("10.10.1.3", ["10.10.1.2/32"]) == ""
    assert cn.address_in_networks("8.8.8.8", ["0.0.0.0/0"]) == "8.8.8.8"


def test_address_in_networks_ipv6_and_mixed_versions():
    nets = ["10.10.0.0/16", "fd00:10::/64"]
    assert cn.address_in_networks(["fd00:20::1", "fd00:10::7"], nets) == "fd00:10::7"
    assert cn.address_in_networks(["fd00:10::7", "10.10.0.1"], ["10.10.0.0/16"]) == "10.10.0.1"
    # an IPv4 address is never "inside" an IPv6 network, IPv4-mapped or not
    assert cn.address_in_networks("10.0.0.1", ["::/0", "::ffff:0.0.0.0/96"]) == ""
    assert cn.address_in_networks("::ffff:10.0.0.1", ["10.0.0.0/8"]) == ""


def test_address_in_networks_ignores_junk():
    assert cn.address_in_networks(["node1", "", None, "10.0.0.1"], ["bogus", "10.0.0.1/8", "10.0.0.0/8"]) == "10.0.0.1"


# ---------------------------------------------------------------- cluster_address precedence
def _facts(**extra):
    """A host with eth0 (default route, 192.0.2.10), eth1 (10.10.1.1), ib0 (10.20.0.1)."""
    facts = {
        "default_ipv4": {"address": "192.0.2.10", "interface": "eth0"},
        "all_ipv4_addresses": ["192.0.2.10", "10.10.1.1", "10.20.0.1"],
        "eth0": {"device": "eth0", "ipv4": {"address": "192.0.2.10"}},
        "eth1": {"device": "eth1", "ipv4": {"address": "10.10.1.1"}},
        "ib0": {"device": "ib0", "ipv4": {"address": "10.20.0.1"},
                "ipv6": [{"address": "fd00:20::1", "prefix": "64"}]},
    }
    facts.update(extra)
    return facts


NETS = ["10.20.0.0/16", "10.10.0.0/16", "fd00:10::/64"]


def test_precedence_explicit_address_wins_as_given():
    assert cn.cluster_address(_facts(), address="10.99.0.1", interface="ib0", networks=NETS) == "10.99.0.1"
    assert cn.cluster_address(_facts(), address="fd00:10::5", interface="ib0", networks=NETS) == "fd00:10::5"
    # empty or null means "automatic"
    assert cn.cluster_address(_facts(), address=None, interface="ib0") == "10.20.0.1"


def test_precedence_interface_beats_networks_and_default():
    assert cn.cluster_address(_facts(), interface="ib0", networks=["10.10.0.0/16"]) == "10.20.0.1"
    assert cn.cluster_address(_facts(), interface="eth0", networks=NETS) == "192.0.2.10"


def test_precedence_interface_names_as_setup_spells_them():
    facts = _facts(br_ib={"device": "br-ib", "ipv4": {"address": "10.30.0.1"}},
                   eth0_1={"device": "eth0:1", "ipv4": {"address": "10.40.0.1"}})
    assert cn.cluster_address(facts, interface="br-ib") == "10.30.0.1"
    assert cn.cluster_address(facts, interface="eth0:1") == "10.40.0.1"
    assert cn.interface_fact_key("br-ib0:1") == "br_ib0_1"


def test_precedence_interface_without_ipv4_or_unknown_falls_through():
    facts = _facts(ib1={"device": "ib1", "ipv6": [{"address": "fd00:10::1"}]}, weird="not a dict")
    for iface in ("ib1", "nope", "weird", ""):
        # next step: the first address (fact order) inside a cluster network
        assert cn.cluster_address(facts, interface=iface, networks=NETS) == "10.10.1.1", iface


def test_precedence_first_address_inside_an_ipv4_network_in_fact_order():
    # fact order decides, not network order: 10.10.1.1 comes before 10.20.0.1
    assert cn.cluster_address(_facts(), networks=NETS) == "10.10.1.1"
    assert cn.cluster_address(_facts(), networks=["10.20.0.0/16"]) == "10.20.0.1"


def test_precedence_ipv6_networks_do_not_select_addresses():
    # only IPv4 addresses are picked from the networks; IPv6-only networks fall back to default_ipv4
    assert cn.cluster_address(_facts(), networks=["fd00:20::/64"]) == "192.0.2.10"


def test_precedence_default_ipv4_then_ansible_host():
    assert cn.cluster_address(_facts(), networks=["172.16.0.0/12"]) == "192.0.2.10"
    assert cn.cluster_address(_facts(default_ipv4={}), networks=["172.16.0.0/12"], ansible_host="10.5.5.5") == "10.5.5.5"
    assert cn.cluster_address({}, networks=NETS, ansible_host="10.5.5.5") == "10.5.5.5"


@pytest.mark.parametrize("ansible_host", ["node1.example", "fd00:10::5", "010.1.1.1", "", None])
def test_precedence_ansible_host_only_as_ipv4_literal(ansible_host):
    assert cn.cluster_address({}, networks=NETS, ansible_host=ansible_host) == ""


def test_cluster_address_tolerates_missing_facts():
    assert cn.cluster_address(None) == ""
    assert cn.cluster_address({"all_ipv4_addresses": None, "default_ipv4": "x"}, networks=NETS) == ""


# ---------------------------------------------------------------- the filter plugin
def test_filter_module_exposes_the_filters():
    names = set(flt.FilterModule().filters())
    assert names == {"cidr_errors", "networks_of_version", "ip_version", "address_in_networks", "cluster_address",
                     "allocate_addresses", "host_address"}


def test_filter_networks_of_version_checks_the_version():
    with pytest.raises(AnsibleFilterError, match="version must be 4 or 6"):
        flt.networks_of_version(["10.0.0.0/8"], 5)


@pytest.fixture()
def no_netaddr(monkeypatch):
    monkeypatch.setattr(cn, "netaddr", None)
    monkeypatch.setattr(cn, "NETADDR_IMPORT_ERROR", ImportError("No module named 'netaddr'"))


def test_missing_netaddr_names_filter_and_variable(no_netaddr):
    with pytest.raises(AnsibleFilterError) as err:
        flt.cidr_errors(["10.0.0.0/8"], "base_cluster_networks")
    msg = str(err.value)
    assert "hpcai.cluster.cidr_errors (checking base_cluster_networks)" in msg
    assert "netaddr is not installed on the Ansible controller" in msg and "pip install netaddr" in msg
    with pytest.raises(AnsibleFilterError, match=r"hpcai.cluster.cluster_address \(cluster address from "
                                                 r"base_cluster_address '', base_cluster_interface 'ib0'"):
        flt.cluster_address({}, interface="ib0", networks=["10.0.0.0/8"])
    for call in (lambda: flt.ip_version("10.0.0.1"), lambda: flt.address_in_networks([], []),
                 lambda: flt.networks_of_version([], 4)):
        with pytest.raises(AnsibleFilterError, match="netaddr"):
            call()


# ---------------------------------------------------------------- through the Templar (FQCN)
def test_fqcn_filters_in_templates():
    variables = {"nets": ["10.0.0.1/8", "fd00::/64"]}
    assert evaluate("{{ nets | hpcai.cluster.cidr_errors('base_cluster_networks') }}", variables) == [
        "base_cluster_networks[0] '10.0.0.1/8' has host bits set (the network is 10.0.0.0/8)"]
    assert evaluate("{{ '10.0.0.1' | hpcai.cluster.ip_version }}", {}) == 4
    assert evaluate("{{ ['1.1.1.1', '10.0.0.1'] | hpcai.cluster.address_in_networks(['10.0.0.0/8']) }}", {}) == "10.0.0.1"


def _base(host="node1", **overrides):
    over = {"base_cluster_networks": ["10.10.0.0/16"]}
    over.update(overrides)
    return role_variables("base", "rocky9", host, over)


def test_base_host_addresses_multi_homed_and_ipv6():
    # every fake host: eth0 10.10.x.x (default route) and eth1 192.168.122.5
    v = _base(base_cluster_networks=["192.168.122.0/24", "fd00:10::/64"],
              __hostvars__={"node2": {"base_cluster_address": "fd00:10::2"},
                            "head1": {"base_cluster_interface": "eth0"}})
    assert evaluate("{{ __base_host_addresses }}", v) == {
        "head1": "10.10.0.1",       # its own interface hint
        "node1": "192.168.122.5",   # inside a cluster network, beats default_ipv4
        "node2": "fd00:10::2",      # explicit, IPv6 taken as given
    }
    assert evaluate("{{ __base_cluster_networks_v4 }}", v) == ["192.168.122.0/24"]
    assert evaluate("{{ __base_cluster_networks_v6 }}", v) == ["fd00:10::/64"]


def test_base_host_addresses_interface_with_dash():
    facts = host_facts("rocky9", "node2")
    facts["br_ib"] = {"device": "br-ib", "ipv4": {"address": "10.10.200.2"}}
    v = _base(__hostvars__={"node2": {"ansible_facts": facts, "base_cluster_interface": "br-ib"}})
    assert evaluate("{{ __base_host_addresses['node2'] }}", v) == "10.10.200.2"


@pytest.mark.parametrize("address,networks,expected", [
    ("fd00:99::1", ["10.10.0.0/16", "fd00:10::/64"], True),   # IPv6 is not checked (unchanged behaviour)
    ("10.10.1.1", ["fd00:10::/64"], True),                    # no IPv4 network to check against
    ("10.11.0.1", ["10.10.0.0/16", "fd00:10::/64"], False),
    ("10.10.0.0", ["10.10.0.0/16"], True),
])
def test_base_cluster_address_in_networks_ipv6(address, networks, expected):
    v = _base(base_cluster_networks=networks, base_cluster_address=address)
    assert evaluate("{{ __base_cluster_address_in_networks | bool }}", v) is expected


def test_base_hosts_file_with_an_ipv6_cluster_address():
    v = _base(base_cluster_networks=["10.10.0.0/16", "fd00:10::/64"],
              __hostvars__={"node2": {"base_cluster_address": "fd00:10::2"}})
    text = render(ROLES_DIR / "base" / "templates" / "hosts.j2", v)
    assert "fd00:10::2\tnode2 node2.cluster.lan" in text
    assert "%s\thead1 head1.cluster.lan" % HOSTS["head1"]["address"] in text
