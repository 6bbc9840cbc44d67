"""Read OpenMSIStream-style INI config files into librdkafka settings.

The same file drives both tools::

    [broker]
    bootstrap.servers = $KAFKA_BOOTSTRAP   ; "$NAME" values come from the environment
    [producer]
    linger.ms = 100
    [consumer]
    group.id = create_new                 ; a fresh UUID each run
    auto.offset.reset = earliest          ; "none" removes the setting
    [kafkacrypto]
    node_id = lab_node                    ; end-to-end encryption (see CryptoNode)

OpenMSIStream's Python-side keys (serializer names) are dropped, and our own
client defaults fill in what the file does not say.
"""

from __future__ import annotations

import configparser
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_PYTHON_ONLY_KEYS = {"key.serializer", "value.serializer", "key.deserializer", "value.deserializer"}

_CLIENT_DEFAULTS: dict[str, str] = {
    # A broker that comes back is used again within seconds (librdkafka's default: 10 s).
    "reconnect.backoff.max.ms": "2000",
}
PRODUCER_DEFAULTS: dict[str, str] = {
    **_CLIENT_DEFAULTS,
    # Chunks wait for a broker that is away however long it takes ("files wait"), as
    # librdkafka retries; stopping does not wait for them (see Uploader.stop).
    "message.timeout.ms": "0",
    "linger.ms": "20",
    "batch.size": "2000000",
    "acks": "all",
    "enable.idempotence": "false",
    "queue.buffering.max.kbytes": "131072",
    "message.max.bytes": str(64 * 1024 * 1024),
    "allow.auto.create.topics": "false",
}
CONSUMER_DEFAULTS: dict[str, str] = {
    **_CLIENT_DEFAULTS,
    "auto.offset.reset": "earliest",
    "session.timeout.ms": "6000",
    "heartbeat.interval.ms": "1000",
    "fetch.max.bytes": str(32 * 1024 * 1024),
    "max.partition.fetch.bytes": str(16 * 1024 * 1024),
    "receive.message.max.bytes": str(128 * 1024 * 1024),
    "queued.max.messages.kbytes": "65536",
    "queued.min.messages": "2000",
    "allow.auto.create.topics": "false",
}


# Where librdkafka's ``ssl.ca.location=probe`` finds the system's trusted authorities
# (the list in librdkafka's rdkafka_ssl.c): Linux distributions, BSDs, macOS, Homebrew.
CA_PROBE_PATHS: tuple[str, ...] = (
    "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-bundle.crt",
    "/etc/pki/tls/certs/ca-bundle.trust.crt", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem", "/etc/pki/tls/cacert.pem", "/etc/ssl/cert.pem",
    "/etc/ssl/cacert.pem", "/etc/certs/ca-certificates.crt",
    "/etc/ssl/certs/ca-certificates.crt", "/usr/local/etc/ssl/cert.pem",
    "/usr/local/etc/ssl/cacert.pem", "/usr/local/share/certs/ca-root-nss.crt",
    "/etc/openssl/certs/ca-certificates.crt", "/private/etc/ssl/cert.pem",
    "/opt/homebrew/etc/openssl@3/cert.pem", "/usr/local/etc/openssl@3/cert.pem",
)
_CA_KEYS = ("ssl.ca.location", "ssl.ca.pem", "ssl.ca.certificate.stores")


def certifi_bundle() -> str | None:
    """certifi's bundle of trusted authorities (shipped in the installers), if installed."""
    try:
        import certifi
    except ImportError:
        return None
    path = certifi.where()
    return path if os.path.isfile(path) else None


def default_trust(settings: dict[str, str], platform: str = sys.platform,
                  exists: Callable[[str], bool] = os.path.exists,
                  fallback: Callable[[], str | None] = certifi_bundle) -> dict[str, str]:
    """Where to find trusted authorities when TLS is on and the config names none.

    Older systems refuse brokers' certificates when librdkafka looks for
    authorities where the system keeps none, and OpenMSIStream asks its users to
    set ``ssl.ca.location`` by hand. Instead: Windows' own Root store, the
    system's bundle wherever ``probe`` finds one, or else certifi's bundle.

    Args:
        settings: the librdkafka settings so far.
        platform: ``sys.platform``.
        exists: whether a path exists (tests pass a fake).
        fallback: the bundle to use when the system has none.

    Returns:
        The settings to add (none when TLS is off or a CA is already given).
    """
    if settings.get("security.protocol", "").upper() not in ("SSL", "SASL_SSL"):
        return {}
    if any(settings.get(key) for key in _CA_KEYS):
        return {}
    if platform == "win32":
        return {"ssl.ca.certificate.stores": "Root"}
    if any(exists(path) for path in CA_PROBE_PATHS):
        return {"ssl.ca.location": "probe"}
    bundle = fallback()
    return {"ssl.ca.location": bundle} if bundle else {}


def _with_trust(settings: dict[str, str]) -> dict[str, str]:
    return {**settings, **default_trust(settings)}


class ConfigError(ValueError):
    """A config file that cannot be used; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class CryptoNode:
    """The KafkaCrypto node named by a config's ``[kafkacrypto]`` section.

    A node is a folder ``<node_id>/`` holding ``<node_id>.config`` (settings and
    signed key chain), ``<node_id>.crypto`` (private key) and ``<node_id>.seed``
    (key ratchet), as OpenMSIStream and ``openmsi provision`` create them.

    Attributes:
        node_id: the node's name.
        config_file: the node's ``.config`` file, or None if it was not found.
        searched: the files looked for, in order (for error messages).
    """

    node_id: str
    config_file: Path | None
    searched: tuple[Path, ...] = ()

    @property
    def folder(self) -> Path | None:
        """The folder holding the node's files, if it was found."""
        return self.config_file.parent if self.config_file else None


def default_nodes_dir() -> Path:
    """Where ``openmsi provision`` puts nodes: ``<data dir>/kafkacrypto``."""
    from openmsi_gui.engine.registry import default_data_dir  # late: sqlite3 is not needed here

    return default_data_dir() / "kafkacrypto"


def node_search_dirs(ini: Path | None) -> list[Path]:
    """The folders searched for ``<node_id>/``, in order.

    As OpenMSIStream: ``$OPENMSISTREAM_CONFIG_FILE_DIR``, then the folder of the
    INI file naming the node; then our own :func:`default_nodes_dir`, then the
    current folder.
    """
    dirs: list[Path] = []
    env = os.environ.get("OPENMSISTREAM_CONFIG_FILE_DIR")
    if env:
        dirs.append(Path(env).expanduser())
    if ini is not None:
        dirs.append(ini.parent)
    dirs += [default_nodes_dir(), Path.cwd()]
    unique: list[Path] = []
    for folder in dirs:
        if folder.resolve() not in (u.resolve() for u in unique):
            unique.append(folder)
    return unique


def find_crypto_node(node_id: str = "", config_file: str = "",
                     ini: Path | None = None) -> CryptoNode:
    """Resolve ``[kafkacrypto] node_id`` or ``config_file`` to a :class:`CryptoNode`.

    ``config_file`` wins when both are given, as in OpenMSIStream. A relative
    ``config_file`` is taken from the INI file's folder, then the current folder.
    A node that is not found is returned with ``config_file=None``: using it
    fails later with the list of places searched.
    """
    if config_file:
        path = Path(config_file.removeprefix("file#")).expanduser()
        if path.is_absolute():
            candidates = [path]
        else:
            candidates = [ini.parent / path] if ini is not None else []
            candidates.append(Path.cwd() / path)
        found = next((c for c in candidates if c.is_file()), None)
        return CryptoNode(path.stem, found.resolve() if found else None, tuple(candidates))
    candidates = [d / node_id / f"{node_id}.config" for d in node_search_dirs(ini)]
    found = next((c for c in candidates if c.is_file()), None)
    return CryptoNode(node_id, found.resolve() if found else None, tuple(candidates))


@dataclass
class KafkaConfig:
    """librdkafka settings per client kind, plus the file's other sections.

    Attributes:
        broker: settings shared by every client (``[broker]``).
        producer: producer-only settings (``[producer]``).
        consumer: consumer-only settings (``[consumer]``).
        sections: every other section, e.g. ``kafkacrypto`` or ``s3``.
        unset: consumer keys the file set to ``none``: neither it nor our
            defaults set them.
        source: the file it came from, if any.
        crypto: the KafkaCrypto node for end-to-end encryption (``[kafkacrypto]``),
            or None for plain messages.
    """

    broker: dict[str, str] = field(default_factory=dict)
    producer: dict[str, str] = field(default_factory=dict)
    consumer: dict[str, str] = field(default_factory=dict)
    sections: dict[str, dict[str, str]] = field(default_factory=dict)
    unset: set[str] = field(default_factory=set)
    source: Path | None = None
    crypto: CryptoNode | None = None

    @classmethod
    def for_bootstrap(cls, bootstrap_servers: str) -> KafkaConfig:
        """A plaintext config for one broker address (demo, tests)."""
        return cls(broker={"bootstrap.servers": bootstrap_servers})

    @property
    def bootstrap_servers(self) -> str:
        """The ``bootstrap.servers`` value."""
        return self.broker.get("bootstrap.servers", "")

    def producer_settings(self) -> dict[str, str]:
        """Settings for a confluent-kafka ``Producer``."""
        return _with_trust({**PRODUCER_DEFAULTS, **self.broker, **self.producer})

    def consumer_settings(self, group_id: str | None = None) -> dict[str, str]:
        """Settings for a confluent-kafka ``Consumer``; offsets are always committed by us."""
        settings = {**CONSUMER_DEFAULTS, **self.broker, **self.consumer}
        if group_id:
            settings["group.id"] = group_id
        if settings.get("group.id", "create_new") == "create_new":
            settings["group.id"] = f"openmsi-{uuid.uuid4()}"
        for key in self.unset:
            settings.pop(key, None)
        settings["enable.auto.commit"] = "false"
        settings["enable.auto.offset.store"] = "false"
        return _with_trust(settings)

    def admin_settings(self) -> dict[str, str]:
        """Settings for an ``AdminClient``."""
        return _with_trust(dict(self.broker))

    def client_settings(self) -> dict[str, str]:
        """The broker settings every client needs (as ``[broker]``, with trusted authorities)."""
        return _with_trust(dict(self.broker))


def find_config(name_or_path: str | os.PathLike[str]) -> Path:
    """Locate a config as OpenMSIStream does: a path, or a bare name.

    A bare name (``local_broker`` or ``local_broker.config``) is looked up in
    ``$OPENMSISTREAM_CONFIG_FILE_DIR``.

    Raises:
        ConfigError: if no such file exists.
    """
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    folder = os.environ.get("OPENMSISTREAM_CONFIG_FILE_DIR")
    if folder and path.parent == Path("."):
        for candidate in (Path(folder) / path.name, Path(folder) / f"{path.name}.config"):
            if candidate.is_file():
                return candidate
    raise ConfigError(f"config file {str(name_or_path)!r} does not exist: check the --config path")


def _expand(value: str, section: str, key: str, path: Path) -> str:
    value = value.strip()
    if value.startswith("$"):
        name = value[1:].strip("{}")
        if name not in os.environ:
            raise ConfigError(
                f"{path.name}: [{section}] {key} refers to ${name}, which is not set: "
                f"export {name}=... before starting"
            )
        return os.environ[name]
    return value


FILTER_SECTION = "watch"
"""A watched folder's filters (``openmsi_gui.app.folder_ini``): no ``$ENV`` values there."""


def load_config(name_or_path: str | os.PathLike[str]) -> KafkaConfig:
    """Read an OpenMSIStream INI config file.

    Raises:
        ConfigError: if the file is missing, unreadable, malformed or lacks a broker.
    """
    path = find_config(name_or_path)
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep key case
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except PermissionError as exc:
        raise ConfigError(f"cannot read {path}: permission denied") from exc
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not a valid INI config: {exc}") from exc
    config = KafkaConfig(source=path)
    parser.remove_section(FILTER_SECTION)  # patterns, not settings: read by app.folder_ini
    for section in parser.sections():
        values: dict[str, str] = {}
        for key, raw in parser.items(section):
            if key in _PYTHON_ONLY_KEYS:
                continue
            value = _expand(raw, section, key, path)
            if key == "auto.offset.reset" and value.lower() == "none":
                config.unset.add(key)  # leave it to librdkafka (latest), as OpenMSIStream does
                continue
            values[key] = value
        if section == "broker":
            config.broker = values
        elif section == "producer":
            config.producer = values
        elif section == "consumer":
            config.consumer = values
        else:
            config.sections[section] = values
    if not config.bootstrap_servers:
        raise ConfigError(f"{path} has no [broker] bootstrap.servers: add the broker's host:port")
    crypto = config.sections.get("kafkacrypto", {})
    if crypto.get("node_id") or crypto.get("config_file"):
        config.crypto = find_crypto_node(crypto.get("node_id", ""),
                                         crypto.get("config_file", ""), path)
    return config
