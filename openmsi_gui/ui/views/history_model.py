"""The history table's Qt models: rows kept sorted in Python, filtered by a search text.

Sorting is done by the source model in Python (by the same values it gives
for :data:`SORT_ROLE`), not by ``QSortFilterProxyModel``'s comparator: with
ten thousand rows the proxy needs about 260 000 calls into Python per sort
(close to a second), a ``list.sort`` a few milliseconds. The proxy still
filters, from a search text precomputed off the GUI thread.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QSortFilterProxyModel, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle

from openmsi_gui.app.history import (
    HEADERS,
    HistoryColumn,
    HistoryEntry,
    entry_cell,
    entry_matches,
    entry_tooltip,
    history_sort_value,
    sort_entries,
)
from openmsi_gui.ui.views.roles import ACCESSIBLE_TEXT as _ACCESSIBLE_TEXT
from openmsi_gui.ui.views.roles import ALIGNMENT as _ALIGNMENT
from openmsi_gui.ui.views.roles import DECORATION as _DECORATION
from openmsi_gui.ui.views.roles import DISPLAY as _DISPLAY
from openmsi_gui.ui.views.roles import RIGHT as _RIGHT
from openmsi_gui.ui.views.roles import TOOLTIP as _TOOLTIP
from openmsi_gui.ui.views.roles import Index

SORT_ROLE = int(Qt.ItemDataRole.UserRole)
"""Role with the value a column sorts by (numbers for sizes and times)."""
ENTRY_ROLE = int(Qt.ItemDataRole.UserRole) + 1
"""Role with the :class:`HistoryEntry` of the row."""

_COLUMNS = tuple(HistoryColumn)

_STATUS_ICONS = {
    "done": QStyle.StandardPixmap.SP_DialogApplyButton,
    "failed": QStyle.StandardPixmap.SP_MessageBoxCritical,
    "sending": QStyle.StandardPixmap.SP_MediaPlay,
    "receiving": QStyle.StandardPixmap.SP_MediaPlay,
    "superseded": QStyle.StandardPixmap.SP_BrowserReload,
}


class HistoryTableModel(QAbstractTableModel):
    """History rows, kept sorted in Python (see the module docstring)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._entries: list[HistoryEntry] = []
        self._sort_column = -1
        self._descending = False
        self._icons: dict[QStyle.StandardPixmap, QIcon] = {}

    @property
    def entries(self) -> list[HistoryEntry]:
        """The rows in display order."""
        return self._entries

    def entry(self, row: int) -> HistoryEntry:
        """The entry shown in ``row``."""
        return self._entries[row]

    def set_entries(self, entries: list[HistoryEntry]) -> None:
        """Replace every row (sorted by the current sort column)."""
        self.beginResetModel()
        self._entries = sort_entries(entries, self._sort_column, self._descending)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HistoryColumn)

    def data(self, index: Index, role: int = _DISPLAY) -> Any:
        number = index.row()
        if not 0 <= number < len(self._entries) or not index.isValid():
            return None
        entry = self._entries[number]
        row = entry.row
        column = _COLUMNS[index.column()]
        if role in (_DISPLAY, _ACCESSIBLE_TEXT):
            return entry_cell(entry, column)
        if role == SORT_ROLE:
            return (entry.delivery.casefold() if column is HistoryColumn.DELIVERY
                    else history_sort_value(row, column))
        if role == ENTRY_ROLE:
            return entry
        if role == _TOOLTIP:
            return entry_tooltip(entry, column)
        if role == _DECORATION and column is HistoryColumn.STATUS:
            return self._status_icon(row.status)
        if role == _ALIGNMENT and column is HistoryColumn.SIZE:
            return _RIGHT
        return None

    def _status_icon(self, status: str) -> QIcon:
        pixmap = _STATUS_ICONS.get(status, QStyle.StandardPixmap.SP_FileIcon)
        icon = self._icons.get(pixmap)
        if icon is None:
            icon = self._icons[pixmap] = QApplication.style().standardIcon(pixmap)
        return icon

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = _DISPLAY) -> Any:
        if orientation is Qt.Orientation.Horizontal and 0 <= section < len(HistoryColumn):
            if role == _DISPLAY:
                return HEADERS[_COLUMNS[section]]
            if role == _ALIGNMENT and _COLUMNS[section] is HistoryColumn.SIZE:
                return _RIGHT
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Order rows by ``column`` (-1: newest first), keeping selections on their rows."""
        self._sort_column = column
        self._descending = order is Qt.SortOrder.DescendingOrder
        self.layoutAboutToBeChanged.emit()
        old = self._entries
        self._entries = sort_entries(old, column, self._descending)
        where = {id(entry): row for row, entry in enumerate(self._entries)}
        persistent = self.persistentIndexList()
        self.changePersistentIndexList(
            persistent, [self.index(where[id(old[p.row()])], p.column()) for p in persistent])
        self.layoutChanged.emit()


class HistoryFilterProxy(QSortFilterProxyModel):
    """Filter history rows by a search text; sorting is passed to the source model."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._search = ""
        self.setSortRole(SORT_ROLE)

    def set_search(self, text: str) -> None:
        """Show only rows containing ``text`` in any column, in any case."""
        if text != self._search:
            self.beginFilterChange()
            self._search = text
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        """Rows containing the search text."""
        model = self.sourceModel()
        if not self._search or not isinstance(model, HistoryTableModel):
            return True
        return entry_matches(model.entry(source_row), self._search)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Let the source model sort (fast, in Python); this proxy keeps its order."""
        model = self.sourceModel()
        if isinstance(model, HistoryTableModel):
            model.sort(column, order)
        else:  # pragma: no cover - only ever used over a HistoryTableModel
            super().sort(column, order)
