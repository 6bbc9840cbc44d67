"""Information sent with each file, and download filters: the rules the forms and CLI share.

Qt-free. The bounds and the engine-side sentences live in
:mod:`openmsi_gui.engine.metadata`; this module turns them into the forms'
sentences, builds the engine's :class:`~openmsi_gui.engine.metadata.FolderMetadata`
from a :class:`~openmsi_gui.app.settings.WatchedFolder`, previews the fields of
an example path, and words the download filter's count.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from openmsi_gui.app.settings import Destination, WatchedFolder
from openmsi_gui.app.text import files, problem_of, sentence
from openmsi_gui.engine.metadata import (
    SAMPLE_FIELD,
    Fields,
    FolderMetadata,
    MetadataError,
    check_fields,
    compile_path_regex,
    fields_from_path,
    value_problem,
)

SAMPLE_MENU_TEXT = "Set current sample…"
NO_SAMPLE = "none"


class DownloadRegexError(ValueError):
    """A download filter that is not a regular expression (one sentence)."""


def compile_download_regex(text: str) -> re.Pattern[str] | None:
    """The download filter of ``text`` (None for "": every file).

    Matched from the start of a file's relative path (with "/"), as
    OpenMSIStream's ``--download_regex`` is.

    Raises:
        DownloadRegexError: it is not a regular expression.
    """
    if not text:
        return None
    try:
        return re.compile(text)
    except re.error as exc:
        raise DownloadRegexError(f"the download filter is not a regular expression "
                                 f"({exc.msg}): fix it") from exc


def download_regex_problem(text: str) -> str | None:
    """Why ``text`` cannot be a destination's "Only files matching" field, or None."""
    return problem_of(compile_download_regex, text, DownloadRegexError)


def filtered_text(count: int) -> str:
    """``"12 files skipped by the filter"``."""
    return f"{files(count)} skipped by the filter"


def fields_problem(fields: Mapping[str, str]) -> str | None:
    """Why a folder's fixed fields cannot be sent, or None."""
    return problem_of(check_fields, fields, MetadataError)


def fields_from_rows(rows: list[tuple[str, str]]) -> tuple[Fields, str | None]:
    """The fields of the form's table (empty rows skipped), and a sentence if one is wrong.

    A value without a name, or a name given twice, is a problem; the fields
    returned keep the first of each name.
    """
    fields: Fields = {}
    problem: str | None = None
    for key, value in rows:
        if not key and not value:
            continue
        if not key:
            problem = problem or f"The value '{value[:20]}' has no field name: name it."
            continue
        if key in fields:
            problem = problem or f"The field '{key}' is given twice: remove one."
            continue
        fields[key] = value
    return fields, problem


def path_regex_problem(text: str) -> str | None:
    """Why ``text`` cannot be a folder's "Fields from the path" pattern, or None."""
    return problem_of(compile_path_regex, text, MetadataError)


def sample_problem(sample: str) -> str | None:
    """Why ``sample`` cannot be the current sample, or None."""
    problem = value_problem("the sample", sample)
    return None if problem is None else sentence(problem.replace("the value of 'the sample'",
                                                                 "the sample"))


def metadata_problems(folder: WatchedFolder) -> list[str]:
    """Everything wrong with ``folder``'s information fields, one sentence each."""
    problems = [fields_problem(folder.metadata), path_regex_problem(folder.metadata_from_path),
                sample_problem(folder.current_sample)]
    if SAMPLE_FIELD in folder.metadata and (folder.current_sample or folder.require_sample):
        problems.append(f"The fixed field '{SAMPLE_FIELD}' is replaced by the current sample: "
                        "rename it.")
    return [p for p in problems if p is not None]


def folder_metadata(folder: WatchedFolder) -> FolderMetadata | None:
    """The engine's source of ``folder``'s fields (None when it sends none).

    Raises:
        MetadataError: a field or the path pattern cannot be used
            (:func:`metadata_problems` says which).
    """
    metadata = FolderMetadata(check_fields(folder.metadata),
                              compile_path_regex(folder.metadata_from_path),
                              folder.current_sample, folder.require_sample)
    return metadata if metadata.sends_anything else None


def preview(fixed: Mapping[str, str], path_regex: str, example: str,
            sample: str = "") -> str:
    """What a file at ``example`` would carry, as the form's preview line.

    Returns:
        ``"sample = S001, instrument = SEM-2"``, or a sentence saying what is
        wrong or that nothing matched.
    """
    try:
        pattern = compile_path_regex(path_regex)
    except MetadataError as exc:
        return sentence(str(exc))
    found = fields_from_path(pattern, example) if example else {}
    fields = {**fixed, **found}
    if sample:
        fields[SAMPLE_FIELD] = sample
    if pattern is not None and example and not found:
        return f"The pattern finds nothing in {example}."
    if not fields:
        return "No information is sent with the files."
    return ", ".join(f"{key} = {value}" for key, value in fields.items())


def sample_menu_text(folder: WatchedFolder, name: str) -> str:
    """The tray item of ``folder`` (shown as ``name``).

    ``Set current sample for Outbox (now S001)…``: the sample is seen without a click.
    """
    return f"Set current sample for {name} (now {folder.current_sample or NO_SAMPLE})…"


def wants_sample_item(folder: WatchedFolder) -> bool:
    """Whether the tray offers to set ``folder``'s current sample."""
    return bool(folder.metadata or folder.metadata_from_path or folder.require_sample
                or folder.current_sample)


def destination_wanted(dest: Destination) -> re.Pattern[str] | None:
    """The engine's download filter of ``dest`` (None: every file).

    Raises:
        DownloadRegexError: see :func:`compile_download_regex`.
    """
    return compile_download_regex(dest.download_regex)
