# -*- coding: utf-8 -*-
"""Tests for plugins/modules/cgroup_partition.py, run through AnsibleModule.

A fake ``root`` holds what the module looks at to decide whether systemd can
enforce ``AllowedCPUs=`` (``sys/fs/cgroup/cgroup.controllers`` or a v1/hybrid
layout, ``run/systemd/system``, container markers); the drop-ins go to a
separate temporary ``dest_root``.  The topology is passed as a fact computed
from the synthetic generator, except where the module must read it itself.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import sys

import pytest

from ansible.module_utils.testing import patch_module_args

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sysfs_gen as gen  # noqa: E402

from ansible_collections.hpcai.cluster.plugins.modules import cgroup_partition as mod  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils import topology as topo  # noqa: E402

SPEC = gen.make_spec(gen.MILAN, name="two_ccx", sockets=2, ccx_per_socket=2)  # 2 x 16 cores, SMT: 64 CPUs
DROPIN = "etc/systemd/system/%s.d/90-hpcai-cpus.conf"
V2_CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma misc\n"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def read(path):
    with open(path) as handle:
        return handle.read()


def fact(spec=SPEC):
    reader = gen.MemoryReader.for_spec(spec, full=False)
    return topo.collect(reader, *topo.allowed_cpus(reader))


FACT = fact()


def make_root(path, cgroup="v2", controllers=V2_CONTROLLERS, systemd=True, container=None):
    path = str(path)
    os.makedirs(path, exist_ok=True)
    if cgroup == "v2":
        write(os.path.join(path, "sys/fs/cgroup/cgroup.controllers"), controllers)
    elif cgroup == "v1":
        os.makedirs(os.path.join(path, "sys/fs/cgroup/cpuset"))
        os.makedirs(os.path.join(path, "sys/fs/cgroup/systemd"))
    elif cgroup == "hybrid":
        os.makedirs(os.path.join(path, "sys/fs/cgroup/cpuset"))
        write(os.path.join(path, "sys/fs/cgroup/unified/cgroup.procs"), "")
    if systemd:
        os.makedirs(os.path.join(path, "run/systemd/system"))
    if container:
        write(os.path.join(path, ".dockerenv"), "")
    return path


@pytest.fixture
def env(tmp_path):
    dest = str(tmp_path / "dest")
    os.makedirs(dest)
    return {"root": make_root(tmp_path / "root"), "dest_root": dest, "tmp": tmp_path}


def args(env, **kw):
    base = {"root": env["root"], "dest_root": env["dest_root"], "topology": FACT, "systemd_version": 252}
    base.update(kw)
    return base


def run_module(module_args, capsys):
    """Run main(); return (exit code, result). ``result["warnings"]`` lists the
    module.warn() messages (ansible-core 2.19 prints them instead of adding them
    to the JSON when a module runs outside a task)."""
    seen = []
    real_warn = mod.AnsibleModule.warn

    def warn(self, warning):
        seen.append(warning)
        return real_warn(self, warning)

    mod.AnsibleModule.warn = warn
    try:
        with patch_module_args(module_args):
            with pytest.raises(SystemExit) as exc:
                mod.main()
    finally:
        mod.AnsibleModule.warn = real_warn
    out = capsys.readouterr().out
    result = json.loads(out)
    result["warnings"] = seen
    return exc.value.code, result


def dropin(env, unit):
    return os.path.join(env["dest_root"], DROPIN % unit)


# --------------------------------------------------------------------------


def test_writes_dropins_and_second_run_is_unchanged(env, capsys):
    code, r = run_module(args(env, services=["sssd.service"]), capsys)
    assert code == 0, r
    fact_ = r["ansible_facts"]["hpcai_cgroup_partition"]
    hk = fact_["housekeeping_cpus"]
    assert hk == "0,8,16,24,32,40,48,56"  # first core of each of the 4 CCX, with its sibling (N+32)
    assert r["changed"] is True and r["enforcement"]["allowed_cpus"] is True
    expected = {"user.slice": "Slice", "init.scope": "Scope", "sssd.service": "Service"}
    assert r["files"] == [dropin(env, u) for u in expected]
    assert fact_["files"] == r["files"] and fact_["enforcement"] == r["enforcement"]
    for unit, section in expected.items():
        text = read(dropin(env, unit))
        assert text.startswith("# Managed by hpcai.cluster.cgroup_partition")
        assert text.endswith("\n[%s]\nAllowedCPUs=%s\n" % (section, hk))
        assert oct(os.stat(dropin(env, unit)).st_mode & 0o777) == "0o644"
    assert not os.path.exists(os.path.join(env["dest_root"], DROPIN % "system.slice"))
    # dest_root is not /: no daemon-reload, but it is due
    assert r["daemon_reload"] is False and r["reload_pending"] is True
    assert [d["after_header"] for d in r["diff"]] == r["files"]
    assert all(d["before"] == "" for d in r["diff"])
    # the fact carries the kernel_tuning contract and the Slurm values
    assert fact_["irqbalance_banned_cpus"] == fact_["workload_cpus"]
    assert fact_["irqaffinity"] == hk
    assert fact_["slurm"]["CpuSpecList"] == "0-1,16-17,32-33,48-49"
    assert fact_["slurm"]["node"]["SocketsPerBoard"] == 2
    assert fact_["slurm"]["node_l3_as_socket"]["SocketsPerBoard"] == 4

    code, r2 = run_module(args(env, services=["sssd.service"]), capsys)
    assert code == 0
    assert r2["changed"] is False and r2["diff"] == [] and r2["reload_pending"] is False
    assert r2["files"] == r["files"]


def test_check_mode_writes_nothing(env, capsys):
    code, r = run_module(args(env, _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert code == 0, r
    assert r["changed"] is True
    assert not os.path.exists(os.path.join(env["dest_root"], "etc"))
    assert r["files"] == [dropin(env, "user.slice"), dropin(env, "init.scope")]
    assert r["diff"][0]["before"] == "" and "AllowedCPUs=" in r["diff"][0]["after"]


def test_check_mode_after_a_real_run_reports_no_change(env, capsys):
    run_module(args(env), capsys)
    code, r = run_module(args(env, _ansible_check_mode=True), capsys)
    assert code == 0 and r["changed"] is False and r["diff"] == []


def test_changed_plan_rewrites_and_diffs(env, capsys):
    run_module(args(env), capsys)
    before = read(dropin(env, "user.slice"))
    code, r = run_module(args(env, policy="per_socket"), capsys)
    assert r["changed"] is True
    assert r["diff"][0]["before"] == before
    assert "AllowedCPUs=0,16,32,48" in r["diff"][0]["after"] and "per_socket" in r["diff"][0]["after"]
    assert read(dropin(env, "user.slice")) == r["diff"][0]["after"]


def test_dropped_service_is_removed_foreign_files_kept(env, capsys):
    run_module(args(env, services=["sssd.service"]), capsys)
    foreign = os.path.join(env["dest_root"], "etc/systemd/system/chronyd.service.d/90-hpcai-cpus.conf")
    write(foreign, "[Service]\nAllowedCPUs=0\n")  # not ours: no marker line
    other = os.path.join(env["dest_root"], "etc/systemd/system/sssd.service.d/10-local.conf")
    write(other, "[Service]\nNice=5\n")
    code, r = run_module(args(env, services=[]), capsys)
    assert r["changed"] is True and r["removed"] == [dropin(env, "sssd.service")]
    assert not os.path.exists(dropin(env, "sssd.service")) and os.path.exists(other)
    assert os.path.exists(foreign)
    assert r["diff"][-1]["after"] == "" and r["diff"][-1]["after_header"].endswith("(removed)")
    code, r = run_module(args(env, services=[]), capsys)
    assert r["changed"] is False and r["removed"] == []


@pytest.mark.parametrize("layout, words", [
    ({"cgroup": "v1"}, "cgroup v1 hierarchy"),
    ({"cgroup": "hybrid"}, "hybrid"),
    ({"controllers": "cpu io memory pids\n"}, "cpuset controller is not available"),
    ({"systemd": False}, "not the running init system"),
])
def test_no_enforcement_writes_nothing_and_says_why(tmp_path, capsys, layout, words):
    env = {"root": make_root(tmp_path / "root", **layout), "dest_root": str(tmp_path / "dest")}
    os.makedirs(env["dest_root"])
    code, r = run_module(args(env), capsys)
    assert code == 0 and "failed" not in r, r
    assert r["changed"] is False and r["files"] == [] and r["diff"] == []
    assert r["enforcement"]["allowed_cpus"] is False and words in r["enforcement"]["reason"]
    assert any(words in w and w.startswith("AllowedCPUs= not enforced") for w in r["warnings"])
    assert os.listdir(env["dest_root"]) == []
    fact_ = r["ansible_facts"]["hpcai_cgroup_partition"]
    assert fact_["housekeeping_cpus"] and fact_["slurm"]["CpuSpecList"] and fact_["files"] == []
    # the plan is still shown
    assert "AllowedCPUs=%s" % fact_["housekeeping_cpus"] in r["dropins"]["user.slice"]["content"]


def test_lab_container_on_cgroup_v1_host(tmp_path, capsys):
    env = {"root": make_root(tmp_path / "root", cgroup="v1", container="docker"), "dest_root": str(tmp_path)}
    code, r = run_module(args(env, systemd_version=239), capsys)
    reason = r["enforcement"]["reason"]
    assert reason.startswith("inside a docker container")
    assert "cgroup v1" in reason and "older than 244" in reason and "Nothing is enforced" in reason
    assert r["enforcement"]["container"] == "docker" and r["files"] == []


def test_old_systemd(env, capsys):
    code, r = run_module(args(env, systemd_version=239), capsys)
    assert code == 0 and r["changed"] is False and r["files"] == []
    assert "systemd 239 is older than 244" in r["enforcement"]["reason"]
    assert not os.path.exists(os.path.join(env["dest_root"], "etc"))


def test_other_root_without_systemd_version(env, capsys):
    a = args(env)
    del a["systemd_version"]
    code, r = run_module(a, capsys)
    assert r["enforcement"]["allowed_cpus"] is False
    assert "pass systemd_version" in r["enforcement"]["reason"]


class FakeModule(object):
    def __init__(self, out, rc=0, version=None, binary="/usr/bin/systemctl"):
        self.params = {"systemd_version": version}
        self.out, self.rc, self.binary = out, rc, binary
        self.calls = []

    def get_bin_path(self, name, required=False):
        return self.binary

    def run_command(self, argv):
        self.calls.append(argv)
        return self.rc, self.out, ""


def test_systemd_version_from_systemctl():
    fake = FakeModule("systemd 252 (252-46.el9_5.2)\n+PAM +AUDIT\n")
    assert mod._systemd_version(fake, "/") == (252, None)
    assert fake.calls == [["/usr/bin/systemctl", "--version"]]
    assert mod._systemd_version(FakeModule("", version=255), "/") == (255, None)
    version, error = mod._systemd_version(FakeModule("", binary=None), "/")
    assert version is None and error == "systemctl not found"
    version, error = mod._systemd_version(FakeModule("garbage", rc=1), "/")
    assert version is None and "rc 1" in error


@pytest.fixture
def live_dest(env, monkeypatch):
    """Pretend dest_root is / (for the daemon-reload decision) and record commands."""
    real = os.path.realpath
    calls = []

    def realpath(path):
        return "/" if path == env["dest_root"] else real(path)

    def run_command(self, argv, **kw):
        calls.append(list(argv))
        return env.get("rc", 0), "", env.get("err", "")

    monkeypatch.setattr(mod.os.path, "realpath", realpath)
    monkeypatch.setattr(mod.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(mod.AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: "/bin/" + name)
    env["calls"] = calls
    return env


def test_daemon_reload_only_when_something_changed(live_dest, capsys):
    env = live_dest
    code, r = run_module(args(env, _ansible_check_mode=True), capsys)
    assert r["daemon_reload"] is True and env["calls"] == []  # would reload
    code, r = run_module(args(env), capsys)
    assert r["daemon_reload"] is True and r["reload_pending"] is False
    assert env["calls"] == [["/bin/systemctl", "daemon-reload"]]
    code, r = run_module(args(env), capsys)
    assert r["changed"] is False and r["daemon_reload"] is False
    assert env["calls"] == [["/bin/systemctl", "daemon-reload"]]
    # apply: false writes but does not reload
    code, r = run_module(args(env, policy="per_socket", apply=False), capsys)
    assert r["changed"] is True and r["daemon_reload"] is False and r["reload_pending"] is True
    assert len(env["calls"]) == 1


def test_daemon_reload_failure_fails(live_dest, capsys):
    live_dest["rc"], live_dest["err"] = 1, "Failed to connect to bus"
    code, r = run_module(args(live_dest), capsys)
    assert code == 1 and "daemon-reload failed (rc 1): Failed to connect to bus" in r["msg"]


@pytest.mark.parametrize("extra, message", [
    ({"services": ["system.slice"]}, "services[0]: system.slice must not be restricted: slurmstepd scopes"),
    ({"services": ["sshd"]}, "is not a systemd unit name"),
    ({"slurm_spec": ["CpuSpecList", "CoreSpecCount"]}, "CpuSpecList and CoreSpecCount were both requested"),
    ({"policy": "explicit"}, "policy is explicit but all of the following are missing: cpus"),
    ({"policy": "explicit", "cpus": "0,300"}, "cpus: CPUs 300 do not exist"),
    ({"count": 9}, "count=9 is larger than the 8 core(s) of l3:0"),
    ({"memory_reserve_mib": 1, "memory_reserve_percent": 1}, "mutually exclusive"),
    ({"slurm_spec": ["Cores"]}, "value of slurm_spec must be one or more of"),
])
def test_bad_options_fail_before_writing(env, capsys, extra, message):
    code, r = run_module(args(env, **extra), capsys)
    assert code == 1 and message in r["msg"], r["msg"]
    assert not os.path.exists(os.path.join(env["dest_root"], "etc"))


def test_reads_topology_and_gpus_from_root(tmp_path, capsys):
    spec = gen.CATALOGUE["workstation_milan_1p_pcie_gpu"]  # 16 cores, one GPU with numa_node -1
    root = gen.build_tree(str(tmp_path / "root"), spec, full=False)
    make_root(root)
    code, r = run_module({"root": root, "dest_root": str(tmp_path / "dest"), "systemd_version": 252,
                          "gpu_local_cpus": "avoid"}, capsys)
    assert code == 0, r
    fact_ = r["ansible_facts"]["hpcai_cgroup_partition"]
    assert fact_["cpus_online"] == "0-31"
    assert fact_["gpu_cpus"] == "0-31"  # numa_node -1: local to every CPU
    assert any("every per_l3 unit is local to a GPU" in w for w in r["warnings"])
    assert fact_["housekeeping_cpus"] == "0,8,16,24"


def test_topology_without_cores_is_read_again(tmp_path, capsys):
    spec = gen.make_spec(gen.MILAN, name="tiny", ccx_per_socket=1)
    root = gen.build_tree(str(tmp_path / "root"), spec, full=False)
    make_root(root)
    old = fact(spec)
    del old["cores"]
    code, r = run_module({"root": root, "dest_root": str(tmp_path / "dest"), "systemd_version": 252,
                          "topology": old}, capsys)
    assert code == 0, r
    assert any("no 'cores' list" in w for w in r["warnings"])
    assert r["ansible_facts"]["hpcai_cgroup_partition"]["housekeeping_cpus"] == "0,8"


def test_unexpected_error_is_reported(env, capsys, monkeypatch):
    def broken(*a, **kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(mod, "plan", broken)
    code, r = run_module(args(env), capsys)
    assert code == 1 and "RuntimeError: disk on fire" in r["msg"]
