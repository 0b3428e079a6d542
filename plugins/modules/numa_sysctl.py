#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: numa_sysctl
short_description: NUMA/chiplet-aware sysctls, per-node hugepages and THP for HPC and AI nodes
version_added: 0.1.0
description:
  - Computes NUMA and memory sysctls from the C(hpcai_cpu_topology) fact (see M(hpcai.cluster.cpu_topology))
    and a workload O(profile), writes them to one C(sysctl.d) file, applies them live, and sets
    per-NUMA-node hugepages and the transparent hugepage (THP) mode through sysfs.
  - "Profiles (C(-) = kernel value left alone):
    C(kernel.numa_balancing) hpc 0, ai_training 0, ai_inference 1, mixed 1 (0 when CPU-less memory nodes exist);
    C(vm.zone_reclaim_mode) hpc 1 (only with two or more NUMA nodes with CPUs, else 0), others 0;
    C(vm.min_free_kbytes) computed for every profile (see notes);
    C(vm.swappiness) 10, mixed -;
    C(vm.max_map_count) 1048576, mixed 262144;
    C(vm.dirty_background_bytes) / C(vm.dirty_bytes) on nodes with 256 GiB or more only:
    0.5% of RAM in [1, 4] GiB and 2% of RAM in [4, 16] GiB, all profiles;
    C(kernel.sched_autogroup_enabled) 0, mixed -;
    C(kernel.sched_migration_cost_ns) 5000000 for hpc and ai_training;
    C(kernel.sched_min_granularity_ns) 10000000 and C(kernel.sched_wakeup_granularity_ns) 15000000 for hpc;
    THP enabled/defrag hpc always/defer+madvise, all others madvise/madvise."
  - Keys are written only when they exist under C(<root>/proc/sys). The C(kernel.sched_*_ns) tunables moved to
    debugfs in Linux 5.13 (EL9 and later) and EEVDF (6.6, EL10) removed the granularity knobs, so there they are
    reported in RV(skipped_keys) with the reason. C(kernel.numa_balancing) and C(vm.zone_reclaim_mode) are skipped on
    machines with a single NUMA node that has memory.
  - The file is replaced atomically and only when a setting in it changes (keys, values or the profile); a difference
    in the explanatory comments alone, such as the memory size on a VM whose memory balloons, keeps the old file.
    Live values are written only where they differ, so a second run reports no change.
  - Inside a container (C(/.dockerenv), C(/run/.containerenv), C(/run/systemd/container), C(container=) in the
    environment of PID 1, a read-only C(/proc/sys), or EROFS/EACCES/EPERM when writing as root) the module
    never writes live values (NUMA sysctls are global, not namespaced, and would change the host); it still
    renders and writes the file and reports every live setting in RV(skipped_keys).
author:
  - hpcai.cluster developers (@hpcai)
options:
  root:
    description:
      - Directory that holds the C(proc/) and C(sys/) trees to read and to write live values to.
      - Use another root for tests or to render for a copied tree.
    type: path
    default: /
  topology:
    description:
      - The C(hpcai_cpu_topology) fact, for example C(ansible_facts['hpcai_cpu_topology']).
      - When omitted, the module reads it from O(root) the way M(hpcai.cluster.cpu_topology) does.
    type: dict
  profile:
    description:
      - Workload profile that picks the values; see the description for the table.
      - C(hpc) - pinned MPI/OpenMP jobs. C(ai_training) - Slurm-bound GPU training with page-cache-heavy data
        loaders. C(ai_inference) - long-lived, usually unpinned inference services. C(mixed) - shared nodes,
        close to kernel defaults.
    type: str
    choices: [hpc, ai_training, ai_inference, mixed]
    default: hpc
  overrides:
    description:
      - Sysctl values that replace the profile's, key by key (C(vm.swappiness=1)). Keys that the profile does not
        manage are added.
      - A null value removes the key from the file (reported in RV(skipped_keys) as disabled by override).
      - Keys must look like sysctl names (C(^[a-z0-9_]+(\.[A-Za-z0-9_-]+\)+$)); keys that do not exist on the
        running kernel are skipped with a reason.
    type: dict
  hugepages:
    description:
      - Per-NUMA-node HugeTLB pages, written live to
        C(/sys/devices/system/node/nodeN/hugepages/hugepages-<kB>kB/nr_hugepages).
      - Give exactly one of O(hugepages.per_node), O(hugepages.percent_of_memory) or O(hugepages.nodes).
      - Persistence is by kernel command line (RV(cmdline_args), written by the C(kernel_tuning) role), not by this
        module.
    type: dict
    suboptions:
      size:
        description: Page size, C(2M) or C(1G) (also C(2048kB), C(1GB)).
        type: str
        default: 2M
      per_node:
        description: Pages on every selected node.
        type: int
      percent_of_memory:
        description: Percent (0 < p <= 90) of each selected node's memory, rounded down to whole pages.
        type: float
      nodes:
        description: "Explicit counts, C({node_id: count}); any existing node, also CPU-less ones."
        type: dict
      include_cpuless:
        description:
          - With O(hugepages.per_node) or O(hugepages.percent_of_memory), also place pages on CPU-less memory
            nodes (GPU HBM, CXL). By default only nodes with CPUs and memory get pages.
        type: bool
        default: false
  thp:
    description:
      - Transparent hugepage mode (C(/sys/kernel/mm/transparent_hugepage/enabled)); omitted = the profile's.
    type: str
    choices: [always, madvise, never]
  thp_defrag:
    description:
      - THP defrag mode (C(/sys/kernel/mm/transparent_hugepage/defrag)); omitted = the profile's.
    type: str
    choices: [always, defer, defer+madvise, madvise, never]
  dest:
    description:
      - The sysctl.d file to write, relative to O(dest_root).
    type: path
    default: /etc/sysctl.d/90-hpcai-numa.conf
  dest_root:
    description:
      - Prefix for O(dest), so the file can be written into another tree (tests, image builds).
    type: path
    default: /
  apply:
    description:
      - Write live values to C(<root>/proc/sys) and sysfs where they differ. With V(false) only the file is
        written and differing live values are listed in RV(pending).
    type: bool
    default: true
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
  - "C(vm.min_free_kbytes) = min(cap, max(profile floor, share of RAM, reserve per NUMA node with memory x nodes,
    kernel default, khugepaged recommendation when THP is on)), cap = min(5% of RAM, 4 GiB), rounded down to MiB.
    Profile terms - hpc 132 MiB, 0.2%, 64 MiB/node; ai_training 256 MiB, 0.4%, 128 MiB/node;
    ai_inference 132 MiB, 0.2%, 64 MiB/node; mixed 64 MiB, 0.1%, 32 MiB/node.
    The kernel default (int_sqrt(16 x RAM kB)) and the khugepaged estimate (11 pageblocks of 2 MiB per zone) are
    computed from the topology, never from the live value, so changing the profile can lower it again."
  - sysctl.d has only whole-line comments, so each key's reason is written on the line above it.
  - A later file (for example C(99-sysctl.conf) -> C(/etc/sysctl.conf)) setting the same key wins at boot. tuned
    re-applies C(/etc/sysctl.d) after its profile (C(reapply_sysctl=1), the default), but a tuned profile with a
    C([vm]) C(transparent_hugepages) setting overrides the THP mode; keep them consistent.
  - Recent tuned profiles set dirty limits through their C([vm]) plugin (C(dirty_bytes=10%) in latency-performance,
    written as C(vm.dirty_ratio), which zeroes C(vm.dirty_bytes)). A custom tuned profile on the same node should
    not set C([vm]) dirty limits, or the values here can be replaced when tuned restarts.
  - C(vm.nr_hugepages) is not used; it spreads pages over all memory nodes, including CPU-less ones.
  - Inside a container only live values that differ from the plan are listed in RV(skipped_keys); values that already
    match need no write.
  - If the kernel rejects a live value (EINVAL), the module fails before writing the file; values applied before
    the failure stay applied and are listed in the failure result (C(applied)).
  - Gigantic (1G) pages are allocated live too, but that fails on fragmented memory; RV(reboot_required) is
    true when fewer pages than planned are live, and RV(cmdline_args) holds the boot-time reservation
    (per-node C(hugepages=0:N,1:M) syntax on kernels 5.16 and later).
  - THP C(defrag) has no kernel parameter; RV(tmpfiles_lines) holds a systemd-tmpfiles line for it.
  - Python 3.8+ on the target; no dependencies beyond Python.
seealso:
  - module: hpcai.cluster.cpu_topology
  - name: Documentation for /proc/sys/vm
    description: Kernel documentation of the vm sysctls.
    link: https://docs.kernel.org/admin-guide/sysctl/vm.html
"""

EXAMPLES = r"""
- name: Gather topology facts
  hpcai.cluster.cpu_topology:

- name: NUMA sysctls for an MPI compute node
  hpcai.cluster.numa_sysctl:
    topology: "{{ ansible_facts['hpcai_cpu_topology'] }}"
    profile: hpc
  register: numa

- name: GPU training node with 2 MiB hugepages on the nodes with CPUs, swappiness 1, no max_map_count
  hpcai.cluster.numa_sysctl:
    profile: ai_training
    overrides:
      vm.swappiness: 1
      vm.max_map_count: null
    hugepages:
      size: 2M
      percent_of_memory: 10

- name: 1G pages on NUMA node 1 only (reserved at boot by the kernel_tuning role from cmdline_args)
  hpcai.cluster.numa_sysctl:
    profile: hpc
    hugepages:
      size: 1G
      nodes:
        1: 16
  register: numa_1g

- name: Render the file into an image tree without touching the running kernel
  hpcai.cluster.numa_sysctl:
    profile: mixed
    apply: false
    dest_root: /srv/images/compute
"""

RETURN = r"""
file:
  description: Path of the sysctl.d file (O(dest) below O(dest_root)).
  returned: always
  type: str
  sample: /etc/sysctl.d/90-hpcai-numa.conf
content:
  description: The file content the module wrote (or would write in check mode).
  returned: always
  type: str
profile:
  description: The profile used.
  returned: always
  type: str
  sample: hpc
sysctls:
  description: The sysctl keys and values in the file, in file order.
  returned: always
  type: dict
  sample: {"kernel.numa_balancing": "0", "vm.zone_reclaim_mode": "1", "vm.min_free_kbytes": "1610752"}
reasons:
  description: Why each value was chosen (profile, generation/L3 layout, memory size, override), by key;
    also for C(thp.enabled), C(thp.defrag) and C(hugepages.nodeN.<size>kB).
  returned: always
  type: dict
applied:
  description: Live settings written (in check mode - that would be written). Sysctl names, C(thp.enabled),
    C(thp.defrag), C(hugepages.nodeN.<size>kB).
  returned: always
  type: list
  elements: str
  sample: ["vm.zone_reclaim_mode", "thp.enabled"]
pending:
  description: Live settings that differ from the plan but were not written because O(apply=false).
  returned: always
  type: list
  elements: str
skipped_keys:
  description:
    - Settings not written, each with the reason (key missing on this kernel, single NUMA node,
      disabled by override, container, ...).
    - Not called C(skipped) because Ansible reads a truthy C(skipped) result key as "the task was skipped".
  returned: always
  type: list
  elements: dict
  contains:
    key:
      description: Sysctl name or C(thp.*) / C(hugepages.*) item.
      type: str
    reason:
      description: Why it was skipped.
      type: str
  sample: [{"key": "kernel.sched_migration_cost_ns", "reason": "not in /proc/sys on this kernel (moved to debugfs in 5.13 ...)"}]
hugepages:
  description: "Planned hugepages per NUMA node, C({node_id: {size_kB: count}}) (JSON keys are strings)."
  returned: always
  type: dict
  sample: {"0": {"2048": 4096}, "1": {"2048": 4096}}
thp:
  description: Planned THP modes (only the ones the kernel offers).
  returned: always
  type: dict
  sample: {"enabled": "always", "defrag": "defer+madvise"}
cmdline_args:
  description:
    - Kernel command line arguments that persist THP and hugepages across reboots, for the role to add
      (C(grubby --args) or C(/etc/default/grub.d)).
  returned: always
  type: list
  elements: str
  sample: ["transparent_hugepage=always", "hugepagesz=1G hugepages=0:16,1:16"]
tmpfiles_lines:
  description: systemd-tmpfiles C(w) lines that persist settings without a kernel parameter (THP defrag).
  returned: always
  type: list
  elements: str
  sample: ["w /sys/kernel/mm/transparent_hugepage/defrag - - - - defer+madvise"]
reboot_required:
  description:
    - True when a planned setting is not live and only the boot-time path (RV(cmdline_args)) will bring it,
      today only hugepages that could not be (or, with O(apply=false), were not) allocated live. In check mode
      1G pages not yet live count as needing a reboot. Always false inside a container.
  returned: always
  type: bool
reboot_reasons:
  description: One line per reason for RV(reboot_required).
  returned: always
  type: list
  elements: str
container:
  description: True when the module detected a container or a read-only C(/proc/sys) and wrote no live values.
  returned: always
  type: bool
container_reason:
  description: What gave the container away (null when RV(container) is false).
  returned: always
  type: str
  sample: /.dockerenv exists
kernel_release:
  description: Kernel release read from C(<root>/proc/sys/kernel/osrelease) (null when unknown).
  returned: always
  type: str
  sample: 5.14.0-503.el9.x86_64
diff:
  description: Before/after of the file and of the live values that were (or would be) written.
  returned: always
  type: list
  elements: dict
"""

import errno
import os
import re
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule, _load_params
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.common.validation import check_type_dict

from ansible_collections.hpcai.cluster.plugins.module_utils.numa_sysctl import (
    DEFAULT_DEST,
    HUGEPAGES_DIR,
    PROFILES,
    THP_DEFRAG_CHOICES,
    THP_DIR,
    THP_ENABLED_CHOICES,
    NumaSysctlError,
    candidate_keys,
    same_settings,
    diff_live,
    file_diff,
    hugepage_reboot,
    key_to_path,
    live_items,
    parse_thp_file,
    plan,
    render,
    validate_key,
)

_HUGEPAGE_DIR_RE = re.compile(r"^hugepages-(\d+)kB$")
_CONTAINER_MARKERS = (".dockerenv", "run/.containerenv")
_READONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)
_GIGANTIC_KB = 1024 * 1024


def _path(root, rel):
    return os.path.join(root, rel.lstrip("/"))


def _read(root, rel):
    try:
        with open(_path(root, rel), "r") as handle:
            return handle.read()
    except (IOError, OSError, UnicodeDecodeError):
        return None


def _write(path, value):
    """Write one live value (a separate function so tests can make it fail)."""
    with open(path, "w") as handle:
        handle.write(value)


def detect_container(root):
    """Reason string when ``root`` looks like a container (or /proc/sys is read-only), else None."""
    for rel in _CONTAINER_MARKERS:
        if os.path.exists(_path(root, rel)):
            return "/%s exists" % rel
    kind = _read(root, "run/systemd/container")
    if kind and kind.strip():
        return "/run/systemd/container says %s" % kind.strip()
    try:
        with open(_path(root, "proc/1/environ"), "rb") as handle:
            if b"container=" in handle.read():
                return "container= in the environment of PID 1"
    except (IOError, OSError):
        pass
    proc_sys = _path(root, "proc/sys")
    try:
        if os.path.isdir(proc_sys) and os.statvfs(proc_sys).f_flag & os.ST_RDONLY:
            return "/proc/sys is mounted read-only"
    except (OSError, AttributeError):
        pass
    return None


def _thp_choices(root):
    choices = {}
    for name, default in (("enabled", THP_ENABLED_CHOICES), ("defrag", THP_DEFRAG_CHOICES)):
        text = _read(root, "%s/%s" % (THP_DIR, name))
        if text is None:
            choices[name] = None
            continue
        offered = parse_thp_file(text)[1]
        choices[name] = offered if offered is not None else list(default)
    return choices


def _hugepage_sizes(root):
    try:
        names = os.listdir(_path(root, HUGEPAGES_DIR))
    except OSError:
        return None
    sizes = set()
    for name in names:
        match = _HUGEPAGE_DIR_RE.match(name)
        if match:
            sizes.add(int(match.group(1)))
    return sizes


def _kernel_release(root):
    text = _read(root, "proc/sys/kernel/osrelease")
    if text and text.strip():
        return text.strip()
    if os.path.realpath(root) == "/":
        return os.uname()[2]
    return None


def _item_size_kb(item):
    """``hugepages.node0.2048kB`` -> 2048."""
    return int(item.rsplit(".", 1)[1][:-2])


def _int_or_none(text):
    try:
        return int(str(text).split()[0])
    except (TypeError, ValueError, IndexError):
        return None


def _hugepages_type_error():
    """AnsibleModule refuses a non-dict ``hugepages`` (an option with sub-options) with a message that does not
    name it ("dictionary requested, could not parse JSON or key=value"): say which option and what it takes."""
    # unreadable arguments: AnsibleModule reports them itself
    try:
        raw = _load_params().get("hugepages")
    except Exception:  # pylint: disable=broad-except
        return None
    if raw is None or isinstance(raw, dict):
        return None
    try:
        check_type_dict(raw)
    except (TypeError, ValueError):
        return ("argument 'hugepages' is of type %s and we were unable to convert to dict: give a dict such as "
                "{size: 2M, per_node: 512}" % type(raw).__name__)
    return None


def _argument_spec():
    return dict(
        root=dict(type="path", default="/"),
        topology=dict(type="dict"),
        profile=dict(type="str", default="hpc", choices=list(PROFILES)),
        overrides=dict(type="dict"),
        hugepages=dict(
            type="dict",
            options=dict(
                size=dict(type="str", default="2M"),
                per_node=dict(type="int"),
                percent_of_memory=dict(type="float"),
                nodes=dict(type="dict"),
                include_cpuless=dict(type="bool", default=False),
            ),
            mutually_exclusive=[["per_node", "percent_of_memory", "nodes"]],
            required_one_of=[["per_node", "percent_of_memory", "nodes"]],
        ),
        thp=dict(type="str", choices=list(THP_ENABLED_CHOICES)),
        thp_defrag=dict(type="str", choices=list(THP_DEFRAG_CHOICES)),
        dest=dict(type="path", default=DEFAULT_DEST),
        dest_root=dict(type="path", default="/"),
        apply=dict(type="bool", default=True),
    )


def run_module():
    error = _hugepages_type_error()
    spec = _argument_spec()
    if error:
        spec["hugepages"] = dict(type="raw")
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    if error:
        module.fail_json(msg="numa_sysctl: " + error)
    try:
        _run(module)
    except Exception as exc:  # a clean failure instead of a bare traceback
        module.fail_json(
            msg="numa_sysctl: unexpected error: %s: %s" % (type(exc).__name__, exc),
            exception=traceback.format_exc(),
        )


def _run(module):
    p = module.params
    root = p["root"] or "/"
    profile = p["profile"]
    overrides = p["overrides"]
    check = module.check_mode
    if not os.path.isabs(p["dest_root"] or "/"):
        module.fail_json(msg="numa_sysctl: dest_root %r must be an absolute path (/ or an image tree)" % p["dest_root"])
    if not os.path.isabs(p["dest"] or "") or not (p["dest"] or "").endswith(".conf") or p["dest"].endswith("/.conf"):
        module.fail_json(msg="numa_sysctl: dest %r must be an absolute path of a NAME.conf file (systemd-sysctl reads "
                             "only *.conf), e.g. %s" % (p["dest"], DEFAULT_DEST))

    # ---- inputs ------------------------------------------------------------
    try:
        for key in overrides or {}:
            validate_key(key, "overrides")
    except NumaSysctlError as exc:
        module.fail_json(msg="numa_sysctl: %s" % exc)

    topology = p["topology"]
    if topology is None:
        try:
            from ansible_collections.hpcai.cluster.plugins.module_utils.topology import TopologyError, gather
        except ImportError as exc:  # pragma: no cover - the collection ships it
            module.fail_json(msg="numa_sysctl: topology not given and the topology parser is unavailable: %s" % exc)
        try:
            topology = gather(root)
        except TopologyError as exc:
            module.fail_json(msg="numa_sysctl: topology not given and reading it from %s failed: %s" % (root, exc))
        for warning in topology.get("warnings") or []:
            module.warn("topology: %s" % warning)

    release = _kernel_release(root)
    keys = candidate_keys(profile, overrides)
    available = set(k for k in keys if os.path.isfile(_path(root, key_to_path(k))))

    try:
        result = plan(
            topology,
            profile=profile,
            overrides=overrides,
            available_keys=available,
            kernel_release=release,
            hugepages=p["hugepages"],
            thp=p["thp"],
            thp_defrag=p["thp_defrag"],
            thp_choices=_thp_choices(root),
            hugepage_sizes=_hugepage_sizes(root),
        )
    except NumaSysctlError as exc:
        module.fail_json(msg="numa_sysctl: %s" % exc)
    for warning in result["warnings"]:
        module.warn(warning)

    content = render(result)
    skipped = list(result["skipped"])

    # ---- live values ---------------------------------------------------------
    container_reason = detect_container(root)
    items = live_items(result)
    current = {}
    for item, rel, _value in items:
        current[item] = _read(root, rel)
    live = diff_live(items, current)
    applied = []
    pending = []
    errors = []
    live_counts = {}
    wanted = dict((item, value) for item, _rel, value in items)
    for item, rel, value in items:
        is_hp = item.startswith("hugepages.")
        cur = live["before"][item]
        if is_hp:
            live_counts[item] = _int_or_none(cur)
        if item not in live["changed"]:
            continue
        if container_reason:
            skipped.append({"key": item, "reason": "read-only /proc/sys in a container (%s): not written live" % container_reason})
            continue
        if current[item] is None:
            skipped.append({"key": item, "reason": "/%s does not exist or is unreadable" % rel})
            continue
        if not p["apply"]:
            pending.append(item)
            continue
        if check:
            applied.append(item)
            if is_hp and _item_size_kb(item) < _GIGANTIC_KB:
                live_counts[item] = int(value)  # assume a live 2M (non-gigantic) allocation works
            continue
        try:
            _write(_path(root, rel), value)
        except (IOError, OSError) as exc:
            code = getattr(exc, "errno", None)
            if code in _READONLY_ERRNOS and (code == errno.EROFS or os.geteuid() == 0):
                container_reason = "writing /%s failed: %s" % (rel, os.strerror(code))
                skipped.append({"key": item, "reason": "read-only /proc/sys in a container (%s): not written live" % container_reason})
            elif code in _READONLY_ERRNOS:
                errors.append("%s: %s (writing live values needs root: use become, or apply: false)" % (item, to_native(exc)))
            else:
                errors.append("%s = %s: %s" % (item, value, to_native(exc)))
            continue
        applied.append(item)
        if is_hp:
            live_counts[item] = _int_or_none(_read(root, rel))
    if errors:
        module.fail_json(
            msg="numa_sysctl: the kernel rejected live values (the file was not written): %s" % "; ".join(errors),
            applied=applied,
            skipped_keys=skipped,
            sysctls=result["sysctls"],
        )

    if container_reason:
        reboot_required, reboot_reasons = False, []
    elif result["hugepages"]:
        reboot_required, reboot_reasons = hugepage_reboot(result, live_counts)
    else:
        reboot_required, reboot_reasons = False, []

    # ---- the file --------------------------------------------------------------
    dest_root = p["dest_root"] or "/"
    path = _path(dest_root, p["dest"])
    old = None
    if os.path.exists(path):
        try:
            with open(path, "r") as handle:
                old = handle.read()
        except (IOError, OSError, UnicodeDecodeError) as exc:
            module.fail_json(msg="numa_sysctl: cannot read %s: %s" % (path, to_native(exc)))
    # Comment-only differences (the memory size in the header moves on ballooning VMs) keep the old file.
    if old is not None and old != content and same_settings(old, content):
        content = old
    file_changed = old != content
    if file_changed and not check:
        directory = os.path.dirname(path)
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o755)
            fd, tmp = tempfile.mkstemp(prefix=".hpcai-numa-", dir=directory)
            with os.fdopen(fd, "w") as handle:
                handle.write(content)
        except (IOError, OSError) as exc:
            module.fail_json(msg="numa_sysctl: cannot write %s: %s" % (path, to_native(exc)), applied=applied)
        module.atomic_move(tmp, path)

    diff_before = dict((item, live["before"][item]) for item in applied)
    diff_after = dict((item, wanted[item]) for item in applied)
    module.exit_json(
        changed=bool(file_changed or applied),
        file=path,
        content=content,
        profile=profile,
        sysctls=result["sysctls"],
        reasons=result["reasons"],
        applied=applied,
        pending=pending,
        skipped_keys=skipped,
        hugepages=dict(
            (str(nid), dict((str(size), count) for size, count in sizes.items()))
            for nid, sizes in result["hugepages"].items()
        ),
        thp=result["thp"],
        cmdline_args=result["cmdline_args"],
        tmpfiles_lines=result["tmpfiles_lines"],
        reboot_required=reboot_required,
        reboot_reasons=reboot_reasons,
        container=bool(container_reason),
        container_reason=container_reason,
        kernel_release=release,
        diff=[
            file_diff(old, content, path),
            {"before": diff_before, "after": diff_after, "before_header": "live values", "after_header": "live values"},
        ],
    )


def main():
    run_module()


if __name__ == "__main__":
    main()
