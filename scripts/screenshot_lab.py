"""A lab for the Lab view's screenshot: programs reporting on the demo's broker.

``scripts/screenshots.py`` calls :func:`populate` a while before it shoots the
Lab view: it produces an hour of heartbeats (with their Kafka timestamps in the
past) of a few of our programs (working, idle, one needing attention with its
log lines), one OpenMSIStream program and one that went silent, then points the
Lab view at the demo's broker, whose reader reads them back.
"""

from __future__ import annotations

import datetime as dt

from confluent_kafka import Producer

from openmsi_gui.app.lab_settings import DEFAULT_HEARTBEAT_TOPIC, DEFAULT_LOG_TOPIC
from openmsi_gui.app.settings import SettingsStore
from openmsi_gui.engine import admin
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

NEEDY = "xrd-02_download"
"""The program that needs attention (selected in the shot: its log lines show)."""
_PROBLEM = r"Cannot write to E:\incoming: the disk is full. Free some space there."


def _ours(program_id: str, host: str, kind: ReportKind, state: ReportedState, when: dt.datetime,
          files: int, free: int, waiting: int = 0, failed: int = 0, problem: str = ""
          ) -> Heartbeat:
    size = files * 48_000_000
    delta = (Counters(messages_produced=files * 12, bytes_produced=size, files=files)
             if kind.sends else
             Counters(messages_read=files * 12, bytes_read=size, messages_processed=files * 12,
                      bytes_processed=size, files=files))
    return Heartbeat(program_id, when, delta, interval=60.0, host=host, app_version="1.4.0",
                     kind=kind, job="outbox" if kind.sends else "incoming", state=state,
                     problem=problem, files_waiting=waiting, files_failed=failed,
                     free_bytes=free)


def _beats(now: dt.datetime) -> list[Heartbeat]:
    beats: list[Heartbeat] = []
    for minute in range(55, -1, -1):
        when = now - dt.timedelta(minutes=minute, seconds=8)
        busy = minute % 3 == 0
        beats.append(_ours("sem-01_watch", "sem-01", ReportKind.WATCH,
                           ReportedState.WORKING, when, 2 if busy else 1, 412_000_000_000,
                           waiting=1))
        beats.append(_ours("confocal_watch", "confocal", ReportKind.WATCH,
                           ReportedState.IDLE, when, 0, 1_830_000_000_000))
        beats.append(_ours("archive_download", "lab-server", ReportKind.DOWNLOAD,
                           ReportedState.WORKING, when, 3 if busy else 2, 9_600_000_000_000))
        needy = minute < 20
        beats.append(_ours(NEEDY, "xrd-02", ReportKind.DOWNLOAD,
                           ReportedState.NEEDS_ATTENTION if needy else ReportedState.WORKING,
                           when, 0 if needy else 1, 120_000_000 if needy else 5_000_000_000,
                           waiting=7 if needy else 0, failed=2 if needy else 0,
                           problem=_PROBLEM if needy else ""))
        if minute >= 9:  # its PC went off nine minutes ago
            beats.append(_ours("tem-03_watch", "tem-03", ReportKind.WATCH,
                               ReportedState.WORKING, when, 1, 760_000_000_000))
        if minute % 2 == 0:  # OpenMSIStream's DataFileUploadDirectory, every 2 minutes
            beats.append(Heartbeat("microscope-upload", when,
                                   Counters(messages_produced=40, bytes_produced=2_500_000)))
    return beats


def _logs(now: dt.datetime) -> list[LogBatch]:
    lines = [
        (19, "WARNING Cannot write run_0412.xy to E:\\incoming: no space left on device; "
             "retrying in 10 s"),
        (19, "ERROR The disk holding E:\\incoming is full (120 MB free): downloads wait"),
        (12, "WARNING 7 files are waiting for space on E:\\incoming"),
        (6, "ERROR run_0413.xy failed: no space left on device"),
        (1, "WARNING Cannot write run_0415.xy to E:\\incoming: no space left on device; "
            "retrying in 10 s"),
    ]
    return [LogBatch(NEEDY, (now - dt.timedelta(minutes=minutes)).timestamp(), (text,),
                     "xrd-02") for minutes, text in lines]


def populate(store: SettingsStore, bootstrap_servers: str) -> None:
    """Produce the lab's reports on the demo's broker and point the Lab view at it."""
    config = KafkaConfig.for_bootstrap(bootstrap_servers)
    for topic in (DEFAULT_HEARTBEAT_TOPIC, DEFAULT_LOG_TOPIC):
        admin.create_topic(config, topic, 1)
    now = dt.datetime.now(dt.UTC)
    producer = Producer(config.producer_settings())
    for beat in _beats(now):
        assert beat.timestamp is not None
        producer.produce(DEFAULT_HEARTBEAT_TOPIC, encode_heartbeat(beat),
                         heartbeat_key(beat.program_id),
                         timestamp=int(beat.timestamp.timestamp() * 1000))
    for batch in _logs(now):
        producer.produce(DEFAULT_LOG_TOPIC, encode_log(batch), log_key(batch.program_id),
                         timestamp=int(batch.timestamp * 1000))
    producer.flush(10)
    settings = store.settings
    settings.lab.view_profile_id = settings.profiles[0].id
    store.update(settings)
