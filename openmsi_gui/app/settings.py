"""The application's settings: one typed, versioned schema in the user config dir.

The file is JSON (``settings.json``). Every change of shape bumps
:data:`SCHEMA_VERSION` and adds a function to :data:`MIGRATIONS` that upgrades
a dict from the previous version; the old file is backed up before an upgrade
is written. Secrets are never stored here: they are keychain entries keyed by
the profile or destination id (see :mod:`openmsi_gui.app.keychain`).
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import platformdirs

from openmsi_gui.app import settings_migrations
from openmsi_gui.app.lab_settings import LabSettings
from openmsi_gui.engine import wire
from openmsi_gui.engine.after_delivery import AfterAction
from openmsi_gui.engine.bandwidth import BandwidthError, Timetable
from openmsi_gui.engine.processing.api import ProcessorKind, ProcessorSpec
from openmsi_gui.engine.processing.limits import MemoryLimitError, parse_memory_limit

log = logging.getLogger(__name__)

APP_NAME = "openmsi-gui"
SCHEMA_VERSION = 2



class SecurityProtocol(enum.StrEnum):
    """How a client talks to the brokers (librdkafka's ``security.protocol``)."""

    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class DestinationKind(enum.StrEnum):
    """Where a destination puts the files it receives."""

    FOLDER = "folder"
    S3 = "s3"
    PROCESS = "process"  # processing only: files are rebuilt privately, processed, removed


class Theme(enum.StrEnum):
    """The look of the tray application: the OS's, or forced light or dark."""

    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


MIN_STALL_MINUTES = 0.5
MAX_STALL_MINUTES = 24 * 60.0
DEFAULT_DELIVERY_DEADLINE = 3600.0
MIN_DELIVERY_DEADLINE = 1.0
MAX_DELIVERY_DEADLINE = 365 * 86400.0

SECURITY_PROTOCOLS = tuple(SecurityProtocol)
SASL_MECHANISMS = ("", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
THEMES = tuple(Theme)


def new_id() -> str:
    """A short random identifier for profiles, folders and destinations."""
    return uuid.uuid4().hex[:12]


@dataclass
class BrokerProfile:
    """How to reach one Kafka cluster.

    Attributes:
        id: stable identifier (keychain entries are keyed by it).
        name: what the user calls it.
        bootstrap_servers: ``host:port[,host:port]``.
        security_protocol: how the brokers are reached.
        sasl_mechanism: one of :data:`SASL_MECHANISMS` ("" for none).
        sasl_username: SASL user; the password is in the keychain.
        ca_file: PEM file of the CA that signed the brokers' certificates.
        client_cert_file: PEM file of this client's certificate, for brokers
            that require mutual TLS ("" for none; SSL protocols only).
        client_key_file: PEM file of the private key of ``client_cert_file``;
            its password, if any, is in the keychain.
        embedded: the local demo broker started by the app itself.
        crypto_node_id: the KafkaCrypto node that encrypts what is sent and
            decrypts what is received through this profile ("" for plain
            messages), like ``[kafkacrypto] node_id`` in an OpenMSIStream
            config. Its folder is looked up as
            :func:`~openmsi_gui.engine.kafka_config.find_crypto_node` does.
    """

    id: str = field(default_factory=new_id)
    name: str = "New broker"
    bootstrap_servers: str = ""
    security_protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    sasl_mechanism: str = ""
    sasl_username: str = ""
    ca_file: str = ""
    client_cert_file: str = ""
    client_key_file: str = ""
    embedded: bool = False
    crypto_node_id: str = ""

    def __post_init__(self) -> None:
        self.security_protocol = SecurityProtocol(self.security_protocol)


@dataclass
class WatchedFolder:
    """A folder whose new files are sent to a topic.

    Attributes:
        id: stable identifier.
        path: the folder.
        profile_id: which :class:`BrokerProfile` to use.
        topic: destination topic.
        include_globs: glob patterns (:mod:`openmsi_gui.engine.globs`) a relative
            path must match; empty for every file.
        exclude_globs: glob patterns of paths to skip.
        skip_temporary: skip office lock files, editors' scratch files and the
            like (:data:`~openmsi_gui.engine.globs.TEMPORARY_PATTERNS`).
        skip_hidden: skip names starting with ".".
        include_regex: a regular expression a relative path must also match
            ("" for none; the form's Advanced section).
        exclude_regex: a regular expression of paths to skip ("" for none).
        chunk_size: bytes per message, a power of two.
        upload_existing: send files that were already there when the folder
            was added. Files that arrive later are always sent, even if the
            app was not running when they arrived.
        added_at: when the folder was added (epoch seconds).
        stable_seconds: how long a file must be unchanged before it is sent.
        polling: poll instead of native events (network drives).
        bwlimit: bandwidth limit for this folder in rclone's ``--bwlimit`` syntax
            (:mod:`openmsi_gui.engine.bandwidth`; "" for none).
        expected_destinations: names of the destinations that must confirm each
            file by a receipt (empty: none is expected; see
            :mod:`openmsi_gui.engine.confirmation`).
        delivery_deadline: seconds after it was sent by which an expected
            destination must have confirmed a file, else it is *Not confirmed*.
        resend_unconfirmed: send a file that is not confirmed again by itself
            (at most :data:`~openmsi_gui.engine.confirmation.MAX_AUTO_RESENDS` times).
        after_delivery: keep, move or delete a file once every expected
            destination confirmed it (:mod:`openmsi_gui.engine.after_delivery`).
        archive_folder: where MOVE puts files (same relative path).
        min_age: seconds a file stays at least before it is moved or deleted (0: none).
        metadata: fixed fields sent with every file (instrument, lab, operator...).
        metadata_from_path: a regular expression whose named groups, matched
            against a file's relative path, become fields ("" for none).
        current_sample: the "current sample / run" the technician set from the
            tray ("" for none); sent as the ``sample`` field.
        require_sample: files wait until a current sample is set.
        enabled: watched at all.
        paused: watched, but sending is held back.
    """

    id: str = field(default_factory=new_id)
    path: str = ""
    profile_id: str = ""
    topic: str = ""
    include_globs: list[str] = field(default_factory=list)
    exclude_globs: list[str] = field(default_factory=list)
    skip_temporary: bool = True
    skip_hidden: bool = True
    include_regex: str = ""
    exclude_regex: str = ""
    chunk_size: int = wire.DEFAULT_CHUNK_SIZE
    upload_existing: bool = False
    added_at: float = field(default_factory=time.time)
    stable_seconds: float = 3.0
    polling: bool = False
    bwlimit: str = ""
    expected_destinations: list[str] = field(default_factory=list)
    delivery_deadline: float = DEFAULT_DELIVERY_DEADLINE
    resend_unconfirmed: bool = False
    after_delivery: AfterAction = AfterAction.KEEP
    archive_folder: str = ""
    min_age: float = 0.0
    metadata: dict[str, str] = field(default_factory=dict)
    metadata_from_path: str = ""
    current_sample: str = ""
    require_sample: bool = False
    enabled: bool = True
    paused: bool = False

    def __post_init__(self) -> None:
        if not MIN_DELIVERY_DEADLINE <= self.delivery_deadline <= MAX_DELIVERY_DEADLINE:
            raise SettingsError(f"folders.delivery_deadline should be between "
                                f"{MIN_DELIVERY_DEADLINE:g} and {MAX_DELIVERY_DEADLINE:g} "
                                "seconds")
        self.after_delivery = AfterAction(self.after_delivery)
        if not 0 <= self.min_age <= MAX_DELIVERY_DEADLINE:
            raise SettingsError(f"folders.min_age should be between 0 and "
                                f"{MAX_DELIVERY_DEADLINE:g} seconds")


@dataclass
class Destination:
    """A topic consumed into a local folder or an S3 bucket.

    Attributes:
        id: stable identifier.
        kind: a local folder or an S3 bucket.
        path: destination folder (kind ``folder``).
        profile_id: which :class:`BrokerProfile` to use.
        topic: topic to consume.
        group_id: consumer group; downloaders sharing it share the files.
        bucket: S3 bucket (kind ``s3``).
        prefix: S3 key prefix (kind ``s3``).
        endpoint_url: S3 endpoint (kind ``s3``; "" for AWS).
        region: S3 region (kind ``s3``; "" for the SDK default).
        access_key_id: S3 access key (kind ``s3``; "" for the SDK's usual
            sources); its secret is in the keychain, never here.
        bwlimit: bandwidth limit for this destination in rclone's ``--bwlimit``
            syntax ("" for none).
        receipts: send a signed delivery receipt for every file stored or failed.
        receipt_name: the destination's name in its receipts and pairing code
            ("" for ``<hostname>:<folder or bucket>``).
        receipts_topic: where receipts go ("" for ``<topic>.receipts``).
        processor: what runs after each file: nothing, a command or a plugin.
        processor_command: the command template (``{path}``, ``{relpath}``,
            ``{topic}``, ``{sha512}``, ``{metadata_json}``).
        processor_plugin: the plugin's entry-point name.
        processor_timeout: seconds one file's processing may take.
        processor_memory: the processor's memory limit as written: ``2G``, ``512M``,
            ``none``, or "" for its kind's default (2 GiB for a plugin, none for a
            command); enforced on Linux only.
        results_topic: where processing results go as JSON ("" for nowhere).
        sidecar: write the file's metadata as ``<name>.metadata.json`` beside it.
        download_regex: take only files whose relative path matches ("" for all).
        enabled: consumed at all.
        paused: connected, but not fetching.
    """

    id: str = field(default_factory=new_id)
    kind: DestinationKind = DestinationKind.FOLDER
    path: str = ""
    profile_id: str = ""
    topic: str = ""
    group_id: str = ""
    bucket: str = ""
    prefix: str = ""
    endpoint_url: str = ""
    region: str = ""
    access_key_id: str = ""
    bwlimit: str = ""
    receipts: bool = True
    receipt_name: str = ""
    receipts_topic: str = ""
    processor: ProcessorKind = ProcessorKind.NONE
    processor_command: str = ""
    processor_plugin: str = ""
    processor_timeout: float = 60.0
    processor_memory: str = ""
    results_topic: str = ""
    sidecar: bool = False
    download_regex: str = ""
    enabled: bool = True
    paused: bool = False

    def __post_init__(self) -> None:
        self.kind = DestinationKind(self.kind)
        self.processor = ProcessorKind(self.processor)

    def processor_spec(self) -> ProcessorSpec:
        """What runs after each file, as the engine takes it.

        A memory limit that cannot be read (a hand-edited file) is the kind's default;
        the destination form says what is wrong with it.
        """
        try:
            memory = parse_memory_limit(self.processor_memory)
        except MemoryLimitError:
            memory = None
        return ProcessorSpec(self.processor, self.processor_command, self.processor_plugin,
                             self.processor_timeout, self.results_topic, memory)


@dataclass
class UiSettings:
    """Preferences of the tray application.

    Attributes:
        theme: ``system`` follows the OS, or force ``light`` / ``dark``.
        notify_failures: desktop notification when a file fails.
        notify_completions: desktop notification when a file completes.
        first_run_done: the first-run wizard has been completed or skipped.
        start_on_login: start the app when the user logs in.
        stall_minutes: a file without progress this long, while the broker
            answers, is shown as stalled (at least :data:`MIN_STALL_MINUTES`).
    """

    theme: Theme = Theme.SYSTEM
    notify_failures: bool = True
    notify_completions: bool = False
    first_run_done: bool = False
    start_on_login: bool = False
    stall_minutes: float = 2.0

    def __post_init__(self) -> None:
        self.theme = Theme(self.theme)
        if not MIN_STALL_MINUTES <= self.stall_minutes <= MAX_STALL_MINUTES:
            raise SettingsError(f"ui.stall_minutes should be between {MIN_STALL_MINUTES:g} "
                                f"and {MAX_STALL_MINUTES:g}")


@dataclass
class BandwidthSettings:
    """The app-wide bandwidth limit, in rclone's ``--bwlimit`` syntax.

    Attributes:
        limit: shared by every folder and destination ("" for none); each of
            them may also have its own.
        preset: the limit "Limit bandwidth now" applies instead of ``limit``.
        limit_now: "Limit bandwidth now" is on (kept across restarts).
    """

    limit: str = ""
    preset: str = "1M"
    limit_now: bool = False


@dataclass
class Settings:
    """Everything the user configured."""

    schema_version: int = SCHEMA_VERSION
    profiles: list[BrokerProfile] = field(default_factory=list)
    folders: list[WatchedFolder] = field(default_factory=list)
    destinations: list[Destination] = field(default_factory=list)
    ui: UiSettings = field(default_factory=UiSettings)
    bandwidth: BandwidthSettings = field(default_factory=BandwidthSettings)
    lab: LabSettings = field(default_factory=LabSettings)

    def profile(self, profile_id: str) -> BrokerProfile | None:
        """The profile with this id, if any."""
        return next((p for p in self.profiles if p.id == profile_id), None)

    def copy(self) -> Settings:
        """A deep copy to edit without touching the live settings."""
        return copy.deepcopy(self)


# -- migrations -----------------------------------------------------------------


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}
"""``MIGRATIONS[n]`` upgrades a settings dict from version n to n + 1.

Rule: adding a field with a default needs no migration; renaming, removing or
changing the meaning of one bumps :data:`SCHEMA_VERSION` and adds a function here.
"""


MIGRATIONS[1] = settings_migrations.v1_to_v2


_LIMIT_FIELDS = {("WatchedFolder", "bwlimit"), ("Destination", "bwlimit"),
                 ("BandwidthSettings", "limit"), ("BandwidthSettings", "preset")}
"""Fields holding a bandwidth limit, checked when the file loads."""


class SettingsError(ValueError):
    """A settings file that cannot be read; the message says what to do."""


_T = TypeVar("_T")


def _build(cls: type[_T], data: dict[str, Any]) -> _T:
    """Make a dataclass from a dict, ignoring unknown keys and type-checking known ones."""
    defaults = cls()
    values: dict[str, Any] = {}
    for name, value in data.items():
        if not hasattr(defaults, name):
            log.warning("settings: ignoring unknown field %s.%s", cls.__name__, name)
            continue
        values[name] = _checked(cls.__name__, name, getattr(defaults, name), value)
    return cls(**values)


def _checked_choice(owner: str, name: str, default: enum.Enum, value: Any) -> enum.Enum:
    """One of ``default``'s enum, matched without regard to case or spaces (hand edits).

    An unknown theme falls back to the default (it only changes the look);
    an unknown protocol or destination kind cannot be guessed: SettingsError.
    """
    kind = type(default)
    wanted = str(value).strip().casefold() if isinstance(value, str) else None
    for member in kind:
        if str(member.value).casefold() == wanted:
            return member
    choices = ", ".join(str(member.value) for member in kind)
    if isinstance(default, (Theme, AfterAction)):  # safe defaults: the look, keeping files
        log.warning("settings: %s.%s %r is not one of %s; using %s", owner, name, value,
                    choices, default.value)
        return default
    raise SettingsError(f"{owner}.{name} should be one of {choices}")


def _checked(owner: str, name: str, default: Any, value: Any) -> Any:
    """``value`` converted to the type of ``default``, or SettingsError."""
    if isinstance(default, enum.Enum):
        return _checked_choice(owner, name, default, value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise SettingsError(f"{owner}.{name} should be true or false")
        return value
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError(f"{owner}.{name} should be a number")
        if isinstance(default, int) and value != int(value):
            raise SettingsError(f"{owner}.{name} should be a whole number")
        return type(default)(value)
    if isinstance(default, str) and not isinstance(value, str):
        raise SettingsError(f"{owner}.{name} should be text")
    if (owner, name) in _LIMIT_FIELDS:
        try:
            Timetable.parse(value)
        except BandwidthError as exc:
            raise SettingsError(f"{owner}.{name}: {exc}") from exc
    if isinstance(default, list) and (
            not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
        raise SettingsError(f"{owner}.{name} should be a list of texts")
    return value


def from_dict(data: dict[str, Any]) -> Settings:
    """Upgrade and parse a settings dict.

    Raises:
        SettingsError: if it is from a newer version or malformed.
    """
    version = int(data.get("schema_version", 1))
    if version > SCHEMA_VERSION:
        raise SettingsError(f"the settings were written by a newer version (schema {version}); "
                            "update OpenMSI GUI")
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
    try:
        return Settings(
            schema_version=SCHEMA_VERSION,
            profiles=[_build(BrokerProfile, p) for p in data.get("profiles", [])],
            folders=[_build(WatchedFolder, f) for f in data.get("folders", [])],
            destinations=[_build(Destination, d) for d in data.get("destinations", [])],
            ui=_build(UiSettings, data.get("ui", {})),
            bandwidth=_build(BandwidthSettings, data.get("bandwidth", {})),
            lab=_build(LabSettings, data.get("lab", {})),
        )
    except (TypeError, AttributeError) as exc:
        raise SettingsError(f"the settings file is malformed: {exc}") from exc


def to_dict(settings: Settings) -> dict[str, Any]:
    """The JSON-ready form of ``settings``."""
    return dataclasses.asdict(settings)


def default_config_dir() -> Path:
    """The per-user config folder (``$OPENMSI_GUI_CONFIG_DIR`` overrides it)."""
    override = os.environ.get("OPENMSI_GUI_CONFIG_DIR")
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


Listener = Callable[[Settings], None]


class SettingsStore:
    """Load, save and share the settings; tells listeners about every change.

    Args:
        path: the JSON file; defaults to ``settings.json`` in :func:`default_config_dir`.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_config_dir() / "settings.json"
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._settings = self._load()

    @property
    def settings(self) -> Settings:
        """A copy of the current settings (edit it, then :meth:`update`)."""
        with self._lock:
            return self._settings.copy()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(settings)`` after every :meth:`update`; return an unsubscriber."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def update(self, settings: Settings) -> None:
        """Replace, save (atomically) and announce the settings."""
        with self._lock:
            self._settings = settings.copy()
            self._write(self._settings)
        for listener in list(self._listeners):
            try:
                listener(settings.copy())
            except Exception:  # one broken listener must not stop the others
                log.exception("settings listener %r failed", listener)

    def _load(self) -> Settings:
        if not self.path.exists():
            return Settings()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SettingsError(f"cannot read {self.path}: {exc}; fix or delete it") from exc
        if not isinstance(data, dict):
            raise SettingsError(f"{self.path} is not a settings file; fix or delete it")
        version = int(data.get("schema_version", 1))
        settings = from_dict(data)
        if version < SCHEMA_VERSION:
            backup = self.path.with_name(f"{self.path.name}.v{version}.bak")
            backup.write_bytes(self.path.read_bytes())
            log.info("settings upgraded from schema %d to %d (backup: %s)", version,
                     SCHEMA_VERSION, backup)
            self._write(settings)
        return settings

    def _write(self, settings: Settings) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{self.path.name}.tmp")
        temp.write_text(json.dumps(to_dict(settings), indent=2, ensure_ascii=False),
                        encoding="utf-8")
        os.replace(temp, self.path)
