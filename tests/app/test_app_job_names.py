"""Log lines name folders, destinations and files as the technician knows them (no Qt)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from openmsi_gui.app import job_names
from openmsi_gui.app.controller import job_id
from openmsi_gui.app.settings import (
    Destination,
    DestinationKind,
    Settings,
    SettingsStore,
    WatchedFolder,
)
from openmsi_gui.engine.events import Direction, EventBus, FileCompleted

log = logging.getLogger("openmsi_gui.engine.download.downloader")


def _settings() -> Settings:
    return Settings(
        folders=[WatchedFolder(id="f1", path="/lab/outbox", topic="raw")],
        destinations=[Destination(id="d1", path="/lab/inbox/"),
                      Destination(id="d2", kind=DestinationKind.S3, bucket="archive",
                                  prefix="/raw/"),
                      Destination(id="d3", path="/a/data"), Destination(id="d4", path="/b/data")])


def test_items_are_named_by_their_folder_or_bucket() -> None:
    settings = _settings()
    names = job_names.names(settings)
    assert names[str(job_id(settings.folders[0]))] == "outbox"
    assert names["dest:d1"] == "inbox"
    assert names["dest:d2"] == "s3://archive/raw"
    assert (names["dest:d3"], names["dest:d4"]) == ("/a/data", "/b/data")  # alike: full paths


def test_log_records_name_the_destination_not_its_id(caplog: pytest.LogCaptureFixture) -> None:
    names = job_names.JobNames(_settings())
    caplog.handler.addFilter(names)
    try:
        log.warning("%s: broker connection problem: %s", "dest:d1", "down")
        log.warning("%s: unknown job", "watch")
        names.update(Settings(destinations=[Destination(id="d1", path="/lab/incoming")]))
        log.warning("%s: again", "dest:d1")
    finally:
        caplog.handler.removeFilter(names)
    assert caplog.messages == ["inbox: broker connection problem: down", "watch: unknown job",
                               "incoming: again"]


def test_each_file_sent_or_received_is_one_plain_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    store.update(_settings())
    bus = EventBus()
    uninstall = job_names.install(store, bus, [caplog.handler])
    caplog.set_level(logging.INFO)
    try:
        bus.publish(FileCompleted("folder:f1", Direction.UPLOAD, "scan_01.tif", 2048, "", 0.1))
        bus.publish(FileCompleted("dest:d1", Direction.DOWNLOAD, "a/scan\x1b[2J\n.tif", 10, "",
                                  0.1))
    finally:
        uninstall()
    bus.publish(FileCompleted("dest:d1", Direction.DOWNLOAD, "after.tif", 1, "", 0.1))
    assert caplog.messages == ["scan_01.tif sent from outbox to topic raw (2 KiB)",
                               "a/scan\\x1b[2J\\n.tif received into inbox (10 B)"]
