"""Files sent by the real OpenMSIStream are processed by ``openmsi process`` (processing only).

``DataFileUploadDirectory`` sends a small tree and ``UploadDataFile`` one more
file; ``openmsi process --command`` rebuilds each in its private area, runs the
command, sends the result and keeps nothing.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import openmsistream_tools as omsi
import pytest
from cli_helpers import Running
from processing_helpers import Results, marker_command

from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.processing.api import result_key
from openmsi_gui.engine.processing.reprocess import PRIVATE_FOLDER

pytestmark = pytest.mark.interop

CHUNK = 1024  # several chunks per file


@pytest.fixture
def results_topic(kafka_config: KafkaConfig) -> Iterator[Results]:
    """A fresh results topic and its reader."""
    reader = Results.fresh(kafka_config)
    yield reader
    reader.close()


def test_files_sent_by_openmsistream_are_processed_and_not_kept(
        broker: EmbeddedBroker, kafka_config: KafkaConfig, results_topic: Results,
        tmp_path: Path) -> None:
    omsi.interop_venv()
    topic = f"t-{uuid.uuid4().hex[:10]}"
    admin.create_topic(kafka_config, topic, 1)
    cfg = omsi.write_config(tmp_path / "omsi.config", broker.bootstrap_servers,
                            session_timeout_ms=2000,
                            extra={"consumer": {"heartbeat.interval.ms": "500"}})
    src = tmp_path / "instrument"
    files = {"S001/scan.bin": os.urandom(3 * CHUNK + 7), "S001/notes.txt": b"peak at 4.2 eV\n",
             "overview.csv": b"sample,ok\nS001,yes\n"}
    for relpath, data in files.items():
        (src / relpath).parent.mkdir(parents=True, exist_ok=True)
        (src / relpath).write_bytes(data)
    single = tmp_path / "single.dat"
    single.write_bytes(os.urandom(2 * CHUNK))
    upload = omsi.UploadDirectory(src, cfg, topic, chunk_size=CHUNK,
                                  log_dir=tmp_path / "upload-logs")
    upload.start()
    try:
        upload.wait_uploaded(files)
    finally:  # killed: a clean stop is not what is tested
        upload.kill()
    omsi.run_upload_file(single, cfg, topic, chunk_size=CHUNK)
    files["single.dat"] = single.read_bytes()

    markers, data = tmp_path / "markers", tmp_path / "data"
    proc = Running(["process", "--config", str(cfg), "--topic", topic, "--group",
                    f"g-{uuid.uuid4().hex[:6]}", "--command", marker_command(markers),
                    "--results-topic", results_topic.topic], data)
    try:
        found = {value["relpath"]: (key, value)
                 for key, value in results_topic.wait(len(files), what=proc.lines)}
        assert proc.stop() == 0, proc.lines
    finally:
        proc.close()
    assert sorted(found) == sorted(files)
    for relpath, content in files.items():
        key, value = found[relpath]
        assert key == result_key(relpath)
        assert value["status"] == "ok", value
        assert value["sha512"] == hashlib.sha512(content).hexdigest()
        assert value["result"] == {"bytes": len(content), "relpath": relpath}
        assert (markers / relpath.replace("/", "_")).read_bytes() == content
    area = data / PRIVATE_FOLDER
    assert area.is_dir()
    assert [p for p in area.rglob("*") if p.is_file()] == []  # nothing kept
