"""After delivery: move or delete confirmed files, each one re-checked against the disk first.

The :class:`AfterDeliveryExecutor` takes :func:`~.after_delivery.plan`'s
candidates one by one and, just before acting, checks that:

* the path is still a regular file under the watched folder (not a link, no
  linked folder on the way);
* its size and mtime are still those sent, and its SHA-512, read again now,
  is still the one sent and confirmed (a file that changed is never touched:
  it is handed back to be sent again);
* every expected destination's latest verified word on it is still "stored";
* (move) the archive has no file of that name: nothing is ever overwritten.

Each move or delete is recorded in the registry (the history) and logged.
Folders left empty are removed only
if they were created after the watch began. The :class:`AfterDeliveryRunner`
runs it on a thread of the watch job, every minute and soon after a delivery.
"""

from __future__ import annotations

import enum
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from openmsi_gui.engine import after_delivery as ad
from openmsi_gui.engine.after_delivery_files import (
    ArchiveTaken,
    copy_verified,
    fsync_dir,
    place,
)
from openmsi_gui.engine.file_hash import sha512_of
from openmsi_gui.engine.os_errors import os_error_text
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 60.0
SOON_SECONDS = 2.0  # after a delivery arrives, so that a burst of receipts is one pass
PLAN_BATCH = 10_000  # candidates planned at once
RETRY_SECONDS = 600.0  # a file left in place (refused, archive name taken) is tried again after


class Outcome(enum.Enum):
    """What became of one candidate."""

    MOVED = "moved"
    DELETED = "deleted"
    GONE = "gone"  # not there any more: recorded, nothing done
    CHANGED = "changed"  # differs from what was sent: never touched, sent again
    NOT_CONFIRMED = "not confirmed"  # a destination's latest word is no longer "stored"
    TAKEN = "archive taken"  # the archive has that name already: left in place
    REFUSED = "refused"  # not a regular file under the folder, or an error: left in place


_RECORDED = frozenset({Outcome.MOVED, Outcome.DELETED, Outcome.GONE})  # not planned again


@dataclass(frozen=True, slots=True)
class ActionResult:
    """One candidate's outcome."""

    relpath: str
    outcome: Outcome
    detail: str = ""
    target: str = ""


ChangedHandler = Callable[[str, bool], None]
"""Called with a changed file's relative path and whether it must be sent again explicitly:
its size and mtime are those sent but its content differs, or its content is the same
under another mtime (either way the registry would call it "already sent"). Otherwise
the watcher sends it once it is stable."""

GoneHandler = Callable[[str], None]
"""Called with the relative path of a file moved or deleted (the watcher forgets it)."""


def _ignore_changed(_relpath: str, _explicitly: bool) -> None:
    return None


def _ignore_gone(_relpath: str) -> None:
    return None


class AfterDeliveryExecutor:
    """Acts on the candidates of one watched folder (call from one thread at a time).

    Args:
        registry: the uploads and deliveries.
        topic: the data topic.
        root: the watched folder (its real path, as the uploads record it).
        policy: what to do and when.
        watch_began: when the watch began (epoch seconds), for the empty-folder rule.
        folders_at_start: the folders that existed when this watch started (where the
            file system keeps no creation time, a folder outside this set counts as
            created after the watch began; None: none is removed there).
        on_changed: hears about files that changed (to send them again).
        on_gone: hears about files moved or deleted (to forget them).
        job: name used in logs.
    """

    def __init__(self, registry: Registry, topic: str, root: Path, policy: ad.AfterDeliveryPolicy,
                 *, watch_began: float, folders_at_start: Collection[str] | None = None,
                 on_changed: ChangedHandler = _ignore_changed,
                 on_gone: GoneHandler = _ignore_gone, job: str = "watch") -> None:
        self.registry = registry
        self.topic = topic
        self.root = Path(os.path.realpath(root))
        self.policy = policy
        self._archive = (Path(os.path.realpath(policy.archive))
                         if policy.archive is not None else None)
        if self._archive is not None and (self._archive == self.root
                                          or self.root in self._archive.parents):
            raise ValueError("the archive folder must be outside the watched folder")
        self._watch_began = watch_began
        self._folders_at_start = (None if folders_at_start is None
                                  else {os.path.normpath(f) for f in folders_at_start})
        self._on_changed = on_changed
        self._on_gone = on_gone
        self._job = job
        self._warned: set[tuple[str, Outcome]] = set()
        self._later: dict[int, float] = {}  # upload id -> when to try it again (monotonic)

    def run_once(self, now: float | None = None,
                 stopping: threading.Event | None = None) -> list[ActionResult]:
        """Plan and act on every candidate now (until ``stopping`` is set); the outcome of each."""
        if not self.policy.acts:
            return []
        results: list[ActionResult] = []
        while True:  # in batches of PLAN_BATCH, as long as each batch gets something done
            batch = ad.plan(self.registry, self.topic, self.root, self.policy, now,
                            limit=PLAN_BATCH)
            acted = False
            for candidate in batch:
                if stopping is not None and stopping.is_set():
                    return results
                if self._later.get(candidate.upload_id, 0.0) > time.monotonic():
                    continue  # left in place a moment ago
                result = self.act(candidate)
                results.append(result)
                self._report(result)
                acted = acted or result.outcome in _RECORDED
            if len(batch) < PLAN_BATCH or not acted:
                return results

    def act(self, candidate: ad.Candidate) -> ActionResult:
        """Re-check one candidate against the disk and the deliveries; move or delete it."""
        try:
            path = candidate.path(self.root)
            target = (candidate.path(self._archive)
                      if self.policy.action is ad.AfterAction.MOVE and self._archive else None)
        except ValueError as exc:
            return ActionResult(candidate.relpath, Outcome.REFUSED, str(exc))
        try:
            result = self._act(candidate, path, target)
        except ArchiveTaken:
            result = ActionResult(candidate.relpath, Outcome.TAKEN, "", str(target))
        except OSError as exc:
            result = ActionResult(candidate.relpath, Outcome.REFUSED, os_error_text(exc))
        if result.outcome in (Outcome.REFUSED, Outcome.TAKEN):
            # Not every minute: each try reads the file again (it may be large).
            self._later[candidate.upload_id] = time.monotonic() + RETRY_SECONDS
        return result

    def _act(self, candidate: ad.Candidate, path: Path, target: Path | None) -> ActionResult:
        relpath = candidate.relpath
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            ad.record(self.registry, candidate, ad.Done.GONE)
            return ActionResult(relpath, Outcome.GONE)
        if (refused := self._refusal(st, path, target)) is not None:
            return ActionResult(relpath, Outcome.REFUSED, refused)
        sent = (candidate.size, candidate.mtime_ns)
        if (st.st_size, st.st_mtime_ns) != sent:  # only touched, or another content?
            same = st.st_size == candidate.size and sha512_of(path) == candidate.file_hash
            return self._changed(relpath, explicitly=same)
        if target is not None and os.path.lexists(target):
            raise ArchiveTaken(str(target))
        if sha512_of(path) != candidate.file_hash:
            return self._changed(relpath, explicitly=True)
        if not ad.still_confirmed(self.registry, self.topic, candidate, self.policy.expected):
            return ActionResult(relpath, Outcome.NOT_CONFIRMED)
        if target is None:
            if not self._unchanged(path, sent):
                return self._changed(relpath, explicitly=False)
            os.unlink(path)
            fsync_dir(path.parent)
            done, outcome = ad.Done.DELETED, Outcome.DELETED
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not self._move(path, target, candidate, sent):
                return self._changed(relpath, explicitly=False)
            done, outcome = ad.Done.MOVED, Outcome.MOVED
        ad.record(self.registry, candidate, done, str(target or ""))
        self._on_gone(relpath)
        self._remove_empty_folders(path.parent)
        return ActionResult(relpath, outcome, "", str(target or ""))

    def _refusal(self, st: os.stat_result, path: Path, target: Path | None) -> str | None:
        """Why ``path`` is left in place before it is even read, or None."""
        if not stat.S_ISREG(st.st_mode) or os.path.realpath(path) != str(path):
            return "not a regular file in the folder"
        if not os.access(path.parent, os.W_OK | os.X_OK):
            return "its folder is read-only here: allow this account to remove files there"
        if target is not None and (self._archive is None or not self._archive.is_dir()):
            # A disk unplugged: its mount point is never filled instead.
            return f"the archive folder {self._archive} is missing; files stay until it is back"
        return None

    def _move(self, path: Path, target: Path, candidate: ad.Candidate,
              sent: tuple[int, int]) -> bool:
        """Move ``path`` to ``target``; False (nothing moved) if it changed meanwhile."""
        if not self._unchanged(path, sent):
            return False
        try:
            place(path, target)
        except ArchiveTaken:
            raise
        except OSError as exc:
            if exc.errno != 18:  # EXDEV: another volume
                raise
            copy_verified(path, target, candidate.file_hash)
            if not self._unchanged(path, sent):
                os.unlink(target)  # ours, made a moment ago; the original stays
                return False
            os.unlink(path)
        fsync_dir(target.parent)
        fsync_dir(path.parent)
        return True

    @staticmethod
    def _unchanged(path: Path, sent: tuple[int, int]) -> bool:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        return (st.st_size, st.st_mtime_ns) == sent

    def _changed(self, relpath: str, explicitly: bool) -> ActionResult:
        self._on_changed(relpath, explicitly)
        return ActionResult(relpath, Outcome.CHANGED,
                            "changed since it was sent: left in place and sent again")

    # -- empty folders ---------------------------------------------------------

    def _remove_empty_folders(self, folder: Path) -> None:
        """Remove ``folder`` and its parents below the root while empty and made after the start."""
        while folder != self.root and self.root in folder.parents:
            if not self._created_after_start(folder):
                return
            try:
                os.rmdir(folder)  # refuses a folder that is not empty
            except OSError:
                return
            log.info("%s: removed the empty folder %s", self._job, escaped(str(folder)))
            folder = folder.parent

    def _created_after_start(self, folder: Path) -> bool:
        try:
            st = os.stat(folder)
        except OSError:
            return False
        birth = getattr(st, "st_birthtime", None)
        if birth is None and os.name == "nt":
            birth = st.st_ctime  # creation time on Windows
        if birth is not None and birth > 0:
            return float(birth) > self._watch_began
        if self._folders_at_start is None:
            return False
        return os.path.normpath(str(folder)) not in self._folders_at_start

    # -- reports -----------------------------------------------------------------

    def _report(self, result: ActionResult) -> None:
        shown = escaped(result.relpath)
        if result.outcome is Outcome.MOVED:
            log.info("%s: %s moved to %s after delivery", self._job, shown,
                     escaped(result.target))
        elif result.outcome is Outcome.DELETED:
            log.info("%s: %s deleted after delivery", self._job, shown)
        elif result.outcome in (Outcome.TAKEN, Outcome.REFUSED, Outcome.CHANGED):
            key = (result.relpath, result.outcome)
            if key in self._warned:
                return
            self._warned.add(key)
            if result.outcome is Outcome.TAKEN:
                log.warning("%s: %s stays: the archive already has %s", self._job, shown,
                            escaped(result.target))
            elif result.outcome is Outcome.CHANGED:
                log.warning("%s: %s %s", self._job, shown, result.detail)
            else:
                log.warning("%s: %s stays: %s", self._job, shown, result.detail)


class AfterDeliveryRunner:
    """Runs an executor on a thread of its own: every ``interval`` and soon after :meth:`wake`.

    An unexpected error is logged and the next pass tries again; it never stops the job.
    """

    def __init__(self, executor: AfterDeliveryExecutor, interval: float | None = None,
                 soon: float | None = None, job: str = "watch") -> None:
        self.executor = executor
        self.interval = INTERVAL_SECONDS if interval is None else interval
        self.soon = SOON_SECONDS if soon is None else soon
        self.passes = 0
        self._job = job
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (its first pass runs at once)."""
        self._thread = threading.Thread(target=self._run, name=f"{self._job}-after-delivery",
                                        daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Run a pass soon (a delivery arrived)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the file at hand."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.executor.run_once(stopping=self._stopping)
            except Exception:
                log.exception("%s: after-delivery pass failed; trying again later", self._job)
            self.passes += 1
            if self._wake.wait(self.interval) and not self._stopping.is_set():
                self._stopping.wait(self.soon)  # let a burst of receipts come in first
            self._wake.clear()
