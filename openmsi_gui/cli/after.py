"""``openmsi watch --after-delivery keep|move|delete [--archive DIR] [--min-age 7d] [--preview]``.

A watched folder may move its files to an archive folder, or delete them, once
every destination named by ``--expect`` confirmed them with a verified receipt
(see :mod:`openmsi_gui.engine.after_delivery`). ``--preview`` prints what the
same command would move or delete now, and exits without watching.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from openmsi_gui.app.after_delivery import policy_problem, preview_rows, preview_summary
from openmsi_gui.engine.after_delivery import AfterAction, AfterDeliveryPolicy, preview
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.untrusted import escaped


def add_args(parser: argparse.ArgumentParser, duration: Callable[[str], float]) -> None:
    """Add the after-delivery options to ``openmsi watch``."""
    group = parser.add_argument_group(
        "after delivery",
        "Once every destination named by --expect confirmed a file with a verified receipt "
        "(same SHA-512), and the file still has the size, mtime and SHA-512 that were sent, "
        "it can leave the folder. A file that changed is never touched: it is sent again.")
    group.add_argument("--after-delivery", choices=[a.value for a in AfterAction],
                       default=AfterAction.KEEP.value,
                       help="keep the file (default), move it to --archive (same relative "
                            "path) or delete it")
    group.add_argument("--archive", type=Path, metavar="DIR",
                       help="the archive folder for --after-delivery move (outside the "
                            "watched folder; an existing file there is never overwritten)")
    group.add_argument("--min-age", type=duration, default=0.0, metavar="DURATION",
                       help="leave files at least this long after they were written or sent: "
                            "90s, 20m, 1h, 7d (default: no minimum)")
    group.add_argument("--preview", action="store_true",
                       help="print what would be moved or deleted now, and exit")


def policy_of(args: argparse.Namespace) -> AfterDeliveryPolicy | None:
    """The policy the flags ask for (None: keep files).

    Raises:
        ValueError: the flags do not make a usable policy; the message says what to do.
    """
    action = AfterAction(args.after_delivery)
    if action is AfterAction.KEEP:
        if args.archive is not None:
            raise ValueError("--archive is for --after-delivery move: add it, or leave "
                             "--archive out")
        return None
    archive = os.path.abspath(args.archive) if args.archive is not None else ""
    expected = tuple(dict.fromkeys(args.expect))
    real = os.path.realpath(archive) if archive else ""  # a link into the folder is inside it
    problem = policy_problem(action, real, os.path.realpath(args.folder), expected)
    if problem is not None:
        raise ValueError(_as_flags(problem))
    return AfterDeliveryPolicy(action, Path(archive) if archive else None, args.min_age,
                               expected)


def _as_flags(problem: str) -> str:
    """The form's sentence, with the flag names a command-line user types."""
    return (problem.replace("(expected destinations)", "(--expect NAME[,NAME...])")
            .replace("Choose the archive folder", "Give --archive DIR: the archive folder"))


def print_preview(registry: Registry, topic: str, folder: Path,
                  policy: AfterDeliveryPolicy | None) -> int:
    """Print what ``policy`` would move or delete in ``folder`` now; the exit code (0)."""
    root = Path(os.path.realpath(folder))
    shown = preview(registry, topic, root, policy) if policy is not None else None
    if shown is None:
        print("Files are kept after delivery (--after-delivery keep): nothing would be moved "
              "or deleted.")
        return 0
    for relpath, size, target in preview_rows(shown):
        print(f"{escaped(relpath)}\t{size}\t{escaped(target)}")
    print(preview_summary(shown))
    return 0
