"""Issue 12, part 1 - bad input for every module option, in-process through AnsibleModule.

AUTO cases come from each module's DOCUMENTATION (new options are covered
without editing this file):

  * a wrong type for every option whose type AnsibleModule checks (int, float,
    bool, list, dict, also sub-options): fail_json naming the option and the
    declared type;
  * an unknown value for every option with choices (also list elements);
  * a list/dict given for a str/path option: AnsibleModule converts it to a
    string with a warning, so the module must either refuse the result naming
    the option, or carry on without an exception.

SEMANTIC cases (hand-written): out-of-range numbers, malformed cpulists,
relative or missing paths, mutually exclusive and missing companion options,
malformed kernel arguments and module names.

Every case: main() must end in exit_json/fail_json (SystemExit with one JSON
document on stdout) - an exception escaping main() is what Ansible shows as
MODULE FAILURE with a traceback. Modules never touch this machine here: root
is a synthetic sysfs tree, dest_root a temporary directory, check mode on,
and run_command / get_bin_path are replaced (no command runs).
"""
from __future__ import annotations

import copy
import importlib
import json
import os
import sys

import pytest
import yaml

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sysfs_gen as gen  # noqa: E402

MODULES = ["cgroup_partition", "cpu_topology", "fabric_facts", "gpu_facts", "kernel_cmdline",
           "kernel_modules_check", "numa_sysctl", "pci_devices"]

WRONG_VALUE = {
    "int": "not-a-number",
    "float": "not-a-number",
    "bool": "not-a-bool",
    "list": {"wrong": "type"},
    "dict": ["wrong", "type"],
}
STRING_WRONG = {"wrong": "type"}
UNKNOWN_CHOICE = "no-such-choice"

# Options every run of a module gets (before the case's own): what makes it
# run on the synthetic tree without touching this machine. ROOT / DEST are
# replaced by the fixture's paths.
ROOT, DEST = "@root@", "@dest@"
BASE_ARGS = {
    "cgroup_partition": {"root": ROOT, "dest_root": DEST},
    "cpu_topology": {"root": ROOT},
    "fabric_facts": {"root": ROOT},
    "gpu_facts": {"root": ROOT},
    "kernel_cmdline": {"root": DEST, "method": "none", "args": ["iommu=pt"]},
    "kernel_modules_check": {"root": ROOT, "modules": ["nvidia"], "kernel": "6.1.0-28-amd64"},
    "numa_sysctl": {"root": ROOT, "dest_root": DEST},
    "pci_devices": {"root": ROOT},
}


def _doc(module):
    mod = importlib.import_module(f"ansible_collections.hpcai.cluster.plugins.modules.{module}")
    return yaml.safe_load(mod.DOCUMENTATION)


def _allowed(opt):
    if opt.get("choices") and opt.get("type", "str") != "list":
        return [", ".join(str(c) for c in opt["choices"])]
    return [f"convert to {opt.get('type', 'str')}", f"type {opt.get('type', 'str')}"]


def _auto_cases(module):
    """[(kind, case id, args, needles)]; kind type | choice | string (needles None: no exception, and if it
    fails the option is named)."""
    cases = []
    for name, opt in (_doc(module).get("options") or {}).items():
        declared = opt.get("type", "str")
        if declared in WRONG_VALUE:
            cases.append(("type", f"{module}:type:{name}", {name: copy.deepcopy(WRONG_VALUE[declared])},
                          [[name], _allowed(opt)]))
        elif declared in ("str", "path"):
            if opt.get("choices"):
                cases.append(("type", f"{module}:type:{name}", {name: copy.deepcopy(STRING_WRONG)}, [[name], _allowed(opt)]))
            else:
                cases.append(("string", f"{module}:string:{name}", {name: copy.deepcopy(STRING_WRONG)}, [[name]]))
        if opt.get("choices"):
            value = [UNKNOWN_CHOICE] if declared == "list" else UNKNOWN_CHOICE
            cases.append(("choice", f"{module}:choice:{name}", {name: value},
                          [[name], [", ".join(str(c) for c in opt["choices"])], [UNKNOWN_CHOICE]]))
        for sname, sopt in (opt.get("suboptions") or {}).items():
            sdeclared = sopt.get("type", "str")
            if sdeclared in WRONG_VALUE:
                base = _good_suboptions(opt, sname)
                base[sname] = copy.deepcopy(WRONG_VALUE[sdeclared])
                cases.append(("type", f"{module}:type:{name}.{sname}", {name: base}, [[sname], _allowed(sopt)]))
    return cases


def _good_suboptions(opt, bad):
    """A valid value for a dict option with suboptions, around the bad sub-option `bad`."""
    if "per_node" in (opt.get("suboptions") or {}):  # numa_sysctl hugepages: exactly one of three
        return {"size": "2M"} if bad in ("per_node", "percent_of_memory", "nodes") else {"size": "2M", "per_node": 1}
    return {}


SMALL = gen.make_spec(gen.MILAN, name="small", ccx_per_socket=2)

# (module, case name, args, needles: each a list of alternatives, one of which must be in the message)
SEMANTIC = [
    # ---- cgroup_partition
    ("cgroup_partition", "cpus_open_range", {"policy": "explicit", "cpus": "0-"}, [["cpus"], ["0-"]]),
    ("cgroup_partition", "cpus_reversed", {"policy": "explicit", "cpus": "3-1"}, [["cpus"], ["3-1"]]),
    ("cgroup_partition", "cpus_letters", {"policy": "explicit", "cpus": "a"}, [["cpus"], ["'a'"]]),
    ("cgroup_partition", "cpus_offline", {"policy": "explicit", "cpus": "0-100000"}, [["cpus"], ["out of range", "not online"]]),
    ("cgroup_partition", "explicit_without_cpus", {"policy": "explicit"}, [["cpus"], ["policy is explicit"]]),
    ("cgroup_partition", "cpus_without_explicit", {"policy": "per_l3", "cpus": "0-1"}, [["cpus"], ["explicit"]]),
    ("cgroup_partition", "count_zero", {"count": 0}, [["count"], [">= 1", "at least 1"]]),
    ("cgroup_partition", "count_negative", {"count": -2}, [["count"], [">= 1", "at least 1"]]),
    ("cgroup_partition", "count_too_big", {"count": 100000}, [["count"], ["core"]]),
    ("cgroup_partition", "reserve_both", {"memory_reserve_mib": 1024, "memory_reserve_percent": 5},
     [["memory_reserve_mib"], ["memory_reserve_percent"], ["mutually exclusive"]]),
    ("cgroup_partition", "reserve_percent_150", {"memory_reserve_percent": 150}, [["memory_reserve_percent"], ["within"]]),
    ("cgroup_partition", "reserve_mib_negative", {"memory_reserve_mib": -1}, [["memory_reserve_mib"], [">= 0", "negative"]]),
    ("cgroup_partition", "margin_negative", {"real_memory_margin_mib": -5}, [["real_memory_margin_mib"], [">= 0", "negative"]]),
    ("cgroup_partition", "systemd_version_negative", {"systemd_version": -1}, [["systemd_version"], [">= 0", "positive"]]),
    ("cgroup_partition", "service_name", {"services": ["../evil.service"]}, [["services"], ["unit"]]),
    ("cgroup_partition", "service_space", {"services": ["a b"]}, [["services"], ["unit"]]),
    ("cgroup_partition", "root_relative", {"root": "relative/root"}, [["root"], ["absolute"]]),
    ("cgroup_partition", "root_missing", {"root": "/nonexistent/hpcai-root"}, [["root", "/nonexistent/hpcai-root"]]),
    ("cgroup_partition", "dest_root_relative", {"dest_root": "relative/dest"}, [["dest_root"], ["absolute"]]),
    ("cgroup_partition", "pci_devices_not_dicts", {"gpu_local_cpus": "avoid", "pci_devices": ["0000:01:00.0"]},
     [["pci_devices"], ["dict"]]),
    ("cgroup_partition", "topology_garbage", {"topology": {"cores": "many", "cpus_online": "0-"}}, [["topology"]]),
    # ---- cpu_topology / fabric_facts / gpu_facts / pci_devices: the root
    ("cpu_topology", "root_relative", {"root": "relative/root"}, [["root"], ["absolute"]]),
    ("cpu_topology", "root_missing", {"root": "/nonexistent/hpcai-root"}, [["/nonexistent/hpcai-root"]]),
    ("fabric_facts", "root_relative", {"root": "relative/root"}, [["root"], ["absolute"]]),
    ("fabric_facts", "root_missing", {"root": "/nonexistent/hpcai-root"}, [["/nonexistent/hpcai-root"]]),
    ("gpu_facts", "root_relative", {"root": "relative/root"}, [["root"], ["absolute"]]),
    ("gpu_facts", "root_missing", {"root": "/nonexistent/hpcai-root"}, [["/nonexistent/hpcai-root"]]),
    ("pci_devices", "root_relative", {"root": "relative/root"}, [["root"], ["absolute"]]),
    ("pci_devices", "root_missing", {"root": "/nonexistent/hpcai-root"}, [["/nonexistent/hpcai-root"]]),
    ("pci_devices", "kinds_empty_string", {"kinds": [""]}, [["kinds"]]),
    # ---- kernel_cmdline
    ("kernel_cmdline", "arg_space", {"args": ["a b"]}, [["args"], ["a b"]]),
    ("kernel_cmdline", "arg_quote", {"args": ['x="y']}, [["args"], ["x=\\\"y", 'x="y']]),
    ("kernel_cmdline", "arg_empty", {"args": [""]}, [["args"]]),
    ("kernel_cmdline", "remove_with_value", {"remove": ["quiet=1"]}, [["remove"], ["quiet=1"]]),
    ("kernel_cmdline", "add_and_remove", {"args": ["iommu=pt"], "remove": ["iommu"]}, [["iommu"], ["remove"]]),
    ("kernel_cmdline", "grub_d_relative", {"method": "grub_d", "grub_d_file": "grub.d/90.cfg"},
     [["grub_d_file"], ["absolute"]]),
    ("kernel_cmdline", "grub_d_outside", {"method": "grub_d", "grub_d_file": "/etc/passwd"},
     [["grub_d_file"], ["/etc/default/grub.d/"]]),
    ("kernel_cmdline", "root_relative", {"root": "relative/root"}, [["root"], ["absolute"]]),
    # ---- kernel_modules_check
    ("kernel_modules_check", "modules_empty", {"modules": []}, [["modules"], ["at least one", "empty"]]),
    ("kernel_modules_check", "module_path", {"modules": ["../../evil"]}, [["modules"], ["module name"]]),
    ("kernel_modules_check", "module_space", {"modules": ["nvidia drm"]}, [["modules"], ["module name"]]),
    ("kernel_modules_check", "kernel_path", {"kernel": "../../etc"}, [["kernel"], ["release"]]),
    ("kernel_modules_check", "root_relative", {"root": "relative/root"}, [["root"], ["absolute"]]),
    ("kernel_modules_check", "modules_missing", {"modules": None}, [["modules"], ["required", "at least one"]]),
    # ---- numa_sysctl
    ("numa_sysctl", "hugepages_two_of", {"hugepages": {"size": "2M", "per_node": 1, "percent_of_memory": 10}},
     [["per_node"], ["percent_of_memory"], ["mutually exclusive"]]),
    ("numa_sysctl", "hugepages_none_of", {"hugepages": {"size": "2M"}}, [["per_node"], ["one of"]]),
    ("numa_sysctl", "hugepages_percent_95", {"hugepages": {"percent_of_memory": 95}}, [["percent_of_memory"], ["90"]]),
    ("numa_sysctl", "hugepages_per_node_negative", {"hugepages": {"per_node": -1}}, [["per_node"], [">= 0", "negative"]]),
    ("numa_sysctl", "hugepages_size_garbage", {"hugepages": {"size": "huge", "per_node": 1}}, [["size"], ["2M"]]),
    ("numa_sysctl", "hugepages_node_missing", {"hugepages": {"nodes": {"99": 4}}}, [["nodes"], ["99"]]),
    ("numa_sysctl", "hugepages_node_garbage", {"hugepages": {"nodes": {"zero": 4}}}, [["nodes"], ["zero"]]),
    ("numa_sysctl", "override_value_newline", {"overrides": {"vm.swappiness": "1\nkernel.x=1"}},
     [["overrides"], ["vm.swappiness"]]),
    ("numa_sysctl", "override_key_path", {"overrides": {"../../etc/passwd": 1}}, [["overrides"], ["../../etc/passwd"]]),
    ("numa_sysctl", "dest_relative", {"dest": "sysctl.d/90.conf"}, [["dest"], ["absolute"]]),
    ("numa_sysctl", "dest_not_conf", {"dest": "/etc/sysctl.d/90-hpcai"}, [["dest"], [".conf"]]),
    ("numa_sysctl", "root_relative", {"root": "relative/root"}, [["root"], ["absolute"]]),
    ("numa_sysctl", "topology_garbage", {"topology": {"numa_nodes": "many"}}, [["topology"]]),
]

AUTO = [c for m in MODULES for c in _auto_cases(m)]
AUTO_TYPE = [c for c in AUTO if c[0] in ("type", "choice")]
AUTO_STRING = [c for c in AUTO if c[0] == "string"]


# ---------------------------------------------------------------- harness
@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    base = tmp_path_factory.mktemp("bad_input_modules")
    root = gen.build_tree(str(base / "root"), SMALL, full=False)
    kernel = os.path.join(root, "lib", "modules", BASE_ARGS["kernel_modules_check"]["kernel"])
    os.makedirs(os.path.join(kernel, "extra"))
    with open(os.path.join(kernel, "extra", "nvidia.ko.xz"), "wb"):
        pass
    with open(os.path.join(kernel, "modules.dep"), "w", encoding="utf-8") as fh:
        fh.write("extra/nvidia.ko.xz:\n")
    return {"root": root, "base": base}


@pytest.fixture()
def no_commands(monkeypatch):
    """No module runs a command or finds a binary of this machine."""
    calls = []

    def run_command(self, args, *a, **kw):
        calls.append(args)
        return 1, "", "commands are blocked in this test"

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: None)
    return calls


def _fill(args, paths, dest):
    out = {}
    for key, value in args.items():
        if value == ROOT:
            value = paths["root"]
        elif value == DEST:
            value = str(dest)
        out[key] = value
    return out


def run_module(module, case_args, paths, tmp_path, capsys):
    """(result dict, escaped exception or None)."""
    dest = tmp_path / "dest"
    dest.mkdir()
    args = _fill(BASE_ARGS[module], paths, dest)
    for key, value in case_args.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    args["_ansible_check_mode"] = True
    mod = importlib.import_module(f"ansible_collections.hpcai.cluster.plugins.modules.{module}")
    capsys.readouterr()
    try:
        with patch_module_args(args):
            mod.main()
    except SystemExit:
        pass
    except Exception as exc:  # noqa: BLE001 - the point: nothing may escape main()
        return None, exc
    out = capsys.readouterr().out
    return json.loads(out), None


def _check_failed(module, args, needles, paths, tmp_path, capsys):
    result, exc = run_module(module, args, paths, tmp_path, capsys)
    assert exc is None, f"{module} {args}: exception escaped main(): {type(exc).__name__}: {exc}"
    assert result.get("failed"), f"{module} {args}: accepted: {json.dumps(result)[:600]}"
    msg = result.get("msg", "")
    assert "Traceback" not in msg and "exception" not in result or "Traceback" not in str(result.get("exception")), result
    for alternatives in needles:
        assert any(a in msg for a in alternatives), f"{module} {args}: none of {alternatives} in {msg!r}"
    return result


# ---------------------------------------------------------------- tests
@pytest.mark.parametrize("module", MODULES)
def test_base_args_succeed(module, paths, tmp_path, capsys, no_commands):
    result, exc = run_module(module, {}, paths, tmp_path, capsys)
    assert exc is None, exc
    assert not result.get("failed"), result.get("msg")


@pytest.mark.parametrize("cid,args,needles", [pytest.param(c[1], c[2], c[3], id=c[1]) for c in AUTO_TYPE])
def test_wrong_type_or_choice(cid, args, needles, paths, tmp_path, capsys, no_commands):
    _check_failed(cid.split(":")[0], args, needles, paths, tmp_path, capsys)


@pytest.mark.parametrize("cid,args,needles", [pytest.param(c[1], c[2], c[3], id=c[1]) for c in AUTO_STRING])
def test_list_or_dict_for_a_string(cid, args, needles, paths, tmp_path, capsys, no_commands):
    module = cid.split(":")[0]
    result, exc = run_module(module, args, paths, tmp_path, capsys)
    assert exc is None, f"{cid}: exception escaped main(): {type(exc).__name__}: {exc}"
    if result.get("failed"):
        assert any(n in result["msg"] for n in needles[0]), f"{cid}: {result['msg']!r} does not name {needles[0]}"


@pytest.mark.parametrize("module,args,needles", [pytest.param(m, a, n, id=f"{m}:{name}") for m, name, a, n in SEMANTIC])
def test_semantic(module, args, needles, paths, tmp_path, capsys, no_commands):
    _check_failed(module, args, needles, paths, tmp_path, capsys)


def test_every_option_has_a_case():
    for module in MODULES:
        named = {list(c[2])[0] for c in AUTO if c[1].startswith(module + ":")}
        missing = [o for o, opt in _doc(module)["options"].items() if opt.get("type", "str") != "raw" and o not in named]
        assert not missing, f"{module}: options without a generated case: {missing}"
