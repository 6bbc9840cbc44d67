"""The transfer book: rows, progress, rates, throughput and the app status (no Qt)."""

from __future__ import annotations

import time
import types

import pytest

from openmsi_gui.app import transfers
from openmsi_gui.app.transfers import AppStatus, RowStatus, TransferBook, TransferRow
from openmsi_gui.engine.events import (
    ConnectionState,
    ConnectionStatus,
    Direction,
    FileCompleted,
    FileDiscovered,
    FileFailed,
    FileProgress,
    FileSkipped,
    FileWaiting,
    JobState,
    JobStatus,
)

UP, DOWN = Direction.UPLOAD, Direction.DOWNLOAD
JOB = "folder:f1"


class Clock:
    """A controllable stand-in for the ``time`` module as seen by ``app.transfers``.

    ``monotonic`` starts at the real clock because ``TransferRow`` takes its
    first timestamps from the real ``time.monotonic``.
    """

    def __init__(self) -> None:
        self.wall = 1_700_000_000.0
        self.mono = time.monotonic()

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds

    def module(self) -> types.SimpleNamespace:
        return types.SimpleNamespace(time=lambda: self.wall, monotonic=lambda: self.mono,
                                     strftime=time.strftime, localtime=time.localtime)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(transfers, "time", fake.module())
    return fake


def progress(relpath: str, done: int, total: int, chunks: tuple[int, int] = (0, 0),
             direction: Direction = UP, job: str = JOB) -> FileProgress:
    return FileProgress(job, direction, relpath, done, total, chunks[0], chunks[1])


# -- rows ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("direction", "job"), [(UP, "folder:f1"), (DOWN, "dest:d1")])
def test_lifecycle_of_a_row_in_both_directions(direction: Direction, job: str) -> None:
    book = TransferBook()
    row = book.apply(FileDiscovered(job, direction, "a/b.dat", 1000))
    assert row is not None
    assert row.key == (job, direction, "a/b.dat")
    assert row.status is RowStatus.QUEUED
    assert row.total_bytes == 1000
    assert row.fraction == 0.0

    row = book.apply(FileProgress(job, direction, "a/b.dat", 250, 1000, 1, 4))
    assert row is not None
    assert row.status is RowStatus.ACTIVE
    assert (row.done_bytes, row.done_chunks, row.total_chunks) == (250, 1, 4)
    assert row.fraction == pytest.approx(0.25)

    row = book.apply(FileCompleted(job, direction, "a/b.dat", 1000, "ab" * 64, 2.0))
    assert row is not None
    assert row.status is RowStatus.DONE
    assert row.fraction == 1.0
    assert row.done_chunks == 4
    assert row.sha512_hex == "ab" * 64
    assert row.rate == pytest.approx(500.0)
    assert row.eta is None
    assert len(book.rows) == 1


def test_same_path_in_two_directions_is_two_rows() -> None:
    book = TransferBook()
    book.apply(FileDiscovered("folder:f1", UP, "x.bin", 10))
    book.apply(FileDiscovered("dest:d1", DOWN, "x.bin", 10))
    assert {key[1] for key in book.rows} == {UP, DOWN}


def test_failed_and_skipped_rows_keep_the_reason() -> None:
    book = TransferBook()
    failed = book.apply(FileFailed(JOB, UP, "bad.bin", "broker said no"))
    skipped = book.apply(FileSkipped(JOB, UP, "old.bin", "already sent"))
    assert failed is not None
    assert skipped is not None
    assert (failed.status, failed.error) == (RowStatus.FAILED, "broker said no")
    assert (skipped.status, skipped.error) == (RowStatus.SKIPPED, "already sent")
    assert book.problems().failed_files == 1


def test_completion_clears_an_earlier_error() -> None:
    book = TransferBook()
    book.apply(FileFailed(JOB, UP, "f.bin", "timeout"))
    row = book.apply(FileCompleted(JOB, UP, "f.bin", 10, "00", 0.0))
    assert row is not None
    assert row.status is RowStatus.DONE
    assert row.error == ""


def test_rediscovering_a_finished_file_starts_a_new_row() -> None:
    book = TransferBook()
    first = book.apply(FileDiscovered(JOB, UP, "f.bin", 10))
    book.apply(FileCompleted(JOB, UP, "f.bin", 10, "00", 1.0))
    second = book.apply(FileDiscovered(JOB, UP, "f.bin", 20))
    assert second is not first
    assert second is not None
    assert second.status is RowStatus.QUEUED
    assert second.total_bytes == 20
    assert len(book.rows) == 1


def test_rediscovering_an_active_file_keeps_its_row() -> None:
    book = TransferBook()
    first = book.apply(progress("f.bin", 5, 10))
    again = book.apply(FileDiscovered(JOB, UP, "f.bin", 10))
    assert again is first
    assert again is not None
    assert again.status is RowStatus.ACTIVE


def test_events_that_are_not_about_files_change_no_row() -> None:
    book = TransferBook()
    assert book.apply(JobState(JOB, JobStatus.RUNNING)) is None
    assert not book.rows


# -- fraction, rate, eta ------------------------------------------------------------------------


def test_fraction_uses_bytes_then_chunks() -> None:
    row = TransferRow(JOB, DOWN, "f", status=RowStatus.ACTIVE, done_chunks=3, total_chunks=4)
    assert row.fraction == pytest.approx(0.75)
    row.total_bytes, row.done_bytes = 100, 10
    assert row.fraction == pytest.approx(0.1)
    row.done_bytes = 150
    assert row.fraction == 1.0
    assert TransferRow(JOB, UP, "g").fraction == 0.0


def test_eta_only_while_active_with_a_rate() -> None:
    row = TransferRow(JOB, UP, "f", status=RowStatus.ACTIVE, done_bytes=250, total_bytes=1000,
                      rate=50.0)
    assert row.eta == pytest.approx(15.0)
    row.rate = 0.0
    assert row.eta is None
    row.rate, row.status = 50.0, RowStatus.FAILED
    assert row.eta is None


def test_eta_without_a_known_total_extrapolates_from_chunks() -> None:
    row = TransferRow(JOB, DOWN, "f", status=RowStatus.ACTIVE, done_bytes=300, done_chunks=3,
                      total_chunks=4, rate=100.0)
    assert row.eta == pytest.approx(1.0)


def test_rate_is_a_smoothed_bytes_per_second(clock: Clock) -> None:
    book = TransferBook()
    book.apply(FileDiscovered(JOB, UP, "f.bin", 10_000, at=clock.wall))
    clock.advance(1.0)
    row = book.apply(FileProgress(JOB, UP, "f.bin", 1000, 10_000, 1, 10, at=clock.wall))
    assert row is not None
    assert row.rate == pytest.approx(1000.0, rel=0.01)
    clock.advance(1.0)
    book.apply(FileProgress(JOB, UP, "f.bin", 3000, 10_000, 3, 10, at=clock.wall))
    assert row.rate == pytest.approx(0.7 * 1000 + 0.3 * 2000, rel=0.01)
    assert row.eta == pytest.approx(7000 / row.rate)


def test_rate_of_progress_delivered_in_one_batch_uses_event_times() -> None:
    book = TransferBook()
    start = time.time()
    book.apply(FileDiscovered(JOB, UP, "f.bin", 10_000_000, at=start))
    book.apply(FileProgress(JOB, UP, "f.bin", 1_000_000, 10_000_000, 1, 10, at=start + 1))
    row = book.apply(FileProgress(JOB, UP, "f.bin", 2_000_000, 10_000_000, 2, 10,
                                  at=start + 2))
    assert row is not None
    assert row.rate == pytest.approx(1_000_000, rel=0.1)


# -- status --------------------------------------------------------------------------------------


def test_status_precedence_error_paused_transferring_idle() -> None:
    book = TransferBook()
    assert book.status(paused=False) is AppStatus.IDLE
    book.apply(progress("a.bin", 1, 10))
    assert book.status(paused=False) is AppStatus.TRANSFERRING
    assert book.status(paused=True) is AppStatus.PAUSED
    book.apply(FileFailed(JOB, UP, "b.bin", "nope"))
    assert book.status(paused=True) is AppStatus.ERROR
    assert book.status(paused=False) is AppStatus.ERROR
    # The alarm lasts as long as the problem: until the row is sent again or dismissed.
    book.apply(FileDiscovered(JOB, UP, "b.bin", 10))
    assert book.status(paused=False) is AppStatus.TRANSFERRING
    book.apply(FileFailed(JOB, UP, "b.bin", "nope"))
    assert book.drop([(JOB, UP, "b.bin")]) == [(JOB, UP, "b.bin")]
    assert book.status(paused=True) is AppStatus.PAUSED
    assert book.status(paused=False) is AppStatus.TRANSFERRING


def test_job_failure_is_an_error_until_the_job_runs_again() -> None:
    book = TransferBook()
    book.apply(JobState(JOB, JobStatus.FAILED, "topic missing"))
    assert book.status(paused=False) is AppStatus.ERROR
    assert book.job_errors == {JOB: "topic missing"}
    assert book.status_line(paused=False) == (
        "OpenMSI: 1 watched folder cannot run; see Transfers")
    book.apply(JobState(JOB, JobStatus.RUNNING))
    assert book.status(paused=False) is AppStatus.IDLE


def test_a_stopped_job_is_not_transferring_any_more() -> None:
    book = TransferBook()
    book.apply(progress("half.bin", 5, 10))
    book.apply(JobState(JOB, JobStatus.STOPPED))
    assert book.status(paused=False) is not AppStatus.TRANSFERRING


def test_a_failed_job_keeps_its_reason_and_interrupts_its_rows() -> None:
    book = TransferBook()
    book.apply(progress("half.bin", 5, 10, direction=DOWN, job="dest:d"))
    book.apply(JobState("dest:d", JobStatus.FAILED, "disk controller hiccup"))
    row = book.rows[("dest:d", DOWN, "half.bin")]
    assert row.status is RowStatus.QUEUED
    assert "interrupted" in row.error
    assert book.job_errors == {"dest:d": "disk controller hiccup"}
    book.apply(JobState("dest:d", JobStatus.RUNNING))
    assert book.job_errors == {}


def test_a_waiting_job_is_told_apart_from_a_failed_one() -> None:
    book = TransferBook()
    book.apply(JobState("dest:d", JobStatus.WAITING, "disk full"))
    assert book.job_waits == {"dest:d": "disk full"}
    assert book.status(paused=False) is AppStatus.ERROR  # a problem until it goes on
    assert book.problems().waiting_jobs == ("dest:d",)
    assert book.status_line(paused=False) == "OpenMSI: 1 destination waiting; see Transfers"
    book.apply(FileWaiting("dest:d", DOWN, "a.bin", "disk full; retrying in 5 s"))
    assert book.status_line(paused=False) == "OpenMSI: 1 file waiting; see Transfers"
    book.apply(JobState("dest:d", JobStatus.RUNNING))
    book.apply(FileCompleted("dest:d", DOWN, "a.bin", 1, "00", 1.0))
    assert book.status(paused=False) is AppStatus.IDLE
    book.apply(JobState("dest:d", JobStatus.WAITING, "disk full"))
    book.apply(JobState("dest:d", JobStatus.FAILED, ""))
    assert (book.job_errors, book.job_waits) == ({"dest:d": "the job stopped"}, {})
    book.apply(JobState("dest:d", JobStatus.WAITING, "disk full"))
    book.apply(JobState("dest:d", JobStatus.STOPPED))
    assert (book.job_errors, book.job_waits) == ({}, {})


def test_status_lines(clock: Clock) -> None:
    book = TransferBook()
    assert book.status_line(paused=False) == "OpenMSI: nothing sent or received yet"
    assert book.status_line(paused=True) == "OpenMSI: nothing moves until you resume"
    until = clock.wall + 3600
    expected = time.strftime("%H:%M", time.localtime(until))
    assert book.status_line(paused=True, paused_until=until) == (
        f"OpenMSI: nothing moves until {expected}")
    book.apply(FileDiscovered(JOB, UP, "a.bin", 4_000_000))
    book.apply(progress("a.bin", 3_000_000, 4_000_000))
    clock.advance(1)
    book.tick()
    assert book.status_line(paused=False) == "OpenMSI: 1 file sending, 2.9 MiB/s"
    book.apply(FileCompleted(JOB, UP, "a.bin", 4_000_000, "00", 1.0))
    assert book.status_line(paused=False) == "OpenMSI: 1 file sent"
    book.apply(FileFailed(JOB, UP, "b.bin", "x"))
    book.apply(FileFailed(JOB, UP, "c.bin", "x"))
    book.apply(JobState("dest:d", JobStatus.FAILED, "y"))
    assert book.status_line(paused=False) == (
        "OpenMSI: 2 files failed, 1 destination cannot run; see Transfers")
    assert book.status_line(paused=True, paused_until=until) == (
        "OpenMSI: 2 files failed, 1 destination cannot run; see Transfers "
        f"(all transfers paused until {expected})")


def test_one_file_sent_and_received_on_one_pc_counts_once_per_direction() -> None:
    """The demo PC sends and receives: 21 files were "42 file(s) transferred"."""
    book = TransferBook()
    for i in range(21):
        book.apply(FileCompleted("folder:f", UP, f"f{i}.bin", 10, "00", 1.0))
        book.apply(FileCompleted("dest:d", DOWN, f"f{i}.bin", 10, "00", 1.0))
    assert book.status_line(paused=False) == "OpenMSI: 21 files sent, 21 received"
    book.apply(progress("big.bin", 1, 10, job="folder:f"))
    book.apply(progress("big.bin", 1, 10, direction=DOWN, job="dest:d"))
    assert book.status_line(paused=False).startswith("OpenMSI: 1 file sending, 1 receiving, ")
    summary = book.summary()
    assert (summary.sending, summary.receiving, summary.sent, summary.received) == (1, 1, 21, 21)


def test_paused_rows_say_so_and_have_no_time_left(clock: Clock) -> None:
    """Not "Paused — paused" while rows still say "Receiving, 0:02 left"."""
    book = TransferBook()
    book.apply(FileDiscovered("dest:d", DOWN, "a.bin", 1000))
    book.apply(progress("a.bin", 100, 1000, (1, 10), direction=DOWN, job="dest:d"))
    clock.advance(1)
    row = book.apply(progress("a.bin", 200, 1000, (2, 10), direction=DOWN, job="dest:d"))
    assert row is not None
    assert row.eta is not None
    book.take_touched()
    book.apply(JobState("dest:d", JobStatus.PAUSED))
    assert row.held
    assert book.take_touched() == [row]  # a view redraws it
    assert row.eta is None
    assert book.status(paused=True) is AppStatus.PAUSED
    assert book.status_line(paused=True) == "OpenMSI: 1 file held"
    # Paused on its own (not the whole app): the others' transfers go on.
    assert book.status(paused=False) is AppStatus.IDLE
    late = book.apply(FileDiscovered("dest:d", DOWN, "b.bin", 10))
    assert late is not None
    assert late.held
    book.apply(JobState("dest:d", JobStatus.RUNNING))
    assert not row.held
    assert not late.held
    assert book.status(paused=False) is AppStatus.TRANSFERRING


def test_a_removed_job_loses_its_rows_and_problems_and_late_events_are_ignored() -> None:
    book = TransferBook()
    book.apply(ConnectionState("dest:d", ConnectionStatus.TOPIC_MISSING, "raw"))
    assert book.problems().links
    book.apply(FileWaiting("dest:d", DOWN, "a.bin", "read-only; retrying in 5 s"))
    book.apply(FileCompleted("dest:d", DOWN, "b.bin", 1, "00", 1.0))
    book.apply(JobState("dest:d", JobStatus.WAITING, "read-only"))
    book.apply(FileCompleted("dest:other", DOWN, "c.bin", 1, "00", 1.0))
    assert book.status(paused=False) is AppStatus.ERROR
    dropped = book.forget_job("dest:d")
    assert sorted(key[2] for key in dropped) == ["a.bin", "b.bin"]
    assert [key[0] for key in book.rows] == ["dest:other"]
    assert book.status(paused=False) is AppStatus.IDLE
    assert book.apply(FileWaiting("dest:d", DOWN, "a.bin", "stopping")) is None
    book.apply(ConnectionState("dest:d", ConnectionStatus.UNREACHABLE, "broker:9092"))
    book.apply(JobState("dest:d", JobStatus.FAILED, "stopped"))
    assert book.status(paused=False) is AppStatus.IDLE
    assert book.summary().received == 1
    book.set_places({"dest:d": ("t → inbox", "topic t → /x/inbox")})  # added back
    row = book.apply(FileDiscovered("dest:d", DOWN, "a.bin", 1))
    assert row is not None
    assert (row.place, row.place_detail) == ("t → inbox", "topic t → /x/inbox")


def test_a_download_size_is_estimated_until_its_last_chunk() -> None:
    book = TransferBook()
    row = book.apply(progress("a.bin", 2048, 0, (2, 5), direction=DOWN, job="dest:d"))
    assert row is not None
    assert row.expected_bytes == (5120, True)
    book.apply(FileCompleted("dest:d", DOWN, "a.bin", 4500, "00", 1.0))
    assert row.expected_bytes == (4500, False)


# -- trimming -----------------------------------------------------------------------------------


def test_trimming_drops_oldest_finished_rows_and_keeps_active_ones() -> None:
    book = TransferBook(max_rows=3)
    book.apply(progress("active-1", 1, 10))
    book.apply(FileCompleted(JOB, UP, "done-1", 1, "00", 1.0))
    book.apply(progress("active-2", 1, 10))
    book.apply(FileCompleted(JOB, UP, "done-2", 1, "00", 1.0))
    names = [key[2] for key in book.rows]
    assert len(names) == 3
    assert "done-1" not in names
    assert {"active-1", "active-2", "done-2"} == set(names)


def test_trimming_never_drops_active_rows_even_beyond_the_limit() -> None:
    book = TransferBook(max_rows=2)
    for i in range(4):
        book.apply(progress(f"active-{i}", 1, 10))
    assert len(book.rows) == 4
    assert all(r.status is RowStatus.ACTIVE for r in book.rows.values())


# -- throughput ------------------------------------------------------------------------------


def test_throughput_buckets_per_second(clock: Clock) -> None:
    book = TransferBook()
    start = int(clock.wall)
    book.apply(progress("up.bin", 1000, 10_000))
    book.apply(progress("down.bin", 400, 10_000, direction=DOWN, job="dest:d"))
    clock.advance(1)
    book.tick()
    assert list(book.throughput) == [(start, 1000, 400)]
    book.apply(progress("up.bin", 3000, 10_000))  # 2000 more
    clock.advance(2)
    book.tick()
    assert list(book.throughput) == [(start, 1000, 400), (start + 1, 2000, 0), (start + 2, 0, 0)]
    summary = book.summary()
    assert summary.up_rate == pytest.approx(3000 / 3)
    assert summary.down_rate == pytest.approx(400 / 3)


def test_completion_counts_the_bytes_not_yet_reported(clock: Clock) -> None:
    book = TransferBook()
    start = int(clock.wall)
    book.apply(progress("f.bin", 600, 1000))
    book.apply(FileCompleted(JOB, UP, "f.bin", 1000, "00", 1.0))
    clock.advance(1)
    book.tick()
    assert list(book.throughput) == [(start, 1000, 0)]


def test_a_long_gap_keeps_at_most_five_minutes(clock: Clock) -> None:
    book = TransferBook()
    book.apply(progress("f.bin", 10, 100))
    clock.advance(10_000)
    book.tick()
    seconds = [s for s, _, _ in book.throughput]
    assert len(seconds) <= transfers.HISTORY_SECONDS
    assert seconds[-1] == int(clock.wall) - 1
    assert seconds == sorted(seconds)


def test_waiting_rows_are_kept_visible_and_flagged() -> None:
    from openmsi_gui.app.transfers import AppStatus, RowStatus, TransferBook
    from openmsi_gui.engine.events import Direction, FileCompleted, FileWaiting

    book = TransferBook()
    waiting = FileWaiting("d", Direction.DOWNLOAD, "a.bin", "S3 upload failed: x; retrying in 5 s")
    row = book.apply(waiting)
    assert row is not None
    assert row.status is RowStatus.WAITING
    assert "retrying in 5 s" in row.error
    assert book.status(paused=False) is AppStatus.ERROR
    book.apply(waiting)  # the next retry does not count again
    assert book.problems().count == 1
    assert book.summary().waiting == 1
    assert book.summary().failed == 0  # not failed: it is being retried
    assert book.status_line(paused=False) == "OpenMSI: 1 file waiting; see Transfers"
    book.apply(FileCompleted("d", Direction.DOWNLOAD, "a.bin", 10, "ab", 1.0))
    assert book.rows[("d", Direction.DOWNLOAD, "a.bin")].status is RowStatus.DONE
    assert book.summary().waiting == 0
    assert book.status(paused=False) is AppStatus.IDLE


def test_a_file_started_while_the_broker_is_away_waits_until_it_answers() -> None:
    """Not "Sending 0%" for minutes: it waits for the broker, as the files already moving."""
    book = TransferBook()
    book.apply(ConnectionState(JOB, ConnectionStatus.UNREACHABLE, "broker:9092",
                               servers="broker:9092"))
    book.apply(FileDiscovered(JOB, UP, "late.bin", 1000))
    row = book.apply(progress("late.bin", 0, 1000, (0, 1)))
    assert row is not None
    assert row.status is RowStatus.WAITING
    assert row.error == book.job_link_problem(JOB)
    assert book.problems().waiting_files == 1
    book.apply(ConnectionState(JOB, ConnectionStatus.CONNECTED, "reachable again",
                               servers="broker:9092"))
    assert row.status is RowStatus.ACTIVE
    assert row.error == ""
