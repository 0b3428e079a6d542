"""Enforced check mode after converge, for every Molecule scenario.

Molecule's own `check` step runs before converge: it proves that --check does
not fail on a fresh node, not that a converged node is in the desired state.
This runs the scenario's converge playbook again with --check --diff after
`idempotence` and fails when any host reports a change, a failure or is
unreachable, naming the hosts and the tasks (with their file:line, loop items
and diff).

Run by molecule/shared/check_after_converge.yml (the `side_effect` step of the
shared test sequence), which gets Molecule's provisioner environment: the
scenario's inventory (MOLECULE_INVENTORY_FILE), its merged config (MOLECULE_FILE,
for the converge playbook: ansible.playbooks.converge), its ansible.cfg (ANSIBLE_CONFIG) and the
ANSIBLE_* variables of molecule/shared/config.yml.

The playbook runs with the ansible.posix.json stdout callback; the whole result
is kept in $MOLECULE_EPHEMERAL_DIRECTORY/check_after_converge.json (tests may
read what a role reported), and the summary printed here comes from it. The
decision uses the per-host stats (what PLAY RECAP shows); the task list only
names what changed.

    python3 molecule/shared/check_after_converge.py            # inside a Molecule step
    python3 molecule/shared/check_after_converge.py --playbook playbooks/validate.yml --real -e '{"a": 1}'
    python3 molecule/shared/check_after_converge.py --report FILE.json   # judge a saved report

--playbook runs another playbook than the converge one (a path relative to
the project, e.g. the day-two playbooks on a converged cluster); --real runs
it without --check (for playbooks that must change nothing on a converged
cluster: the drift report, or an update with nothing to update). Each run
keeps its own report, check_after_converge[-<playbook>][-real].json.

Exit status: 0 no host changed/failed/unreachable, 1 some did, 2 the check run
could not be judged (no JSON result: syntax error, missing inventory, ...).
"""
import argparse
import difflib
import json
import os
import shutil
import subprocess
import sys

import yaml  # ansible-core's dependency: present wherever ansible-playbook is

# What Molecule itself skips on converge (provisioner default_options) and on
# idempotence: a task tagged to be skipped there changes on every run by design.
SKIP_TAGS = "molecule-notest,notest,molecule-idempotence-notest"
REPORT_NAME = "check_after_converge.json"
MAX_DIFF_LINES = 30
MAX_ITEMS = 10


def converge_playbook(env):
    """The scenario's converge playbook from the merged config, else converge.yml.

    Molecule 26 writes the provisioner's playbooks under ansible.playbooks in
    the merged config (MOLECULE_FILE); older layouts have provisioner.playbooks.
    """
    scenario_dir = env["MOLECULE_SCENARIO_DIRECTORY"]
    path = ""
    molecule_file = env.get("MOLECULE_FILE", "")
    if molecule_file and os.path.isfile(molecule_file):
        with open(molecule_file) as fh:
            config = yaml.safe_load(fh) or {}
        for section in ("ansible", "provisioner"):
            path = path or ((config.get(section) or {}).get("playbooks") or {}).get("converge") or ""
    if not path:
        path = "converge.yml"
    return os.path.normpath(os.path.join(scenario_dir, path))


def ansible_playbook_command():
    """ansible-playbook next to the running interpreter (the same venv), else from PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return here if os.access(here, os.X_OK) else (shutil.which("ansible-playbook") or "ansible-playbook")


def report_name(playbook=None, real=False):
    """check_after_converge.json for the converge playbook in --check; else -<playbook stem>[-real] before .json."""
    stem = os.path.splitext(os.path.basename(playbook))[0] if playbook else ""
    suffix = ("-" + stem if stem else "") + ("-real" if real else "")
    return REPORT_NAME.replace(".json", suffix + ".json")


def run_check(env, playbook, extra_args=(), check=True):
    """Run the playbook with --diff (and --check unless check is False) against the scenario's inventory.

    Returns (rc, stdout, stderr, command)."""
    inventory = os.path.dirname(env["MOLECULE_INVENTORY_FILE"])
    cmd = [ansible_playbook_command(), "--inventory", inventory] + (["--check"] if check else []) + [
        "--diff", "--skip-tags", SKIP_TAGS] + list(extra_args) + [playbook]
    child_env = dict(env)
    # Callbacks enabled besides the stdout one (profile_tasks, timer) print around
    # the JSON document; parse_json_output skips what they print.
    child_env.update({
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
    })
    proc = subprocess.run(cmd, env=child_env, cwd=env["MOLECULE_SCENARIO_DIRECTORY"], text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    return proc.returncode, proc.stdout, proc.stderr, cmd


def parse_json_output(stdout):
    """The JSON document the json callback printed (tolerates stray lines before it); None when there is none."""
    decoder = json.JSONDecoder()
    starts = ([0] if stdout.startswith("{") else []) + [i + 1 for i in range(len(stdout)) if stdout.startswith("\n{", i)]
    for start in starts:
        try:
            doc = decoder.raw_decode(stdout[start:])[0]
        except ValueError:
            continue
        if isinstance(doc, dict) and "stats" in doc:
            return doc
    return None


def _item_label(result):
    label = result.get("_ansible_item_label", result.get("item"))
    text = label if isinstance(label, str) else json.dumps(label, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _render_diff(diff):
    """Unified-diff lines of a module's diff (a dict or a list of dicts), at most MAX_DIFF_LINES."""
    lines = []
    for part in diff if isinstance(diff, list) else [diff]:
        if not isinstance(part, dict):
            continue
        if "prepared" in part:
            lines += str(part["prepared"]).splitlines()
        before, after = part.get("before", ""), part.get("after", "")
        if isinstance(before, str) and isinstance(after, str):
            if before != after:
                lines += list(difflib.unified_diff(
                    before.splitlines(), after.splitlines(),
                    part.get("before_header", "before"), part.get("after_header", "after"), lineterm=""))
        elif before != after:
            lines += ["- %s" % json.dumps(before, sort_keys=True, default=str),
                      "+ %s" % json.dumps(after, sort_keys=True, default=str)]
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + ["... (%d more diff lines)" % (len(lines) - MAX_DIFF_LINES)]
    return lines


def findings(doc):
    """Per host, the tasks that reported changed, failed or unreachable, in run order.

    The json callback does not mark ignored failures (ignore_errors, rescued
    blocks), so failed tasks are listed only for hosts whose stats count a
    failure; elsewhere a failed result was ignored and is not a finding.
    Returns {host: [{"kind", "task", "path", "items", "msg", "diff"}]}.
    """
    stats = doc.get("stats") or {}
    out = {}
    for play in doc.get("plays", []):
        for task in play.get("tasks", []):
            meta = task.get("task", {})
            for host, result in (task.get("hosts") or {}).items():
                if not isinstance(result, dict):
                    continue
                kinds = []
                if result.get("unreachable"):
                    kinds.append("unreachable")
                if result.get("failed") and (stats.get(host) or {}).get("failures", 0):
                    kinds.append("failed")
                if result.get("changed"):
                    kinds.append("changed")
                if not kinds:
                    continue
                loop = result.get("results") if isinstance(result.get("results"), list) else []
                items = [_item_label(r) for r in loop if isinstance(r, dict) and (r.get("changed") or r.get("failed"))]
                diffs = [r.get("diff") for r in loop if isinstance(r, dict) and r.get("changed") and r.get("diff")]
                if result.get("diff"):
                    diffs.insert(0, result["diff"])
                out.setdefault(host, []).append({
                    "kind": "/".join(kinds),
                    "task": meta.get("name") or "(unnamed task)",
                    "path": meta.get("path", ""),
                    "items": items,
                    "msg": str(result.get("msg", "")) if "failed" in kinds or "unreachable" in kinds else "",
                    "diff": [line for d in diffs for line in _render_diff(d)],
                })
    return out


def _short_path(path, project_dir):
    """file:line relative to the project, through the .collections symlink (roles/x/tasks/y.yml:12)."""
    if not path or not project_dir:
        return path
    name, sep, line = path.rpartition(":")
    if not sep or not line.isdigit():
        name, sep, line = path, "", ""
    real, root = os.path.realpath(name), os.path.realpath(project_dir)
    if real.startswith(root + os.sep):
        name = os.path.relpath(real, root)
    elif name.startswith(project_dir.rstrip("/") + "/"):
        name = name[len(project_dir.rstrip("/")) + 1:]
    return name + sep + line


def judge(doc, project_dir=""):
    """(ok, summary lines) from a json-callback document: ok when every host has changed=0 failures=0 unreachable=0."""
    stats = doc.get("stats") or {}
    found = findings(doc)
    lines = []
    bad_hosts = []
    for host in sorted(set(stats) | set(found)):
        st = stats.get(host, {})
        changed, failed, unreachable = st.get("changed", 0), st.get("failures", 0), st.get("unreachable", 0)
        bad = bool(changed or failed or unreachable or found.get(host))
        if bad:
            bad_hosts.append(host)
        lines.append("%s %s: ok=%d changed=%d failed=%d unreachable=%d skipped=%d" % (
            "FAIL" if bad else "ok  ", host, st.get("ok", 0), changed, failed, unreachable, st.get("skipped", 0)))
        for f in found.get(host, []):
            path = _short_path(f["path"], project_dir)
            lines.append("     %s: %s%s" % (f["kind"], f["task"], " (%s)" % path if path else ""))
            shown = f["items"][:MAX_ITEMS]
            if shown:
                more = len(f["items"]) - len(shown)
                lines.append("       items: %s%s" % (", ".join(shown), " (+%d more)" % more if more > 0 else ""))
            if f["msg"].strip():
                lines.append("       msg: %s" % f["msg"].strip().splitlines()[0][:300])
            lines += ["       | %s" % d for d in f["diff"]]
    if not stats:
        return False, ["no host ran: the check-mode run has no stats (no hosts matched?)"] + lines
    return not bad_hosts, lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", help="judge this saved json-callback report instead of running the playbook")
    parser.add_argument("--playbook", help="run this playbook (path relative to the project) instead of the "
                        "scenario's converge playbook")
    parser.add_argument("--real", action="store_true", help="run it for real (no --check): it must still change "
                        "nothing on a converged cluster")
    parser.add_argument("-e", "--extra-vars", action="append", default=[], help="passed to ansible-playbook")
    parser.add_argument("extra", nargs="*", help="more ansible-playbook arguments (after --)")
    args = parser.parse_args(argv)
    mode = "run" if args.real else "check"
    env = dict(os.environ)
    project_dir = env.get("MOLECULE_PROJECT_DIRECTORY", "")

    if args.report:
        with open(args.report) as fh:
            doc = json.load(fh)
        label = args.report
    else:
        missing = [k for k in ("MOLECULE_INVENTORY_FILE", "MOLECULE_SCENARIO_DIRECTORY", "MOLECULE_EPHEMERAL_DIRECTORY")
                   if not env.get(k)]
        if missing:
            print("check after converge: %s not set; run inside a Molecule step (side_effect) or use --report"
                  % ", ".join(missing))
            return 2
        if args.playbook:
            playbook = os.path.normpath(os.path.join(project_dir or os.getcwd(), args.playbook))
        else:
            playbook = converge_playbook(env)
        extra = [a for e in args.extra_vars for a in ("-e", e)] + list(args.extra)
        rc, stdout, stderr, cmd = run_check(env, playbook, extra, check=not args.real)
        doc = parse_json_output(stdout)
        label = os.path.relpath(playbook, project_dir) if project_dir else playbook
        if doc is None:
            print("%s after converge: no JSON result from `%s` (rc %d)" % (mode, " ".join(cmd), rc))
            tail = (stderr.strip() or stdout.strip()).splitlines()[-40:]
            print("\n".join("  " + line for line in tail))
            return 2
        report = os.path.join(env["MOLECULE_EPHEMERAL_DIRECTORY"], report_name(args.playbook, args.real))
        with open(report, "w") as fh:
            json.dump(doc, fh, indent=1, sort_keys=True)
        print("%s after converge: `ansible-playbook %s--diff %s%s` rc %d; full result in %s"
              % (mode, "" if args.real else "--check ", " ".join(extra) + " " if extra else "", label, rc, report))

    ok, lines = judge(doc, project_dir)
    print("%s after converge %s: %s" % (mode, label, "no host reports a change or a failure" if ok else
                                        "a converged node must report changed=0 and failed=0%s"
                                        % ("" if args.real else " in --check")))
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
