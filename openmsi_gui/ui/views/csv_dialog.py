"""Ask where to save a CSV export (the one file dialog of the history and audit views)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget


def ask_csv_path(parent: QWidget, title: str, file_name: str) -> Path | None:
    """The path the user chose, in Documents by default, with ``.csv`` added if left off."""
    folder = QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.DocumentsLocation) or str(Path.home())
    name, selected_filter = QFileDialog.getSaveFileName(
        parent, title, str(Path(folder) / file_name), "CSV files (*.csv);;All files (*)")
    if not name:
        return None
    path = Path(name)
    if not path.suffix and selected_filter.startswith("CSV"):
        path = path.with_suffix(".csv")
    return path
