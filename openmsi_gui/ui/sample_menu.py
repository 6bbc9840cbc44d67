"""The tray's "Sample for <folder>: <sample>…" items, and the small dialog they open.

One item per watched folder that sends information with its files (or
requires a sample): a technician switching samples at one instrument sets that
instrument's folder, and sees the current sample in the menu without opening
anything. Saving goes through the settings store like every other change; the
running job takes the new sample in place, without a restart, and files that
waited for a sample go. The rules are in :mod:`openmsi_gui.app.file_information`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QWidget,
)

from openmsi_gui.app.file_information import sample_menu_text, sample_problem, wants_sample_item
from openmsi_gui.app.settings import Settings, SettingsStore, WatchedFolder
from openmsi_gui.ui.status_line import inline_error


def folder_name(folder: WatchedFolder) -> str:
    """How a folder is named in the menu: its last part."""
    return Path(folder.path).name or folder.path


class SampleDialog(QDialog):
    """Set (or clear) one folder's current sample; OK is refused while the text is wrong."""

    def __init__(self, folder: WatchedFolder, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Current sample for {folder_name(folder)}")
        self.edit = QLineEdit(folder.current_sample)
        self.edit.setAccessibleName("Current sample")
        self.edit.setPlaceholderText("none (e.g. S001)")
        self.edit.setToolTip("Sent as the field 'sample' with every file from now on; "
                             "empty: none")
        self.error = inline_error("Current sample problem")
        note = QLabel("Files that wait for a sample go once it is set." if folder.require_sample
                      else "Sent with every file from now on.")
        note.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        layout = QFormLayout(self)
        layout.addRow(f"Folder: {folder.path}", QLabel())
        layout.addRow("&Sample:", self.edit)
        layout.addRow("", self.error)
        layout.addRow(note)
        layout.addRow(self.buttons)

    @property
    def sample(self) -> str:
        """The sample as typed (surrounding spaces removed)."""
        return self.edit.text().strip()

    def on_buttons_accepted(self) -> None:
        problem = sample_problem(self.sample)
        self.error.setText(problem or "")
        self.error.setVisible(problem is not None)
        if problem is None:
            self.accept()


class SampleMenu(QObject):
    """Keeps the tray menu's sample items in step with the settings.

    Args:
        menu: the tray menu.
        before: the items go just above this action.
        store: the settings (read, and updated when a sample is set).
    """

    def __init__(self, menu: QMenu, before: QAction, store: SettingsStore,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.menu = menu
        self.store = store
        self.actions: list[QAction] = []
        # Between the items and ``before``; the items are inserted above it, in order.
        self._separator = menu.insertSeparator(before)
        self.dialog: SampleDialog | None = None  # the open dialog (tests reach it here)
        self.refresh(store.settings)

    def refresh(self, settings: Settings) -> None:
        """Rebuild the items from ``settings`` (the GUI thread)."""
        for action in self.actions:
            self.menu.removeAction(action)
        self.actions = []
        folders = [f for f in settings.folders if wants_sample_item(f)]
        for folder in folders:
            action = QAction(sample_menu_text(folder, folder_name(folder)), self.menu)
            action.triggered.connect(lambda _checked=False, ident=folder.id: self.ask(ident))
            self.menu.insertAction(self._separator, action)
            self.actions.append(action)
        self._separator.setVisible(bool(folders))

    def ask(self, folder_id: str) -> None:
        """Open the dialog for one folder; save what it gives."""
        folder = next((f for f in self.store.settings.folders if f.id == folder_id), None)
        if folder is None:
            return
        self.dialog = SampleDialog(folder)
        try:
            if self.dialog.exec() == QDialog.DialogCode.Accepted:
                self.set_sample(folder_id, self.dialog.sample)
        finally:
            self.dialog.deleteLater()
            self.dialog = None

    def set_sample(self, folder_id: str, sample: str) -> None:
        """Save ``sample`` as the folder's current sample (the job takes it in place)."""
        settings = self.store.settings
        settings.folders = [dataclasses.replace(f, current_sample=sample) if f.id == folder_id
                            else f for f in settings.folders]
        self.store.update(settings)
