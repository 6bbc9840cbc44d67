"""The real OpenMSIStream ``DataFileDownloadDirectory`` rebuilds files sent with metadata.

The information travels as a message header, which OpenMSIStream's consumers
ignore: the files must still come out byte for byte.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import openmsistream_tools as omsi
import pytest
from test_interop import omsi_config, omsi_venv  # noqa: F401  (fixtures)
from test_transfer import running

from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.metadata import FolderMetadata
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.upload_types import UploadOutcome
from openmsi_gui.engine.uploader import Uploader

pytestmark = pytest.mark.interop


def test_openmsistream_rebuilds_files_sent_with_metadata(
        omsi_config: Path, kafka_config: KafkaConfig,  # noqa: F811
        make_topic: Callable[..., str], tmp_path: Path, bus: EventBus,
        registry: Registry) -> None:
    topic = make_topic(2)
    src = tmp_path / "instrument"
    files = {"S001/run 1/image.raw": os.urandom(90_000), "S002/notes.txt": b"n" * 5000,
             "top.bin": os.urandom(3000)}
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    metadata = FolderMetadata({"instrument": "SEM-2", "lab": "Größe µ"},
                              re.compile(r"^(?P<sample>S\d+)/"), "run-9")
    uploader = Uploader(kafka_config, topic, bus, registry, chunk_size=16384,
                        metadata=metadata)
    with running(uploader):
        for rel in files:
            uploader.submit(src, src / rel)
        assert uploader.wait_idle(60)
    assert {r.outcome for r in uploader.results()} == {UploadOutcome.SENT}
    with omsi.DownloadDirectory(tmp_path / "omsi-out", omsi_config, topic, "meta",
                                log_dir=tmp_path / "omsi-logs") as download:
        download.wait_for_files(files, timeout=90)
        assert not download.error_lines
    assert download.files() == files
