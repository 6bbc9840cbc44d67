"""SIGINT and SIGTERM as a graceful stop for long-running commands.

The handlers are installed before a command starts its job, so a signal that
arrives while the job is still connecting (systemd may send SIGTERM at any
moment) is remembered and ends the run cleanly as soon as the job is up,
instead of killing the process half-started.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

log = logging.getLogger("openmsi")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """Turns SIGINT/SIGTERM into events that :meth:`wait` callers are blocked on."""

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._waiters: set[threading.Event] = set()
        self._previous: dict[signal.Signals, Any] = {}

    @property
    def installed(self) -> bool:
        """Whether the handlers are in place."""
        return bool(self._previous)

    def install(self) -> None:
        """Handle SIGINT/SIGTERM from now on (main thread only)."""
        if not self._previous:
            self.received = None
            self._previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}

    def restore(self) -> None:
        """Put the previous handlers back."""
        for sig, old in self._previous.items():
            signal.signal(sig, old)
        self._previous = {}

    @contextmanager
    def installed_for(self) -> Iterator[StopSignals]:
        """Install the handlers for the duration of a ``with`` block."""
        already = self.installed
        self.install()
        try:
            yield self
        finally:
            if not already:
                self.restore()

    def wait(self, stop: threading.Event, seconds: float = 0.0) -> None:
        """Block until a stop signal, ``stop`` is set, or ``seconds`` pass (if positive)."""
        with self.installed_for():
            # Registered before checking ``received``: the handler runs on this
            # thread between bytecodes, so no signal can fall in between.
            self._waiters.add(stop)
            try:
                if self.received is None:
                    stop.wait(seconds if seconds > 0 else None)
            finally:
                self._waiters.discard(stop)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.received = signal.Signals(signum)
        log.info("stopping (%s)...", self.received.name)
        for event in list(self._waiters):
            event.set()


STOP = StopSignals()
wait_for_signal = STOP.wait
