"""``openmsi pair`` and the receipt flags of the download commands (in-memory keychain)."""

from __future__ import annotations

from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from openmsi_gui.app import pairing
from openmsi_gui.cli.main import main
from openmsi_gui.cli.pair import receipt_options
from openmsi_gui.cli.parser import build_parser
from openmsi_gui.engine.receipt_keys import parse_pairing_code
from openmsi_gui.engine.receipts import Receipt, ReceiptStatus, open_receipt, seal_receipt


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_pair_show_then_add_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    dest_dir, sender_dir = tmp_path / "dest", tmp_path / "sender"
    code, out, _ = run(capsys, "--data-dir", str(dest_dir), "pair", "show", "--name",
                       "lab-pc:/srv/inbox")
    assert code == 0
    pairing_code = out.strip()
    assert pairing_code.startswith("omsi-pair:")
    assert "\n" not in pairing_code
    # The same destination shows the same code: its keys are made once.
    assert run(capsys, "--data-dir", str(dest_dir), "pair", "show", "--name",
               "lab-pc:/srv/inbox")[1].strip() == pairing_code

    code, out, _ = run(capsys, "--data-dir", str(sender_dir), "pair", "add", pairing_code)
    assert code == 0
    key_id = parse_pairing_code(pairing_code).key_id
    assert out.strip() == f"trusting the receipts of 'lab-pc:/srv/inbox' (key {key_id})"
    assert run(capsys, "--data-dir", str(sender_dir), "pair", "list")[1] == (
        f"lab-pc:/srv/inbox\t{key_id}\n")
    assert run(capsys, "--data-dir", str(tmp_path / "other"), "pair", "list")[1] == ""
    # Forgotten by name (or key id): its receipts no longer verify here.
    assert run(capsys, "--data-dir", str(sender_dir), "pair", "remove", "lab-pc:/srv/inbox")[
        1] == "no longer trusting the receipts of 'lab-pc:/srv/inbox'\n"
    assert pairing.trusted_identities(sender_dir) == {}
    assert run(capsys, "--data-dir", str(sender_dir), "pair", "remove", key_id)[0] == 2
    assert run(capsys, "--data-dir", str(sender_dir), "pair", "add", pairing_code)[0] == 0

    # A receipt signed by the destination's job verifies with what the sender trusts.
    identity = pairing.identity("lab-pc:/srv/inbox", dest_dir)
    assert identity is not None
    sent = Receipt(identity.name, "t", "a.txt", bytes(64), 1, 0.0, "/srv/inbox/a.txt", 1.0,
                   ReceiptStatus.STORED)
    assert open_receipt(seal_receipt(sent, identity, sealed=True),
                        pairing.trusted_identities(sender_dir)) == sent


def test_pairing_a_destination_again_replaces_its_old_key(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    first = pairing.SigningIdentity.generate("archive")
    second = pairing.SigningIdentity.generate("archive")
    for made in (first, second):
        assert run(capsys, "--data-dir", str(tmp_path), "pair", "add",
                   made.public.pairing_code())[0] == 0
    assert list(pairing.trusted_identities(tmp_path)) == [second.public.key_id]


@pytest.mark.parametrize(("argv", "words"), [
    (["pair", "add", "not-a-code"], "starts with 'omsi-pair:'"),
    (["pair", "add", "omsi-pair:AAAA"], "damaged"),
    (["pair", "show", "--name", " "], "cannot be empty"),
])
def test_pair_refuses_with_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        argv: list[str], words: str) -> None:
    code, _, err = run(capsys, "--data-dir", str(tmp_path), *argv)
    assert code == 2
    assert words in err
    assert err.count("\n") == 1


def test_download_receipt_flags(tmp_path: Path) -> None:
    parser = build_parser()
    base = ["--data-dir", str(tmp_path), "download", "inbox", "--bootstrap-servers", "b:1",
            "--topic", "t"]
    args = parser.parse_args([*base, "--name", "lab:inbox", "--receipts-topic", "t.r"])
    options = receipt_options(args, "/abs/inbox")
    assert options is not None
    assert (options.identity.name, options.topic_for("t")) == ("lab:inbox", "t.r")
    args = parser.parse_args(base)
    options = receipt_options(args, "/abs/inbox")
    assert options is not None
    assert options.identity.name.endswith(":/abs/inbox")
    assert options.topic_for("t") == "t.receipts"
    assert receipt_options(parser.parse_args([*base, "--no-receipts"]), "/abs/inbox") is None
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--no-receipts", "--receipts-topic", "x"])
    s3 = parser.parse_args(["download-s3", "--bootstrap-servers", "b:1", "--topic", "t",
                            "--bucket", "b", "--name", "archive", "--no-receipts"])
    assert (s3.name, s3.no_receipts) == ("archive", True)


def test_without_a_keychain_a_download_runs_without_receipts(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())  # the fixture restores its own
    args = build_parser().parse_args(["download", "inbox", "--bootstrap-servers", "b:1",
                                      "--topic", "t"])
    assert receipt_options(args, "/abs/inbox") is None
    assert "no delivery receipts" in caplog.text
    assert "--no-receipts" in caplog.text
