#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: pci_devices
short_description: Gather GPUs, NVSwitches and network adapters from PCI sysfs
version_added: 0.1.0
description:
  - Scans C(<root>/sys/bus/pci/devices/*) and returns the GPUs, NVIDIA NVSwitches, Ethernet and
    InfiniBand adapters with their PCI address, vendor, device and class codes, the NUMA node they
    are attached to, their local CPUs and the kernel names bound to them (network interfaces,
    InfiniBand/RDMA devices, DRM cards).
  - The result is meant for placing devices on the CPU topology (see M(hpcai.cluster.cpu_topology)
    and the P(hpcai.cluster.topology_map#filter) filter) and as the base of GPU and fabric facts.
  - Devices are classified by PCI class code and vendor, see O(kinds). No C(pci.ids) database and
    no vendor tool (C(nvidia-smi), C(lspci)) is used.
  - A host without C(<root>/sys/bus/pci) (some containers, ARM virtual machines with virtio-mmio)
    gives an empty list and RV(pci_sysfs=false); the module does not fail.
  - The module only reads files; it never changes the target.
author:
  - hpcai.cluster developers (@hpcai)
options:
  root:
    description:
      - Directory that contains the C(sys/) tree to read.
      - Use a different root to read a copied or synthetic tree (tests, offline analysis).
    type: path
    default: /
  kinds:
    description:
      - Kinds of devices to return.
      - C(gpu) - class 0x0300 (VGA) from NVIDIA (0x10de) or AMD (0x1002); class 0x0302 (3D controller)
        or 0x0380 (display, other) from NVIDIA, AMD or Intel (0x8086); class 0x1200 (processing
        accelerator) from AMD, which is how the Instinct MI300 series reports itself.
        Intel 0x0300 (integrated graphics) and BMC consoles (ASPEED, Matrox) are not GPUs.
      - C(nvswitch) - NVIDIA class 0x0680 (bridge, other).
      - C(nic) - class 0x0200 (Ethernet); RV(ansible_facts.hpcai_pci_devices[].roce) is true when
        the adapter also has an RDMA device.
      - C(ib) - class 0x0207 (InfiniBand).
      - C(other) - every other PCI function (bridges, storage, USB, BMC VGA ...).
    type: list
    elements: str
    choices: [gpu, nvswitch, nic, ib, other]
    default: [gpu, nvswitch, nic, ib]
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
  - Names are found below the device (C(<dev>/net/*), C(<dev>/infiniband/*), C(<dev>/drm/card*)) and
    through C(sys/class/net), C(sys/class/infiniband) and C(sys/class/drm); an interface of a child
    device (virtio-net C(virtioN/net/eth0)) belongs to the nearest PCI device above it.
  - C(numa_node) is null where the kernel reports -1 (no proximity information from the firmware,
    common on single-socket boards) or has no NUMA support; C(local_cpus) is then all online CPUs.
  - An SR-IOV virtual function (it has a C(physfn) link) is returned with C(vf=true) and the
    address of its physical function.
  - Python 3.8+ on the target; no dependencies beyond Python.
seealso:
  - module: hpcai.cluster.cpu_topology
  - name: Linux PCI sysfs
    description: Kernel documentation of the PCI sysfs files.
    link: https://www.kernel.org/doc/html/latest/PCI/sysfs-pci.html
"""

EXAMPLES = r"""
- name: Gather GPUs, NVSwitches and NICs
  hpcai.cluster.pci_devices:

- name: Show the GPUs and their NUMA nodes
  ansible.builtin.debug:
    msg: "{{ ansible_facts['hpcai_pci_devices'] | selectattr('kind', 'equalto', 'gpu') | map(attribute='numa_node') | list }}"

- name: Only InfiniBand adapters
  hpcai.cluster.pci_devices:
    kinds: [ib]
  register: ib

- name: Require eight GPUs
  ansible.builtin.assert:
    that: (ansible_facts['hpcai_pci_devices'] | selectattr('kind', 'equalto', 'gpu') | list | length) == 8

- name: Place the devices on the topology map
  ansible.builtin.debug:
    msg: "{{ ansible_facts['hpcai_cpu_topology'] | hpcai.cluster.topology_map(devices=ansible_facts['hpcai_pci_devices']) }}"
"""

RETURN = r"""
counts:
  description:
    - Number of returned devices per requested kind (0 when none), and C(vf), the number of
      SR-IOV virtual functions among them.
  returned: always
  type: dict
  sample: {"gpu": 8, "nvswitch": 4, "nic": 2, "ib": 8, "vf": 0}
pci_sysfs:
  description: Whether C(<root>/sys/bus/pci/devices) exists. False in some containers and ARM virtual machines.
  returned: always
  type: bool
  sample: true
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    hpcai_pci_devices:
      description: One entry per PCI function of the requested kinds, sorted by PCI address.
      returned: always
      type: list
      elements: dict
      contains:
        address:
          description: PCI address C(domain:bus:device.function).
          returned: always
          type: str
          sample: "0000:41:00.0"
        vendor:
          description: PCI vendor id, C(0x) and 4 hex digits; null when unreadable.
          returned: always
          type: str
          sample: "0x10de"
        device:
          description: PCI device id, C(0x) and 4 hex digits; null when unreadable.
          returned: always
          type: str
          sample: "0x2330"
        class:
          description: PCI class code (base class, subclass, programming interface), C(0x) and 6 hex digits.
          returned: always
          type: str
          sample: "0x030200"
        kind:
          description: C(gpu), C(nvswitch), C(nic), C(ib) or C(other), see O(kinds).
          returned: always
          type: str
          sample: gpu
        numa_node:
          description: NUMA node the device is attached to; null when the kernel reports -1 or none.
          returned: always
          type: int
          sample: 1
        local_cpus:
          description: The device's C(local_cpulist) as a Linux cpulist; null when unreadable.
          returned: always
          type: str
          sample: "24-47,216-239"
        names:
          description:
            - Kernel names bound to the device, most specific first - for C(ib) the RDMA device then
              the IPoIB interfaces, for C(nic) the interfaces then the RDMA device, for C(gpu) the DRM cards.
          returned: always
          type: list
          elements: str
          sample: ["mlx5_0", "ibp6s0"]
        vf:
          description: True for an SR-IOV virtual function.
          returned: always
          type: bool
          sample: false
        physfn:
          description: Address of the physical function of a virtual function, else null.
          returned: always
          type: str
          sample: "0000:41:00.0"
        roce:
          description: True for an Ethernet adapter (C(nic)) that also has an RDMA device (RoCE).
          returned: always
          type: bool
          sample: false
        driver:
          description: Name of the bound kernel driver (C(nvidia), C(amdgpu), C(mlx5_core), C(vfio-pci) ...); null when unbound.
          returned: always
          type: str
          sample: mlx5_core
        netdevs:
          description: Network interfaces of the device.
          returned: always
          type: list
          elements: str
          sample: ["ibp6s0"]
        ibdevs:
          description: InfiniBand / RDMA devices of the device.
          returned: always
          type: list
          elements: str
          sample: ["mlx5_0"]
        drm:
          description: DRM cards of the device.
          returned: always
          type: list
          elements: str
          sample: ["card1"]
"""

import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hpcai.cluster.plugins.module_utils.pci import (
    DEFAULT_KINDS,
    KINDS,
    count_by_kind,
    has_pci,
    scan,
)
from ansible_collections.hpcai.cluster.plugins.module_utils.topology import SysfsReader, reader_problems, root_problem


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", default="/"),
            kinds=dict(type="list", elements="str", choices=list(KINDS), default=list(DEFAULT_KINDS)),
        ),
        supports_check_mode=True,
    )
    root = module.params["root"] or "/"
    kinds = module.params["kinds"]
    if root_problem(root):
        module.fail_json(msg="pci_devices: %s" % root_problem(root), root=root)
    warnings = []
    try:
        reader = SysfsReader(root)
        devices = scan(reader, kinds, warnings)
        present = has_pci(reader)
        warnings.extend(reader_problems(reader))
    except Exception as exc:  # the scanner should never raise: report it without a bare traceback
        module.fail_json(
            msg="pci_devices: unexpected error while reading %s: %s: %s" % (root, type(exc).__name__, exc),
            root=root,
            exception=traceback.format_exc(),
        )
    for warning in warnings:
        module.warn(warning)
    module.exit_json(
        changed=False,
        pci_sysfs=present,
        counts=count_by_kind(devices, kinds),
        ansible_facts={"hpcai_pci_devices": devices},
    )


def main():
    run_module()


if __name__ == "__main__":
    main()
