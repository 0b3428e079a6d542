# -*- coding: utf-8 -*-
"""slurm.conf change classification and the side files (plugins/module_utils/slurm_files.py)."""
from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.hpcai.cluster.plugins.module_utils import slurm_files as sf
from ansible_collections.hpcai.cluster.plugins.filter import slurm_files as filt
from ansible.errors import AnsibleFilterError

BASE = """# managed
ClusterName=lab
SlurmctldHost=head
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup,task/affinity
SelectType=select/cons_tres
SchedulerType=sched/backfill
SlurmctldTimeout=120
SchedulerParameters=bf_window=43200,bf_continue

NodeName=c[01-04] CPUs=192 Boards=1 SocketsPerBoard=2 CoresPerSocket=48 ThreadsPerCore=2 RealMemory=760000 State=UNKNOWN
NodeName=g01 CPUs=96 Boards=1 SocketsPerBoard=1 CoresPerSocket=48 ThreadsPerCore=2 RealMemory=380000 Gres=gpu:h100:8 State=UNKNOWN
PartitionName=batch Nodes=c[01-04] Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=g01 Default=NO MaxTime=2-00:00:00 State=UP
"""


def change(new, old=BASE):
    return sf.conf_change(old, new)


def test_identical_and_cosmetic_changes_are_no_change():
    assert change(BASE)["changed"] is False
    regrouped = BASE.replace(
        "NodeName=c[01-04] CPUs=192",
        "NodeName=c[01-02] CPUs=192 Boards=1 SocketsPerBoard=2 CoresPerSocket=48 ThreadsPerCore=2 RealMemory=760000 "
        "State=UNKNOWN\nNodeName=c03,c04 CPUs=192")
    reordered = "\n".join(reversed(regrouped.splitlines()))
    recased = reordered.replace("SlurmctldTimeout=120", "slurmctldtimeout=120  # comment")
    result = change(recased)
    assert result["changed"] is False, result["reasons"]
    assert result["reasons"] == []


def test_first_install():
    result = sf.conf_change("", BASE)
    assert result["first"] and result["changed"]
    assert sf.conf_change(None, BASE)["first"]


def test_partition_or_timer_change_only_reconfigures():
    for new in (BASE.replace("MaxTime=2-00:00:00", "MaxTime=1-00:00:00"),
                BASE.replace("SlurmctldTimeout=120", "SlurmctldTimeout=300"),
                BASE.replace("bf_window=43200", "bf_window=86400"),
                BASE + "PartitionName=debug Nodes=c01 MaxTime=30 State=UP\n"):
        result = change(new)
        assert result["changed"] and result["reconfigure"]
        assert not result["restart_slurmctld"] and not result["restart_slurmd_all"]
        assert result["restart_slurmd_nodes"] == []


@pytest.mark.parametrize("old,new,ctld,slurmd", [
    ("SlurmctldPort=6817", "SlurmctldPort=7817", True, True),
    ("AuthType=auth/munge", "AuthType=auth/slurm", True, True),
    ("ProctrackType=proctrack/cgroup", "ProctrackType=proctrack/linuxproc", False, True),
    ("TaskPlugin=task/cgroup,task/affinity", "TaskPlugin=task/affinity", False, True),
    ("ClusterName=lab", "ClusterName=prod", True, False),
    ("SelectType=select/cons_tres", "SelectType=select/linear", True, True),
])
def test_restart_keys(old, new, ctld, slurmd):
    result = change(BASE.replace(old, new))
    assert result["restart_slurmctld"] is ctld
    assert result["restart_slurmd_all"] is slurmd
    assert any(new.split("=")[0] in r for r in result["reasons"])


def test_added_key_needing_restart():
    result = change(BASE + "PrologFlags=Contain\n")
    assert result["restart_slurmctld"] and result["restart_slurmd_all"]
    assert "PrologFlags (unset) -> Contain" in result["reasons"][0]


def test_node_value_change_restarts_only_those_slurmd():
    new = BASE.replace("NodeName=c[01-04] CPUs=192 Boards=1 SocketsPerBoard=2 CoresPerSocket=48 ThreadsPerCore=2 "
                       "RealMemory=760000 State=UNKNOWN",
                       "NodeName=c[01-02] CPUs=192 Boards=1 SocketsPerBoard=2 CoresPerSocket=48 ThreadsPerCore=2 "
                       "RealMemory=760000 State=UNKNOWN\n"
                       "NodeName=c[03-04] CPUs=192 Boards=1 SocketsPerBoard=2 CoresPerSocket=48 ThreadsPerCore=2 "
                       "RealMemory=760000 CpuSpecList=0,96 State=UNKNOWN")
    result = change(new)
    assert result["restart_slurmd_nodes"] == ["c03", "c04"]
    assert result["reconfigure"] and not result["restart_slurmctld"] and not result["restart_slurmd_all"]
    assert "cpuspeclist" in result["reasons"][0] and "c[03-04]" in result["reasons"][0]


def test_nodes_added_or_removed_restart_everything():
    result = change(BASE.replace("NodeName=c[01-04]", "NodeName=c[01-05]"))
    assert result["restart_slurmctld"] and result["restart_slurmd_all"]
    assert "added c05" in result["reasons"][0]
    result = change(BASE.replace("NodeName=c[01-04]", "NodeName=c[01-03]"))
    assert "removed c04" in result["reasons"][0]


def test_bad_line_is_reported():
    with pytest.raises(sf.SlurmFilesError, match="line 2 is not Key=value"):
        sf.parse_conf("ClusterName=x\nthis is junk\n")
    with pytest.raises(sf.SlurmFilesError, match="NodeName=c\\[01-"):
        sf.parse_conf("NodeName=c[01- CPUs=1\n")


def test_include_and_defaults():
    parsed = sf.parse_conf("Include /etc/slurm/nodes.conf\nNodeName=DEFAULT RealMemory=1000\nNodeName=a CPUs=2\n")
    assert parsed["includes"] == ["/etc/slurm/nodes.conf"]
    assert parsed["node_defaults"] == {"realmemory": "1000"}
    assert list(parsed["nodes"]) == ["a"]
    result = sf.conf_change("NodeName=DEFAULT RealMemory=1000\nNodeName=a CPUs=2\n",
                            "NodeName=DEFAULT RealMemory=900\nNodeName=a CPUs=2\n")
    assert result["restart_slurmd_all"] and result["reconfigure"]


# ------------------------------------------------------------------ topology.conf

NODES = ["c%02d" % i for i in range(1, 33)]


def test_tree_two_leaves_one_spine():
    spec = {"plugin": "tree", "switches": [
        {"name": "leaf1", "nodes": "c[01-16]", "link_speed": 200},
        {"name": "leaf2", "nodes": ["c%02d" % i for i in range(17, 33)]},
        {"name": "spine", "switches": "leaf[1-2]"}]}
    result = sf.topology_lines(spec, NODES, "22.05.8")
    assert result == {"plugin": "topology/tree", "lines": [
        "SwitchName=leaf1 Nodes=c[01-16] LinkSpeed=200",
        "SwitchName=leaf2 Nodes=c[17-32]",
        "SwitchName=spine Switches=leaf[1-2]"]}


def test_tree_group_names_resolve():
    spec = {"switches": [{"name": "s1", "nodes": "gpu"}, {"name": "s2", "nodes": "c[03-04]"}]}
    result = sf.topology_lines(spec, ["c01", "c02", "c03", "c04"], "23.11", groups={"gpu": ["c02", "c01"]})
    assert result["lines"][0] == "SwitchName=s1 Nodes=c[01-02]"


@pytest.mark.parametrize("spec,match", [
    ({"switches": [{"name": "s1", "nodes": "c[01-31]"}]}, "c32 are in no leaf switch"),
    ({"switches": [{"name": "s1", "nodes": "c[01-32]"}, {"name": "s2", "nodes": "c01"}]}, "already in leaf switch s1"),
    ({"switches": [{"name": "s1", "nodes": "c[01-33]"}]}, "c33 are not compute nodes"),
    ({"switches": [{"name": "s1", "nodes": "c[01-32]", "switches": "s2"}]}, "exactly one of nodes"),
    ({"switches": [{"name": "s1", "nodes": "c[01-32]"}, {"name": "sp", "switches": "s9"}]}, "s9 not defined"),
    ({"switches": [{"name": "s1", "nodes": "c[01-32]"}, {"name": "a", "switches": "b"},
                   {"name": "b", "switches": "a"}]}, "below itself"),
    ({"switches": [{"name": "bad name", "nodes": "c01"}]}, "name must be"),
    ({"switches": [{"name": "s", "nodes": "c[01-32]"}, {"name": "s", "switches": "s"}]}, "names repeat"),
    ({"plugin": "mesh"}, "tree or block"),
    ({"switches": []}, "non-empty list"),
])
def test_tree_errors_name_the_problem(spec, match):
    with pytest.raises(sf.SlurmFilesError, match=match):
        sf.topology_lines(spec, NODES, "23.11")


def test_block_needs_24_05_and_checks_sizes():
    spec = {"plugin": "block", "blocks": [{"name": "b1", "nodes": "c[01-16]"}, {"name": "b2", "nodes": "c[17-32]"}],
            "block_sizes": [16, 32]}
    with pytest.raises(sf.SlurmFilesError, match="24.05 or newer.*22.5.8"):
        sf.topology_lines(spec, NODES, "22.05.8")
    result = sf.topology_lines(spec, NODES, "24.11.1")
    assert result == {"plugin": "topology/block", "lines": [
        "BlockName=b1 Nodes=c[01-16]", "BlockName=b2 Nodes=c[17-32]", "BlockSizes=16,32"]}
    spec["block_sizes"] = [32]
    with pytest.raises(sf.SlurmFilesError, match="smallest block has 16"):
        sf.topology_lines(spec, NODES, "24.11.1")


def test_empty_topology_is_nothing():
    assert sf.topology_lines({}, NODES, "22.05") == {}
    assert sf.topology_lines(None, NODES, "22.05") == {}


# ------------------------------------------------------------------ gres.conf

def gpu_fact(lines, auto="off"):
    return {"slurm": {"conf_lines": lines, "autodetect": auto, "gres": "gpu:h100:%d" % len(lines)}}


def test_gres_lines_group_identical_nodes():
    lines8 = ["Name=gpu Type=h100 File=/dev/nvidia%d Cores=%s" % (i, "0-47" if i < 4 else "48-95") for i in range(8)]
    hosts = {"g01": gpu_fact(lines8, "nvml"), "g02": gpu_fact(lines8, "nvml"), "c01": {},
             "g03": gpu_fact(lines8[:4], "off")}
    result = sf.gres_lines(hosts)
    assert result["gres_types"] == ["gpu"]
    assert result["lines"][0] == "NodeName=g[01-02] AutoDetect=nvml"
    assert result["lines"][1] == "NodeName=g[01-02] Name=gpu Type=h100 File=/dev/nvidia0 Cores=0-47"
    assert result["lines"][9] == "NodeName=g03 AutoDetect=off"
    assert len(result["lines"]) == 1 + 8 + 1 + 4


def test_gres_lines_none_and_errors():
    assert sf.gres_lines({"c01": {}, "c02": gpu_fact([])}) == {"lines": [], "gres_types": []}
    with pytest.raises(sf.SlurmFilesError, match="no 'slurm' key"):
        sf.gres_lines({"c01": {"gpus": []}})
    with pytest.raises(sf.SlurmFilesError, match="not a Slurm AutoDetect"):
        sf.gres_lines({"c01": gpu_fact(["Name=gpu"], "cuda")})
    with pytest.raises(sf.SlurmFilesError, match="starting with Name="):
        sf.gres_lines({"c01": gpu_fact(["gpu:1"])})


# ------------------------------------------------------------------ job_container.conf

def test_tmpfs_lines():
    assert sf.tmpfs_lines({"base_path": "/var/spool/slurm/tmpfs/"}) == [
        "AutoBasePath=true", "BasePath=/var/spool/slurm/tmpfs", "Dirs=/tmp,/dev/shm"]
    assert sf.tmpfs_lines({"base_path": "/scratch/job", "dirs": ["/tmp"], "shared": True,
                           "auto_base_path": False}) == ["BasePath=/scratch/job", "Dirs=/tmp", "Shared=true"]
    for bad in ("/tmp", "relative", "/", "/a b", None):
        with pytest.raises(sf.SlurmFilesError, match="base_path"):
            sf.tmpfs_lines({"base_path": bad})
    with pytest.raises(sf.SlurmFilesError, match="dirs"):
        sf.tmpfs_lines({"base_path": "/x", "dirs": ["/tmp,/var"]})


# ------------------------------------------------------------------ filters

def test_filters_wrap_errors_and_versions():
    with pytest.raises(AnsibleFilterError, match="^slurm_topology_lines: slurm_topology.plugin"):
        filt.slurm_topology_lines({"plugin": "x"}, [], "22.05")
    keys = filt.slurm_config_keys("25.11.0")
    assert "NamespaceType" in keys["slurm.conf"] and "JobContainerType" not in keys["slurm.conf"]
    keys = filt.slurm_config_keys("22.05.8-4+deb12u3")
    assert "JobContainerType" in keys["slurm.conf"] and "CgroupAutomount" in keys["cgroup.conf"]
    assert filt.slurm_conf_change("", "ClusterName=x\n")["first"]
    assert set(filt.FilterModule().filters()) == {"slurm_conf_change", "slurm_topology_lines", "slurm_gres_lines",
                                                  "slurm_tmpfs_lines", "slurm_config_keys"}


def test_tree_with_inventory_names_and_groups():
    name_map = {"node1.example": "c01", "node2.example": "c02"}
    groups = {"gpu": ["node2.example", "head.example"], "all": ["node1.example", "node2.example", "head.example"]}
    spec = {"switches": [{"name": "s1", "nodes": "gpu"}, {"name": "s2", "nodes": "c01"}]}
    result = sf.topology_lines(spec, name_map, "22.05", groups)
    assert result["lines"] == ["SwitchName=s1 Nodes=c02", "SwitchName=s2 Nodes=c01"]
