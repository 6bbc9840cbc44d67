"""The watched folder form's "Delivery" section: who must confirm each file, and by when.

Expected destinations are chosen from the destinations paired on this computer
(a destination named by the folder but not paired here is still listed, marked);
*Add a destination by its code…* pairs one (the keychain write runs through
:mod:`openmsi_gui.ui.tasks`). The deadline is written as on the command line
(``90s``, ``20m``, ``1h``, ``7d``); the rules are in :mod:`openmsi_gui.app.confirming`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QWidget,
)

from openmsi_gui.app.confirming import deadline_problem, pair, paired_names
from openmsi_gui.app.settings import WatchedFolder
from openmsi_gui.app.text import error_sentence
from openmsi_gui.engine.confirmation import MAX_AUTO_RESENDS
from openmsi_gui.engine.durations import duration_text, parse_duration
from openmsi_gui.engine.untrusted import escaped
from openmsi_gui.ui.status_line import StatusLine, buddy_label, inline_error, line_edit, with_error
from openmsi_gui.ui.tasks import Purpose, Tasks, asyncSlot
from openmsi_gui.ui.views.advanced import AdvancedSection
from openmsi_gui.ui.views.item_list import push_button

_NAME = int(Qt.ItemDataRole.UserRole)
NOT_PAIRED = " (not paired here)"


class DeliverySection(AdvancedSection):
    """Expected destinations, deadline, automatic re-send and pairing, folded.

    Args:
        tasks: runs the keychain reads and writes.
        data_dir: the data folder (its ``pairing.json``).

    Signals:
        changed(): the user changed a field.
    """

    changed = Signal()

    def __init__(self, tasks: Tasks, data_dir: Path | None,
                 parent: QWidget | None = None) -> None:
        super().__init__("Delivery", parent)
        self.toggle.setToolTip("Which destinations must confirm each file, and by when")
        self.tasks = tasks
        self.data_dir = data_dir
        self._paired: list[str] = []
        self._expected: list[str] = []
        self._order: list[str] = []  # the folder's own order of its names (kept when read)
        self.expected_list = QListWidget()
        self.expected_list.setAccessibleName("Expected destinations")
        self.expected_list.setToolTip(
            "Tick the destinations that must confirm each file with a receipt. A file they "
            "have not confirmed by the deadline is shown as Not confirmed, with Send again.")
        self.expected_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.expected_list.setMaximumHeight(90)
        self.expected_list.itemChanged.connect(self.on_item_changed)
        self.deadline_edit = line_edit(
            "Delivery deadline",
            "How long after sending a file the expected destinations have to confirm it: "
            "a number and a unit, e.g. 90s, 20m, 1h or 7d", "1h")
        self.deadline_edit.textEdited.connect(lambda _text: self.changed.emit())
        self.deadline_error = inline_error("Delivery deadline problem")
        self.resend_check = QCheckBox("Send again automatically")
        self.resend_check.setAccessibleName("Send again automatically")
        self.resend_check.setToolTip(
            f"Send a file that is not confirmed in time again by itself, at most "
            f"{MAX_AUTO_RESENDS} times (each time is in the log)")
        self.resend_check.toggled.connect(lambda _on: self.changed.emit())
        self.add_code_button = push_button("Add a destination by its code…",
                                           "Add a destination by its code",
                                           self.on_add_code_clicked)
        self.add_code_button.setToolTip(
            "Paste the pairing code copied from the destination (its form's Copy pairing "
            "code, or 'openmsi pair show' there): its receipts are then trusted here")
        self.status = StatusLine("Pairing status", hide_empty=True)
        self.form.addRow(buddy_label("Expected:", self.expected_list), self.expected_list)
        self.form.addRow(buddy_label("Deadline:", self.deadline_edit),
                         with_error(self.deadline_edit, self.deadline_error))
        self.form.addRow("", self.resend_check)
        self.form.addRow("", self.add_code_button)
        self.form.addRow(self.status)
        self._show_names()

    def tab_order(self) -> list[QWidget]:
        """The section's fields in tab order (after its toggle)."""
        return [self.toggle, self.expected_list, self.deadline_edit, self.resend_check,
                self.add_code_button]

    # -- the folder's fields ------------------------------------------------------

    def load(self, folder: WatchedFolder) -> None:
        """Show ``folder``'s delivery settings (open the section if it expects anyone)."""
        self._expected = list(folder.expected_destinations)
        self._order = list(folder.expected_destinations)
        self._show_names()
        self.deadline_edit.setText(duration_text(folder.delivery_deadline))
        self.resend_check.setChecked(folder.resend_unconfirmed)
        self.status.clear()
        self.show_problem(folder)
        if folder.expected_destinations:
            self.set_expanded(True)

    def read(self, folder: WatchedFolder) -> WatchedFolder:
        """``folder`` with the section's fields (a deadline that cannot be read is kept)."""
        text = self.deadline_edit.text()
        unchanged = text == duration_text(folder.delivery_deadline)  # e.g. 90.5 s shown "90s"
        deadline = (folder.delivery_deadline if unchanged or deadline_problem(text)
                    else parse_duration(text))
        return dataclasses.replace(folder, expected_destinations=self.checked(),
                                   delivery_deadline=deadline,
                                   resend_unconfirmed=self.resend_check.isChecked())

    def problem(self) -> str | None:
        """What is wrong with the deadline as written, if anything."""
        return deadline_problem(self.deadline_edit.text())

    def show_problem(self, _folder: WatchedFolder) -> None:
        """Show (or hide) the deadline's problem under it."""
        problem = self.problem()
        self.deadline_error.setText(problem or "")
        self.deadline_error.setVisible(problem is not None)

    def checked(self) -> list[str]:
        """The names ticked: those the folder named first, in its order, then the others."""
        ticked = [str(item.data(_NAME)) for item in self._items()
                  if item.checkState() is Qt.CheckState.Checked]
        return ([name for name in self._order if name in ticked]
                + [name for name in ticked if name not in self._order])

    # -- paired destinations --------------------------------------------------------

    def set_paired(self, names: list[str]) -> None:
        """The destinations paired here (ticks are kept)."""
        self._expected = self.checked()
        self._paired = list(names)
        self._show_names()

    def _items(self) -> list[QListWidgetItem]:
        return [self.expected_list.item(i) for i in range(self.expected_list.count())]

    def _show_names(self) -> None:
        names = list(dict.fromkeys([*self._paired, *self._expected]))
        self.expected_list.blockSignals(True)
        try:
            self.expected_list.clear()
            for name in names:
                shown = escaped(name) + ("" if name in self._paired else NOT_PAIRED)
                item = QListWidgetItem(shown)
                item.setData(_NAME, name)
                item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
                item.setCheckState(Qt.CheckState.Checked if name in self._expected
                                   else Qt.CheckState.Unchecked)
                self.expected_list.addItem(item)
            if not names:
                hint = QListWidgetItem("No destination is paired here yet: add one by its code.")
                hint.setFlags(Qt.ItemFlag.NoItemFlags)
                self.expected_list.addItem(hint)
        finally:
            self.expected_list.blockSignals(False)

    def on_item_changed(self, _item: QListWidgetItem) -> None:
        self._expected = self.checked()
        self.changed.emit()

    @asyncSlot()
    async def refresh_paired(self) -> None:
        """Read the destinations paired here (the keychain) and list them."""
        names = await self.tasks.run(Purpose.IO, paired_names, self.data_dir, context=self)
        self.set_paired(names)

    def on_add_code_clicked(self) -> None:
        code, ok = QInputDialog.getText(self, "Add a destination by its code",
                                        "Pairing code (omsi-pair:…), as copied at the "
                                        "destination:")
        if ok and code.strip():
            self.add_code(code.strip())

    @asyncSlot()
    async def add_code(self, code: str) -> None:
        """Trust the destination ``code`` names, list it and tick it."""
        try:
            public, names = await self.tasks.run(Purpose.IO, pair, code, self.data_dir,
                                                 context=self)
        except Exception as exc:
            self.status.show_problem(f"Not added: {error_sentence(exc)}")
            return
        self._expected = [*self.checked(), public.name]
        self._paired = names
        self._show_names()
        self.status.show_ok(f"{escaped(public.name)} is paired: its receipts are trusted here. "
                            "Apply to expect it for this folder.")
        self.changed.emit()
