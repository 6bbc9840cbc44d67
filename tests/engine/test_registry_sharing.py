"""Processes sharing one registry file never fail on its lock (no broker, no Qt)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from openmsi_gui.engine import registry_db
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.registry_db import Database

# One side of a transfer per process, as the engine writes it (a write per step, a
# durable commit every second), with a lock timeout far below the storm's length:
# a design that held the write lock from one checkpoint to the next would fail here.
STORM = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from openmsi_gui.engine import registry_db
    from openmsi_gui.engine.registry import Registry

    registry_db.BUSY_TIMEOUT = 0.5
    path, name, seconds = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    registry = Registry(path)
    end = time.monotonic() + seconds
    next_commit = time.monotonic() + 1.0
    i = 0
    while time.monotonic() < end:
        relpath = f"{name}/{i:06d}.bin"
        digest = f"{name}{i}".encode().ljust(64, b"-")
        registry.upload_done(name, "/root", relpath, 4096, i)
        upload_id, _ = registry.start_upload(name, "/root", relpath, 4096, i, digest, 4096, 1)
        registry.ack_chunks(upload_id, [0])
        registry.finish_upload(upload_id)
        download_id = registry.start_download(name, "g", "/dest", relpath, digest, 1, 0.0, "t")
        registry.store_chunk(download_id, 0, 0, 4096)
        registry.finish_download(download_id, "done", 4096)
        i += 1
        if time.monotonic() >= next_commit:
            registry.commit()
            next_commit = time.monotonic() + 1.0
    registry.close()
    print(i)
""")


def test_two_processes_in_a_write_storm_never_fail(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite3"
    Registry(path).close()
    procs = [subprocess.Popen([sys.executable, "-c", STORM, str(path), name, "6"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("sender", "receiver")]
    # A third one reads the history meanwhile, as the tray app does.
    reader = Registry(path)
    try:
        while any(p.poll() is None for p in procs):
            reader.history(100)
            time.sleep(0.05)
    finally:
        reader.close()
    counts = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        counts.append(int(out))
    assert min(counts) > 100  # both made progress all along
    registry = Registry(path)
    try:
        rows = registry.history(limit=10 * sum(counts))
    finally:
        registry.close()
    assert len(rows) == 2 * sum(counts)
    assert all(row.status == "done" for row in rows)


def hold_write_lock(path: Path, seconds: float, locked: threading.Event) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    locked.set()
    time.sleep(seconds)
    db.execute("COMMIT")
    db.close()


def test_a_write_waits_out_a_lock_held_longer_than_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    registry = Registry(path)
    registry._db.close()
    registry._db = Database(path, busy_timeout=0.1, retry_delays=(0.2, 0.5, 1.0))
    locked = threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(path, 0.8, locked))
    holder.start()
    try:
        assert locked.wait(5)
        upload_id, _ = registry.start_upload("t", "/r", "a", 1, 1, b"h" * 64, 4096, 1)
        registry.commit()
        assert registry.last_upload("t", "/r", "a") is not None
    finally:
        holder.join()
        registry.close()
    assert upload_id > 0


def test_a_lock_that_is_never_released_fails_after_bounded_retries(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    Registry(path).close()
    db = Database(path, busy_timeout=0.05, retry_delays=(0.05, 0.05))
    locked = threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(path, 1.5, locked))
    holder.start()
    try:
        assert locked.wait(5)
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            db.write(lambda cur: cur.execute("DELETE FROM uploads"))
        assert time.monotonic() - started < 1.0
    finally:
        holder.join()
        db.close()


def test_writes_are_visible_to_other_connections_before_a_commit(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    writer, reader = Registry(path), Registry(path)
    try:
        writer.start_upload("t", "/r", "a", 1, 1, b"h" * 64, 4096, 1)
        assert reader.last_upload("t", "/r", "a") is not None
        assert registry_db.is_busy(sqlite3.OperationalError("database is locked"))
    finally:
        writer.close()
        reader.close()
