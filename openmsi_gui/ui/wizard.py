"""The first-run wizard (renders :mod:`openmsi_gui.app.wizard`)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget, QWizard, QWizardPage

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import SettingsStore


class SetupWizard(QWizard):
    """Try the demo broker or enter a real one, then add a first folder or destination."""

    def __init__(self, store: SettingsStore, controller: AppController,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.controller = controller
        self.setWindowTitle("Set up OpenMSI")
        page = QWizardPage()
        QVBoxLayout(page).addWidget(QLabel("Welcome to OpenMSI"))
        self.addPage(page)
