"""``openmsi encryption install|status|remove``: KafkaCrypto as a per-user component.

The installed app does not ship KafkaCrypto (GPL-2.0-only); these commands fetch
its wheel (checked against the pinned SHA-256) into the components folder, say
where encryption comes from, and remove it (see :mod:`openmsi_gui.platform.components`).
Exit codes: 0 done, 1 the package index could not be reached, 2 refused (a
wheel that is not the pinned one, a file that cannot be read).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from pathlib import Path

from openmsi_gui.cli.signals import STOP, StopSignals
from openmsi_gui.engine import crypto
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.platform.component_install import (
    IndexUnreachable,
    InstallProgress,
    install_from_file,
    install_from_index,
)
from openmsi_gui.platform.components import ComponentError, Source, activate, remove, status

log = logging.getLogger("openmsi")

UNREACHABLE = 1
REFUSED = 2
RETRY_SECONDS = 5.0
"""How often ``watch`` and the downloads look for the component while they wait for it."""


def wait_for_encryption(config: KafkaConfig, signals: StopSignals = STOP,
                        retry: float = RETRY_SECONDS) -> bool:
    """Wait until kafkacrypto can be used if ``config`` encrypts; False if stopped meanwhile.

    A job on an encrypted config waits for the component rather than failing: it
    is installed (``openmsi encryption install``, or the app's *Enable
    encryption…*) by another process, and found here without a restart.
    """
    if config.crypto is None or crypto.kafkacrypto_available():
        return True
    log.warning("waiting: %s (looking again every %.0f s; Ctrl-C to stop)", crypto.INSTALL_HINT,
                retry)
    while True:
        signals.wait(threading.Event(), retry)
        if signals.received is not None:
            return False
        activate()
        if crypto.kafkacrypto_available():
            log.info("encryption is installed: starting")
            return True


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``encryption`` to the ``openmsi`` parser."""
    parser = sub.add_parser(
        "encryption", help="install, show or remove KafkaCrypto, which encryption needs",
        description="The installed app does not include KafkaCrypto (GPL-2.0-only). "
                    "'install' downloads its wheel from the Python Package Index (pypi.org), "
                    "or takes it from a file (--from), checks its SHA-256 against the one "
                    "pinned in this app, and unpacks it into the per-user components folder "
                    "($OPENMSI_GUI_COMPONENTS_DIR overrides it). A Python installation that "
                    "already has kafkacrypto (pip install) needs none of this.")
    actions = parser.add_subparsers(dest="encryption_action", required=True)
    install = actions.add_parser("install", help="install KafkaCrypto (from pypi.org, or "
                                                 "--from a wheel file)")
    install.add_argument("--from", dest="wheel", type=Path, metavar="FILE.whl",
                         help="install from this wheel file (for computers without internet "
                              "access) instead of downloading it")
    show = actions.add_parser("status", help="whether encryption is installed, and where")
    show.add_argument("--json", action="store_true", help="print the status as JSON")
    actions.add_parser("remove", help="delete KafkaCrypto from the components folder")


def cmd_encryption(args: argparse.Namespace) -> int:
    """Run ``openmsi encryption ACTION``; return the exit code."""
    try:
        if args.encryption_action == "install":
            return _install(args.wheel)
        if args.encryption_action == "remove":
            return _remove()
        return _status(args.json)
    except IndexUnreachable as exc:
        print(f"openmsi: error: {exc}", file=sys.stderr)
        return UNREACHABLE
    except ComponentError as exc:
        print(f"openmsi: error: {exc}", file=sys.stderr)
        return REFUSED


class _Progress:
    """Prints each step once to stderr, and a download's progress in tens of percent."""

    def __init__(self) -> None:
        self._step = ""
        self._tens = -1

    def __call__(self, progress: InstallProgress) -> None:
        if progress.step != self._step:
            self._step, self._tens = progress.step, -1
            print(progress.step, file=sys.stderr, flush=True)
        if progress.fraction is None or not progress.step.startswith("Downloading"):
            return
        tens = int(progress.fraction * 10)
        if tens > self._tens:
            self._tens = tens
            print(f"  {tens * 10}%", file=sys.stderr, flush=True)


def _install(wheel: Path | None) -> int:
    if wheel is not None and not wheel.is_file():
        raise ComponentError(f"{wheel} is not a file: check the path")
    progress = _Progress()
    result = (install_from_file(wheel, progress) if wheel is not None
              else install_from_index(progress))
    print(result.sentence)
    if result.source is Source.PYTHON:
        print(f"This Python's own kafkacrypto ({result.location}) is used before the "
              f"component in {result.folder}.")
    return 0


def _remove() -> int:
    removed = remove()
    if removed:
        print(f"Removed {', '.join(str(path) for path in removed)}.")
    else:
        print("Encryption was not installed in the components folder: nothing to remove.")
    after = status()
    if after.source is Source.PYTHON:
        print(f"Encryption is still available: kafkacrypto is installed with Python packages "
              f"in {after.location} (pip uninstall kafkacrypto removes it).")
    return 0


def _status(as_json: bool) -> int:
    current = status()
    if as_json:
        print(json.dumps(current.to_json(), indent=2))
    else:
        print(current.sentence)
    return 0
