"""Sizes in bytes as people write them: ``8M``, ``512K``, ``1.5GiB`` (binary multiples).

The syntax is rclone's: ``K``/``Ki``/``KiB``, ``M``, ``G``, ``T``, ``P`` are powers
of 1024 and ``B`` is bytes; ``MB`` is refused rather than read as either 10^6 or
2^20. A number without a unit takes the caller's default unit (KiB for a
bandwidth rate, as rclone). Bandwidth limits (:mod:`.bandwidth`) and processors'
memory limits (:mod:`.processing.limits`) are read with it.
"""

from __future__ import annotations

import re

KIB = 1024
MULTIPLIERS = {"b": 1, "k": KIB, "m": KIB ** 2, "g": KIB ** 3, "t": KIB ** 4, "p": KIB ** 5}
_SIZE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)([bkmgtp]?)(i?)(b?)$", re.IGNORECASE)


class SizeError(ValueError):
    """Text that is not a size (the caller says which forms it accepts)."""


def parse_size(text: str, default: int | None = KIB) -> float:
    """Bytes from ``8M``, ``512k``, ``1.5MiB``, ``100B`` or a bare number.

    Args:
        text: the size.
        default: the multiplier of a number without a unit (None: a unit is required).

    Raises:
        SizeError: it is not a size.
    """
    match = _SIZE.match(text.strip())
    if match is None:
        raise SizeError(text)
    number, unit, binary, byte = match.groups()
    # "Ki", "KiB" and "K" are binary multiples; "B" alone is bytes; "MB" is refused.
    if (binary and unit.lower() in ("", "b")) or (byte and not binary):
        raise SizeError(text)
    if not unit and default is None:
        raise SizeError(text)
    return float(number) * (MULTIPLIERS[unit.lower()] if unit else (default or 1))


def format_size(size: float) -> str:
    """A size in that syntax: ``4M``, ``512K``, ``1.5G``, ``100B``."""
    for unit in ("P", "T", "G", "M", "K"):
        scale = MULTIPLIERS[unit.lower()]
        if size >= scale:
            return f"{size / scale:.3f}".rstrip("0").rstrip(".") + unit
    return f"{size:.0f}B"
