"""A job's link to its broker in plain words, for the command line and the GUI (no Qt).

The engine tells an outage twice (:class:`~openmsi_gui.engine.events.ConnectionState`
``UNREACHABLE`` when it begins, ``CONNECTED`` with the same ``down_since``
when it ends) and a consumer's missing topic once (``TOPIC_MISSING``). These
helpers turn those events into the one sentence of each shape that the log,
the terminal, the folder and destination rows, the status bar and the tray show.
"""

from __future__ import annotations

import logging
import math
import threading

from openmsi_gui.engine.events import ConnectionState, ConnectionStatus, Event

_PROBLEMS = frozenset({ConnectionStatus.UNREACHABLE, ConnectionStatus.TOPIC_MISSING})


def outage_length(seconds: float) -> str:
    """``"45 s"``, ``"2 min 10 s"``, ``"1 h 5 min"``."""
    total = max(0, math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def unreachable_sentence(servers: str) -> str:
    """What a job whose broker does not answer shows (librdkafka keeps retrying)."""
    where = f" at {servers}" if servers else ""
    return f"Cannot reach the broker{where} — retrying; files wait"


def reachable_again_sentence(seconds: float) -> str:
    """Logged once an outage of ``seconds`` is over."""
    return f"Broker reachable again after {outage_length(seconds)}"


def topic_missing_sentence(topic: str) -> str:
    """What a destination whose topic does not exist yet shows (it starts once it does)."""
    return f"Waiting for topic {topic} to be created"


def topic_created_sentence(topic: str) -> str:
    """Logged once the topic a destination waited for exists."""
    return f"Topic {topic} exists now; receiving"


def link_state_word(status: ConnectionStatus) -> str:
    """A folder's or destination's state in a table cell while its link has a problem.

    Short, for a narrow column; the row's tooltip and the form say the whole sentence.
    """
    return "No topic yet" if status is ConnectionStatus.TOPIC_MISSING else "No broker"


def link_problem(event: ConnectionState) -> str | None:
    """The problem ``event`` starts (its sentence), or None if it ends one or is no problem."""
    if event.status is ConnectionStatus.UNREACHABLE:
        return unreachable_sentence(event.servers)
    if event.status is ConnectionStatus.TOPIC_MISSING:
        return topic_missing_sentence(event.detail)
    return None


def link_line(event: ConnectionState, missing_topic: str = "") -> str | None:
    """The one log line for a change of a job's link, or None for routine changes.

    Args:
        event: the change.
        missing_topic: the topic the job waited for, if it did (a ``CONNECTED``
            then says that it exists).
    """
    problem = link_problem(event)
    if problem is not None:
        return problem
    if event.status is ConnectionStatus.CONNECTED:
        if event.down_since is not None:
            return reachable_again_sentence(event.at - event.down_since)
        if missing_topic:
            return topic_created_sentence(missing_topic)
    return None


class LinkProblems:
    """What each job's link problem is now, folded from its :class:`ConnectionState` events.

    Attributes:
        problems: job name -> the sentence of its problem.
        states: job name -> the state that has the problem.
    """

    def __init__(self) -> None:
        self.problems: dict[str, str] = {}
        self.states: dict[str, ConnectionStatus] = {}  # job name -> UNREACHABLE or TOPIC_MISSING
        self._missing_topics: dict[str, str] = {}  # job name -> the topic it waits for

    def apply(self, event: ConnectionState) -> str | None:
        """Fold ``event`` in; return the line to log for it (None: nothing new to tell)."""
        line = link_line(event, self._missing_topics.get(event.job, ""))
        problem = link_problem(event)
        if problem is not None:
            if self.problems.get(event.job) == problem:
                line = None  # told already
            self.problems[event.job] = problem
            self.states[event.job] = event.status
            if event.status is ConnectionStatus.TOPIC_MISSING:
                self._missing_topics[event.job] = event.detail
        elif event.status in (ConnectionStatus.CONNECTED, ConnectionStatus.STOPPED):
            self.problems.pop(event.job, None)
            self.states.pop(event.job, None)
            self._missing_topics.pop(event.job, None)
        return line

    def forget(self, job: str) -> None:
        """``job`` is gone (its folder or destination was removed): drop its problem."""
        self.problems.pop(job, None)
        self._missing_topics.pop(job, None)

    def first(self) -> str:
        """One of the current problems ("" if there is none)."""
        return next(iter(self.problems.values()), "")


class LinkLog:
    """A bus subscriber that logs each job's link problem once when it starts and ends.

    The line names the job by its event name; the GUI's log shows it as the
    folder or destination (:class:`~openmsi_gui.app.job_names.JobNames`).

    Args:
        logger: where the lines go (a problem as a warning, its end as info).
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._links = LinkProblems()
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        """Follow one engine event (any thread)."""
        if not isinstance(event, ConnectionState):
            return
        with self._lock:
            line = self._links.apply(event)
            problem = event.job in self._links.problems
        if line:
            self._logger.log(logging.WARNING if problem else logging.INFO, "%s: %s",
                             event.job, line)
