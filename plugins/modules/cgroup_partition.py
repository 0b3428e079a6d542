#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cgroup_partition
short_description: Split a node's CPUs into housekeeping and Slurm workload cores and enforce it with systemd
version_added: 0.1.0
description:
  - Plans which whole cores keep the operating system (B(housekeeping)) and which are left to Slurm jobs
    (B(workload)) from the C(hpcai_cpu_topology) fact (see M(hpcai.cluster.cpu_topology)), and returns the same
    split as Slurm node values (C(CpuSpecList) in Slurm abstract CPU ids or C(CoreSpecCount), C(MemSpecLimit),
    C(RealMemory), the C(NodeName) values with physical sockets and with L3 domains as sockets) and the
    C(cgroup.conf) keys it needs, as the fact C(hpcai_cgroup_partition) for the C(slurm) and C(kernel_tuning) roles.
  - "Policies: C(per_l3) - O(count) cores per L3 domain (CCX on EPYC); C(per_numa) - per NUMA node with CPUs
    (CPU-less GPU/CXL memory nodes are no unit); C(per_socket) - per package; C(explicit) - the cores of O(cpus).
    Inside a unit the housekeeping cores are the first O(count) cores by CPU id (see O(gpu_local_cpus))."
  - Housekeeping and workload CPUs are always whole cores (SMT siblings together), never overlap, and together are
    all usable online CPUs. Offline CPUs belong to neither; inside a container only the CPUs the container may
    use are partitioned.
  - Enforcement - systemd drop-ins C(<dest_root>/etc/systemd/system/<unit>.d/90-hpcai-cpus.conf) with
    C(AllowedCPUs=<housekeeping CPUs>) in the C([Slice]), C([Scope]) or C([Service]) section for C(user.slice),
    C(init.scope) and the units in O(services). Never C(system.slice) - C(slurmstepd) scopes and with them every
    job live there. C(systemctl daemon-reload) runs only when a drop-in changed, O(apply=true), O(dest_root=/)
    and not in check mode. A drop-in of this module for a unit no longer in the list is removed.
  - AllowedCPUs= needs the unified cgroup hierarchy (cgroup v2) with the C(cpuset) controller and systemd 244 or
    later (systemd.resource-control(5)). When any of this is missing (cgroup v1 or hybrid hosts, a container
    sharing such a host's cgroups, no C(cpuset) controller, systemd older than 244 or not running) the module
    writes no drop-in at all, says why in RV(enforcement.reason) and a warning, and still returns the plan and
    the Slurm values.
  - irqbalance is not configured here - the C(kernel_tuning) role writes C(IRQBALANCE_BANNED_CPULIST) from
    RV(ansible_facts.hpcai_cgroup_partition.irqbalance_banned_cpus) (the workload CPUs) and can add
    C(irqaffinity=) from RV(ansible_facts.hpcai_cgroup_partition.irqaffinity) (the housekeeping CPUs) to the
    kernel command line.
author:
  - hpcai.cluster developers (@hpcai)
options:
  root:
    description:
      - Directory that holds the C(sys/), C(proc/) and C(run/) trees the module reads (topology when O(topology)
        is omitted, GPUs when O(pci_devices) is omitted, the cgroup hierarchy and whether systemd runs).
    type: path
    default: /
  topology:
    description:
      - The C(hpcai_cpu_topology) fact, for example C(ansible_facts['hpcai_cpu_topology']).
      - When omitted, or when it lacks the C(cores) list (gathered by an older version), the module reads the
        topology from O(root) the way M(hpcai.cluster.cpu_topology) does.
    type: dict
  policy:
    description:
      - How housekeeping cores are placed; see the description.
      - C(per_l3) on a machine whose sysfs shows no L3 cache (Ampere Altra) falls back to C(per_numa) with a
        warning, so one policy can serve a mixed fleet; RV(ansible_facts.hpcai_cgroup_partition.policy) is the
        policy used.
    type: str
    choices: [per_l3, per_numa, per_socket, explicit]
    default: per_l3
  count:
    description:
      - Housekeeping cores per unit (not used with C(explicit)). Must not exceed the cores of any unit, and the
        housekeeping cores must leave at least one workload CPU.
    type: int
    default: 1
  cpus:
    description:
      - Housekeeping CPUs for O(policy=explicit), a cpulist such as C(0-1,128-129). Every CPU must be online and
        usable; the list is expanded to whole cores (with a warning), as Slurm expands C(CpuSpecList).
    type: str
  memory_reserve_mib:
    description:
      - Memory kept for the OS and the Slurm daemons, in MiB; becomes C(MemSpecLimit). V(0) means no
        C(MemSpecLimit).
      - Default (neither this nor O(memory_reserve_percent)) - 2% of MemTotal, at least 1 GiB, at most 16 GiB
        (and never more than a quarter of MemTotal).
    type: int
  memory_reserve_percent:
    description:
      - The reserve as a percentage (0 to 50) of MemTotal, rounded down to MiB. Mutually exclusive with
        O(memory_reserve_mib).
    type: float
  real_memory_margin_mib:
    description:
      - How far C(RealMemory) stays below MemTotal, in MiB. slurmd drains a node whose configured C(RealMemory)
        exceeds what it measures (C(sysconf(_SC_PHYS_PAGES)) times the page size, computed in float), and
        MemTotal moves a little with kernel updates; the default is 1% of MemTotal within [128 MiB, 4 GiB].
    type: int
  gpu_local_cpus:
    description:
      - C(ignore) - GPUs play no role.
      - C(avoid) - units whose CPUs are all local to a GPU get no housekeeping cores (as long as at least one unit
        is not GPU-local; otherwise all units are used and a warning says so), and inside a unit cores not local
        to a GPU are taken first. Keeps OS noise away from the cores that feed the GPUs.
      - C(prefer) - inside each unit GPU-local cores are taken first, so device interrupts (sent to the
        housekeeping CPUs with C(irqaffinity=)) stay on the GPU's NUMA node.
      - GPU-local CPUs are the C(local_cpus) of the C(gpu) entries of O(pci_devices).
    type: str
    choices: [ignore, avoid, prefer]
    default: ignore
  pci_devices:
    description:
      - The C(hpcai_pci_devices) fact (see M(hpcai.cluster.pci_devices)); entries whose C(kind) is not C(gpu) are
        ignored.
      - When omitted and O(gpu_local_cpus) is not C(ignore), the module scans C(<root>/sys/bus/pci) itself.
    type: list
    elements: dict
  slurm_spec:
    description:
      - Which Slurm specialization values to compute. C(CpuSpecList) and C(CoreSpecCount) are mutually exclusive
        (Slurm rejects a node with both); an empty list computes neither.
      - C(CpuSpecList) - the housekeeping CPUs as Slurm abstract CPU ids; the module replays slurmd's conversion
        and returns null (with a warning) when slurmd would reserve other CPUs (offline CPUs with lower ids than
        online ones, uneven SMT, a container cpuset).
      - C(CoreSpecCount) - only when the cores Slurm picks itself (see notes) are exactly the housekeeping cores;
        RV(ansible_facts.hpcai_cgroup_partition.slurm.slurm_conf) then names the C(SchedulerParameters) or
        C(SlurmdParameters) this needs. Otherwise the module fails and says which cores Slurm would pick.
      - C(MemSpecLimit) - the memory reserve.
    type: list
    elements: str
    choices: [CpuSpecList, CoreSpecCount, MemSpecLimit]
    default: [CpuSpecList, MemSpecLimit]
  services:
    description:
      - More units to confine to the housekeeping CPUs besides C(user.slice) and C(init.scope), for example
        C(sssd.service) or C(systemd-journald.service). Names must end in C(.service), C(.slice) or C(.scope).
      - C(system.slice), C(-.slice) and C(slurmstepd.scope) are refused because the Slurm jobs run below them.
    type: list
    elements: str
    default: []
  dest_root:
    description:
      - Prefix for the drop-in files, so they can be written into another tree (tests, image builds).
        C(daemon-reload) runs only when this is C(/).
    type: path
    default: /
  apply:
    description:
      - Run C(systemctl daemon-reload) after a drop-in changed, so systemd applies the new C(AllowedCPUs=) to the
        running units. With V(false) only the files are written and RV(reload_pending) says a reload is due.
    type: bool
    default: true
  systemd_version:
    description:
      - The systemd version of the target. By default read from C(systemctl --version) when O(root) is C(/);
        for any other root it must be given, or enforcement is reported as impossible.
    type: int
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  facts:
    support: full
  platform:
    platforms: posix
notes:
  - "Slurm abstract CPU ids are numbered as slurmd does with hwloc (src/slurmd/common/xcpuinfo.c):
    socket-major, cores in hwloc order (by package, L3 domain and first CPU id), the threads of a core
    consecutive, id = core index x ThreadsPerCore + thread index. On a two-socket SMT machine with 4 cores per
    socket numbered linearly (siblings N and N+8) CPU 0 -> 0, 8 -> 1, 1 -> 2, 9 -> 3 ... 4 -> 8, 12 -> 9.
    The map is the same with C(SlurmdParameters=l3cache_as_socket), because L3 domains are children of their
    package in hwloc's tree. A slurmd built without hwloc numbers CPUs differently (sorted by physical id,
    core id, CPU id from /proc/cpuinfo); that build is not modelled."
  - "With C(CoreSpecCount=N) Slurm reserves the highest core of the highest socket first, then the highest core of
    the lower sockets, round-robin; with C(SchedulerParameters=spec_cores_first) the lowest core of the lowest
    socket first (https://slurm.schedmd.com/core_spec.html). So C(per_socket) maps to C(CoreSpecCount) with
    C(spec_cores_first), and C(per_l3) to C(CoreSpecCount) with C(spec_cores_first) and
    C(SlurmdParameters=l3cache_as_socket)."
  - C(CpuSpecList) and C(MemSpecLimit) only take effect with C(TaskPlugin=task/cgroup) and C(ConstrainCores=yes)
    (and C(ConstrainRAMSpace=yes) with memory as a consumable resource for C(MemSpecLimit)); the returned
    C(cgroup_conf) and C(slurm_conf) hold these keys for the C(slurm) role.
  - Inside a container in this collection's lab (a cgroup v1 or hybrid host, containers sharing its cgroup
    hierarchy) nothing is enforced and RV(enforcement.reason) says so.
  - Python 3.8+ on the target; no dependencies beyond Python.
seealso:
  - module: hpcai.cluster.cpu_topology
  - module: hpcai.cluster.pci_devices
  - name: slurm.conf(5)
    description: CpuSpecList, CoreSpecCount, MemSpecLimit and RealMemory.
    link: https://slurm.schedmd.com/slurm.conf.html
  - name: systemd.resource-control(5)
    description: AllowedCPUs= (systemd 244, unified hierarchy only).
    link: https://www.freedesktop.org/software/systemd/man/latest/systemd.resource-control.html
"""

EXAMPLES = r"""
- name: Gather topology facts
  hpcai.cluster.cpu_topology:

- name: One housekeeping core per CCX, CpuSpecList and MemSpecLimit for Slurm
  hpcai.cluster.cgroup_partition:
    topology: "{{ ansible_facts['hpcai_cpu_topology'] }}"
    policy: per_l3
  register: partition

- name: Show the Slurm node values
  ansible.builtin.debug:
    msg: "{{ ansible_facts['hpcai_cgroup_partition']['slurm']['node'] }} CpuSpecList={{ ansible_facts['hpcai_cgroup_partition']['slurm']['CpuSpecList'] }}"

- name: GPU node - two cores per NUMA node, away from the GPUs, also confine sssd and journald
  hpcai.cluster.cgroup_partition:
    topology: "{{ ansible_facts['hpcai_cpu_topology'] }}"
    policy: per_numa
    count: 2
    gpu_local_cpus: avoid
    pci_devices: "{{ ansible_facts['hpcai_pci_devices'] }}"
    memory_reserve_mib: 8192
    services: [sssd.service, systemd-journald.service]

- name: Let Slurm pick the cores (one per socket) with CoreSpecCount
  hpcai.cluster.cgroup_partition:
    policy: per_socket
    slurm_spec: [CoreSpecCount, MemSpecLimit]

- name: Explicit housekeeping CPUs, rendered into an image tree without reloading systemd
  hpcai.cluster.cgroup_partition:
    policy: explicit
    cpus: "0-1,192-193"
    dest_root: /srv/images/compute
    systemd_version: 252
"""

RETURN = r"""
enforcement:
  description: Whether systemd can enforce AllowedCPUs= here, and why not.
  returned: always
  type: dict
  contains:
    allowed_cpus:
      description: True when drop-ins are written (or would be in check mode).
      type: bool
    reason:
      description: Why nothing is enforced (null when RV(enforcement.allowed_cpus) is true).
      type: str
      sample: "inside a docker container (it shares the host's cgroup setup): /sys/fs/cgroup is a cgroup v1 hierarchy ..."
    cgroup:
      description: C(v2), C(v1), C(hybrid) or null (no hierarchy found).
      type: str
    cpuset_controller:
      description: C(cpuset) is listed in C(cgroup.controllers).
      type: bool
    controllers:
      description: The controllers of C(<root>/sys/fs/cgroup/cgroup.controllers).
      type: list
      elements: str
    systemd_running:
      description: C(<root>/run/systemd/system) exists (systemd is the init system).
      type: bool
    systemd_version:
      description: The systemd version used for the check (null when unknown).
      type: int
    container:
      description: Container runtime detected below O(root), or null.
      type: str
files:
  description: The drop-in files this module manages (written, unchanged, or to be written in check mode); empty when
    nothing can be enforced.
  returned: always
  type: list
  elements: str
  sample: ["/etc/systemd/system/user.slice.d/90-hpcai-cpus.conf", "/etc/systemd/system/init.scope.d/90-hpcai-cpus.conf"]
removed:
  description: Drop-ins of this module for units no longer listed, removed (or to be removed in check mode).
  returned: always
  type: list
  elements: str
dropins:
  description: "The planned drop-in of every unit, C({unit: {path, content}}), also when nothing is enforced."
  returned: always
  type: dict
daemon_reload:
  description: C(systemctl daemon-reload) ran (in check mode - would run).
  returned: always
  type: bool
reload_pending:
  description: Drop-ins changed but no reload ran because O(apply=false) or O(dest_root) is not C(/).
  returned: always
  type: bool
diff:
  description: Before/after of every drop-in that changed or was removed.
  returned: always
  type: list
  elements: dict
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    hpcai_cgroup_partition:
      description: The partition plan.
      returned: always
      type: dict
      contains:
        policy:
          description: The policy used (C(per_numa) when C(per_l3) fell back on a machine without L3).
          type: str
        policy_requested:
          description: O(policy) as given.
          type: str
        count:
          description: Cores per unit (null with C(explicit)).
          type: int
        cpus_online:
          description: The usable online CPUs that were partitioned.
          type: str
        housekeeping_cpus:
          description: CPUs kept for the OS (whole cores).
          type: str
          sample: "0,8,16,24,192,200,208,216"
        workload_cpus:
          description: CPUs left to Slurm jobs (all usable CPUs minus the housekeeping CPUs).
          type: str
        irqbalance_banned_cpus:
          description: CPUs irqbalance must not send interrupts to - the workload CPUs (for
            C(IRQBALANCE_BANNED_CPULIST), written by the C(kernel_tuning) role).
          type: str
        irqaffinity:
          description: The housekeeping CPUs, for the C(irqaffinity=) kernel argument of the C(kernel_tuning) role.
          type: str
        housekeeping_cores:
          description: Number of housekeeping cores.
          type: int
        workload_cores:
          description: Number of workload cores.
          type: int
        units:
          description: One entry per unit that got housekeeping cores.
          type: list
          elements: dict
          contains:
            unit:
              description: C(l3:<index>), C(numa:<id>), C(socket:<id>) or C(explicit).
              type: str
            kind:
              description: C(l3), C(numa), C(socket) or C(explicit).
              type: str
            id:
              description: L3 index, NUMA node id or package id (null for C(explicit)).
              type: int
            cpus:
              description: The unit's CPUs.
              type: str
            cores:
              description: The unit's cores.
              type: int
            socket:
              description: Package of the unit's first CPU.
              type: int
            numa_nodes:
              description: NUMA nodes of the unit's CPUs.
              type: list
              elements: int
            gpu_local:
              description: Every CPU of the unit is local to a GPU (false when O(gpu_local_cpus=ignore)).
              type: bool
            housekeeping_cpus:
              description: The housekeeping CPUs taken from this unit.
              type: str
        units_skipped:
          description: Units that got no housekeeping core (O(gpu_local_cpus=avoid)), with the reason.
          type: list
          elements: dict
        gpu_local_cpus:
          description: O(gpu_local_cpus).
          type: str
        gpu_cpus:
          description: CPUs local to a GPU (empty unless O(gpu_local_cpus) is C(avoid) or C(prefer)).
          type: str
        memtotal_mib:
          description: MemTotal in MiB.
          type: int
        memory_reserve_mib:
          description: The memory reserve in MiB (C(MemSpecLimit) when requested and not 0).
          type: int
        memory_reserve_source:
          description: Where the reserve came from (option or default rule).
          type: str
        real_memory_margin_mib:
          description: MemTotal minus C(RealMemory), in MiB.
          type: int
        real_memory_margin_source:
          description: Where the margin came from.
          type: str
        slurm:
          description: Slurm values for this node.
          type: dict
          contains:
            CpuSpecList:
              description: Housekeeping CPUs as Slurm abstract CPU ids, or null (not requested, or not expressible;
                see the warnings).
              type: str
              sample: "0-1,16-17"
            CoreSpecCount:
              description: Number of specialized cores, or null (not requested).
              type: int
            MemSpecLimit:
              description: The memory reserve in MiB, or null (not requested or 0).
              type: int
            abstract_cpu_map:
              description: "The map slurmd uses, C({os_cpu_id: abstract_id}) (JSON keys are strings)."
              type: dict
              sample: {"0": 0, "8": 1, "1": 2, "9": 3}
            abstract_map_exact:
              description: Every usable CPU has its own abstract id (uniform SMT, ids 0..CPUs-1, no container
                restriction).
              type: bool
            abstract_map_notes:
              description: Why the map is not exact.
              type: list
              elements: str
            core_spec_layout:
              description: With C(CoreSpecCount), C(sockets) or C(l3_as_socket) - the socket definition it assumes.
              type: str
            node:
              description: "C(NodeName) values as Slurm counts them: C(CPUs), C(Boards), C(SocketsPerBoard),
                C(CoresPerSocket), C(ThreadsPerCore) and C(RealMemory) (MemTotal minus the margin)."
              type: dict
            node_l3_as_socket:
              description: The same with L3 domains as sockets (C(SlurmdParameters=l3cache_as_socket)).
              type: dict
            cgroup_conf:
              description: The cgroup.conf keys the partition needs.
              type: dict
              sample: {"CgroupPlugin": "autodetect", "ConstrainCores": "yes", "ConstrainRAMSpace": "yes", "ConstrainDevices": "yes"}
            slurm_conf:
              description: The slurm.conf keys the partition needs (C(TaskPlugin), C(ProctrackType),
                C(SelectTypeParameters) with C(MemSpecLimit), C(SchedulerParameters) / C(SlurmdParameters) with
                C(CoreSpecCount) where needed).
              type: dict
        files:
          description: Same as RV(files).
          type: list
          elements: str
        enforcement:
          description: Same as RV(enforcement).
          type: dict
        warnings:
          description: Fallbacks and values that could not be computed (also emitted as task warnings).
          type: list
          elements: str
"""

import glob
import os
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hpcai.cluster.plugins.module_utils.cgroup_partition import (
    DEFAULT_SLURM_SPEC,
    DROPIN_DIR,
    DROPIN_NAME,
    GPU_MODES,
    MARKER,
    POLICIES,
    SLURM_SPEC_CHOICES,
    PartitionError,
    dropin_rel,
    enforcement_status,
    parse_systemd_version,
    plan,
    render_dropin,
    validate_units,
)


def _path(root, rel):
    return os.path.join(root, rel.lstrip("/"))


def _read(path):
    try:
        with open(path, "r") as handle:
            return handle.read()
    except (IOError, OSError, UnicodeDecodeError):
        return None


def _topology(module, root):
    from ansible_collections.hpcai.cluster.plugins.module_utils.topology import TopologyError, gather

    try:
        fact = gather(root)
    except TopologyError as exc:
        module.fail_json(msg="cgroup_partition: topology not given and reading it from %s failed: %s" % (root, exc))
    for warning in fact.get("warnings") or []:
        module.warn("topology: %s" % warning)
    return fact


def _container(root):
    from ansible_collections.hpcai.cluster.plugins.module_utils.topology import SysfsReader, detect_container

    live = os.path.realpath(root) == "/"
    return detect_container(SysfsReader(root), os.environ if live else None)


def _systemd_version(module, root):
    """(version or None, error text or None)."""
    if module.params["systemd_version"] is not None:
        return module.params["systemd_version"], None
    if os.path.realpath(root) != "/":
        return None, "root is %s, not /: pass systemd_version" % root
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return None, "systemctl not found"
    rc, out, err = module.run_command([systemctl, "--version"])
    version = parse_systemd_version(out) if rc == 0 else None
    if version is None:
        return None, "systemctl --version failed or printed no version (rc %d: %s)" % (rc, (err or out).strip()[:120])
    return version, None


def _write(module, path, content):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(prefix=".hpcai-cpus-", dir=directory)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    os.chmod(tmp, 0o644)
    module.atomic_move(tmp, path)


def _stale(dest_root, units):
    """Drop-ins of this module (marker line) for units not in ``units``."""
    pattern = os.path.join(_path(dest_root, DROPIN_DIR), "*.d", DROPIN_NAME)
    out = []
    for path in sorted(glob.glob(pattern)):
        unit = os.path.basename(os.path.dirname(path))[:-2]
        if unit in units:
            continue
        text = _read(path)
        if text is not None and text.startswith(MARKER):
            out.append((unit, path, text))
    return out


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", default="/"),
            topology=dict(type="dict"),
            policy=dict(type="str", default="per_l3", choices=list(POLICIES)),
            count=dict(type="int", default=1),
            cpus=dict(type="str"),
            memory_reserve_mib=dict(type="int"),
            memory_reserve_percent=dict(type="float"),
            real_memory_margin_mib=dict(type="int"),
            gpu_local_cpus=dict(type="str", default="ignore", choices=list(GPU_MODES)),
            pci_devices=dict(type="list", elements="dict"),
            slurm_spec=dict(type="list", elements="str", default=list(DEFAULT_SLURM_SPEC),
                            choices=list(SLURM_SPEC_CHOICES)),
            services=dict(type="list", elements="str", default=[]),
            dest_root=dict(type="path", default="/"),
            apply=dict(type="bool", default=True),
            systemd_version=dict(type="int"),
        ),
        mutually_exclusive=[["memory_reserve_mib", "memory_reserve_percent"]],
        required_if=[["policy", "explicit", ["cpus"]]],
        supports_check_mode=True,
    )
    try:
        _run(module)
    except Exception as exc:  # a clean failure instead of a bare traceback
        module.fail_json(
            msg="cgroup_partition: unexpected error: %s: %s" % (type(exc).__name__, exc),
            exception=traceback.format_exc(),
        )


def _run(module):
    p = module.params
    root = p["root"] or "/"
    dest_root = p["dest_root"] or "/"
    check = module.check_mode
    if not os.path.isabs(dest_root):
        module.fail_json(msg="cgroup_partition: dest_root %r must be an absolute path (/ or an image tree)" % dest_root)
    if p["systemd_version"] is not None and p["systemd_version"] < 1:
        module.fail_json(msg="cgroup_partition: systemd_version must be a positive systemd release number such as 252, "
                             "got %d" % p["systemd_version"])

    try:
        units = validate_units(p["services"])
    except PartitionError as exc:
        module.fail_json(msg="cgroup_partition: %s" % exc)

    topology = p["topology"]
    if topology is None:
        topology = _topology(module, root)
    elif topology.get("cores") is None:
        module.warn("topology has no 'cores' list (gathered by an older hpcai.cluster.cpu_topology); "
                    "reading the topology from %s instead" % root)
        topology = _topology(module, root)

    devices = p["pci_devices"]
    if p["gpu_local_cpus"] != "ignore" and devices is None:
        from ansible_collections.hpcai.cluster.plugins.module_utils.pci import gather as pci_gather

        pci_warnings = []
        devices = pci_gather(root, kinds=("gpu",), warnings=pci_warnings)
        for warning in pci_warnings:
            module.warn("pci: %s" % warning)

    try:
        fact = plan(
            topology,
            policy=p["policy"],
            count=p["count"],
            cpus=p["cpus"],
            memory_reserve_mib=p["memory_reserve_mib"],
            memory_reserve_percent=p["memory_reserve_percent"],
            real_memory_margin_mib=p["real_memory_margin_mib"],
            gpu_local_cpus=p["gpu_local_cpus"],
            pci_devices=devices,
            slurm_spec=p["slurm_spec"],
        )
    except PartitionError as exc:
        module.fail_json(msg="cgroup_partition: %s" % exc)
    for warning in fact["warnings"]:
        module.warn(warning)

    # ---- can systemd enforce AllowedCPUs= here? ----------------------------------
    version, version_error = _systemd_version(module, root)
    cgroup_root = _path(root, "sys/fs/cgroup")
    enforcement = enforcement_status(
        controllers=_read(os.path.join(cgroup_root, "cgroup.controllers")),
        hybrid=os.path.isdir(os.path.join(cgroup_root, "unified")),
        cgroup_dir=os.path.isdir(cgroup_root),
        systemd_running=os.path.isdir(_path(root, "run/systemd/system")),
        systemd_version=version,
        container=_container(root),
        version_error=version_error,
        root=root,
    )

    dropins = {}
    for unit in units:
        dropins[unit] = {"path": _path(dest_root, dropin_rel(unit)),
                         "content": render_dropin(unit, fact["housekeeping_cpus"], fact["policy"])}

    files = []
    removed = []
    diff = []
    daemon_reload = False
    reload_pending = False
    if not enforcement["allowed_cpus"]:
        module.warn("AllowedCPUs= not enforced: %s" % enforcement["reason"])
    else:
        changed_paths = []
        for unit in units:
            path, content = dropins[unit]["path"], dropins[unit]["content"]
            files.append(path)
            old = _read(path) if os.path.exists(path) else None
            if old == content:
                continue
            changed_paths.append(path)
            diff.append({"before": old or "", "after": content, "before_header": path, "after_header": path})
            if not check:
                try:
                    _write(module, path, content)
                except (IOError, OSError) as exc:
                    module.fail_json(msg="cgroup_partition: cannot write %s: %s" % (path, to_native(exc)),
                                     written=changed_paths[:-1])
        for unit, path, old in _stale(dest_root, units):
            removed.append(path)
            diff.append({"before": old, "after": "", "before_header": path, "after_header": "%s (removed)" % path})
            if not check:
                try:
                    os.unlink(path)
                except OSError as exc:
                    module.fail_json(msg="cgroup_partition: cannot remove %s: %s" % (path, to_native(exc)))
                try:
                    os.rmdir(os.path.dirname(path))
                except OSError:
                    pass  # the directory holds other drop-ins
        if changed_paths or removed:
            if p["apply"] and os.path.realpath(dest_root) == "/":
                daemon_reload = True
                if not check:
                    systemctl = module.get_bin_path("systemctl", required=True)
                    rc, out, err = module.run_command([systemctl, "daemon-reload"])
                    if rc != 0:
                        module.fail_json(
                            msg="cgroup_partition: systemctl daemon-reload failed (rc %d): %s"
                                % (rc, (err or out).strip()),
                            files=files, removed=removed,
                        )
            else:
                reload_pending = True

    fact["files"] = files
    fact["enforcement"] = enforcement
    module.exit_json(
        changed=bool(diff),
        ansible_facts={"hpcai_cgroup_partition": fact},
        enforcement=enforcement,
        files=files,
        removed=removed,
        dropins=dropins,
        daemon_reload=daemon_reload,
        reload_pending=reload_pending,
        diff=diff,
    )


def main():
    run_module()


if __name__ == "__main__":
    main()
