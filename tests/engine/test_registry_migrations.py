"""The registry file's schema version and its migrations (no broker, no Qt)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from openmsi_gui.engine import registry as registry_module
from openmsi_gui.engine.registry import Registry, RegistryError


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


def test_a_new_registry_is_at_the_current_version(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.sqlite3")
    try:
        assert reg.version == registry_module.SCHEMA_VERSION
    finally:
        reg.close()
    assert user_version(tmp_path / "r.sqlite3") == registry_module.SCHEMA_VERSION


def test_an_older_registry_is_migrated_once_and_keeps_its_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r.sqlite3"
    reg = Registry(path)
    upload_id, _ = reg.start_upload("t", "/root", "a.bin", 10, 1, b"h" * 64, 4096, 1)
    reg.close()
    ran: list[int] = []

    def v1_to_v2(db: sqlite3.Connection) -> None:
        ran.append(1)
        db.execute("ALTER TABLE uploads ADD COLUMN note TEXT NOT NULL DEFAULT ''")

    monkeypatch.setattr(registry_module, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(registry_module.MIGRATIONS, 1, v1_to_v2)
    for _ in range(2):
        reg = Registry(path)
        try:
            assert reg.version == 2
            assert reg.last_upload("t", "/root", "a.bin") is not None
        finally:
            reg.close()
    assert ran == [1]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT note FROM uploads WHERE id = ?", (upload_id,)).fetchone() == ("",)


def test_a_registry_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={registry_module.SCHEMA_VERSION + 1}")
    with pytest.raises(RegistryError, match="newer version"):
        Registry(path)
