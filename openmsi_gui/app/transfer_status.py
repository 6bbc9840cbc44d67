"""The overall status of the transfers and its words, without Qt.

:class:`~openmsi_gui.app.transfers.TransferBook` counts rows; this module says
what the counts mean for people. The status (the tray icon, the status bar) is
derived from the problems that exist now: a file that failed and is still
listed, files that wait, folders or destinations that cannot run. Looking at
them does not make them go away; fixing, retrying or dismissing them does.

Counts count files per direction: on a PC that both sends and receives (the
demo), 21 files are "21 files sent, 21 received", not 42.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable
from dataclasses import dataclass

from openmsi_gui.app.formatting import count_text, rate_or_zero
from openmsi_gui.engine.events import JobId, JobKind


class AppStatus(enum.Enum):
    """The one-word state of the whole app (the tray icon)."""

    IDLE = "idle"
    TRANSFERRING = "transferring"
    PAUSED = "paused"
    ERROR = "error"


@dataclass(frozen=True)
class Summary:
    """Counts for the tooltip and status bar.

    ``active``, ``failed``, ``done`` and ``waiting`` count rows of both
    directions; ``sending``/``receiving`` (queued or moving, not held by a
    pause) and ``sent``/``received`` split them by direction.
    """

    active: int
    failed: int
    done: int
    up_rate: float
    down_rate: float
    waiting: int = 0  # retried by themselves (an S3 upload, encrypted messages awaiting keys)
    sending: int = 0
    receiving: int = 0
    sent: int = 0
    received: int = 0
    held: int = 0  # queued or moving, but their folder or destination is paused
    moving: int = 0  # moving now (not queued, not held)
    stalled: int = 0  # no progress for the stall time: Retry or Send again
    unconfirmed: int = 0  # sent, not confirmed in time by expected destinations: Send again


@dataclass(frozen=True)
class Problems:
    """What is wrong now; the app needs attention while any of it is there.

    Attributes:
        failed_files: listed files that failed (until retried or dismissed).
        waiting_files: files kept and retried by themselves (disk full, S3 down).
        failed_jobs: names of jobs that cannot run (see :class:`JobId`).
        waiting_jobs: names of jobs that wait with no waiting file listed.
        stalled_files: files without progress for the stall time (see
            :mod:`openmsi_gui.app.stalls`), until they move again.
        links: what is wrong with jobs' brokers, one sentence each ("Cannot reach the
            broker at …", see :mod:`openmsi_gui.app.connection`).
        unconfirmed_files: files sent that expected destinations did not confirm in
            time (see :mod:`openmsi_gui.engine.confirmation`), until confirmed, sent
            again or dismissed.
        failed_processing: listed files received whose processing failed, until
            processed again or dismissed.
    """

    failed_files: int = 0
    waiting_files: int = 0
    failed_jobs: tuple[str, ...] = ()
    waiting_jobs: tuple[str, ...] = ()
    stalled_files: int = 0
    links: tuple[str, ...] = ()
    unconfirmed_files: int = 0
    failed_processing: int = 0

    def __bool__(self) -> bool:
        return bool(self.failed_files or self.waiting_files or self.failed_jobs
                    or self.waiting_jobs or self.stalled_files or self.links
                    or self.unconfirmed_files or self.failed_processing)

    @property
    def count(self) -> int:
        """How many problems, each file and job counted once."""
        return (self.failed_files + self.waiting_files + len(self.failed_jobs)
                + len(self.waiting_jobs) + self.stalled_files + len(self.links)
                + self.unconfirmed_files + self.failed_processing)

    def text(self) -> str:
        """``"1 file failed, 2 files waiting, 1 destination cannot run"`` (empty if none)."""
        parts = []
        if self.failed_files:
            parts.append(f"{count_text(self.failed_files, 'file')} failed")
        if self.waiting_files:
            parts.append(f"{count_text(self.waiting_files, 'file')} waiting")
        if self.stalled_files:
            parts.append(f"{count_text(self.stalled_files, 'file')} stalled")
        if self.unconfirmed_files:
            parts.append(f"{count_text(self.unconfirmed_files, 'file')} not confirmed")
        if self.failed_processing:
            parts.append(f"{count_text(self.failed_processing, 'file')} failed processing")
        parts += [f"{text} cannot run" for text in _jobs_text(self.failed_jobs)]
        parts += [f"{text} waiting" for text in _jobs_text(self.waiting_jobs)]
        return ", ".join(parts)


def _jobs_text(jobs: Iterable[str]) -> list[str]:
    """``["1 destination", "2 watched folders"]`` for job names."""
    kinds = [ident.kind if (ident := JobId.parse(job)) is not None else None for job in jobs]
    nouns = ((JobKind.DESTINATION, "destination"), (JobKind.FOLDER, "watched folder"),
             (None, "job"))
    return [count_text(kinds.count(kind), noun) for kind, noun in nouns if kind in kinds]


def overall_status(problems: Problems, summary: Summary, paused: bool) -> AppStatus:
    """Problems beat paused, which beats transferring, then idle."""
    if problems:
        return AppStatus.ERROR
    if paused:
        return AppStatus.PAUSED
    if summary.moving:
        return AppStatus.TRANSFERRING
    return AppStatus.IDLE


def moving_text(summary: Summary) -> str:
    """``"1 file sending, 1 receiving"``, ``"3 files receiving"`` (empty if nothing moves)."""
    return _by_direction(summary.sending, "sending", summary.receiving, "receiving")


def moved_text(summary: Summary) -> str:
    """``"21 files sent, 21 received"``, or ``"nothing sent or received yet"``."""
    return (_by_direction(summary.sent, "sent", summary.received, "received")
            or "nothing sent or received yet")


def _by_direction(up: int, up_word: str, down: int, down_word: str) -> str:
    if up and down:
        return f"{count_text(up, 'file')} {up_word}, {down} {down_word}"
    if up or down:
        return f"{count_text(up or down, 'file')} {up_word if up else down_word}"
    return ""


def status_text(status: AppStatus, summary: Summary, problems: Problems,
                paused_until: float | None = None, paused: bool = False) -> str:
    """What the status says after its label (``"Paused — …"``, ``"Needs attention — …"``).

    ``paused``: every transfer is paused (said also when problems come first).
    """
    until = (f" until {time.strftime('%H:%M', time.localtime(paused_until))}"
             if paused_until else "")
    if status is AppStatus.ERROR and problems.links:
        return problems.links[0]  # the files waiting for the broker are its consequence
    if status is AppStatus.ERROR:
        pause = f" (all transfers paused{until})" if paused else ""
        return f"{problems.text()}; see Transfers{pause}"
    if status is AppStatus.PAUSED:
        held = summary.held + summary.sending + summary.receiving
        if held:
            return f"{count_text(held, 'file')} held{until}"
        return f"nothing moves{until}" if until else "nothing moves until you resume"
    if status is AppStatus.TRANSFERRING:
        rate = rate_or_zero(summary.up_rate + summary.down_rate)
        return f"{moving_text(summary)}, {rate}"
    return moved_text(summary)


def removal_question(noun: str, name: str, unfinished: int, upload: bool) -> str:
    """What to ask before removing a watched folder or destination ``name``.

    ``unfinished``: its files not transferred yet; their rows go away with it.
    """
    question = f"Remove the {noun} “{name}”?"
    if not unfinished:
        return f"{question}\n\nFiles already transferred stay where they are."
    files = count_text(unfinished, "file")
    if upload:
        return (f"{question}\n\n{files} from it {'is' if unfinished == 1 else 'are'} not "
                "sent yet; they will not be sent.")
    return (f"{question}\n\n{files} for it {'is' if unfinished == 1 else 'are'} not "
            "received yet; they stay on the broker but will not be written here.")
