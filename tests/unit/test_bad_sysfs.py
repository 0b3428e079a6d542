"""Issue 12, part 1 - malformed or partial sysfs/procfs trees never crash a module.

A good synthetic tree (tests/sysfs_gen.py) is copied and corrupted - files
deleted, garbage written (non-numeric, empty, binary bytes, huge numbers,
malformed cpulists), reads refused (PermissionError, simulated: the tests may
run as root, where chmod 000 does not deny), symlinks dangling or looping -
and every module that reads such a tree runs on it in-process. Each run must:

  * end in exit_json / fail_json: no exception escapes main(), and no
    "unexpected error" (the modules' catch-all for a Python exception);
  * if it fails: name what is wrong (the file or the sysfs object);
  * if it succeeds: give the same result as on the good tree (the corruption
    is in a file this module does not need), or say what it could not read
    (a warning: a documented partial result).

CORRUPTIONS is the table (one row per corruption, run for each module listed).
"""
from __future__ import annotations

import builtins
import copy
import glob
import json
import os
import shutil
import sys

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sysfs_gen as gen  # noqa: E402

from ansible_collections.hpcai.cluster.plugins.modules import (  # noqa: E402
    cgroup_partition, cpu_topology, fabric_facts, gpu_facts, kernel_modules_check, numa_sysctl, pci_devices)

KERNEL = "6.1.0-28-amd64"
MODULES = {
    "cpu_topology": (cpu_topology, {}),
    "numa_sysctl": (numa_sysctl, {"dest_root": "@dest@"}),
    "cgroup_partition": (cgroup_partition, {"dest_root": "@dest@", "gpu_local_cpus": "avoid"}),
    "gpu_facts": (gpu_facts, {}),
    "pci_devices": (pci_devices, {}),
    "fabric_facts": (fabric_facts, {}),
    "kernel_modules_check": (kernel_modules_check, {"modules": ["nvidia"], "kernel": KERNEL}),
}
# Which modules read what: cgroup_partition, numa_sysctl and gpu_facts read the CPU topology
# through the same topology.gather as cpu_topology (numa_sysctl is kept as its second reader).
HOST = ["cpu_topology", "numa_sysctl"]
PCIM = ["pci_devices", "gpu_facts", "cgroup_partition"]
FABRIC = ["fabric_facts"]
KMOD = ["kernel_modules_check"]

CPU = "sys/devices/system/cpu"
NODE = "sys/devices/system/node"
PCI = "sys/bus/pci/devices"
GPU = PCI + "/0000:01:00.0"
IB = "sys/class/infiniband"
NET = "sys/class/net"
LIBMOD = "lib/modules/" + KERNEL

BINARY = b"\xff\xfe\x00\x80garbage\x00"
HUGE = "184467440737095516160000"


# Mutations: (action, glob relative to root, payload)
def _delete(pattern):
    return [("delete", pattern, None)]


def _write(pattern, data):
    return [("write", pattern, data)]


def _deny(pattern):
    return [("deny", pattern, None)]


def _loop(pattern):
    return [("loop", pattern, None)]


def _dangle(pattern):
    return [("dangle", pattern, None)]


# (name, tree, modules, mutations, hints: a failure message must contain one of them)
# A row may end with a reason: the module's documentation already says what it returns for this
# tree and the result says so too (no warning is required then).
CORRUPTIONS = [
    # ---- CPU list files
    ("cpu_online_missing", "host", HOST, _delete(CPU + "/online"), ["online"]),
    ("cpu_online_open_range", "host", HOST, _write(CPU + "/online", "0-\n"), ["online"]),
    ("cpu_online_reversed", "host", HOST, _write(CPU + "/online", "3-1\n"), ["online"]),
    ("cpu_online_letters", "host", HOST, _write(CPU + "/online", "a\n"), ["online"]),
    ("cpu_online_empty", "host", HOST, _write(CPU + "/online", ""), ["online"]),
    ("cpu_online_binary", "host", HOST, _write(CPU + "/online", BINARY), ["online"]),
    ("cpu_online_huge", "host", HOST, _write(CPU + "/online", HUGE + "\n"), ["online"]),
    ("cpu_online_denied", "host", HOST, _deny(CPU + "/online"), ["online"]),
    ("cpu_possible_present_missing", "host", HOST, _delete(CPU + "/possible") + _delete(CPU + "/present"),
     ["possible", "present"]),
    ("cpu_dir_denied", "host", HOST, _deny(CPU), ["cpu"]),
    # ---- per-CPU topology
    ("core_id_missing", "host", HOST, _delete(CPU + "/cpu*/topology/core_id"), ["core_id"]),
    ("core_id_one_missing", "host", HOST, _delete(CPU + "/cpu3/topology/core_id"), ["core_id", "cpu3"]),
    ("core_id_letters", "host", HOST, _write(CPU + "/cpu*/topology/core_id", "abc\n"), ["core_id"]),
    ("core_id_huge", "host", HOST, _write(CPU + "/cpu*/topology/core_id", HUGE + "\n"), ["core_id"]),
    ("core_id_negative", "host", HOST, _write(CPU + "/cpu*/topology/core_id", "-7\n"), ["core_id"]),
    ("core_id_binary", "host", HOST, _write(CPU + "/cpu0/topology/core_id", BINARY), ["core_id", "cpu0"]),
    ("package_id_missing", "host", HOST, _delete(CPU + "/cpu*/topology/physical_package_id"), ["physical_package_id"]),
    ("package_id_letters", "host", HOST, _write(CPU + "/cpu*/topology/physical_package_id", "x\n"),
     ["physical_package_id"]),
    ("thread_siblings_garbage", "host", HOST, _write(CPU + "/cpu*/topology/thread_siblings_list", "0-\n"),
     ["thread_siblings"]),
    ("topology_dir_missing", "host", HOST, _delete(CPU + "/cpu2/topology"), ["topology", "cpu2"]),
    ("topology_denied", "host", HOST, _deny(CPU + "/cpu1/topology/core_id"), ["core_id", "cpu1"]),
    # ---- caches
    ("l3_missing", "host", HOST, _delete(CPU + "/cpu*/cache/index3"), ["index3", "L3", "cache"],
     "no L3 entry at all is what a CPU without L3 looks like: l3_domains is [] (documented)"),
    ("l3_shared_list_garbage", "host", HOST, _write(CPU + "/cpu*/cache/index3/shared_cpu_list", "0-\n"),
     ["shared_cpu_list", "cache"]),
    ("l3_level_garbage", "host", HOST, _write(CPU + "/cpu*/cache/index3/level", "three\n"), ["level", "cache"]),
    ("l3_size_garbage", "host", HOST, _write(CPU + "/cpu*/cache/index3/size", "big\n"), ["size", "cache"]),
    ("cache_loop", "host", HOST, _loop(CPU + "/cpu0/cache/index3"), ["index3", "cache"]),
    # ---- NUMA nodes
    ("node_dir_missing", "host", HOST, _delete(NODE), ["node"]),
    ("node0_missing", "host", HOST, _delete(NODE + "/node0"), ["node0", "node"]),
    ("node_online_garbage", "host", HOST, _write(NODE + "/online", "0-\n"), ["online", "node"]),
    ("node_distance_garbage", "host", HOST, _write(NODE + "/node0/distance", "x y\n"), ["distance"]),
    ("node_distance_empty", "host", HOST, _write(NODE + "/node0/distance", ""), ["distance"]),
    ("node_cpulist_reversed", "host", HOST, _write(NODE + "/node0/cpulist", "3-1\n"), ["cpulist", "node0"]),
    ("node_meminfo_garbage", "host", HOST, _write(NODE + "/node0/meminfo", BINARY), ["meminfo", "node0"]),
    ("node_meminfo_huge", "host", HOST, _write(NODE + "/node0/meminfo", "Node 0 MemTotal: %s kB\n" % HUGE),
     ["meminfo", "node0"]),
    ("node_distance_denied", "host", HOST, _deny(NODE + "/node0/distance"), ["distance"]),
    ("node_loop", "host", HOST, _loop(NODE + "/node0"), ["node0"]),
    # ---- procfs
    ("cpuinfo_missing", "host", HOST, _delete("proc/cpuinfo"), ["cpuinfo"]),
    ("cpuinfo_binary", "host", HOST, _write("proc/cpuinfo", BINARY), ["cpuinfo"]),
    ("cpuinfo_fields_garbage", "host", HOST, _write("proc/cpuinfo", "processor\t: x\ncpu family\t: ?\nmodel\t: -\n"),
     ["cpuinfo"]),
    ("meminfo_missing", "host", HOST, _delete("proc/meminfo"), ["meminfo"]),
    ("meminfo_garbage", "host", HOST, _write("proc/meminfo", "MemTotal: lots kB\n"), ["meminfo"]),
    ("meminfo_denied", "host", HOST, _deny("proc/meminfo"), ["meminfo"]),
    # ---- PCI / GPU
    ("pci_vendor_missing", "host", PCIM, _delete(PCI + "/*/vendor"), ["vendor"]),
    ("pci_vendor_garbage", "host", PCIM, _write(PCI + "/*/vendor", "zzzz\n"), ["vendor"]),
    ("pci_class_empty", "host", PCIM, _write(PCI + "/*/class", ""), ["class"]),
    ("gpu_numa_node_garbage", "host", PCIM, _write(GPU + "/numa_node", "abc\n"), ["numa_node"]),
    ("gpu_numa_node_huge", "host", PCIM, _write(GPU + "/numa_node", HUGE + "\n"), ["numa_node"]),
    ("gpu_local_cpulist_garbage", "host", PCIM, _write(GPU + "/local_cpulist", "0-\n"), ["local_cpulist"]),
    ("gpu_device_binary", "host", PCIM, _write(GPU + "/device", BINARY), ["device"]),
    ("gpu_vendor_denied", "host", PCIM, _deny(GPU + "/vendor"), ["vendor"]),
    ("gpu_link_dangling", "host", PCIM, _dangle(GPU), ["0000:01:00.0"]),
    ("gpu_link_loop", "host", PCIM, _loop(GPU), ["0000:01:00.0"]),
    ("pci_dir_missing", "host", PCIM, _delete(PCI), ["pci"],
     "no sys/bus/pci is a container or non-PCI system: an empty list, pci_sysfs false (documented)"),
    ("pci_dir_denied", "host", PCIM, _deny(PCI), ["pci"]),
    ("drm_garbage", "host", PCIM, _write("sys/class/drm/card0/device/vendor", BINARY), ["drm", "card0"]),
    # ---- RDMA fabric
    ("ib_state_missing", "fabric", FABRIC, _delete(IB + "/*/ports/1/state"), ["state"]),
    ("ib_state_garbage", "fabric", FABRIC, _write(IB + "/*/ports/1/state", "banana\n"), ["state"]),
    ("ib_rate_garbage", "fabric", FABRIC, _write(IB + "/*/ports/1/rate", "fast\n"), ["rate"]),
    ("ib_lid_garbage", "fabric", FABRIC, _write(IB + "/*/ports/1/lid", "0xZZ\n"), ["lid"]),
    ("ib_sm_lid_binary", "fabric", FABRIC, _write(IB + "/*/ports/1/sm_lid", BINARY), ["sm_lid"]),
    ("ib_link_layer_garbage", "fabric", FABRIC, _write(IB + "/*/ports/1/link_layer", "Carrier pigeon\n"),
     ["link_layer"]),
    ("ib_ports_missing", "fabric", FABRIC, _delete(IB + "/mlx5_0/ports"), ["ports", "mlx5_0"]),
    ("ib_dir_denied", "fabric", FABRIC, _deny(IB), ["infiniband"]),
    ("ib_device_loop", "fabric", FABRIC, _loop(IB + "/mlx5_0"), ["mlx5_0"]),
    ("net_mtu_garbage", "fabric", FABRIC, _write(NET + "/*/mtu", "jumbo\n"), ["mtu"]),
    ("net_address_binary", "fabric", FABRIC, _write(NET + "/*/address", BINARY), ["address"]),
    ("net_operstate_empty", "fabric", FABRIC, _write(NET + "/*/operstate", ""), ["operstate"]),
    ("net_type_garbage", "fabric", FABRIC, _write(NET + "/*/type", "x\n"), ["type"]),
    ("net_device_dangling", "fabric", FABRIC, _dangle(NET + "/ibp33s0/device"), ["ibp33s0"]),
    # ---- /lib/modules
    ("modules_dep_binary", "host", KMOD, _write(LIBMOD + "/modules.dep", BINARY), ["modules.dep"]),
    ("modules_dep_missing", "host", KMOD, _delete(LIBMOD + "/modules.dep"), ["modules.dep"],
     "without modules.dep the modules are looked for by a scan: modules_dep false, source scan (documented)"),
    ("modules_dep_denied", "host", KMOD, _deny(LIBMOD + "/modules.dep"), ["modules.dep"],
     "an unreadable modules.dep counts as missing: modules_dep false, source scan (documented)"),
    ("modules_dir_denied", "host", KMOD, _deny(LIBMOD), [KERNEL]),
    ("modules_extra_loop", "host", KMOD, _loop(LIBMOD + "/extra"), ["extra", "nvidia"]),
    ("modules_kernel_is_a_file", "host", KMOD, _delete(LIBMOD) + _write(LIBMOD, "not a directory\n"), [KERNEL]),
]

TREES = {"host": "workstation_milan_1p_pcie_gpu", "fabric": "fabric_ib_sm_genoa_2p"}


# ---------------------------------------------------------------- trees
def _add_kernel(root):
    kernel = os.path.join(root, LIBMOD)
    os.makedirs(os.path.join(kernel, "extra"))
    with open(os.path.join(kernel, "extra", "nvidia.ko.xz"), "wb"):
        pass
    with open(os.path.join(kernel, "modules.dep"), "w", encoding="utf-8") as fh:
        fh.write("extra/nvidia.ko.xz:\n")


@pytest.fixture(scope="module")
def good_trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("good_sysfs")
    trees = {}
    for key, spec in TREES.items():
        trees[key] = gen.build_tree(str(base / key), gen.CATALOGUE[spec], full=False)
        _add_kernel(trees[key])
    return trees


def _mutate(root, mutations, denied):
    for action, pattern, payload in mutations:
        matches = sorted(glob.glob(os.path.join(root, pattern))) or ([os.path.join(root, pattern)] if action == "write" else [])
        assert matches, f"{pattern} matches nothing in the good tree: the corruption would test nothing"
        for path in matches:
            if action == "delete":
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
            elif action == "write":
                os.makedirs(os.path.dirname(path), exist_ok=True)
                if os.path.lexists(path):
                    os.unlink(path)  # the copy's files are hard links to the good tree's
                with open(path, "wb") as fh:
                    fh.write(payload if isinstance(payload, bytes) else payload.encode())
            elif action == "deny":
                denied.append(os.path.realpath(path))
            elif action == "loop":  # the entry becomes a symlink to itself
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
                os.symlink(os.path.basename(path), path)
            elif action == "dangle":
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
                os.symlink("../no/such/target", path)


@pytest.fixture()
def deny(monkeypatch):
    """Paths (and everything below) whose open()/listdir()/scandir() raise PermissionError."""
    denied = []

    def blocked(path):
        try:
            real = os.path.realpath(os.fspath(path))
        except (TypeError, ValueError):
            return False
        return any(real == d or real.startswith(d + os.sep) for d in denied)

    real_open, real_listdir, real_scandir = builtins.open, os.listdir, os.scandir

    def fake_open(file, *args, **kwargs):
        if not isinstance(file, int) and blocked(file):
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    def fake_listdir(path="."):
        if blocked(path):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_listdir(path)

    def fake_scandir(path="."):
        if blocked(path):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "listdir", fake_listdir)
    monkeypatch.setattr(os, "scandir", fake_scandir)
    return denied


@pytest.fixture()
def no_commands(monkeypatch):
    monkeypatch.setattr(AnsibleModule, "run_command", lambda self, args, *a, **kw: (1, "", "commands are blocked in this test"))
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: None)


def run(module_name, root, dest, capsys):
    """(result, escaped exception or None)."""
    mod, extra = MODULES[module_name]
    args = {"root": root, "_ansible_check_mode": True}
    for key, value in extra.items():
        args[key] = str(dest) if value == "@dest@" else copy.deepcopy(value)
    capsys.readouterr()
    try:
        with patch_module_args(args):
            mod.main()
    except SystemExit:
        pass
    except Exception as exc:  # noqa: BLE001 - nothing may escape main()
        return None, exc
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    # module.warn(): in the result, or (ansible-core 2.19 in-process) on stderr
    result["__warned"] = list(result.get("warnings") or []) + [
        line.replace("[WARNING]: ", "") for line in captured.err.splitlines() if "WARNING" in line]
    return result, None


def _warnings_in(value):
    """Every warning of a result: module warnings and the facts' own 'warnings' lists."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("warnings", "__warned") and isinstance(item, list):
                found.extend(str(w) for w in item)
            else:
                found.extend(_warnings_in(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_warnings_in(item))
    return found


def _strip_warnings(value):
    if isinstance(value, dict):
        return {k: _strip_warnings(v) for k, v in value.items() if k not in ("warnings", "__warned", "invocation", "deprecations")}
    if isinstance(value, list):
        return [_strip_warnings(v) for v in value]
    return value


def _normal(text, root, dest):
    return str(text).replace(str(dest), "@dest@").replace(root, "@root@")


def _comparable(result, root, dest):
    """The result without warnings and without what differs between two copies of the same tree."""
    text = json.dumps(_strip_warnings(result), sort_keys=True, default=str)
    return text.replace(str(dest), "@dest@").replace(root, "@root@")


@pytest.fixture(scope="module")
def baselines(good_trees, tmp_path_factory):
    return {}


def _baseline(cache, module_name, tree, good_trees, tmp_path, capsys):
    key = (module_name, tree)
    if key not in cache:
        (tmp_path / "dest_good").mkdir()
        result, exc = run(module_name, good_trees[tree], tmp_path / "dest_good", capsys)
        assert exc is None and not result.get("failed"), f"{module_name} fails on the good {tree} tree: {exc or result}"
        cache[key] = (_comparable(result, good_trees[tree], tmp_path / "dest_good"),
                      set(_normal(w, good_trees[tree], tmp_path / "dest_good") for w in _warnings_in(result)))
    return cache[key]


CASES = [pytest.param(row[0], row[1], module, row[3], row[4], row[5] if len(row) > 5 else None, id=f"{row[0]}-{module}")
         for row in CORRUPTIONS for module in row[2]]


@pytest.mark.parametrize("name,tree,module_name,mutations,hints,documented", CASES)
def test_corrupted_tree(name, tree, module_name, mutations, hints, documented, good_trees, baselines, tmp_path, capsys,
                        deny, no_commands):
    baseline = _baseline(baselines, module_name, tree, good_trees, tmp_path, capsys)
    root = str(tmp_path / "root")
    shutil.copytree(good_trees[tree], root, symlinks=True, copy_function=os.link)  # cheap; writes unlink first
    _mutate(root, mutations, deny)
    (tmp_path / "dest").mkdir()
    result, exc = run(module_name, root, tmp_path / "dest", capsys)
    assert exc is None, f"{name}: {module_name} crashed: {type(exc).__name__}: {exc}"
    msg = result.get("msg", "")
    assert "unexpected error" not in msg and "Traceback" not in msg, f"{name}: {module_name} crashed: {msg}"
    if result.get("failed"):
        assert any(h in msg for h in hints), f"{name}: {module_name} failed without naming {hints}: {msg!r}"
        return
    good, good_warnings = baseline
    if _comparable(result, root, tmp_path / "dest") != good and not documented:
        new = set(_normal(w, root, tmp_path / "dest") for w in _warnings_in(result)) - good_warnings
        assert new, f"{name}: {module_name} gave a different result without a new warning (a silent partial result)"


def test_every_corruption_changes_the_tree(good_trees, tmp_path):
    """Each row's globs match something in its good tree (else it would test nothing)."""
    for name, tree, _modules, mutations, _hints, *_reason in CORRUPTIONS:
        for action, pattern, _payload in mutations:
            if action != "write":
                assert glob.glob(os.path.join(good_trees[tree], pattern)), f"{name}: {pattern} matches nothing"
