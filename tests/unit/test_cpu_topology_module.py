# -*- coding: utf-8 -*-
"""Tests for plugins/modules/cpu_topology.py (run through AnsibleModule)."""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil
import sys
import tempfile
import time

import pytest
import yaml

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sysfs_gen as gen  # noqa: E402

from ansible_collections.hpcai.cluster.plugins.modules import cpu_topology  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils import topology as topo  # noqa: E402

CONTRACT_KEYS = [
    "vendor", "cpu_family", "model", "model_name", "generation", "cpus_online", "cpus_offline",
    "threads_per_core", "counts", "sockets", "numa_nodes", "l3_domains", "slurm", "slurm_l3_as_socket",
]


def run_module(args, capsys):
    """Run main() with ``args``; return (exit code, parsed JSON result)."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            cpu_topology.main()
    out = capsys.readouterr().out
    return exc.value.code, json.loads(out)


@pytest.fixture(scope="module")
def disk_base():
    path = tempfile.mkdtemp(prefix="hpcai-mod-", dir=gen.fast_tmp_base())
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def milan_root(disk_base):
    return gen.build_tree(os.path.join(disk_base, "milan"), gen.CATALOGUE["milan_2p_nps4_smt"], full=False)


SMALL = gen.make_spec(gen.MILAN, name="small", ccx_per_socket=2)


def test_returns_fact(milan_root, capsys):
    code, result = run_module({"root": milan_root}, capsys)
    assert code == 0
    assert result["changed"] is False
    assert "failed" not in result
    fact = result["ansible_facts"]["hpcai_cpu_topology"]
    want = gen.expected(gen.CATALOGUE["milan_2p_nps4_smt"])
    for key in CONTRACT_KEYS:
        if key == "l3_domains":
            got = [dict((k, d[k]) for k in ("index", "cpus", "cores", "socket", "numa_nodes")) for d in fact[key]]
            assert got == want[key]
        else:
            assert fact[key] == want[key], key
    assert fact["slurm_l3_as_socket"]["SocketsPerBoard"] == 16
    assert fact["slurm_l3_as_socket"]["CoresPerSocket"] == 8


def test_check_mode_is_supported(milan_root, capsys):
    code, result = run_module({"root": milan_root, "_ansible_check_mode": True}, capsys)
    assert code == 0
    assert result["changed"] is False
    assert result["ansible_facts"]["hpcai_cpu_topology"]["counts"]["cores"] == 128


def test_warnings_are_emitted(tmp_path, capsys, monkeypatch):
    # AnsibleModule.warn() lands in the result only when no controller code was
    # imported in this process (ansible-core 2.19 checks that), so spy on warn().
    seen = []
    original = AnsibleModule.warn

    def spy(self, warning, *args, **kwargs):
        seen.append(warning)
        return original(self, warning, *args, **kwargs)

    monkeypatch.setattr(AnsibleModule, "warn", spy)
    root = gen.build_tree(tmp_path / "t", gen.make_spec(SMALL, no_node_dir=True), full=False)
    code, result = run_module({"root": root}, capsys)
    assert code == 0
    fact = result["ansible_facts"]["hpcai_cpu_topology"]
    assert len(seen) == 1 and "non-NUMA kernel" in seen[0]
    assert fact["warnings"] == seen
    assert fact["counts"]["numa_nodes"] == 1
    assert fact["counts"]["cpus_online"] == 32


@pytest.mark.parametrize("case", ["missing_root", "empty_root", "garbage_online", "no_meminfo"])
def test_fails_cleanly(tmp_path, capsys, case):
    root = tmp_path / "root"
    if case != "missing_root":
        root.mkdir()
    if case in ("garbage_online", "no_meminfo"):
        gen.build_tree(root, SMALL, full=False)
    if case == "garbage_online":
        (root / "sys/devices/system/cpu/online").write_text("0-3;oops\n")
    if case == "no_meminfo":
        (root / "proc/meminfo").unlink()
    code, result = run_module({"root": str(root)}, capsys)
    assert code == 1
    assert result["failed"] is True
    assert result["msg"].startswith("cpu_topology: ")
    assert "Traceback" not in result["msg"]
    assert "exception" not in result
    expected = {
        "missing_root": "not a directory",
        "empty_root": "sys/devices/system/cpu: not found",
        "garbage_online": "oops",
        "no_meminfo": "MemTotal",
    }[case]
    assert expected in result["msg"]


def test_unexpected_error_is_reported_without_crash(milan_root, capsys, monkeypatch):
    def broken(root):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cpu_topology, "gather", broken)
    code, result = run_module({"root": milan_root}, capsys)
    assert code == 1
    assert "RuntimeError: disk on fire" in result["msg"]


def test_unknown_option_is_rejected(milan_root, capsys):
    code, result = run_module({"root": milan_root, "sysfs": "/x"}, capsys)
    assert code == 1
    assert "sysfs" in result["msg"]


def test_default_root_reads_this_machine(capsys):
    if not os.path.isdir("/sys/devices/system/cpu"):
        pytest.skip("not a Linux host")
    code, result = run_module({}, capsys)
    assert code == 0
    fact = result["ansible_facts"]["hpcai_cpu_topology"]
    assert fact["counts"]["cpus_online"] >= 1
    if hasattr(os, "sched_getaffinity"):
        assert fact["cpus_affinity"]
        if fact["container"]:
            assert "sched_getaffinity" in fact["cpus_allowed_sources"]


def test_module_time_768_cpus(disk_base, capsys):
    root = gen.build_tree(os.path.join(disk_base, "perf"), gen.CATALOGUE[gen.PERF_SPEC], full=False)
    start = time.perf_counter()
    code, result = run_module({"root": root}, capsys)
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print("\ncpu_topology main() on 768 CPUs incl. AnsibleModule + JSON: %.1f ms" % (elapsed * 1000))
    assert code == 0
    assert result["ansible_facts"]["hpcai_cpu_topology"]["counts"]["cpus_online"] == 768
    assert elapsed < 1.0


# --------------------------------------------------------------------------
# Documentation consistency (what ansible-test validate-modules also checks)
# --------------------------------------------------------------------------


def test_documentation_matches_argument_spec():
    doc = yaml.safe_load(cpu_topology.DOCUMENTATION)
    assert doc["module"] == "cpu_topology"
    assert doc["version_added"] == "0.1.0"
    assert doc["short_description"]
    assert doc["author"]
    assert set(doc["options"]) == set(["root"])
    assert doc["options"]["root"]["type"] == "path"
    assert doc["options"]["root"]["default"] == "/"
    assert doc["attributes"]["check_mode"]["support"] == "full"
    yaml.safe_load(cpu_topology.EXAMPLES)


def test_return_documents_every_fact_key(milan_root, capsys):
    ret = yaml.safe_load(cpu_topology.RETURN)
    fact_doc = ret["ansible_facts"]["contains"]["hpcai_cpu_topology"]["contains"]
    result = run_module({"root": milan_root}, capsys)[1]
    fact = result["ansible_facts"]["hpcai_cpu_topology"]
    assert set(fact_doc) == set(fact)
    for key in ("counts", "slurm"):
        assert set(fact_doc[key]["contains"]) == set(fact[key])
    for key in ("sockets", "numa_nodes", "l3_domains"):
        assert set(fact_doc[key]["contains"]) == set(fact[key][0])


def test_module_utils_do_not_import_ansible():
    """module_utils logic must stay importable without Ansible (pure Python)."""
    base = os.path.dirname(topo.__file__)
    for name in ("cpulist.py", "topology.py", "amd_generations.py"):
        with open(os.path.join(base, name)) as handle:
            text = handle.read()
        assert "from ansible." not in text and "import ansible" not in text, name
