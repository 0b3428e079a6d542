"""Render every role template for every supported OS, like the template module.

For each role and each OS fact set (Rocky 9/10, AlmaLinux 9, RHEL 10, Debian 12,
Ubuntu 24.04) the per-OS vars file is picked exactly as the role's
tasks/set_vars.yml picks it (first_found), defaults + vars are loaded with
ansible-core's DataLoader, a fake 3-host inventory provides hostvars/groups,
and every roles/*/templates/**/*.j2 is rendered with ansible's Templar.
Undefined variables fail (2.19 templating raises on them).

Variables a role normally gets from a task (set_fact/register) at render
time come from ROLE_FIXTURES below; keep that minimal.

Scenarios: "defaults" (role defaults, cluster network set) and per-role extra
scenarios that switch on optional branches so every `{% if %}` path renders.
"""
from __future__ import annotations

import pathlib
import re

import pytest

from render_helpers import (
    HOSTS,
    OS_FACTS,
    ROLES_DIR,
    evaluate,
    first_found_vars_file,
    host_facts,
    load_yaml,
    os_vars_files,
    render,
    role_variables,
    roles,
    templates,
    write_rendered,
)

# Variables normally produced by tasks (set_fact/register) that templates read.
# base: none — its templates only use defaults, vars and facts.
# kernel_tuning: the registered numa_sysctl result and the cpu_topology fact.
KT_TOPOLOGY = {
    "vendor": "AuthenticAMD", "generation": "zen4", "model_name": "AMD EPYC 9654 96-Core Processor",
    "cpus_online": "0-383",
    "counts": {"cpus_online": 384, "cores": 192, "sockets": 2, "numa_nodes": 8, "numa_nodes_total": 8,
               "l3_domains": 24},
}
KT_NUMA = {
    "sysctls": {"kernel.numa_balancing": "0", "vm.zone_reclaim_mode": "1", "vm.min_free_kbytes": "1048576"},
    "thp": {"enabled": "always", "defrag": "defer+madvise"},
    "cmdline_args": ["transparent_hugepage=always", "hugepagesz=2M hugepages=0:1024,1:1024"],
    "tmpfiles_lines": ["w /sys/kernel/mm/transparent_hugepage/defrag - - - - defer+madvise"],
    "skipped_keys": [], "reboot_required": False, "reboot_reasons": [], "kernel_release": "5.14.0-503.el9.x86_64",
}
# slurm: compute nodes' topology facts as cpu_topology returns them (node1, node2 identical).
SLURM_TOPOLOGY = {
    "vendor": "AuthenticAMD", "generation": "zen4", "cpus_online": "0-383",
    "counts": {"cpus_online": 384, "cores": 192, "sockets": 2, "numa_nodes": 8, "numa_nodes_total": 8,
               "l3_domains": 24},
    "slurm": {"CPUs": 384, "Boards": 1, "SocketsPerBoard": 2, "CoresPerSocket": 96, "ThreadsPerCore": 2,
              "RealMemory": 772000},
    "slurm_l3_as_socket": {"CPUs": 384, "Boards": 1, "SocketsPerBoard": 24, "CoresPerSocket": 8, "ThreadsPerCore": 2,
                           "RealMemory": 772000},
}


def _slurm_hostvars():
    out = {}
    for host in ("node1", "node2"):
        facts = host_facts("rocky9", host)
        facts["hpcai_cpu_topology"] = SLURM_TOPOLOGY
        out[host] = {"ansible_facts": facts}
    return out


ROLE_FIXTURES: dict[str, dict] = {
    "base": {},
    "kernel_tuning": {"__kernel_tuning_topology": KT_TOPOLOGY, "__kernel_tuning_numa": KT_NUMA},
}

# Variables every scenario sets (stand-ins for group_vars of a real cluster).
COMMON: dict[str, dict] = {
    "base": {"base_cluster_networks": ["10.10.0.0/16"]},
}

# Extra scenarios per role: name -> variable overrides.
SCENARIOS: dict[str, dict[str, dict]] = {
    "base": {
        "maximal": {
            "base_cluster_networks": ["10.10.0.0/16", "fd00:10::/64"],
            "base_cluster_domain": "hpc.example",
            "base_repo_mode": "mirror",
            "base_mirror_url": "http://mirror.hpc.example/repos/",
            "base_openhpc_enabled": True,
            "base_openhpc_baseurl": "http://mirror.hpc.example/ohpc/base",
            "base_openhpc_updates_baseurl": "http://mirror.hpc.example/ohpc/updates",
            "base_openhpc_gpgkey": "http://mirror.hpc.example/ohpc/KEY",
            "base_dnf_repositories": [
                {"name": "site", "baseurl": "http://repo.hpc.example/el/$releasever", "gpgkey": "http://k",
                 "gpgcheck": True},
                {"name": "site-unsigned", "baseurl": "http://repo.hpc.example/x", "gpgcheck": False},
            ],
            "base_apt_repositories": [
                {"name": "site", "uris": ["http://repo.hpc.example/apt"], "suites": ["stable"],
                 "components": ["main"], "key_url": "http://repo.hpc.example/key.asc"},
                {"name": "signed", "uris": ["http://r"], "suites": ["s"], "signed_by": "/etc/apt/keyrings/x.gpg"},
            ],
            "base_chrony_serve_group": "slurm_controller",
            "base_chrony_servers": ["ntp1.hpc.example", "ntp2.hpc.example iburst prefer"],
            "base_chrony_extra_config": ["log measurements statistics tracking"],
            "base_hosts_extra": [{"address": "10.10.255.254", "names": ["gw", "gw.hpc.example"]}],
            "base_firewall_allowed_ports": ["443/tcp", "60001-60999/udp", "9000/sctp"],
            "base_firewall_trusted_interfaces": ["ib0", "eth1"],
            "base_limits_extra": [{"domain": "@hpc", "type": "soft", "item": "nproc", "value": "4096"}],
            "base_limits_memlock": "1048576",
            "base_sshd_options": {"PermitRootLogin": "prohibit-password", "UseDNS": False, "X11Forwarding": True},
            "base_cluster_interface": "eth0",
            "__hostvars__": {"node2": {"base_cluster_address": "10.10.9.9"}},
        },
        "empty": {
            "base_cluster_networks": [],
            "base_chrony_pools": [],
            "base_sshd_options": {},
            "base_hosts_groups": ["compute"],
        },
    },
}

COMMON["slurm"] = {"slurm_compute_group": "compute", "__hostvars__": _slurm_hostvars(),
                   "slurm_dbd_db_password": "render-test-password"}
SCENARIOS["slurm"] = {
    "l3_partitions": {
        "slurm_compute_group": "compute",
        "__hostvars__": _slurm_hostvars(),
        "slurm_l3_as_socket": True,
        "slurm_configless": True,
        "slurm_partitions": [{"name": "cpu", "nodes": "compute", "default": True,
                              "options": {"MaxTime": "2-00:00:00", "State": "UP"}},
                             {"name": "debug", "nodes": "node1"}],
        "slurm_conf_extra": {"SchedulerParameters": "bf_continue"},
    },
    "no_accounting": {"slurm_compute_group": "compute", "__hostvars__": _slurm_hostvars(), "slurm_accounting": False},
}

# ---- slurm pam_slurm_adopt: the PAM service file tasks/pam_adopt.yml reads and
# templates/pam_slurm_adopt-service.j2 rewrites (the real files: test_slurm_pam.py).
ROLE_FIXTURES["slurm"] = dict(ROLE_FIXTURES.get("slurm", {}), __slurm_pam_service="sshd",
                              __slurm_pam_service_text="account    include      password-auth\n")
SCENARIOS["slurm"]["pam_adopt"] = {"slurm_compute_group": "compute", "__hostvars__": _slurm_hostvars(),
                                   "slurm_pam_adopt": True, "slurm_pam_adopt_admin_groups": ["hpcadmin"]}

SCENARIOS["kernel_tuning"] = {
    "gpu_custom": {
        "kernel_tuning_node_class": "compute_gpu",
        "kernel_tuning_tuned_profile": "site-gpu",
        "kernel_tuning_tuned_settings": {"disk": {"readahead": ">4096"}, "cpu": {"energy_perf_bias": "performance"},
                                         "sysfs": {"/sys/kernel/debug/x": 1}, "scheduler": {"runtime": False}},
    },
    "no_governor": {"kernel_tuning_governor": "", "kernel_tuning_node_class": "storage"},
}

# Templates whose file format has no comments (no ansible_managed header).
NO_COMMENT_TEMPLATES: set[str] = set()

# Leftovers that mean a template did not render properly.
BAD_OUTPUT = re.compile(r"\{\{|\{%|AnsibleUndefined|<built-in|Undefined\b")


# ---- fabric: the hpcai_fabric fact (fabric_facts contract) of an IB + RoCE node
# and the addresses tasks/detect.yml allocates; `item` is one entry of them as
# the network templates loop over it.
FABRIC_FACT = {
    "rdma_sysfs": True,
    "adapters": [
        {"pci_address": "0000:06:00.0", "vendor": "0x15b3", "device": "0x1021", "model": "ConnectX-7", "kind": "ib",
         "driver": "mlx5_core", "rdma_module": "mlx5_ib", "rdma_devices": ["mlx5_0"], "netdevs": ["ibp6s0"],
         "numa_node": 0, "local_cpus": "0-23", "vf": False, "physfn": None},
        {"pci_address": "0000:41:00.0", "vendor": "0x15b3", "device": "0x101d", "model": "ConnectX-6 Dx",
         "kind": "roce", "driver": "mlx5_core", "rdma_module": "mlx5_ib", "rdma_devices": ["mlx5_1"],
         "netdevs": ["ens41f0np0"], "numa_node": 2, "local_cpus": "48-71", "vf": False, "physfn": None},
    ],
    "rdma_devices": [
        {"name": "mlx5_0", "pci_address": "0000:06:00.0", "node_type": "CA", "fw_ver": "28.39.1002",
         "node_guid": "a088:c203:0012:3456", "numa_node": 0,
         "ports": [{"port": 1, "link_layer": "InfiniBand", "state": "ACTIVE", "phys_state": "LinkUp",
                    "rate": "400 Gb/sec (4X NDR)", "rate_gbps": 400, "lid": 5, "sm_lid": 1, "netdev": "ibp6s0"}]},
        {"name": "mlx5_1", "pci_address": "0000:41:00.0", "node_type": "CA", "fw_ver": "22.39.1002",
         "node_guid": "a088:c203:0012:9999", "numa_node": 2,
         "ports": [{"port": 1, "link_layer": "Ethernet", "state": "ACTIVE", "phys_state": "LinkUp",
                    "rate": "100 Gb/sec (4X EDR)", "rate_gbps": 100, "lid": None, "sm_lid": None,
                    "netdev": "ens41f0np0"}]},
    ],
    "interfaces": [
        {"name": "ibp6s0", "kind": "ipoib", "rdma_device": "mlx5_0", "port": 1, "pci_address": "0000:06:00.0",
         "numa_node": 0, "operstate": "up", "mtu": 2044, "mac": None, "speed_mbps": None, "ipoib_mode": "datagram",
         "vf": False, "parent": None},
        {"name": "ens41f0np0", "kind": "roce", "rdma_device": "mlx5_1", "port": 1, "pci_address": "0000:41:00.0",
         "numa_node": 2, "operstate": "up", "mtu": 9000, "mac": "b8:3f:d2:00:00:01", "speed_mbps": 100000,
         "ipoib_mode": None, "vf": False, "parent": None},
    ],
    "counts": {"adapters": 2, "rdma_devices": 2, "ib_ports": 1, "ib_ports_active": 1, "roce_ports": 1,
               "roce_ports_active": 1},
    "has_infiniband": True, "has_roce": True, "subnet_manager": "present",
    "kernel_modules": ["ib_ipoib", "ib_umad", "ib_uverbs", "mlx5_ib", "rdma_ucm"],
    "missing_rdma_drivers": [], "warnings": [],
}
FABRIC_ADDRESSES = [
    {"network": "ib", "kind": "ipoib", "interface": "ibp6s0", "address": "10.20.0.11", "prefix": 16, "mtu": 4092,
     "ipoib_mode": "datagram", "present": True},
    {"network": "roce", "kind": "roce", "interface": "ens41f0np0", "address": "10.30.0.2", "prefix": 24, "mtu": None,
     "ipoib_mode": None, "present": True},
]
ROLE_FIXTURES["fabric"] = {"__fabric_facts": FABRIC_FACT, "__fabric_my_addresses": FABRIC_ADDRESSES}
COMMON["fabric"] = {"item": FABRIC_ADDRESSES[0],
                    "fabric_networks": [{"name": "ib", "kind": "ipoib", "cidr": "10.20.0.0/16", "mtu": 4092},
                                        {"name": "roce", "kind": "roce", "cidr": "10.30.0.0/24"}]}
SCENARIOS["fabric"] = {
    # the RoCE entry as `item`, lossless RoCE on, explicit opensm GUIDs
    "roce_lossless": {"fabric_roce_lossless": True, "fabric_opensm_port_guids": ["0xa088c20300123456"],
                      "item": FABRIC_ADDRESSES[1]},
}


# ---- gpu: an HGX node's gpu_facts (8 x H100, 4 NVSwitches) as the role sees it.
GPU_FACT = {
    "gpus": [{"index": i, "pci_address": "0000:%02x:00.0" % (0x18 + 0x20 * i), "vendor": "nvidia", "vendor_id": "0x10de",
              "device_id": "0x2330", "model": "H100 SXM5 80GB", "gres_type": "h100", "numa_node": i // 4,
              "local_cpus": "0-95" if i < 4 else "96-191", "driver": "nvidia", "device_file": "/dev/nvidia%d" % i}
             for i in range(8)],
    "nvswitches": [{"pci_address": "0000:0%d:00.0" % n, "numa_node": 0} for n in range(4)],
    "counts": {"gpus": 8, "nvswitches": 4}, "vendors": ["nvidia"], "nvml": True, "rocm_smi": False,
    "slurm": {"gres": "gpu:h100:8", "conf_lines": [], "autodetect": "nvml"}, "vfs": [], "pci_sysfs": True,
    "warnings": [],
}
ROLE_FIXTURES["gpu"] = {"__gpu_facts": GPU_FACT}
SCENARIOS["gpu"] = {
    "mig_all": {"gpu_nvidia_mig": {"all": ["3g.40gb", "3g.40gb"]}, "gpu_dcgm_exporter": True},
    "mig_per_gpu": {"gpu_nvidia_mig": {"0": ["1g.10gb", "1g.10gb", "2g.20gb"], "3": ["7g.80gb"]},
                    "gpu_nvidia_driver_branch": "570"},
}


# ---- shared_fs: exports, fstab/autofs mounts, Lmod; the server group is "compute" (node1, node2), head1 is a client.
COMMON["shared_fs"] = {
    "shared_fs_nfs_server_group": "compute",
    "shared_fs_nfs_exports": [
        {"path": "/srv/home", "clients": [{"host": "10.10.0.0/16", "options": ["rw", "sync", "no_subtree_check"]}]},
        {"path": "/srv/apps", "clients": [{"host": "*.hpc.example", "options": ["ro"]}, {"host": "@admins"}]},
    ],
    "shared_fs_mounts": [
        {"src": "nfs1:/srv/home", "path": "/home", "fstype": "nfs4", "options": ["hard"], "automount": True},
        {"src": "nfs1:/srv/apps", "path": "/apps", "fstype": "nfs4", "options": ["ro"]},
    ],
    "shared_fs_lmod": True,
}
SCENARIOS["shared_fs"] = {"autofs": {"shared_fs_mount_method": "autofs"}}


def _cases():
    for role in roles():
        if not templates(role):
            continue
        scenarios = {"defaults": {}}
        scenarios.update(SCENARIOS.get(role, {}))
        for os_key in OS_FACTS:
            for scenario in scenarios:
                yield pytest.param(role, os_key, scenario, id=f"{role}-{os_key}-{scenario}")


def _overrides(role: str, scenario: str) -> dict:
    out = dict(COMMON.get(role, {}))
    out.update(SCENARIOS.get(role, {}).get(scenario, {}))
    return out


@pytest.mark.parametrize("role,os_key,scenario", list(_cases()))
def test_templates_render(role, os_key, scenario, tmp_path):
    errors = []
    for host in HOSTS:
        variables = role_variables(role, os_key, host, _overrides(role, scenario), ROLE_FIXTURES.get(role))
        for template in templates(role):
            try:
                text = render(template, variables)
            except Exception as exc:  # noqa: BLE001 - report every template, not just the first
                errors.append(f"{template.relative_to(ROLES_DIR)} on {host}: {type(exc).__name__}: {exc}")
                continue
            write_rendered(tmp_path / host, role, template, text)
            bad = BAD_OUTPUT.search(text)
            if bad:
                errors.append(f"{template.relative_to(ROLES_DIR)} on {host}: leftover {bad.group(0)!r}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("role", [r for r in roles() if templates(r)])
def test_templates_have_ansible_managed_header(role):
    missing = []
    for template in templates(role):
        rel = str(template.relative_to(ROLES_DIR))
        if rel in NO_COMMENT_TEMPLATES:
            continue
        head = template.read_text(encoding="utf-8").splitlines()[:3]
        if not any(re.search(r"\{\{\s*ansible_managed\s*\|\s*comment", line) for line in head):
            missing.append(rel)
    assert not missing, f"templates without '{{{{ ansible_managed | comment }}}}' in their first lines: {missing}"


@pytest.mark.parametrize("role", [r for r in roles() if len(os_vars_files(r)) > 1])
def test_os_vars_files_define_the_same_keys(role):
    files = os_vars_files(role)
    keys = {f.name: set((load_yaml(f) or {}).keys()) for f in files}
    union = set().union(*keys.values())
    problems = {name: sorted(union - k) for name, k in keys.items() if union - k}
    assert not problems, f"per-OS vars files of {role} miss keys defined elsewhere: {problems}"


@pytest.mark.parametrize("role", [r for r in roles() if os_vars_files(r)])
def test_every_supported_os_has_a_vars_file_and_every_file_is_used(role):
    chosen = {}
    for os_key in OS_FACTS:
        path = first_found_vars_file(role, host_facts(os_key, "head1"))
        assert path is not None, f"{role}: no vars file for {os_key} ({OS_FACTS[os_key]})"
        chosen[os_key] = path.name
    unused = sorted({f.name for f in os_vars_files(role)} - set(chosen.values()))
    assert not unused, f"{role}: vars files no supported OS selects: {unused} (selection: {chosen})"


@pytest.mark.parametrize("role", [r for r in roles() if os_vars_files(r)])
def test_internal_variables_are_prefixed(role):
    bad = []
    for f in os_vars_files(role) + [ROLES_DIR / role / "vars" / "main.yml"]:
        if f.is_file():
            bad += [f"{f.name}:{k}" for k in (load_yaml(f) or {}) if not k.startswith(f"__{role}_")]
    assert not bad, f"vars of {role} must be named __{role}_*: {bad}"


# ---------------------------------------------------------------- base logic
def _base(os_key="debian12", host="node1", **overrides):
    over = dict(COMMON["base"])
    over.update(overrides)
    return role_variables("base", os_key, host, over, ROLE_FIXTURES["base"])


def _render_base(name, os_key="debian12", host="node1", **overrides):
    return render(ROLES_DIR / "base" / "templates" / name, _base(os_key, host, **overrides))


def test_base_host_address_precedence():
    v = _base(base_cluster_interface="eth1",
              __hostvars__={"node2": {"base_cluster_address": "10.10.7.7"}})
    addrs = evaluate("{{ __base_host_addresses }}", v)
    assert addrs == {"head1": "192.168.122.5", "node1": "192.168.122.5", "node2": "10.10.7.7"}
    v = _base()
    assert evaluate("{{ __base_host_addresses }}", v) == {h: d["address"] for h, d in HOSTS.items()}
    # multi-homed without an interface hint: the address inside a cluster network wins over default_ipv4
    v = _base(base_cluster_networks=["192.168.122.0/24"])
    assert set(evaluate("{{ __base_host_addresses }}", v).values()) == {"192.168.122.5"}
    # no facts at all: an IPv4 ansible_host still works, a name does not
    v = _base(__hostvars__={"node1": {"ansible_facts": {}, "ansible_host": "10.10.5.5"},
                            "node2": {"ansible_facts": {}, "ansible_host": "node2.example"}})
    assert evaluate("{{ __base_host_addresses }}", v) == {"head1": "10.10.0.1", "node1": "10.10.5.5"}


@pytest.mark.parametrize("address,networks,expected", [
    ("10.10.1.1", ["10.10.0.0/16"], True),
    ("10.11.0.1", ["10.10.0.0/16"], False),
    ("10.11.0.1", ["10.10.0.0/16", "10.11.0.0/30"], True),
    ("192.168.1.200", ["192.168.1.128/25"], True),
    ("192.168.1.100", ["192.168.1.128/25"], False),
    ("10.0.0.1", ["fd00::/64"], True),   # nothing IPv4 to check against
    ("10.0.0.1", ["0.0.0.0/0"], True),
])
def test_base_cluster_address_in_networks(address, networks, expected):
    v = _base(base_cluster_networks=networks, __hostvars__={"node1": {"base_cluster_address": address}})
    assert evaluate("{{ __base_cluster_address_in_networks | bool }}", v) is expected


def test_base_nftables_trusts_cluster_and_keeps_ssh_open():
    text = _render_base("nftables.conf.j2", base_cluster_networks=["10.10.0.0/16", "fd00:10::/64"],
                        base_firewall_allowed_ports=["443/tcp", "60001-60999/udp"],
                        base_firewall_trusted_interfaces=["ib0"])
    assert text.startswith("#!/usr/sbin/nft -f\n")
    assert "flush ruleset" not in text.replace('no "flush ruleset"', "")
    for needle in ("policy drop;", "ct state established,related accept", 'iif "lo" accept',
                   "tcp dport 22 accept", "elements = { 10.10.0.0/16 }", "elements = { fd00:10::/64 }",
                   "ip saddr @cluster_v4 accept", "ip6 saddr @cluster_v6 accept", 'iifname { "ib0" } accept',
                   "tcp dport { 443 } accept", "udp dport { 60001-60999 } accept"):
        assert needle in text, needle


def test_base_chrony_server_and_client():
    server = _render_base("chrony.conf.j2", host="head1", base_chrony_serve_group="slurm_controller")
    client = _render_base("chrony.conf.j2", host="node1", base_chrony_serve_group="slurm_controller")
    assert "pool 2.pool.ntp.org iburst" in server
    assert "allow 10.10.0.0/16" in server and "local stratum 10 orphan" in server
    assert "server 10.10.0.1 iburst" in client
    assert "pool " not in client and "allow " not in client


def test_base_chrony_paths_per_os():
    assert "driftfile /var/lib/chrony/drift" in _render_base("chrony.conf.j2", "rocky9")
    assert "confdir /etc/chrony/conf.d" in _render_base("chrony.conf.j2", "ubuntu2404")


def test_base_hosts_lists_every_node_and_no_loopback_hostname():
    text = _render_base("hosts.j2", base_cluster_domain="hpc.example")
    assert "10.10.0.1\thead1.hpc.example head1 head1.cluster.lan" in text
    assert "10.10.1.2\tnode2.hpc.example node2" in text
    assert "127.0.1.1" not in text


def test_base_known_hosts_has_all_key_types_for_all_nodes():
    text = _render_base("ssh_known_hosts.j2")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert len(lines) == 3 * len(HOSTS)
    assert "head1,head1.cluster.lan,10.10.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIhead1ed25519" in lines


def test_base_mirror_layouts():
    rocky = _render_base("hpcai-mirror.repo.j2", "rocky9", base_repo_mode="mirror", base_mirror_url="http://m/r/")
    assert "[mirror-baseos]" in rocky and "baseurl=http://m/r/rocky/9/BaseOS/$basearch/os/" in rocky
    assert "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9" in rocky
    alma = _render_base("hpcai-mirror.repo.j2", "alma9", base_repo_mode="mirror", base_mirror_url="http://m")
    assert "baseurl=http://m/almalinux/9/CRB/$basearch/os/" in alma
    epel = _render_base("epel.repo.j2", "rhel10", base_repo_mode="mirror", base_mirror_url="http://m")
    assert "baseurl=http://m/epel/10/Everything/$basearch/" in epel and "metalink" not in epel
    upstream = _render_base("epel.repo.j2", "rocky10")
    assert "metalink=https://mirrors.fedoraproject.org/metalink?repo=epel-$releasever_major" in upstream
    deb = _render_base("hpcai-mirror.sources.j2", "debian12", base_repo_mode="mirror", base_mirror_url="http://m")
    assert "URIs: http://m/debian-security" in deb and "Suites: bookworm bookworm-updates" in deb
    ubu = _render_base("hpcai-mirror.sources.j2", "ubuntu2404", base_repo_mode="mirror", base_mirror_url="http://m")
    assert "Suites: noble noble-updates noble-security" in ubu
    assert "Signed-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg" in ubu


def test_base_openhpc_defaults_only_on_el9():
    assert "baseurl=https://repos.openhpc.community/OpenHPC/3/EL_9" in _render_base(
        "OpenHPC.repo.j2", "rocky9", base_openhpc_enabled=True)
    assert evaluate("{{ __base_openhpc_baseurl }}", _base("rocky10", base_openhpc_enabled=True)) == ""


def test_base_repo_switching_per_distribution():
    want = evaluate("{{ __base_dnf_repo_wanted }}", _base("rhel10", base_repo_mode="mirror"))
    assert want == {"rhel-10-for-x86_64-baseos-rpms": False, "rhel-10-for-x86_64-appstream-rpms": False,
                    "codeready-builder-for-rhel-10-x86_64-rpms": False}
    want = evaluate("{{ __base_dnf_repo_wanted }}", _base("rocky9"))
    assert want == {"baseos": True, "appstream": True, "extras": True, "crb": True}
    cmd = evaluate("{{ __base_dnf_repo_cmd }}", _base("rhel10"))
    assert cmd["enable"][0] == "subscription-manager"


def test_base_container_detection():
    in_docker = role_variables("base", "debian12", "node1", COMMON["base"], virtualization_type="docker")
    on_kvm = role_variables("base", "debian12", "node1", COMMON["base"], virtualization_type="kvm")
    assert evaluate("{{ __base_in_container | bool }}", in_docker) is True
    assert evaluate("{{ __base_in_container | bool }}", on_kvm) is False


def test_base_packages_are_one_list_per_os():
    for os_key in OS_FACTS:
        pkgs = evaluate("{{ __base_packages_all }}", _base(os_key, base_extra_packages=["tmux"]))
        assert "chrony" in pkgs and "tmux" in pkgs and len(pkgs) == len(set(pkgs))
        assert ("firewalld" in pkgs) == OS_FACTS[os_key]["os_family"].startswith("RedHat")
        assert ("nftables" in pkgs) == (OS_FACTS[os_key]["os_family"] == "Debian")


def test_rendered_files_are_written(tmp_path):
    # Smoke test of the helper that stores rendered output (useful when debugging).
    tpl = ROLES_DIR / "base" / "templates" / "journald.conf.j2"
    out = write_rendered(tmp_path, "base", tpl, _render_base("journald.conf.j2"))
    assert pathlib.Path(out).read_text().count("Storage=persistent") == 1
