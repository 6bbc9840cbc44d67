"""The first-run setup flow's vocabulary: steps, forms and blocking helpers (no Qt).

:class:`~openmsi_gui.app.wizard.SetupFlow` works on these; the blocking helpers
(:func:`path_kind`, :func:`write_secrets`, :func:`prepare`) run in the UI's
background executors.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from openmsi_gui.app import keychain, profiles
from openmsi_gui.app.validation import uses_sasl, uses_tls

DEMO_TOPIC = "openmsi-demo"
"""The topic the demo folder pair uses (the same as ``openmsi-gui --demo``)."""
DEMO_GROUP = "openmsi-demo"
"""The consumer group of the demo destination."""
DEMO_PROFILE_NAME = "Local demo broker"
EMBEDDED_BOOTSTRAP = "(embedded)"
"""What an embedded profile shows as its address (the real one changes every start)."""
DEMO_OUTBOX = "outbox"
DEMO_INBOX = "inbox"
SECRET_NAMES = (profiles.PASSWORD,)
"""Every keychain entry the wizard may write for a profile."""

CONNECTION_FIELDS = frozenset({"bootstrap_servers", "security_protocol", "sasl_mechanism",
                               "sasl_username", "password", "ca_file"})
"""The broker form's fields whose change needs a new connection test."""


class Step(enum.IntEnum):
    """The wizard's pages, in order."""

    WELCOME = 0
    BROKER = 1
    FIRST_JOB = 2
    DONE = 3


class Mode(enum.StrEnum):
    """Which broker the user starts with."""

    DEMO = "demo"
    REAL = "real"


class JobKind(enum.StrEnum):
    """What the first job is."""

    PAIR = "pair"
    """Demo only: a watched ``outbox`` and a destination ``inbox`` on the same topic."""
    FOLDER = "folder"
    DESTINATION = "destination"
    SKIP = "skip"


class FlowError(RuntimeError):
    """A step was asked to do something it cannot; the message says why, for the user."""


def default_demo_folder() -> Path:
    """Where the demo pair goes unless the user picks another folder."""
    return Path.home() / "OpenMSI demo"


@dataclass
class BrokerForm:
    """What the user typed on the broker step.

    Attributes:
        name: what the user calls the broker ("" = its first host name).
        bootstrap_servers: ``host:port[,host:port]``.
        security_protocol: one of :data:`~openmsi_gui.app.settings.SECURITY_PROTOCOLS`.
        sasl_mechanism: one of :data:`~openmsi_gui.app.settings.SASL_MECHANISMS`.
        sasl_username: SASL user name.
        password: SASL password; never saved in the settings.
        ca_file: PEM file of the brokers' certificate authority ("" = system CAs).
    """

    name: str = ""
    bootstrap_servers: str = ""
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    sasl_username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str = ""

    @property
    def uses_sasl(self) -> bool:
        """Whether the protocol authenticates with a user name and password."""
        return uses_sasl(self.security_protocol)

    @property
    def uses_tls(self) -> bool:
        """Whether the protocol encrypts (so a CA file matters)."""
        return uses_tls(self.security_protocol)


@dataclass
class JobForm:
    """What the user chose on the first-job step.

    Attributes:
        kind: what to set up.
        demo_folder: parent of the demo's ``outbox`` and ``inbox`` (kind ``pair``).
        folder_path: the folder to watch (kind ``folder``).
        folder_topic: where its files go (kind ``folder``).
        upload_existing: also send files already in the folder (kind ``folder``).
        dest_path: where received files are saved (kind ``destination``).
        dest_topic: the topic to receive (kind ``destination``).
        group_id: consumer group ("" = a new one; kind ``destination``).
    """

    kind: JobKind = JobKind.PAIR
    demo_folder: str = ""
    folder_path: str = ""
    folder_topic: str = ""
    upload_existing: bool = False
    dest_path: str = ""
    dest_topic: str = ""
    group_id: str = ""


def expand(path: str) -> Path:
    """A typed path, trimmed and with ``~`` expanded."""
    return Path(path.strip()).expanduser()


def write_secrets(owner: str, secrets: Mapping[str, str]) -> None:
    """Store ``secrets`` for ``owner`` and delete the wizard's other names (blocking)."""
    for name in SECRET_NAMES:
        keychain.set_secret(owner, name, secrets.get(name, ""))


def prepare(directories: list[str], owner: str, secrets: Mapping[str, str],
            touch_keychain: bool) -> None:
    """Create the folders and write the keychain before the settings are saved (blocking)."""
    for directory in directories:
        os.makedirs(directory, exist_ok=True)
    if touch_keychain:
        write_secrets(owner, secrets)


class PathKind(enum.StrEnum):
    """What a path is on disk, as far as the wizard's checks care."""

    FOLDER = "folder"
    FILE = "file"
    NOTHING = "nothing"  # missing, or something else (a socket, a broken link)


def path_kind(path: str) -> PathKind:
    """Look at ``path`` on disk.

    Blocking (a dead network share can hang it): not for the GUI thread.
    """
    if os.path.isdir(path):
        return PathKind.FOLDER
    if os.path.isfile(path):
        return PathKind.FILE
    return PathKind.NOTHING
