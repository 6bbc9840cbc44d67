"""The "Enable encryption" dialog: fetch KafkaCrypto from PyPI or install it from a file.

The work (download, hash check, unpacking) runs on the network executor of
:mod:`openmsi_gui.ui.tasks`; what it says comes from
:mod:`openmsi_gui.app.encryption_component`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app import encryption_component
from openmsi_gui.app.encryption_component import DIALOG_INTRO, WHEEL_FILTER, Outcome
from openmsi_gui.ui.status_line import StatusLine
from openmsi_gui.ui.tasks import ProgressRelay, Purpose, Tasks, asyncSlot

log = logging.getLogger(__name__)


class EnableEncryptionDialog(QDialog):
    """Install the KafkaCrypto component, from the package index or from a wheel file.

    Args:
        parent: the parent widget.
        tasks: the application's background work.

    Signals:
        installed(): the component was installed and can be used.
        workFinished(bool, str): an installation ended (success, sentence shown).
    """

    installed = Signal()
    workFinished = Signal(bool, str)

    def __init__(self, parent: QWidget | None = None, *, tasks: Tasks) -> None:
        super().__init__(parent)
        self.setWindowTitle("Enable encryption")
        self.setAccessibleName("Enable encryption")
        self.tasks = tasks
        self._busy = False
        self._done = False
        self._progress = ProgressRelay(self)
        self._progress.text.connect(self.on_worker_progress)
        layout = QVBoxLayout(self)
        intro = QLabel(DIALOG_INTRO)
        intro.setWordWrap(True)
        intro.setAccessibleName("About enabling encryption")
        layout.addWidget(intro)
        self.index_button = QPushButton("&Download from the Python Package Index")
        self.index_button.setAccessibleName("Download from the Python Package Index")
        self.index_button.setToolTip("Fetch the KafkaCrypto release this app trusts from pypi.org")
        self.index_button.clicked.connect(self.on_index_clicked)
        self.file_button = QPushButton("Install from a &file…")
        self.file_button.setAccessibleName("Install from a file")
        self.file_button.setToolTip("Choose a KafkaCrypto wheel (.whl) copied to this computer, "
                                    "for computers without internet access")
        self.file_button.clicked.connect(self.on_file_clicked)
        for widget in (self.index_button, self.file_button):
            layout.addWidget(widget)
        self.result_line = StatusLine("Enable encryption result", busy_bar=True,
                                      hide_empty=True)
        layout.addWidget(self.result_line)
        layout.addStretch(1)
        self.close_button = QPushButton("Cancel")
        self.close_button.setAccessibleName("Close")
        self.close_button.clicked.connect(self.on_close_clicked)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        self.setMinimumWidth(520)

    def showEvent(self, event: QShowEvent) -> None:
        """Open tall enough for the wrapped sentences."""
        super().showEvent(event)
        self._fit()

    def _fit(self) -> None:
        """Grow to the height the wrapped sentences need at the current width."""
        layout = self.layout()
        if layout is None:
            return
        width = max(self.width(), self.minimumWidth())
        height = (layout.totalHeightForWidth(width) if layout.hasHeightForWidth()
                  else layout.totalSizeHint().height())
        self.setMinimumHeight(height)
        if self.height() < height:
            self.resize(width, height)

    def _say(self, ok: bool | None, text: str) -> None:
        self.result_line.show_result(ok, text)
        self._fit()

    @property
    def busy(self) -> bool:
        """Whether an installation is running."""
        return self._busy

    def show_problem(self, text: str) -> None:
        """Say what went wrong (the screenshots show a refused file)."""
        self._say(False, text)

    def on_index_clicked(self) -> None:
        self._start(None)

    def on_file_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose the KafkaCrypto wheel", "",
                                              WHEEL_FILTER)
        if path:
            self._start(Path(path))

    def _start(self, wheel: Path | None) -> None:
        if self._busy or self._done:
            return
        self._set_busy(True)
        self._say(None, "Starting…")
        self._install(wheel, self._progress.report)

    @asyncSlot()
    async def _install(self, wheel: Path | None, report: encryption_component.ProgressReport
                       ) -> None:
        try:
            outcome = await self.tasks.run(Purpose.NET, encryption_component.install, wheel,
                                           report, context=self)
        except Exception as exc:
            log.error("installing KafkaCrypto failed unexpectedly", exc_info=exc)
            self._set_busy(False)
            text = f"Encryption was not enabled: an unexpected {type(exc).__name__} happened; " \
                   "see the log."
            self._say(False, text)
            self.workFinished.emit(False, text)
            return
        self._finish(outcome)

    def on_worker_progress(self, text: str) -> None:
        if self._busy:
            self._say(None, text)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for button in (self.index_button, self.file_button):
            button.setEnabled(not busy and not self._done)

    def _finish(self, outcome: Outcome) -> None:
        if outcome.ok:
            self._done = True
            self.close_button.setText("Close")
            self.close_button.setDefault(True)
        self._set_busy(False)
        self._say(outcome.ok, outcome.sentence)
        if outcome.ok:
            self.close_button.setFocus()
            self.installed.emit()
        self.workFinished.emit(outcome.ok, outcome.sentence)

    def on_close_clicked(self) -> None:
        if self._done:
            self.accept()
        else:
            self.reject()
