# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``options | hpcai.cluster.option_type_errors(values)``: lists or dicts given for string options.

Documentation: option_type_errors.yml next to this file. The logic lives in
module_utils/option_types.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.hpcai.cluster.plugins.module_utils.option_types import type_errors


def option_type_errors(options, values):
    if not isinstance(options, dict) or not isinstance(values, dict):
        raise AnsibleFilterError("option_type_errors: expects argument_specs options (a dict) and a dict of values, got %s and %s"
                                 % (type(options).__name__, type(values).__name__))
    return type_errors(options, values)


class FilterModule(object):
    def filters(self):
        return {"option_type_errors": option_type_errors}
