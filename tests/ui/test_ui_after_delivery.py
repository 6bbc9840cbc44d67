"""The watched folder form's "After delivery" section and its preview dialog."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile, SettingsStore, WatchedFolder
from openmsi_gui.engine.after_delivery import AfterAction
from openmsi_gui.engine.deliveries import DeliveryBook
from openmsi_gui.engine.receipts import Receipt, ReceiptStatus
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.views.after_delivery_section import PreviewDialog
from openmsi_gui.ui.views.folders import FoldersView


@pytest.fixture
def folder(tmp_path: Path, store: SettingsStore, broker_profile: BrokerProfile) -> WatchedFolder:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    item = WatchedFolder(path=str(outbox), profile_id=broker_profile.id, topic="lab",
                         expected_destinations=["archive"], enabled=False)
    settings = store.settings
    settings.profiles = [broker_profile]
    settings.folders = [item]
    store.update(settings)
    return item


@pytest.fixture
def view(qtbot: QtBot, store: SettingsStore, controller: AppController, tasks: Tasks,
         folder: WatchedFolder) -> FoldersView:
    widget = FoldersView(store, controller, tasks)
    qtbot.addWidget(widget)
    widget.resize(1000, 900)
    widget.show()
    widget.select(folder.id)
    return widget


def _choose(view: FoldersView, action: AfterAction) -> None:
    combo = view.after_delivery.action_combo
    combo.setCurrentIndex(combo.findData(action.value))


def test_keep_is_the_default_and_folded(view: FoldersView) -> None:
    section = view.after_delivery
    assert section.action() is AfterAction.KEEP
    assert not section.is_expanded()
    assert not section.preview_button.isEnabled()
    assert not section.archive_row.isEnabled()


def test_move_needs_an_archive_outside_the_folder_then_saves(
        view: FoldersView, store: SettingsStore, folder: WatchedFolder, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, qtbot: QtBot) -> None:
    section = view.after_delivery
    section.set_expanded(True)
    _choose(view, AfterAction.MOVE)
    assert section.archive_row.isEnabled()
    assert "archive folder" in section.problem_label.text()
    section.archive_edit.setText(os.path.join(folder.path, "done"))
    section.archive_edit.textEdited.emit(section.archive_edit.text())
    assert "outside the watched folder" in section.problem_label.text()
    archive = tmp_path / "archive"
    archive.mkdir()

    def fake(*_args: object, **_kwargs: object) -> str:
        return str(archive)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(fake))
    section.archive_button.click()
    section.min_age_edit.setText("a week")
    section.min_age_edit.textEdited.emit("a week")
    assert section.min_age_error.isVisible()
    section.min_age_edit.setText("7d")
    section.min_age_edit.textEdited.emit("7d")
    assert not section.min_age_error.isVisible()
    assert not section.problem_label.isVisible()
    assert section.summary.text() == (
        f"Files confirmed by archive are moved to {archive} once 7 days old.")
    qtbot.waitUntil(view.apply_button.isEnabled)  # the folder's path check
    assert view.errors.text() == "Unsaved changes."
    view.apply_button.click()
    qtbot.waitUntil(lambda: store.settings.folders[0].after_delivery is AfterAction.MOVE)
    saved = store.settings.folders[0]
    assert (saved.archive_folder, saved.min_age) == (str(archive), 7 * 86400.0)


def test_delete_without_expected_destinations_is_refused(
        view: FoldersView, store: SettingsStore, folder: WatchedFolder) -> None:
    settings = store.settings
    settings.folders[0].expected_destinations = []
    store.update(settings)
    view.select(folder.id)
    _choose(view, AfterAction.DELETE)
    assert "Name the destinations" in view.after_delivery.problem_label.text()
    view.apply_button.click()
    assert store.settings.folders[0].after_delivery is AfterAction.KEEP


def test_preview_lists_the_files_and_the_space_freed(
        view: FoldersView, folder: WatchedFolder, registry: Registry, qtbot: QtBot) -> None:
    root = os.path.realpath(folder.path)
    for name, body in (("scan_001.tif", b"x" * 5000), ("scan_002.tif", b"y" * 3000)):
        path = Path(root) / name
        path.write_bytes(body)
        st = path.stat()
        digest = hashlib.sha512(body).digest()
        upload_id, _ = registry.start_upload("lab", root, name, st.st_size, st.st_mtime_ns,
                                             digest, 4096, 2)
        registry.finish_upload(upload_id)
        DeliveryBook(registry).record(Receipt("archive", "lab", name, digest, len(body), 0.0,
                                              "/srv/" + name, time.time(),
                                              ReceiptStatus.STORED))
    _choose(view, AfterAction.DELETE)
    assert view.after_delivery.preview_button.isEnabled()
    view.after_delivery.preview_button.click()

    def found() -> PreviewDialog | None:
        return view.findChild(PreviewDialog)

    qtbot.waitUntil(lambda: found() is not None)
    dialog = found()
    assert dialog is not None
    assert dialog.table.rowCount() == 2
    assert dialog.table.item(0, 0).text() == "scan_001.tif"
    assert dialog.summary.text().startswith("2 files would be deleted now, freeing 7.8 KiB")
    assert (Path(root) / "scan_001.tif").exists()
    dialog.reject()
