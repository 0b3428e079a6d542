"""Verify the slurm role on a whole Molecule cluster.

slurm-head: slurmctld + slurmdbd + MariaDB; slurm-c01/c02: slurmd; slurm-login:
client tools only. The jobs are submitted from the login node, as users do.
"""
import os
import re
import time

import pytest
import testinfra

COMPUTES = ["slurm-c01", "slurm-c02"]
MUNGE_KEY = "/etc/munge/munge.key"


def name(host):
    return host.backend.get_hostname()


def other(host, target):
    """A testinfra host for another instance, through the same Molecule inventory."""
    return testinfra.get_host("ansible://%s" % target, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


@pytest.fixture(scope="module")
def head(host):
    return other(host, "slurm-head")


@pytest.fixture(scope="module")
def login(host):
    return other(host, "slurm-login")


def run_ok(host, command):
    result = host.run(command)
    assert result.rc == 0, "%s on %s: rc %d\n%s\n%s" % (command, name(host), result.rc, result.stdout, result.stderr)
    return result.stdout


def test_munge_key_same_everywhere_and_private(host, head):
    key = host.file(MUNGE_KEY)
    assert key.exists and key.user == "munge" and key.mode == 0o400
    assert key.sha256sum == head.file(MUNGE_KEY).sha256sum
    assert host.service("munge").is_running


def test_daemons_per_class(host):
    me = name(host)
    assert host.service("slurmctld").is_running == (me == "slurm-head")
    assert host.service("slurmdbd").is_running == (me == "slurm-head")
    assert host.service("slurmd").is_running == (me in COMPUTES)
    if me == "slurm-login":
        assert host.exists("sinfo") and not host.exists("slurmd") and not host.exists("slurmctld")


def test_slurmdbd_conf_is_private(host):
    if name(host) != "slurm-head":
        pytest.skip("dbd host only")
    conf = host.file("/etc/slurm/slurmdbd.conf")
    assert conf.user == "slurm" and conf.mode == 0o600
    assert "StoragePass=" in conf.content_string


def _wait_idle(login_host, timeout=90):
    deadline = time.time() + timeout
    states = {}
    while time.time() < deadline:
        out = login_host.run("sinfo --noheader --Node --format='%N %t'").stdout
        states = dict(line.split() for line in out.splitlines() if line.strip())
        if all(states.get(c) == "idle" for c in COMPUTES):
            return states
        time.sleep(2)
    return states


def test_sinfo_shows_every_compute_idle(host, login):
    if name(host) != "slurm-login":
        pytest.skip("run once, from the login node")
    states = _wait_idle(login)
    assert {c: states.get(c) for c in COMPUTES} == {c: "idle" for c in COMPUTES}, states


def test_srun_on_two_nodes_prints_both_names(host, login):
    if name(host) != "slurm-login":
        pytest.skip("run once, from the login node")
    _wait_idle(login)
    out = run_ok(login, "timeout 120 srun --nodes=2 --ntasks=2 --partition=batch hostname")
    assert sorted(out.split()) == COMPUTES


def test_sbatch_job_completes_and_is_accounted(host, login):
    if name(host) != "slurm-login":
        pytest.skip("run once, from the login node")
    _wait_idle(login)
    out = run_ok(login, "cd /tmp && sbatch --parsable --nodes=1 --job-name=molecule-verify --wrap 'hostname; sleep 1'")
    job = out.strip().split(";")[0]
    assert job.isdigit(), out
    # slurmctld hands the record to slurmdbd asynchronously: poll until it is
    # final there (State and the job name both arrive).
    record = ""
    deadline = time.time() + 120
    while time.time() < deadline:
        record = login.run("sacct --noheader --parsable2 --jobs=%s --format=State,Cluster,JobName --allocations"
                           % job).stdout.strip()
        if record.split("|")[0] in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY") \
                and record.endswith("|molecule-verify"):
            break
        time.sleep(2)
    assert record == "COMPLETED|molecule|molecule-verify", "job %s: %r" % (job, record)


def _conf_node_line(head_host, node):
    for line in head_host.file("/etc/slurm/slurm.conf").content_string.splitlines():
        if line.startswith("NodeName="):
            hosts = line.split()[0].split("=", 1)[1]
            expanded = run_ok(head_host, "scontrol show hostnames '%s'" % hosts).split()
            if node in expanded:
                return dict(w.split("=", 1) for w in line.split()[1:])
    raise AssertionError("no NodeName line for %s" % node)


def test_node_lines_equal_what_slurmd_measures(host, head):
    me = name(host)
    if me not in COMPUTES:
        pytest.skip("compute nodes only")
    measured = dict(w.split("=", 1) for w in run_ok(host, "slurmd -C").splitlines()[0].split()[1:])
    configured = _conf_node_line(head, me)
    for key in ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore"):
        assert configured[key] == measured[key], (key, configured, measured)
    # RealMemory is the measured memory minus the reserve, never above it.
    assert 0 < int(configured["RealMemory"]) <= int(measured["RealMemory"])


def test_controller_sees_no_drained_or_invalid_node(host, head):
    if name(host) != "slurm-head":
        pytest.skip("controller only")
    out = run_ok(head, "sinfo --noheader --list-reasons")
    assert out.strip() == "", out
    for node in COMPUTES:
        info = run_ok(head, "scontrol show node %s" % node)
        assert re.search(r"State=(IDLE|ALLOCATED|MIXED)", info), info
