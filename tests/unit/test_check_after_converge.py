"""molecule/shared/check_after_converge.py: the enforced check mode after converge.

The judging is tested on json-callback documents; the whole script once more
end to end on localhost, laid out like a Molecule scenario (inventory directory,
scenario directory, merged molecule.yml naming the converge playbook).
"""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "molecule", "shared", "check_after_converge.py")

_spec = importlib.util.spec_from_file_location("check_after_converge", SCRIPT)
cac = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cac)


def stats(ok=5, changed=0, failures=0, unreachable=0, skipped=0, ignored=0):
    return {"ok": ok, "changed": changed, "failures": failures, "unreachable": unreachable,
            "skipped": skipped, "ignored": ignored, "rescued": 0}


def task(name, hosts, path="/repo/roles/base/tasks/main.yml:10"):
    return {"task": {"name": name, "path": path}, "hosts": hosts}


def doc(tasks, host_stats):
    return {"plays": [{"play": {"name": "converge"}, "tasks": tasks}], "stats": host_stats}


def test_clean_run_passes():
    d = doc([task("Write /etc/hosts", {"h1": {"changed": False}, "h2": {"changed": False}})],
            {"h1": stats(), "h2": stats()})
    ok, lines = cac.judge(d)
    assert ok
    assert lines == ["ok   h1: ok=5 changed=0 failed=0 unreachable=0 skipped=0",
                     "ok   h2: ok=5 changed=0 failed=0 unreachable=0 skipped=0"]


def test_changed_task_is_named_with_path_items_and_diff():
    d = doc([
        task("base : Write /etc/hosts", {
            "h1": {"changed": True, "diff": {"before": "a\n", "after": "b\n",
                                             "before_header": "/etc/hosts", "after_header": "/etc/hosts"}},
            "h2": {"changed": False}}),
        task("base : Users", {"h1": {"changed": True, "results": [
            {"item": {"name": "alice"}, "_ansible_item_label": "alice", "changed": True},
            {"item": {"name": "bob"}, "changed": False}]}}, path="/repo/roles/base/tasks/users.yml:3"),
    ], {"h1": stats(changed=2), "h2": stats()})
    ok, lines = cac.judge(d, project_dir="/repo")
    assert not ok
    text = "\n".join(lines)
    assert lines[0] == "FAIL h1: ok=5 changed=2 failed=0 unreachable=0 skipped=0"
    assert "     changed: base : Write /etc/hosts (roles/base/tasks/main.yml:10)" in lines
    assert "       | -a" in lines and "       | +b" in lines
    assert "     changed: base : Users (roles/base/tasks/users.yml:3)" in lines
    assert "       items: alice" in lines
    assert "bob" not in text
    assert "ok   h2: ok=5 changed=0 failed=0 unreachable=0 skipped=0" in lines


def test_paths_through_the_collection_symlink_are_shown_from_the_project(tmp_path):
    (tmp_path / "roles" / "gpu" / "tasks").mkdir(parents=True)
    (tmp_path / "roles" / "gpu" / "tasks" / "kernel_guard.yml").write_text("---\n")
    (tmp_path / ".collections" / "ansible_collections" / "hpcai").mkdir(parents=True)
    os.symlink("../../..", str(tmp_path / ".collections" / "ansible_collections" / "hpcai" / "cluster"))
    via_link = "%s/.collections/ansible_collections/hpcai/cluster/roles/gpu/tasks/kernel_guard.yml:47" % tmp_path
    assert cac._short_path(via_link, str(tmp_path)) == "roles/gpu/tasks/kernel_guard.yml:47"
    assert cac._short_path("/elsewhere/x.yml:3", str(tmp_path)) == "/elsewhere/x.yml:3"
    assert cac._short_path("", str(tmp_path)) == ""


def test_failure_and_unreachable_fail_with_message():
    d = doc([task("slurm : Start slurmd", {"h1": {"failed": True, "msg": "Unable to start service slurmd\nmore"}}),
             task("Gathering Facts", {"h2": {"unreachable": True, "msg": "container not running"}})],
            {"h1": stats(failures=1), "h2": stats(ok=0, unreachable=1)})
    ok, lines = cac.judge(d)
    assert not ok
    assert "     failed: slurm : Start slurmd (/repo/roles/base/tasks/main.yml:10)" in lines
    assert "       msg: Unable to start service slurmd" in lines
    assert "     unreachable: Gathering Facts (/repo/roles/base/tasks/main.yml:10)" in lines


def test_ignored_failure_is_not_a_finding():
    # ignore_errors: the json callback records failed=True, the stats count it as ignored.
    d = doc([task("probe", {"h1": {"failed": True, "changed": False, "msg": "rc 1"}})],
            {"h1": stats(ignored=1)})
    ok, lines = cac.judge(d)
    assert ok, lines


def test_stats_decide_even_without_a_task_entry():
    # A changed count with no task result found (e.g. a callback oddity) still fails.
    d = doc([], {"h1": stats(changed=1)})
    ok, lines = cac.judge(d)
    assert not ok and lines == ["FAIL h1: ok=5 changed=1 failed=0 unreachable=0 skipped=0"]


def test_no_hosts_is_not_a_pass():
    ok, lines = cac.judge(doc([], {}))
    assert not ok and "no host ran" in lines[0]


def test_json_found_after_stray_output():
    payload = json.dumps(doc([], {"h1": stats()}))
    assert cac.parse_json_output("Skipping plugin x\n{not json\n" + payload + "\n")["stats"] == {"h1": stats()}
    assert cac.parse_json_output(payload)["stats"] == {"h1": stats()}
    assert cac.parse_json_output("ERROR! the playbook could not be found\n") is None
    assert cac.parse_json_output('{"plays": []}\n') is None  # no stats: not the callback's document


def _scenario(tmp_path, content, converge_name="converge.yml", section="ansible"):
    """A Molecule-like layout: scenario dir with a converge playbook, inventory dir, ephemeral dir with molecule.yml."""
    scenario = tmp_path / "scenario"
    inventory = tmp_path / "ephemeral" / "inventory"
    inventory.mkdir(parents=True)
    scenario.mkdir()
    target = tmp_path / "managed.txt"
    target.write_text("converged\n")
    (scenario / converge_name).write_text(
        "---\n- name: Converge\n  hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Write the managed file\n      ansible.builtin.copy:\n"
        "        dest: %s\n        content: \"%s\\n\"\n        mode: \"0644\"\n" % (target, content))
    (inventory / "ansible_inventory.yml").write_text(
        "all:\n  hosts:\n    node1:\n      ansible_connection: local\n      ansible_python_interpreter: %s\n"
        % sys.executable)
    molecule_file = tmp_path / "ephemeral" / "molecule.yml"
    # Molecule 26 writes the playbooks under ansible:, older releases under provisioner:.
    molecule_file.write_text("%s:\n  playbooks:\n    converge: %s\n" % (section, converge_name))
    cfg = tmp_path / "ephemeral" / "ansible.cfg"
    cfg.write_text("[defaults]\nretry_files_enabled = False\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MOLECULE_"))}
    env.update({
        "MOLECULE_INVENTORY_FILE": str(inventory / "ansible_inventory.yml"),
        "MOLECULE_SCENARIO_DIRECTORY": str(scenario),
        "MOLECULE_EPHEMERAL_DIRECTORY": str(tmp_path / "ephemeral"),
        "MOLECULE_FILE": str(molecule_file),
        "MOLECULE_PROJECT_DIRECTORY": str(tmp_path),
        "ANSIBLE_CONFIG": str(cfg),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
    })
    return env


def _run(env):
    proc = subprocess.run([sys.executable, SCRIPT], env=env, text=True, capture_output=True, check=False, timeout=300)
    return proc.returncode, proc.stdout


@pytest.mark.parametrize("content, expected_rc, section",
                         [("converged", 0, "ansible"), ("drifted", 1, "ansible"), ("drifted", 1, "provisioner")])
def test_end_to_end_on_localhost(tmp_path, content, expected_rc, section):
    env = _scenario(tmp_path, content, converge_name="site_converge.yml", section=section)
    rc, out = _run(env)
    assert rc == expected_rc, out
    assert os.path.isfile(tmp_path / "ephemeral" / "check_after_converge.json")
    assert "site_converge.yml" in out
    if expected_rc:
        assert "FAIL node1: ok=1 changed=1 failed=0" in out
        assert "     changed: Write the managed file (scenario/site_converge.yml:" in out
        assert "       | -converged" in out and "       | +drifted" in out
        # --check: the file is untouched
        assert (tmp_path / "managed.txt").read_text() == "converged\n"
    else:
        assert "ok   node1: ok=1 changed=0 failed=0" in out


def test_unjudgeable_run_exits_2(tmp_path):
    env = _scenario(tmp_path, "converged", converge_name="other.yml")
    env["MOLECULE_FILE"] = str(tmp_path / "missing.yml")  # so the default converge.yml, which does not exist
    rc, out = _run(env)
    assert rc == 2 and "no JSON result" in out


def test_outside_molecule_exits_2():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOLECULE_")}
    rc, out = _run(env)
    assert rc == 2 and "MOLECULE_INVENTORY_FILE" in out


@pytest.mark.parametrize("content, expected_rc", [("converged", 0), ("drifted", 2)])
def test_side_effect_playbook_fails_the_step_on_a_change(tmp_path, content, expected_rc):
    """The side_effect playbook Molecule runs (check_after_converge.yml) fails when the script finds a change."""
    env = _scenario(tmp_path, content)
    playbook = os.path.join(os.path.dirname(SCRIPT), "check_after_converge.yml")
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    # As Molecule runs it: against the scenario's inventory, localhost implicit.
    inventory = os.path.dirname(env["MOLECULE_INVENTORY_FILE"])
    proc = subprocess.run([ansible_playbook, "-i", inventory, playbook], env=env, text=True,
                          capture_output=True, check=False, timeout=300)
    assert proc.returncode == expected_rc, proc.stdout + proc.stderr
    if expected_rc:
        assert "FAIL node1: ok=1 changed=1" in proc.stdout
        assert "the converge playbook (--check) reports changes or failures on a converged cluster" in proc.stdout
    else:
        assert "ok   node1: ok=1 changed=0" in proc.stdout


def test_report_names():
    assert cac.report_name() == "check_after_converge.json"
    assert cac.report_name("playbooks/validate.yml", real=True) == "check_after_converge-validate-real.json"
    assert cac.report_name("playbooks/validate.yml") == "check_after_converge-validate.json"


@pytest.mark.parametrize("real", [False, True])
def test_another_playbook_run_for_real_or_checked(tmp_path, real):
    """--playbook runs a project playbook instead of the converge one; --real runs it without --check, so a
    change is made and reported; -e reaches it."""
    env = _scenario(tmp_path, "converged")
    (tmp_path / "playbooks").mkdir()
    target = tmp_path / "day2.txt"
    target.write_text("old\n")
    (tmp_path / "playbooks" / "day2.yml").write_text(
        "---\n- name: Day two\n  hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Write the day-two file\n      ansible.builtin.copy:\n"
        "        dest: %s\n        content: \"{{ day2_content }}\\n\"\n        mode: \"0644\"\n" % target)
    args = [sys.executable, SCRIPT, "--playbook", "playbooks/day2.yml", "-e", '{"day2_content": "new"}']
    proc = subprocess.run(args + (["--real"] if real else []), env=env, text=True, capture_output=True,
                          check=False, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "changed: Write the day-two file (playbooks/day2.yml:" in proc.stdout
    assert ("run after converge" if real else "check after converge") in proc.stdout
    assert target.read_text() == ("new\n" if real else "old\n")
    report = "check_after_converge-day2%s.json" % ("-real" if real else "")
    assert os.path.isfile(tmp_path / "ephemeral" / report)
    # the same content again: nothing to change, for real or checked
    target.write_text("new\n")
    proc = subprocess.run(args + (["--real"] if real else []), env=env, text=True, capture_output=True,
                          check=False, timeout=300)
    assert proc.returncode == 0 and "ok   node1: ok=1 changed=0" in proc.stdout, proc.stdout
