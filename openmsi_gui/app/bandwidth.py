"""Bandwidth limits as the user sees them: checks for the forms, the limit in force as text.

The syntax and its enforcement are the engine's (:mod:`openmsi_gui.engine.bandwidth`);
this module decides which limit applies to what, and says it in plain words for
the CLI, the forms, the tray and the status bar.
"""

from __future__ import annotations

from datetime import datetime

from openmsi_gui.app.formatting import format_bytes
from openmsi_gui.app.settings import BandwidthSettings, Destination, WatchedFolder
from openmsi_gui.engine.bandwidth import OFF, BandwidthError, Rates, Timetable
from openmsi_gui.engine.events import Direction

LIMIT_HINT = ("e.g. 8M (MiB/s), 10M:1M (upload:download), or a timetable such as "
              "\"08:00,4M 18:00,off\" or \"Mon-08:00,4M Sat-00:00,off\"; empty for none")
"""Placeholder and tooltip text of the limit fields."""


def limit_problem(text: str, required: bool = False) -> str | None:
    """Why ``text`` is not a bandwidth limit (None if it is); ``required``: "" is refused."""
    if required and (not text.strip() or Timetable.parse_or_off(text).is_off):
        return "the preset must limit something, e.g. 1M (1 MiB/s)"
    try:
        Timetable.parse(text)
    except BandwidthError as exc:
        return str(exc)
    return None


def item_limit(item: WatchedFolder | Destination) -> Timetable:
    """The limit of one folder or destination (no limit if the text is not one)."""
    return Timetable.parse_or_off(item.bwlimit)


def app_limit(bandwidth: BandwidthSettings) -> Timetable:
    """The app-wide limit in force: the preset while "Limit bandwidth now" is on."""
    return Timetable.parse_or_off(bandwidth.preset if bandwidth.limit_now else bandwidth.limit)


def _rate_text(rate: float | None) -> str:
    return "no limit" if rate is None else f"{format_bytes(rate)}/s"


def rates_text(rates: Rates) -> str:
    """``"4 MiB/s"``, or ``"10 MiB/s up, 1 MiB/s down"`` when they differ."""
    if rates.up == rates.down:
        return _rate_text(rates.up)
    return f"{_rate_text(rates.up)} up, {_rate_text(rates.down)} down"


def status_text(timetable: Timetable, now: datetime | None = None) -> str:
    """The status bar's words for the limit in force: ``"Limited to 4 MiB/s"``, or ""."""
    rates = timetable.at(now or datetime.now())
    if rates == Rates():
        return ""
    return f"Limited to {rates_text(rates)}"


def describe_limit(timetable: Timetable, direction: Direction | None = None,
                   now: datetime | None = None) -> str:
    """A limit for a log line: ``"4 MiB/s now (08:00,4M 18:00,off)"``."""
    rates = timetable.at(now or datetime.now())
    text = (rates_text(rates) if direction is None else _rate_text(rates.of(direction)))
    return text if timetable.constant or timetable is OFF else f"{text} now ({timetable})"
