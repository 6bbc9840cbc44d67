"""Show engine events on a terminal: a live status line on a TTY, log lines otherwise."""

from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
from typing import TextIO

from openmsi_gui.app.connection import LinkProblems
from openmsi_gui.app.file_information import filtered_text
from openmsi_gui.app.formatting import format_bytes
from openmsi_gui.engine.events import (
    ConnectionState,
    Direction,
    Event,
    FileCompleted,
    FileFailed,
    FileProgress,
    FilesFiltered,
    FileSkipped,
    FileWaiting,
)

log = logging.getLogger("openmsi")


def bar(done: int, total: int, width: int = 20) -> str:
    """``bar(1, 4)`` → ``"[#####---------------]  25%"``."""
    share = done / total if total else 1.0
    filled = round(share * width)
    return f"[{'#' * filled}{'-' * (width - filled)}] {share:4.0%}"


class ConsoleReporter:
    """Subscribe to the bus and print what happens.

    On a TTY one status line is redrawn at most 10 times a second (files done,
    bytes, rate and the current file's progress); completed and failed files
    are printed above it. Elsewhere each completed, skipped or failed file is
    one log line.
    """

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._bytes: dict[tuple[str, str], int] = {}
        self._done_bytes = 0
        self.completed = 0
        self.failed = 0
        self.skipped = 0
        self._filtered: dict[str, int] = {}  # by job: files its download filter left out
        self._current = ""
        self._last_draw = 0.0
        self._links = LinkProblems()
        self._closed = False

    def __call__(self, event: Event) -> None:
        """Handle one engine event (called from engine threads)."""
        with self._lock:
            if isinstance(event, FileProgress):
                self._bytes[(event.job, event.relpath)] = event.done_bytes
                self._current = f"{bar(event.done_chunks, event.total_chunks)} {event.relpath}"
                self._draw()
            elif isinstance(event, FileCompleted):
                self.completed += 1
                self._bytes.pop((event.job, event.relpath), None)
                self._done_bytes += event.size
                verb = "sent" if event.direction is Direction.UPLOAD else "received"
                self._line(f"{verb} {event.relpath} ({format_bytes(event.size)})")
            elif isinstance(event, FileSkipped):
                self.skipped += 1
                self._line(f"skipped {event.relpath}: {event.reason}", logging.DEBUG)
            elif isinstance(event, FileFailed):
                self.failed += 1
                self._bytes.pop((event.job, event.relpath), None)
                self._line(f"FAILED {event.relpath}: {event.reason}", logging.ERROR)
            elif isinstance(event, FilesFiltered):
                self._filtered[event.job] = event.count
                self._line(filtered_text(self.filtered), logging.DEBUG)
            elif isinstance(event, FileWaiting):
                self._line(f"waiting {event.relpath}: {event.reason}", logging.WARNING)
            elif isinstance(event, ConnectionState):
                line = self._links.apply(event)
                if line:  # an outage (or a missing topic) is told when it starts and ends
                    # Named, as the other lines of a job: `openmsi demo` runs two jobs.
                    self._line(f"{event.job}: {line}", logging.WARNING if
                               self._links.problems.get(event.job) else logging.INFO)
                elif event.detail:
                    self._line(f"{event.job}: {event.status.value} ({event.detail})",
                               logging.DEBUG)

    def _total(self) -> int:
        return self._done_bytes + sum(self._bytes.values())

    def _line(self, text: str, level: int = logging.INFO) -> None:
        if self.tty:
            if level >= logging.INFO:
                width = shutil.get_terminal_size().columns
                self.stream.write("\r" + text.ljust(width - 1)[: width - 1] + "\n")
            self._draw(force=True)
        else:
            log.log(level, text)

    def _draw(self, force: bool = False) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        total = self._total()
        rate = total / max(now - self._started, 1e-6)
        status = (f"{self.completed} done, {self.failed} failed{self._filtered_part()} | "
                  f"{format_bytes(total)} at "
                  f"{format_bytes(rate)}/s | {self._current}")
        width = shutil.get_terminal_size().columns
        self.stream.write("\r" + status[: width - 1].ljust(width - 1))
        self.stream.flush()

    @property
    def filtered(self) -> int:
        """Files the download filters left out."""
        return sum(self._filtered.values())

    def _filtered_part(self) -> str:
        return f", {filtered_text(self.filtered)}" if self.filtered else ""

    def close(self) -> None:
        """End the status line; say how many files the download filter left out."""
        if self.filtered and not self._closed:
            self._closed = True
            self._line(filtered_text(self.filtered))
        if self.tty and self._last_draw:  # a command that moved no file drew no line
            with self._lock:
                self._draw(force=True)
                self.stream.write("\n")
                self.stream.flush()
