# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel-version decisions the kernel_tuning role makes (pure Python, 3.8+).

``llc_scheduler_check(topology, kernel_release)``
    Does the running kernel balance tasks across the L3 domains (CCX) of a
    NUMA node?  Linux 5.18 (commit e496132ebedd "sched/fair: Adjust the
    allowed NUMA imbalance when SD_NUMA spans multiple LLCs", Mel Gorman's
    "Adjust NUMA imbalance for multiple LLCs" series) sized the allowed NUMA
    imbalance by the number of LLCs; 6.0 follow-ups (026b98a93bbd
    "sched/numa: Adjust imb_numa_nr to a better approximation of memory
    channels" and friends) refined it.  Before 5.18, threads of a job
    spawned on an EPYC node pile onto one or two CCXs while others idle.
    RHEL 9 (5.14-based, ``.el9`` releases) carries the scheduler backports
    (see docs/hardware-facts.md); RHEL 8 (4.18, ``.el8``) does not.

``amd_pstate_arg(topology, kernel_release, requested)``
    The ``amd_pstate=`` kernel argument to use.  ``active`` (EPP) mode exists
    from Linux 6.3, ``guided`` from 6.4, ``passive`` from 6.1 (as the only
    mode in 5.17-6.2 it needed ``amd_pstate=passive`` to load).  Zen 1 has no
    CPPC, so nothing is set there; Intel/ARM never get it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_RELEASE_RE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")
_EL_RE = re.compile(r"\.el(\d+)")

LLC_FIX = (5, 18)
LLC_FOLLOWUPS = (6, 0)
AMD_PSTATE_MIN = {"passive": (6, 1), "active": (6, 3), "guided": (6, 4)}
AMD_PSTATE_MODES = ("auto", "active", "guided", "passive", "none")
CPPC_GENERATIONS = ("zen2", "zen3", "zen4", "zen4c", "zen5", "zen5c")


class KernelCheckError(ValueError):
    pass


def parse_release(release):
    """``'5.14.0-503.el9.x86_64'`` -> ``{'version': (5, 14, 0), 'el': 9}``; None when unparseable."""
    if not release:
        return None
    text = str(release)
    match = _RELEASE_RE.match(text)
    if not match:
        return None
    version = (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))
    el = _EL_RE.search(text)
    return {"version": version, "el": int(el.group(1)) if el else None, "release": text.strip()}


def _count(topology, key):
    counts = (topology or {}).get("counts") or {}
    value = counts.get(key)
    return value if isinstance(value, int) else 0


def llc_scheduler_check(topology, kernel_release):
    """Return ``{status, warn, message, l3_per_node}``.

    ``status``: ``ok`` (kernel has the fixes or the node has one L3 per NUMA
    node), ``partial`` (5.18/5.19: the imbalance fix without the 6.0
    follow-ups), ``old`` (kernel predates the fix: ``warn`` is true),
    ``not_applicable`` (not AMD, no or a single L3 domain), ``unknown``
    (release unparseable).
    """
    topology = topology or {}
    l3 = _count(topology, "l3_domains")
    nodes = _count(topology, "numa_nodes") or 1
    per_node = float(l3) / nodes if l3 else 0.0
    out = {"status": "not_applicable", "warn": False, "message": "", "l3_per_node": round(per_node, 2)}
    if topology.get("vendor") != "AuthenticAMD" or l3 <= 1:
        out["message"] = "not an AMD node with several L3 domains: no LLC scheduler concern"
        return out
    parsed = parse_release(kernel_release)
    if parsed is None:
        out.update(status="unknown", message="kernel release %r not understood: cannot tell whether the "
                                             "LLC-aware NUMA balancing fixes (Linux 5.18) are present" % (kernel_release,))
        return out
    version, el = parsed["version"][:2], parsed["el"]
    layout = "%d L3 domains on %d NUMA node(s)" % (l3, nodes)
    if per_node <= 1.0:
        # L3-as-NUMA BIOS setting: every L3 is its own NUMA node, the NUMA balancer already separates them.
        out.update(status="ok", message="%s: one L3 per NUMA node, the NUMA balancer already keeps them apart"
                                        % layout)
    elif el is not None and el >= 9:
        out.update(status="ok", message="%s: EL%d kernel %s carries the LLC-aware scheduler backports"
                                        % (layout, el, parsed["release"]))
    elif el is not None or version < LLC_FIX:
        out.update(status="old", warn=True, message=(
            "%s, kernel %s predates the LLC-aware NUMA imbalance fix (Linux 5.18, e496132ebedd): threads of a "
            "job drift onto a few CCXs and share their L3 while others idle. Use a 5.18+ or EL9+ kernel, or "
            "bind every job (Slurm task/affinity or task/cgroup with --cpu-bind=cores and the L3-as-socket "
            "node definition)." % (layout, parsed["release"])))
    elif version < LLC_FOLLOWUPS:
        out.update(status="partial", message=(
            "%s, kernel %s has the LLC-aware NUMA imbalance fix (5.18) but not the 6.0 follow-ups"
            % (layout, parsed["release"])))
    else:
        out.update(status="ok", message="%s, kernel %s has the LLC-aware scheduler fixes" % (layout, parsed["release"]))
    return out


def amd_pstate_arg(topology, kernel_release, requested="auto"):
    """``amd_pstate=<mode>`` argument or None, and the reason: ``(arg, reason)``."""
    if requested not in AMD_PSTATE_MODES:
        raise KernelCheckError("kernel_tuning_amd_pstate: %r is not one of %s" % (requested, ", ".join(AMD_PSTATE_MODES)))
    topology = topology or {}
    if requested == "none":
        return None, "disabled (kernel_tuning_amd_pstate: none)"
    if topology.get("vendor") != "AuthenticAMD":
        return None, "not an AMD CPU"
    generation = topology.get("generation")
    if generation not in CPPC_GENERATIONS:
        return None, "%s has no CPPC (amd_pstate needs Zen 2 or later)" % (generation or "unknown generation")
    parsed = parse_release(kernel_release)
    if requested == "auto":
        if parsed is None:
            return None, "kernel release %r not understood" % (kernel_release,)
        if parsed["version"][:2] < AMD_PSTATE_MIN["active"]:
            return None, ("kernel %s is older than 6.3 (amd_pstate active/EPP mode); set "
                          "kernel_tuning_amd_pstate explicitly if the vendor kernel backports it" % parsed["release"])
        return "amd_pstate=active", "%s with kernel %s: active (EPP) mode" % (generation, parsed["release"])
    if parsed is not None and parsed["el"] is None and parsed["version"][:2] < AMD_PSTATE_MIN[requested]:
        raise KernelCheckError("kernel_tuning_amd_pstate: %s needs Linux %d.%d or later, this node runs %s"
                               % (requested, AMD_PSTATE_MIN[requested][0], AMD_PSTATE_MIN[requested][1],
                                  parsed["release"]))
    return "amd_pstate=" + requested, "requested (kernel_tuning_amd_pstate: %s)" % requested
