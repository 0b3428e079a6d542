# -*- coding: utf-8 -*-
"""Tests for plugins/modules/gpu_facts.py (run through AnsibleModule)."""

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

from ansible_collections.hpcai.cluster.plugins.modules import gpu_facts  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils import gpu  # noqa: E402


def _small(name, **kw):
    """The catalogue node's PCI devices and files on a small CPU model (2 sockets x 2 CCX x 2 cores)."""
    base = gen.CATALOGUE[name]
    return gen.make_spec(gen.GENOA, name="small_" + name, sockets=2, ccx_per_socket=2, cores_per_ccx=2,
                         nps=base["nps"], pci_devices=base["pci_devices"], extra_files=base["extra_files"],
                         extra_links=base["extra_links"], **kw)


SMALL_HGX = _small("hgx_h100_genoa_2p_nps1")
SMALL_QUIRKS = _small("gpu_quirks_milan_2p")


def run_module(args, capsys):
    """Run main() with ``args``; return (exit code, parsed JSON result).

    ``result["task_warnings"]`` lists the module.warn() messages (ansible-core
    2.19 no longer puts them in the result JSON).
    """
    seen = []
    real_warn = gpu_facts.AnsibleModule.warn

    def warn(self, warning):
        seen.append(warning)
        return real_warn(self, warning)

    gpu_facts.AnsibleModule.warn = warn
    try:
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exc:
                gpu_facts.main()
    finally:
        gpu_facts.AnsibleModule.warn = real_warn
    out = capsys.readouterr().out
    result = json.loads(out)
    result["task_warnings"] = seen
    return exc.value.code, result


@pytest.fixture(scope="module")
def disk_base():
    path = tempfile.mkdtemp(prefix="hpcai-gpumod-", dir=gen.fast_tmp_base())
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def hgx_root(disk_base):
    return gen.build_tree(os.path.join(disk_base, "hgx"), SMALL_HGX, full=False)


@pytest.fixture(scope="module")
def quirks_root(disk_base):
    return gen.build_tree(os.path.join(disk_base, "quirks"), SMALL_QUIRKS, full=False)


def test_returns_the_fact(hgx_root, capsys):
    code, result = run_module({"root": hgx_root}, capsys)
    assert code == 0
    assert result["changed"] is False and "failed" not in result and result["task_warnings"] == []
    fact = result["ansible_facts"]["hpcai_gpu_facts"]
    assert fact["counts"] == {"gpus": 8, "nvswitches": 4}
    assert fact["vendors"] == ["nvidia"] and fact["nvml"] is True and fact["rocm_smi"] is False
    slurm = fact["slurm"]
    assert slurm["gres"] == "gpu:h100:8" and slurm["autodetect"] == "nvml"
    # 2 sockets x 4 cores; GPUs 0-3 on socket 0, 4-7 on socket 1
    want = ["Name=gpu Type=h100 File=/dev/nvidia%d Cores=%s"
            % (i, gen.expected_slurm_cores(SMALL_HGX, 0 if i < 4 else 1)) for i in range(8)]
    assert slurm["conf_lines"] == want
    assert want[0].endswith("Cores=0-3") and want[7].endswith("Cores=4-7")
    assert slurm["conf_lines_l3_as_socket"] == want


def test_check_mode_is_supported(hgx_root, capsys):
    code, result = run_module({"root": hgx_root, "_ansible_check_mode": True}, capsys)
    assert code == 0 and result["changed"] is False
    assert result["ansible_facts"]["hpcai_gpu_facts"]["counts"]["gpus"] == 8


def test_warnings_are_task_warnings(quirks_root, capsys):
    code, result = run_module({"root": quirks_root}, capsys)
    assert code == 0
    fact = result["ansible_facts"]["hpcai_gpu_facts"]
    assert result["task_warnings"] == fact["warnings"] and len(fact["warnings"]) == 3
    assert fact["slurm"]["autodetect"] == "off"
    assert fact["slurm"]["gres"] == "gpu:a100:1,gpu:mi210:1,gpu:mi300x:1,gpu:nvidia_2b85:1,gpu:t4:1"
    assert [v["pci_address"] for v in fact["vfs"]] == ["0000:a1:00.1"]


def test_no_pci_sysfs_is_not_an_error(disk_base, capsys):
    root = gen.build_tree(os.path.join(disk_base, "nopci"), gen.make_spec(gen.MILAN, ccx_per_socket=1), full=False)
    code, result = run_module({"root": root}, capsys)
    assert code == 0
    fact = result["ansible_facts"]["hpcai_gpu_facts"]
    assert fact["gpus"] == [] and fact["pci_sysfs"] is False
    assert fact["slurm"] == {"gres": "", "conf_lines": [], "conf_lines_l3_as_socket": [], "autodetect": "off"}


def test_missing_root_fails_cleanly(tmp_path, capsys):
    code, result = run_module({"root": str(tmp_path / "nope")}, capsys)
    assert code == 1
    assert result["msg"] == "gpu_facts: root %s: not a directory" % (tmp_path / "nope")


def test_unexpected_error_is_reported_without_crash(hgx_root, capsys, monkeypatch):
    def broken(root):
        raise RuntimeError("gpu on fire")

    monkeypatch.setattr(gpu_facts, "gather", broken)
    code, result = run_module({"root": hgx_root}, capsys)
    assert code == 1
    assert "RuntimeError: gpu on fire" in result["msg"]


def test_default_root_reads_this_machine(capsys):
    code, result = run_module({}, capsys)
    assert code == 0
    fact = result["ansible_facts"]["hpcai_gpu_facts"]
    assert fact["pci_sysfs"] == os.path.isdir("/sys/bus/pci/devices")
    assert fact["counts"]["gpus"] == len(fact["gpus"])


# --------------------------------------------------------------------------
# Documentation consistency (what ansible-test validate-modules also checks)
# --------------------------------------------------------------------------


def test_documentation_matches_argument_spec():
    doc = yaml.safe_load(gpu_facts.DOCUMENTATION)
    assert doc["module"] == "gpu_facts"
    assert set(doc["options"]) == {"root"}
    assert doc["options"]["root"]["type"] == "path" and doc["options"]["root"]["default"] == "/"
    assert doc["attributes"]["check_mode"]["support"] == "full"
    yaml.safe_load(gpu_facts.EXAMPLES)


def test_return_documents_every_key(quirks_root, capsys):
    ret = yaml.safe_load(gpu_facts.RETURN)
    fact = run_module({"root": quirks_root}, capsys)[1]["ansible_facts"]["hpcai_gpu_facts"]
    doc = ret["ansible_facts"]["contains"]["hpcai_gpu_facts"]["contains"]
    assert set(doc) == set(fact)
    for entry in fact["gpus"]:
        assert set(doc["gpus"]["contains"]) == set(entry)
    for entry in fact["nvswitches"]:
        assert set(doc["nvswitches"]["contains"]) == set(entry)
    assert set(doc["slurm"]["contains"]) == set(fact["slurm"])
    assert set(doc["counts"]["sample"]) == set(fact["counts"])
    assert set(doc["vfs"]["sample"][0]) == set(fact["vfs"][0])


def test_module_is_a_thin_wrapper():
    with open(gpu_facts.__file__) as handle:
        text = handle.read()
    assert text.count("def ") == 2  # run_module, main
    assert gpu_facts.gather is gpu.gather
