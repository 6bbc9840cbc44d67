"""Heartbeat and log values: OpenMSIStream's fields and types, ours beside them, hostile input."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from openmsi_gui.engine import lab_wire
from openmsi_gui.engine.lab_wire import Counters, Heartbeat, LogBatch, ReportedState, ReportKind


def _ours(kind: ReportKind = ReportKind.WATCH) -> Heartbeat:
    now = dt.datetime(2026, 12, 5, 21, 34, 1, 281965, tzinfo=dt.UTC)
    return Heartbeat(
        program_id="labpc01_watch", timestamp=now,
        delta=Counters(messages_produced=4, bytes_produced=4000, files=2),
        totals=Counters(messages_produced=40, bytes_produced=40000, files=20),
        interval=10.0, host="labpc01", app_version="0.1.0", kind=kind, job="watch",
        state=ReportedState.WORKING, files_waiting=3, files_failed=1, last_file="S001/a.txt",
        last_file_time=now, folder="/data", free_bytes=123, config_fingerprint="abc123",
        log_program_id="labpc01", started=now)


def test_a_senders_heartbeat_has_openmsistreams_fields_and_types() -> None:
    value = json.loads(lab_wire.encode_heartbeat(_ours()))
    assert lab_wire.heartbeat_key("labpc01_watch") == "labpc01_watch_heartbeat"
    assert value["timestamp"] == "2026-12-05T21:34:01.281965+00:00"
    assert dt.datetime.fromisoformat(value["timestamp"]).utcoffset() == dt.timedelta(0)
    assert (value["n_messages_produced"], value["n_bytes_produced"]) == (4, 4000)
    assert "n_messages_read" not in value
    assert value["totals"]["n_bytes_produced"] == 40000
    assert value["interval_secs"] == 10.0


def test_a_receivers_heartbeat_has_openmsistreams_reader_counters() -> None:
    beat = _ours(ReportKind.DOWNLOAD)
    beat = Heartbeat(**{**beat.__dict__, "delta": Counters(messages_read=5, bytes_read=50,
                                                             messages_processed=5,
                                                             bytes_processed=50)})
    value = json.loads(lab_wire.encode_heartbeat(beat))
    for name in ("n_messages_read", "n_bytes_read", "n_messages_processed",
                 "n_bytes_processed"):
        assert isinstance(value[name], int)
    assert "n_messages_produced" not in value


def test_our_heartbeat_round_trips() -> None:
    beat = _ours()
    assert lab_wire.decode_heartbeat(b"labpc01_watch_heartbeat",
                                     lab_wire.encode_heartbeat(beat)) == beat


def test_openmsistreams_heartbeat_is_read_without_our_fields() -> None:
    value = json.dumps({"timestamp": "2026-12-05T21:34:01.281965+00:00",
                        "n_messages_produced": 7, "n_bytes_produced": 700}).encode()
    beat = lab_wire.decode_heartbeat(b"3f2a_heartbeat", value)
    assert beat is not None
    assert not beat.is_ours
    assert beat.interval is None
    assert beat.program_id == "3f2a"
    assert beat.delta.bytes == 700
    naive = lab_wire.decode_heartbeat(b"x_heartbeat", b'{"timestamp": "2026-12-05T21:34:01"}')
    assert naive is not None
    assert naive.timestamp == dt.datetime(2026, 12, 5, 21, 34, 1,
                                                                tzinfo=dt.UTC)


@pytest.mark.parametrize(("key", "value"), [
    (None, b"{}"), (b"x_log", b"{}"), (b"x_heartbeat", None), (b"x_heartbeat", b"\xff\xfe"),
    (b"x_heartbeat", b"[1, 2]"), (b"x_heartbeat", b"[" * 100000),
    (b"x_heartbeat", b" " * (lab_wire.MAX_VALUE_BYTES + 1)),
])
def test_what_is_not_a_heartbeat_is_none(key: bytes | None, value: bytes | None) -> None:
    assert lab_wire.decode_heartbeat(key, value) is None


def test_hostile_fields_are_escaped_or_dropped() -> None:
    value = json.dumps({"timestamp": "soon", "n_bytes_produced": -5, "n_messages_read": True,
                        "n_bytes_read": float("nan"), "app": "openmsi-gui",
                        "app_version": "1\x1b[2J", "hostname": "pc\nforged line",
                        "job_kind": "rm -rf", "interval_secs": -1, "free_bytes": "lots",
                        "totals": [1]}).encode()
    beat = lab_wire.decode_heartbeat(b"evil\x1b]0;x\x07_heartbeat", value)
    assert beat is not None
    assert beat.timestamp is None
    assert beat.delta == Counters()
    assert beat.totals is None
    assert "\x1b" not in beat.program_id
    assert "\x1b" not in beat.app_version
    assert "\n" not in beat.host
    assert beat.kind is None
    assert beat.interval is None
    assert beat.free_bytes is None


def test_log_messages_as_openmsistream_and_hostile() -> None:
    batch = LogBatch("labpc01", 1733434441.5, ("a warning", "an error"), "labpc01")
    value = json.loads(lab_wire.encode_log(batch))
    assert lab_wire.log_key("labpc01") == "labpc01_log"
    assert isinstance(value["timestamp"], float)
    assert value["messages"] == ["a warning",
                                                                            "an error"]
    assert lab_wire.decode_log(b"labpc01_log", lab_wire.encode_log(batch)) == batch
    hostile = lab_wire.decode_log(b"p_log", json.dumps(
        {"timestamp": "x", "messages": ["ok", 5, "line\nforged\x1b[31m"]}).encode())
    assert hostile is not None
    assert hostile.timestamp == 0.0
    assert hostile.messages == ("ok", "line\\nforged\\x1b[31m")
    assert lab_wire.decode_log(b"p_log", b'{"messages": "no"}') is None
