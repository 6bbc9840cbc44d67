"""A real OpenMSIStream program in the Lab view: listed, its log lines, silent once killed.

``DataFileUploadDirectory`` (from ``.venv-interop``, see ``openmsistream_tools``)
reports with OpenMSIStream's own options; the app's Lab view reads the topics
with its real reader. Killed, the program turns silent by the interval inferred
from its beats, once; started again, it recovers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import openmsistream_tools as omsi
import pytest
from pytestqt.qtbot import QtBot
from test_ui_lab import choose, stop

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.lab import ProgramRow, ProgramState, StateChange
from openmsi_gui.app.settings import SettingsStore
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.events import EventBus
from openmsi_gui.ui.adapter import EngineAdapter
from openmsi_gui.ui.lab_state import LabState
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.views.lab_view import LabView

pytestmark = pytest.mark.interop

PROGRAM = "omsi-instrument"


@pytest.fixture
def adapter(qtbot: QtBot, bus: EventBus, store: SettingsStore) -> Iterator[EngineAdapter]:
    made = EngineAdapter(bus, store=store)
    yield made
    made.close()


def test_a_real_openmsistream_upload_directory_in_the_lab_view(
        qtbot: QtBot, store: SettingsStore, adapter: EngineAdapter, controller: AppController,
        tasks: Tasks, bus: EventBus, broker: EmbeddedBroker, make_topic: Callable[..., str],
        tmp_path: Path) -> None:
    omsi.interop_venv()  # installs once per machine; fails loudly when it cannot
    data, heartbeats, logs = make_topic(1), make_topic(1), make_topic(1)
    cfg = omsi.write_config(tmp_path / "omsi.config", broker.bootstrap_servers)
    src = tmp_path / "instrument"
    src.mkdir()
    args = omsi.reporting_args(heartbeats, logs, program_id=PROGRAM)
    lab = LabState(adapter, controller, tasks, bus)
    changes: list[StateChange] = []
    lab.changed.connect(changes.extend)
    try:
        view = LabView(store, lab)
        qtbot.addWidget(view)
        choose(store, heartbeats, logs, broker.bootstrap_servers)
        lab.start()

        def row() -> ProgramRow | None:
            position = view.model.position(PROGRAM)
            return None if position is None else view.model.row_at(position)

        def state() -> ProgramState | None:
            found = row()
            return None if found is None else found.state

        upload = omsi.UploadDirectory(src, cfg, data, log_dir=tmp_path / "omsi-logs",
                                      extra_args=args)
        (src / "scan.bin").write_bytes(os.urandom(50_000))  # sent at start (upload_existing)
        with upload:
            # Listed, with the interval inferred from its beats' spacing (1 s), not the default.
            qtbot.waitUntil(lambda: (found := row()) is not None and found.interval < 2,
                            timeout=20_000)
            listed = row()
            assert listed is not None
            assert (listed.version, listed.interval_inferred, listed.is_ours) == (
                "OpenMSIStream", True, False)
            assert listed.state in (ProgramState.WORKING, ProgramState.IDLE)
            assert view.select(PROGRAM)
            qtbot.waitUntil(lambda: "scan.bin" in view.logs_text(), timeout=20_000)
            upload.kill()  # no goodbye: as a crash or a power cut
        qtbot.waitUntil(lambda: state() is ProgramState.SILENT, timeout=20_000)
        qtbot.wait(1500)  # a tick or more: the notification is not repeated
        assert [c.after for c in changes if c.program_id == PROGRAM].count(
            ProgramState.SILENT) == 1, changes
        # Started again, it recovers by itself.
        again = omsi.UploadDirectory(src, cfg, data, log_dir=tmp_path / "omsi-logs",
                                     extra_args=args).start()
        try:
            qtbot.waitUntil(lambda: state() in (ProgramState.WORKING, ProgramState.IDLE),
                            timeout=20_000)
        finally:
            again.kill()
    finally:
        stop(qtbot, lab)
