# -*- coding: utf-8 -*-
"""tests/reliability/run.py and lab/labrun.py: the parsers `make reliability` judges by (no Docker)."""

from __future__ import absolute_import, division, print_function

import importlib.util
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load(path, name):
    sys.path.insert(0, os.path.join(REPO, "lab"))
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REL = _load("tests/reliability/run.py", "hpcai_reliability")
LABRUN = _load("lab/labrun.py", "hpcai_labrun")

OUTPUT = """\
TASK [hpcai.cluster.base : Write /etc/hosts] ***********************************
changed: [n1]
ok: [n2]

TASK [hpcai.cluster.slurm : Install the munge key] *****************************
changed: [n2]

TASK [Fail on drift] ***********************************************************
skipping: [n1]

TASK [Show the report] *********************************************************
ok: [n1] =>
    msg: no drift on 2 nodes (slurm_node, sysctl)

PLAY RECAP *********************************************************************
n1                         : ok=3    changed=1    unreachable=0    failed=0    skipped=1
n2                         : ok=2    changed=1    unreachable=1    failed=0    skipped=0
"""


def test_changed_tasks_name_task_and_host():
    assert LABRUN.changed_tasks(OUTPUT) == ["hpcai.cluster.base : Write /etc/hosts (n1)",
                                            "hpcai.cluster.slurm : Install the munge key (n2)"]
    assert LABRUN.changed_tasks("ok: [n1]\n") == []


def test_recap_counts():
    hosts = LABRUN.recap(OUTPUT)
    assert hosts["n2"] == {"ok": 2, "changed": 1, "unreachable": 1, "failed": 0}


def test_drift_summary_is_the_verdict_not_a_task_header():
    assert REL._drift_summary(OUTPUT) == "msg: no drift on 2 nodes (slurm_node, sysctl)"
    failed = "TASK [Fail on drift] ***\nfatal: [n1]: FAILED! =>\n  msg: 'validate: the running cluster differs " \
             "from its configuration on 1 node: n1'\n"
    assert REL._drift_summary(failed).startswith("msg: 'validate: the running cluster differs")
    assert REL._drift_summary("TASK [Fail on drift] ***\n") == ""
