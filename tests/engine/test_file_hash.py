"""Hashing a file for sending, with and without a pool (no broker, no Qt)."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from openmsi_gui.engine.file_hash import hash_file


def test_a_pool_changes_nothing_but_the_speed(tmp_path: Path) -> None:
    data = os.urandom(50_000)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    alone = hash_file(path, 4096)
    with ThreadPoolExecutor(2) as pool:
        assert hash_file(path, 4096, pool) == alone
    whole, chunks = alone
    assert whole == hashlib.sha512(data).digest()
    assert chunks == [hashlib.sha512(data[i:i + 4096]).digest() for i in range(0, 50_000, 4096)]


def test_an_empty_file_has_one_chunk(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert hash_file(path, 4096) == (hashlib.sha512().digest(), [hashlib.sha512().digest()])
