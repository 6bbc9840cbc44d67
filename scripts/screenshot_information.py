"""Information sent with each file, for scripts/screenshots.py.

``watched-folders-information``: the demo folder's form with its "Information sent with
each file" section filled in (not applied): fixed fields, fields from the path and the
preview for an example path. ``tray-sample``: the tray menu with the folder's "Set current
sample for outbox (now S001)…" item (the folder's fields and sample saved just before; the
menu is shown on its own, since a virtual display has no tray).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from PySide6.QtCore import QPoint, QTimer
from PySide6.QtWidgets import QApplication, QScrollArea, QTableWidgetItem

from openmsi_gui.ui.application import OpenMSIApp

FIELDS = {"instrument": "SEM-2 (Zeiss Gemini)", "lab": "B2.14", "operator": "A. Lovelace"}
PATTERN = r"^(?P<date>\d{4}-\d\d-\d\d)/(?P<run>[^/]+?)_"
EXAMPLE = "2026-11-24/scan_0001.tif"


def folder_form(app: QApplication, openmsi: OpenMSIApp, shot: Callable[[str], None]) -> None:
    """Fill (not apply) the demo folder's information section; shoot it."""
    window = openmsi.window
    view = window.folders
    window.tabs.setCurrentWidget(view)
    view.select(openmsi.store.settings.folders[0].id)
    section = view.information
    section.set_expanded(True)
    for key, value in FIELDS.items():
        section.on_add_clicked()
        row = section.table.rowCount() - 1
        section.table.setItem(row, 0, QTableWidgetItem(key))
        section.table.setItem(row, 1, QTableWidgetItem(value))
    section.path_edit.setText(PATTERN)
    section.path_edit.textEdited.emit(PATTERN)
    section.example_edit.setText(EXAMPLE)
    section.example_edit.textEdited.emit(EXAMPLE)
    section.require_check.setChecked(True)
    app.sendPostedEvents()

    def shoot() -> None:
        for area in view.findChildren(QScrollArea):
            area.ensureWidgetVisible(section.require_check)
        shot("watched-folders-information")
        view.on_revert_clicked()
        section.set_expanded(False)

    QTimer.singleShot(300, shoot)


def tray_sample(openmsi: OpenMSIApp, shot: Callable[[str], None]) -> None:
    """Save fields and a current sample for the demo folder; shoot the tray menu."""
    settings = openmsi.store.settings
    settings.folders = [dataclasses.replace(f, metadata=dict(FIELDS), current_sample="S001")
                        if i == 0 else f for i, f in enumerate(settings.folders)]
    openmsi.store.update(settings)
    menu = openmsi.tray.menu

    def shoot() -> None:
        menu.popup(QPoint(200, 200))
        QTimer.singleShot(400, lambda: (shot("tray-sample", menu), menu.hide()))

    QTimer.singleShot(300, shoot)


def information(app: QApplication, openmsi: OpenMSIApp, shot: Callable[[str], None]) -> None:
    """Both shots, one after the other (about two seconds)."""
    folder_form(app, openmsi, shot)
    QTimer.singleShot(800, lambda: tray_sample(openmsi, shot))
