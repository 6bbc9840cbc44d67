"""Hash files: a whole file's SHA-512, and for sending its chunks' too, in one pass."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path

READ_BLOCK = 1 << 20


def sha512_of(path: Path) -> bytes:
    """The SHA-512 of the file at ``path``, read in blocks."""
    digest = hashlib.sha512()
    with path.open("rb", buffering=0) as handle:
        while block := handle.read(READ_BLOCK):
            digest.update(block)
    return digest.digest()


def _sha512(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


def hash_file(path: Path, chunk_size: int,
              pool: Executor | None = None) -> tuple[bytes, list[bytes]]:
    """Stream ``path`` once: its SHA-512 and the SHA-512 of each chunk.

    With a ``pool``, the chunk hashes are computed in its threads while this
    thread updates the whole-file hash (hashlib releases the GIL), so one pass
    costs the time of one hash, not two.
    """
    whole = hashlib.sha512()
    pending: list[Future[bytes]] = []
    with path.open("rb", buffering=0) as handle:
        first = handle.read(chunk_size)
        second = handle.read(chunk_size) if first else b""
        if not second:
            # One chunk (or none): its hash is the file's; hashing it twice, through the
            # pool, was most of the uploader's time per small file.
            digest = hashlib.sha512(first).digest()
            return digest, [digest]
        blocks = itertools.chain((first, second), iter(lambda: handle.read(chunk_size), b""))
        for data in blocks:
            pending.append(_submit(pool, _sha512, data))
            whole.update(data)
            if len(pending) > 8:  # bound the memory held by queued chunks
                pending[-9].result()
    chunk_hashes = [f.result() for f in pending] or [_sha512(b"")]
    return whole.digest(), chunk_hashes


def _submit(pool: Executor | None, fn: Callable[[bytes], bytes], data: bytes) -> Future[bytes]:
    """``pool.submit(fn, data)``, or a future already done when there is no pool."""
    if pool is not None:
        return pool.submit(fn, data)
    done: Future[bytes] = Future()
    done.set_result(fn(data))
    return done
