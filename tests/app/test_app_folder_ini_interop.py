"""The exported ``upload_regex`` makes the real OpenMSIStream send the same files as the app."""

from __future__ import annotations

from pathlib import Path

import openmsistream_tools as omsi
import pytest

from openmsi_gui.app import folder_ini
from openmsi_gui.app.folders import file_filter
from openmsi_gui.app.settings import WatchedFolder
from openmsi_gui.engine.broker import EmbeddedBroker

pytestmark = pytest.mark.interop

NAMES = ["scan_01.tif", "raw/scan_02.tif", "raw/deep/spectrum.csv", "~$report.docx",
         "raw/data.tmp", "big.bin.part", "Thumbs.db", "notes.bak", "scratch/a.tif",
         "raw/scratch/b.tif", ".hidden.txt", "run 7/µm values.dat"]


def test_openmsistream_sends_what_the_app_would(broker: EmbeddedBroker, make_topic: object,
                                                 tmp_path: Path) -> None:
    omsi.interop_venv()
    folder = WatchedFolder(exclude_globs=["*.bak", "**/scratch/**"])
    chosen = file_filter(folder)
    src = tmp_path / "instrument"
    for name in NAMES:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(name.encode() * 50)  # openmsistream never sends empty files
    expected = {name for name in NAMES if chosen.accepts(name)}
    assert expected == {"scan_01.tif", "raw/scan_02.tif", "raw/deep/spectrum.csv",
                        "run 7/µm values.dat"}
    topic = make_topic(1)  # type: ignore[operator]
    config = omsi.write_config(tmp_path / "omsi.config", broker.bootstrap_servers)
    with omsi.UploadDirectory(src, config, topic, upload_regex=folder_ini.upload_regex(chosen),
                              log_dir=tmp_path / "omsi-logs") as upload:
        upload.wait_uploaded(expected)
    assert upload.uploaded_files() == expected
