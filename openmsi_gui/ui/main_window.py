"""The main window: one tab per view, a status bar, and the app's menus."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.demo import DemoFolders
from openmsi_gui.app.settings import SettingsStore
from openmsi_gui.app.transfers import AppStatus
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui.adapter import EngineAdapter
from openmsi_gui.ui.demo_banner import DemoBanner
from openmsi_gui.ui.diagnostics_action import DiagnosticsSaver
from openmsi_gui.ui.icons import LABELS, status_pixmap
from openmsi_gui.ui.lab_state import LabState
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.views.destinations import DestinationsView
from openmsi_gui.ui.views.folders import FoldersView
from openmsi_gui.ui.views.lab_view import LabView
from openmsi_gui.ui.views.log import LogView
from openmsi_gui.ui.views.profiles import ProfilesView
from openmsi_gui.ui.views.transfers import TransfersView


class MainWindow(QMainWindow):
    """Transfers, watched folders, destinations, broker profiles, the log and the lab.

    Signals:
        quitRequested(): the user chose Quit.
        wizardRequested(): the user asked for the setup wizard.
        preferencesRequested(): the user asked for the preferences.
    """

    quitRequested = Signal()
    wizardRequested = Signal()
    preferencesRequested = Signal()

    def __init__(self, store: SettingsStore, controller: AppController, registry: Registry,
                 adapter: EngineAdapter, state: LiveState, tasks: Tasks,
                 has_tray: bool = True, demo: DemoFolders | None = None,
                 lab: LabState | None = None) -> None:
        super().__init__()
        self.has_tray = has_tray
        self.tasks = tasks
        self.state = state
        self.controller = controller
        self.setWindowTitle("OpenMSI")
        self.resize(1000, 640)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Views")
        self.transfers = TransfersView(state, controller, registry, tasks)
        self.folders = FoldersView(store, controller, tasks, state=state)
        self.destinations = DestinationsView(store, controller, tasks, state=state)
        self.profiles = ProfilesView(store, controller, tasks, state=state)
        self.log = LogView(adapter)
        for view, title in ((self.transfers, "&Transfers"), (self.folders, "Watched &folders"),
                            (self.destinations, "&Destinations"), (self.profiles, "&Brokers"),
                            (self.log, "&Log")):
            self.tabs.addTab(view, title)
        self.lab = LabView(store, lab) if lab is not None else None
        if self.lab is not None:
            self.tabs.addTab(self.lab, "L&ab")
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        self.demo_banner = DemoBanner(demo) if demo is not None else None
        if self.demo_banner is not None:
            layout.addWidget(self.demo_banner)
        layout.addWidget(self.tabs)
        self.setCentralWidget(central)
        self._build_status_bar()
        self._build_menus()
        self.diagnostics = DiagnosticsSaver(self, tasks, store.path, registry.path.parent)
        self.menuBar().addMenu("&Help").addAction(self.diagnostics.action)
        state.statusChanged.connect(self.on_status_changed)
        state.bandwidthChanged.connect(self.on_bandwidth_changed)
        self.on_status_changed(state.status, "OpenMSI")
        self.on_bandwidth_changed()
        tasks.failed.connect(self.on_task_failed)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        box = QWidget()
        layout = QHBoxLayout(box)
        layout.setContentsMargins(4, 0, 4, 0)
        self.status_icon = QLabel()
        self.status_text = QLabel()
        self.status_text.setAccessibleName("Status")
        self.limit_label = QLabel()
        self.limit_label.setAccessibleName("Bandwidth limit")
        self.limit_label.setToolTip("The app-wide bandwidth limit in force (Preferences, or "
                                    "Limit bandwidth now in the tray menu)")
        self.pause_button = QPushButton("&Pause all")
        self.pause_button.setToolTip("Hold every transfer until you resume")
        self.pause_button.clicked.connect(self.on_pause_clicked)
        layout.addWidget(self.status_icon)
        layout.addWidget(self.status_text, 1)
        layout.addWidget(self.limit_label)
        layout.addWidget(self.pause_button)
        bar.addWidget(box, 1)

    def _build_menus(self) -> None:
        menu = self.menuBar().addMenu("&File")
        wizard = QAction("Setup &wizard…", self)
        wizard.triggered.connect(self.wizardRequested.emit)
        menu.addAction(wizard)
        preferences = QAction("&Preferences…", self)
        preferences.setShortcut(QKeySequence.StandardKey.Preferences)
        preferences.triggered.connect(self.preferencesRequested.emit)
        menu.addAction(preferences)
        menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.quitRequested.emit)
        menu.addAction(quit_action)
        for index in range(self.tabs.count()):
            action = QAction(self)
            action.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
            action.triggered.connect(lambda _=False, i=index: self.tabs.setCurrentIndex(i))
            self.addAction(action)

    def on_status_changed(self, status: AppStatus, text: str) -> None:
        if self.status_icon.toolTip() != LABELS[status]:
            self.status_icon.setPixmap(status_pixmap(status, 16))
        self.status_icon.setToolTip(LABELS[status])
        self.status_text.setText(f"{LABELS[status]} — {text.removeprefix('OpenMSI: ')}")
        self.pause_button.setText("&Resume" if self.state.paused else "&Pause all")

    def on_bandwidth_changed(self) -> None:
        self.limit_label.setText(self.state.limit_text)
        self.limit_label.setVisible(bool(self.state.limit_text))

    def on_task_failed(self, text: str) -> None:
        self.statusBar().showMessage(text, 15000)

    def on_pause_clicked(self) -> None:
        if self.controller.paused:
            self.controller.resume_all()
        else:
            self.controller.pause_all()
        self.state.refresh_status()

    def show_and_raise(self) -> None:
        """Bring the window to the front (tray click, second launch)."""
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def show_lab(self) -> None:
        """Bring the window forward on the Lab view (tray menu)."""
        if self.lab is not None:
            self.tabs.setCurrentWidget(self.lab)
        self.show_and_raise()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing hides to the tray; without a tray it quits."""
        if self.has_tray:
            event.ignore()
            self.hide()
        else:
            event.accept()
            self.quitRequested.emit()
