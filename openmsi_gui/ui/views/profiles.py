"""The broker profiles view."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import SettingsStore


class ProfilesView(QWidget):
    """Broker profiles."""

    def __init__(self, store: SettingsStore, controller: AppController,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.controller = controller
        self.setAccessibleName("Broker profiles")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Broker profiles"))
