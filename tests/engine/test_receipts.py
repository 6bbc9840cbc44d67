"""Unit tests for delivery receipts: encoding, signatures, sealing, pairing codes."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random

import msgpack
import pytest

from openmsi_gui.engine.receipt_keys import (
    PairingError,
    SigningIdentity,
    check_name,
    parse_pairing_code,
)
from openmsi_gui.engine.receipts import (
    UNKNOWN_SIZE,
    FileIdentity,
    Receipt,
    ReceiptStatus,
    Rejection,
    RejectKind,
    open_receipt,
    receipts_topic,
    seal_receipt,
    trusted,
)

DEST = SigningIdentity.generate("lab-pc:/srv/incoming")
OTHER = SigningIdentity.generate("archive:s3://bucket")
SHA = hashlib.sha512(b"content").digest()
FILE = FileIdentity("lab-data", "run1/scan.tif", SHA, 7)


def kind_of(outcome: Receipt | Rejection) -> RejectKind | None:
    """The kind of a rejection, None for a receipt."""
    return outcome.kind if isinstance(outcome, Rejection) else None


def receipt(**changes: object) -> Receipt:
    base = Receipt(DEST.name, "lab-data", "run1/scan.tif", SHA, 7, 1_700_000_000.5,
                   "/srv/incoming/run1/scan.tif", 1_700_000_100.25, ReceiptStatus.STORED)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("sealed", [False, True])
def test_round_trip(sealed: bool) -> None:
    sent = receipt()
    opened = open_receipt(seal_receipt(sent, DEST, sealed), trusted(DEST.public))
    assert opened == sent
    assert isinstance(opened, Receipt)
    assert opened.confirms(FILE)


def test_failure_receipt_with_unknown_size_confirms_by_path_and_hash() -> None:
    failed = receipt(status=ReceiptStatus.FAILED, size=UNKNOWN_SIZE, stored_at="",
                     reason="unsafe file name: '..' is not allowed")
    opened = open_receipt(seal_receipt(failed, DEST), trusted(DEST.public), expected=FILE)
    assert opened == failed


def test_sealed_receipts_hide_the_file() -> None:
    value = seal_receipt(receipt(), DEST, sealed=True)
    assert b"scan.tif" not in value
    assert SHA not in value
    assert b"scan.tif" in seal_receipt(receipt(), DEST, sealed=False)


def test_receipts_are_small() -> None:
    assert len(seal_receipt(receipt(), DEST, sealed=True)) < 400
    assert receipts_topic("lab-data") == "lab-data.receipts"


def test_unknown_destination_is_rejected() -> None:
    outcome = open_receipt(seal_receipt(receipt(), DEST), trusted(OTHER.public))
    assert kind_of(outcome) is RejectKind.UNKNOWN_DESTINATION
    assert "lab-pc:/srv/incoming" in str(outcome)


def test_forged_with_another_key_under_a_trusted_name() -> None:
    # The forger knows the pairing code (public key, read key) but not the signing key.
    forger = SigningIdentity(DEST.name, os.urandom(32), DEST.read_key)
    value = seal_receipt(receipt(), forger)
    header, payload = msgpack.unpackb(value)
    fields = msgpack.unpackb(header)
    fields[3] = DEST.public.key_id  # claim the trusted key id
    forged = msgpack.packb([msgpack.packb(fields), payload])
    outcome = open_receipt(forged, trusted(DEST.public))
    assert kind_of(outcome) is RejectKind.BAD_SIGNATURE


def test_a_trusted_key_cannot_speak_for_another_name() -> None:
    impostor = SigningIdentity(OTHER.name, DEST.seed, DEST.read_key)
    value = seal_receipt(receipt(destination=OTHER.name), impostor)
    outcome = open_receipt(value, trusted(DEST.public, OTHER.public))
    assert kind_of(outcome) is RejectKind.WRONG_NAME


@pytest.mark.parametrize("field", range(9))
def test_altered_record_fields_are_rejected(field: int) -> None:
    header, payload = msgpack.unpackb(seal_receipt(receipt(), DEST))
    record, signature = msgpack.unpackb(payload)
    values = msgpack.unpackb(record)
    replacement = {0: "other-topic", 1: "run1/other.tif", 2: hashlib.sha512(b"x").digest(),
                   3: 8, 4: 1.0, 5: "/elsewhere", 6: 2.0, 7: "failed", 8: "why"}
    values[field] = replacement[field]
    altered = msgpack.packb([header, msgpack.packb([msgpack.packb(values), signature])])
    outcome = open_receipt(altered, trusted(DEST.public))
    assert kind_of(outcome) is RejectKind.BAD_SIGNATURE


def test_altered_header_is_rejected() -> None:
    header, payload = msgpack.unpackb(seal_receipt(receipt(), DEST))
    fields = msgpack.unpackb(header)
    fields[4] = False
    fields.append(1)  # a longer header is not a receipt header
    outcome = open_receipt(msgpack.packb([msgpack.packb(fields), payload]), trusted(DEST.public))
    assert kind_of(outcome) is RejectKind.GARBAGE


def test_altered_sealed_receipt_cannot_be_opened() -> None:
    header, payload = msgpack.unpackb(seal_receipt(receipt(), DEST, sealed=True))
    flipped = payload[:-1] + bytes([payload[-1] ^ 1])
    outcome = open_receipt(msgpack.packb([header, flipped]), trusted(DEST.public))
    assert kind_of(outcome) is RejectKind.CANNOT_OPEN


@pytest.mark.parametrize("other", [
    FileIdentity("lab-data", "run1/other.tif", SHA, 7),
    FileIdentity("lab-data", "run1/scan.tif", hashlib.sha512(b"changed").digest(), 7),
    FileIdentity("lab-data", "run1/scan.tif", SHA, 8),
    FileIdentity("other-topic", "run1/scan.tif", SHA, 7),
])
def test_replayed_for_another_file(other: FileIdentity) -> None:
    outcome = open_receipt(seal_receipt(receipt(), DEST), trusted(DEST.public), expected=other)
    assert kind_of(outcome) is RejectKind.OTHER_FILE


def test_newer_version_is_named() -> None:
    header = msgpack.packb(["omsi-receipt", 2, DEST.name, DEST.public.key_id, False])
    outcome = open_receipt(msgpack.packb([header, b"future"]), trusted(DEST.public))
    assert kind_of(outcome) is RejectKind.NEWER_VERSION


@pytest.mark.parametrize("value", [
    None, b"", b"\x00", b"\xc1", b"garbage bytes \xff\xfe", msgpack.packb([1, 2]),
    msgpack.packb([b"a", b"b"]), msgpack.packb({"a": 1}), b"\x91" * 100_000,
    msgpack.packb([msgpack.packb(["omsi-receipt", 1, "x", "y", "no"]), b""]),
    msgpack.packb([msgpack.packb(["omsi-receipt", True, "x", "y", False]), b""]),
    b"\xdd\xff\xff\xff\xff",  # an array claiming 4 billion items
])
def test_garbage_is_a_rejection(value: bytes | None) -> None:
    outcome = open_receipt(value, trusted(DEST.public))
    assert kind_of(outcome) is RejectKind.GARBAGE


def test_random_bytes_never_raise() -> None:
    rng = random.Random(12)
    good = seal_receipt(receipt(), DEST)
    for _ in range(2000):
        mutated = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        outcome = open_receipt(bytes(mutated), trusted(DEST.public))
        assert isinstance(outcome, (Receipt, Rejection))
        if isinstance(outcome, Receipt):  # only a change msgpack does not see, e.g. none
            assert outcome == receipt()
        outcome = open_receipt(rng.randbytes(rng.randint(1, 300)), trusted(DEST.public))
        assert isinstance(outcome, Rejection)


def test_signed_by_the_named_destination_only() -> None:
    with pytest.raises(ValueError, match="signed by the destination it names"):
        seal_receipt(receipt(destination="someone else"), DEST)


def test_pairing_code_round_trip() -> None:
    code = DEST.public.pairing_code()
    assert code.startswith("omsi-pair:")
    assert len(code) < 200
    assert parse_pairing_code(code) == DEST.public
    # Copied from a terminal with a line break in the middle.
    assert parse_pairing_code(f"  {code[:30]}\n{code[30:]} ") == DEST.public
    assert DEST.seed not in code.encode()


def test_pairing_code_does_not_hold_the_signing_key() -> None:
    public = parse_pairing_code(DEST.public.pairing_code())
    assert DEST.seed.hex() not in repr(public)
    assert "seed" not in repr(DEST)


@pytest.mark.parametrize(("code", "words"), [
    ("", "starts with 'omsi-pair:'"),
    ("pair:abc", "starts with 'omsi-pair:'"),
    ("omsi-pair:", "damaged"),
    ("omsi-pair:!!!!", "damaged"),
])
def test_bad_pairing_codes(code: str, words: str) -> None:
    with pytest.raises(PairingError, match=words):
        parse_pairing_code(code)


def test_altered_or_cut_pairing_code_is_refused() -> None:
    code = DEST.public.pairing_code()
    for i in range(len("omsi-pair:"), len(code)):
        altered = code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1:]
        with pytest.raises(PairingError):
            parse_pairing_code(altered)
    with pytest.raises(PairingError):
        parse_pairing_code(code[:-5])


def test_identity_secret_round_trip_and_damage() -> None:
    again = SigningIdentity.from_secret(DEST.name, DEST.secret)
    assert again == DEST
    assert again.public == DEST.public
    with pytest.raises(PairingError, match="damaged"):
        SigningIdentity.from_secret(DEST.name, "short")


@pytest.mark.parametrize("name", ["", "   ", "a\x1bb", "x" * 201])
def test_bad_names(name: str) -> None:
    with pytest.raises(PairingError):
        check_name(name)
