"""`openmsi watch`, `download`, `download-s3` report to the lab as OpenMSIStream's programs do.

Their heartbeats and log messages, read from the topics with a plain consumer,
carry OpenMSIStream's keys, fields and JSON types (``lab_helpers`` holds those of
the real programs, checked in ``tests/engine/test_lab_interop.py``), and
`openmsi status` sees a program stopped with SIGKILL turn silent and recover.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Running, write_config
from helpers import chunks_of, produce_chunks, produce_raw, wait_until
from lab_helpers import (
    LOG_TYPES,
    RECEIVER_TYPES,
    SENDER_TYPES,
    Raw,
    read_raw,
    status,
    type_map,
)

from openmsi_gui import __version__
from openmsi_gui.app.lab import silent_after
from openmsi_gui.engine import lab_wire
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.heartbeats import host_name
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.lab_wire import Counters, Heartbeat, ReportKind
from openmsi_gui.engine.s3 import S3Location

INTERVAL = 1.0
SIZE = 1_300_000  # three chunks of 512 KiB


def _reporting(heartbeat_topic: str, log_topic: str = "", program_id: str = "") -> list[str]:
    args = ["--heartbeat-topic", heartbeat_topic, "--heartbeat-interval", str(INTERVAL)]
    if log_topic:
        args += ["--log-topic", log_topic, "--log-interval", str(INTERVAL)]
    if program_id:
        args += ["--heartbeat-program-id", program_id]
    return args


def _beats(found: list[Raw], program_id: str) -> list[Raw]:
    key = lab_wire.heartbeat_key(program_id).encode()
    return [r for r in found if r.key == key]


def _decoded(raws: list[Raw]) -> list[Heartbeat]:
    beats = [lab_wire.decode_heartbeat(r.key, r.value) for r in raws]
    assert None not in beats
    return [b for b in beats if b is not None]


def _sum(raws: list[Raw], field: str) -> int:
    return sum(int(r.json().get(field, 0)) for r in raws)


def _assert_openmsistreams(raw: Raw, fields: dict[str, str]) -> None:
    """Every field OpenMSIStream's program sends is there, with the same JSON type."""
    value = raw.json()
    assert {name: type_map(value).get(name) for name in fields} == fields, value
    assert value["timestamp"].endswith("+00:00")
    assert dt.datetime.fromisoformat(value["timestamp"]).utcoffset() == dt.timedelta(0)


def test_watch_and_download_heartbeats_and_logs_parse_as_openmsistreams(
        broker: EmbeddedBroker, kafka_config: KafkaConfig, make_topic: Callable[..., str],
        tmp_path: Path) -> None:
    data, heartbeats, logs = make_topic(3), make_topic(1), make_topic(1)
    folder, inbox = tmp_path / "instrument", tmp_path / "inbox"
    folder.mkdir()
    servers = ["--bootstrap-servers", broker.bootstrap_servers, "--topic", data]
    watch = Running(["watch", str(folder), *servers, "--stable-seconds", "0.2",
                     *_reporting(heartbeats, logs, "lab-watch")], tmp_path / "w")
    download = Running(["download", str(inbox), *servers, "--no-receipts",
                        *_reporting(heartbeats, logs)], tmp_path / "d")
    receiver = f"{host_name()}_download"  # the default program id: host and command
    try:
        watch.wait_for("watching")
        download.wait_for("receiving from topic")
        (folder / "scan.bin").write_bytes(os.urandom(SIZE))
        # Not a chunk: the download warns, and the warning goes to the log topic.
        produce_raw(kafka_config, data, [("not-a-chunk", b"\x00garbage")])
        wait_until((inbox / "scan.bin").exists, message="scan.bin in the inbox")
        found = read_raw(kafka_config, [heartbeats, logs], until=lambda found: (
            _sum(_beats(found, "lab-watch"), "n_messages_produced") >= 3
            and _sum(_beats(found, receiver), "n_messages_processed") >= 3
            and any(r.topic == logs for r in found)))
    finally:
        watch.close()
        download.close()
    sender_raws, receiver_raws = _beats(found, "lab-watch"), _beats(found, receiver)
    assert len(sender_raws) >= 2, found
    assert len(receiver_raws) >= 2, found
    for raw in sender_raws:
        _assert_openmsistreams(raw, SENDER_TYPES)
    for raw in receiver_raws:
        _assert_openmsistreams(raw, RECEIVER_TYPES)
    # Counted as OpenMSIStream counts: since the previous beat, so together they are the file.
    assert _sum(sender_raws, "n_messages_produced") == 3
    assert SIZE <= _sum(sender_raws, "n_bytes_produced") < SIZE + 1000
    assert _sum(receiver_raws, "n_messages_processed") == 3
    # Bytes of the messages (chunk and its header), as the upload directory counts them.
    assert SIZE <= _sum(receiver_raws, "n_bytes_processed") < SIZE + 1000
    for raws, kind in ((sender_raws, ReportKind.WATCH), (receiver_raws, ReportKind.DOWNLOAD)):
        beats = _decoded(raws)
        assert all(b.is_ours and b.kind is kind and b.interval == INTERVAL for b in beats)
        assert {(b.host, b.app_version) for b in beats} == {(host_name(), __version__)}
        assert sum((b.delta for b in beats), Counters()) == beats[-1].totals
    log_raws = [r for r in found if r.topic == logs]
    for raw in log_raws:
        assert {name: type_map(raw.json()).get(name) for name in LOG_TYPES} == LOG_TYPES
        assert raw.key in (lab_wire.log_key(receiver).encode(), b"lab-watch_log")
        batch = lab_wire.decode_log(raw.key, raw.value)
        assert batch is not None
        assert batch.host == host_name()
        assert abs(batch.timestamp - raw.timestamp_ms / 1000) < 60
    rejected = [line for r in log_raws if r.key == lab_wire.log_key(receiver).encode()
                for line in r.json()["messages"] if "not-a-chunk" in line]
    assert rejected, log_raws


def _silent_by_the_rule(row: dict[str, Any]) -> bool:
    """Whether a row is silent, checked against its own figures: two intervals and a grace."""
    late, limit = row["seconds_since_seen"], silent_after(row["interval_secs"])
    if row["state"] == "silent":
        assert late > limit - 0.01, row  # not before two intervals (and the grace) passed
        return True
    assert late <= limit + 0.01, row  # nor after
    return False


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_watch_killed_turns_silent_and_recovers_when_started_again(
        broker: EmbeddedBroker, make_topic: Callable[..., str], tmp_path: Path) -> None:
    data, heartbeats = make_topic(1), make_topic(1)
    config = write_config(tmp_path / "lab.config", broker.bootstrap_servers)
    folder = tmp_path / "instrument"
    folder.mkdir()
    args = ["watch", str(folder), "--config", str(config), "--topic", data,
            *_reporting(heartbeats, program_id="pc1-watch")]
    looking = tmp_path / "status"  # the status command's own data folder (what it remembers)

    def heard() -> dict[str, Any] | None:
        code, rows = status(config, heartbeats, looking)
        row = rows.get("pc1-watch")
        if row is not None and not _silent_by_the_rule(row):
            assert code == 0, rows
            return row
        return None

    watch = Running(args, tmp_path / "w")
    try:
        watch.wait_for("watching")  # up: its signal handlers are in place
        wait_until(heard, timeout=30, interval=0.2, message="the watch in openmsi status")
        row = heard()
        assert row is not None
        assert (row["interval_secs"], row["interval_inferred"], row["is_ours"]) == (
            INTERVAL, False, True)
        assert row["state"] in ("working", "idle"), row
        watch.kill()
        wait_until(lambda: _silent_by_the_rule(status(config, heartbeats, looking)[1]
                                               ["pc1-watch"]),
                   timeout=30, interval=0.2, message="the killed watch turning silent")
        code, rows = status(config, heartbeats, looking)
        assert code == 1
        assert rows["pc1-watch"]["problem"], rows
    finally:
        watch.close()
    again = Running(args, tmp_path / "w")
    try:
        again.wait_for("watching")
        wait_until(heard, timeout=30, interval=0.2, message="the watch recovering")
        assert status(config, heartbeats, looking)[0] == 0
    finally:
        again.close()


def test_download_s3_heartbeats_parse_as_openmsistreams(
        broker: EmbeddedBroker, kafka_config: KafkaConfig, make_topic: Callable[..., str],
        s3_location: S3Location, tmp_path: Path) -> None:
    data, heartbeats = make_topic(1), make_topic(1)
    s3 = Running(["download-s3", "--bootstrap-servers", broker.bootstrap_servers,
                  "--topic", data, "--bucket", s3_location.bucket, "--prefix",
                  s3_location.prefix, "--endpoint-url", s3_location.endpoint_url,
                  "--region", s3_location.region, "--access-key-id",
                  s3_location.access_key_id, "--no-receipts",
                  *_reporting(heartbeats, program_id="lab-s3")], tmp_path / "s",
                 env={"OPENMSI_S3_SECRET_ACCESS_KEY": s3_location.secret_access_key})
    try:
        s3.wait_for("receiving from topic")
        produce_chunks(kafka_config, data, chunks_of(b"spectrum\n" * 1000, "run 1/a.csv"))
        found = read_raw(kafka_config, [heartbeats], until=lambda found: _sum(
            _beats(found, "lab-s3"), "n_messages_processed") >= 9)
    finally:
        s3.close()
    raws = _beats(found, "lab-s3")
    for raw in raws:
        _assert_openmsistreams(raw, RECEIVER_TYPES)
    assert _sum(raws, "n_messages_processed") == 9  # 9000 bytes in 1024-byte chunks
    beats = _decoded(raws)
    assert {b.kind for b in beats} == {ReportKind.DOWNLOAD_S3}
    assert sum((b.delta for b in beats), Counters()) == beats[-1].totals
