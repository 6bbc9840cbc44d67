"""Stages after a file's fate at the destination is final: stored durably, or failed.

The consume thread hands every final outcome of a file generation to each
:class:`FinalStage` of its downloader, after the sink made the file durable
(renamed and its folder fsynced, or the S3 object verified) or after the file
was refused. A new stage (receipts, notifications, processing) is a new class
here, not a new branch in the downloader.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

from openmsi_gui.engine.receipts import ReceiptStatus


@dataclass(frozen=True)
class FileFate:
    """What became of one file generation at this destination.

    Attributes:
        relpath: its path relative to the destination ("/"-separated; untrusted).
        sha512: its SHA-512 as the chunks announced it.
        size: its size in bytes (:data:`~openmsi_gui.engine.receipts.UNKNOWN_SIZE`
            when it failed before all of it arrived).
        mtime: its modification time at the source (0 if unknown).
        where: where it is stored (a path or ``s3://...``; "" when it failed).
        status: STORED or FAILED.
        reason: why it failed ("" when stored).
        metadata: the fields the instrument side attached (untrusted, escaped; may be empty).
        local: the verified copy on this machine that processors read: the file in a
            destination folder, an S3 destination's staged copy (kept until processed
            only when a processor runs), a processing-only destination's private copy;
            "" when there is none (failed, or stored earlier in a bucket).
    """

    relpath: str
    sha512: bytes
    size: int
    mtime: float
    where: str
    status: ReceiptStatus
    reason: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    local: str = ""


class FinalStage(ABC):
    """Acts on final outcomes (consume thread; must not block for long)."""

    def start(self) -> None:  # noqa: B027  (a hook: a stage may need nothing)
        """Get ready before the first message."""

    @abstractmethod
    def settled(self, fate: FileFate) -> None:
        """Act on one final outcome."""

    def holds_back(self) -> bool:
        """Whether the consumer should stop fetching until this stage catches up.

        Asked by the consume thread at every turn (back-pressure: the partitions are
        paused, never blocked on); answer at once.
        """
        return False

    def checkpoint(self) -> None:  # noqa: B027  (a hook)
        """Make what was done durable; called before offsets are committed."""

    def close(self) -> None:  # noqa: B027  (a hook)
        """Finish what is in progress (on stop, after the last checkpoint)."""
