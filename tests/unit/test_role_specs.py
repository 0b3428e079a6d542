"""meta/argument_specs.yml must describe defaults/main.yml exactly, for every role.

Generic checks (parametrized by role, so a failure names the role):
  * a role with defaults/main.yml has meta/argument_specs.yml with a `main` entry point;
  * every default variable is an option and every option is a default (options
    marked `required: true` without a default are the only exception);
  * declared `default:` equals the value in defaults/main.yml;
  * every option (and sub-option) has a `type` and a `description`;
  * `choices` contain the default; the default's YAML type matches `type`.

Behavioural checks through ansible-playbook on localhost (-c local, read-only):
  * the defaults of every role pass ansible.builtin.validate_argument_spec;
  * wrong values fail and the message names the variable and allowed values;
  * base's preflight rejects what argument_specs cannot express (CIDRs, id
    collisions, mirror without URL, ...) with messages naming the variable.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import yaml

from render_helpers import REPO, ROLES_DIR, load_yaml, roles

PY_TYPES = {
    "str": (str,),
    "int": (int,),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
    "float": (float, int),
    "path": (str,),
    "raw": (object,),
}


def _roles_with_defaults():
    return [r for r in roles() if (ROLES_DIR / r / "defaults" / "main.yml").is_file()]


def _spec(role):
    path = ROLES_DIR / role / "meta" / "argument_specs.yml"
    assert path.is_file(), f"{role}: meta/argument_specs.yml is missing"
    data = load_yaml(path) or {}
    main = (data.get("argument_specs") or {}).get("main")
    assert main, f"{role}: argument_specs.yml has no 'main' entry point"
    return main.get("options") or {}


def _defaults(role):
    return load_yaml(ROLES_DIR / role / "defaults" / "main.yml") or {}


@pytest.mark.parametrize("role", _roles_with_defaults())
def test_defaults_and_options_match(role):
    options, defaults = _spec(role), _defaults(role)
    only_defaults = sorted(set(defaults) - set(options))
    only_spec = sorted(
        k for k in set(options) - set(defaults)
        if not (options[k].get("required") and "default" not in options[k])
    )
    assert not only_defaults, f"{role}: defaults without an argument_specs option: {only_defaults}"
    assert not only_spec, f"{role}: argument_specs options without a default in defaults/main.yml: {only_spec}"


@pytest.mark.parametrize("role", _roles_with_defaults())
def test_declared_defaults_equal_defaults_file(role):
    options, defaults = _spec(role), _defaults(role)
    wrong = {}
    for name, value in defaults.items():
        opt = options.get(name, {})
        if "default" not in opt:
            wrong[name] = "no 'default:' in argument_specs"
        elif opt["default"] != value:
            wrong[name] = f"argument_specs {opt['default']!r} != defaults {value!r}"
    assert not wrong, f"{role}: {json.dumps(wrong, indent=1, default=str)}"


def _walk(options, prefix=""):
    for name, opt in (options or {}).items():
        yield f"{prefix}{name}", opt or {}
        if isinstance(opt, dict) and opt.get("options"):
            yield from _walk(opt["options"], f"{prefix}{name}.")


@pytest.mark.parametrize("role", _roles_with_defaults())
def test_every_option_has_type_and_description(role):
    bad = [name for name, opt in _walk(_spec(role)) if not opt.get("type") or not opt.get("description")]
    assert not bad, f"{role}: options without type or description: {bad}"


@pytest.mark.parametrize("role", _roles_with_defaults())
def test_choices_contain_default_and_types_match(role):
    problems = []
    for name, opt in _spec(role).items():
        if "default" not in opt:
            continue
        default = opt["default"]
        if opt.get("choices") is not None and opt.get("type") == "list":
            outside = [d for d in default if d not in opt["choices"]]
            if outside:
                problems.append(f"{name}: default items {outside!r} not in choices {opt['choices']}")
        elif opt.get("choices") is not None and default not in opt["choices"]:
            problems.append(f"{name}: default {default!r} not in choices {opt['choices']}")
        types = PY_TYPES.get(opt.get("type"))
        if types and default is not None and not isinstance(default, types):
            problems.append(f"{name}: default {default!r} is not of type {opt['type']}")
        if opt.get("type") == "int" and isinstance(default, bool):
            problems.append(f"{name}: default {default!r} is a bool, declared int")
    assert not problems, f"{role}: " + "; ".join(problems)


# ---------------------------------------------------------------- ansible-playbook harness
def _ansible_playbook():
    exe = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return exe if os.path.exists(exe) else shutil.which("ansible-playbook")


def _run_playbook(tmp_path, playbook: str, tasks: dict[str, str], extra_vars: dict):
    """Run a playbook on localhost; returns the results file's JSON."""
    exe = _ansible_playbook()
    if not exe:
        pytest.skip("ansible-playbook not found")
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text(textwrap.dedent(f"""\
        [defaults]
        collections_path = {REPO / '.collections'}
        roles_path = {ROLES_DIR}
        host_key_checking = False
        interpreter_python = auto_silent
        retry_files_enabled = False
        gathering = implicit
        fact_caching = memory
        """))
    for name, text in tasks.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "play.yml").write_text(playbook)
    (tmp_path / "extra.json").write_text(json.dumps(extra_vars))
    env = dict(os.environ, ANSIBLE_CONFIG=str(cfg), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [exe, "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml"), "-e", f"@{tmp_path / 'extra.json'}",
         "-e", f"results_file={tmp_path / 'results.json'}", "-e", f"ansible_python_interpreter={sys.executable}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    results = tmp_path / "results.json"
    assert results.is_file(), f"playbook did not finish:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return json.loads(results.read_text())


CASE_TASKS = """\
- name: "Case {{ case.name }}"
  block:
    - name: Validate
      ansible.builtin.validate_argument_spec:
        argument_spec: "{{ (lookup('ansible.builtin.file', case.spec) | from_yaml).argument_specs.main.options }}"
        provided_arguments: "{{ (lookup('ansible.builtin.file', case.defaults) | from_yaml) | combine(case.vars) }}"
    - name: Record success
      ansible.builtin.set_fact:
        results: "{{ results | combine({case.name: {'failed': false, 'msg': ''}}) }}"
  rescue:
    - name: Record failure
      ansible.builtin.set_fact:
        results: "{{ results | combine({case.name: {'failed': true, 'msg': __msg}}) }}"
      vars:
        __msg: >-
          {{ ansible_failed_result.msg | default('') }}
          {{ ansible_failed_result.argument_errors | default([]) | join(' ') }}
"""

PLAY = """\
- name: Harness
  hosts: localhost
  gather_facts: {gather}
  vars:
    results: {{}}
  tasks:
    - name: Run the cases
      ansible.builtin.include_tasks: case.yml
      loop: "{{{{ cases }}}}"
      loop_control:
        loop_var: case
        label: "{{{{ case.name }}}}"
    - name: Write the results
      ansible.builtin.copy:
        content: "{{{{ results | to_json }}}}"
        dest: "{{{{ results_file }}}}"
        mode: "0644"
"""

# role -> [(case name, variables, expected substrings of the error or None for success)]
BAD_VALUES = {
    "base": [
        ("selinux_typo", {"base_selinux_state": "enforcingg"},
         ["base_selinux_state", "enforcing, permissive, disabled", "enforcingg"]),
        ("repo_mode", {"base_repo_mode": "offline"}, ["base_repo_mode", "upstream, mirror, none"]),
        ("uid_not_int", {"base_users": [{"name": "x", "uid": "abc"}]}, ["uid", "base_users"]),
        ("user_without_uid", {"base_users": [{"name": "x"}]}, ["uid", "base_users"]),
        ("limits_type", {"base_limits_extra": [{"domain": "*", "type": "bogus", "item": "nproc", "value": "1"}]},
         ["type", "soft, hard, -"]),
        ("journald_storage", {"base_journald_storage": "disk"}, ["base_journald_storage", "persistent"]),
    ],
}


@pytest.fixture(scope="module")
def argspec_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("argspec")
    cases = []
    for role in _roles_with_defaults():
        spec = str(ROLES_DIR / role / "meta" / "argument_specs.yml")
        dflt = str(ROLES_DIR / role / "defaults" / "main.yml")
        cases.append({"name": f"{role}:defaults", "spec": spec, "defaults": dflt, "vars": {}})
        for name, variables, _expected in BAD_VALUES.get(role, []):
            cases.append({"name": f"{role}:{name}", "spec": spec, "defaults": dflt, "vars": variables})
    return _run_playbook(tmp, PLAY.format(gather="false"), {"case.yml": CASE_TASKS}, {"cases": cases})


@pytest.mark.parametrize("role", _roles_with_defaults())
def test_defaults_pass_argument_spec_validation(role, argspec_results):
    res = argspec_results[f"{role}:defaults"]
    assert not res["failed"], f"{role}: defaults fail their own argument_specs: {res['msg']}"


@pytest.mark.parametrize("role,case,expected", [
    pytest.param(role, name, expected, id=f"{role}-{name}")
    for role, cases in BAD_VALUES.items() for name, _variables, expected in cases
])
def test_bad_values_fail_with_clear_message(role, case, expected, argspec_results):
    res = argspec_results[f"{role}:{case}"]
    assert res["failed"], f"{role}: {case} was accepted"
    for needle in expected:
        assert needle in res["msg"], f"{needle!r} not in {res['msg']!r}"


# ---------------------------------------------------------------- base preflight
def _preflight_tasks(name: str, variables: dict) -> str:
    """One case: load the OS vars, run preflight with `variables`, record the outcome.
    include_role needs literal vars, so each case gets its own tasks file."""
    case_vars = yaml.safe_dump(variables or {"__case": name}, default_flow_style=True, width=10000).strip()
    return textwrap.dedent(f"""\
        - name: "Case {name}"
          block:
            - name: Load OS variables
              ansible.builtin.include_role:
                name: hpcai.cluster.base
                tasks_from: set_vars.yml
              vars: {case_vars}
            - name: Preflight
              ansible.builtin.include_role:
                name: hpcai.cluster.base
                tasks_from: preflight.yml
              vars: {case_vars}
            - name: Record success
              ansible.builtin.set_fact:
                results: "{{{{ results | combine({{'{name}': {{'failed': false, 'msg': ''}}}}) }}}}"
          rescue:
            - name: Record failure
              ansible.builtin.set_fact:
                results: "{{{{ results | combine({{'{name}': {{'failed': true, 'msg': __msg}}}}) }}}}"
              vars:
                # loops report per-item messages under results[]
                __msg: "{{{{ ([ansible_failed_result.msg | default('')]
                          + (ansible_failed_result.results | default([]) | selectattr('failed', 'defined')
                             | selectattr('failed') | map(attribute='msg') | list)) | join(' | ') }}}}"
        """)


PREFLIGHT_PLAY = """\
- name: Harness
  hosts: localhost
  gather_facts: true
  vars:
    results: {}
  tasks:
    - name: Run the cases
      ansible.builtin.include_tasks: "{{ item }}"
      loop: "{{ cases }}"
    - name: Write the results
      ansible.builtin.copy:
        content: "{{ results | to_json }}"
        dest: "{{ results_file }}"
        mode: "0644"
"""

PREFLIGHT_CASES = [
    ("ok", {}, None),
    ("cidr_host_bits", {"base_cluster_networks": ["10.0.0.1/8"]}, ["base_cluster_networks", "10.0.0.1/8"]),
    ("cidr_octet", {"base_cluster_networks": ["300.1.0.0/16"]}, ["base_cluster_networks", "300.1.0.0/16"]),
    ("cidr_prefix", {"base_cluster_networks": ["10.0.0.0/33"]}, ["base_cluster_networks"]),
    ("address_outside", {"base_cluster_networks": ["203.0.113.0/24"], "base_cluster_address": "10.9.9.9"},
     ["'10.9.9.9'", "outside base_cluster_networks", "base_cluster_interface"]),
    ("address_inside", {"base_cluster_networks": ["10.9.0.0/16"], "base_cluster_address": "10.9.9.9"}, None),
    ("duplicate_uid", {"base_users": [{"name": "hpc-a", "uid": 981, "group": "munge"}]},
     ["base_system_users + base_users", "981"]),
    ("existing_uid", {"base_users": [{"name": "hpc-b", "uid": 0, "group": "root"}]},
     ["hpc-b (base_system_users/base_users) wants uid 0, but on localhost uid 0 belongs to root."]),
    ("existing_user_other_uid", {"base_users": [{"name": "root", "uid": 4712, "group": "root"}]},
     ["user root has uid 0"]),
    ("unknown_group", {"base_users": [{"name": "hpc-c", "uid": 4711, "group": "no-such-group-xyz"}]},
     ["no-such-group-xyz", "base_system_groups/base_groups"]),
    ("mirror_without_url", {"base_repo_mode": "mirror"}, ["base_mirror_url"]),
    ("bad_port", {"base_firewall_allowed_ports": ["22"]}, ["base_firewall_allowed_ports", "PORT/PROTO"]),
    ("bad_timezone", {"base_timezone": "Mars/Olympus Mons"}, ["base_timezone"]),
    ("nofile_order", {"base_limits_nofile_soft": 10, "base_limits_nofile_hard": 5},
     ["base_limits_nofile_soft (10) must not exceed base_limits_nofile_hard (5)"]),
    ("memlock", {"base_limits_memlock": "lots"}, ["base_limits_memlock", "'lots'"]),
    ("serve_group_missing", {"base_chrony_serve_group": "no_such_group"}, ["base_chrony_serve_group"]),
]


@pytest.fixture(scope="module")
def preflight_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("preflight")
    files = {f"case_{name}.yml": _preflight_tasks(name, variables) for name, variables, _expected in PREFLIGHT_CASES}
    return _run_playbook(tmp, PREFLIGHT_PLAY, files, {"cases": list(files)})


@pytest.mark.parametrize("case,expected", [pytest.param(n, e, id=n) for n, _v, e in PREFLIGHT_CASES])
def test_base_preflight(case, expected, preflight_results):
    ok = preflight_results["ok"]
    if ok["failed"] and "not supported" in ok["msg"]:
        pytest.skip(f"this machine's OS is not one base supports: {ok['msg']}")
    res = preflight_results[case]
    if expected is None:
        assert not res["failed"], res["msg"]
        return
    assert res["failed"], f"preflight accepted {case}"
    for needle in expected:
        assert needle in res["msg"], f"{needle!r} not in {res['msg']!r}"


def test_argument_specs_yaml_is_plain(tmp_path):
    # yaml.safe_load must read every spec (ansible-doc and Galaxy use plain YAML loaders).
    for role in roles():
        path = ROLES_DIR / role / "meta" / "argument_specs.yml"
        if path.is_file():
            with open(path, encoding="utf-8") as fh:
                yaml.safe_load(fh)
