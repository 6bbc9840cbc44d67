"""Provision KafkaCrypto nodes without prompts, and create their key-exchange topics.

A node gets the same three files OpenMSIStream's ``ProvisionNode`` (KafkaCrypto's
``simple-provision.py``) writes, in a folder ``<dest_dir>/<node_id>/``:

* ``<node_id>.config``: settings and the node's signed key chain (not secret);
* ``<node_id>.crypto``: the node's private signing key (secret);
* ``<node_id>.seed``: the seed of the producer key ratchet (secret).

Trust comes from two passwords shared by everyone provisioning nodes for the
same deployment: the *root of trust* (ROT) password, at least 12 characters,
and the *provisioning* password, at least 6. Both derive signing keys
(scrypt); neither is stored. The chain says what the node may do (its role)
and for which topics, so a node provisioned here works with nodes provisioned
by OpenMSIStream with the same passwords, and the other way round.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from openmsi_gui.engine import admin
from openmsi_gui.engine.crypto import (
    CryptoSetupError,
    NodeStore,
    kafkacrypto_module,
    key_topics,
    root_topic,
)
from openmsi_gui.engine.kafka_config import KafkaConfig

log = logging.getLogger(__name__)

ROLES: dict[str, str] = {"producer": "producer", "consumer": "consumer",
                         "both": "prodcon", "prodcon": "prodcon"}
"""Our role names and KafkaCrypto's."""
USAGES: dict[str, tuple[str, ...]] = {
    "producer": ("key-encrypt",),
    "consumer": ("key-encrypt-request", "key-encrypt-subscribe"),
    "prodcon": ("key-encrypt", "key-encrypt-request", "key-encrypt-subscribe"),
}
"""What a KafkaCrypto role may do: send keys; request or subscribe to keys."""
KEY_TYPES = {1: "Ed25519", 4: "Ed25519 + SLH-DSA-SHAKE-128f (post-quantum)"}
DEFAULT_LIFETIME = 316_224_000  # seconds: 10 years, as KafkaCrypto's and OpenMSIStream's tools
DEFAULT_PATHLEN = 1
MIN_ROT_PASSWORD = 12
MIN_PROVISIONING_PASSWORD = 6
ALL_TOPICS = "^.*$"
_NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class ProvisionError(ValueError):
    """Provisioning was refused; the message says what to change."""


def check_node_id(node_id: str) -> str:
    """Return ``node_id`` if it can name a node folder and its INI sections.

    Raises:
        ProvisionError: if it is empty or has characters other than letters,
            digits, ``_``, ``-`` and ``.`` (not first).
    """
    if not _NODE_ID.match(node_id) or node_id.endswith("."):
        raise ProvisionError(f"node id {node_id!r} is not usable: use letters, digits, '_', "
                             "'-' and '.', starting with a letter or digit")
    return node_id


def check_role(role: str) -> str:
    """KafkaCrypto's name for ``role`` (producer, consumer, both).

    Raises:
        ProvisionError: for an unknown role.
    """
    try:
        return ROLES[role.lower()]
    except KeyError:
        raise ProvisionError(f"role {role!r} is not one of producer, consumer, both") from None


def topic_roots(topics: Iterable[str] | None) -> list[str]:
    """The topic roots a node is limited to; ``["^.*$"]`` (every topic) if none."""
    roots = sorted({root_topic(t.strip()) for t in topics or () if t.strip()})
    return roots or [ALL_TOPICS]


@contextlib.contextmanager
def _quiet_kafkacrypto() -> Iterator[None]:
    """Hide kafkacrypto's warnings while it makes new files (they read as problems)."""
    logger = logging.getLogger("kafkacrypto")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _owner_only(path: Path, mode: int) -> None:
    if sys.platform != "win32":
        path.chmod(mode)


def _pack(obj: Any, default: Any) -> bytes:
    packed: bytes = msgpack.packb(obj, default=default, use_bin_type=True)
    return packed


def provision_node(node_id: str, role: str, topics: Sequence[str] | None, rot_password: str,
                   provisioning_password: str, dest_dir: Path, *, key_type: int = 1,
                   lifetime: float = DEFAULT_LIFETIME, pathlen: int = DEFAULT_PATHLEN,
                   overwrite: bool = False) -> Path:
    """Create a KafkaCrypto node in ``dest_dir/<node_id>/`` and return that folder.

    The folder is built beside its destination and renamed into place once
    complete, so a failure leaves nothing half-written. It is owner-only (0700,
    files 0600) except on Windows, where the user profile's ACLs apply.
    Passwords are never logged or written.

    Args:
        node_id: the node's name, also used in ``[kafkacrypto] node_id``.
        role: ``producer`` (sends keys), ``consumer`` (requests keys) or ``both``.
        topics: topics (their roots: the part before the first ".") the node
            may use; empty or None for every topic.
        rot_password: the root-of-trust password, 12 characters or more.
        provisioning_password: the provisioning password, 6 characters or more.
        dest_dir: where the node folder goes (e.g. the folder of the INI file).
        key_type: 1 for Ed25519 (default), 4 adds post-quantum SLH-DSA (needs
            the ``pyspx-slhdsa`` package).
        lifetime: seconds the node's chain stays valid.
        pathlen: the chain's maximum path length (KafkaCrypto's default 1).
        overwrite: replace an existing node folder (its keys are lost).

    Raises:
        ProvisionError: for a bad argument or an existing node.
        CryptoSetupError: if kafkacrypto (or libsodium) is not installed.
        OSError: if the files cannot be written.
    """
    check_node_id(node_id)
    kind = check_role(role)
    if len(rot_password) < MIN_ROT_PASSWORD:
        raise ProvisionError(f"the root-of-trust password needs {MIN_ROT_PASSWORD} characters "
                             "or more")
    if len(provisioning_password) < MIN_PROVISIONING_PASSWORD:
        raise ProvisionError(f"the provisioning password needs {MIN_PROVISIONING_PASSWORD} "
                             "characters or more")
    if key_type not in KEY_TYPES:
        raise ProvisionError(f"key type {key_type} is not one of {sorted(KEY_TYPES)}")
    roots = topic_roots(topics)
    dest_dir = Path(dest_dir).expanduser()
    final = dest_dir / node_id
    if final.exists() and not overwrite and (not final.is_dir() or any(final.iterdir())):
        raise ProvisionError(f"{final} already exists: choose another node id, or replace "
                             "it (its keys are then lost)")
    kafkacrypto_module()  # CryptoSetupError first, before anything is written
    dest_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{node_id}.provisioning-", dir=dest_dir))  # 0700
    try:
        with _quiet_kafkacrypto():
            _write_node(work, node_id, kind, roots, rot_password, provisioning_password,
                        key_type, lifetime, pathlen)
        for path in work.iterdir():
            _owner_only(path, 0o600)
        if final.is_dir():
            shutil.rmtree(final)
        elif final.exists():
            final.unlink()
        os.replace(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    _owner_only(final, 0o700)
    log.info("provisioned KafkaCrypto node %s (%s, topics %s) in %s", node_id, role,
             ", ".join(roots), final)
    return final


def _write_node(folder: Path, node_id: str, kind: str, roots: list[str], rot_password: str,
                provisioning_password: str, key_type: int, lifetime: float,
                pathlen: int) -> None:
    """Derive the trust keys, make the node's keys and chain, and write the three files."""
    utils = kafkacrypto_module("kafkacrypto.utils")
    provisioners = kafkacrypto_module("kafkacrypto.provisioners")
    pysodium = kafkacrypto_module("pysodium")
    ratchet = kafkacrypto_module("kafkacrypto.ratchet")
    cryptokey = kafkacrypto_module("kafkacrypto.cryptokey")
    chain_mod = kafkacrypto_module("kafkacrypto.chain")
    default = utils.msgpack_default_pack
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # they print salts and public keys
            rot = provisioners.PasswordROT(rot_password, key_type)
            provisioner = provisioners.PasswordProvisioner(provisioning_password, rot._pk,
                                                           key_type)
    except ImportError as exc:
        raise ProvisionError(f"key type {key_type} needs an extra package: {exc}") from exc
    # The trusted root as KafkaCrypto lists it: no expiry, no restrictions, its key.
    rot_entry = _pack([0, _pack([], default), rot._pk], default)
    # The provisioner's certificate for this role, signed by the root...
    prov_cert = rot._sk.crypto_sign(_pack(
        [0, _pack([["usages", list(USAGES[kind])]], default), provisioner._pk[kind]], default))
    # ...and the node's own signing key, made here, certified by the provisioner.
    (folder / f"{node_id}.seed").write_bytes(
        _pack([0, pysodium.randombytes(ratchet.Ratchet.SECRETSIZE)], default))
    key = cryptokey.CryptoKey(str(folder / f"{node_id}.crypto"), keytypes=[key_type])
    index = next(i for i in range(key.get_num_spk()) if key.get_spk(i).same_type(key_type))
    public = key.get_spk(index)
    limits: list[list[Any]] = [["usages", list(USAGES[kind])], ["topics", roots]]
    if pathlen != -1:
        limits.append(["pathlen", pathlen])
    node_cert = provisioner._sk[kind].crypto_sign(
        _pack([time.time() + lifetime, _pack(limits, default), public], default))
    chain = _pack([prov_cert, node_cert], default)
    checked = chain_mod.process_chain(chain, None, None, allowlist=[rot_entry])[0]
    if checked[2] != public:
        raise ProvisionError("the new key chain does not verify: report this as a bug")
    path = folder / f"{node_id}.config"
    path.write_text("[DEFAULT]\n", encoding="utf-8")
    node_store = NodeStore(path, node_id)
    store = node_store.store
    try:
        # The sections KafkaCrypto's own tools create; OpenMSIStream reads [<id>-kafka].
        for section in ("allowlist", "denylist", "crypto", "chains", "kafka", "kafka-consumer",
                        "kafka-producer", "kafka-crypto", "kafka-crypto-consumer",
                        "kafka-crypto-producer"):
            store.store_value("x", None, section=section)
        store.store_value("maxage", int(lifetime), section="crypto")
        store.store_value(f"chain{index}", chain, section="chains")
        store.store_value(f"rot{index}", rot_entry, section="allowlist")
        store.store_value("cryptokey", f"file#{node_id}.crypto")
        store.store_value("ratchet", f"file#{node_id}.seed")
        store.store_value("mgmt_long_keyindex", True)
        # No broker settings: the INI file's [broker] applies (OpenMSIStream and us alike).
        # But OpenMSIStream's key-exchange consumer would start at the *end* of <root>.keys
        # and miss a key sent just before it was assigned, then ask again only after 60 s.
        store.store_value("auto_offset_reset", "earliest", section="kafka-crypto-consumer")
    finally:
        node_store.close()


# -- key-exchange topics ------------------------------------------------------------


@dataclass
class KeyTopicsResult:
    """What :func:`create_key_topics` did, with a sentence for the user.

    Attributes:
        created: topics created now.
        existed: topics that were already there.
        failed: topics that could not be created, with the broker's reason.
    """

    created: list[str] = field(default_factory=list)
    existed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every key-exchange topic exists now."""
        return not self.failed

    @property
    def message(self) -> str:
        """One or two plain sentences."""
        parts = []
        if self.created:
            parts.append(f"Created {', '.join(self.created)}.")
        if self.existed:
            parts.append(f"{', '.join(self.existed)} already existed.")
        if self.failed:
            names = ", ".join(self.failed)
            reason = next(iter(self.failed.values()))
            parts.append(f"Could not create {names} ({reason}): ask the broker's administrator "
                         "to create them with 1 partition each.")
        return " ".join(parts)


def create_key_topics(config: KafkaConfig, topics: Iterable[str],
                      timeout: float = 15.0) -> KeyTopicsResult:
    """Create the key-exchange topics of ``topics`` (1 partition each) where missing.

    Never raises for a refusal (no rights, unreachable broker): the result says
    what happened and what to do.
    """
    result = KeyTopicsResult()
    names = sorted({name for topic in topics for name in key_topics(topic)})
    for name in names:
        try:
            if admin.create_topic(config, name, partitions=1, timeout=timeout):
                result.created.append(name)
            else:
                result.existed.append(name)
        except admin.BrokerError as exc:
            text = str(exc)
            if "authoriz" in text.lower():
                text = "not authorized"
            result.failed[name] = text.removeprefix(f"could not create topic {name!r}: ")
    return result


def missing_key_topics(config: KafkaConfig, topic: str, timeout: float = 10.0) -> list[str]:
    """The key-exchange topics of ``topic`` that do not exist.

    Raises:
        BrokerError: if the broker cannot be reached.
    """
    existing = admin.list_topics(config, timeout)
    return [name for name in key_topics(topic) if name not in existing]


__all__ = ["ALL_TOPICS", "DEFAULT_LIFETIME", "ROLES", "USAGES", "CryptoSetupError",
           "KeyTopicsResult", "ProvisionError", "check_node_id", "check_role",
           "create_key_topics", "key_topics", "missing_key_topics", "provision_node",
           "topic_roots"]
