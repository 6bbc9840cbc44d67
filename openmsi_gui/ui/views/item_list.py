"""The list side of the folders and destinations views: a table and its buttons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

MAX_COLUMN_WIDTH = 220  # pixels; longer names are elided, with the full text as tooltip
# The other columns together take at most this share of the table's width, so the path
# (column 0) keeps enough to be read in a small window.
OTHER_COLUMNS_SHARE = 0.6


@dataclass(frozen=True)
class ListRow:
    """What one row shows: texts of every column, the status icon and the tooltips."""

    item_id: str
    texts: list[str]
    icon: QIcon
    tips: list[str]


def push_button(text: str, name: str, slot: Callable[[], object] | None = None
                ) -> QPushButton:
    """A button with an accessible name, its ``clicked`` connected to ``slot``."""
    button = QPushButton(text)
    button.setAccessibleName(name)
    if slot is not None:
        button.clicked.connect(slot)
    return button


class ItemList(QWidget):
    """A one-selection table of items (the item id in column 0) with Add/Remove/Enable/Pause.

    The owner connects the buttons; :meth:`show_rows` fills the table.
    """

    def __init__(self, noun: str, columns: tuple[str, ...], hint: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(columns))
        self.table.setHorizontalHeaderLabels(list(columns))
        self.table.setAccessibleName(f"{noun.capitalize()}s")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.table.viewport().installEventFilter(self)
        self.delete_shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete),
                                         self.table)
        self.delete_shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)

        self.add_button = push_button("&Add…", f"Add {noun}")
        self.remove_button = push_button("Re&move", f"Remove {noun}")
        self.enable_button = push_button("Disabl&e", f"Enable or disable {noun}")
        self.pause_button = push_button("Pa&use", f"Pause or resume {noun}")
        self.add_button.setToolTip(f"Add a {noun}")
        self.remove_button.setToolTip(f"Stop using the selected {noun} (no files are deleted)")
        self.pause_button.setToolTip("Hold transfers back without disconnecting")
        self.hint = QLabel(hint)
        self.hint.setWordWrap(True)
        self.hint.setAccessibleName("Hint")

        self.buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.enable_button,
                       self.pause_button):
            self.buttons.addWidget(button)
        self.buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(self.buttons)
        layout.addWidget(self.hint)

    def current_id(self) -> str | None:
        """The id of the selected item."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        cell = self.table.item(rows[0].row(), 0)
        return None if cell is None else str(cell.data(Qt.ItemDataRole.UserRole))

    def show_rows(self, rows: list[ListRow]) -> None:
        """Show exactly ``rows``, keeping the selection (without signals) if still there."""
        selected = self.current_id()
        self.table.blockSignals(True)
        try:
            self.table.setRowCount(len(rows))
            for number, row in enumerate(rows):
                self.show_row(number, row)
        finally:
            self.table.blockSignals(False)
        self.fit_columns()
        if selected in {row.item_id for row in rows}:
            self.select_id(selected, notify=False)
        else:
            self.table.clearSelection()

    def show_row(self, number: int, row: ListRow) -> None:
        """Fill the table's row ``number``; the last column gets the icon."""
        for column, text in enumerate(row.texts):
            cell = QTableWidgetItem(text)
            cell.setToolTip(row.tips[column])
            if column == 0:
                cell.setData(Qt.ItemDataRole.UserRole, row.item_id)
            if column == len(row.texts) - 1:
                cell.setIcon(row.icon)
            self.table.setItem(number, column, cell)

    def fit_columns(self) -> None:
        """Size the columns to their contents, leaving the path column enough to read.

        Each of the other columns gets its contents' width, at most
        :data:`MAX_COLUMN_WIDTH` and at most its part of :data:`OTHER_COLUMNS_SHARE`
        of the table's width; the path column stretches over the rest.
        """
        header = self.table.horizontalHeader()
        others = range(1, self.table.columnCount())
        share = int(self.table.viewport().width() * OTHER_COLUMNS_SHARE / max(1, len(others)))
        metrics = self.table.fontMetrics()
        icon = self.table.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize) + 8
        for column in others:
            wanted = header.sectionSizeHint(column)
            for row in range(self.table.rowCount()):
                cell = self.table.item(row, column)
                if cell is not None:
                    extra = icon if not cell.icon().isNull() else 0
                    wanted = max(wanted, metrics.horizontalAdvance(cell.text()) + 16 + extra)
            header.resizeSection(column, max(40, min(wanted, MAX_COLUMN_WIDTH, share)))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Fit the columns whenever the table's visible area changes size."""
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self.fit_columns()
        return super().eventFilter(watched, event)

    def row_of(self, item_id: str) -> int:
        """The row showing ``item_id`` (-1 if none)."""
        for row in range(self.table.rowCount()):
            cell = self.table.item(row, 0)
            if cell is not None and cell.data(Qt.ItemDataRole.UserRole) == item_id:
                return row
        return -1

    def select_id(self, item_id: str, notify: bool = True) -> bool:
        """Select ``item_id``'s row; False if it is not shown.

        Args:
            item_id: the item.
            notify: emit the selection signals (else select quietly).
        """
        row = self.row_of(item_id)
        if row < 0:
            return False
        if notify:
            self.table.selectRow(row)
            return True
        self.table.blockSignals(True)
        try:
            self.table.selectRow(row)
        finally:
            self.table.blockSignals(False)
        return True

    def select_row(self, row: int) -> bool:
        """Select ``row``; clear the selection (and return False) if there is no such row."""
        if 0 <= row < self.table.rowCount():
            self.table.selectRow(row)
            return True
        self.table.clearSelection()
        return False
