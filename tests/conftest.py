"""Shared pytest setup: make the repository importable as ansible_collections.hpcai.cluster.

The repository *is* the collection. `.collections/ansible_collections/hpcai/cluster`
is a symlink to the repository root (the Makefile creates it; we create it here
too so `pytest` works on a fresh clone without make).
"""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLL_ROOT = os.path.join(REPO, ".collections")
LINK = os.path.join(COLL_ROOT, "ansible_collections", "hpcai", "cluster")

if not os.path.lexists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(os.path.relpath(REPO, os.path.dirname(LINK)), LINK)

# Install ansible's collection loader for .collections (as ansible-playbook does), so
# `import ansible_collections.hpcai.cluster...` and the Templar's `hpcai.cluster.*`
# filter lookups resolve through the same finder. A plain sys.path entry would make
# `ansible_collections` an ordinary namespace package that the plugin loader cannot use.
try:
    from ansible.plugins.loader import init_plugin_loader
except ImportError:  # pragma: no cover - ansible-core < 2.15
    init_plugin_loader = None
if init_plugin_loader is not None:
    init_plugin_loader([COLL_ROOT])
elif COLL_ROOT not in sys.path:
    sys.path.insert(0, COLL_ROOT)
