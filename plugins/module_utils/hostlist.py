# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Slurm hostlist codec (pure Python 3.8+, no third-party deps).

``expand("gpu01,node[001-003,007]")`` -> ``['gpu01', 'node001', 'node002',
'node003', 'node007']`` and ``compress(names)`` -> the shortest bracket form
that every Slurm release this collection supports (22.05 and later) parses
back to exactly ``names``.

Why not ClusterShell's ``NodeSet``: it is a fine library, but (1) this code
also runs on targets and inside module_utils (``slurm_conf.group_nodes``),
where no third-party import is allowed, and one implementation for the filter
and the line builder is better than two that may disagree; (2) ClusterShell's
grammar is a superset of Slurm's and its folding can write what Slurm 22.05
rejects: ``node[01-02]-ib`` (Slurm accepts a text suffix after the last bracket
only since 23.11.0rc1, "Allow for a shared suffix to be used with the hostlist
format", CHANGELOG/slurm-23.11.md), ``rack[1-2]-node[01-02]`` folds on every
axis, ``@group``/``!``/``&``/``^`` operators and ``[1-9/2]`` steps are not Slurm;
(3) its ordering is not natural (``rack1-n1,rack10-n1,rack2-n1``).
tests/unit/test_hostlist.py compares this module with ClusterShell on random
name sets: both parse each other's output to the same set, and the strings
are equal wherever the two are meant to agree.

Grammar read by ``expand`` (Slurm's ``hostlist_create``, src/common/hostlist.c):

* items are separated by ``,`` or whitespace outside brackets;
* an item is text with any number of ``[...]`` groups; a group holds
  comma-separated ``N`` or ``N-M`` (decimal, ``N <= M``); several groups make
  the cartesian product, leftmost group outermost (no blanks inside brackets)
  (``rack[1-2]-n[1-2]`` -> rack1-n1, rack1-n2, rack2-n1, rack2-n2);
* zero padding: the width of a range is the length of its low bound as
  written, every member is printed ``str(n).zfill(width)`` exactly as Slurm's
  ``%0*lu`` does (``[08-10]`` -> 08 09 10, ``[8-10]`` -> 8 9 10,
  ``[1,01]`` -> 1 01);
* text after the last bracket (``node[1-2]-ib``) is accepted because
  ClusterShell and Slurm >= 23.11 accept it; Slurm 22.05/23.02 reject it in
  slurm.conf, and ``compress`` never writes it;
* names come back in the order written, duplicates dropped (first kept);
* limits: one range may hold at most 65,536 names (Slurm's ``MAX_RANGE``) and
  one expression at most ``MAX_NAMES``.

What ``compress`` writes:

* names are folded on their *last* number only, and only when that number
  ends the name: ``rack1-node01``/``rack1-node02`` -> ``rack1-node[01-02]``,
  never ``rack[1-2]-...`` and never ``node[01-02]-ib`` (names whose number is
  not at the end are listed verbatim, which every Slurm version accepts);
* a number keeps its exact spelling: ``n1`` and ``n01`` are two names and stay
  two (``n[1,01]``), a padded run continues into unpadded numbers of the same
  width (``n08,n09,n10`` -> ``n[08-10]``), an unpadded run may cross a power of
  ten (``n9,n10`` -> ``n[9-10]``); a padded run never crosses one
  (``n[08-99,100]``, which ClusterShell parses too);
* numbers longer than 18 digits (beyond Slurm's ``unsigned long``) and names
  that are only digits are not folded;
* items are sorted naturally by their first name (``gpu01``, ``node[001-003]``,
  ``rack2-...``, ``rack10-...``), ranges inside brackets by value then width;
  duplicates are ignored.  Output is deterministic for any input order;
* no range holds more than ``COMPRESS_MAX_RUN`` (16,384) names.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

__all__ = [
    "HostlistError",
    "MAX_NAMES",
    "MAX_RANGE",
    "COMPRESS_MAX_RUN",
    "expand",
    "compress",
    "natural_key",
    "check_name",
]

# Slurm src/common/hostlist.c: "#define MAX_RANGE (64*1024)" (22.05 and later).
MAX_RANGE = 64 * 1024
# compress() splits longer runs: 16,384 was MAX_RANGE in older hostlist.c
# releases and we could not verify when it grew to 64K (cheap insurance).
COMPRESS_MAX_RUN = 16384
# Whole-expression guard against typos such as node[0-99999999].
MAX_NAMES = 1000000
# Slurm stores the number in an unsigned long; stay well inside it.
_MAX_DIGITS = 18

_NAME_SPLIT_RE = re.compile(r"(\d+)")
_TRAILING_NUMBER_RE = re.compile(r"^(.*\D)(\d+)$", re.S)
_RANGE_RE = re.compile(r"^(\d+)(?:-(\d+))?$")
# "#" and "=" are no hostname characters and would break a slurm.conf line.
_BAD_NAME_CHARS = frozenset(",[]#=")


class HostlistError(ValueError):
    """Malformed hostlist expression or host name (the message names it)."""


def _shorten(text, limit=80):
    text = repr(text)
    if len(text) > limit:
        text = text[: limit - 4] + "...'"
    return text


# ----------------------------------------------------------------- names


def check_name(name):
    """Return ``name`` if it can stand in a hostlist, else raise HostlistError."""
    if not isinstance(name, str):
        raise HostlistError("host name must be a string, got %s %s" % (type(name).__name__, _shorten(name)))
    if not name:
        raise HostlistError("empty host name")
    for char in name:
        if char in _BAD_NAME_CHARS or char.isspace():
            raise HostlistError(
                "host name %s contains %r (not allowed in a host name: ',', '[', ']', '#', '=' or whitespace)"
                % (_shorten(name), char)
            )
    return name


def natural_key(name):
    """Sort key: text compares as text, digit runs by value then by length.

    ``n2 < n10``, ``n1 < n01 < n001 < n2``, ``a < a1 < a-1 < ab``.  The key is
    injective (two different names never get the same key), so sorting with it
    is total and does not depend on the input order.
    """
    parts = _NAME_SPLIT_RE.split(name)
    key = []
    for index, part in enumerate(parts):
        if index % 2:
            key.append((1, int(part), len(part)))
        else:
            key.append((0, part))
    return tuple(key)


# ----------------------------------------------------------------- expand


def _split_items(text):
    """Split on ',' and whitespace outside brackets; check bracket balance."""
    items = []
    current = []
    depth = 0
    for pos, char in enumerate(text):
        if char == "[":
            if depth:
                raise HostlistError("nested '[' at position %d in %s" % (pos, _shorten(text)))
            depth = 1
        elif char == "]":
            if not depth:
                raise HostlistError("']' without '[' at position %d in %s" % (pos, _shorten(text)))
            depth = 0
        elif not depth and (char == "," or char.isspace()):
            if current:
                items.append("".join(current))
                current = []
            continue
        current.append(char)
    if depth:
        raise HostlistError("unclosed '[' in %s" % _shorten(text))
    if current:
        items.append("".join(current))
    return items


def _parse_ranges(body, item, text):
    """'001-003,007' -> [(1, 3, 3), (7, 7, 3)] as (lo, hi, width)."""
    if not body.strip():
        raise HostlistError("empty brackets in %s of %s" % (_shorten(item), _shorten(text)))
    ranges = []
    for part in body.split(","):
        match = _RANGE_RE.match(part)
        if not match:
            raise HostlistError(
                "bad range %s in %s of %s (expected N or N-M with decimal N <= M, comma separated)"
                % (_shorten(part), _shorten(item), _shorten(text))
            )
        lo_text = match.group(1)
        lo = int(lo_text)
        hi = int(match.group(2)) if match.group(2) is not None else lo
        if hi < lo:
            raise HostlistError("reversed range %s in %s of %s" % (_shorten(part), _shorten(item), _shorten(text)))
        if hi - lo + 1 > MAX_RANGE:
            raise HostlistError(
                "range %s in %s holds %d names; Slurm refuses more than %d in one range"
                % (_shorten(part), _shorten(item), hi - lo + 1, MAX_RANGE)
            )
        ranges.append((lo, hi, len(lo_text)))
    return ranges


def _expand_item(item, text, budget):
    """Expand one item ('rack[1-2]-n[01-02]'); ``budget`` = names still allowed."""
    pieces = re.split(r"\[([^\]]*)\]", item)
    # pieces: text, body, text, body, ..., text
    if len(pieces) == 1:
        return [check_name(item)]
    for char in "#=":
        if char in item:
            raise HostlistError("%s in %s contains %r (not allowed in a host name)" % (_shorten(item), _shorten(text), char))
    choices = []
    count = 1
    for index, piece in enumerate(pieces):
        if index % 2:
            values = []
            for lo, hi, width in _parse_ranges(piece, item, text):
                values.extend(str(n).zfill(width) for n in range(lo, hi + 1))
            choices.append(values)
            count *= len(values)
            if count > budget:
                raise HostlistError("%s expands to more than %d names" % (_shorten(text), MAX_NAMES))
        else:
            choices.append([piece])
    names = [""]
    for options in choices:
        if len(options) == 1:
            suffix = options[0]
            names = [n + suffix for n in names]
        else:
            names = [n + o for n in names for o in options]
    return names


def expand(text):
    """Expand a Slurm hostlist expression into names (order kept, no duplicates).

    ``None`` or blank -> ``[]``.  Raises HostlistError naming the expression.
    """
    if text is None:
        return []
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        raise HostlistError("hostlist must be a string, got %s %s" % (type(text).__name__, _shorten(text)))
    result = []
    seen = set()
    for item in _split_items(text):
        names = _expand_item(item, text, MAX_NAMES - len(result))
        for name in names:
            if name not in seen:
                seen.add(name)
                result.append(name)
        if len(result) > MAX_NAMES:
            raise HostlistError("%s expands to more than %d names" % (_shorten(text), MAX_NAMES))
    return result


# ----------------------------------------------------------------- compress


def _runs(values):
    """Sorted ints -> [(lo, hi)] maximal runs of consecutive values."""
    runs = []
    start = prev = None
    for value in values:
        if start is None:
            start = prev = value
        elif value == prev + 1:
            prev = value
        else:
            runs.append((start, prev))
            start = prev = value
    if start is not None:
        runs.append((start, prev))
    return runs


def _fold(numbers):
    """Digit strings of one prefix -> [(lo, hi, width)] covering exactly them.

    A string with a leading zero ('007') is *padded*: width = its length.  Any
    other string ('7', '10', '0') is *natural*: printed as is (width 1).  A
    padded run of width w may continue with natural numbers of exactly w digits
    (08 09 10 11 -> 08-11); it never crosses into w+1 digits.
    """
    padded = {}
    natural = set()
    for digits in numbers:
        if len(digits) > 1 and digits[0] == "0":
            padded.setdefault(len(digits), set()).add(int(digits))
        else:
            natural.add(int(digits))
    ranges = []
    for width in sorted(padded):
        top_padded = 10 ** (width - 1) - 1  # largest value that needs a leading zero
        top_width = 10 ** width - 1  # largest value of exactly `width` digits
        for lo, hi in _runs(sorted(padded[width])):
            if hi == top_padded:
                value = hi + 1
                while value <= top_width and value in natural:
                    natural.discard(value)
                    value += 1
                hi = value - 1
            ranges.append((lo, hi, width))
    for lo, hi in _runs(sorted(natural)):
        ranges.append((lo, hi, 1))
    split = []
    for lo, hi, width in ranges:
        while hi - lo + 1 > COMPRESS_MAX_RUN:
            split.append((lo, lo + COMPRESS_MAX_RUN - 1, width))
            lo += COMPRESS_MAX_RUN
        split.append((lo, hi, width))
    ranges = split
    ranges.sort(key=lambda r: (r[0], len(str(r[0]).zfill(r[2]))))
    return ranges


def _format_range(lo, hi, width):
    lo_text = str(lo).zfill(width)
    if lo == hi:
        return lo_text
    return "%s-%s" % (lo_text, str(hi).zfill(width))


def compress(names):
    """Fold host names into a Slurm hostlist string (see the module doc).

    ``names``: any iterable of host name strings, or ``None``.  Duplicates are
    ignored; the result does not depend on the input order.
    """
    if names is None:
        return ""
    if isinstance(names, (str, bytes)):
        raise HostlistError("compress() takes a list of host names, not the string %s" % _shorten(names))
    groups = {}  # prefix -> [digit strings]
    singles = []
    seen = set()
    for name in names:
        check_name(name)
        if name in seen:
            continue
        seen.add(name)
        match = _TRAILING_NUMBER_RE.match(name)
        if match and len(match.group(2)) <= _MAX_DIGITS:
            groups.setdefault(match.group(1), []).append(match.group(2))
        else:
            singles.append(name)
    items = [(natural_key(name), name) for name in singles]
    for prefix, numbers in groups.items():
        if len(numbers) == 1:
            name = prefix + numbers[0]
            items.append((natural_key(name), name))
            continue
        ranges = _fold(numbers)
        first = ranges[0]
        first_name = prefix + str(first[0]).zfill(first[2])
        body = ",".join(_format_range(*r) for r in ranges)
        if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
            text = first_name
        else:
            text = "%s[%s]" % (prefix, body)
        items.append((natural_key(first_name), text))
    items.sort(key=lambda pair: pair[0])
    return ",".join(pair[1] for pair in items)
