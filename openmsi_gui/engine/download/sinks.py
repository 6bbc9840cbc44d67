"""Where verified files go: a folder, or an S3 bucket staged through a folder.

A :class:`Sink` receives a generation whose whole-file hash matched, on the
finisher thread, and reports how it ended (:class:`Finished`) through the
callback it was built with, possibly later and from another thread. Until the
downloader collects that report the file's offsets stay pinned, so nothing is
committed before the sink has made the file durable. Stages that act once a
file's fate is final (receipts, processing) are :class:`~.stages.FinalStage`
classes; a new way of storing files is a new sink, or a sink wrapping another.
"""

from __future__ import annotations

import enum
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from openmsi_gui.engine.download.assembly import Incoming
from openmsi_gui.engine.download.problems import Rejected
from openmsi_gui.engine.file_hash import sha512_of
from openmsi_gui.engine.metadata_stores import write_sidecar
from openmsi_gui.engine.registry import DownloadRecord, Registry
from openmsi_gui.engine.s3 import S3Error, S3Store
from openmsi_gui.engine.safepath import UnsafePath
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

SYNC_THREADS = 4
"""Temporary files fsynced in parallel by a :class:`FolderSink` (see its ``prepare``)."""


class FinishOutcome(enum.Enum):
    """How the finishing of one complete generation ended (or where it stands)."""

    DONE = "done"  # stored durably: its offsets may be committed
    PLACED = "placed"  # renamed into place; DONE is reported once its folder is fsynced
    UPLOADING = "uploading"  # handed to the upload thread, which reports later
    SUPERSEDED = "superseded"  # a newer version is already there; this one was discarded
    RETRY = "retry"  # verified but not stored yet: keep it and try again later
    FAILED = "failed"  # discarded for a reason (hash mismatch, name refused, ...)


@dataclass(frozen=True)
class Finished:
    """The outcome of one generation, as reported to the consume thread.

    Args:
        file: the generation.
        outcome: DONE, SUPERSEDED, RETRY or FAILED.
        reason: why (RETRY and FAILED).
        path: where the file now is (DONE).
        local: its verified copy on this machine, if one is kept (DONE; see
            :attr:`~.stages.FileFate.local`).
    """

    file: Incoming
    outcome: FinishOutcome
    reason: str = ""
    path: str = ""
    local: str = ""


Report = Callable[[Finished], None]


class Sink(ABC):
    """Stores verified files; reports each outcome once through ``report``.

    Args:
        registry: the record of received files (a stored file is marked done there).
        report: called with the final outcome of each placed file (any thread).
        job: name used in logs.
    """

    label: str  # what the registry and history call the destination

    def __init__(self, registry: Registry, report: Report, job: str) -> None:
        self._registry = registry
        self._report = report
        self._job = job

    def start(self) -> None:  # noqa: B027  (a hook: most sinks need nothing)
        """Get ready before the first message (check and recover what a crash left)."""

    def missing(self) -> str | None:
        """A sentence if the staging or destination folder has gone, else None."""
        return None

    def prepare(self, inc: Incoming) -> None:  # noqa: B027  (a hook: most sinks need nothing)
        """Start work on a complete file before it is verified (consume thread)."""

    @abstractmethod
    def holds(self, record: DownloadRecord, target: Path) -> bool:
        """Whether the file ``record`` stored earlier is still there intact."""

    @abstractmethod
    def has_current(self, inc: Incoming) -> bool:
        """Whether a version of the file is stored (so an older one may be discarded)."""

    @abstractmethod
    def place(self, inc: Incoming) -> FinishOutcome:
        """Store a verified file (finisher thread); PLACED or UPLOADING: it reports later.

        Raises:
            Rejected: the file cannot be stored under its name.
            OSError: a file system error (may be a problem of the destination).
        """

    def resubmit(self, inc: Incoming) -> bool:
        """Retry storing a file without verifying it again; False if it must be re-finished."""
        return False

    def where(self, relpath: str, target: Path) -> str:
        """Where a file stored here is: its path, or its object's URL."""
        return str(target)

    def flush(self) -> None:  # noqa: B027  (a hook: most sinks need nothing)
        """Make what was placed durable and report it (finisher thread, after a batch)."""

    def close(self) -> None:  # noqa: B027  (a hook: most sinks need nothing)
        """Finish or interrupt work in progress (on stop; it reports before returning)."""


class FolderSink(Sink):
    """Renames verified files to their final names in the destination folder.

    Args:
        dest: the destination folder.
        create: create it at start when missing (the app passes False: a missing
            folder is a drive or share that is not connected).
        registry: see :class:`Sink`.
        report: see :class:`Sink`.
        job: see :class:`Sink`.
        sidecar: write each file's information beside it (``<name>.metadata.json``).
    """

    def __init__(self, dest: Path, create: bool, registry: Registry, report: Report,
                 job: str, sidecar: bool = False) -> None:
        super().__init__(registry, report, job)
        self.dest = dest
        self._sidecar = sidecar
        self.label = str(dest)
        self._create = create
        self._dirs_to_sync: set[Path] = set()  # finisher thread only
        self._placed: list[Incoming] = []  # finisher thread only
        # Temporary files are fsynced here while they wait for the finisher: one fsync
        # per file on the finisher thread made it the slowest stage for small files,
        # and fsyncs in parallel share the file system's journal commits.
        self._sync_pool = ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix=f"{job}-fsync")

    def start(self) -> None:
        """Create the destination, or refuse to start without it.

        Raises:
            FileNotFoundError: the folder is missing and may not be created.
        """
        if self._create:
            self.dest.mkdir(parents=True, exist_ok=True)
        elif (missing := self.missing()) is not None:
            raise FileNotFoundError(missing)

    def missing(self) -> str | None:
        """A sentence if the destination folder has gone (a drive or share disconnected)."""
        if os.path.isdir(self.dest):
            return None
        return (f"the destination folder {self.dest} is not there (a disconnected drive or "
                "network share?): reconnect it, or create the folder again")

    def holds(self, record: DownloadRecord, target: Path) -> bool:
        """Whether the file at ``target`` has the size it was stored with."""
        try:
            return target.stat().st_size == record.size
        except OSError:
            return False

    def has_current(self, inc: Incoming) -> bool:
        """Whether a file is at the final name."""
        return inc.target.exists()

    def prepare(self, inc: Incoming) -> None:
        """Start fsyncing the complete temporary file (verified later; consume thread)."""
        try:
            inc.synced = self._sync_pool.submit(_fsync_file, inc.temp)
        except RuntimeError:  # closed (stopping): place() fsyncs it itself
            inc.synced = None

    def place(self, inc: Incoming) -> FinishOutcome:
        """Fsync and rename the file into place; DONE follows from :meth:`flush`."""
        if inc.target.is_dir():
            raise Rejected("a folder with the same name already exists in the destination")
        synced, inc.synced = inc.synced, None
        # Again if it was not prepared, or verify() truncated it after that fsync.
        if synced is None or synced.result() != inc.size:
            _fsync_file(inc.temp)
        os.replace(inc.temp, inc.target)
        # Recorded now, so the next generation of this path sees it (FIFO). If the
        # rename were lost in a crash, a restart finds the file missing and fetches
        # it again: its offsets stay uncommitted until flush() releases it.
        self._registry.finish_download(inc.download_id, "done", inc.size)
        if self._sidecar:
            self._write_sidecar(inc)
        # The folder is fsynced (and the outcome released) once for every file
        # renamed into it since the last flush.
        self._dirs_to_sync.add(inc.target.parent)
        self._placed.append(inc)
        return FinishOutcome.PLACED

    def _write_sidecar(self, inc: Incoming) -> None:
        """Write the file's information beside it; a failure is logged, the file stays."""
        try:
            write_sidecar(self.dest, inc.relpath, inc.metadata)
        except (UnsafePath, OSError) as exc:
            log.warning("%s: the information of %s was not written beside it: %s", self._job,
                        inc.shown, escaped(str(exc)))

    def flush(self) -> None:
        """Make the renames durable, then report them done."""
        dirs, self._dirs_to_sync = self._dirs_to_sync, set()
        placed, self._placed = self._placed, []
        for folder in dirs:
            try:
                _fsync_dir(folder)
            except OSError as exc:
                log.warning("%s: could not fsync %s: %s", self._job, escaped(str(folder)),
                            escaped(str(exc)))
        for inc in placed:
            self._report(Finished(inc, FinishOutcome.DONE, path=str(inc.target),
                                  local=str(inc.target)))

    def close(self) -> None:
        """Wait for the fsyncs started (files not placed are fetched again at the next start)."""
        self._sync_pool.shutdown(wait=True)


class S3Sink(Sink):
    """Uploads verified files from a local staging folder on a thread of its own.

    A failed upload keeps the staged file and reports RETRY; the file is deleted
    only once the object is verified in the bucket, or, with ``keep_staged``, renamed
    to its name in the staging folder for a processor to read (which removes it).

    Args:
        store: the bucket.
        staging: the local folder files are rebuilt in.
        stopping: tells a long upload to stop between parts.
        registry: see :class:`Sink`.
        report: see :class:`Sink`.
        job: see :class:`Sink`.
        keep_staged: keep each uploaded file's staged copy for processing.
    """

    def __init__(self, store: S3Store, staging: Path, stopping: Callable[[], bool],
                 registry: Registry, report: Report, job: str,
                 keep_staged: bool = False) -> None:
        super().__init__(registry, report, job)
        self._keep_staged = keep_staged
        self.label = store.url
        self._store = store
        self._staging = staging
        self._stopping = stopping
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"{job}-s3")

    def start(self) -> None:
        """Create the staging folder, check the bucket, recover interrupted uploads.

        Raises:
            S3Error: the bucket cannot be used.
        """
        self._staging.mkdir(parents=True, exist_ok=True)
        self._store.check()
        aborted = self._store.recover(self._staging)
        if aborted:
            log.info("%s: aborted %d interrupted S3 uploads", self._job, aborted)

    def holds(self, record: DownloadRecord, target: Path) -> bool:
        """Whether the bucket has the object, with its size and hash."""
        return self._store.exists(record.relpath, record.size, record.file_hash)

    def has_current(self, inc: Incoming) -> bool:
        """The registry's record of a newer upload is trusted."""
        return True

    def where(self, relpath: str, target: Path) -> str:
        """The ``s3://bucket/key`` URL of the object of ``relpath``."""
        return f"s3://{self._store.location.bucket}/{self._store.key(relpath)}"

    def place(self, inc: Incoming) -> FinishOutcome:
        """Queue the upload of a verified file."""
        inc.verified = True
        self._pool.submit(self._upload, inc)
        return FinishOutcome.UPLOADING

    def resubmit(self, inc: Incoming) -> bool:
        """Upload a verified file again (it is re-hashed first)."""
        if not inc.verified:
            return False
        self._pool.submit(self._upload, inc)
        return True

    def close(self) -> None:
        """Wait for the upload in progress (it stops between parts when stopping)."""
        self._pool.shutdown(wait=True)

    def _upload(self, inc: Incoming) -> None:
        """Put one verified file into the bucket (upload thread); report the outcome."""
        try:
            if inc.attempts and sha512_of(inc.temp) != inc.key[1]:
                raise Rejected("the staged file changed while waiting to be uploaded; it was "
                               "discarded")
            url = self._store.put(inc.temp, inc.relpath, inc.key[1], inc.mtime,
                                  stopping=self._stopping, fields=inc.metadata)
            self._registry.finish_download(inc.download_id, "done", inc.size)
            local = ""
            if self._keep_staged:
                os.replace(inc.temp, inc.target)
                local = str(inc.target)
            else:
                inc.temp.unlink(missing_ok=True)
        except Rejected as exc:
            self._report(Finished(inc, FinishOutcome.FAILED, str(exc)))
        except S3Error as exc:
            self._report(Finished(inc, FinishOutcome.RETRY, f"S3 upload failed: {exc}"))
        except OSError as exc:
            self._report(Finished(inc, FinishOutcome.RETRY, f"S3 upload failed: cannot read "
                                  f"the staged file: {exc.strerror or exc}"))
        except Exception as exc:
            log.exception("%s: unexpected error uploading %s", self._job, inc.shown)
            self._report(Finished(inc, FinishOutcome.RETRY, f"S3 upload failed: {exc}"))
        else:
            log.info("%s: stored %s as %s", self._job, inc.shown, escaped(url))
            self._report(Finished(inc, FinishOutcome.DONE, path=url, local=local))


def _fsync_file(path: Path) -> int:
    """Fsync the file at ``path``; return the size it had."""
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
        return os.fstat(handle.fileno()).st_size


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
