"""shared_fs role: preflight through ansible-playbook on localhost (bad exports,
mounts and stack settings fail before any change, naming the variable), and
the role's own Jinja decisions (who serves, who mounts, fstab vs autofs,
kernel-guard record, health-check pairs).
"""
from __future__ import annotations

import pytest
import yaml

from render_helpers import evaluate, role_variables
from test_role_specs import PREFLIGHT_PLAY, _run_playbook

EXPORTS = [{"path": "/srv/home", "clients": [{"host": "10.10.0.0/16"}]}]
MOUNTS = [
    {"src": "nfs1:/srv/home", "path": "/home", "fstype": "nfs4", "options": ["hard"]},
    {"src": "nfs1:/srv/apps", "path": "/apps", "fstype": "nfs4", "options": ["ro"], "state": "present"},
    {"src": "10.0.0.1@o2ib:/lfs01", "path": "/lustre", "fstype": "lustre"},
]


def _vars(host, overrides=None):
    ov = {"shared_fs_nfs_server_group": "compute", "shared_fs_nfs_exports": EXPORTS, "shared_fs_mounts": MOUNTS,
          "shared_fs_lustre": True, "shared_fs_lustre_repo_url": "http://mirror/lustre/"}
    ov.update(overrides or {})
    return role_variables("shared_fs", "rocky9", host, ov)


def test_server_and_clients():
    assert evaluate("{{ __shared_fs_is_server }}", _vars("node1")) is True
    assert evaluate("{{ __shared_fs_is_client }}", _vars("node1")) is False
    assert evaluate("{{ __shared_fs_client_mounts }}", _vars("node1")) == []
    assert evaluate("{{ __shared_fs_is_client }}", _vars("head1")) is True
    assert evaluate("{{ __shared_fs_is_client }}", _vars("node1", {"shared_fs_mount_on_server": True})) is True


def test_fstab_or_autofs():
    v = _vars("head1")
    assert [m["path"] for m in evaluate("{{ __shared_fs_fstab_mounts }}", v)] == ["/home", "/apps", "/lustre"]
    assert evaluate("{{ __shared_fs_autofs_mounts }}", v) == []
    v = _vars("head1", {"shared_fs_mount_method": "autofs"})
    assert [m["path"] for m in evaluate("{{ __shared_fs_autofs_mounts }}", v)] == ["/home", "/apps"]
    # Lustre stays in fstab: autofs takes the NFS mounts only
    assert [m["path"] for m in evaluate("{{ __shared_fs_fstab_mounts }}", v)] == ["/lustre"]


def test_wanted_kernel_filesystems():
    assert evaluate("{{ __shared_fs_wanted_fs }}", _vars("head1")) == ["nfs4", "lustre"]
    assert evaluate("{{ __shared_fs_wanted_fs }}", _vars("node1")) == ["nfsd"]


def test_kernel_guard_record_for_lustre_clients():
    v = _vars("head1")
    assert evaluate("{{ __shared_fs_guard_modules }}", v) == ["lustre", "lnet"]
    assert evaluate("{{ __shared_fs_guard_packages }}", v) == ["lustre-client", "kmod-lustre-client"]
    assert evaluate("{{ __shared_fs_guard_modules }}", _vars("node1")) == []


def test_health_pairs_use_the_first_two_hosts_with_the_mount():
    v = _vars("head1")
    hv = v["hostvars"]
    hv["head1"]["__shared_fs_live"] = ["/home", "/scratch"]
    hv["node1"]["__shared_fs_live"] = []
    hv["node2"]["__shared_fs_live"] = ["/home"]
    assert evaluate("{{ __shared_fs_health_pairs }}", v) == [{"path": "/home", "writer": "head1", "reader": "node2"}]


# ---------------------------------------------------------------- preflight on localhost
def _case(name, variables):
    case_vars = yaml.safe_dump(variables, default_flow_style=True, width=10000).strip()
    steps = "".join(f"""\
    - name: {t}
      ansible.builtin.include_role:
        name: hpcai.cluster.shared_fs
        tasks_from: {t}
      vars: {case_vars}
""" for t in ("set_vars.yml", "preflight.yml"))
    return f"""\
- name: "Case {name}"
  block:
{steps}    - name: Record success
      ansible.builtin.set_fact:
        results: "{{{{ results | combine({{'{name}': {{'failed': false, 'msg': ''}}}}) }}}}"
  rescue:
    - name: Record failure
      ansible.builtin.set_fact:
        results: "{{{{ results | combine({{'{name}': {{'failed': true, 'msg': ansible_failed_result.msg | default('')}}}}) }}}}"
"""


CASES = [
    ("ok", {"shared_fs_nfs_server_group": "all", "shared_fs_nfs_exports": EXPORTS, "shared_fs_mounts": MOUNTS[:2]}, None),
    ("rw_ro", {"shared_fs_nfs_server_group": "all",
               "shared_fs_nfs_exports": [{"path": "/srv/x", "clients": [{"host": "*", "options": ["rw", "ro"]}]}]},
     ["shared_fs_nfs_exports[0].clients[0].options", "contradict"]),
    ("host_bits", {"shared_fs_nfs_server_group": "all",
                   "shared_fs_nfs_exports": [{"path": "/srv/x", "clients": [{"host": "10.10.0.1/16"}]}]},
     ["shared_fs_nfs_exports[0].clients[0]", "10.10.0.1/16"]),
    ("export_proc", {"shared_fs_nfs_server_group": "all",
                     "shared_fs_nfs_exports": [{"path": "/proc/x", "clients": [{"host": "*"}]}]},
     ["shared_fs_nfs_exports[0].path", "/proc"]),
    ("relative_path", {"shared_fs_nfs_server_group": "all",
                       "shared_fs_nfs_exports": [{"path": "srv/x", "clients": [{"host": "*"}]}]},
     ["shared_fs_nfs_exports[0].path"]),
    ("no_server", {"shared_fs_nfs_server_group": "no_such_group", "shared_fs_nfs_exports": EXPORTS},
     ["shared_fs_nfs_server_group"]),
    ("mount_src", {"shared_fs_mounts": [{"src": "nfs1", "path": "/home", "fstype": "nfs4"}]}, ["shared_fs_mounts[0]"]),
    ("mount_dup", {"shared_fs_mounts": [MOUNTS[0], dict(MOUNTS[1], path="/home")]}, ["shared_fs_mounts", "/home"]),
    ("vers_nfs4", {"shared_fs_mounts": [dict(MOUNTS[0], options=["vers=3"])]}, ["shared_fs_mounts[0]", "vers"]),
    ("lustre_off", {"shared_fs_mounts": [MOUNTS[2]]}, ["shared_fs_lustre"]),
    ("lnet_syntax", {"shared_fs_lustre_lnet_networks": "o2ib0 ib0"}, ["shared_fs_lustre_lnet_networks"]),
    ("beegfs_no_mgmtd", {"shared_fs_beegfs": True, "shared_fs_beegfs_repo_url": "http://mirror/beegfs"},
     ["shared_fs_beegfs_mgmtd_host"]),
    ("lmod_path", {"shared_fs_lmod_modulepaths": ["apps/modulefiles"]}, ["shared_fs_lmod_modulepaths"]),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shared_fs")
    files = {f"case_{n}.yml": _case(n, v) for n, v, _e in CASES}
    return _run_playbook(tmp, PREFLIGHT_PLAY, files, {"cases": list(files)})


@pytest.mark.parametrize("case,expected", [pytest.param(n, e, id=n) for n, _v, e in CASES])
def test_preflight(case, expected, results):
    res = results[case]
    if expected is None:
        assert not res["failed"], res["msg"]
        return
    assert res["failed"], f"{case} was accepted"
    for needle in expected:
        assert needle in res["msg"], f"{needle!r} not in {res['msg']!r}"
