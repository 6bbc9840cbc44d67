"""Stalled rows in the transfers view: Retry on a destination, Send again on any upload."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.history import HistoryColumn
from openmsi_gui.app.settings import SettingsError, SettingsStore, UiSettings
from openmsi_gui.app.transfer_rows import Column
from openmsi_gui.engine.events import (
    Direction,
    EventBus,
    FileCompleted,
    FileDiscovered,
    FileProgress,
    FileStalled,
)
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui.adapter import EngineAdapter
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.views.transfers import TransfersView

UP, DOWN = Direction.UPLOAD, Direction.DOWNLOAD


@pytest.fixture
def view(qtbot: QtBot, bus: EventBus, controller: AppController, registry: Registry,
         tasks: Tasks) -> Iterator[TransfersView]:
    adapter = EngineAdapter(bus, interval_ms=20)
    state = LiveState(adapter, controller)
    widget = TransfersView(state, controller, registry, tasks)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitSignal(widget.history.loaded, timeout=5000)
    yield widget
    state.deleteLater()
    adapter.close()


def _done() -> Future[None]:
    future: Future[None] = Future()
    future.set_result(None)
    return future


def _select(view: TransfersView, relpath: str) -> None:
    model = view.table.model()
    view.table.clearSelection()
    view.table.selectRow(next(r for r in range(model.rowCount())
                              if model.index(r, Column.FILE).data() == relpath))


def test_a_stalled_download_shows_stalled_and_retry_reads_it_again(
        qtbot: QtBot, view: TransfersView, bus: EventBus, controller: AppController,
        monkeypatch: pytest.MonkeyPatch) -> None:
    restarted: list[str] = []
    monkeypatch.setattr(controller, "restart_job", lambda job: (restarted.append(job),
                                                                _done())[1])
    bus.publish(FileDiscovered("dest:xyz", DOWN, "huge_run2.raw", 1_500_000_000))
    bus.publish(FileProgress("dest:xyz", DOWN, "huge_run2.raw", 1_305_000_000, 1_500_000_000,
                             87, 100))
    bus.publish(FileStalled("dest:xyz", DOWN, "huge_run2.raw", 121,
                            "no progress for 2 min 1 s although the broker answers"))
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 1, timeout=3000)
    model = view.table.model()
    assert model.index(0, Column.STATUS).data() == "Stalled"
    assert model.index(0, Column.ETA).data() == ""  # no "0:02 left" forever
    assert "no progress" in model.index(0, Column.STATUS).data(Qt.ItemDataRole.ToolTipRole)
    _select(view, "huge_run2.raw")
    assert view.retry_button.isEnabled()
    assert not view.send_again_button.isEnabled()  # the sending computer sends it again
    qtbot.mouseClick(view.retry_button, Qt.MouseButton.LeftButton)
    assert restarted == ["dest:xyz"]
    qtbot.waitUntil(lambda: "reads its unfinished files again" in view.message.text(),
                    timeout=3000)


def test_send_again_works_for_any_upload_whatever_its_state(
        qtbot: QtBot, view: TransfersView, bus: EventBus, controller: AppController,
        monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(controller, "send_again", lambda folder, relpath: (
        sent.append((folder, relpath)), _done())[1])
    bus.publish(FileDiscovered("folder:abc", UP, "done.raw", 10))
    bus.publish(FileCompleted("folder:abc", UP, "done.raw", 10, "ab" * 64, 0.1))
    bus.publish(FileDiscovered("folder:abc", UP, "stuck.raw", 10))
    bus.publish(FileStalled("folder:abc", UP, "stuck.raw", 121, "no progress"))
    qtbot.waitUntil(lambda: view.table.model().rowCount() == 2, timeout=3000)
    assert not view.send_again_button.isEnabled()
    _select(view, "done.raw")  # "Sent ✓", yet the receivers may never have got it whole
    assert view.send_again_button.isEnabled()
    assert not view.retry_button.isEnabled()
    qtbot.mouseClick(view.send_again_button, Qt.MouseButton.LeftButton)
    _select(view, "stuck.raw")
    qtbot.mouseClick(view.send_again_button, Qt.MouseButton.LeftButton)
    assert sent == [("abc", "done.raw"), ("abc", "stuck.raw")]
    qtbot.waitUntil(lambda: "Queued stuck.raw to be sent again" in view.message.text(),
                    timeout=3000)
    assert view.send_again_button.accessibleName()
    assert "&" in view.send_again_button.text()


def test_preferences_set_the_stall_time_and_the_controller_follows(
        qtbot: QtBot, store: SettingsStore, tasks: Tasks, controller: AppController) -> None:
    from openmsi_gui.ui.preferences import PreferencesDialog

    dialog = PreferencesDialog(store, tasks)
    qtbot.addWidget(dialog)
    assert dialog.stall_minutes.value() == 2.0
    assert dialog.stall_minutes.accessibleName()
    dialog.stall_minutes.setValue(5.5)
    dialog.accept()
    assert store.settings.ui.stall_minutes == 5.5
    assert controller.stalls.stall_seconds == 330


def test_a_hand_edited_stall_time_out_of_range_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"between 0\.5 and 1440"):
        UiSettings(stall_minutes=0)


def test_send_again_from_the_history_after_a_restart(
        qtbot: QtBot, store: SettingsStore, registry: Registry, tasks: Tasks,
        controller: AppController, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sender restarted: "Sent ✓" is only in the history, and Send again is there too."""
    from openmsi_gui.app.settings import WatchedFolder
    from openmsi_gui.ui.views.history import HistoryView

    folder = WatchedFolder(path=str(tmp_path / "out"), profile_id="p", topic="lab")
    settings = store.settings
    settings.folders.append(folder)
    store.update(settings)
    for root, topic, relpath in ((folder.path, "lab", "run/huge_run2.raw"),
                                 (folder.path, "other-topic", "x.raw"),
                                 ("/no/longer/watched", "lab", "y.raw")):
        upload_id, _ = registry.start_upload(topic, root, relpath, 10, 1, b"h" * 64, 1024, 1)
        registry.finish_upload(upload_id)
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(controller, "send_again", lambda folder_id, relpath: (
        sent.append((folder_id, relpath)), _done())[1])
    history = HistoryView(registry, tasks, controller=controller)
    qtbot.addWidget(history)
    with qtbot.waitSignal(history.loaded, timeout=5000):
        history.refresh()
    assert history.send_again_button.isVisibleTo(history)
    model = history.table.model()
    paths = [model.index(r, HistoryColumn.PATH).data() for r in range(model.rowCount())]
    for relpath in ("x.raw", "y.raw"):
        history.table.selectRow(paths.index(relpath))
        assert not history.send_again_button.isEnabled()
    history.table.selectRow(paths.index("run/huge_run2.raw"))
    assert history.send_again_button.isEnabled()
    qtbot.mouseClick(history.send_again_button, Qt.MouseButton.LeftButton)
    assert sent == [(folder.id, "run/huge_run2.raw")]
    qtbot.waitUntil(lambda: "Queued run/huge_run2.raw" in history.message.text(), timeout=3000)
