"""A watched folder's filters in an OpenMSIStream config file, both ways and losslessly.

OpenMSIStream's ``DataFileUploadDirectory`` chooses files with one regular
expression, ``--upload_regex``, matched (``re.match``) against the path relative
to the folder; names starting with "." are never sent. The app keeps glob
patterns, two checkboxes and two optional regexes instead. A config file
exported for a folder has a ``[watch]`` section that holds both:

* the app's own fields (``include``, ``exclude``, ``skip_temporary``,
  ``skip_hidden``, ``include_regex``, ``exclude_regex``), read back unchanged;
* ``upload_regex``: one regex that accepts exactly the same files, to pass to
  ``DataFileUploadDirectory --upload_regex``.

A ``[watch]`` section with only ``upload_regex`` (written by hand for
OpenMSIStream) is kept as that regex: the folder then sends what
OpenMSIStream would (hidden names skipped, temporary files not).
``openmsi watch --config FILE`` uses the section when no filter flag is given.
"""

from __future__ import annotations

import configparser
import io
import re
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

from openmsi_gui.app import profiles
from openmsi_gui.app.folders import file_filter
from openmsi_gui.app.settings import BrokerProfile, WatchedFolder
from openmsi_gui.engine.file_filter import FileFilter
from openmsi_gui.engine.globs import (
    TEMPORARY_PATTERNS,
    join_patterns,
    patterns_regex,
    split_patterns,
)
from openmsi_gui.engine.kafka_config import FILTER_SECTION

SECTION = FILTER_SECTION
UPLOAD_REGEX = "upload_regex"
_FIELDS = ("include", "exclude", "skip_temporary", "skip_hidden", "include_regex",
           "exclude_regex")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
# Global inline flags must start a regex; inside a combined one they become scoped.
_GLOBAL_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")


class FilterIniError(ValueError):
    """A ``[watch]`` section that cannot be read; the message says what to fix."""


def _scoped(regex: str) -> str:
    """``regex`` as a group that can sit inside another one (leading flags scoped)."""
    found = _GLOBAL_FLAGS.match(regex)
    if found is None:
        return f"(?:{regex})"
    return f"(?{found.group(1)}:{regex[found.end():]})"


def upload_regex(file_filter: FileFilter) -> str:
    r"""One regex accepting (``re.match`` on the relative path) what ``file_filter`` does.

    The glob patterns and the hidden-name rule take ``/`` or ``\`` as the folder
    separator, since OpenMSIStream on Windows matches paths with backslashes;
    the regexes are kept as written (they were written for ``/``).
    """
    parts = ["^"]
    if file_filter.skip_hidden:
        parts.append(r"(?!(?:.*[/\\])?\.)")
    if file_filter.include_patterns:
        parts.append(rf"(?=(?:{patterns_regex(file_filter.include_patterns, True)})\Z)")
    if file_filter.include_regex:
        parts.append(rf"(?=.*?{_scoped(file_filter.include_regex)})")
    if file_filter.exclude_patterns:
        parts.append(rf"(?!(?:{patterns_regex(file_filter.exclude_patterns, True)})\Z)")
    if file_filter.exclude_regex:
        parts.append(rf"(?!.*?{_scoped(file_filter.exclude_regex)})")
    return "".join(parts)


def filter_section(folder: WatchedFolder, file_filter: FileFilter) -> dict[str, str]:
    """The ``[watch]`` section of ``folder`` (``file_filter`` is its engine filter)."""
    return {
        UPLOAD_REGEX: upload_regex(file_filter),
        "include": join_patterns(folder.include_globs),
        "exclude": join_patterns(folder.exclude_globs),
        "skip_temporary": str(folder.skip_temporary).lower(),
        "skip_hidden": str(folder.skip_hidden).lower(),
        "include_regex": folder.include_regex,
        "exclude_regex": folder.exclude_regex,
    }


def _flag(section: Mapping[str, str], key: str) -> bool:
    value = section[key].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise FilterIniError(f"[{SECTION}] {key} should be true or false, not {section[key]!r}")


def filter_fields(section: Mapping[str, str]) -> dict[str, Any]:
    """The :class:`WatchedFolder` filter fields a ``[watch]`` section describes.

    Raises:
        FilterIniError: a true/false value is neither.
    """
    if not any(key in section for key in _FIELDS):
        regex = section.get(UPLOAD_REGEX, "").strip()
        return {"include_globs": [], "exclude_globs": [], "skip_temporary": False,
                "skip_hidden": True, "include_regex": f"^{_scoped(regex)}" if regex else "",
                "exclude_regex": ""}
    defaults = WatchedFolder()
    return {
        "include_globs": split_patterns(section.get("include", "")),
        "exclude_globs": split_patterns(section.get("exclude", "")),
        "skip_temporary": (_flag(section, "skip_temporary") if "skip_temporary" in section
                           else defaults.skip_temporary),
        "skip_hidden": (_flag(section, "skip_hidden") if "skip_hidden" in section
                        else defaults.skip_hidden),
        "include_regex": section.get("include_regex", ""),
        "exclude_regex": section.get("exclude_regex", ""),
    }


def read_filter_section(path: Path) -> dict[str, str] | None:
    """The ``[watch]`` section of the config file ``path`` as written, or None (blocking).

    Read apart from the broker settings: no ``$ENV`` expansion and no inline
    comments, since patterns and regexes may hold ``$``, ``#`` and ``;``.

    Raises:
        FilterIniError: the file cannot be read.
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, configparser.Error, UnicodeDecodeError) as exc:
        raise FilterIniError(f"cannot read {path}: {exc}") from exc
    return dict(parser[SECTION]) if parser.has_section(SECTION) else None


def export_folder_ini(folder: WatchedFolder, profile: BrokerProfile,
                      file_filter: FileFilter) -> str:
    """An OpenMSIStream config for ``folder``: its broker profile, plus its ``[watch]`` filters."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser[SECTION] = filter_section(folder, file_filter)
    out = io.StringIO()
    out.write(profiles.export_ini(profile))
    out.write(f"\n# Which files of {folder.path} are sent: OpenMSI GUI reads the fields below; "
              f"for OpenMSIStream, run\n#   DataFileUploadDirectory FOLDER --config FILE "
              f"--topic_name {folder.topic or 'TOPIC'} --upload_regex '<upload_regex>'\n")
    if folder.skip_temporary:
        out.write(f"# Temporary and lock files skipped: {', '.join(TEMPORARY_PATTERNS)}\n")
    parser.write(out)
    return out.getvalue()


def export_file_name(folder: WatchedFolder) -> str:
    """The file name an export of ``folder`` suggests (its folder's name)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", PurePath(folder.path.replace("\\", "/")).name)
    return f"{stem.strip('_') or 'folder'}.config"


def write_folder_ini(folder: WatchedFolder, profile: BrokerProfile, path: Path) -> str:
    """Write :func:`export_folder_ini` to ``path`` (blocking); returns what to tell the user.

    Raises:
        OSError: the file cannot be written.
        ValueError: a filter of ``folder`` cannot be read.
    """
    path.write_text(export_folder_ini(folder, profile, file_filter(folder)), "utf-8")
    return (f"Exported to {path.name}: OpenMSI GUI reads its [watch] filters back; for "
            "OpenMSIStream, pass its upload_regex to --upload_regex.")
