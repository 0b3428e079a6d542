"""Read ansible-playbook output on stdin, echo it, and judge the PLAY RECAP.

    ansible-playbook ... | python3 lab/recap.py --expect-changed 0

Exits 1 when any host failed or was unreachable, or (with --expect-changed N)
when the total `changed` count differs from N. Prints one summary line.
"""
import argparse
import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--expect-changed", type=int, default=None)
    parser.add_argument("--label", default="play")
    args = parser.parse_args()
    hosts = {}
    for line in sys.stdin:
        sys.stdout.write(line)
        sys.stdout.flush()
        match = RECAP.match(ANSI.sub("", line).strip())
        if match:
            name = match.group(1)
            hosts[name] = tuple(int(x) for x in match.groups()[1:])
    if not hosts:
        print("%s: no PLAY RECAP found" % args.label)
        return 1
    changed = sum(h[1] for h in hosts.values())
    bad = sorted(n for n, h in hosts.items() if h[2] or h[3])
    per_host = ", ".join("%s changed=%d" % (n, h[1]) for n, h in sorted(hosts.items()))
    print("%s: %d hosts, changed=%d total (%s)%s" % (
        args.label, len(hosts), changed, per_host, "; FAILED/UNREACHABLE: " + " ".join(bad) if bad else ""))
    if bad:
        return 1
    if args.expect_changed is not None and changed != args.expect_changed:
        print("%s: expected changed=%d, got %d" % (args.label, args.expect_changed, changed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
