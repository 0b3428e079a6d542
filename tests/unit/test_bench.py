# -*- coding: utf-8 -*-
"""bench/ (issue 11): the modules section and bench/run.py on one small topology, N=1.

Checks the result structure only (keys, positive timings, the JSON layout);
the figures themselves are `make bench`'s business.
"""

from __future__ import absolute_import, division, print_function

import importlib.util
import json
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(REPO, "bench")
SMALL = "genoa_9174f_1p"  # 1 x 16 cores with SMT = 32 CPUs: a tree in ~0.1 s
ROW_KEYS = {"section", "case", "metric", "unit", "runs", "median", "min", "max", "samples", "target", "ok", "judged_on",
            "cpu_median", "cpu_min", "cpu_max", "cpu_samples", "cpus", "kind", "module"}


def _load(name):
    if BENCH not in sys.path:
        sys.path.insert(0, BENCH)
    spec = importlib.util.spec_from_file_location("hpcai_bench_" + name, os.path.join(BENCH, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def modules():
    return _load("modules")


def _check_row(r, runs):
    assert ROW_KEYS <= set(r), r
    assert r["section"] == "modules" and r["unit"] == "ms"
    assert r["runs"] == runs == len(r["samples"])
    assert r["min"] <= r["median"] <= r["max"]
    assert r["cpu_min"] <= r["cpu_median"] <= r["cpu_max"] and len(r["cpu_samples"]) == runs
    if r["target"] is None:
        assert r["ok"] is None and r["judged_on"] is None
    else:
        assert r["target"] == 200.0 and isinstance(r["ok"], bool) and r["judged_on"] == "cpu"


def test_modules_section_small_topology(modules, tmp_path):
    # all module cases in-process, only cpu_topology as a process (each payload run is a fresh interpreter)
    result = modules.run(topologies=[SMALL], runs=1, proc_runs=1, process=True, tmp_base=str(tmp_path),
                         log=lambda m: None, proc_cases=("cpu_topology",))
    assert result["section"] == "modules" and result["status"] == "ok"
    assert [t["case"] for t in result["topologies"]] == [SMALL]
    assert result["topologies"][0]["cpus"] == 32
    assert result["config"]["process"] is True and result["config"]["target_python_version"]
    rows = result["rows"]
    metrics = {(r["case"], r["metric"]) for r in rows}
    expected = {("-", "python startup"), ("-", "ansible.builtin.ping process"),
                (SMALL, "parser gather()"), (SMALL, "numa_sysctl plan+render"), (SMALL, "cgroup_partition plan()")}
    for case in ("cpu_topology", "numa_sysctl", "numa_sysctl+gather", "cgroup_partition", "cgroup_partition+gather"):
        expected.add((SMALL, case + " main()"))
    expected |= {(SMALL, "cpu_topology process"), (SMALL, "cpu_topology process-ping")}
    assert metrics == expected
    for r in rows:
        _check_row(r, 1)
        if not r["metric"].endswith("process-ping"):
            assert r["median"] > 0 and r["cpu_median"] >= 0, r
        if r["metric"].endswith("process-ping"):
            continue  # a difference: may be negative on a noisy machine
        if r["case"] == SMALL:
            assert r["cpus"] == 32
    by_metric = {r["metric"]: r for r in rows if r["case"] in (SMALL, "-")}
    # a fresh interpreter running an AnsiballZ payload costs more than the module's own work
    assert by_metric["cpu_topology process"]["median"] > by_metric["cpu_topology main()"]["median"]
    assert [m["case"] for m in result["not_measured"]] == (
        [] if os.path.exists(os.path.join(REPO, "plugins/modules/cgroup_partition.py")) and
        any(c[1] == "cgroup_partition" for c in modules.CASES) else ["cgroup_partition"])
    assert all(n > 10000 for n in result["payload_bytes"].values())
    # the tree and the numa_sysctl dest_root were temporary
    assert os.listdir(str(tmp_path)) == []


def test_run_writes_json_and_plot(tmp_path, capsys):
    run = _load("run")
    out = tmp_path / "results"
    rc = run.main(["--sections", "modules,hostlist", "--topologies", SMALL, "--runs", "1", "--no-process",
                   "--out-dir", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "parser gather()" in printed and "filter compress" in printed and "not measured: hostlist" not in printed
    data = json.loads((out / "latest.json").read_text())
    assert data["schema"] == 1 and data["date"]
    for key in ("cpu_model", "nproc", "memory_gib", "kernel", "python", "ansible_core", "git_commit"):
        assert key in data["host"]
    assert data["host"]["nproc"] >= 1
    assert list(data["sections"]) == ["converge", "rerun", "fanout", "modules", "hostlist", "slurm_render"]
    assert data["sections"]["modules"]["status"] == "ok"
    assert data["sections"]["hostlist"]["status"] == "ok"
    assert data["sections"]["slurm_render"]["status"] == "not_run"
    assert data["sections"]["converge"]["status"] == "not_run"
    for r in data["sections"]["modules"]["rows"]:
        _check_row(r, 1)
        assert r["kind"] == "inprocess" and r["median"] > 0
    hostlist_rows = data["sections"]["hostlist"]["rows"]
    assert len(hostlist_rows) == 12 and all(r["runs"] == 1 and r["names"] == 10000 and r["target"] == 200.0
                                            for r in hostlist_rows)
    assert data["summary"]["figures"] == len(data["sections"]["modules"]["rows"]) + len(hostlist_rows)
    png = out / "latest.png"
    if importlib.util.find_spec("matplotlib"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table_is_aligned(modules):
    lib = _load("benchlib")
    rows = [lib.row("modules", "a", "m1", [1.0, 3.0, 2.0], target=2.5, cpus=1, kind="x", module="m"),
            lib.row("modules", "longer case", "metric two", [300.0], cpu=[150.0], target=200.0, cpus=1, kind="x", module="m"),
            lib.row("modules", "longer case", "metric two", [300.0], cpu=[150.0], target=200.0, judge="wall"),
            lib.row("modules", "-", "m3", [5.0])]
    assert rows[0]["median"] == 2.0 and rows[0]["ok"] is True and rows[0]["judged_on"] == "wall"  # no CPU samples
    assert rows[1]["ok"] is True and rows[1]["judged_on"] == "cpu"  # 300 ms wall, 150 ms CPU
    assert rows[2]["ok"] is False and rows[2]["judged_on"] == "wall"
    assert rows[3]["ok"] is None and rows[3]["cpu_median"] is None
    lines = lib.format_table(rows).splitlines()
    assert len(lines) == 6
    end = lines[0].index("target") + len("target")  # right-aligned column: every target ends under its header
    assert [line[:end].endswith(" ms") for line in lines[2:]] == [True, True, True, False]
    assert lines[2].rstrip().endswith("ok (wall)") and lines[3].rstrip().endswith("ok (cpu)") and "MISS (wall)" in lines[4]


def test_run_merge_keeps_other_sections(tmp_path, capsys):
    run = _load("run")
    out = tmp_path / "results"
    assert run.main(["--sections", "hostlist", "--runs", "1", "--out-dir", str(out), "--no-plot"]) == 0
    first = json.loads((out / "latest.json").read_text())
    assert first["sections"]["hostlist"]["status"] == "ok"
    # a later run of another section with --merge keeps hostlist (its own date); without --merge it is gone
    assert run.main(["--sections", "modules", "--topologies", SMALL, "--runs", "1", "--no-process", "--merge",
                     "--out-dir", str(out), "--no-plot"]) == 0
    merged = json.loads((out / "latest.json").read_text())
    assert merged["sections"]["hostlist"]["rows"] == first["sections"]["hostlist"]["rows"]
    assert merged["sections"]["hostlist"]["date"] == first["date"]
    assert merged["sections"]["modules"]["status"] == "ok" and merged["sections"]["modules"]["date"] == merged["date"]
    assert merged["summary"]["figures"] == len(merged["sections"]["modules"]["rows"]) + len(first["sections"]["hostlist"]["rows"])
    assert run.main(["--sections", "modules", "--topologies", SMALL, "--runs", "1", "--no-process",
                     "--out-dir", str(out), "--no-plot"]) == 0
    assert json.loads((out / "latest.json").read_text())["sections"]["hostlist"]["status"] == "not_run"
    capsys.readouterr()
