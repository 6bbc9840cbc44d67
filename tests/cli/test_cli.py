"""The ``openmsi`` command line, run as a real subprocess against the real broker."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import background, quick_join_config, run, stop_gracefully, write_config
from helpers import chunks_of, produce_chunks, tree_files, wait_until

from openmsi_gui.engine.broker import EmbeddedBroker, free_port
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry


def test_upload_then_download_with_an_ini_config(broker: EmbeddedBroker, topic: str,
                                                 tmp_path: Path) -> None:
    config = write_config(tmp_path / "lab.config", broker.bootstrap_servers)
    data = os.urandom(1_500_000)
    (tmp_path / "scan.tif").write_bytes(data)
    result = run(["upload", str(tmp_path / "scan.tif"), "--config", str(config),
                  "--topic", topic, "--chunk-size", "65536"], tmp_path / "state")
    assert result.returncode == 0, result.stderr
    assert "sent scan.tif" in result.stderr
    dest = tmp_path / "dest"
    with background(["download", str(dest), "--config", str(config), "--topic", topic,
                     "--group", "cli"], tmp_path / "state") as proc:
        wait_until((dest / "scan.tif").exists, message="download")
        code, seconds = stop_gracefully(proc, signal.SIGINT)
    assert code == 0
    assert seconds < 10
    assert (dest / "scan.tif").read_bytes() == data


def test_watch_sends_stable_files_and_stops_on_sigterm(kafka_config: KafkaConfig, topic: str,
                                                       tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "old.txt").write_text("there before")
    with background(["watch", str(src), "--bootstrap-servers", kafka_config.bootstrap_servers,
                     "--topic", topic, "--stable-seconds", "0.5", "--exclude", "*.bak, scratch",
                     "--exclude", "**/old/**"], tmp_path / "state") as proc:
        time.sleep(1.5)
        (src / "new.txt").write_text("arrived later")
        (src / ".hidden").write_text("never sent")
        for skipped in ("~$new.docx", "new.txt.bak", "scratch/a.txt", "x/old/b.txt"):
            (src / skipped).parent.mkdir(parents=True, exist_ok=True)
            (src / skipped).write_text("skipped by a pattern")
        (src / "run.log").write_text("sent: names with 'log' are data too")
        time.sleep(3)
        code, seconds = stop_gracefully(proc)
        output = proc.stdout.read() if proc.stdout else ""
    assert code == 0, output
    assert seconds < 10
    assert "sent new.txt" in output
    assert "sent run.log" in output
    assert "old.txt" not in output
    assert ".hidden" not in output
    for skipped in ("~$new.docx", "new.txt.bak", "a.txt", "b.txt"):
        assert skipped not in output


def test_download_finishes_a_file_after_being_killed(kafka_config: KafkaConfig,
                                                     make_topic: Callable[..., str],
                                                     tmp_path: Path) -> None:
    """SIGKILL mid-file: the restart completes it (OpenMSIStream would lose it)."""
    topic = make_topic(1)
    data = os.urandom(64 * 1024)
    chunks = chunks_of(data, "runs/big.raw", chunk_size=1024)
    produce_chunks(kafka_config, topic, chunks[:40])
    dest, state = tmp_path / "dest", tmp_path / "state"
    config = quick_join_config(tmp_path / "quick.ini", kafka_config.bootstrap_servers)
    args = ["download", str(dest), "--config", str(config), "--topic", topic, "--group", "crash"]
    with background(args, state) as proc:
        def stored() -> int:
            if not (state / "registry.sqlite3").exists():
                return 0
            reg = Registry(state / "registry.sqlite3")
            try:
                rows = reg._db.connection.execute("SELECT COUNT(*) FROM download_chunks").fetchone()
                return int(rows[0])
            finally:
                reg.close()
        wait_until(lambda: stored() == 40, message="40 chunks stored")
        time.sleep(1.5)  # let a checkpoint commit offsets
        proc.kill()
        proc.wait()
    assert not (dest / "runs/big.raw").exists()
    assert len(list((dest / "runs").glob(".openmsi-*.partial"))) == 1
    produce_chunks(kafka_config, topic, chunks[40:])
    with background(args, state) as proc:
        wait_until((dest / "runs/big.raw").exists, message="the file to complete")
        stop_gracefully(proc)
    assert tree_files(dest) == {"runs/big.raw": data}


@pytest.mark.parametrize(("args", "expected"), [
    (["upload", "{missing}", "--bootstrap-servers", "{broker}", "--topic", "x"],
     "is not a file"),
    (["upload", "{file}", "--config", "{tmp}/nope.config", "--topic", "x"],
     "does not exist: check the --config path"),
    (["upload", "{file}", "--bootstrap-servers", "{broker}", "--topic", "no-such-topic"],
     "does not exist on the broker"),
    (["upload", "{file}", "--bootstrap-servers", "127.0.0.1:{dead}", "--topic", "x"],
     "cannot reach the broker"),
    # (A download on a topic not made yet waits for it: test_cli_outage.py.)
    (["download", "{tmp}/d", "--bootstrap-servers", "127.0.0.1:{dead}", "--topic", "x"],
     "nothing accepts connections at 127.0.0.1:"),
    (["topic", "list", "--bootstrap-servers", "127.0.0.1:{dead}"],
     "nothing accepts connections at 127.0.0.1:"),
    (["watch", "{tmp}/nofolder", "--bootstrap-servers", "{broker}", "--topic", "x"],
     "is not a folder"),
    (["watch", "{tmp}", "--bootstrap-servers", "{broker}", "--topic", "x", "--include-regex",
      "("], "invalid regular expression"),
    (["watch", "{tmp}", "--bootstrap-servers", "{broker}", "--topic", "x", "--exclude",
      "*.{{tif"], "without its"),
])
def test_errors_are_one_sentence_not_a_traceback(args: list[str], expected: str,
                                                 broker: EmbeddedBroker, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    values = {"missing": str(tmp_path / "missing.txt"), "broker": broker.bootstrap_servers,
              "file": str(tmp_path / "f.txt"), "tmp": str(tmp_path), "dead": str(free_port())}
    result = run([a.format(**values) for a in args], tmp_path / "state", timeout=60)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_chunk_size_is_refused(tmp_path: Path) -> None:
    result = run(["upload", "x", "--bootstrap-servers", "h:1", "--topic", "t",
                  "--chunk-size", "1000"], tmp_path)
    assert result.returncode == 2
    assert "power of two" in result.stderr


def test_demo_moves_a_dropped_file(tmp_path: Path) -> None:
    with background(["demo", "--folder", str(tmp_path / "demo"), "--duration", "60"],
                    tmp_path / "state") as proc:
        wait_until((tmp_path / "demo" / "outbox").is_dir, message="demo folders")
        time.sleep(2)
        (tmp_path / "demo" / "outbox" / "hello.txt").write_text("hello from the lab")
        wait_until((tmp_path / "demo" / "inbox" / "hello.txt").exists, timeout=40,
                   message="the file in the inbox")
        code, _ = stop_gracefully(proc, signal.SIGINT)
    assert code == 0
    assert (tmp_path / "demo" / "inbox" / "hello.txt").read_text() == "hello from the lab"


@pytest.mark.parametrize("command", ["upload", "watch", "download", "download-s3"])
def test_a_bad_bandwidth_limit_is_refused_in_one_sentence(command: str, tmp_path: Path) -> None:
    where = ["--bucket", "b"] if command == "download-s3" else [str(tmp_path)]
    result = run([command, *where, "--bootstrap-servers", "h:1", "--topic", "t",
                  "--bwlimit", "8 MB/s"], tmp_path)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert "cannot read the bandwidth limit '8 MB/s'" in last
    assert 'such as "08:00,4M 18:00,off"' in last


def test_an_upload_under_a_bandwidth_limit_completes(broker: EmbeddedBroker, topic: str,
                                                      tmp_path: Path) -> None:
    (tmp_path / "scan.tif").write_bytes(os.urandom(300_000))
    result = run(["upload", str(tmp_path / "scan.tif"), "--bootstrap-servers",
                  broker.bootstrap_servers, "--topic", topic, "--chunk-size", "65536",
                  "--bwlimit", "1M:off"], tmp_path / "state")
    assert result.returncode == 0, result.stderr
    assert "bandwidth limit: 1 MiB/s" in result.stderr
