# -*- coding: utf-8 -*-
"""`make reliability`: faults, load and secrets on a lab of its own (issue 12).

    .venv/bin/python tests/reliability/run.py [--jobs 500] [--keep]

Runs on containers ``hpcrel-*`` (lab/labrun.py), so `make lab`'s lab is left
alone.  In order, each step a check with figures:

1. kill: site.yml -vvv on fresh nodes is killed (SIGKILL, the whole process
   group) once the play is past the base layer; the rerun -vvv completes
   without failures, and no task that had already reported `changed` on a host
   before the kill reports it again there (changed only where needed); a
   further rerun reports changed=0 and validate.yml finds no drift.
2. secrets: the munge key (hex and base64), the slurmdbd database password
   and the cluster root SSH private key are searched in every byte of the
   -vvv output and in the nodes' logs (journal, /var/log): 0 hits.
3. permissions: munge.key 0400 munge:munge on every node, slurmdbd.conf 0600
   slurm, the cluster root key 0600 root, the SSH host keys 0600; no
   world-writable file or directory (without the sticky bit) that a fresh
   node of the same image does not have.
4. stop: a compute container is stopped while slurm.yml runs; the play ends
   for the other nodes without failures and reports that node unreachable;
   after `docker start` a rerun converges and the node runs jobs again.
5. slurmctld: jobs are running while slurmctld restarts; every job ends
   COMPLETED and is in sacct.
6. load: ``--jobs`` (500) short jobs; slurmd on a compute restarts in the
   middle of the burst; every job ends COMPLETED and appears in sacct.

Writes build/hpcrel/reliability.json; exit 1 when a check fails.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "lab"))

import labrun  # noqa: E402

LAB = labrun.Lab("hpcrel", "172.30.79.0/24")
COMPUTES = 2
DB_PASSWORD_VAR = "slurm_dbd_db_password"

WORLD_WRITABLE = (r"find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run \) -prune -o "
                  r"\( -type f -perm -0002 -print \) -o \( -type d -perm -0002 ! -perm -1000 -print \) 2>/dev/null "
                  r"| sort")


class Report(object):
    def __init__(self):
        self.checks = []
        self.figures = {}
        self.started = time.time()

    def check(self, step, what, ok, detail=""):
        self.checks.append({"step": step, "check": what, "ok": bool(ok), "detail": detail})
        print("%-4s %-10s %s%s" % ("ok" if ok else "FAIL", step, what, (": " + detail) if detail else ""), flush=True)
        return ok

    def figure(self, name, value):
        self.figures[name] = value
        print("     figure %s = %s" % (name, value), flush=True)


def log(msg):
    print("reliability: %s" % msg, flush=True)


def wait_until(fn, timeout, interval=2.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    return fn()


def head_sh(script, check=True):
    rc, out, err = LAB.exec(LAB.head, script, check=check)
    return out if check else (rc, out, err)


# ---------------------------------------------------------------------- steps
def step_kill(report, nodes):
    """Kill site.yml past the base layer, rerun, rerun again, validate."""
    proc = LAB.start_playbook("playbooks/site.yml", "1-kill", "-vvv")
    path = LAB.log_path("1-kill")

    def past_base():
        with open(path, errors="replace") as handle:
            return "PLAY [Kernel tuning layer" in handle.read()

    reached = wait_until(lambda: past_base() or proc.poll() is not None, timeout=900, interval=1.0)
    time.sleep(5)  # into the kernel_tuning layer: some of its tasks ran, most did not
    finished = proc.poll() is not None
    if not finished:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.log_handle.close()
    with open(path, errors="replace") as handle:
        killed_out = handle.read()
    report.check("kill", "site.yml killed in the middle of the play", reached and not finished,
                 "killed after %d tasks" % killed_out.count("\nTASK ["))
    # a task in flight when the kill came may have half-happened: it may change again
    before = labrun.changed_tasks(killed_out)
    last_task = None
    for line in killed_out.splitlines():
        if line.startswith("TASK ["):
            last_task = line[len("TASK ["):].split("]")[0]
    before = [t for t in before if not t.startswith(last_task + " (")] if last_task else before

    seconds, hosts, _cpu, out = LAB.playbook("playbooks/site.yml", "1-resume", "-vvv", allow_failed=True)
    bad = sorted(h for h, r in hosts.items() if r["failed"] or r["unreachable"])
    report.check("kill", "the rerun after the kill completes on every node", not bad and set(hosts) == set(nodes),
                 "%.0f s, changed=%d" % (seconds, sum(r["changed"] for r in hosts.values())) if not bad
                 else "failed on " + " ".join(bad))
    again = sorted(set(before) & set(labrun.changed_tasks(out)))
    report.check("kill", "no task changed twice (what changed before the kill is ok after it)", not again,
                 "%d task results changed before the kill, %d again: %s" % (len(before), len(again), "; ".join(again[:5])))
    report.figure("kill_changed_before", len(before))
    report.figure("kill_resume_changed", sum(r["changed"] for r in hosts.values()))
    seconds, hosts, _cpu, out = LAB.playbook("playbooks/site.yml", "1-rerun", allow_failed=True)
    changed = sum(r["changed"] for r in hosts.values())
    report.check("kill", "then a rerun reports changed=0", changed == 0 and not any(r["failed"] for r in hosts.values()),
                 "%.0f s; %s" % (seconds, "; ".join(labrun.changed_tasks(out)[:5]) or "changed=0"))
    _s, hosts, _c, out = LAB.playbook("playbooks/validate.yml", "1-validate", allow_failed=True)
    report.check("kill", "validate.yml finds no drift", not any(r["failed"] for r in hosts.values()),
                 _drift_summary(out))
    return [LAB.log_path("1-kill"), LAB.log_path("1-resume")]


def _drift_summary(output):
    """validate.yml's own verdict line ("no drift on N nodes" / "differs ..."), not a task header."""
    lines = [line.strip().strip('"').strip("'") for line in output.splitlines()
             if ("no drift" in line or "differs from its configuration" in line) and not line.startswith("TASK")]
    return lines[-1][:200] if lines else ""


def secrets(nodes):
    """{label: text} of every secret the converge made or used."""
    found = {}
    key = head_sh("cat /etc/munge/munge.key").strip()
    if key:
        found["munge key (hex)"] = key
        found["munge key (base64)"] = base64.b64encode(key.encode()).decode()
    priv = head_sh("cat /root/.ssh/id_ed25519 2>/dev/null || true")
    body = [line for line in priv.splitlines() if line and not line.startswith("-----")]
    if body:
        found["cluster root SSH private key"] = max(body, key=len)
    with open(os.path.join(REPO, "inventories", "lab", "group_vars", "all.yml")) as handle:
        for line in handle:
            if line.startswith(DB_PASSWORD_VAR + ":"):
                found["slurmdbd database password"] = line.split(":", 1)[1].strip().strip("'\"")
    stored = head_sh("sed -n 's/^StoragePass=//p' /etc/slurm/slurmdbd.conf 2>/dev/null || true").strip()
    if stored:
        found["slurmdbd StoragePass"] = stored
    return found


def step_secrets(report, nodes, logs):
    values = secrets(nodes)
    report.check("secrets", "the secrets to look for exist", {"munge key (hex)", "slurmdbd database password",
                                                              "cluster root SSH private key"} <= set(values),
                 ", ".join(sorted(values)))
    texts = {}
    for path in logs:
        with open(path, errors="replace") as handle:
            texts[os.path.relpath(path, REPO)] = handle.read()
    for node in nodes:
        _rc, out, _err = LAB.exec(node, "journalctl --no-pager -o cat 2>/dev/null || true; "
                                        "grep -rsI '' /var/log 2>/dev/null | cut -c1-4000 || true")
        texts["%s: journal + /var/log" % node] = out
    hits = []
    for label, value in values.items():
        for where, text in texts.items():
            if value and value in text:
                hits.append("%s in %s" % (label, where))
    scanned = sum(len(t) for t in texts.values())
    report.figure("secrets_searched", len(values))
    report.figure("secrets_bytes_scanned", scanned)
    report.figure("secrets_found", len(hits))
    report.check("secrets", "no secret in the -vvv output or the nodes' logs", not hits,
                 "%d secrets x %d sources (%.1f MB)%s" % (len(values), len(texts), scanned / 1e6,
                                                          ": " + "; ".join(hits) if hits else ""))


def step_permissions(report, nodes, baseline):
    expect = [("/etc/munge/munge.key", "400 munge munge", nodes),
              ("/etc/slurm/slurmdbd.conf", "600 slurm slurm", [LAB.head]),
              ("/root/.ssh/id_ed25519", "600 root root", nodes),
              ("/root/.ssh", "700 root root", nodes)]
    for path, want, where in expect:
        got = {n: LAB.exec(n, "stat -c '%a %U %G' " + path)[1].strip() for n in where}
        wrong = {n: g for n, g in got.items() if g != want}
        report.check("perms", "%s is %s" % (path, want), not wrong, json.dumps(wrong) if wrong else "%d nodes" % len(got))
    host_keys = {n: LAB.exec(n, "stat -c '%a %U' /etc/ssh/ssh_host_*_key")[1].split("\n") for n in nodes}
    wrong = {n: [k for k in keys if k.strip() and k.strip() != "600 root"] for n, keys in host_keys.items()}
    wrong = {n: k for n, k in wrong.items() if k}
    report.check("perms", "SSH host keys are 600 root", not wrong, json.dumps(wrong) if wrong else "")
    created = {}
    for node in nodes:
        now = set(LAB.exec(node, WORLD_WRITABLE)[1].split())
        extra = sorted(now - baseline)
        if extra:
            created[node] = extra[:10]
    report.figure("world_writable_created", sum(len(v) for v in created.values()))
    report.check("perms", "no world-writable file or directory created", not created, json.dumps(created)[:400])


def step_stop(report, nodes, image):
    victim = nodes[-1]
    proc = LAB.start_playbook("playbooks/slurm.yml", "4-stop")
    path = LAB.log_path("4-stop")

    def started_tasks():
        with open(path, errors="replace") as handle:
            return handle.read().count("\nTASK [") >= 8

    wait_until(started_tasks, timeout=300, interval=0.5)
    LAB.docker("stop", "-t", "5", victim)
    stopped_at = time.time()
    proc.wait()
    proc.log_handle.close()
    with open(path, errors="replace") as handle:
        out = handle.read()
    hosts = labrun.recap(out)
    others = {h: r for h, r in hosts.items() if h != victim}
    report.check("stop", "the play finished for the other nodes", proc.returncode != 0 and others and
                 all(not r["failed"] and not r["unreachable"] for r in others.values()) and
                 set(others) == set(nodes) - {victim},
                 "rc %d, %d s after the stop; %s" % (proc.returncode, time.time() - stopped_at,
                                                     ", ".join("%s ok=%d" % (h, r["ok"]) for h, r in sorted(others.items()))))
    report.check("stop", "the recap reports %s" % victim, victim in hosts and
                 (hosts[victim]["unreachable"] or hosts[victim]["failed"]), json.dumps(hosts.get(victim)))
    LAB.docker("start", victim)
    wait_until(lambda: LAB.exec(victim, "systemctl is-system-running")[1].strip() in ("running", "degraded"), 90)
    seconds, hosts, _cpu, out = LAB.playbook("playbooks/slurm.yml", "4-return", allow_failed=True)
    converged = not any(r["failed"] or r["unreachable"] for r in hosts.values())
    report.check("stop", "after it returns, a rerun converges", converged,
                 "%.0f s, changed: %s" % (seconds, "; ".join(labrun.changed_tasks(out)[:6]) or "none"))
    short = victim

    def runs_jobs():
        rc, out, _err = head_sh("timeout 60 srun -N1 -w %s hostname" % short, check=False)
        return rc == 0 and out.strip() == short

    ok = wait_until(runs_jobs, 120, interval=5)
    report.check("stop", "%s runs jobs again" % victim, ok, head_sh("sinfo -h -N -o '%N %t'", check=False)[1].strip()
                 .replace("\n", ", "))


def submit(count, script, extra=""):
    """Submit `count` jobs from the head node; returns their ids."""
    out = head_sh("for i in $(seq %d); do sbatch --parsable %s -o /dev/null --wrap %s; done"
                  % (count, extra, json.dumps(script)))
    return [line.split(";")[0] for line in out.split() if line.strip()]


def sacct_states(ids):
    """{jobid: state} from the accounting database (allocations only)."""
    states = {}
    wanted = set(ids)
    for start in range(0, len(ids), 200):
        chunk = ",".join(ids[start:start + 200])
        rc, out, _err = head_sh("sacct -n -X -P -o JobID,State -j %s" % chunk, check=False)
        if rc != 0:
            continue
        for line in out.splitlines():
            job, _sep, state = line.partition("|")
            if job in wanted:
                states[job] = state.split()[0] if state else ""
    return states


def wait_jobs(ids, timeout):
    """Wait until no job of `ids` is pending/running and sacct has them all; returns states."""
    def done():
        rc, out, _err = head_sh("squeue -h -o %i", check=False)
        queued = set(out.split()) & set(ids) if rc == 0 else set(ids)
        if queued:
            return None
        states = sacct_states(ids)
        final = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY")
        return states if len(states) == len(ids) and all(s in final for s in states.values()) else None
    return wait_until(done, timeout, interval=3) or sacct_states(ids)


def step_slurmctld(report):
    ids = submit(6, "sleep 25")
    running = wait_until(lambda: len(head_sh("squeue -h -t R -o %i", check=False)[1].split()) >= 1, 120)
    rc = head_sh("systemctl restart slurmctld", check=False)[0]
    up = wait_until(lambda: head_sh("scontrol ping", check=False)[1].count("UP") > 0, 60)
    states = wait_jobs(ids, 300)
    completed = sum(1 for s in states.values() if s == "COMPLETED")
    report.figure("slurmctld_restart_jobs", len(ids))
    report.check("slurmctld", "jobs survive a slurmctld restart and are accounted",
                 bool(running) and rc == 0 and bool(up) and completed == len(ids),
                 "%d submitted, %d COMPLETED in sacct%s" % (
                     len(ids), completed, "" if completed == len(ids) else ": " + json.dumps(states)[:300]))


def step_load(report, nodes, jobs):
    victim = nodes[1]
    half = jobs // 2
    t0 = time.time()
    ids = submit(half, "true")
    restart_rc = LAB.exec(victim, "systemctl restart slurmd")[0]
    ids += submit(jobs - half, "true")
    submitted_s = time.time() - t0
    states = wait_jobs(ids, 900)
    total_s = time.time() - t0
    completed = sum(1 for s in states.values() if s == "COMPLETED")
    report.figure("load_jobs_submitted", len(ids))
    report.figure("load_jobs_completed_in_sacct", completed)
    report.figure("load_seconds", round(total_s))
    report.check("load", "%d jobs, slurmd restarted on %s mid-burst: all COMPLETED in sacct" % (jobs, victim),
                 restart_rc == 0 and len(ids) == jobs and completed == jobs,
                 "submitted %d in %.0f s, %d COMPLETED after %.0f s%s" % (
                     len(ids), submitted_s, completed, total_s,
                     "" if completed == jobs else "; others: " + json.dumps(
                         {j: s for j, s in states.items() if s != "COMPLETED"})[:300]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--keep", action="store_true", help="leave the hpcrel lab running")
    parser.add_argument("--steps", default="kill,secrets,perms,stop,slurmctld,load")
    opts = parser.parse_args(argv)
    steps = set(opts.steps.split(","))
    report = Report()
    image = LAB.image()
    LAB.down()
    nodes = LAB.up(COMPUTES, image)
    try:
        baseline = set(LAB.exec(LAB.head, WORLD_WRITABLE)[1].split())
        LAB.playbook("lab/synthetic.yml", "0-synthetic")
        logs = step_kill(report, nodes) if "kill" in steps else []
        if "kill" not in steps:
            LAB.playbook("playbooks/site.yml", "1-converge", "-vvv")
            logs = [LAB.log_path("1-converge")]
        if "secrets" in steps:
            step_secrets(report, nodes, logs)
        if "perms" in steps:
            step_permissions(report, nodes, baseline)
        if "slurmctld" in steps:
            step_slurmctld(report)
        if "load" in steps:
            step_load(report, nodes, opts.jobs)
        if "stop" in steps:
            step_stop(report, nodes, image)
    except labrun.LabError as exc:
        report.check("run", "the suite ran to the end", False, str(exc)[-600:])
    finally:
        if not opts.keep:
            LAB.down()
    failed = [c for c in report.checks if not c["ok"]]
    duration = time.time() - report.started
    out = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "duration_s": round(duration),
           "checks": report.checks, "figures": report.figures, "ok": not failed}
    os.makedirs(LAB.build, exist_ok=True)
    with open(os.path.join(LAB.build, "reliability.json"), "w") as handle:
        json.dump(out, handle, indent=1)
    print("reliability: %d checks, %d failed, %.1f min; build/hpcrel/reliability.json"
          % (len(report.checks), len(failed), duration / 60.0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
