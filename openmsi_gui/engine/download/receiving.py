"""Chunk messages into file generations: checks, resumption, writing, outcomes.

Every message is untrusted: a bad name, hash, chunk count or offset fails its
file (or rejects the message) with a log line and a ``FileFailed`` event, and
nothing is written outside the destination. A generation already received is
skipped; one interrupted by a restart resumes from the chunks the registry
holds.
"""

from __future__ import annotations

import collections
import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path

from openmsi_gui.engine import wire
from openmsi_gui.engine.crypto import is_ciphertext
from openmsi_gui.engine.download.assembly import (
    MAX_FILE_BYTES,
    NO_PIN,
    Assembly,
    FileKey,
    Incoming,
    temp_name,
    uses_temp_name,
)
from openmsi_gui.engine.download.finisher import Finisher
from openmsi_gui.engine.download.problems import (
    DestinationUnavailable,
    Rejected,
    cannot_write,
    whole_destination_problem,
)
from openmsi_gui.engine.download.sinks import Finished, FinishOutcome, Sink
from openmsi_gui.engine.download.stages import FileFate, FinalStage
from openmsi_gui.engine.events import Direction, EventBus, FilesFiltered
from openmsi_gui.engine.file_events import FileReporter
from openmsi_gui.engine.metadata import Headers, decode_header, from_json, header_value, to_json
from openmsi_gui.engine.receipts import UNKNOWN_SIZE, ReceiptStatus
from openmsi_gui.engine.registry import DownloadRecord, Registry
from openmsi_gui.engine.safepath import UnsafePath, resolve_inside
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

MAX_INCOMPLETE_FILES = 10_000  # beyond this the stalest is forgotten (it stays on disk)
# Finished files whose late chunks are dropped without a registry lookup. Redelivered chunks
# are never older than the uncommitted offsets (a few thousand messages); the registry
# answers for anything older, so a bigger cache only costs memory (~0.35 KB a file).
SETTLED_REMEMBERED = 10_000


class Receiver:
    """Turns plain chunk messages into files, through the assembly, finisher and sink.

    Args:
        dest: the destination (or S3 staging) folder.
        sink: where verified files go.
        assembly: the generations being rebuilt.
        finisher: verifies complete generations.
        registry: records of received files and stored chunks.
        scope: ``(topic, group)`` the records belong to.
        bus: where events go.
        job: name used in events and logs.
        stages: told of every file stored or failed (receipts).
        wanted: take only files whose relative path this matches from its start
            (OpenMSIStream's ``--download_regex``); the others are counted and
            read past (None: every file).
    """

    def __init__(self, dest: Path, sink: Sink, assembly: Assembly, finisher: Finisher,
                 registry: Registry, scope: tuple[str, str], bus: EventBus, job: str,
                 stages: Sequence[FinalStage] = (),
                 wanted: re.Pattern[str] | None = None) -> None:
        self._dest = dest
        self._sink = sink
        self._stages = tuple(stages)
        self.assembly = assembly
        self._finisher = finisher
        self._registry = registry
        self._topic, self._group = scope
        self._files = FileReporter(bus, job, Direction.DOWNLOAD)
        self._job = job
        # Settled generations, and whether each was stored here (True) or not.
        self._settled: collections.OrderedDict[FileKey, bool] = collections.OrderedDict()
        self._reported: collections.OrderedDict[FileKey, None] = collections.OrderedDict()
        self._bus = bus
        self._wanted = wanted
        self._filtered: collections.OrderedDict[FileKey, None] = collections.OrderedDict()
        self.files_filtered = 0
        self.files_received = 0
        self.bytes_received = 0
        self.messages_rejected = 0

    def process(self, value: bytes | None, partition: int, offset: int,
                message_key: bytes | str | None, headers: Headers = None) -> bool:
        """Store one plain chunk message (``partition`` NO_PIN: it pins nothing).

        ``headers``: the message's, for the file's information (untrusted).

        Returns:
            Whether a chunk was written: the destination took data. A message
            rejected, already settled, or failing its own file wrote nothing.

        Raises:
            DestinationUnavailable: the destination cannot take data now.
        """
        try:
            chunk = wire.decode_chunk(value, verify=False)
        except wire.BadMessage as exc:
            self.reject_message(partition, offset, message_key, str(exc))
            return False
        key: FileKey = (chunk.relpath, chunk.file_hash)
        if self._left_out(key):
            return False
        if key in self._settled:
            if not (self._settled[key] and chunk.chunk_i == 1 and self._stages):
                return False
            # Stored, and its first chunk again: sent again, perhaps because no receipt
            # came. The registry says whether it is still here, to confirm it again.
            del self._settled[key]
        inc = self.assembly.incoming.get(key)
        try:
            if inc is None:
                inc = self._open_generation(chunk)
                if inc is None:
                    return False
            self._take_metadata(inc, headers)
            self._store(inc, chunk, partition, offset)
        except Rejected as exc:
            self.fail(key, inc, str(exc))
        except UnsafePath as exc:
            self.fail(key, None, f"unsafe file name: {exc}")
        except OSError as exc:
            problem = whole_destination_problem(exc, self._dest, self._sink.missing())
            if problem is not None:
                raise DestinationUnavailable(chunk.relpath, problem) from exc
            self.fail(key, inc, cannot_write(exc))
        else:
            return True
        return False

    def _left_out(self, key: FileKey) -> bool:
        """Whether the download filter leaves the file out (counted once; read past)."""
        if self._wanted is None or self._wanted.match(key[0]):
            return False
        if key in self._filtered:
            return True
        self._filtered[key] = None
        if len(self._filtered) > SETTLED_REMEMBERED:
            self._filtered.popitem(last=False)
        self.files_filtered += 1
        log.debug("%s: %s does not match the download filter", self._job, escaped(key[0]))
        self._bus.publish(FilesFiltered(self._job, self.files_filtered))
        return True

    def _take_metadata(self, inc: Incoming, headers: Headers) -> None:
        """Keep the fields of the first good header of a file; say once if one is bad."""
        if inc.metadata_seen or not headers:
            return
        raw = header_value(headers)
        if raw is None:
            return
        fields = decode_header(raw)
        if isinstance(fields, str):
            if not inc.metadata_refused:
                inc.metadata_refused = True
                log.warning("%s: the information sent with %s is ignored: %s", self._job,
                            inc.shown, escaped(fields))
            return
        inc.metadata, inc.metadata_seen = fields, True
        if fields:
            self._registry.set_download_metadata(inc.download_id, to_json(fields))

    def reject_message(self, partition: int, offset: int, key: bytes | str | None,
                       reason: str) -> None:
        """Refuse a message that is not a chunk of any file (shown by its key).

        An encrypted key says nothing to people (it is ciphertext): the message is
        shown by where it was read instead.
        """
        self.messages_rejected += 1
        encrypted = isinstance(key, bytes) and is_ciphertext(key)
        label = f"(encrypted message {partition}@{offset})" if encrypted else key
        log.error("%s: rejected message %s[%d]@%d (key '%s'): %s", self._job, self._topic,
                  partition, offset, escaped(label, 200), escaped(reason))
        self._files.failed(escaped(label, 200), escaped(f"rejected message: {reason}"))

    def _open_generation(self, chunk: wire.Chunk) -> Incoming | None:
        relpath = chunk.relpath
        missing = self._sink.missing()
        if missing is not None:  # never recreate it: it may be a drive that is not mounted
            raise DestinationUnavailable(relpath, missing)
        target = resolve_inside(self._dest, relpath)
        if uses_temp_name(relpath):
            raise UnsafePath(f"'{escaped(relpath)}' uses a name reserved for files being received")
        label = self._sink.label
        record = self._registry.find_download(self._topic, self._group, label, relpath,
                                              chunk.file_hash)
        key: FileKey = (relpath, chunk.file_hash)
        if record is not None and self._already_handled(record, target, chunk):
            self._skip(record, target, chunk)
            return None
        temp = temp_name(target, chunk.file_hash)
        stored: dict[int, tuple[int, int]] = {}
        if record is not None and record.status == "receiving" and temp.is_file():
            stored = self._registry.stored_chunks(record.id)
            if stored and temp.stat().st_size < max(o + n for o, n in stored.values()):
                stored = {}
        if record is not None and stored:
            download_id = record.id
            log.info("%s: resuming %s with %d of %d chunks already stored", self._job,
                     escaped(relpath), len(stored), chunk.n_chunks)
        else:
            download_id = self._registry.start_download(
                self._topic, self._group, label, relpath, chunk.file_hash, chunk.n_chunks,
                chunk.file_mtime, str(temp))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not stored:
                temp.open("wb").close()
            temp_stat = temp.stat()
        except OSError as exc:
            # A problem that may pass leaves the record "receiving", to be retried.
            if whole_destination_problem(exc, self._dest, self._sink.missing()) is None:
                self._registry.finish_download(download_id, "failed", error=cannot_write(exc))
            raise
        inc = Incoming(key, download_id, target, temp, chunk.n_chunks, chunk.file_mtime, stored,
                       stored_bytes=sum(n for _, n in stored.values()),
                       temp_id=(temp_stat.st_dev, temp_stat.st_ino))
        if stored:
            inc.hasher = None
            # Its information came with the chunks stored before the restart.
            inc.metadata = from_json(record.metadata if record is not None else "")
            inc.metadata_seen = bool(inc.metadata)
        if len(self.assembly.incoming) >= MAX_INCOMPLETE_FILES:
            self.assembly.forget_stalest(self._job, MAX_INCOMPLETE_FILES)
        self.assembly.incoming[key] = inc
        self._files.discovered(inc.shown, 0)
        return inc

    def _skip(self, record: DownloadRecord, target: Path, chunk: wire.Chunk) -> None:
        """Leave out a generation received before; confirm it again if it is still here."""
        relpath = chunk.relpath
        latest = self._registry.latest_done_download(self._sink.label, relpath)
        here = (record.status == "done" and latest is not None and latest.id == record.id
                and self._sink.holds(record, target))
        self._settle((relpath, chunk.file_hash), stored=here)
        self._files.skipped(escaped(relpath), "already received")
        if here:  # sent again: the sender may not have heard of it
            # The local copy: the file itself, or an S3 copy kept staged for processing.
            local = str(target) if target.is_file() else ""
            self._tell(FileFate(relpath, chunk.file_hash, record.size, record.file_mtime,
                                self._sink.where(relpath, target), ReceiptStatus.STORED,
                                local=local, metadata=from_json(record.metadata)))

    def _already_handled(self, record: DownloadRecord, target: Path, chunk: wire.Chunk) -> bool:
        if record.status == "superseded":
            return chunk.file_mtime <= record.file_mtime
        if record.status != "done":
            return False
        if chunk.file_mtime > record.file_mtime:
            return False  # the same content sent again later: it is the newest again
        latest = self._registry.latest_done_download(self._sink.label, record.relpath)
        if latest is not None and latest.id != record.id:
            return True  # a newer generation has replaced it since
        return self._sink.holds(record, target)

    def _store(self, inc: Incoming, chunk: wire.Chunk, partition: int, offset: int) -> None:
        if inc.finishing:
            return
        if chunk.n_chunks != inc.n_chunks:
            raise Rejected(f"inconsistent chunk count: chunk {chunk.chunk_i} says "
                           f"{chunk.n_chunks}, earlier chunks said {inc.n_chunks}")
        if chunk.offset + len(chunk.data) > MAX_FILE_BYTES:
            raise Rejected(f"chunk {chunk.chunk_i} claims offset {chunk.offset}, beyond the "
                           f"{MAX_FILE_BYTES}-byte limit")
        if partition != NO_PIN:
            inc.pins.setdefault(partition, offset)
        inc.last_seen = time.monotonic()
        known = inc.stored.get(chunk.chunk_i)
        if known is not None:
            if known != (chunk.offset, len(chunk.data)):
                raise Rejected(f"chunk {chunk.chunk_i} arrived twice with different offsets "
                               f"({known[0]} and {chunk.offset})")
            if not inc.complete:
                return
        else:
            self.assembly.write(inc, chunk)
            self.bytes_received += len(chunk.data)
        self._files.progress(inc.key, inc.shown, inc.stored_bytes, 0, len(inc.stored),
                             inc.n_chunks, done=inc.complete)
        if inc.complete:
            self.assembly.release(inc)
            # The file stays pinned (its offsets uncommitted) until its outcome is applied.
            self._finisher.submit(inc)

    def apply(self, finished: Finished) -> None:
        """Act on a final outcome other than RETRY (consume thread)."""
        inc = finished.file
        if finished.outcome is FinishOutcome.FAILED:
            self.fail(inc.key, inc, finished.reason)
            return
        self.assembly.incoming.pop(inc.key, None)
        self._files.forget(inc.key)
        self._settle(inc.key, stored=finished.outcome is FinishOutcome.DONE)
        if finished.outcome is not FinishOutcome.DONE:
            return
        self._files.completed(inc.shown, inc.size, inc.key[1].hex(),
                              time.monotonic() - inc.started, path=finished.path)
        self._tell(FileFate(inc.relpath, inc.key[1], inc.size, inc.mtime, finished.path,
                            ReceiptStatus.STORED, local=finished.local,
                            metadata=inc.metadata))
        self.files_received += 1
        for other_key, other in list(self.assembly.incoming.items()):
            if (other.relpath == inc.relpath and not other.finishing
                    and (not other.mtime or other.mtime <= inc.mtime)):
                log.info("%s: %s: dropping an older incomplete version", self._job, inc.shown)
                self.assembly.drop(other_key)
                other.temp.unlink(missing_ok=True)
                self._registry.finish_download(other.download_id, "superseded")

    def fail(self, key: FileKey, inc: Incoming | None, reason: str) -> None:
        """Give up on a generation: delete its temporary file and say why (once)."""
        relpath = key[0]
        if inc is not None:
            self.assembly.drop(key)
            inc.temp.unlink(missing_ok=True)
            self._registry.finish_download(inc.download_id, "failed", error=reason)
        self._settle(key)
        if key in self._reported:
            return
        self._reported[key] = None
        if len(self._reported) > 10_000:
            self._reported.popitem(last=False)
        log.error("%s: '%s' was not received: %s", self._job, escaped(relpath),
                  escaped(reason))
        self._files.failed(escaped(relpath), escaped(reason))
        # A generation is sized once complete (finishing); one refused earlier is not.
        size = inc.size if inc is not None and inc.finishing else UNKNOWN_SIZE
        mtime = inc.mtime if inc is not None else 0.0
        self._tell(FileFate(relpath, key[1], size, mtime, "", ReceiptStatus.FAILED, reason,
                            metadata=inc.metadata if inc is not None else {}))

    def _tell(self, fate: FileFate) -> None:
        for stage in self._stages:
            stage.settled(fate)

    def _settle(self, key: FileKey, stored: bool = False) -> None:
        self._settled[key] = stored
        if len(self._settled) > SETTLED_REMEMBERED:
            self._settled.popitem(last=False)

    def drop_revoked(self, revoked: set[int]) -> None:
        """Forget the generations pinned to revoked partitions (their new owner re-reads them)."""
        for key, inc in list(self.assembly.incoming.items()):
            if revoked & inc.pins.keys():
                self.assembly.drop(key)
