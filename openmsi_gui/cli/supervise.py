"""Keep a long-running command's job alive: restart it with back-off when it dies.

A job that stops on an unexpected error (its consumer, producer or watcher
thread died) is stopped cleanly and a new one is started after 1, 2, 5, 10,
then 30 s. After :data:`MAX_RESTARTS` deaths in a row the command gives up
with one sentence and a non-zero exit code, so that a service manager
restarts the whole process; it never stays alive doing nothing.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Protocol

from openmsi_gui.cli.signals import STOP, StopSignals
from openmsi_gui.engine.events import Event, EventBus, JobState, JobStatus

log = logging.getLogger("openmsi")

RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before the n-th restart in a row (the last one repeats)."""
MAX_RESTARTS = 5
"""Restarts in a row after which the command gives up."""
STEADY_SECONDS = 60.0
"""A job that ran this long before it died starts the count afresh."""
CHECK_SECONDS = 1.0
"""How often the job's error is looked at besides its failure event."""
GAVE_UP = 1
"""The exit code when the job kept dying."""


class SupervisedJob(Protocol):
    """What :func:`run_supervised` needs of a job (a WatchJob or a DownloadJob)."""

    name: str

    def start(self) -> None:
        """Start the job's threads (raises if it cannot)."""

    def stop(self) -> None:
        """Stop the job and store what it holds."""

    @property
    def error(self) -> BaseException | None:
        """What stopped the job while it ran, if anything did."""


def run_supervised(make_job: Callable[[], SupervisedJob], bus: EventBus,
                   started: Callable[[], str],
                   signals: StopSignals = STOP,
                   delays: tuple[float, ...] | None = None,
                   max_restarts: int | None = None) -> int:
    """Run jobs made by ``make_job`` until SIGINT/SIGTERM; restart one that dies.

    The first job's start failure is raised (the command reports it); a
    restart that fails to start counts as a death.

    Args:
        make_job: a new, unstarted job.
        bus: where the jobs publish; their failure events wake this loop.
        started: what to log once the first job runs (what it does, how to stop it).
        signals: the stop signals to wait for.
        delays: seconds before each restart in a row (default :data:`RESTART_DELAYS`).
        max_restarts: restarts in a row before giving up (default :data:`MAX_RESTARTS`).

    Returns:
        0 after a stop signal, :data:`GAVE_UP` when the job kept dying.
    """
    delays = RESTART_DELAYS if delays is None else delays
    max_restarts = MAX_RESTARTS if max_restarts is None else max_restarts
    died = threading.Event()
    first = make_job()
    job: SupervisedJob | None = first

    def on_event(event: Event) -> None:
        if (isinstance(event, JobState) and event.state is JobStatus.FAILED and job is not None
                and event.job == job.name):
            died.set()

    unsubscribe = bus.subscribe(on_event)
    try:
        first.start()
        log.info("%s", started())
        deaths = 0
        reason: str | None = None
        while True:
            since = time.monotonic()
            if job is not None:
                reason = _wait_for_death(job, died, signals)
                _stop(job)
            if _stopped(signals):
                return 0
            if time.monotonic() - since >= STEADY_SECONDS:
                deaths = 0
            deaths += 1
            if deaths > max_restarts:
                print(f"openmsi: error: the job stopped on an error {deaths} times in a row "
                      f"(last: {reason}); giving up so that it can be started afresh",
                      file=sys.stderr)
                return GAVE_UP
            delay = delays[min(deaths - 1, len(delays) - 1)]
            log.warning("the job stopped on an error (%s); restarting it in %.0f s (%d of %d)",
                        reason, delay, deaths, max_restarts)
            signals.wait(threading.Event(), delay)
            if _stopped(signals):
                return 0
            died.clear()
            job = None
            try:
                job = make_job()
                job.start()
            except Exception as exc:
                log.exception("the job could not be restarted")
                job, reason = None, str(exc) or repr(exc)
                continue
            log.info("the job runs again")
    finally:
        unsubscribe()


def _wait_for_death(job: SupervisedJob, died: threading.Event,
                    signals: StopSignals) -> str | None:
    """Block until ``job`` dies (return why) or a stop signal arrives (return None)."""
    while signals.received is None:
        error = job.error
        if error is not None:
            return str(error) or repr(error)
        signals.wait(died, CHECK_SECONDS)
    return None


def _stopped(signals: StopSignals) -> bool:
    """Whether a stop signal arrived (a function: it changes while we wait)."""
    return signals.received is not None


def _stop(job: SupervisedJob) -> None:
    try:
        job.stop()
    except Exception:
        log.exception("%s did not stop cleanly", job.name)
