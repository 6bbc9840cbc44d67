"""Watching, pausing and resuming, against the real broker."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer
from helpers import Recorder, wait_until

from openmsi_gui.cli.progress import ConsoleReporter
from openmsi_gui.engine import wire
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import (
    Direction,
    EventBus,
    FileCompleted,
    FileFailed,
    FileProgress,
)
from openmsi_gui.engine.file_filter import FileFilter
from openmsi_gui.engine.file_hash import hash_file
from openmsi_gui.engine.jobs import WatchJob, WatchOptions
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.uploader import Uploader


def uploads_completed(recorder: Recorder, relpath: str) -> int:
    return sum(1 for e in recorder.of(FileCompleted)
               if e.direction is Direction.UPLOAD and e.relpath == relpath)


def test_a_file_still_being_written_is_sent_once_complete(
        kafka_config: KafkaConfig, topic: str, tmp_path: Path, bus: EventBus,
        recorder: Recorder, registry: Registry) -> None:
    src = tmp_path / "src"
    src.mkdir()
    job = WatchJob(kafka_config, src, WatchOptions(topic, stable_seconds=1.0), bus, registry)
    job.start()
    try:
        with (src / "acquisition.raw").open("wb") as handle:
            for _ in range(8):  # an instrument writing for ~2.4 s
                handle.write(os.urandom(10_000))
                handle.flush()
                time.sleep(0.3)
        wait_until(lambda: uploads_completed(recorder, "acquisition.raw") == 1,
                   message="the finished file to be sent")
        time.sleep(1.5)
    finally:
        job.stop()
    assert uploads_completed(recorder, "acquisition.raw") == 1
    sent = [e for e in recorder.of(FileProgress) if e.relpath == "acquisition.raw"]
    assert sent[-1].done_bytes == 80_000


def test_filters_hidden_files_and_rewrites(kafka_config: KafkaConfig, topic: str,
                                           tmp_path: Path, bus: EventBus, recorder: Recorder,
                                           registry: Registry) -> None:
    src = tmp_path / "src"
    (src / ".git").mkdir(parents=True)
    (src / "old.csv").write_text("before start")
    options = WatchOptions(topic, upload_existing=False, stable_seconds=0.3,
                           file_filter=FileFilter(include_regex=r"\.(csv|log)$"))
    job = WatchJob(kafka_config, src, options, bus, registry)
    job.start()
    try:
        (src / ".git" / "config.csv").write_text("hidden folder")
        (src / ".hidden.csv").write_text("hidden")
        (src / "notes.txt").write_text("not included")
        (src / "Backup.tmp").write_text("scratch")
        (src / "catalog.log").write_text("v1")
        wait_until(lambda: uploads_completed(recorder, "catalog.log") == 1, message="v1")
        (src / "catalog.log").write_text("v2, rewritten by the instrument")
        wait_until(lambda: uploads_completed(recorder, "catalog.log") == 2, message="v2")
    finally:
        job.stop()
    sent = {e.relpath for e in recorder.of(FileCompleted)}
    assert sent == {"catalog.log"}


def test_upload_resumes_only_unacknowledged_chunks(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path,
        bus: EventBus, registry: Registry) -> None:
    topic = make_topic(1)
    path = tmp_path / "big.dat"
    path.write_bytes(os.urandom(10 * 4096))
    file_hash, chunk_hashes = hash_file(path, 4096)
    st = path.stat()
    upload_id, _ = registry.start_upload(topic, str(tmp_path), "big.dat", st.st_size,
                                         st.st_mtime_ns, file_hash, 4096, len(chunk_hashes))
    registry.ack_chunks(upload_id, [1, 2, 3, 7])  # acknowledged before a crash
    registry.commit()
    uploader = Uploader(kafka_config, topic, bus, registry, chunk_size=4096)
    uploader.start()
    try:
        uploader.submit(tmp_path, path)
        assert uploader.wait_idle(30)
    finally:
        uploader.stop()
    consumer = Consumer(kafka_config.consumer_settings("resume-check"))
    consumer.subscribe([topic])
    seen: list[int] = []
    deadline = time.monotonic() + 20
    try:
        while len(seen) < 6 and time.monotonic() < deadline:
            for message in consumer.consume(10, 0.5):
                seen.append(wire.decode_chunk(message.value()).chunk_i)
        extra = consumer.consume(10, 1.0)
    finally:
        consumer.close()
    assert sorted(seen) == [4, 5, 6, 8, 9, 10]
    assert not extra
    assert registry.upload_done(topic, str(tmp_path), "big.dat", st.st_size, st.st_mtime_ns)


def test_pause_holds_transfers_and_resume_finishes_them(
        kafka_config: KafkaConfig, topic: str, tmp_path: Path, bus: EventBus,
        recorder: Recorder, registry: Registry) -> None:
    (tmp_path / "a.bin").write_bytes(os.urandom(50_000))
    uploader = Uploader(kafka_config, topic, bus, registry, chunk_size=4096)
    downloader = Downloader(kafka_config, topic, tmp_path / "dest", bus, registry,
                            group_id="pause")
    uploader.start()
    downloader.start()
    try:
        uploader.pause()
        downloader.pause()
        uploader.submit(tmp_path, tmp_path / "a.bin")
        time.sleep(1.5)
        assert uploads_completed(recorder, "a.bin") == 0
        uploader.resume()
        assert uploader.wait_idle(30)
        time.sleep(2.0)
        assert not (tmp_path / "dest" / "a.bin").exists()
        downloader.resume()
        wait_until((tmp_path / "dest" / "a.bin").exists, message="the download after resume")
    finally:
        uploader.stop()
        downloader.stop()
    assert (tmp_path / "dest" / "a.bin").read_bytes() == (tmp_path / "a.bin").read_bytes()
    assert not recorder.of(FileFailed)


def test_console_reporter_draws_a_status_line_on_a_tty() -> None:
    stream = io.StringIO()
    reporter = ConsoleReporter(stream, tty=True)
    reporter(FileProgress("j", Direction.UPLOAD, "scan.tif", 1024, 4096, 1, 4))
    reporter(FileCompleted("j", Direction.UPLOAD, "scan.tif", 4096, "00", 0.1))
    reporter(FileFailed("j", Direction.DOWNLOAD, "bad.bin", "unsafe file name"))
    reporter.close()
    text = stream.getvalue()
    assert "\rsent scan.tif (4 KiB)" in text
    assert "FAILED bad.bin: unsafe file name" in text
    assert "1 done, 1 failed" in text
    assert "[#####---------------]  25% scan.tif" in text


def test_console_reporter_draws_nothing_for_a_command_that_moves_no_file() -> None:
    stream = io.StringIO()  # openmsi status, diagnostics, topic list... on a terminal
    ConsoleReporter(stream, tty=True).close()
    assert stream.getvalue() == ""


def test_event_bus_isolates_failing_subscribers() -> None:
    bus = EventBus()
    got: list[object] = []

    def broken(_event: object) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe(broken)
    unsubscribe = bus.subscribe(got.append)
    threads = [threading.Thread(target=bus.publish,
                                args=(FileFailed("j", Direction.UPLOAD, str(i), "x"),))
               for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    unsubscribe()
    bus.publish(FileFailed("j", Direction.UPLOAD, "after", "x"))
    assert len(got) == 20


def test_polling_observer_for_network_drives(kafka_config: KafkaConfig, topic: str,
                                             tmp_path: Path, bus: EventBus, recorder: Recorder,
                                             registry: Registry) -> None:
    src = tmp_path / "share"
    src.mkdir()
    job = WatchJob(kafka_config, src, WatchOptions(topic, polling=True, stable_seconds=0.3),
                   bus, registry)
    job.start()
    try:
        (src / "sub").mkdir()
        (src / "sub" / "from-smb.dat").write_bytes(b"polled")
        wait_until(lambda: uploads_completed(recorder, "sub/from-smb.dat") == 1,
                   message="the polled file")
    finally:
        job.stop()


def test_files_that_arrived_while_stopped_are_sent_on_restart(
        kafka_config: KafkaConfig, topic: str, tmp_path: Path, bus: EventBus,
        recorder: Recorder, registry: Registry) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "archive.dat").write_text("old data, before the folder was added")
    old = time.time() - 3600
    os.utime(src / "archive.dat", (old, old))
    added_at = time.time() - 60
    (src / "overnight.dat").write_text("written while the app was closed")
    job = WatchJob(kafka_config, src, WatchOptions(topic, since=added_at, stable_seconds=0.2),
                   bus, registry)
    job.start()
    try:
        wait_until(lambda: uploads_completed(recorder, "overnight.dat") == 1,
                   message="the file that arrived while stopped")
        time.sleep(1)
    finally:
        job.stop()
    assert uploads_completed(recorder, "archive.dat") == 0


def test_embedded_broker_dies_with_its_parent(tmp_path: Path) -> None:
    """A killed app must not leave its broker running (Linux: PR_SET_PDEATHSIG)."""
    import signal
    import subprocess
    import sys

    import pytest

    if sys.platform != "linux":
        pytest.skip("parent-death signal is Linux-only")
    code = ("import sys, time; from openmsi_gui.engine.broker import EmbeddedBroker; "
            "b = EmbeddedBroker().start(); print(b._proc.pid, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    broker_pid = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    parent.stdout.close()

    def gone() -> bool:
        try:
            os.kill(broker_pid, 0)
        except ProcessLookupError:
            return True
        status = Path(f"/proc/{broker_pid}/stat")
        return status.exists() and status.read_text().split()[2] == "Z"

    wait_until(gone, timeout=10, message="the broker to exit")
