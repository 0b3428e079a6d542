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
* ``cluster_address(facts, ...)``: the address other nodes use for a host;
* ``allocate_addresses(network, hosts, ...)``: one address per host from a
  subnet and each host's index (``network first + offset + index``), with
  per-host overrides and reserved addresses (``AllocationError`` otherwise);
* ``host_address(network, index, ...)``: one such address;
* ``with_prefix(address, network)``: ``10.20.0.5/16``.

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
    "AllocationError",
    "MissingNetaddr",
    "NETADDR_IMPORT_ERROR",
    "address_in_networks",
    "allocate_addresses",
    "cluster_address",
    "host_address",
    "interface_fact_key",
    "ip_version",
    "network_errors",
    "networks_of_version",
    "parse_network",
    "with_prefix",
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


def _parse_cidr(text):
    """``(netaddr.IPNetwork, None)`` for strict CIDR syntax, host bits
    possibly set, else ``(None, reason)``."""
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
    return netaddr.IPNetwork("%s/%d" % (addr, prefix)), None


def parse_network(text):
    """``(netaddr.IPNetwork, None)`` for a network in strict CIDR form with
    the host bits cleared, else ``(None, reason)``; ``reason`` completes the
    sentence "'<text>' ..."."""
    _require_netaddr()
    net, reason = _parse_cidr(text)
    if net is None:
        return None, reason
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


# ---------------------------------------------------------------- address allocation
_INT_RE = re.compile(r"^-?[0-9]+$")
_MAX_SHOWN_ERRORS = 20
_HOSTS_FORMS = "a list of host names or {name, index} dicts, or a dict {name: index}"
_RESERVED_FORMS = "an address or a range first-last, e.g. 10.20.0.1 or 10.20.0.250-10.20.0.254"


class AllocationError(ValueError):
    """Addresses cannot be allocated as asked. Every message names the
    network variable and says what is allowed; ``errors`` holds all of them
    (``str()`` joins the first 20 with '; ')."""

    def __init__(self, errors):
        if _is_text(errors):
            errors = [errors]
        self.errors = list(errors)
        text = "; ".join(self.errors[:_MAX_SHOWN_ERRORS])
        if len(self.errors) > _MAX_SHOWN_ERRORS:
            text += "; ... and %d more" % (len(self.errors) - _MAX_SHOWN_ERRORS)
        super(AllocationError, self).__init__(text)


def _show(value):
    return "'%s'" % value if _is_text(value) else repr(value)


def _nonneg_int(value):
    """``(int, None)`` for an integer >= 0 (or a string of decimal digits, as
    templating may hand it over), else ``(None, reason)``."""
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif _is_text(value) and _INT_RE.match(value):
        number = int(value)
    else:
        number = None
    if number is None:
        return None, "must be an integer 0 or more, got %s" % _show(value)
    if number < 0:
        return None, "must be 0 or more, got %d" % number
    return number, None


def _usable_offsets(version, host_bits):
    """(lowest, highest) usable offset from the network address: IPv4 leaves
    out the network and broadcast addresses, IPv6 the subnet-router anycast
    address; /31 and /32 (RFC 3021) and /127 and /128 (RFC 6164) use all."""
    size = 1 << host_bits
    if host_bits <= 1:
        return 0, size - 1
    if version == 4:
        return 1, size - 2
    return 1, size - 1


def _fitting_prefix(version, offset, top):
    """The longest prefix whose usable offsets hold ``offset`` and ``top``
    (the highest offset needed), or None."""
    bits = _MAX_PREFIX[version]
    for prefix in range(bits, -1, -1):
        low, high = _usable_offsets(version, bits - prefix)
        if low <= offset and top <= high:
            return prefix
    return None


def _plural(count, word):
    return "%d %s%s" % (count, word, "" if count == 1 else ("es" if word.endswith("s") else "s"))


class _Subnet(object):
    """A validated network plus the wording of its error messages."""

    def __init__(self, text, varname):
        _require_netaddr()
        net, reason = _parse_cidr(text)
        if net is None:
            raise AllocationError("%s %s %s" % (varname, _show(text), reason))
        if net.ip != net.network:
            raise AllocationError("%s %s has host bits set; did you mean %s?" % (varname, text, net.cidr))
        self.text = text
        self.varname = varname
        self.net = net
        self.version = net.version
        self.first = int(net.first)
        self.last = int(net.last)
        low, high = _usable_offsets(net.version, _MAX_PREFIX[net.version] - net.prefixlen)
        self.low = self.first + low
        self.high = self.first + high

    @property
    def where(self):
        return "%s %s" % (self.varname, self.text)

    def addr(self, value):
        return str(netaddr.IPAddress(value, self.version))

    def usable(self):
        if self.low == self.high:
            return "only %s is usable" % self.addr(self.low)
        return "usable: %s-%s" % (self.addr(self.low), self.addr(self.high))

    def offset(self, value):
        number, reason = _nonneg_int(value)
        if reason is not None:
            raise AllocationError("%s: offset %s" % (self.where, reason))
        low, high = self.low - self.first, self.high - self.first
        if not low <= number <= high:
            if low == high:
                allowed = "offset %d is the only one allowed (%s)" % (low, self.addr(self.low))
            else:
                allowed = "offsets %d-%d are allowed (%s-%s)" % (low, high, self.addr(self.low), self.addr(self.high))
            raise AllocationError("%s: offset %d is outside its usable addresses; %s" % (self.where, number, allowed))
        return number

    def last_index(self, offset):
        return self.high - self.first - offset

    def fit_error(self, offset, top_index, what, note=""):
        """``what`` (e.g. '20 hosts do not fit') does not fit from ``offset``;
        ``top_index`` is the highest index that needs an address."""
        prefix = _fitting_prefix(self.version, offset, offset + top_index)
        need = ("need a /%d or larger" % prefix if prefix is not None
                else "no IPv%d network is large enough" % self.version)
        return ("%s has %s from offset %d: %s (%s%s)"
                % (self.where, _plural(self.last_index(offset) + 1, "usable address"), offset, what,
                   note + "; " if note else "", need))

    def unusable(self, addr):
        """Why the netaddr.IPAddress ``addr`` cannot be a host here, or None."""
        value = int(addr)
        if addr.version != self.version or not self.first <= value <= self.last:
            return "is outside the network (%s)" % self.usable()
        if value < self.low:
            name = "network address" if self.version == 4 else "subnet-router anycast address"
            return "is the %s (%s)" % (name, self.usable())
        if value > self.high:
            return "is the broadcast address (%s)" % self.usable()
        return None


class _Host(object):
    __slots__ = ("name", "index", "explicit", "label")

    def __init__(self, name, index, explicit, label):
        self.name, self.index, self.explicit, self.label = name, index, explicit, label


def _host_entries(hosts, subnet):
    """The hosts as _Host objects in the given order; AllocationError listing
    every malformed entry, duplicate name and duplicate index."""
    where = subnet.where
    errors = []
    raw = []  # (name, index, explicit, label)
    if isinstance(hosts, Mapping):
        for name, index in hosts.items():
            raw.append((name, index, True, "hosts[%s]" % _show(name)))
    elif hosts is None or _is_text(hosts) or not isinstance(hosts, Sequence):
        raise AllocationError("%s: hosts must be %s, got %s" % (where, _HOSTS_FORMS, _show(hosts)))
    else:
        for position, entry in enumerate(hosts):
            label = "hosts[%d]" % position
            if _is_text(entry):
                raw.append((entry, position, False, label))
            elif isinstance(entry, Mapping):
                unknown = sorted(str(key) for key in entry if key not in ("name", "index"))
                if unknown:
                    errors.append("%s: %s has unknown key(s) %s (allowed: name, index)" % (where, label, ", ".join(unknown)))
                index = entry.get("index")
                raw.append((entry.get("name"), position if index is None else index, index is not None, label))
            else:
                errors.append("%s: %s must be a host name or a {name, index} dict, got %s" % (where, label, _show(entry)))
    entries = []
    by_name = {}
    by_index = {}
    for name, index, explicit, label in raw:
        if not _is_text(name) or not name:
            errors.append("%s: %s has no host name (got %s)" % (where, label, _show(name)))
            continue
        index, reason = _nonneg_int(index)
        if reason is not None:
            errors.append("%s: index of host %s %s" % (where, name, reason))
            continue
        if name in by_name:
            errors.append("%s: host %s is listed twice (%s and %s)" % (where, name, by_name[name].label, label))
            continue
        if index in by_index:
            errors.append("%s: hosts %s and %s both have index %d" % (where, by_index[index].name, name, index))
            continue
        host = _Host(name, index, explicit, label)
        by_name[name] = by_index[index] = host
        entries.append(host)
    if errors:
        raise AllocationError(errors)
    return entries


def _override_addresses(overrides, subnet, names, errors):
    """{host: int address} of the non-empty overrides; problems go to errors."""
    where = subnet.where
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise AllocationError("%s: overrides must be a dict {host: address}, got %s" % (where, _show(overrides)))
    fixed = {}
    for host, value in overrides.items():
        if value is None or value == "":
            continue  # empty means "computed", as for base_cluster_address
        if host not in names:
            errors.append("%s: override %s for host %s, which is not in hosts" % (where, _show(value), _show(host)))
            continue
        addr = _address(value)
        if addr is None:
            errors.append("%s: override %s for host %s is not an IP address (write it without a prefix, e.g. %s)"
                          % (where, _show(value), host, subnet.addr(subnet.low)))
            continue
        reason = subnet.unusable(addr)
        if reason is not None:
            errors.append("%s: override %s for host %s %s" % (where, value, host, reason))
            continue
        fixed[host] = int(addr)
    return fixed


def _reserved_ranges(reserved, subnet, errors):
    """[(first int, last int, label)] of the reserved entries; problems go to errors."""
    where = subnet.where
    if reserved is None:
        return []
    if _is_text(reserved) or not isinstance(reserved, Sequence):
        raise AllocationError("%s: reserved must be a list, each entry %s; got %s" % (where, _RESERVED_FORMS, _show(reserved)))
    ranges = []
    for position, entry in enumerate(reserved):
        label = "reserved[%d] %s" % (position, _show(entry))
        parts = entry.split("-") if _is_text(entry) else []
        ends = [_address(part.strip()) for part in parts] if len(parts) in (1, 2) else [None]
        if not ends or None in ends:
            errors.append("%s: %s is not %s" % (where, label, _RESERVED_FORMS))
            continue
        start, end = ends[0], ends[-1]
        if start.version != end.version or int(start) > int(end):
            errors.append("%s: %s ends before it starts" % (where, label))
            continue
        if any(addr.version != subnet.version or not subnet.first <= int(addr) <= subnet.last for addr in (start, end)):
            errors.append("%s: %s is outside the network (%s-%s)"
                          % (where, label, subnet.addr(subnet.first), subnet.addr(subnet.last)))
            continue
        ranges.append((int(start), int(end), label))
    return ranges


def allocate_addresses(network, hosts, offset=1, overrides=None, reserved=None, varname="network"):
    """One address per host of ``hosts`` in ``network``, as
    ``{host: "address"}`` (no prefix, netaddr's canonical spelling, in the
    order of ``hosts``)::

        address = first address of network + offset + index

    ``index`` is the host's explicit index, else its 0-based position in the
    ``hosts`` list; so with the default offset 1 the host at index 0 gets
    ``10.20.0.1`` in ``10.20.0.0/24`` and index 9 gets ``10.20.0.10``.

    * ``network``: IPv4 or IPv6 network in strict CIDR form (``parse_network``
      rules, host bits cleared); ``varname`` names it in every message.
    * ``hosts``: a list of host names, of ``{name, index}`` dicts (``index``
      optional, the list position when missing) or a mix, or a dict
      ``{name: index}``. Names and indexes must be unique, indexes integers
      0 or more.
    * usable addresses: IPv4 leaves out the network and broadcast addresses
      (a /31 uses both, a /32 its one address, RFC 3021), IPv6 the
      subnet-router anycast address ``::`` of the subnet (a /127 uses both, a
      /128 its one). ``offset`` must land on a usable address; a computed
      address past the last usable one is an error naming the smallest
      network prefix that would fit.
    * ``overrides``: ``{host: "address"}``; used instead of the computed
      address (the host keeps its index, nobody else moves). It must be a
      usable address of the network, not another host's address, and name a
      host of ``hosts``; empty or null means "computed".
    * ``reserved``: addresses or ranges (``10.20.0.1``,
      ``10.20.0.250-10.20.0.254``) inside the network that no computed address
      may land on: that is an error naming the host, never a silent shift
      (addresses stay stable when hosts are added). Overrides may point into
      a reserved range; that is how hosts are placed there.

    Raises ``AllocationError`` (a ValueError) listing every problem found and
    ``MissingNetaddr`` without netaddr.
    """
    subnet = _Subnet(network, varname)
    offset = subnet.offset(offset)
    entries = _host_entries(hosts, subnet)
    errors = []
    fixed = _override_addresses(overrides, subnet, set(host.name for host in entries), errors)
    ranges = _reserved_ranges(reserved, subnet, errors)

    computed = [host for host in entries if host.name not in fixed]
    last_index = subnet.last_index(offset)
    outside = [host for host in computed if host.index > last_index]
    if outside:
        top = max(outside, key=lambda host: host.index)
        if any(host.explicit for host in outside):
            what = "index %d of host %s does not fit" % (top.index, top.name)
            note = "indexes 0-%d do" % last_index
        else:
            what = "%s do not fit" % _plural(len(entries), "host")
            note = ""
        errors.append(subnet.fit_error(offset, top.index, what, note))

    owner = {}  # int address -> host name
    for host in entries:
        if host.name in fixed:
            value = fixed[host.name]
            if value in owner:
                errors.append("%s: hosts %s and %s both have override %s"
                              % (subnet.where, owner[value], host.name, subnet.addr(value)))
            else:
                owner[value] = host.name
    result = {}
    for host in entries:
        if host.name in fixed:
            result[host.name] = subnet.addr(fixed[host.name])
            continue
        if host.index > last_index:
            continue
        value = subnet.first + offset + host.index
        text = subnet.addr(value)
        for start, end, label in ranges:
            if start <= value <= end:
                errors.append("%s: host %s (index %d) would get %s, which is reserved (%s); change its index or "
                              "the offset, or give it an override" % (subnet.where, host.name, host.index, text, label))
                break
        if value in owner:
            errors.append("%s: host %s (index %d) would get %s, the override of host %s; give one of them another "
                          "address" % (subnet.where, host.name, host.index, text, owner[value]))
        result[host.name] = text
    if errors:
        raise AllocationError(errors)
    return result


def host_address(network, index, offset=1, varname="network"):
    """The address ``first address of network + offset + index`` as a string
    (no prefix), with the rules of ``allocate_addresses``; AllocationError
    when ``network``, ``offset`` or ``index`` are bad or it does not fit."""
    subnet = _Subnet(network, varname)
    offset = subnet.offset(offset)
    number, reason = _nonneg_int(index)
    if reason is not None:
        raise AllocationError("%s: index %s" % (subnet.where, reason))
    if number > subnet.last_index(offset):
        raise AllocationError(subnet.fit_error(offset, number, "index %d does not fit" % number,
                                               "indexes 0-%d do" % subnet.last_index(offset)))
    return subnet.addr(subnet.first + offset + number)


def with_prefix(address, network, varname="network"):
    """``address`` with the prefix length of ``network`` (``10.20.0.5/16``),
    as interface configuration wants it; AllocationError when the address is
    not an IP literal inside the network."""
    subnet = _Subnet(network, varname)
    addr = _address(address)
    if addr is None:
        raise AllocationError("%s: %s is not an IP address" % (subnet.where, _show(address)))
    if addr.version != subnet.version or not subnet.first <= int(addr) <= subnet.last:
        raise AllocationError("%s: %s is outside the network" % (subnet.where, address))
    return "%s/%d" % (addr, subnet.net.prefixlen)
