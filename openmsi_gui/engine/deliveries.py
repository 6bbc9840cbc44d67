"""What destinations said about the files sent from here: verified receipts, per destination.

One row per file (topic, relative path, SHA-512) and destination, in the
registry's ``deliveries`` table: the latest verified receipt wins (by the time
the destination made it), so "failed" followed by "stored" after a Send again
reads "stored". Only receipts that :func:`~.receipts.open_receipt` accepted
are recorded here, and only for files this registry sent.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

from openmsi_gui.engine.receipts import Receipt, ReceiptStatus
from openmsi_gui.engine.registry import Registry


@dataclass(frozen=True, slots=True)
class Delivery:
    """A destination's latest word on one file sent from here.

    Attributes:
        destination: the destination's name (from its verified receipt).
        status: STORED or FAILED.
        size: the size the receipt confirms.
        stored_at: where the destination stored it ("" if it failed).
        reason: why it failed ("" if stored).
        receipt_time: when the destination made the receipt (its clock).
        recorded: when it was recorded here.
    """

    destination: str
    status: ReceiptStatus
    size: int
    stored_at: str
    reason: str
    receipt_time: float
    recorded: float


class DeliveryBook:
    """Records and reads deliveries in a registry (any thread).

    Args:
        registry: the registry of the files sent.
    """

    def __init__(self, registry: Registry) -> None:
        self._db = registry.database

    def sent_here(self, topic: str, relpath: str, file_hash: bytes) -> bool:
        """Whether this content was sent (or is being sent) from here under this path."""
        row = self._db.read(lambda cur: cur.execute(
            "SELECT 1 FROM uploads WHERE topic=? AND relpath=? AND file_hash=? LIMIT 1",
            (topic, relpath, file_hash)).fetchone())
        return row is not None

    def record(self, receipt: Receipt) -> bool:
        """Record a verified STORED or FAILED receipt; False if a newer one is recorded.

        Raises:
            ValueError: ``receipt`` is a sender's SENT record.
        """
        if receipt.status is ReceiptStatus.SENT:
            raise ValueError("a SENT record is not a delivery")

        def upsert(cur: sqlite3.Cursor) -> bool:
            cur.execute(
                "INSERT INTO deliveries (topic, relpath, file_hash, destination, status, size, "
                "stored_at, reason, receipt_time, recorded) VALUES (?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (topic, relpath, file_hash, destination) DO UPDATE SET "
                "status=excluded.status, size=excluded.size, stored_at=excluded.stored_at, "
                "reason=excluded.reason, receipt_time=excluded.receipt_time, "
                "recorded=excluded.recorded WHERE excluded.receipt_time >= receipt_time",
                (receipt.topic, receipt.relpath, receipt.sha512, receipt.destination,
                 receipt.status.value, receipt.size, receipt.stored_at, receipt.reason,
                 receipt.time, time.time()))
            return cur.rowcount > 0

        return bool(self._db.write(upsert))

    def of_file(self, topic: str, relpath: str, file_hash: bytes) -> list[Delivery]:
        """What each destination said about one file, by destination name."""
        rows = self._db.read(lambda cur: cur.execute(
            "SELECT destination, status, size, stored_at, reason, receipt_time, recorded "
            "FROM deliveries WHERE topic=? AND relpath=? AND file_hash=? ORDER BY destination",
            (topic, relpath, file_hash)).fetchall())
        return [Delivery(r[0], ReceiptStatus(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    def for_files(self, files: Iterable[tuple[str, str, bytes]]
                  ) -> dict[tuple[str, str, bytes], list[Delivery]]:
        """What each destination said about each of ``files`` (topic, relative path, SHA-512).

        One read for all of them (the history asks about its 10,000 rows at once).
        """
        wanted = list(dict.fromkeys(files))

        def read(cur: sqlite3.Cursor) -> dict[tuple[str, str, bytes], list[Delivery]]:
            found: dict[tuple[str, str, bytes], list[Delivery]] = {}
            for key in wanted:
                rows = cur.execute(
                    "SELECT destination, status, size, stored_at, reason, receipt_time, "
                    "recorded FROM deliveries WHERE topic=? AND relpath=? AND file_hash=? "
                    "ORDER BY destination", key).fetchall()
                if rows:
                    found[key] = [Delivery(r[0], ReceiptStatus(r[1]), r[2], r[3], r[4], r[5],
                                           r[6]) for r in rows]
            return found

        return self._db.read(read)
