"""The settings schema, its file, migrations and change notification (no Qt)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from openmsi_gui.app import folders, keychain, settings, settings_migrations
from openmsi_gui.app.settings import (
    BrokerProfile,
    Destination,
    DestinationKind,
    SecurityProtocol,
    Settings,
    SettingsError,
    SettingsStore,
    Theme,
    WatchedFolder,
)


def test_defaults_round_trip_through_the_file(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    edited = store.settings
    profile = BrokerProfile(name="Lab", bootstrap_servers="kafka.lab:9093",
                            security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
                            sasl_username="tech")
    edited.profiles.append(profile)
    edited.folders.append(WatchedFolder(path="/data", profile_id=profile.id, topic="t"))
    edited.ui.theme = "dark"
    store.update(edited)
    again = SettingsStore(tmp_path / "settings.json").settings
    assert again == edited
    assert json.loads((tmp_path / "settings.json").read_text())["schema_version"] == \
        settings.SCHEMA_VERSION


def test_store_hands_out_copies_and_tells_listeners(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    seen: list[Settings] = []
    store.subscribe(seen.append)
    copy = store.settings
    copy.ui.theme = "dark"
    assert store.settings.ui.theme == "system"  # editing a copy changes nothing
    store.update(copy)
    assert [s.ui.theme for s in seen] == ["dark"]


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    edited = store.settings
    profile = BrokerProfile(name="Lab", bootstrap_servers="h:1", sasl_username="tech")
    edited.profiles.append(profile)
    store.update(edited)
    keychain.set_secret(f"profile:{profile.id}", "sasl.password", "s3cret-pw")
    assert keychain.get_secret(f"profile:{profile.id}", "sasl.password") == "s3cret-pw"
    assert "s3cret-pw" not in (tmp_path / "settings.json").read_text()
    assert not any("password" in f for f in settings.BrokerProfile.__dataclass_fields__)


def test_migrations_upgrade_old_files_and_keep_a_backup(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def rename_preferences(data: dict[str, Any]) -> dict[str, Any]:
        data["ui"] = data.pop("preferences")
        return data

    old = settings.SCHEMA_VERSION
    monkeypatch.setattr(settings, "SCHEMA_VERSION", old + 1)
    monkeypatch.setitem(settings.MIGRATIONS, old, rename_preferences)
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": old, "preferences": {"theme": "dark"}}))
    store = SettingsStore(path)
    assert store.settings.ui.theme == "dark"
    assert json.loads(path.read_text())["schema_version"] == old + 1
    backup = json.loads((tmp_path / f"settings.json.v{old}.bak").read_text())
    assert backup == {"schema_version": old, "preferences": {"theme": "dark"}}


def test_schema_1_regex_filters_become_checkboxes_and_advanced_regexes(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 1, "folders": [
        {"id": "default", "path": "/a"},  # never edited: the old default
        {"id": "same", "path": "/b", "include": "", "include_hidden": False,
         "exclude": settings_migrations.LEGACY_DEFAULT_EXCLUDE},
        {"id": "custom", "path": "/c", "include": r"\.tiff?$", "exclude": r"\.bak$",
         "include_hidden": True},
        {"id": "cleared", "path": "/d", "exclude": ""},
    ]}))
    folders = {f.id: f for f in SettingsStore(path).settings.folders}
    for ident in ("default", "same"):
        folder = folders[ident]
        assert (folder.skip_temporary, folder.skip_hidden) == (True, True)
        assert (folder.include_regex, folder.exclude_regex) == ("", "")
        assert (folder.include_globs, folder.exclude_globs) == ([], [])
    custom = folders["custom"]
    assert (custom.include_regex, custom.exclude_regex) == (r"\.tiff?$", r"\.bak$")
    assert (custom.skip_temporary, custom.skip_hidden) == (False, False)
    cleared = folders["cleared"]
    assert (cleared.skip_temporary, cleared.exclude_regex) == (False, "")
    written = json.loads(path.read_text())
    assert written["schema_version"] == settings.SCHEMA_VERSION
    assert "exclude" not in written["folders"][0]
    assert json.loads((tmp_path / "settings.json.v1.bak").read_text())["folders"][2][
        "exclude"] == r"\.bak$"


@pytest.mark.parametrize(("old", "sent", "skipped"), [
    ({}, ["scan.tif", "a/b.csv"], ["~$r.docx", "x.tmp", "Thumbs.db", ".DS_Store"]),
    ({"include": r"\.tif$"}, ["scan.tif"], ["a/b.csv", "~$r.tif"]),
    ({"exclude": "", "include_hidden": True}, ["x.tmp", ".DS_Store", "~$r.docx"], []),
])
def test_migrated_filters_send_what_the_old_regexes_sent(
        tmp_path: Path, old: dict[str, Any], sent: list[str], skipped: list[str]) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 1, "folders": [{"path": "/a", **old}]}))
    file_filter = folders.file_filter(SettingsStore(path).settings.folders[0])
    assert [n for n in sent + skipped if file_filter.accepts(n)] == sent


def test_glob_lists_are_checked_when_the_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"folders": [{"exclude_globs": "*.tmp"}]}))
    with pytest.raises(SettingsError, match="should be a list of texts"):
        SettingsStore(path)


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "cannot read"),
    ("[1, 2]", "is not a settings file"),
    ('{"schema_version": 99}', "newer version"),
    ('{"folders": [{"chunk_size": "big"}]}', "should be a number"),
    ('{"folders": [{"enabled": "yes"}]}', "should be true or false"),
    ('{"profiles": [{"name": 5}]}', "should be text"),
    ('{"folders": [{"chunk_size": 1.5}]}', "whole number"),
    ('{"destinations": [{"kind": "ftp"}]}', "should be one of folder, s3"),
    ('{"profiles": [{"security_protocol": "TLS"}]}', "should be one of PLAINTEXT, SSL"),
    ('{"folders": [{"bwlimit": "8MB"}]}', "WatchedFolder.bwlimit: cannot read the bandwidth"),
    ('{"bandwidth": {"preset": "fast"}}', "BandwidthSettings.preset: cannot read"),
])
def test_bad_files_give_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(content)
    with pytest.raises(SettingsError, match=message):
        SettingsStore(path)


def test_hand_edited_choices_load_whatever_their_case(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"profiles": [{"security_protocol": " sasl_ssl"}],
                                "destinations": [{"kind": "S3"}], "ui": {"theme": "Dark"}}))
    loaded = SettingsStore(path).settings
    assert loaded.profiles[0].security_protocol is SecurityProtocol.SASL_SSL
    assert loaded.destinations[0].kind is DestinationKind.S3
    assert loaded.ui.theme is Theme.DARK


@pytest.mark.parametrize("theme", ["2", 2, "solarized"])
def test_an_unknown_theme_falls_back_to_the_default(tmp_path: Path, theme: object,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"ui": {"theme": theme}}))
    assert SettingsStore(path).settings.ui.theme is Theme.SYSTEM
    assert "using system" in caplog.text


def test_unknown_fields_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 1, "ui": {"theme": "dark", "future": 1}}))
    assert SettingsStore(path).settings.ui.theme == "dark"


def test_choices_load_as_enums_and_are_written_as_before(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    written = {"schema_version": 1,
               "profiles": [{"id": "p", "security_protocol": "SASL_SSL"}],
               "destinations": [{"id": "d", "kind": "s3", "bucket": "b"}],
               "ui": {"theme": "dark"}}
    path.write_text(json.dumps(written))
    loaded = SettingsStore(path).settings
    assert loaded.profiles[0].security_protocol is SecurityProtocol.SASL_SSL
    assert loaded.destinations[0].kind is DestinationKind.S3
    assert loaded.ui.theme is Theme.DARK
    SettingsStore(tmp_path / "again.json").update(loaded)
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["profiles"][0]["security_protocol"] == "SASL_SSL"
    assert again["destinations"][0]["kind"] == "s3"
    assert again["ui"]["theme"] == "dark"
    assert again == settings.to_dict(settings.from_dict(again))


def test_choices_given_as_text_become_enums() -> None:
    assert BrokerProfile(security_protocol="SSL").security_protocol is SecurityProtocol.SSL  # type: ignore[arg-type]
    assert Destination(kind="s3").kind is DestinationKind.S3  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ftp"):
        Destination(kind="ftp")  # type: ignore[arg-type]
