"""gpu role logic that lives in Jinja (vars/*.yml, tasks/*.yml, templates).

* Stack gating: nothing without GPUs (auto), forced stacks, both vendors.
* Fabric manager only with NVSwitches (auto), packages per OS and kernel module
  flavour, the EL10 branch lock, the Debian apt pin.
* The kernel guard record (the contract with playbooks/kernel_update.yml).
* MIG script rendering, nvidia-smi / rocm-smi output parsers of verify.yml.
* Preflight + detection through ansible-playbook on localhost against
  synthetic sysfs trees: bad input fails naming the variable; a node without
  GPUs plans no stack.
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import pytest
import yaml

from render_helpers import ROLES_DIR, evaluate, render, role_variables

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sysfs_gen as gen  # noqa: E402
from test_render import GPU_FACT  # noqa: E402
from test_role_specs import PREFLIGHT_PLAY, _run_playbook  # noqa: E402

ROLE = ROLES_DIR / "gpu"
NO_GPU = {"gpus": [], "nvswitches": [], "counts": {"gpus": 0, "nvswitches": 0}, "vendors": [], "nvml": False,
          "rocm_smi": False, "slurm": {}, "vfs": [], "pci_sysfs": True, "warnings": []}


def _amd_fact():
    fact = copy.deepcopy(GPU_FACT)
    for g in fact["gpus"][:4]:
        g.update(vendor="amd", vendor_id="0x1002", device_id="0x74a1", model="Instinct MI300X")
    fact["gpus"] = fact["gpus"][:4]
    fact["nvswitches"] = []
    fact["vendors"] = ["amd"]
    return fact


def _vars(fact=None, overrides=None, os_key="rocky9", host="node1"):
    return role_variables("gpu", os_key, host, overrides or {}, {"__gpu_facts": GPU_FACT if fact is None else fact})


def _ev(expr, **kw):
    return evaluate("{{ %s }}" % expr, _vars(**kw))


# ---------------------------------------------------------------- gating
def test_no_gpu_no_stack():
    v = _vars(fact=NO_GPU)
    assert evaluate("{{ __gpu_nvidia }}", v) is False and evaluate("{{ __gpu_amd }}", v) is False
    assert evaluate("{{ __gpu_guard_modules }}", v) == []


def test_forced_stack_without_gpu_and_none():
    assert _ev("__gpu_nvidia", fact=NO_GPU, overrides={"gpu_stack": "nvidia"}) is True
    assert _ev("__gpu_nvidia", overrides={"gpu_stack": "none"}) is False
    assert _ev("__gpu_amd", overrides={"gpu_stack": "amd"}) is True


def test_vendor_from_facts():
    assert (_ev("__gpu_nvidia"), _ev("__gpu_amd")) == (True, False)
    assert (_ev("__gpu_nvidia", fact=_amd_fact()), _ev("__gpu_amd", fact=_amd_fact())) == (False, True)


def test_fabric_manager_only_with_nvswitches():
    assert _ev("__gpu_fabricmanager") is True
    no_switch = dict(copy.deepcopy(GPU_FACT), nvswitches=[])
    assert _ev("__gpu_fabricmanager", fact=no_switch) is False
    assert _ev("__gpu_fabricmanager", fact=no_switch, overrides={"gpu_nvidia_fabricmanager": "enabled"}) is True
    assert _ev("__gpu_fabricmanager", overrides={"gpu_nvidia_fabricmanager": "disabled"}) is False


# ---------------------------------------------------------------- packages per OS
@pytest.mark.parametrize("os_key,flavour,expected", [
    ("rocky9", "open", ["nvidia-open", "nvidia-persistenced", "nvidia-fabric-manager", "libnvidia-nscq"]),
    ("rocky9", "proprietary", ["cuda-drivers", "nvidia-persistenced", "nvidia-fabric-manager", "libnvidia-nscq"]),
    ("rocky10", "open", ["nvidia-open", "nvidia-persistenced", "nvidia-fabricmanager", "libnvidia-nscq"]),
    ("debian12", "open", ["nvidia-open", "nvidia-persistenced", "nvidia-fabricmanager-580", "libnvidia-nscq"]),
])
def test_nvidia_packages(os_key, flavour, expected):
    assert _ev("__gpu_nvidia_packages", os_key=os_key, overrides={"gpu_nvidia_kernel_modules": flavour}) == expected


def test_cuda_toolkit_and_dcgm_packages():
    got = _ev("__gpu_nvidia_packages", overrides={"gpu_cuda_toolkit_version": "12-8", "gpu_dcgm_exporter": True,
                                                  "gpu_nvidia_fabricmanager": "disabled"})
    assert got == ["nvidia-open", "nvidia-persistenced", "cuda-toolkit-12-8", "datacenter-gpu-manager-4-cuda12",
                   "datacenter-gpu-manager-exporter"]


def test_branch_pinning_per_os():
    assert _ev("__gpu_nvidia_module_stream['open']", os_key="rocky9") == "580-open"
    assert _ev("__gpu_nvidia_module_stream['proprietary']", os_key="rocky9",
               overrides={"gpu_nvidia_driver_branch": "570"}) == "570-dkms"
    assert _ev("__gpu_nvidia_module_stream['open']", os_key="rocky10") == ""
    assert _ev("__gpu_nvidia_hold_packages", os_key="rocky10") == ["*nvidia*580*"]
    v = _vars(os_key="debian12")
    pin = render(ROLE / "templates" / "nvidia-apt-pin.pref.j2", v)
    assert "Pin: version 580.*" in pin and "Pin-Priority: 1001" in pin


def test_repository_urls():
    assert _ev("__gpu_nvidia_repo", os_key="rocky9") == "https://developer.download.nvidia.com/compute/cuda/repos/rhel9/x86_64/"
    assert _ev("__gpu_nvidia_repo", os_key="debian12") == \
        "https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/"
    assert _ev("__gpu_nvidia_repo", overrides={"gpu_nvidia_repo_url": "http://mirror/cuda/"}) == "http://mirror/cuda/"
    assert _ev("__gpu_rocm_repo", os_key="rocky9") == "https://repo.radeon.com/rocm/el9/6.4.1/main"
    assert _ev("__gpu_amd_suite", os_key="debian12") == "jammy"


# ---------------------------------------------------------------- kernel guard record
def test_guard_record_nvidia_el9():
    rec = _ev("__gpu_guard_record", overrides={"gpu_guard_extra_modules": ["lustre"],
                                               "gpu_guard_extra_packages": ["kmod-lustre-client"]})
    assert rec == {"modules": ["nvidia", "nvidia_uvm", "nvidia_modeset", "nvidia_drm", "lustre"],
                   "kernel_packages": ["kernel", "kernel-core", "kernel-modules", "kernel-modules-core", "kernel-devel"],
                   "hold_method": "versionlock", "module_packages": ["kmod-lustre-client"], "dkms": True}


def test_guard_record_amd_debian():
    rec = _ev("__gpu_guard_record", fact=_amd_fact(), os_key="debian12")
    assert rec["modules"] == ["amdgpu"] and rec["hold_method"] == "apt-mark"
    assert rec["kernel_packages"][:2] == ["linux-image-amd64", "linux-headers-amd64"]
    assert rec["module_packages"] == ["amdgpu-dkms", "amdgpu-dkms-firmware"]


def test_guard_without_gpu_only_extra_modules():
    rec = _ev("__gpu_guard_record", fact=NO_GPU, overrides={"gpu_guard_extra_modules": ["beegfs"]})
    assert rec["modules"] == ["beegfs"] and rec["dkms"] is False


# ---------------------------------------------------------------- MIG script
def test_mig_script_all_gpus():
    text = render(ROLE / "templates" / "hpcai-mig.sh.j2",
                  _vars(overrides={"gpu_nvidia_mig": {"all": ["3g.40gb", "3g.40gb"]}}))
    assert "for gpu in $(nvidia-smi --query-gpu=index --format=csv,noheader); do" in text
    assert 'apply "$gpu" 3g.40gb,3g.40gb' in text
    subprocess.run(["sh", "-n"], input=text, text=True, check=True)


def test_mig_script_per_gpu():
    text = render(ROLE / "templates" / "hpcai-mig.sh.j2",
                  _vars(overrides={"gpu_nvidia_mig": {"3": ["7g.80gb"], "0": ["1g.10gb", "2g.20gb"]}}))
    lines = [line for line in text.splitlines() if line.startswith("apply ")]
    assert lines == ["apply 0 1g.10gb,2g.20gb", "apply 3 7g.80gb"]


# ---------------------------------------------------------------- verify parsers
def _task_vars(task_file, task_name):
    stack = list(yaml.safe_load((ROLE / "tasks" / task_file).read_text()))
    while stack:
        task = stack.pop()
        if task.get("name") == task_name:
            return task.get("vars", {})
        stack.extend(task.get("block", []))
    raise AssertionError(task_name)


def test_nvidia_smi_count():
    tv = _task_vars("verify.yml", "Check the driver sees every GPU of the node")
    out = ["GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)", "  MIG 3g.40gb     Device  0: (UUID: MIG-1)",
           "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-2)"]
    assert int(evaluate(tv["__gpu_smi_count"], {"__gpu_smi": {"stdout_lines": out}})) == 2
    assert int(evaluate(tv["__gpu_sysfs_count"], {"__gpu_facts": GPU_FACT})) == 8


def test_rocm_smi_count():
    tv = _task_vars("verify.yml", "Check ROCm sees every GPU of the node")
    out = ["device,Device Name,Device ID,Device Rev,Subsystem ID,GUID",
           "card0,Instinct MI300X,0x74a1,0x00,0x74a1,1234", "card1,Instinct MI300X,0x74a1,0x00,0x74a1,5678"]
    assert int(evaluate(tv["__gpu_rocm_count"], {"__gpu_rocm": {"stdout_lines": out}})) == 2


# ---------------------------------------------------------------- preflight + detection on localhost
def _case(name, variables):
    case_vars = yaml.safe_dump(variables, default_flow_style=True, width=10000).strip()
    return f"""\
- name: "Case {name}"
  block:
    - name: set_vars
      ansible.builtin.include_role:
        name: hpcai.cluster.gpu
        tasks_from: set_vars.yml
        public: true
      vars: {case_vars}
    - name: preflight
      ansible.builtin.include_role:
        name: hpcai.cluster.gpu
        tasks_from: preflight.yml
      vars: {case_vars}
    - name: detect
      hpcai.cluster.gpu_facts:
        root: "{{{{ gpu_sysfs_root | default('/') }}}}"
      vars: {case_vars}
    - name: Record success
      ansible.builtin.set_fact:
        results: "{{{{ results | combine({{'{name}': {{'failed': false, 'msg': '', 'plan': __plan}}}}) }}}}"
      vars:
        __plan: "{{{{ {{'nvidia': __gpu_nvidia | bool, 'amd': __gpu_amd | bool, 'guard': __gpu_guard_modules,
                     'fabricmanager': __gpu_fabricmanager | bool}} }}}}"
  rescue:
    - name: Record failure
      ansible.builtin.set_fact:
        results: "{{{{ results | combine({{'{name}': {{'failed': true, 'msg': ansible_failed_result.msg | default('')}}}}) }}}}"
"""


def _cases(hgx, mi300, none):
    return [
        ("hgx", {"gpu_sysfs_root": hgx}, None),
        ("mi300", {"gpu_sysfs_root": mi300}, None),
        ("none", {"gpu_sysfs_root": none}, None),
        ("branch", {"gpu_nvidia_driver_branch": "latest"}, ["gpu_nvidia_driver_branch", "580"]),
        ("cuda", {"gpu_cuda_toolkit_version": "12.8"}, ["gpu_cuda_toolkit_version", "12-8"]),
        ("mig_profile", {"gpu_nvidia_mig": {"all": ["half"]}}, ["gpu_nvidia_mig", "1g.10gb"]),
        ("mig_all_and_index", {"gpu_nvidia_mig": {"all": ["7g.80gb"], "0": ["7g.80gb"]}}, ["gpu_nvidia_mig", "alone"]),
        ("pyxis_alone", {"gpu_pyxis": True, "gpu_pyxis_package": "/tmp/pyxis.rpm"}, ["gpu_pyxis", "gpu_enroot"]),
        ("enroot_no_pkgs", {"gpu_enroot": True}, ["gpu_enroot_packages"]),
        ("rocm_version", {"gpu_rocm_version": "six"}, ["gpu_rocm_version"]),
        ("repo_url", {"gpu_nvidia_repo_url": "mirror/cuda"}, ["gpu_nvidia_repo_url"]),
    ]


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gpu")
    roots = {}
    for key, spec in (("hgx", "hgx_h100_genoa_2p_nps4"), ("mi300", "mi300x_genoa_2p_nps1"),
                      ("none", "genoa_1p_pci_empty")):
        roots[key] = str(tmp / key)
        gen.build_tree(roots[key], gen.CATALOGUE[spec], full=False)
    cases = _cases(roots["hgx"], roots["mi300"], roots["none"])
    files = {f"case_{n}.yml": _case(n, v) for n, v, _e in cases}
    return {"cases": cases, "results": _run_playbook(tmp, PREFLIGHT_PLAY, files, {"cases": list(files)})}


@pytest.mark.parametrize("case", [c[0] for c in _cases("/a", "/b", "/c")])
def test_preflight_and_detection(case, harness):
    expected = {c[0]: c[2] for c in harness["cases"]}[case]
    res = harness["results"][case]
    if expected is None:
        assert not res["failed"], res["msg"]
        return
    assert res["failed"], f"{case} was accepted"
    for needle in expected:
        assert needle in res["msg"], f"{needle!r} not in {res['msg']!r}"


def test_detection_plans(harness):
    plans = {k: harness["results"][k]["plan"] for k in ("hgx", "mi300", "none")}
    assert plans["hgx"] == {"nvidia": True, "amd": False, "fabricmanager": True,
                            "guard": ["nvidia", "nvidia_uvm", "nvidia_modeset", "nvidia_drm"]}
    assert plans["mi300"] == {"nvidia": False, "amd": True, "fabricmanager": False, "guard": ["amdgpu"]}
    assert plans["none"] == {"nvidia": False, "amd": False, "fabricmanager": False, "guard": []}
    assert json.dumps(plans)
