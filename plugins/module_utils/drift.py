# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drift report: does the running cluster match what was configured? (pure Python 3.8+, no deps)

``playbooks/validate.yml`` collects, per node, what the roles configured and
what is running, and these functions compare them.  Everything is pure (text
and dicts in, rows out); the filters in ``plugins/filter/drift.py`` are thin
wrappers.

A *row* is ``{node, kind, check, expected, actual, status, detail}``:
``kind`` is one of ``KINDS`` (``validate_checks``), ``check`` the label in the
table (``sysctl file vm.swappiness``), ``expected``/``actual`` strings and
``status`` ``ok`` (compared, equal), ``drift`` (compared, different: the
report fails) or ``note`` (not comparable or a difference that does not
matter: shown, never fails).

Parsers:

* ``parse_scontrol_nodes(text)``: ``scontrol -o show node`` (or the multi-line
  form) of Slurm 20.11 to 25.x; values with blanks (``OS=``, ``Reason=``) kept.
* ``scontrol_json_nodes(data)``: the ``nodes`` of ``scontrol --json show
  node`` (21.08/22.05: ``state`` a string plus ``state_flags``; 23.02+:
  ``state`` a list), or a jmespath projection of them.
* ``gres_gpu_count(gres)``: GPUs in a ``Gres=`` value (``gpu:a100:4(S:0-1)``).
* ``gres_conf_gpu_count(text, node)``: GPUs gres.conf gives a node.
* ``parse_sysctl_text(text)``: sysctl.d files and ``sysctl key ...`` output.
* ``parse_tuned_active(text)``: ``tuned-adm active``.
* ``parse_hwloc_calc(text)``: ``hwloc-calc --number-of <type> all``.

Comparisons (each returns rows): ``compare_slurm_node``, ``compare_slurmd``,
``compare_hwloc``, ``compare_gpus``, ``compare_sysctls``, ``compare_tuned``,
``unknown_nodes``; ``report(rows)`` makes the table, the per-check summary
and the failure message.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.hpcai.cluster.plugins.module_utils.hostlist import HostlistError, expand, natural_key
from ansible_collections.hpcai.cluster.plugins.module_utils.slurm_conf import (
    NODE_KEYS,
    SlurmConfError,
    compare_with_slurmd_C,
    node_values,
    parse_slurmd_C,
)

__all__ = [
    "DriftError",
    "KINDS",
    "BAD_STATE_FLAGS",
    "DEFAULT_MEMORY_TOLERANCE_MIB",
    "row",
    "normalise_value",
    "command_result",
    "parse_scontrol_nodes",
    "scontrol_json_nodes",
    "scontrol_nodes",
    "state_problems",
    "gres_gpu_count",
    "gres_conf_gpu_count",
    "parse_sysctl_text",
    "parse_tuned_active",
    "parse_hwloc_calc",
    "expected_node_values",
    "compare_node_values",
    "compare_slurm_node",
    "compare_slurmd",
    "compare_hwloc",
    "compare_gpus",
    "compare_sysctls",
    "compare_tuned",
    "unknown_nodes",
    "render_table",
    "report",
]

KINDS = ("slurm_node", "slurmd", "hwloc", "gpu", "sysctl", "tuned")
# Rows of hosts the playbook could not finish on.
RUN_KIND = "run"
STATUSES = ("ok", "drift", "note")

# State words (scontrol's base state and flags) that take a node out of
# service: slurmctld drains a node whose registration is below its NodeName
# line (INVALID_REG + DRAIN), marks it DOWN(+NOT_RESPONDING) when slurmd does
# not answer, FAIL when an admin fails it.
BAD_STATE_FLAGS = frozenset(("DOWN", "DRAIN", "DRAINED", "DRAINING", "FAIL", "FAILING", "INVALID", "INVALID_REG",
                             "INVAL", "NOT_RESPONDING", "ERROR"))

# RealMemory the role wrote is the node's MemTotal minus the reserve, rounded
# down to a GiB and merged to the smallest of identical nodes within a GiB
# (slurm_conf.group_nodes), and MemTotal moves by a few MiB between boots:
# differences up to this are notes, not drift.
DEFAULT_MEMORY_TOLERANCE_MIB = 1024


class DriftError(ValueError):
    """Bad input for a drift comparison (the message names the value)."""


# ----------------------------------------------------------------- rows


def normalise_value(value):
    """A value as text for comparing: None -> '', whitespace runs -> one blank."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def row(node, kind, check, expected, actual, status, detail=""):
    """One report row; ``expected``/``actual`` become text ('' for None)."""
    if status not in STATUSES:
        raise DriftError("row status must be one of %s, got %r" % (", ".join(STATUSES), status))
    return {
        "node": str(node),
        "kind": kind,
        "check": check,
        "expected": normalise_value(expected),
        "actual": normalise_value(actual),
        "status": status,
        "detail": detail or "",
    }


def _eq_row(node, kind, check, expected, actual, detail=""):
    same = normalise_value(expected) == normalise_value(actual)
    return row(node, kind, check, expected, actual, "ok" if same else "drift", "" if same else detail)


def command_result(result):
    """A registered ``ansible.builtin.command`` result -> {ran, rc, stdout, stderr, missing, error}.

    ``ran`` is false for a skipped task or None.  ``missing`` is true when the
    executable does not exist: the command module fails with rc 2 (ENOENT) and
    "Error executing command." (ansible-core 2.19; older releases put
    ``[Errno 2] No such file or directory: b'name'`` in ``msg``); a shell says
    ``command not found`` with rc 127.  A plain string counts as the stdout of
    a successful run.
    """
    if result is None:
        return {"ran": False, "rc": None, "stdout": "", "stderr": "", "missing": False, "error": ""}
    if isinstance(result, str):
        return {"ran": True, "rc": 0, "stdout": result, "stderr": "", "missing": False, "error": ""}
    if not isinstance(result, dict):
        raise DriftError("a command result must be a registered result (dict) or its stdout, got %s"
                         % type(result).__name__)
    if result.get("skipped") or ("rc" not in result and "stdout" not in result and "msg" not in result):
        return {"ran": False, "rc": None, "stdout": "", "stderr": "", "missing": False, "error": ""}
    rc = result.get("rc")
    stdout = result.get("stdout") or ""
    stderr = result.get("stderr") or ""
    msg = result.get("msg") or ""
    missing = rc == 127 or "command not found" in stderr or "[Errno 2]" in msg \
        or (rc == 2 and "Error executing command" in msg and not stdout)
    error = " ".join((stderr or msg or "").split())[:300]
    if missing:
        cmd = result.get("cmd") or ""
        cmd = cmd if isinstance(cmd, str) else " ".join(str(c) for c in cmd)
        error = "%s: command not found" % (cmd.split()[0] if cmd.split() else "the command")
    return {"ran": True, "rc": rc if rc is not None else (0 if stdout else 1), "stdout": stdout, "stderr": stderr,
            "missing": bool(missing), "error": error}


# ----------------------------------------------------------------- scontrol

_KEY_RE = re.compile(r"(?:^|(?<=\s))([A-Za-z][A-Za-z0-9_]*)=")
# Reason=<text> [<user>@<time>]: the bracket ends it (other keys may follow in
# the multi-line form).
_REASON_RE = re.compile(r"^(.*?\[[^\]\s]*@[^\]\s]*\])")
_INT_RE = re.compile(r"^\d+$")


def _tokens(text):
    """'NodeName=c01 OS=Linux 6.1 #1 SMP RealMemory=1 ...' -> [(key, value)] in order."""
    out = []
    matches = list(_KEY_RE.finditer(text))
    index = 0
    while index < len(matches):
        match = matches[index]
        key = match.group(1)
        start = match.end()
        if key == "Reason":
            rest = text[start:]
            bracket = _REASON_RE.match(rest)
            if not bracket:
                out.append((key, rest.strip()))
                break
            out.append((key, bracket.group(1).strip()))
            consumed = start + bracket.end()
            index += 1
            while index < len(matches) and matches[index].start() < consumed:
                index += 1
            continue
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        out.append((key, text[start:end].strip()))
        index += 1
    return out


def _records(text):
    """Split scontrol output into one string per node (one-line or multi-line form)."""
    records = []
    current = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("NodeName="):
            if current:
                records.append(" ".join(current))
            current = [stripped]
        elif current:
            current.append(stripped)
    if current:
        records.append(" ".join(current))
    return records


def _int(value, what):
    if isinstance(value, dict):
        # data_parser v0.0.40+ numbers: {"set": true, "infinite": false, "number": 8}
        if not value.get("set", True) or value.get("infinite"):
            return None
        value = value.get("number")
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise DriftError("%s must be a number, got %r" % (what, value))
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    raise DriftError("%s must be a number, got %r" % (what, value))


def _state_words(state, flags=None):
    """scontrol text 'IDLE+DRAIN', 'DOWN*', JSON 'idle' + ['DRAIN'] or ['IDLE', 'DRAIN'] -> ['IDLE', 'DRAIN']."""
    words = []
    if isinstance(state, (list, tuple)):
        parts = [str(p) for p in state]
    elif state is None:
        parts = []
    else:
        parts = str(state).split("+")
    for part in list(parts) + [str(f) for f in (flags or [])]:
        part = part.strip().upper()
        if not part:
            continue
        # sinfo-style suffixes: '*' = not responding; '~#!%$@^-' = power/maintenance marks.
        if part.endswith("*"):
            part = part.rstrip("*")
            if "NOT_RESPONDING" not in words:
                words.append("NOT_RESPONDING")
        part = part.rstrip("~#!%$@^-")
        if part and part not in words:
            words.append(part)
    return words


def _record(name, cpus, boards, sockets, cores, threads, memory, state_words, reason, gres):
    boards = boards or 1
    record = {
        "name": name,
        "CPUs": cpus,
        "Boards": boards,
        "Sockets": sockets,
        "SocketsPerBoard": (max(sockets // boards, 1) if sockets else None),
        "CoresPerSocket": cores,
        "ThreadsPerCore": threads,
        "RealMemory": memory,
        "State": "+".join(state_words),
        "state_words": state_words,
        "Reason": reason or "",
        "Gres": gres or "",
    }
    record["gpus"] = gres_gpu_count(record["Gres"])
    return record


def _text_int(values, key, name):
    value = values.get(key)
    if value in (None, "", "N/A", "(null)"):
        return None
    return _int(value, "%s: %s" % (name, key))


def parse_scontrol_nodes(text):
    """``scontrol -o show node`` (or without ``-o``) -> {node name: record}.

    A record has ``CPUs`` (CPUTot), ``Boards``, ``Sockets`` (all sockets),
    ``SocketsPerBoard``, ``CoresPerSocket``, ``ThreadsPerCore``,
    ``RealMemory`` (ints, None when absent), ``State`` ('IDLE+DRAIN'),
    ``state_words``, ``Reason``, ``Gres`` ('' for '(null)') and ``gpus``.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        raise DriftError("scontrol show node output must be text, got %s" % type(text).__name__)
    nodes = {}
    for record_text in _records(text):
        values = dict(_tokens(record_text))
        name = values.get("NodeName")
        if not name:
            continue
        gres = values.get("Gres") or ""
        if gres == "(null)":
            gres = ""
        reason = values.get("Reason") or ""
        if reason == "(null)":
            reason = ""
        counts = [_text_int(values, key, name)
                  for key in ("CPUTot", "Boards", "Sockets", "CoresPerSocket", "ThreadsPerCore", "RealMemory")]
        nodes[name] = _record(name, *(counts + [_state_words(values.get("State")), reason, gres]))
    if not nodes and text.strip():
        raise DriftError("not scontrol show node output (no NodeName=): %r" % text.strip()[:200])
    return nodes


def scontrol_json_nodes(data):
    """The ``nodes`` of ``scontrol --json show node`` (or a jmespath projection) -> {name: record}.

    Accepts the whole document (dict or JSON text) or its ``nodes`` list.
    Keys used: ``name``, ``cpus``, ``boards``, ``sockets`` (all sockets),
    ``cores`` (per socket), ``threads`` (per core), ``real_memory``, ``state``
    and ``state_flags`` (21.08/22.05) or ``state`` as a list (23.02+),
    ``reason``, ``gres``.
    """
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise DriftError("scontrol --json output is not JSON (%s): %r" % (exc, data.strip()[:200]))
    if isinstance(data, dict):
        errors = data.get("errors") or []
        if "nodes" not in data:
            raise DriftError("scontrol --json output has no 'nodes'%s"
                             % (": errors %s" % json.dumps(errors)[:300] if errors else ""))
        data = data["nodes"]
    if not isinstance(data, list):
        raise DriftError("scontrol --json nodes must be a list, got %s" % type(data).__name__)
    nodes = {}
    for index, item in enumerate(data):
        if not isinstance(item, dict) or not item.get("name"):
            raise DriftError("scontrol --json nodes[%d] has no name: %r" % (index, item))
        name = str(item["name"])
        gres = item.get("gres") or ""
        if gres in ("(null)", "N/A"):
            gres = ""
        counts = [_int(item.get(key), "%s: %s" % (name, key))
                  for key in ("cpus", "boards", "sockets", "cores", "threads", "real_memory")]
        nodes[name] = _record(name, *(counts + [_state_words(item.get("state"), item.get("state_flags")),
                                                str(item.get("reason") or ""), str(gres)]))
    return nodes


def scontrol_nodes(data):
    """JSON (text, document, nodes list) or ``scontrol show node`` text -> {name: record}."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if isinstance(data, str):
        stripped = data.strip()
        if stripped.startswith("{") or stripped.startswith("["):
            return scontrol_json_nodes(stripped)
        return parse_scontrol_nodes(data)
    if isinstance(data, (dict, list)):
        return scontrol_json_nodes(data)
    raise DriftError("scontrol output must be text, the --json document or its nodes list, got %s"
                     % type(data).__name__)


def state_problems(record):
    """The state words of a node record that take it out of service (sorted)."""
    return sorted(set(w for w in record.get("state_words") or [] if w in BAD_STATE_FLAGS))


# ----------------------------------------------------------------- GRES

def _split_top(text, sep=","):
    """Split at ``sep`` outside parentheses and brackets."""
    parts = []
    depth = 0
    current = []
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]" and depth:
            depth -= 1
        if char == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


_COUNT_RE = re.compile(r"^(\d+)([KMGTP]?)$", re.IGNORECASE)
_SUFFIX = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4, "P": 1024 ** 5}


def gres_gpu_count(gres):
    """GPUs in a ``Gres=`` value: 'gpu:a100:4(S:0-1),gpu:v100:2' -> 6; '', '(null)' -> 0.

    Forms: ``gpu``, ``gpu:4``, ``gpu:type:4``, ``gpu:type:no_consume:4``,
    each optionally followed by ``(S:...)``/``(IDX:...)``; other GRES names
    (``mps``, ``shard``) do not count.
    """
    if gres is None:
        return 0
    if not isinstance(gres, str):
        raise DriftError("Gres must be a string, got %s" % type(gres).__name__)
    gres = gres.strip()
    if gres in ("", "(null)", "N/A"):
        return 0
    total = 0
    for item in _split_top(gres):
        item = re.sub(r"\(.*\)$", "", item).strip()
        fields = item.split(":")
        if fields[0].lower() != "gpu":
            continue
        count = 1
        if len(fields) > 1:
            match = _COUNT_RE.match(fields[-1])
            if match:
                count = int(match.group(1)) * _SUFFIX[match.group(2).upper()]
        total += count
    return total


def _bracket_count(text):
    """Number of names a 'File=' value stands for: '/dev/nvidia[0-3]' -> 4, '/dev/nvidia0,/dev/nvidia1' -> 2."""
    total = 0
    for item in _split_top(text):
        count = 1
        for body in re.findall(r"\[([^\]]*)\]", item):
            inner = 0
            for part in body.split(","):
                part = part.strip()
                if "-" in part:
                    low, high = part.split("-", 1)
                    if low.isdigit() and high.isdigit() and int(high) >= int(low):
                        inner += int(high) - int(low) + 1
                        continue
                inner += 1 if part else 0
            count *= max(inner, 1)
        total += count
    return total


def _gres_words(line):
    return dict((k.lower(), v) for k, v in re.findall(r"([A-Za-z]+)=(\S+)", line))


def gres_conf_gpu_count(text, node):
    """GPUs gres.conf gives ``node``: the ``Name=gpu`` records whose NodeName covers it (or that have none).

    A record counts ``Count=`` when set, else the devices of ``File=``
    (``/dev/nvidia[0-3]`` = 4), else 1.  ``AutoDetect`` lines alone do not
    count.  Keys compare case-insensitively, as Slurm reads them.
    """
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        raise DriftError("gres.conf must be text, got %s" % type(text).__name__)
    total = 0
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = _gres_words(line)
        if words.get("name", "").lower() != "gpu":
            continue
        names = words.get("nodename")
        if names:
            try:
                members = expand(names)
            except HostlistError:
                members = [names]
            if node not in members:
                continue
        if words.get("count"):
            match = _COUNT_RE.match(words["count"])
            if not match:
                raise DriftError("gres.conf: Count=%s is not a number in %r" % (words["count"], raw.strip()))
            total += int(match.group(1)) * _SUFFIX[match.group(2).upper()]
        elif words.get("file"):
            total += _bracket_count(words["file"])
        else:
            total += 1
    return total


# ----------------------------------------------------------------- sysctl, tuned, hwloc

def _sysctl_key(key):
    """sysctl.d(5): '-' = ignore errors; a key whose first separator is '/' uses '/' for '.'."""
    key = key.strip()
    if key.startswith("-"):
        key = key[1:].strip()
    first = re.search(r"[./]", key)
    if first and first.group(0) == "/":
        key = key.replace(".", "\0").replace("/", ".").replace("\0", "/")
    return key


def parse_sysctl_text(text):
    """A sysctl.d file or ``sysctl key ...`` output -> {values, duplicates, invalid}.

    ``values``: {key: value} with the last assignment winning, as
    systemd-sysctl and ``sysctl -p`` apply them; values whitespace-normalised.
    ``duplicates``: {key: [every value in order]} for keys set more than once.
    ``invalid``: lines that are neither comments ('#', ';'), blank nor
    ``key = value``.
    """
    if text is None:
        text = ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        raise DriftError("sysctl text must be a string, got %s" % type(text).__name__)
    values = {}
    seen = {}
    invalid = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if "=" not in line:
            invalid.append(line)
            continue
        key, value = line.split("=", 1)
        key = _sysctl_key(key)
        if not key:
            invalid.append(line)
            continue
        value = normalise_value(value)
        values[key] = value
        seen.setdefault(key, []).append(value)
    duplicates = dict((k, v) for k, v in seen.items() if len(v) > 1)
    return {"values": values, "duplicates": duplicates, "invalid": invalid}


def parse_tuned_active(text):
    """``tuned-adm active`` -> {state, profile, post_loaded}.

    ``state``: ``active`` ("Current active profile: X"), ``none`` ("No current
    active profile."), ``not_running`` ("It seems that tuned daemon is not
    running, preset profile is not activated." + "Preset profile: X"; profile
    is the preset) or ``unknown``.  The D-Bus answer appends a post-loaded
    profile to the active one; it is split off into ``post_loaded``.
    """
    if text is None:
        text = ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        raise DriftError("tuned-adm output must be text, got %s" % type(text).__name__)
    active = preset = post = None
    not_running = none = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Current active profile:"):
            active = line.split(":", 1)[1].strip()
        elif line.startswith("Current post-loaded profile:"):
            post = line.split(":", 1)[1].strip()
        elif line.startswith("Preset profile:"):
            preset = line.split(":", 1)[1].strip()
        elif line.startswith("Preset post-loaded profile:"):
            post = line.split(":", 1)[1].strip()
        elif line.startswith("No current active profile"):
            none = True
        elif "daemon is not running" in line:
            not_running = True
    if not_running:
        profile = preset
        state = "not_running"
    elif active is not None:
        profile = active
        state = "active"
    elif none:
        profile = None
        state = "none"
    else:
        return {"state": "unknown", "profile": None, "post_loaded": None}
    if profile and post and profile.endswith(" " + post):
        profile = profile[: -len(post) - 1].strip()
    return {"state": state, "profile": profile or None, "post_loaded": post}


def parse_hwloc_calc(text):
    """``hwloc-calc --number-of <type> all`` -> int (the last line that is a number)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    if not isinstance(text, str):
        raise DriftError("hwloc-calc output must be text, got %s" % type(text).__name__)
    numbers = [line.strip() for line in text.splitlines() if _INT_RE.match(line.strip())]
    if not numbers:
        raise DriftError("not hwloc-calc --number-of output (no number): %r" % text.strip()[:200])
    return int(numbers[-1])


# ----------------------------------------------------------------- a. node values

def expected_node_values(topology, l3_as_socket=False, reserve_mib=1024, reserve_percent=2, overrides=None):
    """What the slurm role writes for this node: ``node_values`` with ``slurm_node_overrides`` on top.

    Returns ({NODE_KEYS: int}, set of overridden keys).
    """
    values = node_values(topology, real_memory_reserve_mib=reserve_mib, reserve_percent=reserve_percent,
                         l3_as_socket=l3_as_socket)
    overridden = set()
    for key, value in (overrides or {}).items():
        if key in NODE_KEYS and value is not None and value != "":
            values[key] = _int(value, "slurm_node_overrides.%s" % key)
            overridden.add(key)
    return values, overridden


def compare_node_values(node, expected, record, measured_memory=None,
                        memory_tolerance_mib=DEFAULT_MEMORY_TOLERANCE_MIB, exact_memory=False, kind="slurm_node"):
    """Rows for the six NodeName values: what the role would write now vs slurmctld's record.

    Topology values must be equal.  RealMemory: equal, or within
    ``memory_tolerance_mib`` and not above ``measured_memory`` (MemTotal in
    MiB) = note; ``exact_memory`` (an override) = must be equal.
    """
    rows = []
    tolerance = _int(memory_tolerance_mib or 0, "memory_tolerance_mib") or 0
    for key in NODE_KEYS:
        want = expected.get(key)
        have = record.get(key)
        check = "%s %s" % (kind, key)
        if key != "RealMemory" or exact_memory or want is None or have is None:
            rows.append(_eq_row(node, kind, check, want, have))
            continue
        if want == have:
            rows.append(row(node, kind, check, want, have, "ok"))
        elif measured_memory is not None and have > measured_memory:
            rows.append(row(node, kind, check, want, have, "drift",
                            "more than the %d MiB the node has now (slurmctld drains it: Low RealMemory)"
                            % measured_memory))
        elif abs(want - have) <= tolerance:
            rows.append(row(node, kind, check, want, have, "note",
                            "within %d MiB (RealMemory is rounded down to a GiB and identical nodes share the "
                            "smallest; MemTotal moves a little between boots)" % tolerance))
        else:
            rows.append(row(node, kind, check, want, have, "drift",
                            "differs by %d MiB (tolerance %d MiB)" % (abs(want - have), tolerance)))
    return rows


def compare_slurm_node(node, topology, nodes, slurm_name=None, l3_as_socket=False, reserve_mib=1024,
                       reserve_percent=2, overrides=None, memory_tolerance_mib=DEFAULT_MEMORY_TOLERANCE_MIB):
    """Check a: hpcai_cpu_topology (as the slurm role turns it into a NodeName line) vs slurmctld's node record.

    ``nodes``: ``scontrol_nodes()`` of the controller, None when it could not
    be read (no rows: the controller's row says why).  Adds a ``State`` row:
    drift when the state has a word of ``BAD_STATE_FLAGS``, with the Reason.
    """
    kind = "slurm_node"
    if nodes is None:
        return []
    name = slurm_name or node
    record = nodes.get(name)
    if record is None:
        return [row(node, kind, "%s NodeName" % kind, "defined (%s)" % name, "absent", "drift",
                    "scontrol show node does not list %s (slurm.conf not rewritten, or slurmctld not restarted "
                    "after nodes were added)" % name)]
    rows = []
    if not isinstance(topology, dict):
        rows.append(row(node, kind, "%s values" % kind, "hpcai_cpu_topology", "not gathered", "note"))
    else:
        try:
            expected, overridden = expected_node_values(topology, l3_as_socket, reserve_mib, reserve_percent,
                                                        overrides)
        except (SlurmConfError, DriftError) as exc:
            rows.append(row(node, kind, "%s values" % kind, "computable", "error", "note", str(exc)))
        else:
            source = topology.get("slurm_l3_as_socket" if l3_as_socket else "slurm") or {}
            measured = source.get("RealMemory")
            rows.extend(compare_node_values(node, expected, record, measured if isinstance(measured, int) else None,
                                            memory_tolerance_mib, "RealMemory" in overridden, kind))
    problems = state_problems(record)
    state = record.get("State") or "unknown"
    if problems:
        actual = state + (" (Reason: %s)" % record["Reason"] if record.get("Reason") else "")
        rows.append(row(node, kind, "%s State" % kind, "in service", actual, "drift",
                        "%s: %s" % (", ".join(problems), record.get("Reason") or "no reason given")))
    else:
        rows.append(row(node, kind, "%s State" % kind, "in service", state, "ok"))
    return rows


def unknown_nodes(nodes, known, kind="slurm_node"):
    """Rows for nodes slurmctld knows that are not in the compute group (``known``: every name they may have)."""
    if not nodes:
        return []
    known = set(known or [])
    rows = []
    for name in sorted(nodes, key=natural_key):
        if name not in known:
            rows.append(row(name, kind, "%s NodeName" % kind, "absent",
                            "defined, %s" % (nodes[name].get("State") or "state unknown"), "drift",
                            "slurmctld has a node no host of the compute group is (slurm.conf edited by hand, or a "
                            "node removed from the inventory)"))
    return rows


# ----------------------------------------------------------------- b. slurmd -C

def compare_slurmd(node, slurmd_c, nodes, slurm_name=None):
    """Check b: what ``slurmd -C`` measures (expected) vs slurmctld's node record (actual).

    The record's values slurmctld drains a node for (``compare_with_slurmd_C``
    ``drain``: CPUs, Boards*Sockets*Cores*Threads or RealMemory above the
    measured ones) are drift; a different layout with the same totals (L3
    domains as sockets) and fewer CPUs than measured are notes; RealMemory
    below the measured memory is what the reserve makes, ok.  ``slurmd_c``:
    ``command_result()`` input (a registered result or the text).
    """
    kind = "slurmd"
    if nodes is None:
        return []
    run = command_result(slurmd_c)
    if not run["ran"]:
        return []
    name = slurm_name or node
    if run["missing"] or run["rc"] != 0:
        return [row(node, kind, "%s -C" % kind, "slurmd -C measures the node",
                    "not installed" if run["missing"] else "rc=%s" % run["rc"], "drift", run["error"])]
    record = nodes.get(name)
    if record is None:
        return []  # slurm_node's NodeName row says so
    try:
        measured = parse_slurmd_C(run["stdout"])
        result = compare_with_slurmd_C(dict((k, record.get(k)) for k in NODE_KEYS), measured)
    except SlurmConfError as exc:
        return [row(node, kind, "%s -C" % kind, "slurmd -C output", "unreadable", "drift", str(exc))]
    conf, real = result["configured"], result["measured"]
    drain = result["drain"]
    notes = "; ".join(result["notes"])
    layout_drain = [d for d in drain if "socket*core*thread" in d]
    rows = []
    for key in NODE_KEYS:
        want, have = real.get(key), conf.get(key)
        check = "%s %s" % (kind, key)
        if want is None or have is None or want == have:
            rows.append(row(node, kind, check, want, have, "ok"))
        elif key == "CPUs":
            if have > want:
                rows.append(row(node, kind, check, want, have, "drift", "; ".join(d for d in drain if "Low CPUs" in d)))
            else:
                rows.append(row(node, kind, check, want, have, "note", notes))
        elif key == "RealMemory":
            if have > want:
                rows.append(row(node, kind, check, want, have, "drift",
                                "; ".join(d for d in drain if "RealMemory" in d)))
            else:
                rows.append(row(node, kind, check, want, have, "ok"))
        elif layout_drain:
            rows.append(row(node, kind, check, want, have, "drift", "; ".join(layout_drain)))
        else:
            rows.append(row(node, kind, check, want, have, "note", notes))
    return rows


# ----------------------------------------------------------------- c. hwloc

_HWLOC_FIGURES = (("package", "sockets"), ("core", "cores"), ("pu", "cpus_online"))


def compare_hwloc(node, topology, counts, container=False, error=None):
    """Check c: hwloc-calc packages/cores/PUs vs hpcai_cpu_topology's counts.

    ``counts``: {package, core, pu: int or None}; ``error``: why hwloc gave
    nothing ('not installed', ...) -> one note.  In a container hwloc reads the
    host's topology while the fact is the container's cpuset: notes.
    """
    kind = "hwloc"
    if error:
        return [row(node, kind, kind, "hwloc-calc counts", "unavailable", "note", error)]
    if not isinstance(topology, dict) or not isinstance(topology.get("counts"), dict):
        return [row(node, kind, kind, "hpcai_cpu_topology", "not gathered", "note")]
    rows = []
    for hw_type, key in _HWLOC_FIGURES:
        want = topology["counts"].get(key)
        have = (counts or {}).get(hw_type)
        check = "%s %s" % (kind, hw_type)
        if have is None:
            rows.append(row(node, kind, check, want, "unknown", "note", "hwloc-calc gave no %s count" % hw_type))
        elif container:
            rows.append(row(node, kind, check, want, have, "note" if want != have else "ok",
                            "container: not comparable (hwloc sees the host, the fact the container's CPUs)"
                            if want != have else ""))
        else:
            rows.append(_eq_row(node, kind, check, want, have,
                                "hwloc (slurmd's view) and hpcai_cpu_topology disagree"))
    return rows


# ----------------------------------------------------------------- d. GPUs

def compare_gpus(node, gpu_facts, nodes, slurm_name=None, gres_conf=None, gres_conf_path="gres.conf",
                 gres_enabled=True):
    """Check d: GPUs gpu_facts finds now vs the node record's Gres and vs gres.conf.

    Expected = the GPUs Slurm can use (those in the fact's ``slurm.gres``; a
    GPU without a device file is left out by the role, a note).  ``nodes`` None:
    the Gres comparison is skipped.  ``gres_conf``: the file's text, None when
    there is none (fine without GPUs).
    """
    kind = "gpu"
    if not isinstance(gpu_facts, dict):
        return []
    found = _int((gpu_facts.get("counts") or {}).get("gpus"), "hpcai_gpu_facts.counts.gpus")
    slurm = gpu_facts.get("slurm") if isinstance(gpu_facts.get("slurm"), dict) else {}
    expected = gres_gpu_count(slurm.get("gres") or "") if slurm else (found or 0)
    rows = []
    if found is not None and found != expected:
        rows.append(row(node, kind, "%s usable" % kind, found, expected, "note",
                        "%d GPU(s) found, %d usable by Slurm (no device file: see the gpu_facts warnings)"
                        % (found, expected)))
    if not gres_enabled:
        rows.append(row(node, kind, kind, expected, "not configured", "note", "slurm_gres is false"))
        return rows
    name = slurm_name or node
    if nodes is not None and name in nodes:
        rows.append(_eq_row(node, kind, "%s Gres (slurmctld)" % kind, expected, nodes[name].get("gpus", 0),
                            "node record Gres=%s" % (nodes[name].get("Gres") or "(null)")))
    if gres_conf is None:
        rows.append(row(node, kind, "%s %s" % (kind, gres_conf_path), expected, 0 if not expected else "absent",
                        "ok" if not expected else "drift", "" if not expected else "no gres.conf"))
    else:
        rows.append(_eq_row(node, kind, "%s %s" % (kind, gres_conf_path), expected,
                            gres_conf_gpu_count(gres_conf, name)))
    return rows


# ----------------------------------------------------------------- e. sysctls

def compare_sysctls(node, expected, file_text=None, file_path="sysctl file", live=None, container=False,
                    live_note=None, compare_file=True):
    """Check e: the kernel_tuning record's sysctls vs the rendered file and vs the live values.

    ``expected``: {key: value} of the record.  ``file_text``: the file's text,
    None when it is missing (``compare_file`` false: the file is not
    compared).  ``live``: {key: value} read now (a key absent = not in this
    kernel), None when not read.  File: a missing, changed or
    extra key is drift (a repeated key a note).  Live: a difference is drift
    on a host, a note in a container (``container``) or when ``live_note``
    says why the values cannot match (e.g. the record was made for another
    topology root).
    """
    kind = "sysctl"
    if not isinstance(expected, dict):
        raise DriftError("the record's sysctls must be a dict {key: value}, got %s" % type(expected).__name__)
    want = dict((_sysctl_key(k), normalise_value(v)) for k, v in expected.items())
    rows = []
    label = "%s %s" % (kind, "file")
    if not compare_file:
        pass
    elif file_text is None:
        if want:
            rows.append(row(node, kind, "%s %s" % (label, file_path), "present", "missing", "drift",
                            "%d key(s) expected" % len(want)))
    else:
        parsed = parse_sysctl_text(file_text)
        have = parsed["values"]
        for key in sorted(set(want) | set(have)):
            check = "%s %s" % (label, key)
            if key not in have:
                rows.append(row(node, kind, check, want[key], "(absent)", "drift", "missing from %s" % file_path))
            elif key not in want:
                rows.append(row(node, kind, check, "(absent)", have[key], "drift",
                                "%s sets a key the record does not have" % file_path))
            else:
                rows.append(_eq_row(node, kind, check, want[key], have[key], "changed in %s" % file_path))
        for key in sorted(parsed["duplicates"]):
            rows.append(row(node, kind, "%s %s (repeated)" % (label, key), want.get(key, "(absent)"),
                            " / ".join(parsed["duplicates"][key]), "note",
                            "set %d times in %s; the last one wins" % (len(parsed["duplicates"][key]), file_path)))
        for line in parsed["invalid"]:
            rows.append(row(node, kind, "%s line" % label, "key = value", line, "drift",
                            "%s has a line sysctl cannot read" % file_path))
    if live is not None:
        label = "%s %s" % (kind, "live")
        why = live_note or ("container: not comparable (host sysctls cannot be set here)" if container else "")
        for key in sorted(want):
            check = "%s %s" % (label, key)
            have = live.get(key)
            if have is not None and normalise_value(have) == want[key]:
                rows.append(row(node, kind, check, want[key], have, "ok"))
            elif why:
                rows.append(row(node, kind, check, want[key], "(absent)" if have is None else have, "note", why))
            else:
                rows.append(row(node, kind, check, want[key], "(absent)" if have is None else have, "drift",
                                "not in this kernel" if have is None else "live value differs"))
    return rows


# ----------------------------------------------------------------- f. tuned

def compare_tuned(node, expected, tuned_adm):
    """Check f: the record's tuned profile vs ``tuned-adm active``.

    ``expected`` None/'' = tuned not managed: no rows.  ``tuned_adm``:
    ``command_result()`` input.  tuned-adm missing, tuned not running, no
    active profile or another profile: drift.
    """
    kind = "tuned"
    if not expected:
        return []
    check = "%s profile" % kind
    run = command_result(tuned_adm)
    if not run["ran"]:
        return []
    if run["missing"]:
        return [row(node, kind, check, expected, "tuned not installed", "drift", run["error"])]
    parsed = parse_tuned_active(run["stdout"])
    if parsed["state"] == "not_running":
        return [row(node, kind, check, expected, "tuned not running (preset %s)" % (parsed["profile"] or "none"),
                    "drift", "systemctl start tuned")]
    if parsed["state"] == "none":
        return [row(node, kind, check, expected, "no active profile", "drift")]
    if parsed["state"] == "unknown":
        return [row(node, kind, check, expected, "unknown", "drift",
                    "tuned-adm active rc=%s: %s" % (run["rc"], run["error"] or run["stdout"].strip()[:200]))]
    return [_eq_row(node, kind, check, expected, parsed["profile"])]


# ----------------------------------------------------------------- report

_COLUMNS = (("node", "node"), ("check", "check"), ("expected", "expected"), ("actual", "actual"))


def render_table(rows, columns=_COLUMNS):
    """Fixed-width text table: a header, a rule, one line per row; cells left-aligned, ' | ' between."""
    header = [title for _key, title in columns]
    cells = [[normalise_value(r.get(key)) for key, _title in columns] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(header)]

    def line(values):
        return " | ".join(v.ljust(widths[i]) for i, v in enumerate(values)).rstrip()

    return [line(header), "-+-".join("-" * w for w in widths)] + [line(c) for c in cells]


def _kind_order(kind):
    if kind == RUN_KIND:
        return -1
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def _sort_key(r):
    return (natural_key(r["node"]), _kind_order(r["kind"]), r["check"])


def _plural(count, word):
    return "%d %s%s" % (count, word, "" if count == 1 else ("es" if word.endswith("ch") else "s"))


def _check_rows(rows):
    if not isinstance(rows, (list, tuple)):
        raise DriftError("rows must be a list of row dicts, got %s" % type(rows).__name__)
    out = []
    for index, item in enumerate(rows):
        if not isinstance(item, dict) or not item.get("node") or not item.get("kind") \
                or item.get("status") not in STATUSES:
            raise DriftError("rows[%d] must be a row {node, kind, check, expected, actual, status (ok, drift or "
                             "note), detail}, got %r" % (index, item))
        out.append(row(item["node"], item["kind"], item.get("check") or item["kind"], item.get("expected"),
                       item.get("actual"), item["status"], item.get("detail") or ""))
    return out


def report(rows, checks=None, incomplete=None, max_per_node=5):
    """Everything the playbook prints: the table of drift rows, one summary line per check kind, the notes.

    ``checks``: the kinds that ran (default ``KINDS``), one summary line each.
    ``incomplete``: hosts the play could not finish on (unreachable, failed):
    one drift row each.  Returns ``{ok, drift, drift_nodes, lines, table,
    notes, summary, message}``; ``message`` names each drifted node with up to
    ``max_per_node`` of its values.
    """
    rows = _check_rows(rows or [])
    for host in sorted(set(incomplete or []), key=natural_key):
        rows.append(row(host, RUN_KIND, "validate run", "completed", "unreachable or failed", "drift",
                        "see the errors above"))
    checks = list(KINDS if checks is None else checks)
    unknown = [c for c in checks if c not in KINDS]
    if unknown:
        raise DriftError("unknown check kinds %s (known: %s)" % (", ".join(map(str, unknown)), ", ".join(KINDS)))
    rows.sort(key=_sort_key)
    drift = [r for r in rows if r["status"] == "drift"]
    notes = [r for r in rows if r["status"] == "note"]
    drift_nodes = sorted(set(r["node"] for r in drift), key=natural_key)
    all_nodes = set(r["node"] for r in rows)

    summary = {}
    summary_lines = []
    for kind in ([RUN_KIND] if any(r["kind"] == RUN_KIND for r in rows) else []) + checks:
        mine = [r for r in rows if r["kind"] == kind]
        counts = dict((s, sum(1 for r in mine if r["status"] == s)) for s in STATUSES)
        compared = counts["ok"] + counts["drift"]
        nodes = sorted(set(r["node"] for r in mine if r["status"] != "note"), key=natural_key)
        bad = sorted(set(r["node"] for r in mine if r["status"] == "drift"), key=natural_key)
        summary[kind] = dict(counts, compared=compared, nodes=len(nodes), drift_nodes=bad)
        tail = "; %s" % _plural(counts["note"], "note") if counts["note"] else ""
        if bad:
            text = "%s: DRIFT (%d of %s differ, on %s: %s%s)" % (
                kind, counts["drift"], _plural(compared, "value"), _plural(len(bad), "node"), ", ".join(bad), tail)
        elif compared:
            text = "%s: OK (%s match%s on %s%s)" % (kind, _plural(compared, "value"), "es" if compared == 1 else "",
                                                    _plural(len(nodes), "node"), tail)
        else:
            text = "%s: OK (nothing to compare%s)" % (kind, tail)
        summary_lines.append(text)

    table = render_table(drift) if drift else []
    lines = []
    if drift:
        lines.append("DRIFT on %s: %s (%s)" % (_plural(len(drift_nodes), "node"), ", ".join(drift_nodes),
                                               _plural(len(drift), "mismatch")))
        lines.extend(table)
        details = [r for r in drift if r["detail"]]
        if details:
            lines.append("details:")
            lines.extend("  %s %s: %s" % (r["node"], r["check"], r["detail"]) for r in details)
    else:
        lines.append("no drift on %s (%s)" % (_plural(len(all_nodes), "node"), ", ".join(checks) or "no checks"))
    lines.extend(summary_lines)
    note_lines = []
    for r in notes:
        values = "expected %s, actual %s" % (r["expected"] or "-", r["actual"] or "-")
        note_lines.append("  %s %s: %s%s" % (r["node"], r["check"], values,
                                             " - %s" % r["detail"] if r["detail"] else ""))
    if note_lines:
        lines.append("notes:")
        lines.extend(note_lines)

    message = ""
    if drift:
        parts = []
        for node in drift_nodes:
            mine = [r for r in drift if r["node"] == node]
            items = ["%s: expected %s, actual %s" % (r["check"], r["expected"] or "-", r["actual"] or "-")
                     for r in mine[:max_per_node]]
            if len(mine) > max_per_node:
                items.append("and %d more (see the table)" % (len(mine) - max_per_node))
            parts.append("%s (%s)" % (node, "; ".join(items)))
        message = "validate: the running cluster differs from its configuration on %s: %s" % (
            _plural(len(drift_nodes), "node"), ", ".join(parts))
    return {
        "ok": not drift,
        "drift": len(drift),
        "drift_nodes": drift_nodes,
        "lines": lines,
        "table": table,
        "notes": note_lines,
        "summary": summary,
        "message": message,
    }
