"""Operating-system errors whose strerror does not say what to do get a sentence."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pytest

from openmsi_gui.engine.download.problems import destination_problem
from openmsi_gui.engine.events import EventBus, JobState, JobStatus, job_died
from openmsi_gui.engine.os_errors import (
    INOTIFY_WATCHES,
    TOO_MANY_FILES,
    cannot_read,
    os_error_text,
    what_to_do,
)


@pytest.mark.parametrize("code", [errno.EMFILE, errno.ENFILE])
def test_too_many_open_files_says_what_to_do(code: int) -> None:
    exc = OSError(code, "Too many open files")
    assert what_to_do(exc) == TOO_MANY_FILES
    assert cannot_read(exc) == f"cannot read the file: {TOO_MANY_FILES}"


def test_inotify_limits_point_to_polling() -> None:
    exc = OSError(errno.ENOSPC, "inotify watch limit reached")
    assert os_error_text(exc) == INOTIFY_WATCHES
    assert "polling" in INOTIFY_WATCHES


def test_other_errors_keep_their_own_words() -> None:
    assert what_to_do(OSError(errno.EACCES, "Permission denied")) is None
    assert os_error_text(OSError(errno.EACCES, "Permission denied")) == "Permission denied"
    assert what_to_do(ValueError("bad")) is None


def test_a_download_waits_on_too_many_open_files(tmp_path: Path) -> None:
    """Files that cannot be opened for now wait (nothing fails) and the reason says why."""
    problem = destination_problem(OSError(errno.EMFILE, "Too many open files",
                                          str(tmp_path / "a")), tmp_path)
    assert problem is not None
    assert problem.endswith(TOO_MANY_FILES)


def test_a_job_that_dies_of_it_says_so() -> None:
    bus = EventBus()
    states: list[JobState] = []
    bus.subscribe(lambda event: states.append(event) if isinstance(event, JobState) else None)
    job_died(logging.getLogger("test"), bus, "outbox", "watcher",
             OSError(errno.EMFILE, "Too many open files"))
    assert states[-1].state is JobStatus.FAILED
    assert states[-1].detail == TOO_MANY_FILES
