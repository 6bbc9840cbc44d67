"""The lab reader on a real broker: reads back, follows, waits for topics, survives junk."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable

import pytest
from helpers import Recorder, wait_until
from lab_helpers import produce

from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.events import EventBus, LabReports
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.lab_reader import LabReader, read_once, topic_missing_sentence
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

FAST = {"publish_every": 0.1, "probe_seconds": 0.2, "unreachable_after": 0.5}


def our_beat(program_id: str) -> Heartbeat:
    return Heartbeat(program_id, dt.datetime.now(dt.UTC), Counters(files=1, bytes_produced=10),
                     interval=60.0, host="pc1", app_version="9.9", kind=ReportKind.WATCH,
                     job="raw", state=ReportedState.WORKING)


def openmsistream_beat() -> bytes:
    """As OpenMSIStream's DataFileUploadDirectory sends it."""
    return json.dumps({"timestamp": dt.datetime.now(dt.UTC).isoformat(),
                       "n_messages_produced": 3, "n_bytes_produced": 1536}).encode()


def reports(recorder: Recorder) -> list[LabReports]:
    return [e for e in recorder.of(LabReports) if isinstance(e, LabReports)]


def beat_ids(recorder: Recorder) -> list[str]:
    return [beat.program_id for r in reports(recorder) for beat, _ in r.beats]


JUNK: list[tuple[str | bytes | None, bytes | None, float | None]] = [
    (None, b"no key", None), (b"\xff\xfe_heartbeat", b"\x00\x01binary", None),
    ("x_heartbeat", b"[1, 2]", None), ("x_heartbeat", b"{" * 5000, None),
    ("x_log", b'{"timestamp": 1, "messages": "not a list"}', None),
    ("x_heartbeat", None, None), ("chunk_1_of_2", b"\x93\x01\x02\x03", None),
]


def test_reads_back_since_and_follows(kafka_config: KafkaConfig,
                                      make_topic: Callable[..., str], bus: EventBus,
                                      recorder: Recorder) -> None:
    beats, logs = make_topic(2), make_topic(1)
    old = time.time() - 2 * 3600
    produce(kafka_config, beats, [
        (heartbeat_key("too_old"), encode_heartbeat(our_beat("too_old")), old),
        (heartbeat_key("ours"), encode_heartbeat(our_beat("ours")), time.time() - 60),
        ("osn_heartbeat", openmsistream_beat(), None), *JUNK])
    produce(kafka_config, logs, [
        (log_key("ours"), encode_log(LogBatch("ours", time.time(), ("WARNING disk\x1b[2J",))),
         None)])
    reader = LabReader(kafka_config, bus, beats, logs, name="lab-test", **FAST)
    reader.start()
    try:
        wait_until(lambda: {"ours", "osn"} <= set(beat_ids(recorder)), timeout=20,
                   message="the beats read back")
        wait_until(lambda: any(r.logs for r in reports(recorder)), timeout=20)
        found = {beat.program_id: (beat, seen) for r in reports(recorder) for beat, seen in r.beats}
        assert "too_old" not in found
        beat, seen = found["ours"]
        assert beat.is_ours
        assert beat.host == "pc1"
        assert abs(seen.timestamp() - (time.time() - 60)) < 30  # the Kafka timestamp
        assert seen.tzinfo is not None
        assert not found["osn"][0].is_ours
        [(batch, _)] = [entry for r in reports(recorder) for entry in r.logs]
        assert batch.messages == ("WARNING disk\\x1b[2J",)
        assert all(r.source == "lab-test" and r.job == "lab-test" and not r.problem
                   for r in reports(recorder))

        produce(kafka_config, beats, [(heartbeat_key("later"),
                                       encode_heartbeat(our_beat("later")), None)])
        wait_until(lambda: "later" in beat_ids(recorder), timeout=20, message="a new beat")
        wait_until(lambda: reader.skipped == len(JUNK), timeout=10, message="junk counted")
    finally:
        reader.stop()
    assert reader.read == 4
    assert not reader.running


def test_waits_for_a_missing_topic(kafka_config: KafkaConfig, bus: EventBus,
                                   recorder: Recorder) -> None:
    topic = f"t-{uuid.uuid4().hex[:12]}"
    reader = LabReader(kafka_config, bus, topic, **FAST)
    reader.start()
    try:
        wait_until(lambda: any(r.problem for r in reports(recorder)), timeout=20)
        assert reports(recorder)[-1].problem == topic_missing_sentence(topic)
        assert admin.create_topic(kafka_config, topic, 1)
        produce(kafka_config, topic, [(heartbeat_key("pc"), encode_heartbeat(our_beat("pc")),
                                       None)])
        wait_until(lambda: "pc" in beat_ids(recorder), timeout=20, message="the first beat")
        assert reports(recorder)[-1].problem == ""
    finally:
        reader.stop()


def test_stop_returns_when_the_broker_is_gone(own_broker: EmbeddedBroker, bus: EventBus,
                                              recorder: Recorder) -> None:
    config = KafkaConfig.for_bootstrap(own_broker.bootstrap_servers)
    topic = f"t-{uuid.uuid4().hex[:12]}"
    admin.create_topic(config, topic, 1)
    produce(config, topic, [(heartbeat_key("pc"), encode_heartbeat(our_beat("pc")), None)])
    reader = LabReader(config, bus, topic, **FAST)
    reader.start()
    try:
        wait_until(lambda: "pc" in beat_ids(recorder), timeout=20)
        own_broker.kill()
        wait_until(lambda: "broker" in (reports(recorder)[-1].problem.lower()), timeout=20,
                   message="the broker said unreachable")
        assert reports(recorder)[-1].problem.endswith("Retrying.")
    finally:
        reader.stop(timeout=10)
    assert not reader.running


def test_stop_returns_when_the_broker_never_answered(bus: EventBus,
                                                    recorder: Recorder) -> None:
    config = KafkaConfig.for_bootstrap("127.0.0.1:1")
    reader = LabReader(config, bus, "beats", "logs", **FAST)
    reader.start()
    try:
        wait_until(lambda: reports(recorder), timeout=20, message="a problem")
        [report] = reports(recorder)
        assert report.problem == ("Nothing accepts connections at 127.0.0.1:1: check the port "
                                  "and that the broker is running. Retrying.")
        assert report.beats == report.logs == ()
    finally:
        reader.stop(timeout=10)
    assert not reader.running


def test_read_once(kafka_config: KafkaConfig, make_topic: Callable[..., str]) -> None:
    beats, logs = make_topic(3), make_topic(1)
    produce(kafka_config, beats, [
        (heartbeat_key("ours"), encode_heartbeat(our_beat("ours")), None),
        ("osn_heartbeat", openmsistream_beat(), None),
        (log_key("ours"), encode_log(LogBatch("ours", 0.0, ("same topic",))), None), *JUNK])
    produce(kafka_config, logs, [(log_key("ours"), encode_log(LogBatch("ours", 0.0, ("x",))),
                                  None)])
    found, lines = read_once(kafka_config, beats, logs, timeout=10)
    assert sorted(beat.program_id for beat, _ in found) == ["osn", "ours"]
    assert sorted(batch.messages[0] for batch, _ in lines) == ["same topic", "x"]
    assert read_once(kafka_config, beats, f"missing-{uuid.uuid4().hex}", timeout=10)[0]
    assert read_once(kafka_config, beats, since=dt.timedelta(seconds=0), timeout=10) == ([], [])
    with pytest.raises(admin.BrokerError, match="does not exist"):
        read_once(kafka_config, f"missing-{uuid.uuid4().hex}", timeout=10)


def test_read_once_without_a_broker() -> None:
    with pytest.raises(admin.BrokerError, match=r"127\.0\.0\.1:1"):
        read_once(KafkaConfig.for_bootstrap("127.0.0.1:1"), "beats", timeout=10)


def test_hostile_programs_are_shown_escaped(kafka_config: KafkaConfig,
                                            make_topic: Callable[..., str]) -> None:
    """Forged keys and texts on the topic reach the table and the JSON escaped, never raw."""
    from hostile_names import FORGED_KEY, FORGED_SHOWN, ODD_NAMES, hidden_characters

    from openmsi_gui.app import lab_table
    from openmsi_gui.app.lab import LabOverview

    beats = make_topic(1)
    forged = FORGED_KEY.decode("utf-8", "surrogateescape")
    hostile = Heartbeat(forged, dt.datetime.now(dt.UTC), interval=10.0, host=forged,
                        app_version="1\x1b[2J", job="\u202ejob", state=ReportedState.IDLE,
                        problem="line\nforged")
    produce(kafka_config, beats, [
        (FORGED_KEY + b"_heartbeat", encode_heartbeat(hostile), None),
        *[(heartbeat_key(name), openmsistream_beat(), None) for name in ODD_NAMES],
        (FORGED_KEY + b"_log", encode_log(LogBatch("x", 0.0, (forged,))), None), *JUNK])
    found, lines = read_once(kafka_config, beats, beats, timeout=10)
    overview = LabOverview()
    for beat, seen in found:
        overview.add_beat(beat, seen)
    for batch, seen in lines:
        overview.add_logs(batch, seen)
    now = dt.datetime.now(dt.UTC)
    rows = overview.rows(now)
    assert sorted(row.program_id for row in rows) == sorted([FORGED_SHOWN, *ODD_NAMES.values()])
    text = lab_table.table_text(rows, now)
    assert hidden_characters(text) == []
    assert hidden_characters(json.dumps(lab_table.as_json(rows, now), ensure_ascii=False)) == []
    assert [line.text for line in overview.logs_for(FORGED_SHOWN)] == [FORGED_SHOWN]


def test_reports_are_bounded_batches(kafka_config: KafkaConfig, make_topic: Callable[..., str],
                                     bus: EventBus, recorder: Recorder) -> None:
    beats = make_topic(3)
    produce(kafka_config, beats, [(heartbeat_key(f"pc{i}"), encode_heartbeat(our_beat(f"pc{i}")),
                                   None) for i in range(60)])
    reader = LabReader(kafka_config, bus, beats, publish_every=0.05, max_batch=10)
    reader.start()
    try:
        wait_until(lambda: len(beat_ids(recorder)) == 60, timeout=20, message="every beat")
    finally:
        reader.stop()
    assert sorted(beat_ids(recorder)) == sorted(f"pc{i}" for i in range(60))
    assert max(len(r.beats) for r in reports(recorder)) <= 10


def test_a_missing_log_topic_is_not_a_problem(kafka_config: KafkaConfig,
                                              make_topic: Callable[..., str], bus: EventBus,
                                              recorder: Recorder) -> None:
    beats = make_topic(1)
    produce(kafka_config, beats, [(heartbeat_key("pc"), encode_heartbeat(our_beat("pc")), None)])
    reader = LabReader(kafka_config, bus, beats, f"logs-{uuid.uuid4().hex[:12]}", **FAST)
    reader.start()
    try:
        wait_until(lambda: "pc" in beat_ids(recorder), timeout=20, message="the beat")
        time.sleep(1.0)  # the log topic's absence has been seen meanwhile
        assert all(not r.problem for r in reports(recorder))
    finally:
        reader.stop()
