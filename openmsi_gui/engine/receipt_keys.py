"""Who may sign delivery receipts: signing keys, their public halves, and pairing codes.

Every destination (and, later, every sender that adds "sent" records) has a
named identity: an Ed25519 signing key that never leaves its machine (the app
keeps it in the OS keychain) and a 32-byte *read key* that seals receipts on
encrypted topics. A sender or an auditor trusts a destination by importing its
**pairing code**, one line holding the name, the public key and the read key::

    omsi-pair:<base64url of version | name length | name | public key | read key | checksum>

The key id is derived from the public key (the first 8 bytes of its SHA-256, in
hex), so a code cannot name a key id that does not match its key. Knowing a
pairing code lets a machine verify and read receipts, never forge them: the
signing key is not in it. See the README's "Delivery receipts: threat model".
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PAIRING_PREFIX = "omsi-pair:"
PAIRING_VERSION = 1
KEY_BYTES = 32
MAX_NAME_BYTES = 200
_CHECKSUM_BYTES = 4


class PairingError(ValueError):
    """A pairing code or key that cannot be used; the message says what to do."""


def check_name(name: str) -> str:
    """``name`` stripped, if it can name an identity.

    Raises:
        PairingError: it is empty, too long, or holds control characters.
    """
    name = name.strip()
    if not name:
        raise PairingError("a destination name cannot be empty")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise PairingError(f"a destination name is at most {MAX_NAME_BYTES} bytes long")
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in name):
        raise PairingError("a destination name cannot hold control characters")
    return name


def key_id_of(public_key: bytes) -> str:
    """The key id of an Ed25519 public key: 16 hex digits."""
    return hashlib.sha256(b"omsi-receipt-key\x00" + public_key).hexdigest()[:16]


@dataclass(frozen=True)
class PublicIdentity:
    """What a sender or auditor knows of a destination: enough to verify and read.

    Attributes:
        name: the destination's name, as its receipts say it.
        public_key: the Ed25519 public key its receipts are signed with.
        read_key: the key that seals (encrypts) its receipts on encrypted topics.
    """

    name: str
    public_key: bytes
    read_key: bytes

    @property
    def key_id(self) -> str:
        """16 hex digits naming :attr:`public_key`."""
        return key_id_of(self.public_key)

    @functools.cached_property
    def _verifier(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    def verifies(self, signature: bytes, message: bytes) -> bool:
        """Whether ``signature`` is this identity's signature of ``message``."""
        try:
            self._verifier.verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def pairing_code(self) -> str:
        """The one-line code that trusts this identity on another machine."""
        name = self.name.encode()
        body = (bytes([PAIRING_VERSION, len(name)]) + name + self.public_key + self.read_key)
        checksum = hashlib.sha256(body).digest()[:_CHECKSUM_BYTES]
        return PAIRING_PREFIX + base64.urlsafe_b64encode(body + checksum).decode().rstrip("=")


@dataclass(frozen=True)
class SigningIdentity:
    """A destination's own identity: its name, signing key and read key.

    Attributes:
        name: the destination's name (:func:`check_name`).
        seed: the 32-byte Ed25519 private key (secret: keychain only).
        read_key: the 32-byte key sealing receipts on encrypted topics (secret).
    """

    name: str
    seed: bytes = field(repr=False)
    read_key: bytes = field(repr=False)

    @classmethod
    def generate(cls, name: str) -> SigningIdentity:
        """A new identity with fresh random keys.

        Raises:
            PairingError: ``name`` cannot name an identity.
        """
        return cls(check_name(name), os.urandom(KEY_BYTES), os.urandom(KEY_BYTES))

    @classmethod
    def from_secret(cls, name: str, secret: str) -> SigningIdentity:
        """The identity stored as :attr:`secret` (in the keychain).

        Raises:
            PairingError: the stored text is not such a secret.
        """
        try:
            raw = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
        except (binascii.Error, ValueError) as exc:
            raise PairingError("the receipt key in the keychain is damaged: delete it and "
                               "pair again") from exc
        if len(raw) != 2 * KEY_BYTES:
            raise PairingError("the receipt key in the keychain is damaged: delete it and "
                               "pair again")
        return cls(check_name(name), raw[:KEY_BYTES], raw[KEY_BYTES:])

    @property
    def secret(self) -> str:
        """Both keys as one text, for the keychain."""
        return base64.urlsafe_b64encode(self.seed + self.read_key).decode()

    @functools.cached_property
    def _private_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @functools.cached_property
    def public(self) -> PublicIdentity:
        """What others need to verify and read this identity's receipts."""
        public = self._private_key.public_key().public_bytes_raw()
        return PublicIdentity(self.name, public, self.read_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self._private_key.sign(message)


def parse_pairing_code(code: str) -> PublicIdentity:
    """The identity a pairing code trusts.

    Raises:
        PairingError: it is not a whole, unaltered pairing code.
    """
    code = "".join(code.split())  # copied from a mail or a terminal: stray line breaks
    if not code.startswith(PAIRING_PREFIX):
        raise PairingError(f"a pairing code starts with '{PAIRING_PREFIX}': copy the whole "
                           "line 'openmsi pair show' printed")
    text = code[len(PAIRING_PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise PairingError("this pairing code is damaged: copy it again, whole") from exc
    body, checksum = raw[:-_CHECKSUM_BYTES], raw[-_CHECKSUM_BYTES:]
    if len(body) < 2 or hashlib.sha256(body).digest()[:_CHECKSUM_BYTES] != checksum:
        raise PairingError("this pairing code is damaged or incomplete: copy it again, whole")
    if body[0] != PAIRING_VERSION:
        raise PairingError("this pairing code was made by a newer version: update OpenMSI GUI")
    name_len = body[1]
    if len(body) != 2 + name_len + 2 * KEY_BYTES:
        raise PairingError("this pairing code is damaged or incomplete: copy it again, whole")
    try:
        name = check_name(body[2:2 + name_len].decode())
    except UnicodeDecodeError as exc:
        raise PairingError("this pairing code is damaged: copy it again, whole") from exc
    keys = body[2 + name_len:]
    return PublicIdentity(name, keys[:KEY_BYTES], keys[KEY_BYTES:])
