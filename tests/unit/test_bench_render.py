# -*- coding: utf-8 -*-
"""bench/render.py (issue 11): the hostlist and slurm_render sections at small sizes, N=1.

The figures are `make bench`'s business; these tests check the row shape and
that the sections' own checks catch a broken codec, filter or template input.
"""

from __future__ import absolute_import, division, print_function

import importlib.util
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(REPO, "bench")
ROW_KEYS = {"section", "case", "metric", "unit", "runs", "median", "min", "max", "samples", "target", "ok", "judged_on",
            "cpu_median", "cpu_min", "cpu_max", "cpu_samples", "kind"}


@pytest.fixture(scope="module")
def render():
    if BENCH not in sys.path:
        sys.path.insert(0, BENCH)
    spec = importlib.util.spec_from_file_location("hpcai_bench_render", os.path.join(BENCH, "render.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_row(r, section, target):
    assert ROW_KEYS <= set(r), r
    assert r["section"] == section and r["unit"] == "ms"
    assert r["runs"] == 1 == len(r["samples"]) == len(r["cpu_samples"])
    assert r["median"] > 0 and r["min"] <= r["median"] <= r["max"]
    assert r["cpu_min"] <= r["cpu_median"] <= r["cpu_max"]
    if target is None:
        assert r["target"] is None and r["ok"] is None
    else:
        assert r["target"] == target and isinstance(r["ok"], bool) and r["judged_on"] == "cpu"


# ---------------------------------------------------------------- hostlist


def test_simple_expand_reads_what_compress_writes(render):
    assert render.simple_expand("gpu0999,gpu[1000-1001],n[08-10,12],login1") == [
        "gpu0999", "gpu1000", "gpu1001", "n08", "n09", "n10", "n12", "login1"]
    with pytest.raises(AssertionError):
        render.simple_expand("a[1-2]b[3]")


def test_hostlist_sets_are_seeded_and_sized(render):
    sets = render.hostlist_sets(300)
    assert [s[0] for s in sets] == ["contiguous", "fragmented", "multi"]
    assert all(len(names) == len(set(names)) == 300 for _case, names, _what in sets)
    assert [s[1] for s in render.hostlist_sets(300)] == [s[1] for s in sets]
    multi = sets[2][1]
    assert any(n.startswith("r01n") for n in multi) and any(n.startswith("dgx-h100-") for n in multi)


def test_hostlist_section_small(render):
    result = render.run_hostlist(n=200, runs=1, log=lambda m: None)
    assert result["section"] == "hostlist" and result["status"] == "ok"
    assert [(r["case"], r["metric"]) for r in result["rows"]] == [
        (case, metric) for case in ("contiguous", "fragmented", "multi")
        for metric in ("compress", "expand", "filter compress", "filter expand")]
    for r in result["rows"]:
        _check_row(r, "hostlist", 200.0)
        assert r["names"] == 200 and r["kind"] == "hostlist"
    sets = dict((s["case"], s) for s in result["sets"])
    assert sets["contiguous"]["compressed_head"] == "node[00001-00200]" and sets["contiguous"]["ranges"] == 1
    assert sets["fragmented"]["ranges"] > 10


@pytest.mark.parametrize("name,broken", [
    ("expand", lambda real: lambda text: real(text)[:-1]),  # loses a name
    ("expand", lambda real: lambda text: list(reversed(real(text)))),  # wrong order
    ("compress", lambda real: lambda names: real(sorted(names)[1:])),  # loses a name
    ("_format_range", lambda real: lambda lo, hi, width: real(lo, hi, 1)),  # drops the zero padding
])
def test_hostlist_section_fails_on_a_broken_codec(render, monkeypatch, name, broken):
    monkeypatch.setattr(render.codec, name, broken(getattr(render.codec, name)))
    with pytest.raises(AssertionError, match="hostlist"):
        render.run_hostlist(n=200, runs=1, log=lambda m: None)


# ---------------------------------------------------------------- slurm_render


def test_class_sizes_and_bases(render):
    sizes = render.class_sizes(10000, 50)
    assert sum(sizes) == 10000 and min(sizes) >= 1 and sizes == sorted(sizes, reverse=True)
    assert render.class_sizes(5, 5) == [1] * 5
    assert len(render.CLASS_BASES) * len(render.MEMORY_FACTORS) >= render.CLASSES
    assert all(b in render.gen.CATALOGUE for b in render.CLASS_BASES)
    assert len(set(render.CLASS_BASES)) == len(render.CLASS_BASES)


def test_slurm_render_section_small(render):
    result = render.run_slurm_render(nodes=200, classes=3, runs=1, filter_runs=1, breakdown=True, log=lambda m: None)
    assert result["section"] == "slurm_render" and result["status"] == "ok"
    metrics = [r["metric"] for r in result["rows"]]
    assert metrics[:4] == ["slurm_node_lines filter", "template render (Templar)", "slurm_conf_change",
                           "total: render + slurm_conf_change"]
    assert metrics[4:] == [m for m, _part in render.BREAKDOWN]
    for r in result["rows"]:
        _check_row(r, "slurm_render", 2000.0 if r["metric"].startswith("total") else None)
        assert r["nodes"] == 200 and r["classes"] == 3
    by = dict((r["metric"], r) for r in result["rows"])
    total = by["total: render + slurm_conf_change"]
    assert total["samples"][0] == pytest.approx(by["template render (Templar)"]["samples"][0]
                                                + by["slurm_conf_change"]["samples"][0], abs=0.01)
    assert result["output"]["nodename_lines"] == 3
    assert [c["nodes"] for c in result["classes"]] == render.class_sizes(200, 3)
    assert any(c["gres"] for c in result["classes"])  # a GPU class among the first three
    assert "Templar" in result["config"]["templating"]


def _drop_last(real):
    return lambda groups, state="UNKNOWN": real(groups, state)[:-1]


@pytest.mark.parametrize("module,name,broken,message", [
    # the filter loses a NodeName line
    ("slurm_filter", "node_lines", _drop_last, "NodeName lines"),
    # group_nodes' hostlist loses a host
    ("slurm_conf", "compress", lambda real: lambda names: real(list(names)[:-1]), "nodes"),
    # RealMemory without the reserve (slurmctld would drain every node)
    ("slurm_conf", "real_memory", lambda real: lambda measured, *a, **k: int(measured), "RealMemory"),
])
def test_slurm_render_fails_on_a_broken_filter(render, monkeypatch, module, name, broken, message):
    target = getattr(render, module)
    monkeypatch.setattr(target, name, broken(getattr(target, name)))
    with pytest.raises(AssertionError, match=message):
        render.run_slurm_render(nodes=60, classes=3, runs=1, filter_runs=1, breakdown=False, log=lambda m: None)


def test_check_render_rejects_a_duplicate_node_and_a_wrong_partition(render):
    cluster = render.Cluster(60, 3)
    hosts, extras = cluster.filter_input()
    lines = render.slurm_filter.slurm_node_lines(hosts, extras=extras)
    text = render.RoleRender(cluster).render()
    render.check_render(cluster, text, lines)  # the real thing passes
    first = cluster.classes[0].nodes[0]
    dup = lines[:-1] + [lines[-1].replace("NodeName=", "NodeName=%s," % first, 1)]
    bad = text.replace(lines[-1], dup[-1])
    with pytest.raises(AssertionError, match="two NodeName lines"):
        render.check_render(cluster, bad, dup)
    gpu_line = [line for line in text.splitlines() if line.startswith("PartitionName=gpu ")][0]
    with pytest.raises(AssertionError, match="partition gpu"):
        render.check_render(cluster, text.replace(gpu_line, gpu_line.replace("Nodes=", "Nodes=%s," % first)), lines)
