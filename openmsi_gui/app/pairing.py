"""Receipt identities of this machine's destinations, and the destinations it trusts.

A destination's identity (its signing key and read key) lives in the OS
keychain under its name, and is made the first time it is needed: by the
destination's job, or by ``openmsi pair show``. A trusted destination (from
``openmsi pair add CODE``) keeps its pairing code in the keychain under its key
id, and its name and key id in ``pairing.json`` in the data folder, which lists
what is trusted. Every function here may block on the keychain: call them off
the GUI thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from openmsi_gui.app import keychain
from openmsi_gui.app.destinations import location_text
from openmsi_gui.app.settings import Destination, WatchedFolder
from openmsi_gui.engine.download.receipting import ReceiptOptions
from openmsi_gui.engine.receipt_keys import (
    PairingError,
    PublicIdentity,
    SigningIdentity,
    check_name,
    parse_pairing_code,
)
from openmsi_gui.engine.receipt_listener import DeliveryWatch
from openmsi_gui.engine.registry import default_data_dir
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger(__name__)

PAIRING_FILE = "pairing.json"
_IDENTITY_SECRET = "receipt-keys"
_TRUST_SECRET = "pairing-code"
_lock = threading.Lock()


def default_name(place: str, hostname: str | None = None) -> str:
    """A destination's default name: ``<hostname>:<folder or bucket>``."""
    return f"{socket.gethostname() if hostname is None else hostname}:{place}"


def destination_name(dest: Destination) -> str:
    """The name a destination signs its receipts with."""
    return dest.receipt_name.strip() or default_name(location_text(dest))


def destination_receipts(dest: Destination, data_dir: Path | None = None
                         ) -> ReceiptOptions | None:
    """How ``dest`` signs and sends receipts; None when it sends none or cannot (logged)."""
    if not dest.receipts:
        return None
    try:
        made = identity(destination_name(dest), data_dir)
    except (PairingError, keychain.KeychainError) as exc:
        log.warning("%s sends no delivery receipts: %s", escaped(destination_name(dest)), exc)
        return None
    return None if made is None else ReceiptOptions(made, dest.receipts_topic.strip())


def sender_records(folder: WatchedFolder, data_dir: Path | None = None
                   ) -> ReceiptOptions | None:
    """How a watched folder signs its "sent" records (named ``<hostname>:<folder>``).

    None when the keychain cannot be used (logged): the folder then sends without them.
    """
    name = default_name(folder.path)
    try:
        made = identity(name, data_dir)
    except (PairingError, keychain.KeychainError) as exc:
        log.warning("%s adds no sent records for audits: %s", escaped(folder.path), exc)
        return None
    return None if made is None else ReceiptOptions(made)


def delivery_watch(sender: str, data_dir: Path | None = None, topic: str = ""
                   ) -> DeliveryWatch | None:
    """How a watched folder follows its receipts; None when no destination is paired here.

    Args:
        sender: what identifies the sending folder (its id, or its path and topic):
            its consumer group is made from it and this host's name.
        data_dir: the data folder (its ``pairing.json``).
        topic: the receipts topic ("" for ``<topic>.receipts``).
    """
    try:
        trust = trusted_identities(data_dir)
    except (PairingError, keychain.KeychainError) as exc:
        log.warning("deliveries are not followed: %s", exc)
        return None
    if not trust:
        log.info("no destination is paired here ('openmsi pair add CODE'): deliveries are "
                 "not followed")
        return None
    tag = hashlib.sha256(f"{socket.gethostname()}|{sender}".encode()).hexdigest()[:16]
    return DeliveryWatch(trust, f"openmsi-receipts-{tag}", topic)


def _identity_owner(name: str) -> str:
    return f"receipt-identity:{name}"


def _trust_owner(key_id: str) -> str:
    return f"receipt-trust:{key_id}"


def identity(name: str, data_dir: Path | None = None, create: bool = True
             ) -> SigningIdentity | None:
    """The identity named ``name`` on this machine, made (and stored) if ``create``.

    Raises:
        PairingError: ``name`` cannot name a destination, or its stored keys are damaged.
        KeychainError: the keychain cannot be used.
    """
    name = check_name(name)
    stored = keychain.get_secret(_identity_owner(name), _IDENTITY_SECRET)
    if stored is not None:
        return SigningIdentity.from_secret(name, stored)
    if not create:
        return None
    made = SigningIdentity.generate(name)
    keychain.set_secret(_identity_owner(name), _IDENTITY_SECRET, made.secret)
    _update(data_dir, lambda data: _add_unique(data, "identities", {"name": name}, "name"))
    log.info("made receipt keys for the destination '%s'", escaped(name))
    return made


def trust(code: str, data_dir: Path | None = None) -> PublicIdentity:
    """Trust the destination a pairing code names (replacing one of the same name).

    Raises:
        PairingError: the code is not a whole, unaltered pairing code.
        KeychainError: the keychain cannot be used.
    """
    public = parse_pairing_code(code)
    keychain.set_secret(_trust_owner(public.key_id), _TRUST_SECRET, public.pairing_code())
    replaced: list[str] = []

    def add(data: dict[str, Any]) -> None:
        kept = []
        for entry in data.get("trusted", []):
            if entry.get("name") == public.name and entry.get("key_id") != public.key_id:
                replaced.append(str(entry.get("key_id")))
            elif entry.get("key_id") != public.key_id:
                kept.append(entry)
        kept.append({"name": public.name, "key_id": public.key_id, "added_at": time.time()})
        data["trusted"] = kept

    _update(data_dir, add)
    for key_id in replaced:  # a destination that made new keys: the old ones go
        keychain.delete_secret(_trust_owner(key_id), _TRUST_SECRET)
    return public


def forget(which: str, data_dir: Path | None = None) -> list[str]:
    """Stop trusting the destinations named ``which`` (a name or a key id).

    Returns:
        The names no longer trusted ([] if none matched).

    Raises:
        KeychainError: the keychain cannot be used.
    """
    gone: list[dict[str, Any]] = []

    def drop(data: dict[str, Any]) -> None:
        kept: list[dict[str, Any]] = []
        for entry in data.get("trusted", []):
            (gone if which in (entry.get("name"), entry.get("key_id")) else kept).append(entry)
        data["trusted"] = kept

    _update(data_dir, drop)
    for entry in gone:
        keychain.delete_secret(_trust_owner(str(entry.get("key_id", ""))), _TRUST_SECRET)
    return [str(entry.get("name", "")) for entry in gone]


def trusted_identities(data_dir: Path | None = None) -> dict[str, PublicIdentity]:
    """The destinations trusted here, by key id (entries whose code is gone are skipped).

    Raises:
        KeychainError: the keychain cannot be used.
    """
    found: dict[str, PublicIdentity] = {}
    for entry in _read(data_dir).get("trusted", []):
        key_id = str(entry.get("key_id", ""))
        code = keychain.get_secret(_trust_owner(key_id), _TRUST_SECRET)
        if code is None:
            log.warning("the pairing code of '%s' is no longer in the keychain: pair it again",
                        escaped(str(entry.get("name", ""))))
            continue
        try:
            public = parse_pairing_code(code)
        except PairingError as exc:
            log.warning("the stored pairing code of '%s' is damaged (%s): pair it again",
                        escaped(str(entry.get("name", ""))), exc)
            continue
        found[public.key_id] = public
    return found


def own_identities(data_dir: Path | None = None) -> dict[str, PublicIdentity]:
    """The identities made on this machine (destinations, senders), public halves by key id.

    An audit run here believes them as if they were paired.

    Raises:
        KeychainError: the keychain cannot be used.
    """
    found: dict[str, PublicIdentity] = {}
    for entry in _read(data_dir).get("identities", []):
        try:
            made = identity(str(entry.get("name", "")), data_dir, create=False)
        except PairingError as exc:
            log.warning("the receipt keys of '%s' are damaged: %s",
                        escaped(str(entry.get("name", ""))), exc)
            continue
        if made is not None:
            found[made.public.key_id] = made.public
    return found


def _path(data_dir: Path | None) -> Path:
    return (data_dir or default_data_dir()) / PAIRING_FILE


def _read(data_dir: Path | None) -> dict[str, Any]:
    path = _path(data_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise PairingError(f"cannot read {path}: {exc}; fix or delete it, then pair "
                           "again") from exc
    return data if isinstance(data, dict) else {}


def _add_unique(data: dict[str, Any], section: str, entry: dict[str, Any], key: str) -> None:
    entries = [e for e in data.get(section, []) if e.get(key) != entry[key]]
    data[section] = [*entries, entry]


def _update(data_dir: Path | None, change: Any) -> None:
    """Apply ``change(data)`` to the pairing file and write it atomically."""
    path = _path(data_dir)
    with _lock:
        data = _read(data_dir)
        data["version"] = 1
        change(data)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.tmp")
        temp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(temp, path)
