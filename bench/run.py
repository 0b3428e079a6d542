# -*- coding: utf-8 -*-
"""`make bench`: run the benchmark sections, print one table, write the results.

    .venv/bin/python bench/run.py [--sections modules] [--runs 7] [--proc-runs 5] [--strict]

Writes ``bench/results/latest.json`` (date, host facts, every figure with its
samples) and ``bench/results/latest.png`` (scaling curves).  Every figure is the
median of N runs with min and max; figures that are compared (a module against
the ping baseline, one topology against another) come from the same run.

Sections (issue 11): ``converge``, ``rerun``, ``fanout`` (bench/lab_bench.py:
a lab of its own, hpcbench-*, so `make lab`'s is left alone),
``modules`` (bench/modules.py), ``hostlist`` (the hostlist codec and filters
on 10,000 names) and ``slurm_render`` (slurm.conf for 10,000 nodes in 50
classes through the slurm role's template and ansible's Templar; both in
bench/render.py).  A section that is not implemented is recorded as such in
the JSON so readers see what is missing.
Exit status: 0, or 1 with ``--strict`` when a figure misses its target (and 2
when a section fails).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402

SCHEMA = 1
RESULTS = os.path.join(benchlib.REPO, "bench", "results")


def _run_modules(opts, log):
    import modules

    kwargs = {"runs": opts.runs or modules.RUNS, "proc_runs": opts.proc_runs or modules.PROC_RUNS,
              "process": not opts.no_process, "python": opts.python, "log": log, "judge": opts.judge}
    if opts.topologies:
        kwargs["topologies"] = [t for t in opts.topologies.split(",") if t]
    return modules.run(**kwargs), modules.plot_panels


def _run_hostlist(opts, log):
    import render

    result = render.run_hostlist(runs=opts.runs or render.HOSTLIST_RUNS, log=log, judge=opts.judge)
    return result, render.hostlist_plot_panels


def _run_slurm_render(opts, log):
    import render

    result = render.run_slurm_render(runs=opts.runs or render.RENDER_RUNS, filter_runs=opts.runs or render.FILTER_RUNS,
                                     log=log, judge=opts.judge)
    return result, render.slurm_plot_panels


_LAB_RESULTS = {}


def _run_lab(opts, log, name):
    """converge, rerun and fanout share one lab session (bench/lab_bench.py): the
    first of them to run measures every wanted one."""
    import lab_bench

    if not _LAB_RESULTS:
        wanted = set(opts.wanted) & {"converge", "rerun", "fanout"}
        sizes = tuple(int(x) for x in opts.fanout_sizes.split(",") if x.strip())
        _LAB_RESULTS["_panels_done"] = False
        try:
            _LAB_RESULTS.update(lab_bench.run(wanted, runs=opts.lab_runs, fanout_runs=opts.fanout_runs, sizes=sizes,
                                              log=log, keep=opts.keep_lab))
        except Exception as exc:
            _LAB_RESULTS["_error"] = exc
            raise
    if "_error" in _LAB_RESULTS:
        raise RuntimeError("the lab session failed: %s" % _LAB_RESULTS["_error"])
    result = _LAB_RESULTS[name]
    panels = None
    if not _LAB_RESULTS["_panels_done"]:
        _LAB_RESULTS["_panels_done"] = True

        def panels(_result):
            return lab_bench.plot_panels(_LAB_RESULTS)
    return result, panels


def _lab_runner(name):
    def runner(opts, log):
        return _run_lab(opts, log, name)
    return runner


# name -> (runner or None, what it measures / why it is not there yet). Order = table order.
SECTIONS = (
    ("converge", _lab_runner("converge"),
     "lab head+2: site.yml converge of fresh containers vs the floor (the same packages and "
     "services by a plain script on fresh containers of the same image), same round"),
    ("rerun", _lab_runner("rerun"), "lab head+2: idempotent rerun of site.yml, its share of the converge, total changed"),
    ("fanout", _lab_runner("fanout"), "lab: idempotent rerun time with 3, 8 and 16 computes, growth per added node"),
    ("modules", _run_modules, "cpu_topology / numa_sysctl / cgroup_partition on synthetic topologies up to 768 CPUs"),
    ("hostlist", _run_hostlist, "hostlist codec and filters, compress and expand of 10,000 names (contiguous, "
                                "fragmented, multi-prefix); target 200 ms each (ours: a tenth of the render's 2 s)"),
    ("slurm_render", _run_slurm_render, "slurm.conf.j2 for 10,000 nodes in 50 hardware classes with ansible's Templar, "
                                        "plus slurm_conf_change; target 2 s for the total (issue 11)"),
)


# --------------------------------------------------------------------------
# host facts
# --------------------------------------------------------------------------


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def _cmd(argv):
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=benchlib.REPO,
                              check=False).stdout.decode().strip() or None
    except OSError:
        return None


def host_facts():
    cpuinfo = _read("/proc/cpuinfo")
    model = None
    for line in cpuinfo.splitlines():
        key, _sep, value = line.partition(":")
        if key.strip() in ("model name", "Model", "CPU part") and value.strip():
            model = value.strip()
            break
    mem_kib = None
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    os_name = None
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            os_name = line.split("=", 1)[1].strip().strip('"')
    try:
        from ansible.release import __version__ as ansible_core
    except ImportError:
        ansible_core = None
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "hostname": platform.node(),
        "cpu_model": model,
        "nproc": affinity or os.cpu_count(),
        "cpus_online": os.cpu_count(),
        "memory_gib": round(mem_kib / 1048576.0, 1) if mem_kib else None,
        "kernel": platform.release(),
        "os": os_name,
        "container": any(os.path.exists(p) for p in ("/.dockerenv", "/run/.containerenv")),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "ansible_core": ansible_core,
        "git_commit": _cmd(["git", "rev-parse", "HEAD"]),
        "git_describe": _cmd(["git", "describe", "--always", "--dirty"]),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


# --------------------------------------------------------------------------
# plot
# --------------------------------------------------------------------------


def write_plot(panels, path, title):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        print("bench: no plot (%s); `make venv` installs matplotlib" % exc, file=sys.stderr)
        return False
    if not panels:
        return False
    cols = min(2, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(7.0 * cols, 5.0 * rows), squeeze=False)
    flat = [ax for line in axes for ax in line]
    for ax, (panel_title, draw) in zip(flat, panels):
        draw(ax)
        ax.set_title(panel_title, fontsize=9)
    for ax in flat[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.98))  # leave the suptitle its own line
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def _previous_sections(opts):
    """--merge: the sections of the latest.json already in --out-dir that this run does
    not measure, each keeping the date and host of the run that measured it."""
    path = os.path.join(opts.out_dir, "latest.json")
    try:
        with open(path) as handle:
            old = json.load(handle)
    except (OSError, ValueError):
        return {}
    kept = {}
    for name, section in old.get("sections", {}).items():
        if name in opts.wanted or section.get("status") in ("not_run", "not_implemented"):
            continue
        section = dict(section)
        section.setdefault("date", old.get("date"))
        section.setdefault("host", old.get("host"))
        kept[name] = section
    return kept


def _kept_panels(previous):
    """Plot panels of the sections --merge kept from an earlier run."""
    panels = []
    if previous.get("modules", {}).get("rows"):
        import modules

        panels.extend(modules.plot_panels(previous["modules"]))
    if previous.get("hostlist", {}).get("rows") or previous.get("slurm_render", {}).get("rows"):
        import render

        if previous.get("hostlist", {}).get("rows"):
            panels.extend(render.hostlist_plot_panels(previous["hostlist"]))
        if previous.get("slurm_render", {}).get("rows"):
            panels.extend(render.slurm_plot_panels(previous["slurm_render"]))
    lab = dict((k, v) for k, v in previous.items() if k in ("converge", "rerun", "fanout"))
    if lab:
        import lab_bench

        panels.extend(lab_bench.plot_panels(lab))
    return panels


def parse_args(argv):
    names = [s[0] for s in SECTIONS]
    p = argparse.ArgumentParser(description="hpcai.cluster benchmarks (issue 11)")
    p.add_argument("--sections", default="all",
                   help="comma-separated, from: %s (default: all; unimplemented ones are recorded as such)" % ", ".join(names))
    p.add_argument("--runs", type=int, default=None, help="in-process runs per figure (modules: 7)")
    p.add_argument("--proc-runs", type=int, default=None, help="process runs per figure (modules: 5)")
    p.add_argument("--topologies", default=None, help="modules: comma-separated tests/sysfs_gen.py catalogue names")
    p.add_argument("--no-process", action="store_true", help="modules: skip the AnsiballZ process runs")
    p.add_argument("--python", default=None, help="modules: target interpreter for process runs (default /usr/bin/python3)")
    p.add_argument("--lab-runs", type=int, default=3, help="converge/rerun: rounds of converge + rerun + floor (default 3)")
    p.add_argument("--fanout-runs", type=int, default=3, help="fanout: reruns per lab size (default 3)")
    p.add_argument("--fanout-sizes", default="3,8,16", help="fanout: compute counts (default 3,8,16)")
    p.add_argument("--keep-lab", action="store_true", help="leave the bench lab (hpcbench-*) running afterwards")
    p.add_argument("--out-dir", default=RESULTS, help="where latest.json / latest.png go (default bench/results)")
    p.add_argument("--merge", action="store_true",
                   help="keep the sections this run does not measure from the latest.json in --out-dir "
                        "(each keeps its own date and host)")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    p.add_argument("--strict", action="store_true", help="exit 1 when a figure misses its target")
    p.add_argument("--judge", choices=benchlib.JUDGES, default="cpu",
                   help="which median is held to a target: cpu (user+system time of the same runs, default) or wall")
    opts = p.parse_args(argv)
    wanted = names if opts.sections == "all" else [s.strip() for s in opts.sections.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in names]
    if unknown:
        p.error("unknown section(s) %s; known: %s" % (", ".join(unknown), ", ".join(names)))
    opts.wanted = wanted
    return opts


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    started = time.time()
    report = {
        "schema": SCHEMA,
        "date": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "host": host_facts(),
        "sections": {},
    }
    panels = []
    failed = []
    previous = _previous_sections(opts) if opts.merge else {}
    for name, runner, what in SECTIONS:
        if name not in opts.wanted:
            not_run = {"section": name, "status": "not_run", "what": what, "rows": []}
            report["sections"][name] = previous.get(name) or not_run
            continue
        if runner is None:
            report["sections"][name] = {"section": name, "status": "not_implemented", "what": what, "rows": []}
            continue
        log("bench: %s" % name)
        t0 = time.time()
        try:
            result, panel_fn = runner(opts, log)
        except Exception as exc:  # one broken section must not hide the others
            traceback.print_exc()
            failed.append(name)
            report["sections"][name] = {"section": name, "status": "error", "what": what, "rows": [],
                                        "error": "%s: %s" % (type(exc).__name__, exc)}
            continue
        result["what"] = what
        result["duration_s"] = round(time.time() - t0, 1)
        result["date"] = report["date"]
        report["sections"][name] = result
        if result.get("status") == "error":  # a partial result: its rows are kept, the run still fails
            failed.append(name)
        if panel_fn is not None:
            panels.extend(panel_fn(result))

    panels.extend(_kept_panels(previous))
    rows = [r for s in report["sections"].values() for r in s.get("rows", [])]
    missed = [r for r in rows if r.get("ok") is False]
    report["host"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["duration_s"] = round(time.time() - started, 1)
    report["summary"] = {
        "figures": len(rows),
        "with_target": sum(1 for r in rows if r.get("target") is not None),
        "missed": [dict((k, r[k]) for k in ("section", "case", "metric", "median", "max", "target")) for r in missed],
        "sections_failed": failed,
        "ok": not missed and not failed,
    }

    os.makedirs(opts.out_dir, exist_ok=True)
    json_path = os.path.join(opts.out_dir, "latest.json")
    with open(json_path + ".tmp", "w") as handle:
        json.dump(report, handle, indent=1, sort_keys=False)
        handle.write("\n")
    os.replace(json_path + ".tmp", json_path)
    png_path = os.path.join(opts.out_dir, "latest.png")
    wrote_png = False
    if not opts.no_plot:
        h = report["host"]
        title = "hpcai.cluster bench %s  |  %s, %s CPUs, %s GiB, %s  |  %s" % (
            report["date"], h["cpu_model"], h["nproc"], h["memory_gib"], h["kernel"], h["git_describe"])
        wrote_png = write_plot(panels, png_path, title)

    # ---- the one table, then what is missing ---------------------------------
    print(benchlib.format_table(rows))
    print()
    h = report["host"]
    print("host: %s, %s CPUs, %s GiB, kernel %s, Python %s, ansible-core %s, %s; load %s -> %s" % (
        h["cpu_model"], h["nproc"], h["memory_gib"], h["kernel"], h["python"], h["ansible_core"], h["git_describe"],
        " ".join(map(str, h["loadavg_start"])), " ".join(map(str, h["loadavg_end"]))))
    for name, section in report["sections"].items():
        if section["status"] == "not_implemented":
            print("not measured: %s: %s" % (name, section["what"]))
        for item in section.get("not_measured", []):
            print("not measured: %s: %s: %s" % (name, item["case"], item["reason"]))
        if section["status"] == "error":
            print("FAILED: section %s: %s" % (name, section["error"]))
    if "modules" in report["sections"] and report["sections"]["modules"].get("rows"):
        print("modules: targets apply to main() (the module's own work) and process-ping (what a task adds over "
              "ansible.builtin.ping); 'process' is the whole AnsiballZ run, shown for scale.")
    if report["summary"]["with_target"]:
        print("targets are held to the %s median (%s)" % (
            opts.judge, "user+system time of the same runs; --judge wall for the wall clock" if opts.judge == "cpu"
            else "--judge cpu for the CPU time of the same runs"))
    busy = max(h["loadavg_start"][0], h["loadavg_end"][0])
    if h["nproc"] and busy > 0.5 * h["nproc"]:
        print("NOTE: the machine was busy (load average up to %.1f on %d CPUs): wall-clock figures include waiting "
              "for other work; the cpu column is the steadier one" % (busy, h["nproc"]))
    if missed:
        print("MISSED TARGETS (%d of %d):" % (len(missed), report["summary"]["with_target"]))
        for r in missed:
            print("  %s %s %s: median %.1f %s > target %g %s" % (r["section"], r["case"], r["metric"], r["median"],
                                                                 r["unit"], r["target"], r["unit"]))
    elif report["summary"]["with_target"]:
        print("all %d figures with a target met it" % report["summary"]["with_target"])
    print("wrote %s%s" % (os.path.relpath(json_path), " and %s" % os.path.relpath(png_path) if wrote_png else ""))
    if failed:
        return 2
    if missed and opts.strict:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
