# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Linux cpulist / cpumask codecs (pure Python, 3.8+, no third-party deps).

A *cpulist* is what the kernel prints with ``%*pbl`` in sysfs, e.g.
``/sys/devices/system/cpu/online`` -> ``0-63,128-191``: comma-separated decimal
ids or inclusive ``a-b`` ranges. A *cpumask* is the ``%*pb`` hex form, e.g.
``shared_cpu_map`` -> ``00000000,0000ffff`` (32-bit words, most significant
first).

Accepted input (tolerant, because these strings come from files and users):
surrounding whitespace, newlines, blanks around separators, empty string /
whitespace only (= no CPUs), duplicate or overlapping items, unsorted items,
one trailing comma.  Rejected with ``ValueError`` naming the offending text:
anything else, including negative numbers, reversed ranges (``5-3``) and the
kernel *command-line* region syntax ``0-31:2/8`` or ``N`` (bitmap_parselist
accepts those for boot parameters, but sysfs never prints them and they are
easy to confuse with "strides" in other tools).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

__all__ = [
    "parse_cpulist",
    "format_cpulist",
    "parse_cpumask",
    "format_cpumask",
]

_ITEM_RE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")

# Sanity limit: the kernel's NR_CPUS maximum is 8192 (x86 MAXSMP); allow head room
# but refuse ranges that would allocate absurd lists from garbage input.
MAX_CPU_ID = 1 << 16


def _shorten(text, limit=60):
    text = repr(text)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def parse_cpulist(text, source=None):
    """Parse a Linux cpulist into a sorted list of unique ints.

    ``source`` (optional) is mentioned in the error message, e.g. a file path.
    ``None`` is treated like an empty list.
    """
    where = " in %s" % source if source else ""
    if text is None:
        return []
    if not isinstance(text, str):
        if isinstance(text, bytes):
            text = text.decode("ascii", "replace")
        else:
            raise ValueError("cpulist%s must be a string, got %s" % (where, type(text).__name__))
    stripped = text.strip()
    if not stripped:
        return []
    parts = stripped.split(",")
    # Tolerate exactly one trailing comma ("0-3,"), but not empty items elsewhere.
    if parts and parts[-1].strip() == "" and len(parts) > 1:
        parts = parts[:-1]
    cpus = set()
    for part in parts:
        match = _ITEM_RE.match(part)
        if not match:
            raise ValueError(
                "invalid cpulist%s: bad item %s in %s (expected N or N-M, comma separated)"
                % (where, _shorten(part.strip()), _shorten(stripped))
            )
        lo = int(match.group(1))
        hi = int(match.group(2)) if match.group(2) is not None else lo
        if hi < lo:
            raise ValueError(
                "invalid cpulist%s: reversed range %s in %s" % (where, _shorten(part.strip()), _shorten(stripped))
            )
        if hi > MAX_CPU_ID:
            raise ValueError(
                "invalid cpulist%s: CPU id %d out of range in %s" % (where, hi, _shorten(stripped))
            )
        if lo == hi:
            cpus.add(lo)
        else:
            cpus.update(range(lo, hi + 1))
    return sorted(cpus)


def format_cpulist(cpus):
    """Format an iterable of CPU ids the way the kernel does (``0-3,8,10-11``).

    Duplicates are ignored; order does not matter; empty input gives ``""``.
    Two consecutive ids are printed as a range (``4-5``), like ``%*pbl``.
    """
    ids = sorted(set(int(c) for c in cpus))
    if not ids:
        return ""
    if ids[0] < 0:
        raise ValueError("negative CPU id %d" % ids[0])
    out = []
    start = prev = ids[0]
    for cpu in ids[1:]:
        if cpu == prev + 1:
            prev = cpu
            continue
        out.append(str(start) if start == prev else "%d-%d" % (start, prev))
        start = prev = cpu
    out.append(str(start) if start == prev else "%d-%d" % (start, prev))
    return ",".join(out)


_HEXWORD_RE = re.compile(r"^[0-9a-fA-F]{1,8}$")


def parse_cpumask(text, source=None):
    """Parse a kernel hex cpumask (``ffff,00000000``) into a sorted list of ids."""
    where = " in %s" % source if source else ""
    if text is None:
        return []
    stripped = text.strip()
    if not stripped:
        return []
    words = stripped.split(",")
    value = 0
    for word in words:
        word = word.strip()
        if not _HEXWORD_RE.match(word):
            raise ValueError("invalid cpumask%s: bad word %s in %s" % (where, _shorten(word), _shorten(stripped)))
        value = (value << 32) | int(word, 16)
    cpus = []
    bit = 0
    while value:
        if value & 1:
            cpus.append(bit)
        value >>= 1
        bit += 1
    return cpus


def format_cpumask(cpus, nr_cpu_ids=None):
    """Format CPU ids as the kernel's ``%*pb`` hex mask.

    ``nr_cpu_ids`` sets the width (the kernel pads to nr_cpu_ids bits, rounded up
    to 32-bit words); by default the smallest width holding the highest id.
    """
    ids = set(int(c) for c in cpus)
    value = 0
    for c in ids:
        if c < 0:
            raise ValueError("negative CPU id %d" % c)
        value |= 1 << c
    nbits = nr_cpu_ids if nr_cpu_ids else (max(ids) + 1 if ids else 1)
    nwords = max(1, (nbits + 31) // 32)
    words = []
    for i in range(nwords - 1, -1, -1):
        words.append("%08x" % ((value >> (32 * i)) & 0xFFFFFFFF))
    # The kernel does not zero-pad the most significant word beyond nr_cpu_ids bits.
    top_bits = nbits - 32 * (nwords - 1)
    if top_bits < 32:
        width = max(1, (top_bits + 3) // 4)
        words[0] = words[0][-width:]
    return ",".join(words)
