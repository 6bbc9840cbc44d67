"""``openmsi status`` against a real broker: ours and OpenMSIStream's programs, silence, memory."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import run, write_config
from lab_helpers import produce

from openmsi_gui.cli.main import main
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.lab_wire import (
    Counters,
    Heartbeat,
    LogBatch,
    ReportedState,
    ReportKind,
    encode_heartbeat,
    encode_log,
    heartbeat_key,
    log_key,
)


def beat(program_id: str, interval: float = 60.0) -> bytes:
    return encode_heartbeat(Heartbeat(
        program_id, dt.datetime.now(dt.UTC), Counters(messages_produced=4, bytes_produced=4096,
                                                      files=2),
        interval=interval, host="pc-7", app_version="3.1.0", kind=ReportKind.WATCH,
        job="microscope", state=ReportedState.WORKING, files_waiting=1, files_failed=0,
        free_bytes=10 * 2**30))


def openmsistream_beat() -> bytes:
    return json.dumps({"timestamp": dt.datetime.now(dt.UTC).isoformat(),
                       "n_messages_read": 8, "n_bytes_read": 2048, "n_messages_processed": 8,
                       "n_bytes_processed": 2048}).encode()


def test_status_lists_ours_and_openmsistream_s(kafka_config: KafkaConfig,
                                              make_topic: Callable[..., str],
                                              tmp_path: Path) -> None:
    beats, logs = make_topic(3), make_topic(1)
    produce(kafka_config, beats, [(heartbeat_key("pc7_microscope"), beat("pc7_microscope"), None),
                                  ("downloader_heartbeat", openmsistream_beat(), None),
                                  ("junk_heartbeat", b"\x00not json", None)])
    produce(kafka_config, logs, [(log_key("pc7_microscope"), encode_log(
        LogBatch("pc7_microscope", time.time(), ("WARNING slow disk",))), None)])
    config = write_config(tmp_path / "lab.config", kafka_config.bootstrap_servers)
    done = run(["status", "--config", str(config), "--heartbeat-topic", beats,
                "--log-topic", logs], tmp_path / "data")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["Program", "Host", "Last", "seen", "State", "Files", "(1", "h)",
                                "Data", "(1", "h)", "Waiting", "Failed", "Free", "disk",
                                "Version"]
    assert lines[1].split()[:2] == ["downloader", "—"]
    assert "OpenMSIStream" in lines[1]
    assert "2 KiB" in lines[1]
    assert lines[2].split()[:2] == ["pc7_microscope", "pc-7"]
    for word in ("working", "4 KiB", "10 GiB", "3.1.0", "s ago"):
        assert word in lines[2]
    assert lines[-1] == "2 programs: 2 running, 0 needing attention, 0 silent"

    done = run(["status", "--config", str(config), "--heartbeat-topic", beats,
                "--log-topic", logs, "--logs", "pc7_microscope", "--logs", "downloader"],
               tmp_path / "data")
    assert done.returncode == 0, done.stderr
    tail = done.stdout.split("0 silent\n", 1)[1].splitlines()
    assert tail[1] == "Recent log lines of pc7_microscope:"
    assert tail[2].endswith("  WARNING slow disk")
    assert tail[4].startswith("No log lines from downloader")

    done = run(["status", "--bootstrap-servers", kafka_config.bootstrap_servers,
                "--heartbeat_topic_name", beats, "--log_topic_name", logs, "--json"],
               tmp_path / "data")
    assert done.returncode == 0, done.stderr
    programs = {p["program_id"]: p for p in json.loads(done.stdout)["programs"]}
    assert programs["pc7_microscope"]["files_last_hour"] == 2
    assert programs["pc7_microscope"]["recent_log"][0]["text"] == "WARNING slow disk"
    assert programs["downloader"]["files_last_hour"] is None
    assert programs["downloader"]["interval_inferred"] is True


def test_a_stale_program_is_silent_and_remembered(kafka_config: KafkaConfig,
                                                  make_topic: Callable[..., str],
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    beats = make_topic(1)
    produce(kafka_config, beats, [(heartbeat_key("alive"), beat("alive"), None),
                                  (heartbeat_key("stale"), beat("stale"), time.time() - 600)])
    common = ["--data-dir", str(tmp_path), "status", "--bootstrap-servers",
              kafka_config.bootstrap_servers, "--heartbeat-topic", beats]
    assert main(common) == 1
    out = capsys.readouterr().out
    assert ("stale is silent: No heartbeat for 10 min (expected every 1 min): check that the "
            "PC and the app are running.") in out
    assert out.splitlines()[-1] == "2 programs: 1 running, 0 needing attention, 1 silent"

    assert main([*common, "--since", "5m"]) == 1  # not read again, but remembered
    assert "stale is silent" in capsys.readouterr().out
    assert main([*common, "--since", "5m", "--forget", "stale"]) == 0
    assert "stale" not in capsys.readouterr().out
    assert main([*common, "--since", "5m"]) == 0  # forgotten for good


def test_missing_topic_or_broker_is_one_sentence(kafka_config: KafkaConfig,
                                                 tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    topic = f"t-{uuid.uuid4().hex[:12]}"
    assert main(["--data-dir", str(tmp_path), "status", "--bootstrap-servers",
                 kafka_config.bootstrap_servers, "--heartbeat-topic", topic]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("openmsi: error: topic ")
    assert "does not exist" in err
    assert len(err.splitlines()) == 1
    assert main(["--data-dir", str(tmp_path), "status", "--bootstrap-servers", "127.0.0.1:1",
                 "--heartbeat-topic", topic]) == 2
    err = capsys.readouterr().err.strip()
    assert "127.0.0.1:1" in err
    assert len(err.splitlines()) == 1
