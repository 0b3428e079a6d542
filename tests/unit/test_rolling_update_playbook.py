# -*- coding: utf-8 -*-
"""playbooks/rolling_update.yml: what a node needs is read before anything is drained.

The play's Jinja is evaluated with ansible's Templar on slurmctld records as
`scontrol show node --oneliner` prints them (Slurm 22.05/23.11 layout): which
state and reason the node had, whether an earlier rolling_update drained it
(resumed at the end) or someone else did (kept so, not resumed), and whether
the node has work at all (an up-to-date node is not drained, so a rerun
reports changed=0). The Molecule `site` scenario runs the playbook on a
converged cluster (molecule/site/side_effect.yml).
"""

from __future__ import annotations

import pytest

from render_helpers import REPO, evaluate, load_yaml, tasks_by_name, trusted_vars

PLAYBOOK = REPO / "playbooks" / "rolling_update.yml"
REBOOT_TASKS = REPO / "playbooks" / "tasks" / "rolling_update_reboot.yml"

IDLE = ("NodeName=c01 Arch=x86_64 CoresPerSocket=1 CPUAlloc=0 CPUEfctv=2 CPUTot=2 CPULoad=0.01 "
        "AvailableFeatures=(null) ActiveFeatures=(null) Gres=(null) NodeAddr=c01 NodeHostName=c01 Version=22.05.8 "
        "OS=Linux 6.1.0 RealMemory=1024 AllocMem=0 FreeMem=900 Sockets=2 Boards=1 State=IDLE ThreadsPerCore=1 "
        "TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A Partitions=batch BootTime=2026-12-05T01:00:00 "
        "SlurmdStartTime=2026-12-05T01:01:00 LastBusyTime=2026-12-05T01:02:00 CfgTRES=cpu=2,mem=1G,billing=2 "
        "AllocTRES= CapWatts=n/a CurrentWatts=0 AveWatts=0 ExtSensorsJoules=n/s ExtSensorsWatts=0 ExtSensorsTemp=n/s")


def drained(state, reason, who="root@2026-12-05T01:30:00"):
    return IDLE.replace("State=IDLE", "State=" + state) + " Reason=%s [%s]" % (reason, who)


def _play():
    return load_yaml(PLAYBOOK)[0]


def _tasks():
    """{task name: task} of the play, blocks flattened."""
    return tasks_by_name(_play()["tasks"])


def _play_vars(**variables):
    return trusted_vars(_play()["vars"], **variables)


def _before(record):
    variables = _play_vars(__ru_node_record={"stdout": record})
    return {name: evaluate("{{ %s }}" % name, variables)
            for name in ("__ru_before_state", "__ru_before_reason", "__ru_ours", "__ru_keep_state")}


@pytest.mark.parametrize("record, state, reason, ours, keep", [
    (IDLE, "IDLE", "", False, False),
    (IDLE.replace("State=IDLE", "State=MIXED"), "MIXED", "", False, False),
    (drained("IDLE+DRAIN", "rolling_update 2026-12-05T01:29Z"), "IDLE+DRAIN", "rolling_update 2026-12-05T01:29Z",
     True, False),
    (drained("IDLE+DRAIN", "rolling_update failed: Wait for slurmd"), "IDLE+DRAIN",
     "rolling_update failed: Wait for slurmd", True, False),
    (drained("MIXED+DRAIN", "DIMM B2 errors, ticket 4711"), "MIXED+DRAIN", "DIMM B2 errors, ticket 4711", False, True),
    (drained("DOWN+NOT_RESPONDING", "Not responding", who="slurm@2026-12-05T01:00:00"), "DOWN+NOT_RESPONDING",
     "Not responding", False, True),
    (drained("DOWN+DRAIN+FAIL", "fan [x] failed"), "DOWN+DRAIN+FAIL", "fan [x] failed", False, True),
    # a reason without the [user@time] slurmctld appends
    (IDLE.replace("State=IDLE", "State=IDLE+DRAIN") + " Reason=maintenance", "IDLE+DRAIN", "maintenance", False, True),
    ("", "", "", False, False),
])
def test_state_and_reason_before_the_run(record, state, reason, ours, keep):
    got = _before(record)
    assert got["__ru_before_state"] == state
    assert got["__ru_before_reason"] == reason
    assert bool(got["__ru_ours"]) is ours
    assert bool(got["__ru_keep_state"]) is keep


def _work(pending_apt=False, pending_dnf=None, record=IDLE, reboot=False, container=False, allow_reboot=True):
    task = _tasks()["Decide whether the node has work"]
    skipped = {"skipped": True, "changed": False}
    variables = _play_vars(
        __ru_node_record={"stdout": record}, __ru_reboot=reboot, rolling_update_reboot=allow_reboot,
        __ru_pending_apt={"changed": pending_apt} if pending_dnf is None else skipped,
        __ru_pending_dnf={"changed": bool(pending_dnf)} if pending_dnf is not None else skipped,
        ansible_facts={"virtualization_type": "docker" if container else "kvm",
                       "virtualization_role": "guest", "hostname": "c01"})
    return (bool(evaluate(task["ansible.builtin.set_fact"]["__ru_work"], variables)),
            bool(evaluate("{{ __ru_pending }}", variables)))


def test_an_up_to_date_node_has_no_work():
    assert _work() == (False, False)
    assert _work(pending_dnf=False) == (False, False)


def test_pending_updates_are_work():
    assert _work(pending_apt=True) == (True, True)
    assert _work(pending_dnf=True) == (True, True)


def test_a_node_an_earlier_run_left_drained_is_work_even_when_up_to_date():
    assert _work(record=drained("IDLE+DRAIN", "rolling_update failed: Wait for slurmd")) == (True, False)
    # someone else's drain alone is no work for this playbook
    assert _work(record=drained("IDLE+DRAIN", "bad DIMM")) == (False, False)


def test_a_due_reboot_is_work_only_where_it_can_be_done():
    assert _work(reboot=True) == (True, False)
    assert _work(reboot=True, container=True) == (False, False)
    assert _work(reboot=True, allow_reboot=False) == (False, False)


def test_nothing_is_drained_or_resumed_before_the_work_is_known():
    play = _play()
    names = [t["name"] for t in play["tasks"]]
    block = names.index("Update one node")
    assert names.index("Decide whether the node has work") < block
    block_task = play["tasks"][block]
    assert block_task["when"] == "__ru_work | bool"
    tasks = _tasks()
    # someone else's drain or down state is kept: no drain, resume or rescue drain for such a node
    for name in ("Drain the node (running jobs finish, no new ones start)", "Resume the node",
                 "Keep the node drained with the reason", "Check the node takes jobs again"):
        assert tasks[name]["when"] == "not __ru_keep_state | bool", name
    # the probes run in --check too and change nothing
    assert tasks["Read slurmctld's record of the node (state and reason before this run)"]["check_mode"] is False
    for name in ("Find the pending updates (dnf, check mode)", "Find the pending updates (apt, check mode)"):
        assert tasks[name]["check_mode"] is True, name
    # the probe asks exactly what the update does (same names, state and exclusions)
    for probe, update in (("Find the pending updates (dnf, check mode)", "Update the packages (dnf)"),
                          ("Find the pending updates (apt, check mode)", "Update the packages (apt)")):
        module = next(k for k in tasks[update] if k.startswith("ansible.builtin."))
        assert tasks[probe][module] == tasks[update][module], probe


def test_the_reboot_probe_is_read_only():
    tasks = load_yaml(REBOOT_TASKS)
    for task in tasks:
        if "ansible.builtin.command" in task:
            assert task["changed_when"] is False and task["check_mode"] is False
    assert tasks[-1]["ansible.builtin.set_fact"]["__ru_reboot"]


def test_the_kernel_packages_are_held_on_debian():
    """rolling_update_exclude's shell patterns become the held packages (ansible-core 2.19 does not unescape
    backslashes in Jinja string literals inside YAML: a doubled one matched nothing, so the kernel was not held)."""
    task = _tasks()["Hold the excluded packages (apt)"]
    installed = {name: [] for name in ("linux-image-6.1.0-27-amd64", "linux-image-amd64", "linux-headers-amd64",
                                       "linux-base", "kernel-common", "python3", "slurmd", "xlinux-image-x")}
    variables = _play_vars(ansible_facts={"packages": installed, "hostname": "c01"})
    held = evaluate(task["loop"], variables)
    assert sorted(held) == ["kernel-common", "linux-headers-amd64", "linux-image-6.1.0-27-amd64", "linux-image-amd64"]
    variables["rolling_update_exclude"] = ["slurm*", "python3"]
    assert sorted(evaluate(task["loop"], variables)) == ["python3", "slurmd"]
