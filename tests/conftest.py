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

if COLL_ROOT not in sys.path:
    sys.path.insert(0, COLL_ROOT)
