# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Slurm major-release upgrade checks for ``playbooks/slurm_upgrade.yml`` (pure Python 3.8+, no I/O).

* ``RELEASES``: Slurm's major releases in order.  A jump is counted in
  releases (its position in this list), never by arithmetic on the numbers:
  the cycle was 9 months up to 24.05 and 6 months after it (23.02 -> 23.11 ->
  24.05 -> 24.11), and the development name 24.08 was never released.
* ``WINDOW_TABLE``: per target release, how many prior major releases it can
  be upgraded from without losing jobs, state or accounting data, with the
  sentence from that release's RELEASE_NOTES it comes from.  Historically two;
  from 24.11 three (doc/html/upgrades.shtml "Compatibility Window").
* ``check_upgrade(installed, target, window=None, ...)``: every check the
  playbook makes before it changes anything; returns ``{ok, errors, warnings,
  plan}`` and does not raise on bad input (bad input is an error in the list,
  naming the variable to fix).
* ``upgrade_path(from, to)``: the stepping stones when a jump is too wide.
* ``plan_drain(sinfo_lines, nodes, reason)``: which nodes to drain now, which
  an earlier run drained (same reason), which to leave alone (drained, down or
  otherwise unavailable before the upgrade: never resumed by the playbook).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import re

from ansible_collections.hpcai.cluster.plugins.module_utils.hostlist import HostlistError, compress, natural_key
from ansible_collections.hpcai.cluster.plugins.module_utils.slurm_conf import SlurmConfError, parse_version

__all__ = [
    "RELEASES",
    "RELEASES_SOURCE",
    "WINDOW_TABLE",
    "DAEMONS",
    "DRAINABLE_STATES",
    "release_of",
    "known_releases",
    "window_for",
    "jump_width",
    "compatible_from",
    "upgrade_path",
    "package_pattern",
    "version_regex",
    "parse_available",
    "plan_drain",
    "check_upgrade",
]

# Major releases in order (YY.MM).  Extend with a new release as soon as it is
# out (and add its WINDOW_TABLE row from its RELEASE_NOTES); until then the
# playbook takes it through slurm_upgrade_extra_releases + slurm_upgrade_window.
RELEASES = ("17.02", "17.11", "18.08", "19.05", "20.02", "20.11", "21.08", "22.05", "23.02", "23.11", "24.05",
            "24.11", "25.05", "25.11", "26.05")
RELEASES_SOURCE = (
    "SchedMD/slurm RELEASE_NOTES of each branch ('RELEASE NOTES FOR SLURM VERSION YY.MM') and "
    "doc/html/upgrades.shtml 'Release Cycle' (9-month cycle until 24.05, 6-month from 24.05); "
    "24.08 was the development name of 24.05 and was never released"
)

# (target release, prior releases it accepts, source).  Sources are the
# "IMPORTANT NOTES" / "Upgrading" paragraph of the target's RELEASE_NOTES in
# SchedMD/slurm (RELEASE_NOTES.md from 25.05) and the compatibility table of
# doc/html/upgrades.shtml (page last modified 18 July 2024), which lists 23.02
# to 25.11 and says: "Slurm has long supported in-place upgrades from the
# previous two major releases ... Slurm 24.11 introduced compatibility with
# the previous three major releases."
WINDOW_TABLE = (
    ("20.02", 2, "RELEASE_NOTES 20.02: 'Slurm can be upgraded from version 18.08 or 19.05 to version 20.02 "
                 "without loss of jobs or other state information.'"),
    ("20.11", 2, "RELEASE_NOTES 20.11: 'Slurm can be upgraded from version 19.05 or 20.02 to version 20.11 "
                 "without loss of jobs or other state information.'"),
    ("21.08", 2, "RELEASE_NOTES 21.08: 'Slurm can be upgraded from version 20.02 or 20.11 to version 21.08 "
                 "without loss of jobs or other state information.'"),
    ("22.05", 2, "RELEASE_NOTES 22.05: 'Slurm can be upgraded from version 20.11 or 21.08 to version 22.05 "
                 "without loss of jobs or other state information.'"),
    ("23.02", 2, "RELEASE_NOTES 23.02: 'Slurm can be upgraded from version 21.08 or 22.05 to version 23.02 "
                 "without loss of jobs or other state information.'; upgrades.shtml: 23.02 <- 22.05, 21.08"),
    ("23.11", 2, "RELEASE_NOTES 23.11: 'Slurm can be upgraded from version 22.05 or 23.02 to version 23.11 "
                 "without loss of jobs or other state information.'; upgrades.shtml: 23.11 <- 23.02, 22.05"),
    ("24.05", 2, "RELEASE_NOTES 24.05: 'Slurm can be upgraded from version 23.02 or 23.11 to version 24.05 "
                 "without loss of jobs or other state information.'; upgrades.shtml: 24.05 <- 23.11, 23.02"),
    ("24.11", 3, "RELEASE_NOTES 24.11: 'Slurm can be upgraded from version 23.02, 23.11 or 24.05 to version 24.11 "
                 "without loss of jobs or other state information.'; upgrades.shtml: 24.11 <- 24.05, 23.11, 23.02"),
    ("25.05", 3, "RELEASE_NOTES.md 25.05: 'Slurm can be upgraded from version 23.11, 24.05 or 24.11 to version 25.05 "
                 "without loss of jobs or other state information.'; upgrades.shtml: 25.05 <- 24.11, 24.05, 23.11"),
    ("25.11", 3, "RELEASE_NOTES.md 25.11: 'Slurm 25.11 supports upgrading directly from 25.05, 24.11, and 24.05.'; "
                 "upgrades.shtml: 25.11 <- 25.05, 24.11, 24.05"),
    ("26.05", 3, "RELEASE_NOTES.md 26.05: 'Slurm 26.05 supports upgrading directly from 25.11, 25.05, and 24.11.'"),
)

# What the playbook reads on each host: `<binary> -V` per daemon; "client" is sinfo.
DAEMONS = ("slurmdbd", "slurmctld", "slurmd", "client")

# sinfo %T states a node may be in for the playbook to drain it (and later
# resume it).  Anything else -- drained, draining, down, fail, maint, reboot,
# powered down, not responding ("idle*") -- was unavailable before the upgrade
# for another reason and is left alone.
DRAINABLE_STATES = ("idle", "mixed", "allocated", "completing", "planned")

_RELEASE_RE = re.compile(r"^\d{2}\.\d{2}$")
_WINDOW_VAR = "slurm_upgrade_window"
_TARGET_VAR = "slurm_upgrade_target_version"
_EXTRA_VAR = "slurm_upgrade_extra_releases"
_PIN_VAR = "slurm_upgrade_package_version"


def _release_str(major, minor):
    return "%02d.%02d" % (major, minor)


def _as_text(value):
    """A version from YAML/Jinja: floats (-e x=23.11 parsed as YAML) keep two decimals."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return "%.2f" % value
    if isinstance(value, (int, str)):
        return str(value)
    return None


def known_releases(extra=None):
    """RELEASES plus ``extra`` (newer 'YY.MM' strings, in order); raises SlurmConfError on bad extras."""
    releases = list(RELEASES)
    for item in extra or ():
        text = _as_text(item)
        if text is None or not _RELEASE_RE.match(text.strip()):
            raise SlurmConfError("%s items are major releases such as '26.11', got %r" % (_EXTRA_VAR, item))
        text = text.strip()
        if text in releases:
            continue
        if parse_version(text) <= parse_version(releases[-1]):
            raise SlurmConfError("%s: %s is not newer than %s, the last release this collection knows; only "
                                 "releases after it can be added" % (_EXTRA_VAR, text, releases[-1]))
        releases.append(text)
    return tuple(releases)


def release_of(version, releases=RELEASES):
    """'23.11.4', 'slurm 23.11.4', 'slurm-wlm 22.05.8', '24.05.0rc1' -> '23.11' (a release in ``releases``)."""
    text = _as_text(version)
    if text is None:
        raise SlurmConfError("a Slurm version is a string such as '23.11' or '23.11.4', got %s %r"
                             % (type(version).__name__, version))
    major, minor, _micro = parse_version(text)
    release = _release_str(major, minor)
    if release not in releases:
        raise SlurmConfError("%r is not a Slurm major release (known: %s)" % (text, ", ".join(releases)))
    return release


def _micro_of(version):
    """The micro level when the text names one ('23.11.4' -> 4, '23.11' -> None)."""
    text = _as_text(version) or ""
    match = re.search(r"(?<![\d.])\d{1,2}\.\d{1,2}\.(\d+)", text)
    return int(match.group(1)) if match else None


def window_for(target, override=None, releases=RELEASES):
    """(window, source) for upgrading to ``target``: the table's, or ``override`` (slurm_upgrade_window)."""
    release = release_of(target, releases)
    if override is not None and override != "":
        text = _as_text(override)
        if text is None or not re.match(r"^\s*\d+\s*$", text) or int(text) < 1:
            raise SlurmConfError("%s must be a whole number of prior major releases >= 1 (or null for the table), "
                                 "got %r" % (_WINDOW_VAR, override))
        return int(text), "%s=%d (overrides the table)" % (_WINDOW_VAR, int(text))
    for rel, window, source in WINDOW_TABLE:
        if rel == release:
            return window, source
    raise SlurmConfError(
        "no upgrade window is known for Slurm %s: set %s to the number of prior major releases its RELEASE_NOTES "
        "allow ('Slurm can be upgraded from version ...'), e.g. 3 since 24.11" % (release, _WINDOW_VAR))


def jump_width(from_version, to_version, releases=RELEASES):
    """Major releases between two versions, counted in ``releases`` (negative = downgrade)."""
    return releases.index(release_of(to_version, releases)) - releases.index(release_of(from_version, releases))


def compatible_from(target, window=None, releases=RELEASES):
    """The prior releases ``target`` can be upgraded from (newest first), for messages."""
    release = release_of(target, releases)
    width, _source = window_for(release, window, releases)
    index = releases.index(release)
    return [releases[i] for i in range(index - 1, max(index - width, 0) - 1, -1)]


def upgrade_path(from_version, to_version, releases=RELEASES):
    """Stepping stones from ``from_version`` to ``to_version`` using the table windows.

    Each step goes to the newest release (not past the target) whose window
    reaches back to the current one.  Returns the releases after the start,
    ending with the target; empty when no path is known with the table.
    """
    current = release_of(from_version, releases)
    target = release_of(to_version, releases)
    path = []
    while releases.index(current) < releases.index(target):
        step = None
        for index in range(releases.index(target), releases.index(current), -1):
            try:
                width, _source = window_for(releases[index], None, releases)
            except SlurmConfError:
                continue
            if index - releases.index(current) <= width:
                step = releases[index]
                break
        if step is None:
            return []
        path.append(step)
        current = step
    return path


def package_pattern(target, package_version=None):
    """Version pattern the package manager installs: the pin, '23.11.4-*' or '23.11.*'.

    Used as ``name=<pattern>`` (apt) and ``name-<pattern>`` (dnf); both match
    it against the package version-release (Debian '23.11.4-1.2ubuntu5', EL
    '23.11.4-1.el9').
    """
    if package_version is not None and str(package_version).strip():
        return str(package_version).strip()
    text = _as_text(target)
    major, minor, micro = parse_version(text)
    if _micro_of(text) is not None:
        return "%s.%d-*" % (_release_str(major, minor), micro)
    return "%s.*" % _release_str(major, minor)


def version_regex(target):
    """A Python regex that matches `<daemon> -V` output of the target ('slurm 23.11.4', 'slurm-wlm 23.11.4')."""
    text = _as_text(target)
    major, minor, micro = parse_version(text)
    release = re.escape(_release_str(major, minor))
    if _micro_of(text) is not None:
        return r"(?<![\d.])%s\.%d(?![\d])" % (release, micro)
    return r"(?<![\d.])%s(?:\.\d+)?(?![\d])" % release


def parse_available(lines):
    """Package versions from `apt-cache madison <pkg>` or `dnf repoquery --qf '%{version}-%{release}\\n' <pkg>`.

    madison: 'slurmd | 23.11.4-1.2ubuntu5 | http://... Packages' -> '23.11.4-1.2ubuntu5';
    repoquery: '23.11.10-1.el9' as is.  Blank lines are skipped.
    """
    versions = []
    for line in lines or ():
        if not isinstance(line, str):
            continue
        line = line.strip()
        if not line:
            continue
        if "|" in line:
            parts = [p.strip() for p in line.split("|")]
            if len(parts) < 2 or not parts[1]:
                continue
            line = parts[1]
        else:
            line = line.split()[0]
        if line not in versions:
            versions.append(line)
    return versions


def plan_drain(sinfo_lines, nodes=None, reason=""):
    """Which nodes to drain from `sinfo --noheader --Node --format=%N|%T|%E` lines.

    ``nodes``: the Slurm node names the playbook upgrades (None: every node
    sinfo lists).  Returns ``{drain, ours, left_alone, missing}``: nodes in a
    DRAINABLE_STATES state (drain now, resume at the end); nodes already
    drained with ``reason`` (by an earlier, interrupted run: resume at the
    end); nodes in any other state as 'node (state: reason)' (never touched);
    requested nodes sinfo does not list.
    """
    states = {}
    for line in sinfo_lines or ():
        if not isinstance(line, str) or not line.strip():
            continue
        parts = line.strip().split("|", 2)
        name = parts[0].strip()
        state = parts[1].strip().lower() if len(parts) > 1 else ""
        why = parts[2].strip() if len(parts) > 2 else ""
        if name and name not in states:  # sinfo -N lists a node once per partition
            states[name] = (state, why)
    wanted = sorted(states) if nodes is None else list(dict.fromkeys(n for n in nodes if isinstance(n, str) and n))
    drain, ours, left_alone, missing = [], [], [], []
    for name in wanted:
        if name not in states:
            missing.append(name)
            continue
        state, why = states[name]
        if reason and why == reason and ("drain" in state):
            ours.append(name)
        elif state in DRAINABLE_STATES:
            drain.append(name)
        else:
            left_alone.append("%s (%s%s)" % (name, state or "unknown", (": " + why) if why and why != "none" else ""))
    return {"drain": drain, "ours": ours, "left_alone": left_alone, "missing": missing}


def _fail(errors, message):
    errors.append(message)


def _hosts_text(names):
    """Host names as a compressed hostlist ('cn[001-064],head1'); a plain list when they do not compress."""
    names = sorted(names, key=natural_key)
    try:
        return compress(names)
    except HostlistError:
        return ", ".join(names)


def check_upgrade(installed, target, window=None, available=None, package_version=None, extra_releases=None,
                  node_states=None, nodes=None, drain_reason=""):
    """Check an upgrade of the installed Slurm to ``target`` before anything changes.

    ``installed``: ``{host: {daemon: '<daemon> -V' output or None}}``, daemon
    in DAEMONS (None / '' / missing = not installed on that host).
    ``target``: 'YY.MM' (any micro level of that release counts as done) or
    'YY.MM.micro' (hosts below that micro level are upgraded to it).
    ``window``: slurm_upgrade_window; None = WINDOW_TABLE.
    ``available``: ``{host: [lines of apt-cache madison / dnf repoquery]}``
    for the hosts' main Slurm package (None: not checked).
    ``package_version``: slurm_upgrade_package_version, a pin or pattern.
    ``extra_releases``: releases after RELEASES (slurm_upgrade_extra_releases).
    ``node_states``, ``nodes``, ``drain_reason``: see plan_drain.

    Refuses: unknown/unparsable versions, downgrades, jumps wider than the
    window, slurmdbd older than slurmctld or slurmctld older than slurmd
    (Slurm requires dbd >= ctld >= slurmd), a pin of another release, no
    package of the target in the repositories.  Same version everywhere is
    ok with ``plan.upgrade_needed`` false.
    """
    errors, warnings = [], []
    plan = {
        "target": None, "target_version": None, "window": None, "window_source": None, "table_window": None,
        "compatible_from": [], "package_pattern": None, "version_regex": None, "upgrade_needed": False,
        "from": [], "width": 0, "hosts": {}, "stages": [], "drain": [], "already_drained": [], "left_alone": [],
    }
    result = {"ok": False, "errors": errors, "warnings": warnings, "plan": plan}

    try:
        releases = known_releases(extra_releases)
    except SlurmConfError as exc:
        _fail(errors, str(exc))
        releases = RELEASES

    target_text = _as_text(target)
    if target_text is None or not target_text.strip():
        _fail(errors, "%s is required: the Slurm release to upgrade to, e.g. '23.11' or '23.11.10' (known releases: "
                      "%s)" % (_TARGET_VAR, ", ".join(releases)))
        return result
    target_text = target_text.strip()
    try:
        target_release = release_of(target_text, releases)
    except SlurmConfError as exc:
        _fail(errors, "%s: %s; a release after %s needs %s (and %s)"
              % (_TARGET_VAR, exc, releases[-1], _EXTRA_VAR, _WINDOW_VAR))
        return result
    target_micro = _micro_of(target_text)
    plan["target"] = target_release
    plan["target_version"] = target_text
    plan["version_regex"] = version_regex(target_text)

    try:
        table_window = window_for(target_release, None, releases)[0]
    except SlurmConfError:
        table_window = None
    plan["table_window"] = table_window
    try:
        width_allowed, source = window_for(target_release, window, releases)
    except SlurmConfError as exc:
        _fail(errors, str(exc))
        return result
    plan["window"] = width_allowed
    plan["window_source"] = source
    plan["compatible_from"] = compatible_from(target_release, width_allowed, releases)
    if table_window is not None and width_allowed > table_window:
        warnings.append("%s=%d is wider than the %d prior releases Slurm %s supports (%s): state, running jobs or "
                        "accounting data from older releases may be lost"
                        % (_WINDOW_VAR, width_allowed, table_window, target_release,
                           window_for(target_release, None, releases)[1]))

    if package_version is not None and str(package_version).strip():
        try:
            pin_release = release_of(str(package_version).strip(), releases)
        except SlurmConfError as exc:
            pin_release = None
            _fail(errors, "%s: %s" % (_PIN_VAR, exc))
        if pin_release is not None and pin_release != target_release:
            _fail(errors, "%s=%r is a %s package, not %s (%s)"
                  % (_PIN_VAR, str(package_version), pin_release, target_release, _TARGET_VAR))
    try:
        plan["package_pattern"] = package_pattern(target_text, package_version)
    except SlurmConfError as exc:
        _fail(errors, "%s: %s" % (_PIN_VAR, exc))

    if not isinstance(installed, dict):
        _fail(errors, "installed versions must be {host: {daemon: version}}, got %s" % type(installed).__name__)
        return result

    # ---------------------------------------------------------- per host / daemon
    by_daemon = dict((d, []) for d in DAEMONS)  # daemon -> [(host, release, version tuple)]
    hosts = {}
    too_wide = {}    # release -> {"hosts": set, "daemons": set}
    downgrade = {}   # installed version text -> {"hosts": set, "daemons": set}
    for host in sorted(installed):
        daemons = installed[host]
        if daemons is None:
            daemons = {}
        if not isinstance(daemons, dict):
            _fail(errors, "%s: installed versions must be {daemon: version}, got %s" % (host, type(daemons).__name__))
            continue
        entry = {"versions": {}, "upgrade": False, "width": 0}
        for daemon in sorted(daemons):
            raw = daemons[daemon]
            if daemon not in DAEMONS:
                _fail(errors, "%s: unknown daemon %r (known: %s)" % (host, daemon, ", ".join(DAEMONS)))
                continue
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            text = _as_text(raw)
            try:
                if text is None:
                    raise SlurmConfError("not a version string: %r" % (raw,))
                version = parse_version(text)
                release = release_of(text, releases)
            except SlurmConfError as exc:
                _fail(errors, "%s: %s -V: cannot tell the installed release (%s)" % (host, daemon, exc))
                continue
            entry["versions"][daemon] = "%s.%d" % (release, version[2])
            by_daemon[daemon].append((host, release, version))
            width = releases.index(target_release) - releases.index(release)
            if width < 0 or (width == 0 and target_micro is not None and version[2] > target_micro):
                item = downgrade.setdefault(entry["versions"][daemon], {"hosts": set(), "daemons": set()})
                item["hosts"].add(host)
                item["daemons"].add(daemon)
                continue
            if width > width_allowed:
                item = too_wide.setdefault(release, {"hosts": set(), "daemons": set()})
                item["hosts"].add(host)
                item["daemons"].add(daemon)
                continue
            needs = width > 0 or (target_micro is not None and version[2] < target_micro)
            entry["upgrade"] = entry["upgrade"] or needs
            entry["width"] = max(entry["width"], width)
        if entry["versions"]:
            hosts[host] = entry
        else:
            warnings.append("%s: no Slurm daemon or command found (slurmdbd/slurmctld/slurmd/sinfo -V): nothing to "
                            "upgrade there (run site.yml to install it)" % host)
    plan["hosts"] = hosts

    def _where(item):
        daemons = [d for d in DAEMONS if d in item["daemons"]]
        return "%s on %s" % ("/".join(daemons), _hosts_text(item["hosts"]))

    for version in sorted(downgrade, key=parse_version):
        _fail(errors, "%s %s is newer than %s=%s: downgrades are not supported (the daemons convert their state "
                      "files and the database when they start; going back means restoring the backups, see "
                      "docs/slurm_upgrade.md)" % (_where(downgrade[version]), version, _TARGET_VAR, target_text))
    for release in sorted(too_wide, key=parse_version):
        path = upgrade_path(release, target_release, releases)
        steps = (" -> ".join([release] + path)) if path else "no path is known from the table"
        hops = " -> ".join(releases[releases.index(release):releases.index(target_release) + 1])
        _fail(errors, "%s: %s -> %s is a jump of %d major releases (%s); Slurm %s upgrades only from the previous %d "
                      "(%s; %s). Upgrade in steps (%s): %s"
              % (_where(too_wide[release]), release, target_release, hops.count("->"), hops, target_release,
                 width_allowed, ", ".join(plan["compatible_from"]) or "none", source, _TARGET_VAR, steps))

    if not hosts and not errors:
        _fail(errors, "no installed Slurm found on any host: nothing to upgrade (site.yml installs %s)" % target_release)

    # ---------------------------------------------------------- daemon order
    def newest(daemon):
        items = by_daemon[daemon]
        return max(items, key=lambda i: i[2]) if items else None

    def oldest(daemon):
        items = by_daemon[daemon]
        return min(items, key=lambda i: i[2]) if items else None

    for older, newer in (("slurmdbd", "slurmctld"), ("slurmctld", "slurmd")):
        low, high = oldest(older), newest(newer)
        if low and high and releases.index(low[1]) < releases.index(high[1]):
            _fail(errors, "%s on %s is %s but %s on %s is %s: Slurm needs %s at the same or a newer major release "
                          "than %s (upgrade order slurmdbd, slurmctld, slurmd); fix this mixed installation by hand "
                          "before running the upgrade" % (older, low[0], low[1], newer, high[0], high[1], older, newer))
    for daemon in DAEMONS:
        found = sorted(set(i[1] for i in by_daemon[daemon]))
        if len(found) > 1:
            warnings.append("%s runs mixed releases (%s): the check counted each host's own jump"
                            % (daemon, ", ".join(found)))

    # ---------------------------------------------------------- packages
    if available is not None and not isinstance(available, dict):
        _fail(errors, "available package versions must be {host: [lines]}, got %s" % type(available).__name__)
        available = None
    pattern = plan["package_pattern"]
    unchecked, no_package = [], {}  # found versions -> hosts
    for host in sorted(hosts):
        if not hosts[host]["upgrade"] or available is None or pattern is None:
            continue
        lines = available.get(host)
        if lines is None:
            unchecked.append(host)
            continue
        versions = parse_available(lines)
        if not [v for v in versions if fnmatch.fnmatchcase(v, pattern)]:
            no_package.setdefault(tuple(versions), []).append(host)
    if unchecked:
        warnings.append("%s: the package versions in the repositories were not checked" % _hosts_text(unchecked))
    for versions in sorted(no_package):
        _fail(errors, "%s: no Slurm package version matching %r in the repositories (found: %s). Enable the "
                      "repository that carries Slurm %s (EPEL, OpenHPC, a site mirror) and refresh the package cache "
                      "(dnf makecache / apt-get update); with exclude=slurm* or apt holds in place set "
                      "slurm_upgrade_override_pins=true; or set %s"
              % (_hosts_text(no_package[versions]), pattern, ", ".join(versions) or "none", target_release, _PIN_VAR))

    # ---------------------------------------------------------- plan
    upgrading = sorted(h for h in hosts if hosts[h]["upgrade"])
    plan["upgrade_needed"] = bool(upgrading)
    plan["width"] = max([hosts[h]["width"] for h in upgrading] or [0])
    plan["from"] = sorted(set(v for h in upgrading for v in hosts[h]["versions"].values()))
    stages = []
    seen = set()
    for daemon in DAEMONS:
        members = sorted(set(i[0] for i in by_daemon[daemon] if i[0] in upgrading) - seen)
        seen.update(members)
        if members:
            stages.append({"daemon": daemon, "hosts": members})
    plan["stages"] = stages

    if node_states is not None:
        drain = plan_drain(node_states, nodes, drain_reason)
        plan["drain"] = drain["drain"]
        plan["already_drained"] = drain["ours"]
        plan["left_alone"] = drain["left_alone"]
        if drain["missing"]:
            warnings.append("sinfo does not list %s: not drained" % ", ".join(drain["missing"]))
        if drain["left_alone"]:
            warnings.append("not drained and not resumed (unavailable before the upgrade): %s"
                            % ", ".join(drain["left_alone"]))

    result["ok"] = not errors
    return result
