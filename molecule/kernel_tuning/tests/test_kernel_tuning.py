"""Verify the kernel_tuning role on the Molecule nodes.

kernel_tuning-head: real topology of the machine running the tests, login class.
kernel_tuning-c01: synthetic 2-socket Genoa NPS4 (8 NUMA nodes, 24 L3 domains,
384 CPUs) on an EL9 kernel, compute_cpu class, hpc workload, 2 MiB hugepages
(5% per node), isolated CPUs 96-99, irqbalance banned 4-95.
"""
import json
import re

import pytest

FACT = "/etc/ansible/facts.d/hpcai_kernel_tuning.fact"
SYSCTL = "/etc/sysctl.d/90-hpcai-numa.conf"


def sysctls(host):
    out = {}
    for line in host.file(SYSCTL).content_string.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";")):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def record(host):
    return json.loads(host.file(FACT).content_string)


def is_compute(host):
    return host.backend.get_hostname().endswith("-c01")


def test_sysctl_file_written_and_matches_the_record(host):
    f = host.file(SYSCTL)
    assert f.is_file and f.user == "root" and f.mode == 0o644
    values = sysctls(host)
    assert "vm.min_free_kbytes" in values
    assert {k: str(v) for k, v in record(host)["sysctls"].items()} == values


def test_compute_gets_hpc_numa_values_scaled_to_eight_nodes(host):
    if not is_compute(host):
        pytest.skip("compute node only")
    values = sysctls(host)
    assert values["kernel.numa_balancing"] == "0"
    assert values["vm.zone_reclaim_mode"] == "1"
    # 64 MiB per NUMA node with memory x 8 nodes is the floor, 4 GiB the cap.
    assert 8 * 64 * 1024 <= int(values["vm.min_free_kbytes"]) <= 4 * 1024 * 1024
    # EL9 (5.14) keeps sched_*_ns in debugfs: never written to sysctl.d there.
    assert not any(k.startswith("kernel.sched_") and k.endswith("_ns") for k in values)
    content = host.file(SYSCTL).content_string
    assert "zen4" in content and "24 L3 domains" in content


def test_head_gets_mixed_values(host):
    if is_compute(host):
        pytest.skip("head node only")
    rec = record(host)
    assert rec["node_class"] == "login" and rec["workload"] == "mixed"
    values = sysctls(host)
    assert values.get("vm.max_map_count") == "262144"
    assert "vm.swappiness" not in values


def test_tuned_profile_per_class(host):
    rec = record(host)
    name = "hpcai-compute-cpu" if is_compute(host) else "hpcai-login"
    parent = "hpc-compute" if is_compute(host) else "throughput-performance"
    assert rec["tuned_profile"] == name and rec["tuned_parent"] == parent
    conf = host.file("/etc/tuned/%s/tuned.conf" % name).content_string
    assert re.search(r"^include=%s$" % re.escape(parent), conf, re.M)
    assert re.search(r"^\[cpu\]\ngovernor=performance$", conf, re.M)
    assert re.search(r"^\[disk\]\nreadahead=>4096$", conf, re.M)
    thp = "always" if is_compute(host) else "madvise"
    assert re.search(r"^\[vm\]\ntransparent_hugepages=%s$" % thp, conf, re.M)
    assert host.check_output("tuned-adm active").strip() == "Current active profile: %s" % name
    assert host.service("tuned").is_running and host.service("tuned").is_enabled


def test_tuned_reapplies_sysctl_d(host):
    assert re.search(r"^reapply_sysctl = 1$", host.file("/etc/tuned/tuned-main.conf").content_string, re.M)


def test_cmdline_planned_but_not_applied_in_container(host):
    rec = record(host)
    args = rec["cmdline_args"]
    assert args[0] == "iommu=pt"
    # auto: amd_pstate=active only on Zen 2+ with a 6.3+ kernel (the synthetic EL9 node has 5.14)
    major, minor = (int(x) for x in rec["kernel_release"].split(".")[:2])
    cppc = rec["generation"] in ("zen2", "zen3", "zen4", "zen4c", "zen5", "zen5c")
    assert ("amd_pstate=active" in args) == (cppc and (major, minor) >= (6, 3))
    if is_compute(host):
        assert "transparent_hugepage=always" in args
        assert "nohz_full=96-99" in args and "rcu_nocbs=96-99" in args
        hp = [a for a in args if a.startswith("hugepages=")]
        assert "hugepagesz=2M" in args and len(hp) == 1
        # EL9's 5.14 predates the per-node hugepages=N:M syntax (5.16): one total, 5% of each of 8 nodes
        total = int(hp[0][len("hugepages="):])
        # ... equal to the per-node plan numa_sysctl wrote into the file's header
        plan = re.search(r"^# hugepages \(sysfs, not sysctl\): (.*)$", host.file(SYSCTL).content_string, re.M).group(1)
        per_node = dict(re.findall(r"node(\d+)=(\d+) x 2M", plan))
        assert sorted(per_node) == [str(i) for i in range(8)]
        assert total == sum(int(n) for n in per_node.values()) > 0
    assert not host.file("/etc/default/grub.d/90-hpcai.cfg").exists
    assert record(host)["reboot_pending"] is False


def test_thp_defrag_persisted_by_tmpfiles(host):
    content = host.file("/etc/tmpfiles.d/hpcai-kernel-tuning.conf").content_string
    mode = "defer+madvise" if is_compute(host) else "madvise"
    assert "w /sys/kernel/mm/transparent_hugepage/defrag - - - - %s" % mode in content


def test_irqbalance_configured_not_started_in_container(host):
    conf = host.file("/etc/default/irqbalance")
    assert host.package("irqbalance").is_installed
    lines = [line for line in conf.content_string.splitlines() if line.startswith("IRQBALANCE_BANNED")]
    assert lines == (["IRQBALANCE_BANNED_CPULIST=4-95"] if is_compute(host) else [])
    assert not host.service("irqbalance").is_running


def test_llc_check_recorded(host):
    rec = record(host)
    if is_compute(host):
        assert rec["generation"] == "zen4" and rec["kernel_release"].endswith(".el9.x86_64")
        assert rec["llc_scheduler"] == "ok"
        assert rec["counts"]["l3_domains"] == 24 and rec["counts"]["numa_nodes"] == 8
    else:
        assert rec["llc_scheduler"] in ("ok", "not_applicable", "partial", "old")
