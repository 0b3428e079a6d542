# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Documentation: slurm_upgrade_check.yml next to this file.

from ansible_collections.hpcai.cluster.plugins.module_utils.slurm_upgrade import check_upgrade


def slurm_upgrade_check(installed, target, window=None, available=None, package_version=None, extra_releases=None,
                        node_states=None, nodes=None, drain_reason=""):
    """{host: {daemon: '<daemon> -V' output}} + target -> {ok, errors, warnings, plan}; never raises on bad data."""
    return check_upgrade(installed, target, window=window, available=available, package_version=package_version,
                         extra_releases=extra_releases, node_states=node_states, nodes=nodes,
                         drain_reason=drain_reason or "")


class FilterModule(object):
    def filters(self):
        return {"slurm_upgrade_check": slurm_upgrade_check}
