"""OpenMSIStream's heartbeats and logs, from the real programs, read by the Lab overview.

A real ``DataFileUploadDirectory`` sends a file to a real
``DataFileDownloadDirectory``; both report every second to a heartbeat topic
and a log topic (OpenMSIStream's own options). What they put there is read
with a plain consumer and must decode with ``lab_wire``; our own heartbeats
must carry the same keys, fields and JSON types.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openmsistream_tools as omsi
import pytest
from cli_helpers import write_config
from helpers import wait_until
from lab_helpers import (
    LOG_TYPES,
    RECEIVER_TYPES,
    SENDER_TYPES,
    Raw,
    read_raw,
    status,
    type_map,
)

from openmsi_gui.app.lab import silent_after
from openmsi_gui.engine import admin, lab_wire
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.lab_wire import Counters, Heartbeat, LogBatch, ReportedState, ReportKind

pytestmark = pytest.mark.interop

SENDER = "omsi-upload"
RECEIVER = "omsi-download"
CHUNK = 16384
DATA_SIZE = 100_000
N_CHUNKS = -(-DATA_SIZE // CHUNK)


@dataclass
class Reporting:
    """OpenMSIStream's two programs, still running, and what they reported so far."""

    config: KafkaConfig
    heartbeat_topic: str
    log_topic: str
    started: dt.datetime
    upload: omsi.UploadDirectory
    download: omsi.DownloadDirectory
    found: list[Raw]

    def beats(self, program_id: str) -> list[Raw]:
        return [r for r in self.found if r.topic == self.heartbeat_topic
                and r.key == lab_wire.heartbeat_key(program_id).encode()]

    def logs(self, program_id: str) -> list[Raw]:
        return [r for r in self.found if r.topic == self.log_topic
                and r.key == lab_wire.log_key(program_id).encode()]


def _counted(found: list[Raw], program_id: str, field: str) -> int:
    key = lab_wire.heartbeat_key(program_id).encode()
    return sum(r.json().get(field, 0) for r in found if r.key == key)


@pytest.fixture(scope="module")
def reporting(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Reporting]:
    omsi.interop_venv()  # installs once per machine; fails loudly when it cannot
    config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
    suffix = uuid.uuid4().hex[:8]
    data_topic, heartbeat_topic, log_topic = (f"{name}-{suffix}" for name in ("data", "hb", "lg"))
    for name in (data_topic, heartbeat_topic, log_topic):
        admin.create_topic(config, name, 1)
    root = tmp_path_factory.mktemp("omsi-reporting")
    servers = {"bootstrap.servers": broker.bootstrap_servers}
    # The download directory has no producer: it makes one from these sections.
    cfg = omsi.write_config(root / "omsi.config", broker.bootstrap_servers,
                            extra={"heartbeat": servers, "log": servers})
    src = root / "instrument"
    src.mkdir()
    data = os.urandom(DATA_SIZE)
    started = dt.datetime.now(dt.UTC)
    download = omsi.DownloadDirectory(
        root / "out", cfg, data_topic, f"g-{suffix}", log_dir=root / "download-logs",
        extra_args=omsi.reporting_args(heartbeat_topic, log_topic, program_id=RECEIVER))
    upload = omsi.UploadDirectory(
        src, cfg, data_topic, chunk_size=CHUNK, log_dir=root / "upload-logs",
        extra_args=omsi.reporting_args(heartbeat_topic, log_topic, program_id=SENDER))
    (src / "scan.bin").write_bytes(data)  # sent at start (upload_existing)
    download.start()
    try:
        upload.start()
        download.wait_for_files({"scan.bin": data})
        found = read_raw(config, [heartbeat_topic, log_topic], until=lambda found: (
            _counted(found, SENDER, "n_messages_produced") >= N_CHUNKS
            and _counted(found, RECEIVER, "n_messages_processed") >= N_CHUNKS))
        yield Reporting(config, heartbeat_topic, log_topic, started, upload, download, found)
    finally:  # killed: a clean stop (several seconds for the download) is not what is tested
        upload.kill()
        download.kill()


def _recent(when: dt.datetime | None, started: dt.datetime) -> bool:
    now = dt.datetime.now(dt.UTC)
    return when is not None and started - dt.timedelta(seconds=5) <= when <= now


def test_openmsistreams_heartbeats_decode_with_their_program_id_time_and_counters(
        reporting: Reporting) -> None:
    sender = [lab_wire.decode_heartbeat(r.key, r.value) for r in reporting.beats(SENDER)]
    receiver = [lab_wire.decode_heartbeat(r.key, r.value) for r in reporting.beats(RECEIVER)]
    assert len(sender) >= 2
    assert len(receiver) >= 2
    for beat in [*sender, *receiver]:
        assert beat is not None
        assert beat.timestamp is not None
        assert beat.timestamp.utcoffset() == dt.timedelta(0)
        assert _recent(beat.timestamp, reporting.started), beat.timestamp
        assert not beat.is_ours
        assert beat.interval is None  # OpenMSIStream's beats do not say: it is inferred
        assert beat.host == ""
    assert {b.program_id for b in sender if b} == {SENDER}
    assert {b.program_id for b in receiver if b} == {RECEIVER}
    # The counters count since the previous beat: together, the one file's chunks once.
    sent = sum((b.delta for b in sender if b), Counters())
    assert sent.messages_produced == N_CHUNKS
    assert sent.bytes_produced >= DATA_SIZE  # the serialised messages, a bit more than the file
    received = sum((b.delta for b in receiver if b), Counters())
    assert (received.messages_read, received.messages_processed) == (N_CHUNKS, N_CHUNKS)
    assert received.bytes_processed == DATA_SIZE
    assert received.bytes == DATA_SIZE
    assert sum(1 for b in sender if b and b.delta.messages_produced) >= 1


def test_openmsistreams_log_messages_decode(reporting: Reporting) -> None:
    for program_id in (SENDER, RECEIVER):
        raws = reporting.logs(program_id)
        assert raws, f"no log message from {program_id}"
        batches = [lab_wire.decode_log(r.key, r.value) for r in raws]
        for batch in batches:
            assert batch is not None
            assert batch.program_id == program_id
            when = dt.datetime.fromtimestamp(batch.timestamp, dt.UTC)
            assert _recent(when, reporting.started), when
        lines = [line for batch in batches if batch for line in batch.messages]
        assert any("scan.bin" in line for line in lines), lines


def _ours(kind: ReportKind) -> Heartbeat:
    now = dt.datetime.now(dt.UTC)
    return Heartbeat(
        program_id="labpc01_watch", timestamp=now, delta=Counters(1, 2, 3, 4, 5, 6, 1),
        totals=Counters(10, 20, 30, 40, 50, 60, 10), interval=1.0, host="labpc01",
        app_version="0.1.0", kind=kind, job="instrument", state=ReportedState.WORKING,
        files_waiting=0, files_failed=0, last_file="a.bin", last_file_time=now, folder="/data",
        free_bytes=1, config_fingerprint="abc", log_program_id="labpc01", started=now)


def test_the_real_programs_fields_and_types_are_the_ones_recorded(reporting: Reporting) -> None:
    """What the tests of our own heartbeats compare with (lab_helpers) is what 1.8.x sends."""
    for beat in reporting.beats(SENDER):
        assert type_map(beat.json()) == SENDER_TYPES
    for beat in reporting.beats(RECEIVER):
        assert type_map(beat.json()) == RECEIVER_TYPES
    for log in reporting.logs(SENDER) + reporting.logs(RECEIVER):
        assert type_map(log.json()) == LOG_TYPES
        assert all(isinstance(line, str) for line in log.json()["messages"])


@pytest.mark.parametrize(("kind", "program"), [(ReportKind.WATCH, SENDER),
                                               (ReportKind.DOWNLOAD, RECEIVER),
                                               (ReportKind.DOWNLOAD_S3, RECEIVER)])
def test_our_heartbeat_has_the_real_programs_fields_with_the_same_types(
        reporting: Reporting, kind: ReportKind, program: str) -> None:
    real = reporting.beats(program)[-1]
    ours = json.loads(lab_wire.encode_heartbeat(_ours(kind)))
    theirs = type_map(real.json())
    assert {name: type_map(ours).get(name) for name in theirs} == theirs
    # The same key form: <program_id>_heartbeat.
    assert real.key == lab_wire.heartbeat_key(program).encode()
    # UTC, ISO 8601 with its offset written out (OpenMSIStream since its PR #108).
    for stamp in (ours["timestamp"], real.json()["timestamp"]):
        assert stamp.endswith("+00:00")
        assert dt.datetime.fromisoformat(stamp).utcoffset() == dt.timedelta(0)


def test_our_log_message_has_the_real_programs_fields_with_the_same_types(
        reporting: Reporting) -> None:
    real = reporting.logs(SENDER)[-1]
    ours = json.loads(lab_wire.encode_log(LogBatch("labpc01", 1796533667.5, ("a warning",),
                                                   "labpc01")))
    assert {name: type_map(ours).get(name) for name in LOG_TYPES} == type_map(real.json())
    assert real.key == lab_wire.log_key(SENDER).encode()


def test_openmsistreams_programs_show_in_openmsi_status_with_their_inferred_interval(
        reporting: Reporting, tmp_path: Path) -> None:
    config = write_config(tmp_path / "lab.config", reporting.config.bootstrap_servers)
    code, programs = status(config, reporting.heartbeat_topic, tmp_path / "status")
    assert code == 0, programs
    assert set(programs) == {SENDER, RECEIVER}
    for row in programs.values():
        assert row["interval_inferred"] is True  # their beats do not say it: their spacing does
        assert 0.5 <= row["interval_secs"] <= 2.0, row
        assert (row["is_ours"], row["host"], row["files_last_hour"]) == (False, "", None)
        assert row["state"] in ("working", "idle"), row
    assert programs[SENDER]["messages_last_hour"] == N_CHUNKS
    assert programs[RECEIVER]["bytes_last_hour"] == DATA_SIZE


def test_an_openmsistream_program_killed_turns_silent_by_its_inferred_interval(
        reporting: Reporting, tmp_path: Path) -> None:
    """Last in this module: it kills the upload directory the others read from."""
    config = write_config(tmp_path / "lab.config", reporting.config.bootstrap_servers)
    reporting.upload.kill()

    def silent() -> bool:
        code, programs = status(config, reporting.heartbeat_topic, tmp_path / "status")
        row = programs[SENDER]
        if row["state"] != "silent":
            return False
        assert code == 1, programs
        assert row["seconds_since_seen"] > silent_after(row["interval_secs"]) - 0.01, row
        assert row["interval_inferred"], row
        assert row["interval_secs"] <= 2.0, row
        assert programs[RECEIVER]["state"] != "silent", programs  # it still beats
        return True

    wait_until(silent, timeout=30, interval=0.2, message="the killed upload turning silent")
