"""The transfers view: live progress, throughput and history."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from openmsi_gui.app.controller import AppController
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui.state import LiveState


class TransfersView(QWidget):
    """Files moving now, the throughput plot, and the searchable history."""

    def __init__(self, state: LiveState, controller: AppController, registry: Registry,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.controller = controller
        self.registry = registry
        self.setAccessibleName("Transfers")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Transfers"))
