"""Offline stand-in for the pip bootstrap script ansible-test downloads.

ansible-test sanity builds one venv per test and bootstraps pip in it by running
a `get-pip.py` fetched from a host outside PyPI (unreachable here and at
air-gapped sites). `make sanity` copies this file to
~/.ansible/test/cache/get_pip_<version>.py, where ansible-test looks first.
It bootstraps pip with the interpreter's own ensurepip and then installs the
pinned packages ansible-test asks for (pip==X, ...) from the configured index.
"""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install", "--no-warn-script-location"] + args)
