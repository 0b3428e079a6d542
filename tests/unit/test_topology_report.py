"""The topology map renders every catalogue topology and places every CPU-bearing piece."""
import json
import os
import shutil
import tempfile

import pytest
import sysfs_gen as gen

from ansible_collections.hpcai.cluster.plugins.module_utils.topology_report import main, render_map


@pytest.mark.parametrize("name", gen.catalogue())
def test_every_catalogue_topology_renders_completely(name):
    topo = gen.expected(gen.CATALOGUE[name])
    text = render_map(topo, title="node01")
    lines = text.splitlines()
    assert lines[0].startswith("node01: ")
    # every socket, NUMA node and L3 domain appears exactly once with its CPU list
    for sock in topo["sockets"]:
        assert sum(1 for ln in lines if ln.startswith("socket %d  cpus %s " % (sock["id"], sock["cpus"]))) == 1
    for node in topo["numa_nodes"]:
        hits = [ln for ln in lines if ln.lstrip().startswith("numa %d " % node["id"])]
        assert len(hits) == 1, (node, text)
        if not node["cpus"]:
            assert "memory-only" in hits[0]
    for dom in topo["l3_domains"]:
        hits = [ln for ln in lines if ln.lstrip().startswith("L3 %d  cpus %s " % (dom["index"], dom["cpus"]))]
        assert len(hits) == 1, (dom, text)
    if topo["counts"]["l3_domains"] == 0:
        assert "0 L3 domains" in text
    assert "slurm (L3 as socket): " in text


def test_epyc_nps4_layout_nests_l3_under_its_numa_node():
    topo = gen.expected(gen.CATALOGUE["genoa_2p_nps4_smt"])
    lines = render_map(topo).splitlines()
    current_node = None
    for ln in lines:
        if ln.startswith("  numa "):
            current_node = int(ln.split()[1])
        elif ln.startswith("    L3 "):
            index = int(ln.split()[1])
            dom = [d for d in topo["l3_domains"] if d["index"] == index][0]
            assert dom["numa_nodes"][0] == current_node


def test_devices_attach_to_their_numa_node_and_unknown_affinity_is_said():
    topo = gen.expected(gen.CATALOGUE["genoa_2p_nps4_gpu_hbm"])
    devices = [{"kind": "gpu", "name": "H100", "address": "0000:41:00.0", "numa_node": 1},
               {"kind": "nic", "name": "mlx5_0", "numa_node": -1}]
    text = render_map(topo, devices=devices)
    lines = text.splitlines()
    node1 = [i for i, ln in enumerate(lines) if ln.startswith("  numa 1 ")][0]
    after = lines[node1 + 1:]
    nxt = [i for i, ln in enumerate(after) if ln.startswith("  numa ") or ln.startswith("socket ")]
    block = after[:nxt[0]] if nxt else after
    assert any("gpu H100 (0000:41:00.0)" in ln for ln in block)
    assert "nic mlx5_0  (no NUMA affinity reported)" in text


def test_cli_reads_a_synthetic_root(tmp_path, capsys):
    root = gen.build_tree(str(tmp_path), gen.CATALOGUE["rome_1p_nps4_smt"])
    assert main([root]) == 0
    out = capsys.readouterr().out
    assert "4 NUMA node(s)" in out and "16 L3 domain(s)" in out


def test_cli_reports_a_broken_root(tmp_path, capsys):
    assert main([str(tmp_path)]) == 1
    assert "topology:" in capsys.readouterr().err


# --------------------------------------------------------------------------
# Devices (PCI scanner output)
# --------------------------------------------------------------------------

PCI_SPECS = sorted(n for n in gen.catalogue() if gen.CATALOGUE[n]["pci_devices"] is not None)


def _blocks(text):
    """{numa node id: [lines under it]} for the socket tree, plus "tail" for lines after it."""
    blocks = {"tail": []}
    current = None
    for ln in text.splitlines()[1:]:
        if ln.startswith("  numa "):
            current = int(ln.split()[1])
            blocks[current] = []
        elif ln.startswith("socket "):
            current = None
        elif ln.startswith("    ") and current is not None:
            blocks[current].append(ln.strip())
        elif not ln.startswith(" "):
            current = None
            blocks["tail"].append(ln)
    return blocks


@pytest.mark.parametrize("name", PCI_SPECS)
def test_every_pci_device_is_shown_once_in_the_right_place(name):
    spec = gen.CATALOGUE[name]
    topo = gen.expected(spec)
    devices = gen.expected_pci(spec)
    text = render_map(topo, devices=devices)
    blocks = _blocks(text)
    for dev in devices:
        hits = [ln for ln in text.splitlines()
                if "(%s)" % dev["address"] in ln or ln.split()[1:2] == [dev["address"]]]
        assert len(hits) == 1, (dev["address"], text)
        where = dev["numa_node"]
        if where is None:
            assert hits[0] in blocks["tail"] and hits[0].endswith("(no NUMA affinity reported)")
        else:
            assert hits[0].strip() in blocks[where], (dev["address"], where)
        assert hits[0].lstrip().startswith(dev["kind"] + " ")
    if devices:
        assert text.splitlines()[1].startswith("devices: ")
    else:
        assert "devices:" not in text


def test_device_line_details():
    topo = gen.expected(gen.CATALOGUE["milan_2p_roce_sriov"])
    devices = gen.expected_pci(gen.CATALOGUE["milan_2p_roce_sriov"])
    text = render_map(topo, devices=devices)
    assert "    nic ens1f0np0,mlx5_0 (0000:41:00.0) Mellanox 15b3:101d RoCE\n" in text
    assert "    nic ens1f0v0,mlx5_2 (0000:41:00.2) Mellanox 15b3:101e RoCE VF of 0000:41:00.0\n" in text
    assert "    ib mlx5_4,ibp193s0 (0000:c1:00.0) Mellanox 15b3:101b\n" in text
    assert "devices: 1 ib, 4 nic" in text
    # local cpus equal to the node's CPUs are not repeated; different ones are shown
    assert "local cpus" not in text
    odd = dict(devices[0], local_cpus="0-7")
    assert "RoCE local cpus 0-7" in render_map(topo, devices=[odd])


def test_device_without_names_or_on_an_unknown_node():
    topo = gen.expected(gen.CATALOGUE["milan_2p_nps1_smt"])
    devices = [
        {"kind": "nvswitch", "address": "0000:0c:00.0", "vendor": "0x10de", "device": "0x22a3", "numa_node": 0, "names": []},
        {"kind": "gpu", "address": "0000:41:00.0", "numa_node": 9, "names": ["card1"]},
        {"kind": "gpu", "address": "0000:42:00.0", "numa_node": None, "names": ["card2"], "local_cpus": "0-255"},
    ]
    text = render_map(topo, devices=devices)
    assert "    nvswitch 0000:0c:00.0 NVIDIA 10de:22a3\n" in text
    assert "gpu card1 (0000:41:00.0)  (NUMA node 9 is not in the topology)" in text
    # no affinity: all online CPUs as local CPUs is not worth repeating
    assert "gpu card2 (0000:42:00.0)  (no NUMA affinity reported)" in text


def test_cli_on_hgx_tree_places_gpus_and_nics_under_their_numa_nodes(capsys):
    spec = gen.CATALOGUE["hgx_h100_genoa_2p_nps4"]
    base = tempfile.mkdtemp(prefix="hpcai-map-", dir=gen.fast_tmp_base())
    try:
        root = gen.build_tree(os.path.join(base, "hgx"), spec, full=False)
        assert main([root]) == 0
        out = capsys.readouterr().out
        assert main(["--no-devices", root]) == 0
        plain = capsys.readouterr().out
    finally:
        shutil.rmtree(base, ignore_errors=True)
    blocks = _blocks(out)
    assert "devices: 8 gpu, 4 nvswitch, 8 ib, 2 nic" in out
    for node in range(8):
        gpus = [ln for ln in blocks[node] if ln.startswith("gpu ")]
        ibs = [ln for ln in blocks[node] if ln.startswith("ib ")]
        assert gpus == ["gpu card%d (0000:%02x:00.0) NVIDIA 10de:2330" % (node + 1, node * 0x20 + 8)], out
        assert ibs == ["ib mlx5_%d,ibp%ds0 (0000:%02x:00.0) Mellanox 15b3:1021" % (node, node * 0x20 + 6, node * 0x20 + 6)]
    assert len([ln for ln in blocks[0] if ln.startswith("nvswitch ")]) == 4
    assert [ln.split()[1] for ln in blocks[2] if ln.startswith("nic ")] == ["ens41f0np0,mlx5_8", "ens41f1np1,mlx5_9"]
    # the BMC VGA and the NVMe are not devices of the map
    assert "1a03" not in out and "144d" not in out
    assert "devices:" not in plain and "gpu " not in plain and "NVIDIA" not in plain
    assert plain.splitlines()[0] == out.splitlines()[0]


def test_cli_reads_devices_from_json(tmp_path, capsys):
    spec = gen.CATALOGUE["workstation_milan_1p_pcie_gpu"]
    path = tmp_path / "facts.json"
    path.write_text(json.dumps({"ansible_facts": {"hpcai_cpu_topology": gen.expected(spec),
                                                  "hpcai_pci_devices": gen.expected_pci(spec)}}))
    assert main(["--title", "ws1", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ws1: ")
    assert "gpu card0 (0000:01:00.0) NVIDIA 10de:26b1  (no NUMA affinity reported)" in out
    assert "nic enp5s0 (0000:05:00.0) Intel 8086:1533  (no NUMA affinity reported)" in out
    assert main(["--no-devices", str(path)]) == 0
    assert "gpu " not in capsys.readouterr().out
    # a bare cpu_topology fact (no devices) still works
    path.write_text(json.dumps(gen.expected(spec)))
    assert main([str(path)]) == 0
    assert "2 L3 domain(s)" in capsys.readouterr().out


def test_cli_bad_json(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    assert main([str(path)]) == 1
    assert "topology: " in capsys.readouterr().err
