r"""Delivery receipts: what a destination did with one file, signed, on ``<topic>.receipts``.

A receipt names its destination, the file (topic, relative path, SHA-512,
size, mtime), where it was stored (a path or ``s3://...``), when, and a status:
STORED, FAILED (with the reason) or SENT (a sender's record that every chunk
was acknowledged). It travels as one Kafka message whose value is::

    msgpack [header, payload]
    header  = msgpack ["omsi-receipt", 1, destination name, key id, sealed]
    record  = msgpack [topic, relpath, sha512, size, mtime, stored_at, time, status, reason,
                       (metadata)]
    signed  = msgpack [record, Ed25519 signature of ("omsi-receipt\0" + header + record)]
    payload = signed                                                   (sealed false)
            | nonce(12) + ChaCha20-Poly1305(read key, signed, aad=header)   (sealed true)

``metadata`` (the file's information as JSON text, see :mod:`.metadata`) is
added only when the file came with some, so a receipt without it is exactly
what earlier versions made and read; a record of 9 or 10 fields is accepted.

The signature covers the exact bytes of the header and the record, so nothing
depends on re-encoding. Receipts are untrusted input: :func:`open_receipt`
returns a :class:`Receipt` only for a well-formed receipt signed by a trusted
identity under the name it claims, and a :class:`Rejection` (never an
exception) for anything else. Whether a receipt confirms a given file is
:meth:`Receipt.confirms`: it binds topic, relative path, SHA-512 and size.
"""

from __future__ import annotations

import enum
import functools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgpack
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from openmsi_gui.engine.receipt_keys import PublicIdentity, SigningIdentity
from openmsi_gui.engine.untrusted import escaped

MAGIC = "omsi-receipt"
VERSION = 1
RECEIPTS_SUFFIX = ".receipts"
UNKNOWN_SIZE = -1  # a failure receipt for a file whose size was never known
MAX_RECEIPT_BYTES = 64 * 1024
MAX_TEXT = 8192
"""The longest text in a receipt, in bytes (a longer ``metadata`` is left out)."""
_NONCE_BYTES = 12
_SIGNATURE_BYTES = 64
_DOMAIN = MAGIC.encode() + b"\x00"


def receipts_topic(topic: str) -> str:
    """The default receipts topic of a data topic."""
    return topic + RECEIPTS_SUFFIX


class ReceiptStatus(enum.StrEnum):
    """What a receipt says happened to its file."""

    STORED = "stored"  # durably at its final place
    FAILED = "failed"  # refused or discarded there, for ``reason``
    SENT = "sent"  # a sender's record: every chunk acknowledged by the broker


@dataclass(frozen=True)
class FileIdentity:
    """The file a receipt speaks of: what it binds."""

    topic: str
    relpath: str
    sha512: bytes
    size: int


@dataclass(frozen=True)
class Receipt:
    """One destination's word on one file.

    Attributes:
        destination: the name of the destination (or sender, for SENT).
        topic: the data topic the file came through.
        relpath: the file's path relative to the watched folder ("/"-separated).
        sha512: the file's SHA-512 (64 bytes).
        size: its size in bytes (:data:`UNKNOWN_SIZE` if a failure came first).
        mtime: its modification time at the source (epoch seconds, 0 if unknown).
        stored_at: where it was stored: a path or ``s3://bucket/key`` ("" if not).
        time: when the receipt was made (epoch seconds).
        status: stored, failed or sent.
        reason: why it failed ("" otherwise).
        metadata: the file's information as JSON text ("" for none; untrusted
            as everything in a receipt: escape before showing).
    """

    destination: str
    topic: str
    relpath: str
    sha512: bytes
    size: int
    mtime: float
    stored_at: str
    time: float
    status: ReceiptStatus
    reason: str = ""
    metadata: str = ""

    @property
    def file(self) -> FileIdentity:
        """The file this receipt binds."""
        return FileIdentity(self.topic, self.relpath, self.sha512, self.size)

    def confirms(self, file: FileIdentity) -> bool:
        """Whether this receipt speaks of exactly ``file`` (a failure may not know the size)."""
        if self.size == UNKNOWN_SIZE and self.status is ReceiptStatus.FAILED:
            return (self.topic, self.relpath, self.sha512) == (file.topic, file.relpath,
                                                                file.sha512)
        return self.file == file


class RejectKind(enum.Enum):
    """Why a message on a receipts topic was not accepted as a receipt."""

    GARBAGE = "not a receipt"
    NEWER_VERSION = "made by a newer version"
    UNKNOWN_DESTINATION = "from a destination that is not paired here"
    WRONG_NAME = "names a destination other than the one whose key it uses"
    BAD_SIGNATURE = "forged or altered (its signature does not match)"
    CANNOT_OPEN = "sealed, and cannot be opened with the destination's read key"
    OTHER_FILE = "speaks of another file"


@dataclass(frozen=True)
class Rejection:
    """A message refused as a receipt: the kind and a detail (escaped, safe to show)."""

    kind: RejectKind
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value


def seal_receipt(receipt: Receipt, identity: SigningIdentity, sealed: bool = False) -> bytes:
    """The message value carrying ``receipt``, signed (and encrypted when ``sealed``).

    Raises:
        ValueError: ``receipt`` is not from ``identity``.
    """
    if receipt.destination != identity.name:
        raise ValueError("a receipt is signed by the destination it names")
    public = identity.public
    header = msgpack.packb([MAGIC, VERSION, identity.name, public.key_id, sealed])
    fields = [receipt.topic, receipt.relpath, receipt.sha512, receipt.size,
              float(receipt.mtime), receipt.stored_at, float(receipt.time),
              receipt.status.value, receipt.reason]
    if receipt.metadata:  # only then: a receipt without it stays readable by older versions
        fields.append(receipt.metadata)
    record = msgpack.packb(fields)
    signed = msgpack.packb([record, identity.sign(_DOMAIN + header + record)])
    payload = signed
    if sealed:
        nonce = os.urandom(_NONCE_BYTES)
        payload = nonce + _aead(identity.read_key).encrypt(nonce, signed, header)
    value: bytes = msgpack.packb([header, payload])
    return value


@functools.lru_cache(maxsize=64)
def _aead(key: bytes) -> ChaCha20Poly1305:
    return ChaCha20Poly1305(key)


TrustedIdentities = Mapping[str, PublicIdentity]
"""Trusted identities by key id."""


def trusted(*identities: PublicIdentity) -> dict[str, PublicIdentity]:
    """A :data:`TrustedIdentities` of these identities."""
    return {i.key_id: i for i in identities}


def open_receipt(value: bytes | None, trust: TrustedIdentities,
                 expected: FileIdentity | None = None) -> Receipt | Rejection:
    """The receipt in a message value if it is authentic, else why not.

    Args:
        value: the message value (untrusted bytes).
        trust: the identities whose receipts are believed.
        expected: when given, a receipt for any other file is a Rejection too.
    """
    try:
        outcome = _open(value, trust)
    except Exception as exc:  # whatever the bytes: a rejection, never a crash
        outcome = Rejection(RejectKind.GARBAGE, escaped(str(exc), 200))
    if (isinstance(outcome, Receipt) and expected is not None
            and not outcome.confirms(expected)):
        return Rejection(RejectKind.OTHER_FILE, escaped(outcome.relpath, 200))
    return outcome


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=True,
                           max_str_len=MAX_TEXT, max_bin_len=MAX_RECEIPT_BYTES,
                           max_array_len=16, max_map_len=0, max_ext_len=0)


def _header(header_bytes: bytes, trust: TrustedIdentities
            ) -> tuple[PublicIdentity, bool] | Rejection:
    """The trusted identity a receipt header names, and whether the receipt is sealed."""
    header = _unpack(header_bytes)
    if not (isinstance(header, list) and len(header) == 5 and header[0] == MAGIC):
        return Rejection(RejectKind.GARBAGE, "not a receipt header")
    _, version, name, key_id, sealed = header
    if not isinstance(version, int) or isinstance(version, bool):
        return Rejection(RejectKind.GARBAGE, "bad version")
    if version > VERSION:
        return Rejection(RejectKind.NEWER_VERSION, f"version {version}")
    if not (version == VERSION and isinstance(name, str) and isinstance(key_id, str)
            and isinstance(sealed, bool)):
        return Rejection(RejectKind.GARBAGE, "bad header fields")
    identity = trust.get(key_id)
    if identity is None:
        return Rejection(RejectKind.UNKNOWN_DESTINATION,
                         f"'{escaped(name, 200)}' (key {escaped(key_id, 40)})")
    if identity.name != name:
        return Rejection(RejectKind.WRONG_NAME, f"'{escaped(name, 200)}' signed with the key "
                         f"of '{escaped(identity.name, 200)}'")
    return identity, sealed


def _open(value: bytes | None, trust: TrustedIdentities) -> Receipt | Rejection:
    if not isinstance(value, bytes) or not value:
        return Rejection(RejectKind.GARBAGE, "empty message")
    if len(value) > MAX_RECEIPT_BYTES:
        return Rejection(RejectKind.GARBAGE, f"{len(value)} bytes, too large")
    outer = _unpack(value)
    if not (isinstance(outer, list) and len(outer) == 2
            and all(isinstance(part, bytes) for part in outer)):
        return Rejection(RejectKind.GARBAGE, "not a receipt envelope")
    header_bytes, payload = outer
    header = _header(header_bytes, trust)
    if isinstance(header, Rejection):
        return header
    identity, sealed = header
    name = escaped(identity.name, 200)
    if sealed:
        try:
            payload = _aead(identity.read_key).decrypt(
                payload[:_NONCE_BYTES], payload[_NONCE_BYTES:], header_bytes)
        except Exception:  # cryptography's InvalidTag: altered, or another read key
            return Rejection(RejectKind.CANNOT_OPEN, f"'{name}'")
    signed = _unpack(payload)
    if not (isinstance(signed, list) and len(signed) == 2
            and isinstance(signed[0], bytes) and isinstance(signed[1], bytes)
            and len(signed[1]) == _SIGNATURE_BYTES):
        return Rejection(RejectKind.GARBAGE, "bad signed record")
    record_bytes, signature = signed
    if not identity.verifies(signature, _DOMAIN + header_bytes + record_bytes):
        return Rejection(RejectKind.BAD_SIGNATURE, f"claims to be from '{name}'")
    return _record(identity.name, _unpack(record_bytes))


def _record(name: str, fields: Any) -> Receipt | Rejection:
    """The receipt from a signed record's fields (checked: a signer may have a bug)."""
    if not (isinstance(fields, list) and len(fields) in (9, 10)):
        return Rejection(RejectKind.GARBAGE, "bad record")
    topic, relpath, sha512, size, mtime, stored_at, when, status, reason = fields[:9]
    metadata = fields[9] if len(fields) == 10 else ""
    texts_ok = all(isinstance(t, str) for t in (topic, relpath, stored_at, status, reason,
                                                metadata))
    numbers_ok = (isinstance(size, int) and not isinstance(size, bool) and size >= UNKNOWN_SIZE
                  and all(isinstance(x, float) and math.isfinite(x) for x in (mtime, when)))
    if not (texts_ok and numbers_ok and isinstance(sha512, bytes) and len(sha512) == 64):
        return Rejection(RejectKind.GARBAGE, "bad record fields")
    try:
        kind = ReceiptStatus(status)
    except ValueError:
        return Rejection(RejectKind.GARBAGE, f"unknown status '{escaped(status, 40)}'")
    return Receipt(name, topic, relpath, sha512, size, mtime, stored_at, when, kind, reason,
                   metadata)
