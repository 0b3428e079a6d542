# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Documentation: slurm_conf_change.yml, slurm_topology_lines.yml, slurm_gres_lines.yml,
# slurm_tmpfs_lines.yml and slurm_config_keys.yml next to this file.

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.hpcai.cluster.plugins.module_utils.slurm_conf import SlurmConfError, config_keys_for
from ansible_collections.hpcai.cluster.plugins.module_utils.slurm_files import (
    SlurmFilesError,
    conf_change,
    gres_lines,
    tmpfs_lines,
    topology_lines,
)


def _call(name, func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except (SlurmFilesError, SlurmConfError) as exc:
        raise AnsibleFilterError("%s: %s" % (name, to_native(exc)))


def slurm_conf_change(old_text, new_text):
    """Old slurm.conf text | slurm_conf_change(new text) -> what the change needs."""
    return _call("slurm_conf_change", conf_change, old_text, new_text)


def slurm_topology_lines(spec, nodes, version, groups=None):
    """slurm_topology | slurm_topology_lines(node names, version, groups) -> {plugin, lines}."""
    return _call("slurm_topology_lines", topology_lines, spec, nodes, version, groups)


def slurm_gres_lines(hosts):
    """{node: hpcai_gpu_facts} -> {lines, gres_types}."""
    return _call("slurm_gres_lines", gres_lines, hosts)


def slurm_tmpfs_lines(spec):
    """slurm_job_tmpfs -> job_container.conf lines."""
    return _call("slurm_tmpfs_lines", tmpfs_lines, spec)


def slurm_config_keys(version):
    """'22.05.8' -> {'cgroup.conf': [...], 'slurm.conf': [...], 'features': [...]}."""
    return _call("slurm_config_keys", config_keys_for, version)


class FilterModule(object):
    def filters(self):
        return {
            "slurm_conf_change": slurm_conf_change,
            "slurm_topology_lines": slurm_topology_lines,
            "slurm_gres_lines": slurm_gres_lines,
            "slurm_tmpfs_lines": slurm_tmpfs_lines,
            "slurm_config_keys": slurm_config_keys,
        }
