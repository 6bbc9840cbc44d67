"""Watched folders without Qt: what makes a folder usable and an edit savable.

Whether a folder exists is asked of the file system by :func:`folder_problem`,
which can hang for tens of seconds on an unreachable network share; the views
call it off the GUI thread and pass what it found to :func:`validate_folder`
(see :data:`FolderCheck`). Everything else here judges text alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import PurePath

from openmsi_gui.app.bandwidth import limit_problem
from openmsi_gui.app.file_information import metadata_problems
from openmsi_gui.app.settings import Settings, WatchedFolder
from openmsi_gui.app.text import sentence
from openmsi_gui.app.validation import topic_errors
from openmsi_gui.engine import wire
from openmsi_gui.engine.file_filter import FileFilter
from openmsi_gui.engine.globs import glob_problem, looks_like_regex

CHUNK_SIZES = tuple(1 << n for n in range(16, 25))
"""Chunk sizes offered in the form: powers of two from 64 KiB to 16 MiB."""

MAX_STABLE_SECONDS = 3600.0

FolderCheck = Callable[[str], str | None]
"""Why a path is not a usable folder, or None (see :func:`folder_problem`)."""


def normalized(path: str) -> PurePath:
    """``path`` made absolute and case-folded where the file system ignores case (no I/O)."""
    return PurePath(os.path.normcase(os.path.abspath(path)))


def same_or_inside(a: str, b: str) -> bool:
    """Whether folder ``a`` is ``b`` or inside it, or ``b`` inside ``a`` (paths only, no I/O)."""
    if not a or not b:
        return False
    pa, pb = normalized(a), normalized(b)
    return pa == pb or pa in pb.parents or pb in pa.parents


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot name a folder, judged by its text alone (no I/O), or None."""
    if not path.strip():
        return "Choose a folder."
    if not os.path.isabs(path):
        return f"Use a full path for the folder, not {path!r}."
    return None


def folder_problem(path: str) -> str | None:
    """Why ``path`` is not a usable folder, or None.

    Blocking: it asks the file system, which can take tens of seconds on an
    unreachable network share. The views call it off the GUI thread.
    """
    if (problem := path_problem(path)) is not None:
        return problem
    if not os.path.exists(path):
        return f"The folder {path} does not exist."
    if not os.path.isdir(path):
        return f"{path} is a file, not a folder."
    return None


def folder_problems(paths: list[str]) -> dict[str, str | None]:
    """:func:`folder_problem` of each path, by its normalized form (blocking)."""
    return {os.path.normpath(path): folder_problem(path) for path in paths}


def profile_problem(profile_id: str, settings: Settings) -> str | None:
    """Why ``profile_id`` cannot be used, or None."""
    if not settings.profiles:
        return "Add a broker first (Brokers tab)."
    if settings.profile(profile_id) is None:
        return "Choose a broker."
    return None


def regex_problem(pattern: str, what: str) -> str | None:
    """Why ``pattern`` is not a valid regular expression, or None."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"The {what} regular expression is not valid: {exc}."
    return None


def patterns_problem(patterns: list[str], what: str) -> str | None:
    """Why one of the glob ``patterns`` cannot be used (``what``: include/exclude), or None."""
    for pattern in patterns:
        if (problem := glob_problem(pattern)) is not None:
            return f"{what.capitalize()}: {problem[0].lower()}{problem[1:]}"
    return None


def filter_problems(folder: WatchedFolder) -> dict[str, str | None]:
    """What is wrong with each of ``folder``'s filter fields, by field name (None: fine)."""
    return {
        "include_globs": patterns_problem(folder.include_globs, "send only"),
        "exclude_globs": patterns_problem(folder.exclude_globs, "skip"),
        "include_regex": regex_problem(folder.include_regex, "include"),
        "exclude_regex": regex_problem(folder.exclude_regex, "exclude"),
    }


def regex_hints(folder: WatchedFolder) -> dict[str, str | None]:
    """A hint for each glob field holding what looks like a regular expression (None: none).

    Only a hint, as the command line's warning: a glob may contain these characters.
    """
    hints: dict[str, str | None] = {}
    for name, what in (("include_globs", "Send only"), ("exclude_globs", "Skip")):
        regex = next((p for p in getattr(folder, name) if looks_like_regex(p)), None)
        hints[name] = None if regex is None else (
            f"{what}: '{regex}' looks like a regular expression, but this field takes patterns "
            "such as *.bak; put a regular expression under Advanced.")
    return hints


def advanced_in_use(folder: WatchedFolder) -> bool:
    """Whether ``folder`` has a setting of the form's Advanced section that is not the default."""
    return bool(folder.include_regex or folder.exclude_regex or folder.polling
                or folder.chunk_size != wire.DEFAULT_CHUNK_SIZE)


def file_filter(folder: WatchedFolder) -> FileFilter:
    """The engine's filter for ``folder``.

    Raises:
        ValueError: a pattern cannot be read (:func:`filter_problems` says which).
    """
    return FileFilter(include=tuple(folder.include_globs), exclude=tuple(folder.exclude_globs),
                      skip_temporary=folder.skip_temporary, skip_hidden=folder.skip_hidden,
                      include_regex=folder.include_regex, exclude_regex=folder.exclude_regex)


def validate_folder(folder: WatchedFolder, settings: Settings,
                    folder_check: FolderCheck = folder_problem) -> list[str]:
    """Everything wrong with ``folder`` as one sentence each (empty if it can be saved).

    Args:
        folder: the folder as edited.
        settings: the saved settings (``folder`` itself may or may not be in them).
        folder_check: what is wrong with the path; the default asks the file system
            (blocking), the views pass what their background check found.
    """
    errors: list[str] = []
    if (problem := folder_check(folder.path)) is not None:
        errors.append(problem)
    if (problem := profile_problem(folder.profile_id, settings)) is not None:
        errors.append(problem)
    errors += topic_errors(folder.topic)
    errors += [p for p in filter_problems(folder).values() if p is not None]
    try:
        wire.check_chunk_size(folder.chunk_size)
    except ValueError as exc:
        errors.append(sentence(f"The {exc}"))
    if (problem := limit_problem(folder.bwlimit)) is not None:
        errors.append(sentence(problem))
    if not 0 <= folder.stable_seconds <= MAX_STABLE_SECONDS:
        errors.append(f"The stable time must be between 0 and {MAX_STABLE_SECONDS:g} seconds.")
    errors += metadata_problems(folder)
    if folder.path and folder.topic:
        errors += _overlaps(folder, settings)
    return errors


def _overlaps(folder: WatchedFolder, settings: Settings) -> list[str]:
    """Folders that would send the same files twice, or download into themselves."""
    errors: list[str] = []
    for other in settings.folders:
        if (other.id != folder.id and other.topic == folder.topic
                and other.profile_id == folder.profile_id
                and normalized(other.path) == normalized(folder.path)):
            errors.append(f"{other.path} is already sent to {folder.topic}.")
    for dest in settings.destinations:
        if (dest.kind == "folder" and dest.topic == folder.topic
                and dest.profile_id == folder.profile_id
                and same_or_inside(folder.path, dest.path)):
            errors.append(f"Files downloaded from {folder.topic} into {dest.path} would be "
                          "sent again: watch a folder outside it, or use another topic.")
    return errors
