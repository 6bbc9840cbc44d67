"""Editing broker profiles without Qt: keychain changes, settings changes, INI files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from openmsi_gui.app import keychain, profile_editing, profiles
from openmsi_gui.app.settings import BrokerProfile, Destination, Settings, WatchedFolder

SECRET = "hunter2-never-in-files"


def sasl(**changes: Any) -> BrokerProfile:
    profile = BrokerProfile(name="Lab", bootstrap_servers="lab:9093",
                            security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
                            sasl_username="me")
    for key, value in changes.items():
        setattr(profile, key, value)
    return profile


def test_a_typed_password_is_stored_and_a_dropped_one_deleted(memory_keyring: Any) -> None:
    profile = sasl()
    change = profile_editing.password_change(profile, None, SECRET)
    assert change is not None
    change()
    assert keychain.get_secret(profiles.owner(profile), profiles.PASSWORD) == SECRET
    assert profile_editing.password_stored(profile)
    assert profile_editing.password_change(profile, profile, "") is None  # keep it

    plain = sasl(security_protocol="SSL", id=profile.id)
    drop = profile_editing.password_change(plain, profile, "")
    assert drop is not None
    drop()
    assert not profile_editing.password_stored(profile)
    assert profile_editing.password_change(plain, plain, SECRET) is None  # no SASL, no secret


def test_put_and_remove_profiles() -> None:
    settings = Settings()
    lab = sasl()
    profile_editing.put_profile(settings, lab)
    renamed = sasl(id=lab.id, name="Lab 2")
    profile_editing.put_profile(settings, renamed)
    assert settings.profiles == [renamed]
    profile_editing.remove_profile(settings, lab.id)
    assert settings.profiles == []


def test_profile_users_describe_folders_and_destinations() -> None:
    settings = Settings(folders=[WatchedFolder(path="/data", profile_id="p", topic="raw")],
                        destinations=[Destination(path="", profile_id="p", topic="")])
    users = profile_editing.profile_users(settings, "p")
    assert users == ["watched folder /data → topic raw",
                     "destination (no folder chosen) ← topic (none)"]
    assert profile_editing.profile_users(settings, "other") == []


def test_export_then_import_round_trip(tmp_path: Path, memory_keyring: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    profile = sasl(name="Lab Kafka / B")
    assert profile_editing.export_file_name(profile) == "Lab_Kafka_B.config"
    path = tmp_path / profile_editing.export_file_name(profile)
    said = profile_editing.export_profile(profile, path)
    assert said.startswith(f"Exported to {path}.")
    assert profiles.env_name(profile) in said
    assert SECRET not in path.read_text("utf-8")

    monkeypatch.setenv(profiles.env_name(profile), SECRET)
    imported, stored = profile_editing.import_profile(path, ["lab_kafka_b"])
    assert stored
    assert imported.name == "Lab_Kafka_B (2)"
    assert imported.bootstrap_servers == "lab:9093"
    assert keychain.get_secret(profiles.owner(imported), profiles.PASSWORD) == SECRET


def test_import_refuses_an_unusable_config(tmp_path: Path) -> None:
    path = tmp_path / "bad.config"
    path.write_text("[broker]\nbootstrap.servers = nohost\n", "utf-8")
    with pytest.raises(ValueError, match=r"bad\.config cannot be used"):
        profile_editing.import_profile(path, [])


def test_broker_config_prefers_the_typed_password(memory_keyring: Any) -> None:
    profile = sasl(crypto_node_id="lab_node")
    config = profile_editing.broker_config(profile, SECRET)
    assert config.broker["sasl.password"] == SECRET
    assert config.crypto is None


def test_profile_editing_never_imports_qt() -> None:
    import subprocess

    code = ("import sys, openmsi_gui.app.profile_editing; "
            "sys.exit(any(m.startswith('PySide6') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
