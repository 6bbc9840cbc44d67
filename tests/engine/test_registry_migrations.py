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

    current = registry_module.SCHEMA_VERSION

    def one_more(db: sqlite3.Connection) -> None:
        ran.append(1)
        db.execute("ALTER TABLE uploads ADD COLUMN note TEXT NOT NULL DEFAULT ''")

    monkeypatch.setattr(registry_module, "SCHEMA_VERSION", current + 1)
    monkeypatch.setitem(registry_module.MIGRATIONS, current, one_more)
    for _ in range(2):
        reg = Registry(path)
        try:
            assert reg.version == current + 1
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


def test_a_version_1_registry_gets_the_after_delivery_columns(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    reg = Registry(path)
    upload_id, _ = reg.start_upload("t", "/root", "a.bin", 10, 1, b"h" * 64, 4096, 1)
    reg.finish_upload(upload_id)
    reg.close()
    with sqlite3.connect(path) as db:  # back to version 1's shape
        for column in ("after_delivery", "after_delivery_at", "after_delivery_to", "metadata"):
            db.execute(f"ALTER TABLE uploads DROP COLUMN {column}")
        db.execute("ALTER TABLE downloads DROP COLUMN metadata")
        db.execute("PRAGMA user_version=1")
    reg = Registry(path)
    try:
        assert reg.version >= 2
        assert reg.upload_done("t", "/root", "a.bin", 10, 1)
        [row] = reg.history()
        assert (row.after_delivery, row.after_delivery_to) == ("", "")
    finally:
        reg.close()


def test_a_version_2_registry_gets_the_metadata_columns(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    reg = Registry(path)
    upload_id, _ = reg.start_upload("t", "/root", "a.bin", 10, 1, b"h" * 64, 4096, 1)
    reg.finish_upload(upload_id)
    reg.close()
    with sqlite3.connect(path) as db:  # back to version 2's shape
        db.execute("ALTER TABLE uploads DROP COLUMN metadata")
        db.execute("ALTER TABLE downloads DROP COLUMN metadata")
        db.execute("PRAGMA user_version=2")
    reg = Registry(path)
    try:
        assert reg.version >= 3
        [row] = reg.history()
        assert row.metadata == ""
        download_id = reg.start_download("t", "g", "/d", "b.bin", b"h" * 64, 1, 0.0, "/d/.t")
        reg.set_download_metadata(download_id, '{"sample":"S1"}')
        assert reg.find_download("t", "g", "/d", "b.bin", b"h" * 64).metadata == (  # type: ignore[union-attr]
            '{"sample":"S1"}')
    finally:
        reg.close()
