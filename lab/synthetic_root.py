"""Build a synthetic machine root (sys/ + proc/) for the lab and Molecule.

    lab/synthetic_root.py --spec genoa_2p_nps4_smt --kernel el9 --out DIR [--tar FILE.tar.gz]
    lab/synthetic_root.py --list

The CPU/NUMA/L3 part comes from tests/sysfs_gen.py (the same generator the
unit tests use); this adds what numa_sysctl reads and writes on a real node:
``proc/sys`` with the keys a given kernel has (``kernel/osrelease`` included),
the THP mode files and per-node hugepage counters. The kernel_tuning role is
pointed at the tree with ``kernel_tuning_topology_root`` so a container shows
what the role would do on that machine.
"""
import argparse
import os
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import sysfs_gen  # noqa: E402

# proc/sys keys (with typical defaults) every kernel of interest has.
COMMON = {
    "kernel/numa_balancing": "1",
    "kernel/sched_autogroup_enabled": "1",
    "vm/zone_reclaim_mode": "0",
    "vm/swappiness": "60",
    "vm/max_map_count": "65530",
    "vm/dirty_bytes": "0",
    "vm/dirty_background_bytes": "0",
    "vm/dirty_ratio": "20",
    "vm/dirty_background_ratio": "10",
    "vm/watermark_scale_factor": "10",
    "vm/nr_hugepages": "0",
}
# kernel.sched_*_ns left /proc/sys for debugfs in 5.13; EL8 (4.18) still has them.
SCHED_PRE_513 = {
    "kernel/sched_migration_cost_ns": "500000",
    "kernel/sched_min_granularity_ns": "3000000",
    "kernel/sched_wakeup_granularity_ns": "4000000",
}
KERNELS = {
    "el8": ("4.18.0-553.el8_10.x86_64", True),
    "el9": ("5.14.0-503.el9.x86_64", False),
    "el10": ("6.12.0-55.el10.x86_64", False),
    "5.15": ("5.15.0-126-generic", False),
    "deb12": ("6.1.0-28-amd64", False),
}
THP_ENABLED = "always [madvise] never\n"
THP_DEFRAG = "always defer defer+madvise [madvise] never\n"


def specs():
    return dict(sysfs_gen.CATALOGUE)


def min_free_default(memory_kib):
    """The kernel's boot-time vm.min_free_kbytes: int_sqrt(16 * kB), clamped."""
    value = int((16 * memory_kib) ** 0.5)
    return max(128, min(value, 262144))


def build(spec_name, kernel, out):
    catalogue = specs()
    if spec_name not in catalogue:
        raise SystemExit("synthetic_root: unknown spec %r (see --list)" % spec_name)
    if kernel not in KERNELS:
        raise SystemExit("synthetic_root: unknown kernel %r (one of %s)" % (kernel, ", ".join(sorted(KERNELS))))
    spec = catalogue[spec_name]
    root = sysfs_gen.build_tree(out, spec)
    release, old_sched = KERNELS[kernel]
    values = dict(COMMON)
    if old_sched:
        values.update(SCHED_PRE_513)
    memtotal = 0
    with open(os.path.join(root, "proc/meminfo")) as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                memtotal = int(line.split()[1])
    values["vm/min_free_kbytes"] = str(min_free_default(memtotal))
    values["kernel/osrelease"] = release
    files = {"proc/sys/" + k: v + "\n" for k, v in values.items()}
    files["sys/kernel/mm/transparent_hugepage/enabled"] = THP_ENABLED
    files["sys/kernel/mm/transparent_hugepage/defrag"] = THP_DEFRAG
    node_dir = os.path.join(root, "sys/devices/system/node")
    nodes = sorted(d for d in os.listdir(node_dir) if d.startswith("node") and d[4:].isdigit()) \
        if os.path.isdir(node_dir) else []
    for size in (2048, 1048576):
        files["sys/kernel/mm/hugepages/hugepages-%dkB/nr_hugepages" % size] = "0\n"
        for node in nodes:
            files["sys/devices/system/node/%s/hugepages/hugepages-%dkB/nr_hugepages" % (node, size)] = "0\n"
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
    return root


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--spec", help="catalogue spec name (tests/sysfs_gen.py)")
    parser.add_argument("--kernel", default="el9", help="kernel flavour: %s" % ", ".join(sorted(KERNELS)))
    parser.add_argument("--out", help="directory to write the tree to")
    parser.add_argument("--tar", help="also (or only, without --out) write a .tar.gz of the tree")
    parser.add_argument("--list", action="store_true", help="list the spec names")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(sorted(specs())))
        return 0
    if not args.spec or not (args.out or args.tar):
        parser.error("--spec and --out or --tar are required")
    with tempfile.TemporaryDirectory() as tmp:
        root = build(args.spec, args.kernel, args.out or os.path.join(tmp, "root"))
        if args.tar:
            os.makedirs(os.path.dirname(os.path.abspath(args.tar)), exist_ok=True)
            partial = args.tar + ".part"
            with tarfile.open(partial, "w:gz") as tar:
                for name in sorted(os.listdir(root)):
                    tar.add(os.path.join(root, name), arcname=name)
            os.replace(partial, args.tar)
    return 0


if __name__ == "__main__":
    sys.exit(main())
