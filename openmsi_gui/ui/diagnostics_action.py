"""Help ▸ Save diagnostics…: asks where, writes the zip in the background, says where.

What goes into the zip is :mod:`openmsi_gui.app.diagnostics`'s business (shared
with ``openmsi diagnostics``); this only asks for the path and renders the outcome.
"""

from __future__ import annotations

from pathlib import Path

import PySide6
from PySide6.QtCore import QObject, QStandardPaths, Signal, qVersion
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMainWindow

from openmsi_gui.app.diagnostics import (
    DiagnosticsSources,
    default_file_name,
    failed_sentence,
    saved_sentence,
    write_diagnostics,
)
from openmsi_gui.ui.tasks import Purpose, Tasks, asyncSlot

MESSAGE_MS = 15_000


def ask_zip_path(parent: QMainWindow) -> Path | None:
    """The path the user chose (Documents by default), with ``.zip`` added if left off."""
    documents = QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.DocumentsLocation)
    # A Documents folder that does not exist would open the dialog wherever the app started.
    folder = documents if documents and Path(documents).is_dir() else str(Path.home())
    name, _ = QFileDialog.getSaveFileName(
        parent, "Save diagnostics", str(Path(folder) / default_file_name()),
        "Zip files (*.zip);;All files (*)")
    if not name:
        return None
    path = Path(name)
    return path if path.suffix else path.with_suffix(".zip")


class DiagnosticsSaver(QObject):
    """The Help menu's *Save diagnostics…* action and the work behind it.

    Signals:
        saved(str): the zip was written; the sentence shown in the status bar.
        failed(str): it could not be; the sentence shown.

    Args:
        window: the main window (the dialog's parent; its status bar tells the outcome).
        tasks: the app's background work.
        settings_path: the settings file the app uses.
        data_dir: the data folder the app uses (registry, pairing, connection tests).
    """

    saved = Signal(str)
    failed = Signal(str)

    def __init__(self, window: QMainWindow, tasks: Tasks, settings_path: Path,
                 data_dir: Path) -> None:
        super().__init__(window)
        self.window = window
        self.tasks = tasks
        # The bundle may lack PySide6's package metadata: say its version from the module.
        runtime = f"Qt {qVersion()}, PySide6 {PySide6.__version__}"
        self.sources = DiagnosticsSources(settings_path, data_dir, qt_runtime=runtime)
        self.action = QAction("Save &diagnostics…", window)
        self.action.setStatusTip("Write a zip for support: logs, settings without secrets, "
                                 "versions and the last connection tests")
        self.action.triggered.connect(self.on_action_triggered)

    def on_action_triggered(self) -> None:
        path = ask_zip_path(self.window)
        if path is not None:
            self.save_to(path)

    @asyncSlot()
    async def save_to(self, path: Path) -> None:
        """Write the zip to ``path`` on the I/O executor, then say where (or why not)."""
        self.action.setEnabled(False)
        self.window.statusBar().showMessage("Saving diagnostics…")
        try:
            result = await self.tasks.run(Purpose.IO, write_diagnostics, path, self.sources,
                                          context=self)
        except Exception as error:  # told to the user in one sentence
            text = failed_sentence(path, error)
            self.action.setEnabled(True)
            self.window.statusBar().showMessage(text, MESSAGE_MS)
            self.failed.emit(text)
            return
        text = saved_sentence(result)
        self.action.setEnabled(True)
        self.window.statusBar().showMessage(text, MESSAGE_MS)
        self.saved.emit(text)
