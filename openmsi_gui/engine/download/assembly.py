"""Rebuilding one file generation: its temporary file, open handle and hash.

A generation (relative path + SHA-512) is written chunk by chunk into a hidden
temporary file beside its final name. Chunks are written unbuffered, so a full
disk is reported by the write of the chunk itself; they are recorded in the
registry only once their bytes are fsynced (at the downloader's checkpoint).

Chunk hashes are not checked one by one on arrival: the whole-file SHA-512
(computed incrementally on the finisher thread while chunks arrive in order)
covers every byte, and only when it fails are the chunks re-read to name the
bad ones.
"""

from __future__ import annotations

import collections
import errno
import hashlib
import io
import logging
import os
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from openmsi_gui.engine import wire
from openmsi_gui.engine.download.problems import Rejected
from openmsi_gui.engine.file_hash import sha512_of
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

MAX_OPEN_FILES = 64
MAX_FILE_BYTES = 1 << 42  # 4 TiB: larger offsets are treated as hostile
READ_BLOCK = 1 << 20
MAX_HASH_BACKLOG_BYTES = 32 * 1024 * 1024  # chunk data queued for the hasher, at most
NO_PIN = -1  # the "partition" of a parked message: its offset is already committed

FileKey = tuple[str, bytes]

_TEMP_NAME = re.compile(r"^\.openmsi-.*\.partial$", re.IGNORECASE)


def temp_name(target: Path, file_hash: bytes) -> Path:
    """The hidden temporary file a generation is rebuilt in, beside its final name."""
    tag = hashlib.sha256(target.name.encode() + file_hash).hexdigest()[:16]
    return target.with_name(f".openmsi-{tag}.partial")


def uses_temp_name(relpath: str) -> bool:
    """Whether a part of ``relpath`` is named like a file being received."""
    return any(_TEMP_NAME.match(part) for part in relpath.split("/"))


@dataclass
class Incoming:
    """One file generation being rebuilt."""

    key: FileKey
    download_id: int
    target: Path
    temp: Path
    n_chunks: int
    mtime: float
    stored: dict[int, tuple[int, int]]
    chunk_hashes: dict[int, bytes] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    pins: dict[int, int] = field(default_factory=dict)
    hashed_upto: int = 0
    hasher: hashlib._Hash | None = field(default_factory=hashlib.sha512)
    last_seen: float = field(default_factory=time.monotonic)
    stored_bytes: int = 0
    stale_warned: bool = False
    temp_id: tuple[int, int] = (0, 0)
    finishing: bool = False
    size: int = 0
    attempts: int = 0
    verified: bool = False  # its whole-file hash matched (S3: it is ready to upload)
    # Chunks written but not yet fsynced: recorded in the registry only after the
    # fsync, since another job's commit of the shared registry may come first.
    unsynced: list[tuple[int, int, int]] = field(default_factory=list)
    # The fields it came with (escaped; from the first chunk that had a good header).
    metadata: dict[str, str] = field(default_factory=dict)
    metadata_seen: bool = False  # a good header was taken (or the registry had one)
    metadata_refused: bool = False  # a bad header was logged (once per file)
    # The fsync of its complete temporary file, started when it was handed to the
    # finisher (the size it saw); see FolderSink.prepare.
    synced: Future[int] | None = None

    @property
    def relpath(self) -> str:
        """The file's path relative to the destination (POSIX separators)."""
        return self.key[0]

    @property
    def shown(self) -> str:
        """The relative path as it may be shown in logs and events (it came from a message)."""
        return escaped(self.relpath)

    @property
    def complete(self) -> bool:
        """Whether every chunk is stored."""
        return len(self.stored) == self.n_chunks


class Assembly:
    """The generations being rebuilt, their open temporary files and hashing (consume thread).

    Args:
        registry: where fsynced chunks are recorded.
        hash_pool: the one finisher thread; hash updates queue there in order,
            ahead of the verification of the file they belong to.
    """

    def __init__(self, registry: Registry, hash_pool: ThreadPoolExecutor) -> None:
        self.incoming: dict[FileKey, Incoming] = {}
        self.dirty_bytes = 0  # written since the last sync
        self._registry = registry
        self._hash_pool = hash_pool
        self._handles: collections.OrderedDict[FileKey, io.FileIO] = collections.OrderedDict()
        self._dirty: set[FileKey] = set()
        self._hash_backlog: collections.deque[tuple[Future[None], int]] = collections.deque()
        self._hash_backlog_bytes = 0

    def write(self, inc: Incoming, chunk: wire.Chunk) -> None:
        """Write a new chunk into the temporary file and feed the hash if it is next."""
        placed = (chunk.offset, len(chunk.data))
        _write_at(self.handle_for(inc), chunk.offset, chunk.data)
        inc.stored[chunk.chunk_i] = placed
        inc.chunk_hashes[chunk.chunk_i] = chunk.chunk_hash
        inc.stored_bytes += len(chunk.data)
        inc.unsynced.append((chunk.chunk_i, *placed))
        self._dirty.add(inc.key)
        self.dirty_bytes += len(chunk.data)
        if inc.hasher is not None and chunk.offset == inc.hashed_upto:
            # FIFO on one thread keeps the order; hashlib releases the GIL meanwhile.
            self._hash_backlog.append(
                (self._hash_pool.submit(inc.hasher.update, chunk.data), len(chunk.data)))
            self._hash_backlog_bytes += len(chunk.data)
            inc.hashed_upto += len(chunk.data)
            self._limit_hash_backlog()

    def _limit_hash_backlog(self) -> None:
        """Wait for the hasher when it lags (each queued update holds a chunk in memory)."""
        while self._hash_backlog and (self._hash_backlog[0][0].done() or
                                      self._hash_backlog_bytes > MAX_HASH_BACKLOG_BYTES):
            future, size = self._hash_backlog.popleft()
            future.result()
            self._hash_backlog_bytes -= size

    def handle_for(self, inc: Incoming) -> io.FileIO:
        """The open temporary file of ``inc`` (the least recently used is closed past a limit)."""
        handle = self._handles.get(inc.key)
        if handle is not None:
            self._handles.move_to_end(inc.key)
            return handle
        while len(self._handles) >= MAX_OPEN_FILES:
            old_key, old = self._handles.popitem(last=False)
            self._sync_close(old_key, old)
        # Unbuffered, so a full disk is reported by the write of the chunk itself
        # (and the chunk is not recorded), never later by a flush of a buffer.
        handle = io.FileIO(inc.temp, "r+")
        self._handles[inc.key] = handle
        return handle

    def _sync_close(self, key: FileKey, handle: io.FileIO) -> None:
        try:
            if key in self._dirty:
                os.fsync(handle.fileno())
                self._dirty.discard(key)
        finally:
            handle.close()

    def release(self, inc: Incoming) -> int:
        """Close the file of a complete generation for the finisher; return its size.

        Raises:
            Rejected: the chunks do not tile the file.
        """
        size = 0
        for start, length in sorted(inc.stored.values()):
            if start != size:
                raise Rejected(f"chunk offsets do not tile the file (gap or overlap at byte "
                               f"{min(start, size)})")
            size += length
        handle = self._handles.pop(inc.key, None)
        if handle is not None:
            handle.close()
            self._dirty.discard(inc.key)
        inc.unsynced.clear()  # the finisher fsyncs the whole file; a crash refetches them
        inc.finishing = True
        inc.size = size
        return size

    def drop(self, key: FileKey) -> Incoming | None:
        """Forget a generation in memory (its registry rows and temp file stay)."""
        handle = self._handles.pop(key, None)
        if handle is not None:
            self._sync_close(key, handle)
        self._dirty.discard(key)
        inc = self.incoming.pop(key, None)
        if inc is not None:
            self._record_synced(inc)
        return inc

    def _record_synced(self, inc: Incoming) -> None:
        """Record the chunks of ``inc`` whose bytes are fsynced (after the fsync only)."""
        self._registry.store_chunks((inc.download_id, *chunk) for chunk in inc.unsynced)
        inc.unsynced.clear()

    def sync(self) -> None:
        """Fsync what was written, then record those chunks in the registry."""
        for key in list(self._dirty):
            handle = self._handles.get(key)
            if handle is not None:
                os.fsync(handle.fileno())
        self._dirty.clear()
        self.dirty_bytes = 0
        # Only now that their bytes are on disk (the registry is shared by every job,
        # and any of them may commit it).
        for inc in self.incoming.values():
            self._record_synced(inc)

    def close(self, job: str) -> None:
        """Fsync and close every open file (on stop; a failure is logged, not raised)."""
        while self._handles:
            key, handle = self._handles.popitem()
            try:
                self._sync_close(key, handle)
            except OSError as exc:  # its chunks are not committed: they are fetched again
                log.warning("%s: could not store %s: %s", job, escaped(key[0]), escaped(str(exc)))

    def pins(self) -> dict[int, int]:
        """The first offset of an unfinished file, per partition (commit no further)."""
        pins: dict[int, int] = {}
        for inc in self.incoming.values():
            for partition, first in inc.pins.items():
                pins[partition] = min(pins.get(partition, first), first)
        return pins

    def unpin_stale(self, job: str, seconds: float) -> None:
        """Stop files that have had no chunk for ``seconds`` from holding back commits."""
        now = time.monotonic()
        for inc in self.incoming.values():
            if inc.pins and now - inc.last_seen > seconds:
                inc.pins.clear()
                if not inc.stale_warned:
                    inc.stale_warned = True
                    log.warning("%s: %s has had %d of %d chunks for over %.0f s; its chunks "
                                "are kept and it will finish if the rest arrives", job,
                                inc.shown, len(inc.stored), inc.n_chunks, seconds)

    def forget_stalest(self, job: str, limit: int) -> None:
        """Drop the least recently active incomplete file from memory (and its pin).

        Its chunks stay in the registry and its temporary file, so it still
        finishes if the rest arrives; this only bounds memory and keeps a flood
        of never-finished files from pinning offsets.
        """
        candidates = [i for i in self.incoming.values() if not i.finishing]
        if not candidates:
            return
        stalest = min(candidates, key=lambda i: i.last_seen)
        log.warning("%s: more than %d files are incomplete; no longer tracking %s (%d of %d "
                    "chunks)", job, limit, stalest.shown, len(stalest.stored),
                    stalest.n_chunks)
        self.drop(stalest.key)


def verify(inc: Incoming, size: int) -> None:
    """Check the rebuilt temporary file against its whole-file SHA-512 (finisher thread).

    Raises:
        Rejected: the file was replaced or does not match its hash.
        OSError: it cannot be read.
    """
    temp_stat = os.stat(inc.temp, follow_symlinks=False)
    if (temp_stat.st_dev, temp_stat.st_ino) != inc.temp_id:
        raise Rejected("the temporary file was replaced while the file was being received")
    if temp_stat.st_size != size:
        os.truncate(inc.temp, size)
    if inc.hasher is not None and inc.hashed_upto == size:
        digest = inc.hasher.digest()
    else:
        digest = sha512_of(inc.temp)
    if digest != inc.key[1]:
        bad = _bad_chunks(inc)
        which = f"chunks {bad[:10]} fail their SHA-512 check" if bad else (
            "the chunks do not add up to the file")
        raise Rejected(f"the rebuilt file does not match its SHA-512 ({which}); "
                       "it was discarded")


def _bad_chunks(inc: Incoming) -> list[int]:
    """Chunk indices whose stored bytes do not match the hash they arrived with."""
    bad = []
    with inc.temp.open("rb") as handle:
        for chunk_i, expected in sorted(inc.chunk_hashes.items()):
            offset, length = inc.stored[chunk_i]
            handle.seek(offset)
            if hashlib.sha512(handle.read(length)).digest() != expected:
                bad.append(chunk_i)
    return bad


def _write_at(handle: io.FileIO, offset: int, data: bytes) -> None:
    """Write all of ``data`` at ``offset`` (raw writes may be short, e.g. on a full disk)."""
    handle.seek(offset)
    view = memoryview(data)
    while view:
        written = handle.write(view)
        if not written:
            raise OSError(errno.EIO, "the file system accepted no data")
        view = view[written:]


