"""Shared filesystem decisions: module_utils/shared_fs.py (NFS exports, client
mounts, autofs maps, LNet networks) and the hpcai.cluster shared_fs filters
(plugins/filter/shared_fs.py).

Expected lines and messages below are written by hand from exports(5), nfs(5),
mount.lustre(8), autofs(5) and the Lustre manual, not computed by the code.
"""
from __future__ import annotations

import inspect
import pathlib

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.hpcai.cluster.plugins.filter import shared_fs as flt
from ansible_collections.hpcai.cluster.plugins.module_utils import cluster_network as cn
from ansible_collections.hpcai.cluster.plugins.module_utils import shared_fs as sfs
from render_helpers import evaluate

FILTER_DIR = pathlib.Path(__file__).resolve().parents[2] / "plugins" / "filter"
EXP = "shared_fs_nfs_exports"
MNT = "shared_fs_mounts"
FORBIDDEN = "(forbidden roots: /proc, /sys, /dev, /run, /tmp)"
CIDR = "is not an IPv4/IPv6 network in CIDR form (e.g. 10.10.0.0/16 or fd00:10::/64)"
CLIENT_FORMS = ("a host name, IP address, network in CIDR form (10.10.0.0/16), wildcard (*.cluster.lan, node0?), "
                "netgroup (@group) or *")
BAD_HOSTNAME = ("is not a valid host name (dot-separated labels of letters, digits, '-' and '_', at most 63 "
                "characters each)")
BAD_WILDCARD = "is not a valid wildcard host name (letters, digits, '-', '.', the wildcards * and ? and [classes])"


def export(options=None, host="10.10.0.0/16", path="/home"):
    client = {"host": host}
    if options is not None:
        client["options"] = options
    return {"path": path, "clients": [client]}


def raises(func, *args, **kwargs):
    with pytest.raises(sfs.SharedFsError) as err:
        func(*args, **kwargs)
    assert isinstance(err.value, ValueError)
    return err.value.errors


# ================================================================ NFS client specs
@pytest.mark.parametrize("host,kind", [
    ("*", "anonymous"),
    ("@compute", "netgroup"),
    ("@hpc.users", "netgroup"),
    ("10.10.0.0/16", "network"),
    ("10.10.1.128/25", "network"),
    ("fd00:10::/64", "network"),
    ("10.10.1.5", "address"),
    ("fd00:10::5", "address"),
    ("node01", "hostname"),
    ("node01.cluster.lan", "hostname"),
    ("GPU-7.cluster.lan", "hostname"),
    ("gpu_01", "hostname"),
    ("*.cluster.lan", "wildcard"),
    ("node0?", "wildcard"),
    ("node[0-9]", "wildcard"),
    ("login[12].cluster.lan", "wildcard"),
])
def test_client_spec_kinds(host, kind):
    assert sfs.client_spec(host) == (kind, None)


@pytest.mark.parametrize("host,reason", [
    ("10.10.0.1/16", "'10.10.0.1/16' has host bits set (the network is 10.10.0.0/16)"),
    ("fd00:10::1/64", "'fd00:10::1/64' has host bits set (the network is fd00:10::/64)"),
    ("10.10.0.0/33", "'10.10.0.0/33' %s: an IPv4 prefix length is 0-32" % CIDR),
    ("10.10.0.0/255.255.0.0", "'10.10.0.0/255.255.0.0' %s" % CIDR),
    ("10.10.0.0/", "'10.10.0.0/' %s" % CIDR),
    ("node01/24", "'node01/24' %s" % CIDR),
    ("[fd00::1]", "'[fd00::1]': write IPv6 addresses without brackets in exports(5) (brackets are wildcard character "
                  "classes there): fd00::1"),
    ("fd00:::1", "'fd00:::1' is not a valid IPv6 address"),
    ("10.10.0", "'10.10.0' is not a valid IPv4 address (four decimal numbers 0-255, no leading zeros)"),
    ("10.10.0.256", "'10.10.0.256' is not a valid IPv4 address (four decimal numbers 0-255, no leading zeros)"),
    ("010.10.0.1", "'010.10.0.1' is not a valid IPv4 address (four decimal numbers 0-255, no leading zeros)"),
    ("@", "'@' is not a netgroup: write '@' and the netgroup name, e.g. @compute"),
    ("@ops!", "'@ops!' is not a netgroup: write '@' and the netgroup name, e.g. @compute"),
    ("node[0-9", "'node[0-9' %s" % BAD_WILDCARD),
    ("node]*", "'node]*' %s" % BAD_WILDCARD),
    ("no$de*", "'no$de*' %s" % BAD_WILDCARD),
    ("-node01", "'-node01' %s" % BAD_HOSTNAME),
    ("node01.", "'node01.' %s" % BAD_HOSTNAME),
    ("a" * 64, "'%s' %s" % ("a" * 64, BAD_HOSTNAME)),
    ("node 01", "'node 01' contains whitespace, '(', ')', ',', '\"' or '#'; give one client per entry and its options "
                "in options"),
    ("node01(rw)", "'node01(rw)' contains whitespace, '(', ')', ',', '\"' or '#'; give one client per entry and its "
                   "options in options"),
    ("node01,node02", "'node01,node02' contains whitespace, '(', ')', ',', '\"' or '#'; give one client per entry and "
                      "its options in options"),
    ("", "must be %s, got ''" % CLIENT_FORMS),
    (None, "must be %s, got None" % CLIENT_FORMS),
    (["node01"], "must be %s, got ['node01']" % CLIENT_FORMS),
])
def test_client_spec_bad(host, reason):
    assert sfs.client_spec(host) == (None, reason)


# ================================================================ export_errors: good input
def test_good_exports():
    exports = [
        {"path": "/home", "owner": "root", "group": 0, "mode": "0755", "clients": [
            {"host": "10.10.0.0/16", "options": ["rw", "sync", "no_subtree_check", "root_squash"]},
            {"host": "*.cluster.lan", "options": ["ro"]},
            {"host": "@admins", "options": ["rw", "no_root_squash"]},
            {"host": "fd00:10::/64"},
        ]},
        {"path": "/srv/nfs4", "mode": 0o755, "clients": [
            {"host": "*", "options": ["ro", "fsid=0", "crossmnt", "sec=krb5p:krb5i", "rw", "sec=sys", "ro",
                                      "all_squash", "anonuid=65534", "anongid=65534"]}]},
        {"path": "/srv/apps", "owner": "apps", "mode": "u=rwx,g=rx,o=rx", "clients": [
            {"host": "node[0-9]", "options": ["ro", "fsid=6f3c1f0e-8a3b-4c2d-9e8f-0a1b2c3d4e5f", "mountpoint",
                                              "insecure", "insecure_locks", "no_wdelay", "nohide", "pnfs",
                                              "security_label", "nordirplus", "xprtsec=tls:mtls"]},
            {"host": "login01.cluster.lan", "options": ["rw", "fsid=6F3C1F0E8A3B4C2D9E8F0A1B2C3D4E5F",
                                                        "mp=/srv/apps", "refer=/apps@nfs02+nfs03:/apps@nfs04",
                                                        "replicas=/apps@nfs02", "reexport=none", "acl"]},
            {"host": "10.10.1.5", "options": ["rw", "fsid=7", "auth_nlm", "secure_locks", "rw"]},
        ]},
        {"path": "/procfs", "clients": [{"host": "node0?", "options": ["fsid=1"]}]},
        {"path": "/scratch/project-a_1.b", "clients": [{"host": "node01"}]},
    ]
    assert sfs.export_errors(exports) == []
    assert sfs.export_errors([]) == []


def test_a_number_and_a_uuid_fsid_may_be_given_together():
    # exports(5): "Setting both a small number and a UUID is supported"
    uuid = "fsid=6f3c1f0e-8a3b-4c2d-9e8f-0a1b2c3d4e5f"
    assert sfs.export_errors([export(["fsid=7", uuid])]) == []
    assert sfs.export_errors([export(["fsid=7", uuid]), export(["fsid=8"], path="/srv")]) == []


# ================================================================ export_errors: contradictions
@pytest.mark.parametrize("options,first,second", [
    (["rw", "ro"], "rw", "ro"),
    (["ro", "sync", "rw"], "ro", "rw"),
    (["sync", "async"], "sync", "async"),
    (["root_squash", "no_root_squash"], "root_squash", "no_root_squash"),
    (["no_all_squash", "all_squash"], "no_all_squash", "all_squash"),
    (["secure", "insecure"], "secure", "insecure"),
    (["subtree_check", "no_subtree_check"], "subtree_check", "no_subtree_check"),
    (["wdelay", "no_wdelay"], "wdelay", "no_wdelay"),
    (["hide", "nohide"], "hide", "nohide"),
    (["crossmnt", "nocrossmnt"], "crossmnt", "nocrossmnt"),
    (["auth_nlm", "insecure_locks"], "auth_nlm", "insecure_locks"),
    (["secure_locks", "no_auth_nlm"], "secure_locks", "no_auth_nlm"),
    (["pnfs", "no_pnfs"], "pnfs", "no_pnfs"),
    (["acl", "no_acl"], "acl", "no_acl"),
    (["fsid=1", "fsid=2"], "fsid=1", "fsid=2"),
    (["fsid=root", "fsid=5"], "fsid=root", "fsid=5"),
    (["fsid=6f3c1f0e-8a3b-4c2d-9e8f-0a1b2c3d4e5f", "fsid=7", "fsid=00000000-0000-0000-0000-000000000001"],
     "fsid=6f3c1f0e-8a3b-4c2d-9e8f-0a1b2c3d4e5f", "fsid=00000000-0000-0000-0000-000000000001"),
    (["anonuid=1000", "anonuid=1001"], "anonuid=1000", "anonuid=1001"),
    (["anongid=100", "anongid=0"], "anongid=100", "anongid=0"),
    (["xprtsec=tls", "xprtsec=mtls"], "xprtsec=tls", "xprtsec=mtls"),
    (["mp=/a", "mountpoint=/b"], "mp=/a", "mountpoint=/b"),
    # after a sec= only ro/rw and the squash options start afresh; contradictions inside one section still count
    (["sec=krb5p", "rw", "ro"], "rw", "ro"),
    (["ro", "sec=sys", "root_squash", "no_root_squash"], "root_squash", "no_root_squash"),
    (["sync", "sec=krb5", "async"], "sync", "async"),
])
def test_export_option_contradictions(options, first, second):
    assert sfs.export_errors([export(options)]) == [
        "shared_fs_nfs_exports[0].clients[0].options: '%s' and '%s' contradict" % (first, second)]


def test_the_brief_example_message():
    exports = [export(["rw"]), {"path": "/srv", "clients": [{"host": "*", "options": ["rw", "ro"]}]}]
    assert sfs.export_errors(exports) == ["shared_fs_nfs_exports[1].clients[0].options: 'rw' and 'ro' contradict"]


@pytest.mark.parametrize("options", [
    ["fsid=0", "fsid=root"],               # the same fsid, written twice
    ["auth_nlm", "secure_locks"],          # synonyms
    ["no_auth_nlm", "insecure_locks"],
    ["sec=krb5p", "rw", "sec=sys", "ro"],  # per-flavour access, exports(5)
    ["ro", "sec=krb5p", "rw"],
    ["root_squash", "sec=krb5", "no_root_squash"],
    ["rw", "rw", "sync", "sync"],
    ["mountpoint", "mp"],
    ["async", "no_wdelay"],                # no effect together, but no contradiction
])
def test_export_options_that_do_not_contradict(options):
    assert sfs.export_errors([export(options)]) == []


def test_every_contradiction_is_listed():
    assert sfs.export_errors([export(["rw", "sync", "ro", "async", "secure", "insecure"])]) == [
        "shared_fs_nfs_exports[0].clients[0].options: 'rw' and 'ro' contradict",
        "shared_fs_nfs_exports[0].clients[0].options: 'sync' and 'async' contradict",
        "shared_fs_nfs_exports[0].clients[0].options: 'secure' and 'insecure' contradict",
    ]


# ================================================================ export_errors: option names and values
OPT0 = "shared_fs_nfs_exports[0].clients[0].options[0]"


@pytest.mark.parametrize("option,message", [
    ("no_subtre_check", "%s 'no_subtre_check' is not an exports(5) option; did you mean 'no_subtree_check'?" % OPT0),
    ("root_sqash", "%s 'root_sqash' is not an exports(5) option; did you mean 'root_squash'?" % OPT0),
    ("nohid", "%s 'nohid' is not an exports(5) option; did you mean 'nohide'?" % OPT0),
    ("fsd=1", "%s 'fsd=1' is not an exports(5) option; did you mean 'fsid='?" % OPT0),
    ("anonuid", "%s 'anonuid': anonuid needs a value, e.g. anonuid=65534" % OPT0),
    ("sec", "%s 'sec': sec needs a value, e.g. sec=krb5p" % OPT0),
    ("fsid", "%s 'fsid': fsid needs a value, e.g. fsid=0" % OPT0),
    ("rw=1", "%s 'rw=1': rw takes no value; write rw" % OPT0),
    ("no_root_squash=yes", "%s 'no_root_squash=yes': no_root_squash takes no value; write no_root_squash" % OPT0),
    ("anonuid=nobody", "%s 'anonuid=nobody': anonuid takes a numeric id 0-4294967295, e.g. anonuid=65534" % OPT0),
    ("anongid=-1", "%s 'anongid=-1': anongid takes a numeric id 0-4294967295, e.g. anongid=65534" % OPT0),
    ("anonuid=4294967296", "%s 'anonuid=4294967296': anonuid takes a numeric id 0-4294967295, e.g. anonuid=65534"
     % OPT0),
    ("fsid=abc", "%s 'fsid=abc': fsid takes a number (fsid=0 or fsid=root is the NFSv4 root), root or a UUID of 32 "
                 "hex digits" % OPT0),
    ("fsid=01", "%s 'fsid=01': fsid takes a number (fsid=0 or fsid=root is the NFSv4 root), root or a UUID of 32 hex "
                "digits" % OPT0),
    ("fsid=", "%s 'fsid=': fsid takes a number (fsid=0 or fsid=root is the NFSv4 root), root or a UUID of 32 hex "
              "digits" % OPT0),
    ("fsid=6f3c1f0e-8a3b-4c2d-9e8f-0a1b2c3d4e5", "%s 'fsid=6f3c1f0e-8a3b-4c2d-9e8f-0a1b2c3d4e5': fsid takes a number "
     "(fsid=0 or fsid=root is the NFSv4 root), root or a UUID of 32 hex digits" % OPT0),
    ("sec=krb6", "%s 'sec=krb6': sec takes a ':'-separated list of sys, krb5, krb5i, krb5p, unix, null, none" % OPT0),
    ("sec=krb5:", "%s 'sec=krb5:': sec takes a ':'-separated list of sys, krb5, krb5i, krb5p, unix, null, none"
     % OPT0),
    ("sec=", "%s 'sec=': sec takes a ':'-separated list of sys, krb5, krb5i, krb5p, unix, null, none" % OPT0),
    ("xprtsec=ssl", "%s 'xprtsec=ssl': xprtsec takes a ':'-separated list of none, tls, mtls" % OPT0),
    ("reexport=auto", "%s 'reexport=auto': reexport takes one of auto-fsidnum, predefined-fsidnum, none" % OPT0),
    ("refer=/apps", "%s 'refer=/apps': refer takes path@host[+host][:path@host[+host]...], e.g. "
                    "refer=/export@nfs02" % OPT0),
    ("replicas=apps@nfs02", "%s 'replicas=apps@nfs02': replicas takes path@host[+host][:path@host[+host]...], e.g. "
                            "replicas=/export@nfs02" % OPT0),
    ("mountpoint=srv", "%s 'mountpoint=srv': mountpoint= takes an absolute path (or write mountpoint alone: the "
                       "export point must be a mount point)" % OPT0),
    ("rw,sync", "%s 'rw,sync' must be one option per list item (no ',', whitespace or parentheses)" % OPT0),
    ("rw sync", "%s 'rw sync' must be one option per list item (no ',', whitespace or parentheses)" % OPT0),
    ("(rw)", "%s '(rw)' must be one option per list item (no ',', whitespace or parentheses)" % OPT0),
    ("", "%s must be an option string such as rw, got ''" % OPT0),
    (5, "%s must be an option string such as rw, got 5" % OPT0),
    (None, "%s must be an option string such as rw, got None" % OPT0),
])
def test_bad_export_options(option, message):
    assert sfs.export_errors([export([option])]) == [message]


def test_unknown_export_option_without_a_near_name_lists_what_is_allowed():
    (message,) = sfs.export_errors([export(["frobnicate"])])
    assert message.startswith("%s 'frobnicate' is not an exports(5) option (allowed: acl, all_squash, async, " % OPT0)
    assert message.endswith(", anonuid=, anongid=, fsid=, sec=, xprtsec=, refer=, replicas=, mountpoint=, mp=, "
                            "reexport=)")
    for name in ("rw", "ro", "sync", "no_subtree_check", "root_squash", "nordirplus", "security_label", "pnfs"):
        assert " %s," % name in message


def test_export_options_must_be_a_list():
    assert sfs.export_errors([export("rw,sync")]) == [
        "shared_fs_nfs_exports[0].clients[0].options must be a list of exports(5) options such as [rw, sync], "
        "got 'rw,sync'"]
    assert sfs.export_errors([export([])]) == []       # empty: the defaults
    assert sfs.export_errors([export(None)]) == []


# ================================================================ export_errors: fsid across exports
def test_fsid_0_twice_is_two_nfsv4_roots():
    exports = [export(["fsid=0"], path="/srv/nfs4"), export(["rw"], path="/home"), export(["fsid=root"], path="/srv")]
    assert sfs.export_errors(exports) == [
        "shared_fs_nfs_exports[2]: fsid=0 (fsid=root, the NFSv4 pseudo-root) is already the fsid of "
        "shared_fs_nfs_exports[0] (/srv/nfs4); only one export can be the NFSv4 root"]


def test_the_same_fsid_on_two_paths():
    exports = [export(["fsid=12"], path="/a"), export(["fsid=12"], path="/b")]
    assert sfs.export_errors(exports) == [
        "shared_fs_nfs_exports[1]: fsid=12 is already the fsid of shared_fs_nfs_exports[0] (/a); every exported path "
        "needs its own fsid"]
    uuid_a = "fsid=6f3c1f0e-8a3b-4c2d-9e8f-0a1b2c3d4e5f"
    uuid_b = "fsid=6F3C1F0E:8A3B4C2D:9E8F0A1B:2C3D4E5F"
    assert sfs.export_errors([export([uuid_a], path="/a"), export([uuid_b], path="/b")]) == [
        "shared_fs_nfs_exports[1]: %s is already the fsid of shared_fs_nfs_exports[0] (/a); every exported path needs "
        "its own fsid" % uuid_b]


def test_fsid_0_on_several_clients_of_one_export_is_fine():
    exports = [{"path": "/srv/nfs4", "clients": [{"host": "10.10.0.0/16", "options": ["rw", "fsid=0"]},
                                                 {"host": "*.cluster.lan", "options": ["ro", "fsid=root"]}]}]
    assert sfs.export_errors(exports) == []


# ================================================================ export_errors: paths
@pytest.mark.parametrize("path,reason", [
    ("home", "'home' is not absolute; write it from the root, e.g. /home"),
    ("./home", "'./home' is not absolute; write it from the root, e.g. /home"),
    ("/", "'/' is the whole root filesystem; give a directory such as /home"),
    ("/home/", "'/home/' ends with '/'; write /home"),
    ("/srv//data", "'/srv//data' has an empty component (//); write /srv/data"),
    ("/srv/../etc", "'/srv/../etc' has a '.' or '..' component; write the real path"),
    ("/srv/./data", "'/srv/./data' has a '.' or '..' component; write the real path"),
    ("/srv/..", "'/srv/..' has a '.' or '..' component; write the real path"),
    ("/srv/my data", "'/srv/my data' contains whitespace, which fstab lines and autofs maps cannot hold unescaped; "
                     "rename the directory or bind-mount it at a path without spaces"),
    ("/srv/a\nb", "'/srv/a\\nb' contains a newline or another control character"),
    ("/srv/a\tb", "'/srv/a\\tb' contains a newline or another control character"),
    ("/proc", "'/proc' is /proc, which is not allowed %s" % FORBIDDEN),
    ("/proc/fs/nfsd", "'/proc/fs/nfsd' is under /proc, which is not allowed %s" % FORBIDDEN),
    ("/sys/fs", "'/sys/fs' is under /sys, which is not allowed %s" % FORBIDDEN),
    ("/dev/shm", "'/dev/shm' is under /dev, which is not allowed %s" % FORBIDDEN),
    ("/run/user/1000", "'/run/user/1000' is under /run, which is not allowed %s" % FORBIDDEN),
    ("/tmp", "'/tmp' is /tmp, which is not allowed %s" % FORBIDDEN),
    ("/tmp/scratch", "'/tmp/scratch' is under /tmp, which is not allowed %s" % FORBIDDEN),
    ("", "must be an absolute path such as /home, got ''"),
    (None, "must be an absolute path such as /home, got None"),
    (42, "must be an absolute path such as /home, got 42"),
])
def test_bad_export_paths(path, reason):
    assert sfs.export_errors([export(path=path)]) == ["shared_fs_nfs_exports[0].path %s" % reason]


@pytest.mark.parametrize("path", ["/procfs", "/srv/tmp", "/devel", "/runtime/x", "/home/user.name/proj-1_x", "/a"])
def test_paths_near_forbidden_roots_are_fine(path):
    assert sfs.export_errors([export(path=path)]) == []


def test_configurable_forbidden_roots():
    exports = [export(path="/tmp/x"), export(path="/scratch/old", host="node01"), export(path="/opt", host="node02")]
    assert sfs.export_errors(exports, forbidden_roots=["/scratch", "/opt/"]) == [
        "shared_fs_nfs_exports[1].path '/scratch/old' is under /scratch, which is not allowed (forbidden roots: "
        "/scratch, /opt)",
        "shared_fs_nfs_exports[2].path '/opt' is /opt, which is not allowed (forbidden roots: /scratch, /opt)",
    ]
    assert sfs.export_errors([export(path="/tmp/x")], forbidden_roots=[]) == []
    with pytest.raises(sfs.SharedFsError, match=r"^forbidden_roots must be a list of absolute paths, got 'tmp'$"):
        sfs.export_errors([], forbidden_roots=["tmp"])


def test_duplicate_export_paths():
    exports = [export(path="/home"), export(path="/srv"), export(path="/home", host="*")]
    assert sfs.export_errors(exports) == [
        "shared_fs_nfs_exports[2].path '/home' is listed twice (shared_fs_nfs_exports[0] and shared_fs_nfs_exports[2]); "
        "put all its clients in one entry"]


# ================================================================ export_errors: structure, hosts, owner/mode
@pytest.mark.parametrize("exports,messages", [
    ("/home", ["shared_fs_nfs_exports must be a list of {path, clients: [{host, options}]} dicts, got '/home'"]),
    ({"path": "/home"}, ["shared_fs_nfs_exports must be a list of {path, clients: [{host, options}]} dicts, got "
                         "{'path': '/home'}"]),
    (None, ["shared_fs_nfs_exports must be a list of {path, clients: [{host, options}]} dicts, got None"]),
    (["/home"], ["shared_fs_nfs_exports[0] must be a dict {path, clients: [{host, options}], owner, group, mode}, "
                 "got '/home'"]),
    ([{"path": "/home", "client": [], "clients": [{"host": "*"}]}],
     ["shared_fs_nfs_exports[0] has unknown key(s) client (allowed: path, clients, owner, group, mode)"]),
    ([{"path": "/home"}], ["shared_fs_nfs_exports[0].clients must be a non-empty list of {host, options} dicts, "
                           "got None"]),
    ([{"path": "/home", "clients": []}], ["shared_fs_nfs_exports[0].clients must be a non-empty list of {host, "
                                          "options} dicts, got []"]),
    ([{"path": "/home", "clients": "10.10.0.0/16"}], ["shared_fs_nfs_exports[0].clients must be a non-empty list of "
                                                      "{host, options} dicts, got '10.10.0.0/16'"]),
    ([{"path": "/home", "clients": ["10.10.0.0/16"]}], ["shared_fs_nfs_exports[0].clients[0] must be a dict {host, "
                                                        "options}, got '10.10.0.0/16'"]),
    ([{"path": "/home", "clients": [{"host": "*", "opts": ["rw"]}]}],
     ["shared_fs_nfs_exports[0].clients[0] has unknown key(s) opts (allowed: host, options)"]),
    ([{"path": "/home", "clients": [{"options": ["rw"]}]}],
     ["shared_fs_nfs_exports[0].clients[0].host must be %s, got None" % CLIENT_FORMS]),
])
def test_export_structure(exports, messages):
    assert sfs.export_errors(exports) == messages


def test_every_host_kind_is_checked_in_exports():
    clients = [{"host": h} for h in ("*", "@compute", "10.10.0.0/16", "10.10.1.5", "fd00:10::5", "node01",
                                     "*.cluster.lan", "node0?", "10.10.0.5/16", "[fd00::5]", "node 1")]
    assert sfs.export_errors([{"path": "/home", "clients": clients}]) == [
        "shared_fs_nfs_exports[0].clients[8].host '10.10.0.5/16' has host bits set (the network is 10.10.0.0/16)",
        "shared_fs_nfs_exports[0].clients[9].host '[fd00::5]': write IPv6 addresses without brackets in exports(5) "
        "(brackets are wildcard character classes there): fd00::5",
        "shared_fs_nfs_exports[0].clients[10].host 'node 1' contains whitespace, '(', ')', ',', '\"' or '#'; give one "
        "client per entry and its options in options",
    ]


def test_duplicate_hosts_in_one_export():
    clients = [{"host": "node01"}, {"host": "10.10.0.0/16"}, {"host": "NODE01", "options": ["ro"]}]
    assert sfs.export_errors([{"path": "/home", "clients": clients}]) == [
        "shared_fs_nfs_exports[0].clients[2].host 'NODE01' is listed twice (clients[0] and clients[2]); give it one "
        "options list"]


@pytest.mark.parametrize("key,value,message", [
    ("owner", "", "shared_fs_nfs_exports[0].owner must be a user name or a number, got ''"),
    ("owner", "bad name", "shared_fs_nfs_exports[0].owner must be a user name or a number, got 'bad name'"),
    ("owner", -1, "shared_fs_nfs_exports[0].owner must be a user name or a number, got -1"),
    ("group", True, "shared_fs_nfs_exports[0].group must be a group name or a number, got True"),
    ("group", "wheel:x", "shared_fs_nfs_exports[0].group must be a group name or a number, got 'wheel:x'"),
    ("mode", "0855", "shared_fs_nfs_exports[0].mode must be an octal mode such as '0755' or a symbolic one such as "
                     "u=rwx,g=rx,o=rx, got '0855'"),
    ("mode", 0o17777, "shared_fs_nfs_exports[0].mode must be an octal mode such as '0755' or a symbolic one such as "
                      "u=rwx,g=rx,o=rx, got 8191"),
    ("mode", "rwxr-xr-x", "shared_fs_nfs_exports[0].mode must be an octal mode such as '0755' or a symbolic one such "
                          "as u=rwx,g=rx,o=rx, got 'rwxr-xr-x'"),
])
def test_bad_owner_group_mode(key, value, message):
    entry = export()
    entry[key] = value
    assert sfs.export_errors([entry]) == [message]


@pytest.mark.parametrize("key,value", [("owner", "root"), ("owner", 0), ("owner", "svc-backup$"), ("group", "hpc.users"),
                                       ("mode", "755"), ("mode", "2775"), ("mode", "02775"), ("mode", 0o1777),
                                       ("mode", "u+rwx,g-w"), ("mode", None)])
def test_good_owner_group_mode(key, value):
    entry = export()
    entry[key] = value
    assert sfs.export_errors([entry]) == []


def test_export_errors_varname():
    assert sfs.export_errors([export(["rw", "ro"])], varname="my_exports") == [
        "my_exports[0].clients[0].options: 'rw' and 'ro' contradict"]


# ================================================================ exports_lines
def test_exports_lines_brief_example():
    exports = [{"path": "/home", "clients": [{"host": "10.10.0.0/16"}, {"host": "*.cluster.lan", "options": ["ro"]}]}]
    assert sfs.exports_lines(exports) == ["/home 10.10.0.0/16(rw,sync,no_subtree_check,root_squash) *.cluster.lan(ro)"]


def test_exports_lines_several_exports_and_kinds():
    exports = [
        {"path": "/srv/nfs4", "clients": [{"host": "*", "options": ["ro", "fsid=0", "crossmnt"]}]},
        {"path": "/home", "owner": "root", "clients": [
            {"host": "@admins", "options": ["rw", "no_root_squash", "rw"]},
            {"host": "fd00:10::/64", "options": []},
            {"host": "node0?", "options": ["sec=krb5p", "rw", "sec=sys", "rw", "ro"]},
        ]},
    ]
    assert sfs.exports_lines(exports) == [
        "/srv/nfs4 *(ro,fsid=0,crossmnt)",
        "/home @admins(rw,no_root_squash) fd00:10::/64(rw,sync,no_subtree_check,root_squash) "
        "node0?(sec=krb5p,rw,sec=sys,rw,ro)",
    ]
    assert sfs.exports_lines([]) == []


def test_exports_lines_default_options():
    exports = [export()]
    assert sfs.exports_lines(exports, default_options=["ro", "sync"]) == ["/home 10.10.0.0/16(ro,sync)"]
    assert raises(sfs.exports_lines, exports, default_options=[]) == [
        "default_options must be a non-empty list of exports(5) options, got []"]


@pytest.mark.parametrize("path,written", [
    ("/srv/my data", '"/srv/my data"'),
    ("/srv/a#b", "/srv/a\\043b"),
    ('/srv/say"hi"', "/srv/say\\042hi\\042"),
    ("/srv/back\\slash", "/srv/back\\134slash"),
    ("/srv/my #1", '"/srv/my \\0431"'),
    ("/srv/caf\u00e9", "/srv/caf\u00e9"),
])
def test_exports_lines_quote_and_escape_paths(path, written):
    assert sfs.exports_lines([export(["ro"], host="*", path=path)]) == ["%s *(ro)" % written]


@pytest.mark.parametrize("exports,message", [
    ([export(path="/srv/a\nb")], "shared_fs_nfs_exports[0].path '/srv/a\\nb' contains a newline or another control "
                                 "character; it cannot be written to an exports file"),
    ([export(path="home")], "shared_fs_nfs_exports[0].path must be an absolute path, got 'home'"),
    ([export(path=None)], "shared_fs_nfs_exports[0].path must be an absolute path, got None"),
    ([export(host="node 1")], "shared_fs_nfs_exports[0].clients[0].host must be one client spec without whitespace, "
                              "',' or parentheses, got 'node 1'"),
    ([export(host="a(rw)")], "shared_fs_nfs_exports[0].clients[0].host must be one client spec without whitespace, "
                             "',' or parentheses, got 'a(rw)'"),
    ([export(["rw,sync"])], "shared_fs_nfs_exports[0].clients[0].options must be a list of single exports(5) options, "
                            "got ['rw,sync']"),
    ([export("rw")], "shared_fs_nfs_exports[0].clients[0].options must be a list of single exports(5) options, "
                     "got 'rw'"),
    ([{"path": "/home", "clients": []}], "shared_fs_nfs_exports[0].clients must be a non-empty list of {host, "
                                         "options} dicts, got []"),
    (["/home"], "shared_fs_nfs_exports[0] must be a dict {path, clients}, got '/home'"),
    ("/home", "shared_fs_nfs_exports must be a list of {path, clients} dicts, got '/home'"),
])
def test_exports_lines_refuse_what_breaks_the_file(exports, message):
    assert raises(sfs.exports_lines, exports) == [message]


# ================================================================ mount_options
@pytest.mark.parametrize("kind,options,kwargs,expected", [
    ("nfs4", ["rw", "hard"], {"automount": True}, "rw,hard,_netdev,x-systemd.automount,x-systemd.idle-timeout=600"),
    ("nfs4", ["rw", "hard"], {}, "rw,hard,_netdev"),
    ("nfs", ["vers=4.2", "hard", "nconnect=8"], {"nofail": True}, "vers=4.2,hard,nconnect=8,_netdev,nofail"),
    ("nfs", ["vers=3", "udp"], {}, "vers=3,udp,_netdev"),
    ("nfs", ["nfsvers=4.1"], {}, "nfsvers=4.1,_netdev"),
    ("nfs", ["vers=4", "minorversion=1"], {}, "vers=4,minorversion=1,_netdev"),
    ("nfs4", ["vers=4.2", "minorversion=2", "proto=rdma", "port=20049"], {},
     "vers=4.2,minorversion=2,proto=rdma,port=20049,_netdev"),
    ("nfs", [], {"automount": True, "idle_timeout": 300}, "_netdev,x-systemd.automount,x-systemd.idle-timeout=300"),
    ("nfs", [], {"automount": True, "idle_timeout": 0}, "_netdev,x-systemd.automount,x-systemd.idle-timeout=0"),
    ("nfs", [], {"automount": True, "idle_timeout": None}, "_netdev,x-systemd.automount"),
    ("nfs", [], {"automount": True, "idle_timeout": "120"}, "_netdev,x-systemd.automount,x-systemd.idle-timeout=120"),
    ("nfs", ["x-systemd.idle-timeout=30"], {"automount": True}, "x-systemd.idle-timeout=30,_netdev,x-systemd.automount"),
    ("nfs", ["_netdev", "rw", "rw", "nofail"], {"nofail": True}, "_netdev,rw,nofail"),
    ("nfs", None, {}, "_netdev"),
    ("nfs", None, {"netdev": False}, "defaults"),
    ("nfs", ["ro"], {"netdev": False}, "ro"),
    ("lustre", ["flock", "user_xattr", "noatime"], {"automount": True},
     "flock,user_xattr,noatime,_netdev,x-systemd.automount,x-systemd.idle-timeout=600"),
    ("beegfs", ["cfgFile=/etc/beegfs/beegfs-client.conf", "rw", "relatime"], {"nofail": True},
     "cfgFile=/etc/beegfs/beegfs-client.conf,rw,relatime,_netdev,nofail"),
])
def test_mount_options(kind, options, kwargs, expected):
    assert sfs.mount_options(kind, options, **kwargs) == expected


@pytest.mark.parametrize("kind,options,message", [
    ("nfs", ["hard", "soft"], "options: 'hard' and 'soft' contradict"),
    ("nfs", ["soft", "softerr"], "options: 'soft' and 'softerr' contradict"),
    ("nfs4", ["ro", "rw"], "options: 'ro' and 'rw' contradict"),
    ("lustre", ["rw", "ro"], "options: 'rw' and 'ro' contradict"),
    ("beegfs", ["sync", "async"], "options: 'sync' and 'async' contradict"),
    ("nfs", ["noac", "ac"], "options: 'noac' and 'ac' contradict"),
    ("nfs", ["lock", "nolock"], "options: 'lock' and 'nolock' contradict"),
    ("nfs", ["cto", "nocto"], "options: 'cto' and 'nocto' contradict"),
    ("nfs", ["bg", "fg"], "options: 'bg' and 'fg' contradict"),
    ("nfs", ["tcp", "rdma"], "options: 'tcp' and 'rdma' contradict"),
    ("nfs", ["auto", "noauto"], "options: 'auto' and 'noauto' contradict"),
    ("lustre", ["flock", "noflock"], "options: 'flock' and 'noflock' contradict"),
    ("lustre", ["localflock", "flock"], "options: 'localflock' and 'flock' contradict"),
    ("lustre", ["user_xattr", "nouser_xattr"], "options: 'user_xattr' and 'nouser_xattr' contradict"),
    ("nfs", ["timeo=600", "timeo=100"], "options: 'timeo=600' and 'timeo=100' contradict"),
    ("nfs", ["vers=4.1", "nfsvers=4.2"], "options: 'vers=4.1' and 'nfsvers=4.2' contradict"),
    ("nfs", ["vers=4.1", "minorversion=2"], "options: 'vers=4.1' and 'minorversion=2' contradict"),
    ("nfs", ["vers=3", "minorversion=1"], "options: 'vers=3' and 'minorversion=1' contradict"),
    ("nfs4", ["vers=3"], "options: 'vers=3' contradicts fstype nfs4 (NFSv4 only); use fstype nfs for NFSv3"),
    ("nfs4", ["nfsvers=4.2"], "options[0] 'nfsvers=4.2': fstype nfs4 does not take nfsvers= (nfs(5)); write vers=4.2 "
                              "or use fstype nfs"),
    ("nfs", ["vers=2"], "options[0] 'vers=2': the NFS version must be one of 3, 4, 4.0, 4.1, 4.2"),
    ("nfs", ["nfsvers=4.3"], "options[0] 'nfsvers=4.3': the NFS version must be one of 3, 4, 4.0, 4.1, 4.2"),
    ("nfs4", ["vers=v4"], "options[0] 'vers=v4': the NFS version must be one of 3, 4, 4.0, 4.1, 4.2"),
    ("nfs", ["minorversion=3"], "options[0] 'minorversion=3': minorversion must be 0, 1 or 2"),
    ("nfs4", ["udp"], "options: NFSv4 does not run over UDP (nfs(5)); drop udp or use vers=3"),
    ("nfs", ["vers=4.2", "proto=udp"], "options: NFSv4 does not run over UDP (nfs(5)); drop udp or use vers=3"),
    ("lustre", ["vers=4.2"], "options[0] 'vers=4.2' is an NFS option; fstype lustre does not take it"),
    ("beegfs", ["nfsvers=3"], "options[0] 'nfsvers=3' is an NFS option; fstype beegfs does not take it"),
    ("beegfs", ["cfgFile=beegfs-client.conf"], "options[0] 'cfgFile=beegfs-client.conf': cfgFile takes the absolute "
                                               "path of a beegfs-client.conf"),
    ("nfs", ["rw,hard"], "options[0] 'rw,hard' must be one mount option per list item (letters, digits, '_', '.', "
                         "'-', then optionally =value; no ',' or whitespace)"),
    ("nfs", ["rw hard"], "options[0] 'rw hard' must be one mount option per list item (letters, digits, '_', '.', "
                         "'-', then optionally =value; no ',' or whitespace)"),
    ("nfs", [""], "options[0] must be a mount option string such as rw, got ''"),
    ("nfs", [600], "options[0] must be a mount option string such as rw, got 600"),
    ("nfs", "rw,hard", "options must be a list of mount options such as [rw, hard], got 'rw,hard'"),
])
def test_mount_option_errors(kind, options, message):
    assert raises(sfs.mount_options, kind, options) == [message]


def test_mount_options_lists_every_problem_and_names_the_variable():
    assert raises(sfs.mount_options, "nfs4", ["hard", "soft", "vers=3", "rw", "ro"],
                  varname="shared_fs_mounts[2].options") == [
        "shared_fs_mounts[2].options: 'hard' and 'soft' contradict",
        "shared_fs_mounts[2].options: 'vers=3' contradicts fstype nfs4 (NFSv4 only); use fstype nfs for NFSv3",
        "shared_fs_mounts[2].options: 'rw' and 'ro' contradict",
    ]


def test_mount_options_bad_kind_and_timeout():
    assert raises(sfs.mount_options, "xfs", []) == ["fstype must be one of nfs, nfs4, beegfs, lustre, got 'xfs'"]
    assert raises(sfs.mount_options, None, []) == ["fstype must be one of nfs, nfs4, beegfs, lustre, got None"]
    assert raises(sfs.mount_options, "nfs", [], automount=True, idle_timeout=-1) == [
        "idle_timeout must be a number of seconds 0 or more (or null for none), got -1"]
    assert raises(sfs.mount_options, "nfs", [], idle_timeout="10m") == [
        "idle_timeout must be a number of seconds 0 or more (or null for none), got '10m'"]


# ================================================================ mount_errors
GOOD_MOUNTS = [
    {"src": "nfs01:/home", "path": "/shared/home", "fstype": "nfs4", "options": ["rw", "hard"], "automount": True},
    {"src": "nfs01.cluster.lan:/", "path": "/shared/nfs4root", "fstype": "nfs4"},
    {"src": "10.10.0.5:/srv/apps", "path": "/opt/apps", "fstype": "nfs", "options": ["ro", "vers=3"],
     "state": "present"},
    {"src": "[fd00:10::5]:/srv/data", "path": "/data", "fstype": "nfs", "options": ["vers=4.2"], "nofail": True},
    {"src": "[fe80::10%eth0]:/home", "path": "/shared/ll", "fstype": "nfs4", "state": "absent"},
    {"src": "10.0.0.1@o2ib,10.1.0.1@tcp:10.0.0.2@o2ib1:/lustre", "path": "/lustre", "fstype": "lustre",
     "options": ["flock"], "idle_timeout": 1200},
    {"src": "10.0.0.1@tcp0:/scratch/projects", "path": "/scratch", "fstype": "lustre"},
    {"src": "192.168.5.1@o2ib12:/fs_2-b", "path": "/fs2", "fstype": "lustre", "automount": False, "nofail": None},
    {"src": "beegfs_nodev", "path": "/mnt/beegfs", "fstype": "beegfs",
     "options": ["cfgFile=/etc/beegfs/beegfs-client.conf", "_netdev"]},
]


def test_good_mounts():
    assert sfs.mount_errors(GOOD_MOUNTS) == []
    assert sfs.mount_errors([]) == []


def mount(fstype, src, **extra):
    entry = {"src": src, "path": "/shared/x", "fstype": fstype}
    entry.update(extra)
    return entry


@pytest.mark.parametrize("fstype,src,reason", [
    # nfs / nfs4: server:/export, IPv6 in brackets (nfs(5))
    ("nfs", "nfs01", "'nfs01' is not server:/export (e.g. nfs01:/home, 10.10.0.5:/home or [fd00::10]:/home)"),
    ("nfs4", "nfs01:home", "'nfs01:home' is not server:/export (e.g. nfs01:/home, 10.10.0.5:/home or "
                           "[fd00::10]:/home)"),
    ("nfs4", "fd00::10:/home", "'fd00::10:/home' has an IPv6 server address: write it in square brackets "
                               "([fd00::10]:/home)"),
    ("nfs", "[fd00::10]/home", "'[fd00::10]/home' is not server:/export (e.g. [fd00::10]:/home)"),
    ("nfs", "[fd00::10:/home", "'[fd00::10:/home' has no closing ']' after the IPv6 address"),
    ("nfs", "[10.10.0.5]:/home", "'[10.10.0.5]:/home' is not server:/export: only IPv6 addresses go in square "
                                 "brackets (write IPv4 and host names bare)"),
    ("nfs", "[nfs01]:/home", "'[nfs01]:/home' is not server:/export: only IPv6 addresses go in square brackets (write "
                             "IPv4 and host names bare)"),
    ("nfs4", "[fe80::10]:/home", "'[fe80::10]:/home' is a link-local IPv6 address without an interface (nfs(5)); "
                                 "write e.g. [fe80::10%eth0]:/home"),
    ("nfs4", "[fe80::10%e/th]:/home", "'[fe80::10%e/th]:/home' has a bad interface name after '%' (e.g. "
                                      "[fe80::10%eth0]:/home)"),
    ("nfs", "10.10.0.256:/home", "'10.10.0.256:/home' has a server '10.10.0.256' that is not a valid IPv4 address"),
    ("nfs", "nfs!01:/home", "'nfs!01:/home' has a server 'nfs!01' that is neither a host name, an IPv4 address nor an "
                            "IPv6 address in square brackets"),
    ("nfs", ":/home", "':/home' has a server '' that is neither a host name, an IPv4 address nor an IPv6 address in "
                      "square brackets"),
    ("nfs", "nfs01:/home/../etc", "'nfs01:/home/../etc' has a bad export path: '/home/../etc' has a '.' or '..' "
                                  "component; write the real path"),
    ("nfs", "nfs01:/home/", "'nfs01:/home/' has a bad export path: '/home/' ends with '/'; write /home"),
    ("nfs", "nfs01:/home dir", "'nfs01:/home dir' contains whitespace or control characters"),
    ("nfs", "", "must be a string such as nfs01:/home, got ''"),
    ("nfs4", None, "must be a string such as nfs01:/home, got None"),
    # lustre: mgsnid[,mgsnid][:mgsnid...]:/fsname[/subdir] (mount.lustre(8)), fsname 1-8 chars (lustre_param.h)
    ("lustre", "10.0.0.1@o2ib", "'10.0.0.1@o2ib' is not mgsnid[,mgsnid][:mgsnid...]:/fsname (e.g. "
                                "10.0.0.1@o2ib:10.0.0.2@o2ib:/lustre)"),
    ("lustre", "10.0.0.1:/lustre", "'10.0.0.1:/lustre' has a bad MGS NID '10.0.0.1' has no network; write "
                                   "10.0.0.1@tcp or 10.0.0.1@o2ib"),
    ("lustre", "10.0.0.1@ib0:/lustre", "'10.0.0.1@ib0:/lustre' has a bad MGS NID '10.0.0.1@ib0': the network must be "
                                       "tcp or o2ib, optionally numbered (o2ib1, tcp2), got ib0"),
    ("lustre", "10.0.0.1@o2ib-1:/lustre", "'10.0.0.1@o2ib-1:/lustre' has a bad MGS '10.0.0.1@o2ib-1' is not a NID "
                                          "(address@network, e.g. 10.0.0.1@o2ib or 10.0.0.1@tcp1)"),
    ("lustre", "mgs01@o2ib:/lustre", "'mgs01@o2ib:/lustre' has a bad MGS NID 'mgs01@o2ib': mgs01 is not an IPv4 "
                                     "address"),
    ("lustre", "fd00::1@tcp:/lustre", "'fd00::1@tcp:/lustre' has a bad MGS NID 'fd00' has no network; write "
                                      "fd00@tcp or fd00@o2ib"),
    ("lustre", "10.0.0.1@o2ib::/lustre", "'10.0.0.1@o2ib::/lustre' has a bad MGS '' is not a NID (address@network, "
                                         "e.g. 10.0.0.1@o2ib or 10.0.0.1@tcp1)"),
    ("lustre", "10.0.0.1@o2ib,,10.0.0.2@o2ib:/lustre", "'10.0.0.1@o2ib,,10.0.0.2@o2ib:/lustre' has a bad MGS '' is "
                                                       "not a NID (address@network, e.g. 10.0.0.1@o2ib or "
                                                       "10.0.0.1@tcp1)"),
    ("lustre", "10.0.0.1@o2ib:/toolongfs", "'10.0.0.1@o2ib:/toolongfs' has fsname 'toolongfs'; a Lustre fsname is "
                                           "1-8 letters, digits, '_' or '-'"),
    ("lustre", "10.0.0.1@o2ib:/lus.tre", "'10.0.0.1@o2ib:/lus.tre' has fsname 'lus.tre'; a Lustre fsname is 1-8 "
                                         "letters, digits, '_' or '-'"),
    ("lustre", "10.0.0.1@o2ib:/", "'10.0.0.1@o2ib:/' has fsname ''; a Lustre fsname is 1-8 letters, digits, '_' or "
                                  "'-'"),
    ("lustre", "10.0.0.1@o2ib:/lustre/", "'10.0.0.1@o2ib:/lustre/' ends with '/'; write 10.0.0.1@o2ib:/lustre"),
    ("lustre", "10.0.0.1@o2ib:/lustre/a/../b", "'10.0.0.1@o2ib:/lustre/a/../b' has a bad subdirectory: '/a/../b' has "
                                               "a '.' or '..' component; write the real path"),
    ("lustre", 5, "must be a string such as 10.0.0.1@o2ib:/lustre, got 5"),
    # beegfs
    ("beegfs", "mgmt01", "'mgmt01' must be beegfs_nodev (BeeGFS finds its servers through the cfgFile= option)"),
])
def test_bad_mount_sources(fstype, src, reason):
    options = ["cfgFile=/etc/beegfs/beegfs-client.conf"] if fstype == "beegfs" else []
    assert sfs.mount_errors([mount(fstype, src, options=options)]) == ["shared_fs_mounts[0].src %s" % reason]


@pytest.mark.parametrize("src", ["10.0.0.1@o2ib:/lustre", "10.0.0.1@o2ib0:/lustre", "10.0.0.1@o2ib1:/lustre",
                                 "10.0.0.1@tcp:/lustre", "10.0.0.1@tcp0:/lustre", "10.0.0.1@tcp12:/l",
                                 "10.0.0.1@o2ib,10.1.0.1@tcp:/lustre", "10.0.0.1@o2ib:10.0.0.2@o2ib:/lustre",
                                 "10.0.0.1@o2ib,10.1.0.1@tcp:10.0.0.2@o2ib,10.1.0.2@tcp:/lustre/projects/a",
                                 "10.0.0.1@o2ib:/fs-1_a"])
def test_good_lustre_sources(src):
    assert sfs.mount_errors([mount("lustre", src)]) == []


@pytest.mark.parametrize("src", ["nfs01:/home", "nfs01.cluster.lan:/srv/home", "10.10.0.5:/", "[fd00:10::5]:/home",
                                 "[FD00:10::5]:/home", "[fe80::5%ib0]:/home", "[fe80::5%eth0.100]:/", "nfs_01:/x"])
def test_good_nfs_sources(src):
    assert sfs.mount_errors([mount("nfs", src), mount("nfs4", src, path="/shared/y")]) == []


def test_beegfs_needs_cfgfile():
    assert sfs.mount_errors([mount("beegfs", "beegfs_nodev", options=["rw"])]) == [
        "shared_fs_mounts[0].options needs cfgFile=<absolute path of a beegfs-client.conf> for fstype beegfs, "
        "e.g. cfgFile=/etc/beegfs/beegfs-client.conf"]
    assert sfs.mount_errors([mount("beegfs", "beegfs_nodev")]) == [
        "shared_fs_mounts[0].options needs cfgFile=<absolute path of a beegfs-client.conf> for fstype beegfs, "
        "e.g. cfgFile=/etc/beegfs/beegfs-client.conf"]


@pytest.mark.parametrize("path,reason", [
    ("shared/home", "'shared/home' is not absolute; write it from the root, e.g. /shared/home"),
    ("/", "'/' is the whole root filesystem; give a directory such as /shared/home"),
    ("/shared/home/", "'/shared/home/' ends with '/'; write /shared/home"),
    ("/shared/my home", "'/shared/my home' contains whitespace, which fstab lines and autofs maps cannot hold "
                        "unescaped; rename the directory or bind-mount it at a path without spaces"),
    ("/tmp/beegfs", "'/tmp/beegfs' is under /tmp, which is not allowed %s" % FORBIDDEN),
    ("/run", "'/run' is /run, which is not allowed %s" % FORBIDDEN),
    ("/proc/x", "'/proc/x' is under /proc, which is not allowed %s" % FORBIDDEN),
    (None, "must be an absolute path such as /shared/home, got None"),
])
def test_bad_mount_points(path, reason):
    assert sfs.mount_errors([mount("nfs4", "nfs01:/home", path=path)]) == ["shared_fs_mounts[0].path %s" % reason]


def test_duplicate_mount_points():
    mounts = [mount("nfs4", "nfs01:/home", path="/home"), mount("lustre", "10.0.0.1@o2ib:/lustre", path="/lustre"),
              mount("nfs", "nfs02:/home", path="/home", state="absent")]
    assert sfs.mount_errors(mounts) == [
        "shared_fs_mounts[2].path '/home' is listed twice (shared_fs_mounts[0] and shared_fs_mounts[2]); one mount point "
        "holds one filesystem"]


@pytest.mark.parametrize("entry,messages", [
    ({"src": "nfs01:/home", "path": "/home", "fstype": "xfs"},
     ["shared_fs_mounts[0].fstype must be one of nfs, nfs4, beegfs, lustre, got 'xfs'"]),
    ({"src": "nfs01:/home", "path": "/home"},
     ["shared_fs_mounts[0].fstype must be one of nfs, nfs4, beegfs, lustre, got None"]),
    (mount("nfs4", "nfs01:/home", state="unmounted"),
     ["shared_fs_mounts[0].state must be one of mounted, present, absent, got 'unmounted'"]),
    (mount("nfs4", "nfs01:/home", automount="yes"), ["shared_fs_mounts[0].automount must be true or false, got 'yes'"]),
    (mount("nfs4", "nfs01:/home", nofail=1), ["shared_fs_mounts[0].nofail must be true or false, got 1"]),
    (mount("nfs4", "nfs01:/home", idle_timeout=-5),
     ["shared_fs_mounts[0].idle_timeout must be a number of seconds 0 or more, got -5"]),
    (mount("nfs4", "nfs01:/home", opts=["rw"], dump=0),
     ["shared_fs_mounts[0] has unknown key(s) dump, opts (allowed: src, path, fstype, options, automount, nofail, "
      "idle_timeout, state)"]),
    (mount("nfs4", "nfs01:/home", options=["hard", "soft"]), ["shared_fs_mounts[0].options: 'hard' and 'soft' "
                                                              "contradict"]),
    (mount("nfs4", "nfs01:/home", options=["vers=3"]), ["shared_fs_mounts[0].options: 'vers=3' contradicts fstype nfs4 "
                                                        "(NFSv4 only); use fstype nfs for NFSv3"]),
    (mount("lustre", "10.0.0.1@o2ib:/lustre", options="flock"),
     ["shared_fs_mounts[0].options must be a list of mount options such as [rw, hard], got 'flock'"]),
    ("nfs01:/home", ["shared_fs_mounts[0] must be a dict {src, path, fstype, options, automount, state}, got "
                     "'nfs01:/home'"]),
])
def test_bad_mount_entries(entry, messages):
    assert sfs.mount_errors([entry]) == messages


def test_mount_errors_structure_and_varname():
    assert sfs.mount_errors(None) == ["shared_fs_mounts must be a list of {src, path, fstype, options} dicts, got None"]
    assert sfs.mount_errors({"src": "x"}, varname="m") == [
        "m must be a list of {src, path, fstype, options} dicts, got {'src': 'x'}"]
    assert sfs.mount_errors([mount("nfs", "nfs01")], varname="site_mounts") == [
        "site_mounts[0].src 'nfs01' is not server:/export (e.g. nfs01:/home, 10.10.0.5:/home or [fd00::10]:/home)"]
    assert sfs.mount_errors([mount("nfs", "nfs01:/x", path="/scratch/x")], forbidden_roots=["/scratch"]) == [
        "shared_fs_mounts[0].path '/scratch/x' is under /scratch, which is not allowed (forbidden roots: /scratch)"]


# ================================================================ autofs
def test_autofs_map_lines():
    mounts = [
        {"src": "nfs01:/home", "path": "/shared/home", "fstype": "nfs4",
         "options": ["rw", "hard", "_netdev", "nofail", "x-systemd.automount", "x-systemd.idle-timeout=60", "rw"]},
        {"src": "[fd00:10::5]:/srv/apps", "path": "/shared/apps", "fstype": "nfs", "options": ["ro", "vers=3", "bg"]},
        {"src": "10.0.0.1@o2ib,10.1.0.1@tcp:10.0.0.2@o2ib:/lustre", "path": "/shared/scratch", "fstype": "lustre",
         "options": ["flock", "noauto", "defaults"]},
        {"src": "beegfs_nodev", "path": "/shared/beegfs", "fstype": "beegfs",
         "options": ["cfgFile=/etc/beegfs/beegfs-client.conf"]},
        {"src": "nfs02:/old", "path": "/shared/old", "fstype": "nfs4", "state": "absent"},
        {"src": "nfs02:/proj", "path": "/shared/proj", "fstype": "nfs4"},
    ]
    expected = [
        "home -fstype=nfs4,rw,hard nfs01:/home",
        "apps -fstype=nfs,ro,vers=3 [fd00:10::5]:/srv/apps",
        "scratch -fstype=lustre,flock :10.0.0.1@o2ib,10.1.0.1@tcp:10.0.0.2@o2ib:/lustre",
        "beegfs -fstype=beegfs,cfgFile=/etc/beegfs/beegfs-client.conf :beegfs_nodev",
        "proj -fstype=nfs4 nfs02:/proj",
    ]
    assert sfs.autofs_map_lines(mounts) == expected
    assert sfs.autofs_map_lines(mounts, mount_root="/shared") == expected
    assert sfs.autofs_map_lines([]) == []


def test_autofs_map_lines_errors():
    mounts = [{"src": "nfs01:/home", "path": "/shared/home", "fstype": "nfs4"},
              {"src": "nfs01:/apps", "path": "/opt/apps", "fstype": "nfs4"},
              {"src": "nfs01:/x", "path": "/shared/a/b", "fstype": "nfs4"}]
    assert raises(sfs.autofs_map_lines, mounts) == [
        "shared_fs_mounts[1].path '/opt/apps' is not directly under the autofs mount root /shared (an indirect map key "
        "is one directory component)",
        "shared_fs_mounts[2].path '/shared/a/b' is not directly under the autofs mount root /shared (an indirect map "
        "key is one directory component)",
    ]
    assert raises(sfs.autofs_map_lines, mounts[:1], mount_root="/net") == [
        "shared_fs_mounts[0].path '/shared/home' is not directly under the autofs mount root /net (an indirect map key "
        "is one directory component)"]
    assert raises(sfs.autofs_map_lines, mounts[:1], mount_root="/net/") == [
        "mount_root '/net/' ends with '/'; write /net"]
    # mount_errors' problems come first, all of them
    assert raises(sfs.autofs_map_lines, [{"src": "nfs01", "path": "/shared/x", "fstype": "nfs4", "options": ["a b"]}],
                  varname="m") == [
        "m[0].src 'nfs01' is not server:/export (e.g. nfs01:/home, 10.10.0.5:/home or [fd00::10]:/home)",
        "m[0].options[0] 'a b' must be one mount option per list item (letters, digits, '_', '.', '-', then optionally "
        "=value; no ',' or whitespace)",
    ]
    assert raises(sfs.autofs_map_lines, [{"src": "nfs01:/a&b", "path": "/shared/x", "fstype": "nfs4"}]) == [
        "shared_fs_mounts[0].src 'nfs01:/a&b' has '$', '&', '\"' or '\\', which autofs substitutes or unquotes"]
    assert raises(sfs.autofs_map_lines, [{"src": "nfs01:/a", "path": "/shared/-x", "fstype": "nfs4"}]) == [
        "shared_fs_mounts[0].path '/shared/-x': '-x' cannot be an autofs map key (letters, digits, '_', '.', '+', '-')"]


def test_autofs_direct_map_lines():
    mounts = [
        {"src": "nfs01:/home", "path": "/home", "fstype": "nfs4", "options": ["rw", "hard", "_netdev"]},
        {"src": "10.0.0.1@o2ib:/lustre", "path": "/lustre/scratch", "fstype": "lustre", "options": ["flock", "nofail"]},
        {"src": "beegfs_nodev", "path": "/mnt/beegfs", "fstype": "beegfs",
         "options": ["cfgFile=/etc/beegfs/beegfs-client.conf", "x-systemd.automount"]},
        {"src": "nfs02:/gone", "path": "/gone", "fstype": "nfs", "state": "absent"},
    ]
    assert sfs.autofs_map_lines(mounts, direct=True) == [
        "/home -fstype=nfs4,rw,hard nfs01:/home",
        "/lustre/scratch -fstype=lustre,flock :10.0.0.1@o2ib:/lustre",
        "/mnt/beegfs -fstype=beegfs,cfgFile=/etc/beegfs/beegfs-client.conf :beegfs_nodev",
    ]
    assert raises(sfs.autofs_map_lines, mounts, mount_root="/shared", direct=True) == [
        "mount_root is for indirect maps; the keys of a direct map are the full mount points (its master map line is "
        "/- <map>)"]
    assert raises(sfs.autofs_map_lines, [{"src": "nfs01:/a", "path": "/shared/-x/y", "fstype": "nfs4"}],
                  direct=True) == [
        "shared_fs_mounts[0].path '/shared/-x/y': '/shared/-x/y' cannot be an autofs map key (letters, digits, '_', "
        "'.', '+', '-', '/' between components)"]
    assert sfs.autofs_master_line("/-", "/etc/auto.hpcai.direct") == "/- /etc/auto.hpcai.direct --timeout=600"


@pytest.mark.parametrize("args,kwargs,expected", [
    (("/shared", "/etc/auto.hpcai"), {}, "/shared /etc/auto.hpcai --timeout=600"),
    (("/shared", "/etc/auto.hpcai"), {"timeout": 0}, "/shared /etc/auto.hpcai --timeout=0"),
    (("/net/hpc", "/etc/auto.hpc"), {"timeout": "300", "options": ["--ghost", "nosuid"]},
     "/net/hpc /etc/auto.hpc --timeout=300 --ghost nosuid"),
])
def test_autofs_master_line(args, kwargs, expected):
    assert sfs.autofs_master_line(*args, **kwargs) == expected


@pytest.mark.parametrize("args,kwargs,errors", [
    (("/tmp/auto", "/etc/auto.hpcai"), {}, ["mount_root '/tmp/auto' is under /tmp, which is not allowed %s (or /- "
                                            "for a direct map)" % FORBIDDEN]),
    (("/", "/etc/auto.hpcai"), {}, ["mount_root '/' is the whole root filesystem; give a directory such as /shared (or "
                                    "/- for a direct map)"]),
    (("shared", "auto.hpcai"), {"timeout": -1}, [
        "mount_root 'shared' is not absolute; write it from the root, e.g. /shared (or /- for a direct map)",
        "map_file 'auto.hpcai' is not absolute; write it from the root, e.g. /auto.hpcai",
        "timeout must be a number of seconds 0 or more (0: never expire), got -1"]),
    (("/shared", "/etc/auto.hpcai"), {"options": "--ghost"}, [
        "options must be a list of master map options without whitespace, e.g. [--ghost], got '--ghost'"]),
])
def test_autofs_master_line_errors(args, kwargs, errors):
    assert raises(sfs.autofs_master_line, *args, **kwargs) == errors


# ================================================================ LNet from the hpcai_fabric fact
def iface(name, kind, operstate="up", parent=None):
    return {"name": name, "kind": kind, "rdma_device": "mlx5_0", "port": 1, "operstate": operstate, "parent": parent}


IB_UP = {"has_infiniband": True, "interfaces": [iface("ib0", "ipoib"), iface("ib1", "ipoib")]}
IB_DOWN = {"has_infiniband": True, "interfaces": [iface("ib0", "ipoib", "down"), iface("ib1", "ipoib", "down")]}
IB_SECOND_UP = {"has_infiniband": True, "interfaces": [iface("ib0", "ipoib", "down"), iface("ib1", "ipoib")]}
PKEY_CHILD_ONLY = {"has_infiniband": True, "interfaces": [iface("ib0", "ipoib", "down"),
                                                          iface("ib0.8001", "ipoib", parent="ib0")]}
ROCE = {"has_infiniband": False, "has_roce": True, "interfaces": [iface("ens1f0np0", "roce"),
                                                                  iface("ens1f1np1", "roce", "down")]}
IB_AND_ROCE = {"has_infiniband": True, "interfaces": [iface("ens1f0np0", "roce"), iface("ib0", "ipoib")]}
ETHERNET_ONLY = {"has_infiniband": False, "interfaces": [iface("eth2", "ethernet")]}   # iWARP/EFA: not ko2iblnd
UNKNOWN_STATE = {"interfaces": [iface("ib0", "ipoib", "unknown"), iface("ib1", "ipoib", None)]}


@pytest.mark.parametrize("fact,kwargs,expected", [
    # one network: o2ib when an IPoIB/RoCE interface is up, else tcp on the given interface
    (IB_UP, {"tcp_interface": "eth0"}, "o2ib0(ib0)"),
    (IB_UP, {}, "o2ib0(ib0)"),
    (IB_SECOND_UP, {"tcp_interface": "eth0"}, "o2ib0(ib1)"),
    (IB_DOWN, {"tcp_interface": "eth0"}, "tcp0(eth0)"),
    (PKEY_CHILD_ONLY, {"tcp_interface": "eth0"}, "tcp0(eth0)"),
    (ROCE, {"tcp_interface": "eth0"}, "o2ib0(ens1f0np0)"),
    (IB_AND_ROCE, {}, "o2ib0(ib0)"),
    (ETHERNET_ONLY, {"tcp_interface": "eth0"}, "tcp0(eth0)"),
    (UNKNOWN_STATE, {"tcp_interface": "eno1"}, "tcp0(eno1)"),
    ({}, {"tcp_interface": "eth0"}, "tcp0(eth0)"),
    (None, {"tcp_interface": "eth0"}, "tcp0(eth0)"),
    (IB_UP, {"tcp_interface": "eth0", "preferred": ["tcp", "o2ib"]}, "tcp0(eth0)"),
    (IB_UP, {"preferred": ["tcp", "o2ib"]}, "o2ib0(ib0)"),
    (IB_UP, {"tcp_interface": "eth0", "preferred": "tcp"}, "tcp0(eth0)"),
    (IB_DOWN, {"tcp_interface": "eth0", "preferred": ["o2ib", "o2ib", "tcp"]}, "tcp0(eth0)"),
    (IB_UP, {"tcp_interface": "eth0", "host_interfaces": ["lo", "eth0", "ib0"]}, "o2ib0(ib0)"),
    # explicit interfaces give the networks, in their order
    (IB_UP, {"tcp_interface": "eth0", "interfaces": {"o2ib0": "ib1"}}, "o2ib0(ib1)"),
    (IB_UP, {"interfaces": {"o2ib0": "ib0", "tcp0": "eth0"}}, "o2ib0(ib0),tcp0(eth0)"),
    (IB_UP, {"interfaces": {"tcp0": "eth0", "o2ib0": "ib0"}}, "tcp0(eth0),o2ib0(ib0)"),
    (IB_UP, {"interfaces": {"o2ib": "ib1"}}, "o2ib0(ib1)"),
    (IB_UP, {"interfaces": {"o2ib1": ["ib0", "ib1"]}}, "o2ib1(ib0,ib1)"),
    (IB_UP, {"interfaces": {"o2ib0": "ib0", "o2ib1": "ib1"}}, "o2ib0(ib0),o2ib1(ib1)"),
    (IB_DOWN, {"interfaces": {"o2ib0": "ib0"}}, "o2ib0(ib0)"),            # explicit wins over the link state
    (IB_UP, {"tcp_interface": "eth0", "interfaces": {"tcp1": "eth1"}}, "tcp1(eth1)"),
    (IB_UP, {"interfaces": {"tcp": "eth1"}, "preferred": ["o2ib"]}, "tcp0(eth1)"),
    (ROCE, {"interfaces": {"o2ib0": "ens1f1np1"}}, "o2ib0(ens1f1np1)"),
    (IB_UP, {"interfaces": {}, "tcp_interface": "eth0"}, "o2ib0(ib0)"),
    (IB_UP, {"interfaces": {"tcp0": "eth1"}, "host_interfaces": ["lo", "eth0", "eth1", "ib0"]}, "tcp0(eth1)"),
])
def test_lnet_networks(fact, kwargs, expected):
    assert sfs.lnet_networks(fact, **kwargs) == expected


@pytest.mark.parametrize("fact,kwargs,errors", [
    (IB_UP, {"interfaces": {"o2ib0": "ib3"}}, [
        "shared_fs_lnet_interfaces['o2ib0']: interface ib3 is not in the hpcai_fabric fact (its IPoIB/RoCE interfaces: "
        "ib0, ib1)"]),
    ({}, {"interfaces": {"o2ib0": "ib0"}}, [
        "shared_fs_lnet_interfaces['o2ib0']: interface ib0 is not in the hpcai_fabric fact (it lists no IPoIB or RoCE "
        "interface)"]),
    (ETHERNET_ONLY, {"interfaces": {"o2ib0": "eth2"}}, [
        "shared_fs_lnet_interfaces['o2ib0']: interface eth2 is ethernet, not IPoIB or RoCE; ko2iblnd needs one of "
        "those (this host has none)"]),
    (IB_UP, {"interfaces": {"tcp0": "eth9"}, "host_interfaces": ["lo", "eth0", "ib0", "eth10"]}, [
        "shared_fs_lnet_interfaces['tcp0']: interface eth9 is not on this host (interfaces: eth0, eth10, ib0, lo)"]),
    (IB_UP, {"tcp_interface": "eth9", "host_interfaces": ["eth0", "ib0"]}, [
        "tcp_interface eth9 is not on this host (interfaces: eth0, ib0)"]),
    (IB_UP, {"tcp_interface": "eth 0"}, ["tcp_interface must be an interface name such as eth0, got 'eth 0'"]),
    (IB_UP, {"interfaces": {"ib0": "ib0"}}, [
        "shared_fs_lnet_interfaces: 'ib0' is not an LNet network name (tcp or o2ib, optionally numbered: o2ib0, "
        "tcp1)"]),
    (IB_UP, {"interfaces": {"o2ib": "ib0", "o2ib0": "ib1"}}, [
        "shared_fs_lnet_interfaces: 'o2ib' and 'o2ib0' are the same network o2ib0"]),
    (IB_UP, {"interfaces": {"o2ib0": ""}}, [
        "shared_fs_lnet_interfaces['o2ib0'] must be an interface name or a list of them, e.g. ib0 or [ib0, ib1], "
        "got ''"]),
    (IB_UP, {"interfaces": {"o2ib0": []}}, [
        "shared_fs_lnet_interfaces['o2ib0'] must be an interface name or a list of them, e.g. ib0 or [ib0, ib1], "
        "got []"]),
    (IB_UP, {"interfaces": {"o2ib0": "ib0(x)"}}, [
        "shared_fs_lnet_interfaces['o2ib0'] must be an interface name or a list of them, e.g. ib0 or [ib0, ib1], "
        "got 'ib0(x)'"]),
    (IB_UP, {"interfaces": {"o2ib0": "ib3", "o2ib1": "ib4"}, "varname": "site_lnet"}, [
        "site_lnet['o2ib0']: interface ib3 is not in the hpcai_fabric fact (its IPoIB/RoCE interfaces: ib0, ib1)",
        "site_lnet['o2ib1']: interface ib4 is not in the hpcai_fabric fact (its IPoIB/RoCE interfaces: ib0, ib1)"]),
    (IB_DOWN, {}, [
        "shared_fs_lnet_interfaces: no LNet network for o2ib, tcp: no IPoIB or RoCE interface is up in the "
        "hpcai_fabric fact and no tcp interface was given; set shared_fs_lnet_interfaces, e.g. {o2ib0: ib0} or "
        "{tcp0: eth0}"]),
    (IB_DOWN, {"tcp_interface": "eth0", "preferred": ["o2ib"]}, [
        "shared_fs_lnet_interfaces: no LNet network for o2ib: no IPoIB or RoCE interface is up in the hpcai_fabric "
        "fact; set shared_fs_lnet_interfaces, e.g. {o2ib0: ib0} or {tcp0: eth0}"]),
    (IB_UP, {"preferred": ["tcp"]}, [
        "shared_fs_lnet_interfaces: no LNet network for tcp: no tcp interface was given; set shared_fs_lnet_interfaces, "
        "e.g. {o2ib0: ib0} or {tcp0: eth0}"]),
    (IB_UP, {"interfaces": ["ib0"]}, [
        "shared_fs_lnet_interfaces must be a dict {network: interface} such as {o2ib0: ib0}, got ['ib0']"]),
    (IB_UP, {"preferred": ["gni"]}, ["preferred must be a list of LNet network types (o2ib, tcp), got ['gni']"]),
    (IB_UP, {"preferred": []}, ["preferred must be a list of LNet network types (o2ib, tcp), got []"]),
    (IB_UP, {"host_interfaces": "eth0"}, [
        "host_interfaces must be a list of interface names (ansible_facts['interfaces']), got 'eth0'"]),
])
def test_lnet_networks_errors(fact, kwargs, errors):
    assert raises(sfs.lnet_networks, fact, **kwargs) == errors


def test_lnet_networks_ignores_junk_in_the_fact():
    fact = {"interfaces": [None, {"kind": "ipoib", "operstate": "up"}, {"name": "", "kind": "ipoib"}, "ib9",
                           iface("ib2", "ipoib")]}
    assert sfs.lnet_networks(fact) == "o2ib0(ib2)"
    assert sfs.lnet_networks({"interfaces": None}, tcp_interface="eth0") == "tcp0(eth0)"


# ================================================================ lnet_errors
@pytest.mark.parametrize("value", ["o2ib0(ib0),tcp0(eth1)", "o2ib(ib0)", "tcp", "tcp0", "o2ib1(ib0,ib1)",
                                   "o2ib0(ib0:1)", "tcp0(eth0)[0,1]", "tcp0(eth0)[0-3]", "o2ib0(ib0),o2ib1(ib1),tcp2",
                                   "tcp0(bond0.100)", "o2ib0(ens1f0np0)"])
def test_good_lnet_values(value):
    assert sfs.lnet_errors(value) == []


@pytest.mark.parametrize("value,errors", [
    ("o2ib0(ib0),tcp0(eth1", ["shared_fs_lnet_networks 'o2ib0(ib0),tcp0(eth1' has unbalanced parentheses or brackets "
                              "(e.g. o2ib0(ib0),tcp0(eth0))"]),
    ("o2ib0(ib0))", ["shared_fs_lnet_networks 'o2ib0(ib0))' has unbalanced parentheses or brackets (e.g. "
                     "o2ib0(ib0),tcp0(eth0))"]),
    ("o2ib0(ib0), tcp0(eth1)", ["shared_fs_lnet_networks 'o2ib0(ib0), tcp0(eth1)' contains whitespace; write the "
                                "networks without spaces, e.g. o2ib0(ib0),tcp0(eth0)"]),
    ("tcp0(eth0),tcp(eth1)", ["shared_fs_lnet_networks: network 'tcp0' is listed twice ('tcp0(eth0)' and 'tcp(eth1)' "
                              "are both tcp0)"]),
    ("o2ib(ib0),o2ib0(ib1)", ["shared_fs_lnet_networks: network 'o2ib0' is listed twice ('o2ib(ib0)' and "
                              "'o2ib0(ib1)' are both o2ib0)"]),
    ("gni0,kfi(cxi0)", [
        "shared_fs_lnet_networks: network 'gni0' has type 'gni'; this collection configures o2ib and tcp, optionally "
        "numbered (o2ib1, tcp2)",
        "shared_fs_lnet_networks: network 'kfi(cxi0)' has type 'kfi'; this collection configures o2ib and tcp, "
        "optionally numbered (o2ib1, tcp2)"]),
    ("ib0", ["shared_fs_lnet_networks: network 'ib0' has type 'ib'; this collection configures o2ib and tcp, "
             "optionally numbered (o2ib1, tcp2)"]),
    ("o2ib0()", ["shared_fs_lnet_networks: network 'o2ib0()' needs interface names (1-15 letters, digits, '_', '.', "
                 "':', '-') inside the parentheses"]),
    ("o2ib0(ib0,)", ["shared_fs_lnet_networks: network 'o2ib0(ib0,)' needs interface names (1-15 letters, digits, "
                     "'_', '.', ':', '-') inside the parentheses"]),
    ("tcp0(averyveryverylongname)", ["shared_fs_lnet_networks: network 'tcp0(averyveryverylongname)' needs interface "
                                     "names (1-15 letters, digits, '_', '.', ':', '-') inside the parentheses"]),
    ("o2ib0(ib0,ib0)", ["shared_fs_lnet_networks: network 'o2ib0(ib0,ib0)' lists an interface twice"]),
    ("tcp0(eth0)[a]", ["shared_fs_lnet_networks: network 'tcp0(eth0)[a]' has a bad CPT list [a] (e.g. [0,1] or "
                       "[0-3])"]),
    ("(ib0)", ["shared_fs_lnet_networks: network '(ib0)' is not type[number](interfaces), e.g. o2ib0(ib0) or "
               "tcp1(eth1,eth2)"]),
    ("O2IB0(ib0)", ["shared_fs_lnet_networks: network 'O2IB0(ib0)' is not type[number](interfaces), e.g. o2ib0(ib0) "
                    "or tcp1(eth1,eth2)"]),
    ("o2ib0(ib0)tcp0", ["shared_fs_lnet_networks: network 'o2ib0(ib0)tcp0' is not type[number](interfaces), e.g. "
                        "o2ib0(ib0) or tcp1(eth1,eth2)"]),
    ("o2ib0(ib0),", ["shared_fs_lnet_networks 'o2ib0(ib0),' has an empty network (a leading, trailing or doubled "
                     "',')"]),
    (",tcp0", ["shared_fs_lnet_networks ',tcp0' has an empty network (a leading, trailing or doubled ',')"]),
    ("", ["shared_fs_lnet_networks must be a string such as o2ib0(ib0),tcp0(eth0), got ''"]),
    (None, ["shared_fs_lnet_networks must be a string such as o2ib0(ib0),tcp0(eth0), got None"]),
    (["o2ib0(ib0)"], ["shared_fs_lnet_networks must be a string such as o2ib0(ib0),tcp0(eth0), got ['o2ib0(ib0)']"]),
])
def test_bad_lnet_values(value, errors):
    assert sfs.lnet_errors(value) == errors


def test_lnet_errors_varname():
    assert sfs.lnet_errors("ib0", varname="lnet") == [
        "lnet: network 'ib0' has type 'ib'; this collection configures o2ib and tcp, optionally numbered (o2ib1, tcp2)"]


def test_lnet_networks_output_passes_lnet_errors():
    for fact, kwargs in ((IB_UP, {"tcp_interface": "eth0"}), (ROCE, {}), (IB_DOWN, {"tcp_interface": "eth0"}),
                         (IB_UP, {"interfaces": {"o2ib1": ["ib0", "ib1"], "tcp0": "eth0"}})):
        assert sfs.lnet_errors(sfs.lnet_networks(fact, **kwargs)) == []


# ================================================================ SharedFsError
def test_long_error_lists_are_cut_in_the_message():
    err = sfs.SharedFsError(["problem %d" % i for i in range(25)])
    assert len(err.errors) == 25
    assert str(err).count("problem") == 20
    assert str(err).endswith("problem 19; ... and 5 more")
    assert sfs.SharedFsError("one").errors == ["one"]


def test_all_lists_the_public_names():
    for name in sfs.__all__:
        assert hasattr(sfs, name), name


# ================================================================ the filters
FILTERS = ["nfs_export_errors", "nfs_exports_lines", "mount_options", "mount_errors", "autofs_map_lines",
           "autofs_master_line", "lnet_networks", "lnet_errors"]


def test_filters_are_exposed():
    filters = flt.FilterModule().filters()
    assert sorted(filters) == sorted(FILTERS)
    for name in FILTERS:
        assert filters[name] is getattr(flt, name)


def test_filters_return_what_the_functions_return():
    exports = [export(["rw", "ro"])]
    assert flt.nfs_export_errors(exports) == sfs.export_errors(exports)
    assert flt.nfs_exports_lines([export()]) == ["/home 10.10.0.0/16(rw,sync,no_subtree_check,root_squash)"]
    assert flt.nfs_exports_lines([export()], default_options=["ro"]) == ["/home 10.10.0.0/16(ro)"]
    assert flt.mount_options(["rw"], "nfs4", automount=True) == "rw,_netdev,x-systemd.automount,x-systemd.idle-timeout=600"
    assert flt.mount_options(None, "lustre") == "_netdev"
    assert flt.mount_errors(GOOD_MOUNTS) == []
    assert flt.autofs_map_lines(GOOD_MOUNTS[:2]) == ["home -fstype=nfs4,rw,hard nfs01:/home",
                                                     "nfs4root -fstype=nfs4 nfs01.cluster.lan:/"]
    assert flt.autofs_master_line("/shared", "/etc/auto.hpcai") == "/shared /etc/auto.hpcai --timeout=600"
    assert flt.lnet_networks(IB_UP, tcp_interface="eth0") == "o2ib0(ib0)"
    assert flt.lnet_networks(IB_DOWN, tcp_interface="eth0") == "tcp0(eth0)"
    assert flt.lnet_errors("o2ib0(ib0)") == []


@pytest.mark.parametrize("call,message", [
    (lambda: flt.nfs_exports_lines([export(path="/a\nb")]),
     "hpcai.cluster.nfs_exports_lines (exports lines of shared_fs_nfs_exports): shared_fs_nfs_exports[0].path "
     "'/a\\nb' contains a newline or another control character; it cannot be written to an exports file"),
    (lambda: flt.nfs_export_errors([], forbidden_roots=["tmp"]),
     "hpcai.cluster.nfs_export_errors (checking shared_fs_nfs_exports): forbidden_roots must be a list of absolute "
     "paths, got 'tmp'"),
    (lambda: flt.mount_options(["hard", "soft"], "nfs4", varname="shared_fs_mounts[3].options"),
     "hpcai.cluster.mount_options (nfs4 mount options in shared_fs_mounts[3].options): shared_fs_mounts[3].options: "
     "'hard' and 'soft' contradict"),
    (lambda: flt.mount_options([], "xfs"),
     "hpcai.cluster.mount_options (xfs mount options in options): fstype must be one of nfs, nfs4, beegfs, lustre, "
     "got 'xfs'"),
    (lambda: flt.mount_errors([], forbidden_roots="x"),
     "hpcai.cluster.mount_errors (checking shared_fs_mounts): forbidden_roots must be a list of absolute paths, got "
     "'x'"),
    (lambda: flt.autofs_map_lines([mount("nfs", "nfs01")]),
     "hpcai.cluster.autofs_map_lines (autofs map of shared_fs_mounts): shared_fs_mounts[0].src 'nfs01' is not "
     "server:/export (e.g. nfs01:/home, 10.10.0.5:/home or [fd00::10]:/home)"),
    (lambda: flt.autofs_master_line("/tmp/a", "/etc/auto.hpcai"),
     "hpcai.cluster.autofs_master_line (master map line for /tmp/a): mount_root '/tmp/a' is under /tmp, which is not "
     "allowed %s (or /- for a direct map)" % FORBIDDEN),
    (lambda: flt.lnet_networks(IB_UP, interfaces={"o2ib0": "ib7"}),
     "hpcai.cluster.lnet_networks (LNet networks from hpcai_fabric and shared_fs_lnet_interfaces): "
     "shared_fs_lnet_interfaces['o2ib0']: interface ib7 is not in the hpcai_fabric fact (its IPoIB/RoCE interfaces: "
     "ib0, ib1)"),
    (lambda: flt.lnet_networks(IB_DOWN, varname="site_lnet"),
     "hpcai.cluster.lnet_networks (LNet networks from hpcai_fabric and site_lnet): site_lnet: no LNet network for "
     "o2ib, tcp: no IPoIB or RoCE interface is up in the hpcai_fabric fact and no tcp interface was given; set "
     "site_lnet, e.g. {o2ib0: ib0} or {tcp0: eth0}"),
])
def test_filter_errors_name_filter_and_variable(call, message):
    with pytest.raises(AnsibleFilterError) as err:
        call()
    assert str(err.value) == message


@pytest.fixture()
def no_netaddr(monkeypatch):
    monkeypatch.setattr(cn, "netaddr", None)
    monkeypatch.setattr(cn, "NETADDR_IMPORT_ERROR", ImportError("No module named 'netaddr'"))


def test_filters_without_netaddr(no_netaddr):
    with pytest.raises(AnsibleFilterError) as err:
        flt.nfs_export_errors([export()])
    assert str(err.value).startswith("hpcai.cluster.nfs_export_errors (checking shared_fs_nfs_exports): the Python "
                                     "library netaddr is not installed")
    assert str(err.value).endswith("pip install netaddr; requirements.txt of hpcai.cluster pins it)")
    with pytest.raises(AnsibleFilterError, match=r"hpcai.cluster.mount_errors \(checking shared_fs_mounts\): .*netaddr"):
        flt.mount_errors([mount("nfs", "10.10.0.5:/home")])
    # what needs no address parsing keeps working
    assert flt.lnet_errors("o2ib0(ib0)") == []
    assert flt.mount_options(["flock"], "lustre") == "flock,_netdev"


def test_fqcn_filters_in_templates():
    variables = {
        "shared_fs_nfs_exports": [{"path": "/home", "clients": [
            {"host": "10.10.0.0/16"}, {"host": "*.cluster.lan", "options": ["ro"]}]}],
        "shared_fs_mounts": [{"src": "nfs01:/home", "path": "/shared/home", "fstype": "nfs4",
                              "options": ["rw", "hard"], "automount": True}],
        "hpcai_fabric": IB_UP,
    }
    assert evaluate("{{ shared_fs_nfs_exports | hpcai.cluster.nfs_export_errors('shared_fs_nfs_exports') }}",
                    variables) == []
    assert evaluate("{{ shared_fs_nfs_exports | hpcai.cluster.nfs_exports_lines | join('\n') }}", variables) == (
        "/home 10.10.0.0/16(rw,sync,no_subtree_check,root_squash) *.cluster.lan(ro)")
    assert evaluate("{{ shared_fs_mounts[0].options | hpcai.cluster.mount_options(shared_fs_mounts[0].fstype, "
                    "automount=shared_fs_mounts[0].automount, idle_timeout=900) }}", variables) == (
        "rw,hard,_netdev,x-systemd.automount,x-systemd.idle-timeout=900")
    assert evaluate("{{ shared_fs_mounts | hpcai.cluster.mount_errors }}", variables) == []
    assert evaluate("{{ shared_fs_mounts | hpcai.cluster.autofs_map_lines(mount_root='/shared') }}", variables) == [
        "home -fstype=nfs4,rw,hard nfs01:/home"]
    assert evaluate("{{ shared_fs_mounts | hpcai.cluster.autofs_map_lines(direct=true) }}", variables) == [
        "/shared/home -fstype=nfs4,rw,hard nfs01:/home"]
    assert evaluate("{{ '/shared' | hpcai.cluster.autofs_master_line('/etc/auto.hpcai', timeout=60) }}",
                    variables) == "/shared /etc/auto.hpcai --timeout=60"
    assert evaluate("{{ hpcai_fabric | hpcai.cluster.lnet_networks(tcp_interface='eth0') }}", variables) == (
        "o2ib0(ib0)")
    assert evaluate("{{ hpcai_fabric | hpcai.cluster.lnet_networks(interfaces={'o2ib0': 'ib1', 'tcp0': 'eth0'}) }}",
                    variables) == "o2ib0(ib1),tcp0(eth0)"
    assert evaluate("{{ 'o2ib0(ib0),tcp(eth0),tcp0(eth1)' | hpcai.cluster.lnet_errors }}", variables) == [
        "shared_fs_lnet_networks: network 'tcp0' is listed twice ('tcp(eth0)' and 'tcp0(eth1)' are both tcp0)"]
    with pytest.raises(AnsibleFilterError, match="'rw' and 'ro' contradict"):
        evaluate("{{ ['rw', 'ro'] | hpcai.cluster.mount_options('nfs') }}", {})


# ================================================================ the .yml docs match the filters
@pytest.mark.parametrize("name", FILTERS)
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
        else:
            assert "default" not in options[param], param
    assert "_value" in doc["RETURN"]
