"""Receipt identities and trusted destinations (app.pairing), with the in-memory keychain."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from openmsi_gui.app import pairing
from openmsi_gui.app.settings import Destination, DestinationKind, from_dict, to_dict
from openmsi_gui.engine.receipt_keys import SigningIdentity


def test_an_identity_is_made_once_and_kept_in_the_keychain(
        tmp_path: Path, memory_keyring: keyring.backend.KeyringBackend) -> None:
    made = pairing.identity("lab:/inbox", tmp_path)
    assert made is not None
    assert pairing.identity("lab:/inbox", tmp_path) == made
    assert pairing.identity("other", tmp_path, create=False) is None
    stored = json.dumps(json.loads((tmp_path / pairing.PAIRING_FILE).read_text()))
    assert made.secret not in stored  # the keys are in the keychain only
    assert "lab:/inbox" in stored


def test_destination_names_and_receipt_settings(tmp_path: Path) -> None:
    folder = Destination(path="/srv/inbox", topic="lab-data")
    assert pairing.destination_name(folder).endswith(":/srv/inbox")
    bucket = Destination(kind=DestinationKind.S3, bucket="archive", prefix="raw", topic="t")
    assert pairing.destination_name(bucket).endswith(":s3://archive/raw")
    named = Destination(path="/srv/inbox", topic="t", receipt_name=" archive ",
                        receipts_topic="t.audit")
    options = pairing.destination_receipts(named, tmp_path)
    assert options is not None
    assert (options.identity.name, options.topic_for("t")) == ("archive", "t.audit")
    assert pairing.destination_receipts(Destination(path="/x", receipts=False), tmp_path) is None


def test_receipt_settings_survive_the_settings_file() -> None:
    dest = Destination(path="/srv/inbox", receipts=False, receipt_name="archive",
                       receipts_topic="t.audit")
    again = from_dict(to_dict(from_dict({"destinations": [dataclasses.asdict(dest)]})))
    assert again.destinations[0] == dest
    # Files written before receipts existed: every destination sends them by default.
    old = from_dict({"schema_version": 2, "destinations": [{"path": "/srv/inbox"}]})
    assert old.destinations[0].receipts is True
    assert old.destinations[0].receipt_name == ""


def test_without_a_keychain_a_destination_sends_no_receipts(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())  # the fixture restores its own
    assert pairing.destination_receipts(Destination(path="/srv/inbox"), tmp_path) is None
    assert "sends no delivery receipts" in caplog.text


def test_trusting_keeps_codes_in_the_keychain_and_skips_lost_ones(
        tmp_path: Path, memory_keyring: keyring.backend.KeyringBackend,
        caplog: pytest.LogCaptureFixture) -> None:
    first, second = SigningIdentity.generate("a"), SigningIdentity.generate("b")
    pairing.trust(first.public.pairing_code(), tmp_path)
    pairing.trust(second.public.pairing_code(), tmp_path)
    assert pairing.trusted_identities(tmp_path) == {first.public.key_id: first.public,
                                                    second.public.key_id: second.public}
    listed = (tmp_path / pairing.PAIRING_FILE).read_text()
    assert first.public.pairing_code().removeprefix("omsi-pair:") not in listed
    keyring.delete_password("openmsi-gui", f"receipt-trust:{first.public.key_id}/pairing-code")
    assert list(pairing.trusted_identities(tmp_path)) == [second.public.key_id]
    assert "pair it again" in caplog.text
