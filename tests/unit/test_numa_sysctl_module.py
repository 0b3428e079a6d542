# -*- coding: utf-8 -*-
"""Tests for plugins/modules/numa_sysctl.py, run through AnsibleModule on fake roots.

A fake root holds ``proc/sys`` files with current values, the THP sysfs files in
the kernel's ``always [madvise] never`` format, and per-node hugepage counters;
the sysctl.d file goes to a separate ``dest_root``.
"""

from __future__ import absolute_import, division, print_function

import errno
import json
import os
import shutil
import sys
import tempfile
import time

import pytest

from ansible.module_utils.testing import patch_module_args

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sysfs_gen as gen  # noqa: E402

from ansible_collections.hpcai.cluster.plugins.modules import numa_sysctl as mod  # noqa: E402

DEST = "/etc/sysctl.d/90-hpcai-numa.conf"
EL9 = "5.14.0-503.el9.x86_64"
EL8 = "4.18.0-553.el8_10.x86_64"

PROC_SYS = {
    "kernel/numa_balancing": "1",
    "kernel/sched_autogroup_enabled": "1",
    "vm/zone_reclaim_mode": "0",
    "vm/min_free_kbytes": "90112",
    "vm/swappiness": "60",
    "vm/max_map_count": "65530",
    "vm/dirty_bytes": "0",
    "vm/dirty_background_bytes": "0",
    "vm/dirty_ratio": "20",
    "vm/dirty_background_ratio": "10",
    "vm/watermark_scale_factor": "10",
}
SCHED_EL8 = {
    "kernel/sched_migration_cost_ns": "500000",
    "kernel/sched_min_granularity_ns": "3000000",
    "kernel/sched_wakeup_granularity_ns": "4000000",
}
THP_ENABLED = "always [madvise] never\n"
THP_DEFRAG = "always defer defer+madvise [madvise] never\n"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def read(path):
    with open(path) as handle:
        return handle.read()


def make_root(path, release=EL9, nodes=(0, 1), sched=False, sizes=(2048, 1048576), thp=True):
    path = str(path)
    values = dict(PROC_SYS)
    if sched:
        values.update(SCHED_EL8)
    for rel, value in values.items():
        write(os.path.join(path, "proc/sys", rel), value + "\n")
    write(os.path.join(path, "proc/sys/kernel/osrelease"), release + "\n")
    if thp:
        write(os.path.join(path, "sys/kernel/mm/transparent_hugepage/enabled"), THP_ENABLED)
        write(os.path.join(path, "sys/kernel/mm/transparent_hugepage/defrag"), THP_DEFRAG)
    for size in sizes:
        write(os.path.join(path, "sys/kernel/mm/hugepages/hugepages-%dkB/nr_hugepages" % size), "0\n")
        for nid in nodes:
            write(os.path.join(path, "sys/devices/system/node/node%d/hugepages/hugepages-%dkB/nr_hugepages"
                               % (nid, size)), "0\n")
    return path


def topology(nodes=2, mem_gib=384, cores=96):
    numa = []
    for nid in range(nodes):
        a = nid * cores
        numa.append({"id": nid, "cpus": "%d-%d,%d-%d" % (a, a + cores - 1, a + nodes * cores, a + nodes * cores + cores - 1),
                     "memory_mib": mem_gib * 1024, "distances": [10 if j == nid else 32 for j in range(nodes)]})
    return {
        "vendor": "AuthenticAMD", "generation": "zen4", "cpus_online": "0-%d" % (2 * nodes * cores - 1),
        "counts": {"cpus_online": 2 * nodes * cores, "cores": nodes * cores, "sockets": nodes, "numa_nodes": nodes,
                   "numa_nodes_total": nodes, "l3_domains": nodes * 12},
        "numa_nodes": numa, "l3_domains": [],
    }


def run_module(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            mod.main()
    out = capsys.readouterr().out
    return exc.value.code, json.loads(out)


@pytest.fixture
def env(tmp_path):
    root = make_root(tmp_path / "root")
    dest_root = str(tmp_path / "dest")
    os.makedirs(dest_root)
    return {"root": root, "dest_root": dest_root, "file": os.path.join(dest_root, DEST.lstrip("/"))}


def args(env, **kw):
    base = {"root": env["root"], "dest_root": env["dest_root"], "topology": topology()}
    base.update(kw)
    return base


def live(env, rel):
    return read(os.path.join(env["root"], rel)).strip()


# --------------------------------------------------------------------------


def test_first_run_writes_and_applies_second_run_is_idempotent(env, capsys):
    code, r = run_module(args(env), capsys)
    assert code == 0, r
    assert r["changed"] is True and r["container"] is False
    assert r["file"] == env["file"]
    assert read(env["file"]) == r["content"]
    assert "vm.zone_reclaim_mode = 1\n" in r["content"]
    assert live(env, "proc/sys/kernel/numa_balancing") == "0"
    assert live(env, "proc/sys/vm/zone_reclaim_mode") == "1"
    assert live(env, "proc/sys/vm/min_free_kbytes") == r["sysctls"]["vm.min_free_kbytes"]
    assert live(env, "proc/sys/kernel/sched_autogroup_enabled") == "0"
    assert live(env, "sys/kernel/mm/transparent_hugepage/enabled") == "always"
    assert live(env, "sys/kernel/mm/transparent_hugepage/defrag") == "defer+madvise"
    assert set(r["applied"]) >= {"kernel.numa_balancing", "vm.min_free_kbytes", "thp.enabled", "thp.defrag"}
    assert r["kernel_release"] == EL9
    assert r["cmdline_args"] == ["transparent_hugepage=always"]
    assert r["reboot_required"] is False
    skipped = dict((s["key"], s["reason"]) for s in r["skipped_keys"])
    assert "debugfs in 5.13" in skipped["kernel.sched_migration_cost_ns"]
    assert r["diff"][0]["before"] == "" and r["diff"][0]["after"] == r["content"]
    assert r["diff"][1]["before"]["kernel.numa_balancing"] == "1"
    assert r["diff"][1]["after"]["kernel.numa_balancing"] == "0"
    assert oct(os.stat(env["file"]).st_mode & 0o777) == "0o644"

    # a truthy "skipped" key would make Ansible show the task as skipped
    assert "skipped" not in r and r["skipped_keys"]

    code, r2 = run_module(args(env), capsys)
    assert code == 0
    assert r2["changed"] is False and r2["applied"] == []
    assert r2["content"] == r["content"]


def test_only_differing_live_values_are_written(env, capsys):
    write(os.path.join(env["root"], "proc/sys/vm/swappiness"), "10\n")
    write(os.path.join(env["root"], "sys/kernel/mm/transparent_hugepage/enabled"), "[always] madvise never\n")
    code, r = run_module(args(env), capsys)
    assert "vm.zone_reclaim_mode" in r["applied"]
    assert "vm.swappiness" not in r["applied"] and "thp.enabled" not in r["applied"]
    # untouched: the kernel's bracketed format is still there
    assert live(env, "sys/kernel/mm/transparent_hugepage/enabled") == "[always] madvise never"


def test_check_mode_changes_nothing(env, capsys):
    before = dict((rel, live(env, "proc/sys/" + rel)) for rel in PROC_SYS)
    code, r = run_module(args(env, _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert code == 0
    assert r["changed"] is True
    assert not os.path.exists(env["file"])
    assert dict((rel, live(env, "proc/sys/" + rel)) for rel in PROC_SYS) == before
    assert live(env, "sys/kernel/mm/transparent_hugepage/enabled") == THP_ENABLED.strip()
    assert "kernel.numa_balancing" in r["applied"]
    assert r["diff"][0]["after"] == r["content"]
    assert r["diff"][1]["before"]["thp.enabled"] == "madvise" and r["diff"][1]["after"]["thp.enabled"] == "always"


def test_check_mode_after_a_real_run_reports_no_change(env, capsys):
    run_module(args(env), capsys)
    code, r = run_module(args(env, _ansible_check_mode=True), capsys)
    assert code == 0 and r["changed"] is False and r["applied"] == []


@pytest.mark.parametrize("marker, content", [
    (".dockerenv", ""),
    ("run/.containerenv", ""),
    ("run/systemd/container", "podman\n"),
    ("proc/1/environ", "PATH=/bin\0container=docker\0"),
])
def test_container_renders_but_does_not_touch_live_values(env, capsys, marker, content):
    write(os.path.join(env["root"], marker), content)
    code, r = run_module(args(env, hugepages={"size": "1G", "per_node": 2}), capsys)
    assert code == 0 and "failed" not in r
    assert r["container"] is True and r["container_reason"]
    assert r["changed"] is True and os.path.exists(env["file"])
    assert r["applied"] == []
    assert live(env, "proc/sys/kernel/numa_balancing") == "1"
    skipped = dict((s["key"], s["reason"]) for s in r["skipped_keys"])
    for key in ("kernel.numa_balancing", "vm.min_free_kbytes", "thp.enabled", "hugepages.node0.1048576kB"):
        assert "read-only /proc/sys in a container" in skipped[key]
    assert r["reboot_required"] is False
    code, r2 = run_module(args(env, hugepages={"size": "1G", "per_node": 2}), capsys)
    assert r2["changed"] is False


@pytest.mark.parametrize("code_", [errno.EROFS, errno.EACCES, errno.EPERM])
def test_readonly_proc_sys_is_treated_as_container(env, capsys, monkeypatch, code_):
    def refuse(path, value):
        raise OSError(code_, os.strerror(code_), path)

    monkeypatch.setattr(mod, "_write", refuse)
    if code_ != errno.EROFS:
        monkeypatch.setattr(mod.os, "geteuid", lambda: 0)
    code, r = run_module(args(env), capsys)
    assert code == 0 and "failed" not in r
    assert r["container"] is True and os.strerror(code_) in r["container_reason"]
    assert r["applied"] == [] and os.path.exists(env["file"])
    assert any("read-only /proc/sys in a container" in s["reason"] for s in r["skipped_keys"])


def test_permission_error_as_non_root_fails_with_hint(env, capsys, monkeypatch):
    def refuse(path, value):
        raise OSError(errno.EACCES, "Permission denied", path)

    monkeypatch.setattr(mod, "_write", refuse)
    monkeypatch.setattr(mod.os, "geteuid", lambda: 1000)
    code, r = run_module(args(env), capsys)
    assert code == 1 and "become" in r["msg"]


def test_kernel_rejecting_a_value_fails_before_writing_the_file(env, capsys, monkeypatch):
    real = mod._write

    def picky(path, value):
        if path.endswith("vm/swappiness"):
            raise OSError(errno.EINVAL, "Invalid argument", path)
        real(path, value)

    monkeypatch.setattr(mod, "_write", picky)
    code, r = run_module(args(env, overrides={"vm.swappiness": 1000}), capsys)
    assert code == 1 and r["failed"] is True
    assert "vm.swappiness = 1000" in r["msg"] and "Invalid argument" in r["msg"]
    assert not os.path.exists(env["file"])


def test_bad_profile_names_the_option(env, capsys):
    code, r = run_module(args(env, profile="throughput"), capsys)
    assert code == 1 and "profile" in r["msg"] and "throughput" in r["msg"]


def test_bad_override_key_names_option_and_key(env, capsys):
    code, r = run_module(args(env, overrides={"vm swappiness": 1}), capsys)
    assert code == 1 and "overrides" in r["msg"] and "'vm swappiness'" in r["msg"]
    assert not os.path.exists(env["file"])


def test_hugepages_options_are_validated(env, capsys):
    code, r = run_module(args(env, hugepages={"size": "2M", "per_node": 1, "percent_of_memory": 5}), capsys)
    assert code == 1 and "per_node" in r["msg"] and "percent_of_memory" in r["msg"]
    code, r = run_module(args(env, hugepages={"size": "2M", "per_node": 100000000}), capsys)
    assert code == 1 and "exceeds 90%" in r["msg"]


def test_hugepages_2m_live_per_node(env, capsys):
    code, r = run_module(args(env, hugepages={"size": "2M", "per_node": 512}), capsys)
    assert code == 0, r
    for nid in (0, 1):
        assert live(env, "sys/devices/system/node/node%d/hugepages/hugepages-2048kB/nr_hugepages" % nid) == "512"
    assert r["hugepages"] == {"0": {"2048": 512}, "1": {"2048": 512}}
    assert "hugepagesz=2M hugepages=1024" in r["cmdline_args"]
    assert r["reboot_required"] is False
    code, r2 = run_module(args(env, hugepages={"size": "2M", "per_node": 512}), capsys)
    assert r2["changed"] is False


def test_hugepages_1g_partial_allocation_requires_reboot(env, capsys, monkeypatch):
    real = mod._write

    def fragmented(path, value):
        if path.endswith("hugepages-1048576kB/nr_hugepages"):
            value = str(int(value) // 2)  # the kernel allocates what it can
        real(path, value)

    monkeypatch.setattr(mod, "_write", fragmented)
    code, r = run_module(args(env, hugepages={"size": "1G", "per_node": 8}), capsys)
    assert code == 0
    assert r["reboot_required"] is True and len(r["reboot_reasons"]) == 2
    assert "4 of 8" in r["reboot_reasons"][0] and "hugepagesz=1G hugepages=16" in r["reboot_reasons"][0]


def test_hugepages_1g_full_allocation_needs_no_reboot(env, capsys):
    code, r = run_module(args(env, hugepages={"size": "1G", "per_node": 8}), capsys)
    assert r["reboot_required"] is False and r["reboot_reasons"] == []
    # check mode cannot know whether gigantic pages would allocate: pessimistic
    env2_root = make_root(os.path.join(os.path.dirname(env["root"]), "root2"))
    code, r = run_module(dict(args(env, hugepages={"size": "1G", "per_node": 8}), root=env2_root,
                              _ansible_check_mode=True), capsys)
    assert r["reboot_required"] is True
    code, r = run_module(dict(args(env, hugepages={"size": "2M", "per_node": 8}), root=env2_root,
                              _ansible_check_mode=True), capsys)
    assert r["reboot_required"] is False


def test_apply_false_only_writes_the_file(env, capsys):
    code, r = run_module(args(env, apply=False, hugepages={"size": "2M", "per_node": 4}), capsys)
    assert code == 0 and r["changed"] is True
    assert r["applied"] == [] and "kernel.numa_balancing" in r["pending"]
    assert live(env, "proc/sys/kernel/numa_balancing") == "1"
    assert r["reboot_required"] is True  # the hugepages are not live
    code, r = run_module(args(env, apply=False, hugepages={"size": "2M", "per_node": 4}), capsys)
    assert r["changed"] is False


def test_el8_sets_sched_keys(tmp_path, capsys):
    root = make_root(tmp_path / "el8", release=EL8, sched=True)
    code, r = run_module({"root": root, "dest_root": str(tmp_path), "topology": topology()}, capsys)
    assert code == 0
    assert read(os.path.join(root, "proc/sys/kernel/sched_migration_cost_ns")).strip() == "5000000"
    assert "kernel.sched_min_granularity_ns = 10000000" in r["content"]


def test_missing_thp_and_hugepage_files_are_skipped(tmp_path, capsys):
    root = make_root(tmp_path / "r", thp=False, sizes=())
    code, r = run_module({"root": root, "dest_root": str(tmp_path), "topology": topology(),
                          "hugepages": {"size": "2M", "per_node": 2}}, capsys)
    assert code == 0
    skipped = dict((s["key"], s["reason"]) for s in r["skipped_keys"])
    assert "CONFIG_TRANSPARENT_HUGEPAGE" in skipped["thp.enabled"]
    assert "does not exist" in skipped["hugepages.node0.2048kB"]


def test_unexpected_error_is_reported(env, capsys, monkeypatch):
    def broken(*a, **kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(mod, "plan", broken)
    code, r = run_module(args(env), capsys)
    assert code == 1 and "RuntimeError: disk on fire" in r["msg"]


def test_existing_file_is_replaced_and_diffed(env, capsys):
    write(env["file"], "vm.swappiness = 60\n")
    code, r = run_module(args(env), capsys)
    assert r["diff"][0]["before"] == "vm.swappiness = 60\n"
    assert read(env["file"]) == r["content"]
    leftovers = [n for n in os.listdir(os.path.dirname(env["file"])) if n.startswith(".hpcai-numa-")]
    assert leftovers == []


# --------------------------------------------------------------------------
# The 768-CPU reference machine, topology read from a synthetic sysfs tree
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def perf_root():
    base = tempfile.mkdtemp(prefix="hpcai-numa-", dir=gen.fast_tmp_base())
    root = gen.build_tree(os.path.join(base, "turin"), gen.CATALOGUE[gen.PERF_SPEC], full=False)
    make_root(root, release="6.12.0-55.el10.x86_64")
    yield root
    shutil.rmtree(base, ignore_errors=True)


def test_768_cpus_topology_gathered_timing(perf_root, tmp_path, capsys):
    base = {"root": perf_root, "dest_root": str(tmp_path), "apply": False, "hugepages": {"size": "1G", "per_node": 4}}
    times = []
    for _run in range(3):
        start = time.perf_counter()
        code, r = run_module(dict(base), capsys)
        times.append((time.perf_counter() - start) * 1000.0)
        assert code == 0, r
    best = min(times)
    with capsys.disabled():
        print("\nnuma_sysctl module on 768 CPUs (topology gathered from sysfs): best %.1f ms, runs %s"
              % (best, ", ".join("%.1f" % t for t in times)))
    assert best < 1000
    assert "# cpu:        AuthenticAMD zen5c, 2 socket(s), 384 cores, 768 CPUs" in r["content"]
    assert "# L3 domains: 24" in r["content"]
    assert "kernel.numa_balancing = 0" in r["content"]


def test_memory_jitter_in_comments_does_not_rewrite_the_file(env, capsys):
    """A VM whose memory balloons shows another size in the header comment on the next run;
    as long as every key keeps its value the old file stays (changed=False)."""
    code, r = run_module(args(env), capsys)
    assert code == 0 and r["changed"] is True
    text = read(env["file"])
    assert "# NUMA nodes:" in text
    older = text.replace("# NUMA nodes:", "# NUMA nodes (older run, other memory size):")
    write(env["file"], older)
    code, r2 = run_module(args(env), capsys)
    assert code == 0 and r2["changed"] is False and r2["applied"] == []
    assert read(env["file"]) == older and r2["content"] == older
    # A value change always rewrites the file.
    code, r3 = run_module(args(env, overrides={"vm.swappiness": 1}), capsys)
    assert code == 0 and r3["changed"] is True and "vm.swappiness = 1\n" in read(env["file"])


def test_same_settings_compares_keys_values_and_profile_only():
    from ansible_collections.hpcai.cluster.plugins.module_utils.numa_sysctl import same_settings
    a = "# profile:    hpc\n# NUMA nodes: 2 (384 GiB)\n\n# why\nvm.a = 1\nkernel.b = 2\n"
    assert same_settings(a, a.replace("384 GiB", "385 GiB").replace("# why", "# other reason"))
    assert not same_settings(a, a.replace("vm.a = 1", "vm.a = 2"))
    assert not same_settings(a, a.replace("hpc", "mixed"))
    assert not same_settings(a, a + "vm.c = 3\n")
    assert not same_settings(a, "kernel.b = 2\nvm.a = 1\n# profile: hpc\n")  # order matters
    assert not same_settings(None, a)
