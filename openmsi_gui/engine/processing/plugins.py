"""Installed plugins, found without importing them, and the command that hosts one.

Plugins are distributions that declare an entry point in the group
``openmsi_gui.processors``. They are listed from their metadata only: a plugin's
code is imported in the child process that runs it (:mod:`.plugin_host`), never
in the app. Besides the Python environment the app runs in, plugins are found in
the folders of ``$OPENMSI_GUI_PLUGIN_PATH`` (separated like ``PATH``) and in
``plugins/`` in the data folder: the installed app has its own Python, so a
plugin is installed for it with ``pip install --target <that folder> PACKAGE``
(for the same Python version as the app).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from openmsi_gui.engine.processing.api import ENTRY_POINT_GROUP

log = logging.getLogger(__name__)

PLUGIN_PATH_ENV = "OPENMSI_GUI_PLUGIN_PATH"
"""Extra folders plugins are installed in (``pip install --target``), like ``PATH``."""
HOST_COMMAND = "_plugin-host"
"""The hidden ``openmsi`` subcommand that hosts a plugin in the installed (frozen) app."""
HOST_MODULE = "openmsi_gui.engine.processing.plugin_host"


@dataclass(frozen=True, order=True)
class PluginInfo:
    """An installed plugin, as the destination form and ``openmsi`` list it.

    Attributes:
        name: its entry-point name (what a destination names).
        version: the version of the distribution that provides it.
        distribution: the name of that distribution (what ``pip`` installs).
    """

    name: str
    version: str
    distribution: str


def plugin_dirs() -> list[Path]:
    """The extra folders plugins are looked for in.

    Those of ``$OPENMSI_GUI_PLUGIN_PATH``, then ``plugins/`` in the data folder
    (when it exists).
    """
    from openmsi_gui.engine.registry import default_data_dir

    found = [Path(part) for part in os.environ.get(PLUGIN_PATH_ENV, "").split(os.pathsep)
             if part.strip()]
    default = default_data_dir() / "plugins"
    if default.is_dir():
        found.append(default)
    return found


def search_path(extra: Iterable[Path]) -> list[str]:
    """Where distributions are looked for: the extra folders first, then ``sys.path``."""
    return [*(str(folder) for folder in extra), *sys.path]


def _entry_points(path: list[str]) -> Iterator[tuple[metadata.EntryPoint, metadata.Distribution]]:
    for dist in metadata.distributions(path=path):
        try:
            points = dist.entry_points.select(group=ENTRY_POINT_GROUP)
        except Exception:  # a broken distribution must not hide the others
            log.warning("cannot read the entry points of a distribution in %s",
                        getattr(dist, "_path", "?"))
            continue
        for point in points:
            yield point, dist


def find_plugin(name: str, path: list[str]) -> tuple[metadata.EntryPoint,
                                                      metadata.Distribution] | None:
    """The entry point called ``name`` and its distribution (the first found), or None."""
    for point, dist in _entry_points(path):
        if point.name == name:
            return point, dist
    return None


def available_plugins(extra: Iterable[Path] | None = None) -> list[PluginInfo]:
    """The installed plugins, by name (the first of a name found wins, as when run).

    Args:
        extra: folders to look in before ``sys.path`` (default: :func:`plugin_dirs`).
    """
    seen: dict[str, PluginInfo] = {}
    dirs = plugin_dirs() if extra is None else list(extra)
    for point, dist in _entry_points(search_path(dirs)):
        if point.name not in seen:
            seen[point.name] = PluginInfo(point.name, dist.version or "",
                                          dist.metadata["Name"] or "")
    return sorted(seen.values())


def host_command() -> list[str]:
    """The program that hosts a plugin in a child process.

    Running from source or a wheel, this Python with ``-m`` (``-P``: the working
    folder is not searched for modules). In the installed (frozen) app, where there
    is no ``python -m``, the ``openmsi`` program beside it with a hidden subcommand.
    """
    executable = Path(sys.executable)
    if getattr(sys, "frozen", False):
        name = "openmsi.exe" if os.name == "nt" else "openmsi"
        return [str(executable.with_name(name)), HOST_COMMAND]
    return [str(executable), "-P", "-m", HOST_MODULE]
