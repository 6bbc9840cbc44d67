"""Hash a file while it waits out its stability window, so sending starts at once.

Every chunk message carries the whole file's SHA-512, so no chunk can go
before the whole file is read once. A watched file waits ``stable_seconds``
unchanged before it is sent; hashing it during that wait takes the hash pass
(about 0.4 s per 256 MiB here) off its time to arrival.

A hash made ahead is used only if the file is still the one hashed: same
size, modification time, inode and device before the hash, after it, and
when it is sent. Otherwise the file is hashed again as usual.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
from concurrent.futures import CancelledError, Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from openmsi_gui.engine.file_hash import hash_file

log = logging.getLogger(__name__)

MAX_PREHASHED = 64
"""Hashes kept for files not sent yet (each holds 64 bytes per chunk)."""

Identity = tuple[int, int, int, int]
"""(size, mtime_ns, inode, device): a file that keeps these has not changed."""


def identity_of(st: os.stat_result) -> Identity:
    """What must stay the same for a hash made ahead to be used."""
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


@dataclass(frozen=True, slots=True)
class Hashes:
    """A file's SHA-512 and its chunks' SHA-512s, and which file they were made of."""

    identity: Identity
    file_hash: bytes
    chunk_hashes: list[bytes]


class Prehashes:
    """Hashes made ahead of sending, one file at a time on their own thread.

    Args:
        chunk_size: bytes per chunk (the chunk hashes depend on it).
        pool: threads the chunk hashes are computed in (see :func:`hash_file`).
        limit: most files kept; the oldest is forgotten beyond it.
    """

    def __init__(self, chunk_size: int, pool: Executor | None = None,
                 limit: int = MAX_PREHASHED) -> None:
        self._chunk_size = chunk_size
        self._pool = pool
        self._limit = limit
        self._lock = threading.Lock()
        self._futures: collections.OrderedDict[str, Future[Hashes | None]] = \
            collections.OrderedDict()
        self._thread: ThreadPoolExecutor | None = ThreadPoolExecutor(
            1, thread_name_prefix="prehash")

    def start(self, path: Path) -> None:
        """Hash ``path`` in the background (again, if it was hashed before)."""
        with self._lock:
            if self._thread is None:
                return
            old = self._futures.pop(str(path), None)
            if old is not None:
                old.cancel()
            self._futures[str(path)] = self._thread.submit(self._hash, path)
            while len(self._futures) > self._limit:
                _, oldest = self._futures.popitem(last=False)
                oldest.cancel()

    def take(self, path: Path, st: os.stat_result) -> tuple[bytes, list[bytes]] | None:
        """The hashes of ``path`` made ahead, if it is still the file ``st`` describes.

        Waits for a hash still being made. None: none was made, or the file changed.
        """
        with self._lock:
            future = self._futures.pop(str(path), None)
        if future is None:
            return None
        try:
            hashes = future.result()
        except CancelledError:
            return None
        if hashes is None or hashes.identity != identity_of(st):
            return None
        return hashes.file_hash, hashes.chunk_hashes

    def close(self) -> None:
        """Stop hashing ahead; hashes being made are abandoned."""
        with self._lock:
            thread, self._thread = self._thread, None
            futures = list(self._futures.values())
            self._futures.clear()
        for future in futures:
            future.cancel()
        if thread is not None:
            thread.shutdown(wait=True, cancel_futures=True)

    def _hash(self, path: Path) -> Hashes | None:
        try:
            before = identity_of(path.stat())
            file_hash, chunk_hashes = hash_file(path, self._chunk_size, self._pool)
            after = identity_of(path.stat())
        except OSError as exc:  # sending reports it, if it lasts
            log.debug("could not hash %s ahead: %s", path, exc)
            return None
        if after != before:
            return None
        return Hashes(before, file_hash, chunk_hashes)
