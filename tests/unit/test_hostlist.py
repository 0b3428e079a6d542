# -*- coding: utf-8 -*-
"""Slurm hostlist codec (plugins/module_utils/hostlist.py) and the
hpcai.cluster.hostlist_expand / hostlist_compress filters.

ClusterShell (pinned in requirements.txt) is the reference: on random name
sets both sides must parse each other's output to the same set, and the
strings must be equal where the two are meant to agree (digit-free prefixes,
one numbering scheme per prefix, numbers at the end).  The module doc says
where and why they differ.
"""
from __future__ import absolute_import, division, print_function

import random
import re
import time

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.hpcai.cluster.plugins.filter import hostlist as flt
from ansible_collections.hpcai.cluster.plugins.module_utils import hostlist as hl
from render_helpers import evaluate

NodeSet = pytest.importorskip("ClusterShell.NodeSet").NodeSet


def cs_fold_last(names):
    """ClusterShell folding on the last number only (what compress promises)."""
    nodeset = NodeSet(fold_axis=[-1])
    nodeset.updaten(names)
    return str(nodeset)


# ---------------------------------------------------------------- known answers
@pytest.mark.parametrize("names, expected", [
    (["node001", "node002", "node003", "gpu01"], "gpu01,node[001-003]"),
    ([], ""),
    (["login"], "login"),
    (["node7"], "node7"),
    (["n1", "n01"], "n[1,01]"),                       # two hosts, never merged
    (["n1", "n01", "n001", "n2"], "n[1-2,01,001]"),
    (["n0", "n00", "n000"], "n[0,00,000]"),
    (["n10", "n010"], "n[10,010]"),
    (["n9", "n10"], "n[9-10]"),                       # unpadded run crosses a power of ten
    (["n08", "n09", "n10", "n11"], "n[08-11]"),       # padded run continues with same-width numbers
    (["n8", "n9", "n08", "n09", "n10", "n11"], "n[8-9,08-11]"),
    (["n098", "n099", "n100"], "n[098-100]"),
    (["n98", "n99", "n100"], "n[98-100]"),
    (["n%02d" % i for i in range(101)], "n[00-99,100]"),  # a padded run never grows a digit
    (["n001", "n999", "n1000"], "n[001,999-1000]"),
    (["node01-ib", "node02-ib"], "node01-ib,node02-ib"),  # number not at the end: verbatim (22.05)
    (["rack1-node01", "rack1-node02", "rack2-node01", "rack2-node02"], "rack1-node[01-02],rack2-node[01-02]"),
    (["rack1-n1", "rack2-n1", "rack10-n1", "rack1-n2", "rack10-n2"], "rack1-n[1-2],rack2-n1,rack10-n[1-2]"),
    (["b2", "a10", "a9", "a"], "a,a[9-10],b2"),
    (["1", "2", "3"], "1,2,3"),                       # all-digit names are not folded
    (["n1", "n3", "n5"], "n[1,3,5]"),
    (["node003", "node001", "node002", "node002"], "node[001-003]"),
    (["x" + "1" * 19, "x" + "1" * 18 + "2"], "x1111111111111111111,x1111111111111111112"),  # > 18 digits
    (["A1", "a1", "a2"], "A1,a[1-2]"),
    (["cn-1.ib", "cn-2.ib"], "cn-1.ib,cn-2.ib"),
    (["gpu.node1", "gpu.node2", "cn_01", "cn_02"], "cn_[01-02],gpu.node[1-2]"),
])
def test_compress_known(names, expected):
    assert hl.compress(names) == expected
    assert sorted(hl.expand(expected)) == sorted(set(names))


@pytest.mark.parametrize("text, expected", [
    ("gpu01,node[001-003,007]", ["gpu01", "node001", "node002", "node003", "node007"]),
    ("", []),
    (None, []),
    ("  \n", []),
    ("node1", ["node1"]),
    ("n[08-10]", ["n08", "n09", "n10"]),
    ("n[8-10]", ["n8", "n9", "n10"]),
    ("n[1,01]", ["n1", "n01"]),
    ("n[098-100]", ["n098", "n099", "n100"]),
    ("n[3,1,2]", ["n3", "n1", "n2"]),               # order as written, like scontrol show hostnames
    ("n[1-3],n2,n[2-4]", ["n1", "n2", "n3", "n4"]),   # duplicates dropped
    ("rack[1-2]-node[01-02]", ["rack1-node01", "rack1-node02", "rack2-node01", "rack2-node02"]),
    ("rack[0-1]_blade[0-1]", ["rack0_blade0", "rack0_blade1", "rack1_blade0", "rack1_blade1"]),
    ("a[1-2]b[3-4]c", ["a1b3c", "a1b4c", "a2b3c", "a2b4c"]),
    ("node[1-2]-ib", ["node1-ib", "node2-ib"]),     # Slurm 23.11+ / ClusterShell syntax
    ("a b\tc\nd,,e", ["a", "b", "c", "d", "e"]),    # Slurm separators: ',', blanks, newlines
    ("[1-2]", ["1", "2"]),
    ("x[0-0]", ["x0"]),
])
def test_expand_known(text, expected):
    assert hl.expand(text) == expected


@pytest.mark.parametrize("text, needle", [
    ("node[1-", "unclosed '['"),
    ("node]1", "']' without '['"),
    ("node[[1]]", "nested '['"),
    ("node[a-b]", "bad range 'a-b'"),
    ("node[1-2-3]", "bad range '1-2-3'"),
    ("node[-1]", "bad range '-1'"),
    ("node[3-1]", "reversed range '3-1'"),
    ("node[]", "empty brackets"),
    ("node[1,,2]", "bad range ''"),
    ("n[ 1-2]", "bad range ' 1-2'"),
    ("node[0-70000]", "Slurm refuses more than 65536"),
    ("a[0-999]b[0-999]c[0-9]", "expands to more than 1000000 names"),
    ("node#1", "'#'"),
    ("n[1-2]=x", "'='"),
])
def test_expand_errors_name_the_input(text, needle):
    with pytest.raises(hl.HostlistError) as err:
        hl.expand(text)
    assert needle in str(err.value)
    with pytest.raises(AnsibleFilterError) as ferr:
        flt.hostlist_expand(text, "slurm_nodes")
    assert "hostlist_expand: slurm_nodes:" in str(ferr.value)
    assert needle in str(ferr.value)


@pytest.mark.parametrize("names, needle", [
    (["node1", ""], "empty host name"),
    (["node 1"], "contains ' '"),
    (["node[1]"], "contains '['"),
    (["a,b"], "contains ','"),
    (["n#1"], "contains '#'"),
    (["n1", 5], "must be a string"),
    ("node[1-2]", "not the string"),
])
def test_compress_errors(names, needle):
    with pytest.raises(hl.HostlistError) as err:
        hl.compress(names)
    assert needle in str(err.value)


def test_filter_errors_name_variable_and_index():
    with pytest.raises(AnsibleFilterError, match=r"hostlist_compress: compute\[1\]: host name 'node 2' contains ' '"):
        flt.hostlist_compress(["node1", "node 2"], "compute")
    with pytest.raises(AnsibleFilterError, match=r"hostlist_compress: compute\[0\]: host name must be a string"):
        flt.hostlist_compress([1], "compute")
    with pytest.raises(AnsibleFilterError, match="hostlist_expand: hosts must be a hostlist string"):
        flt.hostlist_expand({"a": 1}, "hosts")
    with pytest.raises(AnsibleFilterError, match=r"hostlist_expand: hosts\[1\] must be a host name or hostlist string"):
        flt.hostlist_expand(["a", 2], "hosts")
    with pytest.raises(AnsibleFilterError, match="hostlist_compress: hostlist: unclosed"):
        flt.hostlist_compress("node[1-")


def test_filter_inputs():
    assert flt.hostlist_expand(None) == []
    assert flt.hostlist_compress(None) == ""
    assert flt.hostlist_expand(["n[1-2]", "n2", "m1"]) == ["n1", "n2", "m1"]
    assert flt.hostlist_compress("node3,node1,node2,node2") == "node[1-3]"
    assert flt.hostlist_compress(("b1", "a1")) == "a1,b1"


def test_filters_through_templar():
    variables = {"hosts": ["node001", "node002", "node003", "gpu01"]}
    assert evaluate("{{ hosts | hpcai.cluster.hostlist_compress }}", variables) == "gpu01,node[001-003]"
    assert evaluate("{{ 'gpu01,node[001-003]' | hpcai.cluster.hostlist_expand }}", {}) == variables["hosts"][3:] + \
        variables["hosts"][:3]
    with pytest.raises(Exception, match="my_nodes"):
        evaluate("{{ 'n[1-' | hpcai.cluster.hostlist_expand('my_nodes') }}", {})


def test_filter_and_module_utils_share_one_implementation():
    from ansible_collections.hpcai.cluster.plugins.module_utils import slurm_conf
    assert flt.compress is hl.compress is slurm_conf.compress
    assert flt.expand is hl.expand


# ---------------------------------------------------------------- Slurm 22.05 acceptance
_SLURM_2205_ITEM = re.compile(r"^[^\[\],\s#=]+(\[(\d+(-\d+)?)(,\d+(-\d+)?)*\])?$")


def slurm_2205_expand(text):
    """Reference expander with the 22.05 rules (src/common/hostlist.c): one
    bracket at the very end of an item, width = length of the low bound."""
    names = []
    # split on commas outside brackets
    items = re.findall(r"[^,\[]+(?:\[[^\]]*\])?", text)
    assert ",".join(items) == text, text
    for item in items:
        assert _SLURM_2205_ITEM.match(item), "Slurm 22.05 rejects %r" % item
        if "[" not in item:
            names.append(item)
            continue
        prefix, body = item[:-1].split("[")
        for part in body.split(","):
            lo, dummy, hi = part.partition("-")
            width = len(lo)
            for n in range(int(lo), int(hi or lo) + 1):
                names.append(prefix + "%0*d" % (width, n))
    return names


# ---------------------------------------------------------------- random round trips vs ClusterShell
PLAIN_PREFIXES = ["node", "n", "gpu", "cn-", "login", "a.b-", "x_", "Node"]
DIGIT_PREFIXES = ["rack1-n", "rack2-n", "rack10-n", "r2c", "dc1.rack03-node"]


def _names_for(rng, prefix, scheme, count):
    if scheme == "padded":
        width = rng.choice([2, 3, 4])
        pool = range(0, 10 ** width)
        return [prefix + str(v).zfill(width) for v in rng.sample(pool, min(count, len(pool)))]
    if scheme == "unpadded":
        top = rng.choice([20, 150, 5000])
        return [prefix + str(v) for v in rng.sample(range(0, top), min(count, top))]
    if scheme == "mixed":  # same numbers with several spellings
        out = []
        for v in rng.sample(range(0, 300), min(count, 300)):
            out.append(prefix + str(v).zfill(rng.choice([1, 2, 3, 4])))
        return out
    if scheme == "suffix":
        return [prefix + str(v).zfill(2) + "-ib" for v in rng.sample(range(0, 100), min(count, 100))]
    raise AssertionError(scheme)


def random_names(rng, schemes, prefixes):
    names = []
    for prefix in rng.sample(prefixes, rng.randint(1, len(prefixes))):
        names.extend(_names_for(rng, prefix, rng.choice(schemes), rng.randint(1, 60)))
    if rng.random() < 0.5:
        names.extend(rng.sample(["login", "head", "storage", "mgmt"], rng.randint(1, 3)))
    rng.shuffle(names)
    if names and rng.random() < 0.3:
        names.extend(rng.sample(names, min(5, len(names))))  # duplicates
    return names


@pytest.mark.parametrize("seed", range(300))
def test_random_round_trip_against_clustershell(seed):
    rng = random.Random(seed)
    names = random_names(rng, ["padded", "unpadded", "mixed", "suffix"], PLAIN_PREFIXES + DIGIT_PREFIXES)
    want = set(names)
    ours = hl.compress(names)
    # our output expands (by us, by a strict Slurm 22.05 reference, by ClusterShell) to exactly the names
    assert sorted(hl.expand(ours)) == sorted(want)
    assert sorted(slurm_2205_expand(ours)) == sorted(want)
    assert set(NodeSet(ours)) == want
    # ClusterShell's output (all axes folded, suffixes folded) expands to the names with our expander
    assert set(hl.expand(str(NodeSet.fromlist(names)))) == want
    assert set(hl.expand(cs_fold_last(names))) == want
    # order of the input does not matter
    shuffled = list(names)
    rng.shuffle(shuffled)
    assert hl.compress(shuffled) == ours


@pytest.mark.parametrize("seed", range(300))
def test_random_strings_equal_clustershell_where_they_agree(seed):
    """Digit-free prefixes, one numbering scheme per prefix, numbers at the end:
    ClusterShell (folding the last axis) and compress must write the same string."""
    rng = random.Random(1000 + seed)
    names = random_names(rng, ["padded", "unpadded"], PLAIN_PREFIXES)
    assert hl.compress(names) == cs_fold_last(names)


def test_natural_order_where_clustershell_is_lexical():
    names = ["rack10-n1", "rack10-n2", "rack2-n1", "rack1-n1", "rack1-n2"]
    assert cs_fold_last(names) == "rack1-n[1-2],rack10-n[1-2],rack2-n1"
    assert hl.compress(names) == "rack1-n[1-2],rack2-n1,rack10-n[1-2]"


def test_mixed_padding_never_merges_distinct_names():
    rng = random.Random(7)
    for dummy in range(200):
        values = rng.sample(range(0, 120), 30)
        names = [("n%0" + str(rng.choice([1, 2, 3])) + "d") % v for v in values]
        expanded = hl.expand(hl.compress(names))
        assert sorted(expanded) == sorted(set(names))
        assert len(expanded) == len(set(names))


def test_long_runs_are_split_for_old_slurm():
    names = ["n%d" % i for i in range(40000)]
    text = hl.compress(names)
    assert text == "n[0-16383,16384-32767,32768-39999]"
    assert hl.expand(text) == names


def test_natural_key_is_total_and_natural():
    names = ["n10", "n2", "n01", "n1", "a", "a1", "a-1", "ab", "n001"]
    assert sorted(names, key=hl.natural_key) == ["a", "a1", "a-1", "ab", "n1", "n01", "n001", "n2", "n10"]
    assert len(set(hl.natural_key(n) for n in names)) == len(names)


# ---------------------------------------------------------------- 10,000 names (issue 11 benchmarks this)
def _best_of(func, arg, repeat=3):
    timings = []
    result = None
    for dummy in range(repeat):
        start = time.perf_counter()
        result = func(arg)
        timings.append(time.perf_counter() - start)
    return min(timings), result


@pytest.mark.parametrize("shape", ["contiguous", "sparse", "two_level", "many_prefixes"])
def test_ten_thousand_names_fast(shape):
    rng = random.Random(11)
    if shape == "contiguous":
        names = ["node%05d" % i for i in range(10000)]
    elif shape == "sparse":
        names = ["n" + str(v) for v in rng.sample(range(200000), 10000)]
    elif shape == "two_level":
        names = ["rack%d-node%03d" % (i // 100, i % 100) for i in range(10000)]
    else:
        names = [rng.choice("abcdefghij") * rng.randint(1, 4) + str(v) for v in rng.sample(range(50000), 10000)]
    rng.shuffle(names)
    compress_s, text = _best_of(hl.compress, names)
    expand_s, back = _best_of(hl.expand, text)
    assert sorted(back) == sorted(set(names))
    assert compress_s < 1.0, "compress of 10,000 names took %.3f s" % compress_s
    assert expand_s < 1.0, "expand of 10,000 names took %.3f s" % expand_s
    # the filters add little on top
    filter_s, filtered = _best_of(flt.hostlist_compress, names)
    assert filter_s < 1.0 and filtered == text
