"""The destinations view, and one end-to-end run through both views and the real broker."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from helpers import Recorder, wait_until
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from openmsi_gui.app import folders
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.destinations import default_group_id
from openmsi_gui.app.job_specs import job_id
from openmsi_gui.app.settings import (
    BrokerProfile,
    Destination,
    SettingsStore,
)
from openmsi_gui.app.transfer_rows import Column
from openmsi_gui.app.transfers import AppStatus
from openmsi_gui.engine import admin
from openmsi_gui.engine.events import Direction, FileWaiting, JobState, JobStatus
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui.tasks import CHECK_DELAY_MS, Tasks
from openmsi_gui.ui.views.destinations import GROUP_TOOLTIP, DestinationsView
from openmsi_gui.ui.views.folders import FoldersView
from openmsi_gui.ui.views.path_checks import CHECKING
from openmsi_gui.ui.views.transfers import TransfersView

# -- the view ---------------------------------------------------------------------------


@pytest.fixture
def profiles(store: SettingsStore, broker_profile: BrokerProfile) -> list[BrokerProfile]:
    settings = store.settings
    settings.profiles = [BrokerProfile(name="Other broker", bootstrap_servers="127.0.0.1:9"),
                         broker_profile]
    store.update(settings)
    return settings.profiles


@pytest.fixture
def view(qtbot: QtBot, store: SettingsStore, controller: AppController,
         tasks: Tasks, profiles: list[BrokerProfile]) -> DestinationsView:
    widget = DestinationsView(store, controller, tasks)
    qtbot.addWidget(widget)
    widget.resize(1000, 600)
    widget.show()
    return widget


def _answer_dialog(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *args: str(path)))


def _status(view: DestinationsView | FoldersView, row: int = 0) -> str:
    cell = view.table.item(row, view.table.columnCount() - 1)
    assert cell is not None
    return cell.text()


def test_add_choose_everything_and_apply(view: DestinationsView, qtbot: QtBot, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch, topic: str,
                                         profiles: list[BrokerProfile],
                                         broker_profile: BrokerProfile) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    _answer_dialog(monkeypatch, first)
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    assert view.table.rowCount() == 1
    assert _status(view) == "New (not saved)"
    assert view.profile_combo.currentData() == profiles[0].id  # the first profile
    assert view.group_edit.text() == default_group_id()
    assert view.kind_combo.currentData() == "folder"
    assert view.store.settings.destinations == []

    view.profile_combo.setCurrentIndex(view.profile_combo.findData(broker_profile.id))
    qtbot.keyClicks(view.topic_picker.combo, topic)
    view.group_edit.clear()
    qtbot.keyClicks(view.group_edit, "beamline-7")
    _answer_dialog(monkeypatch, second)  # Browse… changes the folder
    qtbot.mouseClick(view.browse_button, Qt.MouseButton.LeftButton)
    assert view.path_edit.text() == str(second)
    assert view.apply_button.isEnabled(), view.errors.text()
    qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)

    [dest] = view.store.settings.destinations
    assert (dest.kind, dest.path, dest.profile_id, dest.topic, dest.group_id) == (
        "folder", str(second), broker_profile.id, topic, "beamline-7")
    assert dest.enabled
    texts = [view.table.item(0, c).text() for c in range(3)]  # type: ignore[union-attr]
    assert texts == [str(second), broker_profile.name, topic]
    # The consumer group is jargon: behind Advanced on the form, not a column of the list.
    headers = [view.table.horizontalHeaderItem(c).text()  # type: ignore[union-attr]
               for c in range(view.table.columnCount())]
    assert headers == ["Destination", "Broker", "Topic", "Status"]
    assert _status(view) == "Enabled"


def test_group_has_an_explaining_tooltip(view: DestinationsView) -> None:
    assert view.group_edit.toolTip() == GROUP_TOOLTIP
    assert "share the files" in GROUP_TOOLTIP


def test_open_folder_opens_it(view: DestinationsView, qtbot: QtBot, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl",
                        staticmethod(lambda url: opened.append(url) or True))
    _answer_dialog(monkeypatch, tmp_path)
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    assert view.open_button.isEnabled()
    qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
    assert opened == [QUrl.fromLocalFile(str(tmp_path))]

    view.path_edit.setText(str(tmp_path / "missing"))
    view.path_edit.textEdited.emit(view.path_edit.text())
    assert not view.open_button.isEnabled()
    assert "does not exist" not in view.errors.text()  # the answer comes off the GUI thread
    qtbot.waitUntil(lambda: "does not exist" in view.errors.text())
    assert not view.open_button.isEnabled()


def test_a_slow_folder_check_holds_apply_back(view: DestinationsView, qtbot: QtBot,
                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             broker_profile: BrokerProfile, topic: str) -> None:
    first, share = tmp_path / "first", tmp_path / "share"
    first.mkdir()
    _answer_dialog(monkeypatch, first)
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    view.profile_combo.setCurrentIndex(view.profile_combo.findData(broker_profile.id))
    view.topic_picker.combo.setEditText(topic)
    view.enabled_check.setChecked(False)
    assert view.apply_button.isEnabled(), view.errors.text()

    real_check = folders.folder_problem
    release = threading.Event()

    def hanging_check(path: str) -> str | None:
        if path == str(share):
            release.wait(10)
        return real_check(path)

    monkeypatch.setattr(folders, "folder_problem", hanging_check)
    try:
        view.path_edit.setText(str(share))
        view.path_edit.textEdited.emit(str(share))
        share.mkdir()  # made while the check hangs: it will find the folder
        qtbot.wait(2 * CHECK_DELAY_MS)
        assert view.errors.text() == CHECKING
        assert not view.apply_button.isEnabled()
        view.on_apply_clicked()
        assert view.store.settings.destinations == []
    finally:
        release.set()
    qtbot.waitUntil(view.apply_button.isEnabled)
    qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    [dest] = view.store.settings.destinations
    assert dest.path == str(share)


def test_drop_a_folder_to_add_a_destination(view: DestinationsView, qtbot: QtBot,
                                            tmp_path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path))])
    drop = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    view.dropEvent(drop)
    assert drop.isAccepted()
    qtbot.waitUntil(lambda: view.current_item() is not None)
    assert view.current_item().path == str(tmp_path)  # type: ignore[union-attr]


def test_a_destination_on_a_missing_topic_waits_for_it(
        view: DestinationsView, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        broker_profile: BrokerProfile, kafka_config: KafkaConfig) -> None:
    missing = "no-such-topic-" + os.urandom(4).hex()
    _answer_dialog(monkeypatch, tmp_path)
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    view.profile_combo.setCurrentIndex(view.profile_combo.findData(broker_profile.id))
    view.topic_picker.combo.setEditText(missing)
    qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    waiting = f"Waiting for topic {missing} to be created"
    qtbot.waitUntil(lambda: _status(view) == "No topic yet", timeout=20_000)
    assert waiting in view.errors.text()
    # Created: it starts within seconds (not at librdkafka's metadata refresh, 5 min).
    admin.create_topic(kafka_config, missing, 1)
    qtbot.waitUntil(lambda: _status(view) == "Enabled", timeout=20_000)
    assert waiting not in view.errors.text()


def test_a_destination_waiting_for_space_says_so(view: DestinationsView, qtbot: QtBot,
                                                 tmp_path: Path, controller: AppController,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 broker_profile: BrokerProfile,
                                                 topic: str) -> None:
    _answer_dialog(monkeypatch, tmp_path)
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    view.profile_combo.setCurrentIndex(view.profile_combo.findData(broker_profile.id))
    view.topic_picker.combo.setEditText(topic)
    qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _status(view) == "Enabled", timeout=20_000)
    item = view.current_item()
    assert item is not None
    job = view._job_name(item)
    # Once it runs: its "running" would otherwise clear the wait (it did not wait yet).
    controller.apply(controller.store.settings).result(30)  # queued after its start
    reason = f"cannot write to {tmp_path}: No space left on device; free some space there"
    controller.bus.publish(JobState(job, JobStatus.WAITING, reason))
    qtbot.waitUntil(lambda: _status(view) == "Waiting", timeout=5000)
    cell = view.table.item(0, view.table.columnCount() - 1)
    assert cell is not None
    assert "No space left on device" in cell.toolTip()
    qtbot.waitUntil(lambda: "Waiting: cannot write" in view.errors.text(), timeout=5000)
    controller.bus.publish(JobState(job, JobStatus.RUNNING))  # space was freed
    qtbot.waitUntil(lambda: _status(view) == "Enabled", timeout=5000)
    assert "Waiting" not in view.errors.text()


@pytest.mark.slow
def test_end_to_end_folder_to_destination(qtbot: QtBot, store: SettingsStore,
                                          controller: AppController, recorder: Recorder,
                                          broker_profile: BrokerProfile, topic: str,
                                          tmp_path: Path, tasks: Tasks,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Watch a folder and download its topic elsewhere, set up only through the two views."""
    settings = store.settings
    settings.profiles = [broker_profile]
    store.update(settings)
    folders = FoldersView(store, controller, tasks)
    destinations = DestinationsView(store, controller, tasks)
    qtbot.addWidget(folders)
    qtbot.addWidget(destinations)
    source, target = tmp_path / "instrument", tmp_path / "received"
    source.mkdir()
    target.mkdir()

    _answer_dialog(monkeypatch, target)
    qtbot.mouseClick(destinations.add_button, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(destinations.topic_picker.combo, topic)
    destinations.group_edit.setText("e2e-group")
    destinations.group_edit.textEdited.emit("e2e-group")
    assert destinations.apply_button.isEnabled(), destinations.errors.text()
    qtbot.mouseClick(destinations.apply_button, Qt.MouseButton.LeftButton)

    _answer_dialog(monkeypatch, source)
    qtbot.mouseClick(folders.add_button, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(folders.topic_picker.combo, topic)
    folders.stable_spin.setValue(0.5)
    assert folders.apply_button.isEnabled(), folders.errors.text()
    qtbot.mouseClick(folders.apply_button, Qt.MouseButton.LeftButton)

    [folder] = store.settings.folders
    [dest] = store.settings.destinations

    def job_state(name: str, states: set[JobStatus]) -> bool:
        return any(isinstance(e, JobState) and e.job == name and e.state in states
                   for e in recorder.events)

    wait_until(lambda: job_state(str(job_id(folder)), {JobStatus.WATCHING}), timeout=20,
               message="the folder being watched")
    wait_until(lambda: job_state(str(job_id(dest)), {JobStatus.RUNNING}), timeout=20,
               message="the destination consuming")
    assert not job_state(str(job_id(folder)), {JobStatus.FAILED})
    data = os.urandom(700_000) + b"end"
    (source / "sub").mkdir()
    (source / "sub" / "scan-001.bin").write_bytes(data)

    arrived = target / "sub" / "scan-001.bin"
    qtbot.waitUntil(lambda: arrived.is_file() and arrived.read_bytes() == data, timeout=40_000)
    assert _status(folders) == "Enabled"
    assert _status(destinations) == "Enabled"


WINDOW_MNEMONICS = set("ftdblpr")  # main window: File menu, the five tabs, Pause all/Resume


@pytest.mark.parametrize("view_class", [FoldersView, DestinationsView])
def test_mnemonics_are_unique_and_leave_the_window_ones_alone(
        qtbot: QtBot, store: SettingsStore, controller: AppController, tasks: Tasks,
        view_class: type[FoldersView | DestinationsView]) -> None:
    from PySide6.QtWidgets import QAbstractButton, QLabel

    view = view_class(store, controller, tasks)
    qtbot.addWidget(view)
    texts = [b.text() for b in view.findChildren(QAbstractButton)]
    texts += [label.text() for label in view.findChildren(QLabel) if label.buddy() is not None]
    texts += ["Res&ume", "&Enable"]  # the other faces of the toggle buttons
    keys: dict[str, set[str]] = {}
    for text in texts:
        index = text.replace("&&", "").find("&")
        if index >= 0:
            keys.setdefault(text.replace("&&", "")[index + 1].lower(), set()).add(text)
    toggles = ({"Pa&use", "Res&ume"}, {"Disabl&e", "&Enable"})
    clashes = {k: v for k, v in keys.items() if len(v) > 1 and v not in toggles}
    assert clashes == {}
    assert len(keys) >= 12
    assert not keys.keys() & WINDOW_MNEMONICS


def test_removing_a_destination_with_waiting_files_asks_and_drops_its_rows(
        view: DestinationsView, qtbot: QtBot, tmp_path: Path, store: SettingsStore,
        monkeypatch: pytest.MonkeyPatch, broker_profile: BrokerProfile,
        registry: Registry) -> None:
    settings = store.settings
    dest = Destination(path=str(tmp_path), profile_id=broker_profile.id, topic="t",
                       enabled=False)  # no job runs: its rows come from the events below
    settings.destinations.append(dest)
    store.update(settings)
    job = str(job_id(dest))
    transfers = TransfersView(view.state, view.controller, registry, view.tasks)
    qtbot.addWidget(transfers)
    view.controller.bus.publish(FileWaiting(job, Direction.DOWNLOAD, "huge_run2.raw",
                                            "cannot write to the folder; retrying in 5 s"))
    qtbot.waitUntil(lambda: transfers.model.rowCount() == 1, timeout=5000)
    assert transfers.model.index(0, Column.PLACE).data() == tmp_path.name
    assert transfers.model.index(0, Column.PLACE).data(Qt.ItemDataRole.ToolTipRole) == (
        f"topic t → {tmp_path}")
    assert view.state.status is AppStatus.ERROR
    asked: list[str] = []

    def reply(answer: QMessageBox.StandardButton) -> None:
        monkeypatch.setattr(QMessageBox, "question", staticmethod(
            lambda _parent, _title, text, *_args: asked.append(text) or answer))

    view._select_id(dest.id)
    reply(QMessageBox.StandardButton.No)
    qtbot.mouseClick(view.remove_button, Qt.MouseButton.LeftButton)
    assert asked == [f"Remove the destination “{tmp_path}”?\n\n1 file for it is not received "
                     "yet; they stay on the broker but will not be written here."]
    assert store.settings.destinations == [dest]
    assert transfers.model.rowCount() == 1
    reply(QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(view.remove_button, Qt.MouseButton.LeftButton)
    assert store.settings.destinations == []
    qtbot.waitUntil(lambda: transfers.model.rowCount() == 0, timeout=5000)
    assert view.state.status is not AppStatus.ERROR
    # What the stopping job still says is not shown again.
    view.controller.bus.publish(FileWaiting(job, Direction.DOWNLOAD, "huge_run2.raw", "late"))
    qtbot.wait(200)
    assert transfers.model.rowCount() == 0
