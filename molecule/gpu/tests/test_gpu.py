"""Verify the gpu role on the Molecule nodes (see ../molecule.yml).

gpu-none: the container's own sysfs, no GPU, gpu_stack auto: nothing installed,
          no kernel hold, no guard record.
gpu-hgx:  synthetic HGX H100 tree (8 x H100 SXM5 80GB, 4 NVSwitches), gpu_stack
          none, BeeGFS client module guarded: no GPU stack either, but the GPUs
          are detected and the kernel guard record is written.

What the role said on each node comes from the enforced check after converge
(molecule/shared/check_after_converge.py keeps the json-callback result of the
--check run in the ephemeral directory): the same tasks, on the converged nodes.
"""
import json
import os

import pytest

HGX_ROOT = "/var/lib/hpcai-lab/topology/hgx_h100_genoa_2p_nps4-el9"
GUARD_FACT = "/etc/ansible/facts.d/hpcai_kernel_guard.fact"
# Every file the NVIDIA/AMD paths write (tasks/nvidia*.yml, amd*.yml, containers.yml, mig.yml).
STACK_FILES = [
    "/etc/apt/sources.list.d/hpcai-cuda.sources",
    "/etc/apt/sources.list.d/hpcai-rocm.sources",
    "/etc/apt/sources.list.d/hpcai-amdgpu.sources",
    "/etc/apt/sources.list.d/hpcai-nvidia-container-toolkit.sources",
    "/etc/apt/preferences.d/hpcai-nvidia-driver",
    "/etc/modprobe.d/hpcai-blacklist-nouveau.conf",
    "/etc/systemd/system/hpcai-mig.service",
    "/etc/systemd/system/nvidia-dcgm-exporter.service.d/hpcai.conf",
    "/etc/slurm/plugstack.conf.d/pyxis.conf",
]
STACK_PACKAGE_WORDS = ("nvidia", "cuda", "rocm", "amdgpu", "dkms", "datacenter-gpu-manager", "enroot")


def name(host):
    return host.backend.get_hostname()


@pytest.fixture(scope="module")
def check_report():
    """The json-callback result of the enforced --check run (None when verify runs on its own)."""
    path = os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ""), "check_after_converge.json")
    if not os.path.isfile(path):
        return None
    with open(path) as fh:
        return json.load(fh)


def said(report, host, task_suffix):
    """The msg of the debug task whose name ends with task_suffix, on host."""
    for play in report["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].endswith(task_suffix) and host in task["hosts"]:
                result = task["hosts"][host]
                if not result.get("skipped"):
                    return " ".join(str(result.get("msg", "")).split())
    return None


@pytest.mark.parametrize("path", STACK_FILES)
def test_no_gpu_stack_file(host, path):
    assert not host.file(path).exists, "%s on %s" % (path, name(host))


def test_no_vendor_repository_anywhere_in_apt(host):
    out = host.run("grep -rlisE 'nvidia|radeon|cuda' /etc/apt/sources.list /etc/apt/sources.list.d "
                   "/etc/apt/preferences.d /etc/apt/keyrings 2>/dev/null")
    assert out.stdout.strip() == "", out.stdout


def test_no_gpu_package_installed(host):
    packages = host.check_output("dpkg-query -W -f '${db:Status-Abbrev} ${Package}\\n'").splitlines()
    installed = [line.split()[-1] for line in packages if line.startswith("ii")]
    assert installed, "dpkg lists no package"
    assert [p for p in installed if any(w in p for w in STACK_PACKAGE_WORDS)] == []


def test_no_gpu_kernel_modules_configured(host):
    out = host.run("grep -rlsE 'nvidia|amdgpu|nouveau' /etc/modules-load.d /etc/modprobe.d")
    assert out.stdout.strip() == "", out.stdout


def test_kernel_guard_only_where_modules_are_guarded(host):
    fact = host.file(GUARD_FACT)
    holds = host.check_output("apt-mark showhold").split()
    if name(host) == "gpu-none":
        assert not fact.exists
        assert holds == []
        return
    assert fact.is_file and fact.user == "root" and fact.group == "root" and fact.mode == 0o644
    record = json.loads(fact.content_string)
    kernel = host.check_output("uname -r")
    assert record == {
        "modules": ["beegfs"],
        "module_packages": ["beegfs-client"],
        "kernel_packages": ["linux-image-amd64", "linux-headers-amd64", "linux-image-" + kernel],
        "hold_method": "apt-mark",
        "dkms": False,
    }
    # Held: exactly the record's packages that dpkg has installed (a container
    # has no kernel package, so nothing; a real node holds its kernel).
    listed = record["kernel_packages"] + record["module_packages"]
    present = [p for p in listed
               if host.run("dpkg-query -W -f '${db:Status-Abbrev}' %s" % p).stdout.startswith("ii")]
    assert sorted(holds) == sorted(present)


def test_gpu_facts_of_the_node(host):
    root = HGX_ROOT if name(host) == "gpu-hgx" else "/"
    fact = host.ansible("hpcai.cluster.gpu_facts", "root=%s" % root, check=True)["ansible_facts"]["hpcai_gpu_facts"]
    if name(host) == "gpu-none":
        assert fact["counts"] == {"gpus": 0, "nvswitches": 0}
        assert fact["vendors"] == []
        return
    assert fact["counts"] == {"gpus": 8, "nvswitches": 4}
    assert fact["vendors"] == ["nvidia"]
    assert {g["model"] for g in fact["gpus"]} == {"H100 SXM5 80GB"}
    assert {g["gres_type"] for g in fact["gpus"]} == {"h100"}
    # 2 x Genoa NPS4, one GPU per NUMA node, in PCI order; device files predicted
    # (no driver loaded) as the position among the NVIDIA GPUs.
    assert [g["numa_node"] for g in fact["gpus"]] == list(range(8))
    assert fact["gpus"][0]["local_cpus"] == "0-23,192-215"
    assert [g["device_file"] for g in fact["gpus"]] == ["/dev/nvidia%d" % i for i in range(8)]
    assert fact["slurm"]["gres"] == "gpu:h100:8"


def test_what_the_role_said(host, check_report):
    if check_report is None:
        pytest.skip("no check_after_converge.json: the side_effect step did not run before verify")
    me = name(host)
    found = said(check_report, me, "Say what was found and what this role will do")
    assert found is not None, "no detection message for %s" % me
    assert "No GPU stack: no repositories, packages, modules or kernel hold" in found
    guard = said(check_report, me, "Say that there is nothing to guard")
    if me == "gpu-none":
        assert found.startswith("gpu on gpu-none: 0 GPU(s), 0 NVSwitch(es).")
        assert "(gpu_stack=auto)" in found
        assert guard == "gpu: no GPU stack and no gpu_guard_extra_modules on gpu-none; the kernel is not held."
    else:
        assert found.startswith("gpu on gpu-hgx: 8 GPU(s) (H100 SXM5 80GB), 4 NVSwitch(es).")
        assert "(gpu_stack=none)" in found
        assert guard is None  # the BeeGFS module is guarded
