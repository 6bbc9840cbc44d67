"""The folder form's "Information sent with each file", the tray's sample items, and the
destination form's "Only files matching" and sidecar choice (pytest-qt, offscreen)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QTableWidgetItem
from pytestqt.qtbot import QtBot

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile, Destination, SettingsStore, WatchedFolder
from openmsi_gui.engine.events import EventBus, FilesFiltered
from openmsi_gui.ui.adapter import EngineAdapter
from openmsi_gui.ui.sample_menu import SampleDialog
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.tray import Tray
from openmsi_gui.ui.views.destinations import DestinationsView
from openmsi_gui.ui.views.folders import FoldersView


@pytest.fixture
def saved(store: SettingsStore, tmp_path: Path) -> tuple[WatchedFolder, Destination]:
    profile = BrokerProfile(name="Lab", bootstrap_servers="127.0.0.1:9")
    (tmp_path / "instrument").mkdir()
    (tmp_path / "inbox").mkdir()
    folder = WatchedFolder(path=str(tmp_path / "instrument"), profile_id=profile.id,
                           topic="data", enabled=False)
    dest = Destination(path=str(tmp_path / "inbox"), profile_id=profile.id, topic="data",
                       group_id="g", enabled=False)
    settings = store.settings
    settings.profiles, settings.folders, settings.destinations = [profile], [folder], [dest]
    store.update(settings)
    return folder, dest


@pytest.fixture
def folders(qtbot: QtBot, store: SettingsStore, controller: AppController, tasks: Tasks,
            saved: tuple[WatchedFolder, Destination]) -> FoldersView:
    view = FoldersView(store, controller, tasks)
    qtbot.addWidget(view)
    view.resize(1000, 900)
    view.show()
    return view


def test_folder_form_sets_fields_pattern_and_rule_with_a_live_preview(
        folders: FoldersView, qtbot: QtBot, store: SettingsStore) -> None:
    section = folders.information
    assert not section.is_expanded()  # nothing sent yet: folded
    section.set_expanded(True)
    section.on_add_clicked()
    section.table.setItem(0, 0, QTableWidgetItem("instrument"))
    section.table.setItem(0, 1, QTableWidgetItem("SEM-2"))
    qtbot.keyClicks(section.example_edit, "S001/run 3/a.tif")
    qtbot.keyClicks(section.path_edit, "(?P<specimen>S[0-9]+")
    assert section.path_error.isVisible()
    assert "not a regular expression" in section.path_error.text()
    assert not folders.apply_button.isEnabled()
    qtbot.keyClicks(section.path_edit, ")/")
    assert not section.path_error.isVisible()
    assert section.preview_label.text() == "instrument = SEM-2, specimen = S001"
    section.require_check.setChecked(True)
    qtbot.waitUntil(folders.apply_button.isEnabled, timeout=5000)  # the folder is checked
    folders.apply_button.click()
    [folder] = store.settings.folders
    assert folder.metadata == {"instrument": "SEM-2"}
    assert folder.metadata_from_path == "(?P<specimen>S[0-9]+)/"
    assert folder.require_sample


def test_a_field_named_twice_is_refused(folders: FoldersView) -> None:
    section = folders.information
    for row, (key, value) in enumerate([("lab", "B2"), ("lab", "B3")]):
        section.on_add_clicked()
        section.table.setItem(row, 0, QTableWidgetItem(key))
        section.table.setItem(row, 1, QTableWidgetItem(value))
    assert section.fields_error.text() == "The field 'lab' is given twice: remove one."
    assert not folders.apply_button.isEnabled()
    assert "given twice" in folders.errors.text()


@pytest.fixture
def state(qtbot: QtBot, bus: EventBus, store: SettingsStore,
          controller: AppController) -> Iterator[LiveState]:
    adapter = EngineAdapter(bus, store=store)
    live = LiveState(adapter, controller)
    yield live
    live.deleteLater()
    adapter.close()


def test_tray_offers_the_sample_of_each_folder_sending_information(
        qtbot: QtBot, state: LiveState, store: SettingsStore,
        saved: tuple[WatchedFolder, Destination]) -> None:
    tray = Tray(state)
    assert tray.samples.actions == []
    settings = store.settings
    settings.folders[0].metadata = {"instrument": "SEM-2"}
    store.update(settings)
    qtbot.waitUntil(lambda: len(tray.samples.actions) == 1, timeout=5000)
    [action] = tray.samples.actions
    assert action.text() == "Set current sample for instrument (now none)…"
    assert tray.menu.actions().index(action) < tray.menu.actions().index(tray.pause_action)
    tray.samples.set_sample(saved[0].id, "S001")
    assert store.settings.folders[0].current_sample == "S001"
    qtbot.waitUntil(lambda: tray.samples.actions[0].text().endswith("(now S001)…"),
                    timeout=5000)
    items = tray.menu.actions()
    [action] = tray.samples.actions  # rebuilt: still one, still followed by its separator
    assert items[items.index(action) + 1].isSeparator()
    assert items[items.index(action) + 2] is tray.pause_action


def test_the_sample_dialog_refuses_a_control_character(
        qtbot: QtBot, saved: tuple[WatchedFolder, Destination]) -> None:
    dialog = SampleDialog(saved[0])
    qtbot.addWidget(dialog)
    dialog.edit.setText("S1\tS2")
    dialog.on_buttons_accepted()
    assert dialog.result() == 0
    assert "control character" in dialog.error.text()
    dialog.edit.setText(" S1 ")
    dialog.on_buttons_accepted()
    assert dialog.result() == 1
    assert dialog.sample == "S1"


def test_destination_form_filter_sidecar_and_the_count_in_its_row(
        qtbot: QtBot, store: SettingsStore, controller: AppController, tasks: Tasks,
        bus: EventBus, saved: tuple[WatchedFolder, Destination]) -> None:
    view = DestinationsView(store, controller, tasks)
    qtbot.addWidget(view)
    view.resize(1000, 800)
    view.show()
    fields = view.receiving
    assert fields.sidecar_check.isVisible()
    qtbot.keyClicks(fields.regex_edit, "[S")
    assert fields.regex_error.isVisible()
    assert not view.apply_button.isEnabled()
    fields.regex_edit.clear()
    qtbot.keyClicks(fields.regex_edit, r"S0\d+/")
    fields.sidecar_check.setChecked(True)
    qtbot.waitUntil(view.apply_button.isEnabled, timeout=5000)
    view.apply_button.click()
    [dest] = store.settings.destinations
    assert (dest.download_regex, dest.sidecar) == (r"S0\d+/", True)
    bus.publish(FilesFiltered(f"dest:{dest.id}", 12))
    qtbot.waitUntil(lambda: "12 files skipped by the filter" in view.table.item(
        0, view.table.columnCount() - 1).text(), timeout=5000)  # type: ignore[union-attr]
