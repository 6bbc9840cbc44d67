"""The Lab view's table: one row per program heard from, refreshed with minimal signals.

:class:`LabTableModel` keeps the :class:`~openmsi_gui.app.lab.ProgramRow` list of
the last refresh (once a second, from :class:`~openmsi_gui.ui.lab_state.LabState`)
and tells views only what changed: new programs with one ``rowsInserted``,
changed rows with one ``dataChanged`` per run of adjacent rows, and the "last
seen" column, which ticks every second, with one ``dataChanged`` over that
column for display roles only. Words, sort keys and search matching come from
:mod:`openmsi_gui.app.lab_table`.

:class:`LabFilterProxy` sorts and filters. The ticking column's ``dataChanged``
names no sort or filter role, so the proxy neither sorts nor filters again for
it; a program's new heartbeat changes its whole row, and only that row is
placed again. Sort keys of the sorted column are computed once per refresh
(not per comparison).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QSortFilterProxyModel, Qt

from openmsi_gui.app import lab_table
from openmsi_gui.app.lab import ProgramRow, ProgramState
from openmsi_gui.app.lab_table import HEADERS, NUMERIC, Column
from openmsi_gui.engine.lab_wire import utc_now
from openmsi_gui.ui.lab_icons import NAMES, state_icon
from openmsi_gui.ui.views.roles import ACCESSIBLE_TEXT as _ACCESSIBLE_TEXT
from openmsi_gui.ui.views.roles import ALIGNMENT as _ALIGNMENT
from openmsi_gui.ui.views.roles import DECORATION as _DECORATION
from openmsi_gui.ui.views.roles import DISPLAY as _DISPLAY
from openmsi_gui.ui.views.roles import RIGHT as _RIGHT
from openmsi_gui.ui.views.roles import TOOLTIP as _TOOLTIP
from openmsi_gui.ui.views.roles import Index

SORT_ROLE = int(Qt.ItemDataRole.UserRole)
"""Role with the value a column sorts by (:func:`lab_table.sort_key`)."""
PROGRAM_ROLE = int(Qt.ItemDataRole.UserRole) + 1
"""Role with the row's :class:`ProgramRow`."""
FILTER_ROLE = int(Qt.ItemDataRole.UserRole) + 2
"""The proxy's filter role: no cell has it, so a display-only change never refilters."""

COLUMNS = tuple(Column)
_TICKING_ROLES = [_DISPLAY, _ACCESSIBLE_TEXT]
_PROBLEM_STATES = frozenset({ProgramState.NEEDS_ATTENTION, ProgramState.SILENT})


class LabTableModel(QAbstractTableModel):
    """The programs of the last refresh, in the order they were first heard from."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ProgramRow] = []
        self._pos: dict[str, int] = {}
        self._now = utc_now()
        self._key_column: Column | None = None
        self._keys: list[tuple[Any, ...]] = []

    # -- updates ---------------------------------------------------------------------------

    def set_rows(self, rows: list[ProgramRow], now: dt.datetime) -> None:
        """Show ``rows`` as of ``now``, signalling only what changed (see the module doc)."""
        self._now = now
        wanted = {row.program_id: row for row in rows}
        self._drop([pid for pid in self._pos if pid not in wanted])
        changed: list[int] = []
        for pid, row in wanted.items():
            at = self._pos.get(pid)
            if at is not None and self._rows[at] != row:
                self._rows[at] = row
                changed.append(at)
        new = [row for pid, row in wanted.items() if pid not in self._pos]
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for row in new:
                self._pos[row.program_id] = len(self._rows)
                self._rows.append(row)
            self._update_keys()
            self.endInsertRows()
        else:
            self._update_keys()  # for the changed rows' places, and the time
        last = len(COLUMNS) - 1
        for start, end in _runs(sorted(changed)):
            self.dataChanged.emit(self.index(start, 0), self.index(end, last))
        if self._rows:
            column = COLUMNS.index(Column.LAST_SEEN)
            self.dataChanged.emit(self.index(0, column), self.index(len(self._rows) - 1, column),
                                  _TICKING_ROLES)

    def _drop(self, program_ids: list[str]) -> None:
        """Remove the rows of ``program_ids`` (forgotten, or another topic)."""
        for start, end in reversed(_runs(sorted(self._pos[pid] for pid in program_ids))):
            self.beginRemoveRows(QModelIndex(), start, end)
            del self._rows[start:end + 1]
            self._pos = {row.program_id: i for i, row in enumerate(self._rows)}
            self._update_keys()
            self.endRemoveRows()

    def set_key_column(self, column: int) -> None:
        """Compute the sort keys of ``column`` (-1: none) from now on."""
        self._key_column = COLUMNS[column] if 0 <= column < len(COLUMNS) else None
        self._update_keys()

    def _update_keys(self) -> None:
        column = self._key_column
        self._keys = ([] if column is None else
                      [lab_table.sort_key(row, column, self._now) for row in self._rows])

    def key(self, row: int) -> tuple[Any, ...]:
        """The sort key of ``row`` in the sorted column."""
        return self._keys[row]

    # -- reading ---------------------------------------------------------------------------

    def row_at(self, row: int) -> ProgramRow:
        """The program shown in ``row``."""
        return self._rows[row]

    def position(self, program_id: str) -> int | None:
        """The row of ``program_id``, if shown."""
        return self._pos.get(program_id)

    @property
    def now(self) -> dt.datetime:
        """The time of the last refresh."""
        return self._now

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        """How many programs."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        """The columns of :mod:`openmsi_gui.app.lab_table`."""
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = _DISPLAY) -> Any:
        """The column names, numbers right-aligned."""
        if orientation is Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == _DISPLAY:
                return HEADERS[COLUMNS[section]]
            if role == _ALIGNMENT and COLUMNS[section] in NUMERIC:
                return _RIGHT
        return None

    def data(self, index: Index, role: int = _DISPLAY) -> Any:
        """A cell's words, the state's picture, the problem as a tooltip, the sort key."""
        number = index.row()
        if not index.isValid() or not 0 <= number < len(self._rows):
            return None
        row = self._rows[number]
        column = COLUMNS[index.column()]
        if role == _DISPLAY:
            return lab_table.cell_text(row, column, self._now)
        if role == _ACCESSIBLE_TEXT:
            text = lab_table.cell_text(row, column, self._now)
            if column is Column.STATE and row.problem:
                return f"{NAMES[row.state]}: {row.problem}"
            return text
        if role == _TOOLTIP:
            return row.problem if row.state in _PROBLEM_STATES and row.problem else None
        if role == _DECORATION and column is Column.STATE:
            return state_icon(row.state)
        if role == _ALIGNMENT and column in NUMERIC:
            return _RIGHT
        if role == SORT_ROLE:
            return lab_table.sort_key(row, column, self._now)
        if role == PROGRAM_ROLE:
            return row
        return None


class LabFilterProxy(QSortFilterProxyModel):
    """Sort by :func:`lab_table.sort_key` and keep rows :func:`lab_table.matches` accepts."""

    def __init__(self, model: LabTableModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model = model
        self._search = ""
        self.setSourceModel(model)
        self.setSortRole(SORT_ROLE)
        self.setFilterRole(FILTER_ROLE)
        self.setDynamicSortFilter(True)

    def set_search(self, text: str) -> None:
        """Show only the programs matching ``text`` (name, host, job, version, problem)."""
        if text != self._search:
            self.beginFilterChange()
            self._search = text
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        """Rows matching the search text."""
        return not self._search or lab_table.matches(self._model.row_at(source_row),
                                                     self._search)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by ``column`` (-1: the order programs were first heard from)."""
        self._model.set_key_column(column)
        super().sort(column, order)

    def lessThan(self, left: Index, right: Index) -> bool:
        """Compare the precomputed keys (one Python call per comparison)."""
        return self._model.key(left.row()) < self._model.key(right.row())


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Sorted numbers as ``(first, last)`` runs of consecutive ones."""
    runs: list[tuple[int, int]] = []
    for number in numbers:
        if runs and runs[-1][1] == number - 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs
