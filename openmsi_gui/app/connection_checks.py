"""The last connection test of each broker profile and S3 destination, kept for support.

The controller runs every test (the profile editor's and the destination form's
*Test*, the wizard's) through :func:`run_recorded`, which keeps the outcome in
``connection-tests.json`` in the data folder: when, what was tested (its kind,
id and name), whether it worked and the sentence the user saw. No secret is
ever part of it (the sentences name hosts, buckets and reasons). The
diagnostics zip includes the file (:mod:`openmsi_gui.app.diagnostics`).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CHECKS_FILE = "connection-tests.json"
MAX_KEPT = 100
"""Results kept (the newest); profiles tried in the wizard and never saved add up."""

_lock = threading.Lock()


class CheckTarget(enum.StrEnum):
    """What a connection test tried."""

    BROKER = "broker"
    S3 = "s3"


@dataclass(frozen=True)
class LastCheck:
    """One connection test's outcome.

    Attributes:
        target: a broker profile or an S3 destination.
        item_id: the profile's or destination's id.
        name: what the user calls it (the profile's name, the bucket).
        ok: whether it worked.
        outcome: the sentence the user was shown.
        at: when (epoch seconds).
    """

    target: CheckTarget
    item_id: str
    name: str
    ok: bool
    outcome: str
    at: float

    @property
    def key(self) -> str:
        """Its place in the file: one result per tested item."""
        return f"{self.target.value}:{self.item_id}"


def checks_path(data_dir: Path) -> Path:
    """Where the results are kept."""
    return data_dir / CHECKS_FILE


def load_checks(data_dir: Path) -> list[LastCheck]:
    """The results kept, newest first ([] when there are none or the file is unreadable)."""
    try:
        data = json.loads(checks_path(data_dir).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s: %s", checks_path(data_dir), exc)
        return []
    found = []
    for entry in data.get("checks", []) if isinstance(data, dict) else []:
        try:
            found.append(LastCheck(CheckTarget(entry["target"]), str(entry["item_id"]),
                                   str(entry["name"]), bool(entry["ok"]),
                                   str(entry["outcome"]), float(entry["at"])))
        except (KeyError, TypeError, ValueError):
            continue  # an entry edited by hand: skip it
    return sorted(found, key=lambda check: check.at, reverse=True)


def record_check(data_dir: Path, check: LastCheck) -> None:
    """Keep ``check`` as its item's last result (a failure to write is logged, not raised)."""
    with _lock:
        kept = {old.key: old for old in load_checks(data_dir)}
        kept[check.key] = check
        newest = sorted(kept.values(), key=lambda c: c.at, reverse=True)[:MAX_KEPT]
        entries: list[dict[str, Any]] = [dataclasses.asdict(c) for c in newest]
        path = checks_path(data_dir)
        temp = path.with_name(f".{path.name}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(json.dumps({"version": 1, "checks": entries}, indent=2,
                                       ensure_ascii=False), encoding="utf-8")
            os.replace(temp, path)
        except OSError as exc:
            log.warning("cannot keep the connection test's result in %s: %s", path, exc)


def run_recorded(data_dir: Path, target: CheckTarget, item_id: str, name: str,
                 test: Callable[[], str]) -> str:
    """Run ``test`` (blocking), keep its outcome, and return its sentence or raise its error.

    Args:
        data_dir: the data folder.
        target: what is tested.
        item_id: the profile's or destination's id.
        name: what the user calls it.
        test: returns the success sentence, or raises with the reason.
    """
    try:
        outcome = test()
    except Exception as exc:
        record_check(data_dir, LastCheck(target, item_id, name, False,
                                         str(exc) or type(exc).__name__, time.time()))
        raise
    record_check(data_dir, LastCheck(target, item_id, name, True, outcome, time.time()))
    return outcome
