"""lab/recap.py judges ansible-playbook output (used by `make lab-idempotence`)."""
import os
import subprocess
import sys

import pytest

RECAP = os.path.join(os.path.dirname(__file__), "..", "..", "lab", "recap.py")

CLEAN = """PLAY RECAP *********************************************************************
hpcai-c01                  : ok=59   changed=0    unreachable=0    failed=0    skipped=22   rescued=0    ignored=0
hpcai-head                 : ok=62   changed=0    unreachable=0    failed=0    skipped=23   rescued=0    ignored=0
"""
COLOURED = ("\x1b[0;32mhpcai-c01\x1b[0m                  : \x1b[0;32mok=65  \x1b[0m \x1b[0;33mchanged=23  \x1b[0m"
            " unreachable=0    failed=0    \x1b[0;36mskipped=22  \x1b[0m rescued=0    ignored=0\n")
FAILED = "hpcai-c02                  : ok=3   changed=1    unreachable=1    failed=0    skipped=0   rescued=0    ignored=0\n"


def run(text, *args):
    proc = subprocess.run([sys.executable, RECAP] + list(args), input=text, text=True,
                          capture_output=True, check=False)
    return proc.returncode, proc.stdout.splitlines()[-1]


def test_clean_rerun_passes_and_echoes_input():
    rc, last = run(CLEAN, "--expect-changed", "0", "--label", "rerun")
    assert rc == 0
    assert last == "rerun: 2 hosts, changed=0 total (hpcai-c01 changed=0, hpcai-head changed=0)"


@pytest.mark.parametrize("text,args,needle", [
    (COLOURED, ["--expect-changed", "0"], "expected changed=0, got 23"),
    (CLEAN + FAILED, [], "FAILED/UNREACHABLE: hpcai-c02"),
    ("no recap here\n", [], "no PLAY RECAP found"),
])
def test_problems_fail_with_a_reason(text, args, needle):
    rc, last = run(text, *args)
    assert rc == 1
    assert needle in last


def test_colour_codes_are_understood():
    rc, last = run(COLOURED)
    assert rc == 0 and "changed=23" in last
