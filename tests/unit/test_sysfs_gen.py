# -*- coding: utf-8 -*-
"""Self-tests for the synthetic sysfs generator (tests/sysfs_gen.py).

These check that generated trees look like real Linux trees, independently of
the parser under test.
"""

from __future__ import absolute_import, division, print_function

import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sysfs_gen as gen  # noqa: E402

CPU = "sys/devices/system/cpu/"
NODE = "sys/devices/system/node/"


def _ids(text):
    return gen._parse_list(text.strip())


def _mask_ids(text):
    value = int(text.strip().replace(",", ""), 16)
    out = []
    bit = 0
    while value:
        if value & 1:
            out.append(bit)
        value >>= 1
        bit += 1
    return out


def test_catalogue_covers_platform_matrix():
    names = set(gen.catalogue())
    for plat in ("rome", "milan", "genoa", "bergamo", "turin", "turin_dense"):
        for sockets in (1, 2):
            for nps in (1, 2, 4):
                for smt in ("smt", "nosmt"):
                    assert "%s_%dp_nps%d_%s" % (plat, sockets, nps, smt) in names
    for extra in ("naples_1p_smt", "naples_2p_nosmt", "siena_1p_nps4_smt", gen.PERF_SPEC):
        assert extra in names
    assert len(names) >= 100


def test_smt_siblings_are_n_and_n_plus_total_cores():
    files = gen.render(gen.CATALOGUE["genoa_2p_nps1_smt"])[0]
    assert files[CPU + "cpu0/topology/core_cpus_list"] == "0,192\n"
    assert files[CPU + "cpu191/topology/core_cpus_list"] == "191,383\n"
    assert files[CPU + "cpu200/topology/thread_siblings_list"] == "8,200\n"


def test_nps4_two_sockets_node_numbering():
    files = gen.render(gen.CATALOGUE["rome_2p_nps4_smt"])[0]
    assert files[NODE + "node0/cpulist"] == "0-15,128-143\n"
    assert files[NODE + "node4/cpulist"] == "64-79,192-207\n"
    assert files[NODE + "node4/distance"] == "32 32 32 32 10 12 12 12\n"
    for nid in range(4):
        cpus = _ids(files[NODE + "node%d/cpulist" % nid])
        pkgs = set(files[CPU + "cpu%d/topology/physical_package_id" % c] for c in cpus)
        assert pkgs == {"0\n"}
    rr = gen.render(gen.CATALOGUE["rome_2p_nps4_socket_rr"])[0]
    assert rr[NODE + "node4/cpulist"].startswith("1,3,5,")


def test_masks_match_lists_everywhere():
    files = gen.render(gen.CATALOGUE["intel_spr_2p_snc2"])[0]
    nbits = len(_ids(files[CPU + "possible"]))
    pairs = 0
    for rel, text in files.items():
        if rel.endswith("_list") or rel.endswith("/cpulist"):
            mask_rel = rel[:-5] if rel.endswith("_list") else rel[: -len("cpulist")] + "cpumap"
            if rel.endswith("shared_cpu_list"):
                mask_rel = rel.replace("shared_cpu_list", "shared_cpu_map")
            if mask_rel in files:
                assert _mask_ids(files[mask_rel]) == _ids(text), rel
                words = files[mask_rel].strip().split(",")
                assert len(words) == (nbits + 31) // 32
                pairs += 1
    assert pairs > 1000


def test_offline_cpus_have_no_topology_or_cache():
    files = gen.render(gen.CATALOGUE["milan_2p_offline"])[0]
    assert files[CPU + "cpu130/online"] == "0\n"
    assert not any(rel.startswith(CPU + "cpu130/topology/") for rel in files)
    assert not any(rel.startswith(CPU + "cpu130/cache/") for rel in files)
    assert files[CPU + "cpu2/topology/core_cpus_list"] == "2\n"  # sibling 130 is offline
    assert "130" not in files[CPU + "cpu0/cache/index3/shared_cpu_list"]
    assert CPU + "cpu0/online" not in files
    assert _ids(files[CPU + "offline"]) == sorted([5, 130, 133] + list(range(64, 72)) + list(range(192, 200)))
    assert "130" not in files[NODE + "node0/cpulist"].split(",")


def test_kernel_nosmt_and_bios_nosmt():
    kern = gen.render(gen.CATALOGUE["rome_2p_nosmt_kernel"])[0]
    assert kern[CPU + "present"] == "0-255\n" and kern[CPU + "online"] == "0-127\n"
    assert kern[CPU + "smt/control"] == "off\n"
    bios = gen.render(gen.CATALOGUE["rome_2p_nps1_nosmt"])[0]
    assert bios[CPU + "present"] == "0-127\n" and bios[CPU + "offline"] == "\n"


def test_old_kernel_variant():
    files = gen.render(gen.CATALOGUE["rome_2p_old_kernel"])[0]
    assert CPU + "cpu0/topology/thread_siblings_list" in files
    for missing in ("topology/core_cpus_list", "topology/die_id", "topology/cluster_cpus_list", "cache/index3/id"):
        assert CPU + "cpu0/" + missing not in files
    assert CPU + "smt/control" not in files


def test_cache_levels_and_types():
    files = gen.render(gen.CATALOGUE["milan_1p_nps1_smt"])[0]
    levels = [(files[CPU + "cpu0/cache/index%d/level" % i], files[CPU + "cpu0/cache/index%d/type" % i]) for i in range(4)]
    assert levels == [("1\n", "Data\n"), ("1\n", "Instruction\n"), ("2\n", "Unified\n"), ("3\n", "Unified\n")]
    assert files[CPU + "cpu0/cache/index3/size"] == "32768K\n"
    assert files[CPU + "cpu9/cache/index3/id"] == "1\n"
    arm = gen.render(gen.CATALOGUE["arm_altra_q80_no_l3"])[0]
    assert CPU + "cpu0/cache/index3/level" not in arm
    assert arm[CPU + "cpu0/topology/cluster_cpus_list"] == "0-1\n"


def test_cpuinfo_blocks():
    spec = gen.CATALOGUE["milan_2p_offline"]
    text = gen.render(spec)[0]["proc/cpuinfo"]
    blocks = [b for b in text.split("\n\n") if b.strip()]
    assert len(blocks) == len(gen.model(spec)["online"])
    first = dict(
        (k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in blocks[0].splitlines())
    )
    assert first["vendor_id"] == "AuthenticAMD"
    assert first["cpu family"] == "25" and first["model"] == "1"
    assert first["physical id"] == "0"
    arm = gen.render(gen.CATALOGUE["arm_altra_q80_no_l3"])[0]["proc/cpuinfo"]
    assert "CPU implementer\t: 0x41" in arm and "vendor_id" not in arm and "model name" not in arm


def test_meminfo_totals_add_up():
    files = gen.render(gen.CATALOGUE["genoa_2p_cxl"])[0]
    total = int(re.search(r"MemTotal:\s+(\d+)", files["proc/meminfo"]).group(1))
    nodes = sum(
        int(re.search(r"MemTotal:\s+(\d+)", files[NODE + "node%d/meminfo" % n]).group(1)) for n in range(3)
    )
    assert total == nodes
    assert files[NODE + "has_cpu"] == "0-1\n"
    assert files[NODE + "has_memory"] == "0-2\n"
    assert files[NODE + "node2/cpulist"] == "\n"


def test_sparse_and_possible_nodes():
    files = gen.render(gen.CATALOGUE["rome_1p_nps4_sparse_nodes"])[0]
    assert files[NODE + "online"] == "0,2,5,7\n"
    assert NODE + "node1/cpulist" not in files
    gh = gen.render(gen.CATALOGUE["arm_grace_hopper_like"])[0]
    assert gh[NODE + "online"] == "0-1\n" and gh[NODE + "possible"] == "0-9\n"


def test_container_cpuset_files():
    v2 = gen.render(gen.CATALOGUE["genoa_2p_container_v2"])[0]
    assert v2["sys/fs/cgroup/cpuset.cpus.effective"] == "8-15,200-207\n"
    v1 = gen.render(gen.CATALOGUE["milan_2p_container_v1"])[0]
    assert "sys/fs/cgroup/cpuset/cpuset.effective_cpus" in v1


def test_low_core_sku_core_id_gaps():
    files = gen.render(gen.CATALOGUE["milan_73f3_2p"])[0]
    core_ids = sorted(set(int(files[CPU + "cpu%d/topology/core_id" % c]) for c in range(16)))
    assert core_ids == [0, 1, 8, 9, 16, 17, 24, 25, 32, 33, 40, 41, 48, 49, 56, 57]


def test_expected_is_self_consistent():
    for name in gen.catalogue():
        exp = gen.expected(gen.CATALOGUE[name])
        counts = exp["counts"]
        assert counts["cores"] == sum(s["cores"] for s in exp["sockets"]), name
        assert counts["l3_domains"] == len(exp["l3_domains"]), name
        assert exp["slurm"]["CPUs"] == counts["cpus_online"], name


def test_full_and_minimal_trees(tmp_path):
    spec = gen.make_spec(gen.MILAN, name="small", ccx_per_socket=2, nps="l3")
    full = gen.render(spec, full=True)[0]
    small = gen.render(spec, full=False)[0]
    assert set(small) < set(full)
    for rel in ("topology/core_cpus_list", "topology/die_id", "cache/index3/shared_cpu_map", "cache/index3/id"):
        assert CPU + "cpu0/" + rel in small
    root = gen.build_tree(tmp_path, spec, full=False)
    for rel, text in small.items():
        with open(os.path.join(root, rel)) as handle:
            assert handle.read() == text


def test_memory_reader_matches_disk(tmp_path):
    from ansible_collections.hpcai.cluster.plugins.module_utils.topology import SysfsReader

    spec = gen.make_spec(gen.MILAN, name="small", sockets=2, ccx_per_socket=2, offline=[5, 40])
    root = gen.build_tree(tmp_path, spec, full=False)
    disk = SysfsReader(root)
    mem = gen.MemoryReader.for_spec(spec, full=False)
    for rel in ("sys/devices/system/cpu", "sys/devices/system/node", CPU + "cpu0/cache", CPU + "cpu5", "nope", CPU + "online"):
        got = disk.listdir(rel)
        assert (sorted(got) if got is not None else None) == mem.listdir(rel), rel
        assert disk.isdir(rel) == mem.isdir(rel), rel
    assert disk.read(CPU + "online") == mem.read(CPU + "online")
    assert disk.read("missing") is None and mem.read("missing") is None
    assert disk.read_head("proc/cpuinfo", 1000) == mem.read_head("proc/cpuinfo", 1000)


def test_bad_spec_is_rejected():
    with pytest.raises(ValueError):
        gen.model(gen.make_spec(gen.MILAN, core_slots_per_ccx=4, cores_per_ccx=8))


# --------------------------------------------------------------------------
# PCI devices
# --------------------------------------------------------------------------

PCI = "sys/bus/pci/devices/"


def test_specs_without_pci_devices_render_as_before():
    files, dirs, links = gen.render_tree(gen.CATALOGUE["milan_2p_nps4_smt"])
    assert links == {}
    assert not any(rel.startswith("sys/bus") or rel.startswith("sys/class") for rel in list(files) + list(dirs))
    assert gen.render(gen.CATALOGUE["milan_2p_nps4_smt"]) == (files, dirs)
    assert gen.expected_pci(gen.CATALOGUE["milan_2p_nps4_smt"]) == []


def test_pci_tree_layout_like_linux(tmp_path):
    spec = gen.CATALOGUE["milan_2p_roce_sriov"]
    root = gen.build_tree(tmp_path, spec, full=False)
    real = os.path.realpath
    dev = os.path.join(root, PCI, "0000:41:00.0")
    assert os.path.islink(dev)
    assert os.readlink(dev) == "../../../devices/pci0000:40/0000:40:01.0/0000:41:00.0"
    with open(os.path.join(dev, "class")) as handle:
        assert handle.read() == "0x020000\n"
    with open(os.path.join(dev, "local_cpulist")) as handle:
        node0 = handle.read()
    with open(os.path.join(root, NODE, "node0/cpulist")) as handle:
        assert node0 == handle.read()
    with open(os.path.join(dev, "local_cpus")) as handle:
        assert _mask_ids(handle.read()) == _ids(node0)
    # root port and host bridge are PCI devices too
    assert os.path.isdir(os.path.join(root, PCI, "0000:40:01.0"))
    assert os.path.isdir(os.path.join(root, PCI, "0000:40:00.0"))
    # class links resolve to the interface below the device, whose device link points back
    net = os.path.join(root, "sys/class/net/ens1f0np0")
    assert real(net) == real(os.path.join(dev, "net/ens1f0np0"))
    assert real(os.path.join(net, "device")) == real(dev)
    assert real(os.path.join(root, "sys/class/infiniband/mlx5_0/device")) == real(dev)
    assert os.readlink(os.path.join(root, "sys/class/net/lo")) == "../../devices/virtual/net/lo"
    # SR-IOV links both ways
    vf = os.path.join(root, PCI, "0000:41:00.2")
    assert real(os.path.join(vf, "physfn")) == real(dev)
    assert real(os.path.join(dev, "virtfn0")) == real(vf)
    with open(os.path.join(dev, "sriov_numvfs")) as handle:
        assert handle.read() == "2\n"
    assert os.path.basename(os.readlink(os.path.join(dev, "driver"))) == "mlx5_core"
    with open(os.path.join(root, "sys/class/infiniband/mlx5_4/ports/1/link_layer")) as handle:
        assert handle.read() == "InfiniBand\n"


def test_pci_numa_minus_one_and_gpu_drm(tmp_path):
    spec = gen.CATALOGUE["workstation_milan_1p_pcie_gpu"]
    files, dirs, links = gen.render_tree(spec)
    gpu_dir = "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/"
    assert files[gpu_dir + "numa_node"] == "-1\n"
    assert files[gpu_dir + "local_cpulist"] == files[CPU + "online"]
    assert files[gpu_dir + "drm/card0/dev"] == "226:0\n" and files[gpu_dir + "drm/renderD128/dev"] == "226:128\n"
    assert links["sys/class/drm/card0"] == "../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/drm/card0"


def test_memory_reader_follows_links_like_disk(tmp_path):
    from ansible_collections.hpcai.cluster.plugins.module_utils.topology import SysfsReader

    spec = gen.CATALOGUE["milan_2p_roce_sriov"]
    root = gen.build_tree(tmp_path, spec, full=False)
    disk = SysfsReader(root)
    mem = gen.MemoryReader.for_spec(spec, full=False)
    os.symlink("../../../devices/nowhere", os.path.join(root, PCI, "0000:99:00.0"))
    mem.links[PCI + "0000:99:00.0"] = "../../../devices/nowhere"
    mem._dirs["sys/bus/pci/devices"].add("0000:99:00.0")
    for rel in (
        "sys/bus/pci/devices", PCI + "0000:41:00.0", PCI + "0000:41:00.0/net", PCI + "0000:41:00.2/physfn",
        "sys/class/net", "sys/class/net/ens1f0np0", "sys/class/net/ens1f0np0/device", PCI + "0000:99:00.0",
        "sys/class/infiniband/mlx5_0/ports/1", PCI + "0000:41:00.0/class", "sys/class/net/lo/device",
    ):
        got = disk.listdir(rel)
        assert (sorted(got) if got is not None else None) == mem.listdir(rel), rel
        assert disk.isdir(rel) == mem.isdir(rel), rel
        assert disk.exists(rel) == mem.exists(rel), rel
        assert disk.readlink(rel) == mem.readlink(rel), rel
    for rel in (PCI + "0000:41:00.0/class", PCI + "0000:41:00.3/physfn/vendor", "sys/class/net/ens1f0v0/device/numa_node",
                PCI + "0000:99:00.0/class", "sys/class/infiniband/mlx5_4/ports/1/state"):
        assert disk.read(rel) == mem.read(rel), rel


def test_bad_pci_specs_are_rejected():
    dev = gen.pci_device("0000:41:00.0", 0x10DE, 0x2330, 0x030200, "gpu")
    with pytest.raises(ValueError):
        gen.render(gen.make_spec(gen.MILAN, pci_devices=[dev, dev]))
    with pytest.raises(ValueError):
        gen.render(gen.make_spec(gen.MILAN, pci_devices=[dict(dev, physfn="0000:42:00.0")]))
    with pytest.raises(ValueError):
        gen.pci_device("0000:41:00.0", 0x10DE, 0x2330, 0x030200, "gpu", colour="green")


# --------------------------------------------------------------------------
# GPU nodes
# --------------------------------------------------------------------------


def test_gpu_nodes_render_driver_procfs_and_libraries(tmp_path):
    spec = gen.CATALOGUE["hgx_h100_genoa_2p_nps1"]
    files, dirs, links = gen.render_tree(spec, full=False)
    info = files["proc/driver/nvidia/gpus/0000:a5:00.0/information"]
    assert "Bus Location: \t 0000:a5:00.0\n" in info and "Device Minor: \t 5\n" in info
    assert sum(rel.startswith("proc/driver/nvidia/gpus/") for rel in files) == 8
    assert links["usr/lib64/libnvidia-ml.so.1"] == "libnvidia-ml.so.570.133.20"
    root = gen.build_tree(tmp_path, gen.CATALOGUE["mi300x_genoa_2p_nps4"], full=False)
    lib = os.path.join(root, "opt/rocm/lib/librocm_smi64.so.7")
    assert os.path.islink(lib) and os.path.isfile(os.path.realpath(lib))
    assert os.path.realpath(lib).startswith(os.path.realpath(os.path.join(root, "opt/rocm-6.4.0")))
    # the MI300X render nodes follow the DRM cards
    gpu_dir = os.path.join(root, PCI, "0000:65:00.0")
    assert sorted(os.listdir(os.path.join(gpu_dir, "drm"))) == ["card2", "renderD130"]


def test_expected_slurm_cores_and_l3_domains_by_hand():
    hgx = gen.CATALOGUE["hgx_h100_genoa_2p_nps1"]  # 2 x 96 cores, NPS1
    assert gen.expected_slurm_cores(hgx, 0) == "0-95" and gen.expected_slurm_cores(hgx, 1) == "96-191"
    assert gen.expected_l3_domains(hgx, 1) == list(range(12, 24))
    assert gen.expected_l3_domains(hgx, -1) == list(range(24))
    rr = gen.CATALOGUE["rome_2p_nps4_socket_rr"]  # 2 x 64 cores, 16 per node, CPU ids interleave sockets
    assert gen.expected_slurm_cores(rr, 5) == "80-95"
    assert gen.expected_l3_domains(gen.CATALOGUE["arm_altra_q80_no_l3"], 0) == []
