# -*- coding: utf-8 -*-
"""bench/lab_bench.py (issue 11): the parts that need no Docker.

The lab itself runs in `make bench`; here: the PLAY RECAP parser, the floor
script, the snapshot difference, the rows and their targets, the plot.
"""

from __future__ import absolute_import, division, print_function

import importlib.util
import subprocess

import pytest

from test_bench import _load  # tests/unit is on sys.path (no __init__.py)


@pytest.fixture(scope="module")
def lab():
    return _load("lab_bench")


RECAP_TEXT = """\
PLAY RECAP *********************************************************************
\x1b[0;33mhpcbench-c01\x1b[0m               : ok=202  changed=3    unreachable=0    failed=0    skipped=95   rescued=0
hpcbench-head              : ok=215  changed=0    unreachable=0    failed=1    skipped=106  rescued=0
"""


def test_recap_parses_colour_and_counts(lab):
    hosts = lab.recap("TASK [x]\nok: [hpcbench-c01]\n" + RECAP_TEXT)
    assert hosts == {"hpcbench-c01": {"ok": 202, "changed": 3, "unreachable": 0, "failed": 0},
                     "hpcbench-head": {"ok": 215, "changed": 0, "unreachable": 0, "failed": 1}}
    assert lab.recap("no recap here") == {}


def test_playbook_refuses_failed_hosts(lab, monkeypatch):
    monkeypatch.setattr(lab.LAB, "run", lambda argv, log_name=None, check=True, env=None: (1.0, RECAP_TEXT, 0.5, 2))
    with pytest.raises(lab.BenchError, match="failed/unreachable on hpcbench-head"):
        lab.playbook("playbooks/site.yml", "x")
    monkeypatch.setattr(lab.LAB, "run", lambda argv, log_name=None, check=True, env=None: (1.0, "garbage", 0.5, 0))
    with pytest.raises(lab.BenchError, match="no PLAY RECAP"):
        lab.playbook("playbooks/site.yml", "x")
    ok = RECAP_TEXT.replace("failed=1", "failed=0")
    monkeypatch.setattr(lab.LAB, "run", lambda argv, log_name=None, check=True, env=None: (1.0, ok, 0.5, 0))
    seconds, hosts, cpu = lab.playbook("playbooks/site.yml", "x")
    assert (seconds, cpu, sorted(hosts)) == (1.0, 0.5, ["hpcbench-c01", "hpcbench-head"])


def test_snapshot_and_floor_script(lab, monkeypatch, tmp_path):
    out = "pm apt\npkg bash\npkg slurmd\npkg munge\nsvc dbus.service\nsvc munge.service\nsvc slurmd.service\n"
    monkeypatch.setattr(lab, "_exec", lambda node, script: (0, out, ""))
    pm, pkgs, svcs = lab.snapshot("n1")
    assert pm == "apt" and pkgs == {"bash", "slurmd", "munge"} and "slurmd.service" in svcs
    script = lab.floor_script("apt", {"slurmd", "munge", "name with'quote"}, {"munge.service", "slurmd.service"})
    assert "apt-get install -y -qq munge 'name with'\"'\"'quote' slurmd" in script
    assert 'for s in munge.service slurmd.service; do systemctl start "$s"' in script
    # the script is valid shell, and with nothing to do it does nothing
    for text in (script, lab.floor_script("dnf", {"slurm"}, set()), lab.floor_script("apt", set(), set())):
        path = tmp_path / "floor.sh"
        path.write_text(text)
        assert subprocess.run(["bash", "-n", str(path)], check=False).returncode == 0
    assert lab.floor_script("dnf", {"slurm"}, set()).strip() == "dnf -y -q install slurm"
    assert lab.floor_script("apt", set(), set()) == "true\n"
    monkeypatch.setattr(lab, "_exec", lambda node, script: (1, "", "boom"))
    with pytest.raises(lab.BenchError, match="snapshot of n1 failed: boom"):
        lab.snapshot("n1")


def _round(conv, floor, rerun, changed=0):
    return {"converge_s": conv, "converge_cpu_s": conv / 4, "converge_changed": 140, "rerun_s": rerun,
            "rerun_cpu_s": rerun / 4, "rerun_changed": changed, "rerun_changed_by_host": {},
            "floor_s": floor, "floor_not_started": {}, "plan": {}, "floor_first": False, "lab_converged": True}


def _by_metric(rows, case=None):
    return {r["metric"]: r for r in rows if case is None or r["case"] == case}


def test_rows_converge_and_rerun_targets(lab):
    rows = lab._rows([_round(100, 80, 20), _round(110, 70, 30), _round(90, 75, 21)], [], "wall")
    m = _by_metric(rows)
    assert m["site.yml converge"]["median"] == 100 and m["site.yml converge"]["runs"] == 3
    assert m["converge / floor"]["median"] == pytest.approx(100 / 80) and m["converge / floor"]["ok"] is True
    assert m["rerun / converge"]["median"] == pytest.approx(100 * 21 / 90, rel=1e-3)
    assert m["rerun / converge"]["ok"] is True and m["rerun changed (total)"]["ok"] is True
    # a slow converge and one rerun that changed something miss their targets
    rows = lab._rows([_round(200, 80, 20), _round(210, 70, 30, changed=2), _round(190, 75, 21)], [], "wall")
    m = _by_metric(rows)
    assert m["converge / floor"]["ok"] is False
    assert m["rerun changed (total)"]["median"] == 0 and m["rerun changed (total)"]["ok"] is False


def test_rows_fanout_growth(lab):
    fan = [{"computes": 3, "nodes": 4, "converge_s": 1, "rerun_s": [40.0, 42.0, 41.0], "rerun_cpu_s": [1, 1, 1],
            "rerun_changed": [0, 0, 0]},
           {"computes": 8, "nodes": 9, "converge_s": 1, "rerun_s": [60.0, 61.0, 65.0], "rerun_cpu_s": [1, 1, 1],
            "rerun_changed": [0, 0, 0]},
           {"computes": 16, "nodes": 17, "converge_s": 1, "rerun_s": [100.0, 98.0, 99.0], "rerun_cpu_s": [1, 1, 1],
            "rerun_changed": [0, 1, 0]}]
    rows = lab._rows([], fan, "wall")
    growth = _by_metric(rows, "3 -> 8 computes")["rerun growth per added node"]
    assert growth["samples"] == [4.0, 3.8, 4.8]  # run i against run i, per added node
    ratio = [r for r in rows if r["metric"].startswith("rerun time ratio")][0]
    assert ratio["target"] == pytest.approx(17 / 4.0) and ratio["ok"] is True
    assert _by_metric(rows, "16 computes (17 nodes)")["rerun changed (total)"]["ok"] is False
    # linear growth from a small base misses the sub-linear target
    fan[2]["rerun_s"] = [200.0, 199.0, 201.0]
    ratio = [r for r in lab._rows([], fan, "wall") if r["metric"].startswith("rerun time ratio")][0]
    assert ratio["ok"] is False


def test_plot_panels_draw(lab, tmp_path):
    run = _load("run")
    rows = lab._rows([_round(100, 80, 20)], [], "wall")
    fan = [{"computes": c, "nodes": c + 1, "rerun_s": [10.0 + c], "rerun_cpu_s": [1.0], "rerun_changed": [0]}
           for c in (3, 8)]
    results = {"converge": {"rows": [r for r in rows if r["section"] == "converge"]},
               "rerun": {"rows": [r for r in rows if r["section"] == "rerun"]},
               "fanout": {"rows": [], "points": fan}}
    panels = lab.plot_panels(results)
    assert [title.split(":")[0] for title, _draw in panels] == ["lab head+2", "fan-out"]
    if importlib.util.find_spec("matplotlib"):
        assert run.write_plot(panels, str(tmp_path / "p.png"), "t")
        assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_run_needs_docker(lab, monkeypatch):
    monkeypatch.setattr(lab.shutil, "which", lambda name: None)
    with pytest.raises(lab.BenchError, match="docker is not installed"):
        lab.run({"converge"})


def test_run_keeps_rounds_when_fanout_fails(lab, monkeypatch):
    monkeypatch.setattr(lab.shutil, "which", lambda name: "/usr/bin/docker")
    monkeypatch.setattr(lab, "lab_down", lambda: None)
    calls = []
    monkeypatch.setattr(lab, "converge_round",
                        lambda index, image, log, plan=None: calls.append((index, plan)) or dict(_round(100, 80, 20), plan={"n": index}))

    def broken(image, sizes, runs, log, converged=False):
        assert converged is True
        raise lab.BenchError("fan-out broke")

    monkeypatch.setattr(lab, "fanout", broken)
    out = lab.run({"converge", "rerun", "fanout"}, runs=2, image="img", log=lambda m: None)
    assert calls == [(1, None), (2, {"n": 1})]  # round 2 runs its floor from round 1's record
    assert out["converge"]["status"] == "ok" and len(out["converge"]["rows"]) == 3
    assert out["rerun"]["status"] == "ok"
    assert out["fanout"]["status"] == "error" and "fan-out broke" in out["fanout"]["error"]
    assert out["fanout"]["rows"] == []
