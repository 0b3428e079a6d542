# -*- coding: utf-8 -*-
"""Tests for plugins/module_utils/cpulist.py."""

from __future__ import absolute_import, division, print_function

import random

import pytest

from ansible_collections.hpcai.cluster.plugins.module_utils.cpulist import (
    format_cpulist,
    format_cpumask,
    parse_cpulist,
    parse_cpumask,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0-3,8-11", [0, 1, 2, 3, 8, 9, 10, 11]),
        ("0", [0]),
        ("7", [7]),
        ("0-0", [0]),
        ("0-63,128-191\n", list(range(64)) + list(range(128, 192))),
        ("  1, 3 ,5 - 6 \n", [1, 3, 5, 6]),
        ("", []),
        ("\n", []),
        ("   \t\n ", []),
        (None, []),
        ("3,1,2", [1, 2, 3]),  # unsorted input
        ("0-3,2-5,4", [0, 1, 2, 3, 4, 5]),  # overlaps and duplicates
        ("0-3,", [0, 1, 2, 3]),  # one trailing comma
        (b"0-1\n", [0, 1]),
        ("8191", [8191]),
    ],
)
def test_parse_cpulist_valid(text, expected):
    assert parse_cpulist(text) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("0-3:2/4", "0-3:2/4"),  # kernel cmdline region syntax: not sysfs
        ("a-b", "a-b"),
        ("1,,2", "''"),
        ("-1", "-1"),
        ("5-3", "5-3"),
        ("0-3,x", "x"),
        ("0x10", "0x10"),
        ("1 2", "1 2"),
        (",", "''"),
        ("N", "N"),
        ("0-999999", "999999"),
        ("1.5", "1.5"),
    ],
)
def test_parse_cpulist_garbage_names_bad_text(text, fragment):
    with pytest.raises(ValueError) as err:
        parse_cpulist(text, source="/sys/x/online")
    message = str(err.value)
    assert fragment in message
    assert "/sys/x/online" in message


def test_parse_cpulist_rejects_non_string():
    with pytest.raises(ValueError):
        parse_cpulist(12)


@pytest.mark.parametrize(
    "cpus, expected",
    [
        ([], ""),
        ([0], "0"),
        ([0, 1], "0-1"),  # the kernel prints pairs as ranges
        ([0, 2], "0,2"),
        ([0, 1, 2, 3, 8, 9, 10, 11], "0-3,8-11"),
        ([11, 10, 9, 8, 3, 2, 1, 0, 0], "0-3,8-11"),
        (set([5, 7, 6, 100]), "5-7,100"),
        (range(0, 768), "0-767"),
        ((x for x in [1, 3, 5]), "1,3,5"),
    ],
)
def test_format_cpulist(cpus, expected):
    assert format_cpulist(cpus) == expected


def test_format_cpulist_negative():
    with pytest.raises(ValueError):
        format_cpulist([-1, 2])


def test_roundtrip_random():
    rng = random.Random(4)
    for dummy in range(300):
        size = rng.randint(0, 300)
        cpus = sorted(set(rng.randint(0, 1023) for dummy in range(size)))
        text = format_cpulist(cpus)
        assert parse_cpulist(text) == cpus
        assert format_cpulist(parse_cpulist(text)) == text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("3", [0, 1]),
        ("00000000,0000000f\n", [0, 1, 2, 3]),
        ("00000001,00000000", [32]),
        ("ff,00000000,00000003", [0, 1] + list(range(64, 72))),
        ("", []),
        ("0", []),
    ],
)
def test_parse_cpumask(text, expected):
    assert parse_cpumask(text) == expected


@pytest.mark.parametrize("text", ["xyz", "123456789", "ff,,ff", "0x3"])
def test_parse_cpumask_garbage(text):
    with pytest.raises(ValueError) as err:
        parse_cpumask(text, source="shared_cpu_map")
    assert "shared_cpu_map" in str(err.value)


def test_format_cpumask_matches_kernel_width():
    # nr_cpu_ids=2 (this kind of VM prints "3"), 256 CPUs -> 8 full words.
    assert format_cpumask([0, 1], nr_cpu_ids=2) == "3"
    assert format_cpumask([0, 1, 2, 3], nr_cpu_ids=256) == ",".join(["00000000"] * 7 + ["0000000f"])
    assert format_cpumask([32], nr_cpu_ids=40) == "01,00000000"
    assert format_cpumask([]) == "0"


def test_mask_roundtrip_random():
    rng = random.Random(7)
    for dummy in range(100):
        cpus = sorted(set(rng.randint(0, 767) for dummy in range(rng.randint(0, 100))))
        assert parse_cpumask(format_cpumask(cpus, nr_cpu_ids=768)) == cpus
