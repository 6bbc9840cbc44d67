"""Editing broker profiles: the keychain and settings changes behind the profiles view.

No Qt. The functions marked *blocking* touch the keychain, files or the network
and run on the UI's executors; the others only compute.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from openmsi_gui.app import keychain, profiles
from openmsi_gui.app.settings import BrokerProfile, Settings
from openmsi_gui.app.validation import normalised, unique_name, uses_sasl, validate_profile
from openmsi_gui.engine import admin
from openmsi_gui.engine.kafka_config import KafkaConfig


def profile_users(settings: Settings, profile_id: str) -> list[str]:
    """The watched folders and destinations that use a profile, described for the user."""
    users = [f"watched folder {f.path or '(no folder chosen)'} → topic {f.topic or '(none)'}"
             for f in settings.folders if f.profile_id == profile_id]
    users += [f"destination {d.path or d.bucket or '(no folder chosen)'} ← topic "
              f"{d.topic or '(none)'}" for d in settings.destinations
              if d.profile_id == profile_id]
    return users


def _secret_lookup(password: str) -> profiles.SecretLookup:
    """A keychain lookup that prefers ``password`` (typed, not saved yet)."""

    def secret(owner: str, name: str) -> str | None:
        return password or keychain.get_secret(owner, name)

    return secret


def check_profile(profile: BrokerProfile, topic: str, password: str) -> str:
    """Probe ``profile``, using ``password`` if given, else the one in the keychain (blocking).

    Raises:
        BrokerError: if the broker cannot be used.
        KeychainError: if the keychain cannot be read.
    """
    return admin.probe_broker(profiles.kafka_config(profile, _secret_lookup(password)), topic)


def broker_config(profile: BrokerProfile, password: str) -> KafkaConfig:
    """``profile``'s broker settings, without its encryption node (blocking: keychain).

    Uses ``password`` if given, else the one in the keychain.

    Raises:
        KeychainError: if the keychain cannot be read.
    """
    return profiles.kafka_config(dataclasses.replace(profile, crypto_node_id=""),
                                 _secret_lookup(password))


def password_stored(profile: BrokerProfile) -> bool:
    """Whether the keychain holds ``profile``'s password (blocking)."""
    return keychain.has_secret(profiles.owner(profile), profiles.PASSWORD)


def password_change(profile: BrokerProfile, previous: BrokerProfile | None,
                    password: str) -> Callable[[], None] | None:
    """The keychain write that saving ``profile`` needs, or None if it needs none.

    A typed password is stored for a SASL profile; a profile that stops using
    SASL loses the one it had.

    Args:
        profile: the profile about to be saved (normalised).
        previous: the same profile as saved before, if it was.
        password: what the password field holds ("" = keep the stored one).
    """
    owner = profiles.owner(profile)
    if uses_sasl(profile.security_protocol):
        if password:
            return functools.partial(keychain.set_secret, owner, profiles.PASSWORD, password)
        return None
    if previous is not None and uses_sasl(previous.security_protocol):
        return functools.partial(keychain.delete_secret, owner, profiles.PASSWORD)
    return None


def delete_password(profile: BrokerProfile) -> None:
    """Remove ``profile``'s password from the keychain (blocking)."""
    keychain.delete_secret(profiles.owner(profile), profiles.PASSWORD)


def put_profile(settings: Settings, profile: BrokerProfile) -> Settings:
    """``settings`` with ``profile`` added, or replacing the one with its id (changed in place)."""
    index = next((i for i, p in enumerate(settings.profiles) if p.id == profile.id), None)
    if index is None:
        settings.profiles.append(profile)
    else:
        settings.profiles[index] = profile
    return settings


def remove_profile(settings: Settings, profile_id: str) -> Settings:
    """``settings`` without the profile ``profile_id`` (changed in place)."""
    settings.profiles = [p for p in settings.profiles if p.id != profile_id]
    return settings


def import_profile(path: Path, taken: Iterable[str]) -> tuple[BrokerProfile, bool]:
    """Read an OpenMSIStream config into a new profile; its password goes to the keychain.

    Blocking (file and keychain).

    Args:
        path: the INI file.
        taken: profile names already used (the new one gets a unique name).

    Returns:
        The profile and whether a password was stored for it.

    Raises:
        ConfigError: if the file cannot be used.
        ValueError: if the file describes a profile this app cannot use.
        KeychainError: if the password cannot be stored.
    """
    profile, password = profiles.import_ini(path)
    profile = normalised(dataclasses.replace(profile, name=unique_name(profile.name, taken)))
    errors = validate_profile(profile)
    if errors:
        raise ValueError(f"{path.name} cannot be used: {' '.join(errors)}")
    stored = bool(password) and uses_sasl(profile.security_protocol)
    if stored and password:
        keychain.set_secret(profiles.owner(profile), profiles.PASSWORD, password)
    return profile, stored


def export_file_name(profile: BrokerProfile) -> str:
    """The file name an export of ``profile`` suggests."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", profile.name).strip("_") or "broker"
    return f"{stem}.config"


def export_profile(profile: BrokerProfile, path: Path) -> str:
    """Write ``profile`` as an OpenMSIStream config (blocking); returns what to tell the user.

    Raises:
        OSError: if the file cannot be written.
    """
    path.write_text(profiles.export_ini(profile), "utf-8")
    extra = (f" Set the environment variable {profiles.env_name(profile)} to the password "
             "before using it." if uses_sasl(profile.security_protocol) else "")
    return f"Exported to {path}.{extra}"


__all__ = ["broker_config", "check_profile", "delete_password", "export_file_name",
           "export_profile", "import_profile", "password_change", "password_stored",
           "profile_users", "put_profile", "remove_profile"]
