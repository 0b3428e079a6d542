# -*- coding: utf-8 -*-
"""A lab of its own for tools that drive one: `make bench` (bench/lab_bench.py)
and `make reliability` (tests/reliability/run.py).

``Lab("hpcbench", "172.30.78.0/24")`` runs lab/lab.py with its own container
names, Docker network and inventory (``build/<name>/inventory``: the generated
lab.cluster.yml next to a link to the lab's group_vars), so a lab started with
`make lab` is never touched.  Playbook runs are timed, their output kept under
``build/<name>/logs`` and their PLAY RECAP parsed.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


class LabError(RuntimeError):
    pass


def recap(output):
    """{host: {"ok", "changed", "unreachable", "failed"}} from a PLAY RECAP."""
    hosts = {}
    for line in output.splitlines():
        match = RECAP.match(ANSI.sub("", line).strip())
        if match:
            ok, changed, unreachable, failed = (int(x) for x in match.groups()[1:])
            hosts[match.group(1)] = {"ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed}
    return hosts


def changed_tasks(output):
    """["task name (host)"] for every `changed:` line of a default-callback output."""
    found, task = [], None
    for line in ANSI.sub("", output).splitlines():
        match = re.match(r"^TASK \[(.*)\]", line)
        if match:
            task = match.group(1)
            continue
        match = re.match(r"^changed: \[([^\]]+)\]", line)
        if match and task:
            found.append("%s (%s)" % (task, match.group(1)))
    return found


def parallel(fn, items):
    """fn(item) for every item at once; returns {item: result}, re-raising the first error."""
    results, errors = {}, []

    def work(item):
        try:
            results[item] = fn(item)
        except Exception as exc:  # pylint: disable=broad-except
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


class Lab(object):
    def __init__(self, name, subnet, python=None):
        self.name = name
        self.subnet = subnet
        self.head = name + "-head"
        self.build = os.path.join(REPO, "build", name)
        self.inventory_dir = os.path.join(self.build, "inventory")
        self.log_dir = os.path.join(self.build, "logs")
        self.python = python or sys.executable

    # ------------------------------------------------------------------ plumbing
    def env(self, **extra):
        env = dict(os.environ)
        env.update({
            "LAB_NAME": self.name,
            "LAB_SUBNET": self.subnet,
            "LAB_INVENTORY": os.path.join(self.inventory_dir, "lab.cluster.yml"),
            "ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg"),
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_NOCOLOR": "1",
            "PATH": os.path.dirname(self.python) + os.pathsep + env.get("PATH", ""),
        })
        env.update(extra)
        return env

    def prepare_inventory(self):
        os.makedirs(self.inventory_dir, exist_ok=True)
        link = os.path.join(self.inventory_dir, "group_vars")
        target = os.path.relpath(os.path.join(REPO, "inventories", "lab", "group_vars"), self.inventory_dir)
        if os.path.islink(link) and os.readlink(link) == target:
            return
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(target, link)

    def log_path(self, log_name):
        os.makedirs(self.log_dir, exist_ok=True)
        return os.path.join(self.log_dir, log_name + ".log")

    def run(self, argv, log_name=None, check=True, env=None):
        """Run argv from the repository; returns (seconds, output, controller CPU seconds, rc)."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=REPO, env=env or self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, check=False)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if log_name:
            with open(self.log_path(log_name), "w") as handle:
                handle.write(proc.stdout)
        if check and proc.returncode != 0:
            tail = "\n".join(proc.stdout.splitlines()[-25:])
            raise LabError("%s failed (rc %d)%s:\n%s" % (
                " ".join(argv[:3]), proc.returncode,
                ", log %s" % os.path.relpath(self.log_path(log_name), REPO) if log_name else "", tail))
        return seconds, proc.stdout, cpu, proc.returncode

    # ------------------------------------------------------------------ the lab
    def nodes(self, computes):
        return [self.head] + ["%s-c%02d" % (self.name, i) for i in range(1, computes + 1)]

    def image(self):
        out = subprocess.run([os.path.join(HERE, "image.sh")], cwd=REPO, stdout=subprocess.PIPE, check=True,
                             text=True).stdout
        return out.strip().splitlines()[-1]

    def up(self, computes, image):
        self.prepare_inventory()
        self.run([self.python, os.path.join(HERE, "lab.py"), "up", "--image", image, "--computes", str(computes)])
        return self.nodes(computes)

    def down(self):
        self.run([self.python, os.path.join(HERE, "lab.py"), "down"])

    def playbook(self, path, log_name, *extra, **kwargs):
        """ansible-playbook against this lab; returns (seconds, recap, cpu, output).
        Raises LabError when a host failed or was unreachable, unless allow_failed."""
        allow_failed = kwargs.pop("allow_failed", False)
        seconds, output, cpu, _rc = self.run(["ansible-playbook", "-i", self.inventory_dir, path] + list(extra),
                                             log_name=log_name, check=False, **kwargs)
        hosts = recap(output)
        if not hosts:
            raise LabError("%s: no PLAY RECAP (log %s)" % (path, os.path.relpath(self.log_path(log_name), REPO)))
        bad = sorted(h for h, r in hosts.items() if r["failed"] or r["unreachable"])
        if bad and not allow_failed:
            raise LabError("%s: failed/unreachable on %s (log %s)" % (
                path, " ".join(bad), os.path.relpath(self.log_path(log_name), REPO)))
        return seconds, hosts, cpu, output

    def start_playbook(self, path, log_name, *extra):
        """Start ansible-playbook in the background (its own process group); returns the Popen,
        output going to the log file."""
        handle = open(self.log_path(log_name), "w")  # pylint: disable=consider-using-with
        proc = subprocess.Popen(["ansible-playbook", "-i", self.inventory_dir, path] + list(extra),  # pylint: disable=consider-using-with
                                cwd=REPO, env=self.env(), stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)
        proc.log_handle = handle
        return proc

    def exec(self, node, script, check=False):
        proc = subprocess.run(["docker", "exec", node, "bash", "-euc", script], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, check=False)
        if check and proc.returncode != 0:
            raise LabError("on %s: %s: rc %d: %s" % (node, script.strip().splitlines()[0][:80], proc.returncode,
                                                     proc.stderr.strip()[-400:]))
        return proc.returncode, proc.stdout, proc.stderr

    def docker(self, *args):
        proc = subprocess.run(["docker"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              check=False)
        if proc.returncode != 0:
            raise LabError("docker %s: %s" % (" ".join(args[:3]), proc.stderr.strip()))
        return proc.stdout
