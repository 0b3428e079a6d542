#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: kernel_cmdline
short_description: Manage kernel command line arguments persistently (grubby/BLS or GRUB grub.d drop-in)
version_added: 0.1.0
description:
  - Makes sure a set of kernel arguments (O(args)) is on the boot command line exactly once with the given value,
    and that the keys in O(remove) are not, for the next boot. Arguments with other keys are never touched.
  - The key of an argument is the text before the first C(=); a bare flag such as C(nosmt) is its own key.
    A managed key is in sync when the command line holds exactly the one argument for it (one occurrence,
    same value).
  - "O(method=grubby) (EL 9/10, BootLoaderSpec entries in C(/boot/loader/entries)): reads C(grubby --info=ALL)
    and, when any entry (rescue entries included) is out of sync, runs one command
    C(grubby --update-kernel=ALL --remove-args=... --args=...) without a shell. Keys whose value differs
    are removed and added again, so each ends up once."
  - "O(method=grub_d) (Debian/Ubuntu, whose C(grub-mkconfig) also reads C(/etc/default/grub.d/*.cfg)):
    writes the drop-in O(grub_d_file) with C(GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX ...\") and runs
    C(update-grub) (or C(grub-mkconfig -o /boot/grub/grub.cfg)) when the file changed."
  - The change takes effect at the next boot. The module never reboots; it compares the wanted state with
    C(/proc/cmdline) and returns RV(reboot_required) and RV(reboot_reasons).
  - Inside a container (C(/.dockerenv), C(/run/.containerenv), C(/run/systemd/container), C(container=) in the
    environment of PID 1) the boot loader belongs to the host. With O(method=auto), or with any method and
    O(root=/), the module changes nothing and says why in RV(skipped_reason).
author:
  - hpcai.cluster developers (@hpcai)
options:
  args:
    description:
      - Kernel arguments to have on the command line, one per item (V(iommu=pt), V(amd_pstate=active), V(nosmt)).
      - Each item must be one kernel argument (whitespace only inside double quotes) and each key may appear
        only once. Parameters the kernel accepts several times with different meanings (for example
        C(hugepagesz=)/C(hugepages=) pairs for two page sizes, or several C(console=)) cannot be managed here.
      - Arguments already there with another value are replaced; arguments missing are appended in list order.
    type: list
    elements: str
    default: []
  remove:
    description:
      - Bare keys (no C(=)) to take off the command line, whatever their value (V(rhgb), V(quiet),
        V(transparent_hugepage)).
      - A key cannot be both in O(args) and in O(remove).
      - With O(method=grub_d) only keys that an earlier run of this module put into O(grub_d_file) can be
        removed; keys set elsewhere are reported in RV(not_removable) (see the notes).
    type: list
    elements: str
    default: []
  method:
    description:
      - How to persist the arguments.
      - V(auto) - V(grubby) when the C(grubby) binary is found and C(<root>/boot/loader/entries) exists or
        C(grubby --info=ALL) works; else V(grub_d) when C(<root>/etc/default/grub) exists or C(update-grub) or
        C(grub-mkconfig) is found; else V(none). Inside a container V(auto) always means V(none).
      - V(grubby) - BootLoaderSpec entries through C(grubby) (EL 9/10, Fedora).
      - V(grub_d) - a drop-in in C(/etc/default/grub.d) and C(update-grub) (Debian, Ubuntu).
      - V(none) - change nothing; only report the wanted arguments.
    type: str
    choices: [auto, grubby, grub_d, none]
    default: auto
  grub_d_file:
    description:
      - The drop-in O(method=grub_d) writes, below O(root). Must be an absolute path ending in C(.cfg);
        C(grub-mkconfig) only reads C(/etc/default/grub.d/*.cfg).
      - When O(args) is empty the file is removed.
    type: path
    default: /etc/default/grub.d/90-hpcai.cfg
  update_bootloader:
    description:
      - With O(method=grub_d), run C(update-grub) (or C(grub-mkconfig -o /boot/grub/grub.cfg)) after the drop-in
        changed. Never in check mode. If the command fails, the previous drop-in is put back so the next run
        tries again.
      - Only run when O(root=/); with another root the command would regenerate the host's C(grub.cfg), so it is
        skipped with a warning (regenerate inside the tree yourself).
    type: bool
    default: true
  root:
    description:
      - Prefix for C(proc/cmdline), C(boot/loader/entries), C(etc/default/grub), the O(grub_d_file) and the
        container markers.
      - For tests and image trees. With a root other than C(/), grubby is pointed at
        C(<root>/boot/loader/entries) with C(--bls-directory), and O(update_bootloader) is not run.
    type: path
    default: /
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
notes:
  - "BLS (EL 9/10): every installed kernel, the rescue entry included, has its own entry with its own
    C(options) line, which C(grubby --update-kernel=ALL) edits; C(grub2-mkconfig) is not needed. Kernels installed
    later get their command line from the installer scripts (C(kernel-install) and grubby's defaults), which
    normally copy the current one. This module was not verified against every EL minor release on that point,
    so rerun it (or the C(kernel_tuning) role) after kernel updates; it is idempotent and reports drift."
  - "grubby splits C(--args) and C(--remove-args) on whitespace, so arguments with quoted spaces are refused
    with O(method=grubby)."
  - "grub.d drop-ins can only append to C(GRUB_CMDLINE_LINUX). For most parameters the kernel uses the last
    occurrence, so an argument here overrides the same key set in C(/etc/default/grub); parameters that
    accumulate (C(console=), C(modprobe.blacklist=)) get both values. A parameter set elsewhere cannot be removed
    from a drop-in: such O(remove) keys are listed in RV(not_removable) with a warning and are left out of the
    reboot check. Keys set only by this module's earlier drop-in are removed by rewriting the file."
  - "C(GRUB_CMDLINE_LINUX_DEFAULT) (normal entries only) comes after C(GRUB_CMDLINE_LINUX) on the command line;
    the module warns when it, or a drop-in sourced after O(grub_d_file), overrides a managed argument. Values in
    the GRUB files are read with a simple one-line parser, not a shell."
  - "Values that are not safe inside C(GRUB_CMDLINE_LINUX=\"...\") (C(\") C(') C($) backtick C(\\) C(;) C(&) C(|)
    C(<) C(>) or whitespace) are refused with O(method=grub_d)."
  - "Changing the command line needs a reboot. RV(reboot_required) is true when a managed argument is not active
    in C(/proc/cmdline) (the last occurrence of its key differs) or a removed key is still there; it is false
    inside a container, with O(method=none) and when C(<root>/proc/cmdline) does not exist."
  - Python 3.8+ on the target; no dependencies beyond Python.
seealso:
  - module: hpcai.cluster.numa_sysctl
  - name: The kernel's command-line parameters
    description: Kernel documentation of the boot parameters.
    link: https://docs.kernel.org/admin-guide/kernel-parameters.html
  - name: UAPI Boot Loader Specification
    description: The BLS entries grubby edits.
    link: https://uapi-group.org/specifications/specs/boot_loader_specification/
"""

EXAMPLES = r"""
- name: IOMMU passthrough and the active AMD P-state driver, drop rhgb/quiet
  hpcai.cluster.kernel_cmdline:
    args:
      - iommu=pt
      - amd_pstate=active
    remove:
      - rhgb
      - quiet
  register: cmdline

- name: Tell the play a reboot is pending (the module never reboots)
  ansible.builtin.debug:
    msg: "{{ cmdline.reboot_reasons }}"
  when: cmdline.reboot_required

- name: Debian node, 1G hugepages reserved at boot, drop-in without regenerating grub.cfg yet
  hpcai.cluster.kernel_cmdline:
    method: grub_d
    args:
      - default_hugepagesz=1G
      - hugepagesz=1G
      - hugepages=64
    update_bootloader: false

- name: Take everything this module added back off (the drop-in is removed, BLS args are removed)
  hpcai.cluster.kernel_cmdline:
    args: []
    remove:
      - iommu
      - amd_pstate
"""

RETURN = r"""
method:
  description: The method used (V(auto) resolved to V(grubby), V(grub_d) or V(none)).
  returned: always
  type: str
  sample: grubby
method_reason:
  description: Why O(method=auto) chose this method, or that the method was given.
  returned: always
  type: str
  sample: grubby found and /boot/loader/entries exists
args:
  description: The managed arguments wanted on the command line (validated O(args)).
  returned: always
  type: list
  elements: str
  sample: ["iommu=pt", "amd_pstate=active"]
removed_keys:
  description:
    - Keys that are (in check mode - would be) taken off the boot command line. With grubby these are the
      C(--remove-args) keys, which include managed keys whose value is replaced.
  returned: always
  type: list
  elements: str
  sample: ["rhgb", "quiet"]
not_removable:
  description: O(remove) keys that O(method=grub_d) cannot remove because another GRUB file sets them.
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: The key.
      type: str
    reason:
      description: Where it is set and why it stays.
      type: str
commands:
  description: Commands run (in check mode - that would run) to change the boot configuration, shell-quoted.
  returned: always
  type: list
  elements: str
  sample: ["/usr/sbin/grubby --update-kernel=ALL '--remove-args=rhgb quiet' '--args=iommu=pt amd_pstate=active'"]
entries:
  description: With grubby, the boot entries as found before any change; empty otherwise.
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: grubby's index of the entry.
      type: int
    kernel:
      description: Kernel image path.
      type: str
    title:
      description: Entry title.
      type: str
    args:
      description: The entry's arguments as grubby printed them.
      type: str
    in_sync:
      description: Whether the entry already had the managed arguments.
      type: bool
file:
  description: With grub_d, the drop-in path (O(grub_d_file) below O(root)); null otherwise.
  returned: always
  type: str
  sample: /etc/default/grub.d/90-hpcai.cfg
content:
  description: With grub_d, the drop-in content written (or that would be written); null when there is no file.
  returned: always
  type: str
proc_cmdline:
  description: C(<root>/proc/cmdline) (null when it cannot be read).
  returned: always
  type: str
  sample: BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0-503.el9.x86_64 root=/dev/mapper/rl-root ro iommu=pt
reboot_required:
  description:
    - True when something managed differs from C(/proc/cmdline), so the next boot changes it. Never true inside
      a container or with method V(none).
  returned: always
  type: bool
reboot_reasons:
  description: One line per argument or key behind RV(reboot_required).
  returned: always
  type: list
  elements: str
  sample: ["iommu=pt is not on the running kernel's command line"]
skipped_reason:
  description: Why nothing was managed (container, no boot loader found, method none); null when managed.
  returned: always
  type: str
  sample: "inside a container (/.dockerenv exists): the boot loader belongs to the host"
diff:
  description:
    - Before/after of the grub.d drop-in, or of the arguments of the first out-of-sync grubby entry (of the
      first entry when all are in sync).
  returned: always
  type: dict
"""

import os
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hpcai.cluster.plugins.module_utils.topology import root_problem
from ansible_collections.hpcai.cluster.plugins.module_utils.kernel_cmdline import (
    DEFAULT_GRUB_D_FILE,
    KernelCmdlineError,
    check_grub_safe,
    format_argv,
    grub_d_plan,
    grubby_argv,
    grubby_plan,
    join_cmdline,
    parse_grubby_info,
    reboot_check,
    split_cmdline,
    validate,
)

METHODS = ("auto", "grubby", "grub_d", "none")
BLS_DIR = "boot/loader/entries"
DEFAULT_GRUB = "etc/default/grub"
GRUB_D_DIR = "etc/default/grub.d"
GRUB_CFG = "/boot/grub/grub.cfg"
_CONTAINER_MARKERS = (".dockerenv", "run/.containerenv")


def _path(root, rel):
    return os.path.join(root, rel.lstrip("/"))


def _read(path):
    try:
        with open(path, "r") as handle:
            return handle.read()
    except (IOError, OSError, UnicodeDecodeError):
        return None


def _is_live_root(root):
    """True when ``root`` is the running system's / (commands then act on the right tree)."""
    return os.path.realpath(root) == "/"


def detect_container(root):
    """Evidence string when ``root`` looks like a container, else None."""
    for rel in _CONTAINER_MARKERS:
        if os.path.lexists(_path(root, rel)):
            return "/%s exists" % rel
    kind = _read(_path(root, "run/systemd/container"))
    if kind is not None:
        return "/run/systemd/container says %s" % (kind.strip() or "(empty)")
    try:
        with open(_path(root, "proc/1/environ"), "rb") as handle:
            for item in handle.read().split(b"\0"):
                if item.startswith(b"container="):
                    return "%s in the environment of PID 1" % item.decode("utf-8", "replace")
    except (IOError, OSError):
        pass
    return None


def _write_file(module, path, content):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(prefix=".hpcai-cmdline-", dir=directory)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    os.chmod(tmp, 0o644)
    module.atomic_move(tmp, path)


def _set_file(module, path, content):
    """Write ``content`` to ``path`` (None = remove the file)."""
    if content is None:
        if os.path.lexists(path):
            os.remove(path)
    else:
        _write_file(module, path, content)


class _Result(object):
    def __init__(self, args):
        self.data = dict(
            changed=False,
            method="none",
            method_reason="",
            args=list(args),
            removed_keys=[],
            not_removable=[],
            commands=[],
            entries=[],
            file=None,
            content=None,
            proc_cmdline=None,
            reboot_required=False,
            reboot_reasons=[],
            skipped_reason=None,
            diff={"before": "", "after": ""},
        )


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            args=dict(type="list", elements="str", default=[]),
            remove=dict(type="list", elements="str", default=[]),
            method=dict(type="str", default="auto", choices=list(METHODS)),
            grub_d_file=dict(type="path", default=DEFAULT_GRUB_D_FILE),
            update_bootloader=dict(type="bool", default=True),
            root=dict(type="path", default="/"),
        ),
        supports_check_mode=True,
    )
    try:
        _run(module)
    except Exception as exc:  # a clean failure instead of a bare traceback
        module.fail_json(
            msg="kernel_cmdline: unexpected error: %s: %s" % (type(exc).__name__, exc),
            exception=traceback.format_exc(),
        )


def _fail(module, msg, **kw):
    module.fail_json(msg="kernel_cmdline: %s" % msg, **kw)


def _run(module):
    p = module.params
    root = p["root"] or "/"
    method = p["method"]
    if root_problem(root):
        _fail(module, root_problem(root))

    # ---- inputs (fail before anything else) ------------------------------------
    try:
        args, remove = validate(p["args"], p["remove"])
    except KernelCmdlineError as exc:
        _fail(module, str(exc))
    grub_d_file = p["grub_d_file"] or DEFAULT_GRUB_D_FILE
    if method in ("auto", "grub_d"):
        if not grub_d_file.startswith("/") or not grub_d_file.endswith(".cfg"):
            _fail(module, "grub_d_file: %r must be an absolute path ending in .cfg (grub-mkconfig reads "
                          "/etc/default/grub.d/*.cfg), e.g. %s" % (grub_d_file, DEFAULT_GRUB_D_FILE))
    if method == "grub_d":
        _check_grub_args(module, args)
    if method == "grubby":
        _check_grubby_args(module, args)

    res = _Result(args)
    out = res.data
    live = _is_live_root(root)
    proc_text = _read(_path(root, "proc/cmdline"))
    out["proc_cmdline"] = proc_text.strip() if proc_text is not None else None
    proc_tokens = split_cmdline(proc_text) if proc_text is not None else None

    # ---- container ---------------------------------------------------------------
    evidence = detect_container(root)
    if evidence and (method == "auto" or live):
        out["method_reason"] = "container"
        out["skipped_reason"] = ("inside a container (%s): the boot loader belongs to the host, nothing was changed"
                                 % evidence)
        module.exit_json(**out)

    # ---- method ------------------------------------------------------------------
    grubby_bin = None
    info = None
    if method == "auto":
        method, reason, grubby_bin, info = _auto_method(module, root, live)
    else:
        reason = "method %s given" % method
    out["method"] = method
    out["method_reason"] = reason

    if method == "none":
        out["skipped_reason"] = reason if p["method"] == "auto" else "method none: nothing is managed"
        if p["method"] == "auto":
            module.warn("kernel_cmdline: %s; the kernel command line is not managed" % reason)
        module.exit_json(**out)

    if method == "grubby":
        ignore = _grubby(module, out, args, remove, root, live, grubby_bin, info)
    else:
        ignore = _grub_d(module, out, args, remove, root, live, grub_d_file)

    if proc_tokens is not None:
        out["reboot_required"], out["reboot_reasons"] = reboot_check(proc_tokens, args, remove, ignore_keys=ignore)
    module.exit_json(**out)


def _check_grub_args(module, args):
    for arg in args:
        try:
            check_grub_safe(arg)
        except KernelCmdlineError as exc:
            _fail(module, str(exc))


def _check_grubby_args(module, args):
    for arg in args:
        if any(c.isspace() for c in arg):
            _fail(module, "args: %r contains whitespace; grubby splits --args on whitespace, so quoted values with "
                          "spaces cannot be set with method grubby" % arg)


def _grubby_info(module, grubby_bin, root, live):
    argv = [grubby_bin, "--info=ALL"]
    if not live:
        argv.append("--bls-directory=%s" % _path(root, BLS_DIR))
    rc, stdout, stderr = module.run_command(argv, environ_update={"LC_ALL": "C"})
    return argv, rc, stdout, stderr


def _auto_method(module, root, live):
    """(method, reason, grubby_bin, info) for method=auto."""
    grubby_bin = module.get_bin_path("grubby")
    if grubby_bin:
        if os.path.isdir(_path(root, BLS_DIR)):
            return "grubby", "grubby found and /%s exists" % BLS_DIR, grubby_bin, None
        info = _grubby_info(module, grubby_bin, root, live)
        if info[1] == 0 and parse_grubby_info(info[2]):
            return "grubby", "grubby found and grubby --info=ALL lists boot entries", grubby_bin, info
    if os.path.isfile(_path(root, DEFAULT_GRUB)):
        return "grub_d", "/%s exists" % DEFAULT_GRUB, None, None
    for name in ("update-grub", "grub-mkconfig"):
        if module.get_bin_path(name):
            return "grub_d", "%s found" % name, None, None
    return "none", "no grubby and no /etc/default/grub", None, None


# ---------------------------------------------------------------------- grubby


def _grubby(module, out, args, remove, root, live, grubby_bin, info):
    _check_grubby_args(module, args)
    if grubby_bin is None:
        grubby_bin = module.get_bin_path("grubby")
        if not grubby_bin:
            _fail(module, "method grubby: the grubby binary was not found (install grubby, or use method grub_d "
                          "or auto)")
    if info is None:
        info = _grubby_info(module, grubby_bin, root, live)
    argv, rc, stdout, stderr = info
    if rc != 0:
        _fail(module, "%s failed (rc=%s): %s" % (format_argv(argv), rc, (stderr or stdout).strip()))
    entries = parse_grubby_info(stdout)
    if not entries:
        _fail(module, "%s listed no boot entries; nothing to put the arguments on" % format_argv(argv),
              stdout=stdout)
    gp = grubby_plan(entries, args, remove)
    out["entries"] = [
        dict(index=e.get("index"), kernel=e.get("kernel"), title=e.get("title"), args=e.get("args", ""),
             in_sync=e["in_sync"])
        for e in gp["entries"]
    ]
    out["removed_keys"] = list(gp["remove"])
    first = next((e for e in gp["entries"] if not e["in_sync"]), gp["entries"][0])
    out["diff"] = {
        "before": first.get("args", "") + "\n",
        "after": join_cmdline(first["plan"]["tokens"]) + "\n",
        "before_header": "grubby args: %s" % first.get("kernel"),
        "after_header": "grubby args: %s" % first.get("kernel"),
    }
    command = grubby_argv(gp["remove"], gp["add"], grubby=grubby_bin,
                          bls_directory=None if live else _path(root, BLS_DIR))
    if command is None:
        return []
    out["commands"].append(format_argv(command))
    out["changed"] = True
    if module.check_mode:
        return []
    rc, stdout, stderr = module.run_command(command, environ_update={"LC_ALL": "C"})
    if rc != 0:
        _fail(module, "%s failed (rc=%s): %s" % (format_argv(command), rc, (stderr or stdout).strip()),
              commands=out["commands"], entries=out["entries"])
    # verify: grubby versions differ in how they edit; never claim a state we did not reach
    argv, rc, stdout, stderr = _grubby_info(module, grubby_bin, root, live)
    after = grubby_plan(parse_grubby_info(stdout), args, remove) if rc == 0 else None
    if after is None or not after["entries"] or not after["in_sync"]:
        bad = []
        if after is not None:
            bad = ["%s: %s" % (e.get("kernel"), e.get("args")) for e in after["entries"] if not e["in_sync"]]
        _fail(module, "%s ran, but the boot entries are still not in sync: %s" % (
            format_argv(command), "; ".join(bad) or (stderr or "grubby --info=ALL failed").strip()),
            commands=out["commands"], entries=out["entries"], changed=True)
    return []


# ---------------------------------------------------------------------- grub.d


def _grub_files(root, grub_d_file):
    """Contents of the other GRUB default files, sourced before and after the drop-in."""
    before = []
    after = []
    main = _read(_path(root, DEFAULT_GRUB))
    if main is not None:
        before.append(main)
    directory = _path(root, GRUB_D_DIR)
    ours = _path(root, grub_d_file)
    own_name = os.path.basename(ours) if os.path.dirname(ours) == directory else None
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".cfg"))
    except OSError:
        names = []
    for name in names:
        if name == own_name:
            continue
        text = _read(os.path.join(directory, name))
        if text is None:
            continue
        if own_name is not None and name > own_name:
            after.append(text)
        else:
            before.append(text)
    return before, after, own_name is not None


def _update_command(module):
    found = module.get_bin_path("update-grub")
    if found:
        return [found]
    found = module.get_bin_path("grub-mkconfig")
    if found:
        return [found, "-o", GRUB_CFG]
    return None


def _grub_d(module, out, args, remove, root, live, grub_d_file):
    _check_grub_args(module, args)
    path = _path(root, grub_d_file)
    out["file"] = path
    old = None
    if os.path.lexists(path):
        old = _read(path)
        if old is None:
            _fail(module, "cannot read %s (grub_d_file)" % path)
    before, after, in_grub_d = _grub_files(root, grub_d_file)
    if not in_grub_d:
        module.warn("kernel_cmdline: grub_d_file %s is not in /%s; grub-mkconfig does not read it unless "
                    "something sources it" % (grub_d_file, GRUB_D_DIR))
    gp = grub_d_plan(old, args, remove, other_texts_before=before, other_texts_after=after)
    for warning in gp["warnings"]:
        module.warn("kernel_cmdline: %s" % warning)
    for item in gp["not_removable"]:
        module.warn("kernel_cmdline: remove: %s" % item["reason"])
    out["content"] = gp["content"]
    out["removed_keys"] = list(gp["removed_keys"])
    out["not_removable"] = list(gp["not_removable"])
    out["diff"] = {
        "before": old or "",
        "after": gp["content"] or "",
        "before_header": path if old is not None else "%s (absent)" % path,
        "after_header": path if gp["content"] is not None else "%s (absent)" % path,
    }
    ignore = [item["key"] for item in gp["not_removable"]]
    if not gp["changed"]:
        return ignore
    out["changed"] = True

    update = None
    if module.params["update_bootloader"]:
        if live:
            update = _update_command(module)
            if update is None:
                _fail(module, "update_bootloader is true but neither update-grub nor grub-mkconfig was found; "
                              "install GRUB's tools or set update_bootloader: false and regenerate grub.cfg "
                              "yourself", file=path)
            out["commands"].append(format_argv(update))
        else:
            module.warn("kernel_cmdline: root is %s, not /: update-grub was not run (it would regenerate the "
                        "host's grub.cfg); regenerate grub.cfg inside that tree" % root)
    if module.check_mode:
        return ignore

    try:
        _set_file(module, path, gp["content"])
    except (IOError, OSError) as exc:
        _fail(module, "cannot write %s: %s" % (path, to_native(exc)), file=path)
    if update is not None:
        rc, stdout, stderr = module.run_command(update, environ_update={"LC_ALL": "C"})
        if rc != 0:
            # put the old drop-in back, so the next run sees the change as pending and runs update-grub again
            try:
                _set_file(module, path, old)
                restored = "the previous %s was restored" % path
            except (IOError, OSError) as exc:
                restored = "restoring the previous %s failed too: %s" % (path, to_native(exc))
            _fail(module, "%s failed (rc=%s): %s; %s" % (format_argv(update), rc, (stderr or stdout).strip(), restored),
                  commands=out["commands"], file=path)
    return ignore


def main():
    run_module()


if __name__ == "__main__":
    main()
