# -*- coding: utf-8 -*-
"""Tests for plugins/modules/fabric_facts.py (run through AnsibleModule)."""

from __future__ import absolute_import, division, print_function

import json
import os
import shutil
import sys
import tempfile

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sysfs_gen as gen  # noqa: E402

from ansible_collections.hpcai.cluster.plugins.modules import fabric_facts  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils import fabric  # noqa: E402


def run_module(args, capsys):
    """Run main() with ``args``; return (exit code, parsed JSON result).

    ``result["task_warnings"]`` lists the module.warn() messages (ansible-core
    2.19 no longer puts them in the result JSON).
    """
    seen = []
    real_warn = fabric_facts.AnsibleModule.warn

    def warn(self, warning):
        seen.append(warning)
        return real_warn(self, warning)

    fabric_facts.AnsibleModule.warn = warn
    try:
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exc:
                fabric_facts.main()
    finally:
        fabric_facts.AnsibleModule.warn = real_warn
    out = capsys.readouterr().out
    result = json.loads(out)
    result["task_warnings"] = seen
    return exc.value.code, result


@pytest.fixture(scope="module")
def disk_base():
    path = tempfile.mkdtemp(prefix="hpcai-fabricmod-", dir=gen.fast_tmp_base())
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def ib_root(disk_base):
    return gen.build_tree(os.path.join(disk_base, "ib"), gen.CATALOGUE["fabric_ib_sm_genoa_2p"], full=False)


@pytest.fixture(scope="module")
def quirks_root(disk_base):
    return gen.build_tree(os.path.join(disk_base, "quirks"), gen.CATALOGUE["fabric_quirks_genoa_2p"], full=False)


def test_returns_the_fact(ib_root, capsys):
    code, result = run_module({"root": ib_root}, capsys)
    assert code == 0
    assert result["changed"] is False and "failed" not in result and result["task_warnings"] == []
    fact = result["ansible_facts"]["hpcai_fabric"]
    assert fact["counts"] == {"adapters": 4, "rdma_devices": 4, "ib_ports": 4, "ib_ports_active": 4,
                              "roce_ports": 0, "roce_ports_active": 0}
    assert fact["subnet_manager"] == "present" and fact["has_infiniband"] is True and fact["has_roce"] is False
    assert fact["kernel_modules"] == ["ib_ipoib", "ib_umad", "ib_uverbs", "mlx5_ib", "rdma_ucm"]
    assert [a["model"] for a in fact["adapters"]] == ["ConnectX-7"] * 4
    assert [i["name"] for i in fact["interfaces"]] == ["ibp33s0", "ibp33s0.8001", "ibp65s0", "ibp129s0", "ibp161s0"]
    # JSON round trip keeps the types of the contract
    port = fact["rdma_devices"][0]["ports"][0]
    assert port["rate_gbps"] == 400 and port["lid"] == 16 and port["sm_lid"] == 1


def test_check_mode_is_supported(ib_root, capsys):
    code, result = run_module({"root": ib_root, "_ansible_check_mode": True}, capsys)
    assert code == 0 and result["changed"] is False
    assert result["ansible_facts"]["hpcai_fabric"]["counts"]["adapters"] == 4


def test_warnings_are_task_warnings(quirks_root, capsys):
    code, result = run_module({"root": quirks_root}, capsys)
    assert code == 0
    fact = result["ansible_facts"]["hpcai_fabric"]
    assert result["task_warnings"] == fact["warnings"] and len(fact["warnings"]) == 3
    assert fact["missing_rdma_drivers"] == ["0000:c2:00.0"]


def test_no_pci_sysfs_is_not_an_error(disk_base, capsys):
    root = gen.build_tree(os.path.join(disk_base, "nopci"), gen.make_spec(gen.MILAN, ccx_per_socket=1), full=False)
    code, result = run_module({"root": root}, capsys)
    assert code == 0
    fact = result["ansible_facts"]["hpcai_fabric"]
    assert fact["rdma_sysfs"] is False and fact["adapters"] == [] and fact["kernel_modules"] == []
    assert fact["subnet_manager"] == "unknown" and result["task_warnings"] == []


def test_missing_root_fails_cleanly(tmp_path, capsys):
    code, result = run_module({"root": str(tmp_path / "nope")}, capsys)
    assert code == 1
    assert result["msg"] == "fabric_facts: root %s: not a directory" % (tmp_path / "nope")


def test_unexpected_error_is_reported_without_crash(ib_root, capsys, monkeypatch):
    def broken(root):
        raise RuntimeError("fabric on fire")

    monkeypatch.setattr(fabric_facts, "gather", broken)
    code, result = run_module({"root": ib_root}, capsys)
    assert code == 1
    assert "RuntimeError: fabric on fire" in result["msg"]


def test_default_root_reads_this_machine(capsys):
    code, result = run_module({}, capsys)
    assert code == 0
    fact = result["ansible_facts"]["hpcai_fabric"]
    assert fact["rdma_sysfs"] == os.path.isdir("/sys/class/infiniband")
    assert fact["counts"]["adapters"] == len(fact["adapters"])


# --------------------------------------------------------------------------
# Documentation consistency (what ansible-test validate-modules also checks)
# --------------------------------------------------------------------------


def test_documentation_matches_argument_spec():
    doc = yaml.safe_load(fabric_facts.DOCUMENTATION)
    assert doc["module"] == "fabric_facts"
    assert set(doc["options"]) == {"root"}
    assert doc["options"]["root"]["type"] == "path" and doc["options"]["root"]["default"] == "/"
    assert doc["attributes"]["check_mode"]["support"] == "full"
    yaml.safe_load(fabric_facts.EXAMPLES)


def _documented(doc, fact):
    assert set(doc) == set(fact)
    for key in fact:
        entry = doc[key]
        assert entry.get("returned") == "always", key
        assert "type" in entry and "description" in entry, key


def test_return_documents_every_key(quirks_root, ib_root, capsys):
    ret = yaml.safe_load(fabric_facts.RETURN)
    doc = ret["ansible_facts"]["contains"]["hpcai_fabric"]["contains"]
    for root in (quirks_root, ib_root):
        fact = run_module({"root": root}, capsys)[1]["ansible_facts"]["hpcai_fabric"]
        _documented(doc, fact)
        for entry in fact["adapters"]:
            _documented(doc["adapters"]["contains"], entry)
        for entry in fact["rdma_devices"]:
            _documented(doc["rdma_devices"]["contains"], entry)
            for port in entry["ports"]:
                _documented(doc["rdma_devices"]["contains"]["ports"]["contains"], port)
        for entry in fact["interfaces"]:
            _documented(doc["interfaces"]["contains"], entry)
        assert set(doc["counts"]["sample"]) == set(fact["counts"])


def test_module_is_a_thin_wrapper():
    with open(fabric_facts.__file__) as handle:
        text = handle.read()
    assert text.count("def ") == 2  # run_module, main
    assert fabric_facts.gather is fabric.gather
