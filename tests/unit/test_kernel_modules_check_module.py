# -*- coding: utf-8 -*-
"""Tests for plugins/modules/kernel_modules_check.py, run through AnsibleModule on synthetic /lib/modules trees.

``run_command`` and ``get_bin_path`` are replaced where the module would run ``dkms status``.
"""

from __future__ import absolute_import, division, print_function

import collections
import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.hpcai.cluster.plugins.modules import kernel_modules_check as mod

from test_kernel_guard import DEB_NEW, DEB_OLD, EL_NEW, EL_OLD, NVIDIA, make_kernel

NV_FILES = ["extra/nvidia.ko.xz", "extra/nvidia-uvm.ko.xz", "extra/nvidia-modeset.ko.xz"]
Run = collections.namedtuple("Run", "code result warnings calls")


def run(args, capsys, monkeypatch=None, dkms=None, live=False, running=None):
    """Run main() with ``args``; return Run(exit code, result, module.warn() messages, commands run).

    ``dkms``: (rc, stdout, stderr) of a fake ``dkms status`` (None = no dkms binary);
    ``live``: pretend root is the running system's /.
    """
    seen, calls = [], []
    real_warn = mod.AnsibleModule.warn

    def warn(self, warning):
        seen.append(warning)
        return real_warn(self, warning)

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return "/usr/sbin/dkms" if name == "dkms" and dkms is not None else None

    def run_command(self, argv, **kwargs):
        calls.append(list(argv))
        return dkms

    if monkeypatch is not None:
        monkeypatch.setattr(mod.AnsibleModule, "get_bin_path", get_bin_path)
        monkeypatch.setattr(mod.AnsibleModule, "run_command", run_command)
        monkeypatch.setattr(mod, "_is_live_root", lambda root: live)
        if running:
            monkeypatch.setattr(mod.os, "uname", lambda: ("Linux", "node1", running, "#1 SMP", "x86_64"))
    mod.AnsibleModule.warn = warn
    try:
        with patch_module_args(args):
            with pytest.raises(SystemExit) as exc:
                mod.main()
    finally:
        mod.AnsibleModule.warn = real_warn
    result = json.loads(capsys.readouterr().out)
    return Run(exc.value.code, result, seen, calls)


@pytest.fixture
def el_root(tmp_path):
    """An EL node: the old kernel with the NVIDIA modules, the new one without nvidia_uvm."""
    make_kernel(tmp_path, EL_OLD, files=NV_FILES, dep="auto")
    make_kernel(tmp_path, EL_NEW, files=["extra/nvidia.ko.xz", "extra/nvidia-modeset.ko.xz"], dep="auto")
    return str(tmp_path)


def test_kernel_with_every_module_passes(el_root, capsys):
    r = run({"root": el_root, "kernel": EL_OLD, "modules": NVIDIA}, capsys)
    assert r.code == 0 and not r.result.get("failed")
    assert r.result["ok"] and r.result["missing"] == [] and r.result["kernel"] == EL_OLD
    assert r.result["found"]["nvidia_modeset"] == "/lib/modules/%s/extra/nvidia-modeset.ko.xz" % EL_OLD
    assert r.result["kernels"] == [EL_OLD, EL_NEW]
    assert r.result["newest"] == EL_NEW and r.result["kernel_is_newest"] is False
    assert r.result["changed"] is False and r.result["dkms_command"] is None and r.warnings == []


def test_missing_module_fails_with_the_reasons(el_root, capsys):
    status = "nvidia/550.54.15, %s, x86_64: installed\nnvidia/550.54.15: added\n" % EL_OLD
    r = run({"root": el_root, "kernel": EL_NEW, "modules": NVIDIA, "dkms_status": status}, capsys)
    assert r.code == 1 and r.result["failed"]
    assert r.result["msg"].startswith("kernel_modules_check: kernel %s is not safe to boot: " % EL_NEW)
    assert "nvidia_uvm is not built for %s (dkms status: nvidia/550.54.15 added, not built)" % EL_NEW in r.result["msg"]
    assert r.result["missing"] == ["nvidia_uvm"] and not r.result["ok"]
    assert r.result["kernel_is_newest"] is True and r.result["newest"] == EL_NEW
    assert [e["state"] for e in r.result["dkms"]] == ["added"]  # the entry for the old kernel is left out


def test_fail_on_missing_false_returns_the_verdict(el_root, capsys):
    r = run({"root": el_root, "kernel": EL_NEW, "modules": NVIDIA, "fail_on_missing": False}, capsys)
    assert r.code == 0 and not r.result.get("failed")
    assert not r.result["ok"] and r.result["missing"] == ["nvidia_uvm"] and len(r.result["reasons"]) == 1


def test_default_kernel_is_the_newest_installed(el_root, capsys):
    r = run({"root": el_root, "modules": ["nvidia"]}, capsys)
    assert r.code == 0 and r.result["kernel"] == EL_NEW and r.result["ok"]


def test_default_kernel_prefers_the_running_flavour_on_the_live_root(tmp_path, capsys, monkeypatch):
    make_kernel(tmp_path, EL_NEW, files=NV_FILES, dep="auto")
    make_kernel(tmp_path, EL_NEW + "+debug", dep="auto")
    r = run({"root": str(tmp_path), "modules": NVIDIA}, capsys, monkeypatch, live=True, running=EL_OLD)
    assert r.code == 0 and r.result["kernel"] == EL_NEW
    r = run({"root": str(tmp_path), "modules": ["nvidia"], "fail_on_missing": False}, capsys,
            monkeypatch, live=False)
    assert r.result["kernel"] == EL_NEW + "+debug"  # another root: all kernels count


def test_kernel_running(tmp_path, capsys, monkeypatch):
    make_kernel(tmp_path, DEB_OLD, files=["updates/dkms/nvidia.ko"], dep="auto")
    r = run({"root": str(tmp_path), "kernel": "running", "modules": ["nvidia"]}, capsys, monkeypatch,
            running=DEB_OLD)
    assert r.code == 0 and r.result["kernel"] == DEB_OLD and r.result["ok"]


def test_kernel_not_installed(el_root, capsys):
    r = run({"root": el_root, "kernel": "5.14.0-611.el9.x86_64", "modules": ["nvidia"]}, capsys)
    assert r.code == 1 and not r.result["kernel_present"]
    assert "kernel 5.14.0-611.el9.x86_64 is not installed" in r.result["msg"]
    assert r.result["kernel_is_newest"] is True  # a candidate newer than everything installed


def test_no_installed_kernel_and_no_kernel_given(tmp_path, capsys):
    r = run({"root": str(tmp_path), "modules": ["nvidia"]}, capsys)
    assert r.code == 1 and "no installed kernel under" in r.result["msg"] and "give kernel" in r.result["msg"]


@pytest.mark.parametrize("args,needle", [
    ({"modules": []}, "modules is empty"),
    ({"modules": ["", " "]}, "modules is empty"),
    ({"modules": ["extra/nvidia.ko"]}, "is not a module name"),
    ({"modules": ["nvidia"], "kernel": "5.14 0"}, "is not a kernel release"),
    ({"modules": ["nvidia"], "kernel": "../../etc"}, "is not a kernel release"),
])
def test_bad_input(el_root, capsys, args, needle):
    args = dict(args, root=el_root)
    r = run(args, capsys)
    assert r.code == 1 and needle in r.result["msg"]


def test_runs_dkms_status_on_the_live_root(el_root, capsys, monkeypatch):
    status = (0, "nvidia/550.54.15, %s, x86_64: built\n" % EL_NEW, "")
    r = run({"root": el_root, "kernel": EL_NEW, "modules": NVIDIA, "fail_on_missing": False},
            capsys, monkeypatch, dkms=status, live=True)
    assert r.calls == [["/usr/sbin/dkms", "status", "-k", EL_NEW]]
    assert r.result["dkms_command"] == "dkms status -k %s" % EL_NEW
    assert "built for %s but not installed" % EL_NEW in r.result["reasons"][0]


def test_does_not_run_dkms_for_another_root_or_when_the_text_is_given(el_root, capsys, monkeypatch):
    status = (0, "", "")
    r = run({"root": el_root, "kernel": EL_NEW, "modules": NVIDIA, "fail_on_missing": False},
            capsys, monkeypatch, dkms=status, live=False)
    assert r.calls == [] and r.result["dkms_command"] is None
    r = run({"root": el_root, "kernel": EL_NEW, "modules": NVIDIA, "fail_on_missing": False,
            "dkms_status": "nvidia/550: added\n"}, capsys, monkeypatch, dkms=status, live=True)
    assert r.calls == [] and r.result["dkms"][0]["state"] == "added"


def test_dkms_failure_is_a_warning(el_root, capsys, monkeypatch):
    r = run({"root": el_root, "kernel": EL_NEW, "modules": NVIDIA, "fail_on_missing": False},
            capsys, monkeypatch, dkms=(1, "", "Error! something"), live=True)
    assert any("dkms status -k %s failed (rc=1): Error! something" % EL_NEW in w for w in r.warnings)
    assert r.result["dkms"] == [] and "dkms status" not in r.result["reasons"][0]


def test_no_dkms_binary(el_root, capsys, monkeypatch):
    r = run({"root": el_root, "kernel": EL_NEW, "modules": NVIDIA, "fail_on_missing": False},
            capsys, monkeypatch, dkms=None, live=True)
    assert r.calls == [] and r.result["dkms_command"] is None


def test_notices_are_warnings(tmp_path, capsys):
    make_kernel(tmp_path, DEB_NEW, files=["updates/dkms/nvidia.ko"], dep=["kernel/drivers/net/e1000e.ko.xz"])
    r = run({"root": str(tmp_path), "kernel": DEB_NEW, "modules": ["nvidia"]}, capsys)
    assert r.code == 0 and r.result["ok"]
    assert r.result["notices"] and r.warnings == ["kernel_modules_check: %s" % r.result["notices"][0]]
    assert "depmod -a %s" % DEB_NEW in r.warnings[0]


def test_check_mode_gives_the_same_answer(el_root, capsys):
    r = run({"root": el_root, "kernel": EL_NEW, "modules": NVIDIA, "_ansible_check_mode": True},
            capsys)
    assert r.code == 1 and r.result["missing"] == ["nvidia_uvm"] and r.result["changed"] is False


def test_ignored_kernel_dirs_are_reported(el_root, capsys):
    make_kernel(el_root, "5.14.0-362.el9.x86_64", files=["extra/nvidia.ko.xz"], dep=None, image=False,
                kernel_dir=False)
    r = run({"root": el_root, "modules": ["nvidia"]}, capsys)
    assert r.result["kernels"] == [EL_OLD, EL_NEW]
    assert [i["name"] for i in r.result["ignored_kernel_dirs"]] == ["5.14.0-362.el9.x86_64"]


def test_debian_flavours_do_not_mix_for_newest(tmp_path, capsys):
    make_kernel(tmp_path, DEB_OLD, files=["updates/dkms/nvidia.ko"], dep="auto")
    make_kernel(tmp_path, "6.1.0-30-rt-amd64", dep="auto")
    r = run({"root": str(tmp_path), "kernel": DEB_NEW, "modules": ["nvidia"], "fail_on_missing": False},
            capsys)
    assert r.result["newest"] == DEB_OLD and r.result["kernel_is_newest"] is True
