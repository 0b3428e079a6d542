# -*- coding: utf-8 -*-
"""playbooks/kernel_update.yml in check-only mode, run with ansible-playbook on localhost (-c local) against
synthetic /lib/modules trees (kernel_update_root), with the guard record given as kernel_update_guard.

The install/rollback path needs dnf or apt and a kernel repository; it is not run here (see docs/kernel_update.md).
Its Jinja (package names, the versionlock entries kept for the rollback) is checked with ansible's Templar.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from ansible.template import trust_as_template

from render_helpers import REPO, evaluate, load_yaml, tasks_by_name, trusted_vars

from test_kernel_guard import EL_NEW, EL_OLD, NVIDIA, make_kernel

PLAYBOOK = REPO / "playbooks" / "kernel_update.yml"
GUARD_EL = {"modules": NVIDIA, "kernel_packages": ["kernel", "kernel-core", "kernel-modules", "kernel-modules-core",
                                                   "kernel-devel"],
            "hold_method": "versionlock", "module_packages": ["nvidia-driver", "kmod-nvidia-open-dkms"], "dkms": True}
# what the gpu role records on Debian: the metapackages and the running kernel's image
GUARD_DEB = dict(GUARD_EL, kernel_packages=["linux-image-amd64", "linux-headers-amd64", "linux-image-6.1.0-27-amd64"],
                 hold_method="apt-mark", module_packages=["nvidia-kernel-dkms"])
NV_FILES = ["extra/nvidia.ko.xz", "extra/nvidia-uvm.ko.xz", "extra/nvidia-modeset.ko.xz"]


def _ansible_playbook():
    exe = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return exe if os.path.exists(exe) else shutil.which("ansible-playbook")


def run_playbook(tmp_path, extra_vars, *args):
    exe = _ansible_playbook()
    if not exe:
        pytest.skip("ansible-playbook not found")
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text(textwrap.dedent(f"""\
        [defaults]
        collections_path = {REPO / '.collections'}
        host_key_checking = False
        interpreter_python = auto_silent
        retry_files_enabled = False
        fact_caching = memory
        """))
    (tmp_path / "extra.json").write_text(json.dumps(extra_vars))
    env = dict(os.environ, ANSIBLE_CONFIG=str(cfg), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(
        [exe, "-i", "localhost,", "-c", "local", str(PLAYBOOK), "-e", f"@{tmp_path / 'extra.json'}",
         "-e", f"ansible_python_interpreter={sys.executable}", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def recap(output):
    match = re.search(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert match, output[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


def check_only(root, **extra):
    return dict({"kernel_update_check_only": True, "kernel_update_root": str(root), "kernel_update_guard": GUARD_EL},
                **extra)


def test_missing_module_for_the_new_kernel_is_refused(tmp_path):
    root = tmp_path / "root"
    make_kernel(root, EL_OLD, files=NV_FILES, dep="auto")
    make_kernel(root, EL_NEW, files=["extra/nvidia-uvm.ko.xz", "extra/nvidia-modeset.ko.xz"], dep="auto")
    rc, out = run_playbook(tmp_path, check_only(root, kernel_update_version=EL_NEW,
                                                kernel_update_dkms_status="nvidia/550.54.15: added\n"))
    assert rc != 0, out[-3000:]
    flat = " ".join(out.split())
    assert "kernel_update: refusing kernel %s on localhost: guarded module(s) nvidia missing." % EL_NEW in flat
    assert ("nvidia is not built for %s (dkms status: nvidia/550.54.15 added, not built); run `dkms autoinstall -k %s`"
            % (EL_NEW, EL_NEW)) in flat
    result = recap(out)
    assert result["failed"] == 1 and result["changed"] == 0


def test_all_modules_present_passes(tmp_path):
    root = tmp_path / "root"
    make_kernel(root, EL_NEW, files=NV_FILES, dep="auto")
    rc, out = run_playbook(tmp_path, check_only(root, kernel_update_version=EL_NEW))
    assert rc == 0, out[-3000:]
    assert "kernel %s on localhost: every guarded module is there" % EL_NEW in " ".join(out.split())
    assert "refus" not in out
    result = recap(out)
    assert result["failed"] == 0 and result["changed"] == 0


def test_without_version_checks_the_newest_installed_kernel(tmp_path):
    root = tmp_path / "root"
    make_kernel(root, EL_OLD, files=NV_FILES, dep="auto")
    make_kernel(root, EL_NEW, dep="auto")
    rc, out = run_playbook(tmp_path, check_only(root))
    assert rc != 0 and "refusing kernel %s" % EL_NEW in out
    assert "nvidia, nvidia_uvm, nvidia_modeset missing" in " ".join(out.split())


def test_kernel_not_installed_is_refused(tmp_path):
    root = tmp_path / "root"
    make_kernel(root, EL_OLD, files=NV_FILES, dep="auto")
    rc, out = run_playbook(tmp_path, check_only(root, kernel_update_version=EL_NEW))
    assert rc != 0 and "kernel %s is not installed" % EL_NEW in " ".join(out.split())


def test_check_mode_runs_the_check_too(tmp_path):
    root = tmp_path / "root"
    make_kernel(root, EL_NEW, files=NV_FILES[:1], dep="auto")
    rc, out = run_playbook(tmp_path, check_only(root, kernel_update_version=EL_NEW), "--check")
    assert rc != 0 and "refusing kernel %s" % EL_NEW in out


@pytest.mark.parametrize("extra,needle", [
    ({"kernel_update_guard": {"modules": [], "kernel_packages": ["kernel"], "hold_method": "versionlock",
                              "module_packages": [], "dkms": True}}, "the guard record of localhost"),
    ({"kernel_update_guard": {"modules": ["nvidia"], "kernel_packages": ["kernel"], "hold_method": "yum-lock",
                              "module_packages": [], "dkms": True}}, "hold_method (versionlock or apt-mark)"),
    ({"kernel_update_guard": "nvidia"}, "must be a JSON object"),
    ({"kernel_update_root": "relative/root"}, "kernel_update_root is an absolute path"),
    ({"kernel_update_check_only": False}, "only allowed with kernel_update_check_only=true"),
    ({"kernel_update_batch": "0"}, "kernel_update_batch is a number of hosts"),
    ({"kernel_update_version": "5.14.0 503"}, "kernel_update_version is a kernel release"),
])
def test_bad_settings_fail_before_anything(tmp_path, extra, needle):
    root = tmp_path / "root"
    make_kernel(root, EL_NEW, files=NV_FILES, dep="auto")
    rc, out = run_playbook(tmp_path, dict(check_only(root), **extra))
    assert rc != 0 and needle in " ".join(out.split()), out[-3000:]
    assert recap(out)["changed"] == 0


@pytest.mark.skipif(os.path.exists("/etc/ansible/facts.d/hpcai_kernel_guard.fact"),
                    reason="this machine has a real guard record")
def test_no_guard_record_means_nothing_to_check(tmp_path):
    rc, out = run_playbook(tmp_path, {"kernel_update_check_only": True, "kernel_update_root": str(tmp_path)})
    assert rc == 0, out[-3000:]
    assert "has no guard record" in out and "Nothing to check." in " ".join(out.split())


def _debian_candidate():
    if not os.path.exists("/etc/debian_version") or not shutil.which("apt-cache"):
        return None
    out = subprocess.run(["apt-cache", "policy", "linux-image-amd64"], capture_output=True, text=True,
                         env=dict(os.environ, LC_ALL="C"), check=False).stdout
    match = re.search(r"Candidate:\s*(\S+)", out)
    return match.group(1) if match and match.group(1) != "(none)" else None


@pytest.mark.skipif(_debian_candidate() is None, reason="needs a Debian host whose apt cache has linux-image-amd64")
def test_debian_check_mode_reads_the_real_apt_cache_and_changes_nothing(tmp_path):
    """The guarded path up to the plan, on this Debian host, in --check: apt-cache policy/show, the module on /."""
    rc, out = run_playbook(tmp_path, {"kernel_update_guard": GUARD_DEB}, "--check")
    assert rc == 0, out[-3000:]
    flat = " ".join(out.split())
    assert "would install kernel 6." in flat or "nothing to do" in flat, out[-3000:]
    if "would install kernel" in flat:
        kver = re.search(r"would install kernel (\S+)", flat).group(1)
        assert "install linux-image-%s, linux-headers-%s" % (kver, kver) in flat
        assert "dkms autoinstall -k %s" % kver in flat
    assert recap(out)["changed"] == 0


# ---------------------------------------------------------------- the Jinja of the install path
def _play():
    return load_yaml(PLAYBOOK)[0]


def _tasks():
    """{task name: task} of the play, blocks flattened."""
    return tasks_by_name(_play()["tasks"])


def test_play_keywords():
    play = _play()
    assert play["serial"] == "{{ kernel_update_batch | default(1) }}"
    assert play["max_fail_percentage"] == 0 and play["any_errors_fatal"] is False


def _task_vars(task, **variables):
    """The task's own vars, trusted as templates (as ansible-playbook would treat them), plus ``variables``."""
    return trusted_vars(task.get("vars"), **variables)


LOCKLIST = ["kernel-0:5.14.0-427.13.1.el9_4.*", "kernel-core-0:5.14.0-427.13.1.el9_4.*",
            "kernel-core-0:5.14.0-503.el9.*", "nvidia-driver-3:550.54.15-1.el9.*", "!kernel-core-0:5.14.0-611.el9.*"]


def test_versionlock_entries_for_the_new_kernel():
    tasks = _tasks()
    task = tasks["Work out the new kernel and the packages that go with it"]
    variables = _task_vars(task, __kernel_update_el=True, __kernel_update_version="", __kernel_update_guard=GUARD_EL,
                           __kernel_update_repoquery={"stdout_lines": ["0:5.14.0-503.el9.x86_64"]},
                           __kernel_update_locklist={"stdout_lines": LOCKLIST},
                           ansible_facts={"architecture": "x86_64"})
    assert evaluate(task["ansible.builtin.set_fact"]["__kernel_update_new"], variables) == EL_NEW
    # kernel-core-0:5.14.0-503.el9.* is there already: not added, so a rollback does not delete it
    assert evaluate(task["ansible.builtin.set_fact"]["__kernel_update_new_locks"], variables) == [
        "kernel-0:5.14.0-503.el9.*", "kernel-modules-0:5.14.0-503.el9.*", "kernel-modules-core-0:5.14.0-503.el9.*",
        "kernel-devel-0:5.14.0-503.el9.*"]
    given = dict(variables, __kernel_update_version="5.14.0-611.el9.x86_64",
                 __kernel_update_repoquery={"stdout_lines": ["2:5.14.0-611.el9.x86_64"]})
    assert evaluate(task["ansible.builtin.set_fact"]["__kernel_update_new_locks"], given)[0] == "kernel-2:5.14.0-611.el9.*"


def test_install_and_rollback_package_names():
    tasks = _tasks()
    expr = tasks["Install the new kernel, build and check the guarded modules, or roll back"]["vars"][
        "__kernel_update_pkgs"]
    el = evaluate(expr, {"__kernel_update_el": True, "__kernel_update_guard": GUARD_EL, "__kernel_update_new": EL_NEW})
    assert el == ["%s-%s" % (p, EL_NEW) for p in GUARD_EL["kernel_packages"]]
    deb = evaluate(expr, {"__kernel_update_el": False, "__kernel_update_guard": GUARD_DEB,
                          "__kernel_update_new": "6.1.0-28-amd64"})
    assert deb == ["linux-image-6.1.0-28-amd64", "linux-headers-6.1.0-28-amd64"]


def test_debian_candidate_from_apt_cache():
    tasks = _tasks()
    task = tasks["Work out the new kernel and the packages that go with it"]
    policy = textwrap.dedent("""\
        linux-image-amd64:
          Installed: 6.1.115-1
          Candidate: 6.1.119-1
          Version table:
             6.1.119-1 500
                500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
         *** 6.1.115-1 100
                100 /var/lib/dpkg/status
        linux-headers-amd64:
          Installed: (none)
          Candidate: 6.1.119-1
          Version table:
        linux-image-6.1.0-27-amd64:
          Installed: 6.1.115-1
          Candidate: 6.1.115-1
          Version table:
        """)
    show = ("Package: linux-image-amd64\nSource: linux-signed-amd64 (6.1.119+1)\nVersion: 6.1.119-1\n"
            "Depends: linux-image-6.1.0-28-amd64 (= 6.1.119-1)\nDescription: Linux for 64-bit PCs (meta-package)\n")
    variables = _task_vars(task, __kernel_update_el=False, __kernel_update_version="",
                           __kernel_update_policy={"stdout": policy}, __kernel_update_meta_show={"stdout": show})
    assert evaluate(task["vars"]["__kernel_update_found"], variables) == "6.1.0-28-amd64"
    # only installed metapackages move; the versioned image the gpu role holds too is not a metapackage
    assert evaluate(task["vars"]["__kernel_update_metas"], variables) == {"linux-image-amd64": "6.1.119-1"}
    held = evaluate(task["ansible.builtin.set_fact"]["__kernel_update_deb_held"],
                    dict(variables, __kernel_update_guard=GUARD_DEB))
    assert held == ["linux-image-amd64", "linux-image-6.1.0-27-amd64"]  # headers are not installed: dpkg cannot hold them
    el = _task_vars(task, __kernel_update_el=True,
                    __kernel_update_repoquery={"stdout_lines": ["Last metadata expiration check", "0:5.14.0-503.el9.x86_64"]})
    assert evaluate(task["vars"]["__kernel_update_found"], el) == "5.14.0-503.el9.x86_64"


def test_metapackages_move_to_their_candidates():
    task = _tasks()["Move the held kernel metapackages to the candidate that depends on the new kernel (apt)"]
    got = evaluate(task["ansible.builtin.apt"]["name"], {"__kernel_update_meta_candidates": {
        "linux-image-amd64": "6.1.119-1", "linux-headers-amd64": "6.1.119-1"}})
    assert got == ["linux-image-amd64=6.1.119-1", "linux-headers-amd64=6.1.119-1"]
    assert task["ansible.builtin.apt"]["allow_change_held_packages"] is True


def test_guard_records_of_several_roles_are_merged():
    """gpu (hpcai_kernel_guard) and shared_fs (hpcai_kernel_guard_shared_fs) records are one guard."""
    def trust(value):
        if isinstance(value, str):
            return trust_as_template(value)
        if isinstance(value, dict):
            return {k: trust(v) for k, v in value.items()}
        return value

    play = load_yaml(PLAYBOOK)
    pvars = trust(next(p for p in play if "tasks" in p)["vars"])
    gpu = {"modules": ["nvidia", "nvidia_uvm"], "kernel_packages": ["kernel", "kernel-core"], "hold_method": "versionlock",
           "module_packages": [], "dkms": True}
    sfs = {"modules": ["lustre", "lnet"], "kernel_packages": ["kernel", "kernel-devel"], "hold_method": "versionlock",
           "module_packages": ["kmod-lustre-client"], "dkms": False}
    variables = dict(pvars, ansible_local={"hpcai_kernel_guard": gpu, "hpcai_kernel_guard_shared_fs": sfs,
                                           "hpcai_kernel_tuning": {"sysctls": {}}})
    merged = evaluate("{{ __kernel_update_guard }}", variables)
    assert merged == {"modules": ["nvidia", "nvidia_uvm", "lustre", "lnet"],
                      "kernel_packages": ["kernel", "kernel-core", "kernel-devel"], "hold_method": "versionlock",
                      "module_packages": ["kmod-lustre-client"], "dkms": True}
    assert evaluate("{{ __kernel_update_guard }}", dict(pvars, ansible_local={"hpcai_kernel_tuning": {}})) is None
