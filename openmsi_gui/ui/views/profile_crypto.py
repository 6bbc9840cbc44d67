"""The "End-to-end encryption" group of the broker profiles view.

It picks one of the KafkaCrypto nodes provisioned on this computer; whether
kafkacrypto can be used, and which nodes exist, is looked up on the keychain
and files executor (:data:`~openmsi_gui.ui.tasks.Purpose.IO`). Without
kafkacrypto it says so in one sentence, with the button that fetches it.
"""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app import encryption_component, provisioning
from openmsi_gui.app.provisioning import UNAVAILABLE_NOTE, EncryptionStatus
from openmsi_gui.ui.encryption_dialog import EnableEncryptionDialog
from openmsi_gui.ui.status_line import StatusLine
from openmsi_gui.ui.tasks import Purpose, Tasks, asyncSlot
from openmsi_gui.ui.views.profile_form import button

log = logging.getLogger(__name__)

NO_ENCRYPTION = "None (plain messages)"
ENCRYPTION_NOTE = ("Files sent through this profile are encrypted on this computer; only "
                   "receivers with a node provisioned with the same passwords can read them. "
                   "Encrypted and plain messages cannot share a topic: use a second profile "
                   "for plain topics.")


class EncryptionBox(QGroupBox):
    """The encryption node of a profile, a Provision button and a note.

    Without kafkacrypto, only a sentence and the Enable encryption… button show;
    with the app's KafkaCrypto component, a Remove encryption… button too.

    Args:
        tasks: the application's background work.

    Attributes:
        status: kafkacrypto's availability and the nodes, None until looked up.

    Signals:
        statusChanged(): :attr:`status` changed (the view re-enables its controls).
        componentChanged(bool): KafkaCrypto was installed (True) or removed (False).
        componentResult(bool, str): installing or removing ended (ok, sentence).
    """

    statusChanged = Signal()
    componentChanged = Signal(bool)
    componentResult = Signal(bool, str)

    def __init__(self, tasks: Tasks) -> None:
        super().__init__("End-to-end encryption")
        self.tasks = tasks
        self.status: EncryptionStatus | None = None
        self.enable_dialog: EnableEncryptionDialog | None = None
        self._removing = False
        self._token = 0
        outer = QVBoxLayout(self)
        self.about = QLabel(ENCRYPTION_NOTE)
        self.about.setWordWrap(True)
        self.about.setAccessibleName("About end-to-end encryption")
        outer.addWidget(self.about)
        self.crypto_combo = QComboBox()
        self.crypto_combo.setAccessibleName("Encryption node")
        self.crypto_combo.setToolTip("The KafkaCrypto node that encrypts what this profile "
                                     "sends and decrypts what it receives")
        self.crypto_combo.addItem(NO_ENCRYPTION, "")
        self.provision_button = button(
            "Provision a node…", "Provision a node",
            "Make a new encryption node on this computer with your administrator's passwords")
        self.enable_button = button(
            "Enable encryption…", "Enable encryption",
            "Fetch KafkaCrypto from the Python Package Index, or install it from a file")
        self.remove_button = button(
            "Remove encryption…", "Remove encryption",
            "Remove the KafkaCrypto component this app fetched")
        label = QLabel("Encryption node:")
        label.setBuddy(self.crypto_combo)
        self.node_row = QWidget()
        row = QHBoxLayout(self.node_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(label)
        row.addWidget(self.crypto_combo, 1)
        row.addWidget(self.provision_button)
        outer.addWidget(self.node_row)
        self.note = StatusLine("Encryption note", hide_empty=True)
        note_row = QHBoxLayout()
        note_row.addWidget(self.note, 1)
        note_row.addStretch(0)  # right-aligns Remove encryption… while there is no note
        note_row.addWidget(self.enable_button, 0, Qt.AlignmentFlag.AlignTop)
        note_row.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(note_row)
        self.enable_button.hide()
        self.remove_button.hide()
        self.enable_button.clicked.connect(self.on_enable_clicked)
        self.remove_button.clicked.connect(self.on_remove_clicked)

    def node_id(self) -> str:
        """The node selected ("" for none)."""
        return str(self.crypto_combo.currentData() or "")

    def refresh(self) -> None:
        """Check for kafkacrypto and list the provisioned nodes (in the background).

        Only while the group is shown: the view asks again when it appears.
        """
        if not self.isVisible():
            return
        self._token += 1
        wanted = [str(self.crypto_combo.itemData(i)) for i in range(self.crypto_combo.count())]
        self._look_up(self._token, [w for w in wanted if w])

    @asyncSlot()
    async def _look_up(self, token: int, wanted: list[str]) -> None:
        try:
            status = await self.tasks.run(Purpose.IO, provisioning.encryption_status, wanted,
                                          context=self)
        except Exception as exc:
            self.tasks.report("Listing the encryption nodes", exc)
            return
        if token == self._token:
            self.apply(status)

    def apply(self, status: EncryptionStatus) -> None:
        """List the nodes of ``status``, keeping the selection."""
        self.status = status
        selected = self.node_id()
        self.crypto_combo.blockSignals(True)
        try:
            self.crypto_combo.clear()
            self.crypto_combo.addItem(NO_ENCRYPTION, "")
            for node_id in status.nodes:
                self.crypto_combo.addItem(node_id, node_id)
                self.crypto_combo.setItemData(self.crypto_combo.count() - 1,
                                              str(status.folder / node_id),
                                              Qt.ItemDataRole.ToolTipRole)
            self.set_node(selected)
        finally:
            self.crypto_combo.blockSignals(False)
        self.statusChanged.emit()

    def set_node(self, node_id: str) -> None:
        """Select ``node_id`` ("" for none), adding it if it is not listed."""
        index = self.crypto_combo.findData(node_id)
        if index < 0:
            missing = self.status is not None and node_id in self.status.missing
            self.crypto_combo.addItem(f"{node_id} (not found)" if missing else node_id, node_id)
            index = self.crypto_combo.count() - 1
        self.crypto_combo.setCurrentIndex(index)

    @property
    def usable(self) -> bool:
        """Whether kafkacrypto was found."""
        return self.status is not None and self.status.available

    def taken(self) -> list[str]:
        """The nodes that exist (as far as known)."""
        return list(self.status.nodes) if self.status is not None else []

    def enable(self, editable: bool) -> None:
        """Enable the controls if the profile is editable and encryption is available.

        Without kafkacrypto the node's controls give way to Enable encryption….
        """
        missing = self.status is not None and not self.status.available
        self.about.setVisible(not missing)
        self.node_row.setVisible(not missing)
        self.enable_button.setVisible(missing)
        self.remove_button.setVisible(self.status is not None and self.status.available
                                      and self.status.removable)
        usable = editable and self.usable
        self.crypto_combo.setEnabled(usable)
        self.provision_button.setEnabled(usable)
        self.show_note()

    def show_note(self) -> None:
        """Say why encryption is unavailable, or that the selected node is missing."""
        node_id = self.node_id()
        if self.status is not None and not self.status.available:
            self.note.show_note(UNAVAILABLE_NOTE)
        elif self.status is not None and node_id in self.status.missing:
            self.note.show_problem(self.status.missing[node_id])
        else:
            self.note.clear()

    # -- the KafkaCrypto component ---------------------------------------------------

    def on_enable_clicked(self) -> None:
        """Open the Enable encryption dialog (the running one if it is busy)."""
        if self.enable_dialog is not None:
            if self.enable_dialog.busy:
                self.enable_dialog.show()
                self.enable_dialog.raise_()
                return
            self.enable_dialog.deleteLater()
        dialog = EnableEncryptionDialog(self, tasks=self.tasks)
        dialog.installed.connect(self.on_component_installed)
        dialog.workFinished.connect(self.componentResult)
        self.enable_dialog = dialog
        dialog.open()

    def on_component_installed(self) -> None:
        self.refresh()
        self.componentChanged.emit(True)

    def on_remove_clicked(self) -> None:
        """Ask first (saying what stops working), then remove the component."""
        if self._removing or self.status is None or not self.status.removable:
            return
        answer = QMessageBox.question(
            self, encryption_component.REMOVE_TITLE, encryption_component.REMOVE_QUESTION,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._removing = True
        self.remove_button.setEnabled(False)
        self.note.show_busy("Removing KafkaCrypto…")
        self._remove()

    @asyncSlot()
    async def _remove(self) -> None:
        try:
            outcome = await self.tasks.run(Purpose.IO, encryption_component.remove,
                                           context=self)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._removing = False
            self.remove_button.setEnabled(True)
            self.tasks.report("Removing encryption", exc)
            self.refresh()
            return
        self._removing = False
        self.remove_button.setEnabled(True)
        self.componentResult.emit(outcome.ok, outcome.sentence)
        self.refresh()
        if outcome.ok:
            self.componentChanged.emit(False)
