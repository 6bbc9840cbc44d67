"""Upgrades of old settings files, one function per schema version (see ``settings.MIGRATIONS``).

Kept apart from :mod:`openmsi_gui.app.settings` so the schema stays readable;
these work on plain dicts, as read from the JSON file.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LEGACY_DEFAULT_EXCLUDE", "v1_to_v2"]

LEGACY_DEFAULT_EXCLUDE = r"(^|/)~\$|\.(tmp|temp|part|partial|crdownload|swp|swx)$|(^|/)Thumbs\.db$"
"""The exclude regex every folder had by default in schema 1 ("Skip temporary and lock files")."""


def _v1_folder_filters(folder: dict[str, Any]) -> dict[str, Any]:
    """Schema 1's regex filters of one folder as schema 2's globs, checkboxes and regexes.

    The old default exclude becomes "Skip temporary and lock files"; any other
    exclude regex stays as the Advanced regex (and then the checkbox is off, as
    the old regex replaced the default), and so does an include regex.
    """
    folder = dict(folder)
    exclude = folder.pop("exclude", LEGACY_DEFAULT_EXCLUDE)
    folder["include_regex"] = folder.pop("include", "")
    folder["skip_temporary"] = exclude == LEGACY_DEFAULT_EXCLUDE
    folder["exclude_regex"] = "" if exclude == LEGACY_DEFAULT_EXCLUDE else exclude
    folder["skip_hidden"] = not folder.pop("include_hidden", False)
    return folder


def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Folders' regex filters become glob patterns and checkboxes (:func:`_v1_folder_filters`)."""
    data = dict(data)
    data["folders"] = [_v1_folder_filters(f) if isinstance(f, dict) else f
                       for f in data.get("folders", [])]
    data["schema_version"] = 2
    return data
