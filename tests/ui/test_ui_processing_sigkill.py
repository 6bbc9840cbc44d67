"""The real app killed (SIGKILL) while its destination processes files, then started again.

The app runs as a subprocess (offscreen) on saved settings: a broker profile and
a destination with a slow command processor. Killed mid-processing, then
started again, it processes every file (at least once) and keeps each file once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from helpers import TEST_GROUP_TIMEOUTS, chunks_of, produce_chunks, tree_files, wait_until
from processing_helpers import recorded, recording_command

from openmsi_gui.app.settings import BrokerProfile, Destination, SettingsStore
from openmsi_gui.engine import admin
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.processing.api import ProcessorKind

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# The app, with consumers that join (and rejoin after a kill) in 1 s rather than 3 s.
APP = f"""
import sys
import uuid
from openmsi_gui.engine.kafka_config import CONSUMER_DEFAULTS
CONSUMER_DEFAULTS.update({TEST_GROUP_TIMEOUTS!r})
from openmsi_gui.ui.application import main
sys.exit(main(["--minimized"]))
"""


def start_app(log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-c", APP], stdout=out,
                                stderr=subprocess.STDOUT,
                                env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})


def test_the_app_killed_while_processing_processes_every_file_after_a_restart(
        broker_profile: BrokerProfile, kafka_config: KafkaConfig, tmp_path: Path) -> None:
    topic = f"t-{uuid.uuid4().hex[:10]}"
    admin.create_topic(kafka_config, topic, 1)
    files = {f"S{i % 3}/{i:02d}.dat": bytes([i]) * (300 + i) for i in range(16)}
    produce_chunks(kafka_config, topic, [c for r, d in files.items() for c in chunks_of(d, r)])
    inbox, markers = tmp_path / "inbox", tmp_path / "markers"
    inbox.mkdir()
    store = SettingsStore()  # where the app reads them (the test's config folder)
    settings = store.settings
    settings.ui.first_run_done = True
    settings.profiles.append(broker_profile)
    settings.destinations.append(Destination(
        path=str(inbox), profile_id=broker_profile.id, topic=topic, group_id=f"g-{topic}",
        processor=ProcessorKind.COMMAND, processor_command=recording_command(markers),
        processor_timeout=30))
    store.update(settings)
    log = tmp_path / "app.log"

    app = start_app(log)
    try:
        wait_until(lambda: recorded(markers), timeout=60,
                   message=f"a file processed: {log.read_text()[-3000:]}")
        app.send_signal(signal.SIGKILL)
        app.wait(20)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    assert len(recorded(markers)) < len(files), "everything was processed before the kill"

    app = start_app(log)
    try:
        wait_until(lambda: len(recorded(markers)) == len(files), timeout=60,
                   message=f"every file processed after the restart: {log.read_text()[-3000:]}")
        app.terminate()
        assert app.wait(30) == 0, log.read_text()[-3000:]
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    assert tree_files(inbox) == files  # none lost, none twice
    for relpath, content in files.items():
        assert (markers / relpath.replace("/", "_")).read_bytes() == content
    assert set((markers / "runs.log").read_text().split()) == set(files)
    text = log.read_text()
    assert "verified but not processed yet: processing them now" in text
    assert "Traceback" not in text
