# -*- coding: utf-8 -*-
"""Tests for plugins/module_utils/kernel_guard.py: dkms status parsing, modules.dep and directory scans on
synthetic /lib/modules trees, check() verdicts and reasons, rpm-style kernel ordering."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.hpcai.cluster.plugins.module_utils import kernel_guard as kg

EL_OLD = "5.14.0-427.13.1.el9_4.x86_64"
EL_NEW = "5.14.0-503.el9.x86_64"
DEB_OLD = "6.1.0-13-amd64"
DEB_NEW = "6.1.0-28-amd64"
NVIDIA = ["nvidia", "nvidia_uvm", "nvidia_modeset"]


def make_kernel(root, kver, files=(), dep=None, links=None, image=True, kernel_dir=True, boot_image=False):
    """A /lib/modules/<kver> tree: ``files`` relative to it, ``dep`` the modules.dep paths (None = no
    modules.dep; "auto" = every file in ``files`` and ``links``), ``links`` {relpath: target}."""
    kdir = os.path.join(str(root), "lib", "modules", kver)
    os.makedirs(kdir, exist_ok=True)
    if kernel_dir:
        os.makedirs(os.path.join(kdir, "kernel", "drivers", "net"), exist_ok=True)
        with open(os.path.join(kdir, "kernel", "drivers", "net", "e1000e.ko.xz"), "w") as handle:
            handle.write("elf")
    if image:
        with open(os.path.join(kdir, "vmlinuz"), "w") as handle:
            handle.write("bzImage")
    if boot_image:
        os.makedirs(os.path.join(str(root), "boot"), exist_ok=True)
        with open(os.path.join(str(root), "boot", "vmlinuz-" + kver), "w") as handle:
            handle.write("bzImage")
    for rel in files:
        path = os.path.join(kdir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write("elf")
    for rel, target in (links or {}).items():
        path = os.path.join(kdir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(target, path)
    if dep == "auto":
        dep = list(files) + list(links or {})
        if kernel_dir:
            dep.append("kernel/drivers/net/e1000e.ko.xz")
    if dep is not None:
        with open(os.path.join(kdir, "modules.dep"), "w") as handle:
            for rel in dep:
                handle.write("%s:\n" % rel)
    return kdir


# ---------------------------------------------------------------- dkms status
DKMS3 = """\
nvidia/550.54.15, 5.14.0-427.13.1.el9_4.x86_64, x86_64: installed
nvidia/550.54.15, 5.14.0-503.el9.x86_64, x86_64: built
amdgpu/6.8.5-2009582.22.04: added
"""
DKMS2 = """\
nvidia, 535.104.05, 6.1.0-13-amd64, x86_64: installed
8812au, 4.2.2: added
"""


def test_dkms3_lines():
    entries = kg.parse_dkms_status(DKMS3)
    assert [(e["module"], e["version"], e["kernel"], e["arch"], e["state"]) for e in entries] == [
        ("nvidia", "550.54.15", EL_OLD, "x86_64", "installed"),
        ("nvidia", "550.54.15", EL_NEW, "x86_64", "built"),
        ("amdgpu", "6.8.5-2009582.22.04", None, None, "added"),
    ]
    assert all(e["warning"] is None and e["from_kernel"] is None for e in entries)


def test_dkms2_comma_form():
    entries = kg.parse_dkms_status(DKMS2)
    assert entries[0]["module"] == "nvidia" and entries[0]["version"] == "535.104.05"
    assert entries[0]["kernel"] == DEB_OLD and entries[0]["arch"] == "x86_64" and entries[0]["state"] == "installed"
    assert (entries[1]["module"], entries[1]["version"], entries[1]["kernel"], entries[1]["state"]) == (
        "8812au", "4.2.2", None, "added")


@pytest.mark.parametrize("suffix,warning", [
    # dkms 2.x, one note per module of the package
    ("installed (WARNING! Diff between built and installed module!)", "WARNING! Diff between built and installed module!"),
    ("installed (WARNING! Diff between built and installed module!) (WARNING! Diff between built and installed module!)",
     "WARNING! Diff between built and installed module!; WARNING! Diff between built and installed module!"),
    ("installed (WARNING! Missing some built modules!)", "WARNING! Missing some built modules!"),
    # dkms 3.x (module_status_built_extra)
    ("installed (Original modules exist) (Differences between built and installed modules)",
     "Original modules exist; Differences between built and installed modules"),
    ("installed (Built modules are missing in the kernel modules folder)",
     "Built modules are missing in the kernel modules folder"),
])
def test_dkms_notes_become_the_warning(suffix, warning):
    entry = kg.parse_dkms_status("nvidia/550.54.15, %s, x86_64: %s\n" % (EL_NEW, suffix))[0]
    assert entry["state"] == "installed" and entry["warning"] == warning


def test_dkms_weak_broken_and_junk_lines():
    text = """\
vboxguest, 4.3.14, 3.10.0-123.el7.x86_64, x86_64: installed-weak from 3.10.0-123.20.1.el7.x86_64
zfs/2.1.5: broken
Error! zfs/2.1.5: Missing the module source directory or the symbolic link pointing to it.
Manual intervention is required!
Deprecated feature: REMAKE_INITRD (/var/lib/dkms/akvcam/1.2.2/source/dkms.conf)
akvcam/1.2.2, 5.18.10-200.fc36.x86_64, x86_64: installedDeprecated feature: REMAKE_INITRD
dkms.conf: Error! No 'PACKAGE_NAME' directive specified.
nvidia/550.54.15, 5.14.0-503.el9.x86_64: installed

"""
    entries = kg.parse_dkms_status(text)
    assert [e["module"] for e in entries] == ["vboxguest", "zfs", "akvcam", "nvidia"]
    weak, broken, glued, short = entries
    assert weak["state"] == "installed-weak" and weak["kernel"] == "3.10.0-123.el7.x86_64"
    assert weak["from_kernel"] == "3.10.0-123.20.1.el7.x86_64"
    assert broken["state"] == "broken" and broken["kernel"] is None
    assert glued["state"] == "installed"  # stderr glued to the line when captured with 2>&1
    assert short["kernel"] == EL_NEW and short["arch"] is None


def test_dkms_empty_and_none():
    assert kg.parse_dkms_status("") == []
    assert kg.parse_dkms_status(None) == []
    assert kg.parse_dkms_status("nvidia/550, x: installed\n")[0]["kernel"] == "x"
    assert kg.parse_dkms_status("nvidia/550: installed\n") == []  # an installed state without a kernel says nothing


def test_dkms_for_kernel_keeps_kernel_less_entries():
    entries = kg.parse_dkms_status(DKMS3)
    assert [e["state"] for e in kg.dkms_for_kernel(entries, EL_NEW)] == ["built", "added"]
    assert [e["state"] for e in kg.dkms_for_kernel(entries, "6.6.6")] == ["added"]


# ---------------------------------------------------------------- names and modules.dep
@pytest.mark.parametrize("path,name", [
    ("nvidia.ko", "nvidia"), ("extra/nvidia-uvm.ko.xz", "nvidia_uvm"),
    ("updates/dkms/nvidia-modeset.ko.zst", "nvidia_modeset"),
    ("kernel/fs/lustre/lnet.ko.gz", "lnet"), ("beegfs.ko", "beegfs"),
    ("nvidia.ko.sig", None), ("modules.dep", None), ("nvidia.o", None),
])
def test_module_name_from_path(path, name):
    assert kg.module_name_from_path(path) == name


def test_normalize_module():
    assert kg.normalize_module("nvidia-uvm") == "nvidia_uvm"
    assert kg.normalize_module("nvidia_uvm.ko") == "nvidia_uvm"
    assert kg.normalize_module(" amdgpu ") == "amdgpu"


def test_parse_modules_dep():
    text = ("# comment\nkernel/drivers/net/e1000e.ko.xz:\nextra/nvidia-uvm.ko.xz: extra/nvidia.ko.xz\n"
            "/opt/vendor/lustre.ko: \nextra/nvidia.ko.xz:\nupdates/nvidia.ko:\nnot a line\n")
    assert kg.parse_modules_dep(text) == {
        "e1000e": "kernel/drivers/net/e1000e.ko.xz",
        "nvidia_uvm": "extra/nvidia-uvm.ko.xz",
        "lustre": "/opt/vendor/lustre.ko",
        "nvidia": "extra/nvidia.ko.xz",  # first entry per name wins
    }


# ---------------------------------------------------------------- find_modules / check on synthetic trees
def test_all_present_via_modules_dep(tmp_path):
    make_kernel(tmp_path, EL_NEW, files=["extra/nvidia.ko.xz", "extra/nvidia-uvm.ko.xz", "extra/nvidia-modeset.ko.xz"],
                dep="auto")
    result = kg.check(str(tmp_path), EL_NEW, NVIDIA)
    assert result["ok"] and result["kernel_present"] and result["missing"] == [] and result["reasons"] == []
    assert result["found"]["nvidia_uvm"] == "/lib/modules/%s/extra/nvidia-uvm.ko.xz" % EL_NEW
    assert result["notices"] == [] and result["dkms"] == []


def test_module_only_in_updates_dkms_without_modules_dep_entry(tmp_path):
    # Debian dkms installs to updates/dkms; modules.dep not regenerated yet
    make_kernel(tmp_path, DEB_NEW, files=["updates/dkms/nvidia.ko", "updates/dkms/nvidia-uvm.ko",
                                          "updates/dkms/nvidia-modeset.ko"],
                dep=["kernel/drivers/net/e1000e.ko.xz"])
    result = kg.check(str(tmp_path), DEB_NEW, NVIDIA)
    assert result["ok"]
    assert result["found"]["nvidia"] == "/lib/modules/%s/updates/dkms/nvidia.ko" % DEB_NEW
    assert len(result["notices"]) == 3 and all("depmod -a %s" % DEB_NEW in n for n in result["notices"])


def test_module_found_by_scan_when_modules_dep_is_missing(tmp_path):
    make_kernel(tmp_path, DEB_NEW, files=["updates/dkms/nvidia.ko"], dep=None)
    where = kg.find_modules(str(tmp_path), DEB_NEW, ["nvidia"])
    assert where["source"] == {"nvidia": "scan"} and not where["modules_dep"]
    result = kg.check(str(tmp_path), DEB_NEW, ["nvidia"])
    assert result["ok"] and any("modules.dep is missing" in n for n in result["notices"])


def test_scan_order_prefers_updates_over_extra(tmp_path):
    make_kernel(tmp_path, EL_NEW, files=["extra/nvidia.ko.xz", "updates/nvidia.ko.xz"], dep=None)
    assert kg.find_modules(str(tmp_path), EL_NEW, ["nvidia"])["found"]["nvidia"].endswith("/updates/nvidia.ko.xz")


@pytest.mark.parametrize("suffix", [".ko", ".ko.xz", ".ko.zst", ".ko.gz"])
def test_compressed_modules(tmp_path, suffix):
    make_kernel(tmp_path, EL_NEW, files=["extra/nvidia" + suffix], dep="auto")
    assert kg.check(str(tmp_path), EL_NEW, ["nvidia"])["found"]["nvidia"].endswith("extra/nvidia" + suffix)


def test_weak_updates_symlink_valid_absolute_target_resolved_inside_root(tmp_path):
    # EL kABI: weak-modules links weak-updates/<mod> of the new kernel to extra/<mod> of the old one (absolute)
    make_kernel(tmp_path, EL_OLD, files=["extra/nvidia/nvidia.ko.xz"], dep="auto")
    target = "/lib/modules/%s/extra/nvidia/nvidia.ko.xz" % EL_OLD
    make_kernel(tmp_path, EL_NEW, links={"weak-updates/nvidia/nvidia.ko.xz": target}, dep="auto")
    result = kg.check(str(tmp_path), EL_NEW, ["nvidia"])
    assert result["ok"], result["reasons"]
    assert result["found"]["nvidia"] == "/lib/modules/%s/weak-updates/nvidia/nvidia.ko.xz" % EL_NEW
    assert result["notices"] == []


def test_weak_updates_relative_symlink(tmp_path):
    make_kernel(tmp_path, EL_OLD, files=["extra/nvidia.ko.xz"], dep="auto")
    make_kernel(tmp_path, EL_NEW, links={"weak-updates/nvidia.ko.xz": "../../%s/extra/nvidia.ko.xz" % EL_OLD},
                dep=None)
    assert kg.check(str(tmp_path), EL_NEW, ["nvidia"])["ok"]


def test_weak_updates_dangling_symlink_does_not_count(tmp_path):
    target = "/lib/modules/%s/extra/nvidia/nvidia.ko.xz" % EL_OLD  # the old kernel is gone
    make_kernel(tmp_path, EL_NEW, links={"weak-updates/nvidia/nvidia.ko.xz": target}, dep="auto")
    result = kg.check(str(tmp_path), EL_NEW, ["nvidia"])
    assert not result["ok"] and result["missing"] == ["nvidia"]
    assert "weak-updates/nvidia/nvidia.ko.xz" in result["reasons"][0] and "gone" in result["reasons"][0]
    assert EL_NEW in result["reasons"][0]


def test_dangling_symlink_outside_modules_dep_does_not_count(tmp_path):
    make_kernel(tmp_path, EL_NEW, links={"weak-updates/nvidia.ko.xz": "/nowhere/nvidia.ko.xz"}, dep=None)
    assert kg.find_modules(str(tmp_path), EL_NEW, ["nvidia"])["missing"] == ["nvidia"]


def test_symlink_loop_does_not_hang(tmp_path):
    kdir = make_kernel(tmp_path, EL_NEW, dep=None)
    os.makedirs(os.path.join(kdir, "extra"))
    os.symlink("b.ko", os.path.join(kdir, "extra", "a.ko"))
    os.symlink("a.ko", os.path.join(kdir, "extra", "b.ko"))
    assert kg.find_modules(str(tmp_path), EL_NEW, ["a"])["missing"] == ["a"]


def test_absolute_path_in_modules_dep(tmp_path):
    kdir = make_kernel(tmp_path, EL_NEW, dep=None)
    os.makedirs(os.path.join(str(tmp_path), "opt", "lustre"))
    open(os.path.join(str(tmp_path), "opt", "lustre", "lustre.ko"), "w").close()
    with open(os.path.join(kdir, "modules.dep"), "w") as handle:
        handle.write("/opt/lustre/lustre.ko:\n")
    result = kg.check(str(tmp_path), EL_NEW, ["lustre"])
    assert result["ok"] and result["found"]["lustre"] == "/opt/lustre/lustre.ko"


def test_names_are_normalised(tmp_path):
    make_kernel(tmp_path, EL_NEW, files=["extra/nvidia-uvm.ko.xz"], dep="auto")
    result = kg.check(str(tmp_path), EL_NEW, ["nvidia-uvm", "nvidia_uvm.ko"])
    assert result["ok"] and list(result["found"]) == ["nvidia_uvm"]


def test_missing_with_dkms_added_names_kernel_module_and_command(tmp_path):
    make_kernel(tmp_path, EL_NEW, dep="auto")
    result = kg.check(str(tmp_path), EL_NEW, ["nvidia"], "nvidia/550.54.15: added\n")
    assert not result["ok"] and result["missing"] == ["nvidia"]
    assert result["reasons"] == [
        "nvidia is not built for %s (dkms status: nvidia/550.54.15 added, not built); run `dkms autoinstall -k %s`"
        % (EL_NEW, EL_NEW)]
    assert result["dkms"][0]["state"] == "added"


def test_missing_with_dkms_built_not_installed(tmp_path):
    make_kernel(tmp_path, EL_NEW, dep="auto")
    result = kg.check(str(tmp_path), EL_NEW, ["nvidia_uvm"], DKMS3)
    assert "nvidia_uvm is built for %s but not installed" % EL_NEW in result["reasons"][0]
    assert "`dkms install nvidia/550.54.15 -k %s`" % EL_NEW in result["reasons"][0]
    # the entry for the other kernel is not this kernel's business
    assert [e["kernel"] for e in result["dkms"]] == [EL_NEW, None]


def test_missing_although_dkms_says_installed(tmp_path):
    make_kernel(tmp_path, DEB_NEW, dep="auto")
    status = "nvidia/550.54.15, %s, x86_64: installed (Differences between built and installed modules)\n" % DEB_NEW
    reason = kg.check(str(tmp_path), DEB_NEW, ["nvidia"], status)["reasons"][0]
    assert "although dkms reports it installed" in reason and "Differences between built" in reason
    assert "dkms install --force nvidia/550.54.15 -k %s" % DEB_NEW in reason


def test_missing_with_broken_dkms_package(tmp_path):
    make_kernel(tmp_path, EL_NEW, dep="auto")
    reason = kg.check(str(tmp_path), EL_NEW, ["nvidia"], "nvidia/550.54.15: broken\n")["reasons"][0]
    assert "broken" in reason and "reinstall the driver package" in reason and EL_NEW in reason


def test_missing_without_dkms_entries(tmp_path):
    make_kernel(tmp_path, EL_NEW, dep="auto")
    unknown = kg.check(str(tmp_path), EL_NEW, ["beegfs"])["reasons"][0]
    assert unknown.startswith("beegfs is missing for %s" % EL_NEW) and "kmod package built for" in unknown
    empty = kg.check(str(tmp_path), EL_NEW, ["beegfs"], "")["reasons"][0]
    assert "dkms knows no package" in empty
    other = kg.check(str(tmp_path), EL_NEW, ["lustre"], "nvidia/550.54.15: added\n")["reasons"][0]
    assert "no dkms package is named after it" in other and "nvidia/550.54.15 added" in other


def test_related_dkms_package_names():
    entries = kg.parse_dkms_status("nvidia-open/550.54.15: added\nnvidia/550: added\namdgpu/6.8: added\n")
    assert [e["module"] for e in kg._related(entries, "nvidia")] == ["nvidia-open", "nvidia"]
    assert [e["module"] for e in kg._related(entries, "nvidia_uvm")] == ["nvidia"]
    assert kg._related(entries, "amdttm") == []


def test_found_module_with_dkms_note_is_a_notice(tmp_path):
    make_kernel(tmp_path, EL_NEW, files=["extra/nvidia.ko.xz"], dep="auto")
    status = "nvidia/550.54.15, %s, x86_64: installed (WARNING! Diff between built and installed module!)\n" % EL_NEW
    result = kg.check(str(tmp_path), EL_NEW, ["nvidia"], status)
    assert result["ok"] and "dkms status says nvidia/550.54.15 installed (WARNING! Diff" in result["notices"][0]


def test_kernel_dir_absent(tmp_path):
    make_kernel(tmp_path, EL_OLD, files=["extra/nvidia.ko.xz"], dep="auto")
    result = kg.check(str(tmp_path), EL_NEW, ["nvidia", "nvidia_uvm"])
    assert not result["ok"] and not result["kernel_present"]
    assert result["missing"] == ["nvidia", "nvidia_uvm"]
    assert len(result["reasons"]) == 1
    assert "kernel %s is not installed" % EL_NEW in result["reasons"][0] and "nvidia, nvidia_uvm" in result["reasons"][0]


def test_root_without_lib_modules(tmp_path):
    assert not kg.check(str(tmp_path), EL_NEW, ["nvidia"])["kernel_present"]
    assert kg.scan_kernels(str(tmp_path)) == {"kernels": [], "ignored": []}


def test_usr_lib_modules_when_lib_is_absent(tmp_path):
    kdir = os.path.join(str(tmp_path), "usr", "lib", "modules", DEB_NEW, "updates", "dkms")
    os.makedirs(kdir)
    open(os.path.join(kdir, "nvidia.ko"), "w").close()
    assert kg.check(str(tmp_path), DEB_NEW, ["nvidia"])["ok"]


def test_lib_symlink_inside_root_is_followed(tmp_path):
    # merged /usr: lib -> usr/lib; an absolute link must stay inside the tree
    kdir = os.path.join(str(tmp_path), "usr", "lib", "modules", DEB_NEW, "updates", "dkms")
    os.makedirs(kdir)
    open(os.path.join(kdir, "nvidia.ko"), "w").close()
    os.symlink("/usr/lib", os.path.join(str(tmp_path), "lib"))
    assert kg.find_modules(str(tmp_path), DEB_NEW, ["nvidia"])["found"]["nvidia"].endswith("updates/dkms/nvidia.ko")


# ---------------------------------------------------------------- installed kernels and junk
def test_scan_kernels_ignores_junk(tmp_path):
    make_kernel(tmp_path, EL_OLD, dep="auto")
    make_kernel(tmp_path, EL_NEW, dep="auto")
    make_kernel(tmp_path, "5.14.0-362.el9.x86_64", files=["extra/nvidia.ko.xz"], dep=None, image=False,
                kernel_dir=False)  # what dkms leaves after the kernel is removed
    make_kernel(tmp_path, "6.1.0-9-amd64", dep=[], image=False, kernel_dir=False)  # purged Debian kernel residue
    make_kernel(tmp_path, DEB_NEW, dep="auto", image=False, kernel_dir=False, boot_image=True)
    os.makedirs(os.path.join(str(tmp_path), "lib", "modules", "extramodules-6.1-ARCH"))
    open(os.path.join(str(tmp_path), "lib", "modules", "README"), "w").close()
    scanned = kg.scan_kernels(str(tmp_path))
    assert scanned["kernels"] == [EL_OLD, EL_NEW, DEB_NEW]
    reasons = dict((i["name"], i["reason"]) for i in scanned["ignored"])
    assert set(reasons) == {"5.14.0-362.el9.x86_64", "6.1.0-9-amd64", "extramodules-6.1-ARCH", "README"}
    assert "no modules.dep" in reasons["5.14.0-362.el9.x86_64"]
    assert "without kernel/" in reasons["6.1.0-9-amd64"]
    assert reasons["extramodules-6.1-ARCH"] == "not a kernel release name"


# ---------------------------------------------------------------- versions
RPM_CASES = [
    # rpm-software-management/rpm tests/rpmvercmp.at
    ("1.0", "1.0", 0), ("1.0", "2.0", -1), ("2.0.1", "2.0.1", 0), ("2.0", "2.0.1", -1), ("2.0.1a", "2.0.1", 1),
    ("5.5p1", "5.5p2", -1), ("5.5p10", "5.5p1", 1), ("10xyz", "10.1xyz", -1), ("xyz10", "xyz10.1", -1),
    ("xyz.4", "8", -1), ("8", "xyz.4", 1), ("xyz.4", "2", -1), ("5.5p2", "5.6p1", -1), ("6.0.rc1", "6.0", 1),
    ("10b2", "10a1", 1), ("10a2", "10b2", -1), ("1.0a", "1.0aa", -1), ("10.0001", "10.1", 0),
    ("10.0001", "10.0039", -1), ("4.999.9", "5.0", -1), ("20101121", "20101122", -1), ("2.0", "2_0", 0),
    ("a+", "a_", 0), ("+a", "_a", 0), ("+", "_", 0),
    ("1.0~rc1", "1.0", -1), ("1.0~rc1", "1.0~rc2", -1), ("1.0~rc1~git123", "1.0~rc1", -1),
    # caret (rpm >= 4.15)
    ("1.0^", "1.0", 1), ("1.0^git1", "1.0", 1), ("1.0^git1", "1.01", -1), ("1.0^git1", "1.0^git2", -1),
    ("1.0^20160101", "1.0.1", -1), ("1.0~rc1^git1", "1.0~rc1", 1), ("1.0^git1~pre", "1.0^git1", -1),
]


@pytest.mark.parametrize("left,right,want", RPM_CASES)
def test_rpmvercmp(left, right, want):
    assert kg.rpmvercmp(left, right) == want
    assert kg.rpmvercmp(right, left) == -want


@pytest.mark.parametrize("older,newer", [
    (EL_OLD, EL_NEW),
    ("5.14.0-70.13.1.el9_0.x86_64", EL_OLD),
    ("5.14.0-503.el9.x86_64", "5.14.0-503.14.1.el9_5.x86_64"),
    ("5.14.0-570.17.1.el9_6.x86_64", "6.12.0-55.9.1.el10_0.x86_64"),
    ("6.1.0-9-amd64", DEB_OLD),
    (DEB_OLD, DEB_NEW),
    ("6.1.0-28-amd64", "6.12.38+deb13-amd64"),
    ("6.12.38+deb13-amd64", "6.12.41+deb13-amd64"),
    ("6.8.0-86-generic", "6.8.0-100-generic"),
    ("5.14-2", "5.14.0-1"),  # version before release, as rpm does
])
def test_compare_kernels(older, newer):
    assert kg.compare_kernels(older, newer) == -1
    assert kg.compare_kernels(newer, older) == 1
    assert kg.compare_kernels(newer, newer) == 0


@pytest.mark.parametrize("kernel,flavour", [
    (EL_NEW, ""), (EL_NEW + "+debug", "debug"), ("5.14.0-503.el9.aarch64+64k", "64k"),
    (DEB_NEW, "amd64"), ("6.1.0-28-cloud-amd64", "cloud-amd64"), ("6.1.0-28-rt-amd64", "rt-amd64"),
    ("6.12.41+deb13-amd64", "amd64"), ("6.8.0-86-generic", "generic"), ("6.9.0", ""),
])
def test_kernel_flavour(kernel, flavour):
    assert kg.kernel_flavour(kernel) == flavour


def test_sort_and_newest():
    kernels = [EL_NEW + "+debug", EL_NEW, EL_OLD, EL_NEW, "5.14.0-70.13.1.el9_0.x86_64"]
    assert kg.sort_kernels(kernels) == ["5.14.0-70.13.1.el9_0.x86_64", EL_OLD, EL_NEW, EL_NEW + "+debug"]
    assert kg.newest(kernels) == EL_NEW + "+debug"
    assert kg.newest(kernels, flavour="") == EL_NEW
    assert kg.newest([DEB_NEW, "6.1.0-30-rt-amd64", DEB_OLD], flavour="amd64") == DEB_NEW
    assert kg.newest([DEB_NEW], flavour="generic") == DEB_NEW  # no kernel of that flavour: all count
    assert kg.newest([]) is None
