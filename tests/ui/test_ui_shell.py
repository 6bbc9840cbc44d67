"""The tray, the adapter, the icons, single instance and the main window shell."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import SettingsStore
from openmsi_gui.app.transfer_rows import FilterMode
from openmsi_gui.app.transfers import AppStatus
from openmsi_gui.engine.events import (
    Direction,
    EventBus,
    FileCompleted,
    FileFailed,
    FileProgress,
    FileWaiting,
    JobState,
    JobStatus,
)
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui.adapter import EngineAdapter
from openmsi_gui.ui.icons import status_pixmap
from openmsi_gui.ui.main_window import MainWindow
from openmsi_gui.ui.single_instance import SingleInstance
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.tray import Tray


@pytest.fixture
def adapter(qtbot: QtBot, bus: EventBus) -> Iterator[EngineAdapter]:
    ad = EngineAdapter(bus)
    yield ad
    ad.close()


@pytest.fixture
def state(adapter: EngineAdapter, controller: AppController) -> Iterator[LiveState]:
    live = LiveState(adapter, controller)
    yield live
    live.deleteLater()  # and with it its tick timer


def test_adapter_batches_events_from_any_thread_onto_the_gui_thread(
        qtbot: QtBot, bus: EventBus, adapter: EngineAdapter) -> None:
    batches: list[tuple[int, bool]] = []
    gui = threading.current_thread()
    adapter.events.connect(lambda evs: batches.append(
        (len(evs), threading.current_thread() is gui)))

    def flood() -> None:
        for i in range(5000):
            bus.publish(FileProgress("j", Direction.UPLOAD, "f", i, 5000, i, 5000))

    workers = [threading.Thread(target=flood) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    qtbot.waitUntil(lambda: sum(n for n, _ in batches) == 10_000, timeout=5000)
    assert all(on_gui for _, on_gui in batches)
    assert len(batches) < 50, "events should arrive in a few batches, not one by one"


def test_status_icons_differ_in_shape_not_only_colour(qapp: QApplication) -> None:
    def mask(status: AppStatus) -> list[bool]:
        image = status_pixmap(status, 32).toImage().convertToFormat(QImage.Format.Format_ARGB32)
        return [image.pixelColor(x, y).alpha() > 128 for y in range(32) for x in range(32)]

    shapes = {status: mask(status) for status in AppStatus}
    for a in AppStatus:
        for b in AppStatus:
            if a is not b:
                assert shapes[a] != shapes[b], f"{a} and {b} have the same silhouette"


def test_tray_reflects_status_and_menu_pauses_and_resumes(
        qtbot: QtBot, bus: EventBus, state: LiveState, controller: AppController) -> None:
    tray = Tray(state)
    assert "Idle" in tray.status_action.text()
    tray.pause30_action.trigger()
    qtbot.waitUntil(lambda: "Paused — nothing moves until" in tray.icon.toolTip(),
                    timeout=5000)  # an event
    assert state.paused
    assert controller.paused
    assert tray.resume_action.isEnabled()
    assert not tray.pause_action.isEnabled()
    assert controller.paused_until is not None
    assert 29 * 60 < controller.paused_until - time.time() <= 30 * 60
    tray.resume_action.trigger()
    qtbot.waitUntil(lambda: not state.paused, timeout=5000)
    assert not controller.paused
    bus.publish(FileFailed("folder:x", Direction.UPLOAD, "bad.bin", "cannot read the file"))
    qtbot.waitUntil(lambda: state.status is AppStatus.ERROR, timeout=5000)
    assert tray.icon.toolTip() == "OpenMSI: Needs attention — 1 file failed; see Transfers"
    opened: list[bool] = []
    tray.openRequested.connect(lambda: opened.append(True))
    tray.open_action.trigger()
    assert opened


def test_main_window_is_usable_without_a_tray(
        qtbot: QtBot, store: SettingsStore, controller: AppController, registry: Registry,
        adapter: EngineAdapter, state: LiveState, bus: EventBus, tasks: Tasks) -> None:
    window = MainWindow(store, controller, registry, adapter, state, tasks, has_tray=False)
    qtbot.addWidget(window)
    window.show()
    assert window.tabs.count() == 5
    for index in range(window.tabs.count()):
        assert window.tabs.widget(index).accessibleName()
    qtbot.mouseClick(window.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Paused" in window.status_text.text(), timeout=5000)  # an event
    assert controller.paused
    assert window.pause_button.text() == "&Resume"
    bus.publish(FileFailed("folder:x", Direction.UPLOAD, "bad.bin", "why"))
    qtbot.waitUntil(lambda: "Needs attention" in window.status_text.text(), timeout=5000)
    assert window.status_text.text() == (
        "Needs attention — 1 file failed; see Transfers (all transfers paused)")
    qtbot.mouseClick(window.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.pause_button.text() == "&Pause all", timeout=5000)
    assert window.status_text.text() == "Needs attention — 1 file failed; see Transfers"
    quit_requests: list[bool] = []
    window.quitRequested.connect(lambda: quit_requests.append(True))
    window.close()
    assert quit_requests, "without a tray, closing the window must quit"


def test_second_launch_brings_the_first_forward(qtbot: QtBot, tmp_path: Path) -> None:
    name = f"openmsi-test-{uuid.uuid4().hex[:8]}"
    first = SingleInstance(name)
    assert first.claim()
    try:
        with qtbot.waitSignal(first.activated, timeout=5000):
            second = SingleInstance(name)
            assert not second.claim()
    finally:
        first.close()
    assert QApplication.instance() is not None


def test_signal_emit_does_not_leak_references(qapp: QApplication) -> None:
    """PySide6 6.12.0 takes a reference from True per emit; the app emits constantly."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        fired = Signal(object)

    emitter = Emitter()
    before = sys.getrefcount(True)
    for _ in range(1000):
        emitter.fired.emit(1)
    assert abs(sys.getrefcount(True) - before) < 10


def test_preferences_apply_without_restart(qtbot: QtBot, store: SettingsStore, tasks: Tasks,
                                           qapp: QApplication) -> None:
    from PySide6.QtGui import QPalette

    from openmsi_gui.ui.preferences import PreferencesDialog
    from openmsi_gui.ui.theme import apply_theme

    applied: list[str] = []
    store.subscribe(lambda s: (apply_theme(qapp, s.ui.theme), applied.append(s.ui.theme)))
    dialog = PreferencesDialog(store, tasks)
    qtbot.addWidget(dialog)
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.notify_completions.setChecked(True)
    dialog.accept()
    assert store.settings.ui.theme == "dark"
    assert store.settings.ui.notify_completions
    assert applied == ["dark"]
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() < 100
    apply_theme(qapp, "light")
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() > 150


def test_the_alarm_stays_until_the_problem_is_gone(
        qtbot: QtBot, store: SettingsStore, controller: AppController, registry: Registry,
        adapter: EngineAdapter, state: LiveState, bus: EventBus, tasks: Tasks) -> None:
    """Opening Transfers used to turn the tray and status bar back to normal."""
    window = MainWindow(store, controller, registry, adapter, state, tasks, has_tray=True)
    tray = Tray(state)
    qtbot.addWidget(window)
    window.show()
    window.tabs.setCurrentWidget(window.folders)
    bus.publish(FileWaiting("dest:d", Direction.DOWNLOAD, "scan.tif",
                            "cannot write to /srv/inbox: read-only; retrying in 10 s"))
    bus.publish(JobState("dest:d", JobStatus.WAITING, "read-only"))
    bus.publish(FileFailed("folder:x", Direction.UPLOAD, "bad.bin", "cannot read the file"))
    qtbot.waitUntil(lambda: state.status is AppStatus.ERROR, timeout=5000)
    expected = "Needs attention — 1 file failed, 1 file waiting; see Transfers"
    assert window.status_text.text() == expected
    window.tabs.setCurrentWidget(window.transfers)
    window.tabs.setCurrentWidget(window.folders)
    window.tabs.setCurrentWidget(window.transfers)
    qtbot.wait(100)
    assert state.status is AppStatus.ERROR
    assert window.status_text.text() == expected
    assert tray.icon.toolTip() == f"OpenMSI: {expected}"
    # The destination takes data again: only the failed upload is left.
    bus.publish(JobState("dest:d", JobStatus.RUNNING))
    bus.publish(FileCompleted("dest:d", Direction.DOWNLOAD, "scan.tif", 10, "00", 1.0))
    qtbot.waitUntil(lambda: "1 file failed;" in window.status_text.text(), timeout=5000)
    assert state.status is AppStatus.ERROR
    # Dismissed by the user: the problem is gone, so is the alarm.
    view = window.transfers
    view.filter_combo.setCurrentIndex(view.filter_combo.findData(FilterMode.PROBLEMS))
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 1, timeout=3000)
    view.table.selectRow(0)
    assert view.dismiss_button.isEnabled()
    assert "cannot read the file" in view.details.text()
    qtbot.mouseClick(view.dismiss_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: state.status is not AppStatus.ERROR, timeout=5000)
    assert view.table.model().rowCount() == 0
    assert window.status_text.text() == "Idle — 1 file received"
    assert tray.icon.toolTip() == "OpenMSI: Idle — 1 file received"
    tray.hide()
