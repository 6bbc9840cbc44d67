"""The sender sees delivery in the GUI: the folder form's Delivery section, the Delivery
column and details of the transfers view, and Not confirmed with Send again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from openmsi_gui.app import pairing
from openmsi_gui.app.confirming import paired_names
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.delivery_state import unconfirmed_notice
from openmsi_gui.app.job_specs import job_id
from openmsi_gui.app.settings import BrokerProfile, SettingsStore, WatchedFolder
from openmsi_gui.app.transfer_rows import Column, FilterMode
from openmsi_gui.engine.confirmation import unconfirmed_reason
from openmsi_gui.engine.events import (
    DeliveryStatus,
    Direction,
    EventBus,
    FileCompleted,
    FileDelivery,
    FileDiscovered,
    FileUnconfirmed,
)
from openmsi_gui.engine.receipt_keys import SigningIdentity
from openmsi_gui.ui.adapter import EngineAdapter
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.views.delivery_section import NOT_PAIRED
from openmsi_gui.ui.views.folders import FoldersView
from openmsi_gui.ui.views.transfers import TransfersView


@pytest.fixture
def folder(store: SettingsStore, broker_profile: BrokerProfile, tmp_path: Path
           ) -> WatchedFolder:
    (tmp_path / "outbox").mkdir()
    made = WatchedFolder(path=str(tmp_path / "outbox"), profile_id=broker_profile.id,
                         topic="lab", expected_destinations=["gone-away"], enabled=False)
    settings = store.settings
    settings.profiles = [broker_profile]
    settings.folders = [made]
    store.update(settings)
    return made


@pytest.fixture
def view(qtbot: QtBot, store: SettingsStore, controller: AppController, tasks: Tasks,
         folder: WatchedFolder) -> FoldersView:
    pairing.trust(SigningIdentity.generate("archive").public.pairing_code(),
                  controller.registry.path.parent)
    widget = FoldersView(store, controller, tasks)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    widget._select_row(0)
    qtbot.waitUntil(lambda: widget.delivery.expected_list.count() == 2)
    return widget


def texts(view: FoldersView) -> list[str]:
    items = view.delivery.expected_list
    return [items.item(i).text() for i in range(items.count())]


def test_the_delivery_section_chooses_paired_destinations_a_deadline_and_resend(
        view: FoldersView, qtbot: QtBot, store: SettingsStore) -> None:
    section = view.delivery
    assert section.is_expanded()  # the folder expects someone: never hidden
    assert texts(view) == ["archive", f"gone-away{NOT_PAIRED}"]
    assert section.checked() == ["gone-away"]
    assert section.deadline_edit.text() == "1h"
    section.expected_list.item(0).setCheckState(Qt.CheckState.Checked)
    section.expected_list.item(1).setCheckState(Qt.CheckState.Unchecked)
    section.deadline_edit.clear()
    qtbot.keyClicks(section.deadline_edit, "an hour")
    assert section.deadline_error.isVisibleTo(view)
    assert "90s, 20m, 1h or 7d" in section.deadline_error.text()
    assert not view.apply_button.isEnabled()
    section.deadline_edit.clear()
    qtbot.keyClicks(section.deadline_edit, "20m")
    assert not section.deadline_error.isVisibleTo(view)
    check = section.resend_check
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(6, check.height() // 2))
    qtbot.waitUntil(view.apply_button.isEnabled)
    qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    (saved,) = store.settings.folders
    assert saved.expected_destinations == ["archive"]
    assert saved.delivery_deadline == 1200.0
    assert saved.resend_unconfirmed


def test_a_destination_is_added_by_its_code(view: FoldersView, qtbot: QtBot,
                                            controller: AppController) -> None:
    section = view.delivery
    section.add_code("omsi-pair:not-a-code")
    qtbot.waitUntil(lambda: section.status.text() != "")
    assert section.status.text().startswith("Not added:")
    code = SigningIdentity.generate("mirror").public.pairing_code()
    section.add_code(code)
    qtbot.waitUntil(lambda: "mirror" in texts(view))
    assert "mirror" in section.checked()
    assert "paired" in section.status.text()
    qtbot.waitUntil(view.apply_button.isEnabled)
    assert "mirror" in paired_names(controller.registry.path.parent)


@pytest.fixture
def adapter(bus: EventBus) -> Iterator[EngineAdapter]:
    engine_adapter = EngineAdapter(bus, interval_ms=20)
    yield engine_adapter
    engine_adapter.close()


@pytest.fixture
def transfers(qtbot: QtBot, adapter: EngineAdapter, controller: AppController, tasks: Tasks,
              folder: WatchedFolder) -> Iterator[TransfersView]:
    state = LiveState(adapter, controller)
    widget = TransfersView(state, controller, controller.registry, tasks)
    qtbot.addWidget(widget)
    widget.resize(1200, 600)
    widget.show()
    qtbot.waitSignal(widget.history.loaded, timeout=5000)
    yield widget
    state.deleteLater()


def cell(view: TransfersView, relpath: str, column: Column,
         role: Qt.ItemDataRole = Qt.ItemDataRole.DisplayRole) -> str:
    model = view.table.model()
    for r in range(model.rowCount()):
        if model.index(r, Column.FILE).data() == relpath:
            return str(model.index(r, column).data(role) or "")
    return "(no row)"


def test_the_transfers_view_shows_delivery_and_not_confirmed_with_send_again(
        transfers: TransfersView, qtbot: QtBot, bus: EventBus, folder: WatchedFolder) -> None:
    job, up = str(job_id(folder)), Direction.UPLOAD
    for name in ("a.tif", "b.tif"):
        bus.publish(FileDiscovered(job, up, name, 10))
        bus.publish(FileCompleted(job, up, name, 10, "aa", 0.1))
    bus.publish(FileDelivery(job, "a.tif", "aa", "archive", DeliveryStatus.DELIVERED,
                             time.time(), where="/srv/in/a.tif"))
    bus.publish(FileUnconfirmed(job, "b.tif", "aa", 10, time.time() - 4000, ("archive",),
                                unconfirmed_reason(("archive",), 3600)))
    qtbot.waitUntil(lambda: cell(transfers, "b.tif", Column.STATUS) == "Not confirmed")
    assert cell(transfers, "a.tif", Column.DELIVERY).endswith(" · archive")
    assert "/srv/in/a.tif" in cell(transfers, "a.tif", Column.DELIVERY,
                                   Qt.ItemDataRole.ToolTipRole)
    assert cell(transfers, "b.tif", Column.DELIVERY) == "Not confirmed by archive"
    assert "Send again" in cell(transfers, "b.tif", Column.STATUS, Qt.ItemDataRole.ToolTipRole)
    transfers.filter_combo.setCurrentIndex(transfers.filter_combo.findData(FilterMode.PROBLEMS))
    qtbot.waitUntil(lambda: transfers.table.model().rowCount() == 1)
    transfers.table.selectRow(0)
    assert transfers.send_again_button.isEnabled()
    assert "Not confirmed by archive in time" in transfers.details.text()
    assert transfers.state.book.problems().unconfirmed_files == 1


def test_files_found_not_confirmed_together_make_one_notification(
        transfers: TransfersView, qtbot: QtBot, bus: EventBus, folder: WatchedFolder) -> None:
    job = str(job_id(folder))
    batches: list[list[FileUnconfirmed]] = []
    transfers.state.filesUnconfirmed.connect(batches.append)
    events = [FileUnconfirmed(job, name, "aa", 10, time.time() - 4000, ("archive",),
                              unconfirmed_reason(("archive",), 3600)) for name in ("a", "b")]
    with qtbot.waitSignal(transfers.state.filesUnconfirmed, timeout=3000):
        for event in events:
            bus.publish(event)
    qtbot.waitUntil(lambda: sum(len(batch) for batch in batches) == 2)
    assert len(batches) <= 2  # one per adapter batch, not one per file and row change
    assert unconfirmed_notice([e for batch in batches for e in batch]) == (
        "2 files were not confirmed",
        "a and 1 more: not confirmed by archive in time. Select them in Transfers and press "
        "Send again.")


def test_showing_a_folder_changes_nothing(view: FoldersView, qtbot: QtBot,
                                          store: SettingsStore) -> None:
    """Names in the folder's own order, an odd deadline: Apply stays off until an edit."""
    settings = store.settings
    settings.folders[0].expected_destinations = ["zeta", "archive"]
    settings.folders[0].delivery_deadline = 90.5
    store.update(settings)
    view._select_row(0)
    qtbot.waitUntil(lambda: view.delivery.expected_list.count() == 2)
    assert texts(view) == ["archive", f"zeta{NOT_PAIRED}"]
    assert view.delivery.checked() == ["zeta", "archive"]
    assert not view.apply_button.isEnabled()
    assert view.delivery.read(settings.folders[0]) == settings.folders[0]
