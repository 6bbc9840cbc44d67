"""Watch a folder tree and hand each file to an uploader once it is stable.

A file is *stable* once its size and modification time have not changed for
``stable_seconds``: instruments often write a file over minutes, and sending
it early would cut it short. A file rewritten after it was sent is picked up
again and sent as a new generation.

Events come from watchdog's native observer. On network drives (SMB/CIFS/NFS),
where native events are unreliable, the watcher polls instead: every couple of
seconds it looks at each folder's mtime and lists again only the folders that
changed, so an idle watch on 100,000 files costs little. A periodic rescan of
the whole tree backs both up, so a missed event delays a file but never loses it.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from openmsi_gui.engine.events import EventBus, JobState, JobStatus, job_died
from openmsi_gui.engine.file_filter import FileFilter
from openmsi_gui.engine.tree_scan import FileEntry, list_folder, walk_tree
from openmsi_gui.engine.upload_types import Priority, UploadOutcome, UploadResult
from openmsi_gui.engine.uploader import Uploader

log = logging.getLogger(__name__)

Stamp = tuple[int, int]
"""(size, mtime_ns): what changes when a file does."""

# Not opened/closed-without-writing: sending reads every file twice, and on Linux those
# events for a backlog of 100,000 files overflow inotify's queue, losing a new file's.
EVENTS: list[type[FileSystemEvent]] = [FileCreatedEvent, FileModifiedEvent, FileClosedEvent,
                                       FileMovedEvent, DirCreatedEvent, DirMovedEvent]

POLL_DUTY = 10
"""A poll of the folders' mtimes waits at least this many times as long as the last one took."""
RESCAN_DUTY = 50
"""A full rescan waits at least this many times as long as the last one took."""


@dataclass
class _Candidate:
    path: str
    stamp: Stamp
    since: float
    prehashed: bool = False  # hashed ahead with this stamp (see Uploader.prehash)


class FolderWatcher:
    """Feed new and changed files under ``root`` to ``uploader`` once they are stable.

    Files already there at start are the *backlog*: they queue behind any file
    that appears while the backlog is sent, so a new measurement goes out
    within seconds even behind 100,000 older files.

    Args:
        root: the folder to watch (recursively).
        uploader: a started :class:`Uploader`.
        bus: where job state events go.
        upload_existing: also send files that are already there at start.
        since: without ``upload_existing``, still send files modified at or
            after this time (epoch seconds): those that arrived while the
            watcher was not running. The registry skips what was already sent.
        file_filter: which files to send.
        stable_seconds: how long size and mtime must stay unchanged.
        polling: poll instead of native events (network drives).
        rescan_seconds: the least time between two whole-tree rescans (a safety
            net; longer on a tree that takes long to list).
        poll_seconds: with ``polling``, the least time between two looks at the
            folders' mtimes.
        job: name used in events and logs.
    """

    def __init__(self, root: Path, uploader: Uploader, bus: EventBus, *,
                 upload_existing: bool = False, since: float | None = None,
                 file_filter: FileFilter | None = None,
                 stable_seconds: float = 3.0, polling: bool = False,
                 rescan_seconds: float = 60.0, poll_seconds: float = 2.0,
                 job: str = "watch") -> None:
        self.root = Path(os.path.realpath(root))
        if not self.root.is_dir():
            raise FileNotFoundError(f"{root} is not a folder")
        self.uploader = uploader
        self.filter = file_filter or FileFilter()
        self.stable_seconds = stable_seconds
        self.upload_existing = upload_existing
        self.since = since
        self.polling = polling
        self.rescan_seconds = rescan_seconds
        self.poll_seconds = poll_seconds
        self.job = job
        self._root = str(self.root)
        self._bus = bus
        self._lock = threading.Lock()
        self._candidates: dict[str, _Candidate] = {}  # by relpath: waiting to be stable
        self._known: dict[str, Stamp] = {}  # by relpath: sent, queued, or there at start
        self._folders: dict[str, int] = {}  # every folder's mtime_ns (for polling)
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._error: BaseException | None = None
        self.scan_seconds = 0.0
        """How long the last whole-tree listing took."""
        self.folders_at_start: frozenset[str] = frozenset()
        """The folders listed when the watch started (see :mod:`.after_delivery_actions`)."""

    @property
    def error(self) -> BaseException | None:
        """What stopped the watching thread while it ran, if anything did."""
        return self._error

    def _on_result(self, result: UploadResult) -> None:
        if result.outcome is UploadOutcome.FAILED:
            relpath = self._relpath(str(result.path))
            with self._lock:  # forget it, so the next change or rescan sends it again
                self._known.pop(relpath or "", None)

    def start(self) -> None:
        """Take stock of existing files, queue the backlog and start watching."""
        self.uploader.add_result_listener(self._on_result)
        started = time.monotonic()
        for entry in self._walk(self._root):
            self._take_stock(entry)
        self.scan_seconds = time.monotonic() - started
        self.folders_at_start = frozenset([self._root, *self._folders])
        log.info("%s: %d files under %s listed in %.1f s", self.job, len(self._known) +
                 len(self._candidates), self.root, self.scan_seconds)
        if not self.polling:
            observer: BaseObserver = Observer()
            observer.schedule(_Handler(self), self._root, recursive=True,
                              event_filter=EVENTS)
            observer.daemon = True
            observer.start()
            self._observer = observer
        self._thread = threading.Thread(target=self._run, name=f"{self.job}-stable", daemon=True)
        self._thread.start()
        self._bus.publish(JobState(self.job, JobStatus.WATCHING, str(self.root)))

    def stop(self) -> None:
        """Stop watching (the uploader is stopped separately)."""
        self._stopping.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
            self._observer = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def forget(self, relpath: str) -> None:
        """Forget a file moved or deleted after its delivery: one made again there is new."""
        with self._lock:
            self._known.pop(relpath, None)
            self._candidates.pop(relpath, None)

    def recheck(self, relpath: str) -> None:
        """Look at a file again as if an event said it changed (sent once stable)."""
        self.forget(relpath)
        self._note(os.path.join(self._root, *relpath.split("/")))

    # -- what is there -------------------------------------------------------

    def _walk(self, folder: str) -> Iterator[FileEntry]:
        for entry in walk_tree(self._root, folder, self.filter.walks_into, self._folders):
            if self.filter.accepts(entry.relpath):
                yield entry

    def _relpath(self, path: str) -> str | None:
        if not path.startswith(self._root + os.sep):
            return None
        return path[len(self._root) + 1:].replace(os.sep, "/")

    def _take_stock(self, entry: FileEntry) -> None:
        """At start: queue ``entry`` as backlog, or note it as already there."""
        if not self._send_at_start(entry):
            self._known[entry.relpath] = entry.stamp
        elif self._age(entry) >= self.stable_seconds:  # complete long ago: no need to watch it
            self._known[entry.relpath] = entry.stamp
            self.uploader.submit(self.root, Path(entry.path), Priority.BACKLOG)
        else:
            self._observe(entry)

    def _send_at_start(self, entry: FileEntry) -> bool:
        if self.upload_existing:
            return True
        return self.since is not None and entry.mtime_ns / 1e9 >= self.since

    @staticmethod
    def _age(entry: FileEntry) -> float:
        return time.time() - entry.mtime_ns / 1e9

    def _note(self, path: str) -> None:
        """Look at ``path`` after an event said it may have changed."""
        relpath = self._relpath(path)
        if relpath is None or not self.filter.accepts(relpath):
            return
        try:
            st = os.stat(path)
        except OSError:
            return
        if stat.S_ISREG(st.st_mode):
            self._observe(FileEntry(path, relpath, st.st_size, st.st_mtime_ns))

    def _note_folder(self, folder: str) -> None:
        """A folder appeared (created, or moved in): everything in it is new."""
        if self._relpath(folder) is not None:
            for entry in self._walk(folder):
                self._observe(entry)

    def _observe(self, entry: FileEntry) -> None:
        """Make ``entry`` a candidate unless it is known as it is now."""
        with self._lock:
            if self._known.get(entry.relpath) == entry.stamp:
                return
            known = self._candidates.get(entry.relpath)
            if known is not None and known.stamp == entry.stamp:
                return
            # A file untouched for longer than the window counts from its mtime,
            # so files that are already complete go out without waiting.
            age = self._age(entry)
            since = time.monotonic() - max(0.0, age) if known is None else time.monotonic()
            self._candidates[entry.relpath] = _Candidate(entry.path, entry.stamp, since)
        self._wake.set()

    # -- the watching thread -------------------------------------------------

    def _run(self) -> None:
        try:
            self._watch()
        except Exception as exc:
            self._error = exc
            job_died(log, self._bus, self.job, "watching stopped", exc)

    def _watch(self) -> None:
        next_rescan = time.monotonic() + max(self.rescan_seconds,
                                             RESCAN_DUTY * self.scan_seconds)
        next_poll = time.monotonic() + self.poll_seconds
        while not self._stopping.is_set():
            self._wake.wait(min(0.25, self.stable_seconds / 4 or 0.25))
            self._wake.clear()
            if self.polling and time.monotonic() >= next_poll:
                took = self._timed(self._poll)
                next_poll = time.monotonic() + max(self.poll_seconds, POLL_DUTY * took)
            if time.monotonic() >= next_rescan:
                self.scan_seconds = self._timed(self._rescan)
                next_rescan = time.monotonic() + max(self.rescan_seconds,
                                                     RESCAN_DUTY * self.scan_seconds)
            self._submit_stable()

    @staticmethod
    def _timed(step: Callable[[], None]) -> float:
        started = time.monotonic()
        step()
        return time.monotonic() - started

    def _rescan(self) -> None:
        """List the whole tree: catch what events missed, forget deleted files."""
        seen: set[str] = set()
        self._folders.clear()
        for entry in self._walk(self._root):
            seen.add(entry.relpath)
            self._observe(entry)
        with self._lock:
            self._known = {rel: stamp for rel, stamp in self._known.items() if rel in seen}

    def _poll(self) -> None:
        """List again only the folders whose mtime moved (an entry added, removed, renamed)."""
        for folder, mtime_ns in list(self._folders.items()):
            if self._stopping.is_set():
                return
            try:
                now_ns = os.stat(folder).st_mtime_ns
            except OSError:
                self._folders.pop(folder, None)  # gone; a parent's listing finds it if it returns
                continue
            if now_ns == mtime_ns:
                continue
            listing = list_folder(self._root, folder, self.filter.walks_into)
            if listing is None:
                continue
            self._folders[folder] = listing.mtime_ns
            for entry in listing.files:
                if self.filter.accepts(entry.relpath):
                    self._observe(entry)
            for sub in listing.folders:
                if sub not in self._folders:
                    self._note_folder(sub)

    def _submit_stable(self) -> None:
        now = time.monotonic()
        with self._lock:
            items = list(self._candidates.items())
        for relpath, cand in items:
            try:
                st = os.stat(cand.path)
            except OSError:
                with self._lock:
                    self._candidates.pop(relpath, None)
                continue
            stamp = (st.st_size, st.st_mtime_ns)
            if stamp != cand.stamp:
                with self._lock:
                    self._candidates[relpath] = _Candidate(cand.path, stamp, now)
                continue
            if now - cand.since < self.stable_seconds:
                if not cand.prehashed and now - cand.since >= self.stable_seconds / 2:
                    # Quiet for half the window: likely complete, so hash it now.
                    cand.prehashed = True
                    self.uploader.prehash(Path(cand.path))
                continue
            if not _readable(cand.path):
                continue  # still locked by the instrument (Windows); try again later
            with self._lock:
                self._candidates.pop(relpath, None)
                self._known[relpath] = stamp
            self.uploader.submit(self.root, Path(cand.path), Priority.NEW)


def _readable(path: str) -> bool:
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: FolderWatcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            if event.event_type in ("created", "moved"):
                self._watcher._note_folder(
                    os.fsdecode(getattr(event, "dest_path", "") or event.src_path))
            return
        if event.event_type in ("created", "modified", "closed"):
            self._watcher._note(os.fsdecode(event.src_path))
        elif event.event_type == "moved":
            self._watcher._note(os.fsdecode(event.dest_path))
