"""``openmsi plugins``: the processor plugins installed, by the name ``--plugin`` takes."""

from __future__ import annotations

import argparse
import json

from openmsi_gui.app.processing_form import NO_PLUGINS, installed_plugins, plugin_label
from openmsi_gui.engine.processing.plugins import plugin_dirs


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``plugins`` to the ``openmsi`` parser."""
    parser = sub.add_parser(
        "plugins", help="list the processor plugins installed (the names --plugin takes)",
        description="Lists the plugins of the 'openmsi_gui.processors' entry-point group "
                    "found in this Python environment and in the plugin folders "
                    "($OPENMSI_GUI_PLUGIN_PATH, plugins/ in the data folder), without "
                    "importing them.")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list of {name, version, distribution}")


def cmd_plugins(args: argparse.Namespace) -> int:
    """``openmsi plugins``: one line per plugin (0, also when there is none)."""
    found = installed_plugins()
    if args.json:
        print(json.dumps([{"name": name, "version": version, "distribution": dist}
                          for name, version, dist in found]))
        return 0
    for name, version, dist in found:
        print(plugin_label(name, version, dist))
    if not found:
        folders = ", ".join(str(folder) for folder in plugin_dirs())
        print(NO_PLUGINS + (f" Plugin folders searched: {folders}." if folders else ""))
    return 0
