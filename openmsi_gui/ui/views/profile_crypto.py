"""The "End-to-end encryption" group of the broker profiles view.

It picks one of the KafkaCrypto nodes provisioned on this computer; whether
kafkacrypto can be used, and which nodes exist, is looked up on the keychain
and files executor (:data:`~openmsi_gui.ui.tasks.Purpose.IO`).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QGroupBox, QHBoxLayout, QLabel, QVBoxLayout

from openmsi_gui.app import provisioning
from openmsi_gui.app.provisioning import UNAVAILABLE_NOTE, EncryptionStatus
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

    Args:
        tasks: the application's background work.

    Attributes:
        status: kafkacrypto's availability and the nodes, None until looked up.

    Signals:
        statusChanged(): :attr:`status` changed (the view re-enables its controls).
    """

    statusChanged = Signal()

    def __init__(self, tasks: Tasks) -> None:
        super().__init__("End-to-end encryption")
        self.tasks = tasks
        self.status: EncryptionStatus | None = None
        self._token = 0
        outer = QVBoxLayout(self)
        about = QLabel(ENCRYPTION_NOTE)
        about.setWordWrap(True)
        about.setAccessibleName("About end-to-end encryption")
        outer.addWidget(about)
        self.crypto_combo = QComboBox()
        self.crypto_combo.setAccessibleName("Encryption node")
        self.crypto_combo.setToolTip("The KafkaCrypto node that encrypts what this profile "
                                     "sends and decrypts what it receives")
        self.crypto_combo.addItem(NO_ENCRYPTION, "")
        self.provision_button = button(
            "Provision a node…", "Provision a node",
            "Make a new encryption node on this computer with your administrator's passwords")
        label = QLabel("Encryption node:")
        label.setBuddy(self.crypto_combo)
        row = QHBoxLayout()
        row.addWidget(label)
        row.addWidget(self.crypto_combo, 1)
        row.addWidget(self.provision_button)
        outer.addLayout(row)
        self.note = StatusLine("Encryption note", hide_empty=True)
        outer.addWidget(self.note)

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
        """Enable the controls if the profile is editable and encryption is available."""
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
