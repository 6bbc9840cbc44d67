"""Upload → broker → download round trips with the real engine and broker."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers import Recorder, chunks_of, produce_chunks, tree_files, wait_until

from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import Direction, EventBus, FileCompleted, FileSkipped
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.upload_types import UploadOutcome
from openmsi_gui.engine.uploader import Uploader


@contextmanager
def running(*jobs: Uploader | Downloader) -> Iterator[None]:
    for job in jobs:
        job.start()
    try:
        yield
    finally:
        for job in jobs:
            job.stop()


def upload_tree(config: KafkaConfig, topic: str, root: Path, bus: EventBus,
                registry: Registry, chunk_size: int = 4096) -> dict[str, UploadOutcome]:
    """Send every file under ``root``; return each relative path's outcome."""
    uploader = Uploader(config, topic, bus, registry, chunk_size=chunk_size)
    with running(uploader):
        for path in sorted(root.rglob("*")):
            if path.is_file():
                uploader.submit(root, path)
        assert uploader.wait_idle(60)
    return {r.path.relative_to(root).as_posix(): r.outcome for r in uploader.results()}


def write_sample_tree(root: Path) -> dict[str, bytes]:
    files = {
        "root.bin": os.urandom(50_000),
        "empty.dat": b"",
        "exact.bin": os.urandom(8192),
        "sub dir/ünïcödé µm.txt": "Grüße\n".encode() * 300,
        "a/b/c/deep.csv": b"x,y\n" * 5000,
        "catalog.csv": b"keep me: my name contains 'log'",
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def test_round_trip_is_byte_exact(kafka_config: KafkaConfig, topic: str, tmp_path: Path,
                                  bus: EventBus, recorder: Recorder, registry: Registry) -> None:
    files = write_sample_tree(tmp_path / "src")
    outcomes = upload_tree(kafka_config, topic, tmp_path / "src", bus, registry)
    assert outcomes == dict.fromkeys(files, UploadOutcome.SENT)
    dest = tmp_path / "dest"
    downloader = Downloader(kafka_config, topic, dest, bus, registry, group_id="g-round")
    with running(downloader):
        wait_until(lambda: downloader.files_received == len(files), message="all files")
    assert tree_files(dest) == files
    done = {e.relpath for e in recorder.of(FileCompleted)
            if e.direction is Direction.DOWNLOAD}
    assert done == set(files)


def test_restart_skips_what_is_done_and_resends_changes(
        kafka_config: KafkaConfig, topic: str, tmp_path: Path, bus: EventBus,
        recorder: Recorder, registry: Registry) -> None:
    src = tmp_path / "src"
    write_sample_tree(src)
    upload_tree(kafka_config, topic, src, bus, registry)
    # Unchanged: skipped by path+size+mtime. Touched: skipped by hash. Edited: resent.
    os.utime(src / "root.bin", ns=(time.time_ns(), time.time_ns()))
    (src / "catalog.csv").write_bytes(b"second generation")
    outcomes = upload_tree(kafka_config, topic, src, bus, registry)
    assert outcomes.pop("catalog.csv") is UploadOutcome.SENT
    assert set(outcomes.values()) == {UploadOutcome.SKIPPED}
    reasons = {e.relpath: e.reason for e in recorder.of(FileSkipped)}
    assert reasons["root.bin"] == "same content already sent"
    assert reasons["exact.bin"] == "already sent"
    dest = tmp_path / "dest"
    downloader = Downloader(kafka_config, topic, dest, bus, registry, group_id="g-gen")
    with running(downloader):
        wait_until(lambda: (dest / "catalog.csv").exists()
                   and (dest / "catalog.csv").read_bytes() == b"second generation"
                   and downloader.files_received >= 7, message="newest generation")
    assert (dest / "catalog.csv").read_bytes() == b"second generation"


def test_old_generation_arriving_late_does_not_replace_newer(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path,
        bus: EventBus, registry: Registry) -> None:
    topic = make_topic(1)
    old = chunks_of(b"old content " * 500, "data/run.csv", mtime=1000.0)
    new = chunks_of(b"new content!" * 400, "data/run.csv", mtime=2000.0)
    # Interleaved, out of order, duplicated; the old generation completes last.
    sequence = [new[2], old[0], new[0], new[1], new[1], old[2], *new[3:], *old[1:]]
    produce_chunks(kafka_config, topic, [c for c in sequence])
    dest = tmp_path / "dest"
    downloader = Downloader(kafka_config, topic, dest, bus, registry, group_id=f"g-{topic}")
    with running(downloader):
        wait_until(lambda: not downloader.incomplete() and downloader.files_received >= 1
                   and downloader.next_offsets.get(0) == len(sequence), message="all read")
    assert (dest / "data/run.csv").read_bytes() == b"new content!" * 400
    assert tree_files(dest) == {"data/run.csv": b"new content!" * 400}


def test_two_downloaders_in_one_group_share_the_files(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path,
        bus: EventBus, registry: Registry) -> None:
    topic = make_topic(4)
    src = tmp_path / "src"
    src.mkdir()
    files = {f"sample_{i:02d}.dat": os.urandom(20_000 + i) for i in range(24)}
    for name, data in files.items():
        (src / name).write_bytes(data)
    one = Downloader(kafka_config, topic, tmp_path / "one", bus,
                     Registry(tmp_path / "one.sqlite3"), group_id="shared", job="one")
    two = Downloader(kafka_config, topic, tmp_path / "two", bus,
                     Registry(tmp_path / "two.sqlite3"), group_id="shared", job="two")
    with running(one, two):
        wait_until(lambda: len(one.assignment) == 2 and len(two.assignment) == 2,
                   timeout=40, message="both downloaders to get two partitions")
        upload_tree(kafka_config, topic, src, bus, registry)
        wait_until(lambda: one.files_received + two.files_received >= len(files),
                   message="every file on one of the two")
        time.sleep(1.0)  # a duplicate would show up now
    got_one, got_two = tree_files(tmp_path / "one"), tree_files(tmp_path / "two")
    assert got_one, "both downloaders should have received files"
    assert got_two, "both downloaders should have received files"
    assert not set(got_one) & set(got_two), "a file landed twice"
    assert {**got_one, **got_two} == files
