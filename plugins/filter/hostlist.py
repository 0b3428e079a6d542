# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Documentation: one YAML file per filter next to this file (hostlist_expand.yml, hostlist_compress.yml).
# The codec lives in module_utils/hostlist.py (pure Python, shared with the slurm.conf line
# builder in module_utils/slurm_conf.py); its docstring says why it is not ClusterShell.

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.hpcai.cluster.plugins.module_utils.hostlist import HostlistError, check_name, compress, expand


def _expressions(value, name, filter_name):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise AnsibleFilterError(
                    "%s: %s[%d] must be a host name or hostlist string, got %s %r"
                    % (filter_name, name, index, type(item).__name__, item)
                )
        return list(value)
    raise AnsibleFilterError(
        "%s: %s must be a hostlist string such as 'node[001-004]' or a list of them, got %s %r"
        % (filter_name, name, type(value).__name__, value)
    )


def _expand_all(value, name, filter_name):
    names = []
    seen = set()
    for expression in _expressions(value, name, filter_name):
        try:
            expanded = expand(expression)
        except HostlistError as exc:
            raise AnsibleFilterError("%s: %s: %s" % (filter_name, name, to_native(exc)))
        for host in expanded:
            if host not in seen:
                seen.add(host)
                names.append(host)
    return names


def hostlist_expand(value, name="hostlist"):
    """'node[001-003],gpu01' -> ['node001', 'node002', 'node003', 'gpu01']."""
    return _expand_all(value, name, "hostlist_expand")


def hostlist_compress(value, name="hostlist"):
    """['node001', 'node002', 'node003', 'gpu01'] -> 'gpu01,node[001-003]'.

    A list holds host names (each checked: no ',', brackets or blanks); a string is
    a hostlist expression, expanded first (normalisation).
    """
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            try:
                check_name(item)
            except HostlistError as exc:
                raise AnsibleFilterError("hostlist_compress: %s[%d]: %s" % (name, index, to_native(exc)))
        names = list(value)
    else:
        names = _expand_all(value, name, "hostlist_compress")
    try:
        return compress(names)
    except HostlistError as exc:
        raise AnsibleFilterError("hostlist_compress: %s: %s" % (name, to_native(exc)))


class FilterModule(object):
    def filters(self):
        return {
            "hostlist_expand": hostlist_expand,
            "hostlist_compress": hostlist_compress,
        }
