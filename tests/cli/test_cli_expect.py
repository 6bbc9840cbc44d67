"""``openmsi watch --expect NAME[,NAME...] --deadline 1h --resend``: the flags and their checks."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cli_helpers import OPENMSI
from helpers import wait_until

from openmsi_gui.app import pairing
from openmsi_gui.app.confirming import paired_names, unpaired, warn_unpaired
from openmsi_gui.cli.main import main
from openmsi_gui.cli.parser import build_parser
from openmsi_gui.engine.confirmation import DEFAULT_DEADLINE
from openmsi_gui.engine.kafka_config import KafkaConfig
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


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_watch_expect_resend_sends_a_file_nobody_confirms_again(
        kafka_config: KafkaConfig, topic: str, tmp_path: Path) -> None:
    """The real command: a destination that never answers, a one-second deadline, --resend."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "scan.tif").write_bytes(b"x" * 5000)
    proc = subprocess.Popen(
        [*OPENMSI, "--data-dir", str(tmp_path / "data"), "watch", str(out),
         "--bootstrap-servers", kafka_config.bootstrap_servers, "--topic", topic,
         "--upload-existing", "--stable-seconds", "0.2", "--expect", "offsite",
         "--deadline", "1s", "--resend"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any("(2 of at most 3)" in line for line in lines), timeout=30,
                   message="the second automatic re-send")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
        reader.join(10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert code == 0
    text = "".join(lines)
    assert "'offsite' is expected to confirm every file but is not paired here" in text
    assert ("scan.tif is not confirmed by offsite within 1 s of sending; sending it again by "
            "itself (1 of at most 3)") in text


def test_expect_without_receipts_is_refused(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "out").mkdir()
    code = main(["watch", str(tmp_path / "out"), "--bootstrap-servers", "127.0.0.1:9",
                 "--topic", "t", "--expect", "archive", "--no-receipts"])
    assert code == 2
    assert "--expect needs the destinations' receipts: drop --no-receipts" in (
        capsys.readouterr().err)
