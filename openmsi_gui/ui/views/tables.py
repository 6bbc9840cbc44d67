"""Setup shared by the app's sortable tables."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QStyle, QTableView


def setup_sortable_table(table: QTableView, samples: Iterable[tuple[int, str]],
                         icon_column: int) -> None:
    """Sortable (unsorted at first), compact rows, columns sized to sample texts.

    Texts too long for their column are cut in the middle, so that a path keeps
    its first folders and its file name.

    Args:
        table: the view, with its model already set.
        samples: ``(column, widest expected text)`` pairs.
        icon_column: the column whose cells also show an icon.
    """
    table.verticalHeader().hide()
    table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # paths keep both ends
    header = table.horizontalHeader()
    header.setSortIndicatorClearable(True)
    header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
    table.setSortingEnabled(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    metrics = table.fontMetrics()
    table.verticalHeader().setDefaultSectionSize(metrics.height() + 10)
    icon = table.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize) + 6
    for column, sample in samples:
        extra = icon if column == icon_column else 0
        table.setColumnWidth(column, metrics.horizontalAdvance(sample) + 20 + extra)
