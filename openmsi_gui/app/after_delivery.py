"""A watched folder's after-delivery setting, without Qt: checks, the policy, preview text.

The engine does the work (:mod:`openmsi_gui.engine.after_delivery` and
:mod:`openmsi_gui.engine.after_delivery_actions`); this module holds the rules
shared by ``openmsi watch --after-delivery`` and the folder form: what makes a
setting usable, the policy it gives, and how a preview reads.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from openmsi_gui.app.folders import same_or_inside
from openmsi_gui.app.formatting import count_text, format_bytes
from openmsi_gui.app.settings import WatchedFolder
from openmsi_gui.engine.after_delivery import AfterAction, AfterDeliveryPolicy, Preview, preview
from openmsi_gui.engine.durations import DurationError, duration_words, parse_duration
from openmsi_gui.engine.registry import Registry

ACTION_LABELS = {
    AfterAction.KEEP: "Keep",
    AfterAction.MOVE: "Move to archive folder",
    AfterAction.DELETE: "Delete",
}


def policy_problem(action: AfterAction, archive: str, folder: str,
                   expected: Sequence[str]) -> str | None:
    """Why this after-delivery setting cannot be used, as one sentence; None if it can."""
    if action is AfterAction.KEEP:
        return None
    verb = "moved" if action is AfterAction.MOVE else "deleted"
    if not [name for name in expected if name.strip()]:
        return (f"Name the destinations that must confirm a file before it is {verb} "
                "(expected destinations).")
    if action is AfterAction.MOVE:
        if not archive.strip():
            return "Choose the archive folder files are moved to."
        if not os.path.isabs(archive):
            return f"Use a full path for the archive folder, not {archive!r}."
        if folder and same_or_inside(archive, folder):
            return ("Choose an archive folder outside the watched folder (files moved into it "
                    "would be sent again).")
    return None


def folder_problems(folder: WatchedFolder) -> list[str]:
    """What is wrong with ``folder``'s after-delivery setting (for the form's checks)."""
    problem = policy_problem(folder.after_delivery, folder.archive_folder, folder.path,
                             folder.expected_destinations)
    return [problem] if problem is not None else []


def min_age_of(text: str) -> float:
    """A minimum age typed in the form: empty for none, else ``90s``, ``20m``, ``1h``, ``7d``.

    Raises:
        DurationError: not such a duration; the message says how to write one.
    """
    if not text.strip() or text.strip() in ("0", "none"):
        return 0.0
    return parse_duration(text)


def min_age_problem(text: str) -> str | None:
    """Why a typed minimum age cannot be read, or None."""
    try:
        min_age_of(text)
    except DurationError as exc:
        return f"Minimum age: {exc}."
    return None


def preview_folder(registry: Registry, folder: WatchedFolder) -> Preview:
    """What ``folder``'s setting would move or delete now (blocking: stats every file)."""
    policy = folder_policy(folder)
    if policy is None:
        return Preview(AfterAction.KEEP, ())
    root = Path(os.path.realpath(folder.path))
    return preview(registry, folder.topic, root, policy)


def folder_policy(folder: WatchedFolder) -> AfterDeliveryPolicy | None:
    """The policy of ``folder``'s settings (None when it keeps its files or cannot act)."""
    expected = tuple(dict.fromkeys(n.strip() for n in folder.expected_destinations
                                   if n.strip()))
    if policy_problem(folder.after_delivery, folder.archive_folder, folder.path, expected):
        return None
    if folder.after_delivery is AfterAction.KEEP:
        return None
    archive = Path(folder.archive_folder) if folder.after_delivery is AfterAction.MOVE else None
    return AfterDeliveryPolicy(folder.after_delivery, archive, folder.min_age, expected)


def describe_policy(policy: AfterDeliveryPolicy) -> str:
    """The policy in words: "Files confirmed by archive are deleted once 7 days old"."""
    who = " and ".join(policy.expected)
    if policy.action is AfterAction.KEEP or not policy.acts:
        return "Files stay in the folder after delivery."
    where = (f"moved to {policy.archive}" if policy.action is AfterAction.MOVE
             else "deleted")
    when = f" once {duration_words(policy.min_age)} old" if policy.min_age else ""
    return f"Files confirmed by {who} are {where}{when}."


def preview_summary(preview: Preview) -> str:
    """One sentence: how many files would go, the space freed, and what stays and why."""
    if preview.action is AfterAction.KEEP:
        return "Files are kept after delivery: nothing would be moved or deleted."
    verb = "moved" if preview.action is AfterAction.MOVE else "deleted"
    if preview.items:
        text = (f"{count_text(len(preview.items), 'file')} would be {verb} now, freeing "
                f"{format_bytes(preview.freed)} in the watched folder.")
    else:
        text = f"No file would be {verb} now."
    if preview.changed:
        text += (f" {count_text(len(preview.changed), 'file')} changed since "
                 f"{'it was' if len(preview.changed) == 1 else 'they were'} sent: "
                 "never touched, sent again.")
    return text


def preview_rows(preview: Preview) -> list[tuple[str, str, str]]:
    """(path, size, where to) for each file a preview lists."""
    return [(item.relpath, format_bytes(item.size), item.target or "deleted")
            for item in preview.items]
