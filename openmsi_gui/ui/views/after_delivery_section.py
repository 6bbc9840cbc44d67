"""The watched folder form's "After delivery" section: keep, move to an archive, or delete.

A file leaves the folder only once every expected destination (the Delivery
section) confirmed it with a verified receipt and it still is what was sent;
the rules are in :mod:`openmsi_gui.app.after_delivery`. *Preview…* lists what
would be moved or deleted now and the space freed (the look at the disk runs
through :mod:`openmsi_gui.ui.tasks`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app.after_delivery import (
    ACTION_LABELS,
    describe_policy,
    folder_policy,
    min_age_of,
    min_age_problem,
    preview_folder,
    preview_rows,
    preview_summary,
)
from openmsi_gui.app.settings import WatchedFolder
from openmsi_gui.app.text import error_sentence
from openmsi_gui.engine.after_delivery import AfterAction, Preview
from openmsi_gui.engine.durations import duration_text
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.untrusted import escaped
from openmsi_gui.ui.status_line import StatusLine, buddy_label, inline_error, line_edit, with_error
from openmsi_gui.ui.tasks import Purpose, Tasks, asyncSlot
from openmsi_gui.ui.views.advanced import AdvancedSection
from openmsi_gui.ui.views.item_list import push_button


class AfterDeliverySection(AdvancedSection):
    """After delivery: the action, the archive folder, the minimum age and a preview, folded.

    Args:
        tasks: runs the preview.
        registry: the files sent and their deliveries.
        current: the folder as edited in the form (None if none is shown).

    Signals:
        changed(): the user changed a field.
    """

    changed = Signal()

    def __init__(self, tasks: Tasks, registry: Registry,
                 current: Callable[[], WatchedFolder | None],
                 parent: QWidget | None = None) -> None:
        super().__init__("After delivery", parent)
        self.toggle.setToolTip("Keep, move or delete each file once every expected "
                               "destination confirmed it")
        self.tasks = tasks
        self.registry = registry
        self._current = current
        self.action_combo = QComboBox()
        self.action_combo.setAccessibleName("After delivery")
        self.action_combo.setToolTip(
            "What happens to a file once every expected destination (Delivery) confirmed it "
            "with a verified receipt of the same SHA-512, and only if the file still has the "
            "size, date and content that were sent. A file that changed is never touched: it "
            "is sent again.")
        for action, label in ACTION_LABELS.items():
            self.action_combo.addItem(label, action.value)
        self.action_combo.currentIndexChanged.connect(self._on_changed)
        self.archive_edit = line_edit(
            "Archive folder", "Files are moved here under the same path as in the watched "
            "folder; a file already there is never overwritten", "a folder outside this one")
        self.archive_edit.textEdited.connect(self._on_changed)
        self.archive_button = push_button("Choose…", "Choose the archive folder",
                                          self.on_archive_clicked)
        archive_row = QWidget()
        row = QHBoxLayout(archive_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.archive_edit, 1)
        row.addWidget(self.archive_button)
        self.archive_row = archive_row
        self.min_age_edit = line_edit(
            "Minimum age", "Keep each file at least this long after it was written or sent, "
            "e.g. 7d to keep a week on this computer: 90s, 20m, 1h, 7d (empty: no minimum)",
            "none (e.g. 7d)")
        self.min_age_edit.textEdited.connect(self._on_changed)
        self.min_age_error = inline_error("Minimum age problem")
        self.problem_label = inline_error("After delivery problem")
        self.summary = QLabel()
        self.summary.setAccessibleName("After delivery summary")
        self.summary.setWordWrap(True)
        self.preview_button = push_button("Preview…", "Preview what would be moved or deleted",
                                          self.on_preview_clicked)
        self.preview_button.setToolTip("List the files that would be moved or deleted now, "
                                       "and the space freed (nothing is touched)")
        self.status = StatusLine("After delivery status", hide_empty=True)
        self.form.addRow(buddy_label("Then:", self.action_combo),
                         with_error(self.action_combo, self.problem_label))
        self.form.addRow(buddy_label("Archive:", self.archive_edit), self.archive_row)
        self.form.addRow(buddy_label("Minimum age:", self.min_age_edit),
                         with_error(self.min_age_edit, self.min_age_error))
        self.form.addRow("", self.summary)
        self.form.addRow("", self.preview_button)
        self.form.addRow(self.status)
        self._loading = False

    def tab_order(self) -> list[QWidget]:
        """The section's fields in tab order (its toggle first)."""
        return [self.toggle, self.action_combo, self.archive_edit, self.archive_button,
                self.min_age_edit, self.preview_button]

    # -- the folder's fields ------------------------------------------------------

    def action(self) -> AfterAction:
        """The action chosen."""
        return AfterAction(self.action_combo.currentData() or AfterAction.KEEP.value)

    def load(self, folder: WatchedFolder) -> None:
        """Show ``folder``'s setting (open the section if it moves or deletes)."""
        self._loading = True
        try:
            self.action_combo.setCurrentIndex(
                max(0, self.action_combo.findData(folder.after_delivery.value)))
            self.archive_edit.setText(folder.archive_folder)
            self.archive_edit.setCursorPosition(0)
            self.min_age_edit.setText(duration_text(folder.min_age) if folder.min_age else "")
        finally:
            self._loading = False
        self.status.clear()
        self.show_state(folder)
        if folder.after_delivery is not AfterAction.KEEP:
            self.set_expanded(True)

    def read(self, folder: WatchedFolder) -> WatchedFolder:
        """``folder`` with the section's fields (a minimum age that cannot be read is kept)."""
        text = self.min_age_edit.text()
        min_age = folder.min_age if min_age_problem(text) else min_age_of(text)
        return dataclasses.replace(folder, after_delivery=self.action(),
                                   archive_folder=self.archive_edit.text().strip(),
                                   min_age=min_age)

    def problem(self) -> str | None:
        """What is wrong with the minimum age as written, if anything."""
        return min_age_problem(self.min_age_edit.text())

    def show_state(self, folder: WatchedFolder, problems: list[str] | None = None) -> None:
        """Enable what applies, show the problems and the setting in words."""
        action = self.action()
        self.archive_row.setEnabled(action is AfterAction.MOVE)
        self.min_age_edit.setEnabled(action is not AfterAction.KEEP)
        age_problem = self.problem()
        self.min_age_error.setText(age_problem or "")
        self.min_age_error.setVisible(age_problem is not None)
        shown = problems[0] if problems else None
        self.problem_label.setText(shown or "")
        self.problem_label.setVisible(shown is not None)
        policy = folder_policy(folder)
        self.summary.setText(describe_policy(policy) if policy is not None
                             else "Files stay in the folder after delivery.")
        self.preview_button.setEnabled(policy is not None)

    def _on_changed(self, *_args: object) -> None:
        if not self._loading:
            self.changed.emit()

    def on_archive_clicked(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose the archive folder",
                                                self.archive_edit.text())
        if path:
            self.archive_edit.setText(path)
            self.changed.emit()

    # -- preview ----------------------------------------------------------------------

    def on_preview_clicked(self) -> None:
        folder = self._current()
        if folder is not None:
            self.preview(folder)

    @asyncSlot()
    async def preview(self, folder: WatchedFolder) -> None:
        """Look at what would go now (off the GUI thread) and show it in a dialog."""
        self.status.show_busy("Looking at the folder…")
        try:
            found = await self.tasks.run(Purpose.FS, preview_folder, self.registry, folder,
                                         context=self)
        except Exception as exc:
            self.status.show_problem(f"No preview: {error_sentence(exc)}")
            return
        self.status.clear()
        PreviewDialog(found, self).open()


class PreviewDialog(QDialog):
    """The files an after-delivery setting would move or delete now, and the space freed."""

    def __init__(self, preview: Preview, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        verb = "moved" if preview.action is AfterAction.MOVE else "deleted"
        self.setWindowTitle(f"Files that would be {verb} now")
        self.setAccessibleName("After delivery preview")
        self.summary = QLabel(preview_summary(preview))
        self.summary.setAccessibleName("Preview summary")
        self.summary.setWordWrap(True)
        rows = preview_rows(preview)
        self.table = QTableWidget(len(rows), 3)
        self.table.setAccessibleName("Files that would be moved or deleted")
        self.table.setHorizontalHeaderLabels(["File", "Size", "To"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(escaped(text)))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(720, 420)
