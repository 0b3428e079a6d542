"""Issue 12, part 1 - bad input for every role entry point, through ansible-playbook.

Every entry point of every role's meta/argument_specs.yml gets:

  * AUTO cases generated from the spec (new options are covered without
    editing this file): one wrong-type value per option (top level, and the
    sub-options of dicts / lists of dicts), one unknown choice per option with
    ``choices`` (also list elements and sub-options);
  * SEMANTIC cases (hand-written): what the preflights check beyond types -
    malformed cpulists, hostlists and CIDRs, paths outside the allowed roots,
    conflicting options.

All cases run in ONE ansible-playbook (-c local): each case is an inventory
host whose host vars are the case's variables, one play per role runs the
entry point's start as tasks/main.yml does (argument_specs validation, then
tasks/set_vars.yml and tasks/preflight.yml; test_entry_points_start_with_*
pins that order), and a failed host simply leaves the play. Generated cases
are packed several to a host when they set different variables and the same
check refuses them (validate_argument_spec and option_type_errors report every
bad option at once); the check then looks for the case's own error among the
reported ones. A small callback plugin records every task result, so each case
is checked for:

  * it failed (before tasks/main.yml gets past the preflight);
  * the message names the variable and says what is allowed (the declared
    type, the choices, or the format);
  * no Python crash (no traceback in the output, no Python exception named in
    a failure message, no module stderr);
  * no task before the failure reported ``changed``.

Counts: AUTO_TYPE_CASES, AUTO_CHOICE_CASES, SEMANTIC_CASES (module level).
"""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
import yaml

from render_helpers import REPO, ROLES_DIR, load_yaml
from test_role_specs import _ansible_playbook

ROLE_NAMES = sorted(p.parent.parent.name for p in ROLES_DIR.glob("*/meta/argument_specs.yml"))

# One wrong value per declared type (each is refused by validate_argument_spec,
# or - for str/path, which it converts silently - by the preflight's
# hpcai.cluster.option_type_errors check).
WRONG_VALUE = {
    "str": {"wrong": "type"},
    "path": ["wrong", "type"],
    "int": "not-a-number",
    "float": "not-a-number",
    "bool": "not-a-bool",
    "list": {"wrong": "type"},
    "dict": ["wrong", "type"],
}
# A value of the right type, to build a valid list element / dict around a bad sub-option.
GOOD_VALUE = {"str": "x", "path": "/x", "int": 1, "float": 1.0, "bool": True, "list": [], "dict": {}}
UNKNOWN_CHOICE = "no-such-choice"

# Variables every case of a role starts from: what makes the "ok" case pass on
# localhost (inventory: localhost only, so the group options point at 'all').
BASE_VARS = {
    "base": {"base_hosts_groups": ["role_base"]},  # /etc/hosts etc. over the base cases only
    "fabric": {},
    "gpu": {},
    "kernel_tuning": {},
    "shared_fs": {},
    "slurm": {"slurm_controller_group": "all", "slurm_compute_group": "all", "slurm_dbd_db_password": "x" * 12},
}


def _entry_points(role):
    data = load_yaml(ROLES_DIR / role / "meta" / "argument_specs.yml") or {}
    return data.get("argument_specs") or {}


def _allowed_type_needles(declared):
    # validate_argument_spec: "... we were unable to convert to int"; option_type_errors: "expected str"
    return [f"convert to {declared}", f"expected {declared}"]


def _good_element(options):
    """A dict that satisfies `options` (required sub-options filled with a value of their type)."""
    item = {}
    for name, opt in (options or {}).items():
        if opt.get("required") and "default" not in opt:
            if opt.get("choices"):
                item[name] = opt["choices"][0]
            else:
                item[name] = copy.deepcopy(GOOD_VALUE.get(opt.get("type", "str"), "x"))
    return item


def _detector(opt):
    """Who refuses a wrong-type value: validate_argument_spec, or - for str/path without choices, which it
    converts to a string - the preflight's option_type_errors check."""
    return "strict" if opt.get("type", "str") in ("str", "path") and not opt.get("choices") else "argspec"


def _allowed_needles(opt):
    """What the message must offer as allowed for a wrong-type value: the choices, else the declared type."""
    if opt.get("choices") and opt.get("type", "str") != "list":
        return [", ".join(str(c) for c in opt["choices"])]
    return _allowed_type_needles(opt.get("type", "str"))


def _auto_cases(role):
    """[(kind, case id, variables, needles, detector)] from the argument_specs of `role`.

    kind: "type" or "choice". Each needle is a list of alternatives, one of which must be in the message.
    """
    cases = []
    for entry, spec in _entry_points(role).items():
        for name, opt in (spec.get("options") or {}).items():
            declared = opt.get("type", "str")
            if declared in WRONG_VALUE:
                cases.append(("type", f"{role}:{entry}:type:{name}", {name: copy.deepcopy(WRONG_VALUE[declared])},
                              [[name], _allowed_needles(opt)], _detector(opt)))
            if opt.get("choices"):
                value = [UNKNOWN_CHOICE] if declared == "list" else UNKNOWN_CHOICE
                cases.append(("choice", f"{role}:{entry}:choice:{name}", {name: value},
                              [[name], [", ".join(str(c) for c in opt["choices"])], [UNKNOWN_CHOICE]], "argspec"))
            sub = opt.get("options") or {}
            for sname, sopt in sub.items():
                sdeclared = sopt.get("type", "str")
                holders = []
                if sdeclared in WRONG_VALUE:
                    holders.append(("type", copy.deepcopy(WRONG_VALUE[sdeclared]), _allowed_needles(sopt), _detector(sopt)))
                if sopt.get("choices"):
                    holders.append(("choice", [UNKNOWN_CHOICE] if sdeclared == "list" else UNKNOWN_CHOICE,
                                    [", ".join(str(c) for c in sopt["choices"])], "argspec"))
                for kind, bad, allowed, detector in holders:
                    item = _good_element(sub)
                    item[sname] = bad
                    value = [item] if declared == "list" else dict(copy.deepcopy(opt.get("default") or {}), **item)
                    cases.append((kind, f"{role}:{entry}:{kind}:{name}.{sname}", {name: value}, [[sname], [name], allowed],
                                  detector))
    return cases


# ---------------------------------------------------------------- semantic cases (hand-written)
IB_NET = {"name": "ib", "kind": "ipoib", "cidr": "10.20.0.0/16"}
EXPORT = {"path": "/srv/home", "clients": [{"host": "10.10.0.0/16"}]}
MOUNT = {"src": "nfs1:/srv/home", "path": "/home", "fstype": "nfs4"}
ALL_SERVER = {"shared_fs_nfs_server_group": "all"}

# (role, case name, variables, needles: each a list of alternatives, one must be in the message)
SEMANTIC = [
    # ---- base
    ("base", "cidr_prefix_33", {"base_cluster_networks": ["10.0.0.0/33"]}, [["base_cluster_networks[0]"], ["10.0.0.0/33"]]),
    ("base", "cidr_host_bits", {"base_cluster_networks": ["10.0.0.1/8"]}, [["base_cluster_networks[0]"], ["host bits"]]),
    ("base", "cidr_no_prefix", {"base_cluster_networks": ["10.0.0.0"]}, [["base_cluster_networks[0]"], ["CIDR", "prefix"]]),
    ("base", "cidr_garbage", {"base_cluster_networks": ["not-a-net"]}, [["base_cluster_networks[0]"], ["not-a-net"]]),
    ("base", "port_no_proto", {"base_firewall_allowed_ports": ["22"]}, [["base_firewall_allowed_ports"], ["PORT/PROTO"]]),
    ("base", "port_range_reversed", {"base_firewall_allowed_ports": ["9000-8000/tcp"]},
     [["base_firewall_allowed_ports"], ["LOW <= HIGH"]]),
    ("base", "port_too_big", {"base_firewall_allowed_ports": ["70000/tcp"]}, [["base_firewall_allowed_ports"], ["1-65535"]]),
    ("base", "hosts_extra_address", {"base_hosts_extra": [{"address": "10.0.0.300", "names": ["x"]}]},
     [["base_hosts_extra"], ["IPv4/IPv6"]]),
    ("base", "hosts_extra_no_names", {"base_hosts_extra": [{"address": "10.0.0.3", "names": []}]},
     [["base_hosts_extra"], ["names"]]),
    ("base", "mirror_relative_url", {"base_repo_mode": "mirror", "base_mirror_url": "mirror.example/repo"},
     [["base_mirror_url"], ["http(s)://"]]),
    ("base", "timezone", {"base_timezone": "../etc/passwd"}, [["base_timezone"], ["IANA"]]),
    ("base", "memlock", {"base_limits_memlock": "lots"}, [["base_limits_memlock"], ["'unlimited' or a number"]]),
    ("base", "nofile_soft_above_hard", {"base_limits_nofile_soft": 10, "base_limits_nofile_hard": 5},
     [["base_limits_nofile_soft"], ["must not exceed"]]),
    ("base", "duplicate_gid", {"base_groups": [{"name": "hpcx", "gid": 981}]}, [["base_system_groups + base_groups"], ["981"]]),
    ("base", "serve_group_missing", {"base_chrony_serve_group": "no_such_group"}, [["base_chrony_serve_group"], ["no hosts"]]),
    ("base", "user_home_relative", {"base_users": [{"name": "hpcu", "uid": 4711, "group": "root", "home": "home/hpcu"}]},
     [["base_users[0].home"], ["absolute"]]),
    ("base", "user_shell_relative", {"base_users": [{"name": "hpcu", "uid": 4711, "group": "root", "shell": "bash"}]},
     [["base_users[0].shell"], ["absolute"]]),
    ("base", "uid_negative", {"base_users": [{"name": "hpcu", "uid": -5, "group": "root"}]},
     [["base_users[0].uid"], ["0-4294967294"]]),
    ("base", "user_name", {"base_users": [{"name": "Bad User", "uid": 4711, "group": "root"}]},
     [["base_users[0].name"], ["letters"]]),
    ("base", "sshd_option_value", {"base_sshd_options": {"PermitRootLogin": "yes\nPort 2222"}},
     [["base_sshd_options"], ["single line"]]),
    # ---- kernel_tuning
    ("kernel_tuning", "isolated_open_range", {"kernel_tuning_isolated_cpus": "0-"}, [["kernel_tuning_isolated_cpus"], ["0-"]]),
    ("kernel_tuning", "isolated_reversed", {"kernel_tuning_isolated_cpus": "3-1"}, [["kernel_tuning_isolated_cpus"], ["3-1"]]),
    ("kernel_tuning", "isolated_letters", {"kernel_tuning_isolated_cpus": "a"}, [["kernel_tuning_isolated_cpus"], ["'a'"]]),
    ("kernel_tuning", "irqaffinity_garbage", {"kernel_tuning_irqaffinity": "1,,x"}, [["kernel_tuning_irqaffinity"], ["1,,x"]]),
    ("kernel_tuning", "banned_cpus_garbage", {"kernel_tuning_irqbalance_banned_cpus": "-1"},
     [["kernel_tuning_irqbalance_banned_cpus"], ["-1"]]),
    ("kernel_tuning", "partition_cpus_garbage", {"kernel_tuning_partition": {"policy": "manual", "cpus": "0-"}},
     [["kernel_tuning_partition"], ["cpus"], ["0-"]]),
    ("kernel_tuning", "partition_unknown_key", {"kernel_tuning_partition": {"cpu": "0"}},
     [["kernel_tuning_partition"], ["policy, count, cpus"]]),
    ("kernel_tuning", "class_missing", {"kernel_tuning_node_class": "login", "kernel_tuning_classes": {"compute_cpu": {}}},
     [["kernel_tuning_classes"], ["login"]]),
    ("kernel_tuning", "cmdline_extra_space", {"kernel_tuning_cmdline_extra": ["a b"]}, [["kernel_tuning_cmdline_extra"], ["single"]]),
    ("kernel_tuning", "cmdline_remove_value", {"kernel_tuning_cmdline_remove": ["mitigations=off"]},
     [["kernel_tuning_cmdline_remove"], ["bare keys"]]),
    ("kernel_tuning", "sysctl_file_relative", {"kernel_tuning_sysctl_file": "sysctl.d/90.conf"},
     [["kernel_tuning_sysctl_file"], ["/etc/sysctl.d/"]]),
    ("kernel_tuning", "sysctl_file_outside", {"kernel_tuning_sysctl_file": "/etc/passwd"},
     [["kernel_tuning_sysctl_file"], ["/etc/sysctl.d/"]]),
    ("kernel_tuning", "topology_root_relative", {"kernel_tuning_topology_root": "sys"},
     [["kernel_tuning_topology_root"], ["absolute"]]),
    ("kernel_tuning", "tuned_profile_path", {"kernel_tuning_tuned_profile": "../evil"},
     [["kernel_tuning_tuned_profile"], ["letters, digits"], ["../evil"]]),
    ("kernel_tuning", "tuned_settings_flat", {"kernel_tuning_tuned_settings": {"readahead": 4096}},
     [["kernel_tuning_tuned_settings"], ["sections"]]),
    ("kernel_tuning", "reboot_timeout", {"kernel_tuning_reboot_timeout": 0}, [["kernel_tuning_reboot_timeout"], ["> 0"]]),
    ("kernel_tuning", "hugepages_count", {"kernel_tuning_hugepages": {"2M": "many"}},
     [["kernel_tuning_hugepages"], ["size, per_node, percent_of_memory"]]),
    # ---- fabric
    ("fabric", "cidr_prefix_33", {"fabric_networks": [dict(IB_NET, cidr="10.20.0.0/33")]},
     [["fabric_networks[].cidr"], ["10.20.0.0/33"]]),
    ("fabric", "cidr_host_bits", {"fabric_networks": [dict(IB_NET, cidr="10.20.0.1/16")]},
     [["fabric_networks[].cidr"], ["host bits"]]),
    ("fabric", "network_kind", {"fabric_networks": [dict(IB_NET, kind="opa")]}, [["fabric_networks[0]"], ["ipoib or roce"]]),
    ("fabric", "network_not_dict", {"fabric_networks": ["ib0"]}, [["fabric_networks"], ["convert to dict"]]),
    ("fabric", "network_unknown_key", {"fabric_networks": [dict(IB_NET, netmask="255.255.0.0")]},
     [["fabric_networks[0]"], ["keys allowed"]]),
    ("fabric", "mtu_connected_on_datagram", {"fabric_networks": [dict(IB_NET, mtu=65520)]},
     [["fabric_networks[0]"], ["datagram <= 4092"]]),
    ("fabric", "ipoib_mode_on_roce", {"fabric_networks": [dict(IB_NET, kind="roce", ipoib_mode="connected")]},
     [["fabric_networks[0]"], ["ipoib only"]]),
    ("fabric", "duplicate_name", {"fabric_networks": [IB_NET, dict(IB_NET, cidr="10.21.0.0/16")]},
     [["fabric_networks"], ["own name"]]),
    ("fabric", "doca_without_url", {"fabric_stack": "doca"}, [["fabric_vendor_repo_url"], ["http(s)://"]]),
    ("fabric", "unknown_component", {"fabric_components": ["verbs", "nccl"]}, [["fabric_components"], ["allowed"]]),
    ("fabric", "pfc_priority", {"fabric_roce_pfc_priority": 9}, [["fabric_roce_pfc_priority"], ["0-7"]]),
    ("fabric", "dscp_equal", {"fabric_roce_dscp": 48}, [["fabric_roce_dscp"], ["different"]]),
    ("fabric", "opensm_guid", {"fabric_opensm_port_guids": ["0x12"]}, [["fabric_opensm_port_guids"], ["16 hex"]]),
    ("fabric", "perftest_one_host", {"fabric_perftest_pair": ["localhost"]}, [["fabric_perftest_pair"], ["two different"]]),
    ("fabric", "host_index_negative", {"fabric_host_index": -1}, [["fabric_host_index"], [">= 0"]]),
    ("fabric", "addresses_unknown_net", {"fabric_networks": [IB_NET], "fabric_addresses": {"roce": "10.0.0.1"}},
     [["fabric_addresses"], ["network names"]]),
    ("fabric", "sysfs_root_relative", {"fabric_sysfs_root": "sys"}, [["fabric_sysfs_root"], ["absolute"]]),
    ("fabric", "perftest_min_negative", {"fabric_perftest_min_gbps": -1}, [["fabric_perftest_min_gbps"], [">= 0"]]),
    # ---- gpu
    ("gpu", "driver_branch", {"gpu_nvidia_driver_branch": "latest"}, [["gpu_nvidia_driver_branch"], ["580"]]),
    ("gpu", "cuda_version_dot", {"gpu_cuda_toolkit_version": "12.8"}, [["gpu_cuda_toolkit_version"], ["12-8"]]),
    ("gpu", "repo_url_relative", {"gpu_nvidia_repo_url": "mirror/cuda"}, [["gpu_nvidia_repo_url"], ["http(s)://"]]),
    ("gpu", "dcgm_listen", {"gpu_dcgm_exporter_listen": "9400"}, [["gpu_dcgm_exporter_listen"], ["[address]:port"]]),
    ("gpu", "mig_profile", {"gpu_nvidia_mig": {"all": ["half"]}}, [["gpu_nvidia_mig"], ["1g.10gb"]]),
    ("gpu", "mig_all_and_index", {"gpu_nvidia_mig": {"all": ["7g.80gb"], "0": ["7g.80gb"]}}, [["gpu_nvidia_mig"], ["alone"]]),
    ("gpu", "mig_bad_index", {"gpu_nvidia_mig": {"gpu0": ["1g.10gb"]}}, [["gpu_nvidia_mig"], ["GPU indexes"]]),
    ("gpu", "rocm_version", {"gpu_rocm_version": "six"}, [["gpu_rocm_version"], ["6.4.1"]]),
    ("gpu", "users", {"gpu_users": ["Bad User"]}, [["gpu_users"], ["user names"]]),
    ("gpu", "pyxis_without_enroot", {"gpu_pyxis": True, "gpu_pyxis_package": "/tmp/pyxis.rpm"}, [["gpu_pyxis"], ["gpu_enroot"]]),
    ("gpu", "enroot_without_packages", {"gpu_enroot": True}, [["gpu_enroot_packages"], ["URLs or paths"]]),
    ("gpu", "sysfs_root_relative", {"gpu_sysfs_root": "sys"}, [["gpu_sysfs_root"], ["absolute"]]),
    ("gpu", "guard_module_name", {"gpu_guard_extra_modules": ["nvidia peermem"]}, [["gpu_guard_extra_modules"], ["module names"]]),
    # ---- shared_fs
    ("shared_fs", "export_relative", dict(ALL_SERVER, shared_fs_nfs_exports=[dict(EXPORT, path="srv/home")]),
     [["shared_fs_nfs_exports[0].path"], ["absolute"]]),
    ("shared_fs", "export_root", dict(ALL_SERVER, shared_fs_nfs_exports=[dict(EXPORT, path="/")]),
     [["shared_fs_nfs_exports[0].path"], ["/"]]),
    ("shared_fs", "export_proc", dict(ALL_SERVER, shared_fs_nfs_exports=[dict(EXPORT, path="/proc/x")]),
     [["shared_fs_nfs_exports[0].path"], ["/proc"]]),
    ("shared_fs", "export_cidr_host_bits",
     dict(ALL_SERVER, shared_fs_nfs_exports=[dict(EXPORT, clients=[{"host": "10.10.0.1/16"}])]),
     [["shared_fs_nfs_exports[0].clients[0]"], ["10.10.0.1/16"]]),
    ("shared_fs", "export_cidr_prefix",
     dict(ALL_SERVER, shared_fs_nfs_exports=[dict(EXPORT, clients=[{"host": "10.10.0.0/33"}])]),
     [["shared_fs_nfs_exports[0].clients[0]"], ["10.10.0.0/33"]]),
    ("shared_fs", "export_hostlist_open",
     dict(ALL_SERVER, shared_fs_nfs_exports=[dict(EXPORT, clients=[{"host": "node[1-"}])]),
     [["shared_fs_nfs_exports[0].clients[0]"], ["node[1-"]]),
    ("shared_fs", "export_rw_ro",
     dict(ALL_SERVER, shared_fs_nfs_exports=[dict(EXPORT, clients=[{"host": "*", "options": ["rw", "ro"]}])]),
     [["shared_fs_nfs_exports[0].clients[0].options"], ["contradict"]]),
    ("shared_fs", "exports_without_server", {"shared_fs_nfs_server_group": "nobody", "shared_fs_nfs_exports": [EXPORT]},
     [["shared_fs_nfs_server_group"], ["no host"]]),
    ("shared_fs", "mount_relative", {"shared_fs_mounts": [dict(MOUNT, path="home")]}, [["shared_fs_mounts[0]"], ["absolute"]]),
    ("shared_fs", "mount_root", {"shared_fs_mounts": [dict(MOUNT, path="/")]}, [["shared_fs_mounts[0]"], ["/"]]),
    ("shared_fs", "mount_src_no_path", {"shared_fs_mounts": [dict(MOUNT, src="nfs1")]}, [["shared_fs_mounts[0]"], ["server:/export"]]),
    ("shared_fs", "mount_duplicate", {"shared_fs_mounts": [MOUNT, dict(MOUNT, src="nfs1:/srv/apps")]},
     [["shared_fs_mounts"], ["/home"]]),
    ("shared_fs", "lustre_mount_without_lustre", {"shared_fs_mounts": [{"src": "10.0.0.1@o2ib:/lfs01", "path": "/lustre",
                                                                       "fstype": "lustre"}]},
     [["shared_fs_lustre"], ["lustre mounts need"]]),
    ("shared_fs", "lnet_syntax", {"shared_fs_lustre_lnet_networks": "o2ib0 ib0"}, [["shared_fs_lustre_lnet_networks"], ["o2ib0(ib0)"]]),
    ("shared_fs", "beegfs_without_mgmtd", {"shared_fs_beegfs": True, "shared_fs_beegfs_repo_url": "http://mirror/beegfs"},
     [["shared_fs_beegfs_mgmtd_host"], ["need"]]),
    ("shared_fs", "lmod_relative", {"shared_fs_lmod_modulepaths": ["apps/modulefiles"]}, [["shared_fs_lmod_modulepaths"], ["absolute"]]),
    ("shared_fs", "nfs_threads_zero", {"shared_fs_nfs_threads": 0}, [["shared_fs_nfs_threads"], ["1-"]]),
    ("shared_fs", "autofs_timeout_negative", {"shared_fs_autofs_timeout": -1}, [["shared_fs_autofs_timeout"], [">= 0"]]),
    # ---- slurm
    ("slurm", "no_controller", {"slurm_controller_group": "nobody"}, [["slurm_controller_group"], ["exactly one"]]),
    ("slurm", "db_password_short", {"slurm_dbd_db_password": "short"}, [["slurm_dbd_db_password"], ["8+ characters"]]),
    ("slurm", "db_name", {"slurm_dbd_db_name": "acct-db"}, [["slurm_dbd_db_name"], ["letters"]]),
    ("slurm", "munge_key_short", {"slurm_munge_key": "c2hvcnQ="}, [["slurm_munge_key"], ["32 bytes"]]),
    ("slurm", "munge_key_store_relative", {"slurm_munge_key_store": "munge.key"}, [["slurm_munge_key_store"], ["absolute"]]),
    ("slurm", "partition_without_name", {"slurm_partitions": [{"nodes": "ALL"}]}, [["slurm_partitions"], ["need a name"]]),
    ("slurm", "two_default_partitions", {"slurm_partitions": [{"name": "a", "default": True}, {"name": "b", "default": True}]},
     [["slurm_partitions"], ["at most one"]]),
    ("slurm", "partition_nodes_hostlist", {"slurm_partitions": [{"name": "a", "nodes": "node[1-"}]},
     [["slurm_partitions[].nodes"], ["node[1-"]]),
    ("slurm", "port_zero", {"slurm_slurmctld_port": 0}, [["slurm_slurmctld_port"], ["1-65535"]]),
    ("slurm", "port_too_big", {"slurm_dbd_port": 70000}, [["slurm_dbd_port"], ["1-65535"]]),
    ("slurm", "ports_equal", {"slurm_slurmd_port": 6817}, [["slurm_slurmd_port"], ["different ports"]]),
    ("slurm", "srun_range_reversed", {"slurm_srun_port_range": "63000-60001"}, [["slurm_srun_port_range"], ["LOW-HIGH within 1-65535"]]),
    ("slurm", "srun_range_garbage", {"slurm_srun_port_range": "many"}, [["slurm_srun_port_range"], ["LOW-HIGH within 1-65535"]]),
    ("slurm", "reserve_percent", {"slurm_real_memory_reserve_percent": 150}, [["slurm_real_memory_reserve_percent"], ["0-99"]]),
    ("slurm", "reserve_mib_negative", {"slurm_real_memory_reserve_mib": -1}, [["slurm_real_memory_reserve_mib"], [">= 0"]]),
    ("slurm", "version_format", {"slurm_version": "latest"}, [["slurm_version"], ["23.11.4"]]),
    ("slurm", "tmpfs_relative", {"slurm_job_tmpfs": {"enabled": True, "base_path": "job_tmpfs"}},
     [["slurm_job_tmpfs"], ["base_path"], ["absolute"]]),
    ("slurm", "tmpfs_dirs_relative", {"slurm_job_tmpfs": {"enabled": True, "base_path": "/var/tmp/j", "dirs": ["tmp"]}},
     [["slurm_job_tmpfs"], ["dirs"], ["absolute"]]),
    ("slurm", "topology_hostlist", {"slurm_topology": {"switches": [{"name": "leaf1", "nodes": "node[1-"}]}},
     [["slurm_topology"], ["node[1-"]]),
    ("slurm", "node_overrides_key", {"slurm_node_overrides": {"Sockets": 4}}, [["slurm_node_overrides"], ["may set"]]),
    ("slurm", "conf_extra_newline", {"slurm_conf_extra": {"SlurmctldDebug": "info\nSlurmUser=root"}},
     [["slurm_conf_extra"], ["single line"]]),
    ("slurm", "conf_extra_key", {"slurm_conf_extra": {"Bad Key": "x"}}, [["slurm_conf_extra"], ["Bad Key"]]),
    ("slurm", "pam_services", {"slurm_pam_adopt_services": ["../login"]}, [["slurm_pam_adopt_services"], ["PAM service"]]),
    ("slurm", "cluster_name", {"slurm_cluster_name": "My Cluster"}, [["slurm_cluster_name"], ["letters,"]]),
]


# Cases that fail an any_errors_fatal task (it ends the play for every host): they get a play of their own.
ALONE = {"slurm:semantic:node_overrides_key"}


def _all_cases():
    """[(kind, case id, role, variables, needles, detector)] - the whole table, in run order."""
    cases = []
    for role in ROLE_NAMES:
        cases.append(("ok", f"{role}:ok", role, {}, None, None))
        for kind, cid, variables, needles, detector in _auto_cases(role):
            cases.append((kind, cid, role, variables, needles, detector))
    for role, name, variables, needles in SEMANTIC:
        cases.append(("semantic", f"{role}:semantic:{name}", role, variables, needles, None))
    return cases


def _hosts():
    """[(host, role, [case ids], variables)]: one inventory host per ok/semantic case; the generated
    cases packed per (role, detector) - validate_argument_spec and option_type_errors report every
    bad option at once - so that no two cases on a host set the same variable."""
    hosts, packs = [], {}
    for kind, cid, role, variables, _needles, detector in CASES:
        if detector is None:
            hosts.append([f"c{len(hosts):03d}", role, [cid], copy.deepcopy(variables)])
            continue
        for host in packs.setdefault((role, detector), []):
            if not set(host[3]) & set(variables):
                host[2].append(cid)
                host[3].update(copy.deepcopy(variables))
                break
        else:
            host = [f"c{len(hosts):03d}", role, [cid], copy.deepcopy(variables)]
            packs[(role, detector)].append(host)
            hosts.append(host)
    return [tuple(h) for h in hosts]


CASES = _all_cases()
AUTO_TYPE_CASES = [c for c in CASES if c[0] == "type"]
AUTO_CHOICE_CASES = [c for c in CASES if c[0] == "choice"]
SEMANTIC_CASES = [c for c in CASES if c[0] == "semantic"]


# ---------------------------------------------------------------- the one playbook run
# One inventory host per case or pack of cases (ansible_connection=local, the
# variables as host vars, as an admin would set them), one play per role over its
# hosts: the tasks are shared, so ansible runs them for all hosts at once (forks)
# and a failed host simply leaves the play.
CALLBACK = '''\
from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Write every task result as one JSON line, with its host (= case)."""
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "case_recorder"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._fh = open(os.environ["CASE_RECORDER_FILE"], "w", encoding="utf-8")

    def _emit(self, status, result, ignore_errors=False):
        res = getattr(result, "result", None)
        if res is None:
            res = result._result
        task = getattr(result, "task", None) or result._task
        host = getattr(result, "host", None) or result._host
        errors = res.get("argument_errors") or []
        self._fh.write(json.dumps({
            "host": host.get_name(), "status": status, "task": task.get_name(), "path": task.get_path() or "",
            "changed": bool(res.get("changed")), "ignored": bool(ignore_errors),
            "exception": str(res.get("exception", ""))[:2000], "module_stderr": str(res.get("module_stderr", ""))[:2000],
            "msg": str(res.get("msg", "")), "errors": [str(e) for e in errors],
        }, default=str) + "\\n")
        self._fh.flush()

    def v2_runner_on_ok(self, result):
        self._emit("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._emit("failed", result, ignore_errors)

    def v2_runner_on_unreachable(self, result):
        self._emit("failed", result)

    def v2_runner_item_on_ok(self, result):
        self._emit("item_ok", result)

    def v2_runner_item_on_failed(self, result):
        self._emit("item_failed", result)
'''

# Facts are gathered once (localhost) and handed to every case host by this action
# (no module run): set_vars.yml then skips its own fact gathering.
FACTS_ACTION = '''\
from __future__ import annotations

import json
import os

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        with open(os.environ["CASE_FACTS_FILE"], encoding="utf-8") as fh:
            return {"changed": False, "ansible_facts": json.load(fh)}
'''

FACTS_PLAY = """\
- name: Gather the facts once
  hosts: localhost
  gather_facts: true
  gather_subset: [min, network, virtual]  # what the roles' set_vars.yml ask for
  tasks:
    - name: Save them for the case hosts
      ansible.builtin.copy:
        content: "{{ ansible_facts | to_json }}"
        dest: "{{ lookup('ansible.builtin.env', 'CASE_FACTS_FILE') }}"
        mode: "0600"
"""

ROLE_PLAY = """\
- name: Bad input for {role}
  hosts: {group}
  gather_facts: false
  vars:
    __case_argument_spec: {spec}
  tasks:
    - name: Facts of this machine
      case_facts:
    # what ansible prepends to the entry point: validation against argument_specs
    - name: Validate the {role} arguments ({entry})
      ansible.builtin.validate_argument_spec:
        argument_spec: "{{{{ __case_argument_spec }}}}"
    - name: "{role} set_vars.yml"
      ansible.builtin.include_role:
        name: hpcai.cluster.{role}
        tasks_from: set_vars.yml
    - name: "{role} preflight.yml"
      ansible.builtin.include_role:
        name: hpcai.cluster.{role}
        tasks_from: preflight.yml
    - name: PASSED
      ansible.builtin.debug:
        msg: passed
"""


def _inventory(hosts):
    """The YAML inventory of the case hosts (role_<role> groups; slurm hosts get a group of their own)."""
    groups = {}
    for host, role, cids, variables in hosts:
        hv = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        hv.update(copy.deepcopy(BASE_VARS[role]))
        if role == "slurm":  # exactly one controller: this case host
            hv.update(slurm_controller_group=f"solo_{host}", slurm_compute_group=f"solo_{host}")
            groups[f"solo_{host}"] = {"hosts": {host: None}}
        hv.update(copy.deepcopy(variables))
        group = f"alone_{role}_{host}" if set(cids) & ALONE else f"role_{role}"
        groups.setdefault(group, {"hosts": {}})["hosts"][host] = hv
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                 "ansible_python_interpreter": sys.executable}},
                         "children": groups}}
    return yaml.safe_dump(inventory, width=100000)


# Signs that Python code failed instead of a check: a module traceback, or the
# names ansible gives an unexpected exception in a filter/lookup/action.
CRASH = re.compile(r"Traceback \(most recent call last\)|MODULE FAILURE|\b(TypeError|KeyError|AttributeError|IndexError|"
                   r"ZeroDivisionError|UnicodeDecodeError|RecursionError)\b|object is not (subscriptable|iterable|callable)|"
                   r"has no attribute|Unexpected (templating|failure)")


def _crashed(event):
    return bool(event["module_stderr"] or CRASH.search(event["msg"]) or "Traceback (most recent" in event["exception"])


def _summarise(events):
    failed = [e for e in events if e["status"] in ("failed", "item_failed") and not e["ignored"]]
    first = events.index(failed[0]) if failed else len(events)
    units = []  # one entry per reported error
    for e in failed:
        units.extend(e["errors"] or e["msg"].split("; "))
    return {
        "failed": bool(failed),
        "msg": " | ".join(e["msg"] for e in failed),
        "units": units,
        "failed_tasks": sorted({e["task"] for e in failed}),
        "changed_before_failure": [e["task"] for e in events[:first] if e["changed"]],
        "exception": [e["task"] + ": " + e["msg"] for e in events if _crashed(e)],
        "passed": any(e["task"] == "PASSED" for e in events),
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    exe = _ansible_playbook()
    if not exe:
        pytest.skip("ansible-playbook not found")
    return run_cases(exe, tmp_path_factory.mktemp("bad_input_roles"))


def run_cases(exe, tmp):
    """Write the inventory, plays and plugins into `tmp`, run them, return {"proc", "hosts", "cases"}."""
    for sub, name, text in (("callback_plugins", "case_recorder.py", CALLBACK), ("action_plugins", "case_facts.py", FACTS_ACTION)):
        (tmp / sub).mkdir()
        (tmp / sub / name).write_text(text)
    hosts = _hosts()
    (tmp / "inventory.yml").write_text(_inventory(hosts))
    # the spec inline (JSON is YAML): parsed once, where vars_files would be read again for every host
    groups = [(f"role_{role}", role) for role in ROLE_NAMES]
    groups += [(f"alone_{role}_{host}", role) for host, role, cids, _v in hosts if set(cids) & ALONE]
    plays = FACTS_PLAY + "".join(
        ROLE_PLAY.format(group=group, role=role, entry="main", spec=json.dumps(_entry_points(role)["main"]["options"]))
        for group, role in groups)
    (tmp / "play.yml").write_text(plays)
    (tmp / "ansible.cfg").write_text(textwrap.dedent(f"""\
        [defaults]
        collections_path = {REPO / '.collections'}
        roles_path = {ROLES_DIR}
        host_key_checking = False
        interpreter_python = auto_silent
        retry_files_enabled = False
        forks = 4
        callbacks_enabled = case_recorder
        callback_plugins = {tmp / 'callback_plugins'}
        action_plugins = {tmp / 'action_plugins'}
        """))
    env = dict(os.environ, ANSIBLE_CONFIG=str(tmp / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               CASE_RECORDER_FILE=str(tmp / "events.jsonl"), CASE_FACTS_FILE=str(tmp / "facts.json"))
    proc = subprocess.run([exe, "-i", "inventory.yml", "play.yml"], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    per_host = {}
    for line in (tmp / "events.jsonl").read_text().splitlines():
        ev = json.loads(line)
        per_host.setdefault(ev["host"], []).append(ev)
    cases = {}
    for host, _role, cids, _variables in hosts:
        summary = _summarise(per_host.get(host, []))
        summary["batch"] = len(cids)
        for cid in cids:
            cases[cid] = summary
    return {"proc": proc, "hosts": hosts, "cases": cases}


# ---------------------------------------------------------------- tests
@pytest.mark.parametrize("role", ROLE_NAMES)
def test_entry_points_start_with_set_vars_and_preflight(role):
    """The harness replays validation + set_vars.yml + preflight.yml: that must be how main.yml starts."""
    assert list(_entry_points(role)) == ["main"], f"{role}: new entry point - teach this harness its tasks file"
    tasks = yaml.safe_load((ROLES_DIR / role / "tasks" / "main.yml").read_text())
    first = [t.get("ansible.builtin.include_tasks") or t.get("ansible.builtin.import_tasks") for t in tasks[:2]]
    assert first == ["set_vars.yml", "preflight.yml"], f"{role}: tasks/main.yml starts with {first}"


def test_the_run_printed_no_traceback(run):
    out = run["proc"].stdout + run["proc"].stderr
    assert "Traceback" not in out, out[out.index("Traceback") - 2000:][:6000]
    missing = [c[1] for c in CASES if c[1] not in run["cases"]]
    assert not missing, f"cases that never ran: {missing[:10]}\n{run['proc'].stdout[-3000:]}{run['proc'].stderr[-3000:]}"


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_good_input_passes(role, run):
    res = run["cases"][f"{role}:ok"]
    assert res["passed"] and not res["failed"], f"{role}: the base variables fail: {res['msg']}"
    assert not res["changed_before_failure"], res


def _check_bad(cid, needles, run):
    res = run["cases"][cid]
    assert res["failed"], f"{cid}: accepted (the preflight let it through)"
    assert not res["exception"], f"{cid}: Python failed instead of a check: {res['exception']}"
    assert "Traceback" not in res["msg"], res["msg"]
    assert not res["changed_before_failure"], f"{cid}: changed before failing: {res['changed_before_failure']}"
    # a batch host reports several errors: the needles must all be in the same one
    units = res["units"] if res["batch"] > 1 else [res["msg"]]
    matching = [u for u in units if all(any(a in u for a in alternatives) for alternatives in needles)]
    assert matching, f"{cid}: no error has all of {needles}: {units!r}"


@pytest.mark.parametrize("cid,needles", [pytest.param(c[1], c[4], id=c[1]) for c in AUTO_TYPE_CASES])
def test_wrong_type(cid, needles, run):
    _check_bad(cid, needles, run)


@pytest.mark.parametrize("cid,needles", [pytest.param(c[1], c[4], id=c[1]) for c in AUTO_CHOICE_CASES])
def test_unknown_choice(cid, needles, run):
    _check_bad(cid, needles, run)


@pytest.mark.parametrize("cid,needles", [pytest.param(c[1], c[4], id=c[1]) for c in SEMANTIC_CASES])
def test_semantic(cid, needles, run):
    _check_bad(cid, needles, run)


def test_every_option_has_a_wrong_type_case():
    """Every option of every entry point (bar type raw) is in the generated table."""
    covered = {c[1].split(":type:")[1].split(".")[0] for c in AUTO_TYPE_CASES}
    for role in ROLE_NAMES:
        for entry, spec in _entry_points(role).items():
            for name, opt in (spec.get("options") or {}).items():
                assert opt.get("type", "str") == "raw" or name in covered, f"{role}/{entry}: {name} has no case"


def test_semantic_table_names_existing_options():
    for role, name, variables, _needles in SEMANTIC:
        options = _entry_points(role)["main"]["options"]
        unknown = [v for v in variables if v not in options]
        assert not unknown, f"{role}:{name} sets {unknown}, not options of {role}"
        assert re.match(r"^[a-z0-9_]+$", name)
