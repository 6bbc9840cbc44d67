"""``openmsi watch --expect NAME[,NAME...] --deadline 1h --resend``: the flags and their checks."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from openmsi_gui.app import pairing
from openmsi_gui.app.confirming import paired_names, unpaired, warn_unpaired
from openmsi_gui.cli.parser import build_parser
from openmsi_gui.engine.confirmation import DEFAULT_DEADLINE
from openmsi_gui.engine.receipt_keys import SigningIdentity

BASE = ["watch", "outbox", "--bootstrap-servers", "b:1", "--topic", "t"]


def test_expect_deadline_and_resend_are_parsed() -> None:
    args = build_parser().parse_args([*BASE, "--expect", "archive, mirror", "--expect", "s3",
                                      "--deadline", "20m", "--resend"])
    assert args.expect == ["archive", "mirror", "s3"]
    assert args.deadline == 1200.0
    assert args.resend is True


def test_without_them_nothing_is_expected() -> None:
    args = build_parser().parse_args(BASE)
    assert (args.expect, args.deadline, args.resend) == ([], DEFAULT_DEADLINE, False)


def test_a_bad_deadline_says_how_to_write_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([*BASE, "--expect", "a", "--deadline", "an hour"])
    assert "90s, 20m, 1h or 7d" in capsys.readouterr().err


def test_an_expected_destination_not_paired_here_is_named(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pairing.trust(SigningIdentity.generate("archive").public.pairing_code(), tmp_path)
    assert paired_names(tmp_path) == ["archive"]
    assert unpaired(["archive", "mirror"], tmp_path) == ["mirror"]
    with caplog.at_level(logging.WARNING):
        warn_unpaired(["archive", "mirror"], tmp_path)
    assert "'mirror' is expected" in caplog.text
    assert "openmsi pair add" in caplog.text
    assert "'archive'" not in caplog.text
