"""Durations as people write them: ``90s``, ``20m``, ``1h``, ``7d`` (and back to text).

One parser for every duration flag and field (a watched folder's delivery
deadline, the minimum age before an after-delivery action, ...), shared by the
command line and the app.
"""

from __future__ import annotations

import re

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$", re.IGNORECASE)


class DurationError(ValueError):
    """A duration that cannot be read; the message says how to write one."""


def parse_duration(text: str) -> float:
    """Seconds in ``text``: a number and a unit, ``90s``, ``20m``, ``1h``, ``7d`` (``1.5h``).

    Raises:
        DurationError: ``text`` is not such a duration, or is zero.
    """
    match = _DURATION.match(text)
    if match is None:
        raise DurationError(f"'{text}' is not a duration: write a number and a unit, "
                            "e.g. 90s, 20m, 1h or 7d")
    seconds = float(match.group(1)) * UNITS[match.group(2).lower()]
    if seconds <= 0:
        raise DurationError(f"'{text}' is no time at all: give a duration above zero")
    return seconds


def duration_text(seconds: float) -> str:
    """The shortest exact way to write ``seconds``: ``"1h"``, ``"90m"``, ``"45s"``, ``"7d"``.

    :func:`parse_duration` reads it back to the same number of whole seconds.
    """
    whole = max(0, round(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def duration_words(seconds: float) -> str:
    """``"45 s"``, ``"20 min"``, ``"1 h 30 min"``, ``"7 days"``: for sentences."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"
