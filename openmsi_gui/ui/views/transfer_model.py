"""The live transfers table: a coalescing Qt model over the :class:`TransferBook`.

The formatting and filtering rules are plain functions at module level so they
can be tested without a ``QApplication``; the Qt classes only arrange them.

:class:`TransferTableModel` mirrors ``LiveState.book.rows`` (newest row first).
``LiveState.rowsChanged`` only marks rows dirty; a 100 ms single-shot timer
folds every dirty row into the model at once: new rows with one
``beginInsertRows``, changed rows with one ``dataChanged`` per run of adjacent
rows. A file whose progress arrives 1000 times a second therefore repaints at
most ten times a second, and a table of thousands of rows never resets.
"""

from __future__ import annotations

import enum
import math
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
)
from PySide6.QtGui import QIcon, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QWidget,
)

from openmsi_gui.app.transfers import RowKey, RowStatus, TransferRow
from openmsi_gui.engine.events import Direction
from openmsi_gui.ui.state import LiveState

FLUSH_MS = 100

SORT_ROLE = int(Qt.ItemDataRole.UserRole)
"""Role with a value to sort by (numbers for numeric columns)."""
FRACTION_ROLE = int(Qt.ItemDataRole.UserRole) + 1
"""Role with the progress fraction (0..1) of the row, in every column."""
ROW_ROLE = int(Qt.ItemDataRole.UserRole) + 2
"""Role with the :class:`TransferRow` itself, in every column."""

Index = QModelIndex | QPersistentModelIndex

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_ACCESSIBLE_TEXT = int(Qt.ItemDataRole.AccessibleTextRole)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class Column(enum.IntEnum):
    """Columns of the transfers table, in order."""

    DIRECTION = 0
    FILE = 1
    STATUS = 2
    PROGRESS = 3
    SIZE = 4
    CHUNKS = 5
    RATE = 6
    ETA = 7
    ERROR = 8


HEADERS = {
    Column.DIRECTION: "Direction",
    Column.FILE: "File",
    Column.STATUS: "Status",
    Column.PROGRESS: "Progress",
    Column.SIZE: "Size",
    Column.CHUNKS: "Chunks",
    Column.RATE: "Rate",
    Column.ETA: "Time left",
    Column.ERROR: "Error",
}
NUMERIC_COLUMNS = frozenset({Column.SIZE, Column.CHUNKS, Column.RATE, Column.ETA})
_COLUMNS = tuple(Column)


class FilterMode(enum.Enum):
    """Which rows the table shows."""

    ALL = "All"
    ACTIVE = "Active"
    FAILED = "Failed"


# -- pure formatting and filtering (no Qt) -----------------------------------------------

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def unit_for(n: float) -> tuple[float, str]:
    """The divisor and unit name that make ``n`` bytes read as 1 to 999.9 units."""
    divisor = 1.0
    for unit in _UNITS:
        if abs(n) < divisor * 999.95 or unit == _UNITS[-1]:
            return divisor, unit
        divisor *= 1000.0
    raise AssertionError("unreachable")  # pragma: no cover


def _number(value: float, unit: str) -> str:
    return f"{value:.0f}" if unit == "B" else f"{value:.1f}"


def format_bytes(n: float) -> str:
    """``n`` bytes in decimal units: ``"0 B"``, ``"512 B"``, ``"12.3 MB"``."""
    divisor, unit = unit_for(n)
    return f"{_number(n / divisor, unit)} {unit}"


def format_size(done: int, total: int) -> str:
    """Bytes moved out of the total, in the total's unit: ``"12.3 / 45.6 MB"``."""
    if total <= 0:
        return format_bytes(done) if done else ""
    if done >= total:
        return format_bytes(total)
    divisor, unit = unit_for(total)
    return f"{_number(done / divisor, unit)} / {_number(total / divisor, unit)} {unit}"


def format_rate(bytes_per_second: float) -> str:
    """A transfer rate: ``"4.2 MB/s"``; empty when nothing is moving."""
    if bytes_per_second <= 0 or not math.isfinite(bytes_per_second):
        return ""
    return f"{format_bytes(bytes_per_second)}/s"


def format_eta(seconds: float | None) -> str:
    """Time left as ``"0:12"`` or ``"1:02:03"``; empty when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def format_chunks(done: int, total: int) -> str:
    """``"3/10"``, or empty before the number of chunks is known."""
    return f"{done}/{total}" if total else ""


def format_percent(fraction: float) -> str:
    """``"42%"`` (rounded down, so 100% means finished)."""
    return f"{math.floor(max(0.0, min(1.0, fraction)) * 100)}%"


def direction_text(direction: Direction) -> str:
    """An arrow and a word, so the direction is not told by the arrow alone."""
    return "↑ Upload" if direction is Direction.UPLOAD else "↓ Download"


def status_text(row: TransferRow) -> str:
    """The row's status in words, aware of the direction."""
    upload = row.direction is Direction.UPLOAD
    return {
        RowStatus.QUEUED: "Queued",
        RowStatus.ACTIVE: "Sending" if upload else "Receiving",
        RowStatus.DONE: "Sent" if upload else "Received",
        RowStatus.FAILED: "Failed",
        RowStatus.SKIPPED: "Skipped",
    }[row.status]


def first_line(text: str) -> str:
    """The first non-empty line of ``text`` (for a one-line table cell)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def folder_id_of(job: str) -> str | None:
    """The watched folder id in a job name ``"folder:<id>"``, else ``None``."""
    prefix, sep, ident = job.partition(":")
    return ident if sep and prefix == "folder" and ident else None


def can_retry(row: TransferRow) -> bool:
    """Whether the app can send ``row`` again: failed uploads from a watched folder."""
    return (row.status is RowStatus.FAILED and row.direction is Direction.UPLOAD
            and folder_id_of(row.job) is not None)


RESEND_HINT = ("A failed download cannot be retried from here: the file has to be sent "
               "again by the sending computer.")


def row_matches(row: TransferRow, mode: FilterMode, search: str = "") -> bool:
    """Whether ``row`` passes the filter ``mode`` and contains ``search`` (any case)."""
    if mode is FilterMode.ACTIVE and row.status not in (RowStatus.ACTIVE, RowStatus.QUEUED):
        return False
    if mode is FilterMode.FAILED and row.status is not RowStatus.FAILED:
        return False
    needle = search.strip().casefold()
    if not needle:
        return True
    haystack = (row.relpath, row.job, row.error, status_text(row), direction_text(row.direction))
    return any(needle in text.casefold() for text in haystack)


_STATUS_ORDER = {RowStatus.ACTIVE: 0, RowStatus.QUEUED: 1, RowStatus.FAILED: 2,
                 RowStatus.DONE: 3, RowStatus.SKIPPED: 4}


def cell_text(row: TransferRow, column: Column) -> str:
    """What one cell shows."""
    if column is Column.DIRECTION:
        return direction_text(row.direction)
    if column is Column.FILE:
        return row.relpath
    if column is Column.STATUS:
        return status_text(row)
    if column is Column.PROGRESS:
        return "" if row.status is RowStatus.SKIPPED else format_percent(row.fraction)
    if column is Column.SIZE:
        return format_size(row.done_bytes, row.total_bytes)
    if column is Column.CHUNKS:
        return format_chunks(row.done_chunks, row.total_chunks)
    if column is Column.RATE:
        return format_rate(row.rate) if row.status in (RowStatus.ACTIVE, RowStatus.DONE) else ""
    if column is Column.ETA:
        return format_eta(row.eta)
    return first_line(row.error)


def sort_value(row: TransferRow, column: Column) -> Any:
    """What one cell sorts by: numbers for numeric columns, folded text otherwise."""
    if column is Column.DIRECTION:
        return row.direction.value
    if column is Column.FILE:
        return row.relpath.casefold()
    if column is Column.STATUS:
        return _STATUS_ORDER[row.status]
    if column is Column.PROGRESS:
        return row.fraction
    if column is Column.SIZE:
        return row.total_bytes or row.done_bytes
    if column is Column.CHUNKS:
        return row.total_chunks
    if column is Column.RATE:
        return row.rate
    if column is Column.ETA:
        eta = row.eta
        return math.inf if eta is None else eta
    return row.error.casefold()


def cell_tooltip(row: TransferRow, column: Column) -> str:
    """A longer explanation of one cell."""
    if column is Column.FILE:
        return f"{row.relpath}\nJob: {row.job}"
    if column is Column.ERROR:
        return row.error
    if column is Column.STATUS:
        text = status_text(row)
        if row.status is RowStatus.FAILED:
            hint = ("Select it and press Retry to send it again." if can_retry(row)
                    else RESEND_HINT)
            return f"{text}: {first_line(row.error)}\n{hint}"
        if row.status is RowStatus.SKIPPED and row.error:
            return f"{text}: {row.error}"
        return text
    if column is Column.SIZE and row.total_bytes:
        return f"{row.done_bytes:,} of {row.total_bytes:,} bytes"
    if column is Column.PROGRESS and row.status is not RowStatus.SKIPPED:
        return f"{format_percent(row.fraction)} done"
    return ""


# -- Qt ------------------------------------------------------------------------------------

_STATUS_ICONS = {
    RowStatus.QUEUED: QStyle.StandardPixmap.SP_FileIcon,
    RowStatus.ACTIVE: QStyle.StandardPixmap.SP_MediaPlay,
    RowStatus.DONE: QStyle.StandardPixmap.SP_DialogApplyButton,
    RowStatus.FAILED: QStyle.StandardPixmap.SP_MessageBoxCritical,
    RowStatus.SKIPPED: QStyle.StandardPixmap.SP_MediaSkipForward,
}


class TransferTableModel(QAbstractTableModel):
    """The rows of ``state.book``, newest first, updated at most every ``flush_ms``.

    Args:
        state: the live state whose book is shown.
        flush_ms: the longest time changes wait before they reach the view.
    """

    def __init__(self, state: LiveState, flush_ms: int = FLUSH_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._book = state.book
        self._rows: list[TransferRow] = list(state.book.rows.values())  # oldest first
        self._pos: dict[RowKey, int] = {row.key: i for i, row in enumerate(self._rows)}
        self._dirty: dict[RowKey, TransferRow] = {}
        self._icons: dict[QStyle.StandardPixmap, QIcon] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(flush_ms)
        self._timer.timeout.connect(self.flush)
        state.rowsChanged.connect(self.on_state_rows_changed)

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
            self._timer.start()

    def flush(self) -> None:
        """Apply every pending change to the model now."""
        self._timer.stop()
        dirty, self._dirty = self._dirty, {}
        book_rows = self._book.rows
        fresh = [book_rows[key] for key in dirty if key not in self._pos and key in book_rows]
        if fresh:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), 0, len(fresh) - 1)
            self._rows.extend(fresh)
            for offset, row in enumerate(fresh):
                self._pos[row.key] = first + offset
            self.endInsertRows()
        changed: list[int] = []
        old_count = len(self._rows) - len(fresh)
        for key in dirty:
            pos = self._pos.get(key)
            current = book_rows.get(key)
            if pos is not None and current is not None and pos < old_count:
                self._rows[pos] = current  # a new generation of a file replaces the old row
                changed.append(self._display_row(pos))
        for first_row, last_row in _runs(sorted(changed)):
            self.dataChanged.emit(self.index(first_row, 0),
                                  self.index(last_row, len(Column) - 1))
        if len(self._pos) > len(book_rows):
            self._prune()

    def _prune(self) -> None:
        """Drop rows the book has trimmed (old finished transfers)."""
        book_rows = self._book.rows
        doomed = sorted(self._display_row(pos) for key, pos in self._pos.items()
                        if key not in book_rows)
        for first_row, last_row in reversed(list(_runs(doomed))):
            count = len(self._rows)
            self.beginRemoveRows(QModelIndex(), first_row, last_row)
            del self._rows[count - 1 - last_row:count - first_row]
            self.endRemoveRows()
        self._pos = {row.key: i for i, row in enumerate(self._rows)}

    def _icon(self, pixmap: QStyle.StandardPixmap) -> QIcon:
        icon = self._icons.get(pixmap)
        if icon is None:
            icon = self._icons[pixmap] = QApplication.style().standardIcon(pixmap)
        return icon

    # -- QAbstractTableModel ---------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def data(self, index: Index, role: int = _DISPLAY) -> Any:
        # Roles are compared as ints: comparing with Qt enum members costs microseconds,
        # and views and proxies call this tens of thousands of times.
        row_number = index.row()
        if not 0 <= row_number < len(self._rows) or not index.isValid():
            return None
        row = self._rows[len(self._rows) - 1 - row_number]
        column = _COLUMNS[index.column()]
        if role in (_DISPLAY, _ACCESSIBLE_TEXT):
            return cell_text(row, column)
        if role == SORT_ROLE:
            return sort_value(row, column)
        if role == FRACTION_ROLE:
            return None if row.status is RowStatus.SKIPPED else row.fraction
        if role == ROW_ROLE:
            return row
        if role == _DECORATION:
            if column is Column.STATUS:
                return self._icon(_STATUS_ICONS[row.status])
            return None
        if role == _TOOLTIP:
            return cell_tooltip(row, column) or None
        if role == _ALIGNMENT and column in NUMERIC_COLUMNS:
            return _RIGHT
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = _DISPLAY) -> Any:
        if orientation is Qt.Orientation.Horizontal and 0 <= section < len(Column):
            if role == _DISPLAY:
                return HEADERS[_COLUMNS[section]]
            if role == _ALIGNMENT and _COLUMNS[section] in NUMERIC_COLUMNS:
                return _RIGHT
        return None


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
    """Sort by value (:data:`SORT_ROLE`) and filter by :class:`FilterMode` and text."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._mode = FilterMode.ALL
        self._search = ""
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    @property
    def mode(self) -> FilterMode:
        """The current filter."""
        return self._mode

    def set_mode(self, mode: FilterMode) -> None:
        """Show only rows of ``mode``."""
        if mode is not self._mode:
            self.beginFilterChange()
            self._mode = mode
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_search(self, text: str) -> None:
        """Show only rows containing ``text`` (any case)."""
        if text != self._search:
            self.beginFilterChange()
            self._search = text
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        """Rows of the current mode that contain the search text."""
        model = self.sourceModel()
        if not isinstance(model, TransferTableModel):
            return True
        return row_matches(model.row_at(source_row), self._mode, self._search)


class ProgressDelegate(QStyledItemDelegate):
    """Draw the progress column as a progress bar with its percentage as text."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        fraction = index.data(FRACTION_ROLE)
        if not isinstance(fraction, float):
            super().paint(painter, option, index)
            return
        widget: QWidget | None = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        item = QStyleOptionViewItem(option)
        self.initStyleOption(item, index)
        item.text = ""
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, item, painter, widget)
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(3, 3, -3, -3)
        bar.state = (option.state
                     | QStyle.StateFlag.State_Horizontal) & ~QStyle.StateFlag.State_Selected
        bar.direction = option.direction
        bar.fontMetrics = option.fontMetrics
        bar.palette = option.palette
        bar.minimum = 0
        bar.maximum = 1000
        bar.progress = round(max(0.0, min(1.0, fraction)) * 1000)
        bar.text = format_percent(fraction)
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, widget)
