"""What goes into the diagnostics zip, part by part (no Qt; see :mod:`.diagnostics`).

Each function reads one source and returns plain data or text; none of them
writes anything, and each may raise: the zip notes the error and goes on.
"""

from __future__ import annotations

import importlib.metadata
import logging
import platform
import sqlite3
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openmsi_gui import __version__
from openmsi_gui.app import destinations, logfiles, profiles
from openmsi_gui.app.logfiles import AppLogHandler
from openmsi_gui.app.profiles import SecretLookup
from openmsi_gui.app.settings import DestinationKind, from_dict
from openmsi_gui.engine.untrusted import escaped

MAX_LOG_BYTES = 2 * 1024 * 1024
"""The end of each log file kept (the newest lines); a log file holds up to 5 MB."""
MAX_CRASH_REPORTS = 10
"""Newest crash reports kept."""

_PACKAGES = ("confluent-kafka", "PySide6", "PySide6-Essentials", "shiboken6", "qasync",
             "boto3", "kafkacrypto", "keyring", "watchdog", "platformdirs", "msgpack",
             "pysodium")


def versions(qt_runtime: str = "") -> dict[str, Any]:
    """The app's, Python's, the OS's and the libraries' versions.

    Qt is never imported here: PySide6's version comes from its package
    metadata, and the GUI passes the Qt it runs on as ``qt_runtime``.
    """
    found: dict[str, Any] = {
        "openmsi-gui": __version__,
        "python": sys.version,
        "python_executable": sys.executable,
        "frozen": bool(getattr(sys, "frozen", False)),
        "os": platform.platform(),
        "machine": platform.machine(),
        "packages": {},
    }
    for name in _PACKAGES:
        try:
            found["packages"][name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found["packages"][name] = None  # not installed (or frozen without its metadata)
    try:
        import confluent_kafka

        found["librdkafka"] = confluent_kafka.libversion()[0]
    except (ImportError, OSError) as exc:
        found["librdkafka"] = f"not loaded: {exc}"
    from openmsi_gui.platform.bundle import native_versions

    found["native_libraries"] = native_versions()
    if qt_runtime:
        found["qt"] = qt_runtime
    return found


def log_folder(log_dir: Path | None = None) -> Path:
    """``log_dir``, else where this process logs, else :func:`~.logfiles.log_dir`."""
    return log_dir or _logging_dir() or logfiles.log_dir()


def log_files(folder: Path) -> list[Path]:
    """The app's log files in ``folder`` (the current one, then rotated ones), crash reports."""
    logs = [folder / logfiles.LOG_NAME,
            *(folder / f"{logfiles.LOG_NAME}.{n}" for n in range(1, logfiles.BACKUP_COUNT + 1))]
    crashes = sorted(folder.glob("crash-*.txt"), reverse=True)[:MAX_CRASH_REPORTS]
    return [path for path in logs if path.is_file()] + crashes


def _logging_dir() -> Path | None:
    """The folder this process's log file is in (flushed first), if it logs to one."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, AppLogHandler):
            handler.flush()
            return Path(handler.baseFilename).parent
    return None


@dataclass(frozen=True)
class LogTail:
    """The end of one log file.

    Attributes:
        text: the last :data:`MAX_LOG_BYTES` at most, from a line start.
        size: the file's whole size.
        cut: whether the beginning was left out.
    """

    text: str
    size: int
    cut: bool


def read_tail(path: Path, limit: int = MAX_LOG_BYTES) -> LogTail:
    """The last ``limit`` bytes of ``path``, from the first whole line."""
    with path.open("rb") as file:
        size = file.seek(0, 2)
        start = max(0, size - limit)
        file.seek(start)
        data = file.read(limit)
    if start:
        newline = data.find(b"\n")
        data = data[newline + 1:] if newline >= 0 else data
    return LogTail(data.decode("utf-8", "replace"), size, bool(start))


def keychain_entries(settings_data: dict[str, Any], pairing: dict[str, Any]
                     ) -> list[tuple[str, str, str]]:
    """The keychain entries of this machine's settings and pairings.

    Returns:
        ``(what, owner, name)`` for each: ``what`` says whose it is in words.
    """
    settings = from_dict(settings_data)
    entries = []
    for profile in settings.profiles:
        for name in (profiles.PASSWORD, profiles.KEY_PASSWORD):
            entries.append((f"broker profile {profile.name!r}", profiles.owner(profile), name))
    for dest in settings.destinations:
        if dest.kind is DestinationKind.S3:
            entries.append((f"destination {destinations.location_text(dest)}",
                            destinations.owner(dest), destinations.SECRET))
    for entry in pairing.get("identities", []):
        name = str(entry.get("name", ""))
        entries.append((f"receipt keys of {name!r}", f"receipt-identity:{name}",
                        "receipt-keys"))
    for entry in pairing.get("trusted", []):
        key_id = str(entry.get("key_id", ""))
        entries.append((f"pairing code of {entry.get('name', '')!r}",
                        f"receipt-trust:{key_id}", "pairing-code"))
    return entries


@dataclass
class KeychainInventory:
    """What the keychain holds for this machine, read once.

    Attributes:
        values: the secrets (to remove from everything; never written).
        stored: per entry, whether a secret is stored (written, for support).
        error: why the keychain could not be read ("" if it could).
    """

    values: list[str]
    stored: list[dict[str, Any]]
    error: str = ""


def read_keychain(entries: Iterable[tuple[str, str, str]], lookup: SecretLookup
                  ) -> KeychainInventory:
    """Look each entry up; the first keychain error stops (no prompt after prompt)."""
    inventory = KeychainInventory([], [])
    for what, owner, name in entries:
        try:
            value = lookup(owner, name)
        except Exception as exc:  # any keyring failure: noted, the zip goes on
            inventory.error = str(exc) or type(exc).__name__
            break
        if value:
            inventory.values.append(value)
        inventory.stored.append({"for": what, "owner": owner, "name": name,
                                 "stored": bool(value)})
    return inventory


def registry_counts(path: Path) -> dict[str, Any]:
    """Counts per job and status from the registry, opened read-only.

    Raises:
        sqlite3.Error: the file cannot be read.
    """
    if not path.exists():
        return {"path": str(path), "exists": False}
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=2.0)
    try:
        def rows(sql: str) -> list[dict[str, Any]]:
            cursor = db.execute(sql)
            names = [column[0] for column in cursor.description]
            return [{name: _plain(value) for name, value in zip(names, row, strict=True)}
                    for row in cursor.fetchall()]

        return {
            "path": str(path), "exists": True, "size": path.stat().st_size,
            "schema_version": db.execute("PRAGMA user_version").fetchone()[0],
            "uploads": rows("SELECT topic, root AS folder, status, after_delivery, "
                            "COUNT(*) AS files, COALESCE(SUM(size), 0) AS bytes FROM uploads "
                            "GROUP BY topic, root, status, after_delivery ORDER BY 1, 2, 3"),
            "downloads": rows("SELECT topic, dest AS destination, grp AS consumer_group, "
                              "status, COUNT(*) AS files, COALESCE(SUM(size), 0) AS bytes "
                              "FROM downloads GROUP BY topic, dest, grp, status "
                              "ORDER BY 1, 2, 3, 4"),
            "parked_messages": rows("SELECT topic, dest AS destination, COUNT(*) AS messages "
                                    "FROM parked_messages GROUP BY topic, dest ORDER BY 1, 2"),
            "deliveries": rows("SELECT topic, destination, status, COUNT(*) AS files "
                               "FROM deliveries GROUP BY topic, destination, status "
                               "ORDER BY 1, 2, 3"),
        }
    finally:
        db.close()


def _plain(value: Any) -> Any:
    """A registry value as JSON; text that may come from a message is escaped."""
    return escaped(value) if isinstance(value, str) else value


def referenced_files(settings_data: dict[str, Any]) -> list[dict[str, Any]]:
    """The files the profiles name (CA, client certificate and key): whether they are there.

    Their contents are never included: a key file is key material.
    """
    found = []
    for profile in from_dict(settings_data).profiles:
        for field_name in ("ca_file", "client_cert_file", "client_key_file"):
            value = getattr(profile, field_name)
            if not value:
                continue
            path = Path(value)
            entry: dict[str, Any] = {"profile": profile.name, "field": field_name,
                                     "path": value, "exists": path.is_file()}
            if entry["exists"]:
                entry["size"] = path.stat().st_size
            found.append(entry)
    return found
