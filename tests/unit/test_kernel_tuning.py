"""kernel_tuning: the kernel-version decisions (module_utils.kernel_checks), the cpulist
and kernel-check filters, and the role's computed variables (vars/main.yml) evaluated
with ansible-core's Templar per supported OS."""
from __future__ import annotations

import pytest

from ansible.errors import AnsibleError

from ansible_collections.hpcai.cluster.plugins.filter import cpulist as cpulist_filters
from ansible_collections.hpcai.cluster.plugins.filter import kernel_checks as kc_filters
from ansible_collections.hpcai.cluster.plugins.module_utils.kernel_checks import (
    KernelCheckError,
    amd_pstate_arg,
    llc_scheduler_check,
    parse_release,
)

from render_helpers import OS_FACTS, evaluate, role_variables


def topo(vendor="AuthenticAMD", generation="zen4", l3=24, nodes=2, sockets=2):
    return {"vendor": vendor, "generation": generation,
            "counts": {"l3_domains": l3, "numa_nodes": nodes, "sockets": sockets}}


# ---------------------------------------------------------------- kernel_checks
@pytest.mark.parametrize("release,version,el", [
    ("5.14.0-503.el9.x86_64", (5, 14, 0), 9),
    ("4.18.0-553.el8_10.x86_64", (4, 18, 0), 8),
    ("6.12.0-55.el10.x86_64", (6, 12, 0), 10),
    ("6.1.0-28-amd64", (6, 1, 0), None),
    ("6.8", (6, 8, 0), None),
])
def test_parse_release(release, version, el):
    parsed = parse_release(release)
    assert parsed["version"] == version and parsed["el"] == el


@pytest.mark.parametrize("release", ["", None, "linux", "abc.def"])
def test_parse_release_garbage(release):
    assert parse_release(release) is None


@pytest.mark.parametrize("release,status,warn", [
    ("4.18.0-553.el8_10.x86_64", "old", True),     # EL8: no backport
    ("5.15.0-126-generic", "old", True),           # before 5.18
    ("5.17.15", "old", True),
    ("5.18.0", "partial", False),                  # the fix, not the 6.0 follow-ups
    ("5.19.17", "partial", False),
    ("6.0.0", "ok", False),
    ("6.1.0-28-amd64", "ok", False),
    ("5.14.0-503.el9.x86_64", "ok", False),        # EL9 backports
    ("6.12.0-55.el10.x86_64", "ok", False),
    ("garbage", "unknown", False),
])
def test_llc_check_by_kernel(release, status, warn):
    r = llc_scheduler_check(topo(), release)
    assert (r["status"], r["warn"]) == (status, warn)
    assert r["l3_per_node"] == 12.0
    if warn:
        assert "5.18" in r["message"] and "24 L3 domains on 2 NUMA node(s)" in r["message"]


@pytest.mark.parametrize("t,status", [
    (topo(vendor="GenuineIntel", generation="intel", l3=2), "not_applicable"),
    (topo(l3=1, nodes=1, sockets=1), "not_applicable"),
    (topo(l3=0, nodes=1, sockets=1), "not_applicable"),
    (topo(vendor="ARM", generation="arm", l3=0), "not_applicable"),
    (topo(l3=16, nodes=16), "ok"),                 # L3-as-NUMA: one L3 per node
    ({}, "not_applicable"),
])
def test_llc_check_by_topology_on_old_kernel(t, status):
    r = llc_scheduler_check(t, "5.15.0-126-generic")
    assert r["status"] == status and r["warn"] is False


@pytest.mark.parametrize("t,release,requested,arg", [
    (topo(), "6.8.0-49-generic", "auto", "amd_pstate=active"),
    (topo(generation="zen2"), "6.3.0", "auto", "amd_pstate=active"),
    (topo(), "6.2.16", "auto", None),              # no EPP mode before 6.3
    (topo(), "5.14.0-503.el9.x86_64", "auto", None),
    (topo(generation="zen1"), "6.8.0", "auto", None),  # Naples: no CPPC
    (topo(vendor="GenuineIntel", generation="intel"), "6.8.0", "auto", None),
    (topo(), "6.8.0", "none", None),
    (topo(), "6.4.0", "guided", "amd_pstate=guided"),
    (topo(), "5.14.0-503.el9.x86_64", "active", "amd_pstate=active"),  # EL backports: trust the admin
    (topo(generation="zen5c"), "6.12.0-55.el10.x86_64", "auto", "amd_pstate=active"),
])
def test_amd_pstate(t, release, requested, arg):
    assert amd_pstate_arg(t, release, requested)[0] == arg


def test_amd_pstate_refuses_mode_the_kernel_lacks():
    with pytest.raises(KernelCheckError, match=r"kernel_tuning_amd_pstate: active needs Linux 6.3"):
        amd_pstate_arg(topo(), "5.15.0-126-generic", "active")
    with pytest.raises(KernelCheckError, match=r"'fast' is not one of"):
        amd_pstate_arg(topo(), "6.8.0", "fast")


def test_kernel_check_filters():
    f = kc_filters.FilterModule().filters()
    assert f["llc_scheduler_check"](topo(), "5.15.0")["warn"] is True
    assert f["amd_pstate_arg"](topo(), "6.8.0", "auto")[0] == "amd_pstate=active"
    with pytest.raises(AnsibleError, match="hpcai_cpu_topology dict"):
        f["llc_scheduler_check"]("nope", "6.8.0")
    with pytest.raises(AnsibleError, match="needs Linux 6.3"):
        f["amd_pstate_arg"](topo(), "6.1.0", "active")


# ---------------------------------------------------------------- cpulist filters
def test_cpulist_filters():
    f = cpulist_filters.FilterModule().filters()
    assert f["cpulist_expand"]("0-3,8") == [0, 1, 2, 3, 8]
    assert f["cpulist_expand"]("") == [] and f["cpulist_expand"](None) == []
    assert f["cpulist_compress"]([3, 1, 2, 8, 9]) == "1-3,8-9"
    assert f["cpulist_compress"]("5,4,6") == "4-6"
    assert f["cpulist_check"]("2-3", "x", within="0-7") == "2-3"


@pytest.mark.parametrize("value,kwargs,message", [
    ("0-3,x", {}, r"my_var: invalid cpulist: bad item 'x'"),
    ("3-1", {}, r"my_var: invalid cpulist: reversed range"),
    ("6-9", {"within": "0-7"}, r"my_var: CPUs 8-9 are not online on this node \(online: 0-7\)"),
    ("0-7", {"within": "0-7", "allow_all": False}, r"my_var: must leave at least one online CPU out"),
    ("", {"allow_empty": False}, r"my_var: must not be empty"),
    ({"a": 1}, {}, r"my_var: expected a cpulist string"),
])
def test_cpulist_check_errors_name_the_variable(value, kwargs, message):
    with pytest.raises(AnsibleError, match=message):
        cpulist_filters.cpulist_check(value, "my_var", **kwargs)


# ---------------------------------------------------------------- role variables
KT_TOPO = {"vendor": "AuthenticAMD", "generation": "zen4", "cpus_online": "0-63",
           "counts": {"cpus_online": 64, "cores": 32, "sockets": 1, "numa_nodes": 4, "l3_domains": 4}}
KT_NUMA = {"thp": {"enabled": "always", "defrag": "defer+madvise"},
           "cmdline_args": ["transparent_hugepage=always", "hugepagesz=1G hugepages=0:4,1:4"],
           "tmpfiles_lines": ["w /sys/kernel/mm/transparent_hugepage/defrag - - - - defer+madvise"]}


def kt(host="node1", os_key="rocky9", fixtures=None, **overrides):
    fx = {"__kernel_tuning_topology": KT_TOPO, "__kernel_tuning_numa": KT_NUMA}
    fx.update(fixtures or {})
    return role_variables("kernel_tuning", os_key, host, overrides, fx)


@pytest.mark.parametrize("host,overrides,expected", [
    ("head1", {}, "login"),                                  # slurm_controller + login groups
    ("node1", {}, "compute_cpu"),                            # compute group
    ("node1", {"kernel_tuning_node_class": "storage"}, "storage"),
    ("node1", {"kernel_tuning_class_groups": {"compute_gpu": ["compute"], "compute_cpu": ["compute"]}}, "compute_gpu"),
    ("node1", {"kernel_tuning_class_groups": {"login": ["nothing"]}, "kernel_tuning_default_class": "login"}, "login"),
])
def test_node_class(host, overrides, expected):
    assert evaluate("{{ __kernel_tuning_class }}", kt(host, **overrides)) == expected


def test_class_drives_profile_parent_and_workload():
    v = kt("head1")
    assert evaluate("{{ __kernel_tuning_profile_name }}", v) == "hpcai-login"
    assert evaluate("{{ __kernel_tuning_parent }}", v) == "throughput-performance"
    assert evaluate("{{ __kernel_tuning_workload }}", v) == "mixed"
    v = kt("node1", kernel_tuning_workload="ai_inference", kernel_tuning_tuned_parent="network-latency",
           kernel_tuning_tuned_profile="site")
    assert evaluate("{{ __kernel_tuning_workload }}", v) == "ai_inference"
    assert evaluate("{{ __kernel_tuning_parent }}", v) == "network-latency"
    assert evaluate("{{ __kernel_tuning_profile_name }}", v) == "site"


@pytest.mark.parametrize("os_key", sorted(OS_FACTS))
def test_cmdline_args_default(os_key):
    args = evaluate("{{ __kernel_tuning_cmdline_args }}", kt("node1", os_key))
    # amd_pstate=active only where the running kernel is 6.3 or later (EL10, Ubuntu 24.04)
    pstate = ["amd_pstate=active"] if OS_FACTS[os_key]["kernel"].split(".")[:2] in (["6", "12"], ["6", "8"]) else []
    # iommu=pt, then THP and the hugepage pair split into single arguments
    assert args == ["iommu=pt"] + pstate + ["transparent_hugepage=always", "hugepagesz=1G", "hugepages=0:4,1:4"]


def test_cmdline_args_full():
    v = kt("node1", kernel_tuning_isolated_cpus="8-15,12", kernel_tuning_isolation_args=["isolcpus", "nohz_full"],
           kernel_tuning_irqaffinity="0-1", kernel_tuning_cmdline_extra=["mitigations=off"],
           kernel_tuning_iommu_passthrough=False, kernel_tuning_cmdline_memory=False,
           fixtures={"__kernel_tuning_kernel": "6.8.0-49-generic"})
    assert evaluate("{{ __kernel_tuning_cmdline_args }}", v) == [
        "amd_pstate=active", "isolcpus=managed_irq,domain,8-15", "nohz_full=8-15", "irqaffinity=0-1", "mitigations=off"]


def test_partition_plan_feeds_irqbalance_and_irqaffinity():
    plan = {"housekeeping_cpus": "0-1,32-33", "irqbalance_banned_cpus": "2-31,34-63"}
    v = kt("node1", kernel_tuning_irqaffinity="housekeeping", fixtures={"__kernel_tuning_partition": plan})
    assert evaluate("{{ __kernel_tuning_banned_cpus }}", v) == "2-31,34-63"
    assert "irqaffinity=0-1,32-33" in evaluate("{{ __kernel_tuning_cmdline_args }}", v)
    # explicit list wins; empty means none; auto without a plan means none
    v = kt("node1", kernel_tuning_irqbalance_banned_cpus="9,8,10", fixtures={"__kernel_tuning_partition": plan})
    assert evaluate("{{ __kernel_tuning_banned_cpus }}", v) == "8-10"
    assert evaluate("{{ __kernel_tuning_banned_cpus }}", kt("node1")) == ""


def test_tuned_sections_merge_and_governor():
    v = kt("node1", kernel_tuning_tuned_settings={"cpu": {"governor": "schedutil"}, "disk": {"readahead": ">4096"}})
    assert evaluate("{{ __kernel_tuning_tuned_sections }}", v) == {
        "cpu": {"governor": "schedutil"}, "vm": {"transparent_hugepages": "always"}, "disk": {"readahead": ">4096"}}
    v = kt("node1", kernel_tuning_governor="", fixtures={"__kernel_tuning_numa": {"thp": {}}})
    assert evaluate("{{ __kernel_tuning_tuned_sections }}", v) == {"cpu": {}, "vm": {}}


def test_tmpfiles_lines_governor_only_without_tuned():
    assert evaluate("{{ __kernel_tuning_tmpfiles_lines }}", kt("node1")) == KT_NUMA["tmpfiles_lines"]
    lines = evaluate("{{ __kernel_tuning_tmpfiles_lines }}", kt("node1", kernel_tuning_tuned=False))
    assert lines[-1] == "w /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor - - - - performance"


def test_bad_cpulist_fails_naming_the_variable():
    with pytest.raises(AnsibleError, match="kernel_tuning_isolated_cpus: invalid cpulist"):
        evaluate("{{ __kernel_tuning_isolated }}", kt("node1", kernel_tuning_isolated_cpus="1-x"))
    with pytest.raises(AnsibleError, match="kernel_tuning_irqbalance_banned_cpus: invalid cpulist"):
        evaluate("{{ __kernel_tuning_banned_cpus }}", kt("node1", kernel_tuning_irqbalance_banned_cpus="4,,5"))
