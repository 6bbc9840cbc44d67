"""Numbers for people, shared by the command line and the GUI: sizes, rates, times, states.

Sizes are in IEC binary units everywhere (``B``, ``KiB``, ``MiB``, ``GiB``...),
so a chunk size of 524 288 bytes reads ``512 KiB`` in the form, the table and
the terminal alike.
"""

from __future__ import annotations

import enum
import math

from openmsi_gui.engine.events import Direction

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_STEP = 1024.0


def unit_for(n: float) -> tuple[float, str]:
    """The divisor and unit that make ``n`` bytes read as 0 to 1023.9 units (PiB at most)."""
    divisor = 1.0
    for unit in _UNITS:
        if abs(n) < divisor * (_STEP - 0.05) or unit == _UNITS[-1]:
            return divisor, unit
        divisor *= _STEP
    raise AssertionError("unreachable")  # pragma: no cover


def _number(value: float, unit: str) -> str:
    return f"{value:.0f}" if unit == "B" else f"{value:.1f}"


def format_bytes(n: float) -> str:
    """``n`` bytes: ``"512 B"``, ``"1.5 KiB"``, ``"12.3 MiB"``; whole units without decimals.

    >>> format_bytes(524288), format_bytes(1536), format_bytes(0)
    ('512 KiB', '1.5 KiB', '0 B')
    """
    divisor, unit = unit_for(n)
    value = n / divisor
    text = f"{value:.0f}" if float(value).is_integer() else _number(value, unit)
    return f"{text} {unit}"


def format_transferred(done: int, total: int, approximate: bool = False) -> str:
    """Bytes moved out of the total, in the total's unit: ``"12.3 / 45.6 MiB"``.

    ``approximate``: the total is an estimate (a download before its last chunk),
    shown as ``"12.3 / ~45.6 MiB"``.
    """
    if total <= 0:
        return format_bytes(done) if done else ""
    if done >= total and not approximate:
        return format_bytes(total)
    divisor, unit = unit_for(total)
    about = "~" if approximate else ""
    return f"{_number(done / divisor, unit)} / {about}{_number(total / divisor, unit)} {unit}"


def count_text(count: int, noun: str, plural: str = "") -> str:
    """``"1 file"``, ``"21 files"``, ``"0 files"`` (``plural`` if not ``noun + "s"``)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def format_rate(bytes_per_second: float) -> str:
    """A transfer rate: ``"4.2 MiB/s"``; empty when nothing is moving."""
    if bytes_per_second <= 0 or not math.isfinite(bytes_per_second):
        return ""
    return f"{format_bytes(bytes_per_second)}/s"


def rate_or_zero(bytes_per_second: float) -> str:
    """:func:`format_rate`, but ``"0 B/s"`` when nothing is moving."""
    return format_rate(bytes_per_second) or "0 B/s"


def format_eta(seconds: float | None) -> str:
    """Time left as ``"0:12"`` or ``"1:02:03"``; empty when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    hours, rest = divmod(math.ceil(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_chunks(done: int, total: int) -> str:
    """``"3/10"``, or empty before the number of chunks is known."""
    return f"{done}/{total}" if total else ""


def format_percent(fraction: float) -> str:
    """``"42%"`` (rounded down, so 100% means finished)."""
    return f"{math.floor(max(0.0, min(1.0, fraction)) * 100)}%"


def first_line(text: str) -> str:
    """The first non-empty line of ``text`` (for a one-line cell or status)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def direction_text(direction: Direction) -> str:
    """An arrow and a word, so the direction is not told by the arrow alone."""
    return "↑ Upload" if direction is Direction.UPLOAD else "↓ Download"


class ItemState(enum.Enum):
    """How a watched folder or destination is doing, as its list shows it."""

    DISABLED = "Disabled"
    PAUSED = "Paused"
    FAILED = "Failed"
    WAITING = "Waiting"
    ENABLED = "Enabled"


def item_state(enabled: bool, paused: bool, failed: bool = False,
               waiting: bool = False) -> ItemState:
    """The state of a folder or destination; its word is :attr:`ItemState.value`.

    ``waiting``: its job runs but cannot go on for now (e.g. the disk is full).
    """
    if not enabled:
        return ItemState.DISABLED
    if paused:
        return ItemState.PAUSED
    if failed:
        return ItemState.FAILED
    return ItemState.WAITING if waiting else ItemState.ENABLED
