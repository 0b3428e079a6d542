"""Helpers shared by the role tests: fake OS fact sets, a fake 3-host
inventory, per-OS vars selection exactly as each role's ``tasks/set_vars.yml``
does it (``first_found`` over ``<distribution>-<major>``, ``<os_family>-<major>``,
``<os_family>``), and template rendering with ansible-core's own Templar
(2.19 API: lazy templating of variables, undefined variables raise).
"""
from __future__ import annotations

import copy
import os
import pathlib

import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

REPO = pathlib.Path(__file__).resolve().parents[2]
ROLES_DIR = REPO / "roles"

# Make the collection's own filters (hpcai.cluster.*) resolvable by the Templar,
# as ansible-playbook does with collections_path = ./.collections.
init_plugin_loader([str(REPO / ".collections")])

# What the template action plugin provides on top of the task variables.
ANSIBLE_MANAGED = "Ansible managed"
# Jinja settings of ansible.builtin.template (trim_blocks on, lstrip_blocks off).
TEMPLATE_OVERRIDES = {"trim_blocks": True, "lstrip_blocks": False}

# ---------------------------------------------------------------- OS fact sets
# Only what the roles read; each supported OS once.
OS_FACTS = {
    "rocky9": dict(distribution="Rocky", distribution_major_version="9", distribution_version="9.6",
                   distribution_release="Blue Onyx", os_family="RedHat", kernel="5.14.0-570.17.1.el9_6.x86_64"),
    "rocky10": dict(distribution="Rocky", distribution_major_version="10", distribution_version="10.0",
                    distribution_release="Red Quartz", os_family="RedHat", kernel="6.12.0-55.9.1.el10_0.x86_64"),
    "alma9": dict(distribution="AlmaLinux", distribution_major_version="9", distribution_version="9.6",
                  distribution_release="Sage Margay", os_family="RedHat", kernel="5.14.0-570.12.1.el9_6.x86_64"),
    "rhel10": dict(distribution="RedHat", distribution_major_version="10", distribution_version="10.0",
                   distribution_release="Coughlan", os_family="RedHat", kernel="6.12.0-55.9.1.el10_0.x86_64"),
    "debian12": dict(distribution="Debian", distribution_major_version="12", distribution_version="12.12",
                     distribution_release="bookworm", os_family="Debian", kernel="6.1.0-40-amd64"),
    "ubuntu2404": dict(distribution="Ubuntu", distribution_major_version="24", distribution_version="24.04",
                       distribution_release="noble", os_family="Debian", kernel="6.8.0-86-generic"),
}

# Fake inventory: one head node, two compute nodes on 10.10.0.0/16.
HOSTS = {
    "head1": {"address": "10.10.0.1", "groups": ["slurm_controller", "login"]},
    "node1": {"address": "10.10.1.1", "groups": ["compute"]},
    "node2": {"address": "10.10.1.2", "groups": ["compute"]},
}


def host_facts(os_key: str, host: str, virtualization_type: str = "kvm") -> dict:
    """ansible_facts of one fake host of the given OS."""
    addr = HOSTS[host]["address"]
    facts = dict(OS_FACTS[os_key])
    facts.update(
        architecture="x86_64",
        hostname=host,
        nodename=host,
        fqdn=f"{host}.cluster.lan",
        domain="cluster.lan",
        virtualization_type=virtualization_type,
        virtualization_role="guest",
        default_ipv4={"address": addr, "interface": "eth0", "netmask": "255.255.0.0",
                      "network": "10.10.0.0", "prefix": "16"},
        all_ipv4_addresses=[addr, "192.168.122.5"],
        interfaces=["lo", "eth0", "eth1"],
        eth0={"device": "eth0", "active": True,
              "ipv4": {"address": addr, "netmask": "255.255.0.0", "network": "10.10.0.0", "prefix": "16"}},
        eth1={"device": "eth1", "active": True,
              "ipv4": {"address": "192.168.122.5", "netmask": "255.255.255.0", "network": "192.168.122.0",
                       "prefix": "24"}},
        python={"executable": "/usr/bin/python3"},
        service_mgr="systemd",
        ssh_host_key_ed25519_public=f"AAAAC3NzaC1lZDI1NTE5AAAAI{host}ed25519",
        ssh_host_key_ed25519_public_keytype="ssh-ed25519",
        ssh_host_key_ecdsa_public=f"AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY{host}ecdsa",
        ssh_host_key_ecdsa_public_keytype="ecdsa-sha2-nistp256",
        ssh_host_key_rsa_public=f"AAAAB3NzaC1yc2E{host}rsa",
        ssh_host_key_rsa_public_keytype="ssh-rsa",
    )
    return facts


def inventory_groups() -> dict:
    groups: dict[str, list[str]] = {"all": list(HOSTS), "ungrouped": []}
    for host, data in HOSTS.items():
        for group in data["groups"]:
            groups.setdefault(group, []).append(host)
    return groups


# ---------------------------------------------------------------- roles
def roles() -> list[str]:
    return sorted(p.name for p in ROLES_DIR.iterdir() if p.is_dir() and not p.name.startswith("."))


def load_yaml(path: pathlib.Path):
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def os_vars_files(role: str) -> list[pathlib.Path]:
    """Per-OS vars files of a role (everything in vars/ except main.yml)."""
    vdir = ROLES_DIR / role / "vars"
    if not vdir.is_dir():
        return []
    return sorted(p for p in vdir.iterdir() if p.suffix in (".yml", ".yaml") and p.stem != "main")


def first_found_vars_file(role: str, facts: dict) -> pathlib.Path | None:
    """The vars file tasks/set_vars.yml loads for these facts (None: no match)."""
    candidates = [
        f"{facts['distribution']}-{facts['distribution_major_version']}.yml",
        f"{facts['os_family']}-{facts['distribution_major_version']}.yml",
        f"{facts['os_family']}.yml",
    ]
    for name in candidates:
        path = ROLES_DIR / role / "vars" / name
        if path.is_file():
            return path
    return None


def templates(role: str) -> list[pathlib.Path]:
    tdir = ROLES_DIR / role / "templates"
    if not tdir.is_dir():
        return []
    return sorted(p for p in tdir.rglob("*.j2") if p.is_file())


# ---------------------------------------------------------------- variables
def _trusted(loader: DataLoader, path: pathlib.Path) -> dict:
    if not path.is_file():
        return {}
    return loader.load_from_file(str(path), trusted_as_template=True) or {}


def role_variables(role: str, os_key: str, host: str, overrides: dict | None = None,
                   fixtures: dict | None = None, virtualization_type: str = "kvm",
                   loader: DataLoader | None = None) -> dict:
    """Variables as a task of `role` on `host` sees them (simplified precedence:
    defaults < scenario overrides < role vars/main.yml < per-OS vars < fixtures).

    Scenario overrides stand for inventory/play variables; they sit below role
    vars like group_vars do, which is what matters for the role's own data.
    """
    loader = loader or DataLoader()
    rdir = ROLES_DIR / role
    facts = {h: host_facts(os_key, h, virtualization_type) for h in HOSTS}
    overrides = copy.deepcopy(overrides or {})
    per_host = overrides.pop("__hostvars__", {})
    variables: dict = {}
    variables.update(_trusted(loader, rdir / "defaults" / "main.yml"))
    variables.update(overrides)
    variables.update(_trusted(loader, rdir / "vars" / "main.yml"))
    os_file = first_found_vars_file(role, facts[host])
    if os_file is not None:
        variables.update(_trusted(loader, os_file))
    variables.update(fixtures or {})
    hostvars = {}
    for h in HOSTS:
        hv = {"inventory_hostname": h, "ansible_facts": facts[h], "group_names": HOSTS[h]["groups"]}
        hv.update(per_host.get(h, {}))
        hostvars[h] = hv
    variables.update(hostvars[host])
    variables.update(
        hostvars=hostvars,
        groups=inventory_groups(),
        inventory_hostname=host,
        inventory_hostname_short=host.split(".")[0],
        ansible_play_hosts_all=list(HOSTS),
        ansible_play_hosts=list(HOSTS),
        ansible_check_mode=False,
        role_path=str(rdir),
        role_name=role,
        ansible_managed=ANSIBLE_MANAGED,
    )
    return variables


def render(template: pathlib.Path, variables: dict, loader: DataLoader | None = None) -> str:
    """Render one template file the way ansible.builtin.template does."""
    loader = loader or DataLoader()
    templar = Templar(loader=loader, variables=variables)
    text = trust_as_template(template.read_text(encoding="utf-8"))
    result = templar.template(text, escape_backslashes=False, overrides=dict(TEMPLATE_OVERRIDES))
    return "" if result is None else str(result)


def tasks_by_name(tasks: list) -> dict:
    """{task name: task} of a play's or tasks file's task list, blocks (block/rescue/always) flattened."""
    out = {}
    for task in tasks:
        out[task["name"]] = task
        for key in ("block", "rescue", "always"):
            out.update(tasks_by_name(task.get(key, [])))
    return out


def trusted_vars(mapping: dict | None, **variables) -> dict:
    """A play's or task's own vars, strings trusted as templates (as ansible-playbook treats them), plus ``variables``."""
    out = {k: trust_as_template(v) if isinstance(v, str) else v for k, v in (mapping or {}).items()}
    out.update(variables)
    return out


def evaluate(expression: str, variables: dict, loader: DataLoader | None = None):
    """Evaluate one Jinja template string (e.g. '{{ __base_host_addresses }}')."""
    loader = loader or DataLoader()
    templar = Templar(loader=loader, variables=variables)
    return templar.template(trust_as_template(expression))


def write_rendered(tmp_path: pathlib.Path, role: str, template: pathlib.Path, text: str) -> pathlib.Path:
    rel = template.relative_to(ROLES_DIR / role / "templates")
    out = tmp_path / role / str(rel)[: -len(".j2")]
    os.makedirs(out.parent, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
