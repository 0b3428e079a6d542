# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster network addresses with netaddr (controller side, Python 3.8+).

Plain functions behind the ``hpcai.cluster`` network filters
(plugins/filter/network.py), testable without Ansible:

* ``ip_version(text)``: 4 or 6 for an IP address literal, else 0;
* ``parse_network(text)``: ``(IPNetwork, None)`` or ``(None, reason)`` for
  a network written in CIDR form (``10.10.0.0/16``, ``fd00:10::/64``);
* ``network_errors(networks, varname)``: one message per bad entry
  (syntax, prefix length, host bits set), empty when all are good;
* ``networks_of_version(networks, version)``: the valid entries of one IP
  version, spelled as given;
* ``address_in_networks(addresses, networks)``: the first address that lies in
  one of the networks;
* ``cluster_address(facts, ...)``: the address other nodes use for a host.

Only strict forms are accepted, as the role always documented: dotted-quad
IPv4 without leading zeros (netaddr's inet_pton rules), IPv6 without a zone
index, and an explicit decimal prefix without leading zeros (netaddr itself
would also take ``/08``, ``/255.0.0.0`` or no prefix at all).

The netaddr import is guarded: when it is missing ``NETADDR_IMPORT_ERROR``
holds the ImportError and every function raises ``MissingNetaddr`` (the filter
plugin turns that into an AnsibleFilterError naming the filter and variable).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from collections.abc import Mapping, Sequence

try:
    import netaddr
except ImportError as _exc:  # pragma: no cover - exercised by monkeypatching in the tests
    netaddr = None
    NETADDR_IMPORT_ERROR = _exc
else:
    NETADDR_IMPORT_ERROR = None

__all__ = [
    "MissingNetaddr",
    "NETADDR_IMPORT_ERROR",
    "address_in_networks",
    "cluster_address",
    "interface_fact_key",
    "ip_version",
    "network_errors",
    "networks_of_version",
    "parse_network",
]

_PREFIX_RE = re.compile(r"^(0|[1-9][0-9]{0,2})$")
_MAX_PREFIX = {4: 32, 6: 128}
_CIDR_EXAMPLES = "e.g. 10.10.0.0/16 or fd00:10::/64"


class MissingNetaddr(Exception):
    """netaddr is not importable on the controller."""


def _require_netaddr():
    if netaddr is None or NETADDR_IMPORT_ERROR is not None:
        raise MissingNetaddr("the Python library netaddr is not installed on the Ansible controller (%s)"
                             % (NETADDR_IMPORT_ERROR,))


def _is_text(value):
    return isinstance(value, str)


def _address(text):
    """netaddr.IPAddress of an IPv4/IPv6 literal, or None."""
    if not _is_text(text) or not text:
        return None
    try:
        # Strings only (netaddr would take integers); inet_pton rules are
        # netaddr 1.x's default: no '10.1', no leading zeros, no zone index.
        return netaddr.IPAddress(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


def ip_version(text):
    """4 or 6 when ``text`` is an IPv4/IPv6 address literal, else 0."""
    _require_netaddr()
    addr = _address(text)
    return addr.version if addr is not None else 0


def parse_network(text):
    """``(netaddr.IPNetwork, None)`` for a network in strict CIDR form with
    the host bits cleared, else ``(None, reason)``; ``reason`` completes the
    sentence "'<text>' ..."."""
    _require_netaddr()
    not_cidr = "is not an IPv4/IPv6 network in CIDR form (%s)" % _CIDR_EXAMPLES
    if not _is_text(text):
        return None, "is not a string; it %s" % not_cidr
    if text.count("/") != 1:
        return None, not_cidr
    addr_text, prefix_text = text.split("/")
    addr = _address(addr_text)
    if addr is None or not _PREFIX_RE.match(prefix_text):
        return None, not_cidr
    prefix = int(prefix_text)
    if prefix > _MAX_PREFIX[addr.version]:
        return None, "%s: an IPv%d prefix length is 0-%d" % (not_cidr, addr.version, _MAX_PREFIX[addr.version])
    net = netaddr.IPNetwork("%s/%d" % (addr, prefix))
    if net.ip != net.network:
        return None, "has host bits set (the network is %s)" % net.cidr
    return net, None


def network_errors(networks, varname):
    """One message per entry of ``networks`` that is not a network in CIDR
    form with the host bits cleared, each naming ``varname[index]``."""
    _require_netaddr()
    if _is_text(networks) or not isinstance(networks, Sequence):
        return ["%s must be a list of networks in CIDR form (%s), got %r" % (varname, _CIDR_EXAMPLES, networks)]
    errors = []
    for index, entry in enumerate(networks):
        _net, reason = parse_network(entry)
        if reason is not None:
            errors.append("%s[%d] '%s' %s" % (varname, index, entry, reason))
    return errors


def _valid_networks(networks):
    if _is_text(networks):
        networks = [networks]
    out = []
    for entry in networks or []:
        net, _reason = parse_network(entry)
        if net is not None:
            out.append((entry, net))
    return out


def networks_of_version(networks, version):
    """The valid entries of ``networks`` of IP version ``version`` (4 or 6),
    in their order and spelled as given; invalid entries are left out (the
    role's preflight rejects them before anything uses this)."""
    _require_netaddr()
    version = int(version)
    return [entry for entry, net in _valid_networks(networks) if net.version == version]


def address_in_networks(addresses, networks):
    """The first of ``addresses`` (a list, or one address) that lies in one of
    ``networks`` (IPv4 addresses in IPv4 networks, IPv6 in IPv6), as given;
    '' when none does. Entries that are not IP literals or valid networks are
    ignored."""
    _require_netaddr()
    if _is_text(addresses):
        addresses = [addresses]
    nets = [net for _entry, net in _valid_networks(networks)]
    for text in addresses or []:
        addr = _address(text)
        if addr is None:
            continue
        if any(net.version == addr.version and addr in net for net in nets):
            return text
    return ""


def _fact_address(facts, key):
    """facts[key]['address'] (key names a dict such as default_ipv4), or ''."""
    entry = facts.get(key)
    if isinstance(entry, Mapping):
        return entry.get("address") or ""
    return ""


def interface_fact_key(interface):
    """The ansible_facts key of an interface: setup turns '-' and ':' in
    interface names into '_' (br-ib -> br_ib, eth0:1 -> eth0_1)."""
    return (interface or "").replace("-", "_").replace(":", "_")


def cluster_address(facts, address="", interface="", networks=None, ansible_host=""):
    """The address other nodes use for a host, from its facts:

    1. ``address`` (base_cluster_address), taken as given;
    2. the IPv4 address of ``interface`` (base_cluster_interface);
    3. the first of ``all_ipv4_addresses`` inside an IPv4 entry of ``networks``;
    4. the default-route IPv4 address (``default_ipv4``);
    5. ``ansible_host`` when it is an IPv4 literal;

    '' when none applies. ``facts`` is the host's ansible_facts (no
    ``ansible_`` prefix); missing facts just skip their steps.
    """
    _require_netaddr()
    if address:
        return address
    if not isinstance(facts, Mapping):
        facts = {}
    key = interface_fact_key(interface)
    if key:
        entry = facts.get(key)
        if isinstance(entry, Mapping):
            found = _fact_address(entry, "ipv4")
            if found:
                return found
    v4_networks = networks_of_version(networks or [], 4)
    if v4_networks:
        all_v4 = facts.get("all_ipv4_addresses") or []
        found = address_in_networks([a for a in all_v4 if ip_version(a) == 4], v4_networks)
        if found:
            return found
    found = _fact_address(facts, "default_ipv4")
    if found:
        return found
    if ip_version(ansible_host) == 4:
        return ansible_host
    return ""
