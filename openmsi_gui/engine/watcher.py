"""Watch a folder tree and hand each file to an uploader once it is stable.

A file is *stable* once its size and modification time have not changed for
``stable_seconds``: instruments often write a file over minutes, and sending
it early would cut it short. A file rewritten after it was sent is picked up
again and sent as a new generation.

Events come from watchdog's native observer, or from its polling observer for
network drives (SMB/CIFS/NFS), where native events are unreliable. A periodic
rescan backs both up, so a missed event delays a file but never loses it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from openmsi_gui.engine.events import EventBus, JobState, JobStatus, job_died
from openmsi_gui.engine.globs import TEMPORARY_PATTERNS, GlobError, GlobSet, split_patterns
from openmsi_gui.engine.uploader import Uploader, UploadOutcome, UploadResult

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class FileFilter:
    """Which files under a watched root are sent (see :mod:`openmsi_gui.engine.globs`).

    A file is sent if its POSIX path relative to the root matches an include
    pattern (or there are none) and the include regex (if any), and nothing
    skips it: an exclude pattern, the exclude regex, or the two checkboxes.

    Attributes:
        include: glob patterns, or one text of them (comma- or line-separated).
        exclude: glob patterns, or one text of them.
        skip_temporary: skip :data:`~openmsi_gui.engine.globs.TEMPORARY_PATTERNS`
            (office lock files, editors' and browsers' scratch files, Thumbs.db).
        skip_hidden: skip names starting with "." (in any folder).
        include_regex: a regular expression the path must match (searched); "" for none.
        exclude_regex: a regular expression of paths to skip (searched); "" for none.

    Raises:
        ValueError: a pattern or regular expression cannot be read (a sentence).
    """

    include: tuple[str, ...] | str = ()
    exclude: tuple[str, ...] | str = ()
    skip_temporary: bool = True
    skip_hidden: bool = True
    include_regex: str = ""
    exclude_regex: str = ""

    def __post_init__(self) -> None:
        for name in ("include", "exclude"):
            object.__setattr__(self, name, tuple(split_patterns(getattr(self, name))))
        try:
            compiled = (GlobSet(self.include_patterns), GlobSet(self.exclude_patterns))
        except GlobError as exc:
            raise ValueError(str(exc)) from exc
        for pattern in (self.include_regex, self.exclude_regex):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
        object.__setattr__(self, "_globs", compiled)

    @property
    def include_patterns(self) -> tuple[str, ...]:
        """The include globs, split."""
        return tuple(self.include)

    @property
    def exclude_patterns(self) -> tuple[str, ...]:
        """The exclude globs, split, with the temporary-file ones if they are skipped."""
        return tuple(self.exclude) + (TEMPORARY_PATTERNS if self.skip_temporary else ())

    @property
    def include_hidden(self) -> bool:
        """Whether names starting with "." are sent (folders of them are walked)."""
        return not self.skip_hidden

    def accepts(self, relpath: str) -> bool:
        """Whether a file at ``relpath`` (POSIX, relative to the root) should be sent."""
        include, exclude = getattr(self, "_globs")  # noqa: B009
        if self.skip_hidden and any(p.startswith(".") for p in relpath.split("/")):
            return False
        if include and not include.matches(relpath):
            return False
        if self.include_regex and not re.search(self.include_regex, relpath):
            return False
        if exclude.matches(relpath):
            return False
        return not (self.exclude_regex and re.search(self.exclude_regex, relpath))


@dataclass
class _Candidate:
    size: int
    mtime_ns: int
    since: float


class FolderWatcher:
    """Feed new and changed files under ``root`` to ``uploader`` once they are stable.

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
        polling: use the polling observer (network drives).
        rescan_seconds: how often to rescan the whole tree as a safety net.
        job: name used in events and logs.
    """

    def __init__(self, root: Path, uploader: Uploader, bus: EventBus, *,
                 upload_existing: bool = False, since: float | None = None,
                 file_filter: FileFilter | None = None,
                 stable_seconds: float = 3.0, polling: bool = False,
                 rescan_seconds: float = 60.0, job: str = "watch") -> None:
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
        self.job = job
        self._bus = bus
        self._lock = threading.Lock()
        self._candidates: dict[Path, _Candidate] = {}
        self._submitted: dict[Path, tuple[int, int]] = {}
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._error: BaseException | None = None

    @property
    def error(self) -> BaseException | None:
        """What stopped the watching thread while it ran, if anything did."""
        return self._error

    def _on_result(self, result: UploadResult) -> None:
        if result.outcome is UploadOutcome.FAILED:
            with self._lock:  # forget it, so the next change or rescan sends it again
                self._submitted.pop(result.path, None)

    def start(self) -> None:
        """Take stock of existing files and start watching."""
        self.uploader.add_result_listener(self._on_result)
        for path in self._scan():
            self._note(path, baseline=not self._send_at_start(path))
        observer: BaseObserver = PollingObserver(timeout=1.0) if self.polling else Observer()
        observer.schedule(_Handler(self), str(self.root), recursive=True)
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

    def _send_at_start(self, path: Path) -> bool:
        if self.upload_existing:
            return True
        if self.since is None:
            return False
        try:
            return path.stat().st_mtime >= self.since
        except OSError:
            return False

    # -- internals -----------------------------------------------------------

    def _scan(self) -> Iterator[Path]:
        for folder, dirs, files in os.walk(self.root):
            if not self.filter.include_hidden:
                dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                yield Path(folder, name)

    def _relpath(self, path: Path) -> str | None:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return None

    def _note(self, path: Path, baseline: bool = False) -> None:
        """Record that ``path`` may have changed (``baseline``: it is already "sent")."""
        relpath = self._relpath(path)
        if relpath is None or not self.filter.accepts(relpath):
            return
        try:
            st = path.stat()
        except OSError:
            return
        if not path.is_file():
            return
        with self._lock:
            if baseline:
                self._submitted[path] = (st.st_size, st.st_mtime_ns)
                return
            if self._submitted.get(path) == (st.st_size, st.st_mtime_ns):
                return
            known = self._candidates.get(path)
            if known is None or (known.size, known.mtime_ns) != (st.st_size, st.st_mtime_ns):
                # A file untouched for longer than the window counts from its mtime,
                # so files that are already complete go out without waiting.
                age = time.time() - st.st_mtime_ns / 1e9
                since = time.monotonic() - age if age >= 0 else time.monotonic()
                if known is not None:
                    since = time.monotonic()
                self._candidates[path] = _Candidate(st.st_size, st.st_mtime_ns, since)
        self._wake.set()

    def _run(self) -> None:
        try:
            self._watch()
        except Exception as exc:
            self._error = exc
            job_died(log, self._bus, self.job, "watching stopped", exc)

    def _watch(self) -> None:
        next_rescan = time.monotonic() + self.rescan_seconds
        while not self._stopping.is_set():
            self._wake.wait(min(0.25, self.stable_seconds / 4 or 0.25))
            self._wake.clear()
            if time.monotonic() >= next_rescan:
                for path in self._scan():
                    self._note(path)
                next_rescan = time.monotonic() + self.rescan_seconds
            self._submit_stable()

    def _submit_stable(self) -> None:
        now = time.monotonic()
        with self._lock:
            items = list(self._candidates.items())
        for path, cand in items:
            try:
                st = path.stat()
            except OSError:
                with self._lock:
                    self._candidates.pop(path, None)
                continue
            if (st.st_size, st.st_mtime_ns) != (cand.size, cand.mtime_ns):
                with self._lock:
                    self._candidates[path] = _Candidate(st.st_size, st.st_mtime_ns, now)
                continue
            if now - cand.since < self.stable_seconds:
                continue
            if not _readable(path):
                continue  # still locked by the instrument (Windows); try again later
            with self._lock:
                self._candidates.pop(path, None)
                self._submitted[path] = (st.st_size, st.st_mtime_ns)
            self.uploader.submit(self.root, path)


def _readable(path: Path) -> bool:
    try:
        with path.open("rb"):
            return True
    except OSError:
        return False


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: FolderWatcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            if event.event_type in ("created", "moved"):
                folder = Path(os.fsdecode(getattr(event, "dest_path", "") or event.src_path))
                for sub, _dirs, files in os.walk(folder):
                    for name in files:
                        self._watcher._note(Path(sub, name))
            return
        if event.event_type in ("created", "modified", "closed"):
            self._watcher._note(Path(os.fsdecode(event.src_path)))
        elif event.event_type == "moved":
            self._watcher._note(Path(os.fsdecode(event.dest_path)))
