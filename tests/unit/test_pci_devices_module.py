# -*- coding: utf-8 -*-
"""Tests for plugins/modules/pci_devices.py (run through AnsibleModule)."""

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

from ansible_collections.hpcai.cluster.plugins.modules import pci_devices  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils import pci  # noqa: E402

# A small CPU model carrying the HGX node's PCI devices: the same 22 kept devices,
# a fraction of the files (the module never reads the CPU tree).
HGX = gen.CATALOGUE["hgx_h100_genoa_2p_nps4"]
SMALL_HGX = gen.make_spec(gen.GENOA, name="small_hgx", sockets=2, nps=4, ccx_per_socket=4, cores_per_ccx=2,
                          pci_devices=HGX["pci_devices"])


def run_module(args, capsys):
    """Run main() with ``args``; return (exit code, parsed JSON result)."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            pci_devices.main()
    out = capsys.readouterr().out
    return exc.value.code, json.loads(out)


@pytest.fixture(scope="module")
def disk_base():
    path = tempfile.mkdtemp(prefix="hpcai-pcimod-", dir=gen.fast_tmp_base())
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def hgx_root(disk_base):
    return gen.build_tree(os.path.join(disk_base, "hgx"), SMALL_HGX, full=False)


def test_returns_fact_and_counts(hgx_root, capsys):
    code, result = run_module({"root": hgx_root}, capsys)
    assert code == 0
    assert result["changed"] is False and "failed" not in result
    devices = result["ansible_facts"]["hpcai_pci_devices"]
    assert devices == gen.expected_pci(SMALL_HGX)
    assert result["counts"] == {"gpu": 8, "nvswitch": 4, "nic": 2, "ib": 8, "vf": 0}
    assert result["pci_sysfs"] is True
    gpus = [d for d in devices if d["kind"] == "gpu"]
    assert [d["numa_node"] for d in gpus] == list(range(8))


def test_check_mode_is_supported(hgx_root, capsys):
    code, result = run_module({"root": hgx_root, "_ansible_check_mode": True}, capsys)
    assert code == 0
    assert result["changed"] is False
    assert len(result["ansible_facts"]["hpcai_pci_devices"]) == 22


def test_kinds_filter(hgx_root, capsys):
    code, result = run_module({"root": hgx_root, "kinds": ["ib"]}, capsys)
    assert code == 0
    assert [d["kind"] for d in result["ansible_facts"]["hpcai_pci_devices"]] == ["ib"] * 8
    assert result["counts"] == {"ib": 8, "vf": 0}
    code, result = run_module({"root": hgx_root, "kinds": ["gpu", "other"]}, capsys)
    kinds = set(d["kind"] for d in result["ansible_facts"]["hpcai_pci_devices"])
    assert kinds == {"gpu", "other"}
    assert result["counts"]["gpu"] == 8 and result["counts"]["other"] > 10


def test_bad_kind_is_rejected(hgx_root, capsys):
    code, result = run_module({"root": hgx_root, "kinds": ["gpu", "fpga"]}, capsys)
    assert code == 1
    assert "fpga" in result["msg"]


def test_no_pci_sysfs_is_not_an_error(disk_base, capsys):
    root = gen.build_tree(os.path.join(disk_base, "nopci"), gen.make_spec(gen.MILAN, ccx_per_socket=1), full=False)
    code, result = run_module({"root": root}, capsys)
    assert code == 0
    assert result["ansible_facts"]["hpcai_pci_devices"] == []
    assert result["pci_sysfs"] is False
    assert result["counts"] == {"gpu": 0, "nvswitch": 0, "nic": 0, "ib": 0, "vf": 0}


def test_empty_pci_bus(disk_base, capsys):
    root = gen.build_tree(os.path.join(disk_base, "empty"), gen.CATALOGUE["genoa_1p_pci_empty"], full=False)
    code, result = run_module({"root": root}, capsys)
    assert code == 0 and result["pci_sysfs"] is True and result["ansible_facts"]["hpcai_pci_devices"] == []


def test_missing_root_fails_cleanly(tmp_path, capsys):
    code, result = run_module({"root": str(tmp_path / "nope")}, capsys)
    assert code == 1
    assert result["msg"] == "pci_devices: root %s: not a directory" % (tmp_path / "nope")


def test_unexpected_error_is_reported_without_crash(hgx_root, capsys, monkeypatch):
    def broken(reader, kinds, warnings=None):
        raise RuntimeError("bus on fire")

    monkeypatch.setattr(pci_devices, "scan", broken)
    code, result = run_module({"root": hgx_root}, capsys)
    assert code == 1
    assert "RuntimeError: bus on fire" in result["msg"]


def test_default_root_reads_this_machine(capsys):
    code, result = run_module({}, capsys)
    assert code == 0
    assert result["pci_sysfs"] == os.path.isdir("/sys/bus/pci/devices")


# --------------------------------------------------------------------------
# Documentation consistency (what ansible-test validate-modules also checks)
# --------------------------------------------------------------------------


def test_documentation_matches_argument_spec():
    doc = yaml.safe_load(pci_devices.DOCUMENTATION)
    assert doc["module"] == "pci_devices"
    assert set(doc["options"]) == {"root", "kinds"}
    assert doc["options"]["root"]["type"] == "path" and doc["options"]["root"]["default"] == "/"
    assert doc["options"]["kinds"]["choices"] == list(pci.KINDS)
    assert doc["options"]["kinds"]["default"] == list(pci.DEFAULT_KINDS)
    assert doc["attributes"]["check_mode"]["support"] == "full"
    yaml.safe_load(pci_devices.EXAMPLES)


def test_return_documents_every_key(hgx_root, capsys):
    ret = yaml.safe_load(pci_devices.RETURN)
    result = run_module({"root": hgx_root}, capsys)[1]
    assert {"counts", "pci_sysfs", "ansible_facts"} <= set(ret)
    doc = ret["ansible_facts"]["contains"]["hpcai_pci_devices"]["contains"]
    for dev in result["ansible_facts"]["hpcai_pci_devices"]:
        assert set(doc) == set(dev)


def test_module_utils_pci_does_not_import_ansible():
    with open(pci.__file__) as handle:
        text = handle.read()
    assert "from ansible." not in text and "import ansible\n" not in text
