# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel command line planner (pure Python 3.8+, no I/O, no dependencies).

The ``hpcai.cluster.kernel_cmdline`` module manages a set of kernel arguments
persistently.  Everything that needs logic lives here; the module only reads
files, runs ``grubby`` / ``update-grub`` and reports.

Vocabulary:

* a *token* is one kernel argument as the kernel splits the command line
  (``iommu=pt``, ``nosmt``, ``param="a b"``);
* its *key* is the text before the first ``=`` (a bare flag such as ``nosmt``
  is its own key);
* the *managed keys* are the keys of ``args`` plus the ``remove`` keys.  Tokens
  with other keys are never touched.

A command line is *in sync* when, for every managed key, the tokens with that
key are exactly the one arg for it (one occurrence, same value) and no
``remove`` key is present.  Everything after a bare ``--`` is passed to init,
not to the kernel: it is kept as it is and never managed.

Two persistence back ends:

* ``grubby`` (EL, BootLoaderSpec entries): ``parse_grubby_info()`` reads
  ``grubby --info=ALL``, ``grubby_plan()`` decides per entry and builds ONE
  ``grubby --update-kernel=ALL [--remove-args=..] [--args=..]`` command.
* ``grub_d`` (Debian/Ubuntu): a drop-in in ``/etc/default/grub.d/`` that
  appends to ``GRUB_CMDLINE_LINUX`` (``render_dropin()``/``parse_dropin()``,
  ``grub_d_plan()``).  A drop-in can only *append*: for most parameters the
  last occurrence on the command line wins, so a value set in
  ``/etc/default/grub`` is overridden, but a parameter cannot be *removed*
  from there.  ``remove`` keys that are set elsewhere are reported as not
  removable; keys that only our own previous drop-in set are removed by
  rewriting the drop-in.

``reboot_check()`` compares the wanted state with ``/proc/cmdline``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

__all__ = [
    "KernelCmdlineError",
    "DEFAULT_GRUB_D_FILE",
    "MARKER",
    "GRUB_UNSAFE_CHARS",
    "split_cmdline",
    "join_cmdline",
    "kernel_part",
    "arg_key",
    "validate",
    "plan",
    "parse_grubby_info",
    "grubby_plan",
    "grubby_argv",
    "format_argv",
    "check_grub_safe",
    "render_dropin",
    "parse_dropin",
    "parse_grub_defaults",
    "grub_d_plan",
    "reboot_check",
]

DEFAULT_GRUB_D_FILE = "/etc/default/grub.d/90-hpcai.cfg"
MARKER = "# Managed by hpcai.cluster (kernel_cmdline)"
GRUB_VARS = ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT")

# Whitespace as the kernel's isspace() sees it (lib/ctype.c, ASCII part).
_SPACE = " \t\n\r\v\f"

# Characters that cannot go into GRUB_CMDLINE_LINUX="..." safely: the shell
# that sources the file interprets " $ ` \ inside double quotes, and
# grub-mkconfig copies the value unquoted into grub.cfg, where GRUB's script
# lexer treats quotes, ; & | < > and whitespace specially.
GRUB_UNSAFE_CHARS = '"\'$`\\;&|<>'


class KernelCmdlineError(ValueError):
    """Invalid input (the message names the option and what is allowed)."""


# --------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------


def split_cmdline(text):
    """Tokens of a kernel command line, split the way the kernel does.

    Whitespace separates tokens except inside double quotes, which may start
    anywhere in a token (``param="a b"`` and ``"param=a b"`` are one token
    each).  Quotes are kept in the tokens.  An unbalanced quote runs to the end
    of the text, as in the kernel's ``next_arg()``.  ``--`` and what follows it
    are returned as tokens too (see ``kernel_part``).
    """
    tokens = []
    if not text:
        return tokens
    current = []
    in_quote = False
    for char in text:
        if char == '"':
            in_quote = not in_quote
            current.append(char)
        elif char in _SPACE and not in_quote:
            if current:
                tokens.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        tokens.append("".join(current))
    return tokens


def join_cmdline(tokens):
    """Inverse of ``split_cmdline`` for tokens that came from it."""
    return " ".join(tokens)


def kernel_part(tokens):
    """``(kernel_tokens, tail)``: tail is ``--`` and everything after it (init's arguments)."""
    tokens = list(tokens)
    if "--" in tokens:
        index = tokens.index("--")
        return tokens[:index], tokens[index:]
    return tokens, []


def arg_key(token):
    """The key of a token: the text before the first ``=`` (the whole token for a bare flag)."""
    return token.split("=", 1)[0]


def _tokens_by_key(tokens):
    found = {}
    for token in tokens:
        found.setdefault(arg_key(token), []).append(token)
    return found


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


def _has_control(text):
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def validate(args, remove, args_option="args", remove_option="remove"):
    """Check ``args`` and ``remove``; return them as lists of str.

    * every arg is exactly one kernel token (whitespace only inside double
      quotes), has a non-empty key and is not ``--``;
    * no key appears twice in ``args`` (the message names the key and both args);
    * every ``remove`` entry is a bare key: no ``=``, no whitespace, no quotes;
    * no key is both in ``args`` and in ``remove``.

    Raises ``KernelCmdlineError`` naming the option.
    """
    args = list(args or [])
    remove = list(remove or [])
    seen = {}
    for arg in args:
        if not isinstance(arg, str):
            raise KernelCmdlineError("%s: %r is not a string; give one kernel argument per list item"
                                     % (args_option, arg))
        if not arg or not arg.strip():
            raise KernelCmdlineError("%s: empty item; give one kernel argument per list item, e.g. iommu=pt"
                                     % args_option)
        if _has_control(arg):
            raise KernelCmdlineError("%s: %r contains a control character (tab, newline, ...)" % (args_option, arg))
        if split_cmdline(arg) != [arg]:
            raise KernelCmdlineError(
                "%s: %r is not a single kernel argument; give one argument per list item "
                "(whitespace is allowed only inside double quotes, e.g. param=\"a b\")" % (args_option, arg))
        if arg.count('"') % 2:
            raise KernelCmdlineError("%s: %r has an unbalanced double quote" % (args_option, arg))
        if arg == "--":
            raise KernelCmdlineError("%s: '--' ends the kernel's arguments and cannot be managed" % args_option)
        key = arg_key(arg)
        if not key:
            raise KernelCmdlineError("%s: %r has an empty key; arguments look like key=value or a bare flag"
                                     % (args_option, arg))
        if key in seen:
            raise KernelCmdlineError(
                "%s: key %r appears more than once (%r and %r); each key may be given once, "
                "the module keeps exactly one occurrence of every managed key"
                % (args_option, key, seen[key], arg))
        seen[key] = arg
    removed = set()
    for key in remove:
        if not isinstance(key, str):
            raise KernelCmdlineError("%s: %r is not a string; give bare keys such as quiet or rhgb"
                                     % (remove_option, key))
        if not key:
            raise KernelCmdlineError("%s: empty item; give bare keys such as quiet or rhgb" % remove_option)
        if "=" in key:
            raise KernelCmdlineError(
                "%s: %r has a value; give the bare key (%r): every occurrence of the key is removed, "
                "whatever its value" % (remove_option, key, arg_key(key)))
        if any(c in _SPACE for c in key) or '"' in key or _has_control(key):
            raise KernelCmdlineError("%s: %r is not a bare key (no whitespace, quotes or control characters)"
                                     % (remove_option, key))
        if key == "--":
            raise KernelCmdlineError("%s: '--' ends the kernel's arguments and cannot be managed" % remove_option)
        if key in seen:
            raise KernelCmdlineError("%s: key %r is also in %s (%r); a key is either set or removed"
                                     % (remove_option, key, args_option, seen[key]))
        if key in removed:
            continue
        removed.add(key)
    # de-duplicated, order kept
    unique_remove = []
    for key in remove:
        if key not in unique_remove:
            unique_remove.append(key)
    return args, unique_remove


# --------------------------------------------------------------------------
# Plan
# --------------------------------------------------------------------------


def plan(current_tokens, args, remove):
    """Compare one command line with the wanted ``args`` / ``remove``.

    ``current_tokens`` is a token list (``split_cmdline``); ``args`` and
    ``remove`` must have passed ``validate``.  Returns a dict:

    * ``in_sync`` - bool (see the module docstring);
    * ``remove`` - keys to take off: managed arg keys whose current tokens
      differ from the arg (other value, or more than one occurrence), and
      ``remove`` keys that are present; in ``args`` then ``remove`` order;
    * ``add`` - the args that are not there exactly once, in ``args`` order;
    * ``tokens`` - the resulting command line: tokens that are neither removed
      nor replaced keep their place (so an in-sync line comes back unchanged),
      the ``add`` args are appended in ``args`` order, and ``--`` with init's
      arguments stays at the end.
    """
    kernel, tail = kernel_part(current_tokens)
    by_key = _tokens_by_key(kernel)
    to_remove = []
    to_add = []
    for arg in args:
        key = arg_key(arg)
        have = by_key.get(key, [])
        if have == [arg]:
            continue
        if have:
            to_remove.append(key)
        to_add.append(arg)
    for key in remove:
        if key in by_key and key not in to_remove:
            to_remove.append(key)
    drop = set(to_remove)
    tokens = [t for t in kernel if arg_key(t) not in drop] + to_add + tail
    return {
        "in_sync": not to_remove and not to_add,
        "remove": to_remove,
        "add": to_add,
        "tokens": tokens,
    }


# --------------------------------------------------------------------------
# grubby
# --------------------------------------------------------------------------

_INFO_LINE_RE = re.compile(r"^([A-Za-z_]+)=(.*)$")


def _unquote(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


def parse_grubby_info(text):
    """Entries of ``grubby --info=ALL`` output.

    Every ``index=`` line starts an entry; the ``kernel``, ``args``, ``root``,
    ``initrd``, ``title`` and ``id`` lines fill it (values with or without the
    surrounding double quotes, which EL9's grubby prints and older ones did
    not).  ``args`` keeps inner quotes (``args="ro foo="a b""``).  Lines that do
    not look like ``key=value`` (e.g. ``non linux entry``) are ignored, and so
    are entries without a ``kernel``.  Each entry gets ``tokens`` (its args
    split like the kernel does); ``index`` is an int when it parses.
    """
    entries = []
    entry = None
    for raw in (text or "").splitlines():
        line = raw.strip()
        match = _INFO_LINE_RE.match(line)
        if not match:
            continue
        key, value = match.group(1), match.group(2)
        if key == "index":
            entry = {"index": _int_or_str(_unquote(value))}
            entries.append(entry)
            continue
        if entry is None:  # output without index= lines (single --info=<kernel>)
            entry = {"index": None}
            entries.append(entry)
        if key in entry:  # a repeated key starts a new entry (defensive)
            entry = {"index": None}
            entries.append(entry)
        entry[key] = _unquote(value)
    result = []
    for entry in entries:
        if not entry.get("kernel"):
            continue
        entry.setdefault("args", "")
        entry["tokens"] = split_cmdline(entry["args"])
        result.append(entry)
    return result


def _int_or_str(value):
    try:
        return int(value)
    except ValueError:
        return value


def grubby_plan(entries, args, remove):
    """Plan every grubby entry and the ONE command that fixes all of them.

    Returns a dict: ``entries`` (each input entry with ``in_sync`` and
    ``plan``), ``in_sync`` (all entries), ``remove`` (keys for
    ``--remove-args``: the union over the entries, ``args`` then ``remove`` order)
    and ``add`` (args for ``--args``: every arg that is missing or different in
    at least one entry, in ``args`` order).

    Running ``--update-kernel=ALL`` with these on an entry that was already in
    sync is harmless: grubby removes before it adds, and re-adding an arg that
    is there replaces it.
    """
    planned = []
    remove_keys = []
    add_set = set()
    for entry in entries:
        entry_plan = plan(entry.get("tokens") or split_cmdline(entry.get("args", "")), args, remove)
        item = dict(entry)
        item["in_sync"] = entry_plan["in_sync"]
        item["plan"] = entry_plan
        planned.append(item)
        for key in entry_plan["remove"]:
            if key not in remove_keys:
                remove_keys.append(key)
        add_set.update(entry_plan["add"])
    order = [arg_key(a) for a in args] + list(remove)
    return {
        "entries": planned,
        "in_sync": all(e["in_sync"] for e in planned),
        "remove": [k for k in order if k in remove_keys],
        "add": [a for a in args if a in add_set],
    }


def grubby_argv(remove_keys, add_args, grubby="grubby", bls_directory=None):
    """argv of the single grubby command (a list, for run_command without a shell).

    ``None`` when there is nothing to do.  grubby splits ``--args`` and
    ``--remove-args`` on whitespace, so each is one argv element holding the
    space-separated list.
    """
    if not remove_keys and not add_args:
        return None
    argv = [grubby, "--update-kernel=ALL"]
    if bls_directory:
        argv.append("--bls-directory=%s" % bls_directory)
    if remove_keys:
        argv.append("--remove-args=%s" % " ".join(remove_keys))
    if add_args:
        argv.append("--args=%s" % " ".join(add_args))
    return argv


def format_argv(argv):
    """One shell-quoted string for an argv list (for reports; never executed)."""
    out = []
    for item in argv:
        if item and re.match(r"^[A-Za-z0-9_./:=,+@%-]+$", item):
            out.append(item)
        else:
            out.append("'" + item.replace("'", "'\"'\"'") + "'")
    return " ".join(out)


# --------------------------------------------------------------------------
# grub.d drop-in (Debian / Ubuntu)
# --------------------------------------------------------------------------

_DROPIN_LINE_RE = re.compile(
    r'^\s*(?:export\s+)?GRUB_CMDLINE_LINUX="\$(?:GRUB_CMDLINE_LINUX|\{GRUB_CMDLINE_LINUX\})(?:\s+(.*?))?\s*"\s*$')


def check_grub_safe(arg, option="args"):
    """Raise ``KernelCmdlineError`` when ``arg`` cannot go into ``GRUB_CMDLINE_LINUX="..."`` safely."""
    bad = sorted(set(c for c in arg if c in GRUB_UNSAFE_CHARS or c in _SPACE or _has_control(c)))
    if bad:
        shown = " ".join("space" if c == " " else repr(c) for c in bad)
        raise KernelCmdlineError(
            "%s: %r contains %s, which cannot be written safely into GRUB_CMDLINE_LINUX=\"...\" "
            "(method grub_d): the shell that sources the drop-in expands \" $ ` \\ and grub.cfg's "
            "script syntax treats quotes, whitespace and ; & | < > specially; use method grubby "
            "or set this argument in /etc/default/grub yourself" % (option, arg, shown))


def render_dropin(args):
    """Content of the grub.d drop-in that appends ``args``; ``None`` when ``args`` is empty.

    Raises ``KernelCmdlineError`` for args that are not safe in the file (see
    ``check_grub_safe``).
    """
    args = list(args)
    if not args:
        return None
    for arg in args:
        check_grub_safe(arg)
    lines = [
        "%s: do not edit, the next run overwrites this file." % MARKER,
        "# It appends to GRUB_CMDLINE_LINUX (every GRUB entry, recovery included) and takes effect",
        "# after update-grub and a reboot. A drop-in can only append: for most parameters the last",
        "# occurrence on the command line wins; a parameter set elsewhere cannot be removed here.",
        'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX %s"' % " ".join(args),
        "",
    ]
    return "\n".join(lines)


def parse_dropin(text):
    """Tokens a drop-in appends with ``GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX ..."``.

    All such lines count, in order.  ``None`` when the text is missing or has no
    such line.
    """
    if text is None:
        return None
    found = None
    for line in text.splitlines():
        match = _DROPIN_LINE_RE.match(line)
        if match:
            found = (found or []) + split_cmdline(match.group(1) or "")
    return found


_ASSIGN_RE = re.compile(r"^\s*(?:export\s+)?(GRUB_CMDLINE_LINUX(?:_DEFAULT)?)=(.*)$")
_VAR_RE = re.compile(r"\$(?:\{(GRUB_CMDLINE_LINUX(?:_DEFAULT)?)\}|(GRUB_CMDLINE_LINUX(?:_DEFAULT)?)(?![A-Za-z0-9_]))")


def _shell_value(raw, env):
    """Best-effort value of a one-line shell assignment's right-hand side."""
    raw = raw.strip()
    out = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "'":
            end = raw.find("'", i + 1)
            end = len(raw) if end < 0 else end
            out.append(raw[i + 1:end])
            i = end + 1
        elif char == '"':
            j = i + 1
            buf = []
            while j < len(raw) and raw[j] != '"':
                if raw[j] == "\\" and j + 1 < len(raw):
                    buf.append(raw[j + 1])
                    j += 2
                    continue
                buf.append(raw[j])
                j += 1
            out.append(_expand("".join(buf), env))
            i = j + 1
        elif char in " \t;#":
            break
        else:
            j = i
            while j < len(raw) and raw[j] not in " \t;'\"#":
                j += 1
            out.append(_expand(raw[i:j], env))
            i = j
    return "".join(out)


def _expand(text, env):
    return _VAR_RE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), text)


def parse_grub_defaults(texts, env=None):
    """``{GRUB_CMDLINE_LINUX: str, GRUB_CMDLINE_LINUX_DEFAULT: str}`` after "sourcing" ``texts``.

    ``texts`` are file contents in the order grub-mkconfig sources them
    (``/etc/default/grub``, then ``/etc/default/grub.d/*.cfg`` sorted).  Only
    one-line assignments of the two variables are understood, with ``'...'``,
    ``"..."`` and bare words and ``$VAR`` / ``${VAR}`` of the two variables;
    anything cleverer (conditionals, other variables, command substitution) is
    not evaluated.  Good enough to warn and to tell where a key is set, not to
    build a boot loader configuration.
    """
    values = dict((name, "") for name in GRUB_VARS)
    values.update(env or {})
    if isinstance(texts, str):
        texts = [texts]
    for text in texts:
        for line in (text or "").splitlines():
            if line.lstrip().startswith("#"):
                continue
            match = _ASSIGN_RE.match(line)
            if not match:
                continue
            values[match.group(1)] = _shell_value(match.group(2), values)
    return values


def grub_d_plan(old_content, args, remove, other_texts_before=(), other_texts_after=()):
    """Plan the drop-in.

    ``old_content``: the drop-in's current text (``None`` = absent).
    ``other_texts_before`` / ``other_texts_after``: the contents of
    ``/etc/default/grub`` and of the other grub.d files sourced before / after
    ours.  Returns a dict:

    * ``content`` - new file content (``None`` = no file: ``args`` is empty);
    * ``changed`` - content differs from ``old_content``;
    * ``previous`` - tokens our old drop-in appended (``[]`` when none);
    * ``removed_keys`` - keys that leave the command line because our drop-in
      no longer sets them: ``remove`` keys, and keys of ``previous`` that are
      no longer in ``args``;
    * ``not_removable`` - ``[{key, reason}]``: ``remove`` keys that the rest
      of the GRUB configuration sets (a drop-in cannot remove them);
    * ``effective`` - tokens of the normal entries' command line after the new
      drop-in (``GRUB_CMDLINE_LINUX`` then ``GRUB_CMDLINE_LINUX_DEFAULT``);
    * ``warnings`` - args that a later setting overrides.
    """
    args = list(args)
    remove = list(remove)
    content = render_dropin(args)
    previous = parse_dropin(old_content) or []
    arg_keys = set(arg_key(a) for a in args)

    removed_keys = []
    for token in previous:
        key = arg_key(token)
        if key not in arg_keys and key not in removed_keys:
            removed_keys.append(key)

    system = parse_grub_defaults(list(other_texts_before) + list(other_texts_after))
    system_keys = {}
    for name in GRUB_VARS:
        for token in split_cmdline(system[name]):
            system_keys.setdefault(arg_key(token), (name, token))
    not_removable = []
    for key in remove:
        if key in system_keys:
            name, token = system_keys[key]
            not_removable.append({
                "key": key,
                "reason": "%s is set in %s by /etc/default/grub or another grub.d file; a grub.d drop-in can "
                          "only append, so method grub_d cannot remove it (edit that file)" % (token, name),
            })
    # only keys that really leave the command line (remove keys are never in
    # args, so those our old drop-in set are already in the list)
    removed_keys = [k for k in removed_keys if k not in system_keys]

    chain = list(other_texts_before) + [content or ""] + list(other_texts_after)
    final = parse_grub_defaults(chain)
    effective = split_cmdline(final["GRUB_CMDLINE_LINUX"]) + split_cmdline(final["GRUB_CMDLINE_LINUX_DEFAULT"])
    effective_by_key = _tokens_by_key(kernel_part(effective)[0])
    warnings = []
    linux_tokens = split_cmdline(final["GRUB_CMDLINE_LINUX"])
    linux_by_key = _tokens_by_key(kernel_part(linux_tokens)[0])
    for arg in args:
        key = arg_key(arg)
        have = effective_by_key.get(key, [])
        if have and have[-1] == arg:
            continue
        if arg not in linux_tokens:
            warnings.append("%s: a grub.d file sourced after this drop-in resets GRUB_CMDLINE_LINUX, so the "
                            "argument does not reach the command line" % arg)
        elif linux_by_key.get(key, [arg])[-1] != arg:
            warnings.append("%s: a grub.d file sourced after this drop-in appends %s to GRUB_CMDLINE_LINUX, which "
                            "comes later on the command line and wins" % (arg, linux_by_key[key][-1]))
        else:
            warnings.append("%s: GRUB_CMDLINE_LINUX_DEFAULT sets %s, which comes after GRUB_CMDLINE_LINUX on the "
                            "command line of the normal entries and wins" % (arg, have[-1]))
    return {
        "content": content,
        "changed": old_content != content,
        "previous": previous,
        "removed_keys": removed_keys,
        "not_removable": not_removable,
        "effective": effective,
        "warnings": warnings,
    }


# --------------------------------------------------------------------------
# Reboot check
# --------------------------------------------------------------------------


def reboot_check(proc_tokens, args, remove, ignore_keys=()):
    """``(reboot_required, reasons)`` for the running kernel's ``/proc/cmdline`` tokens.

    An arg is active when the *last* token with its key is the arg (the kernel
    lets the last occurrence win for most parameters; a grub.d drop-in relies
    on that).  A ``remove`` key is still active when any token has it.  Keys in
    ``ignore_keys`` (e.g. not removable with grub_d) are skipped.
    """
    kernel, _tail = kernel_part(proc_tokens or [])
    by_key = _tokens_by_key(kernel)
    reasons = []
    ignore = set(ignore_keys)
    for arg in args:
        key = arg_key(arg)
        if key in ignore:
            continue
        have = by_key.get(key, [])
        if not have:
            reasons.append("%s is not on the running kernel's command line" % arg)
        elif have[-1] != arg:
            reasons.append("%s is not active: the running kernel has %s" % (arg, " ".join(have)))
    for key in remove:
        if key in ignore:
            continue
        have = by_key.get(key)
        if have:
            reasons.append("%s is still on the running kernel's command line (%s)" % (key, " ".join(have)))
    return bool(reasons), reasons
