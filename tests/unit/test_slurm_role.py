"""slurm role: the slurm_node_lines filter and the role's computed variables per OS."""
from __future__ import annotations

import pytest

from ansible.errors import AnsibleError

from ansible_collections.hpcai.cluster.plugins.filter.slurm import slurm_node_lines

from render_helpers import OS_FACTS, evaluate, role_variables


def topo(cpus=128, sockets=2, cores=32, threads=2, l3=16, mem=515000):
    return {
        "slurm": {"CPUs": cpus, "Boards": 1, "SocketsPerBoard": sockets, "CoresPerSocket": cores,
                  "ThreadsPerCore": threads, "RealMemory": mem},
        "slurm_l3_as_socket": {"CPUs": cpus, "Boards": 1, "SocketsPerBoard": l3, "CoresPerSocket": sockets * cores // l3,
                               "ThreadsPerCore": threads, "RealMemory": mem},
    }


def test_identical_nodes_share_one_line_and_memory_is_reserved():
    hosts = {"cn001": topo(), "cn002": topo(), "cn003": topo(), "gpu01": topo(cpus=64, cores=16, l3=8, mem=1031000)}
    lines = slurm_node_lines(hosts)
    assert lines[0].startswith("NodeName=cn[001-003] CPUs=128 Boards=1 SocketsPerBoard=2 CoresPerSocket=32 "
                               "ThreadsPerCore=2 RealMemory=")
    assert lines[1].startswith("NodeName=gpu01 CPUs=64 ")
    real = int(lines[0].split("RealMemory=")[1].split()[0])
    assert real <= 515000 - max(1024, 515000 * 2 // 100)  # never above measured minus the reserve
    l3 = slurm_node_lines(hosts, l3_as_socket=True)
    assert "SocketsPerBoard=16 CoresPerSocket=4" in l3[0]


def test_extras_split_groups():
    hosts = {"cn1": topo(), "cn2": topo()}
    lines = slurm_node_lines(hosts, extras={"cn2": {"CpuSpecList": "0-1,64-65", "MemSpecLimit": 4096}})
    assert len(lines) == 2 and "CpuSpecList=0-1,64-65" in lines[1] and "MemSpecLimit=4096" in lines[1]


def test_bad_input_names_the_problem():
    with pytest.raises(AnsibleError, match="slurm_node_lines: .*RealMemory"):
        slurm_node_lines({"cn1": topo(mem=512)}, reserve_mib=1024)
    bad = topo()
    del bad["slurm"]
    with pytest.raises(AnsibleError, match="slurm_node_lines: hpcai_cpu_topology has no 'slurm' figures"):
        slurm_node_lines({"cn1": bad})
    with pytest.raises(AnsibleError, match="must be"):
        slurm_node_lines(["cn1"])


@pytest.mark.parametrize("os_key", sorted(OS_FACTS))
@pytest.mark.parametrize("host,expected", [
    ("head1", {"controller", "login", "dbd"}),  # no slurm_dbd group: the controller runs slurmdbd
    ("node1", {"compute"}),
])
def test_packages_per_class_and_os(os_key, host, expected):
    v = role_variables("slurm", os_key, host, {"slurm_compute_group": "compute"})
    pkgs = evaluate("{{ __slurm_host_packages }}", v)
    table = evaluate("{{ __slurm_packages['distro'] }}", v)
    want = list(table["common"])
    for cls in ("controller", "compute", "login", "dbd"):
        if cls in expected:
            want += table[cls]
    if "dbd" in expected:
        want += evaluate("{{ __slurm_mariadb_packages }}", v)
    assert pkgs == list(dict.fromkeys(want)) and "munge" in pkgs
    assert any(p.startswith("mariadb") for p in pkgs) == ("dbd" in expected)
    if "controller" in expected:
        assert any("slurmctld" in p for p in pkgs)
    else:
        assert not any("slurmctld" in p for p in pkgs)


def test_openhpc_packages_on_el_only():
    v = role_variables("slurm", "rocky9", "node1", {"slurm_compute_group": "compute", "slurm_package_source": "openhpc"})
    assert "slurm-slurmd-ohpc" in evaluate("{{ __slurm_host_packages }}", v)
    v = role_variables("slurm", "debian12", "node1", {"slurm_compute_group": "compute"})
    assert "openhpc" not in evaluate("{{ __slurm_packages }}", v)


def test_container_uses_linuxproc_and_affinity():
    v = role_variables("slurm", "debian12", "node1", {}, virtualization_type="docker")
    assert evaluate("{{ __slurm_proctrack }}", v) == "proctrack/linuxproc"
    assert evaluate("{{ __slurm_taskplugin }}", v) == "task/affinity"
    v = role_variables("slurm", "rocky9", "node1", {})
    assert evaluate("{{ __slurm_proctrack }}", v) == "proctrack/cgroup"
    assert evaluate("{{ __slurm_taskplugin }}", v) == "task/cgroup,task/affinity"


def test_accounting_off_drops_dbd_and_slurm_conf_keys():
    v = role_variables("slurm", "debian12", "head1", {"slurm_compute_group": "compute", "slurm_accounting": False})
    assert evaluate("{{ __slurm_is_dbd }}", v) is False
    assert not any(p.startswith("mariadb") for p in evaluate("{{ __slurm_host_packages }}", v))
    keys = evaluate("{{ __slurm_conf_keys }}", v)
    assert keys["AccountingStorageType"] == "" and keys["JobAcctGatherType"] == ""
    v = role_variables("slurm", "debian12", "head1", {"slurm_compute_group": "compute"})
    keys = evaluate("{{ __slurm_conf_keys }}", v)
    assert keys["AccountingStorageType"] == "accounting_storage/slurmdbd" and keys["AccountingStorageHost"] == "head1"


def test_slurm_conf_carries_the_partition_plan_per_node():
    from render_helpers import ROLES_DIR, host_facts, render

    def facts(host, plan):
        f = host_facts("rocky9", host)
        f["hpcai_cpu_topology"] = topo()
        if plan:
            f["hpcai_cgroup_partition"] = {"slurm": plan}
        return {"ansible_facts": f}

    plan = {"CpuSpecList": "0,64", "CoreSpecCount": None, "MemSpecLimit": 8192}
    over = {"slurm_compute_group": "compute", "slurm_dbd_db_password": "x" * 12,
            "__hostvars__": {"node1": facts("node1", plan), "node2": facts("node2", None)}}
    text = render(ROLES_DIR / "slurm" / "templates" / "slurm.conf.j2", role_variables("slurm", "rocky9", "head1", over))
    lines = [line for line in text.splitlines() if line.startswith("NodeName=")]
    assert len(lines) == 2  # the plan makes node1 differ from node2
    assert "CpuSpecList=0,64 MemSpecLimit=8192" in lines[0] and lines[0].startswith("NodeName=node1 ")
    assert "Spec" not in lines[1] and lines[1].startswith("NodeName=node2 ")
    over["slurm_core_spec"] = False
    text = render(ROLES_DIR / "slurm" / "templates" / "slurm.conf.j2", role_variables("slurm", "rocky9", "head1", over))
    assert [line for line in text.splitlines() if line.startswith("NodeName=")][0].startswith("NodeName=node[1-2] ")


def test_mem_spec_only_with_task_cgroup():
    from render_helpers import ROLES_DIR, host_facts, render
    f = host_facts("debian12", "node1", "docker")
    f["hpcai_cpu_topology"] = topo()
    f["hpcai_cgroup_partition"] = {"slurm": {"CpuSpecList": "0", "MemSpecLimit": 4096}}
    over = {"slurm_compute_group": "compute", "slurm_dbd_db_password": "x" * 12,
            "__hostvars__": {"node1": {"ansible_facts": f}}}
    v = role_variables("slurm", "debian12", "head1", over, virtualization_type="docker")
    line = [x for x in render(ROLES_DIR / "slurm" / "templates" / "slurm.conf.j2", v).splitlines()
            if x.startswith("NodeName=node1")][0]
    assert "CpuSpecList=0" in line and "MemSpecLimit" not in line  # container: task/affinity only
    v = role_variables("slurm", "debian12", "head1", over)
    line = [x for x in render(ROLES_DIR / "slurm" / "templates" / "slurm.conf.j2", v).splitlines()
            if x.startswith("NodeName=node1")][0]
    assert "CpuSpecList=0 MemSpecLimit=4096" in line


def _gpu_fact(n=8):
    lines = ["Name=gpu Type=h100 File=/dev/nvidia%d Cores=%s" % (i, "0-31" if i < n // 2 else "32-63")
             for i in range(n)]
    return {"gpus": [{}] * n, "slurm": {"gres": "gpu:h100:%d" % n, "conf_lines": lines, "autodetect": "off"}}


def _cluster(os_key="rocky9", **extra):
    from render_helpers import host_facts

    hostvars = {}
    for host in ("node1", "node2"):
        f = host_facts(os_key, host)
        f["hpcai_cpu_topology"] = topo()
        if host == "node1":
            f["hpcai_gpu_facts"] = _gpu_fact()
        hostvars[host] = {"ansible_facts": f}
    over = {"slurm_compute_group": "compute", "slurm_dbd_db_password": "x" * 12, "__hostvars__": hostvars}
    over.update(extra)
    return over


def _slurm_conf(os_key, over, host="head1"):
    from render_helpers import ROLES_DIR, render
    return render(ROLES_DIR / "slurm" / "templates" / "slurm.conf.j2", role_variables("slurm", os_key, host, over))


@pytest.mark.parametrize("os_key", ["debian12", "rocky9", "rocky10"])
def test_gpu_topology_tmpfs_and_overrides_reach_slurm_conf(os_key):
    over = _cluster(os_key, slurm_topology={"switches": [{"name": "leaf1", "nodes": "node1"},
                                                         {"name": "leaf2", "nodes": "compute"},
                                                         {"name": "spine", "switches": "leaf[1-2]"}]},
                    slurm_job_tmpfs={"enabled": True, "base_path": "/var/spool/slurm/job_tmpfs"})
    over["slurm_topology"]["switches"][1]["nodes"] = "node2"
    over["__hostvars__"]["node2"]["slurm_node_overrides"] = {"RealMemory": 400000, "Features": "genoa"}
    text = _slurm_conf(os_key, over)
    nodes = [line for line in text.splitlines() if line.startswith("NodeName=")]
    assert [n.split()[0] for n in nodes] == ["NodeName=node1", "NodeName=node2"]
    assert "Gres=gpu:h100:8" in nodes[0] and "Gres" not in nodes[1]
    assert "RealMemory=400000" in nodes[1] and "Features=genoa" in nodes[1]
    assert "GresTypes=gpu" in text and "TopologyPlugin=topology/tree" in text
    assert "JobContainerType=job_container/tmpfs" in text and "PrologFlags=Contain" in text
    assert "NamespaceType" not in text and "SrunPortRange=60001-63000" in text
    v = role_variables("slurm", os_key, "head1", over)
    assert evaluate("{{ __slurm_topology }}", v)["lines"] == [
        "SwitchName=leaf1 Nodes=node1", "SwitchName=leaf2 Nodes=node2", "SwitchName=spine Switches=leaf[1-2]"]
    gres = evaluate("{{ __slurm_gres }}", v)
    assert gres["lines"][0] == "NodeName=node1 AutoDetect=off" and len(gres["lines"]) == 9


def test_slurm_25_11_uses_namespace_type_and_containers_skip_tmpfs():
    over = _cluster(slurm_version="25.11.0", slurm_job_tmpfs={"enabled": True, "base_path": "/var/tmp/jobs"})
    text = _slurm_conf("rocky9", over)
    assert "NamespaceType=namespace/tmpfs" in text and "JobContainerType" not in text
    from render_helpers import ROLES_DIR, render
    tmpfs = {"enabled": True, "base_path": "/x"}
    v = role_variables("slurm", "debian12", "head1", _cluster("debian12", slurm_job_tmpfs=tmpfs),
                       virtualization_type="docker")
    text = render(ROLES_DIR / "slurm" / "templates" / "slurm.conf.j2", v)
    assert "JobContainerType" not in text and "PrologFlags" not in text


def test_cgroup_conf_keys_follow_the_version():
    from render_helpers import ROLES_DIR, render
    over = _cluster(slurm_cgroup_conf_extra={"SystemdTimeout": 2000})
    v = role_variables("slurm", "rocky9", "node1", dict(over, slurm_version="24.05.1"))
    assert "SystemdTimeout=2000" in render(ROLES_DIR / "slurm" / "templates" / "cgroup.conf.j2", v)
    v = role_variables("slurm", "rocky9", "node1", dict(over, slurm_version="23.11.4"))
    assert "SystemdTimeout" not in render(ROLES_DIR / "slurm" / "templates" / "cgroup.conf.j2", v)


def test_version_falls_back_to_the_os_default_and_detects_the_controller():
    v = role_variables("slurm", "debian12", "node1", _cluster("debian12"))
    assert evaluate("{{ __slurm_version }}", v) == "22.05.8"
    over = _cluster("debian12")
    over["__hostvars__"]["head1"] = {"__slurm_version_detected": "23.11.4"}
    v = role_variables("slurm", "debian12", "node1", over)
    assert evaluate("{{ __slurm_version }}", v) == "23.11.4"
    assert evaluate("{{ __slurm_version_command }}", v) == "slurmd"


@pytest.mark.parametrize("change,host,expected", [
    ({"first": False, "restart_slurmctld": False, "restart_slurmd_all": False, "restart_slurmd_nodes": ["node2"],
      "reconfigure": True}, "node2", ["Restart slurmd", "Reconfigure Slurm"]),
    ({"first": False, "restart_slurmctld": False, "restart_slurmd_all": False, "restart_slurmd_nodes": ["node2"],
      "reconfigure": True}, "node1", ["Reconfigure Slurm"]),
    ({"first": False, "restart_slurmctld": True, "restart_slurmd_all": True, "restart_slurmd_nodes": [],
      "reconfigure": False}, "head1", ["Restart slurmctld"]),
    ({"first": False, "restart_slurmctld": False, "restart_slurmd_all": False, "restart_slurmd_nodes": [],
      "reconfigure": False}, "node1", []),
    ({"first": True, "restart_slurmctld": False, "restart_slurmd_all": False, "restart_slurmd_nodes": [],
      "reconfigure": False}, "node1", ["Restart slurmd"]),
])
def test_conf_change_notifies_only_what_is_needed(change, host, expected):
    v = role_variables("slurm", "rocky9", host, _cluster(__slurm_conf_change=change))
    assert evaluate("{{ __slurm_conf_notify }}", v) == expected


def test_firewall_ports_per_class():
    v = role_variables("slurm", "rocky9", "head1", _cluster())
    assert evaluate("{{ __slurm_firewall_ports }}", v) == ["6817/tcp", "60001-63000/tcp", "6819/tcp"]
    v = role_variables("slurm", "rocky9", "node1", _cluster())
    assert evaluate("{{ __slurm_firewall_ports }}", v) == ["6818/tcp", "60001-63000/tcp"]
    assert evaluate("{{ __slurm_firewall }}", v) is True
    assert evaluate("{{ __slurm_firewall }}", role_variables("slurm", "debian12", "node1", _cluster("debian12"))) \
        is False


def _facts_with_topology(host):
    from render_helpers import host_facts

    f = host_facts("rocky9", host)
    f["hpcai_cpu_topology"] = topo()
    return f


class _CountingHostvars(dict):
    """hostvars stand-in counting hostvars[host] reads (each is a variable merge of that host in a play)."""

    def __init__(self, data):
        super(_CountingHostvars, self).__init__(data)
        self.reads = {}

    def __getitem__(self, key):
        self.reads[key] = self.reads.get(key, 0) + 1
        return super(_CountingHostvars, self).__getitem__(key)


def test_slurm_nodes_filter_reads_each_host_once():
    from ansible_collections.hpcai.cluster.plugins.filter.slurm import slurm_nodes

    hostvars = _CountingHostvars({
        "node1.lan": {"ansible_facts": {"hostname": "node1", "hpcai_cpu_topology": topo(), "hpcai_gpu_facts": _gpu_fact()}},
        "node2.lan": {"ansible_facts": {"hostname": "node2", "hpcai_cpu_topology": topo()},
                      "slurm_node_overrides": {"Features": "genoa"}},
        "node3.lan": {"ansible_facts": {"hostname": "node3"}},
        "login1.lan": {"ansible_facts": {"hostname": "login1"}},
        "head1.lan": {"ansible_facts": {"hostname": "head1"}},
    })
    groups = {"compute": ["node1.lan", "node2.lan", "node3.lan"], "login": ["login1.lan"], "gpu": ["node1.lan"]}
    parts = [{"name": "batch", "nodes": "compute"}, {"name": "gpu", "nodes": "gpu"}, {"name": "interactive", "nodes": "login"}]
    spec = {"switches": [{"name": "leaf1", "nodes": "gpu"}, {"name": "leaf2", "nodes": "node[2-3]"}]}
    out = slurm_nodes(hostvars, groups["compute"], partitions=parts, groups=groups, topology=spec, version="23.11.4")
    assert hostvars.reads == {"node1.lan": 1, "node2.lan": 1, "node3.lan": 1, "login1.lan": 1}  # head1: never
    assert sorted(out) == ["gres", "lines", "missing", "partitions", "topology"]
    assert out["missing"] == ["node3.lan"]
    assert [line.split()[0] for line in out["lines"]] == ["NodeName=node1", "NodeName=node2"]
    assert "Gres=gpu:h100:8" in out["lines"][0] and "Features=genoa" in out["lines"][1]
    assert out["gres"]["gres_types"] == ["gpu"] and out["gres"]["lines"][0] == "NodeName=node1 AutoDetect=off"
    assert out["partitions"] == {"compute": "node[1-3]", "gpu": "node1", "login": "login1"}
    assert out["topology"] == {"plugin": "topology/tree",
                               "lines": ["SwitchName=leaf1 Nodes=node1", "SwitchName=leaf2 Nodes=node[2-3]"]}
    empty = slurm_nodes({}, [], gres="false", core_spec="no")
    assert empty == {"missing": [], "lines": [], "gres": {"lines": [], "gres_types": []}, "partitions": {}, "topology": {}}


def test_slurm_nodes_filter_errors():
    from ansible_collections.hpcai.cluster.plugins.filter.slurm import slurm_nodes

    with pytest.raises(AnsibleError, match="slurm_nodes: computes must be a list"):
        slurm_nodes({}, "compute")
    with pytest.raises(AnsibleError, match="slurm_nodes: .*RealMemory"):
        slurm_nodes({"n1": {"ansible_facts": {"hpcai_cpu_topology": topo(mem=512)}}}, ["n1"])
    with pytest.raises(AnsibleError, match="slurm_nodes: slurm_topology.switches"):
        slurm_nodes({"n1": {"ansible_facts": {"hpcai_cpu_topology": topo()}}}, ["n1"], topology={"plugin": "tree"},
                    version="23.11.4")


def test_slurm_conf_keys_from_the_template_match_the_role_variable():
    # slurm.conf.j2 takes GresTypes and TopologyPlugin from its one copy of __slurm_nodes, not from
    # __slurm_conf_keys (which would walk every host again): the two must agree.
    over = _cluster(slurm_topology={"switches": [{"name": "leaf1", "nodes": "compute"}]})
    v = role_variables("slurm", "rocky9", "head1", over)
    keys = evaluate("{{ __slurm_conf_keys }}", v)
    assert keys["GresTypes"] == "gpu" and keys["TopologyPlugin"] == "topology/tree"
    assert keys["SlurmctldHost"] == "head1" and keys["AccountingStorageHost"] == "head1"
    text = _slurm_conf("rocky9", over)
    conf = [line for line in text.splitlines() if "=" in line and not line.startswith(("#", "NodeName", "Partition"))]
    assert conf == ["%s=%s" % (k, val) for k, val in keys.items() if str(val)]
    # slurm_conf_extra overrides in place and adds at the end
    over["slurm_conf_extra"] = {"GresTypes": "gpu,mps", "SchedulerParameters": "bf_continue", "ClusterName": "x"}
    text = _slurm_conf("rocky9", over)
    assert "ClusterName=x\nSlurmctldHost=head1\n" in text and "GresTypes=gpu,mps\nTopologyPlugin=topology/tree\n" in text
    assert "SchedulerParameters=bf_continue\n\n# ---- nodes" in text
    # without GPUs or topology the keys are left out
    plain = dict((h, {"ansible_facts": _facts_with_topology(h)}) for h in ("node1", "node2"))
    text = _slurm_conf("rocky9", _cluster(__hostvars__=plain))
    assert "GresTypes" not in text and "TopologyPlugin" not in text


def test_names_of_this_host_the_controller_and_the_dbd():
    over = _cluster()
    over["__hostvars__"]["head1"] = {"ansible_facts": dict(_facts_with_topology("head1"), hostname="ctl-short")}
    v = role_variables("slurm", "rocky9", "head1", over)
    assert evaluate("{{ __slurm_controller_name }}", v) == "ctl-short"
    assert evaluate("{{ __slurm_dbd_name }}", v) == "ctl-short"
    assert evaluate("{{ __slurm_my_name }}", v) == "ctl-short"
    v = role_variables("slurm", "rocky9", "node1", over)
    assert evaluate("{{ __slurm_my_name }}", v) == "node1"
    assert evaluate("{{ __slurm_nodes['missing'] }}", v) == []
    # a controller without the hostname fact goes by its inventory name
    over["__hostvars__"]["head1"] = {"ansible_facts": {}}
    v = role_variables("slurm", "rocky9", "node2", over)
    assert evaluate("{{ __slurm_controller_name }}", v) == "head1"


def test_twins_50_mib_apart_share_one_nodename_line_with_their_plans():
    # MemSpecLimit is 2 % of each node's MemTotal in the partition plan: 10300 vs 10299 MiB for nodes 50 MiB
    # apart. Like RealMemory, it must not split identical hardware over two lines.
    from render_helpers import ROLES_DIR, host_facts, render

    hostvars = {}
    for host, memtotal in (("node1", 515000), ("node2", 514950)):
        f = host_facts("rocky9", host)
        f["hpcai_cpu_topology"] = topo(mem=memtotal)
        f["hpcai_cgroup_partition"] = {"slurm": {"CpuSpecList": "0,64", "CoreSpecCount": None,
                                                 "MemSpecLimit": memtotal * 2 // 100}}
        hostvars[host] = {"ansible_facts": f}
    over = {"slurm_compute_group": "compute", "slurm_dbd_db_password": "x" * 12, "__hostvars__": hostvars}
    text = render(ROLES_DIR / "slurm" / "templates" / "slurm.conf.j2", role_variables("slurm", "rocky9", "head1", over))
    lines = [line for line in text.splitlines() if line.startswith("NodeName=")]
    assert lines == ["NodeName=node[1-2] CPUs=128 Boards=1 SocketsPerBoard=2 CoresPerSocket=32 ThreadsPerCore=2 "
                     "RealMemory=503808 CpuSpecList=0,64 MemSpecLimit=10299 State=UNKNOWN"]
