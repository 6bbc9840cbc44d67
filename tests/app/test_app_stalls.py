"""Stalled files: no progress for the stall time while the broker answers (issue 11). No Qt."""

from __future__ import annotations

import pytest

from openmsi_gui.app.stalls import StallWatch, stall_reason
from openmsi_gui.app.transfer_rows import (
    FilterMode,
    can_retry,
    can_send_again,
    row_matches,
    status_text,
    summary_text,
)
from openmsi_gui.app.transfers import AppStatus, RowStatus, TransferBook
from openmsi_gui.engine.events import (
    ConnectionState,
    ConnectionStatus,
    Direction,
    EventBus,
    FileCompleted,
    FileDiscovered,
    FileProgress,
    FileStalled,
    JobState,
    JobStatus,
    PauseState,
)

UP, DOWN = Direction.UPLOAD, Direction.DOWNLOAD
FOLDER_JOB, DEST_JOB = "folder:f1", "dest:d1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def watch(bus: EventBus, clock: Clock) -> StallWatch:
    return StallWatch(bus, stall_seconds=120, clock=clock)


def progress(clock: Clock, job: str = DEST_JOB, direction: Direction = DOWN,
             relpath: str = "huge_run2.raw", done: int = 87) -> FileProgress:
    return FileProgress(job, direction, relpath, done, 100, done, 100, at=clock.now)


def test_a_file_without_progress_for_the_stall_time_is_stalled_once(
        bus: EventBus, watch: StallWatch, clock: Clock) -> None:
    stalled: list[FileStalled] = []
    bus.subscribe(lambda e: stalled.append(e) if isinstance(e, FileStalled) else None)
    bus.publish(progress(clock))
    clock.now += 119
    assert watch.check() == []
    clock.now += 2
    [event] = watch.check()
    assert (event.job, event.direction, event.relpath) == (DEST_JOB, DOWN, "huge_run2.raw")
    assert event.reason == stall_reason(DOWN, 121)
    assert "no progress for 2 min 1 s" in event.reason
    assert stalled == [event]
    clock.now += 600
    assert watch.check() == []  # said once
    bus.publish(progress(clock, done=88))  # it moves again: a new stall may come later
    clock.now += 121
    assert len(watch.check()) == 1


def test_finished_files_never_stall(bus: EventBus, watch: StallWatch, clock: Clock) -> None:
    bus.publish(FileDiscovered(FOLDER_JOB, UP, "a.tif", 10, at=clock.now))
    bus.publish(FileCompleted(FOLDER_JOB, UP, "a.tif", 10, "", 1.0, at=clock.now))
    clock.now += 1000
    assert watch.check() == []


@pytest.mark.parametrize("hold", [
    JobState(DEST_JOB, JobStatus.PAUSED), JobState(DEST_JOB, JobStatus.WAITING, "disk full"),
    JobState(DEST_JOB, JobStatus.STOPPED),
    ConnectionState(DEST_JOB, ConnectionStatus.UNREACHABLE, servers="lab:9092"),
    PauseState("", True),
])
def test_time_held_does_not_count(bus: EventBus, watch: StallWatch, clock: Clock,
                                  hold: JobState | ConnectionState | PauseState) -> None:
    """Paused, waiting, stopped or without a broker: not stalled, and the clock restarts."""
    bus.publish(progress(clock))
    clock.now += 100
    bus.publish(hold)
    clock.now += 1000
    assert watch.check() == []
    released = {JobState: JobState(DEST_JOB, JobStatus.RUNNING),
                ConnectionState: ConnectionState(DEST_JOB, ConnectionStatus.CONNECTED),
                PauseState: PauseState("", False)}[type(hold)]
    bus.publish(released)
    clock.now += 119
    assert watch.check() == []
    clock.now += 2
    assert len(watch.check()) == 1


def test_the_stall_time_follows_the_setting_and_the_thread_stops(
        bus: EventBus, watch: StallWatch) -> None:
    watch.stall_seconds = 0.01
    assert watch.stall_seconds == 1.0  # at least a second
    watch.start()
    watch.stop()
    bus.publish(FileDiscovered(FOLDER_JOB, UP, "a.tif", 10))  # no longer followed
    assert watch.check() == []


def test_a_stalled_row_is_a_problem_until_it_moves_again(clock: Clock) -> None:
    book = TransferBook()
    book.apply(FileDiscovered(DEST_JOB, DOWN, "huge_run2.raw", 100, at=clock.now))
    book.apply(progress(clock))
    row = book.apply(FileStalled(DEST_JOB, DOWN, "huge_run2.raw", 121, "no progress"))
    assert row is not None
    assert row.status is RowStatus.STALLED
    assert row.eta is None
    assert status_text(row) == "Stalled"
    assert book.status(paused=False) is AppStatus.ERROR
    assert book.summary().stalled == 1
    assert "1 stalled" in summary_text(book.summary())
    assert "1 file stalled; see Transfers" in book.status_line(paused=False)
    assert row_matches(row, FilterMode.PROBLEMS)
    assert can_retry(row)  # a destination reads it again
    assert not can_send_again(row)  # downloads are sent again by the sending computer
    clock.now += 1
    book.apply(progress(clock, done=90))
    assert row.status is RowStatus.ACTIVE
    assert not row.error
    assert book.status(paused=False) is AppStatus.TRANSFERRING


def test_a_late_stall_does_not_override_a_finished_row(clock: Clock) -> None:
    book = TransferBook()
    book.apply(progress(clock))
    book.apply(FileCompleted(DEST_JOB, DOWN, "huge_run2.raw", 100, "", 1.0))
    assert book.apply(FileStalled(DEST_JOB, DOWN, "huge_run2.raw", 121, "late")) is None
    assert book.apply(FileStalled(DEST_JOB, DOWN, "never-seen.raw", 121, "late")) is None
    assert [r.status for r in book.rows.values()] == [RowStatus.DONE]


@pytest.mark.parametrize("event", [
    FileCompleted(FOLDER_JOB, UP, "a.tif", 10, "", 1.0),
    FileStalled(FOLDER_JOB, UP, "a.tif", 121, "no progress"),
])
def test_any_upload_from_a_watched_folder_can_be_sent_again(
        event: FileCompleted | FileStalled) -> None:
    book = TransferBook()
    book.apply(FileDiscovered(FOLDER_JOB, UP, "a.tif", 10))
    row = book.apply(event)
    assert row is not None
    assert can_send_again(row)
    other = book.apply(FileDiscovered("upload", UP, "b.tif", 10))  # the CLI's: no folder
    assert other is not None
    assert not can_send_again(other)
