"""After delivery: which sent files may leave the watched folder, by the registry alone.

A watched folder may keep its files (the default), move them to an archive
folder (same relative path) or delete them once *every* expected destination
confirmed them. This module is the policy and the planner: it lists the
candidates from the registry's own records (the uploads sent from this folder
and the deliveries recorded from verified receipts), so it works the same after
a restart. It never touches a file: :mod:`.after_delivery_actions` re-checks
each candidate against the disk just before acting.

A candidate is the *latest* generation sent of a path (a newer one still on its
way or failed means the file changed), sent completely, not acted on yet, with
a STORED delivery of exactly that SHA-512 and size from each expected
destination, and old enough (``min_age``, counted from the later of its mtime
and the end of its sending).
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from openmsi_gui.engine.registry import Registry


class AfterAction(enum.StrEnum):
    """What happens to a file once every expected destination confirmed it."""

    KEEP = "keep"
    MOVE = "move"
    DELETE = "delete"


class Done(enum.StrEnum):
    """What was done with an upload's file (the registry's ``after_delivery`` column)."""

    MOVED = "moved"
    DELETED = "deleted"
    GONE = "gone"  # not there any more when its turn came (removed by someone else)


@dataclass(frozen=True, slots=True)
class AfterDeliveryPolicy:
    """A watched folder's after-delivery setting.

    Attributes:
        action: keep, move or delete.
        archive: the archive folder (MOVE only).
        min_age: seconds a file stays at least (0: none).
        expected: the destinations that must all have confirmed a file. Without
            any, nothing is ever moved or deleted.
    """

    action: AfterAction = AfterAction.KEEP
    archive: Path | None = None
    min_age: float = 0.0
    expected: tuple[str, ...] = ()

    @property
    def acts(self) -> bool:
        """Whether this policy ever moves or deletes anything."""
        if self.action is AfterAction.KEEP or not self.expected:
            return False
        return self.action is AfterAction.DELETE or self.archive is not None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A sent file every expected destination confirmed: what was sent, by the registry.

    Attributes:
        upload_id: its row in the uploads table.
        relpath: its path relative to the watched folder ("/"-separated).
        size: the size sent.
        mtime_ns: the mtime sent.
        file_hash: the SHA-512 sent (and confirmed).
        sent_at: when its last chunk was acknowledged (epoch seconds).
    """

    upload_id: int
    relpath: str
    size: int
    mtime_ns: int
    file_hash: bytes
    sent_at: float

    def age(self, now: float) -> float:
        """Seconds since it was last modified or sent, whichever is later."""
        return now - max(self.mtime_ns / 1e9, self.sent_at)

    def path(self, root: Path) -> Path:
        """Where it is under ``root``.

        Raises:
            ValueError: the recorded path would leave ``root`` (never written so).
        """
        parts = self.relpath.split("/")
        if not self.relpath or any(p in ("", ".", "..") for p in parts) or os.path.isabs(
                self.relpath):
            raise ValueError(f"not a relative path: {self.relpath!r}")
        return root.joinpath(*parts)


def plan(registry: Registry, topic: str, root: Path, policy: AfterDeliveryPolicy,
         now: float | None = None, limit: int = 10_000) -> list[Candidate]:
    """The files of ``root`` sent to ``topic`` that ``policy`` would move or delete now.

    Reads the registry only; the disk is :mod:`.after_delivery_actions`'s business.
    """
    if not policy.acts:
        return []
    now = time.time() if now is None else now
    expected = sorted(set(policy.expected))
    marks = ",".join("?" * len(expected))
    rows = registry.database.read(lambda cur: cur.execute(
        "SELECT u.id, u.relpath, u.size, u.mtime_ns, u.file_hash, COALESCE(u.completed, 0) "
        "FROM uploads u WHERE u.topic=? AND u.root=? AND u.status='done' "
        "AND u.after_delivery='' "
        "AND u.id=(SELECT MAX(v.id) FROM uploads v WHERE v.topic=u.topic AND v.root=u.root "
        "          AND v.relpath=u.relpath) "
        "AND (SELECT COUNT(DISTINCT d.destination) FROM deliveries d WHERE d.topic=u.topic "
        "     AND d.relpath=u.relpath AND d.file_hash=u.file_hash AND d.status='stored' "
        f"    AND d.size=u.size AND d.destination IN ({marks}))=? "
        "ORDER BY u.id LIMIT ?",
        (topic, str(root), *expected, len(expected), limit)).fetchall())
    found = [Candidate(r[0], r[1], r[2], r[3], bytes(r[4]), r[5]) for r in rows]
    return [c for c in found if c.age(now) >= policy.min_age]


def still_confirmed(registry: Registry, topic: str, candidate: Candidate,
                    expected: Sequence[str]) -> bool:
    """Whether every expected destination's latest word on ``candidate`` is still "stored"."""
    names = sorted(set(expected))
    if not names:
        return False
    marks = ",".join("?" * len(names))
    row = registry.database.read(lambda cur: cur.execute(
        "SELECT COUNT(DISTINCT destination) FROM deliveries WHERE topic=? AND relpath=? "
        f"AND file_hash=? AND status='stored' AND size=? AND destination IN ({marks})",
        (topic, candidate.relpath, candidate.file_hash, candidate.size, *names)).fetchone())
    return bool(row) and int(row[0]) == len(names)


def record(registry: Registry, candidate: Candidate, done: Done, moved_to: str = "") -> None:
    """Record what was done with ``candidate``'s file (in the history), durably."""
    registry.database.write(lambda cur: cur.execute(
        "UPDATE uploads SET after_delivery=?, after_delivery_at=?, after_delivery_to=? "
        "WHERE id=?", (done.value, time.time(), moved_to, candidate.upload_id)))
    registry.commit()


@dataclass(frozen=True, slots=True)
class PreviewItem:
    """One file a preview says would leave the watched folder."""

    relpath: str
    size: int
    target: str  # where it would go ("" when deleted)


@dataclass(frozen=True, slots=True)
class Preview:
    """What the after-delivery action would do now.

    Attributes:
        action: move or delete (KEEP previews nothing).
        items: the files it would move or delete.
        changed: files confirmed but changed on disk since they were sent (sent again,
            never touched).
        missing: files confirmed but no longer there.
    """

    action: AfterAction
    items: tuple[PreviewItem, ...]
    changed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def freed(self) -> int:
        """Bytes that would leave the watched folder."""
        return sum(item.size for item in self.items)


def preview(registry: Registry, topic: str, root: Path, policy: AfterDeliveryPolicy,
            now: float | None = None) -> Preview:
    """What :func:`plan` would act on, with each file's size and mtime checked on disk.

    Blocking (one ``stat`` per file); the SHA-512 is checked only when acting.
    """
    items: list[PreviewItem] = []
    changed: list[str] = []
    missing: list[str] = []
    for candidate in plan(registry, topic, root, policy, now):
        try:
            st = os.stat(candidate.path(root), follow_symlinks=False)
        except (OSError, ValueError):
            missing.append(candidate.relpath)
            continue
        if (st.st_size, st.st_mtime_ns) != (candidate.size, candidate.mtime_ns):
            changed.append(candidate.relpath)
            continue
        target = ""
        if policy.action is AfterAction.MOVE and policy.archive is not None:
            target = str(candidate.path(policy.archive))
        items.append(PreviewItem(candidate.relpath, candidate.size, target))
    return Preview(policy.action, tuple(items), tuple(changed), tuple(missing))
