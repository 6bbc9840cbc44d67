"""The preferences dialog: theme, notifications, login, stalls, bandwidth, lab overview."""

from __future__ import annotations

import logging
from concurrent.futures import Future

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QMessageBox,
    QWidget,
)

from openmsi_gui.app.settings import (
    MAX_STALL_MINUTES,
    MIN_STALL_MINUTES,
    THEMES,
    SettingsStore,
    Theme,
)
from openmsi_gui.platform.autostart import Autostart, for_this_platform
from openmsi_gui.ui.status_line import buddy_label
from openmsi_gui.ui.tasks import Purpose, Tasks, asyncSlot
from openmsi_gui.ui.views.bandwidth_field import BandwidthField
from openmsi_gui.ui.views.lab_report_box import LabReportBox

log = logging.getLogger(__name__)

THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}


class PreferencesDialog(QDialog):
    """Theme, notifications, start on login and bandwidth; OK saves and applies at once.

    Args:
        store: the settings.
        tasks: the application's background work (the entry is written on its
            settings and files executor).
        parent: the owning window.
        autostart: the start-on-login writer (default: the one for this OS).
    """

    def __init__(self, store: SettingsStore, tasks: Tasks, parent: QWidget | None = None,
                 autostart: Autostart | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.tasks = tasks
        self.autostart = autostart if autostart is not None else for_this_platform()
        self.pending: Future[None] | None = None
        self.setWindowTitle("Preferences")
        ui = store.settings.ui
        self.theme = QComboBox()
        self.theme.setAccessibleName("Theme")
        for key in THEMES:
            self.theme.addItem(THEME_LABELS[key], key)
        self.theme.setCurrentIndex(THEMES.index(ui.theme) if ui.theme in THEMES else 0)
        self.notify_failures = QCheckBox("Notify me when a file &fails")
        self.notify_failures.setChecked(ui.notify_failures)
        self.notify_completions = QCheckBox("Notify me when a file &completes")
        self.notify_completions.setChecked(ui.notify_completions)
        self.start_on_login = QCheckBox("&Start OpenMSI when I log in")
        self.start_on_login.setChecked(ui.start_on_login)
        self.start_on_login.setToolTip(f"Adds or removes {self.autostart.location}")
        self.stall_minutes = QDoubleSpinBox()
        self.stall_minutes.setAccessibleName("Stalled after minutes without progress")
        self.stall_minutes.setRange(MIN_STALL_MINUTES, MAX_STALL_MINUTES)
        self.stall_minutes.setDecimals(1)
        self.stall_minutes.setSingleStep(0.5)
        self.stall_minutes.setSuffix(" min")
        self.stall_minutes.setValue(ui.stall_minutes)
        self.stall_minutes.setToolTip("A file that makes no progress this long while the "
                                      "broker answers is shown as Stalled, with Retry and "
                                      "Send again")
        bandwidth = store.settings.bandwidth
        self.app_limit = BandwidthField("Bandwidth limit for the whole app")
        self.app_limit.edit.setToolTip(
            "Every watched folder and destination together stay under this rate (each may "
            "also have its own limit). " + self.app_limit.edit.toolTip())
        self.app_limit.set_text(bandwidth.limit)
        self.preset = BandwidthField("Limit bandwidth now preset", "e.g. 1M", required=True)
        self.preset.edit.setToolTip(
            "What \u201cLimit bandwidth now\u201d in the tray menu limits the whole app to, "
            "instead of the limit above, until it is turned off. "
            + self.preset.edit.toolTip())
        self.preset.set_text(bandwidth.preset)
        group = QGroupBox("Bandwidth")
        limits = QFormLayout(group)
        limits.addRow(buddy_label("&Whole app:", self.app_limit.edit), self.app_limit.widget)
        limits.addRow(buddy_label("\u201cLimit &now\u201d to:", self.preset.edit),
                      self.preset.widget)
        self.buttons = buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                                  QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        for field in (self.app_limit, self.preset):
            field.edit.textChanged.connect(self._on_limits_changed)
        self.lab = LabReportBox(store.settings.lab, on_change=self._on_limits_changed)
        self._lay_out(group)

    def _lay_out(self, bandwidth: QGroupBox) -> None:
        form = QFormLayout(self)
        form.addRow("&Theme:", self.theme)
        form.addRow(self.notify_failures)
        form.addRow(self.notify_completions)
        form.addRow(self.start_on_login)
        form.addRow("Sta&lled after no progress for:", self.stall_minutes)
        form.addRow(bandwidth)
        form.addRow(self.lab.group)
        form.addRow(self.buttons)

    def _on_limits_changed(self) -> None:
        ok = self.app_limit.check() & self.preset.check() & self.lab.check()  # all shown
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def accept(self) -> None:
        """Save; listeners (theme, tray) apply the change immediately.

        A changed start-on-login choice is written off the GUI thread; if that
        fails, the setting and the checkbox go back and a message says why.
        """
        if not (self.app_limit.check() and self.preset.check() and self.lab.check()):
            return
        settings = self.store.settings
        settings.lab = self.lab.settings(settings.lab)  # a change restarts the jobs
        settings.bandwidth.limit = self.app_limit.text()
        settings.bandwidth.preset = self.preset.text()
        settings.ui.theme = Theme(self.theme.currentData())
        settings.ui.notify_failures = self.notify_failures.isChecked()
        settings.ui.notify_completions = self.notify_completions.isChecked()
        settings.ui.stall_minutes = self.stall_minutes.value()
        previous = settings.ui.start_on_login
        wanted = self.start_on_login.isChecked()
        settings.ui.start_on_login = wanted
        self.store.update(settings)
        if wanted != previous:
            self.pending = self.tasks.submit(Purpose.IO, self.autostart.apply, wanted)
            self._await_autostart(self.pending, wanted)
        super().accept()

    @asyncSlot()
    async def _await_autostart(self, pending: Future[None], wanted: bool) -> None:
        try:
            await self.tasks.wait(pending, context=self)
        except Exception as exc:
            self._on_autostart_failed(wanted, exc)

    def _on_autostart_failed(self, wanted: bool, error: BaseException) -> None:
        log.warning("cannot change start on login: %s", error)
        settings = self.store.settings
        settings.ui.start_on_login = not wanted
        self.store.update(settings)
        self.start_on_login.setChecked(not wanted)
        action = "add" if wanted else "remove"
        QMessageBox.warning(self.parentWidget() or self, "Start on login",
                            f"Could not {action} the start-on-login entry "
                            f"({self.autostart.location}): {error}")
