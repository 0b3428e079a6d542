# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What argument_specs validation lets through: a list or dict given where a string is declared.

ansible.builtin.validate_argument_spec (and so a role's meta/argument_specs.yml)
converts any value to a string for ``type: str`` / ``type: path`` options, so
``base_cluster_name: {a: 1}`` passes and the role then works with a dict.
:func:`type_errors` walks the declared options (sub-options of dicts and of
lists of dicts, list elements) and names every such value. Scalars (numbers,
booleans) stay accepted: their string form is meaningful.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

STRING_TYPES = ("str", "path")


def _kind(value):
    return "dict" if isinstance(value, dict) else "list"


def _show(value):
    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _string_error(where, declared, value):
    return "%s: expected %s (a string), got a %s %s" % (where, declared, _kind(value), _show(value))


def type_errors(options, values, prefix=""):
    """One message per value that is a list or dict where a string is declared; [] when none."""
    errors = []
    if not isinstance(options, dict) or not isinstance(values, dict):
        return errors
    for name, opt in options.items():
        if name not in values or not isinstance(opt, dict):
            continue
        value = values[name]
        where = prefix + str(name)
        declared = opt.get("type", "str")
        if declared in STRING_TYPES:
            if isinstance(value, (dict, list)):
                errors.append(_string_error(where, declared, value))
        elif declared == "list" and isinstance(value, list):
            elements = opt.get("elements")
            for index, item in enumerate(value):
                item_where = "%s[%d]" % (where, index)
                if elements in STRING_TYPES and isinstance(item, (dict, list)):
                    errors.append(_string_error(item_where, elements, item))
                elif elements == "dict" and opt.get("options") and isinstance(item, dict):
                    errors.extend(type_errors(opt["options"], item, item_where + "."))
        elif declared == "dict" and opt.get("options") and isinstance(value, dict):
            errors.extend(type_errors(opt["options"], value, where + "."))
    return errors
