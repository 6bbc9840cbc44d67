"""Consume chunk messages and rebuild the files under a destination folder.

A :class:`Downloader` owns one confluent-kafka consumer in a consumer group
and one thread. For each file generation (relative path + SHA-512) it writes
chunks into a hidden temporary file next to the final name, checks the
whole-file hash once every chunk is there, and only then renames the file into
place, so a file at its final name is always complete and correct.

Chunk hashes are not checked one by one on arrival: the whole-file SHA-512
(computed incrementally while chunks arrive in order) covers every byte, and
only when it fails are the chunks re-read to name the bad ones. That saves a
full hash pass per byte, and a chunk hash never protected against a hostile
producer, who controls both hashes anyway.

Offsets are committed at checkpoints, after the temporary files are fsynced
and the registry is committed, and never past the first message of a file
that is still incomplete (its *pin*). After a crash or a rebalance, whichever
consumer owns the partition re-reads every unfinished file from its first
chunk; chunks the registry already holds are not written twice.

When the destination as a whole cannot take data (disk full, quota, read-only,
a network share gone: see :func:`destination_problem`), nothing is failed and
nothing is committed past the message that could not be written: the consumer
seeks back to it, pauses, and tries again after a growing delay, showing the
file as "waiting". A verified file that cannot be renamed into place (e.g.
the old version is open in another program on Windows) is kept and retried
the same way.

With an :class:`~openmsi_gui.engine.s3.S3Store`, the destination folder is a
local staging area: a verified file is uploaded on its own thread instead of
renamed, and its offsets stay pinned until the object is verified in the
bucket. A failed upload keeps the file and is retried with a growing delay
(shown as "waiting"); nothing is committed or deleted before it succeeds.

With a :class:`~openmsi_gui.engine.crypto.MessageCipher` every message is
decrypted first. One whose key has not arrived is *parked* in the registry
(so its offset can be committed with it) and retried every few seconds; it is
never dropped or written as ciphertext. A message that no key can open is
rejected like any malformed message.
"""

from __future__ import annotations

import collections
import errno
import hashlib
import io
import logging
import os
import queue
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from openmsi_gui.engine import wire
from openmsi_gui.engine.crypto import KeysNotReady, MessageCipher, NotEncrypted
from openmsi_gui.engine.events import (
    ConnectionState,
    ConnectionStatus,
    Direction,
    EventBus,
    FileCompleted,
    FileDiscovered,
    FileFailed,
    FileProgress,
    FileSkipped,
    FileWaiting,
    JobState,
    JobStatus,
)
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import DownloadRecord, Registry
from openmsi_gui.engine.s3 import S3Error, S3Store
from openmsi_gui.engine.safepath import UnsafePath, resolve_inside
from openmsi_gui.engine.throttle import Throttle

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0
CHECKPOINT_BYTES = 64 * 1024 * 1024
MAX_OPEN_FILES = 64
# consume() copies every value into Python bytes while holding the GIL; 32 chunks of
# 512 KiB is ~16 MiB (a few ms), which keeps a GUI in the same process responsive.
CONSUME_BATCH = 32
MAX_FILE_BYTES = 1 << 42  # 4 TiB: larger offsets are treated as hostile
STALE_PIN_SECONDS = 3600.0
MAX_INCOMPLETE_FILES = 10_000  # beyond this the stalest is forgotten (it stays on disk)
READ_BLOCK = 1 << 20
MAX_HASH_BACKLOG_BYTES = 32 * 1024 * 1024  # chunk data queued for the hasher, at most
RETRY_DELAYS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0)  # seconds; the last one repeats
STALL_DELAYS = (5.0, 10.0, 20.0, 30.0, 60.0)  # a full disk is retried at least once a minute
PARKED_RETRY_SECONDS = 5.0
PARKED_BATCH = 256
PARKED_ROUND_SECONDS = 1.0
PARKED_ROW = "(waiting for keys)"  # the transfers-view row of encrypted messages kept
NO_PIN = -1  # the "partition" of a parked message: its offset is already committed

FileKey = tuple[str, bytes]


@dataclass
class _Incoming:
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

    @property
    def relpath(self) -> str:
        return self.key[0]


class _Rejected(Exception):
    """A file generation that must fail with this reason."""


class _Retry(Exception):
    """A verified file could not be stored yet; keep it and try again later."""


class _DestinationUnavailable(Exception):
    """The destination cannot take data now; wait and read the message again."""

    def __init__(self, relpath: str, reason: str) -> None:
        super().__init__(reason)
        self.relpath = relpath
        self.reason = reason


# Errors that pass when the lab frees space, fixes permissions or brings a share
# back: the download waits for them instead of failing files. Anything else (a
# name the file system refuses, a file too large for it) fails the one file.
_PASSING_ERRNOS = frozenset(
    getattr(errno, name) for name in (
        "ENOSPC", "EDQUOT", "EROFS", "EIO", "ESTALE", "ETIMEDOUT", "EHOSTDOWN", "ENOTCONN",
        "ENODEV", "ENXIO", "EACCES", "EPERM", "EBUSY", "EAGAIN", "ENOLCK", "ECONNRESET",
        "ECONNABORTED", "ENETDOWN", "ENETUNREACH", "EHOSTUNREACH")
    if hasattr(errno, name))

# Windows errors Python maps to no such errno (a share gone is often EINVAL there):
# drive not ready, sharing and lock violations, network path or name gone, disk full.
_PASSING_WINERRORS = frozenset({21, 32, 33, 51, 53, 59, 64, 67, 112, 121, 1231})

_ADVICE = {
    errno.ENOSPC: "free some space there",
    getattr(errno, "EDQUOT", -1): "the disk quota is used up: free some space or ask for more",
    errno.EROFS: "it is read-only: make it writable",
    errno.EACCES: "permission denied: let this user write there",
    errno.EPERM: "permission denied: let this user write there",
}


def destination_problem(exc: OSError, dest: Path) -> str | None:
    """A sentence about ``exc`` if it is a problem of the destination that may pass, else None.

    Such problems (disk full, read-only, no permission, a network share gone, a
    file locked by another program) make the download wait and retry; the others
    (a name the file system refuses, a file too large for it) fail one file.
    """
    if (exc.errno not in _PASSING_ERRNOS and
            getattr(exc, "winerror", None) not in _PASSING_WINERRORS):
        return None
    advice = _ADVICE.get(exc.errno, "check the destination")
    return f"cannot write to {exc.filename or dest}: {exc.strerror or exc}; {advice}"


_TEMP_NAME = re.compile(r"^\.openmsi-.*\.partial$", re.IGNORECASE)


def temp_name(target: Path, file_hash: bytes) -> Path:
    """The hidden temporary file a generation is rebuilt in, beside its final name."""
    tag = hashlib.sha256(target.name.encode() + file_hash).hexdigest()[:16]
    return target.with_name(f".openmsi-{tag}.partial")


class Downloader:
    """Rebuild files from one topic into one folder.

    Args:
        config: broker and consumer settings.
        topic: the topic to consume.
        dest: the destination folder (created if missing).
        bus: where events go.
        registry: records of received files and stored chunks.
        group_id: consumer group; None takes ``[consumer] group.id`` or a new one.
        job: name used in events and logs.
        stale_pin_seconds: an incomplete file that has had no chunk for this
            long no longer holds back offset commits.
        store: upload verified files here instead of renaming them into
            ``dest``, which is then only a staging folder.
        cipher: decrypt every message with it (KafkaCrypto topics).
        create_dest: create a missing destination folder at start. The app passes
            False: its folders exist when they are chosen, so a missing one is a
            drive or share that is not connected, and files must not land on the
            disk beneath its mount point.
    """

    def __init__(self, config: KafkaConfig, topic: str, dest: Path, bus: EventBus,
                 registry: Registry, group_id: str | None = None, job: str = "download",
                 stale_pin_seconds: float = STALE_PIN_SECONDS,
                 store: S3Store | None = None, cipher: MessageCipher | None = None,
                 create_dest: bool = True) -> None:
        self.topic = topic
        self.dest = Path(os.path.realpath(dest))
        self._s3 = store
        self._create_dest = create_dest
        # What the registry and history call the destination.
        self.dest_label = store.url if store is not None else str(self.dest)
        self.job = job
        self._bus = bus
        self._registry = registry
        self._settings = config.consumer_settings(group_id)
        self.group_id = self._settings["group.id"]
        self._stale_pin_seconds = stale_pin_seconds
        self._consumer: Consumer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._want_paused = False
        self._reported_paused = False
        self._is_paused = False
        self._incoming: dict[FileKey, _Incoming] = {}
        self._handles: collections.OrderedDict[FileKey, io.FileIO] = collections.OrderedDict()
        self._dirty: set[FileKey] = set()
        self._dirty_bytes = 0
        self._next_offset: dict[int, int] = {}
        self._committed: dict[int, int] = {}
        self.assignment: frozenset[int] = frozenset()
        self._settled: collections.OrderedDict[FileKey, None] = collections.OrderedDict()
        self._reported: collections.OrderedDict[FileKey, None] = collections.OrderedDict()
        self._progress = Throttle(0.1)
        self._hash_pool = ThreadPoolExecutor(1, thread_name_prefix=f"{job}-finisher")
        self._finished: queue.SimpleQueue[tuple[_Incoming, str, str]] = queue.SimpleQueue()
        self._finishing_submitted = False
        self._hash_backlog: collections.deque[tuple[Future[None], int]] = collections.deque()
        self._hash_backlog_bytes = 0
        self._dirs_to_sync: set[Path] = set()  # finisher thread only
        self._placed: list[tuple[_Incoming, int]] = []  # finisher thread only
        self._upload_pool = (ThreadPoolExecutor(1, thread_name_prefix=f"{job}-s3")
                             if store is not None else None)
        self._retry_due: dict[FileKey, float] = {}  # consume thread only
        self._stalled_until = 0.0  # the destination cannot take data until then
        self._stall_attempts = 0
        self._retry_requested = False  # set by retry_now() on any thread
        self._cipher = cipher
        self._parked = 0
        self._next_parked_retry = 0.0
        self._parked_cursor = 0  # registry id of the last parked message tried
        self._unparked: set[int] = set()  # handled parked messages, forgotten at the checkpoint
        self._error: BaseException | None = None
        self.files_received = 0
        self.bytes_received = 0
        self.messages_rejected = 0

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Create the destination, join the group and start consuming in a thread.

        Raises:
            S3Error: the bucket cannot be used (with an S3 store).
            FileNotFoundError: the destination folder is missing (``create_dest`` False).
        """
        if self._create_dest or self._s3 is not None:
            self.dest.mkdir(parents=True, exist_ok=True)
        elif (missing := self._missing_destination()) is not None:
            raise FileNotFoundError(missing)
        if self._s3 is not None:
            self._s3.check()
            aborted = self._s3.recover(self.dest)
            if aborted:
                log.info("%s: aborted %d interrupted S3 uploads", self.job, aborted)
        settings: dict[str, object] = dict(self._settings)
        settings["error_cb"] = self._on_kafka_error
        self._bus.publish(ConnectionState(self.job, ConnectionStatus.CONNECTING,
                                          str(settings.get("bootstrap.servers", ""))))
        self._consumer = Consumer(settings)
        self._consumer.subscribe([self.topic], on_assign=self._on_assign,
                                 on_revoke=self._on_revoke, on_lost=self._on_revoke)
        self._thread = threading.Thread(target=self._run, name=f"{self.job}-consume", daemon=True)
        self._thread.start()
        self._bus.publish(JobState(self.job, JobStatus.RUNNING, f"{self.topic} → {self.dest}"))

    def stop(self, timeout: float = 30.0) -> None:
        """Store what was received, commit offsets and leave the group."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._bus.publish(ConnectionState(self.job, ConnectionStatus.STOPPED))

    def pause(self) -> None:
        """Stop fetching messages (the group membership is kept)."""
        self._want_paused = True

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        self._want_paused = False

    @property
    def paused(self) -> bool:
        """Whether :meth:`pause` is in effect."""
        return self._want_paused

    def retry_now(self) -> None:
        """Try again at once what waits instead of at its next retry.

        That is a destination that could not take data, S3 uploads and renames to
        retry, and encrypted messages kept for their keys (any thread).
        """
        self._retry_requested = True

    @property
    def error(self) -> BaseException | None:
        """The exception that stopped the consumer thread, if any."""
        return self._error

    def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        next_checkpoint = time.monotonic() + CHECKPOINT_SECONDS
        try:
            while not self._stopping.is_set():
                if self._retry_requested:
                    self._retry_requested = False
                    self._retry_everything_now()
                self._apply_pause()
                messages = consumer.consume(num_messages=CONSUME_BATCH, timeout=0.2)
                for i, message in enumerate(messages):
                    try:
                        self._handle(message)
                    except _DestinationUnavailable as exc:
                        self._stall(exc, unprocessed=messages[i:])
                        break
                self._collect_finished()
                self._retry_stores()
                self._retry_parked()
                if (time.monotonic() >= next_checkpoint or
                        self._dirty_bytes >= CHECKPOINT_BYTES):
                    self._checkpoint()
                    self._unpin_stale()
                    next_checkpoint = time.monotonic() + CHECKPOINT_SECONDS
        except Exception as exc:
            self._error = exc
            log.exception("%s: the consumer stopped on an unexpected error", self.job)
            self._bus.publish(JobState(self.job, JobStatus.FAILED, str(exc)))
        finally:
            try:
                self._collect_finished(wait=True)
                if self._upload_pool is not None:
                    self._upload_pool.shutdown(wait=True)  # stops between parts
                    self._collect_finished()
                self._checkpoint(asynchronous=False)
            except Exception:
                log.exception("%s: final checkpoint failed", self.job)
            try:
                consumer.close()  # its revoke callback stores and commits once more
            except Exception:
                log.exception("%s: the consumer did not close cleanly", self.job)
            self._close_handles()
            self._hash_pool.shutdown(wait=True)
            if self._upload_pool is not None:
                self._upload_pool.shutdown(wait=True)

    def _apply_pause(self) -> None:
        assert self._consumer is not None
        stalled = time.monotonic() < self._stalled_until
        want = self._want_paused or stalled
        if want != self._is_paused:
            assignment = self._consumer.assignment()
            if want:
                self._consumer.pause(assignment)
            else:
                self._consumer.resume(assignment)
            self._is_paused = want
        if self._want_paused != self._reported_paused:
            state = JobStatus.PAUSED if self._want_paused else JobStatus.RUNNING
            self._bus.publish(JobState(self.job, state))
            self._reported_paused = self._want_paused

    def _retry_everything_now(self) -> None:
        log.info("%s: retrying what waits, as asked", self.job)
        self._stalled_until = 0.0
        self._retry_due = dict.fromkeys(self._retry_due, 0.0)
        if self._parked:
            self._next_parked_retry = 0.0

    def _stall(self, problem: _DestinationUnavailable,
               unprocessed: list[Message] | None = None) -> None:
        """Wait before writing again; re-read ``unprocessed`` then (consume thread).

        The consumer is rewound to the first unprocessed message of each partition
        and paused, so nothing after it is processed, and nothing from it on is
        committed, before the destination takes data again.
        """
        rewind: dict[int, int] = {}
        for message in unprocessed or []:
            if message.error() is None:
                partition, offset = message.partition() or 0, message.offset() or 0
                rewind[partition] = min(rewind.get(partition, offset), offset)
        for partition, offset in rewind.items():
            if partition in self._next_offset:
                self._next_offset[partition] = min(self._next_offset[partition], offset)
        delay = STALL_DELAYS[min(self._stall_attempts, len(STALL_DELAYS) - 1)]
        self._stall_attempts += 1
        self._stalled_until = time.monotonic() + delay
        assert self._consumer is not None
        assignment = self._consumer.assignment()
        self._consumer.pause(assignment)
        self._is_paused = True
        for partition, offset in rewind.items():
            try:
                self._consumer.seek(TopicPartition(self.topic, partition, offset))
            except KafkaException as exc:  # e.g. revoked meanwhile: its owner re-reads it
                log.warning("%s: could not rewind partition %d: %s", self.job, partition, exc)
        log.error("%s: %s was not stored (attempt %d): %s; waiting %.0f s", self.job,
                  problem.relpath, self._stall_attempts, problem.reason, delay)
        self._bus.publish(FileWaiting(self.job, Direction.DOWNLOAD, problem.relpath,
                                      f"{problem.reason}; retrying in {delay:.0f} s"))
        self._bus.publish(JobState(self.job, JobStatus.WAITING, problem.reason))

    # -- group membership --------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("%s: assigned partitions %s of %s", self.job,
                 sorted(p.partition for p in partitions), self.topic)
        self._bus.publish(ConnectionState(self.job, ConnectionStatus.CONNECTED,
                                          f"{len(partitions)} partitions"))
        self.assignment = self.assignment | {p.partition for p in partitions}
        if self._is_paused:
            consumer.pause(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = {p.partition for p in partitions}
        log.info("%s: partitions %s revoked", self.job, sorted(revoked))
        self._collect_finished(wait=True)
        self._checkpoint(asynchronous=False)
        for key, inc in list(self._incoming.items()):
            if revoked & inc.pins.keys():
                self._drop(key)
        self.assignment = self.assignment - revoked
        for p in revoked:
            self._next_offset.pop(p, None)
            self._committed.pop(p, None)

    # -- messages ----------------------------------------------------------

    def _handle(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("%s: consumer error: %s", self.job, error.str())
            return
        partition, offset = message.partition() or 0, message.offset() or 0
        self._next_offset[partition] = offset + 1
        key, value = message.key(), message.value()
        if self._cipher is not None:
            raw_key = key.encode() if isinstance(key, str) else key or b""
            try:
                plain_key, value = self._cipher.decrypt(self.topic, raw_key, value or b"")
            except KeysNotReady as exc:
                self._park(partition, offset, raw_key, value or b"", str(exc))
                return
            except NotEncrypted as exc:
                self._reject_message(partition, offset, key, f"cannot be decrypted: {exc}")
                return
            key = plain_key
        self._process(value, partition, offset, key)

    def _process(self, value: bytes | None, partition: int, offset: int,
                 message_key: bytes | str | None) -> None:
        """Store one plain chunk message (``partition`` NO_PIN: it pins nothing)."""
        try:
            chunk = wire.decode_chunk(value, verify=False)
        except wire.BadMessage as exc:
            self._reject_message(partition, offset, message_key, str(exc))
            return
        key: FileKey = (chunk.relpath, chunk.file_hash)
        if key in self._settled:
            return
        inc = self._incoming.get(key)
        try:
            if inc is None:
                inc = self._open_generation(chunk)
                if inc is None:
                    return
            self._store(inc, chunk, partition, offset)
        except _Rejected as exc:
            self._fail(key, inc, str(exc))
        except UnsafePath as exc:
            self._fail(key, None, f"unsafe file name: {exc}")
        except OSError as exc:
            problem = self._whole_destination_problem(exc)
            if problem is not None:
                raise _DestinationUnavailable(chunk.relpath, problem) from exc
            self._fail(key, inc, f"cannot write to the destination: {exc.strerror or exc}")
        else:
            if self._stall_attempts:
                self._stall_attempts = 0
                log.info("%s: the destination takes data again", self.job)
                self._bus.publish(JobState(self.job, JobStatus.RUNNING))

    # -- encrypted messages whose keys have not arrived ---------------------

    def _park(self, partition: int, offset: int, key: bytes, value: bytes,
              reason: str) -> None:
        self._registry.park_message(self.topic, self.group_id, self.dest_label, partition,
                                    offset, key, value, reason)
        self._parked += 1
        if self._parked == 1 or self._progress.ready(PARKED_ROW):
            log.warning("%s: %d message(s) kept until they can be decrypted: %s", self.job,
                        self._parked, reason)
            self._bus.publish(FileWaiting(
                self.job, Direction.DOWNLOAD, PARKED_ROW,
                f"{self._parked} encrypted message(s) kept until their keys arrive, "
                f"retried every {PARKED_RETRY_SECONDS:.0f} s: {reason}"))
        self._next_parked_retry = time.monotonic() + PARKED_RETRY_SECONDS

    def _retry_parked(self) -> None:
        """Try the parked messages again, oldest first (consume thread)."""
        now = time.monotonic()
        if self._cipher is None or now < self._next_parked_retry or now < self._stalled_until:
            return
        self._next_parked_retry = time.monotonic() + PARKED_RETRY_SECONDS
        if not self._parked:
            # After a restart the registry may still hold some from the last run.
            self._parked = self._registry.count_parked(
                self.topic, self.group_id, self.dest_label) - len(self._unparked)
            if not self._parked:
                self._next_parked_retry = float("inf")
                return
        opened = 0
        # A try with a missing key costs up to about 0.5 s inside KafkaCrypto, so a
        # round stops after PARKED_ROUND_SECONDS without progress; the next round
        # goes on from where this one stopped, so no message starves the others.
        started = time.monotonic()
        batch = self._registry.parked_messages(self.topic, self.group_id, self.dest_label,
                                               PARKED_BATCH, after_id=self._parked_cursor)
        if not batch:
            self._parked_cursor = 0  # wrap around at the next round
            return
        for parked in batch:
            self._parked_cursor = parked.id
            if parked.id in self._unparked:
                continue  # handled; its row goes at the next checkpoint
            try:
                key, value = self._cipher.decrypt(self.topic, parked.key, parked.value, wait=0)
            except KeysNotReady:
                if time.monotonic() - started > PARKED_ROUND_SECONDS:
                    break
                continue
            except NotEncrypted as exc:
                self._registry.unpark_message(parked.id)
                self._parked -= 1
                self._reject_message(parked.partition, parked.offset, None,
                                     f"cannot be decrypted: {exc}")
                continue
            try:
                self._process(value, NO_PIN, parked.offset, key)
            except _DestinationUnavailable as exc:
                self._stall(exc)  # it stays parked
                break
            # Unparked at the next checkpoint, once its chunk is on disk.
            self._unparked.add(parked.id)
            self._parked -= 1
            opened += 1
            started = time.monotonic()
        if opened:
            log.info("%s: decrypted %d kept message(s); %d still wait for keys", self.job,
                     opened, self._parked)
            if self._parked:
                self._next_parked_retry = time.monotonic()  # keep draining
            else:
                self._bus.publish(FileSkipped(self.job, Direction.DOWNLOAD, PARKED_ROW,
                                              "the decryption keys arrived; every kept "
                                              "message was decrypted"))

    def _reject_message(self, partition: int, offset: int, key: bytes | str | None,
                        reason: str) -> None:
        self.messages_rejected += 1
        shown = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
        log.error("%s: rejected message %s[%d]@%d (key %r): %s", self.job, self.topic,
                  partition, offset, shown[:200], reason)
        self._bus.publish(FileFailed(self.job, Direction.DOWNLOAD, shown[:200],
                                     f"rejected message: {reason}"))

    def _open_generation(self, chunk: wire.Chunk) -> _Incoming | None:
        relpath = chunk.relpath
        missing = self._missing_destination()
        if missing is not None:  # never recreate it: it may be a drive that is not mounted
            raise _DestinationUnavailable(relpath, missing)
        target = resolve_inside(self.dest, relpath)
        if any(_TEMP_NAME.match(part) for part in relpath.split("/")):
            raise UnsafePath(f"{relpath!r} uses a name reserved for files being received")
        record = self._registry.find_download(self.topic, self.group_id, self.dest_label,
                                              relpath, chunk.file_hash)
        key: FileKey = (relpath, chunk.file_hash)
        if record is not None and self._already_handled(record, target, chunk):
            self._settle(key)
            self._bus.publish(FileSkipped(self.job, Direction.DOWNLOAD, relpath,
                                          "already received"))
            return None
        temp = temp_name(target, chunk.file_hash)
        stored: dict[int, tuple[int, int]] = {}
        if record is not None and record.status == "receiving" and temp.is_file():
            stored = self._registry.stored_chunks(record.id)
            if stored and temp.stat().st_size < max(o + n for o, n in stored.values()):
                stored = {}
        if stored:
            download_id = record.id  # type: ignore[union-attr]
            log.info("%s: resuming %s with %d of %d chunks already stored", self.job, relpath,
                     len(stored), chunk.n_chunks)
        else:
            download_id = self._registry.start_download(
                self.topic, self.group_id, self.dest_label, relpath, chunk.file_hash,
                chunk.n_chunks, chunk.file_mtime, str(temp))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not stored:
                temp.open("wb").close()
            temp_stat = temp.stat()
        except OSError as exc:
            # A problem that may pass leaves the record "receiving", to be retried.
            if self._whole_destination_problem(exc) is None:
                self._registry.finish_download(download_id, "failed", error=(
                    f"cannot write to the destination: {exc.strerror or exc}"))
            raise
        inc = _Incoming(key, download_id, target, temp, chunk.n_chunks, chunk.file_mtime, stored,
                        stored_bytes=sum(n for _, n in stored.values()),
                        temp_id=(temp_stat.st_dev, temp_stat.st_ino))
        if stored:
            inc.hasher = None
        if len(self._incoming) >= MAX_INCOMPLETE_FILES:
            self._forget_stalest()
        self._incoming[key] = inc
        self._bus.publish(FileDiscovered(self.job, Direction.DOWNLOAD, relpath, 0))
        return inc

    def _missing_destination(self) -> str | None:
        """A sentence if the destination folder has gone (a drive or share disconnected)."""
        if self._s3 is not None or os.path.isdir(self.dest):
            return None  # an S3 staging folder is ours: it is simply created again
        return (f"the destination folder {self.dest} is not there (a disconnected drive or "
                "network share?): reconnect it, or create the folder again")

    def _whole_destination_problem(self, exc: OSError) -> str | None:
        """What to wait on if ``exc`` stops the whole destination, else None (fail the file).

        A refused permission only counts when the destination folder itself is
        not writable: one read-only subfolder (an archived run, or a name a
        producer picked on purpose) must not hold up every other file.
        """
        missing = self._missing_destination()
        if missing is not None:
            return missing
        problem = destination_problem(exc, self.dest)
        if (problem is not None and exc.errno in (errno.EACCES, errno.EPERM) and
                getattr(exc, "winerror", None) not in _PASSING_WINERRORS and
                os.access(self.dest, os.W_OK | os.X_OK)):
            return None
        return problem

    def _already_handled(self, record: DownloadRecord, target: Path, chunk: wire.Chunk) -> bool:
        if record.status == "superseded":
            return chunk.file_mtime <= record.file_mtime
        if record.status != "done":
            return False
        if chunk.file_mtime > record.file_mtime:
            return False  # the same content sent again later: it is the newest again
        latest = self._registry.latest_done_download(self.dest_label, record.relpath)
        if latest is not None and latest.id != record.id:
            return True  # a newer generation has replaced it since
        if self._s3 is not None:
            return self._s3.exists(record.relpath, record.size, record.file_hash)
        try:
            return target.stat().st_size == record.size
        except OSError:
            return False

    def _store(self, inc: _Incoming, chunk: wire.Chunk, partition: int, offset: int) -> None:
        if inc.finishing:
            return
        if chunk.n_chunks != inc.n_chunks:
            raise _Rejected(f"inconsistent chunk count: chunk {chunk.chunk_i} says "
                            f"{chunk.n_chunks}, earlier chunks said {inc.n_chunks}")
        if chunk.offset + len(chunk.data) > MAX_FILE_BYTES:
            raise _Rejected(f"chunk {chunk.chunk_i} claims offset {chunk.offset}, beyond the "
                            f"{MAX_FILE_BYTES}-byte limit")
        if partition != NO_PIN:
            inc.pins.setdefault(partition, offset)
        inc.last_seen = time.monotonic()
        placed = (chunk.offset, len(chunk.data))
        known = inc.stored.get(chunk.chunk_i)
        if known is not None:
            if known != placed:
                raise _Rejected(f"chunk {chunk.chunk_i} arrived twice with different offsets "
                                f"({known[0]} and {chunk.offset})")
            if len(inc.stored) < inc.n_chunks:
                return
        else:
            _write_at(self._handle_for(inc), chunk.offset, chunk.data)
            inc.stored[chunk.chunk_i] = placed
            inc.chunk_hashes[chunk.chunk_i] = chunk.chunk_hash
            inc.stored_bytes += len(chunk.data)
            inc.unsynced.append((chunk.chunk_i, *placed))
            self._dirty.add(inc.key)
            self._dirty_bytes += len(chunk.data)
            self.bytes_received += len(chunk.data)
            if inc.hasher is not None and chunk.offset == inc.hashed_upto:
                # FIFO on one thread keeps the order; hashlib releases the GIL meanwhile.
                self._hash_backlog.append(
                    (self._hash_pool.submit(inc.hasher.update, chunk.data), len(chunk.data)))
                self._hash_backlog_bytes += len(chunk.data)
                inc.hashed_upto += len(chunk.data)
                self._limit_hash_backlog()
        done = len(inc.stored) == inc.n_chunks
        if done or self._progress.ready(inc.key):
            self._bus.publish(FileProgress(self.job, Direction.DOWNLOAD, inc.relpath,
                                           inc.stored_bytes, 0, len(inc.stored), inc.n_chunks))
        if done:
            self._complete(inc)

    def _limit_hash_backlog(self) -> None:
        """Wait for the hasher when it lags (each queued update holds a chunk in memory)."""
        while self._hash_backlog and (self._hash_backlog[0][0].done() or
                                      self._hash_backlog_bytes > MAX_HASH_BACKLOG_BYTES):
            future, size = self._hash_backlog.popleft()
            future.result()
            self._hash_backlog_bytes -= size

    def _handle_for(self, inc: _Incoming) -> io.FileIO:
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

    def _complete(self, inc: _Incoming) -> None:
        """Every chunk is stored: check the layout, then hand the file to the finisher."""
        spans = sorted(inc.stored.values())
        size = 0
        for start, length in spans:
            if start != size:
                raise _Rejected(f"chunk offsets do not tile the file (gap or overlap at byte "
                                f"{min(start, size)})")
            size += length
        handle = self._handles.pop(inc.key, None)
        if handle is not None:
            handle.close()
            self._dirty.discard(inc.key)
        inc.unsynced.clear()  # the finisher fsyncs the whole file; a crash refetches them
        inc.finishing = True
        inc.size = size
        # Same FIFO thread as the hash updates, so they are all applied first. The
        # file stays pinned (its offsets uncommitted) until the outcome is collected.
        self._hash_pool.submit(self._finish_file, inc, size)
        self._finishing_submitted = True

    def _finish_file(self, inc: _Incoming, size: int) -> None:
        """Verify, fsync and rename one file (finisher thread); queue the outcome."""
        try:
            status = self._verify_and_place(inc, size)
        except _Rejected as exc:
            self._finished.put((inc, "failed", str(exc)))
        except _Retry as exc:
            self._finished.put((inc, "retry", str(exc)))
        except OSError as exc:
            problem = self._missing_destination() or destination_problem(exc, self.dest)
            if problem is not None:
                self._finished.put((inc, "retry", problem))
            else:
                self._finished.put((inc, "failed",
                                    f"cannot write to the destination: {exc.strerror or exc}"))
        else:
            if status not in ("placed", "uploading"):  # those report later
                self._finished.put((inc, status, ""))

    def _sync_dirs(self) -> None:
        """Make the renames durable, then release their outcomes (finisher thread)."""
        dirs, self._dirs_to_sync = self._dirs_to_sync, set()
        placed, self._placed = self._placed, []
        for folder in dirs:
            try:
                _fsync_dir(folder)
            except OSError as exc:
                log.warning("%s: could not fsync %s: %s", self.job, folder, exc)
        for inc, size in placed:
            self._bus.publish(FileCompleted(self.job, Direction.DOWNLOAD, inc.relpath, size,
                                            inc.key[1].hex(), time.monotonic() - inc.started,
                                            path=str(inc.target)))
            self._finished.put((inc, "done", ""))

    def _verify_and_place(self, inc: _Incoming, size: int) -> str:
        temp_stat = os.stat(inc.temp, follow_symlinks=False)
        if (temp_stat.st_dev, temp_stat.st_ino) != inc.temp_id:
            raise _Rejected("the temporary file was replaced while the file was being received")
        if temp_stat.st_size != size:
            os.truncate(inc.temp, size)
        if inc.hasher is not None and inc.hashed_upto == size:
            digest = inc.hasher.digest()
        else:
            digest = _hash_path(inc.temp)
        if digest != inc.key[1]:
            bad = _bad_chunks(inc)
            which = f"chunks {bad[:10]} fail their SHA-512 check" if bad else (
                "the chunks do not add up to the file")
            raise _Rejected(f"the rebuilt file does not match its SHA-512 ({which}); "
                            "it was discarded")
        latest = self._registry.latest_done_download(self.dest_label, inc.relpath)
        if (latest is not None and latest.file_hash != inc.key[1] and inc.mtime and
                latest.file_mtime > inc.mtime and
                (self._s3 is not None or inc.target.exists())):
            inc.temp.unlink(missing_ok=True)
            self._registry.finish_download(inc.download_id, "superseded", size)
            log.info("%s: %s: an older version arrived after a newer one; kept the newer",
                     self.job, inc.relpath)
            return "superseded"
        if self._s3 is not None:
            inc.verified = True
            assert self._upload_pool is not None
            self._upload_pool.submit(self._upload, inc)
            return "uploading"
        if inc.target.is_dir():
            raise _Rejected("a folder with the same name already exists in the destination")
        with inc.temp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(inc.temp, inc.target)
        # Recorded now, so the next generation of this path sees it (FIFO). If the
        # rename were lost in a crash, a restart finds the file missing and fetches
        # it again: its offsets stay uncommitted until _sync_dirs releases it.
        self._registry.finish_download(inc.download_id, "done", size)
        # The folder is fsynced (and the outcome released) by _sync_dirs, once for
        # every file renamed into it since the last one.
        self._dirs_to_sync.add(inc.target.parent)
        self._placed.append((inc, size))
        return "placed"

    def _upload(self, inc: _Incoming) -> None:
        """Put one verified file into the bucket (upload thread); queue the outcome."""
        assert self._s3 is not None
        try:
            if inc.attempts and _hash_path(inc.temp) != inc.key[1]:
                raise _Rejected("the staged file changed while waiting to be uploaded; it was "
                                "discarded")
            url = self._s3.put(inc.temp, inc.relpath, inc.key[1], inc.mtime,
                              stopping=self._stopping.is_set)
            self._registry.finish_download(inc.download_id, "done", inc.size)
            inc.temp.unlink(missing_ok=True)
        except _Rejected as exc:
            self._finished.put((inc, "failed", str(exc)))
        except S3Error as exc:
            self._finished.put((inc, "retry", f"S3 upload failed: {exc}"))
        except OSError as exc:
            self._finished.put((inc, "retry", f"S3 upload failed: cannot read the staged "
                                              f"file: {exc.strerror or exc}"))
        except Exception as exc:
            log.exception("%s: unexpected error uploading %s", self.job, inc.relpath)
            self._finished.put((inc, "retry", f"S3 upload failed: {exc}"))
        else:
            log.info("%s: stored %s as %s", self.job, inc.relpath, url)
            self._bus.publish(FileCompleted(self.job, Direction.DOWNLOAD, inc.relpath, inc.size,
                                            inc.key[1].hex(), time.monotonic() - inc.started,
                                            path=url))
            self._finished.put((inc, "done", ""))

    def _schedule_retry(self, inc: _Incoming, reason: str) -> None:
        """Keep a verified file pinned and try to store it again later (consume thread)."""
        delay = RETRY_DELAYS[min(inc.attempts, len(RETRY_DELAYS) - 1)]
        inc.attempts += 1
        self._retry_due[inc.key] = time.monotonic() + delay
        log.error("%s: %s was not stored yet (attempt %d): %s; retrying in %.0f s", self.job,
                  inc.relpath, inc.attempts, reason, delay)
        self._bus.publish(FileWaiting(self.job, Direction.DOWNLOAD, inc.relpath,
                                      f"{reason}; retrying in {delay:.0f} s"))

    def _retry_stores(self) -> None:
        """Hand verified files that could not be stored to the uploader or finisher again."""
        if not self._retry_due or self._stopping.is_set():
            return
        now = time.monotonic()
        for key, due in list(self._retry_due.items()):
            inc = self._incoming.get(key)
            if inc is None:
                del self._retry_due[key]
            elif due <= now:
                del self._retry_due[key]
                if self._upload_pool is not None and inc.verified:
                    self._upload_pool.submit(self._upload, inc)
                else:
                    self._hash_pool.submit(self._finish_file, inc, inc.size)
                    self._finishing_submitted = True

    def _collect_finished(self, wait: bool = False) -> None:
        """Apply the finisher's outcomes (consume thread); ``wait`` drains it first."""
        if wait or self._finishing_submitted:
            self._finishing_submitted = False
            done = self._hash_pool.submit(self._sync_dirs)
            if wait:
                done.result()
        while True:
            try:
                inc, status, reason = self._finished.get_nowait()
            except queue.Empty:
                return
            if status == "failed":
                self._fail(inc.key, inc, reason)
                continue
            if status == "retry":
                if inc.key in self._incoming:
                    self._schedule_retry(inc, reason)
                continue
            self._incoming.pop(inc.key, None)
            self._progress.forget(inc.key)
            self._settle(inc.key)
            if status != "done":
                continue
            self.files_received += 1
            for other_key, other in list(self._incoming.items()):
                if (other.relpath == inc.relpath and not other.finishing
                        and (not other.mtime or other.mtime <= inc.mtime)):
                    log.info("%s: %s: dropping an older incomplete version", self.job,
                             inc.relpath)
                    self._drop(other_key)
                    other.temp.unlink(missing_ok=True)
                    self._registry.finish_download(other.download_id, "superseded")

    def _fail(self, key: FileKey, inc: _Incoming | None, reason: str) -> None:
        relpath = key[0]
        if inc is not None:
            self._drop(key)
            inc.temp.unlink(missing_ok=True)
            self._registry.finish_download(inc.download_id, "failed", error=reason)
        self._settle(key)
        if key in self._reported:
            return
        self._reported[key] = None
        if len(self._reported) > 10_000:
            self._reported.popitem(last=False)
        log.error("%s: %r was not received: %s", self.job, relpath[:300], reason)
        self._bus.publish(FileFailed(self.job, Direction.DOWNLOAD, relpath[:300], reason))

    def _settle(self, key: FileKey) -> None:
        self._settled[key] = None
        if len(self._settled) > 100_000:
            self._settled.popitem(last=False)

    def _drop(self, key: FileKey) -> None:
        """Forget a generation in memory (its registry rows and temp file stay)."""
        handle = self._handles.pop(key, None)
        if handle is not None:
            self._sync_close(key, handle)
        self._dirty.discard(key)
        inc = self._incoming.pop(key, None)
        if inc is not None:
            self._record_synced(inc)

    def _record_synced(self, inc: _Incoming) -> None:
        """Record the chunks of ``inc`` whose bytes are fsynced (after the fsync only)."""
        for chunk_i, offset, length in inc.unsynced:
            self._registry.store_chunk(inc.download_id, chunk_i, offset, length)
        inc.unsynced.clear()

    # -- durability --------------------------------------------------------

    def _checkpoint(self, asynchronous: bool = True) -> None:
        """Fsync written data, commit the registry, then commit safe offsets."""
        for key in list(self._dirty):
            handle = self._handles.get(key)
            if handle is not None:
                os.fsync(handle.fileno())
        self._dirty.clear()
        self._dirty_bytes = 0
        # Only now that their bytes are on disk (the registry is shared by every job,
        # and any of them may commit it).
        for inc in self._incoming.values():
            self._record_synced(inc)
        for message_id in self._unparked:
            self._registry.unpark_message(message_id)
        self._unparked.clear()
        self._registry.commit()
        offsets = self._safe_offsets()
        changed = [TopicPartition(self.topic, p, o) for p, o in offsets.items()
                   if self._committed.get(p) != o]
        if not changed or self._consumer is None:
            return
        try:
            if asynchronous:
                self._consumer.commit(offsets=changed, asynchronous=True)
            else:
                self._consumer.commit(offsets=changed, asynchronous=False)
        except KafkaException as exc:
            log.warning("%s: offset commit failed (will retry): %s", self.job, exc)
            return
        for tp in changed:
            self._committed[tp.partition] = tp.offset

    def _safe_offsets(self) -> dict[int, int]:
        offsets = dict(self._next_offset)
        for inc in self._incoming.values():
            for partition, first in inc.pins.items():
                if partition in offsets:
                    offsets[partition] = min(offsets[partition], first)
        return offsets

    def _unpin_stale(self) -> None:
        now = time.monotonic()
        for inc in self._incoming.values():
            if inc.pins and now - inc.last_seen > self._stale_pin_seconds:
                inc.pins.clear()
                if not inc.stale_warned:
                    inc.stale_warned = True
                    log.warning("%s: %s has had %d of %d chunks for over %.0f s; its chunks "
                                "are kept and it will finish if the rest arrives", self.job,
                                inc.relpath, len(inc.stored), inc.n_chunks,
                                self._stale_pin_seconds)

    def _forget_stalest(self) -> None:
        """Drop the least recently active incomplete file from memory (and its pin).

        Its chunks stay in the registry and its temporary file, so it still
        finishes if the rest arrives; this only bounds memory and keeps a flood
        of never-finished files from pinning offsets.
        """
        candidates = [i for i in self._incoming.values() if not i.finishing]
        if not candidates:
            return
        stalest = min(candidates, key=lambda i: i.last_seen)
        log.warning("%s: more than %d files are incomplete; no longer tracking %s (%d of %d "
                    "chunks)", self.job, MAX_INCOMPLETE_FILES, stalest.relpath,
                    len(stalest.stored), stalest.n_chunks)
        self._drop(stalest.key)

    def _close_handles(self) -> None:
        """Fsync and close every open file (on stop; a failure is logged, not raised)."""
        while self._handles:
            key, handle = self._handles.popitem()
            try:
                self._sync_close(key, handle)
            except OSError as exc:  # its chunks are not committed: they are fetched again
                log.warning("%s: could not store %s: %s", self.job, key[0], exc)

    def _on_kafka_error(self, err: KafkaError) -> None:
        log.warning("%s: broker connection problem: %s", self.job, err.str())
        if err.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
            self._bus.publish(ConnectionState(self.job, ConnectionStatus.DISCONNECTED, err.str()))

    # -- introspection -----------------------------------------------------

    def incomplete(self) -> list[tuple[str, int, int]]:
        """Files being received: ``(relpath, chunks stored, chunks total)``."""
        return [(i.relpath, len(i.stored), i.n_chunks) for i in list(self._incoming.values())]


def _bad_chunks(inc: _Incoming) -> list[int]:
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


def _hash_path(path: Path) -> bytes:
    hasher = hashlib.sha512()
    with path.open("rb", buffering=0) as handle:
        while block := handle.read(READ_BLOCK):
            hasher.update(block)
    return hasher.digest()


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
