"""The diagnostics zip for support: one set of rules for ``openmsi diagnostics`` and the GUI.

:func:`write_diagnostics` writes a zip holding:

* ``manifest.json``: what is inside, and each part that failed with its reason;
* ``versions.json``: the app, Python, the OS, confluent-kafka and librdkafka,
  libsodium, PySide6 (and the Qt the GUI runs on), other libraries;
* ``settings.json``: the settings file re-serialised without secrets
  (:mod:`openmsi_gui.app.redaction`); ``referenced-files.json``: whether the CA,
  certificate and key files the profiles name exist (never their contents);
* ``keychain.json``: which secrets are stored in the keychain (yes or no, never
  the values);
* ``pairing.json``: the destinations and senders paired here (names, key ids);
* ``registry.json``: counts per folder, destination and status from the
  registry, opened read-only;
* ``connection-tests.json``: the last connection test of each profile and S3
  destination (:mod:`openmsi_gui.app.connection_checks`);
* ``logs/``: the end of the log file and of the rotated ones, and the newest
  crash reports; ``config/``: config files given on the command line.

Everything written goes through the redaction: secret-named values, and every
secret the keychain holds for this machine, wherever it appears. One part
failing (no registry, an unreadable log) never stops the zip: the manifest
says what failed. Blocking (files, SQLite, the keychain): call it off the GUI
thread.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openmsi_gui import __version__
from openmsi_gui.app import diagnostics_parts as parts
from openmsi_gui.app import keychain
from openmsi_gui.app.connection_checks import checks_path
from openmsi_gui.app.formatting import count_text, format_bytes
from openmsi_gui.app.pairing import PAIRING_FILE
from openmsi_gui.app.profiles import SecretLookup
from openmsi_gui.app.redaction import REMOVED, Redactor, secret_environment
from openmsi_gui.app.settings import default_config_dir
from openmsi_gui.engine.registry import default_data_dir

log = logging.getLogger(__name__)

REGISTRY_FILE = "registry.sqlite3"


def default_file_name(today: datetime.date | None = None) -> str:
    """``openmsi-diagnostics-<date>.zip``."""
    return f"openmsi-diagnostics-{(today or datetime.date.today()).isoformat()}.zip"


@dataclass(frozen=True)
class DiagnosticsSources:
    """Where the diagnostics are read from.

    Attributes:
        settings_path: the settings file.
        data_dir: the data folder (registry, pairing, connection tests).
        log_dir: the log folder (None: where this process logs, else the default).
        config_files: OpenMSIStream config files to include, without secrets.
        qt_runtime: the Qt version the GUI runs on ("" outside the GUI).
        secret_lookup: reads the keychain (None: the keychain is not asked, so
            only secret-named values are removed).
    """

    settings_path: Path
    data_dir: Path
    log_dir: Path | None = None
    config_files: tuple[Path, ...] = ()
    qt_runtime: str = ""
    secret_lookup: SecretLookup | None = keychain.get_secret

    @classmethod
    def defaults(cls, **changes: Any) -> DiagnosticsSources:
        """The per-user folders (``$OPENMSI_GUI_*_DIR`` move them), with ``changes``."""
        values: dict[str, Any] = {"settings_path": default_config_dir() / "settings.json",
                                  "data_dir": default_data_dir()}
        values.update(changes)
        return cls(**values)


@dataclass
class DiagnosticsResult:
    """What :func:`write_diagnostics` wrote.

    Attributes:
        path: the zip.
        size: its size in bytes.
        members: the names inside.
        problems: one line per part that failed or was left out.
    """

    path: Path
    size: int = 0
    members: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def saved_sentence(result: DiagnosticsResult) -> str:
    """What the CLI prints and the GUI shows once the zip is written."""
    text = f"Diagnostics saved to {result.path} ({format_bytes(result.size)})"
    if result.problems:
        text += (f"; {count_text(len(result.problems), 'part')} could not be included "
                 "(see manifest.json)")
    return text + "."


def failed_sentence(out: Path, error: BaseException) -> str:
    """One sentence for a zip that could not be written."""
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return f"Could not save the diagnostics to {out}: {reason}; choose another folder."


class _Zip:
    """The zip being written, and its manifest."""

    def __init__(self, file: zipfile.ZipFile) -> None:
        self.file = file
        self.contents: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.absent: list[str] = []  # nothing to include yet (a fresh install): not a problem

    def add(self, name: str, data: str | bytes, about: str, **facts: Any) -> None:
        self.file.writestr(name, data)
        self.contents.append({"name": name, "about": about, **facts})

    def add_json(self, name: str, value: Any, about: str) -> None:
        self.add(name, json.dumps(value, indent=2, ensure_ascii=False, default=str), about)

    def part(self, what: str, work: Callable[[], None]) -> None:
        """Run ``work``; an error in it is noted, and the next part goes on."""
        try:
            work()
        except Exception as exc:  # noted in the manifest; the zip goes on
            log.warning("diagnostics: %s failed: %s", what, exc)
            self.problems.append(f"{what}: {exc or type(exc).__name__}")


def write_diagnostics(out: Path, sources: DiagnosticsSources) -> DiagnosticsResult:
    """Write the diagnostics zip to ``out`` (atomically) and say what is in it.

    Raises:
        OSError: ``out`` cannot be written (the parts' own errors are in the manifest).
    """
    temp = out.with_name(f".{out.name}.part")
    try:
        with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED) as file:
            made = _Zip(file)
            _fill(made, sources)
        os.replace(temp, out)
    finally:
        temp.unlink(missing_ok=True)
    result = DiagnosticsResult(out, out.stat().st_size,
                               [entry["name"] for entry in made.contents] + ["manifest.json"],
                               made.problems)
    log.debug("diagnostics written to %s (%d bytes)", out, result.size)
    return result


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return data


def _fill(made: _Zip, sources: DiagnosticsSources) -> None:
    settings_data: dict[str, Any] | None = None  # None: unreadable
    pairing: dict[str, Any] = {}
    inventory = parts.KeychainInventory([], [])

    def load_settings() -> None:
        nonlocal settings_data
        settings_data = _read_json(sources.settings_path)

    def load_pairing() -> None:
        nonlocal pairing
        pairing = _read_json(sources.data_dir / PAIRING_FILE)

    def ask_keychain() -> None:
        nonlocal inventory
        if sources.secret_lookup is None:
            return
        inventory = parts.read_keychain(parts.keychain_entries(settings_data or {}, pairing),
                                        sources.secret_lookup)
        if inventory.error:
            made.problems.append(f"keychain: {inventory.error} (only secret-named values "
                                 "are removed)")

    made.part("reading the settings", load_settings)
    made.part("reading the pairings", load_pairing)
    made.part("reading the keychain", ask_keychain)
    redactor = Redactor([*inventory.values, *secret_environment()])
    made.part("versions", lambda: made.add_json(
        "versions.json", parts.versions(sources.qt_runtime), "versions of everything"))
    made.part("settings", lambda: _add_settings(made, redactor, sources, settings_data))
    made.part("keychain", lambda: made.add_json(
        "keychain.json", {"error": inventory.error, "entries": inventory.stored},
        "which secrets the keychain holds (yes or no; never the values)"))
    made.part("pairing", lambda: made.add_json(
        "pairing.json", redactor.json(pairing), "destinations and senders paired here"))
    made.part("registry", lambda: made.add_json(
        "registry.json", redactor.json(parts.registry_counts(sources.data_dir / REGISTRY_FILE)),
        "files per folder, destination and status (the registry, read-only)"))
    made.part("connection tests", lambda: _add_checks(made, redactor, sources.data_dir))
    made.part("logs", lambda: _add_logs(made, redactor, sources.log_dir))
    for config in sources.config_files:
        def add_config(path: Path = config) -> None:
            made.add(f"config/{path.name}",
                     redactor.text(path.read_text(encoding="utf-8", errors="replace")),
                     f"{path}, without secrets", source=str(path.resolve()))

        made.part(f"config file {config}", add_config)
    # An error's text might quote what it could not read: it goes through the redaction too.
    made.problems[:] = [redactor.text(problem) for problem in made.problems]
    manifest = {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "app": f"openmsi-gui {__version__}",
        "sources": {"settings": str(sources.settings_path), "data": str(sources.data_dir),
                    "logs": str(parts.log_folder(sources.log_dir))},
        "secrets": f"removed: values of secret-named keys and every secret the keychain "
                   f"holds for this machine ({redactor.known_count} searched for), shown "
                   f"as {REMOVED}",
        "contents": made.contents,
        "problems": made.problems,
        "absent": [redactor.text(note) for note in made.absent],
    }
    made.file.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))


def _add_settings(made: _Zip, redactor: Redactor, sources: DiagnosticsSources,
                  settings_data: dict[str, Any] | None) -> None:
    if not sources.settings_path.exists():
        made.absent.append(f"settings: no settings file at {sources.settings_path}")
        return
    if settings_data is None:  # not JSON: its text, as an INI would be, without secrets
        made.add("settings.txt", redactor.text(sources.settings_path.read_text(
            encoding="utf-8", errors="replace")), f"{sources.settings_path} (not readable "
                 "as settings), without secrets")
        return
    made.add_json("settings.json", redactor.json(settings_data),
                  f"{sources.settings_path}, without secrets")
    made.add_json("referenced-files.json",
                  redactor.json(parts.referenced_files(settings_data)),
                  "the CA, certificate and key files the profiles name: there or not")


def _add_checks(made: _Zip, redactor: Redactor, data_dir: Path) -> None:
    path = checks_path(data_dir)
    kept = _read_json(path) if path.exists() else {"checks": []}  # none was run yet
    made.add_json("connection-tests.json", redactor.json(kept),
                  "the last connection test of each broker profile and S3 destination")


def _add_logs(made: _Zip, redactor: Redactor, log_dir: Path | None) -> None:
    folder = parts.log_folder(log_dir)
    files = parts.log_files(folder)
    if not files:
        made.absent.append(f"logs: no log file in {folder}")
    for path in files:
        def add(path: Path = path) -> None:
            tail = parts.read_tail(path)
            made.add(f"logs/{path.name}", redactor.text(tail.text),
                     "the end of the log" if tail.cut else "a log file",
                     size=tail.size, cut=tail.cut)

        made.part(f"log {path.name}", add)
