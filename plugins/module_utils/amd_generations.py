# -*- coding: utf-8 -*-
# Copyright: hpcai.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CPU generation tables (pure Python, 3.8+).

``generation`` values are exactly those of the ``cpu_topology`` contract:
``zen1`` .. ``zen5c``, ``intel``, ``arm``, ``unknown``.

AMD family/model ranges
-----------------------
The Zen 1..5 ranges mirror ``bsp_init_amd()`` in the Linux kernel's
``arch/x86/kernel/cpu/amd.c`` ("Figure out Zen generations"), as of the 6.12 -
6.18 era:

=======  ===============================================  =======
family   models                                            kernel
=======  ===============================================  =======
0x17     0x00-0x2f, 0x50-0x5f                              ZEN1
0x17     0x30-0x4f, 0x60-0x7f, 0x90-0x91, 0xa0-0xaf        ZEN2
0x19     0x00-0x0f, 0x20-0x5f                              ZEN3
0x19     0x10-0x1f, 0x60-0xaf                              ZEN4
0x1a     0x00-0x2f, 0x40-0x4f, 0x60-0x7f                   ZEN5
0x1a     0x50-0x5f, 0x80-0xaf, 0xc0-0xcf                   ZEN6
=======  ===============================================  =======

The kernel does not distinguish the dense "c" cores.  We split them out by the
server model ranges AMD documents in its PPR/revision-guide titles:

* Bergamo (EPYC 97x4) and Siena (EPYC 8004): family 0x19 models 0xa0-0xaf ->
  ``zen4c``.  (Both are "Family 19h Model A0h" parts; they cannot be told apart
  by family/model - the codename says ``Bergamo/Siena``.)
* Turin dense (EPYC 9xx5 with Zen 5c, e.g. 9965): family 0x1a models
  0x10-0x1f -> ``zen5c`` (PPR "Family 1Ah Model 11h").
* Client hybrids (Phoenix 2 0x19/0x78-0x7f, Strix Point 0x1a/0x20-0x2f,
  Krackan 0x1a/0x60-0x6f) mix full and "c" cores in one package; they are
  reported with the full-core generation (``zen4`` / ``zen5``).

Uncertain / deliberately conservative:

* Zen 6 (Venice etc.) is recognised by the kernel ranges above but the contract
  has no ``zen6`` value, so it maps to ``unknown`` (codename ``Zen 6``) until the
  contract is extended.
* Hygon Dhyana (``HygonGenuine``, family 0x18) is Zen 1 derived but is reported
  as ``unknown`` (we have never tuned for it).
* Model ranges for future steppings move; an AMD family/model outside the table
  gives ``unknown`` rather than a guess.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

__all__ = [
    "AMD_ZEN_RANGES",
    "AMD_SERVER_CODENAMES",
    "ARM_IMPLEMENTERS",
    "amd_generation",
    "amd_codename",
    "generation_for",
    "arm_vendor",
]

# (family, first_model, last_model, generation) - first match wins, so the
# narrower "c" ranges are listed before the kernel's broad ranges.
AMD_ZEN_RANGES = (
    # Zen 4c: Bergamo / Siena.
    (0x19, 0xA0, 0xAF, "zen4c"),
    # Zen 5c: Turin dense.
    (0x1A, 0x10, 0x1F, "zen5c"),
    # Kernel ranges.
    (0x17, 0x00, 0x2F, "zen1"),
    (0x17, 0x50, 0x5F, "zen1"),
    (0x17, 0x30, 0x4F, "zen2"),
    (0x17, 0x60, 0x7F, "zen2"),
    (0x17, 0x90, 0x91, "zen2"),
    (0x17, 0xA0, 0xAF, "zen2"),
    (0x19, 0x00, 0x0F, "zen3"),
    (0x19, 0x20, 0x5F, "zen3"),
    (0x19, 0x10, 0x1F, "zen4"),
    (0x19, 0x60, 0xAF, "zen4"),
    (0x1A, 0x00, 0x2F, "zen5"),
    (0x1A, 0x40, 0x4F, "zen5"),
    (0x1A, 0x60, 0x7F, "zen5"),
)

# Zen 6 ranges known to the kernel; reported as "unknown" (see module doc).
AMD_ZEN6_RANGES = (
    (0x1A, 0x50, 0x5F),
    (0x1A, 0x80, 0xAF),
    (0x1A, 0xC0, 0xCF),
)

# Server (EPYC) codenames by family/model range.  Informational only.
AMD_SERVER_CODENAMES = (
    (0x17, 0x00, 0x0F, "Naples"),  # EPYC 7001 = model 0x01
    (0x17, 0x30, 0x3F, "Rome"),  # EPYC 7002 = model 0x31
    (0x19, 0x00, 0x0F, "Milan"),  # EPYC 7003 (and 7003X Milan-X) = model 0x01
    (0x19, 0x10, 0x1F, "Genoa"),  # EPYC 9004 (and 9004X Genoa-X) = model 0x11
    (0x19, 0xA0, 0xAF, "Bergamo/Siena"),  # EPYC 97x4 / 8004 = model 0xa0
    (0x1A, 0x00, 0x0F, "Turin"),  # EPYC 9005 Zen 5 = model 0x02
    (0x1A, 0x10, 0x1F, "Turin Dense"),  # EPYC 9005 Zen 5c = model 0x11
)

# "X" SKUs carry stacked 3D V-Cache (96 MiB L3 per CCX); same family/model as
# the base part, so the model name is the only cpuinfo hint.
_VCACHE_RE = re.compile(r"\bEPYC\s+\d{4}X\b")

# ARM "CPU implementer" codes (MIDR_EL1[31:24]), from the Arm ARM and the
# kernel's arch/arm64/include/asm/cputype.h.  Note: the implementer is the core
# designer, not the SoC vendor - Ampere Altra (Neoverse N1 cores) and NVIDIA
# Grace (Neoverse V2) report 0x41 "ARM"; AmpereOne reports 0xc0 "Ampere".
ARM_IMPLEMENTERS = {
    0x41: "ARM",
    0x42: "Broadcom",
    0x43: "Cavium",
    0x46: "Fujitsu",
    0x48: "HiSilicon",
    0x4E: "NVIDIA",
    0x50: "APM",
    0x51: "Qualcomm",
    0x61: "Apple",
    0x6D: "Microsoft",
    0xC0: "Ampere",
}


def _in_ranges(family, model, table):
    for row in table:
        if row[0] == family and row[1] <= model <= row[2]:
            return row
    return None


def amd_generation(family, model):
    """Return ``zen1``..``zen5c`` for an AMD family/model, else ``unknown``."""
    if family is None or model is None:
        return "unknown"
    row = _in_ranges(family, model, AMD_ZEN_RANGES)
    return row[3] if row else "unknown"


def amd_codename(family, model, model_name=None):
    """Best-effort server codename (``Genoa``, ``Milan-X`` ...) or ``None``."""
    if family is None or model is None:
        return None
    row = _in_ranges(family, model, AMD_SERVER_CODENAMES)
    if row:
        name = row[3]
        if name in ("Milan", "Genoa") and model_name and _VCACHE_RE.search(model_name):
            name += "-X"
        return name
    if _in_ranges(family, model, AMD_ZEN6_RANGES):
        return "Zen 6"
    return None


def arm_vendor(implementer):
    """Map an ARM implementer code (int) to a vendor name, ``unknown`` if unmapped."""
    if implementer is None:
        return "unknown"
    return ARM_IMPLEMENTERS.get(implementer, "unknown")


def generation_for(vendor, family, model, is_arm=False):
    """Contract ``generation`` for a parsed cpuinfo summary."""
    if is_arm:
        return "arm"
    if vendor == "AuthenticAMD":
        return amd_generation(family, model)
    if vendor == "GenuineIntel":
        return "intel"
    return "unknown"
