"""fabric role logic that lives in Jinja (vars/main.yml, tasks/*.yml).

* Address placement (__fabric_addresses): interface chosen by kind and port
  among physical functions, explicit interface, host index from the address
  group, fabric_host_index and fabric_addresses host vars, hosts outside the
  group, errors from the allocation (subnet too small, colliding override).
* Subnet manager decision (__fabric_foreign_sm, __fabric_opensm_wanted) for
  a switch-managed fabric, our own opensm as master, a fabric without SM.
* Kernel modules and packages by hardware, RoCE QoS port selection.
* The ibstat parser of tasks/verify.yml on real ibstat output, and the
  ib_write_bw result parser of tasks/perftest.yml.
* Preflight + detection through ansible-playbook on localhost against
  synthetic sysfs trees (tests/sysfs_gen.py): bad input fails before any
  change with messages naming the variable.
"""
from __future__ import annotations

import copy
import os
import sys

import pytest
import yaml

from render_helpers import ROLES_DIR, evaluate, role_variables

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sysfs_gen as gen  # noqa: E402
from test_render import FABRIC_FACT  # noqa: E402
from test_role_specs import PREFLIGHT_PLAY, _run_playbook  # noqa: E402

ROLE = ROLES_DIR / "fabric"
IB_NET = {"name": "ib", "kind": "ipoib", "cidr": "10.20.0.0/16", "offset": 10}
ROCE_NET = {"name": "roce", "kind": "roce", "cidr": "10.30.0.0/24"}


def _fact(**changes):
    fact = copy.deepcopy(FABRIC_FACT)
    fact.update(changes)
    return fact


def _vars(host="node1", fact=None, overrides=None, os_key="rocky9"):
    ov = {"fabric_networks": [IB_NET, ROCE_NET]}
    ov.update(overrides or {})
    fixtures = {"__fabric_facts": FABRIC_FACT if fact is None else fact}
    return role_variables("fabric", os_key, host, ov, fixtures)


def _detect_task(name):
    return next(t for t in yaml.safe_load((ROLE / "tasks" / "detect.yml").read_text()) if t["name"] == name)


def _allocate(variables):
    """tasks/detect.yml's run_once loop: __fabric_alloc built network by network."""
    expr = _detect_task("Allocate the fabric addresses")["ansible.builtin.set_fact"]["__fabric_alloc"]
    alloc = {}
    for index, item in enumerate(variables["fabric_networks"]):
        alloc = evaluate(expr, dict(variables, item=item, index=index, __fabric_alloc=alloc))
    return alloc


def _addresses(host="node1", **kw):
    v = _vars(host, **kw)
    return evaluate("{{ __fabric_addresses }}", dict(v, __fabric_alloc=_allocate(v)))


# ---------------------------------------------------------------- addresses
def test_host_index_is_the_position_in_the_address_group():
    # render_helpers' inventory: head1, node1, node2 in this order
    got = {h: [a["address"] for a in _addresses(h)] for h in ("head1", "node1", "node2")}
    assert got == {"head1": ["10.20.0.10", "10.30.0.1"], "node1": ["10.20.0.11", "10.30.0.2"],
                   "node2": ["10.20.0.12", "10.30.0.3"]}


def test_interface_by_kind_and_port():
    ib, roce = _addresses()
    assert (ib["interface"], ib["kind"], ib["prefix"], ib["ipoib_mode"], ib["present"]) == \
        ("ibp6s0", "ipoib", 16, "datagram", True)
    assert (roce["interface"], roce["ipoib_mode"], roce["mtu"]) == ("ens41f0np0", None, None)


def test_second_port_and_vfs_are_skipped():
    fact = _fact()
    vf = dict(fact["interfaces"][1], name="ens41f0v0", vf=True, pci_address="0000:41:00.2")
    second = dict(fact["interfaces"][1], name="ens41f1np1", pci_address="0000:41:00.1")
    fact["interfaces"] = [fact["interfaces"][0], vf, fact["interfaces"][1], second]
    roce = dict(ROCE_NET, port=1)
    got = _addresses(fact=fact, overrides={"fabric_networks": [roce]})
    assert [a["interface"] for a in got] == ["ens41f1np1"]


def test_no_interface_of_that_kind_keeps_the_address_reserved():
    fact = _fact(interfaces=[FABRIC_FACT["interfaces"][1]])
    ib = _addresses(fact=fact)[0]
    assert ib["interface"] == "" and ib["address"] == "10.20.0.11" and ib["present"] is False


def test_explicit_interface_even_if_absent():
    ib = _addresses(overrides={"fabric_networks": [dict(IB_NET, interface="ib0", ipoib_mode="connected",
                                                        mtu=65520)]})[0]
    assert (ib["interface"], ib["present"], ib["ipoib_mode"], ib["mtu"]) == ("ib0", False, "connected", 65520)


def test_host_index_and_address_overrides():
    per_host = {"node2": {"fabric_host_index": 100, "fabric_addresses": {"roce": "10.30.0.200"}}}
    got = _addresses("node2", overrides={"__hostvars__": per_host})
    assert [a["address"] for a in got] == ["10.20.0.110", "10.30.0.200"]
    # the others keep their places
    assert [a["address"] for a in _addresses("node1", overrides={"__hostvars__": per_host})] == \
        ["10.20.0.11", "10.30.0.2"]


def test_host_outside_the_address_group_gets_nothing():
    assert _addresses("head1", overrides={"fabric_address_group": "compute"}) == []
    got = _addresses("node1", overrides={"fabric_address_group": "compute"})
    assert [a["address"] for a in got] == ["10.20.0.10", "10.30.0.1"]


@pytest.mark.parametrize("networks,per_host,needles", [
    ([dict(ROCE_NET, cidr="10.30.0.0/30")], {}, ["fabric_networks[0].cidr (roce)", "need a /29"]),
    ([ROCE_NET], {"node1": {"fabric_addresses": {"roce": "10.30.0.3"}}}, ["10.30.0.3", "node1", "node2"]),
    ([ROCE_NET], {"node1": {"fabric_addresses": {"roce": "10.99.0.3"}}}, ["10.99.0.3", "fabric_networks[0].cidr"]),
])
def test_allocation_errors_name_the_variable(networks, per_host, needles):
    with pytest.raises(Exception) as exc:
        _addresses(overrides={"fabric_networks": networks, "__hostvars__": per_host})
    for needle in needles:
        assert needle in str(exc.value), str(exc.value)


# ---------------------------------------------------------------- subnet manager
def _sm(state="ACTIVE", lid=5, sm_lid=1, sm_host=True, mode="auto"):
    fact = _fact()
    fact["rdma_devices"][0]["ports"][0].update(state=state, lid=lid, sm_lid=sm_lid)
    ov = {"fabric_opensm": mode, "fabric_opensm_group": "compute" if sm_host else "nobody"}
    v = _vars("node1", fact=fact, overrides=ov)
    return evaluate("{{ __fabric_foreign_sm }}", v), evaluate("{{ __fabric_opensm_wanted }}", v)


def test_switch_managed_fabric_leaves_opensm_off():
    assert _sm(sm_lid=1, lid=5) == (True, False)


def test_our_own_opensm_stays_on():
    assert _sm(sm_lid=5, lid=5) == (False, True)


def test_no_subnet_manager_starts_opensm_on_the_sm_host_only():
    assert _sm(state="INIT", lid=0, sm_lid=0) == (False, True)
    assert _sm(state="INIT", lid=0, sm_lid=0, sm_host=False) == (False, False)


def test_opensm_modes():
    assert _sm(mode="enabled")[1] is True
    assert _sm(state="INIT", lid=0, sm_lid=0, mode="disabled")[1] is False


def test_no_ib_ports_no_opensm():
    fact = _fact(rdma_devices=[FABRIC_FACT["rdma_devices"][1]])
    v = _vars(fact=fact, overrides={"fabric_opensm": "enabled", "fabric_opensm_group": "compute"})
    assert evaluate("{{ __fabric_opensm_wanted }}", v) is False


# ---------------------------------------------------------------- modules, packages, QoS
def test_kernel_modules_only_with_hardware():
    v = _vars(overrides={"fabric_kernel_modules_extra": ["ib_srp"]})
    assert evaluate("{{ __fabric_kernel_modules }}", v) == \
        ["ib_ipoib", "ib_srp", "ib_umad", "ib_uverbs", "mlx5_ib", "rdma_ucm"]
    none = _fact(adapters=[], rdma_devices=[], interfaces=[], kernel_modules=[])
    v = _vars(fact=none, overrides={"fabric_kernel_modules_extra": ["x"]})
    assert evaluate("{{ __fabric_kernel_modules }}", v) == []


@pytest.mark.parametrize("os_key,expected", [
    ("rocky9", ["rdma-core", "libibverbs", "libibverbs-utils", "infiniband-diags", "librdmacm", "librdmacm-utils",
                "ucx", "ucx-ib", "ucx-rdmacm", "libfabric", "perftest"]),
    ("debian12", ["rdma-core", "ibverbs-providers", "ibverbs-utils", "infiniband-diags", "rdmacm-utils",
                  "ucx-utils", "libucx0", "libfabric-bin", "libfabric1", "perftest"]),
])
def test_inbox_packages(os_key, expected):
    v = _vars(os_key=os_key, overrides={"fabric_networks": []})
    assert evaluate("{{ __fabric_packages }}", v) == expected


def test_no_hardware_no_packages_when_asked():
    none = _fact(adapters=[], rdma_devices=[], interfaces=[], kernel_modules=[])
    v = _vars(fact=none, overrides={"fabric_install_without_hardware": False, "fabric_networks": []})
    assert evaluate("{{ __fabric_packages }}", v) == []


def test_vendor_stack_replaces_the_inbox_packages():
    v = _vars(overrides={"fabric_stack": "doca", "fabric_networks": [], "fabric_extra_packages": ["mstflint"]})
    assert evaluate("{{ __fabric_packages }}", v) == ["doca-ofed", "mstflint"]


def test_roce_qos_only_on_mellanox_physical_functions():
    fact = _fact()
    vf = dict(fact["interfaces"][1], name="ens41f0v0", vf=True)
    brcm = dict(fact["interfaces"][1], name="ens7np0", pci_address="0000:07:00.0")
    fact["interfaces"] += [vf, brcm]
    fact["adapters"].append(dict(fact["adapters"][1], pci_address="0000:07:00.0", vendor="0x14e4",
                                 driver="bnxt_en"))
    v = _vars(fact=fact, overrides={"fabric_roce_lossless": True})
    assert [i["name"] for i in evaluate("{{ __fabric_roce_qos_interfaces }}", v)] == ["ens41f0np0"]
    assert evaluate("{{ __fabric_roce_qos_on }}", v) is True
    assert evaluate("{{ __fabric_roce_tos }}", v) == 106


# ---------------------------------------------------------------- ibstat / ib_write_bw parsers
IBSTAT = """\
CA 'mlx5_0'
\tCA type: MT4129
\tNumber of ports: 1
\tFirmware version: 28.39.1002
\tHardware version: 0
\tNode GUID: 0xa088c20300123456
\tSystem image GUID: 0xa088c20300123456
\tPort 1:
\t\tState: Active
\t\tPhysical state: LinkUp
\t\tRate: 400
\t\tBase lid: 5
\t\tLMC: 0
\t\tSM lid: 1
\t\tCapability mask: 0xa751e848
\t\tPort GUID: 0xa088c20300123456
\t\tLink layer: InfiniBand
CA 'mlx5_1'
\tCA type: MT4129
\tNumber of ports: 1
\tPort 1:
\t\tState: Initializing
\t\tPhysical state: LinkUp
\t\tRate: 400
\t\tBase lid: 65535
\t\tSM lid: 0
\t\tLink layer: InfiniBand
CA 'mlx5_2'
\tCA type: MT4125
\tNumber of ports: 1
\tPort 1:
\t\tState: Down
\t\tPhysical state: Disabled
\t\tRate: 40
\t\tLink layer: InfiniBand
CA 'mlx5_3'
\tCA type: MT4125
\tNumber of ports: 1
\tPort 1:
\t\tState: Active
\t\tPhysical state: LinkUp
\t\tRate: 100
\t\tLink layer: Ethernet
"""


def _task_vars(task_file, task_name):
    tasks = yaml.safe_load((ROLE / "tasks" / task_file).read_text())
    stack = list(tasks)
    while stack:
        task = stack.pop()
        if task.get("name") == task_name:
            return task.get("vars", {})
        stack.extend(task.get("block", []))
    raise AssertionError(f"no task {task_name!r} in {task_file}")


def test_ibstat_parser():
    tv = _task_vars("verify.yml", "Check the InfiniBand ports (LinkUp ports Active, at least one Active)")
    v = {"__fabric_ibstat": {"stdout_lines": IBSTAT.splitlines()}}
    ports = evaluate(tv["__fabric_ibstat_ports"], v)
    assert ports == [
        {"ca": "mlx5_0", "port": "1", "state": "Active", "phys": "LinkUp"},
        {"ca": "mlx5_1", "port": "1", "state": "Initializing", "phys": "LinkUp"},
        {"ca": "mlx5_2", "port": "1", "state": "Down", "phys": "Disabled"},
    ]
    stuck = evaluate(tv["__fabric_stuck"], dict(v, __fabric_ibstat_ports=ports))
    assert [p["ca"] for p in stuck] == ["mlx5_1"]


def test_ib_write_bw_parser():
    out = """\
---------------------------------------------------------------------------------------
                    RDMA_Write BW Test
 Dual-port       : OFF\t\tDevice         : mlx5_0
 #bytes     #iterations    BW peak[Gb/sec]    BW average[Gb/sec]   MsgRate[Mpps]
 65536      1833766          0.00               392.47 \t\t   0.748588
---------------------------------------------------------------------------------------
"""
    tv = _task_vars("perftest.yml", "Check the measured bandwidth")
    got = evaluate(tv["__fabric_gbps"], {"__fabric_perf_client": {"stdout_lines": out.splitlines()}})
    assert float(got) == pytest.approx(392.47)


# ---------------------------------------------------------------- preflight + detection on localhost
def _case_tasks(name, variables):
    case_vars = yaml.safe_dump(variables, default_flow_style=True, width=10000).strip()
    steps = ""
    for tasks_from in ("set_vars.yml", "preflight.yml", "detect.yml"):
        steps += f"""\
    - name: {tasks_from}
      ansible.builtin.include_role:
        name: hpcai.cluster.fabric
        tasks_from: {tasks_from}
      vars: {case_vars}
"""
    return f"""\
- name: "Case {name}"
  block:
{steps}    - name: Record success
      ansible.builtin.set_fact:
        results: "{{{{ results | combine({{'{name}': {{'failed': false, 'msg': '',
                    'addresses': __fabric_my_addresses, 'fact': ansible_facts['hpcai_fabric']}}}}) }}}}"
  rescue:
    - name: Record failure
      ansible.builtin.set_fact:
        results: "{{{{ results | combine({{'{name}': {{'failed': true, 'msg': __msg}}}}) }}}}"
      vars:
        __msg: "{{{{ ([ansible_failed_result.msg | default('')]
                  + (ansible_failed_result.results | default([]) | selectattr('failed', 'defined')
                     | selectattr('failed') | map(attribute='msg') | list)) | join(' | ') }}}}"
"""


def _cases(root_ib, root_none):
    ok_nets = [dict(IB_NET, mtu=2044), ROCE_NET]
    return [
        ("ib_ok", {"fabric_sysfs_root": root_ib, "fabric_networks": ok_nets}, None),
        ("none_ok", {"fabric_sysfs_root": root_none, "fabric_networks": ok_nets}, None),
        ("bad_kind", {"fabric_networks": [dict(IB_NET, kind="opa")]}, ["fabric_networks[0]", "ipoib or roce"]),
        ("bad_key", {"fabric_networks": [dict(IB_NET, netmask="255.255.0.0")]}, ["fabric_networks[0]", "keys allowed"]),
        ("mtu_datagram", {"fabric_networks": [dict(IB_NET, mtu=65520)]}, ["fabric_networks[0]", "datagram <= 4092"]),
        ("mode_on_roce", {"fabric_networks": [dict(ROCE_NET, ipoib_mode="connected")]}, ["fabric_networks[0]"]),
        ("host_bits", {"fabric_networks": [dict(IB_NET, cidr="10.20.0.1/16")]}, ["fabric_networks[].cidr", "10.20.0.1/16"]),
        ("dup_name", {"fabric_networks": [IB_NET, dict(ROCE_NET, name="ib")]}, ["own name"]),
        ("too_small", {"fabric_sysfs_root": root_none, "fabric_networks": [dict(ROCE_NET, cidr="10.30.0.0/32")]},
         ["fabric_networks[0].cidr (roce)"]),
        ("doca_no_url", {"fabric_stack": "doca"}, ["fabric_vendor_repo_url"]),
        ("component", {"fabric_components": ["verbs", "nccl"]}, ["fabric_components", "nccl", "allowed"]),
        ("pfc_prio", {"fabric_roce_pfc_priority": 9}, ["fabric_roce_pfc_priority", "0-7"]),
        ("perftest_pair", {"fabric_perftest_pair": ["localhost"]}, ["fabric_perftest_pair"]),
        ("index", {"fabric_host_index": -1}, ["fabric_host_index"]),
    ]


@pytest.fixture(scope="module")
def preflight_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fabric")
    root_ib = tmp / "hgx"
    gen.build_tree(str(root_ib), gen.CATALOGUE["hgx_h100_genoa_2p_nps4"], full=False)
    root_none = tmp / "plain"
    gen.build_tree(str(root_none), gen.CATALOGUE["workstation_milan_1p_pcie_gpu"], full=False)
    cases = _cases(str(root_ib), str(root_none))
    files = {f"case_{name}.yml": _case_tasks(name, variables) for name, variables, _e in cases}
    return {"cases": cases, "results": _run_playbook(tmp, PREFLIGHT_PLAY, files, {"cases": list(files)})}


@pytest.mark.parametrize("case", [c[0] for c in _cases("/x", "/y")])
def test_preflight_and_detection(case, preflight_results):
    expected = {c[0]: c[2] for c in preflight_results["cases"]}[case]
    res = preflight_results["results"][case]
    if expected is None:
        assert not res["failed"], res["msg"]
        return
    assert res["failed"], f"{case} was accepted"
    for needle in expected:
        assert needle in res["msg"], f"{needle!r} not in {res['msg']!r}"


def test_detection_places_the_hgx_interfaces(preflight_results):
    res = preflight_results["results"]["ib_ok"]
    assert [(a["network"], a["interface"], a["address"], a["present"]) for a in res["addresses"]] == [
        ("ib", "ibp6s0", "10.20.0.10", True),
        ("roce", "ens41f0np0", "10.30.0.1", True),
    ]
    assert res["fact"]["has_infiniband"] is True


def test_detection_without_rdma_reserves_the_addresses(preflight_results):
    res = preflight_results["results"]["none_ok"]
    assert [(a["interface"], a["address"]) for a in res["addresses"]] == [("", "10.20.0.10"), ("", "10.30.0.1")]
    assert res["fact"]["adapters"] == [] and res["fact"]["kernel_modules"] == []
