"""The smallest supported window (1024 x 640): every button visible, paths readable.

Also the dark theme's check boxes and the demo banner (where to drop files).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QImage, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QScrollArea,
    QStyle,
    QStyleFactory,
    QStyleOptionButton,
    QStyleOptionSpinBox,
    QWidget,
)
from pytestqt.qtbot import QtBot

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.demo import DemoFolders
from openmsi_gui.app.settings import (
    BrokerProfile,
    Destination,
    DestinationKind,
    SecurityProtocol,
    Settings,
    SettingsStore,
    WatchedFolder,
)
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui.adapter import EngineAdapter
from openmsi_gui.ui.main_window import MainWindow
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.theme import VisibleEdgesStyle, apply_theme

SMALL = (1024, 640)


@pytest.fixture
def adapter(qtbot: QtBot, bus: EventBus) -> Iterator[EngineAdapter]:
    ad = EngineAdapter(bus)
    yield ad
    ad.close()


@pytest.fixture
def state(adapter: EngineAdapter, controller: AppController) -> Iterator[LiveState]:
    live = LiveState(adapter, controller)
    yield live
    live.deleteLater()


@pytest.fixture
def long_names(store: SettingsStore, tmp_path: Path, broker: EmbeddedBroker) -> Path:
    """Real-looking profiles, a folder and a destination, with long names.

    The folder and destination use the test broker, so that the forms' topic lists
    come back at once (the demo's embedded broker would start one of its own); the
    SASL profile (the longest form) is only shown.
    """
    settings = Settings()
    DemoFolders(tmp_path).create()
    profile = BrokerProfile(name="Materials lab broker at the university data centre",
                            bootstrap_servers=broker.bootstrap_servers)
    settings.profiles.append(profile)
    settings.ui.first_run_done = True
    settings.profiles.append(BrokerProfile(
        name="Partner lab across the country, through the internet",
        bootstrap_servers="kafka-1.materials.example.edu:9093,kafka-2.materials.example.edu:9093",
        security_protocol=SecurityProtocol.SASL_SSL, sasl_mechanism="SCRAM-SHA-512",
        sasl_username="technician"))
    folder = tmp_path / "instruments" / "X-ray diffractometer in room 2.114" / "2026" / "runs"
    folder.mkdir(parents=True)
    settings.folders.append(WatchedFolder(path=str(folder), profile_id=profile.id,
                                          topic="materials-lab-xrd-raw-data"))
    settings.destinations.append(Destination(
        kind=DestinationKind.S3, profile_id=profile.id, topic="materials-lab-xrd-raw-data",
        group_id="materials-lab-s3-archive", bucket="materials-lab-long-term-archive",
        prefix="xrd/raw", endpoint_url="https://s3.eu-central-1.materials.example.edu",
        region="eu-central-1", access_key_id="AKIAIOSFODNN7EXAMPLE", enabled=False))
    settings.destinations.append(Destination(path=str(folder.parent / "arrived"),
                                             profile_id=profile.id,
                                             topic="materials-lab-xrd-raw-data",
                                             group_id="materials-lab-archive"))
    store.update(settings)
    return folder


@pytest.fixture
def window(qtbot: QtBot, store: SettingsStore, controller: AppController, registry: Registry,
           adapter: EngineAdapter, state: LiveState, tasks: Tasks, long_names: Path,
           tmp_path: Path) -> MainWindow:
    made = MainWindow(store, controller, registry, adapter, state, tasks, has_tray=False,
                      demo=DemoFolders(tmp_path))
    qtbot.addWidget(made)
    made.resize(*SMALL)
    made.show()
    qtbot.waitExposed(made)
    return made


def _in_scroll_area(widget: QWidget) -> bool:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def _cut_buttons(window: QWidget, scrolled_too: bool = True) -> list[str]:
    """Visible buttons not wholly inside the window or partly hidden by a parent.

    Args:
        window: the main window.
        scrolled_too: also buttons in a scroll area (else those may be scrolled away).
    """
    bounds = window.rect()
    cut = []
    for button in window.findChildren(QAbstractButton):
        if not button.isVisibleTo(window) or button.width() <= 1:
            continue
        if "qt_" in button.objectName():  # Qt's own (tab scrollers, scroll bar buttons)
            continue
        if not scrolled_too and _in_scroll_area(button):
            continue
        rect = QRect(button.mapTo(window, QPoint(0, 0)), button.size())
        whole = button.visibleRegion().boundingRect().size() == button.size()
        if not (bounds.contains(rect) and whole):
            cut.append(f"{button.text() or button.accessibleName()!r} at {rect}")
    return cut


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_view_fits_1024_by_640(qtbot: QtBot, qapp: QApplication, window: MainWindow,
                                     theme: str) -> None:
    apply_theme(qapp, theme)
    try:
        assert (window.width(), window.height()) == SMALL, "the window cannot be that small"
        for index in range(window.tabs.count()):
            window.tabs.setCurrentIndex(index)
            view = window.tabs.currentWidget()
            rows = (view.table.rowCount() if view in (window.folders, window.destinations)
                    else window.profiles.list.count() if view is window.profiles else 1)
            for row in range(rows):  # every folder, destination (S3 too) and profile
                if view in (window.folders, window.destinations):
                    view.table.selectRow(row)
                elif view is window.profiles:
                    window.profiles.list.setCurrentRow(row)
                qapp.processEvents()
                # The S3 form is the one too tall for 640: its fields scroll, its buttons not.
                s3 = view is window.destinations and view.table.item(row, 0).text().startswith(
                    "s3://")
                assert _cut_buttons(window, scrolled_too=not s3) == [], (
                    window.tabs.tabText(index), row)
    finally:
        apply_theme(qapp, "light")


def test_a_shorter_window_scrolls_forms_but_keeps_their_buttons(
        qtbot: QtBot, qapp: QApplication, window: MainWindow) -> None:
    """Apply, Revert, Save and the list buttons stay in sight; the fields above them scroll."""
    window.resize(1024, 520)
    qtbot.waitUntil(lambda: window.height() == 520)
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        qapp.processEvents()
        assert _cut_buttons(window, scrolled_too=False) == [], window.tabs.tabText(index)
    window.tabs.setCurrentWidget(window.profiles)
    window.profiles.list.setCurrentRow(window.profiles.list.count() - 1)
    qapp.processEvents()
    assert _cut_buttons(window, scrolled_too=False) == []


def test_a_long_folder_path_keeps_most_of_the_list(qtbot: QtBot, window: MainWindow) -> None:
    """The Folder column is not squeezed to "/t…ox" by long broker and topic names."""
    for view in (window.folders, window.destinations):
        window.tabs.setCurrentWidget(view)
        qtbot.waitUntil(lambda v=view: v.table.viewport().width() > 300)
        table = view.table
        assert table.textElideMode() == Qt.TextElideMode.ElideMiddle
        assert table.columnWidth(0) >= 0.35 * table.viewport().width()
        for column in range(1, table.columnCount()):
            assert table.columnWidth(column) >= 60


def test_path_columns_are_cut_in_the_middle(window: MainWindow) -> None:
    assert window.transfers.table.textElideMode() == Qt.TextElideMode.ElideMiddle


def _edge_contrast(style: QStyle, palette: QPalette, spin_box: bool = False) -> int:
    """How far an unchecked check box's (or a spin box's) edge is from the window's colour."""
    image = QImage(60, 24, QImage.Format.Format_ARGB32)
    window = palette.color(QPalette.ColorRole.Window)
    image.fill(window)
    option = QStyleOptionSpinBox() if spin_box else QStyleOptionButton()
    option.rect = QRect(4, 4, 50, 15) if spin_box else QRect(4, 4, 15, 15)
    option.palette = palette
    option.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Off
    painter = QPainter(image)
    if isinstance(option, QStyleOptionSpinBox):
        option.frame = True
        option.subControls = QStyle.SubControl.SC_SpinBoxFrame
        style.drawComplexControl(QStyle.ComplexControl.CC_SpinBox, option, painter)
    else:
        style.drawPrimitive(QStyle.PrimitiveElement.PE_IndicatorCheckBox, option, painter)
    painter.end()
    edge = [image.pixelColor(4, y) for y in range(8, 16)]  # the left edge, away from corners
    return max(abs(pixel.lightness() - window.lightness()) for pixel in edge)


@pytest.mark.parametrize("spin_box", [False, True], ids=["check box", "spin box"])
def test_dark_inputs_have_a_visible_edge(qapp: QApplication, spin_box: bool) -> None:
    apply_theme(qapp, "dark")
    try:
        dark = qapp.palette()
        fusion = QStyleFactory.create("Fusion")
        assert fusion is not None
        before = _edge_contrast(fusion, dark, spin_box)
        after = _edge_contrast(VisibleEdgesStyle(), dark, spin_box)
    finally:
        apply_theme(qapp, "light")
    assert after >= 60, (before, after)
    assert after > 2 * before, (before, after)


def test_the_demo_banner_says_where_to_drop_files(qtbot: QtBot, window: MainWindow,
                                                  tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    banner = window.demo_banner
    assert banner is not None
    assert banner.isVisible()
    assert banner.outbox_label.toolTip() == str(tmp_path / "outbox")
    assert banner.inbox_label.toolTip() == str(tmp_path / "inbox")
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", opened.append)
    (tmp_path / "inbox").rmdir()  # deleted by the user: made again before it is shown
    qtbot.mouseClick(banner.open_outbox, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(banner.open_inbox, Qt.MouseButton.LeftButton)
    assert [url.toLocalFile() for url in opened] == [str(tmp_path / "outbox"),
                                                       str(tmp_path / "inbox")]
    assert (tmp_path / "inbox").is_dir()


def test_no_banner_outside_the_demo(qtbot: QtBot, store: SettingsStore,
                                    controller: AppController, registry: Registry,
                                    adapter: EngineAdapter, state: LiveState,
                                    tasks: Tasks) -> None:
    made = MainWindow(store, controller, registry, adapter, state, tasks, has_tray=False)
    qtbot.addWidget(made)
    assert made.demo_banner is None


def test_the_gui_demo_lives_in_the_user_data_folder(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    """``openmsi-gui --demo``: <data dir>/demo, the same folder (and settings) every run."""
    from openmsi_gui.app.settings import default_config_dir
    from openmsi_gui.engine.registry import default_data_dir
    from openmsi_gui.ui.application import prepare_demo

    monkeypatch.setenv("OPENMSI_GUI_DATA_DIR", str(tmp_path / "user-data"))
    monkeypatch.setenv("OPENMSI_GUI_CONFIG_DIR", str(tmp_path / "user-config"))
    first = prepare_demo(None)
    assert first.base == tmp_path / "user-data" / "demo"
    assert first.outbox.is_dir()
    assert first.inbox.is_dir()
    assert default_data_dir() == first.base / "data"
    assert default_config_dir() == first.base / "config"
    settings = SettingsStore(first.base / "config" / "settings.json").settings
    assert [f.path for f in settings.folders] == [str(first.outbox)]
    monkeypatch.setenv("OPENMSI_GUI_DATA_DIR", str(tmp_path / "user-data"))
    assert prepare_demo(None) == first


def test_the_log_keeps_the_start_of_its_lines_in_sight(qtbot: QtBot,
                                                       adapter: EngineAdapter) -> None:
    """A long line does not scroll the log sideways (every other line looked empty)."""
    from openmsi_gui.ui.views.log import LogView

    view = LogView(adapter)
    qtbot.addWidget(view)
    view.resize(600, 300)
    # Lines come before the Log tab is first shown (the first show scrolls to the cursor).
    view.on_adapter_records([(logging.INFO, "scan_01.tif sent to inbox"),
                             (logging.WARNING, "a long sentence " * 30)])
    view.show()
    qtbot.waitExposed(view)
    sideways = view.text.horizontalScrollBar()
    assert sideways.maximum() > 0
    assert sideways.value() == 0
    view.on_adapter_records([(logging.WARNING, "another long sentence " * 30)])
    view.text.setFocus()
    view.text.ensureCursorVisible()
    assert sideways.value() == 0
    sideways.setValue(50)  # the reader scrolled sideways: left alone
    view.on_adapter_records([(logging.INFO, "scan_03.tif sent to inbox")])
    assert sideways.value() == 50
