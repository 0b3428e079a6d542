#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fabric_facts
short_description: Gather RDMA fabric facts (InfiniBand, RoCE) from sysfs
version_added: 0.1.0
description:
  - Finds the RDMA-capable network adapters of a node from PCI sysfs (the scanner of M(hpcai.cluster.pci_devices)),
    their RDMA devices and ports from C(<root>/sys/class/infiniband) and their network interfaces from
    C(<root>/sys/class/net), and returns the fact C(hpcai_fabric).
  - Adapters are listed whether or not their RDMA driver is loaded, with the kernel module that provides it, so a role
    can load the missing modules (RV(ansible_facts.hpcai_fabric.kernel_modules),
    RV(ansible_facts.hpcai_fabric.missing_rdma_drivers)).
  - Ports report the InfiniBand state, physical state, rate, LID and SM LID; RV(ansible_facts.hpcai_fabric.subnet_manager)
    tells whether a subnet manager serves the InfiniBand ports.
  - Interfaces are the IPoIB, RoCE and Ethernet interfaces of the adapters and RDMA devices, with their RDMA device and
    port, NUMA node, state, MTU, speed and IPoIB mode; IPoIB P_Key child interfaces are found through their parent.
  - No vendor tool (C(ibstat), C(ibv_devinfo), C(mst), C(lspci)) and no RDMA library is needed; facts can be gathered
    before the RDMA stack is installed.
  - Missing, unreadable or malformed sysfs files give null values and warnings, never a failure.
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
  - RDMA-capable adapters are every InfiniBand-class PCI function (0x0207), every Ethernet function with a hardware
    RDMA device, and Ethernet functions without one from NVIDIA/Mellanox (0x15b3, except Spectrum switches), Broadcom
    NetXtreme-C/E (C(bnxt_en)), Intel E810 (C(ice)) and X722, AWS EFA (0x1d0f 0xefa0-0xefa4), Marvell C(qede) and
    Chelsio C(cxgb4).
  - C(rdma_module) comes from the bound driver (C(mlx5_core) - C(mlx5_ib), C(mlx4_core) - C(mlx4_ib), C(bnxt_en) -
    C(bnxt_re), C(ice)/C(i40e) - C(irdma), C(efa) - C(efa), C(qede) - C(qedr), C(cxgb4) - C(iw_cxgb4)), from the family
    for an unbound function, and is null for a function bound to another driver (C(vfio-pci), handed to a virtual
    machine), which is not counted as missing its RDMA driver either.
  - Software RDMA devices (C(rdma_rxe) soft-RoCE, C(siw)) are reported with a null C(pci_address) and C(soft=true); they
    are not adapters and do not add kernel modules.
  - A netdev is tied to an RDMA port through the RoCE GID table (C(ports/<n>/gid_attrs/ndevs/0)), C(rdma_rxe)'s
    C(parent) file, or as the netdev of the same PCI function (C(dev_port) + 1 is the port). IPoIB child interfaces
    created with C(ip link add ... type ipoib) have no C(parent) file; their C(iflink) names the parent.
  - C(numa_node) is null where the kernel reports -1 (no proximity information).
  - Python 3.8+ on the target; no dependencies beyond Python.
seealso:
  - module: hpcai.cluster.pci_devices
  - name: InfiniBand sysfs ABI
    description: The C(/sys/class/infiniband) files (Documentation/ABI/stable/sysfs-class-infiniband).
    link: https://www.kernel.org/doc/Documentation/ABI/stable/sysfs-class-infiniband
  - name: IPoIB
    description: IPoIB interfaces, datagram and connected mode, P_Key child interfaces.
    link: https://docs.kernel.org/infiniband/ipoib.html
"""

EXAMPLES = r"""
- name: Gather RDMA fabric facts
  hpcai.cluster.fabric_facts:

- name: Show the InfiniBand ports and the subnet manager state
  ansible.builtin.debug:
    msg: >-
      {{ ansible_facts['hpcai_fabric']['counts']['ib_ports_active'] }} of
      {{ ansible_facts['hpcai_fabric']['counts']['ib_ports'] }} IB ports active,
      subnet manager {{ ansible_facts['hpcai_fabric']['subnet_manager'] }}

- name: Require an RDMA device on every RDMA-capable adapter
  ansible.builtin.assert:
    that: ansible_facts['hpcai_fabric']['missing_rdma_drivers'] | length == 0
    fail_msg: "load {{ ansible_facts['hpcai_fabric']['kernel_modules'] | join(', ') }}"

- name: Show the IPoIB interfaces (P_Key children left out) with their NUMA node
  ansible.builtin.debug:
    msg: "{{ item['name'] }}: {{ item['rdma_device'] }} port {{ item['port'] }}, NUMA node {{ item['numa_node'] }}"
  loop: >-
    {{ ansible_facts['hpcai_fabric']['interfaces'] | selectattr('kind', 'equalto', 'ipoib')
       | rejectattr('parent') | list }}
  loop_control:
    label: "{{ item['name'] }}"

- name: Read a copied tree
  hpcai.cluster.fabric_facts:
    root: /srv/snapshots/node042
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    hpcai_fabric:
      description: RDMA adapters, RDMA devices and their ports, RDMA interfaces and a summary.
      returned: always
      type: dict
      contains:
        rdma_sysfs:
          description: Whether C(<root>/sys/class/infiniband) exists (the RDMA core C(ib_core) is loaded).
          returned: always
          type: bool
          sample: true
        adapters:
          description: RDMA-capable PCI functions (see notes), loaded RDMA driver or not, sorted by PCI address.
          returned: always
          type: list
          elements: dict
          contains:
            pci_address:
              description: PCI address C(domain:bus:device.function).
              returned: always
              type: str
              sample: "0000:41:00.0"
            vendor:
              description: PCI vendor id.
              returned: always
              type: str
              sample: "0x15b3"
            device:
              description: PCI device id.
              returned: always
              type: str
              sample: "0x1021"
            model:
              description: Product name from the module's table (ConnectX, BlueField, NetXtreme-E, E810, EFA); null when unknown.
              returned: always
              type: str
              sample: ConnectX-7
            kind:
              description:
                - C(ib) (InfiniBand class or an InfiniBand port), C(roce) (RDMA over Converged Ethernet, also for a
                  RoCE family whose RDMA driver is not loaded) or C(ethernet) (iWARP, EFA, an Intel adapter without an
                  RDMA device).
              returned: always
              type: str
              sample: ib
            driver:
              description: Bound PCI driver; null when unbound.
              returned: always
              type: str
              sample: mlx5_core
            rdma_module:
              description: Kernel module that provides the adapter's RDMA device (see notes); null when unknown.
              returned: always
              type: str
              sample: mlx5_ib
            rdma_devices:
              description: Hardware RDMA devices of the function, natural-sorted.
              returned: always
              type: list
              elements: str
              sample: ["mlx5_0"]
            netdevs:
              description: Network interfaces of the function (IPoIB child interfaces excluded).
              returned: always
              type: list
              elements: str
              sample: ["ibp65s0"]
            numa_node:
              description: NUMA node; null when the kernel reports -1.
              returned: always
              type: int
              sample: 0
            local_cpus:
              description: The function's C(local_cpulist) as a Linux cpulist.
              returned: always
              type: str
              sample: "0-23,192-215"
            vf:
              description: True for an SR-IOV virtual function.
              returned: always
              type: bool
              sample: false
            physfn:
              description: PCI address of the physical function of a virtual function, else null.
              returned: always
              type: str
              sample: "0000:41:00.0"
        rdma_devices:
          description: One entry per C(sys/class/infiniband) device, natural-sorted by name.
          returned: always
          type: list
          elements: dict
          contains:
            name:
              description: RDMA device name.
              returned: always
              type: str
              sample: mlx5_0
            pci_address:
              description: PCI function of the device; null for software devices (rxe, siw) and devices without a PCI parent.
              returned: always
              type: str
              sample: "0000:41:00.0"
            node_type:
              description: Node type without its number (C(CA), C(RNIC) for iWARP, C(switch) ...); null when unreadable.
              returned: always
              type: str
              sample: CA
            fw_ver:
              description: Firmware version; null when the driver reports none.
              returned: always
              type: str
              sample: "28.42.1000"
            node_guid:
              description: Node GUID as the kernel prints it.
              returned: always
              type: str
              sample: "a088:c203:0045:6a00"
            numa_node:
              description: NUMA node of the PCI function (of the netdev's for a software device); null when unknown.
              returned: always
              type: int
              sample: 0
            ports:
              description: Ports sorted by number (from 1); empty when the C(ports) directory is unreadable (with a warning).
              returned: always
              type: list
              elements: dict
              contains:
                port:
                  description: Port number.
                  returned: always
                  type: int
                  sample: 1
                link_layer:
                  description: C(InfiniBand), C(Ethernet) or C(Unknown) (EFA); null when unreadable.
                  returned: always
                  type: str
                  sample: InfiniBand
                state:
                  description: Logical port state (C(DOWN), C(INIT), C(ARMED), C(ACTIVE) ...); null when unreadable.
                  returned: always
                  type: str
                  sample: ACTIVE
                phys_state:
                  description: Physical port state (C(LinkUp), C(Polling), C(Disabled) ...); null when unreadable.
                  returned: always
                  type: str
                  sample: LinkUp
                rate:
                  description: The C(rate) file as the kernel prints it; null when unreadable.
                  returned: always
                  type: str
                  sample: "400 Gb/sec (4X NDR)"
                rate_gbps:
                  description: Rate in Gb/s (2.5 for 1X SDR); null when not understood.
                  returned: always
                  type: float
                  sample: 400
                lid:
                  description: Port LID (InfiniBand ports only, else null).
                  returned: always
                  type: int
                  sample: 17
                sm_lid:
                  description: LID of the subnet manager (InfiniBand ports only, else null); 0 when no SM has configured the port.
                  returned: always
                  type: int
                  sample: 1
                netdev:
                  description: Interface of the port (IPoIB parent interface or RoCE netdev); null when none is found.
                  returned: always
                  type: str
                  sample: ibp65s0
            kind:
              description: C(ib), C(roce) or C(ethernet) from the ports' link layer and node type; null without a readable port.
              returned: always
              type: str
              sample: ib
            soft:
              description: True for a device without a PCI function (C(rdma_rxe), C(siw)).
              returned: always
              type: bool
              sample: false
        interfaces:
          description: Network interfaces of the adapters and RDMA devices (not C(lo), bridges or other virtual ones), natural-sorted.
          returned: always
          type: list
          elements: dict
          contains:
            name:
              description: Interface name.
              returned: always
              type: str
              sample: ibp65s0
            kind:
              description: C(ipoib) (type 32), C(roce) (the netdev of a RoCE port) or C(ethernet).
              returned: always
              type: str
              sample: ipoib
            rdma_device:
              description: RDMA device the interface belongs to; null when none.
              returned: always
              type: str
              sample: mlx5_0
            port:
              description: Port of the RDMA device; null when it cannot be told.
              returned: always
              type: int
              sample: 1
            pci_address:
              description: PCI function of the interface (of the parent for an IPoIB child); null for virtual ones.
              returned: always
              type: str
              sample: "0000:41:00.0"
            numa_node:
              description: NUMA node of that PCI function; null when unknown.
              returned: always
              type: int
              sample: 0
            operstate:
              description: Operational state (C(up), C(down), C(unknown) ...).
              returned: always
              type: str
              sample: up
            mtu:
              description: MTU.
              returned: always
              type: int
              sample: 2044
            mac:
              description: Hardware address (20 bytes for IPoIB).
              returned: always
              type: str
              sample: "00:00:10:87:fe:80:00:00:00:00:00:00:a0:88:c2:03:00:45:6a:00"
            speed_mbps:
              description: Link speed in Mb/s; null when unknown (-1) or unreadable (no link).
              returned: always
              type: int
              sample: 400000
            ipoib_mode:
              description: IPoIB C(datagram) or C(connected); null for other interfaces and where the file is missing.
              returned: always
              type: str
              sample: datagram
            vf:
              description: True when the interface belongs to an SR-IOV virtual function.
              returned: always
              type: bool
              sample: false
            parent:
              description: Parent interface of an IPoIB P_Key child interface, else null.
              returned: always
              type: str
              sample: ibp65s0
        counts:
          description:
            - Numbers of adapters, RDMA devices, InfiniBand ports (and those ACTIVE) and RoCE ports (Ethernet link layer on a
              node type other than RNIC; and those ACTIVE).
          returned: always
          type: dict
          sample: {"adapters": 4, "rdma_devices": 4, "ib_ports": 4, "ib_ports_active": 4, "roce_ports": 0, "roce_ports_active": 0}
        has_infiniband:
          description: True when an adapter is of kind C(ib) or a port has link layer InfiniBand.
          returned: always
          type: bool
          sample: true
        has_roce:
          description: True when an adapter is of kind C(roce) or there is a RoCE port.
          returned: always
          type: bool
          sample: false
        subnet_manager:
          description:
            - C(present) when an InfiniBand port is ACTIVE or ARMED with a non-zero SM LID, C(absent) when an InfiniBand
              port is physically up (C(LinkUp)) but INIT or with SM LID 0 and none is active, else C(unknown) (no
              InfiniBand port with a link).
          returned: always
          type: str
          sample: present
        kernel_modules:
          description:
            - Kernel modules the RDMA adapters need, sorted - their C(rdma_module), C(ib_uverbs) and C(rdma_ucm), and
              C(ib_umad) and C(ib_ipoib) with InfiniBand. Empty without an RDMA-capable adapter.
          returned: always
          type: list
          elements: str
          sample: ["ib_ipoib", "ib_umad", "ib_uverbs", "mlx5_ib", "rdma_ucm"]
        missing_rdma_drivers:
          description: PCI addresses of adapters without an RDMA device that are unbound or bound to their native driver.
          returned: always
          type: list
          elements: str
          sample: []
        warnings:
          description: Problems found (unreadable port state, rate not understood, no ports directory ...); also emitted as task warnings.
          returned: always
          type: list
          elements: str
          sample: []
"""

import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hpcai.cluster.plugins.module_utils.fabric import gather
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
        module.fail_json(msg="fabric_facts: %s" % root_problem(root), root=root)
    try:
        fact = gather(root)
    except Exception as exc:  # the scanner should never raise: report it without a bare traceback
        module.fail_json(
            msg="fabric_facts: unexpected error while reading %s: %s: %s" % (root, type(exc).__name__, exc),
            root=root,
            exception=traceback.format_exc(),
        )
    for warning in fact["warnings"]:
        module.warn(warning)
    module.exit_json(changed=False, ansible_facts={"hpcai_fabric": fact})


def main():
    run_module()


if __name__ == "__main__":
    main()
