"""The destination form's receipt rows: send receipts or not, the name in them, the pairing code.

The name a destination signs with is
:func:`~openmsi_gui.app.pairing.destination_name`; its keys are made on first
use, in the keychain, on the app's serial I/O executor (:mod:`openmsi_gui.ui.tasks`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QCheckBox, QFormLayout, QLineEdit, QWidget

from openmsi_gui.app import pairing
from openmsi_gui.app.settings import Destination
from openmsi_gui.app.text import sentence
from openmsi_gui.ui.status_line import StatusLine, buddy_label
from openmsi_gui.ui.tasks import Purpose, Tasks, asyncSlot
from openmsi_gui.ui.views.item_list import push_button


class ReceiptFields(QObject):
    """Four rows of a destination form: receipts on or off, their name, the pairing code.

    Args:
        tasks: makes or reads the destination's keys.
        data_dir: the app's data folder (where the keys are noted).
        signing_name: the name the shown destination's job signs with (None if none is shown).

    Signals:
        changed(): the user changed a field.
    """

    changed = Signal()

    def __init__(self, tasks: Tasks, data_dir: Callable[[], Path],
                 signing_name: Callable[[], str | None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self._data_dir = data_dir
        self._signing_name = signing_name
        self.receipts_check = QCheckBox("Send delivery receipts")
        self.receipts_check.setToolTip(
            "Tell the senders, with a signed receipt per file, what arrived here (or why not). "
            "They trust it once given this destination's pairing code.")
        self.receipts_check.toggled.connect(lambda _on: self.changed.emit())
        self.receipt_name_edit = QLineEdit()
        self.receipt_name_edit.setAccessibleName("Name in receipts")
        self.receipt_name_edit.setToolTip("What senders call this destination: its receipts "
                                          "and its pairing code carry this name")
        self.receipt_name_edit.textEdited.connect(lambda _text: self.changed.emit())
        self.pairing_button = push_button("Copy pairing code", "Copy pairing code",
                                          self.on_copy_pairing_clicked)
        self.pairing_button.setToolTip(
            "Copy this destination's pairing code (one line): paste it on each computer that "
            "sends to it, so that it trusts these receipts ('openmsi pair add CODE' there)")
        self.pairing_status = StatusLine("Pairing code", hide_empty=True)

    def add_rows(self, form: QFormLayout) -> None:
        """Add the four rows to ``form``."""
        form.addRow("", self.receipts_check)
        form.addRow(buddy_label("Name in receipts:", self.receipt_name_edit),
                    self.receipt_name_edit)
        form.addRow("", self.pairing_button)
        form.addRow("", self.pairing_status)

    def tab_order(self) -> list[QWidget]:
        """The fields in tab order."""
        return [self.receipts_check, self.receipt_name_edit, self.pairing_button]

    def load(self, item: Destination) -> None:
        """Show ``item``'s receipt settings (and no pairing code message)."""
        self.receipts_check.setChecked(item.receipts)
        self.receipt_name_edit.setText(item.receipt_name)
        self.pairing_status.clear()
        self.show_state(item)

    def read(self, item: Destination) -> Destination:
        """``item`` with the fields' values."""
        return dataclasses.replace(item, receipts=self.receipts_check.isChecked(),
                                   receipt_name=self.receipt_name_edit.text().strip())

    def show_state(self, item: Destination) -> None:
        """Show the default name, and the name and pairing code only if receipts are sent."""
        self.receipt_name_edit.setPlaceholderText(
            pairing.destination_name(dataclasses.replace(item, receipt_name="")))
        self.receipt_name_edit.setEnabled(item.receipts)
        self.pairing_button.setEnabled(item.receipts)

    def on_copy_pairing_clicked(self) -> None:
        name = self._signing_name()
        if name is not None:
            self._copy_pairing(name)

    @asyncSlot()
    async def _copy_pairing(self, name: str) -> None:
        """Copy the pairing code of ``name`` (its keys are made on first use, in the keychain)."""
        try:
            made = await self.tasks.run(Purpose.IO, pairing.identity, name, self._data_dir(),
                                        context=self.pairing_button)
        except Exception as exc:  # told to the user
            self.pairing_status.show_problem(f"No pairing code: {sentence(str(exc))}")
            return
        if made is None:  # not asked for: identity() makes one
            return
        QGuiApplication.clipboard().setText(made.public.pairing_code())
        self.pairing_status.show_ok(
            f"The pairing code of '{name}' is copied: paste it on each sending computer.")
