# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kernel-module guard: are the out-of-tree modules there for a kernel? (pure Python 3.8+, reads files only).

GPU drivers (NVIDIA, AMD) and parallel filesystem clients (BeeGFS, Lustre)
are out-of-tree kernel modules, built by DKMS or shipped as precompiled kmod
packages.  A kernel for which they were not built boots without GPUs or
filesystems.  ``hpcai.cluster.kernel_modules_check`` and
``playbooks/kernel_update.yml`` use this file to refuse such a kernel.

* ``parse_dkms_status(text)``: the lines of ``dkms status`` in the dkms 3.x
  form (``nvidia/550.54.15, 5.14.0-427.13.1.el9_4.x86_64, x86_64: installed``,
  ``amdgpu/6.8.5-2009582.22.04: added``) and the dkms 2.x form
  (``nvidia, 535.104.05, 6.1.0-13-amd64, x86_64: installed``), with the
  states ``added``, ``built``, ``installed``, ``installed-weak from <kernel>``
  (EL kABI weak modules; dkms prints this line in the comma form in every
  version) and ``broken``, and the parenthesised notes dkms appends
  (``(WARNING! Diff between built and installed module!)`` in 2.x,
  ``(Differences between built and installed modules)``, ``(Original modules
  exist)``, ``(Built modules are missing in the kernel modules folder)`` in 3.x).
  Lines that are none of these (``Error! ...``, ``Deprecated feature: ...``)
  are skipped.
* ``find_modules(root, kernel, modules)``: where each module is under
  ``<root>/lib/modules/<kernel>/``.  ``modules.dep`` first (what modprobe
  reads; paths relative to the kernel's module directory unless absolute,
  names normalised like kmod does: basename up to the first dot, ``-`` ->
  ``_``), the file must exist (a dangling ``weak-updates`` symlink does not
  count).  When ``modules.dep`` is missing or does not list the module, the
  directories ``updates/`` (``updates/dkms`` included), ``extra/``,
  ``weak-updates/`` and ``kernel/`` are scanned in depmod's default search
  order.  Module files end in ``.ko``, ``.ko.xz``, ``.ko.zst`` or ``.ko.gz``.
  Symlinks are followed inside ``root`` (an absolute target is taken relative
  to ``root``), so synthetic trees behave like the real one.
* ``check(root, kernel, modules, dkms_status_text=None)``: the verdict, with
  one sentence per problem that names the kernel, the module, what dkms says
  and the command that fixes it.
* Kernel versions: ``rpmvercmp`` (rpm's algorithm, with ``~`` and ``^``),
  ``compare_kernels`` (version part first, then the rest, as rpm compares
  version then release), ``kernel_flavour`` (``+debug``/``+rt`` on EL,
  ``amd64``/``cloud-amd64``/``generic`` on Debian and Ubuntu),
  ``sort_kernels``, ``newest``, and ``scan_kernels(root)`` which tells the
  installed kernels from junk in ``/lib/modules`` (directories left behind
  after a kernel was removed, ``extramodules`` directories).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import os
import re

__all__ = [
    "MODULE_SUFFIXES",
    "SCAN_DIRS",
    "DKMS_STATES",
    "normalize_module",
    "module_name_from_path",
    "parse_dkms_status",
    "dkms_for_kernel",
    "modules_dir",
    "parse_modules_dep",
    "find_modules",
    "check",
    "rpmvercmp",
    "compare_kernels",
    "kernel_flavour",
    "sort_kernels",
    "newest",
    "scan_kernels",
]

MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")
# depmod's default search order (kmod depmod.d(5): "search updates built-in"
# plus the EL dist.conf "extra" and "weak-updates"); kernel/ last.
SCAN_DIRS = ("updates", "extra", "weak-updates", "kernel")
DKMS_STATES = ("installed-weak", "installed", "built", "added", "broken")
# ordering when several dkms entries speak about one module: the most advanced state first
_STATE_RANK = {"installed": 0, "installed-weak": 1, "built": 2, "added": 3, "broken": 4}
_MAX_LINKS = 40
_ARCH_RE = re.compile(r"\.(x86_64|aarch64|ppc64le|ppc64|s390x|i686|armv7hl|riscv64|noarch)(?:\+(\S+))?$")
_DEBIAN_FLAVOUR_RE = re.compile(r"^[^-]+-(?:\d+(?:\.\d+)*-)?(.+)$")
_STATE_RE = re.compile(r"^(installed-weak|installed|built|added|broken)")
_NOTE_RE = re.compile(r"\(([^()]*)\)")
_WEAK_FROM_RE = re.compile(r"^installed-weak\s+from\s+(\S+)")


# --------------------------------------------------------------------------
# module names
# --------------------------------------------------------------------------


def normalize_module(name):
    """A module name as the kernel and kmod see it: ``-`` -> ``_``, no suffix (``nvidia-uvm.ko.xz`` -> ``nvidia_uvm``)."""
    base = os.path.basename(str(name).strip())
    return base.split(".", 1)[0].replace("-", "_")


def module_name_from_path(path):
    """Module name of a module file path, or None when the file is not a kernel module (by its suffix)."""
    base = os.path.basename(path)
    if not base.endswith(MODULE_SUFFIXES):
        return None
    name = normalize_module(base)
    return name or None


# --------------------------------------------------------------------------
# dkms status
# --------------------------------------------------------------------------


def parse_dkms_status(text):
    """Entries of ``dkms status`` output (dkms 2.x and 3.x).

    Each entry: ``module`` (dkms package name as printed), ``version``,
    ``kernel`` and ``arch`` (None for ``added``/``broken``), ``state`` (one of
    ``DKMS_STATES``), ``from_kernel`` (``installed-weak from <kernel>``, else
    None), ``warning`` (the parenthesised notes joined with ``; ``, else None)
    and ``line`` (the line as read).
    """
    entries = []
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or ": " not in line:
            continue
        head, rest = line.split(": ", 1)
        match = _STATE_RE.match(rest.strip())
        if not match:
            continue
        state = match.group(1)
        fields = [f.strip() for f in head.split(",")]
        if not fields[0] or " " in fields[0]:
            continue  # "Error! ...", "Warning: ..." and other prose
        if "/" in fields[0]:
            module, version = fields[0].split("/", 1)
            rest_fields = fields[1:]
        else:
            if len(fields) < 2:
                continue
            module, version = fields[0], fields[1]
            rest_fields = fields[2:]
        if not module or not version:
            continue
        kernel = arch = None
        if len(rest_fields) >= 2:
            kernel, arch = rest_fields[0], rest_fields[1]
        elif len(rest_fields) == 1:
            kernel = rest_fields[0]
        elif state in ("built", "installed", "installed-weak"):
            continue  # a built state needs a kernel; a truncated line tells nothing
        weak = _WEAK_FROM_RE.match(rest.strip())
        notes = [n.strip() for n in _NOTE_RE.findall(rest) if n.strip()]
        entries.append({
            "module": module,
            "version": version,
            "kernel": kernel,
            "arch": arch,
            "state": state,
            "from_kernel": weak.group(1) if weak else None,
            "warning": "; ".join(notes) if notes else None,
            "line": line,
        })
    return entries


def dkms_for_kernel(entries, kernel):
    """The entries that speak about ``kernel``: built/installed for it, and the kernel-less ones (added, broken).

    ``dkms status -k <kernel>`` prints a package that is not built for that
    kernel as ``added``, so kernel-less entries apply to every kernel.
    """
    return [e for e in entries or [] if e.get("kernel") in (None, kernel)]


def _describe_state(entry):
    state = entry["state"]
    text = {
        "added": "added, not built",
        "built": "built, not installed",
        "installed": "installed",
        "broken": "broken",
    }.get(state, state)
    if state == "installed-weak" and entry.get("from_kernel"):
        text = "installed-weak from %s" % entry["from_kernel"]
    if entry.get("warning"):
        text += " (%s)" % entry["warning"]
    return "%s/%s %s" % (entry["module"], entry["version"], text)


def _related(entries, module):
    """dkms entries whose package name fits ``module`` (nvidia -> nvidia, nvidia_uvm; nvidia-open -> nvidia)."""
    out = []
    for entry in entries:
        pkg = normalize_module(entry["module"])
        if pkg == module or module.startswith(pkg + "_") or pkg.startswith(module + "_"):
            out.append(entry)
    return out


# --------------------------------------------------------------------------
# paths inside a root
# --------------------------------------------------------------------------


def _resolve_in_root(root, path):
    """The real path of ``path`` (absolute, inside ``root``) with every symlink followed inside ``root``.

    Returns None when a component is missing, a link dangles or links loop.
    An absolute link target is taken relative to ``root`` (so a synthetic tree
    with ``weak-updates`` links to ``/lib/modules/<other>/extra/...`` resolves
    inside the tree, as it would on the host it was copied from).
    """
    root = os.path.abspath(root or "/")
    rel = os.path.relpath(os.path.abspath(path), root)
    if rel.startswith(".."):
        return None
    pending = [p for p in rel.split(os.sep) if p and p != "."]
    current = root
    links = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            current = os.path.dirname(current) if current != root else root
            continue
        candidate = os.path.join(current, part)
        if os.path.islink(candidate):
            links += 1
            if links > _MAX_LINKS:
                return None
            try:
                target = os.readlink(candidate)
            except OSError:
                return None
            if target.startswith("/"):
                current = root
            pending = [p for p in target.split("/") if p and p != "."] + pending
            continue
        if not os.path.lexists(candidate):
            return None
        current = candidate
    return current


def _is_module_file(root, path):
    real = _resolve_in_root(root, path)
    return real is not None and os.path.isfile(real)


def modules_dir(root):
    """``<root>/lib/modules`` (or ``<root>/usr/lib/modules`` when only that exists, merged /usr without the link)."""
    root = root or "/"
    primary = os.path.join(root, "lib", "modules")
    if os.path.isdir(primary):
        return primary
    alternative = os.path.join(root, "usr", "lib", "modules")
    if os.path.isdir(alternative):
        return alternative
    return primary


# --------------------------------------------------------------------------
# finding modules
# --------------------------------------------------------------------------


def parse_modules_dep(text):
    """``{module name: path as written}`` from ``modules.dep`` (first entry per name wins, as in depmod's output)."""
    found = {}
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        path = line.split(":", 1)[0].strip()
        name = module_name_from_path(path)
        if name and name not in found:
            found[name] = path
    return found


def _read(path):
    try:
        with open(path, "r") as handle:
            return handle.read()
    except (IOError, OSError, UnicodeDecodeError):
        return None


def _scan(root, kdir, wanted):
    """{name: path} of the first file of each wanted module in SCAN_DIRS order (symlinks followed inside root)."""
    found = {}
    for sub in SCAN_DIRS:
        top = os.path.join(kdir, sub)
        if not os.path.isdir(top) or len(found) == len(wanted):
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for filename in sorted(filenames):
                name = module_name_from_path(filename)
                if name not in wanted or name in found:
                    continue
                path = os.path.join(dirpath, filename)
                if _is_module_file(root, path):
                    found[name] = path
    return found


def find_modules(root, kernel, modules):
    """Where the wanted modules are for ``kernel`` under ``root``.

    Returns a dict:

    * ``kernel_dir`` - ``<root>/lib/modules/<kernel>``;
    * ``kernel_present`` - that directory exists;
    * ``modules_dep`` - ``modules.dep`` exists there;
    * ``found`` - ``{module: path}`` (normalised module names, real paths);
    * ``source`` - ``{module: "modules.dep" | "scan"}``;
    * ``missing`` - wanted modules not found, in the order given;
    * ``stale`` - ``{module: path}`` for modules.dep entries whose file is gone
      (a dangling weak-updates link, a module deleted by hand).
    """
    wanted = []
    for module in modules or []:
        name = normalize_module(module)
        if name and name not in wanted:
            wanted.append(name)
    kdir = os.path.join(modules_dir(root), str(kernel))
    result = {
        "kernel_dir": kdir,
        "kernel_present": os.path.isdir(kdir),
        "modules_dep": False,
        "found": {},
        "source": {},
        "missing": [],
        "stale": {},
    }
    if not result["kernel_present"]:
        result["missing"] = list(wanted)
        return result
    dep_text = _read(os.path.join(kdir, "modules.dep"))
    result["modules_dep"] = dep_text is not None
    listed = parse_modules_dep(dep_text)
    for name in wanted:
        rel = listed.get(name)
        if rel is None:
            continue
        path = os.path.join(root or "/", rel.lstrip("/")) if rel.startswith("/") else os.path.join(kdir, rel)
        if _is_module_file(root, path):
            result["found"][name] = path
            result["source"][name] = "modules.dep"
        else:
            result["stale"][name] = path
    rest = set(n for n in wanted if n not in result["found"])
    if rest:
        for name, path in _scan(root, kdir, rest).items():
            result["found"][name] = path
            result["source"][name] = "scan"
    result["missing"] = [n for n in wanted if n not in result["found"]]
    return result


# --------------------------------------------------------------------------
# the verdict
# --------------------------------------------------------------------------


def _display(path, root):
    """A path as the admin sees it on the node (without the synthetic root prefix)."""
    root = os.path.abspath(root or "/")
    if root == "/":
        return path
    rel = os.path.relpath(path, root)
    return path if rel.startswith("..") else "/" + rel


def _missing_reason(module, kernel, kdir_shown, related, all_entries, dkms_known, stale_path):
    where = "not in modules.dep and not under extra/, updates/, weak-updates/ or kernel/ of %s" % kdir_shown
    if stale_path:
        where = ("listed in modules.dep as %s, but that file is gone (a dangling weak-updates link or a deleted "
                 "module); nothing else under extra/, updates/, weak-updates/ or kernel/ of %s"
                 % (stale_path, kdir_shown))
    if related:
        best = sorted(related, key=lambda e: _STATE_RANK.get(e["state"], 9))[0]
        status = ", ".join(_describe_state(e) for e in related)
        package = "%s/%s" % (best["module"], best["version"])
        if best["state"] == "added":
            return ("%s is not built for %s (dkms status: %s); run `dkms autoinstall -k %s`"
                    % (module, kernel, status, kernel))
        if best["state"] == "built":
            return ("%s is built for %s but not installed (dkms status: %s); run `dkms install %s -k %s`"
                    % (module, kernel, status, package, kernel))
        if best["state"] in ("installed", "installed-weak"):
            return ("%s is missing for %s although dkms reports it installed (dkms status: %s): %s; run "
                    "`dkms install --force %s -k %s` and `depmod -a %s`"
                    % (module, kernel, status, where, package, kernel, kernel))
        return ("%s is missing for %s and its dkms package is broken (dkms status: %s: the source directory is "
                "gone); reinstall the driver package that ships %s, then run `dkms autoinstall -k %s`"
                % (module, kernel, status, package, kernel))
    if dkms_known:
        if all_entries:
            status = ", ".join(_describe_state(e) for e in all_entries)
            return ("%s is missing for %s: %s; no dkms package is named after it (dkms status: %s); run "
                    "`dkms autoinstall -k %s`, or install the kmod package built for %s"
                    % (module, kernel, where, status, kernel, kernel))
        return ("%s is missing for %s: %s, and dkms knows no package for %s (dkms status is empty); install the "
                "driver (DKMS package, or the kmod package built for %s)" % (module, kernel, where, kernel, kernel))
    return ("%s is missing for %s: %s; build it (`dkms autoinstall -k %s`) or install the kmod package built "
            "for %s" % (module, kernel, where, kernel, kernel))


def check(root, kernel, modules, dkms_status_text=None):
    """Are all ``modules`` there for ``kernel`` under ``root``?

    ``dkms_status_text`` is the output of ``dkms status`` (``-k <kernel>`` or
    all kernels; None = not known).  Returns a dict:

    * ``kernel``, ``kernel_present`` (``<root>/lib/modules/<kernel>`` exists);
    * ``found`` - ``{module: path}``; ``missing`` - module names (normalised);
    * ``dkms`` - the parsed dkms entries for this kernel (and the kernel-less
      ``added``/``broken`` ones);
    * ``ok`` - the kernel is present and nothing is missing;
    * ``reasons`` - one sentence per problem, naming kernel, module and fix;
    * ``notices`` - things that do not block (module only found by scanning,
      so ``depmod -a`` is due; dkms notes on a module that is there).
    """
    kernel = str(kernel)
    where = find_modules(root, kernel, modules)
    entries = parse_dkms_status(dkms_status_text) if dkms_status_text is not None else []
    for_kernel = dkms_for_kernel(entries, kernel)
    kdir_shown = _display(where["kernel_dir"], root)
    reasons = []
    notices = []
    if not where["kernel_present"]:
        if where["missing"]:
            reasons.append("kernel %s is not installed: %s does not exist, so %s cannot load under it (missing: %s)"
                           % (kernel, kdir_shown, ", ".join(where["missing"]), ", ".join(where["missing"])))
    else:
        if not where["modules_dep"]:
            notices.append("%s/modules.dep is missing: the kernel %s looks half-installed; run `depmod -a %s`"
                           % (kdir_shown, kernel, kernel))
        for module in where["missing"]:
            stale = where["stale"].get(module)
            reasons.append(_missing_reason(module, kernel, kdir_shown, _related(for_kernel, module), for_kernel,
                                           dkms_status_text is not None,
                                           _display(stale, root) if stale else None))
        for module, path in where["found"].items():
            if where["source"].get(module) == "scan" and where["modules_dep"]:
                notices.append("%s for %s is at %s but not in modules.dep, so modprobe cannot load it; run "
                               "`depmod -a %s`" % (module, kernel, _display(path, root), kernel))
            for entry in _related(for_kernel, module):
                if entry.get("kernel") == kernel and entry.get("warning"):
                    notices.append("%s for %s: dkms status says %s" % (module, kernel, _describe_state(entry)))
    found = dict((m, _display(p, root)) for m, p in where["found"].items())
    return {
        "kernel": kernel,
        "kernel_present": where["kernel_present"],
        "found": found,
        "missing": list(where["missing"]),
        "dkms": for_kernel,
        "ok": where["kernel_present"] and not where["missing"],
        "reasons": reasons,
        "notices": _unique(notices),
    }


def _unique(items):
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


# --------------------------------------------------------------------------
# kernel versions
# --------------------------------------------------------------------------

_SEGMENT_RE = re.compile(r"(\d+|[A-Za-z]+|~|\^)")


def rpmvercmp(a, b):
    """rpm's version comparison (-1, 0, 1): alternating digit/letter segments, separators ignored.

    Digits compare numerically (leading zeros ignored) and beat letters; ``~``
    sorts before anything (pre-releases), ``^`` after the base but before any
    other continuation; when one string runs out first, the longer one is
    newer.  Same rules as rpmio/rpmvercmp.c.
    """
    a = "" if a is None else str(a)
    b = "" if b is None else str(b)
    if a == b:
        return 0
    sa = _SEGMENT_RE.findall(a)
    sb = _SEGMENT_RE.findall(b)
    i = 0
    while True:
        xa = sa[i] if i < len(sa) else None
        xb = sb[i] if i < len(sb) else None
        if xa == "~" or xb == "~":
            if xa != "~":
                return 1
            if xb != "~":
                return -1
            i += 1
            continue
        if xa == "^" or xb == "^":
            if xa is None:
                return -1
            if xb is None:
                return 1
            if xa != "^":
                return 1
            if xb != "^":
                return -1
            i += 1
            continue
        if xa is None or xb is None:
            if xa is None and xb is None:
                return 0
            return -1 if xa is None else 1
        if xa.isdigit() != xb.isdigit():
            return 1 if xa.isdigit() else -1
        if xa.isdigit():
            na, nb = int(xa), int(xb)
            if na != nb:
                return 1 if na > nb else -1
        elif xa != xb:
            return 1 if xa > xb else -1
        i += 1


def compare_kernels(a, b):
    """Order two ``uname -r`` strings (-1, 0, 1): the upstream version (before the first ``-``), then the rest.

    EL ``5.14.0-503.el9.x86_64`` is newer than ``5.14.0-427.13.1.el9_4.x86_64``;
    Debian ``6.1.0-28-amd64`` is newer than ``6.1.0-9-amd64``.  Version and
    rest are compared with ``rpmvercmp`` separately, as rpm compares version
    then release.
    """
    va, ra = (str(a).split("-", 1) + [""])[:2]
    vb, rb = (str(b).split("-", 1) + [""])[:2]
    return rpmvercmp(va, vb) or rpmvercmp(ra, rb) or (0 if a == b else (1 if str(a) > str(b) else -1))


def kernel_flavour(kernel):
    """The flavour of a kernel release: EL ``+debug``/``+rt``/``+64k`` (``""`` for the standard kernel),
    Debian/Ubuntu the suffix after the ABI number (``amd64``, ``cloud-amd64``, ``rt-amd64``, ``generic``)."""
    kernel = str(kernel or "")
    match = _ARCH_RE.search(kernel)
    if match:
        return match.group(2) or ""
    match = _DEBIAN_FLAVOUR_RE.match(kernel)
    if match and not match.group(1)[:1].isdigit():
        return match.group(1)
    return ""


def sort_kernels(kernels):
    """Kernel releases oldest first (``compare_kernels``), duplicates dropped."""
    unique = []
    for kernel in kernels or []:
        if kernel and kernel not in unique:
            unique.append(str(kernel))
    return sorted(unique, key=functools.cmp_to_key(compare_kernels))


def newest(kernels, flavour=None):
    """The newest kernel; with ``flavour`` only kernels of that flavour count (all of them when none has it)."""
    kernels = sort_kernels(kernels)
    if flavour is not None:
        same = [k for k in kernels if kernel_flavour(k) == flavour]
        if same:
            kernels = same
    return kernels[-1] if kernels else None


def _has_image(root, kdir, name):
    if os.path.isfile(os.path.join(kdir, "vmlinuz")):  # EL ships the image in the module directory too
        return True
    boot = os.path.join(root or "/", "boot")
    return os.path.isfile(os.path.join(boot, "vmlinuz-" + name))


def scan_kernels(root):
    """Installed kernels under ``<root>/lib/modules`` and the entries that are not kernels.

    A directory is an installed kernel when its name starts with a digit, it
    has ``modules.dep`` (or ``modules.dep.bin``) and either a ``kernel/``
    directory or an image (``vmlinuz`` inside it, EL, or
    ``/boot/vmlinuz-<name>``).  Everything else is reported in ``ignored``
    with the reason: ``extramodules-*`` and other non-version names, files,
    directories without modules.dep (what DKMS or weak-modules leave behind
    after the kernel package is gone), and modules.dep without modules or
    image (what a removed Debian kernel leaves).

    Returns ``{"kernels": [...oldest first], "ignored": [{"name", "reason"}]}``.
    """
    base = modules_dir(root)
    kernels = []
    ignored = []
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return {"kernels": [], "ignored": []}
    for name in names:
        path = os.path.join(base, name)
        if not os.path.isdir(path):
            ignored.append({"name": name, "reason": "not a directory"})
            continue
        if not name[:1].isdigit():
            ignored.append({"name": name, "reason": "not a kernel release name"})
            continue
        has_dep = os.path.isfile(os.path.join(path, "modules.dep")) or os.path.isfile(
            os.path.join(path, "modules.dep.bin"))
        if not has_dep:
            ignored.append({"name": name, "reason": "no modules.dep (left over after the kernel was removed?)"})
            continue
        if not (os.path.isdir(os.path.join(path, "kernel")) or _has_image(root, path, name)):
            ignored.append({"name": name, "reason": "modules.dep without kernel/ or a kernel image (left over "
                                                    "after the kernel was removed?)"})
            continue
        kernels.append(name)
    return {"kernels": sort_kernels(kernels), "ignored": ignored}
