"""The Audit window's table model: the rows of an audit report, as the app renders them.

Texts come from :func:`openmsi_gui.app.audit.shown_cells` (values from messages
escaped, times in local time as in the history); each expected destination's
cell has a status picture, so its state is never shown by colour alone.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QWidget

from openmsi_gui.app import audit
from openmsi_gui.app.audit import AuditReport
from openmsi_gui.app.history import format_time
from openmsi_gui.engine.untrusted import escaped
from openmsi_gui.ui.status_icons import ICONS

SORT_ROLE = int(Qt.ItemDataRole.UserRole)
"""What a column sorts by (sizes and times as numbers)."""
_Index = QModelIndex | QPersistentModelIndex


class AuditTableModel(QAbstractTableModel):
    """The rows of an :class:`AuditReport` (texts from :func:`audit.shown_cells`)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: AuditReport | None = None
        self._headers: list[str] = []
        self._cells: list[list[str]] = []

    def set_report(self, report: AuditReport) -> None:
        """Show ``report``'s rows."""
        self.beginResetModel()
        self.report = report
        self._headers = audit.shown_headers(report)
        self._cells = [audit.shown_cells(row, format_time) for row in report.rows]
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        """How many files."""
        return 0 if parent.isValid() else len(self._cells)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        """Path, size, SHA-512, sent, then one per expected destination."""
        return 0 if parent.isValid() else len(self._headers)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """The column names."""
        if (orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(self._headers)):
            return self._headers[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """A cell's text, its sort key, its full text as a tooltip, a destination's picture."""
        if not index.isValid() or self.report is None:
            return None
        row, column = index.row(), index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            text = self._cells[row][column]
            if role == Qt.ItemDataRole.ToolTipRole and column >= audit.FIRST_DESTINATION:
                cell = self.report.rows[row].cells[column - audit.FIRST_DESTINATION]
                if cell.stored_at:
                    return f"{text}\nstored at {escaped(cell.stored_at, 300)}"
            return text
        if role == SORT_ROLE:
            return audit.sort_keys(self.report.rows[row])[column]
        if role == Qt.ItemDataRole.DecorationRole and column >= audit.FIRST_DESTINATION:
            cell = self.report.rows[row].cells[column - audit.FIRST_DESTINATION]
            pixmap, _name = ICONS[audit.cell_status(cell)]
            parent = self.parent()
            style = parent.style() if isinstance(parent, QWidget) else None
            return style.standardIcon(pixmap) if style is not None else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
