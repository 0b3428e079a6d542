# -*- coding: utf-8 -*-
"""Tests for plugins/module_utils/gpu.py (GPU facts and Slurm GRES values).

The GPU nodes of tests/sysfs_gen.py are read in memory and from disk.  Every
expectation comes from the spec: hand-written ``expect_*`` fields (model, GRES
type, device file) and the hardware model (``expected_slurm_cores``,
``expected_l3_domains``), never from gpu.py's tables or code.
"""

from __future__ import absolute_import, division, print_function

import copy
import os
import random
import shutil
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sysfs_gen as gen  # noqa: E402

from ansible_collections.hpcai.cluster.plugins.module_utils import gpu  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils import topology as topo  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils.cpulist import parse_cpulist  # noqa: E402

GPU_SPECS = ["hgx_h100_genoa_2p_nps1", "mi300x_genoa_2p_nps4", "l40s_milan_1p", "genoa_1p_no_gpu",
             "gpu_quirks_milan_2p"]
GPU_KEYS = ["index", "pci_address", "vendor", "vendor_id", "device_id", "model", "gres_type", "numa_node",
            "local_cpus", "l3_domains", "driver", "device_file"]
FACT_KEYS = ["gpus", "nvswitches", "counts", "vendors", "nvml", "rocm_smi", "slurm", "vfs", "pci_sysfs", "warnings"]
VENDOR_NAMES = {0x10DE: "nvidia", 0x1002: "amd", 0x8086: "intel"}

# Hand-written per node: the NodeName Gres= value and the AutoDetect choice.
WANT = {
    "hgx_h100_genoa_2p_nps1": ("gpu:h100:8", "nvml", True, False),
    "mi300x_genoa_2p_nps4": ("gpu:mi300x:4", "rsmi", False, True),
    "l40s_milan_1p": ("gpu:l40s:1", "nvml", True, False),
    "genoa_1p_no_gpu": ("", "off", False, False),
    # the vfio-pci H100 and the driverless MI210 have no device file while the others do
    "gpu_quirks_milan_2p": ("gpu:a100:1,gpu:mi210:1,gpu:mi300x:1,gpu:nvidia_2b85:1,gpu:t4:1", "off", True, False),
}

_READERS = {}


def _reader(name):
    if name not in _READERS:
        _READERS[name] = gen.MemoryReader.for_spec(gen.CATALOGUE[name], full=False)
    return _READERS[name]


def _facts(spec_or_name, warnings=None):
    if isinstance(spec_or_name, str):
        reader = _reader(spec_or_name)
    else:
        reader = gen.MemoryReader.for_spec(spec_or_name, full=False)
    topology = topo.collect(reader, None)
    return gpu.collect_facts(reader, topology, warnings=warnings), topology


def _spec_gpus(spec):
    """GPU entries of the spec (no VFs), sorted by address, with the expected pci.scan view."""
    pcis = dict((d["address"], d) for d in gen.expected_pci(spec, ("gpu",)))
    out = []
    for entry in sorted(spec["pci_devices"] or [], key=lambda e: e["address"]):
        if entry["expect_kind"] == "gpu" and not entry["physfn"]:
            out.append((entry, pcis[entry["address"]]))
    return out


def _single_node(spec):
    return len(set(c.node for c in gen.model(spec)["cores"])) == 1


def _line(fields):
    return dict(part.split("=", 1) for part in fields.split())


@pytest.fixture(scope="module")
def disk_base():
    path = tempfile.mkdtemp(prefix="hpcai-gpu-", dir=gen.fast_tmp_base())
    yield path
    shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------
# The catalogue's GPU nodes, against the spec
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", GPU_SPECS)
def test_gpus_match_the_spec(name):
    spec = gen.CATALOGUE[name]
    fact, dummy = _facts(name)
    assert sorted(fact) == sorted(FACT_KEYS)
    want = _spec_gpus(spec)
    assert [g["pci_address"] for g in fact["gpus"]] == [e["address"] for e, p in want]
    for i, (got, (entry, scan)) in enumerate(zip(fact["gpus"], want)):
        assert sorted(got) == sorted(GPU_KEYS)
        assert got["index"] == i
        assert got["vendor"] == VENDOR_NAMES[entry["vendor"]]
        assert got["vendor_id"] == "0x%04x" % entry["vendor"]
        assert got["device_id"] == "0x%04x" % entry["device"]
        assert got["model"] == entry["expect_model"], got["pci_address"]
        assert got["gres_type"] == entry["expect_gres_type"], got["pci_address"]
        assert got["numa_node"] == (entry["numa_node"] if entry["numa_node"] >= 0 else None)
        assert got["local_cpus"] == scan["local_cpus"]
        assert got["l3_domains"] == gen.expected_l3_domains(spec, entry["numa_node"]), got["pci_address"]
        assert got["driver"] == entry["driver"]
        assert got["device_file"] == entry["expect_device_file"], got["pci_address"]
    assert fact["counts"]["gpus"] == len(want)
    assert fact["vendors"] == sorted(set(VENDOR_NAMES[e["vendor"]] for e, p in want))
    assert fact["pci_sysfs"] is True


@pytest.mark.parametrize("name", GPU_SPECS)
def test_slurm_values_match_the_spec(name):
    spec = gen.CATALOGUE[name]
    fact, dummy = _facts(name)
    gres, auto, nvml, rocm = WANT[name]
    assert fact["slurm"]["gres"] == gres
    assert fact["slurm"]["autodetect"] == auto
    assert (fact["nvml"], fact["rocm_smi"]) == (nvml, rocm)
    # one line per GPU with a device file (or every GPU when none has one), in PCI order
    want = _spec_gpus(spec)
    if any(e["expect_device_file"] for e, p in want):
        want = [(e, p) for e, p in want if e["expect_device_file"]]
    lines = [_line(text) for text in fact["slurm"]["conf_lines"]]
    assert len(lines) == len(want)
    for fields, (entry, scan) in zip(lines, want):
        assert fields["Name"] == "gpu"
        assert fields["Type"] == entry["expect_gres_type"]
        if entry["expect_device_file"]:
            assert fields["File"] == entry["expect_device_file"]
        else:
            assert "File" not in fields
        if entry["numa_node"] < 0 or _single_node(spec):
            assert "Cores" not in fields, entry["address"]
        else:
            assert fields["Cores"] == gen.expected_slurm_cores(spec, entry["numa_node"]), entry["address"]
    assert fact["slurm"]["conf_lines_l3_as_socket"] == fact["slurm"]["conf_lines"]
    assert sum(int(item.rsplit(":", 1)[1]) for item in gres.split(",") if item) == len(lines)


def test_hgx_h100_split_over_two_sockets():
    fact, topology = _facts("hgx_h100_genoa_2p_nps1")
    assert fact["counts"] == {"gpus": 8, "nvswitches": 4}
    assert [n["numa_node"] for n in fact["nvswitches"]] == [0, 0, 1, 1]
    assert [g["numa_node"] for g in fact["gpus"]] == [0] * 4 + [1] * 4
    # Genoa 9654: 96 cores per socket, abstract cores socket by socket
    assert fact["slurm"]["conf_lines"][0] == "Name=gpu Type=h100 File=/dev/nvidia0 Cores=0-95"
    assert fact["slurm"]["conf_lines"][7] == "Name=gpu Type=h100 File=/dev/nvidia7 Cores=96-191"
    assert fact["gpus"][4]["l3_domains"] == list(range(12, 24))
    assert fact["warnings"] == [] and fact["vfs"] == []


def test_mi300x_nps4_quadrants():
    fact, dummy = _facts("mi300x_genoa_2p_nps4")
    cores = [_line(text)["Cores"] for text in fact["slurm"]["conf_lines"]]
    # NUMA nodes 0, 3, 4, 7 = quadrants of 3 CCDs x 8 cores
    assert cores == ["0-23", "72-95", "96-119", "168-191"]
    assert [g["l3_domains"] for g in fact["gpus"]] == [[0, 1, 2], [9, 10, 11], [12, 13, 14], [21, 22, 23]]
    assert [g["device_file"] for g in fact["gpus"]] == ["/dev/dri/renderD%d" % n for n in range(129, 133)]


def test_quirks_node():
    fact, dummy = _facts("gpu_quirks_milan_2p")
    by = dict((g["pci_address"], g) for g in fact["gpus"])
    a100 = by["0000:01:00.0"]
    assert a100["numa_node"] is None and len(a100["l3_domains"]) == 16  # every L3 domain
    assert a100["local_cpus"] == "0-255"
    assert by["0000:41:00.0"]["driver"] is None and by["0000:41:00.0"]["device_file"] == "/dev/nvidia1"
    assert by["0000:21:00.0"]["device_file"] is None  # vfio-pci: not a /dev/nvidiaN
    assert fact["vfs"] == [{"pci_address": "0000:a1:00.1", "physfn": "0000:a1:00.0", "vendor": "amd",
                            "device_id": "0x74b5"}]
    assert "0000:a1:00.1" not in by
    assert len(fact["warnings"]) == 3
    assert any("0000:21:00.0 is bound to vfio-pci" in w for w in fact["warnings"])
    assert sum("left out of Gres" in w for w in fact["warnings"]) == 2
    assert fact["slurm"]["conf_lines"][0] == "Name=gpu Type=a100 File=/dev/nvidia0"


# --------------------------------------------------------------------------
# Device files: with and without the NVIDIA driver's procfs
# --------------------------------------------------------------------------


def _variant(name, change):
    spec = copy.deepcopy(gen.CATALOGUE[name])
    for entry in spec["pci_devices"]:
        change(entry)
    return spec


def test_nvidia_minor_is_read_from_proc():
    minors = {"0000:05:00.0": 3, "0000:25:00.0": 2, "0000:45:00.0": 1, "0000:65:00.0": 0}

    def shuffle(entry):
        if entry["address"] in minors:
            entry["nvidia_minor"] = minors[entry["address"]]

    fact, dummy = _facts(_variant("hgx_h100_genoa_2p_nps1", shuffle))
    files = [g["device_file"] for g in fact["gpus"]]
    assert files == ["/dev/nvidia3", "/dev/nvidia2", "/dev/nvidia1", "/dev/nvidia0"] + \
        ["/dev/nvidia%d" % i for i in range(4, 8)]
    assert _line(fact["slurm"]["conf_lines"][0])["File"] == "/dev/nvidia3"


def test_nvidia_minor_predicted_without_proc():
    def drop(entry):
        entry["nvidia_minor"] = None

    spec = _variant("hgx_h100_genoa_2p_nps1", drop)
    assert not any(rel.startswith("proc/driver") for rel in gen.render(spec)[0])
    fact, dummy = _facts(spec)
    assert [g["device_file"] for g in fact["gpus"]] == ["/dev/nvidia%d" % i for i in range(8)]
    assert fact["warnings"] == []


def test_gpu_missing_from_loaded_driver_has_no_device_file():
    def vfio(entry):
        if entry["address"] == "0000:45:00.0":
            entry["driver"] = "vfio-pci"
            entry["nvidia_minor"] = None
        elif entry["address"] in ("0000:65:00.0", "0000:85:00.0", "0000:a5:00.0", "0000:c5:00.0",
                                  "0000:e5:00.0"):
            entry["nvidia_minor"] -= 1  # the driver numbers the GPUs it binds

    fact, dummy = _facts(_variant("hgx_h100_genoa_2p_nps1", vfio))
    files = [g["device_file"] for g in fact["gpus"]]
    assert files == ["/dev/nvidia0", "/dev/nvidia1", None] + ["/dev/nvidia%d" % i for i in range(2, 7)]
    assert fact["slurm"]["gres"] == "gpu:h100:7"
    assert len(fact["slurm"]["conf_lines"]) == 7
    assert any("0000:45:00.0" in w and "Device Minor" in w for w in fact["warnings"])


def test_amd_without_driver_has_no_file_lines():
    def unbind(entry):
        if entry["expect_kind"] == "gpu":
            entry["driver"] = None
            entry["drm"] = []

    fact, dummy = _facts(_variant("mi300x_genoa_2p_nps4", unbind))
    assert [g["device_file"] for g in fact["gpus"]] == [None] * 4
    # no GPU has a file: all four stay, without File=
    assert fact["slurm"]["gres"] == "gpu:mi300x:4"
    assert [sorted(_line(t)) for t in fact["slurm"]["conf_lines"]] == [["Cores", "Name", "Type"]] * 4
    assert fact["warnings"] == []


# --------------------------------------------------------------------------
# Cores=: slurmd's abstract core ids, physical and L3-as-socket
# --------------------------------------------------------------------------

CORE_SPECS = ["rome_2p_nps4_socket_rr", "intel_icx_2p_socket_rr", "genoa_2p_nps4_smt", "milan_2p_nps2_nosmt",
              "rome_2p_nosmt_kernel", "intel_spr_2p_snc2", "genoa_9634_2p",
              "arm_altra_q80_no_l3", "turin_dense_1p_nps4_smt"]


def _model_core_ids(spec):
    """{os cpu: abstract core} from the model: cores in (socket, CCX, slot) order."""
    mdl = gen.model(spec)
    online = set(mdl["online"])
    usable = [c for c in mdl["cores"] if any(t in online for t in c.cpus)]
    return dict((cpu, i) for i, core in enumerate(usable) for cpu in core.cpus if cpu in online)


@pytest.mark.parametrize("name", CORE_SPECS)
def test_abstract_core_ids_follow_the_hardware_model(name):
    spec = gen.CATALOGUE[name]
    topology = topo.collect(gen.MemoryReader.for_spec(spec, full=False), None)
    want = _model_core_ids(spec)
    phys, notes = gpu.slurm_core_ids(topology)
    l3, notes_l3 = gpu.slurm_core_ids(topology, l3_as_socket=True)
    assert phys == want
    # the claim of slurm_core_ids' docstring: the L3-as-socket numbering is the same
    assert l3 == phys
    assert notes == notes_l3


def test_irregular_machine_comes_with_notes():
    """Offline SMT siblings: slurmd's ThreadsPerCore = CPUs // cores leaves CPUs without an id of their own."""
    spec = gen.CATALOGUE["milan_2p_offline"]
    topology = topo.collect(gen.MemoryReader.for_spec(spec, full=False), None)
    phys, notes = gpu.slurm_core_ids(topology)
    assert notes and any("threads" in n for n in notes)
    assert gpu.slurm_core_ids(topology, l3_as_socket=True)[1] == notes
    warnings = []
    gpu.gres_conf_lines([{"gres_type": "a100", "device_file": "/dev/nvidia0", "numa_node": 0,
                          "local_cpus": "0-63"}], topology, warnings=warnings)
    assert warnings and all(w.startswith("Cores= may not match slurmd") for w in warnings)


def test_naive_l3_numbering_would_differ_on_round_robin_machines():
    """Why the L3 layout follows hwloc's tree: ordering L3 domains by first CPU interleaves sockets."""
    spec = gen.CATALOGUE["rome_2p_nps4_socket_rr"]
    topology = topo.collect(gen.MemoryReader.for_spec(spec, full=False), None)
    l3, dummy = gpu.slurm_core_ids(topology, l3_as_socket=True)
    naive = {}
    n = 0
    cores = [parse_cpulist(c) for c in topology["cores"]]
    for dom in sorted(topology["l3_domains"], key=lambda d: min(parse_cpulist(d["cpus"]))):
        members = set(parse_cpulist(dom["cpus"]))
        for core in sorted((c for c in cores if c[0] in members), key=lambda c: c[0]):
            for cpu in core:
                naive[cpu] = n
            n += 1
    assert naive != l3
    assert l3 == _model_core_ids(spec)


def test_gres_cores_on_a_round_robin_machine():
    """Socket-interleaved CPU numbering: a GPU on node 1 (socket 0) gets socket 0's second quadrant."""
    spec = gen.make_spec(gen.CATALOGUE["rome_2p_nps4_socket_rr"], name="rr_gpu", pci_devices=[
        gen.pci_device("0000:25:00.0", 0x10DE, 0x20B2, 0x030200, "gpu", numa_node=1, driver="nvidia"),
        gen.pci_device("0000:c5:00.0", 0x10DE, 0x20B2, 0x030200, "gpu", numa_node=6, driver="nvidia"),
    ])
    fact, dummy = _facts(spec)
    cores = [_line(t)["Cores"] for t in fact["slurm"]["conf_lines"]]
    assert cores == [gen.expected_slurm_cores(spec, 1), gen.expected_slurm_cores(spec, 6)]
    assert cores == ["16-31", "96-111"]
    assert fact["gpus"][0]["local_cpus"] != "16-31"  # OS ids interleave, abstract ids do not


def test_gres_without_topology_or_with_an_unusable_one():
    reader = _reader("hgx_h100_genoa_2p_nps1")
    gpus = gpu.scan_gpus(reader)
    assert all(g["l3_domains"] == [] for g in gpus)
    assert gpu.gres_conf_lines(gpus) == ["Name=gpu Type=h100 File=/dev/nvidia%d" % i for i in range(8)]
    warnings = []
    lines = gpu.gres_conf_lines(gpus, {"cpus_online": "0-383"}, warnings=warnings)
    assert all("Cores" not in line for line in lines)
    assert len(warnings) == 1 and "cannot be numbered" in warnings[0]


def test_restricted_topology_numbers_cores_on_the_host(disk_base):
    """gather(): a container cpuset restricts the topology fact, not slurmd's numbering."""
    base = gen.CATALOGUE["mi300x_genoa_2p_nps4"]
    spec = gen.make_spec(base, name="mi_container", cpuset="0-7,192-199")
    root = gen.build_tree(os.path.join(disk_base, "mi_container"), spec, full=False)
    fact = gpu.gather(root)
    cores = [_line(t)["Cores"] for t in fact["slurm"]["conf_lines"]]
    assert cores == [gen.expected_slurm_cores(base, n) for n in (0, 3, 4, 7)]
    restricted = topo.gather(root)
    assert restricted["restricted"] is True
    # l3_domains refer to the (restricted) cpu_topology fact: only L3 0 has usable CPUs
    assert restricted["counts"]["l3_domains"] == 1
    assert fact["gpus"][0]["l3_domains"] == [0] and fact["gpus"][1]["l3_domains"] == []


# --------------------------------------------------------------------------
# Disk, no PCI, broken trees
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["hgx_h100_genoa_2p_nps1", "mi300x_genoa_2p_nps4", "gpu_quirks_milan_2p"])
def test_disk_tree_matches_memory(name, disk_base):
    root = gen.build_tree(os.path.join(disk_base, name), gen.CATALOGUE[name], full=False)
    assert gpu.gather(root) == _facts(name)[0]


def test_no_pci_bus_gives_no_gpus(disk_base):
    spec = gen.make_spec(gen.MILAN, name="nopci", ccx_per_socket=2, extra_files=dict(gen.NVML_FILES),
                         extra_links=dict(gen.NVML_LINKS))
    root = gen.build_tree(os.path.join(disk_base, "nopci"), spec, full=False)
    fact = gpu.gather(root)
    assert fact["gpus"] == [] and fact["nvswitches"] == [] and fact["vfs"] == []
    assert fact["counts"] == {"gpus": 0, "nvswitches": 0} and fact["vendors"] == []
    assert fact["slurm"] == {"gres": "", "conf_lines": [], "conf_lines_l3_as_socket": [], "autodetect": "off"}
    assert fact["pci_sysfs"] is False and fact["nvml"] is True and fact["warnings"] == []
    # not even a CPU tree: still no failure
    empty = os.path.join(disk_base, "empty_root")
    os.makedirs(empty)
    assert gpu.gather(empty)["gpus"] == []


def test_pci_without_cpu_tree_warns(disk_base):
    root = gen.build_tree(os.path.join(disk_base, "nocpu"), gen.CATALOGUE["l40s_milan_1p"], full=False)
    shutil.rmtree(os.path.join(root, "sys/devices/system/cpu"))
    fact = gpu.gather(root)
    assert fact["counts"]["gpus"] == 1
    assert fact["gpus"][0]["l3_domains"] == []
    assert fact["slurm"]["conf_lines"] == ["Name=gpu Type=l40s File=/dev/nvidia0"]
    assert len(fact["warnings"]) == 1 and "CPU topology unreadable" in fact["warnings"][0]


def test_missing_root_raises_topology_error(tmp_path):
    with pytest.raises(topo.TopologyError):
        gpu.gather(str(tmp_path / "nope"))


def test_broken_trees_never_raise():
    files, dirs, links = gen.render_tree(gen.CATALOGUE["gpu_quirks_milan_2p"], full=False)
    rng = random.Random(7)
    gpu_files = sorted(rel for rel in files if rel.startswith("sys/devices/pci") or rel.startswith("proc/driver"))
    for dummy in range(30):
        kept = dict(files)
        for rel in rng.sample(gpu_files, len(gpu_files) // 3):
            del kept[rel]
        for rel in rng.sample(sorted(kept), 5):
            kept[rel] = rng.choice(["", "garbage\n", "-1\n", "0xzz\n"])
        reader = gen.MemoryReader(kept, dirs, links=links)
        fact = gpu.collect_facts(reader, topo.collect(gen.MemoryReader(files, dirs, links=links), None))
        assert sorted(fact) == sorted(FACT_KEYS)
        for g in fact["gpus"]:
            assert sorted(g) == sorted(GPU_KEYS)


# --------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------


def test_model_table_is_well_formed():
    for (vendor, device), (model, gres_type) in gpu.MODELS.items():
        assert vendor in gpu.VENDORS
        assert len(device) == 6 and device.startswith("0x") and device == device.lower()
        assert model and gres_type
        assert all(c.islower() or c.isdigit() or c == "_" for c in gres_type), gres_type
    types = set(t for m, t in gpu.MODELS.values())
    for wanted in ("a100", "h100", "h200", "b200", "l40s", "l4", "a10", "a30", "v100", "t4",
                   "mi210", "mi250x", "mi300x", "mi300a", "mi325x"):
        assert wanted in types


def test_model_of():
    assert gpu.model_of("0x10de", "0x2330") == ("H100 SXM5 80GB", "h100")
    assert gpu.model_of("0x10DE", "0x2331") == ("H100 PCIe", "h100")
    assert gpu.model_of("0x1002", "0x74a1") == ("Instinct MI300X", "mi300x")
    assert gpu.model_of("0x10de", "0x9999") == (None, "nvidia_9999")
    assert gpu.model_of("0x8086", "0x0bd5") == ("Data Center GPU Max 1550", "max_1550")
    assert gpu.model_of("0x1234", "0x0001") == (None, "pci1234_0001")
    assert gpu.model_of(None, None) == (None, "pci_unknown")


def test_parse_device_minor():
    text = ("Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 140\nBus Location: \t 0000:19:00.0\n"
            "Device Minor: \t 5\nGPU Excluded:\t No\n")
    assert gpu.parse_device_minor(text) == 5
    assert gpu.parse_device_minor("Device Minor: \t x\n") is None
    assert gpu.parse_device_minor(None) is None


def test_find_library_follows_links():
    files = {"usr/lib64/libnvidia-ml.so.570.1": "x", "opt/rocm-6.4.0/lib/librocm_smi64.so.7.5": "x"}
    links = {
        "usr/lib64/libnvidia-ml.so.1": "libnvidia-ml.so.570.1",
        "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1": "/usr/lib/x86_64-linux-gnu/gone.so",  # dangling, absolute
        "opt/rocm": "rocm-6.4.0",
    }
    reader = gen.MemoryReader(files, links=links)
    assert gpu.find_library(reader, "libnvidia-ml.so.1") == "usr/lib64/libnvidia-ml.so.1"
    assert gpu.find_library(reader, "libnvidia-ml.so.1", ("usr/lib/x86_64-linux-gnu",)) is None
    assert gpu.find_library(reader, "librocm_smi64.so", gpu.ROCM_LIB_DIRS, prefix=True) == \
        "opt/rocm/lib/librocm_smi64.so.7.5"
    assert gpu.find_library(reader, "librocm_smi64.so", gpu.LIB_DIRS, prefix=True) is None
    looping = gen.MemoryReader({}, links={"usr/lib/libnvidia-ml.so.1": "libnvidia-ml.so.1"})
    assert gpu.find_library(looping, "libnvidia-ml.so.1") is None


def test_autodetect_and_node_gres():
    nv = {"vendor": "nvidia", "gres_type": "h100", "device_file": "/dev/nvidia0"}
    amd = {"vendor": "amd", "gres_type": "mi300x", "device_file": "/dev/dri/renderD128"}
    assert gpu.autodetect([nv], True, False) == "nvml"
    assert gpu.autodetect([nv], False, True) == "off"
    assert gpu.autodetect([amd], True, True) == "rsmi"
    assert gpu.autodetect([nv, amd], True, True) == "off"
    assert gpu.autodetect([], True, True) == "off"
    t4 = dict(nv, gres_type="t4")
    a100 = dict(nv, gres_type="a100")
    assert gpu.node_gres([t4, a100, a100]) == "gpu:a100:2,gpu:t4:1"
    assert gpu.node_gres([]) == ""


def test_module_utils_gpu_does_not_import_ansible():
    with open(gpu.__file__) as handle:
        text = handle.read()
    assert "from ansible." not in text and "import ansible\n" not in text


def test_scan_gpus_takes_a_root_path(tmp_path):
    root = gen.build_tree(str(tmp_path / "root"), gen.make_spec(gen.MILAN, ccx_per_socket=1, pci_devices=[
        gen.pci_device("0000:41:00.0", 0x10DE, 0x27B8, 0x030200, "gpu", numa_node=0, driver="nvidia")]), full=False)
    gpus = gpu.scan_gpus(root)
    assert [(g["model"], g["gres_type"], g["device_file"]) for g in gpus] == [("L4", "l4", "/dev/nvidia0")]
