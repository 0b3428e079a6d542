# -*- coding: utf-8 -*-
"""Build AnsiballZ payloads the way the controller does for a task (child process).

    python bench/_ansiballz.py JOBS.json

JOBS.json: ``[{"module": "hpcai.cluster.cpu_topology", "path": ".../plugins/modules/cpu_topology.py",
"args": {...}, "out": "/tmp/.../payload.py", "interpreter": "/usr/bin/python3"}, ...]``.
Each payload is what ansible-core pipes into the target's Python: the wrapper with
the module, every module_util it imports (ansible's and the collection's) and the
arguments, including the ``_ansible_*`` internal arguments the action plugin adds.

Run in its own process because ``init_plugin_loader`` installs ansible's
collection finder in ``sys.meta_path`` for good (bench/modules.py is also imported
by pytest).  Prints ``{out: {"bytes": n}}`` as JSON.
"""

from __future__ import annotations

import json
import os
import sys


def internal_args(module_name, tmp):
    """The ``_ansible_*`` keys ActionBase._update_module_args adds (ansible-core 2.19),
    with the values of a plain task: no check/diff mode, verbosity 0, pipelining
    (no remote tmpdir)."""
    from ansible import constants as C
    from ansible.release import __version__
    try:
        from ansible.module_utils._internal import _traceback
        tracebacks_for = _traceback.traceback_for()
    except Exception:  # older/newer ansible-core: the key is optional
        tracebacks_for = []
    return {
        "_ansible_check_mode": False,
        "_ansible_no_log": bool(C.DEFAULT_NO_TARGET_SYSLOG),
        "_ansible_debug": False,
        "_ansible_diff": False,
        "_ansible_verbosity": 0,
        "_ansible_version": __version__,
        "_ansible_module_name": module_name,
        "_ansible_syslog_facility": C.DEFAULT_SYSLOG_FACILITY,
        "_ansible_selinux_special_fs": C.DEFAULT_SELINUX_SPECIAL_FS,
        "_ansible_socket": None,
        "_ansible_shell_executable": "/bin/sh",
        "_ansible_keep_remote_files": False,
        "_ansible_tmpdir": None,
        "_ansible_remote_tmp": tmp,
        "_ansible_ignore_unknown_opts": False,
        "_ansible_target_log_info": None,
        "_ansible_tracebacks_for": tracebacks_for,
    }


def main(argv):
    with open(argv[1]) as handle:
        jobs = json.load(handle)
    collections = os.environ["HPCAI_BENCH_COLLECTIONS"]
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader([collections])
    from ansible import constants as C
    from ansible.executor.module_common import modify_module
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    templar = Templar(loader=DataLoader())
    done = {}
    for job in jobs:
        args = dict(job["args"])
        if job.get("internal", True):
            args.update(internal_args(job["module"], job["remote_tmp"]))
        built = modify_module(
            module_name=job["module"],
            module_path=job["path"],
            module_args=args,
            templar=templar,
            task_vars={"ansible_python_interpreter": job["interpreter"]},
            module_compression=C.config.get_config_value("DEFAULT_MODULE_COMPRESSION"),
        )
        with open(job["out"], "wb") as handle:
            handle.write(built.b_module_data)
        done[job["out"]] = {"bytes": len(built.b_module_data), "style": built.module_style}
    json.dump(done, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
