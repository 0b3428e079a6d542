#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cpu_topology
short_description: Gather CPU, NUMA and L3 (CCX) topology facts from sysfs
version_added: 0.1.0
description:
  - Reads C(<root>/sys/devices/system/cpu), C(<root>/sys/devices/system/node),
    C(<root>/proc/cpuinfo) and C(<root>/proc/meminfo) and returns the
    C(hpcai_cpu_topology) fact with the vendor and generation (Zen 1 to Zen 5c on AMD EPYC),
    online/offline CPUs, cores, sockets, NUMA nodes (including CPU-less memory
    nodes), L3 domains (one per CCX on EPYC) and Slurm node figures, both
    physical and with L3 domains as sockets.
  - Only online CPUs count. Inside a container only the CPUs this process may use
    count (cgroup cpuset of the container, and the process CPU affinity); see
    RV(ansible_facts.hpcai_cpu_topology.cpus_allowed). On a host the process
    affinity is reported in RV(ansible_facts.hpcai_cpu_topology.cpus_affinity) but
    not applied, because C(isolcpus=), systemd C(CPUAffinity=) or C(AllowedCPUs=)
    on the session's slice narrow the Ansible process without changing the machine.
  - Cores are identified by (C(physical_package_id), C(core_cpus_list)) - or
    C(thread_siblings_list) on kernels without C(core_cpus_list) - never by
    C(core_id) alone, which repeats and has gaps.
  - L3 domains are found by scanning C(cache/index*) for C(level) 3 and type
    C(Unified) and de-duplicated by C(shared_cpu_list).
  - The module only reads files; it never changes the target.
author:
  - hpcai.cluster developers (@hpcai)
options:
  root:
    description:
      - Directory that contains the C(sys/) and C(proc/) trees to read.
      - Use a different root to read a copied or synthetic tree (tests, offline
        analysis). With the default C(/) inside a container (Docker, Podman, LXC,
        systemd-nspawn, Kubernetes), the process CPU affinity (C(sched_getaffinity))
        restricts the usable CPUs too; with any other root only files below it are
        used, so results are deterministic.
      - The cgroup cpuset C(<root>/sys/fs/cgroup/cpuset.cpus.effective) (v2) or
        C(<root>/sys/fs/cgroup/cpuset/cpuset.effective_cpus) (v1) restricts the
        usable CPUs when present.
    type: path
    default: /
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: posix
notes:
  - Slurm figures are computed the way C(slurmd) does (C(src/slurmd/common/xcpuinfo.c)),
    with integer division; C(ThreadsPerCore = CPUs // cores) and
    C(CoresPerSocket = cores // sockets). On a heterogeneous node (offline SMT
    siblings, uneven CCXs, a cpuset that splits cores) this under-describes the
    node rather than over-describe it, and RV(ansible_facts.hpcai_cpu_topology.homogeneous)
    is C(false).
  - C(RealMemory) is C(MemTotal) in MiB (rounded down). It is NOT what should go
    into C(slurm.conf) directly; the C(slurm) role subtracts the configured
    memory reserve.
  - On hosts without a C(node/) directory (kernel without NUMA) one node 0 with
    all CPUs and C(MemTotal) is reported, with a warning.
  - Python 3.8+ on the target; no dependencies beyond Python.
seealso:
  - name: Linux sysfs CPU topology
    description: Kernel documentation of the topology files.
    link: https://www.kernel.org/doc/html/latest/admin-guide/cputopology.html
"""

EXAMPLES = r"""
- name: Gather CPU topology facts
  hpcai.cluster.cpu_topology:

- name: Show the L3-as-socket Slurm figures
  ansible.builtin.debug:
    msg: >-
      Sockets={{ ansible_facts['hpcai_cpu_topology']['slurm_l3_as_socket']['SocketsPerBoard'] }}
      CoresPerSocket={{ ansible_facts['hpcai_cpu_topology']['slurm_l3_as_socket']['CoresPerSocket'] }}

- name: Read a tree copied from another machine
  hpcai.cluster.cpu_topology:
    root: /srv/topologies/node042
  delegate_to: localhost
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    hpcai_cpu_topology:
      description:
        - CPU topology of the host. CPU sets are Linux cpulist strings (C(0-63,128-191),
          empty string for none).
        - All figures refer to usable CPUs (online and allowed for this process)
          unless a key says otherwise.
      returned: always
      type: dict
      contains:
        vendor:
          description:
            - C(vendor_id) from cpuinfo (C(AuthenticAMD), C(GenuineIntel), ...).
            - On ARM the C(CPU implementer) name - C(0x41) C(ARM), C(0x42) C(Broadcom),
              C(0x43) C(Cavium), C(0x46) C(Fujitsu), C(0x48) C(HiSilicon), C(0x4e) C(NVIDIA),
              C(0x50) C(APM), C(0x51) C(Qualcomm), C(0x61) C(Apple), C(0x6d) C(Microsoft),
              C(0xc0) C(Ampere); note Ampere Altra and NVIDIA Grace use Arm Neoverse cores and
              report C(ARM).
            - C(unknown) when cpuinfo is unreadable or the implementer is not in the table.
          returned: always
          type: str
          sample: AuthenticAMD
        cpu_family:
          description: C(cpu family) from cpuinfo; null where absent (ARM).
          returned: always
          type: int
          sample: 25
        model:
          description: C(model) from cpuinfo; null where absent (ARM).
          returned: always
          type: int
          sample: 17
        model_name:
          description: C(model name) from cpuinfo; null where absent (arm64).
          returned: always
          type: str
          sample: AMD EPYC 9654 96-Core Processor
        generation:
          description:
            - C(zen1), C(zen2), C(zen3), C(zen4), C(zen4c), C(zen5), C(zen5c) for AMD (from
              family/model), C(intel), C(arm), or C(unknown) (includes Zen 6 and Hygon until
              the contract names them).
          returned: always
          type: str
          sample: zen4
        codename:
          description: AMD server codename from family/model (C(Rome), C(Genoa-X), C(Bergamo/Siena), C(Turin Dense) ...) or null.
          returned: always
          type: str
          sample: Genoa
        cpu_implementer:
          description: ARM C(CPU implementer) code, null on x86.
          returned: always
          type: int
          sample: 65
        cpu_part:
          description: ARM C(CPU part) code, null on x86.
          returned: always
          type: int
          sample: 3340
        cpus_online:
          description: Online CPUs this process may use (the set every other figure is computed from).
          returned: always
          type: str
          sample: 0-383
        cpus_offline:
          description:
            - Present but offline CPUs (C(cpu/present) minus C(cpu/online)), for example SMT siblings
              disabled with C(nosmt). Unlike the kernel's C(cpu/offline) file this does not list
              hot-plug slots that hold no CPU. CPUs excluded only by a cpuset are not offline.
          returned: always
          type: str
          sample: "128-255"
        cores:
          description:
            - One cpulist per physical core with usable CPUs (the core's usable SMT siblings), sorted by first CPU.
              Cores are keyed by (package, C(core_cpus_list)) as in the rest of the fact.
            - Used by M(hpcai.cluster.cgroup_partition) to keep SMT siblings together and to number CPUs the way
              Slurm does.
          returned: always
          type: list
          elements: str
          sample: ["0,192", "1,193", "2,194"]
        cpus_online_host:
          description: The kernel's C(cpu/online) list, before any affinity/cpuset restriction.
          returned: always
          type: str
          sample: 0-383
        cpus_allowed:
          description:
            - CPUs allowed by the cgroup cpuset at the cgroup-namespace root (all CPUs on a host)
              and, inside a container, the process affinity; null when no restriction source was
              found (for example a non-C(/) root without a cpuset file).
          returned: always
          type: str
          sample: 0-383
        cpus_affinity:
          description:
            - The module process' CPU affinity (C(sched_getaffinity)) when O(root) is C(/), else null.
              Applied only inside a container.
          returned: always
          type: str
          sample: 0-383
        container:
          description:
            - Container runtime detected for O(root=/) (C(docker), C(podman), C(lxc), C(kubernetes), ...), else null.
          returned: always
          type: str
          sample: docker
        cpus_allowed_sources:
          description: Where C(cpus_allowed) came from (C(sched_getaffinity) and/or a cpuset file path).
          returned: always
          type: list
          elements: str
        restricted:
          description: True when C(cpus_online) is smaller than C(cpus_online_host).
          returned: always
          type: bool
        threads_per_core:
          description: Largest number of usable SMT siblings in one core.
          returned: always
          type: int
          sample: 2
        homogeneous:
          description: Every socket has the same number of cores and every core the same number of threads.
          returned: always
          type: bool
        l3_homogeneous:
          description: Every L3 domain has the same number of cores and every core the same number of threads (false without L3).
          returned: always
          type: bool
        memtotal_kib:
          description: C(MemTotal) of C(/proc/meminfo) in kB.
          returned: always
          type: int
        counts:
          description: Summary counts.
          returned: always
          type: dict
          contains:
            cpus_online:
              description: Number of usable CPUs.
              returned: always
              type: int
            cores:
              description: Number of physical cores with at least one usable CPU.
              returned: always
              type: int
            sockets:
              description: Number of packages with at least one usable CPU.
              returned: always
              type: int
            numa_nodes:
              description: Number of NUMA nodes with at least one usable CPU.
              returned: always
              type: int
            numa_nodes_total:
              description: Number of online NUMA nodes, including CPU-less (GPU HBM, CXL) nodes.
              returned: always
              type: int
            l3_domains:
              description: Number of distinct L3 caches with usable CPUs; 0 when no L3 is exposed.
              returned: always
              type: int
        sockets:
          description: One entry per package, sorted by id.
          returned: always
          type: list
          elements: dict
          contains:
            id:
              description: C(physical_package_id) (negative ids, seen on arm64 without package info, become 0).
              returned: always
              type: int
            cpus:
              description: Usable CPUs of the package.
              returned: always
              type: str
            cores:
              description: Cores of the package with usable CPUs.
              returned: always
              type: int
        numa_nodes:
          description: One entry per online NUMA node (C(node/nodeN)), sorted by id; CPU-less nodes included.
          returned: always
          type: list
          elements: dict
          contains:
            id:
              description: Node id (ids can be sparse).
              returned: always
              type: int
            cpus:
              description: Usable CPUs of the node; empty string for CPU-less nodes.
              returned: always
              type: str
            memory_mib:
              description: Node C(MemTotal) in MiB (rounded down); null if the node has no meminfo.
              returned: always
              type: int
            distances:
              description:
                - The node's C(distance) row as a list of ints, in the same order as the
                  C(numa_nodes) list (ascending node id, the kernel's order). Position C(i) is
                  the distance to C(numa_nodes[i].id) - not to node id C(i) when ids are sparse.
              returned: always
              type: list
              elements: int
              sample: [10, 12, 12, 12, 32, 32, 32, 32]
        l3_domains:
          description: One entry per distinct L3 cache, sorted by first CPU.
          returned: always
          type: list
          elements: dict
          contains:
            index:
              description: Position in this list (0-based); Slurm's L3-as-socket numbering.
              returned: always
              type: int
            cpus:
              description: Usable CPUs sharing this L3.
              returned: always
              type: str
            cores:
              description: Cores with usable CPUs in this L3 domain.
              returned: always
              type: int
            socket:
              description: Package id of the domain's first CPU.
              returned: always
              type: int
            numa_nodes:
              description: Ids of the NUMA nodes the domain's CPUs belong to (more than one with Intel SNC).
              returned: always
              type: list
              elements: int
            cache_id:
              description: The cache's C(id) file, null on kernels without it.
              returned: always
              type: int
            size_kib:
              description: L3 size in KiB from the cache's C(size) file (98304 on Milan-X/Genoa-X).
              returned: always
              type: int
        slurm:
          description:
            - Slurm node figures for the physical topology, computed like C(slurmd -C)
              (integer division, see notes). C(Boards) is always 1. C(RealMemory) is MemTotal in MiB,
              before the C(slurm) role subtracts its reserve.
          returned: always
          type: dict
          contains:
            CPUs:
              description: Usable CPUs.
              returned: always
              type: int
            Boards:
              description: Always 1.
              returned: always
              type: int
            SocketsPerBoard:
              description: Packages with usable CPUs.
              returned: always
              type: int
            CoresPerSocket:
              description: cores // sockets.
              returned: always
              type: int
            ThreadsPerCore:
              description: CPUs // cores.
              returned: always
              type: int
            RealMemory:
              description: MemTotal in MiB.
              returned: always
              type: int
        slurm_l3_as_socket:
          description:
            - Same keys as C(slurm) with L3 domains as sockets (C(SocketsPerBoard) = L3 domains,
              C(CoresPerSocket) = cores // L3 domains), for C(SlurmdParameters=l3cache_as_socket).
            - Identical to C(slurm) when the host exposes no L3 cache.
          returned: always
          type: dict
        warnings:
          description: Fallbacks taken while reading a partial tree (also emitted as task warnings).
          returned: always
          type: list
          elements: str
"""

import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hpcai.cluster.plugins.module_utils.topology import (
    TopologyError,
    gather,
)


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", default="/"),
        ),
        supports_check_mode=True,
    )
    root = module.params["root"] or "/"
    try:
        fact = gather(root)
    except TopologyError as exc:
        module.fail_json(msg="cpu_topology: %s" % exc, root=root)
    except Exception as exc:  # any other problem must not end in a bare traceback
        module.fail_json(
            msg="cpu_topology: unexpected error while reading %s: %s: %s" % (root, type(exc).__name__, exc),
            root=root,
            exception=traceback.format_exc(),
        )
    for warning in fact["warnings"]:
        module.warn(warning)
    module.exit_json(changed=False, ansible_facts={"hpcai_cpu_topology": fact})


def main():
    run_module()


if __name__ == "__main__":
    main()
