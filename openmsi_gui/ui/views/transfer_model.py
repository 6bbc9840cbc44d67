"""The live transfers table: a coalescing Qt model over the :class:`TransferBook`.

The formatting and filtering rules are plain functions at module level so they
can be tested without a ``QApplication``; the Qt classes only arrange them.

:class:`TransferTableModel` mirrors ``LiveState.book.rows`` (newest row first).
``LiveState.rowsChanged`` only marks rows dirty; a 100 ms single-shot timer
folds every dirty row into the model at once: new rows with one
``rowsInserted``, changed rows with one ``dataChanged`` per run of adjacent
rows. A file whose progress arrives 1000 times a second therefore repaints at
most ten times a second, and a table of thousands of rows never resets.

Painting the table calls no Python. The engine runs in this process and its
threads hold the GIL most of the time, so every Python callback from a paint
(``data()``, a delegate, ``lessThan``, ``filterAcceptsRow``) would wait for it,
hundreds of times per repaint. Instead the model is a ``QStandardItemModel``
whose items the flush fills with finished values (texts, cached icons,
tooltips, numeric sort keys, and the progress bar as a cached pixmap), and the
proxy sorts by :data:`SORT_ROLE` and filters by a regular expression over
:data:`FILTER_ROLE`, both in C++.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import Any, cast

from PySide6.QtCore import (
    QObject,
    QRegularExpression,
    QSortFilterProxyModel,
    Qt,
    QTimer,
)
from PySide6.QtGui import (
    QFont,
    QIcon,
    QPalette,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import QApplication, QStyle

from openmsi_gui.app.transfer_rows import (
    COLUMNS,
    FIELD_SEP,
    HEADERS,
    MODE_FLAGS,
    NUMERIC_COLUMNS,
    Column,
    FilterMode,
    cell_text,
    cell_tooltip,
    filter_text,
    shows_progress,
    sort_value,
)
from openmsi_gui.app.transfers import RowKey, RowStatus, TransferRow
from openmsi_gui.engine.processing.api import ProcessingState
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.views.progress_bars import ProgressBarPixmaps, percent_of
from openmsi_gui.ui.views.roles import ACCESSIBLE_TEXT as _ACCESSIBLE_TEXT
from openmsi_gui.ui.views.roles import ALIGNMENT as _ALIGNMENT
from openmsi_gui.ui.views.roles import DECORATION as _DECORATION
from openmsi_gui.ui.views.roles import DISPLAY as _DISPLAY
from openmsi_gui.ui.views.roles import RIGHT as _RIGHT
from openmsi_gui.ui.views.roles import TOOLTIP as _TOOLTIP

FLUSH_MS = 100
FLUSH_BUDGET_S = 0.004
"""How long one timed flush may format rows before it leaves the rest for later."""
FOLLOW_UP_MS = 15
"""When the rest of a flush that ran out of time follows."""

SORT_ROLE = int(Qt.ItemDataRole.UserRole)
"""Role with a value to sort by (numbers for numeric columns)."""
FRACTION_ROLE = int(Qt.ItemDataRole.UserRole) + 1
"""Role of the :attr:`Column.PROGRESS` cell with the progress fraction (0..1); unset when
skipped."""
FILTER_ROLE = int(Qt.ItemDataRole.UserRole) + 2
"""Role of the :attr:`Column.FILE` cell with the text the proxy filters: see :func:`filter_text`."""



def filter_pattern(mode: FilterMode, search: str = "") -> str:
    """A regular expression over :func:`filter_text` for what :func:`row_matches` accepts.

    Empty when everything passes; needs ``DotMatchesEverythingOption``.
    """
    needle = search.strip().casefold().replace(FIELD_SEP, "")
    flag = MODE_FLAGS[mode]
    if not flag and not needle:
        return ""
    flags = f"[^{FIELD_SEP}]*"
    pattern = "^" + (flags + flag if flag else "")
    if needle:
        pattern += flags + FIELD_SEP + ".*" + QRegularExpression.escape(needle)
    return pattern



# -- Qt ------------------------------------------------------------------------------------

_STATUS_ICONS = {
    RowStatus.QUEUED: QStyle.StandardPixmap.SP_FileIcon,
    RowStatus.ACTIVE: QStyle.StandardPixmap.SP_MediaPlay,
    RowStatus.DONE: QStyle.StandardPixmap.SP_DialogApplyButton,
    RowStatus.FAILED: QStyle.StandardPixmap.SP_MessageBoxCritical,
    RowStatus.SKIPPED: QStyle.StandardPixmap.SP_MediaSkipForward,
    RowStatus.WAITING: QStyle.StandardPixmap.SP_BrowserReload,
    RowStatus.STALLED: QStyle.StandardPixmap.SP_MessageBoxWarning,
    RowStatus.UNCONFIRMED: QStyle.StandardPixmap.SP_MessageBoxQuestion,
}

_PROCESSING_ICONS = {
    ProcessingState.PENDING: QStyle.StandardPixmap.SP_BrowserReload,
    ProcessingState.RUNNING: QStyle.StandardPixmap.SP_MediaPlay,
    ProcessingState.OK: QStyle.StandardPixmap.SP_DialogApplyButton,
    ProcessingState.FAILED: QStyle.StandardPixmap.SP_MessageBoxCritical,
}


def _status_icon(row: TransferRow) -> QStyle.StandardPixmap:
    """The status cell's picture: the transfer's, or once received, its processing's."""
    if row.status is RowStatus.DONE and row.processing is not None:
        return _PROCESSING_ICONS[row.processing.state]
    return _STATUS_ICONS[row.status]


_Roles = dict[int, Any]


class TransferTableModel(QStandardItemModel):
    """The rows of ``state.book``, newest first, updated at most every ``flush_ms``.

    Every cell holds finished values (see the module docstring); no method is
    implemented in Python, so views and proxies read it without the GIL.

    Args:
        state: the live state whose book is shown.
        flush_ms: the longest time changes wait before they reach the view.
    """

    def __init__(self, state: LiveState, flush_ms: int = FLUSH_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(0, len(Column), parent)
        self.setHorizontalHeaderLabels([HEADERS[column] for column in Column])
        for column in NUMERIC_COLUMNS:
            self.setHeaderData(column, Qt.Orientation.Horizontal, _RIGHT, _ALIGNMENT)
        self._book = state.book
        self._rows: list[TransferRow] = []  # oldest first
        self._pos: dict[RowKey, int] = {}
        self._shown: dict[RowKey, list[_Roles]] = {}  # what each row's cells hold
        self._dirty: dict[RowKey, TransferRow] = {}
        self._icons: dict[QStyle.StandardPixmap, QIcon] = {}
        self.bars = ProgressBarPixmaps()
        self._flush_listeners: list[weakref.WeakMethod[Callable[[], None]]] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(flush_ms)
        self._timer.timeout.connect(self.on_timer_timeout)
        self._flush_ms = flush_ms
        state.rowsChanged.connect(self.on_state_rows_changed)
        state.rowsDropped.connect(self.on_state_rows_dropped)
        self.on_state_rows_changed(list(state.book.rows.values()))
        self.flush()

    # -- bookkeeping ---------------------------------------------------------------------

    def _display_row(self, pos: int) -> int:
        return len(self._rows) - 1 - pos

    def row_at(self, display_row: int) -> TransferRow:
        """The transfer shown in source row ``display_row``."""
        return self._rows[len(self._rows) - 1 - display_row]

    def on_state_rows_changed(self, rows: list[TransferRow]) -> None:
        for row in rows:
            self._dirty[row.key] = row
        if self._dirty and not self._timer.isActive():
            self._timer.start(self._flush_ms)

    def on_state_rows_dropped(self, keys: list[RowKey]) -> None:
        for key in keys:
            self._dirty.pop(key, None)
        self._prune()

    def flush(self) -> None:
        """Apply every pending change to the model now."""
        self._apply(None)

    def on_timer_timeout(self) -> None:
        # A burst of hundreds of new rows is folded in over several short flushes, so
        # the event loop keeps running in between.
        self._apply(time.perf_counter() + FLUSH_BUDGET_S)

    def _apply(self, deadline: float | None) -> None:
        """Fold pending rows into the model (until ``deadline``, then come back soon)."""
        self._timer.stop()
        pending, self._dirty = self._dirty, {}
        book_rows = self._book.rows
        fresh: list[tuple[TransferRow, list[_Roles]]] = []
        changed: list[tuple[TransferRow, list[_Roles]]] = []
        keys = iter(list(pending))
        for key in keys:
            row = book_rows.get(key)
            if row is None:
                continue
            cells = self._cells(row)
            pos = self._pos.get(key)
            if pos is None:
                fresh.append((row, cells))
            else:
                self._rows[pos] = row  # a new generation of a file replaces the old row
                if self._shown.get(key) != cells:
                    changed.append((row, cells))
            if deadline is not None and time.perf_counter() > deadline:
                break
        for key in keys:  # what the deadline left for the next flush
            self._dirty[key] = pending[key]
        if fresh:
            first = len(self._rows)
            self._rows.extend(row for row, _cells in fresh)
            for offset, (row, _cells) in enumerate(fresh):
                self._pos[row.key] = first + offset
            # One rowsInserted for all new rows (empty cells), filled below.
            self.insertRows(0, len(fresh))
        self._write_rows(fresh + changed)
        if len(self._pos) > len(book_rows):
            self._prune()
        if self._dirty:
            self._timer.start(FOLLOW_UP_MS)

    def _write_rows(self, updates: list[tuple[TransferRow, list[_Roles]]]) -> None:
        """Store each row's cells; one ``dataChanged`` per run of adjacent rows.

        With signals blocked, only the roles whose values changed are written, on the
        items themselves (new cells with ``setItemData``).
        """
        rows: list[int] = []
        blocked = self.blockSignals(True)
        try:
            for row, cells in updates:
                display_row = self._display_row(self._pos[row.key])
                old = self._shown.get(row.key)
                self._shown[row.key] = cells
                rows.append(display_row)
                for column, roles in enumerate(cells):
                    item = cast("QStandardItem | None", self.item(display_row, column))
                    if item is None:
                        # C++ creates the item. Not QStandardItem() and setItem(): an item
                        # made in Python is a PySide subclass whose data() and flags() take
                        # the GIL on every paint, and setItem() keeps Python wrappers that
                        # go stale when the model deletes the items.
                        self.setItemData(self.index(display_row, column), roles)
                        continue
                    old_roles = old[column] if old is not None else {}
                    for role, value in roles.items():
                        previous = old_roles.get(role)
                        if previous is not value and previous != value:
                            item.setData(value, role)
                    for role in old_roles.keys() - roles.keys():
                        item.setData(None, role)
        finally:
            self.blockSignals(blocked)
        for first_row, last_row in _runs(sorted(rows)):
            self.dataChanged.emit(self.index(first_row, 0),
                                  self.index(last_row, len(Column) - 1))
        if rows:
            for ref in self._flush_listeners:
                listener = ref()
                if listener is not None:
                    listener()

    def add_flush_listener(self, method: Callable[[], None]) -> None:
        """Call the bound ``method`` after each flush that changed rows.

        A plain (weak) Python call rather than a signal: a Python slot on a Qt signal
        would wait for the GIL inside C++. Weak, so a view and its model form no reference
        cycle (which the garbage collector might break on an engine thread).
        """
        self._flush_listeners.append(weakref.WeakMethod(method))

    def _cells(self, row: TransferRow) -> list[_Roles]:
        """The roles of each cell of ``row``."""
        cells: list[_Roles] = []
        for column in COLUMNS:
            text = cell_text(row, column)
            roles: _Roles = {_DISPLAY: text}
            sort = sort_value(row, column)
            roles[SORT_ROLE] = float(sort) if isinstance(sort, int | float) else sort
            tooltip = cell_tooltip(row, column)
            if tooltip:
                roles[_TOOLTIP] = tooltip
            if column in NUMERIC_COLUMNS:
                roles[_ALIGNMENT] = _RIGHT
            if column is Column.STATUS:
                held = row.held and row.status in (RowStatus.ACTIVE, RowStatus.QUEUED)
                roles[_DECORATION] = self._icon(QStyle.StandardPixmap.SP_MediaPause if held
                                                else _status_icon(row))
            elif column is Column.FILE:
                roles[FILTER_ROLE] = filter_text(row)
            elif column is Column.PROGRESS and shows_progress(row):
                # The bar carries the percentage; the text stays for screen readers.
                del roles[_DISPLAY]
                roles[_ACCESSIBLE_TEXT] = text
                roles[FRACTION_ROLE] = row.fraction
                roles[_DECORATION] = self.bars.pixmap(percent_of(row.fraction))
            cells.append(roles)
        return cells

    def set_bar_geometry(self, width: int, height: int, ratio: float, palette: QPalette,
                         font: QFont) -> None:
        """Draw progress bars ``width`` × ``height`` with the view's palette and font.

        ``width`` and ``height`` are the progress column's cells less margins; every row's
        bar is redrawn if anything changed.
        """
        if self.bars.configure(width, height, ratio, palette, font):
            updates = [(row, self._cells(row)) for row in self._rows]
            self._write_rows([(row, cells) for row, cells in updates
                              if cells != self._shown.get(row.key)])

    def _prune(self) -> None:
        """Drop rows the book has trimmed (old finished transfers)."""
        book_rows = self._book.rows
        doomed = sorted(self._display_row(pos) for key, pos in self._pos.items()
                        if key not in book_rows)
        for first_row, last_row in reversed(list(_runs(doomed))):
            count = len(self._rows)
            for row in self._rows[count - 1 - last_row:count - first_row]:
                self._shown.pop(row.key, None)
            del self._rows[count - 1 - last_row:count - first_row]
            self.removeRows(first_row, last_row - first_row + 1)
        self._pos = {row.key: i for i, row in enumerate(self._rows)}

    def _icon(self, pixmap: QStyle.StandardPixmap) -> QIcon:
        icon = self._icons.get(pixmap)
        if icon is None:
            icon = self._icons[pixmap] = QApplication.style().standardIcon(pixmap)
        return icon


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted row numbers grouped into ``(first, last)`` runs of adjacent rows."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] + 1 == row:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


class TransferFilterProxy(QSortFilterProxyModel):
    """Sort by value (:data:`SORT_ROLE`) and filter by :class:`FilterMode` and text.

    Both in C++: sorting compares the numbers and folded texts of :data:`SORT_ROLE`, and
    filtering matches :func:`filter_pattern` against :data:`FILTER_ROLE` of the file column.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._mode = FilterMode.ALL
        self._search = ""
        self.setSortRole(SORT_ROLE)
        self.setFilterRole(FILTER_ROLE)
        self.setFilterKeyColumn(Column.FILE)
        self.setDynamicSortFilter(True)

    @property
    def mode(self) -> FilterMode:
        """The current filter."""
        return self._mode

    def set_mode(self, mode: FilterMode) -> None:
        """Show only rows of ``mode``."""
        if mode is not self._mode:
            self._mode = mode
            self._apply()

    def set_search(self, text: str) -> None:
        """Show only rows containing ``text`` (any case)."""
        if text != self._search:
            self._search = text
            self._apply()

    def _apply(self) -> None:
        self.setFilterRegularExpression(QRegularExpression(
            filter_pattern(self._mode, self._search),
            QRegularExpression.PatternOption.DotMatchesEverythingOption))
