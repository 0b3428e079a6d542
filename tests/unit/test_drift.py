# -*- coding: utf-8 -*-
"""Drift report (plugins/module_utils/drift.py, plugins/filter/drift.py, playbooks/validate.yml).

* Parsers on hand-written output: ``scontrol -o show node`` of Slurm 22.05.8 (Debian 12) and 23.11.4 (Ubuntu
  24.04), the multi-line form, ``scontrol --json show node`` excerpts of 22.05 (state + state_flags) and 23.11
  (state list, {set, number} values), gres.conf as the slurm role writes it, sysctl.d files with comments, blanks,
  repeated keys, tuned-adm outputs (active, none, daemon stopped, post-loaded), hwloc-calc numbers.
* The comparisons: NodeName values with the role's reserve/overrides/L3-as-socket, node states, slurmd -C (drain
  vs layout notes), hwloc on a host and in a container, GPUs, sysctls (file vs live, host vs container), tuned.
* The report: fixed-width table, one OK line per check, the failure message.
* The filters: every filter has its .yml doc; bad input fails naming the filter; the JSON projection of the
  playbook goes through community.general.json_query.
* validate.yml itself with ansible-playbook on localhost (-c local), stand-ins for scontrol, slurmd, hwloc-calc,
  sysctl and tuned-adm on PATH: matching data passes, one changed sysctl file line fails naming the node and the
  value.
"""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import textwrap

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.hpcai.cluster.plugins.filter import drift as filt
from ansible_collections.hpcai.cluster.plugins.module_utils import drift as d
from ansible_collections.hpcai.cluster.plugins.module_utils.slurm_conf import node_values
from render_helpers import REPO, evaluate

# ---------------------------------------------------------------- scontrol output
# Slurm 22.05.8 (Debian 12), one-line form; CoreSpec from the cgroup_partition plan, drained by slurmctld.
SCONTROL_2205 = (
    "NodeName=c01 Arch=x86_64 CoresPerSocket=48 CPUAlloc=0 CPUEfctv=188 CPUTot=192 CPULoad=0.41 "
    "AvailableFeatures=(null) ActiveFeatures=(null) Gres=(null) NodeAddr=c01 NodeHostName=c01 Version=22.05.8 "
    "OS=Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)  RealMemory=756736 AllocMem=0 "
    "FreeMem=741023 Sockets=2 Boards=1 CoreSpecCount=2 CPUSpecList=0-1,96-97 MemSpecLimit=15460 "
    "State=IDLE+DRAIN ThreadsPerCore=2 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A Partitions=batch  "
    "BootTime=2024-03-04T08:12:40 SlurmdStartTime=2024-03-04T08:15:02 LastBusyTime=2024-03-04T08:15:02 "
    "CfgTRES=cpu=192,mem=739G,billing=192 AllocTRES= CapWatts=n/a CurrentWatts=0 AveWatts=0 "
    "ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s "
    "Reason=Low RealMemory (reported:700000 < 100.00% of configured:756736) [slurm@2024-03-04T08:15:02]\n"
    "NodeName=c02 Arch=x86_64 CoresPerSocket=48 CPUAlloc=96 CPUEfctv=192 CPUTot=192 CPULoad=95.02 "
    "AvailableFeatures=(null) ActiveFeatures=(null) Gres=(null) NodeAddr=c02 NodeHostName=c02 Version=22.05.8 "
    "OS=Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)  RealMemory=756736 AllocMem=0 "
    "FreeMem=600000 Sockets=2 Boards=1 State=MIXED ThreadsPerCore=2 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A "
    "Partitions=batch  BootTime=2024-03-04T08:12:41 SlurmdStartTime=2024-03-04T08:15:03 "
    "LastBusyTime=2024-03-04T09:00:00 CfgTRES=cpu=192,mem=739G,billing=192 AllocTRES=cpu=96 CapWatts=n/a "
    "CurrentWatts=0 AveWatts=0 ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s\n"
)

# Slurm 23.11.4 (Ubuntu 24.04), one-line form: a GPU node that stopped answering.
SCONTROL_2311 = (
    "NodeName=g01 Arch=x86_64 CoresPerSocket=32 CPUAlloc=0 CPUEfctv=128 CPUTot=128 CPULoad=0.00 "
    "AvailableFeatures=(null) ActiveFeatures=(null) Gres=gpu:h100:8(S:0-1) NodeAddr=10.10.2.1 NodeHostName=g01 "
    "Version=23.11.4 OS=Linux 6.8.0-31-generic #31-Ubuntu SMP PREEMPT_DYNAMIC Sat Apr 20 00:40:06 UTC 2024  "
    "RealMemory=1031168 AllocMem=0 FreeMem=N/A Sockets=2 Boards=1 State=DOWN+NOT_RESPONDING ThreadsPerCore=2 "
    "TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A Partitions=gpu  BootTime=None SlurmdStartTime=None "
    "LastBusyTime=2024-05-01T10:01:00 ResumeAfterTime=None CfgTRES=cpu=128,mem=1007G,billing=128,gres/gpu=8 "
    "AllocTRES= CapWatts=n/a CurrentWatts=0 AveWatts=0 ExtSensorsJoules=n/a ExtSensorsWatts=0 ExtSensorsTemp=n/a "
    "Reason=Not responding [slurm@2024-05-02T11:30:00]\n"
)

# The same node without -o (multi-line), with a Comment after the Reason.
SCONTROL_MULTILINE = """\
NodeName=g01 Arch=x86_64 CoresPerSocket=32
   CPUAlloc=0 CPUEfctv=128 CPUTot=128 CPULoad=0.00
   AvailableFeatures=(null)
   ActiveFeatures=(null)
   Gres=gpu:h100:8(S:0-1)
   NodeAddr=10.10.2.1 NodeHostName=g01 Version=23.11.4
   OS=Linux 6.8.0-31-generic #31-Ubuntu SMP PREEMPT_DYNAMIC Sat Apr 20 00:40:06 UTC 2024
   RealMemory=1031168 AllocMem=0 FreeMem=N/A Sockets=2 Boards=1
   State=IDLE+DRAIN ThreadsPerCore=2 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A
   Partitions=gpu
   Reason=GPU 3 fell off the bus [root@2024-05-02T11:30:00]
   Comment=ticket 4711

NodeName=g02 Arch=x86_64 CoresPerSocket=32
   CPUAlloc=0 CPUEfctv=128 CPUTot=128 CPULoad=0.00
   Gres=gpu:h100:8(S:0-1)
   RealMemory=1031168 AllocMem=0 FreeMem=1000000 Sockets=2 Boards=1
   State=IDLE ThreadsPerCore=2 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A
"""

# scontrol --json show node, Slurm 22.05 (openapi v0.0.38 layout: state word + state_flags), shortened.
JSON_2205 = {
    "meta": {"plugin": {"type": "openapi/v0.0.38", "name": "Slurm OpenAPI v0.0.38"},
             "Slurm": {"version": {"major": 22, "micro": 8, "minor": 5}, "release": "22.05.8"}},
    "errors": [],
    "nodes": [
        {"architecture": "x86_64", "burstbuffer_network_address": "", "boards": 1, "boot_time": 1709539960,
         "comment": "", "cores": 48, "cpu_binding": 0, "cpu_load": 41, "extra": "", "free_memory": 741023,
         "cpus": 192, "last_busy": 1709540102, "features": "", "active_features": "", "gres": "",
         "gres_drained": "N/A", "gres_used": "", "mcs_label": "", "name": "c01",
         "next_state_after_reboot": "invalid", "address": "c01", "hostname": "c01", "state": "idle",
         "state_flags": ["DRAIN"], "next_state_after_reboot_flags": [],
         "operating_system": "Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)",
         "owner": None, "partitions": ["batch"], "port": 6818, "real_memory": 756736, "reason": "Low RealMemory",
         "reason_changed_at": 1709540102, "reason_set_by_user": "slurm", "slurmd_start_time": 1709540102,
         "sockets": 2, "threads": 2, "temporary_disk": 0, "weight": 1, "tres": "cpu=192,mem=739G,billing=192",
         "slurmd_version": "22.05.8", "alloc_memory": 0, "alloc_cpus": 0, "idle_cpus": 192, "tres_used": None,
         "tres_weighted": 0.0},
        {"architecture": "x86_64", "boards": 1, "cores": 48, "cpus": 192, "gres": "", "name": "c02",
         "state": "mixed", "state_flags": [], "real_memory": 756736, "reason": "", "sockets": 2, "threads": 2},
    ],
}

# scontrol --json show node, Slurm 23.11 (data_parser v0.0.40: state list, {set, infinite, number}), shortened.
JSON_2311 = {
    "nodes": [
        {"architecture": "x86_64", "burstbuffer_network_address": "", "boards": 1,
         "boot_time": {"set": True, "infinite": False, "number": 1714557600}, "cluster_name": "", "cores": 32,
         "specialized_cores": 0, "cpu_binding": 0, "cpu_load": 0,
         "free_mem": {"set": False, "infinite": False, "number": 0}, "cpus": 128, "effective_cpus": 128,
         "specialized_cpus": "", "features": [], "active_features": [], "gres": "gpu:h100:8(S:0-1)",
         "gres_drained": "N/A", "gres_used": "gpu:h100:0(IDX:N/A)", "name": "g01",
         "next_state_after_reboot": ["INVALID"], "address": "10.10.2.1", "hostname": "g01",
         "state": ["DOWN", "NOT_RESPONDING"], "operating_system": "Linux 6.8.0-31-generic", "owner": "",
         "partitions": ["gpu"], "port": 6818, "real_memory": 1031168, "comment": "", "reason": "Not responding",
         "reason_changed_at": {"set": True, "infinite": False, "number": 1714649400},
         "reason_set_by_user": "slurm", "sockets": 2, "threads": 2, "temporary_disk": 0, "weight": 1,
         "tres": "cpu=128,mem=1007G,billing=128,gres/gpu=8", "version": "23.11.4"},
    ],
    "meta": {"plugin": {"type": "", "name": "", "data_parser": "data_parser/v0.0.40"},
             "slurm": {"version": {"major": "23", "micro": "4", "minor": "11"}, "release": "23.11.4"}},
    "errors": [], "warnings": [],
}

# What validate.yml asks jmespath for.
NODE_QUERY = ("nodes[].{name: name, cpus: cpus, boards: boards, sockets: sockets, cores: cores, threads: threads, "
              "real_memory: real_memory, state: state, state_flags: state_flags, reason: reason, gres: gres}")

# A 2-socket Genoa-like node: what hpcai_cpu_topology says (only the keys the comparisons read).
TOPO = {
    "counts": {"cpus_online": 192, "cores": 96, "sockets": 2, "numa_nodes": 2, "numa_nodes_total": 2,
               "l3_domains": 24},
    "slurm": {"CPUs": 192, "Boards": 1, "SocketsPerBoard": 2, "CoresPerSocket": 48, "ThreadsPerCore": 2,
              "RealMemory": 773000},
    "slurm_l3_as_socket": {"CPUs": 192, "Boards": 1, "SocketsPerBoard": 24, "CoresPerSocket": 4,
                           "ThreadsPerCore": 2, "RealMemory": 773000},
    "container": None,
}
# 773000 - max(1024, 2 % = 15460) = 757540, rounded down to GiB: 739 * 1024.
TOPO_REAL_MEMORY = 756736

SLURMD_C = ("NodeName=c01 CPUs=192 Boards=1 SocketsPerBoard=2 CoresPerSocket=48 ThreadsPerCore=2 RealMemory=773000\n"
            "UpTime=12-04:31:07\n")


def _by_check(rows):
    return dict((r["check"], r) for r in rows)


def _statuses(rows):
    return dict((r["check"], r["status"]) for r in rows)


# ================================================================ parsers

def test_scontrol_22_05_one_line():
    nodes = d.parse_scontrol_nodes(SCONTROL_2205)
    assert sorted(nodes) == ["c01", "c02"]
    c01 = nodes["c01"]
    assert (c01["CPUs"], c01["Boards"], c01["Sockets"], c01["SocketsPerBoard"], c01["CoresPerSocket"],
            c01["ThreadsPerCore"], c01["RealMemory"]) == (192, 1, 2, 2, 48, 2, 756736)
    assert c01["State"] == "IDLE+DRAIN" and c01["state_words"] == ["IDLE", "DRAIN"]
    assert c01["Reason"] == ("Low RealMemory (reported:700000 < 100.00% of configured:756736) "
                             "[slurm@2024-03-04T08:15:02]")
    assert c01["Gres"] == "" and c01["gpus"] == 0
    assert d.state_problems(c01) == ["DRAIN"]
    assert nodes["c02"]["State"] == "MIXED" and d.state_problems(nodes["c02"]) == []
    assert nodes["c02"]["Reason"] == ""


def test_scontrol_23_11_one_line_gres_and_not_responding():
    g01 = d.parse_scontrol_nodes(SCONTROL_2311)["g01"]
    assert g01["Gres"] == "gpu:h100:8(S:0-1)" and g01["gpus"] == 8
    assert g01["RealMemory"] == 1031168  # the OS= value with blanks does not swallow it
    assert g01["State"] == "DOWN+NOT_RESPONDING"
    assert d.state_problems(g01) == ["DOWN", "NOT_RESPONDING"]
    assert g01["Reason"] == "Not responding [slurm@2024-05-02T11:30:00]"


def test_scontrol_multiline_form_and_keys_after_the_reason():
    nodes = d.parse_scontrol_nodes(SCONTROL_MULTILINE)
    assert sorted(nodes) == ["g01", "g02"]
    assert nodes["g01"]["Reason"] == "GPU 3 fell off the bus [root@2024-05-02T11:30:00]"
    assert nodes["g01"]["CPUs"] == 128 and nodes["g02"]["CPUs"] == 128
    assert nodes["g02"]["State"] == "IDLE" and nodes["g02"]["gpus"] == 8


def test_scontrol_text_that_is_not_node_output_is_an_error():
    with pytest.raises(d.DriftError, match="no NodeName="):
        d.parse_scontrol_nodes("slurm_load_node error: Unable to contact slurm controller (connect failure)")
    assert d.parse_scontrol_nodes("") == {}
    with pytest.raises(d.DriftError, match="CPUTot must be a number"):
        d.parse_scontrol_nodes("NodeName=x CPUTot=many State=IDLE")


def test_scontrol_json_22_05_state_word_and_flags():
    nodes = d.scontrol_json_nodes(JSON_2205)
    c01 = nodes["c01"]
    assert (c01["CPUs"], c01["SocketsPerBoard"], c01["CoresPerSocket"], c01["ThreadsPerCore"],
            c01["RealMemory"]) == (192, 2, 48, 2, 756736)
    assert c01["State"] == "IDLE+DRAIN" and c01["Reason"] == "Low RealMemory"
    assert nodes["c02"]["State"] == "MIXED"
    # the text form gives the same values
    text = d.parse_scontrol_nodes(SCONTROL_2205)
    for key in ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory", "State"):
        assert nodes["c01"][key] == text["c01"][key]


def test_scontrol_json_23_11_state_list_and_number_objects():
    g01 = d.scontrol_nodes(json.dumps(JSON_2311))["g01"]
    assert g01["State"] == "DOWN+NOT_RESPONDING" and g01["gpus"] == 8 and g01["RealMemory"] == 1031168
    assert g01 == d.scontrol_json_nodes(JSON_2311["nodes"])["g01"]
    # numbers as {set, infinite, number}
    doc = {"nodes": [dict(JSON_2311["nodes"][0], cpus={"set": True, "infinite": False, "number": 128})]}
    assert d.scontrol_json_nodes(doc)["g01"]["CPUs"] == 128


def test_scontrol_json_errors():
    with pytest.raises(d.DriftError, match="no 'nodes'"):
        d.scontrol_json_nodes({"errors": [{"error": "Unable to contact slurm controller"}]})
    with pytest.raises(d.DriftError, match="not JSON"):
        d.scontrol_json_nodes("{nodes")
    with pytest.raises(d.DriftError, match=r"nodes\[0\] has no name"):
        d.scontrol_json_nodes([{"cpus": 1}])


@pytest.mark.parametrize("state,flags,words", [
    ("IDLE+DRAIN", None, ["IDLE", "DRAIN"]),
    ("DOWN*", None, ["NOT_RESPONDING", "DOWN"]),
    ("idle", ["DRAIN", "INVALID_REG"], ["IDLE", "DRAIN", "INVALID_REG"]),
    (["MIXED", "COMPLETING"], None, ["MIXED", "COMPLETING"]),
    ("IDLE+CLOUD+POWERED_DOWN", None, ["IDLE", "CLOUD", "POWERED_DOWN"]),
])
def test_state_words(state, flags, words):
    assert d._state_words(state, flags) == words


def test_powered_down_cloud_nodes_are_not_problems():
    assert d.state_problems({"state_words": ["IDLE", "CLOUD", "POWERED_DOWN"]}) == []
    assert d.state_problems({"state_words": ["DOWN", "DRAIN", "INVALID_REG"]}) == ["DOWN", "DRAIN", "INVALID_REG"]


@pytest.mark.parametrize("gres,count", [
    ("", 0), (None, 0), ("(null)", 0), ("gpu", 1), ("gpu:4", 4), ("gpu:a100:4", 4), ("gpu:h100:8(S:0-1)", 8),
    ("gpu:a100:2(S:0),gpu:v100:2(S:1)", 4), ("cpu:24,gpu:tesla:4(S:0),test:8", 4), ("gpu:a100:no_consume:2", 2),
    ("mps:400,gpu:1", 1), ("shard:8", 0),
])
def test_gres_gpu_count(gres, count):
    assert d.gres_gpu_count(gres) == count


GRES_CONF = """\
# Ansible managed
# hpcai.cluster.slurm: GPUs measured on each node (hpcai.cluster.gpu_facts); Cores= in Slurm's abstract core ids.
NodeName=g[01-02] AutoDetect=nvml
NodeName=g[01-02] Name=gpu Type=h100 File=/dev/nvidia0 Cores=0-31
NodeName=g[01-02] Name=gpu Type=h100 File=/dev/nvidia1 Cores=0-31
NodeName=g03 Name=gpu Type=a100 File=/dev/nvidia[0-3]
NodeName=g04 name=GPU type=l4 count=2
Name=mps Count=400
"""


@pytest.mark.parametrize("node,count", [("g01", 2), ("g02", 2), ("g03", 4), ("g04", 2), ("c01", 0)])
def test_gres_conf_gpu_count(node, count):
    assert d.gres_conf_gpu_count(GRES_CONF, node) == count


def test_gres_conf_lines_without_nodename_apply_to_every_node():
    text = "AutoDetect=off\nName=gpu File=/dev/nvidia0,/dev/nvidia1\n"
    assert d.gres_conf_gpu_count(text, "anything") == 2
    assert d.gres_conf_gpu_count(None, "g01") is None


SYSCTL_FILE = """\
# Generated by hpcai.cluster.numa_sysctl - do not edit, the next run overwrites it.
; a semicolon comment
#
# profile:    hpc

# AMD with 8 L3 domains per NUMA node: no reclaim from the local node first
vm.zone_reclaim_mode = 0
kernel.numa_balancing=1
   vm.min_free_kbytes   =   1048576
net.ipv4.tcp_rmem = 4096\t87380   6291456
-kernel/sched_autogroup_enabled = 0
vm.swappiness = 60
vm.swappiness = 10
"""


def test_parse_sysctl_file_comments_spaces_duplicates():
    parsed = d.parse_sysctl_text(SYSCTL_FILE)
    assert parsed["values"] == {
        "vm.zone_reclaim_mode": "0", "kernel.numa_balancing": "1", "vm.min_free_kbytes": "1048576",
        "net.ipv4.tcp_rmem": "4096 87380 6291456", "kernel.sched_autogroup_enabled": "0", "vm.swappiness": "10",
    }
    assert parsed["duplicates"] == {"vm.swappiness": ["60", "10"]}
    assert parsed["invalid"] == []
    assert d.parse_sysctl_text("vm.swappiness\n")["invalid"] == ["vm.swappiness"]
    assert d.parse_sysctl_text(None)["values"] == {}


def test_parse_sysctl_command_output():
    out = "vm.zone_reclaim_mode = 0\nnet.ipv4.tcp_rmem = 4096\t131072\t6291456\n"
    assert d.parse_sysctl_text(out)["values"] == {"vm.zone_reclaim_mode": "0",
                                                  "net.ipv4.tcp_rmem": "4096 131072 6291456"}


@pytest.mark.parametrize("text,state,profile", [
    ("Current active profile: hpcai-compute-cpu\n", "active", "hpcai-compute-cpu"),
    ("No current active profile.\n", "none", None),
    ("It seems that tuned daemon is not running, preset profile is not activated.\nPreset profile: balanced\n",
     "not_running", "balanced"),
    ("Current active profile: hpcai-compute-cpu cpu-partitioning\nCurrent post-loaded profile: cpu-partitioning\n",
     "active", "hpcai-compute-cpu"),
    ("Cannot talk to TuneD daemon via DBus. Is TuneD daemon running?\n", "unknown", None),
    ("", "unknown", None),
])
def test_parse_tuned_active(text, state, profile):
    parsed = d.parse_tuned_active(text)
    assert (parsed["state"], parsed["profile"]) == (state, profile)


def test_parse_hwloc_calc():
    assert d.parse_hwloc_calc("2\n") == 2
    assert d.parse_hwloc_calc("  384 \n") == 384
    assert d.parse_hwloc_calc(8) == 8
    with pytest.raises(d.DriftError, match="no number"):
        d.parse_hwloc_calc("hwloc-calc: unrecognized option '--whole-system'\n")


def test_command_result_missing_skipped_and_text():
    # ansible-core 2.19 command module, executable not found
    missing = d.command_result({"rc": 2, "msg": "Error executing command.", "stdout": "", "stderr": "",
                                "cmd": "tuned-adm active"})
    assert missing["missing"] and missing["error"] == "tuned-adm: command not found"
    old = d.command_result({"rc": 2, "msg": "[Errno 2] No such file or directory: b'hwloc-calc'", "cmd": ["hwloc-calc"]})
    assert old["missing"]
    assert not d.command_result({"rc": 255, "stdout": "", "msg": "non-zero return code",
                                 "stderr": "sysctl: cannot stat /proc/sys/vm/x: No such file or directory"})["missing"]
    assert not d.command_result({"skipped": True, "changed": False})["ran"]
    assert not d.command_result(None)["ran"]
    assert d.command_result("2\n")["stdout"] == "2\n"


# ================================================================ a. slurm_node

def _record(**over):
    values = {"CPUs": 192, "Boards": 1, "SocketsPerBoard": 2, "CoresPerSocket": 48, "ThreadsPerCore": 2,
              "RealMemory": TOPO_REAL_MEMORY, "State": "IDLE", "state_words": ["IDLE"], "Reason": "", "gpus": 0,
              "Gres": ""}
    values.update(over)
    return values


def test_slurm_node_matching():
    rows = d.compare_slurm_node("c01", TOPO, {"c01": _record()})
    assert set(_statuses(rows).values()) == {"ok"}
    assert len(rows) == 7  # six values + State
    assert _by_check(rows)["slurm_node RealMemory"]["expected"] == str(TOPO_REAL_MEMORY)


def test_slurm_node_expected_is_the_role_line():
    # the same numbers slurm_conf.node_values gives the slurm role
    assert node_values(TOPO)["RealMemory"] == TOPO_REAL_MEMORY


def test_slurm_node_l3_as_socket_uses_the_l3_figures():
    record = _record(SocketsPerBoard=24, CoresPerSocket=4)
    assert set(_statuses(d.compare_slurm_node("c01", TOPO, {"c01": record}, l3_as_socket=True)).values()) == {"ok"}
    rows = d.compare_slurm_node("c01", TOPO, {"c01": record})
    assert _statuses(rows)["slurm_node SocketsPerBoard"] == "drift"
    assert _statuses(rows)["slurm_node CoresPerSocket"] == "drift"


def test_slurm_node_overrides_apply_and_memory_override_is_exact():
    overrides = {"RealMemory": "700000", "Features": "genoa", "Weight": 10}
    rows = d.compare_slurm_node("c01", TOPO, {"c01": _record(RealMemory=700000)}, overrides=overrides)
    assert set(_statuses(rows).values()) == {"ok"}
    rows = d.compare_slurm_node("c01", TOPO, {"c01": _record(RealMemory=700512)}, overrides=overrides)
    assert _statuses(rows)["slurm_node RealMemory"] == "drift"


def test_slurm_node_real_memory_tolerance():
    # one GiB below (grouped with a smaller identical node, or MemTotal moved): a note
    rows = d.compare_slurm_node("c01", TOPO, {"c01": _record(RealMemory=TOPO_REAL_MEMORY - 1024)})
    assert _statuses(rows)["slurm_node RealMemory"] == "note"
    # 8 GiB below: drift, with the difference
    row = _by_check(d.compare_slurm_node("c01", TOPO, {"c01": _record(RealMemory=TOPO_REAL_MEMORY - 8192)}))[
        "slurm_node RealMemory"]
    assert row["status"] == "drift" and "differs by 8192 MiB" in row["detail"]
    # tolerance 0: any difference is drift
    rows = d.compare_slurm_node("c01", TOPO, {"c01": _record(RealMemory=TOPO_REAL_MEMORY - 1024)},
                                memory_tolerance_mib=0)
    assert _statuses(rows)["slurm_node RealMemory"] == "drift"
    # more than the node has now: drift even within the tolerance of the expected value
    topo = dict(TOPO, slurm=dict(TOPO["slurm"], RealMemory=TOPO_REAL_MEMORY + 100))
    row = _by_check(d.compare_slurm_node("c01", topo, {"c01": _record(RealMemory=TOPO_REAL_MEMORY + 200)}))[
        "slurm_node RealMemory"]
    assert row["status"] == "drift" and "Low RealMemory" in row["detail"]


def test_slurm_node_cpu_change_is_drift():
    rows = d.compare_slurm_node("c01", TOPO, {"c01": _record(CPUs=96, ThreadsPerCore=1)})
    assert _statuses(rows)["slurm_node CPUs"] == "drift"
    assert _by_check(rows)["slurm_node CPUs"]["expected"] == "192"
    assert _by_check(rows)["slurm_node CPUs"]["actual"] == "96"


def test_slurm_node_state_and_reason():
    nodes = d.parse_scontrol_nodes(SCONTROL_2205)
    rows = d.compare_slurm_node("c01", TOPO, nodes)
    state = _by_check(rows)["slurm_node State"]
    assert state["status"] == "drift"
    assert state["actual"].startswith("IDLE+DRAIN (Reason: Low RealMemory (reported:700000")
    assert _by_check(d.compare_slurm_node("c02", TOPO, nodes))["slurm_node State"]["status"] == "ok"


def test_slurm_node_unknown_to_slurmctld_and_no_records():
    rows = d.compare_slurm_node("node7", TOPO, {"c01": _record()}, slurm_name="c07")
    assert len(rows) == 1 and rows[0]["status"] == "drift" and rows[0]["expected"] == "defined (c07)"
    assert d.compare_slurm_node("c01", TOPO, None) == []
    rows = d.compare_slurm_node("c01", None, {"c01": _record()})
    assert _statuses(rows) == {"slurm_node values": "note", "slurm_node State": "ok"}


def test_unknown_nodes():
    nodes = d.parse_scontrol_nodes(SCONTROL_2205)
    rows = d.unknown_nodes(nodes, ["c01", "c01.cluster.lan"])
    assert [(r["node"], r["status"], r["actual"]) for r in rows] == [("c02", "drift", "defined, MIXED")]
    assert d.unknown_nodes(None, []) == []


# ================================================================ b. slurmd -C

def test_slurmd_matching_and_reserve():
    rows = d.compare_slurmd("c01", SLURMD_C, {"c01": _record()})
    assert set(_statuses(rows).values()) == {"ok"}
    real = _by_check(rows)["slurmd RealMemory"]
    assert (real["expected"], real["actual"]) == ("773000", str(TOPO_REAL_MEMORY))


def test_slurmd_l3_as_socket_layout_is_a_note():
    rows = d.compare_slurmd("c01", SLURMD_C, {"c01": _record(SocketsPerBoard=24, CoresPerSocket=4)})
    statuses = _statuses(rows)
    assert statuses["slurmd SocketsPerBoard"] == "note" and statuses["slurmd CoresPerSocket"] == "note"
    assert "drift" not in statuses.values()
    assert "L3 domains as sockets" in _by_check(rows)["slurmd SocketsPerBoard"]["detail"]


def test_slurmd_drain_causing_values_are_drift():
    rows = d.compare_slurmd("c01", SLURMD_C, {"c01": _record(CPUs=256, SocketsPerBoard=4, RealMemory=800000)})
    statuses = _statuses(rows)
    assert statuses["slurmd CPUs"] == "drift" and "Low CPUs" in _by_check(rows)["slurmd CPUs"]["detail"]
    assert statuses["slurmd SocketsPerBoard"] == "drift"
    assert statuses["slurmd RealMemory"] == "drift"
    assert "Low RealMemory" in _by_check(rows)["slurmd RealMemory"]["detail"]


def test_slurmd_fewer_cpus_is_a_note():
    rows = d.compare_slurmd("c01", SLURMD_C, {"c01": _record(CPUs=96)})
    assert _statuses(rows)["slurmd CPUs"] == "note"


def test_slurmd_missing_or_failing_is_drift():
    rows = d.compare_slurmd("c01", {"rc": 2, "msg": "Error executing command.", "stdout": "", "cmd": "slurmd -C"},
                            {"c01": _record()})
    assert rows[0]["status"] == "drift" and rows[0]["actual"] == "not installed"
    rows = d.compare_slurmd("c01", {"rc": 1, "stdout": "", "stderr": "slurmd: fatal: Unable to determine this slurmd's NodeName"},
                            {"c01": _record()})
    assert rows[0]["actual"] == "rc=1" and "NodeName" in rows[0]["detail"]
    assert d.compare_slurmd("c01", {"skipped": True}, {"c01": _record()}) == []
    assert d.compare_slurmd("c01", SLURMD_C, None) == []


# ================================================================ c. hwloc

def test_hwloc_bare_metal():
    rows = d.compare_hwloc("c01", TOPO, {"package": 2, "core": 96, "pu": 192})
    assert set(_statuses(rows).values()) == {"ok"}
    rows = d.compare_hwloc("c01", TOPO, {"package": 2, "core": 96, "pu": 96})
    assert _statuses(rows)["hwloc pu"] == "drift"


def test_hwloc_in_a_container_is_a_note():
    rows = d.compare_hwloc("c01", TOPO, {"package": 2, "core": 128, "pu": 256}, container=True)
    assert _statuses(rows) == {"hwloc package": "ok", "hwloc core": "note", "hwloc pu": "note"}
    assert "container: not comparable" in _by_check(rows)["hwloc pu"]["detail"]


def test_hwloc_absent_is_a_note():
    rows = d.compare_hwloc("c01", TOPO, {}, error="hwloc-calc not installed")
    assert [r["status"] for r in rows] == ["note"]


# ================================================================ d. GPUs

def _gpu_facts(found, gres):
    return {"counts": {"gpus": found, "nvswitches": 0}, "slurm": {"gres": gres, "conf_lines": []}}


def test_gpus_none_anywhere_is_fine():
    rows = d.compare_gpus("c01", _gpu_facts(0, ""), {"c01": _record()}, gres_conf=None)
    assert set(_statuses(rows).values()) == {"ok"}


def test_gpus_matching():
    nodes = d.parse_scontrol_nodes(SCONTROL_MULTILINE)
    conf = "NodeName=g[01-02] AutoDetect=nvml\n" + "".join(
        "NodeName=g[01-02] Name=gpu Type=h100 File=/dev/nvidia%d\n" % i for i in range(8))
    rows = d.compare_gpus("g01", _gpu_facts(8, "gpu:h100:8"), nodes, gres_conf=conf,
                          gres_conf_path="head:/etc/slurm/gres.conf")
    assert _statuses(rows) == {"gpu Gres (slurmctld)": "ok", "gpu head:/etc/slurm/gres.conf": "ok"}


def test_gpu_lost_is_drift():
    nodes = d.parse_scontrol_nodes(SCONTROL_MULTILINE)
    conf = "NodeName=g01 Name=gpu Type=h100 File=/dev/nvidia[0-7]\n"
    rows = d.compare_gpus("g01", _gpu_facts(7, "gpu:h100:7"), nodes, gres_conf=conf)
    assert _statuses(rows) == {"gpu Gres (slurmctld)": "drift", "gpu gres.conf": "drift"}
    assert (_by_check(rows)["gpu Gres (slurmctld)"]["expected"], _by_check(rows)["gpu Gres (slurmctld)"]["actual"]) \
        == ("7", "8")


def test_gpus_without_gres_conf_and_unusable_gpus():
    rows = d.compare_gpus("c01", _gpu_facts(2, "gpu:a100:1"), {"c01": _record(gpus=1)}, gres_conf=None)
    statuses = _statuses(rows)
    assert statuses["gpu usable"] == "note" and statuses["gpu gres.conf"] == "drift"
    rows = d.compare_gpus("c01", _gpu_facts(2, "gpu:a100:2"), {"c01": _record()}, gres_enabled=False)
    assert [r["status"] for r in rows] == ["note"]
    assert d.compare_gpus("c01", None, {}) == []


# ================================================================ e. sysctls

RECORD_SYSCTLS = {"vm.zone_reclaim_mode": "0", "kernel.numa_balancing": "1", "vm.min_free_kbytes": 1048576,
                  "net.ipv4.tcp_rmem": "4096 87380 6291456", "kernel.sched_autogroup_enabled": "0",
                  "vm.swappiness": "10"}


def test_sysctls_file_matches_with_a_repeated_key_note():
    rows = d.compare_sysctls("c01", RECORD_SYSCTLS, SYSCTL_FILE, "/etc/sysctl.d/90-hpcai-numa.conf")
    statuses = _statuses(rows)
    assert statuses.pop("sysctl file vm.swappiness (repeated)") == "note"
    assert set(statuses.values()) == {"ok"} and len(statuses) == 6


def test_sysctls_file_changed_missing_extra():
    text = SYSCTL_FILE.replace("vm.zone_reclaim_mode = 0", "vm.zone_reclaim_mode = 1").replace(
        "kernel.numa_balancing=1\n", "") + "vm.dirty_ratio = 40\n"
    rows = d.compare_sysctls("c01", RECORD_SYSCTLS, text, "/etc/sysctl.d/90-hpcai-numa.conf")
    by = _by_check(rows)
    assert (by["sysctl file vm.zone_reclaim_mode"]["status"], by["sysctl file vm.zone_reclaim_mode"]["expected"],
            by["sysctl file vm.zone_reclaim_mode"]["actual"]) == ("drift", "0", "1")
    assert (by["sysctl file kernel.numa_balancing"]["status"], by["sysctl file kernel.numa_balancing"]["actual"]) \
        == ("drift", "(absent)")
    assert (by["sysctl file vm.dirty_ratio"]["status"], by["sysctl file vm.dirty_ratio"]["expected"]) \
        == ("drift", "(absent)")
    assert "sysctl file line" not in by


def test_sysctls_file_missing_or_unreadable_line():
    rows = d.compare_sysctls("c01", RECORD_SYSCTLS, None, "/etc/sysctl.d/90-hpcai-numa.conf")
    assert [(r["check"], r["status"]) for r in rows] == [
        ("sysctl file /etc/sysctl.d/90-hpcai-numa.conf", "drift")]
    assert d.compare_sysctls("c01", {}, None) == []
    rows = d.compare_sysctls("c01", {"vm.swappiness": "10"}, "vm.swappiness = 10\nvm.dirty_ratio\n")
    assert _statuses(rows)["sysctl file line"] == "drift"


def test_sysctls_live_on_bare_metal_and_in_a_container():
    live = {"vm.zone_reclaim_mode": "1", "kernel.numa_balancing": "1", "vm.min_free_kbytes": "67584",
            "net.ipv4.tcp_rmem": "4096\t87380\t6291456", "kernel.sched_autogroup_enabled": "0", "vm.swappiness": "10"}
    host = _statuses(d.compare_sysctls("c01", RECORD_SYSCTLS, live=live, compare_file=False))
    assert host["sysctl live vm.zone_reclaim_mode"] == "drift" and host["sysctl live vm.min_free_kbytes"] == "drift"
    assert host["sysctl live net.ipv4.tcp_rmem"] == "ok"  # tabs vs blanks
    rows = d.compare_sysctls("c01", RECORD_SYSCTLS, live=live, container=True, compare_file=False)
    container = _statuses(rows)
    assert container["sysctl live vm.zone_reclaim_mode"] == "note"
    assert container["sysctl live net.ipv4.tcp_rmem"] == "ok"
    assert "container: not comparable" in _by_check(rows)["sysctl live vm.min_free_kbytes"]["detail"]
    # a key this kernel does not have
    host = _statuses(d.compare_sysctls("c01", {"kernel.sched_migration_cost_ns": "500000"}, live={},
                                       compare_file=False))
    assert host == {"sysctl live kernel.sched_migration_cost_ns": "drift"}


# ================================================================ f. tuned

@pytest.mark.parametrize("result,status,actual", [
    ("Current active profile: hpcai-compute-cpu\n", "ok", "hpcai-compute-cpu"),
    ("Current active profile: throughput-performance\n", "drift", "throughput-performance"),
    ("No current active profile.\n", "drift", "no active profile"),
    ({"rc": 0, "stdout": "It seems that tuned daemon is not running, preset profile is not activated.\n"
                         "Preset profile: hpcai-compute-cpu\n"}, "drift", "tuned not running (preset hpcai-compute-cpu)"),
    ({"rc": 2, "msg": "Error executing command.", "stdout": "", "cmd": ["tuned-adm", "active"]}, "drift",
     "tuned not installed"),
])
def test_tuned(result, status, actual):
    rows = d.compare_tuned("c01", "hpcai-compute-cpu", result)
    assert [(r["status"], r["actual"]) for r in rows] == [(status, actual)]


def test_tuned_not_managed_is_not_checked():
    assert d.compare_tuned("c01", None, "No current active profile.\n") == []


# ================================================================ report

def _rows_with_drift():
    rows = d.compare_sysctls("c01", {"vm.zone_reclaim_mode": "0", "vm.swappiness": "10"},
                             "vm.zone_reclaim_mode = 1\nvm.swappiness = 10\n", "/etc/sysctl.d/90-hpcai-numa.conf")
    rows += d.compare_tuned("c01", "hpcai-compute-cpu", "Current active profile: hpcai-compute-cpu\n")
    rows += d.compare_tuned("c10", "hpcai-compute-cpu", "Current active profile: balanced\n")
    rows += d.compare_tuned("c2", "hpcai-compute-cpu", "Current active profile: hpcai-compute-cpu\n")
    rows += d.compare_hwloc("c2", TOPO, {}, error="hwloc-calc not installed")
    return rows


def test_report_without_drift():
    rows = [r for r in _rows_with_drift() if r["status"] != "drift"]
    rep = d.report(rows, checks=["hwloc", "sysctl", "tuned"])
    assert rep["ok"] and rep["drift"] == 0 and rep["message"] == "" and rep["table"] == []
    assert rep["lines"] == [
        "no drift on 2 nodes (hwloc, sysctl, tuned)",
        "hwloc: OK (nothing to compare; 1 note)",
        "sysctl: OK (1 value matches on 1 node)",
        "tuned: OK (2 values match on 2 nodes)",
        "notes:",
        "  c2 hwloc: expected hwloc-calc counts, actual unavailable - hwloc-calc not installed",
    ]


def test_report_with_drift_table_and_message():
    rep = d.report(_rows_with_drift(), checks=["sysctl", "tuned"])
    assert not rep["ok"] and rep["drift_nodes"] == ["c01", "c10"]
    assert rep["table"] == [
        "node | check                            | expected          | actual",
        "-----+----------------------------------+-------------------+---------",
        "c01  | sysctl file vm.zone_reclaim_mode | 0                 | 1",
        "c10  | tuned profile                    | hpcai-compute-cpu | balanced",
    ]
    assert rep["lines"][0] == "DRIFT on 2 nodes: c01, c10 (2 mismatches)"
    assert rep["lines"][1:5] == rep["table"]
    assert "sysctl: DRIFT (1 of 2 values differ, on 1 node: c01)" in rep["lines"]
    assert "tuned: DRIFT (1 of 3 values differ, on 1 node: c10)" in rep["lines"]
    assert rep["message"] == (
        "validate: the running cluster differs from its configuration on 2 nodes: "
        "c01 (sysctl file vm.zone_reclaim_mode: expected 0, actual 1), "
        "c10 (tuned profile: expected hpcai-compute-cpu, actual balanced)")


def test_report_natural_node_order_incomplete_hosts_and_cap():
    rows = [d.row("n%d" % (i % 3 + 9), "sysctl", "sysctl file k%d" % i, "1", "2", "drift") for i in range(9)]
    rep = d.report(rows, incomplete=["n2"])
    assert rep["drift_nodes"] == ["n2", "n9", "n10", "n11"]
    assert "n2 (validate run: expected completed, actual unreachable or failed)" in rep["message"]
    assert "and 1 more (see the table)" not in rep["message"]
    rep = d.report(rows * 2)
    assert "and 1 more (see the table)" in rep["message"]


def test_report_bad_input():
    with pytest.raises(d.DriftError, match=r"rows\[0\] must be a row"):
        d.report([{"node": "c01"}])
    with pytest.raises(d.DriftError, match="unknown check kinds bogus"):
        d.report([], checks=["bogus"])


def test_render_table_is_fixed_width():
    lines = d.render_table([d.row("a", "tuned", "x", "1", "22", "drift"), d.row("bbbb", "tuned", "yy", None, 3, "ok")])
    assert lines == ["node | check | expected | actual", "-----+-------+----------+-------",
                     "a    | x     | 1        | 22", "bbbb | yy    |          | 3"]
    bars = [[i for i, c in enumerate(line) if c in "|+"] for line in lines]
    assert all(b == bars[0] for b in bars)


# ================================================================ filters

FILTER_NAMES = ["drift_scontrol_nodes", "drift_slurm_node_rows", "drift_slurmd_rows", "drift_hwloc_rows",
                "drift_gpu_rows", "drift_sysctl_rows", "drift_tuned_rows", "drift_unknown_nodes", "drift_report"]


def test_every_filter_has_its_doc():
    assert sorted(filt.FilterModule().filters()) == sorted(FILTER_NAMES)
    for name in FILTER_NAMES:
        doc = yaml.safe_load((REPO / "plugins" / "filter" / ("%s.yml" % name)).read_text())
        assert doc["DOCUMENTATION"]["name"] == name
        assert doc["EXAMPLES"] and doc["RETURN"]["_value"]


@pytest.mark.parametrize("call,needle", [
    (lambda: filt.drift_scontrol_nodes("slurm_load_node error: Unable to contact slurm controller"),
     "drift_scontrol_nodes: not scontrol show node output"),
    (lambda: filt.drift_scontrol_nodes(42), "drift_scontrol_nodes: scontrol output must be text"),
    (lambda: filt.drift_slurm_node_rows(TOPO, {}, "c01", overrides="RealMemory=1"),
     "drift_slurm_node_rows: overrides (slurm_node_overrides) must be a dict"),
    (lambda: filt.drift_slurm_node_rows(TOPO, ["c01"], "c01"), "drift_slurm_node_rows: nodes must be"),
    (lambda: filt.drift_hwloc_rows("2", TOPO, "c01"), "drift_hwloc_rows: input must be"),
    (lambda: filt.drift_sysctl_rows({"sysctls": ["vm.swappiness"]}, "c01"),
     "drift_sysctl_rows: the record's sysctls must be a dict"),
    (lambda: filt.drift_unknown_nodes({}, "c01"), "drift_unknown_nodes: known must be a list"),
    (lambda: filt.drift_report("rows"), "drift_report: rows must be a list"),
])
def test_filter_errors_name_the_filter(call, needle):
    with pytest.raises(AnsibleFilterError, match=re.escape(needle)):
        call()


def test_json_query_projection_through_the_filter():
    # exactly what validate.yml does with the --json output
    expr = ("{{ doc | community.general.json_query(q) | hpcai.cluster.drift_scontrol_nodes }}")
    for doc, name, state in ((JSON_2205, "c01", "IDLE+DRAIN"), (JSON_2311, "g01", "DOWN+NOT_RESPONDING")):
        nodes = evaluate(expr, {"doc": doc, "q": NODE_QUERY})
        assert nodes[name]["State"] == state
        assert nodes[name] == d.scontrol_json_nodes(doc)[name]


def test_filter_hwloc_registered_loop():
    counts = (("package", 2), ("core", 96), ("pu", 192))
    loop = {"results": [{"item": t, "rc": 0, "stdout": str(n)} for t, n in counts], "changed": False}
    assert set(r["status"] for r in filt.drift_hwloc_rows(loop, TOPO, "c01")) == {"ok"}
    missing = {"results": [{"item": t, "rc": 2, "msg": "Error executing command.", "stdout": "", "stderr": "",
                            "cmd": "hwloc-calc --whole-system --number-of %s all" % t} for t in ("package", "core", "pu")]}
    rows = filt.drift_hwloc_rows(missing, TOPO, "c01")
    assert [(r["status"], r["detail"]) for r in rows] == [("note", "hwloc-calc not installed (install hwloc to compare)")]
    skipped = {"results": [{"item": t, "skipped": True} for t in ("package", "core", "pu")], "skipped": True}
    assert filt.drift_hwloc_rows(skipped, TOPO, "c01") == []
    assert filt.drift_hwloc_rows(None, TOPO, "c01") == []


def test_filter_sysctl_record_handling():
    rows = filt.drift_sysctl_rows(None, "c01")
    assert [(r["status"], r["actual"]) for r in rows] == [("note", "absent")]
    rows = filt.drift_sysctl_rows("Expecting value: line 1 column 1", "c01")
    assert [(r["status"], r["actual"]) for r in rows] == [("drift", "unreadable")]
    record = {"sysctl_file": "/etc/sysctl.d/90-hpcai-numa.conf", "sysctls": {"vm.zone_reclaim_mode": "0"},
              "topology_root": "/var/lib/hpcai-lab/topology/genoa", "tuned_profile": None}
    live = {"rc": 0, "stdout": "vm.zone_reclaim_mode = 1\n", "stderr": ""}
    rows = filt.drift_sysctl_rows(record, "c01", file_text="vm.zone_reclaim_mode = 0\n", live=live)
    by = _by_check(rows)
    assert by["sysctl file vm.zone_reclaim_mode"]["status"] == "ok"
    assert by["sysctl live vm.zone_reclaim_mode"]["status"] == "note"
    assert "/var/lib/hpcai-lab/topology/genoa" in by["sysctl live vm.zone_reclaim_mode"]["detail"]
    rows = filt.drift_sysctl_rows(dict(record, topology_root="/"), "c01", file_text="vm.zone_reclaim_mode = 0\n",
                                  live=live)
    assert _by_check(rows)["sysctl live vm.zone_reclaim_mode"]["status"] == "drift"
    missing = {"rc": 2, "msg": "Error executing command.", "stdout": "", "cmd": ["sysctl", "vm.zone_reclaim_mode"]}
    rows = filt.drift_sysctl_rows(record, "c01", file_text="vm.zone_reclaim_mode = 0\n", live=missing)
    assert _by_check(rows)["sysctl live"]["status"] == "note"
    assert filt.drift_tuned_rows(record, None, "c01") == []


# ================================================================ validate.yml on localhost

PLAYBOOK = REPO / "playbooks" / "validate.yml"

STANDINS = {
    "scontrol": """\
        #!/bin/sh
        # scontrol --json show node | scontrol -o show node
        if [ "$1" = "--json" ]; then
            if [ -f "$HPCAI_FAKE_DIR/scontrol.json" ]; then cat "$HPCAI_FAKE_DIR/scontrol.json"; exit 0; fi
            echo "scontrol: error: plugin_load_from_file: dlopen(serializer_json.so): No such file" >&2
            exit 1
        fi
        [ "$1" = "-o" ] && exec cat "$HPCAI_FAKE_DIR/scontrol.txt"
        echo "stand-in scontrol: unexpected arguments: $*" >&2
        exit 2
        """,
    "slurmd": """\
        #!/bin/sh
        [ "$1" = "-C" ] && exec cat "$HPCAI_FAKE_DIR/slurmd_c.txt"
        exit 2
        """,
    "hwloc-calc": """\
        #!/bin/sh
        # hwloc-calc --whole-system --number-of <type> all
        exec cat "$HPCAI_FAKE_DIR/hwloc_$3.txt"
        """,
    "tuned-adm": """\
        #!/bin/sh
        [ "$1" = "active" ] && exec cat "$HPCAI_FAKE_DIR/tuned.txt"
        exit 2
        """,
    "sysctl": """\
        #!{python}
        import json, os, sys
        values = json.load(open(os.path.join(os.environ["HPCAI_FAKE_DIR"], "sysctl.json")))
        rc = 0
        for key in sys.argv[1:]:
            if key in values:
                print("%s = %s" % (key, values[key]))
            else:
                sys.stderr.write("sysctl: cannot stat /proc/sys/%s: No such file or directory\\n" % key.replace(".", "/"))
                rc = 255
        sys.exit(rc)
        """,
}

PLAY_SYSCTLS = {"vm.zone_reclaim_mode": "0", "kernel.numa_balancing": "1", "vm.min_free_kbytes": "1048576"}


@pytest.fixture()
def lab(tmp_path):
    """A one-host cluster on localhost: stand-ins return what this machine's facts say."""
    from ansible_collections.hpcai.cluster.plugins.module_utils import gpu as gpu_mod
    from ansible_collections.hpcai.cluster.plugins.module_utils import topology as topo_mod

    exe = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    exe = exe if os.path.exists(exe) else shutil.which("ansible-playbook")
    if not exe:
        pytest.skip("ansible-playbook not found")
    topo = topo_mod.gather("/")
    gpus = gpu_mod.gather("/")
    name = platform.node().split(".")[0]
    values = node_values(topo)
    gres = gpus["slurm"]["gres"]
    fake = tmp_path / "fake"
    (fake / "bin").mkdir(parents=True)
    for tool, body in STANDINS.items():
        path = fake / "bin" / tool
        path.write_text(textwrap.dedent(body).replace("{python}", sys.executable))
        path.chmod(0o755)
    line = ("NodeName={n} Arch=x86_64 CoresPerSocket={CoresPerSocket} CPUAlloc=0 CPUEfctv={CPUs} CPUTot={CPUs} "
            "CPULoad=0.01 AvailableFeatures=(null) ActiveFeatures=(null) Gres={gres} NodeAddr={n} NodeHostName={n} "
            "Version=22.05.8 OS=Linux 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)  "
            "RealMemory={RealMemory} AllocMem=0 FreeMem=1000 Sockets={sockets} Boards={Boards} State=IDLE "
            "ThreadsPerCore={ThreadsPerCore} TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A Partitions=batch  "
            "BootTime=2024-03-04T08:12:40 SlurmdStartTime=2024-03-04T08:15:02 LastBusyTime=2024-03-04T08:15:02 "
            "CfgTRES=cpu={CPUs},billing={CPUs} AllocTRES= CapWatts=n/a CurrentWatts=0 AveWatts=0 "
            "ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s\n").format(
        n=name, gres=gres or "(null)", sockets=values["SocketsPerBoard"] * values["Boards"], **values)
    (fake / "scontrol.txt").write_text(line)
    slurm = topo["slurm"]
    (fake / "slurmd_c.txt").write_text(
        "NodeName={n} CPUs={CPUs} Boards={Boards} SocketsPerBoard={SocketsPerBoard} CoresPerSocket={CoresPerSocket} "
        "ThreadsPerCore={ThreadsPerCore} RealMemory={RealMemory}\nUpTime=0-01:02:03\n".format(n=name, **slurm))
    for hw_type, key in (("package", "sockets"), ("core", "cores"), ("pu", "cpus_online")):
        (fake / ("hwloc_%s.txt" % hw_type)).write_text("%d\n" % topo["counts"][key])
    (fake / "tuned.txt").write_text("Current active profile: hpcai-compute-cpu\n")
    (fake / "sysctl.json").write_text(json.dumps(PLAY_SYSCTLS))
    sysctl_file = fake / "90-hpcai-numa.conf"
    sysctl_file.write_text("# Generated by hpcai.cluster.numa_sysctl\n# profile:    hpc\n\n"
                           + "".join("# why\n%s = %s\n\n" % kv for kv in PLAY_SYSCTLS.items()))
    conf_dir = fake / "slurm"
    conf_dir.mkdir()
    if gpus["slurm"]["conf_lines"]:
        (conf_dir / "gres.conf").write_text("".join("NodeName=%s %s\n" % (name, line)
                                                    for line in gpus["slurm"]["conf_lines"]))
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump({"all": {
        "hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
        "children": {"slurm_controller": {"hosts": {"localhost": None}},
                     "slurm_compute": {"hosts": {"localhost": None}}}}}))
    (tmp_path / "ansible.cfg").write_text(textwrap.dedent(f"""\
        [defaults]
        collections_path = {REPO / '.collections'}
        host_key_checking = False
        retry_files_enabled = False
        """))
    extra = {"validate_slurm_conf_dir": str(conf_dir),
             "validate_kernel_tuning_record": {"sysctl_file": str(sysctl_file), "sysctls": PLAY_SYSCTLS,
                                               "tuned_profile": "hpcai-compute-cpu", "topology_root": "/"}}
    (tmp_path / "extra.json").write_text(json.dumps(extra))

    def run(*args, inventory=None):
        env = dict(os.environ, ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORCE_COLOR="0", HPCAI_FAKE_DIR=str(fake),
                   PATH="%s:%s" % (fake / "bin", os.environ.get("PATH", "/usr/bin:/bin")))
        if inventory is not None:
            (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
        proc = subprocess.run([exe, "-i", str(tmp_path / "inventory.yml"), str(PLAYBOOK),
                               "-e", "@%s" % (tmp_path / "extra.json"), *args],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
        return proc.returncode, proc.stdout + proc.stderr

    return {"run": run, "fake": fake, "name": name, "values": values, "sysctl_file": sysctl_file}


def _recap(output):
    match = re.search(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert match, output[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


def _json_doc(lab_env, **node):
    values = lab_env["values"]
    record = {"name": lab_env["name"], "cpus": values["CPUs"], "boards": values["Boards"],
              "sockets": values["SocketsPerBoard"] * values["Boards"], "cores": values["CoresPerSocket"],
              "threads": values["ThreadsPerCore"], "real_memory": values["RealMemory"],
              "state": ["IDLE"], "reason": "", "gres": (lab_env["fake"] / "scontrol.txt").read_text().split(
                  "Gres=")[1].split()[0].replace("(null)", ""),
              "operating_system": "Linux 6.8.0-31-generic", "partitions": ["batch"]}
    record.update(node)
    return {"nodes": [record], "meta": {"slurm": {"release": "23.11.4"}}, "errors": [], "warnings": []}


def test_playbook_passes_with_matching_data_json(lab):
    (lab["fake"] / "scontrol.json").write_text(json.dumps(_json_doc(lab)))
    rc, out = lab["run"]()
    assert rc == 0, out[-4000:]
    flat = " ".join(out.split())
    assert "no drift on 1 node (slurm_node, slurmd, hwloc, gpu, sysctl, tuned)" in flat
    for line in ("slurm_node: OK (7 values match on 1 node)", "slurmd: OK (6 values match on 1 node)",
                 "sysctl: OK (6 values match on 1 node)", "tuned: OK (1 value matches on 1 node)"):
        assert line in flat, out[-4000:]
    # --json worked: the text form was not asked for
    assert re.search(r"TASK \[Read slurmctld's node records as text.*?\]\s+\*+\s+skipping", out, re.S), out[-4000:]
    result = _recap(out)
    assert result["failed"] == 0 and result["changed"] == 0


def test_playbook_fails_naming_node_and_value_after_a_sysctl_file_change(lab):
    # no scontrol.json: --json fails, the text form is parsed
    text = lab["sysctl_file"].read_text().replace("vm.zone_reclaim_mode = 0", "vm.zone_reclaim_mode = 1")
    lab["sysctl_file"].write_text(text)
    rc, out = lab["run"]()
    assert rc != 0, out[-4000:]
    flat = " ".join(out.split())
    assert ("validate: the running cluster differs from its configuration on 1 node: "
            "localhost (sysctl file vm.zone_reclaim_mode: expected 0, actual 1)") in flat, out[-4000:]
    assert re.search(r'"localhost \| sysctl file vm\.zone_reclaim_mode \| 0 +\| 1"', out), out[-4000:]
    assert "sysctl: DRIFT (1 of 6 values differ, on 1 node: localhost)" in flat
    assert "slurm_node: OK (7 values match on 1 node)" in flat  # the text fallback matched
    result = _recap(out)
    assert result["failed"] == 1 and result["changed"] == 0


def test_playbook_report_only_with_a_drained_node_and_tuned_stopped(lab):
    (lab["fake"] / "scontrol.json").write_text(json.dumps(_json_doc(
        lab, state=["IDLE", "DRAIN"], reason="Low RealMemory")))
    (lab["fake"] / "tuned.txt").write_text(
        "It seems that tuned daemon is not running, preset profile is not activated.\n"
        "Preset profile: hpcai-compute-cpu\n")
    rc, out = lab["run"]("-e", "validate_fail_on_drift=false", "--check")
    assert rc == 0, out[-4000:]
    flat = " ".join(out.split())
    assert "DRIFT on 1 node: localhost (2 mismatches)" in flat, out[-4000:]
    assert "IDLE+DRAIN (Reason: Low RealMemory)" in flat
    assert "tuned not running (preset hpcai-compute-cpu)" in flat
    assert _recap(out)["changed"] == 0


@pytest.mark.skipif(not shutil.which("ssh"), reason="needs an ssh client to have an unreachable host")
def test_playbook_unreachable_controller_is_reported_and_the_rest_still_checked(lab):
    # The first host asks the controller; a run_once task with ignore_unreachable would end the play here.
    inventory = {"all": {
        "hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                  "head": {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh",
                           "ansible_ssh_common_args": "-o ConnectTimeout=3 -o BatchMode=yes"}},
        "children": {"slurm_controller": {"hosts": {"head": None}},
                     "slurm_compute": {"hosts": {"localhost": None}}}}}
    rc, out = lab["run"]("--limit", "localhost", inventory=inventory)
    assert rc != 0, out[-4000:]
    flat = " ".join(out.split())
    assert ("on 1 node: head (slurm_node scontrol show node: expected the node records, actual controller "
            "unreachable)") in flat, out[-4000:]
    assert "sysctl: OK (6 values match on 1 node)" in flat and "tuned: OK (1 value matches on 1 node)" in flat
