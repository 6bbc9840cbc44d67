"""The files whose chunks are in flight, and what the broker has acknowledged of them.

Delivery reports (the producer's poll thread), the workers and ``stop()`` all
call in; acknowledged chunks go to the registry in batches (each checkpoint),
so a restart resends only what was not acknowledged.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from openmsi_gui.engine.registry import Registry


@dataclass
class Sending:
    """A file generation whose chunks are in flight.

    It is finished (once) by whichever thread sees the last acknowledgement
    after the worker has queued every chunk.
    """

    path: Path
    upload_id: int
    relpath: str
    size: int
    n_chunks: int
    started: float
    file_hash: bytes
    mtime_ns: int = 0
    acked: set[int] = field(default_factory=set)
    acked_bytes: int = 0
    failed: str = ""
    produced_all: bool = False
    finished: bool = False

    @property
    def done(self) -> bool:
        """Whether every chunk is acknowledged."""
        return len(self.acked) >= self.n_chunks


class Acknowledgements:
    """Tracks :class:`Sending` files until each is finished exactly once.

    Args:
        registry: where acknowledged chunks are recorded.
    """

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self._in_flight: dict[int, Sending] = {}
        self._pending: dict[int, list[int]] = {}

    def produced_all(self, sending: Sending) -> None:
        """Every chunk of ``sending`` is queued: it finishes with its last acknowledgement."""
        with self._lock:
            sending.produced_all = True
            self._in_flight[sending.upload_id] = sending

    def acknowledged(self, sending: Sending, chunk_i: int, length: int) -> bool:
        """Note chunk ``chunk_i`` of ``sending`` acknowledged; False if it already was."""
        with self._lock:
            if chunk_i in sending.acked:
                return False
            sending.acked.add(chunk_i)
            sending.acked_bytes += length
            self._pending.setdefault(sending.upload_id, []).append(chunk_i)
            return True

    def finish(self, sending: Sending) -> bool:
        """Whether the caller is the one to finish ``sending`` now (complete or failed)."""
        with self._lock:
            if sending.finished or not sending.produced_all or not (sending.done
                                                                    or sending.failed):
                return False
            sending.finished = True
            self._in_flight.pop(sending.upload_id, None)
            return True

    def settle(self, sending: Sending) -> bool:
        """At stop: whether the caller is the one to finish ``sending``, done or not."""
        with self._lock:
            if sending.finished:
                return False
            sending.finished = True
            return True

    def unfinished(self) -> list[Sending]:
        """Take every file still in flight (at stop)."""
        with self._lock:
            unfinished, self._in_flight = list(self._in_flight.values()), {}
        return unfinished

    def flush(self) -> None:
        """Write the acknowledged chunks noted since the last flush to the registry."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for upload_id, chunks in pending.items():
            self._registry.ack_chunks(upload_id, chunks)
