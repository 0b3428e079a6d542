# -*- coding: utf-8 -*-
"""Tests for plugins/modules/kernel_cmdline.py, run through AnsibleModule on temporary roots.

``run_command`` and ``get_bin_path`` are replaced: a fake grubby keeps BLS-like
entries in memory and edits them the way grubby does (remove keys, then replace
or append args); ``update-grub`` is only recorded.
"""

from __future__ import absolute_import, division, print_function

import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.hpcai.cluster.plugins.modules import kernel_cmdline as mod

DROPIN = "etc/default/grub.d/90-hpcai.cfg"
WANT = ["iommu=pt", "amd_pstate=active"]
PROC = "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-6.1.0-28-amd64 root=UUID=0b6a ro quiet\n"
DEBIAN_GRUB = 'GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n'
EL_ARGS = "ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M rd.lvm.lv=rl/root rhgb quiet"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def read(path):
    with open(path) as handle:
        return handle.read()


class FakeSystem(object):
    """Stands in for run_command / get_bin_path."""

    def __init__(self, bins=(), entries=None, fail=None, ignore_updates=False):
        self.bins = dict((name, "/usr/sbin/%s" % name) for name in bins)
        self.calls = []
        self.warnings = []
        self.entries = entries  # list of [kernel, args-string] or None (no grubby)
        self.fail = fail or {}
        self.ignore_updates = ignore_updates

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return self.bins.get(name)

    def info(self):
        out = []
        for index, (kernel, args) in enumerate(self.entries or []):
            out += ['index=%d' % index, 'kernel="%s"' % kernel, 'args="%s"' % args, 'root="/dev/mapper/rl-root"',
                    'title="Rocky Linux (%s)"' % kernel.rsplit("-", 1)[-1]]
        return "\n".join(out) + "\n"

    def update(self, argv):
        remove, add = [], []
        for item in argv:
            if item.startswith("--remove-args="):
                remove = item.split("=", 1)[1].split()
            elif item.startswith("--args="):
                add = item.split("=", 1)[1].split()
        for entry in self.entries:
            tokens = [t for t in entry[1].split() if t.split("=", 1)[0] not in remove]
            for arg in add:
                key = arg.split("=", 1)[0]
                tokens = [t for t in tokens if t.split("=", 1)[0] != key] + [arg]
            entry[1] = " ".join(tokens)

    def run_command(self, argv, **kw):
        assert isinstance(argv, list), "commands must be argv lists (no shell)"
        self.calls.append(list(argv))
        name = os.path.basename(argv[0])
        if name in self.fail:
            return self.fail[name]
        if name == "grubby":
            if self.entries is None:
                return 1, "", "grubby: no BLS entries\n"
            if "--info=ALL" in argv:
                return 0, self.info(), ""
            if "--update-kernel=ALL" in argv:
                if not self.ignore_updates:
                    self.update(argv)
                return 0, "", ""
        return 0, "", ""

    def updates(self):
        return [c for c in self.calls if "--info=ALL" not in c]


@pytest.fixture
def fake(monkeypatch):
    holder = {}

    def install(**kw):
        system = FakeSystem(**kw)
        monkeypatch.setattr(mod.AnsibleModule, "get_bin_path", lambda _self, *a, **kw: system.get_bin_path(*a, **kw))
        monkeypatch.setattr(mod.AnsibleModule, "run_command", lambda _self, *a, **kw: system.run_command(*a, **kw))
        # ansible-core 2.19 sends warnings to the controller's display when controller code is
        # loaded in the same process (as under pytest): record them here instead
        monkeypatch.setattr(mod.AnsibleModule, "warn", lambda _self, msg, **kw: system.warnings.append(msg))
        holder["system"] = system
        return system

    return install


@pytest.fixture
def live(monkeypatch):
    """Pretend the temporary root is the running system's / (so update-grub runs)."""
    monkeypatch.setattr(mod, "_is_live_root", lambda root: True)


@pytest.fixture
def debian(tmp_path):
    root = str(tmp_path / "root")
    write(os.path.join(root, "etc/default/grub"), DEBIAN_GRUB)
    write(os.path.join(root, "proc/cmdline"), PROC)
    return root


@pytest.fixture
def rocky(tmp_path):
    root = str(tmp_path / "root")
    os.makedirs(os.path.join(root, "boot/loader/entries"))
    write(os.path.join(root, "proc/cmdline"), "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0-503.el9.x86_64 root=/dev/mapper/rl-root "
                                              + EL_ARGS + "\n")
    return root


def el_entries():
    return [
        ["/boot/vmlinuz-5.14.0-503.14.1.el9_5.x86_64", EL_ARGS + " $tuned_params"],
        ["/boot/vmlinuz-5.14.0-427.42.1.el9_4.x86_64", EL_ARGS + " iommu=off"],
        ["/boot/vmlinuz-0-rescue-3f1c2b8f0e6d4f5a", "ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M rd.lvm.lv=rl/root"],
    ]


def run(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            mod.main()
    out = capsys.readouterr().out
    return exc.value.code, json.loads(out)


# --------------------------------------------------------------------------
# grub_d
# --------------------------------------------------------------------------


def test_grub_d_writes_dropin_runs_update_grub_once(debian, fake, live, capsys):
    system = fake(bins=["update-grub", "grub-mkconfig"])
    code, r = run({"root": debian, "method": "grub_d", "args": WANT, "_ansible_diff": True}, capsys)
    assert code == 0, r
    path = os.path.join(debian, DROPIN)
    assert r["changed"] is True
    assert r["method"] == "grub_d" and r["file"] == path
    content = read(path)
    assert content == r["content"]
    assert 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX iommu=pt amd_pstate=active"' in content.splitlines()
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert system.calls == [["/usr/sbin/update-grub"]]
    assert r["commands"] == ["/usr/sbin/update-grub"]
    assert r["diff"]["before"] == "" and "iommu=pt amd_pstate=active" in r["diff"]["after"]
    assert r["diff"]["before_header"].endswith("(absent)")
    assert r["reboot_required"] is True
    assert len(r["reboot_reasons"]) == 2
    assert r["skipped_reason"] is None

    # second run: nothing to do, update-grub not run again
    system.calls[:] = []
    code, r2 = run({"root": debian, "method": "grub_d", "args": WANT}, capsys)
    assert code == 0
    assert r2["changed"] is False
    assert system.calls == []
    assert r2["commands"] == []
    assert read(path) == content
    assert r2["reboot_required"] is True  # still not booted with them


def test_grub_d_falls_back_to_grub_mkconfig(debian, fake, live, capsys):
    system = fake(bins=["grub-mkconfig"])
    code, r = run({"root": debian, "method": "grub_d", "args": ["iommu=pt"]}, capsys)
    assert code == 0, r
    assert system.calls == [["/usr/sbin/grub-mkconfig", "-o", "/boot/grub/grub.cfg"]]


def test_grub_d_check_mode_writes_nothing(debian, fake, live, capsys):
    system = fake(bins=["update-grub"])
    code, r = run({"root": debian, "method": "grub_d", "args": WANT, "_ansible_check_mode": True,
                   "_ansible_diff": True}, capsys)
    assert code == 0, r
    assert r["changed"] is True
    assert not os.path.exists(os.path.join(debian, DROPIN))
    assert not os.path.exists(os.path.join(debian, "etc/default/grub.d"))
    assert system.calls == []
    assert r["commands"] == ["/usr/sbin/update-grub"]
    assert "iommu=pt" in r["diff"]["after"]


def test_grub_d_no_update_when_disabled_or_not_live(debian, fake, capsys):
    system = fake(bins=["update-grub"])
    # temporary root is not the live /: never regenerate the host's grub.cfg
    code, r = run({"root": debian, "method": "grub_d", "args": WANT}, capsys)
    assert code == 0 and r["changed"] is True
    assert system.calls == [] and r["commands"] == []
    assert any("update-grub was not run" in w for w in system.warnings)
    code, r = run({"root": debian, "method": "grub_d", "args": ["iommu=pt"], "update_bootloader": False}, capsys)
    assert code == 0 and r["changed"] is True
    assert system.calls == []


def test_grub_d_update_failure_restores_previous_file(debian, fake, live, capsys):
    path = os.path.join(debian, DROPIN)
    fake(bins=["update-grub"])
    run({"root": debian, "method": "grub_d", "args": ["iommu=pt"]}, capsys)
    before = read(path)
    system = fake(bins=["update-grub"], fail={"update-grub": (1, "", "grub-probe: error: failed to get canonical path\n")})
    code, r = run({"root": debian, "method": "grub_d", "args": WANT}, capsys)
    assert code == 1 and r["failed"]
    assert "grub-probe" in r["msg"] and "restored" in r["msg"]
    assert read(path) == before
    assert system.calls == [["/usr/sbin/update-grub"]]


def test_grub_d_update_failure_on_new_file_removes_it(debian, fake, live, capsys):
    fake(bins=["update-grub"], fail={"update-grub": (1, "", "boom\n")})
    code, r = run({"root": debian, "method": "grub_d", "args": WANT}, capsys)
    assert code == 1
    assert not os.path.exists(os.path.join(debian, DROPIN))


def test_grub_d_without_update_tool_fails_before_writing(debian, fake, live, capsys):
    fake(bins=[])
    code, r = run({"root": debian, "method": "grub_d", "args": WANT}, capsys)
    assert code == 1
    assert "update_bootloader" in r["msg"] and "update-grub" in r["msg"]
    assert not os.path.exists(os.path.join(debian, DROPIN))


def test_grub_d_remove_own_and_foreign_keys(debian, fake, live, capsys):
    system = fake(bins=["update-grub"])
    run({"root": debian, "method": "grub_d", "args": ["iommu=pt", "nosmt"]}, capsys)
    system.calls[:] = []
    code, r = run({"root": debian, "method": "grub_d", "args": ["iommu=pt"], "remove": ["nosmt", "quiet"]}, capsys)
    assert code == 0, r
    assert r["changed"] is True
    assert r["removed_keys"] == ["nosmt"]
    assert [i["key"] for i in r["not_removable"]] == ["quiet"]
    assert any("quiet" in w and "only append" in w for w in system.warnings)
    # quiet is in /proc/cmdline but cannot be removed here: it does not make a reboot "required"
    assert not any("quiet" in reason for reason in r["reboot_reasons"])
    assert "nosmt" not in read(os.path.join(debian, DROPIN))
    assert system.calls == [["/usr/sbin/update-grub"]]


def test_grub_d_empty_args_removes_dropin(debian, fake, live, capsys):
    fake(bins=["update-grub"])
    run({"root": debian, "method": "grub_d", "args": WANT}, capsys)
    code, r = run({"root": debian, "method": "grub_d", "args": []}, capsys)
    assert code == 0 and r["changed"] is True
    assert not os.path.exists(os.path.join(debian, DROPIN))
    assert r["removed_keys"] == ["iommu", "amd_pstate"]
    code, r = run({"root": debian, "method": "grub_d", "args": []}, capsys)
    assert r["changed"] is False


def test_grub_d_refuses_unsafe_value_before_anything(debian, fake, live, capsys):
    system = fake(bins=["update-grub"])
    code, r = run({"root": debian, "method": "grub_d", "args": ["iommu=pt", "foo=$(id)"]}, capsys)
    assert code == 1
    assert r["msg"].startswith("kernel_cmdline: args:") and "'$'" in r["msg"]
    assert not os.path.exists(os.path.join(debian, DROPIN)) and system.calls == []


def test_grub_d_file_must_be_cfg(debian, fake, capsys):
    fake(bins=["update-grub"])
    code, r = run({"root": debian, "method": "grub_d", "args": WANT, "grub_d_file": "/etc/default/grub.d/x.conf"}, capsys)
    assert code == 1 and "grub_d_file" in r["msg"] and ".cfg" in r["msg"]


# --------------------------------------------------------------------------
# grubby
# --------------------------------------------------------------------------


def test_grubby_single_command_then_idempotent(rocky, fake, live, capsys):
    system = fake(bins=["grubby"], entries=el_entries())
    code, r = run({"root": rocky, "method": "grubby", "args": WANT, "remove": ["rhgb"], "_ansible_diff": True}, capsys)
    assert code == 0, r
    assert r["changed"] is True and r["method"] == "grubby"
    command = ["/usr/sbin/grubby", "--update-kernel=ALL", "--remove-args=iommu rhgb",
               "--args=iommu=pt amd_pstate=active"]
    assert system.updates() == [command]
    assert r["commands"] == ["/usr/sbin/grubby --update-kernel=ALL '--remove-args=iommu rhgb' "
                             "'--args=iommu=pt amd_pstate=active'"]
    assert [e["in_sync"] for e in r["entries"]] == [False, False, False]
    assert r["entries"][2]["kernel"].startswith("/boot/vmlinuz-0-rescue-")
    assert r["removed_keys"] == ["iommu", "rhgb"]
    assert r["diff"]["before"].strip() == EL_ARGS + " $tuned_params"
    assert r["diff"]["after"].strip() == EL_ARGS.replace(" rhgb", "") + " $tuned_params iommu=pt amd_pstate=active"
    # the fake grubby edited the entries: every one has the args once
    for _kernel, args in system.entries:
        assert args.split().count("iommu=pt") == 1 and "rhgb" not in args.split()
    assert system.entries[0][1].split()[-3] == "$tuned_params"
    assert r["reboot_required"] is True

    system.calls[:] = []
    code, r2 = run({"root": rocky, "method": "grubby", "args": WANT, "remove": ["rhgb"]}, capsys)
    assert code == 0
    assert r2["changed"] is False
    assert system.updates() == []
    assert r2["commands"] == []
    assert all(e["in_sync"] for e in r2["entries"])


def test_grubby_check_mode_only_reports(rocky, fake, live, capsys):
    system = fake(bins=["grubby"], entries=el_entries())
    snapshot = [list(e) for e in system.entries]
    code, r = run({"root": rocky, "method": "grubby", "args": ["nosmt"], "_ansible_check_mode": True}, capsys)
    assert code == 0, r
    assert r["changed"] is True
    assert r["commands"] == ["/usr/sbin/grubby --update-kernel=ALL --args=nosmt"]
    assert system.updates() == []
    assert system.entries == snapshot


def test_grubby_not_live_root_uses_bls_directory(rocky, fake, capsys):
    system = fake(bins=["grubby"], entries=el_entries())
    code, r = run({"root": rocky, "method": "grubby", "args": ["nosmt"]}, capsys)
    assert code == 0, r
    bls = "--bls-directory=%s" % os.path.join(rocky, "boot/loader/entries")
    assert all(bls in call for call in system.calls)
    assert system.updates()[0][-1] == "--args=nosmt"


def test_grubby_refuses_whitespace_arg(rocky, fake, live, capsys):
    fake(bins=["grubby"], entries=el_entries())
    code, r = run({"root": rocky, "method": "grubby", "args": ['dyndbg="file x.c +p"']}, capsys)
    assert code == 1 and "whitespace" in r["msg"] and "grubby" in r["msg"]


def test_grubby_unchanged_entries_after_update_fail(rocky, fake, live, capsys):
    fake(bins=["grubby"], entries=el_entries(), ignore_updates=True)
    code, r = run({"root": rocky, "method": "grubby", "args": ["iommu=pt"]}, capsys)
    assert code == 1
    assert "still not in sync" in r["msg"]


def test_grubby_failure_is_reported(rocky, fake, live, capsys):
    fake(bins=["grubby"], entries=el_entries(), fail={"grubby": (1, "", "grubby: no permission\n")})
    code, r = run({"root": rocky, "method": "grubby", "args": ["iommu=pt"]}, capsys)
    assert code == 1 and "no permission" in r["msg"] and "--info=ALL" in r["msg"]


def test_grubby_missing_binary(rocky, fake, live, capsys):
    fake(bins=[])
    code, r = run({"root": rocky, "method": "grubby", "args": ["iommu=pt"]}, capsys)
    assert code == 1 and "grubby binary was not found" in r["msg"]


# --------------------------------------------------------------------------
# auto, none, container
# --------------------------------------------------------------------------


def test_auto_picks_grubby_with_bls(rocky, fake, live, capsys):
    fake(bins=["grubby", "grub2-mkconfig"], entries=el_entries())
    code, r = run({"root": rocky, "args": ["iommu=pt"], "_ansible_check_mode": True}, capsys)
    assert code == 0 and r["method"] == "grubby"
    assert "boot/loader/entries" in r["method_reason"]


def test_auto_picks_grubby_when_info_works_without_bls_dir(tmp_path, fake, live, capsys):
    root = str(tmp_path)
    system = fake(bins=["grubby"], entries=el_entries())
    code, r = run({"root": root, "args": ["iommu=pt"], "_ansible_check_mode": True}, capsys)
    assert code == 0 and r["method"] == "grubby"
    # the --info=ALL of the detection is reused, not run twice
    assert len([c for c in system.calls if "--info=ALL" in c]) == 1


def test_auto_picks_grub_d_on_debian(debian, fake, live, capsys):
    fake(bins=["update-grub"])
    code, r = run({"root": debian, "args": ["iommu=pt"], "_ansible_check_mode": True}, capsys)
    assert code == 0 and r["method"] == "grub_d"
    assert r["method_reason"] == "/etc/default/grub exists"


def test_auto_grubby_binary_without_entries_falls_back(debian, fake, live, capsys):
    fake(bins=["grubby", "update-grub"], entries=None)
    code, r = run({"root": debian, "args": ["iommu=pt"], "_ansible_check_mode": True}, capsys)
    assert code == 0 and r["method"] == "grub_d"


def test_auto_nothing_found_is_none_with_reason(tmp_path, fake, capsys):
    system = fake(bins=[])
    code, r = run({"root": str(tmp_path), "args": WANT}, capsys)
    assert code == 0
    assert r["changed"] is False and r["method"] == "none"
    assert r["skipped_reason"] == "no grubby and no /etc/default/grub"
    assert r["args"] == WANT
    assert r["reboot_required"] is False
    assert any("not managed" in w for w in system.warnings)


def test_method_none(debian, fake, capsys):
    system = fake(bins=["update-grub"])
    code, r = run({"root": debian, "method": "none", "args": WANT}, capsys)
    assert code == 0 and r["changed"] is False and r["method"] == "none"
    assert r["skipped_reason"] and system.calls == []
    assert not os.path.exists(os.path.join(debian, DROPIN))


@pytest.mark.parametrize("marker,content,evidence", [
    (".dockerenv", "", "/.dockerenv exists"),
    ("run/.containerenv", "engine=podman\n", "/run/.containerenv exists"),
    ("run/systemd/container", "docker\n", "/run/systemd/container says docker"),
    ("proc/1/environ", "PATH=/usr/bin\0container=podman\0HOME=/\0", "container=podman in the environment of PID 1"),
])
def test_container_auto_is_none(debian, fake, live, capsys, marker, content, evidence):
    write(os.path.join(debian, marker), content)
    system = fake(bins=["grubby", "update-grub"], entries=el_entries())
    code, r = run({"root": debian, "args": WANT, "remove": ["quiet"]}, capsys)
    assert code == 0, r
    assert r["changed"] is False
    assert r["method"] == "none"
    assert evidence in r["skipped_reason"]
    assert r["reboot_required"] is False and r["reboot_reasons"] == []
    assert r["args"] == WANT
    assert system.calls == []
    assert not os.path.exists(os.path.join(debian, DROPIN))


def test_container_explicit_method_on_live_root_still_skips(debian, fake, live, capsys):
    write(os.path.join(debian, ".dockerenv"), "")
    system = fake(bins=["update-grub"])
    code, r = run({"root": debian, "method": "grub_d", "args": WANT}, capsys)
    assert code == 0 and r["changed"] is False and r["method"] == "none"
    assert system.calls == []


def test_container_explicit_method_other_root_does_the_work(debian, fake, capsys):
    write(os.path.join(debian, ".dockerenv"), "")
    fake(bins=["update-grub"])
    code, r = run({"root": debian, "method": "grub_d", "args": WANT}, capsys)
    assert code == 0 and r["changed"] is True and r["method"] == "grub_d"
    assert os.path.exists(os.path.join(debian, DROPIN))


def test_no_proc_cmdline_no_reboot(tmp_path, fake, capsys):
    root = str(tmp_path)
    write(os.path.join(root, "etc/default/grub"), DEBIAN_GRUB)
    fake(bins=["update-grub"])
    code, r = run({"root": root, "method": "grub_d", "args": WANT}, capsys)
    assert code == 0 and r["proc_cmdline"] is None and r["reboot_required"] is False


def test_reboot_not_required_when_active(debian, fake, live, capsys):
    write(os.path.join(debian, "proc/cmdline"), PROC.strip() + " iommu=pt amd_pstate=active\n")
    fake(bins=["update-grub"])
    code, r = run({"root": debian, "method": "grub_d", "args": WANT}, capsys)
    assert code == 0 and r["changed"] is True
    assert r["reboot_required"] is False and r["reboot_reasons"] == []
    assert r["proc_cmdline"].endswith("amd_pstate=active")


# --------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize("params,needle", [
    ({"args": ["iommu=pt", "iommu=off"]}, "args: key 'iommu' appears more than once"),
    ({"args": ["iommu=pt amd_pstate=active"]}, "args: 'iommu=pt amd_pstate=active' is not a single kernel argument"),
    ({"remove": ["quiet=1"]}, "remove: 'quiet=1' has a value"),
    ({"args": ["iommu=pt"], "remove": ["iommu"]}, "remove: key 'iommu' is also in args"),
])
def test_bad_input_fails_early(debian, fake, live, capsys, params, needle):
    system = fake(bins=["update-grub", "grubby"], entries=el_entries())
    code, r = run(dict(root=debian, **params), capsys)
    assert code == 1
    assert needle in r["msg"]
    assert system.calls == []


def test_bad_method_choice(debian, fake, capsys):
    fake(bins=[])
    code, r = run({"root": debian, "method": "lilo"}, capsys)
    assert code == 1 and "method" in r["msg"] and "grub_d" in r["msg"]
