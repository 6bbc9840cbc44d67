"""The preferences dialog: appearance and notifications (applied at once)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QWidget,
)

from openmsi_gui.app.settings import THEMES, SettingsStore

THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}


class PreferencesDialog(QDialog):
    """Theme and desktop notifications; OK saves and applies without a restart."""

    def __init__(self, store: SettingsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
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
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                   QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("&Theme:", self.theme)
        form.addRow(self.notify_failures)
        form.addRow(self.notify_completions)
        form.addRow(buttons)

    def accept(self) -> None:
        """Save; listeners (theme, tray) apply the change immediately."""
        settings = self.store.settings
        settings.ui.theme = str(self.theme.currentData())
        settings.ui.notify_failures = self.notify_failures.isChecked()
        settings.ui.notify_completions = self.notify_completions.isChecked()
        self.store.update(settings)
        super().accept()
