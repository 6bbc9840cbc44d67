"""Help ▸ Save diagnostics…: the dialog's path, the zip written in the background, the word."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import qVersion
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from openmsi_gui.app import keychain, profiles
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile, SecurityProtocol, Settings, SettingsStore
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui.adapter import EngineAdapter
from openmsi_gui.ui.main_window import MainWindow
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.tasks import Tasks

SECRET = "gui-Secret-41f0c2"


@pytest.fixture
def window(qtbot: QtBot, store: SettingsStore, controller: AppController, registry: Registry,
           bus: EventBus, tasks: Tasks, monkeypatch: pytest.MonkeyPatch,
           tmp_path: Path) -> Iterator[MainWindow]:
    monkeypatch.setenv("OPENMSI_GUI_LOG_DIR", str(tmp_path / "logs"))  # never the user's
    adapter = EngineAdapter(bus)
    state = LiveState(adapter, controller)
    made = MainWindow(store, controller, registry, adapter, state, tasks)
    qtbot.addWidget(made)  # with a tray: closing only hides it
    yield made
    state.deleteLater()
    adapter.close()


def diagnostics_action(window: MainWindow) -> QAction:
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    return next(a for a in help_menu.actions() if a.text() == "Save &diagnostics…")


def choose(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[str]:
    offered: list[str] = []

    def fake(parent: Any, title: str, default: str, filters: str) -> tuple[str, str]:
        offered.append(default)
        return str(path), filters.split(";;", maxsplit=1)[0]

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake))
    return offered


def test_save_diagnostics_writes_the_zip_and_says_where(
        qtbot: QtBot, window: MainWindow, store: SettingsStore, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    profile = BrokerProfile(name="Lab", bootstrap_servers="b:9093",
                            security_protocol=SecurityProtocol.SASL_SSL,
                            sasl_mechanism="PLAIN", sasl_username="u")
    store.update(Settings(profiles=[profile]))
    keychain.set_secret(profiles.owner(profile), profiles.PASSWORD, SECRET)
    offered = choose(monkeypatch, tmp_path / "support")  # no suffix: .zip is added
    with qtbot.waitSignal(window.diagnostics.saved, timeout=20_000) as saved:
        diagnostics_action(window).trigger()
    out = tmp_path / "support.zip"
    assert Path(offered[0]).name.startswith("openmsi-diagnostics-")
    assert saved.args == [window.statusBar().currentMessage()]
    assert saved.args[0].startswith(f"Diagnostics saved to {out} (")
    assert diagnostics_action(window).isEnabled()
    with zipfile.ZipFile(out) as zipped:
        contents = {name: zipped.read(name) for name in zipped.namelist()}
    assert all(SECRET.encode() not in data for data in contents.values())
    assert json.loads(contents["versions.json"])["qt"].startswith(f"Qt {qVersion()}, PySide6 ")
    assert json.loads(contents["settings.json"])["profiles"][0]["name"] == "Lab"


def test_a_path_that_cannot_be_written_is_one_sentence(
        qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    choose(monkeypatch, tmp_path / "gone" / "d.zip")
    with qtbot.waitSignal(window.diagnostics.failed, timeout=20_000) as failed:
        diagnostics_action(window).trigger()
    assert failed.args[0] == window.statusBar().currentMessage()
    assert failed.args[0].startswith(f"Could not save the diagnostics to {tmp_path}")
    assert failed.args[0].endswith("choose another folder.")


def test_the_dialog_opens_in_the_home_folder_when_there_is_no_documents_folder(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, qapp: object) -> None:
    from PySide6.QtCore import QStandardPaths

    from openmsi_gui.ui.diagnostics_action import ask_zip_path

    monkeypatch.setattr(QStandardPaths, "writableLocation",
                        staticmethod(lambda _where: str(tmp_path / "Documents")))
    offered = choose(monkeypatch, tmp_path / "out.zip")
    assert ask_zip_path(None) == tmp_path / "out.zip"  # type: ignore[arg-type]
    assert Path(offered[0]).parent == Path.home()
    (tmp_path / "Documents").mkdir()
    ask_zip_path(None)  # type: ignore[arg-type]
    assert Path(offered[1]).parent == tmp_path / "Documents"
