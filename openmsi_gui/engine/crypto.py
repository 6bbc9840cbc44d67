"""End-to-end encryption of chunk messages with KafkaCrypto, as OpenMSIStream does it.

A message on an encrypted topic carries the same key and value bytes as a plain
one (see :mod:`openmsi_gui.engine.wire`), each sealed by KafkaCrypto's
serializer: ``0x01`` followed by a msgpack array ``[key index, salt,
secretbox]``. The symmetric keys never travel in the clear: producers answer
key requests from consumers whose signed chain allows the topic, through three
key-exchange topics named after the topic's *root* (the part before the first
"."): ``<root>.keys``, ``<root>.reqs`` and ``<root>.subs``.

One KafkaCrypto instance runs per node and process. It owns a producer and a
consumer for the key-exchange topics and a management thread; every cipher on
the same node shares it. Its Kafka clients are built from the job's
:class:`~openmsi_gui.engine.kafka_config.KafkaConfig` ``[broker]`` settings
(TLS, SASL and all), so the broker is configured once. The
``[<node_id>-kafka*]`` sections of the node's ``.config`` are ignored and the
file is never rewritten for connection settings (OpenMSIStream rewrites it on
every start); KafkaCrypto itself still writes it when it must, e.g. to keep this
producer's past keys so that late consumers can still get them.

kafkacrypto is GPL-2.0-only and optional (the bundled app leaves it out), so it
is imported only when a cipher is made; :class:`CryptoSetupError` explains how
to install it when it is missing.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Hashable
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import msgpack

from openmsi_gui.engine import wire
from openmsi_gui.engine.crypto_node import (
    INSTALL_HINT,
    CryptoSetupError,
    EncryptionNotInstalled,
    NodeFiles,
    NodeStore,
    check_access,
    file_value,
    kafkacrypto_available,
    kafkacrypto_module,
    not_found,
    warn_if_shared,
)
from openmsi_gui.engine.kafka_config import (
    CONSUMER_DEFAULTS,
    CryptoNode,
    KafkaConfig,
)

log = logging.getLogger(__name__)

DEFAULT_DECRYPT_WAIT = 5.0
"""Seconds a decryption waits for the keys of a key index it has not seen before."""
_RETRY_INTERVAL = 0.1
_KEY_WAIT_INTERVAL = 0.05  # KafkaCrypto's own first wait: 9 of these at most
_PRODUCE_TIMEOUT = 5.0  # seconds KafkaCrypto's producer may block on flush (close)
_SAVE_TIMEOUT = 10.0  # seconds close() waits for new producer keys to be saved
KEY_TOPIC_SUFFIXES = (".keys", ".reqs", ".subs")
MAGIC = 0x01  # first byte of every KafkaCrypto ciphertext


class KeysNotReady(Exception):
    """A message that cannot be decrypted *yet*: its key has not arrived.

    Keep the message and try again later: KafkaCrypto keeps asking the producing
    node for the key. It arrives once that node is online and this node is
    allowed the topic.

    Attributes:
        topic: the message's topic.
        key_index: hex prefix of the key index the message was sealed with.
    """

    def __init__(self, topic: str, key_index: str) -> None:
        super().__init__(
            f"waiting for the decryption key {key_index} of topic {topic!r}: it comes from the "
            f"producing node once that is online, if this node is provisioned for "
            f"{root_topic(topic)!r} and {', '.join(key_topics(topic))} exist")
        self.topic = topic
        self.key_index = key_index


class NotEncrypted(wire.BadMessage):
    """A message that no key will ever decrypt: plain text, or corrupt ciphertext."""


class EncryptionFailed(RuntimeError):
    """KafkaCrypto could not seal a message (e.g. its seed file is unusable)."""


class MessageCipher(Protocol):
    """Seals and opens chunk messages (key and value) for one node."""

    def encrypt(self, topic: str, key: bytes, value: bytes) -> tuple[bytes, bytes]:
        """The sealed ``(key, value)`` to produce to ``topic``.

        Raises:
            EncryptionFailed: if the message cannot be sealed.
        """

    def decrypt(self, topic: str, key: bytes, value: bytes,
                wait: float | None = None) -> tuple[bytes, bytes]:
        """The plain ``(key, value)`` of a message consumed from ``topic``.

        Raises:
            KeysNotReady: the key has not arrived within the wait; retry later.
            NotEncrypted: the message can never be decrypted.
        """

    def serve_keys(self, topic: str) -> None:
        """Answer key requests for ``topic`` now, before the first :meth:`encrypt`."""

    def close(self) -> None:
        """Release the node (idempotent)."""


def root_topic(topic: str) -> str:
    """The part of ``topic`` that names its key-exchange topics (before the first ".")."""
    return topic.split(".", 1)[0]


def key_topics(topic: str) -> list[str]:
    """The key-exchange topics of ``topic``: ``<root>.keys``, ``.reqs`` and ``.subs``.

    KafkaCrypto names them after the topic's root, so ``lab.raw`` and ``lab.proc``
    share ``lab.keys``, ``lab.reqs`` and ``lab.subs``.
    """
    root = root_topic(topic)
    return [root + suffix for suffix in KEY_TOPIC_SUFFIXES]


# -- the shared KafkaCrypto engine ------------------------------------------------


class _LibrdkafkaLog:
    """Route librdkafka's log lines for the key-exchange clients to our debug log."""

    def log(self, level: int, fmt: str, *args: object) -> None:
        log.debug(fmt, *args)


def _client_settings(config: KafkaConfig, node_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Producer and consumer settings for KafkaCrypto's key-exchange clients."""
    common: dict[str, Any] = {**config.client_settings(), "logger": _LibrdkafkaLog(),
                              "error_cb": lambda err: log.debug("key exchange: %s", err)}
    producer = {**common, "linger.ms": "5", "produce_timeout": _PRODUCE_TIMEOUT}
    consumer = {key: CONSUMER_DEFAULTS[key] for key in (
        "session.timeout.ms", "heartbeat.interval.ms", "allow.auto.create.topics")}
    consumer.update(common)
    # Key topics are assigned (no group join); the group only keeps offsets, as
    # KafkaCrypto's own default "<node_id>.kafkacrypto". Earliest: a request or key
    # sent before our assignment is still read.
    consumer.update({"group.id": f"{node_id}.kafkacrypto", "auto.offset.reset": "earliest",
                     "enable.auto.commit": "true"})
    return producer, consumer


class _Engine:
    """One running KafkaCrypto for one node in this process."""

    def __init__(self, node: CryptoNode, config: KafkaConfig) -> None:
        if node.config_file is None:
            raise not_found(node)
        kc = kafkacrypto_module()
        key_mod = kafkacrypto_module("kafkacrypto.cryptokey")
        ratchet_mod = kafkacrypto_module("kafkacrypto.ratchet")
        self.node_id = node.node_id  # until the file says
        self.broker = dict(config.broker)
        self.refs = 0
        self._lock = threading.Lock()
        self._first_seen: dict[tuple[str, Hashable], float] = {}
        self._node_store: NodeStore | None = None
        self._store: Any = None
        self._seed: Any = None
        self._producer: Any = None
        self._consumer: Any = None
        self._crypto: Any = None
        path = node.config_file
        check_access(path, "the node settings file")
        try:
            self._node_store = NodeStore(path)
            self._store = self._node_store.store
        except BlockingIOError as exc:
            raise CryptoSetupError(
                f"the encryption node in {path.parent} is in use by another program (another "
                "OpenMSI or OpenMSIStream): stop it, or provision a node for each program"
            ) from exc
        except PermissionError as exc:
            raise CryptoSetupError(f"cannot open {path}: permission denied") from exc
        except Exception as exc:
            raise CryptoSetupError(
                f"{path} is not a KafkaCrypto node config ({exc}): provision the node again"
            ) from exc
        try:
            self.node_id = str(self._store.get_nodeID())
            if node.node_id != self.node_id:
                raise CryptoSetupError(f"{path} belongs to node {self.node_id!r}, not "
                                       f"{node.node_id!r}: check [kafkacrypto] node_id")
            files = NodeFiles(
                self.node_id, path,
                file_value(self._store, "cryptokey", path.parent / f"{self.node_id}.crypto"),
                file_value(self._store, "ratchet", path.parent / f"{self.node_id}.seed"))
            for secret, what in ((files.cryptokey, "the private key file"),
                                 (files.seed, "the key seed file")):
                check_access(secret, what)
                warn_if_shared(secret)
            self.files = files
            keytypes = self._store.load_value("keytypes")
            if isinstance(keytypes, int):
                keytypes = [keytypes]
            elif isinstance(keytypes, str):
                keytypes = [int(k) for k in keytypes.split(",") if k.strip()]
            try:
                cryptokey = key_mod.CryptoKey(file=str(files.cryptokey), keytypes=keytypes)
                self._seed = ratchet_mod.Ratchet(file=str(files.seed))
            except Exception as exc:
                raise CryptoSetupError(
                    f"the node files in {path.parent} are damaged ({exc!r}): restore them or "
                    "provision the node again") from exc
            producer, consumer = _client_settings(config, self.node_id)
            try:
                self._producer = kc.KafkaProducer(**producer)
                self._consumer = kc.KafkaConsumer(**consumer)
            except Exception as exc:
                raise CryptoSetupError(
                    f"the key-exchange connection cannot be set up: {exc}") from exc
            try:
                self._crypto = kc.KafkaCrypto(None, self._producer, self._consumer,
                                              config=self._store, cryptokey=cryptokey,
                                              seed=self._seed)
            except Exception as exc:
                raise CryptoSetupError(
                    f"KafkaCrypto refused node {self.node_id!r} in {path.parent}: {exc}"
                ) from exc
        except BaseException:
            self.close()
            raise
        thread = getattr(self._crypto, "_mgmt_thread", None)
        if isinstance(thread, threading.Thread):
            thread.name = f"kafkacrypto-{self.node_id}"
        self.key_serializer = self._crypto.getKeySerializer()
        self.value_serializer = self._crypto.getValueSerializer()
        self.key_deserializer = self._crypto.getKeyDeserializer(0, _KEY_WAIT_INTERVAL)
        self.value_deserializer = self._crypto.getValueDeserializer(0, _KEY_WAIT_INTERVAL)
        log.info("encryption node %s started (%s)", self.node_id, path.parent)

    def close(self) -> None:
        """Stop the management thread and the key-exchange clients, release the files."""
        crypto, self._crypto = self._crypto, None
        if crypto is not None:
            # A new producer key is saved (in the .config) by the management thread's
            # next round; stopping before it would leave messages no one can ever open.
            deadline = time.monotonic() + _SAVE_TIMEOUT
            while getattr(crypto, "_new_pgens", False) and time.monotonic() < deadline:
                time.sleep(0.05)
            try:
                crypto.close()  # joins the thread; flushes the producer; commits
            except Exception:
                log.exception("closing KafkaCrypto for node %s", self.node_id)
        elif self._producer is not None:
            with contextlib.suppress(Exception):
                self._producer.flush(1.0)
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            from confluent_kafka import Consumer

            with contextlib.suppress(Exception):
                Consumer.close(consumer)  # kafkacrypto's close() leaves the consumer open
        self._producer = None
        seed, self._seed = self._seed, None
        if seed is not None:
            with contextlib.suppress(Exception):
                seed.close()
        node_store, self._node_store = self._node_store, None
        self._store = None
        if node_store is not None:
            node_store.close()

    def deadline(self, root: str, key_index: Hashable, wait: float) -> float:
        """When waiting for ``key_index`` must end: ``wait`` after it was first seen."""
        with self._lock:
            first = self._first_seen.setdefault((root, key_index), time.monotonic())
        return first + wait

    def forget(self, root: str, key_index: Hashable) -> None:
        with self._lock:
            self._first_seen.pop((root, key_index), None)

    def has_key(self, root: str, key_index: Hashable) -> bool:
        """Whether KafkaCrypto holds the key for ``key_index`` (private state, read only)."""
        gens = getattr(self._crypto, "_cgens", None)
        return isinstance(gens, dict) and key_index in gens.get(root, {})


_ENGINES: dict[Path, _Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _acquire(node: CryptoNode, config: KafkaConfig) -> _Engine:
    if node.config_file is None:
        raise not_found(node)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(node.config_file)
        if engine is None:
            engine = _Engine(node, config)
            _ENGINES[node.config_file] = engine
        elif engine.broker != config.broker:
            raise CryptoSetupError(
                f"encryption node {engine.node_id!r} is already in use with other broker "
                "settings: provision a separate node for each broker")
        engine.refs += 1
        return engine


def _release(engine: _Engine) -> None:
    with _ENGINES_LOCK:
        engine.refs -= 1
        if engine.refs > 0:
            return
        _ENGINES.pop(engine.files.config, None)
    engine.close()


# -- the cipher ------------------------------------------------------------------------


def _key_index(data: bytes) -> Hashable:
    """The key index a KafkaCrypto ciphertext names.

    Raises:
        NotEncrypted: if ``data`` is not KafkaCrypto ciphertext.
    """
    if len(data) < 2 or data[0] != MAGIC:
        raise NotEncrypted("the message is not encrypted with KafkaCrypto (plain text on an "
                           "encrypted topic?)")
    try:
        fields = msgpack.unpackb(data[1:], raw=True)
    except Exception as exc:
        raise NotEncrypted("the message is not valid KafkaCrypto ciphertext") from exc
    if not isinstance(fields, list) or len(fields) != 3 or not isinstance(
            fields[0], bytes | int):
        raise NotEncrypted("the message is not valid KafkaCrypto ciphertext")
    index: Hashable = fields[0]
    return index


def is_ciphertext(data: bytes | None) -> bool:
    """Whether ``data`` is a KafkaCrypto ciphertext (recognised without a node or its keys).

    A plain chunk value is a msgpack array (first byte ``0x99`` or ``0x9a``), so it
    is never taken for one.
    """
    try:
        _key_index(data or b"")
    except NotEncrypted:
        return False
    return True


def _show(key_index: Hashable) -> str:
    return key_index[:6].hex() if isinstance(key_index, bytes) else str(key_index)


class KafkaCryptoCipher:
    """A :class:`MessageCipher` backed by a provisioned KafkaCrypto node.

    Ciphers on the same node share one KafkaCrypto (and its threads); the last
    :meth:`close` stops it. Thread-safe.

    Args:
        node: the node (``KafkaConfig.crypto``).
        config: broker settings for the key-exchange clients.
        decrypt_wait: seconds :meth:`decrypt` waits for the key of a key index
            it has not seen before; later messages with that index wait only
            for what is left of it.

    Raises:
        CryptoSetupError: kafkacrypto is missing, or the node cannot be used.
    """

    def __init__(self, node: CryptoNode, config: KafkaConfig, *,
                 decrypt_wait: float = DEFAULT_DECRYPT_WAIT) -> None:
        self.decrypt_wait = decrypt_wait
        self._engine: _Engine | None = _acquire(node, config)
        self.node_id = self._engine.node_id

    def __enter__(self) -> KafkaCryptoCipher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _running(self) -> _Engine:
        if self._engine is None:
            raise RuntimeError("the cipher is closed")
        return self._engine

    def encrypt(self, topic: str, key: bytes, value: bytes) -> tuple[bytes, bytes]:
        """The sealed ``(key, value)`` to produce to ``topic``.

        Raises:
            EncryptionFailed: if KafkaCrypto cannot seal it.
        """
        engine = self._running()
        try:
            sealed_key = engine.key_serializer.serialize(topic, key)
            sealed_value = engine.value_serializer.serialize(topic, value)
        except Exception as exc:  # its serializer fails with UnboundLocalError
            raise EncryptionFailed(f"could not encrypt for topic {topic!r}: see the log for "
                                   "KafkaCrypto's reason (is the node's .seed file usable?)"
                                   ) from exc
        for sealed in (sealed_key, sealed_value):
            if not isinstance(sealed, bytes) or sealed[:1] != bytes([MAGIC]):
                raise EncryptionFailed(f"could not encrypt for topic {topic!r}")
        return sealed_key, sealed_value

    def serve_keys(self, topic: str) -> None:
        """Start answering key requests for ``topic`` before anything is sent.

        A producer node only listens for key requests on a topic once it has
        encrypted for it; calling this at start-up also serves consumers still
        waiting for keys this node used in earlier runs.
        """
        self.encrypt(topic, b"", b"")

    def decrypt(self, topic: str, key: bytes, value: bytes,
                wait: float | None = None) -> tuple[bytes, bytes]:
        """The plain ``(key, value)`` of a message consumed from ``topic``.

        The first message sealed with a key index that has not been seen waits
        up to ``wait`` seconds (default :attr:`decrypt_wait`) for its key; later
        ones wait only for what is left, so a batch of undecryptable messages
        costs one wait, not one each. ``wait=0`` tries once (retries).

        Raises:
            KeysNotReady: the key is not here yet: keep the message, retry later.
            NotEncrypted: the message is plain text or corrupt: no key will help.
        """
        engine = self._running()
        root = root_topic(topic)
        key_index = _key_index(value)
        _key_index(key)
        deadline = engine.deadline(root, key_index, self.decrypt_wait if wait is None else wait)
        while True:
            opened = self._try_decrypt(engine, topic, key, value)
            if opened is not None:
                engine.forget(root, key_index)
                return opened
            if engine.has_key(root, key_index):
                opened = self._try_decrypt(engine, topic, key, value)  # it may just have come
                if opened is not None:
                    return opened
                raise NotEncrypted(f"a message on {topic!r} does not decrypt with the key it "
                                   "names: it is corrupt or was tampered with")
            left = deadline - time.monotonic()
            if left <= 0:
                raise KeysNotReady(topic, _show(key_index))
            time.sleep(min(_RETRY_INTERVAL, left))

    @staticmethod
    def _try_decrypt(engine: _Engine, topic: str, key: bytes,
                     value: bytes) -> tuple[bytes, bytes] | None:
        opened: list[bytes] = []
        for deserializer, data in ((engine.key_deserializer, key),
                                   (engine.value_deserializer, value)):
            message = deserializer.deserialize(topic, data)
            if not message.isCleartext(retry=False):
                if not message.isPossiblyDecryptable():
                    raise NotEncrypted("the message is not KafkaCrypto ciphertext")
                return None
            opened.append(bytes(message.getMessage(retry=False)))
        return opened[0], opened[1]

    def close(self) -> None:
        """Release the node; the last cipher on it stops KafkaCrypto (idempotent)."""
        engine, self._engine = self._engine, None
        if engine is not None:
            _release(engine)


def cipher_for(config: KafkaConfig, *,
               decrypt_wait: float = DEFAULT_DECRYPT_WAIT) -> KafkaCryptoCipher | None:
    """The cipher a job on ``config`` must use, or None if it has no ``[kafkacrypto]`` node.

    Raises:
        CryptoSetupError: the config names a node that cannot be used.
    """
    if config.crypto is None:
        return None
    return KafkaCryptoCipher(config.crypto, config, decrypt_wait=decrypt_wait)


__all__ = [
    "INSTALL_HINT",
    "CryptoSetupError",
    "EncryptionFailed",
    "EncryptionNotInstalled",
    "KafkaCryptoCipher",
    "KeysNotReady",
    "MessageCipher",
    "NodeFiles",
    "NodeStore",
    "NotEncrypted",
    "cipher_for",
    "is_ciphertext",
    "kafkacrypto_available",
    "kafkacrypto_module",
    "key_topics",
    "root_topic",
]
