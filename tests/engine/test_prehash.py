"""Hashing ahead during the stability window: used only for the very file hashed (no broker)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from openmsi_gui.engine.file_hash import hash_file
from openmsi_gui.engine.prehash import Prehashes


@pytest.fixture
def prehashes() -> Iterator[Prehashes]:
    with ThreadPoolExecutor(2) as pool:
        made = Prehashes(4096, pool)
        yield made
        made.close()


def write(path: Path, data: bytes, mtime: float = 1_700_000_000.0) -> None:
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def test_an_unchanged_file_gets_the_hashes_made_ahead(prehashes: Prehashes,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    write(path, os.urandom(20_000))
    prehashes.start(path)
    assert prehashes.take(path, path.stat()) == hash_file(path, 4096)
    assert prehashes.take(path, path.stat()) is None  # taken once


def test_none_without_a_hash_ahead(prehashes: Prehashes, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    write(path, b"data")
    assert prehashes.take(path, path.stat()) is None


def test_a_file_changed_after_its_hash_is_hashed_again(prehashes: Prehashes,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    write(path, b"a" * 10_000)
    prehashes.start(path)
    prehashes._futures[str(path)].result()  # the hash is made before the change
    write(path, b"b" * 10_000, mtime=1_700_000_001.0)  # same size, new mtime
    assert prehashes.take(path, path.stat()) is None


def test_a_replaced_file_with_the_same_size_and_mtime_is_hashed_again(
        prehashes: Prehashes, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    write(path, b"a" * 10_000)
    keep = tmp_path / "keep.bin"
    os.link(path, keep)  # so the new file cannot reuse the inode
    prehashes.start(path)
    prehashes._futures[str(path)].result()
    other = tmp_path / "other.bin"
    write(other, b"b" * 10_000)  # same size and mtime, another inode
    os.replace(other, path)
    assert prehashes.take(path, path.stat()) is None


def test_hashing_again_replaces_the_hash_made_before(prehashes: Prehashes,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    write(path, b"a" * 10_000)
    prehashes.start(path)
    write(path, b"b" * 12_000, mtime=1_700_000_005.0)
    prehashes.start(path)
    assert prehashes.take(path, path.stat()) == hash_file(path, 4096)


def test_a_missing_file_and_a_closed_prehasher_give_nothing(tmp_path: Path) -> None:
    made = Prehashes(4096, limit=1)
    path = tmp_path / "gone.bin"
    write(path, b"x")
    st = path.stat()
    path.unlink()
    made.start(path)
    assert made.take(path, st) is None
    made.close()
    write(path, b"x")
    made.start(path)  # ignored once closed
    assert made.take(path, path.stat()) is None
