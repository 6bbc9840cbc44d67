"""Processing states for scripts/screenshots.py: the "After each file" form and processed files.

``destination-processing``: the demo's destination form with "After each file" set (not
applied) to run a command, with a results topic. ``transfers-processing``: two received
files shown processed and one whose processing failed, selected (its reason and output in
the details, Retry processing enabled).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QScrollArea

from openmsi_gui.app.processing_rows import Processing
from openmsi_gui.app.transfer_rows import Column
from openmsi_gui.engine.events import JobId, JobKind
from openmsi_gui.engine.processing.api import ProcessingState, ProcessorKind
from openmsi_gui.ui.application import OpenMSIApp

COMMAND = "python3 /opt/lab/index_spectrum.py {path} --sample {metadata_json}"
FAILED_OUTPUT = ("reading 2026-11-24/scan_0002.tif\n"
                 "Traceback (most recent call last):\n"
                 "  File \"/opt/lab/index_spectrum.py\", line 41, in <module>\n"
                 "ValueError: not a spectrum: no wavelength column")


def destination_form(app: QApplication, openmsi: OpenMSIApp,
                     shot: Callable[[str], None]) -> None:
    """Set (not apply) the demo destination to run a command after each file; shoot it."""
    window = openmsi.window
    view = window.destinations
    window.tabs.setCurrentWidget(view)
    view.select(openmsi.store.settings.destinations[0].id)
    section = view.processing
    section.set_expanded(True)
    section.kind_combo.setCurrentIndex(section.kind_combo.findData(ProcessorKind.COMMAND.value))
    section.command_edit.setText(COMMAND)
    section.command_edit.textEdited.emit(COMMAND)
    section.command_edit.setCursorPosition(0)
    section.timeout_edit.setText("2m")
    section.timeout_edit.textEdited.emit("2m")
    section.results.combo.setEditText("demo-results")
    app.sendPostedEvents()

    def shoot() -> None:  # once the form is laid out again
        for area in view.findChildren(QScrollArea):
            area.ensureWidgetVisible(section.reprocess_button)
        shot("destination-processing")
        view.on_revert_clicked()
        section.set_expanded(False)

    QTimer.singleShot(300, shoot)


def processed_files(app: QApplication, openmsi: OpenMSIApp,
                    shot: Callable[[str], None]) -> None:
    """Show received files processed (and one failed, selected) in the transfers; shoot it."""
    window = openmsi.window
    view = window.transfers
    job = str(JobId(JobKind.DESTINATION, openmsi.store.settings.destinations[0].id))
    states = {
        "2026-11-24/spectrum.csv": Processing(ProcessingState.OK, processor="python3"),
        "notes/run log.txt": Processing(ProcessingState.RUNNING, processor="python3"),
        "2026-11-24/scan_0002.tif": Processing(
            ProcessingState.FAILED, "The command exited with code 1: ValueError: not a "
            "spectrum: no wavelength column.", FAILED_OUTPUT, "python3"),
    }
    rows = [row for relpath, processing in states.items()
            if (row := view.state.book.set_processing(job, relpath, processing)) is not None]
    view.state.rowsChanged.emit(rows)
    view.state.refresh_status()
    window.tabs.setCurrentWidget(view)
    view.model.flush()

    def select_and_shoot() -> None:
        view.table.clearSelection()
        proxy = view.proxy
        for r in range(proxy.rowCount()):
            if (proxy.index(r, Column.FILE).data() == "2026-11-24/scan_0002.tif"
                    and "Download" in str(proxy.index(r, Column.DIRECTION).data())):
                view.table.selectRow(r)
                view.table.scrollTo(proxy.index(r, Column.FILE))
                break
        app.sendPostedEvents()
        shot("transfers-processing")

    QTimer.singleShot(200, select_and_shoot)


def processing(app: QApplication, openmsi: OpenMSIApp, shot: Callable[[str], None]) -> None:
    """Both shots, one after the other (about a second)."""
    destination_form(app, openmsi, shot)
    QTimer.singleShot(500, lambda: processed_files(app, openmsi, shot))
