"""Bandwidth in the GUI: the tray toggle, the status bar, Preferences and the forms' fields."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile, Destination, SettingsStore, WatchedFolder
from openmsi_gui.engine.events import Direction, EventBus
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui.adapter import EngineAdapter
from openmsi_gui.ui.main_window import MainWindow
from openmsi_gui.ui.preferences import PreferencesDialog
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.tray import Tray
from openmsi_gui.ui.views.destinations import DestinationsView
from openmsi_gui.ui.views.folders import FoldersView

MiB = 1024 * 1024


@pytest.fixture
def adapter(qtbot: QtBot, bus: EventBus, store: SettingsStore) -> Iterator[EngineAdapter]:
    ad = EngineAdapter(bus, store=store)
    yield ad
    ad.close()


@pytest.fixture
def state(adapter: EngineAdapter, controller: AppController) -> Iterator[LiveState]:
    live = LiveState(adapter, controller)
    yield live
    live.deleteLater()


def test_the_tray_toggle_limits_now_and_the_status_bar_says_so(
        qtbot: QtBot, store: SettingsStore, controller: AppController, registry: Registry,
        adapter: EngineAdapter, state: LiveState, tasks: Tasks) -> None:
    settings = store.settings
    settings.bandwidth.preset = "2M"
    store.update(settings)
    window = MainWindow(store, controller, registry, adapter, state, tasks)
    qtbot.addWidget(window)
    window.show()
    tray = Tray(state)
    qtbot.waitUntil(lambda: tray.limit_action.text() == "&Limit bandwidth now (2 MiB/s)",
                    timeout=5000)
    assert not tray.limit_action.isChecked()
    assert not window.limit_label.isVisible()

    tray.limit_action.trigger()
    qtbot.waitUntil(lambda: window.limit_label.text() == "Limited to 2 MiB/s", timeout=5000)
    assert window.limit_label.isVisible()
    assert tray.limit_action.isChecked()
    assert "Limited to 2 MiB/s" in tray.icon.toolTip()
    assert controller.bandwidth.rate(Direction.UPLOAD) == 2 * MiB
    assert store.settings.bandwidth.limit_now

    tray.limit_action.trigger()
    qtbot.waitUntil(lambda: not window.limit_label.isVisible(), timeout=5000)
    assert not tray.limit_action.isChecked()
    assert controller.bandwidth.rate(Direction.DOWNLOAD) is None


def test_the_app_wide_limit_shows_in_the_status_bar(
        qtbot: QtBot, store: SettingsStore, controller: AppController, registry: Registry,
        adapter: EngineAdapter, state: LiveState, tasks: Tasks) -> None:
    window = MainWindow(store, controller, registry, adapter, state, tasks)
    qtbot.addWidget(window)
    window.show()
    settings = store.settings
    settings.bandwidth.limit = "10M:1M"
    store.update(settings)
    qtbot.waitUntil(lambda: window.limit_label.text() ==
                    "Limited to 10 MiB/s up, 1 MiB/s down", timeout=5000)


def test_preferences_refuse_what_is_not_a_limit(qtbot: QtBot, store: SettingsStore,
                                                tasks: Tasks) -> None:
    dialog = PreferencesDialog(store, tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.preset.text() == "1M"
    dialog.app_limit.edit.setText("8 MB")
    assert not ok.isEnabled()
    assert dialog.app_limit.error.isVisible()
    assert dialog.app_limit.error.text().startswith("Cannot read the bandwidth limit '8 MB'")
    dialog.preset.edit.setText("")
    assert dialog.preset.error.text() == "The preset must limit something, e.g. 1M (1 MiB/s)."
    dialog.accept()  # refused: nothing saved
    assert store.settings.bandwidth.limit == ""
    dialog.app_limit.edit.setText("08:00,4M 18:00,off")
    dialog.preset.edit.setText("512K")
    assert ok.isEnabled()
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    bandwidth = store.settings.bandwidth
    assert (bandwidth.limit, bandwidth.preset) == ("08:00,4M 18:00,off", "512K")


@pytest.fixture
def profile(store: SettingsStore) -> BrokerProfile:
    made = BrokerProfile(name="Lab", bootstrap_servers="127.0.0.1:9")  # never connected to
    settings = store.settings
    settings.profiles = [made]
    store.update(settings)
    return made


def test_a_folder_and_a_destination_get_a_limit_of_their_own(
        qtbot: QtBot, store: SettingsStore, controller: AppController, tasks: Tasks,
        profile: BrokerProfile, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "in").mkdir()
    settings = store.settings
    settings.folders = [WatchedFolder(path=str(tmp_path / "out"), profile_id=profile.id,
                                      topic="t", enabled=False)]
    settings.destinations = [Destination(path=str(tmp_path / "in"), profile_id=profile.id,
                                         topic="t", group_id="g", enabled=False)]
    store.update(settings)
    for view_class in (FoldersView, DestinationsView):
        view = view_class(store, controller, tasks)  # type: ignore[abstract]
        qtbot.addWidget(view)
        view.resize(1000, 700)
        view.show()
        view.table.selectRow(0)
        qtbot.waitUntil(lambda v=view: v.form_box.isEnabled(), timeout=5000)
        qtbot.waitUntil(lambda v=view: not v.errors.text(), timeout=5000)  # folder checked
        field = view.bwlimit
        assert field.edit.placeholderText().startswith("no limit")
        qtbot.keyClicks(field.edit, "4 MB")
        assert field.error.isVisible()
        assert "Cannot read the bandwidth limit '4 MB'" in view.errors.text()
        assert not view.apply_button.isEnabled()
        field.edit.clear()
        qtbot.keyClicks(field.edit, "Mon-08:00,4M Sat-00:00,off")
        assert not field.error.isVisible()
        assert view.apply_button.isEnabled(), view.errors.text()
        qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    saved = store.settings
    assert saved.folders[0].bwlimit == "Mon-08:00,4M Sat-00:00,off"
    assert saved.destinations[0].bwlimit == "Mon-08:00,4M Sat-00:00,off"
