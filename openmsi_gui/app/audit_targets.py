"""What the app's Audit window offers: the topics of its folders and destinations.

Each target is a broker profile and a topic, with the destinations expected by
default (a folder's expected destinations, or a destination's own name);
:func:`run_target` runs the audit of one (blocking: on the net executor).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from openmsi_gui.app import pairing
from openmsi_gui.app.audit import AuditReport, run_audit
from openmsi_gui.app.settings import BrokerProfile, Settings
from openmsi_gui.engine.kafka_config import KafkaConfig

DEFAULT_DAYS = 7  # the window's "since" starts this many days back


@dataclass(frozen=True)
class AuditTarget:
    """A topic the app sends to or receives from.

    Attributes:
        label: what the window lists ("lab-data (outbox)").
        profile_id: the broker profile.
        topic: the data topic.
        expected: the destinations ticked by default.
        folders: the watched folders (paths) sending to it from here.
    """

    label: str
    profile_id: str
    topic: str
    expected: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()


def audit_targets(settings: Settings) -> list[AuditTarget]:
    """One target per broker profile and topic used by a folder or destination."""
    found: dict[tuple[str, str], tuple[list[str], list[str], list[str]]] = {}
    for folder in settings.folders:
        places, expected, folders = found.setdefault((folder.profile_id, folder.topic),
                                                     ([], [], []))
        places.append(Path(folder.path).name or folder.path)
        expected.extend(folder.expected_destinations)
        folders.append(folder.path)
    for dest in settings.destinations:
        places, expected, _ = found.setdefault((dest.profile_id, dest.topic), ([], [], []))
        places.append(pairing.destination_name(dest))
        if dest.receipts:
            expected.append(pairing.destination_name(dest))
    targets = []
    for (profile_id, topic), (places, expected, folders) in found.items():
        profile = settings.profile(profile_id)
        broker = f" on {profile.name}" if profile is not None and len(settings.profiles) > 1 \
            else ""
        targets.append(AuditTarget(f"{topic}{broker} ({', '.join(places)})", profile_id,
                                   topic, tuple(dict.fromkeys(expected)), tuple(folders)))
    return sorted(targets, key=lambda t: t.label.casefold())


def typed_target(topic: str, profile_id: str) -> AuditTarget:
    """A topic typed by the user (none of the app's folders or destinations uses it)."""
    return AuditTarget(topic.strip(), profile_id, topic.strip())


def sender_codes(target: AuditTarget, data_dir: Path | None) -> list[tuple[str, str]]:
    """The names and pairing codes its folders sign their sent records with (keychain).

    Raises:
        KeychainError: the keychain cannot be used.
    """
    codes = []
    for path in target.folders:
        made = pairing.identity(pairing.default_name(path), data_dir)
        if made is not None:
            codes.append((made.name, made.public.pairing_code()))
    return codes


def default_since(now: float) -> datetime.datetime:
    """The window's first "since": midnight :data:`DEFAULT_DAYS` days ago, local time."""
    day = datetime.date.fromtimestamp(now) - datetime.timedelta(days=DEFAULT_DAYS)
    return datetime.datetime.combine(day, datetime.time())


def run_target(config_of: Callable[[BrokerProfile], KafkaConfig], settings: Settings,
               target: AuditTarget, expected: Sequence[str], since: float | None,
               data_dir: Path | None, read_data: bool = True) -> AuditReport:
    """Audit ``target`` with the pairings of ``data_dir`` and the identities made here.

    Blocking (broker and keychain): call it on the net executor.

    Raises:
        BrokerError: the broker cannot be reached or the topic does not exist.
        KeychainError: the pairings cannot be read.
        ValueError: the target's broker profile is gone.
    """
    profile = settings.profile(target.profile_id)
    if profile is None:
        raise ValueError(f"the broker profile of {target.topic} is gone: pick another topic")
    trust = {**pairing.own_identities(data_dir), **pairing.trusted_identities(data_dir)}
    return run_audit(config_of(profile), target.topic, trust, expected, since,
                     read_data=read_data)
