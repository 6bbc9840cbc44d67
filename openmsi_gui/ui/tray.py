"""The system-tray icon and its menu."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from openmsi_gui.app.bandwidth import rates_text
from openmsi_gui.app.delivery_state import unconfirmed_notice
from openmsi_gui.app.lab import StateChange
from openmsi_gui.app.lab_reading import recovered_notice, silent_notice
from openmsi_gui.app.transfers import AppStatus
from openmsi_gui.engine.bandwidth import Timetable
from openmsi_gui.engine.events import FileCompleted, FileFailed, FileUnconfirmed
from openmsi_gui.ui.icons import LABELS, status_icon
from openmsi_gui.ui.lab_state import LabState
from openmsi_gui.ui.sample_menu import SampleMenu
from openmsi_gui.ui.state import LiveState


class Tray(QObject):
    """Show the status in the tray; offer open, samples, pause (for a while), resume, limit, quit.

    Where the platform has no tray (GNOME on Wayland, offscreen) the icon is
    simply not shown; everything is also reachable from the main window.

    Signals:
        openRequested(): the user wants the main window.
        labRequested(): the user wants the Lab view.
        quitRequested(): the user chose Quit.

    Args:
        state: the app's live state.
        notify_failures: notify failed files (and programs of the lab turning silent).
        notify_completions: notify every file transferred.
        parent: the Qt parent.
        lab: the lab overview (a menu entry, and notifications about silent programs).
    """

    openRequested = Signal()
    labRequested = Signal()
    quitRequested = Signal()

    def __init__(self, state: LiveState, notify_failures: bool = True,
                 notify_completions: bool = False, parent: QObject | None = None,
                 lab: LabState | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.notify_failures = notify_failures
        self.notify_completions = notify_completions
        self.icon = QSystemTrayIcon(status_icon(AppStatus.IDLE), self)
        self._shown: AppStatus | None = None
        self.menu = QMenu()
        self.status_action = self.menu.addAction("OpenMSI")
        self.status_action.setEnabled(False)
        self.menu.addSeparator()
        self.open_action = self._add("&Open OpenMSI", self.openRequested.emit)
        self.lab_action = self._add("Lab &overview", self.labRequested.emit)
        self.lab_action.setVisible(lab is not None)
        self.menu.addSeparator()
        self.pause_action = self._add("&Pause all", lambda: state.controller.pause_all(None))
        self.pause30_action = self._add("Pause for &30 minutes",
                                        lambda: state.controller.pause_all(30 * 60))
        self.pause2h_action = self._add("Pause for &2 hours",
                                        lambda: state.controller.pause_all(2 * 3600))
        self.resume_action = self._add("&Resume", state.controller.resume_all)
        self.menu.addSeparator()
        self.limit_action = self._add("&Limit bandwidth now", self.on_limit_toggled)
        self.limit_action.setCheckable(True)
        self.menu.addSeparator()
        self.quit_action = self._add("&Quit", self.quitRequested.emit)
        # "Sample for <folder>: <sample>…", above the pause items, for folders sending information.
        self.samples = SampleMenu(self.menu, self.pause_action, state.controller.store, self)
        state.adapter.settingsChanged.connect(self.samples.refresh)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self.on_icon_activated)
        state.statusChanged.connect(self.on_status_changed)
        state.fileFailed.connect(self.on_file_failed)
        state.filesUnconfirmed.connect(self.on_files_unconfirmed)
        state.fileCompleted.connect(self.on_file_completed)
        state.bandwidthChanged.connect(self.on_bandwidth_changed)
        if lab is not None:
            lab.changed.connect(self.on_lab_changed)
        self._status_text = "OpenMSI"
        self.on_status_changed(state.status, "OpenMSI")
        self.on_bandwidth_changed()

    def _add(self, text: str, slot: object) -> QAction:
        action = self.menu.addAction(text)
        action.triggered.connect(slot)
        return action

    @property
    def available(self) -> bool:
        """Whether this desktop has a system tray."""
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        """Show the icon if there is a tray."""
        if self.available:
            self.icon.show()

    def on_status_changed(self, status: AppStatus, text: str) -> None:
        if status is not self._shown:
            self._shown = status
            self.icon.setIcon(status_icon(status))
        self._status_text = text
        detail = text.removeprefix("OpenMSI: ")
        limit = f" · {self.state.limit_text}" if self.state.limit_text else ""
        self.icon.setToolTip(f"OpenMSI: {LABELS[status]} — {detail}{limit}")
        self.status_action.setText(f"{LABELS[status]}: {detail}")
        paused = self.state.paused
        self.pause_action.setEnabled(not paused)
        self.pause30_action.setEnabled(not paused)
        self.pause2h_action.setEnabled(not paused)
        self.resume_action.setEnabled(paused)

    def on_bandwidth_changed(self) -> None:
        """Show the toggle's state and its preset; the tooltip names the limit in force."""
        preset = Timetable.parse_or_off(self.state.limit_preset)
        rate = rates_text(preset.at_now()) if not preset.is_off else ""
        self.limit_action.setText(f"&Limit bandwidth now ({rate})" if rate and preset.constant
                                  else "&Limit bandwidth now")
        self.limit_action.setChecked(self.state.limit_now)
        self.on_status_changed(self.state.status, self._status_text)

    def on_limit_toggled(self, checked: bool) -> None:
        self.state.controller.limit_bandwidth_now(checked)

    def on_icon_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self.openRequested.emit()

    def on_file_failed(self, event: FileFailed) -> None:
        if self.notify_failures and self.icon.isVisible():
            self.icon.showMessage("A file was not transferred",
                                  f"{event.relpath}: {event.reason}",
                                  QSystemTrayIcon.MessageIcon.Warning, 10_000)

    def on_files_unconfirmed(self, events: list[FileUnconfirmed]) -> None:
        notice = unconfirmed_notice(events)
        if notice is not None and self.notify_failures and self.icon.isVisible():
            self.icon.showMessage(*notice, QSystemTrayIcon.MessageIcon.Warning, 10_000)

    def on_file_completed(self, event: FileCompleted) -> None:
        if self.notify_completions and self.icon.isVisible():
            self.icon.showMessage("File transferred", event.relpath,
                                  QSystemTrayIcon.MessageIcon.Information, 3000)

    def on_lab_changed(self, changes: list[StateChange]) -> None:
        """One notification for the programs that turned silent; a soft one when back."""
        silent = silent_notice(changes)
        if silent is not None:
            self.notify(*silent, QSystemTrayIcon.MessageIcon.Warning, 10_000)
        back = recovered_notice(changes)
        if back is not None:
            self.notify(*back, QSystemTrayIcon.MessageIcon.Information, 3000)

    def notify(self, title: str, text: str, icon: QSystemTrayIcon.MessageIcon,
               msecs: int) -> None:
        """Show a notification, if notifications are wanted and the icon is shown."""
        if self.notify_failures and self.icon.isVisible():
            self.icon.showMessage(title, text, icon, msecs)

    def hide(self) -> None:
        """Remove the icon (at quit)."""
        self.icon.hide()
