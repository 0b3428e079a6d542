# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A whole cluster described in one small file (``*.cluster.yml``) -> inventory.

Pure function behind the ``hpcai.cluster.cluster`` inventory plugin
(plugins/inventory/cluster.py), testable without Ansible::

    build(config, source="hpc.cluster.yml") -> {
        "groups":     {group: [host, ...]},        # "all" first, file order
        "hostvars":   {host: {var: value}},
        "group_vars": {"all": {...}},
        "warnings":   [text, ...],
    }

or ``ClusterInventoryError`` (a ValueError) listing every problem found, each
naming its key path (``nodes[2].hosts 'cpu[003-005]' overlaps nodes[1]
(cpu003, cpu004)``, ``networks.mgmt 10.10.0.0/28 has 14 usable addresses from
offset 1: 20 hosts do not fit (need a /27 or larger)``).

Input (the plugin's file; every key is checked, unknown keys are errors)::

    plugin: hpcai.cluster.cluster
    cluster: {name: hpc1, domain: hpc.example}
    networks:
      mgmt: {cidr: 10.10.0.0/16, offset: 10}                 # no kind: the management network
      ib:   {cidr: 10.20.0.0/16, offset: 10, kind: ipoib, mtu: 2044}
    hardware:
      epyc9654: {vars: {kernel_tuning_workload: hpc}}
    nodes:
      - {hosts: head01, roles: [slurm_controller, slurm_dbd, nfs_server]}
      - {hosts: "cpu[001-004]", roles: [slurm_compute], hardware: epyc9654, index: 100}
    hosts:
      cpu003: {mgmt: 10.10.9.3, ib: 10.20.9.3, vars: {}}

What it produces:

* group ``all``: ``base_cluster_name`` / ``base_cluster_domain`` (from
  ``cluster``), ``base_cluster_networks: [<mgmt cidr>]`` and ``fabric_networks``
  (``[{name, kind, cidr, offset, mtu, port, interface, ipoib_mode}]``, the
  fabric role's format) when such networks exist;
* one group per role of ``nodes[].roles`` and ``hw_<class>`` per hardware class
  in use;
* per host: ``hpcai_host_index`` and ``fabric_host_index`` (the host index),
  ``hpcai_hardware_class`` (or None), ``ansible_host`` and
  ``base_cluster_address`` (its management address, when there is a
  management network), ``fabric_addresses`` (only the overridden ones: the
  fabric role computes the others from ``fabric_host_index`` exactly as done
  here), then the ``vars`` of its hardware class, ``nodes[].vars`` and
  ``hosts.<host>.vars``, each winning over the one before.

A hardware class's vars are host variables, not variables of the group
``hw_<class>``: Ansible ranks every group variable of an inventory source
below ``group_vars/all.yml``, so a site-wide default there would silently
beat the class (``gpu_stack: auto`` over the GPU class's ``gpu_stack:
nvidia``). As host variables they win over every ``group_vars/`` file and
lose only to ``host_vars/<host>.yml``.

Host index: the host's running position over all ``nodes`` entries in file
order (0, 1, 2, ...), unless its entry has ``index`` (then its hosts take
index, index+1, ...). Address on a network = network address + offset + index
(``cluster_network.allocate_addresses``), unless ``hosts.<host>.<network>``
overrides it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import difflib
import re

from collections.abc import Mapping, Sequence

from ansible_collections.hpcai.cluster.plugins.module_utils import cluster_network as cn
from ansible_collections.hpcai.cluster.plugins.module_utils import hostlist as hl

__all__ = [
    "ClusterInventoryError",
    "CONSTRUCTED_KEYS",
    "FABRIC_KINDS",
    "PLUGIN_NAME",
    "ROLES",
    "SITE_ROLE_PREFIX",
    "build",
]

PLUGIN_NAME = "hpcai.cluster.cluster"
# Inventory groups the roles of this collection read (slurm_*_group,
# shared_fs_nfs_server_group, fabric_opensm_group, kernel_tuning_class_groups).
ROLES = ("slurm_controller", "slurm_dbd", "slurm_compute", "login", "nfs_server", "fabric_sm", "head")
# Any other group a site wants: x_<name> (kept as is, e.g. x_storage).
SITE_ROLE_PREFIX = "x_"
FABRIC_KINDS = ("ipoib", "roce")
# Options of Ansible's "constructed" fragment; the plugin reads them, build() only lets them pass.
CONSTRUCTED_KEYS = ("strict", "compose", "groups", "keyed_groups", "use_extra_vars", "leading_separator")

_TOP_KEYS = ("plugin", "cluster", "networks", "hardware", "nodes", "hosts")
_CLUSTER_KEYS = ("name", "domain")
_MGMT_KEYS = ("cidr", "offset", "reserved")
_FABRIC_KEYS = ("cidr", "kind", "offset", "reserved", "mtu", "port", "interface", "ipoib_mode")
# keys of a fabric network copied into fabric_networks (the fabric role's format)
_FABRIC_EXPORTED = ("mtu", "port", "interface", "ipoib_mode")
_HARDWARE_KEYS = ("vars",)
_NODE_KEYS = ("hosts", "roles", "hardware", "index", "vars")

_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NETWORK_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_FABRIC_NAME_MAX = 15  # the fabric role's limit (fabric_networks[].name)
_HARDWARE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")
_SITE_ROLE_RE = re.compile(r"^x_[A-Za-z0-9_]+$")
_LABEL_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_CLUSTER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_INTERFACE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")
_MAX_LISTED = 8


class ClusterInventoryError(ValueError):
    """The cluster file is wrong; ``errors`` lists every problem (each names
    its key path), ``str()`` shows them all, one per line, after ``source``."""

    def __init__(self, errors, source="<file>"):
        if isinstance(errors, str):
            errors = [errors]
        self.errors = list(errors)
        self.source = source
        count = len(self.errors)
        text = "%s: %d problem%s:\n" % (source, count, "" if count == 1 else "s")
        text += "\n".join("  - %s" % error for error in self.errors)
        super(ClusterInventoryError, self).__init__(text)


# ----------------------------------------------------------------- helpers


def _show(value):
    if isinstance(value, str):
        return "'%s'" % value
    if isinstance(value, Mapping):
        return "a dict"
    if isinstance(value, (list, tuple)):
        return "a list"
    return repr(value)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_list(value):
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _listed(names, limit=_MAX_LISTED):
    names = list(names)
    if len(names) <= limit:
        return ", ".join(names)
    return "%s, ... (%d in all)" % (", ".join(names[:limit]), len(names))


def _span(indexes):
    low, high = min(indexes), max(indexes)
    return "%d" % low if low == high else "%d-%d" % (low, high)


def _check_keys(mapping, allowed, path, errors, note=""):
    """One error per key of ``mapping`` not in ``allowed`` (with a guess)."""
    for key in mapping:
        if key in allowed:
            continue
        guess = difflib.get_close_matches(str(key), [str(a) for a in allowed], n=1)
        hint = "; did you mean %s?" % guess[0] if guess else ""
        errors.append("%s: unknown key %s (allowed: %s%s)%s" % (path, _show(key), ", ".join(allowed), note, hint))


def _mapping(value, path, errors, what="a dict"):
    """``value`` when it is a dict, {} when None, else {} plus an error."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    errors.append("%s must be %s, got %s" % (path, what, _show(value)))
    return {}


def _check_vars(value, path, errors):
    """A vars dict (variable name -> any value), {} when missing or bad."""
    variables = _mapping(value, path, errors, "a dict of variables")
    good = {}
    for name, var_value in variables.items():
        if not isinstance(name, str) or not _IDENTIFIER_RE.match(name):
            errors.append("%s: %s is not a valid variable name (letters, digits and _, not starting with a digit)"
                          % (path, _show(name)))
            continue
        good[name] = var_value
    return good


def _nonneg(value, path, errors):
    if not _is_int(value):
        errors.append("%s must be an integer 0 or more, got %s" % (path, _show(value)))
        return None
    if value < 0:
        errors.append("%s must be 0 or more, got %d" % (path, value))
        return None
    return value


# ----------------------------------------------------------------- sections


def _cluster_vars(value, errors):
    cluster = _mapping(value, "cluster", errors)
    _check_keys(cluster, _CLUSTER_KEYS, "cluster", errors)
    out = {}
    name = cluster.get("name")
    if name is not None:
        if not isinstance(name, str) or not _CLUSTER_NAME_RE.match(name):
            errors.append("cluster.name %s must be 1-40 letters, digits, '-' or '_', starting with a letter or digit "
                          "(it becomes base_cluster_name and Slurm's ClusterName)" % _show(name))
        else:
            out["base_cluster_name"] = name
    domain = cluster.get("domain")
    if domain is not None:
        labels = domain.split(".") if isinstance(domain, str) else []
        if not labels or len(domain) > 253 or not all(_LABEL_RE.match(label) for label in labels):
            errors.append("cluster.domain %s must be a DNS domain such as hpc.example (labels of letters, digits "
                          "and '-', separated by dots)" % _show(domain))
        else:
            out["base_cluster_domain"] = domain
    return out


class _Network(object):
    """One entry of ``networks`` (``ok`` False when it cannot be used)."""

    def __init__(self, name, entry, errors):
        self.name = name
        self.path = "networks.%s" % name
        self.ok = True
        self.net = None
        self.kind = entry.get("kind")
        self.cidr = entry.get("cidr")
        self.offset = entry.get("offset", 1)
        self.reserved = entry.get("reserved")
        self.extra = {}
        count = len(errors)
        if self.kind is None:
            fabric_only = [key for key in entry if key in _FABRIC_KEYS and key not in _MGMT_KEYS]
            for key in fabric_only:
                errors.append("%s.%s: only fabric networks (kind ipoib or roce) take %s; the network without kind is "
                              "the management network" % (self.path, key, key))
            _check_keys(dict((k, v) for k, v in entry.items() if k not in fabric_only), _MGMT_KEYS, self.path, errors,
                        "; fabric networks also take kind, mtu, port, interface, ipoib_mode")
        else:
            _check_keys(entry, _FABRIC_KEYS, self.path, errors)
            if self.kind not in FABRIC_KINDS:
                errors.append("%s.kind %s: allowed are %s, or no kind for the management network"
                              % (self.path, _show(self.kind), ", ".join(FABRIC_KINDS)))
            elif len(name) > _FABRIC_NAME_MAX:
                errors.append("%s: a fabric network name has at most %d characters (the fabric role's limit)"
                              % (self.path, _FABRIC_NAME_MAX))
            self._fabric_options(entry, errors)
        if "cidr" not in entry:
            errors.append("%s.cidr is required (e.g. 10.10.0.0/16)" % self.path)
        else:
            try:
                net, reason = cn.parse_network(self.cidr)
            except cn.MissingNetaddr as exc:
                errors.append("%s: %s" % (self.path, exc))
            else:
                if net is None:
                    errors.append("%s.cidr %s %s" % (self.path, _show(self.cidr), reason))
                else:
                    self.net = net
        _nonneg(self.offset, self.path + ".offset", errors)
        if self.reserved is not None and not _is_list(self.reserved):
            errors.append("%s.reserved must be a list of addresses or first-last ranges, got %s"
                          % (self.path, _show(self.reserved)))
        self.ok = len(errors) == count

    def _fabric_options(self, entry, errors):
        mode = entry.get("ipoib_mode")
        if "ipoib_mode" in entry:
            if self.kind != "ipoib":
                errors.append("%s.ipoib_mode: only for kind ipoib" % self.path)
            elif mode not in ("datagram", "connected"):
                errors.append("%s.ipoib_mode %s: allowed are datagram, connected" % (self.path, _show(mode)))
        if "port" in entry:
            _nonneg(entry["port"], self.path + ".port", errors)
        if "interface" in entry:
            value = entry["interface"]
            if not isinstance(value, str) or not _INTERFACE_RE.match(value):
                errors.append("%s.interface %s is not a Linux interface name (1-15 of letters, digits, _ . : -)"
                              % (self.path, _show(value)))
        if "mtu" in entry and self.kind in FABRIC_KINDS:
            if self.kind == "roce":
                low, high, why = 1280, 9216, "RoCE"
            elif mode == "connected":
                low, high, why = 256, 65520, "IPoIB connected mode"
            else:
                low, high, why = 256, 4092, "IPoIB datagram mode"
            mtu = entry["mtu"]
            if not _is_int(mtu) or not low <= mtu <= high:
                errors.append("%s.mtu %s: %s allows %d-%d" % (self.path, _show(mtu), why, low, high))
        for key in _FABRIC_EXPORTED:
            if key in entry:
                self.extra[key] = entry[key]

    def fabric_entry(self):
        entry = {"name": self.name, "kind": self.kind, "cidr": self.cidr, "offset": self.offset}
        entry.update(self.extra)
        return entry


def _networks(value, errors):
    networks = _mapping(value, "networks", errors, "a dict {name: {cidr, offset, kind, ...}}")
    result = []
    for name, entry in networks.items():
        path = "networks.%s" % (name,)
        if not isinstance(name, str) or not _NETWORK_RE.match(name) or name == "vars":
            errors.append("%s: a network name must be an identifier (a letter, then letters, digits, _) and not 'vars'"
                          % path)
            continue
        if not isinstance(entry, Mapping):
            errors.append("%s must be a dict {cidr, offset, kind, ...}, got %s" % (path, _show(entry)))
            continue
        result.append(_Network(name, entry, errors))
    plain = [net.name for net in result if net.kind is None]
    if len(plain) > 1:
        errors.append("networks: only one network may have no kind (the management network), got %s; give the others "
                      "kind: %s" % (", ".join(plain), " or ".join(FABRIC_KINDS)))
    checked = [net for net in result if net.net is not None]
    for pos, first in enumerate(checked):
        for second in checked[pos + 1:]:
            a, b = first.net, second.net
            if a.version == b.version and a.first <= b.last and b.first <= a.last:
                errors.append("networks.%s.cidr %s overlaps networks.%s.cidr %s"
                              % (second.name, second.cidr, first.name, first.cidr))
    return result


def _hardware(value, errors):
    hardware = _mapping(value, "hardware", errors, "a dict {class: {vars: {...}}}")
    classes = {}
    for name, entry in hardware.items():
        path = "hardware.%s" % (name,)
        if not isinstance(name, str) or not _HARDWARE_RE.match(name):
            errors.append("%s: a hardware class name is letters, digits and _ (it becomes the group hw_<name>)" % path)
            continue
        entry = _mapping(entry, path, errors, "a dict {vars: {...}}")
        _check_keys(entry, _HARDWARE_KEYS, path, errors)
        classes[name] = _check_vars(entry.get("vars"), path + ".vars", errors)
    return classes


class _Entry(object):
    """One ``nodes`` entry after checking."""

    def __init__(self, number):
        self.number = number
        self.path = "nodes[%d]" % number
        self.hosts_text = None
        self.names = None  # None: hosts could not be read
        self.roles = []
        self.hardware = None
        self.index = None
        self.index_ok = True
        self.vars = {}
        self.indexes = {}

    @property
    def hosts_label(self):
        return "%s.hosts %s" % (self.path, _show(self.hosts_text))


def _expand_hosts(entry, value, errors):
    if value is None:
        errors.append("%s.hosts is required (a host name or a Slurm hostlist such as cpu[001-004])" % entry.path)
        return None
    if isinstance(value, str):
        items = [(entry.path + ".hosts", value)]
        entry.hosts_text = value
    elif _is_list(value) and value and all(isinstance(item, str) for item in value):
        items = [("%s.hosts[%d]" % (entry.path, pos), item) for pos, item in enumerate(value)]
        entry.hosts_text = ",".join(value)
    else:
        errors.append("%s.hosts must be a host name, a Slurm hostlist (cpu[001-004]) or a list of them, got %s"
                      % (entry.path, _show(value)))
        return None
    names = []
    seen = set()
    ok = True
    for path, text in items:
        try:
            expanded = hl.expand(text)
        except hl.HostlistError as exc:
            errors.append("%s: %s" % (path, exc))
            ok = False
            continue
        if not expanded:
            errors.append("%s is empty" % path)
            ok = False
            continue
        bad = [name for name in expanded if not _LABEL_RE.match(name)]
        if bad:
            errors.append("%s %s: %s %s not a valid host name (letters, digits and '-', not at either end, at most 63 "
                          "characters; short names only, the domain goes in cluster.domain)"
                          % (path, _show(text), _listed(bad), "is" if len(bad) == 1 else "are"))
            ok = False
        for name in expanded:
            if name not in seen:
                seen.add(name)
                names.append(name)
    return names if ok else None


def _roles(entry, value, errors):
    if value is None:
        return []
    if not _is_list(value):
        errors.append("%s.roles must be a list such as [slurm_compute], got %s" % (entry.path, _show(value)))
        return []
    roles = []
    for pos, role in enumerate(value):
        if isinstance(role, str) and (role in ROLES or _SITE_ROLE_RE.match(role)):
            if role not in roles:
                roles.append(role)
            continue
        guess = difflib.get_close_matches(role, ROLES, n=1) if isinstance(role, str) else []
        errors.append("%s.roles[%d] %s: unknown role (allowed: %s, or %s<name> for a site group)%s"
                      % (entry.path, pos, _show(role), ", ".join(ROLES), SITE_ROLE_PREFIX,
                         "; did you mean %s?" % guess[0] if guess else ""))
    return roles


def _nodes(value, classes, errors):
    if value is None:
        errors.append("nodes is required: a list of {hosts, roles, hardware, index, vars} entries")
        return []
    if not _is_list(value) or not value:
        errors.append("nodes must be a non-empty list of {hosts, roles, hardware, index, vars} entries, got %s"
                      % _show(value))
        return []
    entries = []
    for number, raw in enumerate(value):
        entry = _Entry(number)
        entries.append(entry)
        if not isinstance(raw, Mapping):
            errors.append("%s must be a dict {hosts, roles, hardware, index, vars}, got %s" % (entry.path, _show(raw)))
            continue
        _check_keys(raw, _NODE_KEYS, entry.path, errors)
        entry.names = _expand_hosts(entry, raw.get("hosts"), errors)
        entry.roles = _roles(entry, raw.get("roles"), errors)
        hardware = raw.get("hardware")
        if hardware is not None:
            if isinstance(hardware, str) and hardware in classes:
                entry.hardware = hardware
            else:
                guess = difflib.get_close_matches(hardware, list(classes), n=1) if isinstance(hardware, str) else []
                errors.append("%s.hardware %s: unknown hardware class (defined under hardware: %s)%s"
                              % (entry.path, _show(hardware), ", ".join(classes) or "none",
                                 "; did you mean %s?" % guess[0] if guess else ""))
        if "index" in raw:
            entry.index = _nonneg(raw["index"], entry.path + ".index", errors)
            entry.index_ok = entry.index is not None
        entry.vars = _check_vars(raw.get("vars"), entry.path + ".vars", errors)
    return entries


def _place_hosts(entries, errors):
    """{host: entry} and each entry's {host: index}; False when the indexes
    cannot be trusted (hosts unreadable, overlaps or collisions)."""
    owner = {}
    sound = True
    position = 0
    for entry in entries:
        if entry.names is None or not entry.index_ok:
            sound = False
        if entry.names is None:
            continue
        overlaps = {}
        for name in entry.names:
            if name in owner:
                overlaps.setdefault(owner[name].number, []).append(name)
            else:
                owner[name] = entry
        for number in sorted(overlaps):
            errors.append("%s overlaps nodes[%d] (%s); a host belongs to one nodes entry (put several roles in its "
                          "roles list)" % (entry.hosts_label, number, _listed(overlaps[number])))
            sound = False
        start = entry.index if entry.index is not None else position
        entry.indexes = dict((name, start + pos) for pos, name in enumerate(entry.names))
        position += len(entry.names)
    if not sound:
        return owner, False
    taken = {}
    for entry in entries:
        clashes = {}
        for name, index in entry.indexes.items():
            if index in taken:
                clashes.setdefault(taken[index][0].number, []).append((name, index, taken[index][1]))
            else:
                taken[index] = (entry, name)
        for number in sorted(clashes):
            pairs = clashes[number]
            if entry.index is not None:
                where = "%s.index %d" % (entry.path, entry.index)
            else:
                where = "%s (no index: running positions %s)" % (entry.path, _span(entry.indexes.values()))
            shown = ["%s has %d" % (name, index) for name, index, _other in pairs]
            errors.append("%s: %s, already taken by nodes[%d] (%s); give the entries index ranges that do not overlap"
                          % (where, _listed(shown), number, _listed(other for _name, _index, other in pairs)))
            sound = False
    return owner, sound


def _overrides(value, owner, known, networks, errors):
    """{host: {"vars": {...}, network: address}}; ``known``: every nodes
    entry could be read (else hosts missing from ``owner`` are not errors)."""
    hosts = _mapping(value, "hosts", errors, "a dict {host: {<network>: address, vars: {...}}}")
    names = [net.name for net in networks]
    allowed = tuple(names) + ("vars",)
    result = {}
    for host, entry in hosts.items():
        path = "hosts.%s" % (host,)
        if host not in owner:
            if not known:
                continue
            errors.append("%s: %s is in no nodes entry (hosts: only overrides hosts listed under nodes)"
                          % (path, _show(host)))
            continue
        entry = _mapping(entry, path, errors, "a dict {<network>: address, vars: {...}}")
        _check_keys(entry, allowed, path, errors, " (the networks and vars)" if names else " (no networks defined)")
        item = {"vars": _check_vars(entry.get("vars"), path + ".vars", errors)}
        for name in names:
            address = entry.get(name)
            if address is None or address == "":
                continue
            if not isinstance(address, str):
                errors.append("%s.%s must be an address such as 10.10.0.5 (a string), got %s" % (path, name, _show(address)))
                continue
            item[name] = address
        result[host] = item
    return result


def _plugin_vars(cluster_vars, mgmt, fabric):
    """{variable: how to set it instead} for what the plugin sets itself."""
    own = {
        "hpcai_host_index": "the host index: set it with nodes[].index",
        "fabric_host_index": "the host index: set it with nodes[].index",
        "hpcai_hardware_class": "set it with nodes[].hardware",
    }
    if mgmt is not None:
        how = "the host's address on networks.%s: override it with hosts.<host>.%s" % (mgmt.name, mgmt.name)
        own["ansible_host"] = own["base_cluster_address"] = how
        own["base_cluster_networks"] = "set from networks.%s.cidr" % mgmt.name
    if fabric:
        own["fabric_addresses"] = "override an address with hosts.<host>.<network>"
        own["fabric_networks"] = "set from the networks with a kind"
    for var, key in (("base_cluster_name", "name"), ("base_cluster_domain", "domain")):
        if var in cluster_vars:
            own[var] = "set from cluster.%s" % key
    return own


def _check_own(variables, path, own, errors):
    for name in variables:
        if name in own:
            errors.append("%s.%s is set by the plugin (%s)" % (path, name, own[name]))


def _allocate(network, hosts, overrides, errors):
    """{host: address} on ``network`` or {} (errors appended). ``hosts``:
    every host in file order, as allocate_addresses takes them (an explicit
    index only for entries with ``index``: its messages then say "20 hosts do
    not fit" for running positions and "index 301 of host n2" for the others)."""
    fixed = dict((host, item[network.name]) for host, item in overrides.items() if network.name in item)
    try:
        return cn.allocate_addresses(network.cidr, hosts, offset=network.offset, overrides=fixed,
                                     reserved=network.reserved, varname=network.path)
    except cn.AllocationError as exc:
        errors.extend(exc.errors)
    except cn.MissingNetaddr as exc:
        errors.append("%s: %s" % (network.path, exc))
    return {}


# ----------------------------------------------------------------- build


def build(config, source="<file>"):
    """The inventory described by ``config`` (the loaded ``*.cluster.yml``);
    see the module doc. Raises ClusterInventoryError listing every problem."""
    if not isinstance(config, Mapping):
        raise ClusterInventoryError(["the file must hold a dict (plugin, cluster, networks, hardware, nodes, hosts), "
                                     "got %s" % _show(config)], source)
    errors = []
    warnings = []
    _check_keys(config, _TOP_KEYS + CONSTRUCTED_KEYS, "top level", errors)
    plugin = config.get("plugin")
    if plugin is not None and plugin != PLUGIN_NAME:
        errors.append("plugin %s: this file is for %s" % (_show(plugin), PLUGIN_NAME))

    cluster_vars = _cluster_vars(config.get("cluster"), errors)
    networks = _networks(config.get("networks"), errors)
    mgmt = next((net for net in networks if net.kind is None), None)
    fabric = [net for net in networks if net.kind is not None]
    classes = _hardware(config.get("hardware"), errors)
    entries = _nodes(config.get("nodes"), classes, errors)
    owner, sound = _place_hosts(entries, errors)
    known = bool(entries) and all(entry.names is not None for entry in entries)
    overrides = _overrides(config.get("hosts"), owner, known, networks, errors)

    own = _plugin_vars(cluster_vars, mgmt, fabric)
    for name, variables in classes.items():
        _check_own(variables, "hardware.%s.vars" % name, own, errors)
    for entry in entries:
        _check_own(entry.vars, entry.path + ".vars", own, errors)
    for host, item in overrides.items():
        _check_own(item["vars"], "hosts.%s.vars" % host, own, errors)

    hosts = []
    for entry in entries:
        for name in entry.names or ():
            hosts.append({"name": name, "index": entry.indexes[name]} if entry.index is not None else {"name": name})
    addresses = {}
    if sound:
        for network in networks:
            if network.ok:
                addresses[network.name] = _allocate(network, hosts, overrides, errors)
    if errors:
        raise ClusterInventoryError(errors, source)

    used = set(entry.hardware for entry in entries if entry.hardware)
    for name in classes:
        if name not in used:
            warnings.append("hardware.%s is used by no nodes entry (group hw_%s not created)" % (name, name))

    group_all = dict(cluster_vars)
    if mgmt is not None:
        group_all["base_cluster_networks"] = [mgmt.cidr]
    if fabric:
        group_all["fabric_networks"] = [net.fabric_entry() for net in fabric]

    groups = {"all": []}
    hostvars = {}
    for entry in entries:
        for name in entry.names:
            groups["all"].append(name)
            for role in entry.roles:
                groups.setdefault(role, []).append(name)
            index = entry.indexes[name]
            host = {}
            if mgmt is not None:
                host["ansible_host"] = host["base_cluster_address"] = addresses[mgmt.name][name]
            fixed = dict((net.name, overrides[name][net.name]) for net in fabric
                         if name in overrides and net.name in overrides[name])
            if fixed:
                host["fabric_addresses"] = dict((net, addresses[net][name]) for net in fixed)
            host["hpcai_host_index"] = index
            host["hpcai_hardware_class"] = entry.hardware
            host["fabric_host_index"] = index
            if entry.hardware:
                host.update(copy.deepcopy(classes[entry.hardware]))
            host.update(copy.deepcopy(entry.vars))
            if name in overrides:
                host.update(copy.deepcopy(overrides[name]["vars"]))
            hostvars[name] = host
    group_vars = {"all": group_all}
    for name in classes:
        members = [host for entry in entries if entry.hardware == name for host in entry.names]
        if members:
            groups["hw_%s" % name] = members
    return {"groups": groups, "hostvars": hostvars, "group_vars": group_vars, "warnings": warnings}
