# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared filesystem decisions (controller side, Python 3.8+): NFS exports,
client mounts (NFS, BeeGFS, Lustre), autofs maps and the Lustre LNet networks.

Plain functions behind the ``hpcai.cluster`` shared_fs filters
(plugins/filter/shared_fs.py), testable without Ansible:

* ``export_errors(exports, varname)``: one message per problem of a list of
  NFS exports ``{path, clients: [{host, options}], owner, group, mode}``
  (path rules, client specs, exports(5) options and their contradictions,
  duplicate paths, two NFSv4 roots), empty when all are good;
* ``client_spec(host)``: ``(kind, None)`` or ``(None, reason)`` for an NFS
  client spec; kinds: ``anonymous`` (``*``), ``netgroup`` (``@group``),
  ``network`` (CIDR), ``address`` (IPv4/IPv6), ``wildcard`` (``*.lan``,
  ``node0?``, ``node[0-9]``), ``hostname``;
* ``exports_lines(exports)``: the lines of /etc/exports.d/hpcai.exports;
* ``mount_options(kind, options, automount, netdev, nofail, idle_timeout)``:
  the fstab option string of one nfs/nfs4/beegfs/lustre mount;
* ``mount_errors(mounts, varname)``: one message per problem of a list of
  mounts ``{src, path, fstype, options, automount, nofail, idle_timeout, state}``;
* ``autofs_map_lines(mounts, mount_root, direct)`` and
  ``autofs_master_line(...)``: an autofs indirect or direct map and its
  master map line;
* ``lnet_networks(fabric_fact, ...)``: the LNet ``networks=`` value from the
  ``hpcai_fabric`` fact (o2ib on an IPoIB/RoCE interface that is up, else
  tcp) or explicit interfaces; ``lnet_errors(networks)``: checks a value.

Errors of the functions that build text are ``SharedFsError`` (a ValueError
listing every problem found); the ``*_errors`` functions return the messages.
Every message names the variable (with its index) and says what is allowed.

Sources: exports(5) and support/nfs/exports.c of nfs-utils (option names,
sec= flavours, fsid forms, path escapes), nfs(5) (server names, IPv6 in
brackets, versions, nfs4 takes no nfsvers=), mount.lustre(8) and
lustre_param.h (MGS spec, 8-character fsname), libcfs nidstrings.c (NIDs),
autofs(5) / auto.master(5) and autofs' parse_sun.c (map entry syntax).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import posixpath
import re

from collections.abc import Mapping

from ansible_collections.hpcai.cluster.plugins.module_utils import cluster_network as cn

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "EXPORT_DEFAULT_OPTIONS",
    "EXPORT_OPTIONS",
    "FORBIDDEN_ROOTS",
    "LNET_TYPES",
    "MOUNT_FSTYPES",
    "MOUNT_STATES",
    "NFS_VERSIONS",
    "SharedFsError",
    "autofs_map_lines",
    "autofs_master_line",
    "client_spec",
    "export_errors",
    "exports_lines",
    "lnet_errors",
    "lnet_networks",
    "mount_errors",
    "mount_options",
]

#: Paths that are never exported or mounted over (and their subdirectories).
FORBIDDEN_ROOTS = ("/proc", "/sys", "/dev", "/run", "/tmp")
#: Options of a client that gives none.
EXPORT_DEFAULT_OPTIONS = ("rw", "sync", "no_subtree_check", "root_squash")
MOUNT_FSTYPES = ("nfs", "nfs4", "beegfs", "lustre")
MOUNT_STATES = ("mounted", "present", "absent")
NFS_VERSIONS = ("3", "4", "4.0", "4.1", "4.2")
#: systemd automount idle timeout and autofs expiry, seconds.
DEFAULT_IDLE_TIMEOUT = 600
#: LNet network types this collection configures (libcfs: tcp = ksocklnd, o2ib = ko2iblnd).
LNET_TYPES = ("o2ib", "tcp")

_MAX_SHOWN_ERRORS = 20


class SharedFsError(ValueError):
    """Input that cannot be turned into configuration. ``errors`` holds every
    message; ``str()`` joins the first 20 with '; '."""

    def __init__(self, errors):
        if isinstance(errors, str):
            errors = [errors]
        self.errors = list(errors)
        text = "; ".join(self.errors[:_MAX_SHOWN_ERRORS])
        if len(self.errors) > _MAX_SHOWN_ERRORS:
            text += "; ... and %d more" % (len(self.errors) - _MAX_SHOWN_ERRORS)
        super(SharedFsError, self).__init__(text)


# ---------------------------------------------------------------- small helpers
def _is_text(value):
    return isinstance(value, str)


def _is_list(value):
    return isinstance(value, (list, tuple))


def _show(value):
    if _is_text(value):
        if _CONTROL_RE.search(value):
            return repr(value)
        return "'%s'" % value
    return repr(value)


def _nonneg_int(value):
    """int for an integer >= 0 or a string of digits (not a bool), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if _is_text(value) and re.match(r"^[0-9]+$", value):
        return int(value)
    return None


def _unique(items):
    seen = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def _natural(name):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _unknown_keys(entry, allowed, where):
    unknown = sorted(str(key) for key in entry if key not in allowed)
    if unknown:
        return ["%s has unknown key(s) %s (allowed: %s)" % (where, ", ".join(unknown), ", ".join(allowed))]
    return []


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_SPACE_RE = re.compile(r"\s")


# ---------------------------------------------------------------- paths
def _normalise_roots(forbidden_roots):
    if forbidden_roots is None:
        forbidden_roots = FORBIDDEN_ROOTS
    if _is_text(forbidden_roots):
        forbidden_roots = [forbidden_roots]
    roots = []
    for root in forbidden_roots:
        if not _is_text(root) or not root.startswith("/"):
            raise SharedFsError("forbidden_roots must be a list of absolute paths, got %s" % _show(root))
        roots.append(root.rstrip("/") or "/")
    return tuple(roots)


def _path_problem(path, example, allow_root=False, allow_spaces=False, forbidden_roots=()):
    """None for a good path, else the rest of the message after "<where> ".

    Good: a string, absolute, normalised (no empty, '.' or '..' components,
    no trailing '/'), no control characters, no whitespace unless
    ``allow_spaces`` (then none at the ends), '/' only with ``allow_root``,
    not a forbidden root nor below one."""
    if not _is_text(path) or not path:
        return "must be an absolute path such as %s, got %s" % (example, _show(path))
    if _CONTROL_RE.search(path):
        return "%s contains a newline or another control character" % _show(path)
    if allow_spaces:
        if path != path.strip():
            return "%s starts or ends with whitespace" % _show(path)
    elif _SPACE_RE.search(path):
        return ("%s contains whitespace, which fstab lines and autofs maps cannot hold unescaped; rename the "
                "directory or bind-mount it at a path without spaces" % _show(path))
    if not path.startswith("/"):
        return "%s is not absolute; write it from the root, e.g. /%s" % (_show(path), path.lstrip("./"))
    if path == "/":
        if allow_root:
            return None
        return "'/' is the whole root filesystem; give a directory such as %s" % example
    parts = path[1:].split("/")
    if parts[-1] == "":
        return "%s ends with '/'; write %s" % (_show(path), path.rstrip("/") or "/")
    if "" in parts:
        return "%s has an empty component (//); write %s" % (_show(path), "/" + "/".join(p for p in parts if p))
    if "." in parts or ".." in parts:
        return "%s has a '.' or '..' component; write the real path" % _show(path)
    for root in forbidden_roots:
        if root == "/" or path == root or path.startswith(root + "/"):
            return "%s is %s%s, which is not allowed (forbidden roots: %s)" % (
                _show(path), "" if path == root else "under ", root, ", ".join(forbidden_roots))
    return None


# ---------------------------------------------------------------- NFS client specs
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME_RE = re.compile(r"^(?=.{1,253}$)%s(?:\.%s)*$" % (_LABEL, _LABEL))
_WILDCARD_RE = re.compile(r"^[A-Za-z0-9_.*?\[\]!^-]+$")
_NETGROUP_RE = re.compile(r"^@[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_DOTTED_NUMBERS_RE = re.compile(r"^[0-9.]+$")
_CLIENT_FORMS = ("a host name, IP address, network in CIDR form (10.10.0.0/16), wildcard (*.cluster.lan, node0?), "
                 "netgroup (@group) or *")


def _brackets_balanced(text):
    depth = 0
    for char in text:
        if char == "[":
            if depth:
                return False
            depth = 1
        elif char == "]":
            if not depth:
                return False
            depth = 0
    return depth == 0


def client_spec(host):
    """``(kind, None)`` for an NFS client spec of exports(5), else
    ``(None, reason)`` where ``reason`` completes "<where> ...".

    Kinds: ``anonymous`` (``*``), ``netgroup`` (``@name``), ``network`` (CIDR
    with the host bits cleared, via cluster_network.parse_network),
    ``address`` (IPv4/IPv6 literal, IPv6 without brackets), ``wildcard``
    (``*``, ``?`` and ``[...]`` classes in a host name), ``hostname``."""
    if not _is_text(host) or not host:
        return None, "must be %s, got %s" % (_CLIENT_FORMS, _show(host))
    if _CONTROL_RE.search(host) or _SPACE_RE.search(host) or any(char in host for char in "(),\"#"):
        return None, ("%s contains whitespace, '(', ')', ',', '\"' or '#'; give one client per entry and its "
                      "options in options" % _show(host))
    if host == "*":
        return "anonymous", None
    if host.startswith("@"):
        if _NETGROUP_RE.match(host):
            return "netgroup", None
        return None, "%s is not a netgroup: write '@' and the netgroup name, e.g. @compute" % _show(host)
    if "/" in host:
        _net, reason = cn.parse_network(host)
        if reason is not None:
            return None, "'%s' %s" % (host, reason)
        return "network", None
    if host.startswith("[") and host.endswith("]") and cn.ip_version(host[1:-1]) == 6:
        return None, ("'%s': write IPv6 addresses without brackets in exports(5) (brackets are wildcard "
                      "character classes there): %s" % (host, host[1:-1]))
    if cn.ip_version(host):
        return "address", None
    if ":" in host:
        return None, "'%s' is not a valid IPv6 address" % host
    if any(char in host for char in "*?["):
        if _WILDCARD_RE.match(host) and _brackets_balanced(host):
            return "wildcard", None
        return None, ("'%s' is not a valid wildcard host name (letters, digits, '-', '.', the wildcards * and ? "
                      "and [classes])" % host)
    if _DOTTED_NUMBERS_RE.match(host):
        return None, "'%s' is not a valid IPv4 address (four decimal numbers 0-255, no leading zeros)" % host
    if _HOSTNAME_RE.match(host):
        return "hostname", None
    return None, ("'%s' is not a valid host name (dot-separated labels of letters, digits, '-' and '_', at most "
                  "63 characters each)" % host)


# ---------------------------------------------------------------- exports(5) options
# flag option -> (setting, value): two options of one setting with different values contradict
_EXPORT_FLAGS = {
    "rw": ("ro", False), "ro": ("ro", True),
    "sync": ("async", False), "async": ("async", True),
    "secure": ("insecure", False), "insecure": ("insecure", True),
    "wdelay": ("wdelay", True), "no_wdelay": ("wdelay", False),
    "hide": ("nohide", False), "nohide": ("nohide", True),
    "crossmnt": ("crossmnt", True), "nocrossmnt": ("crossmnt", False),
    "subtree_check": ("subtree_check", True), "no_subtree_check": ("subtree_check", False),
    "auth_nlm": ("auth_nlm", True), "secure_locks": ("auth_nlm", True),
    "no_auth_nlm": ("auth_nlm", False), "insecure_locks": ("auth_nlm", False),
    "root_squash": ("root_squash", True), "no_root_squash": ("root_squash", False),
    "all_squash": ("all_squash", True), "no_all_squash": ("all_squash", False),
    "pnfs": ("pnfs", True), "no_pnfs": ("pnfs", False),
    "acl": ("acl", True), "no_acl": ("acl", False),
    "security_label": ("security_label", True),
    "nordirplus": ("nordirplus", True),
    "sign_fh": ("sign_fh", True),
    "mountpoint": ("mountpoint", ""), "mp": ("mountpoint", ""),
}
# settings that may differ per sec= flavour list (exports(5), "RPCSEC_GSS security")
_PER_FLAVOUR = frozenset(("ro", "root_squash", "all_squash"))
_EXPORT_VALUED = ("anonuid", "anongid", "fsid", "sec", "xprtsec", "refer", "replicas", "mountpoint", "mp", "reexport")
#: Every option name exports(5) / nfs-utils' parseopts() knows.
EXPORT_OPTIONS = tuple(sorted(_EXPORT_FLAGS)) + tuple("%s=" % name for name in _EXPORT_VALUED)
_VALUE_EXAMPLES = {"anonuid": "anonuid=65534", "anongid": "anongid=65534", "fsid": "fsid=0", "sec": "sec=krb5p",
                   "xprtsec": "xprtsec=tls", "refer": "refer=/export@nfs02", "replicas": "replicas=/export@nfs02",
                   "reexport": "reexport=auto-fsidnum", "mountpoint": "mountpoint=/srv", "mp": "mp=/srv"}
_SEC_FLAVOURS = ("sys", "krb5", "krb5i", "krb5p", "unix", "null", "none")
_XPRTSEC = ("none", "tls", "mtls")
_REEXPORT = ("auto-fsidnum", "predefined-fsidnum", "none")
_ID_RE = re.compile(r"^(0|[1-9][0-9]{0,9})$")
_FSID_NUM_RE = re.compile(r"^(0|[1-9][0-9]{0,9})$")
_UUID_RE = re.compile(r"^[0-9A-Fa-f:.-]+$")
_FSLOC_RE = re.compile(r"^/[^@:]*@[^@:+]+(\+[^@:+]+)*$")


def _fsid_value(value):
    """('num', '0') for root, ('num', number) or ('uuid', 32 lowercase hex
    digits), else None. An export may have one of each (exports(5): "Setting
    both a small number and a UUID is supported")."""
    if value == "root":
        return ("num", "0")
    if _FSID_NUM_RE.match(value):
        return ("num", str(int(value)))
    if _UUID_RE.match(value):
        digits = re.sub(r"[^0-9A-Fa-f]", "", value).lower()
        if len(digits) == 32:
            return ("uuid", digits)
    return None


def _suggest(name, known):
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    return "; did you mean '%s'?" % close[0] if close else ""


def _export_option_problem(option):
    """None, or the reason an option string is not an exports(5) option."""
    name, sep, value = option.partition("=")
    if not sep:
        if name in _EXPORT_FLAGS:
            return None
        if name in _EXPORT_VALUED:
            return "%s needs a value, e.g. %s" % (name, _VALUE_EXAMPLES[name])
        return _unknown_export_option(name)
    if name in _EXPORT_FLAGS and name not in ("mountpoint", "mp"):
        return "%s takes no value; write %s" % (name, name)
    if name in ("anonuid", "anongid"):
        if _ID_RE.match(value) and int(value) <= 4294967295:
            return None
        return "%s takes a numeric id 0-4294967295, e.g. %s=65534" % (name, name)
    if name == "fsid":
        if _fsid_value(value) is not None:
            return None
        return "fsid takes a number (fsid=0 or fsid=root is the NFSv4 root), root or a UUID of 32 hex digits"
    if name == "sec":
        bad = [flavour for flavour in value.split(":") if flavour not in _SEC_FLAVOURS]
        if not bad:
            return None
        return "sec takes a ':'-separated list of %s" % ", ".join(_SEC_FLAVOURS)
    if name == "xprtsec":
        if all(mode in _XPRTSEC for mode in value.split(":")):
            return None
        return "xprtsec takes a ':'-separated list of %s" % ", ".join(_XPRTSEC)
    if name == "reexport":
        if value in _REEXPORT:
            return None
        return "reexport takes one of %s" % ", ".join(_REEXPORT)
    if name in ("refer", "replicas"):
        if value and all(_FSLOC_RE.match(item) for item in value.split(":")):
            return None
        return "%s takes path@host[+host][:path@host[+host]...], e.g. %s=/export@nfs02" % (name, name)
    if name in ("mountpoint", "mp"):
        if value.startswith("/"):
            return None
        return "%s= takes an absolute path (or write %s alone: the export point must be a mount point)" % (name, name)
    return _unknown_export_option(name)


def _unknown_export_option(name):
    suggestion = _suggest(name, sorted(_EXPORT_FLAGS) + ["%s=" % v for v in _EXPORT_VALUED])
    if suggestion:
        return "is not an exports(5) option" + suggestion
    return "is not an exports(5) option (allowed: %s)" % ", ".join(EXPORT_OPTIONS)


def _export_option_errors(options, where):
    """(errors, fsids) for the options list of one client; fsids: normalised fsid values."""
    errors = []
    fsids = []
    if options is None:
        return errors, fsids
    if not _is_list(options):
        return ["%s must be a list of exports(5) options such as [rw, sync], got %s" % (where, _show(options))], fsids
    sections = [{}]   # one dict setting -> option text per sec= section; [0] also holds the global settings
    global_settings = {}
    valued = {}
    for index, option in enumerate(options):
        at = "%s[%d]" % (where, index)
        if not _is_text(option) or not option:
            errors.append("%s must be an option string such as rw, got %s" % (at, _show(option)))
            continue
        if _CONTROL_RE.search(option) or _SPACE_RE.search(option) or any(char in option for char in ",()"):
            errors.append("%s %s must be one option per list item (no ',', whitespace or parentheses)"
                          % (at, _show(option)))
            continue
        reason = _export_option_problem(option)
        if reason is not None:
            errors.append("%s %s %s" % (at, _show(option), reason) if reason.startswith("is ")
                          else "%s %s: %s" % (at, _show(option), reason))
            continue
        name, sep, value = option.partition("=")
        if name == "sec":
            sections.append({})
            continue
        if sep and name in ("anonuid", "anongid", "fsid", "xprtsec", "reexport", "refer", "replicas", "mountpoint",
                            "mp"):
            key = "mountpoint" if name == "mp" else name
            norm = _fsid_value(value) if name == "fsid" else value
            if name == "fsid":
                key = "fsid_" + norm[0]
            if key in valued:
                if valued[key][1] != norm:
                    errors.append("%s: '%s' and '%s' contradict" % (where, valued[key][0], option))
                continue
            valued[key] = (option, norm)
            if name == "fsid":
                fsids.append((option, norm))
            continue
        setting, flag = _EXPORT_FLAGS[name]
        if setting == "mountpoint":
            if "mountpoint" in valued and valued["mountpoint"][1] != "":
                errors.append("%s: '%s' and '%s' contradict" % (where, valued["mountpoint"][0], option))
            valued.setdefault("mountpoint", (option, ""))
            continue
        table = sections[-1] if setting in _PER_FLAVOUR else global_settings
        if setting in table and table[setting][1] != flag:
            errors.append("%s: '%s' and '%s' contradict" % (where, table[setting][0], option))
        elif setting not in table:
            table[setting] = (option, flag)
    return errors, fsids


def _mode_ok(mode):
    if isinstance(mode, bool):
        return False
    if isinstance(mode, int):
        return 0 <= mode <= 0o7777
    if _is_text(mode):
        if re.match(r"^0*[0-7]{3,4}$", mode):
            return int(mode, 8) <= 0o7777
        return bool(re.match(r"^[ugoa]*[-+=][rwxXst]*(,[ugoa]*[-+=][rwxXst]*)*$", mode))
    return False


def _id_ok(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return _is_text(value) and bool(re.match(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$", value))


_EXPORT_KEYS = ("path", "clients", "owner", "group", "mode")
_CLIENT_KEYS = ("host", "options")


def export_errors(exports, varname="shared_fs_nfs_exports", forbidden_roots=None):
    """One message per problem of ``exports`` (a list of ``{path, clients:
    [{host, options}], owner, group, mode}``), naming ``varname[i]...``; []
    when all are good.

    * ``path``: absolute, normalised (no '.', '..' or empty components, no
      trailing '/'), no whitespace or control characters, not '/', not one of
      ``forbidden_roots`` (default /proc /sys /dev /run /tmp) nor below one,
      and listed once;
    * ``clients``: a non-empty list; ``host`` one of the ``client_spec``
      kinds, each host once per export; ``options`` a list of exports(5)
      options (known names and value forms) without contradictions (rw/ro,
      sync/async, root_squash/no_root_squash, all_squash/no_all_squash,
      secure/insecure, subtree_check/no_subtree_check, ... and two different
      values of fsid=, anonuid=, ...); ro/rw and the squash options may
      differ after each sec= as exports(5) allows;
    * one path per fsid value: a second NFSv4 root (fsid=0 / fsid=root) or
      the same fsid (number or UUID) on two paths is an error; one client may
      give a number and a UUID, as exports(5) allows;
    * ``owner``/``group``: a name or a number; ``mode``: octal (0755, '2775')
      or symbolic (u=rwx,g=rx,o=rx)."""
    roots = _normalise_roots(forbidden_roots)
    if not _is_list(exports):
        return ["%s must be a list of {path, clients: [{host, options}]} dicts, got %s" % (varname, _show(exports))]
    errors = []
    seen_paths = {}
    fsid_owner = {}  # normalised fsid -> (index, path)
    for index, entry in enumerate(exports):
        where = "%s[%d]" % (varname, index)
        if not isinstance(entry, Mapping):
            errors.append("%s must be a dict {path, clients: [{host, options}], owner, group, mode}, got %s"
                          % (where, _show(entry)))
            continue
        errors.extend(_unknown_keys(entry, _EXPORT_KEYS, where))
        path = entry.get("path")
        reason = _path_problem(path, "/home", forbidden_roots=roots)
        if reason is not None:
            errors.append("%s.path %s" % (where, reason))
        elif path in seen_paths:
            errors.append("%s.path '%s' is listed twice (%s[%d] and %s[%d]); put all its clients in one entry"
                          % (where, path, varname, seen_paths[path], varname, index))
        else:
            seen_paths[path] = index
        for key in ("owner", "group"):
            if entry.get(key) is not None and not _id_ok(entry[key]):
                errors.append("%s.%s must be a %s name or a number, got %s"
                              % (where, key, "user" if key == "owner" else "group", _show(entry[key])))
        if entry.get("mode") is not None and not _mode_ok(entry["mode"]):
            errors.append("%s.mode must be an octal mode such as '0755' or a symbolic one such as u=rwx,g=rx,o=rx, "
                          "got %s" % (where, _show(entry["mode"])))
        clients = entry.get("clients")
        if not _is_list(clients) or not clients:
            errors.append("%s.clients must be a non-empty list of {host, options} dicts, got %s"
                          % (where, _show(clients)))
            continue
        hosts = {}
        export_fsids = []
        for cindex, client in enumerate(clients):
            cwhere = "%s.clients[%d]" % (where, cindex)
            if not isinstance(client, Mapping):
                errors.append("%s must be a dict {host, options}, got %s" % (cwhere, _show(client)))
                continue
            errors.extend(_unknown_keys(client, _CLIENT_KEYS, cwhere))
            host = client.get("host")
            _kind, reason = client_spec(host)
            if reason is not None:
                errors.append("%s.host %s" % (cwhere, reason))
            else:
                key = host.lower()
                if key in hosts:
                    errors.append("%s.host '%s' is listed twice (clients[%d] and clients[%d]); give it one options "
                                  "list" % (cwhere, host, hosts[key], cindex))
                else:
                    hosts[key] = cindex
            option_errors, fsids = _export_option_errors(client.get("options"), "%s.options" % cwhere)
            errors.extend(option_errors)
            export_fsids.extend((cwhere, text, norm) for text, norm in fsids)
        for norm in _unique(norm for _w, _t, norm in export_fsids):
            if norm in fsid_owner:
                other_index, other_path = fsid_owner[norm]
                if norm == ("num", "0"):
                    errors.append("%s: fsid=0 (fsid=root, the NFSv4 pseudo-root) is already the fsid of %s[%d] (%s); "
                                  "only one export can be the NFSv4 root" % (where, varname, other_index, other_path))
                else:
                    text = [t for _w, t, n in export_fsids if n == norm][0]
                    errors.append("%s: %s is already the fsid of %s[%d] (%s); every exported path needs its own fsid"
                                  % (where, text, varname, other_index, other_path))
            else:
                fsid_owner[norm] = (index, path)
    return errors


# ---------------------------------------------------------------- /etc/exports.d lines
def _exports_path(path, where):
    """The path as exportfs reads it back: '"', '\\' and '#' as octal escapes
    (nfs-utils writes them so itself), double quotes around whitespace;
    control characters cannot be written."""
    if not _is_text(path) or not path.startswith("/"):
        raise SharedFsError("%s.path must be an absolute path, got %s" % (where, _show(path)))
    if _CONTROL_RE.search(path):
        raise SharedFsError("%s.path %s contains a newline or another control character; it cannot be written to "
                            "an exports file" % (where, _show(path)))
    text = path.replace("\\", "\\134").replace('"', "\\042").replace("#", "\\043")
    if _SPACE_RE.search(text):
        text = '"%s"' % text
    return text


def exports_lines(exports, default_options=EXPORT_DEFAULT_OPTIONS, varname="shared_fs_nfs_exports"):
    """The lines of an exports(5) file for ``exports`` (see ``export_errors``),
    one per path, in order::

        /home 10.10.0.0/16(rw,sync,no_subtree_check,root_squash) *.cluster.lan(ro)

    A client without options gets ``default_options``; repeated options are
    written once. Paths with whitespace are double-quoted and '"', '\\' and
    '#' written as octal escapes (exports(5)). Only what would break the
    file's syntax raises SharedFsError (newlines, a host or option with
    whitespace, ',' or parentheses, missing keys); everything else is
    ``export_errors``' job, which the role runs first."""
    if not _is_list(exports):
        raise SharedFsError("%s must be a list of {path, clients} dicts, got %s" % (varname, _show(exports)))
    if not _is_list(default_options) or not default_options:
        raise SharedFsError("default_options must be a non-empty list of exports(5) options, got %s"
                            % _show(default_options))
    lines = []
    errors = []
    for index, entry in enumerate(exports):
        where = "%s[%d]" % (varname, index)
        if not isinstance(entry, Mapping):
            errors.append("%s must be a dict {path, clients}, got %s" % (where, _show(entry)))
            continue
        try:
            parts = [_exports_path(entry.get("path"), where)]
        except SharedFsError as exc:
            errors.extend(exc.errors)
            continue
        clients = entry.get("clients")
        if not _is_list(clients) or not clients:
            errors.append("%s.clients must be a non-empty list of {host, options} dicts, got %s"
                          % (where, _show(clients)))
            continue
        for cindex, client in enumerate(clients):
            cwhere = "%s.clients[%d]" % (where, cindex)
            host = client.get("host") if isinstance(client, Mapping) else None
            if not _is_text(host) or not host or _SPACE_RE.search(host) or _CONTROL_RE.search(host) \
                    or any(char in host for char in "(),"):
                errors.append("%s.host must be one client spec without whitespace, ',' or parentheses, got %s"
                              % (cwhere, _show(host)))
                continue
            options = client.get("options") or list(default_options)
            bad = [o for o in options if not _is_text(o) or not o or _SPACE_RE.search(o) or _CONTROL_RE.search(o)
                   or any(char in o for char in ",()")] if _is_list(options) else [options]
            if bad:
                errors.append("%s.options must be a list of single exports(5) options, got %s"
                              % (cwhere, _show(client.get("options"))))
                continue
            parts.append("%s(%s)" % (host, ",".join(_dedupe_options(options))))
        lines.append(" ".join(parts))
    if errors:
        raise SharedFsError(errors)
    return lines


def _dedupe_options(options):
    """Options without repeats, in order; a repeat after a sec= option is kept
    (it applies to other flavours)."""
    out = []
    seen = set()
    for option in options:
        if option.startswith("sec="):
            seen = set()
        if option not in seen:
            seen.add(option)
            out.append(option)
    return out


# ---------------------------------------------------------------- mount options
# option -> group; two different options of one group contradict
_MOUNT_GROUPS = {}
for _group in (("ro", "rw"), ("sync", "async"), ("auto", "noauto"), ("exec", "noexec"), ("suid", "nosuid"),
               ("dev", "nodev"), ("atime", "noatime"), ("diratime", "nodiratime"), ("relatime", "norelatime"),
               ("strictatime", "nostrictatime"), ("user", "nouser"), ("acl", "noacl"),
               # nfs(5)
               ("hard", "soft", "softerr"), ("softreval", "nosoftreval"), ("intr", "nointr"), ("ac", "noac"),
               ("cto", "nocto"), ("lock", "nolock"), ("fsc", "nofsc"), ("sharecache", "nosharecache"),
               ("resvport", "noresvport"), ("rdirplus", "nordirplus"), ("bg", "fg"), ("migration", "nomigration"),
               ("tcp", "udp", "rdma"),
               # mount.lustre(8)
               ("flock", "localflock", "noflock"), ("user_xattr", "nouser_xattr")):
    for _option in _group:
        _MOUNT_GROUPS[_option] = _group[0]
_NFS_ONLY = ("vers", "nfsvers", "minorversion")
_MOUNT_OPTION_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*(=[^\s,]*)?$")


def _mount_option_errors(kind, options, where):
    """(errors, cleaned options) for the user options of one mount of ``kind``."""
    if options is None:
        return [], []
    if not _is_list(options):
        return ["%s must be a list of mount options such as [rw, hard], got %s" % (where, _show(options))], []
    errors = []
    cleaned = []
    groups = {}   # group -> option text
    values = {}   # key -> (option text, value)
    nfs = kind in ("nfs", "nfs4")
    for index, option in enumerate(options):
        at = "%s[%d]" % (where, index)
        if not _is_text(option) or not option:
            errors.append("%s must be a mount option string such as rw, got %s" % (at, _show(option)))
            continue
        if not _MOUNT_OPTION_RE.match(option):
            errors.append("%s %s must be one mount option per list item (letters, digits, '_', '.', '-', then "
                          "optionally =value; no ',' or whitespace)" % (at, _show(option)))
            continue
        if option in cleaned:
            continue
        name, sep, value = option.partition("=")
        if name in _NFS_ONLY and not nfs:
            errors.append("%s '%s' is an NFS option; fstype %s does not take it" % (at, option, kind))
            continue
        if nfs and name in ("vers", "nfsvers"):
            if value not in NFS_VERSIONS:
                errors.append("%s '%s': the NFS version must be one of %s" % (at, option, ", ".join(NFS_VERSIONS)))
                continue
            if kind == "nfs4" and name == "nfsvers":
                errors.append("%s '%s': fstype nfs4 does not take nfsvers= (nfs(5)); write vers=%s or use fstype nfs"
                              % (at, option, value))
                continue
            if kind == "nfs4" and value == "3":
                errors.append("%s: '%s' contradicts fstype nfs4 (NFSv4 only); use fstype nfs for NFSv3"
                              % (where, option))
                continue
        if nfs and name == "minorversion" and value not in ("0", "1", "2"):
            errors.append("%s '%s': minorversion must be 0, 1 or 2" % (at, option))
            continue
        if kind == "beegfs" and name == "cfgFile" and not value.startswith("/"):
            errors.append("%s '%s': cfgFile takes the absolute path of a beegfs-client.conf" % (at, option))
            continue
        if sep:
            key = "vers" if name in ("vers", "nfsvers") else name
            if key in values and values[key][1] != value:
                errors.append("%s: '%s' and '%s' contradict" % (where, values[key][0], option))
                continue
            values.setdefault(key, (option, value))
        elif option in _MOUNT_GROUPS:
            group = _MOUNT_GROUPS[option]
            if group in groups and groups[group] != option:
                errors.append("%s: '%s' and '%s' contradict" % (where, groups[group], option))
                continue
            groups.setdefault(group, option)
        cleaned.append(option)
    if nfs:
        vers = values.get("vers")
        minor = values.get("minorversion")
        if minor and vers:
            if vers[1] == "3" or ("." in vers[1] and vers[1].split(".")[1] != minor[1]):
                errors.append("%s: '%s' and '%s' contradict" % (where, vers[0], minor[0]))
        v4 = kind == "nfs4" or (vers is not None and vers[1].startswith("4"))
        udp = groups.get("tcp") == "udp" or (values.get("proto") or ("", ""))[1] in ("udp", "udp6")
        if v4 and udp:
            errors.append("%s: NFSv4 does not run over UDP (nfs(5)); drop udp or use vers=3" % where)
    return errors, cleaned


def _idle_timeout(value, where):
    if value is None:
        return None
    number = _nonneg_int(value)
    if number is None:
        raise SharedFsError("%s must be a number of seconds 0 or more (or null for none), got %s"
                            % (where, _show(value)))
    return number


def mount_options(kind, options=None, automount=False, netdev=True, nofail=False,
                  idle_timeout=DEFAULT_IDLE_TIMEOUT, varname="options"):
    """The fstab option string of one mount of ``kind`` (nfs, nfs4, beegfs,
    lustre): ``options`` (a list) without repeats, in order, then ``_netdev``
    (``netdev``: all four are network filesystems, so systemd orders them
    after the network), ``nofail``, and with ``automount``
    ``x-systemd.automount`` plus ``x-systemd.idle-timeout=<idle_timeout>``
    (600 s by default, left out for ``None``). Options already given are not
    repeated (an ``x-systemd.idle-timeout=`` in ``options`` wins).

    Raises SharedFsError naming ``varname[i]`` for a bad option and for
    contradictions: ro/rw, sync/async, hard/soft/softerr, ac/noac, lock/nolock,
    flock/localflock/noflock, ... two values of one key (``timeo=600`` and
    ``timeo=100``; ``vers=`` and ``nfsvers=`` are one key), an NFS version
    other than 3, 4, 4.0, 4.1, 4.2, ``vers=3`` or ``nfsvers=`` with fstype
    nfs4, ``minorversion=`` against ``vers=``, NFSv4 over UDP, NFS options on
    beegfs/lustre, a relative ``cfgFile=``."""
    if kind not in MOUNT_FSTYPES:
        raise SharedFsError("fstype must be one of %s, got %s" % (", ".join(MOUNT_FSTYPES), _show(kind)))
    errors, cleaned = _mount_option_errors(kind, options, varname)
    try:
        timeout = _idle_timeout(idle_timeout, "idle_timeout")
    except SharedFsError as exc:
        errors.extend(exc.errors)
        timeout = None
    if errors:
        raise SharedFsError(errors)
    result = list(cleaned)
    if netdev:
        result.append("_netdev")
    if nofail:
        result.append("nofail")
    if automount:
        result.append("x-systemd.automount")
        if timeout is not None and not any(o.startswith("x-systemd.idle-timeout=") for o in result):
            result.append("x-systemd.idle-timeout=%d" % timeout)
    result = _unique(result)
    return ",".join(result) if result else "defaults"


# ---------------------------------------------------------------- mount sources
_NID_RE = re.compile(r"^([^@]+)@([a-z0-9]+)$")
_NET_RE = re.compile(r"^(tcp|o2ib)([0-9]*)$")
_FSNAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,8}$")
_ZONE_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def _nid_problem(nid):
    match = _NID_RE.match(nid)
    if not match:
        if "@" not in nid and nid:
            return "NID '%s' has no network; write %s@tcp or %s@o2ib" % (nid, nid, nid)
        return "'%s' is not a NID (address@network, e.g. 10.0.0.1@o2ib or 10.0.0.1@tcp1)" % nid
    addr, net = match.groups()
    if not _NET_RE.match(net):
        return "NID '%s': the network must be tcp or o2ib, optionally numbered (o2ib1, tcp2), got %s" % (nid, net)
    if cn.ip_version(addr) != 4:
        return "NID '%s': %s is not an IPv4 address" % (nid, addr)
    return None


def _nfs_src_problem(src):
    if src.startswith("["):
        end = src.find("]")
        if end < 0:
            return "has no closing ']' after the IPv6 address"
        inner, rest = src[1:end], src[end + 1:]
        address, _pct, zone = inner.partition("%")
        if cn.ip_version(address) != 6:
            return "is not server:/export: only IPv6 addresses go in square brackets (write IPv4 and host names bare)"
        if _pct and not _ZONE_RE.match(zone):
            return "has a bad interface name after '%' (e.g. [fe80::10%eth0]:/home)"
        if not _pct and cn.netaddr.IPAddress(address).is_link_local():
            return "is a link-local IPv6 address without an interface (nfs(5)); write e.g. [%s%%eth0]:/home" % address
        if not rest.startswith(":"):
            return "is not server:/export (e.g. [fd00::10]:/home)"
        export = rest[1:]
    else:
        split = src.find(":/")
        if split < 0:
            return "is not server:/export (e.g. nfs01:/home, 10.10.0.5:/home or [fd00::10]:/home)"
        server, export = src[:split], src[split + 1:]
        if cn.ip_version(server) == 6:
            return "has an IPv6 server address: write it in square brackets ([%s]:%s)" % (server, export)
        if cn.ip_version(server) != 4:
            if _DOTTED_NUMBERS_RE.match(server):
                return "has a server '%s' that is not a valid IPv4 address" % server
            if not _HOSTNAME_RE.match(server):
                return ("has a server '%s' that is neither a host name, an IPv4 address nor an IPv6 address in square "
                        "brackets" % server)
    reason = _path_problem(export, "/home", allow_root=True)
    if reason is not None:
        return "has a bad export path: %s" % reason
    return None


def _lustre_src_problem(src):
    split = src.find(":/")
    if split < 0:
        return "is not mgsnid[,mgsnid][:mgsnid...]:/fsname (e.g. 10.0.0.1@o2ib:10.0.0.2@o2ib:/lustre)"
    mgs, rest = src[:split], src[split + 2:]
    for node in mgs.split(":"):
        for nid in node.split(","):
            reason = _nid_problem(nid)
            if reason is not None:
                return "has a bad MGS %s" % reason
    fsname, slash, subdir = rest.partition("/")
    if not _FSNAME_RE.match(fsname):
        return "has fsname '%s'; a Lustre fsname is 1-8 letters, digits, '_' or '-'" % fsname
    if slash and not subdir:
        return "ends with '/'; write %s:/%s" % (mgs, fsname)
    if slash:
        reason = _path_problem("/" + subdir, "/%s/projects" % fsname)
        if reason is not None:
            return "has a bad subdirectory: %s" % reason
    return None


def _src_problem(fstype, src):
    if not _is_text(src) or not src:
        examples = {"nfs": "nfs01:/home", "nfs4": "nfs01:/home", "beegfs": "beegfs_nodev",
                    "lustre": "10.0.0.1@o2ib:/lustre"}
        return "must be a string such as %s, got %s" % (examples[fstype], _show(src))
    if _CONTROL_RE.search(src) or _SPACE_RE.search(src):
        return "%s contains whitespace or control characters" % _show(src)
    if fstype == "beegfs":
        if src != "beegfs_nodev":
            return ("'%s' must be beegfs_nodev (BeeGFS finds its servers through the cfgFile= option)" % src)
        return None
    reason = _nfs_src_problem(src) if fstype in ("nfs", "nfs4") else _lustre_src_problem(src)
    return None if reason is None else "'%s' %s" % (src, reason)


_MOUNT_KEYS = ("src", "path", "fstype", "options", "automount", "nofail", "idle_timeout", "state")


def mount_errors(mounts, varname="shared_fs_mounts", forbidden_roots=None):
    """One message per problem of ``mounts`` (a list of ``{src, path, fstype,
    options, automount, nofail, idle_timeout, state}``), naming
    ``varname[i].key``; [] when all are good.

    * ``fstype``: nfs, nfs4, beegfs or lustre;
    * ``src``: nfs/nfs4 ``server:/export`` (server a host name, an IPv4
      address or an IPv6 address in square brackets, link-local ones with
      ``%interface``; export path absolute and normalised, '/' allowed);
      lustre ``mgsnid[,mgsnid][:mgsnid...]:/fsname[/subdir]`` with NIDs
      ``<IPv4>@tcp[N]`` / ``<IPv4>@o2ib[N]`` and an fsname of 1-8 letters,
      digits, '_' or '-'; beegfs ``beegfs_nodev`` with an absolute
      ``cfgFile=`` among the options;
    * ``path``: the mount point, absolute, normalised, no whitespace, not '/'
      nor under a forbidden root, listed once;
    * ``options``: as ``mount_options`` checks them;
    * ``automount``/``nofail``: booleans; ``idle_timeout``: seconds 0 or
      more; ``state``: mounted, present or absent."""
    roots = _normalise_roots(forbidden_roots)
    if not _is_list(mounts):
        return ["%s must be a list of {src, path, fstype, options} dicts, got %s" % (varname, _show(mounts))]
    errors = []
    seen = {}
    for index, entry in enumerate(mounts):
        where = "%s[%d]" % (varname, index)
        if not isinstance(entry, Mapping):
            errors.append("%s must be a dict {src, path, fstype, options, automount, state}, got %s"
                          % (where, _show(entry)))
            continue
        errors.extend(_unknown_keys(entry, _MOUNT_KEYS, where))
        fstype = entry.get("fstype")
        if fstype not in MOUNT_FSTYPES:
            errors.append("%s.fstype must be one of %s, got %s" % (where, ", ".join(MOUNT_FSTYPES), _show(fstype)))
        else:
            reason = _src_problem(fstype, entry.get("src"))
            if reason is not None:
                errors.append("%s.src %s" % (where, reason))
            option_errors, cleaned = _mount_option_errors(fstype, entry.get("options"), "%s.options" % where)
            errors.extend(option_errors)
            if fstype == "beegfs" and not option_errors and not any(o.startswith("cfgFile=") for o in cleaned):
                errors.append("%s.options needs cfgFile=<absolute path of a beegfs-client.conf> for fstype beegfs, "
                              "e.g. cfgFile=/etc/beegfs/beegfs-client.conf" % where)
        path = entry.get("path")
        reason = _path_problem(path, "/shared/home", forbidden_roots=roots)
        if reason is not None:
            errors.append("%s.path %s" % (where, reason))
        elif path in seen:
            errors.append("%s.path '%s' is listed twice (%s[%d] and %s[%d]); one mount point holds one filesystem"
                          % (where, path, varname, seen[path], varname, index))
        else:
            seen[path] = index
        for key in ("automount", "nofail"):
            if key in entry and entry[key] is not None and not isinstance(entry[key], bool):
                errors.append("%s.%s must be true or false, got %s" % (where, key, _show(entry[key])))
        if entry.get("idle_timeout") is not None and _nonneg_int(entry["idle_timeout"]) is None:
            errors.append("%s.idle_timeout must be a number of seconds 0 or more, got %s"
                          % (where, _show(entry["idle_timeout"])))
        state = entry.get("state", "mounted")
        if state not in MOUNT_STATES:
            errors.append("%s.state must be one of %s, got %s" % (where, ", ".join(MOUNT_STATES), _show(state)))
    return errors


# ---------------------------------------------------------------- autofs
# fstab / systemd options that mean nothing to an autofs map entry
_NOT_FOR_AUTOFS = re.compile(r"^(_netdev|nofail|auto|noauto|defaults|bg|fg|x-.*|comment=.*)$")
_AUTOFS_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


def autofs_map_lines(mounts, mount_root=None, direct=False, varname="shared_fs_mounts"):
    """The lines of an autofs map (autofs(5) sun format) for ``mounts`` (as
    ``mount_errors`` wants them; entries with state absent are left out).

    Indirect map (default): the key is the mount point's last component and
    every mount point must be directly under ``mount_root`` (default: the
    parent of the first one), the directory the master map line mounts the
    map on::

        home -fstype=nfs4,rw,hard nfs01:/home
        scratch -fstype=lustre,flock :10.0.0.1@o2ib:/lustre

    Direct map (``direct``, master map line ``/- <map>``, no ``mount_root``):
    the key is the full mount point (``/shared/home -fstype=nfs4,...``).

    Options are the mount's own minus fstab-only ones (_netdev, nofail,
    noauto, x-systemd.*, ...); Lustre and BeeGFS locations get a leading ':'
    (autofs strips it and hands the rest to mount -t unchanged). Raises
    SharedFsError with every problem (the ``mount_errors`` ones included)."""
    errors = mount_errors(mounts, varname)
    if errors:
        raise SharedFsError(errors)
    wanted = [(i, m) for i, m in enumerate(mounts) if m.get("state", "mounted") != "absent"]
    if direct and mount_root is not None:
        raise SharedFsError("mount_root is for indirect maps; the keys of a direct map are the full mount points "
                            "(its master map line is /- <map>)")
    if mount_root is None and wanted and not direct:
        mount_root = posixpath.dirname(wanted[0][1]["path"])
    if wanted and not direct:
        reason = _path_problem(mount_root, "/shared")
        if reason is not None:
            raise SharedFsError("mount_root %s" % reason)
    lines = []
    for index, entry in wanted:
        path = entry["path"]
        key = path if direct else posixpath.basename(path)
        if not direct and posixpath.dirname(path) != mount_root:
            errors.append("%s[%d].path '%s' is not directly under the autofs mount root %s (an indirect map key is "
                          "one directory component)" % (varname, index, path, mount_root))
            continue
        if not all(_AUTOFS_KEY_RE.match(part) for part in key.strip("/").split("/")):
            errors.append("%s[%d].path '%s': '%s' cannot be an autofs map key (letters, digits, '_', '.', '+', '-'%s)"
                          % (varname, index, path, key, ", '/' between components" if direct else ""))
            continue
        fstype = entry["fstype"]
        options = ["fstype=%s" % fstype] + [o for o in _unique(entry.get("options") or [])
                                            if not _NOT_FOR_AUTOFS.match(o)]
        location = entry["src"] if fstype in ("nfs", "nfs4") else ":" + entry["src"]
        if any(char in location for char in "$&\"\\"):
            errors.append("%s[%d].src '%s' has '$', '&', '\"' or '\\', which autofs substitutes or unquotes"
                          % (varname, index, entry["src"]))
            continue
        lines.append("%s -%s %s" % (key, ",".join(options), location))
    if errors:
        raise SharedFsError(errors)
    return lines


def autofs_master_line(mount_root, map_file, timeout=DEFAULT_IDLE_TIMEOUT, options=None):
    """One auto.master line (a file in /etc/auto.master.d/ ending in .autofs)::

        /shared /etc/auto.hpcai --timeout=600

    ``mount_root``: where autofs mounts the indirect map (absolute,
    normalised, not '/' nor under /proc, /sys, /dev, /run, /tmp), or ``/-``
    for a direct map;
    ``map_file``: the map's absolute path; ``timeout``: seconds an idle mount
    stays (0: never expire); ``options``: further master map options such as
    ``--ghost`` or ``nosuid``."""
    errors = []
    reason = None if mount_root == "/-" else _path_problem(mount_root, "/shared", forbidden_roots=FORBIDDEN_ROOTS)
    if reason is not None:
        errors.append("mount_root %s (or /- for a direct map)" % reason)
    reason = _path_problem(map_file, "/etc/auto.hpcai")
    if reason is not None:
        errors.append("map_file %s" % reason)
    number = _nonneg_int(timeout)
    if number is None:
        errors.append("timeout must be a number of seconds 0 or more (0: never expire), got %s" % _show(timeout))
    extra = options or []
    if not _is_list(extra) or not all(_is_text(o) and o and not _SPACE_RE.search(o) for o in extra):
        errors.append("options must be a list of master map options without whitespace, e.g. [--ghost], got %s"
                      % _show(options))
        extra = []
    if errors:
        raise SharedFsError(errors)
    return " ".join([mount_root, map_file, "--timeout=%d" % number] + list(extra))


# ---------------------------------------------------------------- LNet
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,14}$")
_LNET_ITEM_RE = re.compile(r"^(?P<type>[a-z][a-z0-9]*?)(?P<num>[0-9]*)"
                           r"(?:\((?P<ifs>[^()]*)\))?(?:\[(?P<cpts>[^\[\]]*)\])?$")
_LNET_EXAMPLE = "o2ib0(ib0),tcp0(eth0)"


def _split_top_level(text):
    """Split at commas outside () and []; None when they are unbalanced."""
    parts = []
    depth = 0
    current = ""
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
            if depth < 0:
                return None
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if depth != 0:
        return None
    parts.append(current)
    return parts


def lnet_errors(networks, varname="shared_fs_lnet_networks"):
    """One message per problem of an LNet ``networks=`` value such as
    ``o2ib0(ib0),tcp0(eth1)``: comma-separated networks
    ``type[number][(interface[,interface...])][[cpts]]`` with type tcp or o2ib
    (``tcp`` and ``tcp0`` are the same network, which may appear once),
    interface names of at most 15 characters; no whitespace. [] when good."""
    if not _is_text(networks) or not networks:
        return ["%s must be a string such as %s, got %s" % (varname, _LNET_EXAMPLE, _show(networks))]
    if _SPACE_RE.search(networks) or _CONTROL_RE.search(networks):
        return ["%s %s contains whitespace; write the networks without spaces, e.g. %s"
                % (varname, _show(networks), _LNET_EXAMPLE)]
    items = _split_top_level(networks)
    if items is None:
        return ["%s '%s' has unbalanced parentheses or brackets (e.g. %s)" % (varname, networks, _LNET_EXAMPLE)]
    errors = []
    seen = {}
    for item in items:
        if not item:
            errors.append("%s '%s' has an empty network (a leading, trailing or doubled ',')" % (varname, networks))
            continue
        match = _LNET_ITEM_RE.match(item)
        if not match:
            errors.append("%s: network '%s' is not type[number](interfaces), e.g. o2ib0(ib0) or tcp1(eth1,eth2)"
                          % (varname, item))
            continue
        if match.group("type") not in LNET_TYPES:
            errors.append("%s: network '%s' has type '%s'; this collection configures %s, optionally numbered "
                          "(o2ib1, tcp2)" % (varname, item, match.group("type"), " and ".join(LNET_TYPES)))
            continue
        name = "%s%d" % (match.group("type"), int(match.group("num") or 0))
        if name in seen:
            errors.append("%s: network '%s' is listed twice ('%s' and '%s' are both %s)"
                          % (varname, name, seen[name], item, name))
        else:
            seen[name] = item
        ifs = match.group("ifs")
        if ifs is not None:
            names = ifs.split(",")
            bad = [n for n in names if not _IFNAME_RE.match(n)]
            if not ifs or bad:
                errors.append("%s: network '%s' needs interface names (1-15 letters, digits, '_', '.', ':', '-') "
                              "inside the parentheses" % (varname, item))
            elif len(set(names)) != len(names):
                errors.append("%s: network '%s' lists an interface twice" % (varname, item))
        cpts = match.group("cpts")
        if cpts is not None and not re.match(r"^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$", cpts):
            errors.append("%s: network '%s' has a bad CPT list [%s] (e.g. [0,1] or [0-3])" % (varname, item, cpts))
    return errors


def _fabric_interfaces(fabric_fact):
    fact = fabric_fact if isinstance(fabric_fact, Mapping) else {}
    entries = []
    for entry in fact.get("interfaces") or []:
        if isinstance(entry, Mapping) and _is_text(entry.get("name")) and entry.get("name"):
            entries.append(entry)
    return entries


def lnet_networks(fabric_fact, preferred=LNET_TYPES, interfaces=None, tcp_interface="", host_interfaces=None,
                  varname="shared_fs_lnet_interfaces"):
    """The LNet ``networks=`` value of /etc/modprobe.d/lustre.conf: one
    network, of the first type in ``preferred`` that has an interface:

    * ``o2ib``: ``o2ib0(<if>)`` on the first IPoIB interface of the
      ``hpcai_fabric`` fact whose operstate is up (P_Key children left out),
      else on the first RoCE one that is up (ko2iblnd drives both);
    * ``tcp``: ``tcp0(<tcp_interface>)`` when ``tcp_interface`` (the
      cluster's Ethernet interface) is given.

    So with the default preference an InfiniBand or RoCE node gets
    ``o2ib0(ib0)`` and only a node without one ``tcp0(eth0)``: no Ethernet
    network next to o2ib unless ``interfaces`` asks for one.

    ``interfaces`` (``{network: interface or [interfaces]}``, e.g.
    ``{o2ib0: ib0, tcp0: eth0}`` -> ``o2ib0(ib0),tcp0(eth0)``, or
    ``{o2ib1: [ib0, ib1]}`` for Multi-Rail), when not empty, gives the
    networks instead, in its order (``o2ib`` is written ``o2ib0``). Its o2ib
    interfaces must be IPoIB or RoCE interfaces of the fact, its tcp ones
    interfaces of ``host_interfaces`` (ansible_facts['interfaces']) when that
    is given. Raises SharedFsError naming ``varname`` for bad entries,
    interfaces not in the fact, and when no network is found."""
    entries = _fabric_interfaces(fabric_fact)
    by_name = dict((e["name"], e) for e in entries)
    rdma_names = [e["name"] for e in entries if e.get("kind") in ("ipoib", "roce")]
    errors = []
    if _is_text(preferred):
        preferred = [preferred]
    if not _is_list(preferred) or not preferred or any(t not in LNET_TYPES for t in preferred):
        raise SharedFsError("preferred must be a list of LNet network types (%s), got %s"
                            % (", ".join(LNET_TYPES), _show(preferred)))
    preferred = _unique(preferred)
    if host_interfaces is not None and not _is_list(host_interfaces):
        raise SharedFsError("host_interfaces must be a list of interface names (ansible_facts['interfaces']), got %s"
                            % _show(host_interfaces))
    explicit = []  # (type, name, [ifs])
    if interfaces:
        if not isinstance(interfaces, Mapping):
            raise SharedFsError("%s must be a dict {network: interface} such as {o2ib0: ib0}, got %s"
                                % (varname, _show(interfaces)))
        names_seen = {}
        for key, value in interfaces.items():
            at = "%s[%s]" % (varname, _show(key))
            match = _NET_RE.match(key) if _is_text(key) else None
            if not match:
                errors.append("%s: %s is not an LNet network name (tcp or o2ib, optionally numbered: o2ib0, tcp1)"
                              % (varname, _show(key)))
                continue
            name = "%s%d" % (match.group(1), int(match.group(2) or 0))
            if name in names_seen:
                errors.append("%s: %s and %s are the same network %s" % (varname, _show(names_seen[name]),
                                                                         _show(key), name))
                continue
            names_seen[name] = key
            ifs = [value] if _is_text(value) else value
            if not _is_list(ifs) or not ifs or not all(_is_text(i) and _IFNAME_RE.match(i) for i in ifs):
                errors.append("%s must be an interface name or a list of them, e.g. ib0 or [ib0, ib1], got %s"
                              % (at, _show(value)))
                continue
            for ifname in ifs:
                if match.group(1) == "o2ib":
                    if ifname not in by_name:
                        errors.append("%s: interface %s is not in the hpcai_fabric fact (%s)" % (
                            at, ifname, "its IPoIB/RoCE interfaces: %s" % ", ".join(rdma_names)
                            if rdma_names else "it lists no IPoIB or RoCE interface"))
                    elif by_name[ifname].get("kind") not in ("ipoib", "roce"):
                        errors.append("%s: interface %s is %s, not IPoIB or RoCE; ko2iblnd needs one of those (%s)"
                                      % (at, ifname, by_name[ifname].get("kind"),
                                         ", ".join(rdma_names) if rdma_names else "this host has none"))
                elif host_interfaces is not None and ifname not in host_interfaces:
                    errors.append("%s: interface %s is not on this host (interfaces: %s)"
                                  % (at, ifname, ", ".join(sorted(host_interfaces, key=_natural))))
            explicit.append((match.group(1), name, list(ifs)))
    if tcp_interface:
        if not _is_text(tcp_interface) or not _IFNAME_RE.match(tcp_interface):
            errors.append("tcp_interface must be an interface name such as eth0, got %s" % _show(tcp_interface))
        elif host_interfaces is not None and tcp_interface not in host_interfaces:
            errors.append("tcp_interface %s is not on this host (interfaces: %s)"
                          % (tcp_interface, ", ".join(sorted(host_interfaces, key=_natural))))
    if errors:
        raise SharedFsError(errors)
    result = [(name, ifs) for _t, name, ifs in explicit]
    for net_type in preferred if not result else []:
        if net_type == "o2ib":
            up = [e for e in entries if e.get("operstate") == "up" and not e.get("parent")]
            chosen = [e for e in up if e.get("kind") == "ipoib"] or [e for e in up if e.get("kind") == "roce"]
            if chosen:
                result = [("o2ib0", [chosen[0]["name"]])]
                break
        elif tcp_interface:
            result = [("tcp0", [tcp_interface])]
            break
    if not result:
        reasons = {"o2ib": "no IPoIB or RoCE interface is up in the hpcai_fabric fact",
                   "tcp": "no tcp interface was given"}
        raise SharedFsError("%s: no LNet network for %s: %s; set %s, e.g. {o2ib0: ib0} or {tcp0: eth0}"
                            % (varname, ", ".join(preferred), " and ".join(reasons[t] for t in preferred), varname))
    return ",".join("%s(%s)" % (name, ",".join(ifs)) for name, ifs in result)
