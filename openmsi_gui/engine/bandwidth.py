"""Bandwidth limits in rclone's ``--bwlimit`` syntax, and the token buckets that apply them.

A limit is a :class:`Timetable`: ``8M`` (8 MiB/s both ways), ``10M:1M`` (upload
10 MiB/s, download 1 MiB/s), ``off``, or entries ``[DAY-]HH:MM,RATE`` separated
by spaces or semicolons (``"08:00,4M 18:00,off"``, ``"Mon-08:00,4M Sat-00:00,off"``).
Rates are bytes per second with binary multiples: ``K``/``Ki``/``KiB`` (the
default unit, as rclone), ``M``, ``G``, ``T``, ``P``, or ``B`` for bytes; ``0``
and ``off`` mean no limit. An entry without a day applies to every day. The
entry in force is the latest one at or before now, in local time, wrapping
round the week (before the week's first entry, its last one holds).

librdkafka has no rate limit of its own: the uploader waits before each
produce call (:meth:`Pacer.pace`), and the downloader stops reading while its
:class:`Pacer` is in debt (:meth:`Pacer.account`, :meth:`Pacer.delay`). A
:class:`Limit` holds a timetable that may be replaced at run time (the app's
"Limit bandwidth now") and one token bucket per direction; a job's
:class:`Pacer` takes from its own limit and from the app-wide one, shared by
every job.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from openmsi_gui.engine.events import Direction
from openmsi_gui.engine.sizes import SizeError, format_size, parse_size

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MINUTES_PER_DAY = 24 * 60
_TIME = re.compile(r"^(\d\d):(\d\d)$")
ACCEPTED_FORMS = ("a rate such as 8M (MiB/s), 512K or off, an upload:download pair such "
                  "as 10M:1M, or a timetable such as \"08:00,4M 18:00,off\" or "
                  "\"Mon-08:00,4M Sat-00:00,off\"")


class BandwidthError(ValueError):
    """A limit that cannot be read; the message says which forms are accepted."""


def _bad(text: str, what: str) -> BandwidthError:
    return BandwidthError(f"cannot read the bandwidth limit {text!r} ({what}): "
                          f"use {ACCEPTED_FORMS}")


def parse_rate(text: str, whole: str | None = None) -> float | None:
    """Bytes per second from ``8M``, ``512k``, ``1.5MiB``, ``100`` (KiB) or ``off`` (None).

    Args:
        text: the rate.
        whole: the limit it is part of, for the error message.

    Raises:
        BandwidthError: the text is not a rate.
    """
    value = text.strip()
    if value.lower() == "off":
        return None
    try:
        rate = parse_size(value)  # a bare number is KiB/s, as in rclone
    except SizeError:
        what = f"{value!r} is not a rate" if value else "a rate is missing"
        raise _bad(whole or text, what) from None
    return rate or None  # 0 means no limit, as in rclone


def format_rate(rate: float | None) -> str:
    """A rate in the limit syntax: ``4M``, ``512K``, ``1.5G``, ``off``."""
    return "off" if rate is None else format_size(rate)


@dataclass(frozen=True, slots=True)
class Rates:
    """Upload and download rates in bytes per second (None: no limit)."""

    up: float | None = None
    down: float | None = None

    def of(self, direction: Direction) -> float | None:
        """The rate for ``direction``."""
        return self.up if direction is Direction.UPLOAD else self.down

    def __str__(self) -> str:
        up, down = format_rate(self.up), format_rate(self.down)
        return up if up == down else f"{up}:{down}"

    @classmethod
    def parse(cls, text: str, whole: str | None = None) -> Rates:
        """``8M`` (both ways) or ``UP:DOWN`` such as ``10M:off`` (``whole``: for errors)."""
        up, sep, down = text.partition(":")
        first = parse_rate(up, whole or text)
        return cls(first, parse_rate(down, whole or text) if sep else first)


@dataclass(frozen=True, slots=True)
class Slot:
    """A timetable entry: from ``minute`` of the week (Monday 00:00 is 0) on, ``rates``."""

    minute: int
    rates: Rates
    every_day: bool = False


@dataclass(frozen=True, slots=True)
class Timetable:
    """A bandwidth limit, constant or changing with the time of the week.

    Attributes:
        slots: the entries, sorted by minute of the week; empty means no limit.
        constant: the limit is one rate whatever the time.
    """

    slots: tuple[Slot, ...] = ()
    constant: bool = True

    @classmethod
    def parse(cls, text: str) -> Timetable:
        """Read rclone's ``--bwlimit`` syntax; an empty text is no limit.

        Raises:
            BandwidthError: the text is not a limit (the message says which forms are).
        """
        value = text.strip()
        if not value:
            return OFF
        if "," not in value and (" " in value or ";" in value):
            raise _bad(text, f"{value!r} is not a rate")  # "4 MB/s", not a timetable
        if " " not in value and ";" not in value and "," not in value:
            if _TIME.match(value):
                raise _bad(text, f"the time {value} has no rate after it")
            rates = Rates.parse(value)
            return OFF if rates == Rates() else cls((Slot(0, rates),), constant=True)
        slots: list[Slot] = []
        for token in re.split(r"[ ;]+", value):
            when, comma, rate = token.partition(",")
            if not comma or "," in rate:
                raise _bad(text, f"{token!r} is not TIME,RATE")
            rates = Rates.parse(rate, text)
            day, dash, hhmm = when.rpartition("-")
            minute = _minute_of_day(hhmm, text)
            if dash:
                slots.append(Slot(_day(day, text) * _MINUTES_PER_DAY + minute, rates))
            else:
                slots += [Slot(d * _MINUTES_PER_DAY + minute, rates, every_day=True)
                          for d in range(7)]
        # Stable: of two entries at one time, the one written last wins (as rclone).
        return cls(tuple(sorted(slots, key=lambda s: s.minute)), constant=False)

    @classmethod
    def parse_or_off(cls, text: str) -> Timetable:
        """:meth:`parse`, but no limit for a text that is not one (checked elsewhere)."""
        try:
            return cls.parse(text)
        except BandwidthError:
            return OFF

    @property
    def is_off(self) -> bool:
        """Whether this never limits anything."""
        return all(s.rates.up is None and s.rates.down is None for s in self.slots)

    def at(self, when: datetime) -> Rates:
        """The rates in force at local time ``when``."""
        if not self.slots:
            return Rates()
        minute = when.weekday() * _MINUTES_PER_DAY + when.hour * 60 + when.minute
        current = self.slots[-1]  # before the week's first entry the last one holds
        for slot in self.slots:
            if slot.minute > minute:
                break
            current = slot
        return current.rates

    def ceiling(self, direction: Direction) -> float | None:
        """The highest rate this ever allows in ``direction`` (None: at times no limit)."""
        rates = [s.rates.of(direction) for s in self.slots]
        if not rates or None in rates:
            return None
        return max(r for r in rates if r is not None)

    def at_now(self) -> Rates:
        """The rates in force now (local time)."""
        return self.at(datetime.now())

    def __str__(self) -> str:
        if not self.slots:
            return "off"
        if self.constant:
            return str(self.slots[0].rates)
        parts: list[str] = []
        for slot in self.slots:
            day, minute = divmod(slot.minute, _MINUTES_PER_DAY)
            hhmm = f"{minute // 60:02d}:{minute % 60:02d},{slot.rates}"
            if not slot.every_day:
                parts.append(f"{_DAYS[day].capitalize()}-{hhmm}")
            elif day == 0:
                parts.append(hhmm)
        return " ".join(parts)


OFF = Timetable()


def _minute_of_day(hhmm: str, text: str) -> int:
    match = _TIME.match(hhmm)
    if match is None:
        raise _bad(text, f"{hhmm!r} is not a time HH:MM")
    hours, minutes = int(match[1]), int(match[2])
    if hours > 23 or minutes > 59:
        raise _bad(text, f"{hhmm!r} is not a time from 00:00 to 23:59")
    return hours * 60 + minutes


def _day(name: str, text: str) -> int:
    lowered = name.lower()
    for i, (short, full) in enumerate(zip(_DAYS, _DAY_NAMES, strict=True)):
        if lowered in (short, full):
            return i
    raise _bad(text, f"{name!r} is not a day such as Mon or Monday")


def parse_limit(text: str) -> Timetable:
    """:meth:`Timetable.parse` (for argparse ``type=`` and form validation)."""
    return Timetable.parse(text)


class TokenBucket:
    """A thread-safe token bucket whose rate is looked up at every use.

    Tokens may go negative: :meth:`take` books the bytes at once and answers how
    long the caller must wait before sending them, so concurrent callers are
    served in turn. With no rate, nothing is counted and nothing waits.

    Args:
        rate: bytes per second now, or None for no limit.
        burst: seconds of traffic that may go at once after a quiet time.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(self, rate: Callable[[], float | None], burst: float = 0.25,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = 0.0
        self._last = clock()

    def take(self, n: int) -> float:
        """Book ``n`` bytes; the seconds to wait before they may go (0 if at once)."""
        with self._lock:
            rate = self._refill()
            if rate is None:
                return 0.0
            self._tokens -= n
            return max(0.0, -self._tokens / rate)

    def delay(self) -> float:
        """Seconds until the bytes booked so far are paid for."""
        with self._lock:
            rate = self._refill()
            return 0.0 if rate is None else max(0.0, -self._tokens / rate)

    def _refill(self) -> float | None:
        now = self._clock()
        rate = self._rate()
        elapsed, self._last = now - self._last, now
        if rate is None:
            self._tokens = 0.0
            return None
        self._tokens = min(rate * self._burst, self._tokens + elapsed * rate)
        return rate


class Limit:
    """A bandwidth limit that may change at run time, with a token bucket per direction.

    Args:
        timetable: the limit to start with.
        now: local time (injectable for tests).
        clock: monotonic seconds for the buckets.
        lasting: the limit holds for the life of the jobs using it, so a consumer may
            size its prefetch to it (see :meth:`Pacer.ceiling`); False for one that may
            be lifted while they run (the app's "Limit bandwidth now").
    """

    def __init__(self, timetable: Timetable = OFF,
                 now: Callable[[], datetime] = datetime.now,
                 clock: Callable[[], float] = time.monotonic, lasting: bool = True) -> None:
        self.lasting = lasting
        self._timetable = timetable
        self._now = now
        self._buckets = {d: TokenBucket(functools.partial(self.rate, d), clock=clock)
                         for d in Direction}

    @property
    def timetable(self) -> Timetable:
        """The limit now configured."""
        return self._timetable

    def set(self, timetable: Timetable) -> None:
        """Use ``timetable`` from now on (any thread)."""
        self._timetable = timetable

    def rate(self, direction: Direction) -> float | None:
        """Bytes per second allowed now in ``direction`` (None: no limit)."""
        timetable = self._timetable
        if timetable.constant:
            return timetable.slots[0].rates.of(direction) if timetable.slots else None
        return timetable.at(self._now()).of(direction)

    def bucket(self, direction: Direction) -> TokenBucket:
        """The bucket every user of this limit takes from in ``direction``."""
        return self._buckets[direction]


class Pacer:
    """One job's pace in one direction: it takes from each of its limits.

    Args:
        direction: which way the job's bytes go.
        limits: the job's own limit, the app-wide one, ... (all must allow).
    """

    def __init__(self, direction: Direction, limits: Sequence[Limit]) -> None:
        self.direction = direction
        self._limits = tuple(limits)
        self._buckets = [limit.bucket(direction) for limit in self._limits]
        self._waits = 0
        self._lock = threading.Lock()

    @property
    def waits(self) -> int:
        """How many times the limit made this job wait (to see that it was engaged)."""
        return self._waits

    def rate(self) -> float | None:
        """The lowest rate in force now, or None when nothing limits."""
        rates = [r for r in (limit.rate(self.direction) for limit in self._limits)
                 if r is not None]
        return min(rates) if rates else None

    def ceiling(self) -> float | None:
        """The highest rate the lasting limits ever allow together (None: at times none)."""
        rates = [r for r in (limit.timetable.ceiling(self.direction)
                             for limit in self._limits if limit.lasting) if r is not None]
        return min(rates) if rates else None

    def reverse(self) -> Pacer:
        """The same limits the other way (a destination's uploads to S3, say)."""
        other = Direction.DOWNLOAD if self.direction is Direction.UPLOAD else Direction.UPLOAD
        return Pacer(other, self._limits)

    def pace(self, n: int, stop: threading.Event) -> bool:
        """Wait until ``n`` more bytes may be sent; False if ``stop`` was set meanwhile."""
        wait = max((bucket.take(n) for bucket in self._buckets), default=0.0)
        if wait > 0:
            self._count_wait()
            return not stop.wait(wait)
        return not stop.is_set()

    def pace_polled(self, n: int, stopping: Callable[[], bool]) -> bool:
        """:meth:`pace`, asking ``stopping()`` every 0.2 s instead of waiting on an event."""
        wait = max((bucket.take(n) for bucket in self._buckets), default=0.0)
        if wait > 0:
            self._count_wait()
        deadline = time.monotonic() + wait
        while not stopping():
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            time.sleep(min(0.2, left))
        return False

    def account(self, n: int) -> None:
        """Count ``n`` bytes that were received (the caller then waits for :meth:`delay`)."""
        for bucket in self._buckets:
            bucket.take(n)

    def delay(self) -> float:
        """Seconds to wait before receiving more; a positive answer counts as a wait."""
        wait = max((bucket.delay() for bucket in self._buckets), default=0.0)
        if wait > 0:
            self._count_wait()
        return wait

    def _count_wait(self) -> None:
        with self._lock:
            self._waits += 1
