# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Documentation: one YAML file per filter next to this file (llc_scheduler_check.yml, ...).

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.hpcai.cluster.plugins.module_utils.kernel_checks import (
    KernelCheckError,
    amd_pstate_arg as _amd_pstate_arg,
    llc_scheduler_check as _llc_scheduler_check,
)


def _topology(value, filter_name):
    if not isinstance(value, dict):
        raise AnsibleFilterError("%s: input must be the hpcai_cpu_topology dict, got %s"
                                 % (filter_name, type(value).__name__))
    return value


def llc_scheduler_check(topology, kernel_release):
    return _llc_scheduler_check(_topology(topology, "llc_scheduler_check"), kernel_release)


def amd_pstate_arg(topology, kernel_release, requested="auto"):
    try:
        arg, reason = _amd_pstate_arg(_topology(topology, "amd_pstate_arg"), kernel_release, requested)
    except KernelCheckError as exc:
        raise AnsibleFilterError(to_native(exc))
    return [arg, reason]


class FilterModule(object):
    def filters(self):
        return {"llc_scheduler_check": llc_scheduler_check, "amd_pstate_arg": amd_pstate_arg}
