# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Documentation: one YAML file per filter next to this file (cpulist_expand.yml, ...).

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.hpcai.cluster.plugins.module_utils.cpulist import format_cpulist, parse_cpulist


def _parse(value, name):
    if value is None:
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, (list, tuple)):
        try:
            return sorted(set(int(v) for v in value))
        except (TypeError, ValueError):
            raise AnsibleFilterError("%s: expected a cpulist string or a list of CPU ids, got %r" % (name, value))
    if not isinstance(value, str):
        raise AnsibleFilterError("%s: expected a cpulist string such as '0-3,8-11', got %s"
                                 % (name, type(value).__name__))
    try:
        return parse_cpulist(value)
    except ValueError as exc:
        raise AnsibleFilterError("%s: %s" % (name, to_native(exc)))


def cpulist_expand(value, name="cpulist"):
    return _parse(value, name)


def cpulist_compress(value, name="cpulist"):
    ids = _parse(value, name)
    try:
        return format_cpulist(ids)
    except ValueError as exc:
        raise AnsibleFilterError("%s: %s" % (name, to_native(exc)))


def cpulist_check(value, name="cpulist", within=None, allow_empty=True, allow_all=True):
    """Validate and normalise; ``within`` (cpulist) bounds the ids; ``allow_all=False`` refuses the whole set."""
    ids = _parse(value, name)
    if not ids and not allow_empty:
        raise AnsibleFilterError("%s: must not be empty (a cpulist such as '0-3,8-11')" % name)
    if within is not None and ids:
        allowed = set(_parse(within, "within"))
        outside = sorted(set(ids) - allowed)
        if outside:
            raise AnsibleFilterError("%s: CPUs %s are not online on this node (online: %s)"
                                     % (name, format_cpulist(outside), format_cpulist(allowed)))
        if not allow_all and set(ids) >= allowed:
            raise AnsibleFilterError("%s: must leave at least one online CPU out (it covers all of %s)"
                                     % (name, format_cpulist(allowed)))
    return format_cpulist(ids)


class FilterModule(object):
    def filters(self):
        return {
            "cpulist_expand": cpulist_expand,
            "cpulist_compress": cpulist_compress,
            "cpulist_check": cpulist_check,
        }
