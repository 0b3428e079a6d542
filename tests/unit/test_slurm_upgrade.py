"""Slurm upgrades: the release/window table and check_upgrade (plugins/module_utils/slurm_upgrade.py),
the hpcai.cluster.slurm_upgrade_check filter, and playbooks/slurm_upgrade.yml (order of plays and tasks,
check-mode safety, the Jinja that builds package specs and picks the nodes to resume).

A real upgrade needs two Slurm releases on real (or VM) nodes; none of that runs here.
"""
from __future__ import annotations

import re

import pytest

from ansible_collections.hpcai.cluster.plugins.filter.slurm_upgrade import slurm_upgrade_check
from ansible_collections.hpcai.cluster.plugins.module_utils import slurm_upgrade as su
from ansible_collections.hpcai.cluster.plugins.module_utils.slurm_conf import SlurmConfError, parse_version

from render_helpers import REPO, evaluate, load_yaml, role_variables

PLAYBOOK = REPO / "playbooks" / "slurm_upgrade.yml"


def cluster(dbd="22.05.8", ctld="22.05.8", slurmd="22.05.8", client=None, computes=2):
    """{host: {daemon: '<daemon> -V' output}} of a head node (dbd + ctld) and compute nodes."""
    client = client or ctld
    hosts = {"head1": {"slurmdbd": "slurm %s" % dbd, "slurmctld": "slurm %s" % ctld, "client": "slurm %s" % client}}
    for i in range(1, computes + 1):
        hosts["cn%03d" % i] = {"slurmd": "slurm-wlm %s" % slurmd, "client": "slurm-wlm %s" % slurmd}
    return hosts


# ---------------------------------------------------------------- release list and window table
def test_releases_are_ordered_unique_and_skip_the_unreleased_24_08():
    versions = [parse_version(r) for r in su.RELEASES]
    assert versions == sorted(versions) and len(set(su.RELEASES)) == len(su.RELEASES)
    assert "24.08" not in su.RELEASES
    for release in ("20.02", "20.11", "21.08", "22.05", "23.02", "23.11", "24.05", "24.11", "25.05", "25.11"):
        assert release in su.RELEASES


def test_every_table_row_is_a_known_release_with_a_source():
    targets = [row[0] for row in su.WINDOW_TABLE]
    assert len(set(targets)) == len(targets)
    for target, window, source in su.WINDOW_TABLE:
        assert target in su.RELEASES
        assert isinstance(window, int) and window >= 1
        assert "RELEASE_NOTES" in source and target in source


@pytest.mark.parametrize("target,window", [
    ("20.02", 2), ("21.08", 2), ("22.05", 2), ("23.02", 2), ("23.11", 2), ("24.05", 2),
    ("24.11", 3), ("25.05", 3), ("25.11", 3), ("26.05", 3),
])
def test_window_two_releases_until_24_05_three_from_24_11(target, window):
    assert su.window_for(target)[0] == window


@pytest.mark.parametrize("target,source", [(row[0], row[2]) for row in su.WINDOW_TABLE])
def test_table_window_matches_the_quoted_release_notes(target, source):
    """The releases the quoted RELEASE_NOTES sentence names are exactly the ones the window allows."""
    quote = source.split("'")[1]
    named = set(re.findall(r"\d{2}\.\d{2}", quote)) - {target}
    assert named == set(su.compatible_from(target))


def test_jump_width_is_counted_in_releases_not_numbers():
    assert su.jump_width("23.02", "23.11") == 1
    assert su.jump_width("23.11", "24.05") == 1   # 24.05 - 23.11 is not 1 as a number
    assert su.jump_width("24.05", "24.11") == 1   # 6-month cycle from 24.05
    assert su.jump_width("22.05.8", "slurm 24.11.1") == 4
    assert su.jump_width("24.11", "23.11") == -2


def test_upgrade_path_steps_through_the_windows():
    assert su.upgrade_path("22.05", "24.05") == ["23.11", "24.05"]
    assert su.upgrade_path("20.11", "25.11") == ["22.05", "23.11", "25.05", "25.11"]
    assert su.upgrade_path("23.02", "24.11") == ["24.11"]
    assert su.upgrade_path("17.02", "17.11") == []  # no table row before 20.02


def test_window_override_and_bad_windows():
    assert su.window_for("23.11", 4)[0] == 4
    assert su.window_for("23.11", "3")[0] == 3
    assert su.window_for("23.11", "")[0] == 2  # empty = the table
    for bad in (0, -1, "x", True, 2.5, [2]):
        with pytest.raises(SlurmConfError, match="slurm_upgrade_window must be a whole number"):
            su.window_for("23.11", bad)


def test_release_of_reads_daemon_output():
    assert su.release_of("slurm 23.11.4") == "23.11"
    assert su.release_of("slurm-wlm 22.05.8") == "22.05"
    assert su.release_of("24.05.0rc1") == "24.05"
    assert su.release_of(23.11) == "23.11"   # -e x=23.11 arrives as a float from YAML
    with pytest.raises(SlurmConfError, match="not a Slurm major release"):
        su.release_of("23.05.1")
    with pytest.raises(SlurmConfError, match="not a Slurm version"):
        su.release_of("slurm")


def test_extra_releases_extend_the_list_only_at_the_end():
    assert su.known_releases(["26.11"])[-1] == "26.11"
    with pytest.raises(SlurmConfError, match="not newer than"):
        su.known_releases(["23.05"])
    with pytest.raises(SlurmConfError, match="slurm_upgrade_extra_releases items"):
        su.known_releases(["26.11.1"])


# ---------------------------------------------------------------- check_upgrade
def test_supported_jump_is_planned_in_daemon_order():
    result = su.check_upgrade(cluster(), "23.11")
    assert result["ok"], result["errors"]
    plan = result["plan"]
    assert plan["upgrade_needed"] and plan["width"] == 2 and plan["window"] == 2
    assert plan["from"] == ["22.05.8"] and plan["target"] == "23.11"
    assert [s["daemon"] for s in plan["stages"]] == ["slurmdbd", "slurmd"]
    assert plan["stages"][1]["hosts"] == ["cn001", "cn002"]
    assert plan["package_pattern"] == "23.11.*"
    assert "RELEASE_NOTES 23.11" in plan["window_source"]


def test_wide_jump_is_refused_with_the_variable_the_allowed_releases_and_the_steps():
    result = su.check_upgrade(cluster(), "24.05")
    assert not result["ok"]
    assert len(result["errors"]) == 1  # one message for all hosts and daemons at that release
    msg = result["errors"][0]
    assert "22.05 -> 24.05 is a jump of 3 major releases" in msg
    assert "head1,cn[001-002]" in msg or "cn[001-002],head1" in msg
    assert "23.11, 23.02" in msg and "slurm_upgrade_target_version" in msg
    assert "22.05 -> 23.11 -> 24.05" in msg


def test_window_three_from_24_11():
    assert su.check_upgrade(cluster("23.02.7", "23.02.7", "23.02.7"), "24.11")["ok"]
    result = su.check_upgrade(cluster(), "24.11")
    assert not result["ok"] and "Slurm 24.11 upgrades only from the previous 3" in result["errors"][0]


def test_window_override_allows_a_wider_jump_with_a_warning():
    result = su.check_upgrade(cluster(), "24.05", window=3)
    assert result["ok"], result["errors"]
    assert result["plan"]["window"] == 3 and result["plan"]["table_window"] == 2
    assert any("slurm_upgrade_window=3 is wider than the 2" in w for w in result["warnings"])
    narrow = su.check_upgrade(cluster(), "23.11", window=1)
    assert not narrow["ok"] and "previous 1 (23.02" in narrow["errors"][0]
    bad = su.check_upgrade(cluster(), "23.11", window="two")
    assert not bad["ok"] and "slurm_upgrade_window must be a whole number" in bad["errors"][0]


def test_downgrade_is_refused():
    result = su.check_upgrade(cluster("23.11.4", "23.11.4", "23.11.4"), "23.02")
    assert not result["ok"]
    assert "newer than slurm_upgrade_target_version=23.02: downgrades are not supported" in result["errors"][0]
    micro = su.check_upgrade(cluster("23.11.5", "23.11.5", "23.11.5"), "23.11.4")
    assert not micro["ok"] and "downgrades" in micro["errors"][0]


def test_same_version_is_a_no_op():
    result = su.check_upgrade(cluster("23.11.4", "23.11.4", "23.11.4"), "23.11")
    assert result["ok"] and not result["plan"]["upgrade_needed"]
    assert result["plan"]["stages"] == [] and result["plan"]["width"] == 0
    assert not any(h["upgrade"] for h in result["plan"]["hosts"].values())


def test_micro_target_upgrades_within_the_release():
    result = su.check_upgrade(cluster("23.11.4", "23.11.4", "23.11.4"), "23.11.10")
    assert result["ok"] and result["plan"]["upgrade_needed"]
    assert result["plan"]["package_pattern"] == "23.11.10-*"
    assert re.search(result["plan"]["version_regex"], "slurm 23.11.10")
    assert not re.search(result["plan"]["version_regex"], "slurm 23.11.1")


def test_interrupted_run_counts_finished_hosts_as_done():
    """slurmdbd and slurmctld already upgraded, computes not yet: only the computes are planned."""
    result = su.check_upgrade(cluster("23.11.4", "23.11.4", "22.05.8"), "23.11")
    assert result["ok"], result["errors"]
    assert [s["daemon"] for s in result["plan"]["stages"]] == ["slurmd"]
    assert result["plan"]["hosts"]["head1"]["upgrade"] is False


@pytest.mark.parametrize("installed,pattern", [
    ({"h": {"slurmd": "garbage"}}, "h: slurmd -V: cannot tell the installed release"),
    ({"h": {"slurmd": "slurm 23.05.1"}}, "not a Slurm major release"),
    ({"h": {"slurmd": 23.11j}}, "not a version string"),
    ({"h": {"slurmx": "23.11"}}, "unknown daemon 'slurmx'"),
    ({"h": ["23.11"]}, "installed versions must be"),
    (["h"], "installed versions must be"),
    ({"h": {"slurmd": None, "client": ""}}, "no installed Slurm found"),
])
def test_unparsable_installed_versions_are_refused(installed, pattern):
    result = su.check_upgrade(installed, "23.11")
    assert not result["ok"]
    assert any(pattern in e for e in result["errors"]), result["errors"]


@pytest.mark.parametrize("target,pattern", [
    (None, "slurm_upgrade_target_version is required"),
    ("", "slurm_upgrade_target_version is required"),
    ("latest", "slurm_upgrade_target_version: not a Slurm version"),
    ("23.05", "'23.05' is not a Slurm major release"),
    ("26.11", "needs slurm_upgrade_extra_releases"),
])
def test_bad_targets_are_refused(target, pattern):
    result = su.check_upgrade(cluster(), target)
    assert not result["ok"] and pattern in result["errors"][0]


def test_release_after_the_table_needs_extra_releases_and_a_window():
    installed = {"h": {"slurmd": "slurm 26.05.1"}}
    no_window = su.check_upgrade(installed, "26.11", extra_releases=["26.11"])
    assert not no_window["ok"] and "set slurm_upgrade_window" in no_window["errors"][0]
    assert su.check_upgrade(installed, "26.11", extra_releases=["26.11"], window=3)["ok"]


def test_dbd_older_than_ctld_and_slurmd_newer_than_ctld_are_refused():
    result = su.check_upgrade(cluster("22.05.8", "23.02.1", "22.05.8"), "23.11")
    assert not result["ok"]
    assert "slurmdbd on head1 is 22.05 but slurmctld on head1 is 23.02" in result["errors"][0]
    result = su.check_upgrade(cluster("23.02.1", "23.02.1", "23.11.1"), "23.11")
    assert not result["ok"] and "slurmctld on head1 is 23.02 but slurmd on cn001 is 23.11" in result["errors"][0]
    # dbd newer than ctld is the normal state half-way through an upgrade
    assert su.check_upgrade(cluster("23.11.1", "23.02.1", "23.02.1"), "23.11")["ok"]


def test_packages_of_the_target_must_be_in_the_repositories():
    madison = ["slurmd | 23.11.4-1.2ubuntu5 | http://archive.ubuntu.com/ubuntu noble/universe amd64 Packages",
               "slurmd | 22.05.8-4+deb12u3 | http://deb.debian.org/debian bookworm/main amd64 Packages"]
    repoquery = ["22.05.9-1.el9", "", "23.11.10-1.el9"]
    ok = su.check_upgrade(cluster(), "23.11", available={"head1": repoquery, "cn001": madison, "cn002": None})
    assert ok["ok"], ok["errors"]
    assert any("cn002: the package versions in the repositories were not checked" in w for w in ok["warnings"])
    missing = su.check_upgrade(cluster(), "23.11", available={"head1": ["22.05.9-1.el9"]})
    assert not missing["ok"]
    assert "head1: no Slurm package version matching '23.11.*'" in missing["errors"][0]
    same = su.check_upgrade(cluster(), "23.11", available=dict((h, ["22.05.9-1.el9"]) for h in cluster()))
    assert len(same["errors"]) == 1 and same["errors"][0].startswith("cn[001-002],head1: no Slurm package")
    assert "found: 22.05.9-1.el9" in missing["errors"][0]
    micro = su.check_upgrade(cluster(), "23.11.5", available={"cn001": madison})
    assert not micro["ok"] and "'23.11.5-*'" in micro["errors"][0]


def test_package_pin_must_be_the_target_release():
    pinned = su.check_upgrade(cluster(), "23.11", package_version="23.11.4-1.el9",
                              available={"head1": ["23.11.4-1.el9", "23.11.10-1.el9"]})
    assert pinned["ok"] and pinned["plan"]["package_pattern"] == "23.11.4-1.el9"
    other = su.check_upgrade(cluster(), "23.11", package_version="23.02.7")
    assert not other["ok"] and "slurm_upgrade_package_version='23.02.7' is a 23.02 package" in other["errors"][0]


def test_parse_available_reads_madison_and_repoquery():
    assert su.parse_available(["slurmd | 23.11.4-1 | http://x Packages", " 23.11.10-1.el9 ", "", None]) == \
        ["23.11.4-1", "23.11.10-1.el9"]


@pytest.mark.parametrize("text,matches", [
    ("slurm 23.11.4", True), ("slurm-wlm 23.11.4", True), ("slurm 23.11", True),
    ("slurm 23.110.1", False), ("slurm 123.11.1", False), ("slurm 23.02.7", False),
])
def test_version_regex(text, matches):
    assert bool(re.search(su.version_regex("23.11"), text)) is matches


# ---------------------------------------------------------------- nodes to drain / resume
SINFO = [
    "cn001|idle|none", "cn001|idle|none",          # listed once per partition
    "cn002|mixed|none",
    "cn003|drained|bad DIMM",                      # drained before: never resumed by the playbook
    "cn004|draining|hpcai.cluster slurm_upgrade to 23.11",  # an earlier, interrupted run
    "cn005|down*|Not responding",
    "cn006|idle*|none",                            # not responding
    "gpu01|allocated|none",
]
REASON = "hpcai.cluster slurm_upgrade to 23.11"


def test_plan_drain_drains_only_nodes_in_service_and_remembers_its_own():
    plan = su.plan_drain(SINFO, ["cn001", "cn002", "cn003", "cn004", "cn005", "cn006", "cn007"], REASON)
    assert plan["drain"] == ["cn001", "cn002"]
    assert plan["ours"] == ["cn004"]
    assert plan["left_alone"] == ["cn003 (drained: bad DIMM)", "cn005 (down*: Not responding)", "cn006 (idle*)"]
    assert plan["missing"] == ["cn007"]
    assert su.plan_drain(SINFO, None, REASON)["drain"] == ["cn001", "cn002", "gpu01"]


def test_check_upgrade_reports_the_drain_plan():
    result = su.check_upgrade(cluster(), "23.11", node_states=SINFO, nodes=["cn001", "cn002", "cn003", "cn004"],
                              drain_reason=REASON)
    assert result["ok"]
    assert result["plan"]["drain"] == ["cn001", "cn002"] and result["plan"]["already_drained"] == ["cn004"]
    assert any("not drained and not resumed" in w and "cn003" in w for w in result["warnings"])


# ---------------------------------------------------------------- filter
def test_filter_through_the_templar():
    value = evaluate("{{ installed | hpcai.cluster.slurm_upgrade_check('23.11', window=none) }}",
                     {"installed": cluster()})
    assert value["ok"] and value["plan"]["target"] == "23.11"
    assert slurm_upgrade_check(cluster(), "24.05")["ok"] is False
    assert slurm_upgrade_check("nonsense", "23.11")["errors"]  # bad input is an error, not an exception


# ---------------------------------------------------------------- the playbook
def plays():
    return load_yaml(PLAYBOOK)


def task_names(tasks):
    """Task names in order, descending into blocks (block, rescue)."""
    names = []
    for task in tasks or []:
        names.append(task["name"])
        for key in ("block", "rescue", "always"):
            names.extend(task_names(task.get(key)))
    return names


def all_tasks(tasks):
    for task in tasks or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from all_tasks(task.get(key))


def find_task(name_start):
    for play in plays():
        for task in all_tasks(play["tasks"]):
            if task["name"].startswith(name_start):
                return task
    raise KeyError(name_start)


def test_plays_run_in_the_required_order():
    got = [(p["name"].split(" (")[0], p["hosts"]) for p in plays()]
    assert got == [
        ("Preflight - read the installed Slurm and check the upgrade", "slurm_controller:slurm_compute:login:slurm_dbd"),
        ("Drain the compute nodes", "slurm_controller"),
        ("Upgrade slurmdbd", "slurm_controller:slurm_dbd"),
        ("Upgrade slurmctld", "slurm_controller"),
        ("Upgrade slurmd in batches", "slurm_compute"),
        ("Upgrade the Slurm commands on client-only hosts", "login"),
        ("Resume the drained nodes and summarise", "slurm_controller"),
    ]
    slurmd = plays()[4]
    assert slurmd["serial"] == "{{ slurm_upgrade_batch | default('10%') }}" and slurmd["max_fail_percentage"] == 0
    assert all(p.get("any_errors_fatal") for i, p in enumerate(plays()) if i != 4)


def _order(names, *steps):
    """Each step is the name (start) of a task that comes after the previous step's task."""
    position = -1
    for step in steps:
        later = [i for i, n in enumerate(names) if n.startswith(step) and i > position]
        assert later, "no task starting with %r after %r" % (step, names[position] if position >= 0 else None)
        position = later[0]


def test_preflight_checks_before_anything_can_change():
    names = task_names(plays()[0]["tasks"])
    _order(names,
           "Load the slurm role's variables",
           "Check the upgrade settings",
           "Read the installed Slurm versions",
           "List the versions of this host's Slurm packages",
           "Record the compute nodes' states before the upgrade",
           "Check the upgrade (release window",
           "Refuse the upgrade when a check failed",
           "Refuse the upgrade when slurmctld does not answer",
           "Show the upgrade plan",
           "End here when there is nothing to do")
    # the preflight play only reads: every command it runs is read-only in check mode too
    for task in all_tasks(plays()[0]["tasks"]):
        module = next(k for k in task if k.startswith("ansible.builtin.") or k.startswith("hpcai."))
        assert module in ("ansible.builtin.include_role", "ansible.builtin.assert", "ansible.builtin.command",
                          "ansible.builtin.set_fact", "ansible.builtin.fail", "ansible.builtin.debug",
                          "ansible.builtin.meta"), task["name"]
        if module == "ansible.builtin.command":
            assert task["changed_when"] is False and task["check_mode"] is False, task["name"]


def test_upgrade_steps_follow_slurms_upgrade_guide():
    names = [n for p in plays()[1:] for n in task_names(p["tasks"])]
    _order(names,
           "Drain the compute nodes in service",
           "Stop and mask the Slurm daemons of this host, slurmdbd first",
           "Back up the accounting database",
           "Upgrade this host's Slurm packages",
           "Check that slurmdbd is now at the target release",
           "Convert the accounting database - start slurmdbd -D",
           "Wait for the database conversion to finish",
           "Check that the converted slurmdbd answers",
           "Stop the foreground slurmdbd",
           "Unmask, enable and start slurmdbd",
           "Wait until slurmdbd answers as a service",
           "Stop and mask the Slurm daemons of this host (slurmdbd is already upgraded)",
           "Archive StateSaveLocation",
           "Check that slurmctld is now at the target release",
           "Unmask, enable and start slurmctld",
           "Wait until slurmctld answers (scontrol ping)",
           "Wait for the jobs on this batch's nodes to end",
           "Stop and mask slurmd",
           "Check that slurmd is now at the target release",
           "Unmask, enable and start slurmd",
           "Wait until the controller sees the node respond",
           "Check that the commands are now at the target release",
           "Resume the nodes this playbook drained",
           "Summary")
    # nothing that can change a host runs before the drain
    changing = ("ansible.builtin.systemd_service", "ansible.builtin.dnf", "ansible.builtin.apt",
                "community.mysql.mysql_db", "community.general.archive", "ansible.builtin.file")
    tasks = [t for p in plays()[1:] for t in all_tasks(p["tasks"])]
    first_change = min(i for i, t in enumerate(tasks) if any(m in t for m in changing))
    drain = next(i for i, t in enumerate(tasks) if t["name"].startswith("Drain the compute nodes"))
    assert drain < first_change


def test_every_task_uses_fqcn_and_commands_are_check_mode_safe():
    for play in plays():
        assert "name" in play
        for task in all_tasks(play["tasks"]):
            if any(k in task for k in ("block", "rescue")) and not any("." in k for k in task):
                continue
            modules = [k for k in task if "." in k and k.split(".")[0] in ("ansible", "community", "hpcai")]
            assert len(modules) == 1, task["name"]
            if modules[0] in ("ansible.builtin.command", "ansible.builtin.shell"):
                # Either read-only (changed_when false) or a change that check mode skips.
                if task.get("check_mode") is False:
                    assert task["changed_when"] is False, task["name"]
                else:
                    assert "changed_when" in task, task["name"]


def test_conversion_runs_outside_slurmdbd_service_and_has_no_start_timeout():
    argv = find_task("Convert the accounting database")["ansible.builtin.command"]["argv"]
    assert argv[0] == "systemd-run" and "--collect" in argv and argv[-2:] == ["-D", "-vvv"]
    assert any(a.startswith("--unit=") for a in argv)
    dump = find_task("Back up the accounting database")["community.mysql.mysql_db"]
    assert dump["state"] == "dump" and dump["target"].endswith(".sql.gz")


def _vars(os_key, pkg_mgr, host="head1", **extra):
    v = role_variables("slurm", os_key, host, {"slurm_compute_group": "compute"})
    facts = dict(v["ansible_facts"], pkg_mgr=pkg_mgr)
    v["ansible_facts"] = facts
    v["hostvars"][host]["ansible_facts"] = facts
    v.update(extra)
    return v


@pytest.mark.parametrize("os_key,pkg_mgr,host,want", [
    ("debian12", "apt", "head1", ["slurmctld=23.11.*", "slurm-client=23.11.*", "slurmdbd=23.11.*"]),
    ("debian12", "apt", "node1", ["slurmd=23.11.*", "slurm-client=23.11.*"]),
    ("rocky9", "dnf", "head1", ["slurm-23.11.*", "slurm-slurmctld-23.11.*", "slurm-slurmdbd-23.11.*"]),
    ("rocky9", "dnf", "node1", ["slurm-23.11.*", "slurm-slurmd-23.11.*"]),
])
def test_package_specs_per_package_manager(os_key, pkg_mgr, host, want):
    expr = find_task("Set what this host does")["ansible.builtin.set_fact"]["__slurm_upgrade_pkg_specs"]
    v = _vars(os_key, pkg_mgr, host, __slurm_upgrade={"plan": {"package_pattern": "23.11.*"}})
    assert evaluate(expr, v) == want  # munge, MariaDB and libpmix-dev are not Slurm packages: never pinned


def test_el_moves_every_installed_package_of_the_slurm_source():
    expr = find_task("Set what this host does")["ansible.builtin.set_fact"]["__slurm_upgrade_pkg_specs"]
    rpms = ["slurm-slurmd slurm-22.05.9-1.el9.src.rpm", "slurm-pam_slurm slurm-22.05.9-1.el9.src.rpm",
            "slurm-libs slurm-22.05.9-1.el9.src.rpm", "slurm slurm-22.05.9-1.el9.src.rpm",
            "slurm-drmaa slurm-drmaa-1.1.4-1.el9.src.rpm", "munge munge-0.5.13-13.el9.src.rpm",
            "slurm-contribs-ohpc slurm-ohpc-23.11.10-320.ohpc.3.1.src.rpm"]
    v = _vars("rocky9", "dnf", "node1", __slurm_upgrade={"plan": {"package_pattern": "23.11.*"}},
              __slurm_upgrade_rpms={"stdout_lines": rpms})
    assert evaluate(expr, v) == ["slurm-23.11.*", "slurm-slurmd-23.11.*", "slurm-pam_slurm-23.11.*",
                                 "slurm-libs-23.11.*", "slurm-contribs-ohpc-23.11.*"]


def test_apt_never_removes_a_package_to_make_room():
    for play in plays():
        for task in all_tasks(play["tasks"]):
            if "ansible.builtin.apt" in task:
                assert task["ansible.builtin.apt"]["fail_on_autoremove"] is True, task["name"]
                assert task["ansible.builtin.apt"]["state"] == "present"


def test_resume_selects_only_nodes_with_our_reason():
    task = find_task("Resume the nodes this playbook drained")
    expr = task["vars"]["__slurm_upgrade_resume"]
    v = _vars("debian12", "apt", "head1",
              __slurm_upgrade_cfg={"reason": REASON},
              __slurm_upgrade_after={"stdout_lines": [
                  "node1|drained|" + REASON, "node1|drained|" + REASON,
                  "node2|drained|bad DIMM", "head1|idle|none", "other|drained|" + REASON]})
    assert evaluate(expr, v) == ["node1"]  # not node2 (another reason), not 'other' (not in the inventory)


def test_state_save_location_is_read_from_scontrol():
    expr = find_task("Fix the settings of this run")["ansible.builtin.set_fact"]["__slurm_upgrade_cfg"]["state_save"]
    config = "SlurmUser = slurm(990)\nStateSaveLocation       = /srv/slurm/state\n"
    v = _vars("rocky9", "dnf", __slurm_upgrade_config={"stdout": config})
    assert evaluate(expr, v) == "/srv/slurm/state"
    v["__slurm_upgrade_config"] = {"stdout": ""}
    assert evaluate(expr, v) == "/var/spool/slurm/ctld"  # the role's default when slurmctld is down
