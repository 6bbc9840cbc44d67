"""FileReporter: the per-file events of one job and direction, progress throttled."""

from __future__ import annotations

import time
from dataclasses import replace

from openmsi_gui.engine.events import (
    Direction,
    Event,
    EventBus,
    FileCompleted,
    FileDiscovered,
    FileFailed,
    FileProgress,
    FileSkipped,
    FileWaiting,
)
from openmsi_gui.engine.file_events import FileReporter


def _reporter(interval: float = 0.1) -> tuple[FileReporter, list[Event]]:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    return FileReporter(bus, "folder:1", Direction.UPLOAD, interval), seen


def _without_time(events: list[Event]) -> list[Event]:
    return [replace(e, at=0.0) for e in events]


def test_each_method_publishes_its_event_with_job_and_direction() -> None:
    report, seen = _reporter()
    report.discovered("a.txt", 10)
    report.progress(1, "a.txt", 5, 10, 1, 2)
    report.completed("a.txt", 10, "ab", 1.5)
    report.completed("b.txt", 3, "cd", 0.5, path="/x/b.txt")
    report.failed("c.txt", "bad")
    report.skipped("d.txt", "already sent")
    report.waiting("e.txt", "S3 down")
    up = Direction.UPLOAD
    assert _without_time(seen) == _without_time([
        FileDiscovered("folder:1", up, "a.txt", 10),
        FileProgress("folder:1", up, "a.txt", 5, 10, 1, 2),
        FileCompleted("folder:1", up, "a.txt", 10, "ab", 1.5),
        FileCompleted("folder:1", up, "b.txt", 3, "cd", 0.5, path="/x/b.txt"),
        FileFailed("folder:1", up, "c.txt", "bad"),
        FileSkipped("folder:1", up, "d.txt", "already sent"),
        FileWaiting("folder:1", up, "e.txt", "S3 down"),
    ])


def test_progress_is_throttled_per_key_but_done_always_shows() -> None:
    report, seen = _reporter(interval=60.0)
    report.progress("k1", "a", 1, 0, 1, 3)
    report.progress("k1", "a", 2, 0, 2, 3)  # too soon: dropped
    report.progress("k2", "b", 1, 0, 1, 3)  # another key: shown
    report.progress("k1", "a", 3, 0, 3, 3, done=True)  # complete: always shown
    report.close()
    assert [(e.relpath, e.done_chunks) for e in seen if isinstance(e, FileProgress)] == [
        ("a", 1), ("b", 1), ("a", 3)]


def test_forget_and_interval_let_the_next_progress_through() -> None:
    report, seen = _reporter(interval=0.05)
    report.progress("k", "a", 1, 0, 1, 3)
    report.forget("k")
    report.progress("k", "a", 2, 0, 2, 3)  # forgotten: shown at once
    report.progress("k", "a", 3, 0, 3, 4)  # too soon: held, shown once the interval is over
    time.sleep(0.1)
    report.progress("k", "a", 4, 0, 4, 4)
    assert [e.done_chunks for e in seen if isinstance(e, FileProgress)] == [1, 2, 3, 4]


def test_held_progress_shows_where_a_file_stopped_but_never_after_its_outcome() -> None:
    report, seen = _reporter(interval=0.05)
    report.progress("k", "stuck", 1, 0, 1, 5)
    report.progress("k", "stuck", 3, 0, 3, 5)  # then nothing more comes
    report.progress("j", "done", 1, 0, 1, 2)
    report.progress("j", "done", 2, 0, 2, 2)
    report.completed("done", 10, "ab", 0.1)
    time.sleep(0.15)
    shown = [(e.relpath, e.done_chunks) if isinstance(e, FileProgress) else e.relpath
             for e in seen]
    assert shown == [("stuck", 1), ("done", 1), "done", ("stuck", 3)]


def test_ready_throttles_other_reports_too() -> None:
    report, _ = _reporter(interval=60.0)
    assert report.ready("row")
    assert not report.ready("row")
    report.forget("row")
    assert report.ready("row")
