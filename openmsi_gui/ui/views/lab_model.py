"""The Lab view's table: one row per program heard from, refreshed with minimal signals.

:class:`LabTableModel` keeps the :class:`~openmsi_gui.app.lab.ProgramRow` list of
the last refresh (once a second, from :class:`~openmsi_gui.ui.lab_state.LabState`)
and tells views only what changed: new programs with one ``rowsInserted``,
changed rows with one ``dataChanged`` per run of adjacent rows (one over them
all when they are many), and the "last seen" column, which ticks every second,
with one ``dataChanged`` over that column for display roles only; never a reset.
Words, sort keys and search matching come from :mod:`openmsi_gui.app.lab_table`.

The model sorts (by :func:`lab_table.sort_key`: one ``list.sort`` per refresh,
and one ``layoutChanged`` when the order changed) and filters (by
:func:`lab_table.matches`) itself, in Python, instead of through a
``QSortFilterProxyModel``. A proxy calls back into Python for every comparison
and every row it filters: thousands of calls per refresh when 500 programs
changed, each of which waits for the GIL while the lab reader's thread decodes
heartbeats, and the GUI stalled for a tenth of a second while the reader caught
up on the last hour. Here a refresh makes no call from Qt into Python but
``data()`` for the cells a repaint shows.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QModelRoleData,
    QModelRoleDataSpan,
    QObject,
    Qt,
)

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

PROGRAM_ROLE = int(Qt.ItemDataRole.UserRole) + 1
"""Role with the row's :class:`ProgramRow`."""

COLUMNS = tuple(Column)
_TICKING_ROLES = [_DISPLAY, _ACCESSIBLE_TEXT]
MAX_RUNS = 16
"""Runs of changed rows told apart; more are told as one ``dataChanged`` over them all."""
_PROBLEM_STATES = frozenset({ProgramState.NEEDS_ATTENTION, ProgramState.SILENT})


class LabTableModel(QAbstractTableModel):
    """The programs of the last refresh that match the search, in order.

    In the order of a column (:meth:`sort`), or else the order first heard from.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._all: dict[str, ProgramRow] = {}
        self._rows: list[ProgramRow] = []  # shown, in order
        self._pos: dict[str, int] = {}
        self._now = utc_now()
        self._search = ""
        self._sort_column: Column | None = None
        self._descending = False
        self._heard: dict[str, int] = {}  # program id -> order first heard from
        self._order = itertools.count()

    # -- updates ---------------------------------------------------------------------------

    def set_rows(self, rows: list[ProgramRow], now: dt.datetime) -> None:
        """Show ``rows`` as of ``now``, signalling only what changed (see the module doc)."""
        self._now = now
        self._all = {row.program_id: row for row in rows}
        for pid in [pid for pid in self._heard if pid not in self._all]:
            del self._heard[pid]
        for pid in self._all:
            if pid not in self._heard:
                self._heard[pid] = next(self._order)
        self._show(tick=True)

    def set_search(self, text: str) -> None:
        """Show only the programs matching ``text`` (name, host, job, version, problem)."""
        if text != self._search:
            self._search = text
            self._show()

    def _show(self, tick: bool = False) -> None:
        search = self._search
        wanted = {pid: row for pid, row in self._all.items()
                  if not search or lab_table.matches(row, search)}
        self._drop([pid for pid in self._pos if pid not in wanted])
        changed: set[str] = set()
        for pid, row in wanted.items():
            at = self._pos.get(pid)
            if at is not None and self._rows[at] != row:
                self._rows[at] = row
                changed.add(pid)
        new = [row for pid, row in wanted.items() if pid not in self._pos]
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for row in new:
                self._pos[row.program_id] = len(self._rows)
                self._rows.append(row)
            self.endInsertRows()
        self._sort_rows()
        last = len(COLUMNS) - 1
        runs = _runs(sorted(self._pos[pid] for pid in changed))
        if len(runs) > MAX_RUNS:
            runs = [(runs[0][0], runs[-1][1])]
        for start, end in runs:
            self.dataChanged.emit(self.index(start, 0), self.index(end, last))
        if tick and self._rows:
            column = COLUMNS.index(Column.LAST_SEEN)
            self.dataChanged.emit(self.index(0, column), self.index(len(self._rows) - 1, column),
                                  _TICKING_ROLES)

    def _drop(self, program_ids: list[str]) -> None:
        """Stop showing ``program_ids`` (forgotten, not matching the search, another topic)."""
        for start, end in reversed(_runs(sorted(self._pos[pid] for pid in program_ids))):
            self.beginRemoveRows(QModelIndex(), start, end)
            del self._rows[start:end + 1]
            self._pos = {row.program_id: i for i, row in enumerate(self._rows)}
            self.endRemoveRows()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by ``column`` (-1: in the order programs were first heard from)."""
        self._sort_column = COLUMNS[column] if 0 <= column < len(COLUMNS) else None
        self._descending = order is Qt.SortOrder.DescendingOrder
        self._sort_rows()

    def _sort_rows(self) -> None:
        """Put the rows in order; one ``layoutChanged`` if the order changed."""
        column, now = self._sort_column, self._now
        if column is None:
            heard = self._heard
            ordered = sorted(self._rows, key=lambda row: heard[row.program_id])
        else:
            ordered = sorted(self._rows, key=lambda row: lab_table.sort_key(row, column, now),
                             reverse=self._descending)
        if all(a is b for a, b in zip(ordered, self._rows, strict=True)):
            return
        self.layoutAboutToBeChanged.emit()
        old = self._rows
        self._rows = ordered
        self._pos = {row.program_id: i for i, row in enumerate(ordered)}
        persistent = self.persistentIndexList()
        self.changePersistentIndexList(persistent, [
            self.index(self._pos[old[p.row()].program_id], p.column()) for p in persistent])
        self.layoutChanged.emit()

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
        """A cell's words, the state's picture, the problem as a tooltip."""
        number = index.row()
        if not index.isValid() or not 0 <= number < len(self._rows):
            return None
        return self._value(self._rows[number], COLUMNS[index.column()], role)

    def multiData(self, index: Index,
                  roleDataSpan: QModelRoleDataSpan | QModelRoleData) -> None:
        """Every role a painted cell asks for, in one call into Python instead of one each.

        While a reader's thread holds the GIL (decoding an hour of heartbeats), each
        call from Qt into Python waits for it: a repaint asks for seven roles per cell.
        """
        number = index.row()
        row = (self._rows[number] if index.isValid() and 0 <= number < len(self._rows)
               else None)
        column = COLUMNS[index.column()] if row is not None else Column.NAME
        span = roleDataSpan
        items = ([span] if isinstance(span, QModelRoleData) else
                 [span[i] for i in range(span.size())])  # type: ignore[index]  # it is
        for item in items:
            value = self._value(row, column, item.role()) if row is not None else None
            if value is None:
                item.clearData()
            else:
                item.setData(value)

    def _value(self, row: ProgramRow, column: Column, role: int) -> Any:
        if role == _DISPLAY:
            return lab_table.cell_text(row, column, self._now)
        if role == _ACCESSIBLE_TEXT:
            if column is Column.STATE and row.problem:
                return f"{NAMES[row.state]}: {row.problem}"
            return lab_table.cell_text(row, column, self._now)
        if role == _TOOLTIP:
            return row.problem if row.state in _PROBLEM_STATES and row.problem else None
        if role == _DECORATION and column is Column.STATE:
            return state_icon(row.state)
        if role == _ALIGNMENT and column in NUMERIC:
            return _RIGHT
        if role == PROGRAM_ROLE:
            return row
        return None


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Sorted numbers as ``(first, last)`` runs of consecutive ones."""
    runs: list[tuple[int, int]] = []
    for number in numbers:
        if runs and runs[-1][1] == number - 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs
