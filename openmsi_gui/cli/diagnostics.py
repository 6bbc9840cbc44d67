"""``openmsi diagnostics OUT.zip``: the zip for support, as Help ▸ Save diagnostics… writes it.

What goes in and what is kept out is :mod:`openmsi_gui.app.diagnostics`'s business.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from openmsi_gui.app.diagnostics import (
    DiagnosticsSources,
    failed_sentence,
    saved_sentence,
    write_diagnostics,
)
from openmsi_gui.engine.kafka_config import ConfigError, find_config

log = logging.getLogger("openmsi")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``diagnostics`` to the ``openmsi`` parser."""
    parser = sub.add_parser(
        "diagnostics", help="write a zip for support: logs, settings without secrets, "
                            "versions, registry counts, the last connection tests",
        description="Writes OUT.zip with the app's log files (the end of each), the settings "
                    "without any secret, the versions of the app, Python, the OS, librdkafka "
                    "and Qt, file counts per folder, destination and status from the "
                    "registry, and the last connection test of each broker profile. "
                    "Passwords, secret keys and tokens are removed, and so is every secret "
                    "the keychain holds, wherever it appears. manifest.json lists what is "
                    "inside.")
    parser.add_argument("out", type=Path, metavar="OUT.zip", help="the zip to write")
    parser.add_argument("--config", action="append", default=[], metavar="FILE",
                        help="also include this OpenMSIStream config file (path or bare "
                             "name, as for the other commands), without its secrets "
                             "(repeatable)")


def cmd_diagnostics(args: argparse.Namespace) -> int:
    """``openmsi diagnostics``: write the zip, say where and how big; exit 0 (2 if it cannot)."""
    out: Path = args.out
    if out.suffix.lower() != ".zip":
        out = out.with_name(f"{out.name}.zip")
    try:
        configs = tuple(find_config(name) for name in args.config)
    except ConfigError as exc:
        print(f"openmsi: error: {exc}", file=sys.stderr)
        return 2
    try:
        result = write_diagnostics(out, DiagnosticsSources.defaults(config_files=configs))
    except OSError as exc:
        print(f"openmsi: error: {failed_sentence(out, exc)}", file=sys.stderr)
        return 2
    print(saved_sentence(result))
    for problem in result.problems:
        print(f"  not included: {problem}")
    return 0
