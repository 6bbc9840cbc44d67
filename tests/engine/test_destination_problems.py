"""A destination that cannot take data for a while: wait, show it, lose nothing.

A full disk, a quota, a read-only or vanished network share, or a file locked by
another program must never fail a file whose messages are then committed past:
the downloader waits, shows the file as waiting, and finishes once the lab has
fixed the destination.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from confluent_kafka import Consumer, TopicPartition
from helpers import Recorder, chunks_of, produce_chunks, wait_until
from test_transfer import running

from openmsi_gui.engine.download import downloader as downloader_module
from openmsi_gui.engine.download.assembly import Assembly
from openmsi_gui.engine.downloader import Downloader, RetryDelays, destination_problem
from openmsi_gui.engine.events import (
    EventBus,
    FileCompleted,
    FileFailed,
    FileWaiting,
    JobState,
    JobStatus,
)
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.uploader import Uploader

DEST = Path("/data/inbox")


@pytest.mark.parametrize(("code", "advice"), [
    (errno.ENOSPC, "free some space there"),
    (errno.EROFS, "read-only"),
    (errno.EACCES, "permission denied"),
    (errno.EIO, "check the destination"),
])
def test_problems_that_may_pass_are_named_with_what_to_do(code: int, advice: str) -> None:
    sentence = destination_problem(OSError(code, os.strerror(code)), DEST)
    assert sentence is not None
    assert sentence.startswith(f"cannot write to {DEST}: {os.strerror(code)}")
    assert advice in sentence
    with_file = destination_problem(OSError(code, os.strerror(code), "/data/inbox/a.bin"), DEST)
    assert with_file is not None
    assert with_file.startswith("cannot write to /data/inbox/a.bin:")


@pytest.mark.parametrize("code", [errno.EINVAL, errno.ENAMETOOLONG, errno.EFBIG, errno.EISDIR,
                                  errno.ENOTDIR, errno.EEXIST])
def test_problems_of_one_file_fail_that_file(code: int) -> None:
    assert destination_problem(OSError(code, os.strerror(code)), DEST) is None


def test_windows_network_errors_that_may_pass_are_recognised() -> None:
    """Python maps e.g. ERROR_NETNAME_DELETED (a share gone) to EINVAL on Windows."""
    gone = OSError(errno.EINVAL, "The specified network name is no longer available")
    gone.winerror = 64  # type: ignore[attr-defined]  # set by Python on Windows only
    assert destination_problem(gone, DEST) is not None
    bad_name = OSError(errno.EINVAL, "The filename syntax is incorrect")
    bad_name.winerror = 123  # type: ignore[attr-defined]
    assert destination_problem(bad_name, DEST) is None


# -- through the broker -------------------------------------------------------------------


QUICK = RetryDelays(stall=(0.3, 0.6), store=(0.3, 0.6))


def _send(kafka_config: KafkaConfig, topic: str, bus: EventBus, registry: Registry,
          files: dict[str, bytes], root: Path) -> None:
    root.mkdir()
    uploader = Uploader(kafka_config, topic, bus, registry, chunk_size=64 * 1024, workers=1)
    with running(uploader):
        for name, data in files.items():
            (root / name).write_bytes(data)
            uploader.submit(root, root / name)
        assert uploader.wait_idle(60)


def _committed(kafka_config: KafkaConfig, topic: str, group: str) -> dict[int, int]:
    consumer = Consumer(kafka_config.consumer_settings(group))
    try:
        committed = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        return {tp.partition: tp.offset for tp in committed}
    finally:
        consumer.close()


def _downloader(kafka_config: KafkaConfig, topic: str, dest: Path, bus: EventBus,
                registry: Registry, group: str = "", delays: RetryDelays = QUICK) -> Downloader:
    return Downloader(kafka_config, topic, dest, bus, registry,
                      group_id=group or f"g-{uuid.uuid4().hex[:8]}", job="d", delays=delays)


class _FullDisk:
    """Writes of ``victim`` fail with ``code`` (ENOSPC) while :attr:`full` is set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, victim: str,
                 code: int = errno.ENOSPC) -> None:
        self.full = True
        self.refused = 0
        real_handle_for = Assembly.handle_for
        disk = self

        class Handle:
            def __init__(self, inner: BinaryIO) -> None:
                self._inner = inner

            def write(self, data: bytes) -> int:
                if disk.full:
                    disk.refused += 1
                    raise OSError(code, os.strerror(code))
                return self._inner.write(data)

            def __getattr__(self, name: str) -> Any:
                return getattr(self._inner, name)

        def handle_for(assembly: Assembly, inc: Any) -> Any:
            handle = real_handle_for(assembly, inc)
            return Handle(handle) if inc.relpath == victim else handle

        monkeypatch.setattr(Assembly, "handle_for", handle_for)


def test_a_full_disk_makes_the_download_wait_and_loses_nothing(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path,
        bus: EventBus, recorder: Recorder, registry: Registry,
        monkeypatch: pytest.MonkeyPatch) -> None:
    topic = make_topic(1)
    files = {"a.bin": os.urandom(100_000), "big.bin": os.urandom(700_000),
             "c.bin": os.urandom(90_000)}
    disk = _FullDisk(monkeypatch, "big.bin")
    _send(kafka_config, topic, bus, registry, files, tmp_path / "src")
    dest = tmp_path / "dest"
    group = f"g-{uuid.uuid4().hex[:8]}"
    down = _downloader(kafka_config, topic, dest, bus, registry, group)
    with running(down):
        wait_until(lambda: disk.refused >= 3, timeout=30, message="three refused attempts")
        waiting = [e for e in recorder.of(FileWaiting) if e.relpath == "big.bin"]
        assert waiting, recorder.events
        assert "No space left on device" in waiting[0].reason
        assert "free some space" in waiting[0].reason
        assert "retrying in" in waiting[0].reason
        assert not recorder.of(FileFailed)
        assert not (dest / "big.bin").exists()
        # One sending worker: a.bin is offsets 0-1, big.bin 2-12, c.bin 13-14. The
        # consumer waits at big.bin: c.bin is not read, nothing from 2 on is committed.
        assert (dest / "a.bin").exists()
        assert not (dest / "c.bin").exists()
        assert _committed(kafka_config, topic, group)[0] <= 2
        disk.full = False  # space freed
        wait_until((dest / "big.bin").exists, timeout=30,
                   message="big.bin once space is freed")
        wait_until(lambda: len(recorder.of(FileCompleted)) >= 2 * len(files), timeout=30,
                   message="every file")
    for name, data in files.items():
        assert (dest / name).read_bytes() == data, name
    assert not recorder.of(FileFailed)
    states = [e.state for e in recorder.of(JobState) if e.job == "d"]
    last_wait = max(i for i, state in enumerate(states) if state is JobStatus.WAITING)
    assert JobStatus.RUNNING in states[last_wait:]  # the views show it enabled again
    assert not [p for p in dest.iterdir() if p.name.startswith(".openmsi-")]
    assert [r.status for r in registry.history() if r.relpath == "big.bin" and
            r.direction == "download"] == ["done"]


def test_one_read_only_subfolder_fails_only_its_file(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path,
        bus: EventBus, recorder: Recorder, registry: Registry,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission refused under a writable destination: that file fails, the rest go on."""
    topic = make_topic(1)
    files = {"locked.bin": os.urandom(150_000), "after.bin": os.urandom(20_000)}
    _FullDisk(monkeypatch, "locked.bin", errno.EACCES)
    _send(kafka_config, topic, bus, registry, files, tmp_path / "src")
    dest = tmp_path / "dest"
    down = _downloader(kafka_config, topic, dest, bus, registry)
    with running(down):
        wait_until(lambda: recorder.of(FileFailed) and (dest / "after.bin").exists(),
                   timeout=30, message="the refused file failed and the next one arrived")
    assert [f.relpath for f in recorder.of(FileFailed)] == ["locked.bin"]
    assert "Permission denied" in recorder.of(FileFailed)[0].reason
    assert not recorder.of(FileWaiting)


def test_a_read_only_destination_makes_the_download_wait(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path,
        bus: EventBus, recorder: Recorder, registry: Registry,
        monkeypatch: pytest.MonkeyPatch) -> None:
    topic = make_topic(1)
    files = {"a.bin": os.urandom(150_000)}
    disk = _FullDisk(monkeypatch, "a.bin", errno.EACCES)
    real_access = os.access
    monkeypatch.setattr(os, "access",
                        lambda path, mode: not disk.full and real_access(path, mode))
    _send(kafka_config, topic, bus, registry, files, tmp_path / "src")
    dest = tmp_path / "dest"
    down = _downloader(kafka_config, topic, dest, bus, registry)
    with running(down):
        wait_until(lambda: disk.refused >= 2, timeout=30, message="two refused attempts")
        waiting = recorder.of(FileWaiting)
        assert waiting
        assert "let this user write there" in waiting[0].reason
        disk.full = False  # the lab gave the permission back
        wait_until((dest / "a.bin").exists, timeout=30, message="a.bin once writable")
    assert (dest / "a.bin").read_bytes() == files["a.bin"]
    assert not recorder.of(FileFailed)


def test_retry_now_does_not_wait_for_the_next_attempt(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path,
        bus: EventBus, recorder: Recorder, registry: Registry,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab freed space and presses Retry: the file arrives well before the 60 s wait."""
    topic = make_topic(1)
    data = os.urandom(150_000)
    disk = _FullDisk(monkeypatch, "a.bin")
    _send(kafka_config, topic, bus, registry, {"a.bin": data}, tmp_path / "src")
    dest = tmp_path / "dest"
    down = _downloader(kafka_config, topic, dest, bus, registry,
                       delays=dataclasses.replace(QUICK, stall=(60.0,)))
    with running(down):
        wait_until(lambda: recorder.of(FileWaiting), timeout=30, message="the file waiting")
        disk.full = False
        asked = time.monotonic()
        down.retry_now()
        wait_until((dest / "a.bin").exists, timeout=30, message="a.bin after Retry")
        assert time.monotonic() - asked < 30
    assert (dest / "a.bin").read_bytes() == data


def test_a_destination_folder_that_vanished_is_waited_for_not_recreated(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path,
        bus: EventBus, recorder: Recorder, registry: Registry) -> None:
    """A network share or USB disk goes away: do not write onto the disk beneath it."""
    topic = make_topic(1)
    share = tmp_path / "share"
    dest = share / "inbox"
    first, second = os.urandom(30_000), os.urandom(40_000)
    _send(kafka_config, topic, bus, registry, {"first.bin": first}, tmp_path / "src1")
    down = _downloader(kafka_config, topic, dest, bus, registry)
    with running(down):
        wait_until((dest / "first.bin").exists, timeout=30, message="the first file")
        shutil.rmtree(share)  # the share disconnects
        _send(kafka_config, topic, bus, registry, {"second.bin": second}, tmp_path / "src2")
        wait_until(lambda: [e for e in recorder.of(FileWaiting) if e.relpath == "second.bin"],
                   timeout=30, message="the second file waiting")
        waiting = [e for e in recorder.of(FileWaiting) if e.relpath == "second.bin"]
        assert "is not there" in waiting[0].reason
        assert "reconnect it" in waiting[0].reason
        assert not share.exists()  # not created again on the disk beneath
        dest.mkdir(parents=True)  # reconnected
        wait_until((dest / "second.bin").exists, timeout=30, message="the second file")
    assert (dest / "second.bin").read_bytes() == second
    assert not recorder.of(FileFailed)


def test_a_file_locked_at_its_final_name_is_kept_and_placed_later(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path,
        bus: EventBus, recorder: Recorder, registry: Registry,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows: the old version is open in another program, so the rename is refused."""
    topic = make_topic(1)
    data = os.urandom(200_000)
    dest = tmp_path / "dest"
    refusals = [2]
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        if Path(dst).name == "report.xlsx" and refusals[0] > 0:
            refusals[0] -= 1
            raise PermissionError(errno.EACCES, "Permission denied", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    _send(kafka_config, topic, bus, registry, {"report.xlsx": data}, tmp_path / "src")
    down = _downloader(kafka_config, topic, dest, bus, registry)
    with running(down):
        wait_until((dest / "report.xlsx").exists, timeout=30,
                   message="the file once it is no longer locked")
    assert (dest / "report.xlsx").read_bytes() == data
    assert refusals == [0]
    waiting = [e for e in recorder.of(FileWaiting) if e.relpath == "report.xlsx"]
    assert len(waiting) == 2
    assert "Permission denied" in waiting[0].reason
    assert not recorder.of(FileFailed)


def test_a_name_the_file_system_refuses_fails_only_that_file(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path,
        bus: EventBus, recorder: Recorder, registry: Registry,
        monkeypatch: pytest.MonkeyPatch) -> None:
    topic = make_topic(1)
    dest = tmp_path / "dest"
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        if Path(dst).name == "refused.txt":  # e.g. a name an old NAS refuses
            raise OSError(errno.EINVAL, "Invalid argument", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    files = {"refused.txt": b"colon", "ok.txt": b"fine"}
    _send(kafka_config, topic, bus, registry, files, tmp_path / "src")
    down = _downloader(kafka_config, topic, dest, bus, registry)
    with running(down):
        wait_until(lambda: recorder.of(FileFailed) and (dest / "ok.txt").exists(), timeout=30,
                   message="one failure and one file")
    failed = recorder.of(FileFailed)
    assert [f.relpath for f in failed] == ["refused.txt"]
    assert "Invalid argument" in failed[0].reason
    assert not [e for e in recorder.of(FileWaiting) if e.relpath == "refused.txt"]


# -- a real full file system ----------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (Linux, as root with mount rights; skipped elsewhere)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root on Linux to mount a small tmpfs")
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_really_full_disk_waits_until_space_is_freed(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path,
        bus: EventBus, recorder: Recorder, registry: Registry, small_disk: Path) -> None:
    topic = make_topic(1)
    files = {"small.bin": os.urandom(200_000), "big.bin": os.urandom(1_500_000)}
    _send(kafka_config, topic, bus, registry, files, tmp_path / "src")
    dest = small_disk / "inbox"
    down = _downloader(kafka_config, topic, dest, bus, registry)
    with running(down):
        wait_until(lambda: [e for e in recorder.of(FileWaiting) if e.relpath == "big.bin"],
                   timeout=30, message="big.bin waiting for space")
        wait_until((dest / "small.bin").exists, timeout=30, message="small.bin")
        assert (dest / "small.bin").read_bytes() == files["small.bin"]
        assert not recorder.of(FileFailed)
        subprocess.run(["mount", "-o", "remount,size=8m", str(small_disk)], check=True)
        wait_until((dest / "big.bin").exists, timeout=30,
                   message="big.bin once the disk has room")
    assert (dest / "big.bin").read_bytes() == files["big.bin"]
    assert not recorder.of(FileFailed)


def test_chunk_records_wait_until_their_bytes_are_on_disk(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path,
        bus: EventBus, registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's jobs share one registry: another job's commit must not make a chunk's
    record durable before the chunk's bytes are (a power cut would then lose them)."""
    monkeypatch.setattr(downloader_module, "CHECKPOINT_SECONDS", 3600.0)
    monkeypatch.setattr(downloader_module, "CHECKPOINT_BYTES", 1 << 40)
    topic = make_topic(1)
    chunks = chunks_of(os.urandom(5 * 1024), "run/partial.bin", chunk_size=1024)
    produce_chunks(kafka_config, topic, chunks[:3])  # the file stays incomplete
    down = _downloader(kafka_config, topic, tmp_path / "dest", bus, registry)

    def records() -> int:
        with sqlite3.connect(registry.path) as other:
            return int(other.execute("SELECT COUNT(*) FROM download_chunks").fetchone()[0])

    with running(down):
        wait_until(lambda: down.incomplete() == [("run/partial.bin", 3, 5)], timeout=30,
                   message="three chunks stored")
        registry.commit()  # what an upload job's checkpoint does meanwhile
        assert records() == 0
    assert records() == 3  # the downloader's own checkpoint: fsync, then the records
