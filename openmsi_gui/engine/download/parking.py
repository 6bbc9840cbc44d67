"""Encrypted messages whose keys have not arrived: kept, retried, never dropped.

A message that cannot be decrypted yet is *parked* in the registry (so its
offset can be committed with it) and retried every few seconds; it is never
dropped or written as ciphertext. A message that no key can open is rejected
like any malformed message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from openmsi_gui.engine.crypto import KeysNotReady, MessageCipher, NotEncrypted
from openmsi_gui.engine.download.assembly import NO_PIN
from openmsi_gui.engine.download.problems import DestinationUnavailable
from openmsi_gui.engine.events import Direction, EventBus
from openmsi_gui.engine.file_events import FileReporter
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

PARKED_BATCH = 256
PARKED_ROUND_SECONDS = 1.0
PARKED_ROW = "(waiting for keys)"  # the transfers-view row of encrypted messages kept

Process = Callable[[bytes | None, int, int, bytes | str | None], None]
Reject = Callable[[int, int, bytes | str | None, str], None]


class Parking:
    """The parked messages of one topic, group and destination (consume thread).

    Args:
        cipher: decrypts the messages.
        registry: where parked messages are kept.
        scope: ``(topic, group, destination label)`` they are kept under.
        bus: where events go.
        job: name used in events and logs.
        retry_seconds: how often parked messages are tried again.
    """

    def __init__(self, cipher: MessageCipher, registry: Registry, scope: tuple[str, str, str],
                 bus: EventBus, job: str, retry_seconds: float) -> None:
        self._cipher = cipher
        self._registry = registry
        self._topic, self._group, self._dest = scope
        self._files = FileReporter(bus, job, Direction.DOWNLOAD)
        self._job = job
        self._retry_seconds = retry_seconds
        self._parked = 0
        self._next_retry = 0.0
        self._cursor = 0  # registry id of the last parked message tried
        self._unparked: set[int] = set()  # handled, forgotten at the checkpoint

    def park(self, partition: int, offset: int, key: bytes, value: bytes, reason: str) -> None:
        """Keep a message until its keys arrive (durable with the next registry commit)."""
        self._registry.park_message(self._topic, self._group, self._dest, partition, offset,
                                    key, value, reason)
        self._parked += 1
        if self._parked == 1 or self._files.ready(PARKED_ROW):
            kept = _messages(self._parked)
            log.warning("%s: %s kept until they can be decrypted: %s", self._job, kept,
                        escaped(reason))
            self._files.waiting(
                PARKED_ROW, f"{_messages(self._parked, 'encrypted ')} kept until their keys "
                f"arrive, retried every {self._retry_seconds:.0f} s: {escaped(reason)}")
        self._next_retry = time.monotonic() + self._retry_seconds

    def decrypt(self, partition: int, offset: int, key: bytes | str | None,
                value: bytes | None, reject: Reject) -> tuple[bytes, bytes] | None:
        """The plain key and value of a message just read, or None if it was parked or rejected.

        Args:
            partition: where the message was read.
            offset: its offset there.
            key: its key as read.
            value: its value as read.
            reject: rejects a message no key can open.
        """
        raw_key = key.encode() if isinstance(key, str) else key or b""
        try:
            return self._cipher.decrypt(self._topic, raw_key, value or b"")
        except KeysNotReady as exc:
            self.park(partition, offset, raw_key, value or b"", str(exc))
        except NotEncrypted as exc:
            reject(partition, offset, key, f"cannot be decrypted: {exc}")
        return None

    def retry_now(self) -> None:
        """Try the parked messages at the next round instead of after the delay."""
        if self._parked:
            self._next_retry = 0.0

    def checkpoint(self) -> None:
        """Forget the handled messages (their chunks are fsynced; the registry commits next)."""
        for message_id in self._unparked:
            self._registry.unpark_message(message_id)
        self._unparked.clear()

    def retry(self, process: Process, reject: Reject,
              stall: Callable[[DestinationUnavailable], None]) -> None:
        """Try the parked messages again, oldest first, if it is time.

        Args:
            process: stores one decrypted message ``(value, NO_PIN, offset, key)``.
            reject: rejects a message no key can open.
            stall: waits for the destination, which cannot take data (the message
                stays parked).
        """
        if time.monotonic() < self._next_retry:
            return
        self._next_retry = time.monotonic() + self._retry_seconds
        if not self._parked:
            # After a restart the registry may still hold some from the last run.
            self._parked = self._registry.count_parked(
                self._topic, self._group, self._dest) - len(self._unparked)
            if not self._parked:
                self._next_retry = float("inf")
                return
        opened = 0
        # A try with a missing key costs up to about 0.5 s inside KafkaCrypto, so a
        # round stops after PARKED_ROUND_SECONDS without progress; the next round
        # goes on from where this one stopped, so no message starves the others.
        started = time.monotonic()
        batch = self._registry.parked_messages(self._topic, self._group, self._dest,
                                               PARKED_BATCH, after_id=self._cursor)
        if not batch:
            self._cursor = 0  # wrap around at the next round
            return
        for parked in batch:
            self._cursor = parked.id
            if parked.id in self._unparked:
                continue  # handled; its row goes at the next checkpoint
            try:
                key, value = self._cipher.decrypt(self._topic, parked.key, parked.value, wait=0)
            except KeysNotReady:
                if time.monotonic() - started > PARKED_ROUND_SECONDS:
                    break
                continue
            except NotEncrypted as exc:
                self._registry.unpark_message(parked.id)
                self._parked -= 1
                reject(parked.partition, parked.offset, None, f"cannot be decrypted: {exc}")
                continue
            try:
                process(value, NO_PIN, parked.offset, key)
            except DestinationUnavailable as exc:
                stall(exc)  # it stays parked
                break
            # Unparked at the next checkpoint, once its chunk is on disk.
            self._unparked.add(parked.id)
            self._parked -= 1
            opened += 1
            started = time.monotonic()
        if opened:
            self._report_opened(opened)

    def _report_opened(self, opened: int) -> None:
        log.info("%s: decrypted %s kept; %d still wait for keys", self._job,
                 _messages(opened), self._parked)
        if self._parked:
            self._next_retry = time.monotonic()  # keep draining
        else:
            self._files.skipped(PARKED_ROW, "the decryption keys arrived; every kept "
                                            "message was decrypted")


def _messages(count: int, kind: str = "") -> str:
    """``"1 message"``, ``"3 messages"`` (``kind``: ``"3 encrypted messages"``)."""
    return f"{count} {kind}message{'' if count == 1 else 's'}"
