# -*- coding: utf-8 -*-
"""Shared helpers for the `make bench` sections (bench/run.py, bench/modules.py).

A section produces *rows*; every row is one figure::

    {"section": "modules", "case": "turin_dense_2p_nps1_smt", "metric": "cpu_topology main()",
     "unit": "ms", "runs": 7, "median": 41.2, "min": 39.8, "max": 47.0, "samples": [...],
     "target": 200.0, "ok": True, "cpu_median": 38.0, ..., ...section specific keys (cpus, module, kind)...}

``median``/``min``/``max``/``samples`` are wall clock; ``cpu_median``,
``cpu_min``, ``cpu_max``, ``cpu_samples`` the user+system CPU time of the same
runs (``None`` where not measured).  ``target``/``ok``/``judged_on`` are ``None``
for figures without a target.  A figure is ``ok`` when the median named by
``judged_on`` is at or under the target: ``cpu`` by default, because on a quiet
machine a single-threaded module's wall time is its CPU time, while wall time on
a shared machine mostly measures the other tenants (``--judge wall`` to hold the
wall clock to the target instead).
"""

from __future__ import annotations

import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, ".collections")
COLLECTION_LINK = os.path.join(COLLECTIONS, "ansible_collections", "hpcai", "cluster")
TESTS = os.path.join(REPO, "tests")


def setup_paths():
    """Make ``ansible_collections.hpcai.cluster`` and ``tests/sysfs_gen.py`` importable
    (the same symlink tests/conftest.py and `make collections` create)."""
    if not os.path.lexists(COLLECTION_LINK):
        os.makedirs(os.path.dirname(COLLECTION_LINK), exist_ok=True)
        os.symlink(os.path.relpath(REPO, os.path.dirname(COLLECTION_LINK)), COLLECTION_LINK)
    for path in (COLLECTIONS, TESTS):
        if path not in sys.path:
            sys.path.insert(0, path)


def now_ms():
    return time.perf_counter() * 1000.0


def time_calls(fn, runs, warmup=1):
    """Call ``fn()`` ``warmup`` times untimed, then ``runs`` times.

    Returns ``(wall, cpu)`` sample lists in ms; cpu is this process's user+system
    time (``time.process_time``), which other load on the machine barely changes.
    """
    for _dummy in range(warmup):
        fn()
    wall, cpu = [], []
    for _dummy in range(runs):
        c0 = time.process_time()
        start = time.perf_counter()
        fn()
        wall.append((time.perf_counter() - start) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return wall, cpu


JUDGES = ("cpu", "wall")


def row(section, case, metric, samples, target=None, unit="ms", cpu=None, judge="cpu", **extra):
    """One figure from its wall-clock ``samples`` (median/min/max) and the CPU-time
    samples of the same runs (``cpu``).  ``ok``: the median of ``judge`` (``cpu``
    when there are CPU samples, else ``wall``) at or under ``target``."""
    if not samples:
        raise ValueError("%s %s %s: no samples" % (section, case, metric))
    if judge not in JUDGES:
        raise ValueError("judge must be one of %s" % ", ".join(JUDGES))
    median = statistics.median(samples)
    judged_on = "cpu" if (judge == "cpu" and cpu) else "wall"
    basis = statistics.median(cpu) if judged_on == "cpu" else median
    out = {
        "section": section,
        "case": case,
        "metric": metric,
        "unit": unit,
        "runs": len(samples),
        "median": round(median, 3),
        "min": round(min(samples), 3),
        "max": round(max(samples), 3),
        "samples": [round(s, 3) for s in samples],
        "target": target,
        "ok": None if target is None else bool(basis <= target),
        "judged_on": None if target is None else judged_on,
        "cpu_median": None,
        "cpu_min": None,
        "cpu_max": None,
        "cpu_samples": None,
    }
    if cpu:
        out.update(cpu_median=round(statistics.median(cpu), 3), cpu_min=round(min(cpu), 3), cpu_max=round(max(cpu), 3),
                   cpu_samples=[round(c, 3) for c in cpu])
    out.update(extra)
    return out


def _num(value):
    if value is None:
        return "-"
    if abs(value) >= 100:
        return "%.0f" % value
    if abs(value) >= 10:
        return "%.1f" % value
    return "%.2f" % value


def format_table(rows):
    """One aligned text table: section, case, metric, runs, median, min, max (wall
    clock), cpu (median CPU time of the same runs), target, ok."""
    head = ("section", "case", "metric", "n", "median", "min", "max", "cpu", "target", "ok")
    lines = []
    for r in rows:
        unit = r.get("unit", "ms")
        ok = "-" if r.get("ok") is None else ("ok" if r["ok"] else "MISS") + " (%s)" % r.get("judged_on", "wall")
        target = "-" if r.get("target") is None else "%s %s" % (_num(r["target"]), unit)
        lines.append((
            r["section"], r["case"], r["metric"], str(r["runs"]),
            "%s %s" % (_num(r["median"]), unit), _num(r["min"]), _num(r["max"]), _num(r.get("cpu_median")), target, ok,
        ))
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(head)]
    right = {3, 4, 5, 6, 7, 8}

    def fmt(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [fmt(head), fmt(["-" * w for w in widths])]
    out.extend(fmt(line) for line in lines)
    return "\n".join(out)
