"""The topology map renders every catalogue topology and places every CPU-bearing piece."""
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
