# -*- coding: utf-8 -*-
"""`make bench` lab sections: converge vs floor, idempotent rerun, fan-out.

Everything runs on a lab of its own (containers ``hpcbench-*`` on
``172.30.78.0/24``, inventory under ``build/hpcbench/inventory``, lab/labrun.py), so a lab you
started with `make lab` is left alone.  The sequence, for ``runs`` rounds::

    fresh lab (head + 2 computes) -> lab/synthetic.yml -> site.yml  (converge, timed)
        -> record what the converge installed and started on every node
        -> site.yml again (rerun, timed; total `changed` must be 0)
    fresh lab of the same image   -> the floor script on every node at once (timed):
        one package transaction of exactly the packages the converge installed,
        then `systemctl start` of exactly the services it started

so each converge is compared with a floor measured right next to it, in the
same run (round 1 converges first to learn what to install; later rounds run
the floor first from the previous round's record), on the same image, with the same parallelism (every node at once,
as ``forks`` >= nodes does for Ansible).  Then the fan-out: a fresh lab with
3 computes grows to 8 and 16; at each size site.yml converges the new nodes
once (not timed) and is rerun ``fanout_runs`` times (timed).

Rows (benchlib.row): wall-clock seconds; ratios without a unit of their own
are "x", the rerun share "%".  The CPU column is the controller's CPU time
(ansible-playbook and its workers), for scale: the nodes' own CPU time runs in
the containers and is not in it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import statistics
import sys
import time

import benchlib

sys.path.insert(0, os.path.join(benchlib.REPO, "lab"))

import labrun  # noqa: E402  (lab/labrun.py)

LAB = labrun.Lab("hpcbench", "172.30.78.0/24")

RUNS = 3  # converge/floor rounds (each round: converge, rerun, floor)
FANOUT_SIZES = (3, 8, 16)
FANOUT_RUNS = 3
CONVERGE_COMPUTES = 2  # the 3-node lab of `make lab`

TARGET_CONVERGE_RATIO = 1.5  # converge within 1.5x the floor
TARGET_RERUN_SHARE = 25.0  # rerun at most 25% of converge
TARGET_CHANGED = 0

BenchError = labrun.LabError
recap = labrun.recap

# What a node runs before any role touched it, read on a fresh container; the
# converge's packages and services are the difference.
SNAPSHOT = r"""
if command -v apt-mark >/dev/null 2>&1; then
    echo "pm apt"; apt-mark showmanual | sed 's/^/pkg /'
elif command -v dnf >/dev/null 2>&1; then
    echo "pm dnf"; dnf -q repoquery --userinstalled --qf '%{name}' 2>/dev/null | sed 's/^/pkg /'
fi
systemctl list-units --type=service --state=running --no-legend --plain | awk '{print "svc " $1}'
"""

FLOOR_APT = r"""
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq %(pkgs)s >/dev/null
"""
FLOOR_DNF = r"""
dnf -y -q install %(pkgs)s
"""
FLOOR_START = r"""
failed=""
for s in %(svcs)s; do systemctl start "$s" || failed="$failed $s"; done
[ -z "$failed" ] || echo "floor: could not start:$failed" >&2
"""


def _exec(node, script):
    return LAB.exec(node, script)


def snapshot(node):
    """(package manager, set of user-installed packages, set of running services) on a node."""
    rc, out, err = _exec(node, SNAPSHOT)
    if rc != 0:
        raise BenchError("snapshot of %s failed: %s" % (node, err.strip()))
    pm, pkgs, svcs = None, set(), set()
    for line in out.splitlines():
        kind, _sep, value = line.partition(" ")
        if kind == "pm":
            pm = value
        elif kind == "pkg" and value:
            pkgs.add(value)
        elif kind == "svc" and value:
            svcs.add(value)
    return pm, pkgs, svcs


def floor_script(pm, packages, services):
    quote = " ".join(shlex.quote(p) for p in sorted(packages))
    script = ""
    if packages:
        script += (FLOOR_APT if pm == "apt" else FLOOR_DNF) % {"pkgs": quote}
    if services:
        script += FLOOR_START % {"svcs": " ".join(shlex.quote(s) for s in sorted(services))}
    return script or "true\n"


def playbook(path, log_name, *extra):
    seconds, hosts, cpu, _output = LAB.playbook(path, log_name, *extra)
    return seconds, hosts, cpu


def lab_up(computes, image):
    return LAB.up(computes, image)


def lab_down():
    LAB.down()


def floor(index, plan, image, log):
    """The floor on fresh nodes: every node's script at once; returns (seconds, services not started)."""
    lab_down()
    nodes = lab_up(CONVERGE_COMPUTES, image)
    missing = sorted(set(nodes) - set(plan))
    if missing:
        raise BenchError("no floor plan for %s" % " ".join(missing))
    log("bench: round %d: floor" % index)
    start = time.perf_counter()
    results = labrun.parallel(lambda node: _exec(node, floor_script(**plan[node])), nodes)
    floor_s = time.perf_counter() - start
    failed = {n: r[2].strip()[-400:] for n, r in results.items() if r[0] != 0}
    if failed:
        raise BenchError("floor script failed: %s" % json.dumps(failed))
    log("bench: round %d: floor %.0f s" % (index, floor_s))
    return floor_s, {n: r[2].strip() for n, r in results.items() if r[2].strip()}


def converge_round(index, image, log, plan=None):
    """One round: the floor and a converge + rerun of fresh labs, back to back.

    The floor needs to know what a converge installs and starts: round 1
    converges first and runs the floor after it; later rounds run the floor
    first, from the previous round's record, so the last round ends with a
    converged lab (the fan-out grows it)."""
    floor_first = plan is not None
    if floor_first:
        floor_s, not_started = floor(index, plan, image, log)
    lab_down()
    nodes = lab_up(CONVERGE_COMPUTES, image)
    before = labrun.parallel(snapshot, nodes)
    playbook("lab/synthetic.yml", "round%d-synthetic" % index)
    log("bench: round %d: converge site.yml on %d nodes" % (index, len(nodes)))
    conv_s, conv_hosts, conv_cpu = playbook("playbooks/site.yml", "round%d-converge" % index)
    after = labrun.parallel(snapshot, nodes)
    recorded = {}
    for node in nodes:
        recorded[node] = {"pm": after[node][0], "packages": sorted(after[node][1] - before[node][1]),
                          "services": sorted(after[node][2] - before[node][2])}
    log("bench: round %d: converge %.0f s; rerun" % (index, conv_s))
    rerun_s, rerun_hosts, rerun_cpu = playbook("playbooks/site.yml", "round%d-rerun" % index)
    rerun_changed = sum(r["changed"] for r in rerun_hosts.values())
    log("bench: round %d: rerun %.0f s (changed=%d)" % (index, rerun_s, rerun_changed))
    if not floor_first:
        floor_s, not_started = floor(index, recorded, image, log)
    return {
        "converge_s": conv_s, "converge_cpu_s": conv_cpu, "converge_changed": sum(r["changed"] for r in conv_hosts.values()),
        "rerun_s": rerun_s, "rerun_cpu_s": rerun_cpu, "rerun_changed": rerun_changed,
        "rerun_changed_by_host": {h: r["changed"] for h, r in rerun_hosts.items() if r["changed"]},
        "floor_s": floor_s, "floor_not_started": not_started, "plan": recorded, "floor_first": floor_first,
        "lab_converged": floor_first,
    }


def fanout(image, sizes, runs, log, converged=False):
    """Grow the lab to each size, converge once, time `runs` reruns.  ``converged``:
    the running lab is a converged head+2 (the last round's), grow it."""
    out = []
    if not converged:  # grow a converged lab, never floor-script nodes
        lab_down()
    for computes in sizes:
        nodes = lab_up(computes, image)
        playbook("lab/synthetic.yml", "fanout%d-synthetic" % computes)
        log("bench: fan-out %d computes: converge the new nodes" % computes)
        conv_s, _hosts, _cpu = playbook("playbooks/site.yml", "fanout%d-converge" % computes)
        samples, cpu, changed = [], [], []
        for i in range(runs):
            seconds, hosts, cpu_s = playbook("playbooks/site.yml", "fanout%d-rerun%d" % (computes, i + 1))
            samples.append(seconds)
            cpu.append(cpu_s)
            changed.append(sum(r["changed"] for r in hosts.values()))
        log("bench: fan-out %d computes: reruns %s s" % (computes, ", ".join("%.0f" % s for s in samples)))
        out.append({"computes": computes, "nodes": len(nodes), "converge_s": conv_s, "rerun_s": samples,
                    "rerun_cpu_s": cpu, "rerun_changed": changed})
    return out


def _rows(rounds, fan, judge):
    rows = []
    case = "lab head+%d" % CONVERGE_COMPUTES
    if rounds:
        conv = [r["converge_s"] for r in rounds]
        floor = [r["floor_s"] for r in rounds]
        ratio = [r["converge_s"] / r["floor_s"] for r in rounds]
        rerun = [r["rerun_s"] for r in rounds]
        share = [100.0 * r["rerun_s"] / r["converge_s"] for r in rounds]
        changed = [float(r["rerun_changed"]) for r in rounds]
        rows += [
            benchlib.row("converge", case, "site.yml converge", conv, unit="s",
                         cpu=[r["converge_cpu_s"] for r in rounds], judge=judge),
            benchlib.row("converge", case, "floor: same packages + services by script", floor, unit="s", judge=judge),
            benchlib.row("converge", case, "converge / floor", ratio, unit="x", target=TARGET_CONVERGE_RATIO,
                         judge="wall"),
            benchlib.row("rerun", case, "site.yml idempotent rerun", rerun, unit="s",
                         cpu=[r["rerun_cpu_s"] for r in rounds], judge=judge),
            benchlib.row("rerun", case, "rerun / converge", share, unit="%", target=TARGET_RERUN_SHARE, judge="wall"),
        ]
        changed_row = benchlib.row("rerun", case, "rerun changed (total)", changed, unit="tasks", target=TARGET_CHANGED,
                                   judge="wall")
        changed_row["ok"] = max(changed) <= TARGET_CHANGED  # every rerun, not the median
        rows.append(changed_row)
    if fan:
        for point in fan:
            rows.append(benchlib.row("fanout", "%d computes (%d nodes)" % (point["computes"], point["nodes"]),
                                     "site.yml rerun", point["rerun_s"], unit="s", cpu=point["rerun_cpu_s"],
                                     judge=judge, nodes=point["nodes"], computes=point["computes"]))
            changed_row = benchlib.row("fanout", "%d computes (%d nodes)" % (point["computes"], point["nodes"]),
                                       "rerun changed (total)", [float(c) for c in point["rerun_changed"]],
                                       unit="tasks", target=TARGET_CHANGED, judge="wall")
            changed_row["ok"] = max(point["rerun_changed"]) <= TARGET_CHANGED
            rows.append(changed_row)
        for lo, hi in zip(fan, fan[1:]):
            # run i at one size against run i at the next, in the order they were taken
            per_node = [(b - a) / (hi["nodes"] - lo["nodes"]) for a, b in zip(lo["rerun_s"], hi["rerun_s"])]
            rows.append(benchlib.row("fanout", "%d -> %d computes" % (lo["computes"], hi["computes"]),
                                     "rerun growth per added node", per_node, unit="s", judge="wall"))
        if len(fan) >= 2:
            first, last = fan[0], fan[-1]
            growth = [b / a for a, b in zip(first["rerun_s"], last["rerun_s"])]
            nodes_ratio = float(last["nodes"]) / first["nodes"]
            rows.append(benchlib.row(
                "fanout", "%d -> %d computes" % (first["computes"], last["computes"]),
                "rerun time ratio (sub-linear: < %.2f, the node ratio)" % nodes_ratio, growth, unit="x",
                target=round(nodes_ratio, 3), judge="wall"))
    return rows


def run(wanted, runs=RUNS, fanout_runs=FANOUT_RUNS, sizes=FANOUT_SIZES, image=None, log=print, judge="wall",
        keep=False):
    """The lab sections in ``wanted`` ({"converge", "rerun", "fanout"}); returns {section: result}."""
    if shutil.which("docker") is None:
        raise BenchError("docker is not installed: the lab sections need it (see README, make lab)")
    if image is None:
        image = LAB.image()
    started = time.time()
    rounds, fan, errors = [], [], {}
    try:
        if wanted & {"converge", "rerun"}:
            try:
                for index in range(1, runs + 1):
                    rounds.append(converge_round(index, image, log, plan=rounds[-1]["plan"] if rounds else None))
            except BenchError as exc:  # the fan-out may still work; the rounds done so far are kept
                errors["converge"] = errors["rerun"] = "round %d: %s" % (len(rounds) + 1, exc)
                log("bench: FAILED: %s" % errors["converge"])
        if "fanout" in wanted:
            try:
                converged = bool(rounds) and rounds[-1]["lab_converged"] and len(rounds) == runs
                fan = fanout(image, sizes, fanout_runs, log, converged=converged)
            except BenchError as exc:
                errors["fanout"] = str(exc)
                log("bench: FAILED: fan-out: %s" % exc)
    finally:
        if not keep:
            lab_down()
    rows = _rows(rounds, fan, judge)
    config = {"image": image, "runs": runs, "fanout_runs": fanout_runs, "fanout_sizes": list(sizes),
              "lab": LAB.name, "forks": _forks(), "strategy": os.environ.get("ANSIBLE_STRATEGY", "linear"),
              "duration_s": round(time.time() - started, 1)}
    out = {}
    for name in ("converge", "rerun", "fanout"):
        if name in wanted:
            out[name] = {"section": name, "status": "error" if name in errors else "ok", "config": config,
                         "rows": [r for r in rows if r["section"] == name]}
            if name in errors:
                out[name]["error"] = errors[name][-2000:]
    if rounds and "converge" in out:
        out["converge"]["floor_plan"] = rounds[-1]["plan"]
        out["converge"]["floor_not_started"] = rounds[-1]["floor_not_started"]
    if rounds and "rerun" in out:
        out["rerun"]["changed_by_host"] = [r["rerun_changed_by_host"] for r in rounds]
    if fan and "fanout" in out:
        out["fanout"]["points"] = fan
    return out


def _forks():
    try:
        import configparser

        parser = configparser.ConfigParser()
        parser.read(os.path.join(benchlib.REPO, "ansible.cfg"))
        return int(os.environ.get("ANSIBLE_FORKS") or parser.get("defaults", "forks", fallback="5"))
    except (ValueError, OSError):
        return None


def plot_panels(results):
    """[(title, draw(ax))]: converge vs floor per round, and rerun time vs nodes."""
    panels = []
    conv = results.get("converge")
    if conv and conv["rows"]:
        by_metric = {r["metric"]: r for r in conv["rows"]}
        rerun = {r["metric"]: r for r in (results.get("rerun") or {}).get("rows", [])}

        def draw_converge(ax):
            bars = [("floor", by_metric.get("floor: same packages + services by script")),
                    ("converge", by_metric.get("site.yml converge")),
                    ("rerun", rerun.get("site.yml idempotent rerun"))]
            bars = [(label, r) for label, r in bars if r]
            xs = range(len(bars))
            ax.bar(xs, [r["median"] for _l, r in bars],
                   yerr=[[r["median"] - r["min"] for _l, r in bars], [r["max"] - r["median"] for _l, r in bars]],
                   capsize=4, color=["grey", "tab:blue", "tab:green"][:len(bars)])
            ax.set_xticks(list(xs))
            ax.set_xticklabels([label for label, _r in bars])
            floor = by_metric.get("floor: same packages + services by script")
            if floor:
                ax.axhline(floor["median"] * TARGET_CONVERGE_RATIO, color="red", linestyle="--", linewidth=1,
                           label="target: %.1fx floor" % TARGET_CONVERGE_RATIO)
                ax.legend(fontsize=7)
            ax.set_ylabel("s: median, bars min..max (wall)", fontsize=8)
            ax.grid(True, axis="y", alpha=0.3)

        panels.append(("lab head+%d: converge vs floor, idempotent rerun" % CONVERGE_COMPUTES, draw_converge))
    fan = results.get("fanout")
    if fan and fan.get("points"):
        points = fan["points"]

        def draw_fanout(ax):
            xs = [p["nodes"] for p in points]
            med = [statistics.median(p["rerun_s"]) for p in points]
            ax.errorbar(xs, med, yerr=[[m - min(p["rerun_s"]) for m, p in zip(med, points)],
                                       [max(p["rerun_s"]) - m for m, p in zip(med, points)]],
                        marker="o", capsize=3, label="site.yml rerun")
            linear = [med[0] * x / xs[0] for x in xs]
            ax.plot(xs, linear, color="red", linestyle="--", linewidth=1, label="linear from %d nodes" % xs[0])
            ax.set_xticks(xs)
            ax.set_xticklabels(["%d\n(%d computes)" % (p["nodes"], p["computes"]) for p in points], fontsize=7)
            ax.set_xlabel("lab nodes", fontsize=8)
            ax.set_ylabel("s: median, bars min..max (wall)", fontsize=8)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)

        panels.append(("fan-out: idempotent rerun time vs nodes", draw_fanout))
    return panels
