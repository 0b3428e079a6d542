#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: kernel_modules_check
short_description: Check that out-of-tree kernel modules (GPU, BeeGFS, Lustre) exist for a kernel before it boots
version_added: 0.1.0
description:
  - Checks that every module in O(modules) exists for the kernel O(kernel) under
    C(<root>/lib/modules/<kernel>/), and says why not when one is missing. Read-only.
  - "Where a module is looked up: first C(modules.dep), which is what C(modprobe) reads (paths relative to the
    kernel's module directory, names normalised like kmod does: C(nvidia-uvm.ko.xz) is C(nvidia_uvm)); the file it
    names must exist, so a dangling C(weak-updates) symlink (EL kABI link to a module of another kernel that was
    removed) does not count. When C(modules.dep) is missing or does not list the module, C(updates/) (with
    C(updates/dkms), where DKMS installs on Debian and Ubuntu), C(extra/) (DKMS and kmod packages on EL),
    C(weak-updates/) and C(kernel/) are scanned. Module files end in C(.ko), C(.ko.xz), C(.ko.zst) or C(.ko.gz)."
  - "The output of C(dkms status) (O(dkms_status), or C(dkms status -k <kernel>) run by the module) explains a
    missing module: C(added) (not built for this kernel), C(built) (not installed), C(installed) but the file is gone,
    or C(broken). dkms 2.x (C(nvidia, 535.104.05, 6.1.0-13-amd64, x86_64: installed)) and 3.x
    (C(nvidia/550.54.15, 5.14.0-427.13.1.el9_4.x86_64, x86_64: installed)) output are both read."
  - With O(fail_on_missing=true) (the default) the task fails with one sentence per missing module that names the
    kernel, the module, what dkms says and the command that fixes it.
  - C(playbooks/kernel_update.yml) runs this module for a new kernel and refuses the kernel (removes it again) when
    a guarded module is missing.
author:
  - hpcai.cluster developers (@hpcai)
options:
  kernel:
    description:
      - The kernel release to check, as C(uname -r) prints it (V(5.14.0-503.el9.x86_64), V(6.1.0-28-amd64)).
      - Not given - the newest kernel installed under C(<root>/lib/modules); kernels of the running kernel's flavour
        are preferred (so a C(+debug) EL kernel or a C(rt-amd64) Debian kernel is not picked for a standard one).
      - V(running) - the running kernel (C(uname -r)).
    type: str
  modules:
    description:
      - Module names that must exist for O(kernel) (V(nvidia), V(nvidia_uvm), V(amdgpu), V(beegfs), V(lustre)).
        C(-) and C(_) are the same, and a C(.ko) suffix is ignored.
    type: list
    elements: str
    required: true
  root:
    description:
      - Prefix for C(lib/modules) and C(boot). For tests and image trees. Symlinks in the tree (C(weak-updates))
        are followed inside O(root).
    type: path
    default: /
  dkms_status:
    description:
      - Output of C(dkms status) to explain missing modules with.
      - Not given and O(root=/) - the module runs C(dkms status -k <kernel>) itself when C(dkms) is installed.
        With another O(root) dkms is not run (it would describe the host, not the tree).
    type: str
  fail_on_missing:
    description:
      - Fail the task (with RV(reasons) in the message) when a module is missing or the kernel is not installed.
      - V(false) - return the same result without failing; look at RV(ok).
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads files and runs C(dkms status); it behaves the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - "The module never changes anything: it never runs C(depmod), C(dkms autoinstall) or C(modprobe). When a
    module is only found by scanning (not in C(modules.dep)), the result is still RV(ok) but RV(notices) says
    to run C(depmod -a <kernel>), because C(modprobe) would not find it."
  - "Installed kernels (RV(kernels)) are the directories of C(lib/modules) whose name starts with a digit and that
    have C(modules.dep) and a C(kernel/) directory or an image (C(vmlinuz) in the directory, as on EL, or
    C(/boot/vmlinuz-<kernel>)). Leftovers after a kernel was removed (directories with only C(extra/) or
    C(weak-updates/), C(modules.dep) without modules) and C(extramodules) directories are listed in
    RV(ignored_kernel_dirs)."
  - Python 3.8+ on the target; no dependencies beyond Python.
seealso:
  - module: hpcai.cluster.gpu_facts
  - name: DKMS
    description: Dynamic Kernel Module Support, whose C(dkms status) output the module reads.
    link: https://github.com/dell/dkms
  - name: modules.dep(5)
    description: The module dependency file the module reads first.
    link: https://man7.org/linux/man-pages/man5/modules.dep.5.html
"""

EXAMPLES = r"""
- name: The GPU modules must exist for the newest installed kernel before the next reboot
  hpcai.cluster.kernel_modules_check:
    modules: [nvidia, nvidia_uvm, nvidia_modeset]

- name: Check a kernel that was just installed, without failing
  hpcai.cluster.kernel_modules_check:
    kernel: 5.14.0-503.el9.x86_64
    modules: "{{ ansible_local.hpcai_kernel_guard.modules }}"
    fail_on_missing: false
  register: guard

- name: Show why it would not boot with GPUs
  ansible.builtin.debug:
    msg: "{{ guard.reasons }}"
  when: not guard.ok

- name: Lustre client modules for the running kernel, in an image tree, with dkms output collected elsewhere
  hpcai.cluster.kernel_modules_check:
    root: /srv/images/compute
    kernel: 6.1.0-28-amd64
    modules: [lustre, lnet, ko2iblnd]
    dkms_status: "{{ lookup('ansible.builtin.file', 'dkms-status.txt') }}"
"""

RETURN = r"""
kernel:
  description: The kernel release that was checked.
  returned: always
  type: str
  sample: 5.14.0-503.el9.x86_64
kernel_present:
  description: C(<root>/lib/modules/<kernel>) exists.
  returned: always
  type: bool
  sample: true
found:
  description: Module name (normalised, C(_) not C(-)) to the path of its file, as seen on the node.
  returned: always
  type: dict
  sample: {"nvidia": "/lib/modules/5.14.0-503.el9.x86_64/extra/nvidia.ko.xz"}
missing:
  description: Modules of O(modules) that were not found (normalised names, in the order given).
  returned: always
  type: list
  elements: str
  sample: ["nvidia_uvm"]
dkms:
  description:
    - The C(dkms status) entries for this kernel, and the kernel-less ones (C(added), C(broken)) that apply to
      every kernel. Empty when dkms was not run and O(dkms_status) was not given.
  returned: always
  type: list
  elements: dict
  contains:
    module:
      description: The dkms package name as dkms prints it.
      type: str
      sample: nvidia
    version:
      description: The dkms package version.
      type: str
      sample: 550.54.15
    kernel:
      description: The kernel the entry is for; null for C(added) and C(broken).
      type: str
    arch:
      description: The architecture; null for C(added) and C(broken).
      type: str
    state:
      description: One of C(added), C(built), C(installed), C(installed-weak), C(broken).
      type: str
    from_kernel:
      description: For C(installed-weak), the kernel the module was built for.
      type: str
    warning:
      description: The notes dkms appended in parentheses, joined with C(; ), or null.
      type: str
    line:
      description: The line as dkms printed it.
      type: str
ok:
  description: The kernel is installed and every module of O(modules) was found.
  returned: always
  type: bool
  sample: false
reasons:
  description: One sentence per problem, naming the kernel, the module, what dkms says and the command that fixes it.
  returned: always
  type: list
  elements: str
  sample:
    - "nvidia is not built for 5.14.0-503.el9.x86_64 (dkms status: nvidia/550.54.15 added, not built); run
      `dkms autoinstall -k 5.14.0-503.el9.x86_64`"
notices:
  description: Findings that do not fail the check (module only found by scanning, so C(depmod -a) is due; dkms
    notes such as C(Differences between built and installed modules) on a module that is there).
  returned: always
  type: list
  elements: str
kernels:
  description: The kernels installed under C(<root>/lib/modules), oldest first (rpm-style version order).
  returned: always
  type: list
  elements: str
  sample: ["5.14.0-427.13.1.el9_4.x86_64", "5.14.0-503.el9.x86_64"]
newest:
  description: The newest installed kernel of the same flavour as RV(kernel) (all kernels if none has it), or null.
  returned: always
  type: str
  sample: 5.14.0-503.el9.x86_64
kernel_is_newest:
  description: No installed kernel of the same flavour is newer than RV(kernel) (RV(kernel) need not be installed).
  returned: always
  type: bool
  sample: true
ignored_kernel_dirs:
  description: Entries of C(lib/modules) that are not installed kernels, with the reason.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The entry's name.
      type: str
    reason:
      description: Why it is not counted as a kernel.
      type: str
dkms_command:
  description: The C(dkms status) command the module ran, or null when it did not run one.
  returned: always
  type: str
  sample: dkms status -k 5.14.0-503.el9.x86_64
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hpcai.cluster.plugins.module_utils.topology import root_problem
from ansible_collections.hpcai.cluster.plugins.module_utils.kernel_guard import (
    check,
    compare_kernels,
    kernel_flavour,
    newest,
    scan_kernels,
)


def _is_live_root(root):
    return os.path.realpath(root) == "/"


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            kernel=dict(type="str"),
            modules=dict(type="list", elements="str", required=True),
            root=dict(type="path", default="/"),
            dkms_status=dict(type="str"),
            fail_on_missing=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    try:
        _run(module)
    except Exception as exc:  # a clean failure instead of a bare traceback
        module.fail_json(msg="kernel_modules_check: unexpected error: %s: %s" % (type(exc).__name__, exc),
                         exception=traceback.format_exc())


def _run(module):
    p = module.params
    root = p["root"] or "/"
    if root_problem(root):
        module.fail_json(msg="kernel_modules_check: %s" % root_problem(root))
    live = _is_live_root(root)
    modules = [m for m in (p["modules"] or []) if m is not None and str(m).strip()]
    if not modules:
        module.fail_json(msg="kernel_modules_check: modules is empty; give the module names that must exist for the "
                             "kernel, e.g. [nvidia, nvidia_uvm]")
    for name in modules:
        if "/" in name or any(c.isspace() for c in name.strip()):
            module.fail_json(msg="kernel_modules_check: modules: %r is not a module name (no paths or whitespace; "
                                 "e.g. nvidia_uvm)" % name)

    scanned = scan_kernels(root)
    kernels = scanned["kernels"]
    running = os.uname()[2]
    kernel = (p["kernel"] or "").strip()
    if kernel == "running":
        kernel = running
    elif not kernel:
        kernel = newest(kernels, flavour=kernel_flavour(running) if live else None)
        if not kernel:
            module.fail_json(msg="kernel_modules_check: no installed kernel under %s (no directory with modules.dep "
                                 "and kernel/ or an image); give kernel" % os.path.join(root, "lib/modules"),
                             kernels=kernels, ignored_kernel_dirs=scanned["ignored"])
    if "/" in kernel or any(c.isspace() for c in kernel):
        module.fail_json(msg="kernel_modules_check: kernel: %r is not a kernel release (as uname -r prints it)" % kernel)

    dkms_text = p["dkms_status"]
    dkms_command = None
    if dkms_text is None and live:
        dkms_bin = module.get_bin_path("dkms")
        if dkms_bin:
            argv = [dkms_bin, "status", "-k", kernel]
            dkms_command = " ".join(["dkms", "status", "-k", kernel])
            rc, stdout, stderr = module.run_command(argv, environ_update={"LC_ALL": "C"})
            if rc == 0 or stdout.strip():
                dkms_text = stdout
            else:
                module.warn("kernel_modules_check: %s failed (rc=%s): %s; missing modules are reported without "
                            "dkms' view" % (dkms_command, rc, (stderr or "").strip()))

    result = check(root, kernel, modules, dkms_text)
    flavour = kernel_flavour(kernel)
    best = newest(kernels, flavour=flavour)
    same = [k for k in kernels if kernel_flavour(k) == flavour] or kernels
    result.update(
        changed=False,
        kernels=kernels,
        newest=best,
        kernel_is_newest=all(compare_kernels(kernel, k) >= 0 for k in same),
        ignored_kernel_dirs=scanned["ignored"],
        dkms_command=dkms_command,
    )
    for notice in result["notices"]:
        module.warn("kernel_modules_check: %s" % notice)
    if p["fail_on_missing"] and not result["ok"]:
        module.fail_json(msg="kernel_modules_check: kernel %s is not safe to boot: %s"
                             % (kernel, "; ".join(result["reasons"])), **result)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == "__main__":
    main()
