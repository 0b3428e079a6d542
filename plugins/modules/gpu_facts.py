#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gpu_facts
short_description: Gather GPU facts and the Slurm GRES values for them
version_added: 0.1.0
description:
  - Finds the GPUs and NVIDIA NVSwitches of a node from PCI sysfs (the scanner of M(hpcai.cluster.pci_devices)),
    places each GPU on the CPU topology (M(hpcai.cluster.cpu_topology)) and returns the fact C(hpcai_gpu_facts)
    with the model, the Slurm GRES type, the NUMA node, the local CPUs and L3 domains, the bound driver and the
    device file of every GPU.
  - Computes what the C(slurm) role needs, the C(NodeName) C(Gres=) value and one C(gres.conf) line per GPU
    (C(Name=gpu Type=... File=... Cores=...)), with C(Cores=) in Slurm abstract core ids (numbered like C(slurmd)
    does, also for C(SlurmdParameters=l3cache_as_socket)), and the C(AutoDetect) choice.
  - No vendor tool (C(nvidia-smi), C(rocm-smi), C(lspci)) and no GPU driver is needed; facts can be gathered before
    the drivers are installed.
  - A host without C(<root>/sys/bus/pci) (some containers, ARM virtual machines) gives no GPUs; the module does not fail.
  - The module only reads files; it never changes the target.
author:
  - hpcai.cluster developers (@hpcai)
options:
  root:
    description:
      - Directory that contains the C(sys/), C(proc/), C(usr/) and C(opt/) trees to read.
      - Use a different root to read a copied or synthetic tree (tests, offline analysis).
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
  - GPUs are PCI functions of class 0x0300 (VGA) or 0x0302 (3D controller) from NVIDIA or AMD, 0x0302/0x0380
    from Intel, 0x0380 from NVIDIA/AMD, and 0x1200 (processing accelerator, the AMD Instinct MI300 series) from AMD.
    BMC consoles and Intel integrated graphics are not GPUs.
  - SR-IOV virtual functions (MI300X VFs, vGPU VFs) belong to virtual machines; they are not counted as GPUs of the
    node and are listed in RV(ansible_facts.hpcai_gpu_facts.vfs).
  - NVIDIA device files come from C(/proc/driver/nvidia/gpus/<address>/information) (C(Device Minor)) when the driver
    is loaded; before that they are predicted as the position among the NVIDIA GPUs in PCI order that are not bound
    to another driver. An NVIDIA GPU bound to C(vfio-pci) or C(nouveau) has no C(/dev/nvidiaN).
    AMD and Intel GPUs use C(/dev/dri/renderD<minor>), present only while C(amdgpu)/C(i915)/C(xe) is bound.
  - Slurm refuses a C(gres.conf) where some C(gpu) records have C(File=) and others do not. When only some GPUs have a
    device file, the others are left out of the Slurm values, with a warning.
  - C(Cores=) is left out for a GPU without NUMA information (C(numa_node) -1) and for a GPU local to every CPU
    (one NUMA node), where there is no binding to express.
  - Inside a container whose cpuset restricts the CPUs, C(Cores=) is numbered on the host's CPUs (what C(slurmd)'s
    hwloc sees), while C(l3_domains) refers to the same topology as M(hpcai.cluster.cpu_topology) returns.
  - Python 3.8+ on the target; no dependencies beyond Python.
seealso:
  - module: hpcai.cluster.pci_devices
  - module: hpcai.cluster.cpu_topology
  - module: hpcai.cluster.cgroup_partition
  - name: gres.conf
    description: Slurm's GRES configuration file, C(Name), C(Type), C(File), C(Cores) and C(AutoDetect).
    link: https://slurm.schedmd.com/gres.conf.html
  - name: PCI ID database
    description: Source of the device ids and model names in the model table.
    link: https://pci-ids.ucw.cz/
"""

EXAMPLES = r"""
- name: Gather GPU facts
  hpcai.cluster.gpu_facts:

- name: Show the NodeName Gres= value and the gres.conf lines
  ansible.builtin.debug:
    msg:
      - "Gres={{ ansible_facts['hpcai_gpu_facts']['slurm']['gres'] }}"
      - "{{ ansible_facts['hpcai_gpu_facts']['slurm']['conf_lines'] }}"

- name: Require eight H100 on the HGX nodes
  ansible.builtin.assert:
    that:
      - ansible_facts['hpcai_gpu_facts']['counts']['gpus'] == 8
      - ansible_facts['hpcai_gpu_facts']['gpus'] | map(attribute='gres_type') | unique | list == ['h100']

- name: Read a copied tree
  hpcai.cluster.gpu_facts:
    root: /srv/snapshots/node042
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    hpcai_gpu_facts:
      description: GPUs, NVSwitches and the Slurm GRES values of the node.
      returned: always
      type: dict
      contains:
        gpus:
          description: One entry per GPU (SR-IOV virtual functions excluded), sorted by PCI address.
          returned: always
          type: list
          elements: dict
          contains:
            index:
              description: Position in this list, 0 to n-1.
              returned: always
              type: int
              sample: 0
            pci_address:
              description: PCI address C(domain:bus:device.function).
              returned: always
              type: str
              sample: "0000:05:00.0"
            vendor:
              description: C(nvidia), C(amd) or C(intel).
              returned: always
              type: str
              sample: nvidia
            vendor_id:
              description: PCI vendor id.
              returned: always
              type: str
              sample: "0x10de"
            device_id:
              description: PCI device id.
              returned: always
              type: str
              sample: "0x2330"
            model:
              description: Product name from the module's table of data-centre GPUs (PCI ID database names); null when unknown.
              returned: always
              type: str
              sample: H100 SXM5 80GB
            gres_type:
              description:
                - Slurm GRES type, lower case, one per product family (C(h100), C(a100), C(l40s), C(mi300x) ...),
                  chosen to be a substring of the name Slurm's AutoDetect derives from NVML or ROCm SMI.
                - Unknown devices get C(<vendor>_<device id>), for example C(nvidia_2330).
              returned: always
              type: str
              sample: h100
            numa_node:
              description: NUMA node the GPU is attached to; null when the kernel reports -1.
              returned: always
              type: int
              sample: 0
            local_cpus:
              description: The GPU's local CPUs as a Linux cpulist (all CPUs when C(numa_node) is null).
              returned: always
              type: str
              sample: "0-95,192-287"
            l3_domains:
              description:
                - Indexes of the L3 domains of the C(hpcai_cpu_topology) fact (its C(l3_domains) list, see
                  M(hpcai.cluster.cpu_topology)) with CPUs in C(local_cpus); all L3 domains when C(numa_node) is null.
              returned: always
              type: list
              elements: int
              sample: [0, 1, 2]
            driver:
              description: Bound kernel driver (C(nvidia), C(amdgpu), C(vfio-pci) ...); null when none is bound.
              returned: always
              type: str
              sample: nvidia
            device_file:
              description: C(/dev/nvidiaN) (NVIDIA) or C(/dev/dri/renderDN) (AMD, Intel); null when there is none.
              returned: always
              type: str
              sample: /dev/nvidia0
        nvswitches:
          description: NVIDIA NVSwitches (PCI class 0x0680), sorted by PCI address.
          returned: always
          type: list
          elements: dict
          contains:
            pci_address:
              description: PCI address.
              returned: always
              type: str
              sample: "0000:0b:00.0"
            numa_node:
              description: NUMA node; null when the kernel reports -1.
              returned: always
              type: int
              sample: 0
        counts:
          description: Number of GPUs and NVSwitches.
          returned: always
          type: dict
          sample: {"gpus": 8, "nvswitches": 4}
        vendors:
          description: Sorted vendors of the GPUs.
          returned: always
          type: list
          elements: str
          sample: ["nvidia"]
        nvml:
          description:
            - True when C(libnvidia-ml.so.1) exists (links followed) in C(/usr/lib64), C(/usr/lib/x86_64-linux-gnu),
              C(/usr/lib/aarch64-linux-gnu) or C(/usr/lib) below root.
          returned: always
          type: bool
          sample: true
        rocm_smi:
          description: True when C(librocm_smi64.so*) exists in those directories or in C(/opt/rocm/lib), C(/opt/rocm/lib64).
          returned: always
          type: bool
          sample: false
        slurm:
          description: Slurm values for the node.
          returned: always
          type: dict
          contains:
            gres:
              description:
                - C(Gres=) value of the C(NodeName) line, C(gpu:<type>:<count>) per type, types sorted and
                  comma-joined; empty without GPUs.
              returned: always
              type: str
              sample: "gpu:h100:8"
            conf_lines:
              description:
                - gres.conf lines, one per GPU, without C(NodeName=). C(Cores=) holds Slurm abstract core ids;
                  C(File=) and C(Cores=) are left out where they do not apply (see notes).
              returned: always
              type: list
              elements: str
              sample: ["Name=gpu Type=h100 File=/dev/nvidia0 Cores=0-95"]
            conf_lines_l3_as_socket:
              description:
                - The same lines for C(SlurmdParameters=l3cache_as_socket). slurmd numbers cores in hwloc's tree order
                  in both layouts, so the core ids are the same as in C(conf_lines); the key exists so the role does not
                  have to know that.
              returned: always
              type: list
              elements: str
              sample: ["Name=gpu Type=h100 File=/dev/nvidia0 Cores=0-95"]
            autodetect:
              description:
                - gres.conf C(AutoDetect) value, C(nvml) when RV(ansible_facts.hpcai_gpu_facts.nvml) and every GPU is
                  NVIDIA, C(rsmi) when RV(ansible_facts.hpcai_gpu_facts.rocm_smi) and every GPU is AMD, else C(off).
              returned: always
              type: str
              sample: nvml
        vfs:
          description: SR-IOV virtual functions of GPUs, not counted as GPUs.
          returned: always
          type: list
          elements: dict
          sample: [{"pci_address": "0000:a1:00.1", "physfn": "0000:a1:00.0", "vendor": "amd", "device_id": "0x74b5"}]
        pci_sysfs:
          description: Whether C(<root>/sys/bus/pci/devices) exists.
          returned: always
          type: bool
          sample: true
        warnings:
          description: Problems found (GPUs without a device file, CPU topology unreadable ...); also emitted as task warnings.
          returned: always
          type: list
          elements: str
          sample: []
"""

import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hpcai.cluster.plugins.module_utils.gpu import gather
from ansible_collections.hpcai.cluster.plugins.module_utils.topology import root_problem


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", default="/"),
        ),
        supports_check_mode=True,
    )
    root = module.params["root"] or "/"
    if root_problem(root):
        module.fail_json(msg="gpu_facts: %s" % root_problem(root), root=root)
    try:
        fact = gather(root)
    except Exception as exc:  # the scanners should never raise: report it without a bare traceback
        module.fail_json(
            msg="gpu_facts: unexpected error while reading %s: %s: %s" % (root, type(exc).__name__, exc),
            root=root,
            exception=traceback.format_exc(),
        )
    for warning in fact["warnings"]:
        module.warn(warning)
    module.exit_json(changed=False, ansible_facts={"hpcai_gpu_facts": fact})


def main():
    run_module()


if __name__ == "__main__":
    main()
