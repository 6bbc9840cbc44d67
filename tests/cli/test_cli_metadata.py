"""``openmsi watch --meta ...`` and ``openmsi download --sidecar --download-regex``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import Running, run
from helpers import wait_until

from openmsi_gui.engine.broker import EmbeddedBroker


@pytest.mark.parametrize(("flags", "says"), [
    (["--meta", "operator"], "is not KEY=VALUE"),
    (["--meta", "bad key=1"], "may only use letters"),
    (["--meta-from-path", "(unclosed"], "not a regular expression"),
    (["--meta-from-path", r"S\d+"], "no named group"),
    (["--require-sample"], "--sample"),
])
def test_bad_metadata_flags_are_one_sentence(tmp_path: Path, flags: list[str],
                                             says: str) -> None:
    result = run(["watch", str(tmp_path), "--bootstrap-servers", "127.0.0.1:1", "--topic", "t",
                  *flags], tmp_path / "state", timeout=30)
    assert result.returncode == 2
    assert says in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("flag", ["--download-regex", "--download_regex"])
def test_a_bad_download_filter_is_one_sentence(tmp_path: Path, flag: str) -> None:
    result = run(["download", str(tmp_path / "in"), "--bootstrap-servers", "127.0.0.1:1",
                  "--topic", "t", flag, "[a-"], tmp_path / "state", timeout=30)
    assert result.returncode == 2
    assert "the download filter is not a regular expression" in result.stderr


def test_watch_sends_metadata_and_download_keeps_it_and_filters(
        broker: EmbeddedBroker, make_topic: Callable[..., str], tmp_path: Path) -> None:
    topic = make_topic(1)
    src, dest = tmp_path / "outbox", tmp_path / "inbox"
    (src / "S001").mkdir(parents=True)
    (src / "S001/a.tif").write_bytes(b"image")
    (src / "other.txt").write_bytes(b"other")
    servers = ["--bootstrap-servers", broker.bootstrap_servers, "--topic", topic]
    watch = Running(["watch", str(src), *servers, "--upload-existing", "--meta", "lab=B2",
                     "--meta", "operator=Ada", "--meta-from-path", r"^(?P<specimen>S\d+)/",
                     "--sample", "run-7", "--stable-seconds", "0"], tmp_path / "w")
    download = Running(["--log-level", "DEBUG", "download", str(dest), *servers, "--group",
                        "g-cli-meta", "--sidecar", "--download_regex", "S0"], tmp_path / "d")
    try:
        wait_until((dest / "S001/a.tif.metadata.json").exists, timeout=60,
                   message="the sidecar")
        download.wait_for("1 file skipped by the filter")
        assert watch.stop() == 0
        assert download.stop() == 0
        assert download.lines[-1].endswith("INFO 1 file skipped by the filter")  # its summary
    finally:
        watch.close()
        download.close()
    assert json.loads((dest / "S001/a.tif.metadata.json").read_text("utf-8")) == {
        "lab": "B2", "operator": "Ada", "specimen": "S001", "sample": "run-7"}
    assert (dest / "S001/a.tif").read_bytes() == b"image"
    assert not (dest / "other.txt").exists()


@pytest.mark.parametrize("command", [
    ["download", "/in"], ["download-s3", "--bucket", "lab-data"],
    ["process", "--group", "g", "--command", "true {path}"]])
def test_every_receiving_command_takes_the_download_filter(command: list[str]) -> None:
    from openmsi_gui.cli.main import download_filter
    from openmsi_gui.cli.parser import build_parser

    args = build_parser().parse_args([command[0], *command[1:], "--bootstrap-servers", "h:1",
                                      "--topic", "t", "--download_regex", r"S0\d+/"])
    wanted = download_filter(args)
    assert wanted is not None
    assert wanted.match("S001/a.tif")
    assert not wanted.match("old/S001/a.tif")
