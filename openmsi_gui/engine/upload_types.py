"""What the uploader takes and gives: priorities, outcomes, results, and where chunks go."""

from __future__ import annotations

import enum
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openmsi_gui.engine.receipts import FileIdentity


class UploadError(RuntimeError):
    """An upload that cannot start, e.g. because the topic does not exist."""


def partition_for(relpath: str, n_partitions: int) -> int:
    """The partition that carries every chunk of ``relpath`` (stable across runs and hosts)."""
    return zlib.crc32(relpath.encode("utf-8")) % max(1, n_partitions)


def relpath_of(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` as a POSIX string."""
    return path.relative_to(root).as_posix()


class Priority(enum.IntEnum):
    """Which queued files go first: a file that just appeared jumps the backlog."""

    STOP = 0
    NEW = 1
    BACKLOG = 2


class UploadOutcome(enum.Enum):
    """How one submitted file ended."""

    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class UploadResult:
    """How one submitted file ended, and why (for skipped and failed files).

    A file SENT also says what was sent (``file``, ``mtime``), for what follows
    a sending (see :mod:`.sent_records`).
    """

    path: Path
    outcome: UploadOutcome
    reason: str = ""
    file: FileIdentity | None = None
    mtime: float = 0.0


def topic_partitions(metadata: Any, topic: str) -> int:
    """How many partitions ``topic`` has, from the broker's ``metadata``.

    Raises:
        UploadError: with a plain sentence if the topic is missing.
    """
    info = metadata.topics.get(topic)
    if info is None or info.error is not None or not info.partitions:
        raise UploadError(f"topic {topic!r} does not exist on the broker: create it first "
                          f"(openmsi topic create {topic})")
    return len(info.partitions)
