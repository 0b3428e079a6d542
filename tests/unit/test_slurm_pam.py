"""slurm role, pam_slurm_adopt (tasks/pam_adopt.yml and its templates).

* Rendering (render helpers, Debian 12 / Rocky 9 / Rocky 10 variables): the
  pam_access file (root first, admin groups, "-:ALL:ALL" last) and the PAM
  service file rewrite (the pam_access + pam_slurm_adopt pair last in the
  account stack, EL's "account include password-auth" made a substack,
  idempotent) on the distributions' own /etc/pam.d/sshd.
* The validators the task file runs before writing (awk, with every awk here).
* The task file itself through ansible-playbook on localhost, with every path
  in a temporary directory (__slurm_pam_dir & co.) and stand-ins for sshd,
  systemctl, pam-auth-update and authselect on PATH: Debian (pam-auth-update),
  EL with authselect (custom profile), EL without it; a second run changes
  nothing, --check after it reports nothing; bad input fails with messages
  naming the variable, before anything is written.
"""
from __future__ import annotations

import inspect
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

from render_helpers import REPO, ROLES_DIR, evaluate, load_yaml, render, role_variables

ROLE = ROLES_DIR / "slurm"
TASKS = ROLE / "tasks" / "pam_adopt.yml"
SERVICE_TPL = ROLE / "templates" / "pam_slurm_adopt-service.j2"
ACCESS_TPL = ROLE / "templates" / "pam_slurm_adopt-access.conf.j2"
SSHD_TPL = ROLE / "templates" / "pam_slurm_adopt-sshd.conf.j2"
OSES = ["debian12", "rocky9", "rocky10"]

# ---------------------------------------------------------------- the distributions' files
# /etc/pam.d/sshd of openssh-server 1:9.2p1-2+deb12u10 (Debian 12).
DEBIAN12_SSHD = """\
# PAM configuration for the Secure Shell service

# Standard Un*x authentication.
@include common-auth

# Disallow non-root logins when /etc/nologin exists.
account    required     pam_nologin.so

# Uncomment and edit /etc/security/access.conf if you need to set complex
# access limits that are hard to express in sshd_config.
# account  required     pam_access.so

# Standard Un*x authorization.
@include common-account

# SELinux needs to be the first session rule.  This ensures that any
# lingering context has been cleared.  Without this it is possible that a
# module could execute code in the wrong domain.
session [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so close

# Set the loginuid process attribute.
session    required     pam_loginuid.so

# Create a new session keyring.
session    optional     pam_keyinit.so force revoke

# Standard Un*x session setup and teardown.
@include common-session

# Print the message of the day upon successful login.
# This includes a dynamically generated part from /run/motd.dynamic
# and a static (admin-editable) part from /etc/motd.
session    optional     pam_motd.so  motd=/run/motd.dynamic
session    optional     pam_motd.so noupdate

# Print the status of the user's mailbox upon successful login.
session    optional     pam_mail.so standard noenv # [1]

# Set up user limits from /etc/security/limits.conf.
session    required     pam_limits.so

# Read environment variables from /etc/environment and
# /etc/security/pam_env.conf.
session    required     pam_env.so # [1]
# In Debian 4.0 (etch), locale-related environment variables were moved to
# /etc/default/locale, so read that as well.
session    required     pam_env.so user_readenv=1 envfile=/etc/default/locale

# SELinux needs to intervene at login time to ensure that the process starts
# in the proper default security context.  Only sessions which are intended
# to run in the user's context should be run after this.
session [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so open

# Standard Un*x password updating.
@include common-password
"""

# /etc/pam.d/common-session as pam-auth-update writes it on Debian 12 (libpam-systemd installed).
DEBIAN12_COMMON_SESSION = """\
#
# /etc/pam.d/common-session - session-related modules common to all services
#
# here are the per-package modules (the "Primary" block)
session\t[default=1]\t\t\tpam_permit.so
# here's the fallback if no module succeeds
session\trequisite\t\t\tpam_deny.so
# prime the stack with a positive return value if there isn't one already;
session\trequired\t\t\tpam_permit.so
# and here are more per-package modules (the "Additional" block)
session\trequired\tpam_unix.so
session\toptional\tpam_systemd.so
# end of pam-auth-update config
"""

DEBIAN12_COMMON_ACCOUNT = """\
# here are the per-package modules (the "Primary" block)
account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so
# here's the fallback if no module succeeds
account\trequisite\t\t\tpam_deny.so
account\trequired\t\t\tpam_permit.so
# and here are more per-package modules (the "Additional" block)
# end of pam-auth-update config
"""

# /etc/pam.d/sshd of openssh-server on Rocky 9.
ROCKY9_SSHD = """\
#%PAM-1.0
auth       substack     password-auth
auth       include      postlogin
account    required     pam_sepermit.so
account    required     pam_nologin.so
account    include      password-auth
password   include      password-auth
# pam_selinux.so close should be the first session rule
session    required     pam_selinux.so close
session    required     pam_loginuid.so
# pam_selinux.so open should only be followed by sessions to be executed in the user context
session    required     pam_selinux.so open env_params
session    required     pam_namespace.so
session    optional     pam_keyinit.so force revoke
session    optional     pam_motd.so
session    include      password-auth
session    include      postlogin
"""

# Rocky 10 ships the same stack (no trailing newline here, to test that too).
ROCKY10_SSHD = ROCKY9_SSHD.rstrip("\n")

SSHD_SAMPLES = {"debian12": DEBIAN12_SSHD, "rocky9": ROCKY9_SSHD, "rocky10": ROCKY10_SSHD}

# authselect's sssd profile templates (password-auth, system-auth), shortened to
# the lines that matter here, with authselect's {include if} markup.
AUTHSELECT_SSSD_PASSWORD_AUTH = """\
auth        required                                     pam_env.so
auth        sufficient                                   pam_unix.so {if not "without-nullok":nullok}
auth        required                                     pam_deny.so

account     required                                     pam_access.so                                          {include if "with-pamaccess"}
account     required                                     pam_unix.so
account     sufficient                                   pam_localuser.so                                       {exclude if "with-files-access-provider"}
account     sufficient                                   pam_usertype.so issystem
account     [default=bad success=ok user_unknown=ignore] pam_sss.so
account     required                                     pam_permit.so

password    sufficient                                   pam_unix.so yescrypt shadow use_authtok
password    required                                     pam_deny.so

session     optional                                     pam_keyinit.so revoke
session     required                                     pam_limits.so
-session    optional                                     pam_systemd.so
session     optional                                     pam_oddjob_mkhomedir.so                                {include if "with-mkhomedir"}
session     [success=1 default=ignore]                   pam_succeed_if.so service in crond quiet use_uid
session     required                                     pam_unix.so
session     optional                                     pam_sss.so
"""
AUTHSELECT_SSSD_SYSTEM_AUTH = AUTHSELECT_SSSD_PASSWORD_AUTH


def _generated(template: str, features: list[str]) -> str:
    """What `authselect select` makes of a template (only the markup used above)."""
    out = ["# Generated by authselect"]
    for line in template.splitlines():
        inc = re.search(r'\{include if "([^"]+)"\}', line)
        exc = re.search(r'\{exclude if "([^"]+)"\}', line)
        if inc and inc.group(1) not in features:
            continue
        if exc and exc.group(1) in features:
            continue
        line = re.sub(r'\s*\{(include|exclude) if "[^"]+"\}', "", line)
        line = re.sub(r'\{if not "[^"]+":([^}]*)\}', r"\1", line)
        out.append(line.rstrip())
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- helpers
def _vars(os_key: str, host: str = "node1", **overrides) -> dict:
    over = {"slurm_compute_group": "compute", "slurm_pam_adopt": True}
    over.update(overrides)
    fixtures = {k: over.pop(k) for k in list(over) if k.startswith("__slurm_pam_service")}
    return role_variables("slurm", os_key, host, over, fixtures)


def _render_service(os_key: str, text: str, service: str = "sshd", **overrides) -> str:
    v = _vars(os_key, __slurm_pam_service=service, __slurm_pam_service_text=text, **overrides)
    return render(SERVICE_TPL, v)


def _entries(text: str, kind: str = "account") -> list[str]:
    """Active entries of one PAM type, with Debian's @include common-<type>."""
    out = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        words = s.split()
        if words[0].lstrip("-") == kind or (words[0] == "@include" and kind in words[1]):
            out.append(re.sub(r"\s+", " ", s))
    return out


def _walk(tasks):
    for task in tasks or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from _walk(task.get(key))


def _task(name: str) -> dict:
    for task in _walk(load_yaml(TASKS)):
        if task.get("name") == name:
            return task
    raise KeyError(name)


def _validate_cmd(task_name: str, module: str, os_key: str, path: str) -> list[str]:
    """The task's validate command, templated with the role's variables, %s -> path."""
    raw = _task(task_name)[module]["validate"]
    cmd = evaluate(raw, _vars(os_key)) if "{{" in raw else raw
    return [path if part == "%s" else part for part in shlex.split(cmd)]


def _awks() -> list[str]:
    return [a for a in ("mawk", "gawk", "busybox") if shutil.which(a)] or pytest.skip("no awk here")


def _run_awk(awk: str, cmd: list[str]) -> int:
    assert cmd[0] == "awk"
    argv = ([awk, "awk"] if awk == "busybox" else [awk]) + cmd[1:]
    return subprocess.run(argv, capture_output=True, text=True, check=False).returncode


# ---------------------------------------------------------------- rendering: pam_access file
@pytest.mark.parametrize("os_key,group", [("debian12", "sudo"), ("rocky9", "wheel"), ("rocky10", "wheel")])
def test_access_file_root_first_os_admin_group_then_deny(os_key, group):
    text = render(ACCESS_TPL, _vars(os_key))
    rules = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert rules == ["+:root:ALL", f"+:({group}):ALL", "-:ALL:ALL"]
    assert text.startswith("#") and "Ansible managed" in text


def test_access_file_listed_groups_and_root_only():
    text = render(ACCESS_TPL, _vars("rocky9", slurm_pam_adopt_admin_groups=["hpcadmin", "ops"]))
    assert [ln for ln in text.splitlines() if ln[:1] in "+-"] == [
        "+:root:ALL", "+:(hpcadmin):ALL", "+:(ops):ALL", "-:ALL:ALL"]
    text = render(ACCESS_TPL, _vars("debian12", slurm_pam_adopt_admin_groups=[]))
    assert [ln for ln in text.splitlines() if ln[:1] in "+-"] == ["+:root:ALL", "-:ALL:ALL"]


@pytest.mark.parametrize("os_key", OSES)
def test_sshd_dropin_sets_usepam(os_key):
    text = render(SSHD_TPL, _vars(os_key))
    assert [ln for ln in text.splitlines() if ln and not ln.startswith("#")] == ["UsePAM yes"]


# ---------------------------------------------------------------- rendering: the service file
@pytest.mark.parametrize("os_key", OSES)
def test_pair_is_last_in_the_account_stack(os_key):
    original = SSHD_SAMPLES[os_key]
    text = _render_service(os_key, original)
    account = _entries(text)
    assert account[-2:] == [
        "account sufficient pam_access.so accessfile=/etc/security/access-slurm-adopt.conf",
        "account required pam_slurm_adopt.so action_no_jobs=deny action_unknown=newest "
        "action_adopt_failure=deny action_generic_failure=deny",
    ]
    # Everything else is kept, in order; only EL's account include becomes a substack.
    before = original.splitlines()
    after = text.splitlines()[: len(before)]
    if os_key == "debian12":
        assert after == before and "@include common-account" in account
    else:
        assert [a.replace("account    substack     password-auth", "account    include      password-auth")
                for a in after] == before
        assert "account substack password-auth" in account and "account include password-auth" not in account
        # the other types keep their include (auth already is a substack)
        assert "session include password-auth" in _entries(text, "session")
    assert text.endswith("# END hpcai.cluster.slurm pam_slurm_adopt\n")
    assert text.count("# BEGIN hpcai.cluster.slurm pam_slurm_adopt") == 1


@pytest.mark.parametrize("os_key", OSES)
def test_rewrite_is_idempotent(os_key):
    once = _render_service(os_key, SSHD_SAMPLES[os_key])
    assert _render_service(os_key, once) == once
    # Options change in place, nothing piles up.
    other = _render_service(os_key, once, slurm_pam_adopt_action_no_jobs="ignore")
    assert other.count("pam_slurm_adopt.so") == 1 and "action_no_jobs=ignore" in other
    assert len(other.splitlines()) == len(once.splitlines())


def test_block_moves_back_to_the_end_and_foreign_adopt_lines_are_commented():
    once = _render_service("rocky9", ROCKY9_SSHD)
    # A package update appends a rule after our block; an admin added their own adopt line.
    edited = once.replace("account    required     pam_nologin.so",
                          "account    required     pam_nologin.so\n-account   required     pam_slurm_adopt.so")
    edited += "account    required     pam_time.so\n"
    text = _render_service("rocky9", edited)
    account = _entries(text)
    assert account[-1].startswith("account required pam_slurm_adopt.so")
    assert account[-2].startswith("account sufficient pam_access.so")
    assert "account required pam_time.so" in account[:-2]
    assert "#hpcai.cluster.slurm# -account   required     pam_slurm_adopt.so" in text
    assert sum("pam_slurm_adopt.so" in a for a in account) == 1
    assert _render_service("rocky9", text) == text


def test_other_services_get_service_option():
    text = _render_service("rocky9", "account    include      system-auth\n", service="login")
    assert _entries(text)[0] == "account substack system-auth"
    assert _entries(text)[-1].endswith("action_generic_failure=deny service=login")
    text = _render_service("debian12", "@include common-account\n", service="login")
    assert _entries(text)[0] == "@include common-account" and "service=login" in text


# ---------------------------------------------------------------- the validators
PAIR = ("account sufficient pam_access.so accessfile=/etc/security/access-slurm-adopt.conf\n"
        "account required pam_slurm_adopt.so action_no_jobs=deny\n")


@pytest.mark.parametrize("awk", _awks() if shutil.which("awk") else [])
def test_service_validator(awk, tmp_path):
    def ok(text):
        path = tmp_path / "sshd"
        path.write_text(text)
        cmd = _validate_cmd("Put pam_access + pam_slurm_adopt last in the account stack (one validated write per file)",
                            "ansible.builtin.template", "rocky9", str(path))
        return _run_awk(awk, cmd) == 0

    for os_key in OSES:
        assert ok(_render_service(os_key, SSHD_SAMPLES[os_key])), os_key
    assert not ok(ROCKY9_SSHD)                                           # no pair
    assert not ok(ROCKY9_SSHD + PAIR + "account required pam_time.so\n")  # something after it
    assert not ok(ROCKY9_SSHD + PAIR.splitlines(True)[1] + PAIR.splitlines(True)[0])  # wrong order
    assert not ok(ROCKY9_SSHD + PAIR.replace("access-slurm-adopt.conf", "access.conf"))  # another access file
    assert not ok("account required pam_slurm_adopt.so\n" + ROCKY9_SSHD + PAIR)  # a second adopt rule
    assert ok(ROCKY9_SSHD + PAIR + "session optional pam_motd.so\n")     # other types may follow
    assert ok(DEBIAN12_SSHD.replace("@include common-password\n", "") + PAIR)


@pytest.mark.parametrize("awk", _awks() if shutil.which("awk") else [])
def test_access_validator(awk, tmp_path):
    def ok(text):
        path = tmp_path / "access.conf"
        path.write_text(text)
        cmd = _validate_cmd("Write the pam_access rules (root, the admin groups, then everyone else to pam_slurm_adopt)",
                            "ansible.builtin.template", "rocky9", str(path))
        return _run_awk(awk, cmd) == 0

    for os_key in OSES:
        assert ok(render(ACCESS_TPL, _vars(os_key)))
    assert ok(render(ACCESS_TPL, _vars("rocky9", slurm_pam_adopt_admin_groups=[])))
    assert not ok("+:(wheel):ALL\n+:root:ALL\n-:ALL:ALL\n")   # root not first
    assert not ok("+:root:ALL\n+:(wheel):ALL\n")               # everyone else would get in
    assert not ok("+:root:ALL\n+:wheel\n-:ALL:ALL\n")          # malformed rule


# ---------------------------------------------------------------- the task file via ansible-playbook
# Stand-ins on PATH. Each case's files live under $HPCAI_FAKE_ROOT (set per case):
# state/ (calls log, switches), pam.d/, authselect/{custom,vendor}/.
FAKE_SSHD = """#!/bin/sh
# sshd: -t checks nothing, -T reports UsePAM from state/usepam.
S="${HPCAI_FAKE_ROOT:-/nonexistent}/state"
echo "sshd $*" >> "$S/calls" 2>/dev/null
case "$1" in
  -T) echo "port 22"; echo "usepam $(cat "$S/usepam" 2>/dev/null || echo yes)";;
esac
exit 0
"""
FAKE_SYSTEMCTL = """#!/bin/sh
echo "systemctl $*" >> "${HPCAI_FAKE_ROOT:-/nonexistent}/state/calls" 2>/dev/null
if [ "$1" = show ]; then
  printf 'Id=%s.service\\nLoadState=loaded\\nActiveState=active\\nSubState=running\\nUnitFileState=enabled\\n' "$2"
fi
exit 0
"""
FAKE_PAM_AUTH_UPDATE = """#!/bin/sh
# pam-auth-update --disable systemd: drops pam_systemd from common-session, unless
# state/local-mods says the file was edited by hand (then it says so and does nothing).
R="$HPCAI_FAKE_ROOT"
echo "pam-auth-update $*" >> "$R/state/calls"
if [ -e "$R/state/local-mods" ]; then
  echo "pam-auth-update: Local modifications to /etc/pam.d/common-*, not updating." >&2
  exit 0
fi
[ "$1 $2" = "--disable systemd" ] && sed -i '/pam_systemd/d' "$R/pam.d/common-session"
exit 0
"""
FAKE_AUTHSELECT = """#!{python}
# authselect: current / create-profile / select / apply-changes on the files under $HPCAI_FAKE_ROOT.
import os, re, shutil, sys
{generated}
root = os.environ["HPCAI_FAKE_ROOT"]
state, pamd = os.path.join(root, "state"), os.path.join(root, "pam.d")
custom, vendor = os.path.join(root, "authselect", "custom"), os.path.join(root, "authselect", "vendor")
with open(os.path.join(state, "calls"), "a") as fh:
    fh.write("authselect " + " ".join(sys.argv[1:]) + "\\n")
cur = os.path.join(state, "authselect-current")
def generate(profile, features):
    src = os.path.join(custom, profile[len("custom/"):]) if profile.startswith("custom/") else os.path.join(vendor, profile)
    for name in ("password-auth", "system-auth"):
        with open(os.path.join(src, name)) as fh:
            text = _generated(fh.read(), features)
        with open(os.path.join(pamd, name), "w") as fh:
            fh.write(text)
cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "current":
    if not os.path.exists(cur):
        print("No existing configuration detected.")
        sys.exit(2)
    print(open(cur).read().strip())
elif cmd == "create-profile":
    base = [a.split("=", 1)[1] for a in args if a.startswith("--base-on=")][0]
    shutil.copytree(os.path.join(vendor, base), os.path.join(custom, args[0]))
elif cmd == "select":
    if os.path.exists(os.path.join(state, "authselect-modified")):
        print("Some unexpected changes to the configuration were detected.", file=sys.stderr)
        sys.exit(4)
    generate(args[0], args[1:])
    open(cur, "w").write(" ".join(args) + "\\n")
elif cmd == "apply-changes":
    words = open(cur).read().split()
    generate(words[0], words[1:])
else:
    sys.exit(1)
"""

PLAY = """\
- name: pam_adopt.yml on localhost
  hosts: localhost
  gather_facts: true
  gather_subset: [min]
  environment:
    HPCAI_FAKE_ROOT: "{{ fake_root }}"
  vars:
    results: {}
  tasks:
    - name: Run the cases
      ansible.builtin.include_tasks: "{{ case_file }}"
      loop: "{{ cases }}"
      loop_control:
        loop_var: case_file
    - name: Write the results
      ansible.builtin.copy:
        content: "{{ results | to_json }}"
        dest: "{{ results_file }}"
        mode: "0644"
      changed_when: false
      check_mode: false
"""


def _case_tasks(name: str, root: str, variables: dict) -> str:
    """One case: pam_adopt.yml with `variables` (include_role needs them literal)."""
    case_vars = json.dumps(variables)
    return textwrap.dedent(f"""\
        - name: "Case {name}"
          environment:
            HPCAI_FAKE_ROOT: {json.dumps(root)}
          block:
            - name: Run pam_adopt.yml
              ansible.builtin.include_role:
                name: hpcai.cluster.slurm
                tasks_from: pam_adopt.yml
              vars: {case_vars}
            - name: Record success
              ansible.builtin.set_fact:
                results: "{{{{ results | combine({{'{name}': {{'failed': false, 'msg': ''}}}}) }}}}"
          rescue:
            - name: Record failure
              ansible.builtin.set_fact:
                results: "{{{{ results | combine({{'{name}': {{'failed': true, 'msg': __msg}}}}) }}}}"
              vars:
                # loops report per-item messages under results[]
                __msg: "{{{{ ([ansible_failed_result.msg | default('')]
                          + (ansible_failed_result.results | default([]) | selectattr('failed', 'defined')
                             | selectattr('failed') | map(attribute='msg') | list)) | join(' | ') }}}}"
        """)


class Lab:
    """One case's root: pam.d, ssh, security, authselect, a module file, state."""

    def __init__(self, root, os_key: str):
        self.root = root
        self.os_key = os_key
        for sub in ("pam.d", "ssh/sshd_config.d", "security", "authselect/custom", "authselect/vendor/sssd",
                    "lib/security", "state"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self.pamd = root / "pam.d"
        self.state = root / "state"
        (root / "lib/security/pam_slurm_adopt.so").write_text("")
        (root / "ssh/sshd_config").write_text(f"Include {root / 'ssh/sshd_config.d'}/*.conf\nPermitRootLogin no\n")
        (self.state / "calls").write_text("")
        (self.pamd / "sshd").write_text(SSHD_SAMPLES[os_key])
        if os_key == "debian12":
            (self.pamd / "common-session").write_text(DEBIAN12_COMMON_SESSION)
            (self.pamd / "common-account").write_text(DEBIAN12_COMMON_ACCOUNT)
        else:
            (root / "authselect/vendor/sssd/password-auth").write_text(AUTHSELECT_SSSD_PASSWORD_AUTH)
            (root / "authselect/vendor/sssd/system-auth").write_text(AUTHSELECT_SSSD_SYSTEM_AUTH)

    def authselect(self, profile_line: str):
        """Make the host authselect-managed, as `authselect select` would."""
        words = profile_line.split()
        (self.state / "authselect-current").write_text(profile_line + "\n")
        for name, tpl in (("password-auth", AUTHSELECT_SSSD_PASSWORD_AUTH), ("system-auth", AUTHSELECT_SSSD_SYSTEM_AUTH)):
            (self.pamd / name).write_text(_generated(tpl, words[1:]))

    def plain_el(self):
        """EL without authselect: the stacks are plain files."""
        for name, tpl in (("password-auth", AUTHSELECT_SSSD_PASSWORD_AUTH), ("system-auth", AUTHSELECT_SSSD_SYSTEM_AUTH)):
            (self.pamd / name).write_text(_generated(tpl, []))

    def variables(self, **overrides) -> dict:
        """The per-OS __slurm_pam_* values of the role, with every path under this root."""
        os_file = {"debian12": "Debian.yml", "rocky9": "RedHat-9.yml", "rocky10": "RedHat-10.yml"}[self.os_key]
        out = {k: v for k, v in (load_yaml(ROLE / "vars" / os_file) or {}).items() if k.startswith("__slurm_pam_")}
        out.update(
            __slurm_pam_dir=str(self.pamd),
            __slurm_pam_access_file=str(self.root / "security/access-slurm-adopt.conf"),
            __slurm_pam_sshd_config=str(self.root / "ssh/sshd_config"),
            __slurm_pam_sshd_dropin_dir=str(self.root / "ssh/sshd_config.d"),
            __slurm_pam_authselect_dir=str(self.root / "authselect/custom"),
            __slurm_pam_module_dirs=[str(self.root / "nothing"), str(self.root / "lib/security")],
            __slurm_pam_packages={"distro": [], "openhpc": []},  # nothing to install here
            __slurm_in_container=False,
            slurm_pam_adopt=True,
            # groups every Debian machine has (wheel/sudo need not exist where the tests run)
            slurm_pam_adopt_admin_groups=None if self.os_key == "debian12" else ["adm"],
        )
        out.update(overrides)
        return out

    def calls(self) -> list[str]:
        return (self.state / "calls").read_text().splitlines()

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text()


def _fake_bin(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    for name, body in (("sshd", FAKE_SSHD), ("systemctl", FAKE_SYSTEMCTL), ("pam-auth-update", FAKE_PAM_AUTH_UPDATE),
                       ("authselect", FAKE_AUTHSELECT)):
        body = body.replace("{python}", sys.executable).replace("{generated}", inspect.getsource(_generated))
        path = bindir / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return bindir


def _play(tmp_path, cases: dict[str, tuple["Lab", dict]], check: bool = False) -> tuple[dict, int, str]:
    """Run the cases in one ansible-playbook; returns (results by case, changed count, output)."""
    exe = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    exe = exe if os.path.exists(exe) else shutil.which("ansible-playbook")
    if not exe:
        pytest.skip("ansible-playbook not found")
    work = tmp_path / "play"
    work.mkdir(exist_ok=True)
    (work / "ansible.cfg").write_text(textwrap.dedent(f"""\
        [defaults]
        collections_path = {REPO / '.collections'}
        roles_path = {ROLES_DIR}
        host_key_checking = False
        interpreter_python = auto_silent
        retry_files_enabled = False
        gathering = implicit
        fact_caching = memory
        """))
    (work / "play.yml").write_text(PLAY)
    files = []
    for name, (lab, variables) in cases.items():
        (work / f"case_{name}.yml").write_text(_case_tasks(name, str(lab.root), variables))
        files.append(str(work / f"case_{name}.yml"))
    results = work / "results.json"
    if results.exists():
        results.unlink()
    extra = {"cases": files, "results_file": str(results), "ansible_python_interpreter": sys.executable,
             "fake_root": str(next(iter(cases.values()))[0].root)}
    (work / "extra.json").write_text(json.dumps(extra))
    env = dict(os.environ, ANSIBLE_CONFIG=str(work / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{_fake_bin(tmp_path)}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    argv = [exe, "-i", "localhost,", "-c", "local", str(work / "play.yml"), "-e", f"@{work / 'extra.json'}", "--diff"]
    if check:
        argv.append("--check")
    proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=900, check=False)
    out = proc.stdout + proc.stderr
    assert results.is_file(), f"playbook did not finish:\n{out[-6000:]}"
    recap = re.search(r"localhost\s+:\s+ok=\d+\s+changed=(\d+)", out)
    assert recap, out[-3000:]
    return json.loads(results.read_text()), int(recap.group(1)), out


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the role writes files owned by root")


@pytest.fixture(scope="module")
def converged(tmp_path_factory):
    """Four hosts' worth of files converged together: run, run again, then --check.

    debian12: pam-auth-update; rocky9: authselect "sssd with-mkhomedir" (custom
    profile made and selected); rocky9_ours: already on our custom profile, whose
    session stack still has pam_systemd (edited, then apply-changes); rocky10:
    no authselect, plain files, and a second service (login -> system-auth too).
    """
    if os.geteuid() != 0:
        pytest.skip("the role writes files owned by root")
    tmp = tmp_path_factory.mktemp("pam_converge")
    debian = Lab(tmp / "debian12", "debian12")
    rocky9 = Lab(tmp / "rocky9", "rocky9")
    rocky9.authselect("sssd with-mkhomedir")
    ours = Lab(tmp / "rocky9_ours", "rocky9")
    shutil.copytree(ours.root / "authselect/vendor/sssd", ours.root / "authselect/custom/hpcai-slurm-adopt-sssd")
    (ours.state / "authselect-current").write_text("custom/hpcai-slurm-adopt-sssd\n")
    for name in ("password-auth", "system-auth"):
        (ours.pamd / name).write_text(_generated(AUTHSELECT_SSSD_PASSWORD_AUTH, []))
    rocky10 = Lab(tmp / "rocky10", "rocky10")
    rocky10.plain_el()
    (rocky10.pamd / "login").write_text("account    include      system-auth\nsession    include      system-auth\n")
    cases = {
        "debian12": (debian, debian.variables()),
        "rocky9": (rocky9, rocky9.variables()),
        "rocky9_ours": (ours, ours.variables()),
        "rocky10": (rocky10, rocky10.variables(slurm_pam_adopt_services=["sshd", "login"])),
    }
    runs = {}
    for label, check in (("first", False), ("second", False), ("check", True)):
        results, changed, out = _play(tmp, cases, check=check)
        failed = {k: v["msg"] for k, v in results.items() if v["failed"]}
        assert not failed, f"{label} run: {failed}\n{out[-4000:]}"
        runs[label] = (changed, out)
    return {name: lab for name, (lab, _v) in cases.items()}, runs


def test_playbook_converges_then_changes_nothing(converged):
    _labs, runs = converged
    assert runs["first"][0] > 0
    assert runs["second"][0] == 0, runs["second"][1][-4000:]
    assert runs["check"][0] == 0, runs["check"][1][-4000:]


def test_playbook_debian12(converged):
    lab = converged[0]["debian12"]
    sshd = lab.read("pam.d/sshd")
    assert _entries(sshd)[-1].startswith("account required pam_slurm_adopt.so")
    assert _entries(sshd)[-2] == f"account sufficient pam_access.so accessfile={lab.root}/security/access-slurm-adopt.conf"
    assert "@include common-account" in _entries(sshd)
    assert "pam_systemd" not in lab.read("pam.d/common-session")
    assert "+:(sudo):ALL" in lab.read("security/access-slurm-adopt.conf")  # Debian's admin group by default
    assert "UsePAM yes" in lab.read("ssh/sshd_config.d/05-hpcai-slurm-adopt.conf")
    calls = lab.calls()
    assert calls.count("pam-auth-update --disable systemd") == 1       # only the first run
    assert any(c.startswith("sshd -t -f ") for c in calls) and "sshd -T" in calls
    assert not any(c.startswith("authselect") for c in calls)
    # The drop-in changed once: one sshd reload (the handler), whichever case's log it went to.
    reloads = [c for name, lab_ in converged[0].items() for c in lab_.calls() if c.startswith("systemctl reload")]
    assert reloads and set(reloads) <= {"systemctl reload ssh", "systemctl reload sshd"}


def test_playbook_rocky9_with_authselect(converged):
    lab = converged[0]["rocky9"]
    sshd = lab.read("pam.d/sshd")
    assert "account substack password-auth" in _entries(sshd)
    assert _entries(sshd)[-1].startswith("account required pam_slurm_adopt.so")
    # password-auth (sshd's), generated from the custom profile, has no active pam_systemd; system-auth keeps it.
    assert not re.search(r"(?m)^\s*-?session\s+\S+\s+pam_systemd", lab.read("pam.d/password-auth"))
    assert re.search(r"(?m)^-session\s+optional\s+pam_systemd", lab.read("pam.d/system-auth"))
    assert (lab.state / "authselect-current").read_text().split() == ["custom/hpcai-slurm-adopt-sssd", "with-mkhomedir"]
    assert "pam_oddjob_mkhomedir.so" in lab.read("pam.d/password-auth")  # the features were kept
    assert [c.split()[1] for c in lab.calls() if c.startswith("authselect") and c.split()[1] != "current"] == [
        "create-profile", "select"]
    assert "+:(adm):ALL" in lab.read("security/access-slurm-adopt.conf")


def test_playbook_rocky9_on_our_profile_applies_the_edit(converged):
    lab = converged[0]["rocky9_ours"]
    assert [c.split()[1] for c in lab.calls() if c.startswith("authselect") and c.split()[1] != "current"] == [
        "apply-changes"]
    assert "#hpcai.cluster.slurm pam_slurm_adopt# -session" in lab.read(
        "authselect/custom/hpcai-slurm-adopt-sssd/password-auth")
    assert not re.search(r"(?m)^\s*-?session\s+\S+\s+pam_systemd", lab.read("pam.d/password-auth"))


def test_playbook_el_without_authselect_and_another_service(converged):
    lab = converged[0]["rocky10"]
    for stack in ("password-auth", "system-auth"):  # a service besides sshd: system-auth too
        text = lab.read(f"pam.d/{stack}")
        assert "#hpcai.cluster.slurm pam_slurm_adopt# -session    optional" in text
        assert not re.search(r"(?m)^\s*-?session\s+\S+\s+pam_systemd", text)
    login = lab.read("pam.d/login")
    assert _entries(login)[0] == "account substack system-auth" and login.count("service=login") == 1
    assert [c for c in lab.calls() if c.startswith("authselect")] == ["authselect current --raw"] * 3  # run, rerun, --check


BAD_CASES = [
    # name, os, variables, switch in state/, expected substrings of the failure
    ("unknown_group", "rocky9", {"slurm_pam_adopt_admin_groups": ["hpcai-no-such-group"]}, None,
     ["slurm_pam_adopt_admin_groups", "no group hpcai-no-such-group"]),
    ("bad_action", "debian12", {"slurm_pam_adopt_action_no_jobs": "maybe"}, None,
     ["slurm_pam_adopt_action_no_jobs must be one of deny, ignore; got maybe"]),
    ("all_is_no_group", "debian12", {"slurm_pam_adopt_admin_groups": ["ALL"]}, None,
     ["slurm_pam_adopt_admin_groups", "no ALL"]),
    ("missing_service", "debian12", {"slurm_pam_adopt_services": ["sshd", "nosuchservice"]}, None,
     ["slurm_pam_adopt_services", "nosuchservice"]),
    ("task_affinity_only", "debian12", {"slurm_conf_extra": {"TaskPlugin": "task/affinity"}}, None,
     ["needs ProctrackType=proctrack/cgroup and task/cgroup", "TaskPlugin=task/affinity"]),
    ("base_usepam_no", "debian12", {"base_sshd_options": {"usepam": "no"}}, None, ["base_sshd_options", "UsePAM"]),
    ("no_module", "debian12", {"__slurm_pam_module_dirs": ["/nonexistent"]}, None,
     ["pam_slurm_adopt.so is in none of /nonexistent", "not changed"]),
    ("sshd_without_pam", "debian12", {}, "usepam", ["does not report UsePAM yes"]),
    ("pam_auth_update_keeps_it", "debian12", {}, "local-mods", ["pam_systemd is still active in common-session"]),
    ("adopt_in_common_account", "debian12", {}, "adopt-in-common-account",
     ["common-account on localhost already has an active pam_slurm_adopt rule"]),
    ("authselect_refuses", "rocky9", {}, "authselect-modified",
     ["authselect select custom/hpcai-slurm-adopt-sssd", "rc 4"]),
]


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the role writes files owned by root")
    tmp = tmp_path_factory.mktemp("pam_bad")
    cases = {}
    for name, os_key, variables, switch, _expected in BAD_CASES:
        lab = Lab(tmp / name, os_key)
        if os_key != "debian12":
            lab.authselect("sssd")
        if switch == "adopt-in-common-account":
            with open(lab.pamd / "common-account", "a") as fh:
                fh.write("account\trequired\tpam_slurm_adopt.so\n")
        elif switch:
            (lab.state / switch).write_text("no\n")
        cases[name] = (lab, lab.variables(**variables))
    container = Lab(tmp / "container", "debian12")
    cases["container"] = (container, container.variables(__slurm_in_container=True))
    results, _changed, out = _play(tmp, cases)
    return results, out, cases


@pytest.mark.parametrize("case,expected", [pytest.param(c[0], c[4], id=c[0]) for c in BAD_CASES])
def test_playbook_bad_input_fails_before_the_ssh_rules(bad_runs, case, expected):
    results, out, cases = bad_runs
    res = results[case]
    assert res["failed"], f"{case} was accepted:\n{out[-3000:]}"
    for needle in expected:
        assert needle in res["msg"], f"{needle!r} not in {res['msg']!r}"
    # The ssh rules are the last step: never written after a failure.
    lab = cases[case][0]
    assert lab.read("pam.d/sshd") == SSHD_SAMPLES[lab.os_key]


def test_playbook_container_is_skipped_with_a_reason(bad_runs):
    results, out, cases = bad_runs
    lab = cases["container"][0]
    assert not results["container"]["failed"]
    assert "pam_slurm_adopt skipped on localhost" in out and "Logins are left as they are" in out
    # (the other cases' sshd reload handler may log here: handlers run after every case)
    assert lab.read("pam.d/sshd") == DEBIAN12_SSHD
    assert [c for c in lab.calls() if not c.startswith("systemctl ")] == []
    assert not (lab.root / "security/access-slurm-adopt.conf").exists()
