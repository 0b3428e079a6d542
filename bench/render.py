# -*- coding: utf-8 -*-
"""`make bench` sections "hostlist" and "slurm_render" (issue 11).

    .venv/bin/python bench/render.py [--sections hostlist,slurm_render] [--runs N] [--names 10000]
                                     [--nodes 10000] [--classes 50] [--no-breakdown]

hostlist
  The collection's hostlist codec (``plugins/module_utils/hostlist.py``) and the
  two filters that wrap it (``hpcai.cluster.hostlist_compress`` /
  ``hostlist_expand``, plugins/filter/hostlist.py) on three sets of 10,000 names:

  ``contiguous``  ``node00001`` .. ``node10000``: one range;
  ``fragmented``  10,000 of ``node00001`` .. ``node20000`` drawn at random (seeded):
                  ~5,000 ranges, the worst case a real cluster gets near;
  ``multi``       several prefixes the way sites name nodes: rack-slot names
                  (``r01n001``), padded GPU names that run past their width
                  (``gpu0998``, ``gpu0999``, ``gpu1000``), unpadded names that cross powers
                  of ten (``dgx-h100-9``, ``dgx-h100-10``), a few ``bigmem01`` and
                  ``login1``; 10,000 drawn at random from a pool of ~16,000.

  Figures per set: ``compress`` (names -> hostlist), ``expand`` (hostlist ->
  names), and the same through the filters (``filter compress`` checks every
  name before compressing; ``filter expand``).  Every run's result is checked
  before anything is recorded: ``expand(compress(names))`` must give every name
  once, in natural order (what the codec writes for names whose prefixes never
  mix padded and unpadded spellings of one number, true for all three sets);
  compressing the names in reverse order must give the same string; the string
  is read back by an independent expander in this file; the contiguous set
  must be exactly ``node[00001-10000]`` and the fragmented one must hold one
  range per run of consecutive numbers.  A wrong codec fails the section.

  Target: 200 ms per figure (CPU time, see benchlib).  The issue gives none for
  the hostlist; 200 ms is a tenth of the 2 s that the issue allows for the whole
  slurm.conf of the same 10,000 nodes, and one render compresses the full node
  set more than once (every NodeName group, every partition, gres.conf), so a
  codec slower than that would by itself eat the render's budget.

slurm_render
  slurm.conf for 10,000 compute nodes in 50 hardware classes, the way the slurm
  role writes it (roles/slurm/templates/slurm.conf.j2, rendered on the
  controller by the ``Render slurm.conf`` task of tasks/config.yml).  The
  per-host work is one pass of the ``hpcai.cluster.slurm_nodes`` filter (the
  role's ``__slurm_nodes``); tasks/config.yml runs it once per run (a
  set_fact) and hands the result to the template, the bench renders the
  template with the role variable: the same pass plus the template.

  Classes: ``tests/sysfs_gen.py`` catalogue machines (one per distinct CPU
  layout: Naples to Turin dense, Sapphire Rapids, Ice Lake, Altra Max, Grace;
  HGX H100, MI300X, L40S and a PCIe GPU node) x three memory sizes (the
  catalogue's memory per NUMA node x1, x2, x3), first 50 in that order.  Each
  class's facts are what the collection's own code makes of the synthetic
  machine: ``hpcai_cpu_topology`` (module_utils/topology.py ``collect`` on an
  in-memory tree), ``hpcai_gpu_facts`` (module_utils/gpu.py) and
  ``hpcai_cgroup_partition`` (module_utils/cgroup_partition.py ``plan``,
  policy per_l3: CpuSpecList and MemSpecLimit on the NodeName lines).  Class
  sizes fall off as 1/rank^0.7 (a few large partitions, a long tail), CPU nodes
  are ``cnNNNNN``, GPU nodes ``gpuNNNN``, numbered class after class, then 1 % of
  them swap places (replacement hardware) so class hostlists have holes.  Every
  node's MemTotal is a few MiB (0..40) below its class's, as identical machines
  differ in practice.  Inventory names are FQDNs; ``ansible_facts.hostname`` is
  the short name slurm.conf uses.  Partitions: ``cpu`` (default), ``gpu``
  (inventory groups) and ``long`` (every compute node).

  Figures:

  ``slurm_node_lines filter``   the filter of the NodeName section on the
                                {name: hpcai_cpu_topology} and extras dicts the
                                template builds (plain Python, no templating):
                                the collection's own share of the render
  ``template render (Templar)``  the whole slurm.conf.j2 with ansible-core's own
                                ``ansible.template.Templar`` (2.19 lazy
                                templating; the role's defaults, vars/main.yml
                                and vars/RedHat-9.yml loaded as trusted
                                templates; the collection's filters through the
                                .collections symlink), as ``ansible.builtin.template``
                                renders it (trim_blocks).  ``hostvars`` is a plain
                                dict, not the HostVars view of a playbook run, so
                                this is a lower bound of what ansible-playbook takes
  ``slurm_conf_change``         the role's next task: the new text against the
                                file in place (here: the same text with one
                                class's RealMemory 1 GiB higher, i.e. a DIMM fix)
  ``total``                     render + slurm_conf_change of the same run: what
                                the controller spends to produce slurm.conf and
                                decide how to apply it.  The render already
                                contains the filter, so filter + render would
                                count it twice.  Judged against 2000 ms.

  and, with ``breakdown`` (default), where the render's time goes: the
  ``slurm_nodes`` filter called from plain Python on the same hostvars (the
  collection's own share: one pass over the compute hosts' facts, NodeName
  lines, gres.conf lines, partition hostlists), the role variables the template
  uses, each rendered alone with a fresh Templar (``__slurm_nodes``: that
  filter through the Templar, with lazy hostvars; ``__slurm_topology``), and
  the template's NodeName section and its partitions section alone.  Each
  includes the variables it uses, so they overlap and do not add up.

  Checks (first render, and every timed render must give the same text): one
  NodeName line per class, every node exactly once across the NodeName
  hostlists (read back by this file's own expander, not the codec), each
  line's hosts all of one class with that class's CPUs, sockets, cores,
  threads and Gres, RealMemory at most any member's measured memory minus the
  role's reserve and at most 2 GiB below that; the NodeName lines equal the
  filter's output on the same input; the three partitions hold exactly their
  groups; slurm_conf_change names exactly the changed class's nodes.  A wrong
  filter, codec or template fails the section.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402

benchlib.setup_paths()


def _init_collection_loader():
    """Install ansible's collection finder for .collections (as ansible-playbook
    does) so the Templar resolves ``hpcai.cluster.*`` filters.  benchlib only puts
    .collections on sys.path: when another section imported
    ``ansible_collections`` that way first, it is a plain namespace package the
    plugin loader cannot use, so it is dropped and imported again through the
    finder (the other section has finished with its module objects)."""
    from ansible.utils.collection_loader import AnsibleCollectionConfig

    if AnsibleCollectionConfig.collection_finder is not None:
        return
    for name in [m for m in sys.modules if m == "ansible_collections" or m.startswith("ansible_collections.")]:
        del sys.modules[name]
    from ansible.plugins.loader import init_plugin_loader

    init_plugin_loader([benchlib.COLLECTIONS])


_init_collection_loader()

import sysfs_gen as gen  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.filter import hostlist as hostlist_filter  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.filter import slurm as slurm_filter  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils import cgroup_partition  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils import gpu  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils import hostlist as codec  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils import slurm_conf  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils import slurm_files  # noqa: E402
from ansible_collections.hpcai.cluster.plugins.module_utils import topology  # noqa: E402

HOSTLIST = "hostlist"
SLURM = "slurm_render"
# hostlist: a tenth of the 2 s for the whole slurm.conf of the same
# 10,000 nodes (one render compresses the node set several times), see the doc.
HOSTLIST_TARGET_MS = 200.0
# slurm_render: the figure for 10,000 nodes in 50 classes.
SLURM_TARGET_MS = 2000.0
NAMES = 10000
NODES = 10000
CLASSES = 50
HOSTLIST_RUNS = 7
FILTER_RUNS = 5
RENDER_RUNS = 3
SEED = 11

ROLE = os.path.join(benchlib.REPO, "roles", "slurm")
TEMPLATE = os.path.join(ROLE, "templates", "slurm.conf.j2")
OS_VARS = "RedHat-9.yml"  # Rocky 9 controller: tasks/set_vars.yml's first_found pick
DOMAIN = "hpc.example"
CONTROLLER = "head1"
# Jinja settings of ansible.builtin.template (trim_blocks on, lstrip_blocks off).
TEMPLATE_OVERRIDES = {"trim_blocks": True, "lstrip_blocks": False}


def _log(log):
    return log or (lambda msg: print(msg, file=sys.stderr))


# --------------------------------------------------------------------------
# an expander of our own (checks must not trust the code they check)
# --------------------------------------------------------------------------

_ITEM_RE = re.compile(r"^([^\[\]]*)(?:\[([0-9,\-]+)\])?$")


def simple_expand(text):
    """Names of a hostlist in the form ``compress`` writes (``prefix[lo-hi,n,...]``
    items, comma separated, at most one bracket at the end of an item)."""
    names = []
    depth = 0
    item = []
    items = []
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "," and not depth:
            items.append("".join(item))
            item = []
        else:
            item.append(char)
    items.append("".join(item))
    for entry in items:
        match = _ITEM_RE.match(entry)
        if not match or not entry:
            raise AssertionError("not a hostlist item: %r" % entry[:80])
        prefix, body = match.groups()
        if body is None:
            names.append(prefix)
            continue
        for part in body.split(","):
            lo, _sep, hi = part.partition("-")
            for number in range(int(lo), int(hi or lo) + 1):
                names.append(prefix + str(number).zfill(len(lo)))
    return names


def _runs_of(numbers):
    count = 0
    prev = None
    for number in sorted(numbers):
        if prev is None or number != prev + 1:
            count += 1
        prev = number
    return count


# --------------------------------------------------------------------------
# hostlist
# --------------------------------------------------------------------------


def hostlist_sets(n=NAMES, seed=SEED):
    """[(case, names, what)]: the three name sets (names shuffled: compress must
    not depend on the input order, and real inventories are not sorted)."""
    rng = random.Random(seed)
    contiguous = ["node%05d" % i for i in range(1, n + 1)]
    fragmented = ["node%05d" % i for i in rng.sample(range(1, 2 * n + 1), n)]
    pool = []
    racks = max(1, (n * 9 // 10) // 48)
    for rack in range(1, racks + 1):  # 48 slots per rack
        pool.extend("r%02dn%03d" % (rack, slot) for slot in range(1, 49))
    pool.extend("gpu%04d" % i for i in range(9000 - n // 4, 9000 + n // 4))  # padded, runs past 4 digits
    pool.extend("dgx-h100-%d" % i for i in range(1, n // 5 + 1))  # unpadded: 9 -> 10 -> 100 -> 1000
    pool.extend("bigmem%02d" % i for i in range(1, 33))
    pool.extend("login%d" % i for i in range(1, 5))
    if len(pool) < n:
        raise ValueError("hostlist multi set: pool of %d names for %d" % (len(pool), n))
    multi = rng.sample(pool, n)
    rng.shuffle(contiguous)
    return [
        ("contiguous", contiguous, "node00001..node%05d, one range" % n),
        ("fragmented", fragmented, "%d of node00001..node%05d at random" % (n, 2 * n)),
        ("multi", multi, "%d of %d rack-slot/gpu/dgx/bigmem/login names at random" % (n, len(pool))),
    ]


def check_hostlist(case, names, compressed, expanded, reverse_compressed):
    """Raise AssertionError unless the codec's output is right (see the doc)."""
    want = sorted(set(names), key=codec.natural_key)
    if expanded != want:
        missing = sorted(set(want) - set(expanded))[:5]
        extra = sorted(set(expanded) - set(want))[:5]
        raise AssertionError(
            "hostlist %s: expand(compress(names)) gave %d names for %d (%d distinct), missing %s, extra %s, "
            "natural order: %s" % (case, len(expanded), len(want), len(set(expanded)), missing, extra,
                                   sorted(set(expanded), key=codec.natural_key) == expanded))
    if reverse_compressed != compressed:
        raise AssertionError("hostlist %s: compress depends on the input order: %r vs %r"
                             % (case, compressed[:120], reverse_compressed[:120]))
    mine = simple_expand(compressed)
    if len(mine) != len(want) or set(mine) != set(want):
        raise AssertionError("hostlist %s: %r does not read back as the %d names (%d read)"
                             % (case, compressed[:120], len(want), len(mine)))
    if case == "contiguous" and compressed != "node[00001-%05d]" % len(want):
        raise AssertionError("hostlist contiguous: %r is not one range" % compressed[:120])
    if case == "fragmented":
        ranges = compressed.count(",") + 1
        runs = _runs_of(int(name[4:]) for name in want)
        if ranges != runs:
            raise AssertionError("hostlist fragmented: %d ranges for %d runs of consecutive numbers" % (ranges, runs))


def run_hostlist(n=NAMES, runs=HOSTLIST_RUNS, seed=SEED, log=None, judge="cpu"):
    """The hostlist section: ``{"section", "status", "config", "sets", "rows"}``."""
    log = _log(log)
    rows = []
    sets = []
    for case, names, what in hostlist_sets(n, seed):
        log("  hostlist: %s (%d names)" % (case, len(names)))
        compressed = codec.compress(names)
        expanded = codec.expand(compressed)
        check_hostlist(case, names, compressed, expanded, codec.compress(list(reversed(names))))
        via_filter = hostlist_filter.hostlist_compress(names)
        if via_filter != compressed or hostlist_filter.hostlist_expand(via_filter) != expanded:
            raise AssertionError("hostlist %s: the filters disagree with the codec" % case)
        extra = {"names": len(names), "compressed_chars": len(compressed),
                 "ranges": compressed.count(",") + 1, "kind": "hostlist"}

        def checked(fn, arg, want, label, case=case):
            def call():
                if fn(arg) != want:
                    raise AssertionError("hostlist %s: %s gave a different result in a timed run" % (case, label))
            return call

        figures = (
            ("compress", checked(codec.compress, names, compressed, "compress")),
            ("expand", checked(codec.expand, compressed, expanded, "expand")),
            ("filter compress", checked(hostlist_filter.hostlist_compress, names, compressed, "hostlist_compress")),
            ("filter expand", checked(hostlist_filter.hostlist_expand, compressed, expanded, "hostlist_expand")),
        )
        for metric, call in figures:
            wall, cpu = benchlib.time_calls(call, runs)
            rows.append(benchlib.row(HOSTLIST, case, metric, wall, cpu=cpu, target=HOSTLIST_TARGET_MS, judge=judge,
                                     **extra))
        sets.append({"case": case, "what": what, "names": len(names), "compressed_chars": len(compressed),
                     "ranges": extra["ranges"], "compressed_head": compressed[:160]})
    return {
        "section": HOSTLIST,
        "status": "ok",
        "target_ms": HOSTLIST_TARGET_MS,
        "config": {"names": n, "runs": runs, "seed": seed, "judge": judge,
                   "codec": "plugins/module_utils/hostlist.py", "filters": "plugins/filter/hostlist.py"},
        "sets": sets,
        "rows": rows,
    }


# --------------------------------------------------------------------------
# slurm_render: classes and cluster
# --------------------------------------------------------------------------

# One catalogue machine per distinct (CPU layout, GPUs); GPU machines spread
# through the list so small runs (tests: 3 classes) have one.
CLASS_BASES = (
    "genoa_2p_nps1_smt",  # 384 CPUs, 2 x 96 cores
    "milan_2p_nps1_smt",  # 256 CPUs
    "hgx_h100_genoa_2p_nps1",  # 384 CPUs + 8 x H100
    "turin_dense_2p_nps1_smt",  # 768 CPUs
    "bergamo_2p_nps1_smt",  # 512 CPUs
    "intel_spr_2p_snc2",  # 224 CPUs, SNC2
    "mi300x_genoa_2p_nps1",  # 384 CPUs + 4 x MI300X
    "genoa_9634_2p",  # 336 CPUs
    "milan_1p_nps1_smt",  # 128 CPUs
    "intel_icx_2p_socket_rr",  # 160 CPUs
    "l40s_milan_1p",  # 128 CPUs + 1 x L40S
    "arm_altra_max_2p_l3",  # 256 CPUs, no SMT
    "genoa_1p_nps1_smt",  # 192 CPUs
    "turin_dense_1p_nps1_smt",  # 384 CPUs in one socket
    "bergamo_1p_nps1_smt",  # 256 CPUs in one socket
    "milan_2p_nps1_nosmt",  # 128 CPUs, SMT off
    "genoa_2p_nps1_nosmt",  # 192 CPUs, SMT off
    "workstation_milan_1p_pcie_gpu",  # 32 CPUs + 1 PCIe GPU (visualisation)
    "milan_73f3_2p",  # 64 CPUs, frequency-optimised
    "naples_2p_smt",  # 128 CPUs, 2 x 32 cores
    "arm_grace_hopper_like",  # 72 CPUs
)
MEMORY_FACTORS = (1, 2, 3)  # x the catalogue's memory per NUMA node
SIZE_EXPONENT = 0.7
SWAP_FRACTION = 0.01
JITTER_MIB = 40
PARTITIONS = [
    {"name": "cpu", "nodes": "cpu", "default": True, "options": {"MaxTime": "2-00:00:00", "State": "UP"}},
    {"name": "gpu", "nodes": "gpu", "options": {"MaxTime": "1-00:00:00", "State": "UP"}},
    {"name": "long", "nodes": "slurm_compute", "options": {"MaxTime": "7-00:00:00", "PriorityTier": 1, "State": "UP"}},
]


class HardwareClass(object):
    """One hardware class: a catalogue machine with a memory size, and the facts
    the collection's code gathers on it."""

    def __init__(self, index, base, factor):
        spec = gen.CATALOGUE[base]
        mem = spec.get("mem_per_node_kib") or gen.DEFAULTS["mem_per_node_kib"]
        self.index = index
        self.base = base
        self.factor = factor
        self.name = "%s_mem%d" % (base, factor)
        self.spec = gen.make_spec(spec, name=self.name, mem_per_node_kib=mem * factor)
        reader = gen.MemoryReader.for_spec(self.spec, full=False)
        self.topology = topology.collect(reader)
        self.gpu = gpu.collect_facts(reader, self.topology)
        self.partition = cgroup_partition.plan(self.topology, policy="per_l3")
        self.gres = self.gpu["slurm"]["gres"] or ""
        self.kind = "gpu" if self.gres else "cpu"
        self.nodes = []

    def layout(self):
        s = self.topology["slurm"]
        return (s["CPUs"], s["Boards"], s["SocketsPerBoard"], s["CoresPerSocket"], s["ThreadsPerCore"])

    def signature(self):
        return self.layout() + (self.topology["slurm"]["RealMemory"] // 1024, self.gres)

    def describe(self):
        s = self.topology["slurm"]
        return {"class": self.name, "base": self.base, "nodes": len(self.nodes), "CPUs": s["CPUs"],
                "SocketsPerBoard": s["SocketsPerBoard"], "CoresPerSocket": s["CoresPerSocket"],
                "ThreadsPerCore": s["ThreadsPerCore"], "MemTotal_mib": s["RealMemory"], "gres": self.gres or None,
                "CpuSpecList": self.partition["slurm"].get("CpuSpecList"),
                "MemSpecLimit": self.partition["slurm"].get("MemSpecLimit")}


def build_classes(count=CLASSES):
    if count > len(CLASS_BASES) * len(MEMORY_FACTORS):
        raise ValueError("at most %d classes" % (len(CLASS_BASES) * len(MEMORY_FACTORS)))
    classes = []
    for factor in MEMORY_FACTORS:
        for base in CLASS_BASES:
            if len(classes) == count:
                break
            classes.append(HardwareClass(len(classes), base, factor))
    seen = {}
    for hw in classes:
        other = seen.setdefault(hw.signature(), hw.name)
        if other != hw.name:
            raise AssertionError("classes %s and %s would share NodeName lines" % (other, hw.name))
    return classes


def class_sizes(nodes, count):
    """Node counts per class, falling off as 1/rank^SIZE_EXPONENT, each >= 1, summing to ``nodes``."""
    if nodes < count:
        raise ValueError("%d nodes cannot fill %d classes" % (nodes, count))
    weights = [1.0 / (rank + 1) ** SIZE_EXPONENT for rank in range(count)]
    spare = nodes - count
    raw = [spare * w / sum(weights) for w in weights]
    sizes = [1 + int(r) for r in raw]
    by_remainder = sorted(range(count), key=lambda i: raw[i] - int(raw[i]), reverse=True)
    for i in by_remainder[: nodes - sum(sizes)]:
        sizes[i] += 1
    return sizes


class Cluster(object):
    """10,000 compute nodes in their classes, a controller, the inventory groups
    and what the role's template builds from them."""

    def __init__(self, nodes=NODES, classes=CLASSES, seed=SEED):
        rng = random.Random(seed)
        self.classes = build_classes(classes)
        sizes = class_sizes(nodes, classes)
        counters = {"cpu": 0, "gpu": 0}
        slots = {"cpu": [], "gpu": []}  # (name, class) in numbering order
        for hw, size in zip(self.classes, sizes):
            for _dummy in range(size):
                counters[hw.kind] += 1
                name = ("cn%05d" if hw.kind == "cpu" else "gpu%04d") % counters[hw.kind]
                slots[hw.kind].append([name, hw])
        for kind in ("cpu", "gpu"):  # replacement hardware: some nodes swap classes
            entries = slots[kind]
            for _dummy in range(int(len(entries) * SWAP_FRACTION / 2)):
                a, b = rng.randrange(len(entries)), rng.randrange(len(entries))
                entries[a][1], entries[b][1] = entries[b][1], entries[a][1]
        self.node_class = {}
        self.hostvars = {}
        self.measured = {}
        computes = []
        for kind in ("cpu", "gpu"):
            for name, hw in slots[kind]:
                fqdn = "%s.%s" % (name, DOMAIN)
                hw.nodes.append(name)
                self.node_class[name] = hw
                topo = dict(hw.topology)
                jitter = rng.randint(0, JITTER_MIB)
                topo["memtotal_kib"] = hw.topology["memtotal_kib"] - jitter * 1024
                for key in ("slurm", "slurm_l3_as_socket"):
                    topo[key] = dict(hw.topology[key], RealMemory=hw.topology[key]["RealMemory"] - jitter)
                self.measured[name] = topo["slurm"]["RealMemory"]
                self.hostvars[fqdn] = {
                    "inventory_hostname": fqdn,
                    "group_names": sorted(["slurm_compute", kind]),
                    "ansible_facts": {"hostname": name, "fqdn": fqdn, "hpcai_cpu_topology": topo,
                                      "hpcai_gpu_facts": hw.gpu, "hpcai_cgroup_partition": hw.partition},
                }
                computes.append(fqdn)
        head = "%s.%s" % (CONTROLLER, DOMAIN)
        self.controller = head
        self.head_facts = {
            "hostname": CONTROLLER, "fqdn": head, "distribution": "Rocky", "distribution_major_version": "9",
            "distribution_version": "9.6", "os_family": "RedHat", "kernel": "5.14.0-570.17.1.el9_6.x86_64",
            "virtualization_type": "kvm", "virtualization_role": "guest", "architecture": "x86_64",
        }
        self.hostvars[head] = {"inventory_hostname": head, "group_names": ["login", "slurm_controller"],
                               "ansible_facts": self.head_facts, "__slurm_version_detected": "24.05.8"}
        self.groups = {
            "all": [head] + computes, "ungrouped": [], "slurm_controller": [head], "login": [head],
            "slurm_compute": computes,
            "cpu": [h for h in computes if self.node_class[h.split(".")[0]].kind == "cpu"],
            "gpu": [h for h in computes if self.node_class[h.split(".")[0]].kind == "gpu"],
        }
        self.names = sorted(self.node_class)

    # ---- what the slurm_nodes filter builds from hostvars (slurm_core_spec on, MemSpecLimit with task/cgroup)
    def filter_input(self):
        hosts = {}
        extras = {}
        for fqdn in self.groups["slurm_compute"]:
            facts = self.hostvars[fqdn]["ansible_facts"]
            name = facts["hostname"]
            hosts[name] = facts["hpcai_cpu_topology"]
            plan = facts["hpcai_cgroup_partition"]["slurm"]
            extra = {"CpuSpecList": plan.get("CpuSpecList"), "CoreSpecCount": plan.get("CoreSpecCount"),
                     "MemSpecLimit": plan.get("MemSpecLimit")}
            gres = facts["hpcai_gpu_facts"]["slurm"]["gres"]
            if gres:
                extra["Gres"] = gres
            extras[name] = extra
        return hosts, extras

    def describe(self):
        return [hw.describe() for hw in self.classes]


# --------------------------------------------------------------------------
# slurm_render: the role's variables and Ansible's Templar
# --------------------------------------------------------------------------


def _trusted_yaml(loader, path):
    return loader.load_from_file(path, trusted_as_template=True) or {}


class RoleRender(object):
    """slurm.conf.j2 rendered for the controller the way the role does it
    (simplified precedence: defaults < play vars < vars/main.yml < OS vars <
    the controller's host vars, as tests/unit/render_helpers.py)."""

    def __init__(self, cluster):
        from ansible.parsing.dataloader import DataLoader
        from ansible.template import trust_as_template

        self.loader = DataLoader()
        self.trust = trust_as_template
        variables = {}
        variables.update(_trusted_yaml(self.loader, os.path.join(ROLE, "defaults", "main.yml")))
        variables.update({
            "slurm_cluster_name": "bench",
            "slurm_partitions": [dict(p) for p in PARTITIONS],
            "slurm_dbd_db_password": "bench-only-not-a-secret",
        })
        variables.update(_trusted_yaml(self.loader, os.path.join(ROLE, "vars", "main.yml")))
        variables.update(_trusted_yaml(self.loader, os.path.join(ROLE, "vars", OS_VARS)))
        variables.update(cluster.hostvars[cluster.controller])
        variables.update(
            hostvars=cluster.hostvars,
            groups=cluster.groups,
            inventory_hostname=cluster.controller,
            inventory_hostname_short=CONTROLLER,
            ansible_play_hosts_all=list(cluster.groups["all"]),
            ansible_play_hosts=list(cluster.groups["all"]),
            ansible_check_mode=False,
            role_path=ROLE,
            role_name="slurm",
            ansible_managed="Ansible managed",
        )
        self.variables = variables
        with open(TEMPLATE) as handle:
            self.source = handle.read()
        nodes = self.source.split("# ---- nodes\n", 1)[1]
        # The template reads __slurm_nodes once, into `nodes`, before the sections.
        prelude = "{% set nodes = __slurm_nodes %}\n"
        self.node_section = prelude + nodes.split("\n# ---- partitions\n", 1)[0]
        self.partition_section = prelude + nodes.split("\n# ---- partitions\n", 1)[1]

    def template(self, text, **kwargs):
        from ansible.template import Templar

        result = Templar(loader=self.loader, variables=self.variables).template(self.trust(text), **kwargs)
        return result

    def render(self):
        text = self.template(self.source, escape_backslashes=False, overrides=dict(TEMPLATE_OVERRIDES))
        return "" if text is None else str(text)

    def render_part(self, text):
        return str(self.template(text, escape_backslashes=False, overrides=dict(TEMPLATE_OVERRIDES)))

    def slurm_nodes_python(self):
        """The role's ``__slurm_nodes`` computed by calling the filter directly (plain dicts, no Templar)."""
        v = self.variables
        return slurm_filter.slurm_nodes(v["hostvars"], v["groups"]["slurm_compute"], core_spec=True, mem_spec=True,
                                        gres=True, partitions=v["slurm_partitions"], groups=v["groups"])


# Parts of the render timed alone (breakdown): (metric, template text or a RoleRender attribute).
BREAKDOWN = (
    ("slurm_nodes filter (plain Python)", "slurm_nodes_python"),
    ("vars: __slurm_nodes", "{{ __slurm_nodes | length }}"),
    ("vars: __slurm_topology", "{{ __slurm_topology | length }}"),
    ("NodeName section", "node_section"),
    ("partitions section", "partition_section"),
)


# --------------------------------------------------------------------------
# slurm_render: checks
# --------------------------------------------------------------------------

_WORD_RE = re.compile(r"(\w+)=(\S*)")


def _words(line):
    return dict(_WORD_RE.findall(line))


def check_render(cluster, text, filter_lines):
    """Raise AssertionError unless ``text`` is the slurm.conf the cluster needs."""
    lines = text.splitlines()
    node_lines = [line for line in lines if line.startswith("NodeName=")]
    if node_lines != list(filter_lines):
        raise AssertionError("slurm_render: the template's %d NodeName lines differ from the filter's %d"
                             % (len(node_lines), len(filter_lines)))
    if len(node_lines) != len(cluster.classes):
        raise AssertionError("slurm_render: %d NodeName lines for %d hardware classes"
                             % (len(node_lines), len(cluster.classes)))
    seen = {}
    reserve = slurm_conf.DEFAULT_RESERVE_MIB
    percent = slurm_conf.DEFAULT_RESERVE_PERCENT
    for line in node_lines:
        words = _words(line)
        members = simple_expand(words["NodeName"])
        for name in members:
            if name in seen:
                raise AssertionError("slurm_render: %s is on two NodeName lines" % name)
            if name not in cluster.node_class:
                raise AssertionError("slurm_render: NodeName %s is not a compute node" % name)
            seen[name] = line
        hws = set(cluster.node_class[name] for name in members)
        if len(hws) != 1:
            raise AssertionError("slurm_render: one NodeName line holds %d classes: %s"
                                 % (len(hws), ", ".join(sorted(h.name for h in hws))))
        hw = hws.pop()
        if sorted(members) != sorted(hw.nodes):
            raise AssertionError("slurm_render: the %s line holds %d of the class's %d nodes"
                                 % (hw.name, len(members), len(hw.nodes)))
        want = dict(zip(("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore"),
                        (str(v) for v in hw.layout())))
        got = dict((k, words.get(k)) for k in want)
        if got != want or words.get("Gres", "") != hw.gres:
            raise AssertionError("slurm_render: %s: %s, Gres=%s; expected %s, Gres=%s"
                                 % (hw.name, got, words.get("Gres"), want, hw.gres))
        low = min(cluster.measured[name] for name in members)
        ceiling = low - max(reserve, -(-low * percent // 100))
        if not ceiling - 2048 <= int(words["RealMemory"]) <= ceiling:
            raise AssertionError("slurm_render: %s: RealMemory=%s outside [%d, %d] (lowest measured %d MiB)"
                                 % (hw.name, words["RealMemory"], ceiling - 2048, ceiling, low))
    if len(seen) != len(cluster.node_class):
        missing = sorted(set(cluster.node_class) - set(seen))
        raise AssertionError("slurm_render: %d of %d nodes have no NodeName line, e.g. %s"
                             % (len(missing), len(cluster.node_class), ", ".join(missing[:5])))
    partitions = dict((_words(line)["PartitionName"], _words(line)) for line in lines
                      if line.startswith("PartitionName="))
    if sorted(partitions) != sorted(p["name"] for p in PARTITIONS):
        raise AssertionError("slurm_render: partitions %s" % sorted(partitions))
    for part in PARTITIONS:
        short = sorted(h.split(".")[0] for h in cluster.groups[part["nodes"]])
        if sorted(simple_expand(partitions[part["name"]]["Nodes"])) != short:
            raise AssertionError("slurm_render: partition %s does not hold exactly group %s"
                                 % (part["name"], part["nodes"]))
    wanted = ["ClusterName=bench", "SlurmctldHost=%s" % CONTROLLER, "SelectType=select/cons_tres"]
    if any(hw.gres for hw in cluster.classes):
        wanted.append("GresTypes=gpu")
    for key in wanted:
        if key not in lines:
            raise AssertionError("slurm_render: no %s line" % key)


def old_conf(text):
    """The file in place before this run: the same text with the first class's
    RealMemory 1 GiB higher.  Returns (old text, that class's nodes)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("NodeName="):
            words = _words(line)
            lines[i] = line.replace("RealMemory=%s " % words["RealMemory"],
                                    "RealMemory=%d " % (int(words["RealMemory"]) + 1024))
            return "\n".join(lines), sorted(simple_expand(words["NodeName"]), key=codec.natural_key)
    raise AssertionError("slurm_render: no NodeName line")


def check_change(change, nodes):
    if not change["changed"] or not change["reconfigure"] or change["restart_slurmctld"] \
            or change["restart_slurmd_all"] or sorted(change["restart_slurmd_nodes"]) != sorted(nodes):
        raise AssertionError("slurm_render: slurm_conf_change: %s" % dict(
            (k, v if k != "restart_slurmd_nodes" else "%d nodes" % len(v)) for k, v in change.items()))


# --------------------------------------------------------------------------
# slurm_render: the section
# --------------------------------------------------------------------------


def _same_result(fn, first, metric):
    """A call of ``fn`` that fails unless it gives ``first`` again."""
    def call():
        if fn() != first:
            raise AssertionError("slurm_render: %s gave a different result" % metric)
    return call


def run_slurm_render(nodes=NODES, classes=CLASSES, runs=RENDER_RUNS, filter_runs=FILTER_RUNS, breakdown=True,
                     seed=SEED, log=None, judge="cpu"):
    """The slurm_render section: ``{"section", "status", "config", "classes", "output", "rows"}``."""
    log = _log(log)
    start = benchlib.now_ms()
    cluster = Cluster(nodes, classes, seed)
    log("  slurm_render: %d nodes in %d classes built in %.1f s" % (
        len(cluster.node_class), len(cluster.classes), (benchlib.now_ms() - start) / 1000.0))
    renderer = RoleRender(cluster)
    extra = {"nodes": len(cluster.node_class), "classes": len(cluster.classes)}
    rows = []

    # (a) the filter alone, on what the template hands it
    hosts, extras = cluster.filter_input()
    filter_lines = slurm_filter.slurm_node_lines(hosts, extras=extras)

    def node_lines():
        if slurm_filter.slurm_node_lines(hosts, extras=extras) != filter_lines:
            raise AssertionError("slurm_render: slurm_node_lines gave different lines in a timed run")

    # (b) the render; the first one (untimed, also loads the plugins) is checked in full
    log("  slurm_render: first render (checked)")
    text = renderer.render()
    check_render(cluster, text, filter_lines)
    old_text, changed_nodes = old_conf(text)
    check_change(slurm_files.conf_change(old_text, text), changed_nodes)

    wall, cpu = benchlib.time_calls(node_lines, filter_runs)
    rows.append(benchlib.row(SLURM, "%d nodes" % nodes, "slurm_node_lines filter", wall, cpu=cpu, judge=judge,
                             kind="python", **extra))

    samples = {"render": ([], []), "change": ([], []), "total": ([], [])}

    def timed(fn):
        import time

        c0 = time.process_time()
        t0 = benchlib.now_ms()
        result = fn()
        return result, benchlib.now_ms() - t0, (time.process_time() - c0) * 1000.0

    for index in range(runs):
        log("  slurm_render: render %d/%d" % (index + 1, runs))
        got, render_wall, render_cpu = timed(renderer.render)
        if got != text:
            raise AssertionError("slurm_render: render %d gave a different slurm.conf" % (index + 1))
        change, change_wall, change_cpu = timed(lambda new=got: slurm_files.conf_change(old_text, new))
        check_change(change, changed_nodes)
        for key, w, c in (("render", render_wall, render_cpu), ("change", change_wall, change_cpu),
                          ("total", render_wall + change_wall, render_cpu + change_cpu)):
            samples[key][0].append(w)
            samples[key][1].append(c)
    rows.append(benchlib.row(SLURM, "%d nodes" % nodes, "template render (Templar)", samples["render"][0],
                             cpu=samples["render"][1], judge=judge, kind="templar", **extra))
    rows.append(benchlib.row(SLURM, "%d nodes" % nodes, "slurm_conf_change", samples["change"][0],
                             cpu=samples["change"][1], judge=judge, kind="python", **extra))
    rows.append(benchlib.row(SLURM, "%d nodes" % nodes, "total: render + slurm_conf_change", samples["total"][0],
                             cpu=samples["total"][1], target=SLURM_TARGET_MS, judge=judge, kind="total", **extra))

    if breakdown:
        for metric, part in BREAKDOWN:
            log("  slurm_render: breakdown: %s" % metric)
            if part == "slurm_nodes_python":
                part_fn = renderer.slurm_nodes_python
            else:
                source = getattr(renderer, part) if part in ("node_section", "partition_section") else part
                part_fn = functools.partial(renderer.render_part, source)
            wall, cpu = benchlib.time_calls(_same_result(part_fn, part_fn(), metric), runs, warmup=0)
            rows.append(benchlib.row(SLURM, "%d nodes" % nodes, metric, wall, cpu=cpu, judge=judge, kind="breakdown",
                                     **extra))
    node_line_lengths = [len(line) for line in filter_lines]
    return {
        "section": SLURM,
        "status": "ok",
        "target_ms": SLURM_TARGET_MS,
        "config": {
            "nodes": nodes, "classes": classes, "runs": runs, "filter_runs": filter_runs, "seed": seed,
            "breakdown": bool(breakdown), "judge": judge,
            "templating": "ansible.template.Templar (ansible-core %s), plain-dict hostvars" % _ansible_version(),
            "role_vars": ["roles/slurm/defaults/main.yml", "roles/slurm/vars/main.yml", "roles/slurm/vars/" + OS_VARS],
            "partitions": PARTITIONS, "memory_jitter_mib": JITTER_MIB, "swap_fraction": SWAP_FRACTION,
        },
        "classes": cluster.describe(),
        "output": {
            "bytes": len(text), "lines": len(text.splitlines()), "nodename_lines": len(filter_lines),
            "longest_nodename_line": max(node_line_lengths), "changed_nodes": len(changed_nodes),
        },
        "rows": rows,
    }


def _ansible_version():
    try:
        from ansible.release import __version__
    except ImportError:
        return None
    return __version__


# --------------------------------------------------------------------------
# plot panels (bench/run.py draws them)
# --------------------------------------------------------------------------


def _bars(ax, labels, rows, target, title_unit="ms"):
    med = [r["median"] for r in rows]
    lo = [max(0.0, r["median"] - r["min"]) for r in rows]
    hi = [max(0.0, r["max"] - r["median"]) for r in rows]
    cpu = [r["cpu_median"] for r in rows]
    ys = list(range(len(rows)))
    ax.barh([y - 0.2 for y in ys], med, height=0.4, xerr=[lo, hi], capsize=3, label="wall (median, bars min..max)")
    ax.barh([y + 0.2 for y in ys], cpu, height=0.4, label="CPU time (median)")
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=6)
    ax.invert_yaxis()
    if target is not None:
        ax.axvline(target, color="red", linestyle="--", linewidth=1, label="target %g %s" % (target, title_unit))
    ax.set_xlabel(title_unit, fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=6)


def hostlist_plot_panels(result):
    rows = result.get("rows") or []
    if not rows:
        return []
    labels = ["%s: %s" % (r["case"], r["metric"]) for r in rows]
    return [("hostlist: %d names per set, codec and filters" % result["config"]["names"],
             lambda ax: _bars(ax, labels, rows, result.get("target_ms")))]


def slurm_plot_panels(result):
    rows = result.get("rows") or []
    if not rows:
        return []
    labels = [r["metric"] for r in rows]

    def draw(ax):
        _bars(ax, labels, rows, result.get("target_ms"))
        ax.set_xscale("log")

    cfg = result["config"]
    return [("slurm_render: slurm.conf, %d nodes in %d classes (log x; target: the total)"
             % (cfg["nodes"], cfg["classes"]), draw)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sections", default="hostlist,slurm_render")
    parser.add_argument("--runs", type=int, default=None, help="runs per figure (hostlist %d, render %d)"
                        % (HOSTLIST_RUNS, RENDER_RUNS))
    parser.add_argument("--names", type=int, default=NAMES)
    parser.add_argument("--nodes", type=int, default=NODES)
    parser.add_argument("--classes", type=int, default=CLASSES)
    parser.add_argument("--no-breakdown", action="store_true")
    parser.add_argument("--judge", choices=benchlib.JUDGES, default="cpu")
    parser.add_argument("--json", default=None, help="also write the section results here")
    args = parser.parse_args(argv)
    wanted = [s for s in args.sections.split(",") if s]
    results = []
    if HOSTLIST in wanted:
        results.append(run_hostlist(args.names, args.runs or HOSTLIST_RUNS, judge=args.judge))
    if SLURM in wanted:
        results.append(run_slurm_render(args.nodes, args.classes, args.runs or RENDER_RUNS,
                                        args.runs or FILTER_RUNS, not args.no_breakdown, judge=args.judge))
    print(benchlib.format_table([r for res in results for r in res["rows"]]))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
