# -*- coding: utf-8 -*-
"""`make bench` section "modules": the collection's modules on synthetic machines.

    .venv/bin/python bench/modules.py [--runs 7] [--proc-runs 5] [--topologies a,b] [--no-process]

For each topology (``tests/sysfs_gen.py`` specs, written to a temp dir once,
on /dev/shm when it is big enough: real sysfs is in memory too) it measures

in-process (``--runs``, default 7, after one untimed warm-up call)
  ``parser gather()``           topology.gather(root) on the tree
  ``numa_sysctl plan+render``   module_utils.numa_sysctl.plan() + render() on that fact
  ``<module> main()``           the module's main() with its arguments patched in
                                (AnsibleModule, argument checks, the work, JSON out):
                                the module's own cost, without interpreter start-up

as Ansible runs it on a target (``--proc-runs``, default 5)
  ``<module> process``          wall time of a fresh Python reading the AnsiballZ
                                payload on stdin (what pipelining does): interpreter
                                start, unzipping, compiling ansible's module_utils from
                                the zip (no .pyc there), the module, JSON out
  ``<module> process-ping``     the same minus an ``ansible.builtin.ping`` payload run
                                right before it: what the module adds to every task

plus ``python startup`` (``python -c pass``) and ``ansible.builtin.ping process``.
Process runs go round by round (each round: every topology, in a rotating
order, every module case, each after its own ping) so that load changes on the
machine hit every figure alike; compared figures always come from the same run.
Every figure also has its CPU time (user+system of the same runs: this process
for in-process figures, the child for process figures), which other load on
the machine hardly moves; the wall-clock median is what is held to the target.

Module cases: ``cpu_topology`` (root=<tree>); ``numa_sysctl`` (root=<tree>, the
fact passed as ``topology`` the way a role passes it, profile hpc, 10% of memory
as 2M hugepages, dest_root=<tmp>, apply=false); ``numa_sysctl+gather`` (the same
without ``topology``: the module reads the tree itself).  numa_sysctl never gets
root=/ and never apply=true here: nothing under the real /proc/sys is read or
written.  The tree gets the runtime files numa_sysctl reads (proc/sys keys,
kernel release, THP modes, hugepage counters per node).  ``cgroup_partition``
(root=<tree>, the fact as ``topology``, policy per_l3, systemd_version 252,
dest_root=<tmp>, apply=false: drop-ins are written below the bench dir, never a
daemon-reload) and ``cgroup_partition+gather`` (without ``topology``); the tree
also gets a cgroup v2 ``cgroup.controllers`` with cpuset and ``run/systemd/system``
so the enforcement path runs.  The first run writes the drop-ins, the timed runs
are idempotent reruns (compare and nothing to write), which is what a converge
of an already configured node costs.

Target: every module figure (main() and process-ping) under 200 ms: the CPU-time
median by default (what the wall time is on a quiet machine), ``judge="wall"``
holds the wall-clock median to it instead.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402

benchlib.setup_paths()

import sysfs_gen as gen  # noqa: E402

SECTION = "modules"
TARGET_MS = 200.0
REFERENCE = gen.PERF_SPEC  # turin_dense_2p_nps1_smt: 2 x 192 cores x SMT = 768 CPUs
DEFAULT_TOPOLOGIES = (
    "turin_dense_2p_nps1_smt",  # 768 CPUs, 2 nodes, 24 L3
    "turin_dense_2p_nps4_smt",  # 768 CPUs, 8 nodes, 24 L3
    "genoa_2p_nps4_smt",  # 384 CPUs, 8 nodes, 24 L3
    "milan_1p_nps1_nosmt",  # 64 CPUs
    "arm_altra_q80_no_l3",  # 80 CPUs, no L3 at all
)
RUNS = 7
PROC_RUNS = 5
MODULES_DIR = os.path.join(benchlib.REPO, "plugins", "modules")
COLLECTION_MODULES = os.path.join(benchlib.COLLECTION_LINK, "plugins", "modules")

# Runtime files numa_sysctl reads below its root (values of a stock EL9 kernel).
KERNEL_RELEASE = {"x86": "5.14.0-503.40.1.el9_5.x86_64", "arm": "5.14.0-503.40.1.el9_5.aarch64"}
PROC_SYS = {
    "kernel.numa_balancing": "1",
    "kernel.sched_autogroup_enabled": "1",
    "vm.zone_reclaim_mode": "0",
    "vm.min_free_kbytes": "90112",
    "vm.swappiness": "60",
    "vm.max_map_count": "65530",
    "vm.dirty_bytes": "0",
    "vm.dirty_background_bytes": "0",
    "vm.dirty_ratio": "20",
    "vm.dirty_background_ratio": "10",
    "vm.watermark_scale_factor": "10",
}
THP_ENABLED = "always [madvise] never\n"
THP_DEFRAG = "always defer defer+madvise [madvise] never\n"
HUGEPAGE_SIZES_KB = (2048, 1048576)
NUMA_ARGS = {"profile": "hpc", "hugepages": {"size": "2M", "percent_of_memory": 10}, "apply": False}
CGROUP_ARGS = {"policy": "per_l3", "systemd_version": 252, "apply": False}
CGROUP_CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma misc\n"


def _cpu_topology_args(t):
    return {"root": t.root}


def _numa_args(t, with_topology):
    args = dict(NUMA_ARGS, root=t.root, dest_root=t.dest_root("numa_sysctl+gather" if not with_topology else "numa_sysctl"))
    if with_topology:
        args["topology"] = t.fact
    return args


def _cgroup_args(t, with_topology):
    case = "cgroup_partition" if with_topology else "cgroup_partition+gather"
    args = dict(CGROUP_ARGS, root=t.root, dest_root=t.dest_root(case))
    if with_topology:
        args["topology"] = t.fact
    return args


def _check_cgroup(t, result):
    fact = result["ansible_facts"]["hpcai_cgroup_partition"]
    got = fact["cpus_online"]
    if got != t.fact["cpus_online"]:
        raise AssertionError("cgroup_partition on %s partitioned %s, expected %s" % (t.name, got, t.fact["cpus_online"]))
    if not result["enforcement"]["allowed_cpus"]:
        raise AssertionError("cgroup_partition on %s did not reach the enforcement path: %s"
                             % (t.name, result["enforcement"]["reason"]))
    if result["daemon_reload"] or any(not f.startswith(t.tmp) for f in result["files"]):
        raise AssertionError("cgroup_partition on %s reloaded systemd or wrote outside the bench dir" % t.name)


def _check_cpu_topology(t, result):
    got = result["ansible_facts"]["hpcai_cpu_topology"]["counts"]["cpus_online"]
    if got != t.cpus:
        raise AssertionError("cpu_topology on %s: %s CPUs online, expected %s" % (t.name, got, t.cpus))


def _check_numa(t, result):
    if result.get("applied"):
        raise AssertionError("numa_sysctl on %s applied live values with apply=false: %s" % (t.name, result["applied"]))
    if not result["file"].startswith(t.tmp):
        raise AssertionError("numa_sysctl on %s wrote %s outside the bench dir" % (t.name, result["file"]))


# (case, module file, args builder, result check); a module missing here is "not measured".
CASES = (
    ("cpu_topology", "cpu_topology", _cpu_topology_args, _check_cpu_topology),
    ("numa_sysctl", "numa_sysctl", lambda t: _numa_args(t, True), _check_numa),
    ("numa_sysctl+gather", "numa_sysctl", lambda t: _numa_args(t, False), _check_numa),
    ("cgroup_partition", "cgroup_partition", lambda t: _cgroup_args(t, True), _check_cgroup),
    ("cgroup_partition+gather", "cgroup_partition", lambda t: _cgroup_args(t, False), _check_cgroup),
)
PLANNED_MODULES = ("cpu_topology", "numa_sysctl", "cgroup_partition")


class Topology(object):
    """One synthetic machine written below ``tmp``."""

    def __init__(self, spec, tmp):
        self.spec = spec
        self.name = spec["name"]
        self.tmp = tmp
        self.root = gen.build_tree(os.path.join(tmp, "root"), spec, full=True)
        from ansible_collections.hpcai.cluster.plugins.module_utils.topology import gather

        self.fact = gather(self.root)
        self.cpus = self.fact["counts"]["cpus_online"]
        self.release = KERNEL_RELEASE["arm" if spec["arch"] == "arm" else "x86"]
        add_runtime_files(self.root, self.fact, self.release)

    def dest_root(self, case):
        return os.path.join(self.tmp, "dest", case)

    def describe(self):
        c = self.fact["counts"]
        return {
            "case": self.name,
            "model_name": self.fact.get("model_name"),
            "cpus": self.cpus,
            "cores": c["cores"],
            "sockets": c["sockets"],
            "numa_nodes": c["numa_nodes"],
            "l3_domains": c["l3_domains"],
            "threads_per_core": self.fact.get("threads_per_core"),
            "kernel_release": self.release,
        }


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def add_runtime_files(root, fact, release):
    """What numa_sysctl and cgroup_partition read besides the topology: proc/sys, THP, hugepage
    counters, a cgroup v2 root with cpuset and systemd's run directory."""
    for key, value in PROC_SYS.items():
        _write(os.path.join(root, "proc/sys", key.replace(".", "/")), value + "\n")
    _write(os.path.join(root, "proc/sys/kernel/osrelease"), release + "\n")
    _write(os.path.join(root, "sys/fs/cgroup/cgroup.controllers"), CGROUP_CONTROLLERS)
    os.makedirs(os.path.join(root, "run/systemd/system"), exist_ok=True)
    _write(os.path.join(root, "sys/kernel/mm/transparent_hugepage/enabled"), THP_ENABLED)
    _write(os.path.join(root, "sys/kernel/mm/transparent_hugepage/defrag"), THP_DEFRAG)
    for size in HUGEPAGE_SIZES_KB:
        _write(os.path.join(root, "sys/kernel/mm/hugepages/hugepages-%dkB/nr_hugepages" % size), "0\n")
        for node in fact["numa_nodes"]:
            _write(os.path.join(root, "sys/devices/system/node/node%d/hugepages/hugepages-%dkB/nr_hugepages"
                                % (node["id"], size)), "0\n")


def resolve(topology):
    """A catalogue name or a spec dict -> spec dict."""
    if isinstance(topology, dict):
        return gen.make_spec(topology)
    try:
        return gen.CATALOGUE[topology]
    except KeyError:
        raise SystemExit("bench/modules.py: unknown topology %r (see tests/sysfs_gen.py catalogue())" % topology)


def default_python():
    """A target-like interpreter: the system python3 (what interpreter discovery
    picks on a Debian/EL target, no ansible installed), else this one."""
    for path in ("/usr/bin/python3", sys.executable):
        if path and os.access(path, os.X_OK):
            return path
    return sys.executable


# --------------------------------------------------------------------------
# in-process
# --------------------------------------------------------------------------


def _import_module(name):
    import importlib

    return importlib.import_module("ansible_collections.hpcai.cluster.plugins.modules.%s" % name)


@contextlib.contextmanager
def _module_args(args):
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # ansible-core < 2.19
        from unittest import mock

        from ansible.module_utils import basic

        with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()):
            yield
        return
    with patch_module_args(args):
        yield


def call_main(module, args):
    """Run ``module.main()`` in-process; return its JSON result."""
    out = io.StringIO()
    with _module_args(args), contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass
    return parse_result(out.getvalue())


def parse_result(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON result in module output: %r" % text[-500:])


def _ok(result, what):
    if result.get("failed"):
        raise AssertionError("%s failed: %s" % (what, result.get("msg")))
    return result


def measure_inprocess(t, runs, cases, judge="cpu"):
    from ansible_collections.hpcai.cluster.plugins.module_utils import numa_sysctl as nsu
    from ansible_collections.hpcai.cluster.plugins.module_utils.topology import gather

    rows = []
    extra = {"cpus": t.cpus, "kind": "inprocess", "judge": judge}
    wall, cpu = benchlib.time_calls(lambda: gather(t.root), runs)
    rows.append(benchlib.row(SECTION, t.name, "parser gather()", wall, cpu=cpu, module="parser", **extra))
    available = set(PROC_SYS)
    thp_choices = {"enabled": ["always", "madvise", "never"], "defrag": ["always", "defer", "defer+madvise", "madvise", "never"]}

    def plan_render():
        result = nsu.plan(t.fact, profile=NUMA_ARGS["profile"], available_keys=available, kernel_release=t.release,
                          hugepages=dict(NUMA_ARGS["hugepages"], per_node=None, nodes=None, include_cpuless=False),
                          thp_choices=thp_choices, hugepage_sizes=set(HUGEPAGE_SIZES_KB))
        return nsu.render(result)

    wall, cpu = benchlib.time_calls(plan_render, runs)
    rows.append(benchlib.row(SECTION, t.name, "numa_sysctl plan+render", wall, cpu=cpu, module="numa_sysctl plan", **extra))
    from ansible_collections.hpcai.cluster.plugins.module_utils import cgroup_partition as cpu_part

    wall, cpu = benchlib.time_calls(lambda: cpu_part.plan(t.fact, policy=CGROUP_ARGS["policy"]), runs)
    rows.append(benchlib.row(SECTION, t.name, "cgroup_partition plan()", wall, cpu=cpu, module="cgroup_partition plan",
                             **extra))
    for case, modname, build_args, check in cases:
        module = _import_module(modname)
        args = build_args(t)
        check(t, _ok(call_main(module, args), "%s main() on %s" % (case, t.name)))  # also the warm-up
        wall, cpu = benchlib.time_calls(lambda: call_main(module, args), runs, warmup=0)
        rows.append(benchlib.row(SECTION, t.name, "%s main()" % case, wall, cpu=cpu, target=TARGET_MS, module=case, **extra))
    return rows


# --------------------------------------------------------------------------
# as Ansible runs it: AnsiballZ payload piped into a fresh interpreter
# --------------------------------------------------------------------------


def build_payloads(jobs, tmp, python):
    """Write AnsiballZ payloads for ``jobs`` (child process, see _ansiballz.py)."""
    jobs_file = os.path.join(tmp, "ansiballz-jobs.json")
    with open(jobs_file, "w") as handle:
        json.dump(jobs, handle)
    env = dict(os.environ)
    env["HPCAI_BENCH_COLLECTIONS"] = benchlib.COLLECTIONS
    env["ANSIBLE_LOCAL_TEMP"] = os.path.join(tmp, "ansible-local")
    env.setdefault("ANSIBLE_CONFIG", os.path.join(benchlib.REPO, "ansible.cfg"))
    proc = subprocess.run(
        [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ansiballz.py"), jobs_file],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=benchlib.REPO, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError("building AnsiballZ payloads failed:\n%s" % proc.stderr.decode(errors="replace")[-3000:])
    return json.loads(proc.stdout)


def _target_env():
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV")
    return env


def _children_cpu_ms():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000.0


def run_process(argv, payload, cwd, env):
    """(wall ms, child CPU ms, completed process); processes run one at a time, so
    the RUSAGE_CHILDREN delta is this child's user+system time."""
    cpu0 = _children_cpu_ms()
    start = benchlib.now_ms()
    proc = subprocess.run(argv, input=payload, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env, check=False)
    elapsed = benchlib.now_ms() - start
    return elapsed, _children_cpu_ms() - cpu0, proc


def run_payload(python, payload, cwd, env):
    """(wall ms, CPU ms, parsed result) of one payload run the way pipelining does it."""
    elapsed, cpu, proc = run_process([python], payload, cwd, env)
    try:
        result = parse_result(proc.stdout.decode(errors="replace"))
    except ValueError:
        raise RuntimeError("payload produced no result (rc %d): %s" % (proc.returncode, proc.stderr.decode(errors="replace")[-2000:]))
    return elapsed, cpu, result


def measure_processes(topologies, proc_runs, cases, python, tmp, log, judge="cpu"):
    remote_tmp = os.path.join(tmp, "remote-tmp")
    os.makedirs(remote_tmp, exist_ok=True)
    import ansible

    ping_path = os.path.join(os.path.dirname(ansible.__file__), "modules", "ping.py")
    jobs = [{"module": "ansible.builtin.ping", "path": ping_path, "args": {}, "out": os.path.join(tmp, "payload-ping.py"),
             "interpreter": python, "remote_tmp": remote_tmp, "label": "ansible.builtin.ping"}]
    for t in topologies:
        for case, modname, build_args, _check in cases:
            jobs.append({
                "module": "hpcai.cluster.%s" % modname,
                "path": os.path.join(COLLECTION_MODULES, modname + ".py"),
                "args": build_args(t),
                "out": os.path.join(t.tmp, "payload-%s.py" % case),
                "interpreter": python,
                "remote_tmp": remote_tmp,
                "label": "%s %s" % (t.name, case),
            })
    built = build_payloads(jobs, tmp, python)
    payloads = {}
    for job in jobs:
        with open(job["out"], "rb") as handle:
            payloads[job["out"]] = handle.read()
    ping = payloads[jobs[0]["out"]]
    env = _target_env()
    cwd = tmp

    # warm the page cache / interpreter files once (untimed)
    run_payload(python, ping, cwd, env)
    samples = {}  # key -> ([wall], [cpu])

    def add(key, wall_ms, cpu_ms):
        entry = samples.setdefault(key, ([], []))
        entry[0].append(wall_ms)
        entry[1].append(cpu_ms)

    checks = dict((c[0], c[3]) for c in cases)
    for rnd in range(proc_runs):
        log("  modules: process round %d/%d" % (rnd + 1, proc_runs))
        wall_ms, cpu_ms, proc = run_process([python, "-c", "pass"], None, cwd, env)
        if proc.returncode != 0:
            raise RuntimeError("%s -c pass failed: %s" % (python, proc.stderr.decode(errors="replace")))
        add("startup", wall_ms, cpu_ms)
        shift = rnd % len(topologies)
        for t in topologies[shift:] + topologies[:shift]:
            for case, _mod, _args, _check in cases:
                # a ping right before each module run: the pair shares the machine's load of the moment
                ping_wall, ping_cpu, result = run_payload(python, ping, cwd, env)
                _ok(result, "ansible.builtin.ping")
                add("ping", ping_wall, ping_cpu)
                wall_ms, cpu_ms, result = run_payload(python, payloads[os.path.join(t.tmp, "payload-%s.py" % case)], cwd, env)
                checks[case](t, _ok(result, "%s payload on %s" % (case, t.name)))
                add((t.name, case), wall_ms, cpu_ms)
                add((t.name, case, "delta"), wall_ms - ping_wall, cpu_ms - ping_cpu)

    host = {"kind": "process", "cpus": None}

    def fig(case, metric, key, **kw):
        wall, cpu = samples[key]
        return benchlib.row(SECTION, case, metric, wall, cpu=cpu, judge=judge, **kw)

    rows = [
        fig("-", "python startup", "startup", module="python", **host),
        fig("-", "ansible.builtin.ping process", "ping", module="ping", **host),
    ]
    per_topology = {}
    for t in topologies:
        out = []
        extra = {"cpus": t.cpus, "kind": "process"}
        for case, _mod, _args, _check in cases:
            out.append(fig(t.name, "%s process" % case, (t.name, case), module=case, **extra))
            out.append(fig(t.name, "%s process-ping" % case, (t.name, case, "delta"), target=TARGET_MS, module=case, **extra))
        per_topology[t.name] = out
    payload_bytes = dict((job["label"], built[job["out"]]["bytes"]) for job in jobs)
    return rows, per_topology, payload_bytes


# --------------------------------------------------------------------------
# the section
# --------------------------------------------------------------------------


def not_measured(cases=CASES):
    have = set(c[1] for c in cases)
    out = []
    for name in PLANNED_MODULES:
        if name in have:
            continue
        if os.path.exists(os.path.join(MODULES_DIR, name + ".py")):
            reason = "module exists but bench/modules.py has no arguments for it yet (add it to CASES)"
        else:
            reason = "module not written yet"
        out.append({"case": name, "reason": reason})
    return out


def run(topologies=DEFAULT_TOPOLOGIES, runs=RUNS, proc_runs=PROC_RUNS, process=True, python=None, tmp_base=None,
        log=None, cases=CASES, proc_cases=None, judge="cpu"):
    """Run the section; return ``{"section", "status", "config", "topologies", "rows", "not_measured", ...}``.

    ``topologies``: sysfs_gen catalogue names or spec dicts; ``proc_cases``: names
    of the CASES also run as processes (default: all of ``cases``)."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    python = python or default_python()
    tmp_base = tmp_base if tmp_base is not None else gen.fast_tmp_base()
    tmp = tempfile.mkdtemp(prefix="hpcai-bench-", dir=tmp_base)
    try:
        specs = [resolve(t) for t in topologies]
        built = []
        for spec in specs:
            log("  modules: writing the %s tree" % spec["name"])
            start = benchlib.now_ms()
            built.append(Topology(spec, os.path.join(tmp, spec["name"])))
            log("  modules: %s: %d CPUs, %.1f s" % (spec["name"], built[-1].cpus, (benchlib.now_ms() - start) / 1000.0))
        per_topology = dict((t.name, []) for t in built)
        for t in built:
            log("  modules: in-process x%d on %s" % (runs, t.name))
            per_topology[t.name].extend(measure_inprocess(t, runs, cases, judge))
        rows = []
        payload_bytes = {}
        target_python = None
        if process:
            target_python = _python_version(python)
            selected = [c for c in cases if proc_cases is None or c[0] in proc_cases]
            host_rows, proc_rows, payload_bytes = measure_processes(built, proc_runs, selected, python, tmp, log, judge)
            rows.extend(host_rows)
            for name, extra in proc_rows.items():
                per_topology[name].extend(extra)
        for t in built:
            rows.extend(per_topology[t.name])
        return {
            "section": SECTION,
            "status": "ok",
            "target_ms": TARGET_MS,
            "config": {
                "runs_inprocess": runs,
                "runs_process": proc_runs if process else 0,
                "process": bool(process),
                "target_python": python if process else None,
                "target_python_version": target_python,
                "tree_dir": tmp_base or tempfile.gettempdir(),
                "cases": [c[0] for c in cases],
                "process_cases": [c[0] for c in cases if process and (proc_cases is None or c[0] in proc_cases)],
                "numa_sysctl_args": dict(NUMA_ARGS, root="<tree>", dest_root="<tmp>"),
                "cgroup_partition_args": dict(CGROUP_ARGS, root="<tree>", dest_root="<tmp>"),
                "reference": REFERENCE,
                "judge": judge,
            },
            "topologies": [t.describe() for t in built],
            "payload_bytes": payload_bytes,
            "rows": rows,
            "not_measured": not_measured(cases),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _python_version(python):
    proc = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"], stdout=subprocess.PIPE,
                          env=_target_env(), check=False)
    return proc.stdout.decode().strip() or None


# --------------------------------------------------------------------------
# plot panels (bench/run.py draws them)
# --------------------------------------------------------------------------


def plot_panels(result):
    """[(title, draw(ax))] for bench/run.py: module time vs CPU count (log x; a
    second topology with the same CPU count is drawn a little to the right)."""
    rows = [r for r in result["rows"] if r.get("cpus")]
    if not rows:
        return []
    xpos = {}
    for cpus, case in sorted(set((r["cpus"], r["case"]) for r in rows)):
        same = sum(1 for (c, _n) in xpos if c == cpus)
        xpos[(cpus, case)] = cpus * (1.18 ** same)
    ping = [r for r in result["rows"] if r["metric"] == "ansible.builtin.ping process"]

    def series(metrics):
        out = []
        for metric in metrics:
            pts = sorted((xpos[(r["cpus"], r["case"])], r["case"], r) for r in rows if r["metric"] == metric)
            if pts:
                out.append((metric, [p[2] for p in pts]))
        return out

    def draw(ax, metrics, field, logy=False, floor=None):
        for label, pts in series(metrics):
            xs = [xpos[(p["cpus"], p["case"])] for p in pts]
            med = [p[field + "median"] for p in pts]
            lo = [max(0.0, p[field + "median"] - p[field + "min"]) for p in pts]
            hi = [max(0.0, p[field + "max"] - p[field + "median"]) for p in pts]
            ax.errorbar(xs, med, yerr=[lo, hi], marker="o", markersize=4, capsize=3, label=label)
        ax.axhline(result.get("target_ms", TARGET_MS), color="red", linestyle="--", linewidth=1,
                   label="target %g ms" % result.get("target_ms", TARGET_MS))
        if floor is not None:
            ax.axhline(floor, color="grey", linestyle=":", linewidth=1.5, label="ansible.builtin.ping process (median)")
        ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ticks = sorted(xpos.items(), key=lambda item: item[1])
        ax.set_xticks([x for _k, x in ticks])
        ax.set_xticklabels(["%d\n%s" % (k[0], k[1]) for k, _x in ticks], fontsize=6, rotation=35, ha="right")
        ax.minorticks_off()
        ax.set_xlabel("CPUs (synthetic topology)", fontsize=8)
        ax.set_ylabel("ms: median, bars min..max" + (" (CPU time)" if field else " (wall clock)"), fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6)

    cases = result["config"]["cases"]
    inproc = ["%s main()" % c for c in cases] + ["parser gather()", "numa_sysctl plan+render", "cgroup_partition plan()"]
    panels = [("modules in-process: the module's own work (wall)", lambda ax: draw(ax, inproc, "", logy=True))]
    proc_cases = result["config"].get("process_cases") or []
    if proc_cases:
        floor = ping[0]["median"] if ping else None
        proc = ["%s process" % c for c in proc_cases] + ["%s process-ping" % c for c in proc_cases]
        panels.append(("modules as tasks run them: AnsiballZ payload -> %s (wall)"
                       % (result["config"].get("target_python") or "python"),
                       lambda ax: draw(ax, proc, "", floor=floor)))
        cpu = ["%s process-ping" % c for c in proc_cases] + ["%s main()" % c for c in proc_cases]
        panels.append(("what a module adds to a task: process-ping and main() (CPU time)",
                       lambda ax: draw(ax, cpu, "cpu_")))
    return panels


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="in-process runs per figure (default %(default)s)")
    parser.add_argument("--proc-runs", type=int, default=PROC_RUNS, help="process runs per figure (default %(default)s)")
    parser.add_argument("--topologies", default=",".join(DEFAULT_TOPOLOGIES), help="comma-separated sysfs_gen catalogue names")
    parser.add_argument("--no-process", action="store_true", help="in-process figures only")
    parser.add_argument("--python", default=None, help="target interpreter for the process runs (default: /usr/bin/python3)")
    parser.add_argument("--judge", choices=benchlib.JUDGES, default="cpu", help="median held to the target (default %(default)s)")
    parser.add_argument("--json", default=None, help="also write the section result here")
    args = parser.parse_args(argv)
    result = run(topologies=[t for t in args.topologies.split(",") if t], runs=args.runs, proc_runs=args.proc_runs,
                 process=not args.no_process, python=args.python, judge=args.judge)
    print(benchlib.format_table(result["rows"]))
    for item in result["not_measured"]:
        print("not measured: %s (%s)" % (item["case"], item["reason"]))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
