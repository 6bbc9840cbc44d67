"""The log view: the engine's log lines with a level filter."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from openmsi_gui.ui.adapter import EngineAdapter


class LogView(QWidget):
    """Engine log lines, filterable by level."""

    def __init__(self, adapter: EngineAdapter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.adapter = adapter
        self.setAccessibleName("Log")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Log"))
