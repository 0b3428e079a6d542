"""docs/plugins/*.md are generated from the plugins' documentation and must be current.

`make docs` regenerates them; this test fails (with a diff) when a module, filter or
inventory plugin changed its documentation without the pages being regenerated,
or when a page describes a plugin that no longer exists.
"""
from __future__ import annotations

import os
import subprocess
import sys

from render_helpers import REPO


def test_plugin_docs_are_current():
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".collections"))
    proc = subprocess.run([sys.executable, str(REPO / "docs" / "generate_plugin_docs.py"), "--check"],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "checked" in proc.stdout
