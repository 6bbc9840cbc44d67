"""Progress bars for the transfers table, painted once per width and percent and cached.

Painting the table must call no Python (see :mod:`openmsi_gui.ui.views.transfer_model`),
so each bar is a pixmap the model puts in the cell.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionProgressBar

BAR_MARGIN = 3
"""Pixels between a progress bar and its cell's edges."""
_BAR_WIDTH_STEP = 8


def percent_of(fraction: float) -> int:
    """Whole percent, rounded down like :func:`format_percent`."""
    return math.floor(max(0.0, min(1.0, fraction)) * 100)


class ProgressBarPixmaps:
    """Progress bars with their percentage drawn once into pixmaps and reused.

    One pixmap per percent (0 to 100) for the current size, palette, font and device pixel
    ratio, so the view paints a bar as an icon, without any Python.
    """

    def __init__(self) -> None:
        self.width = 100
        self.height = 16
        self.ratio = 1.0
        self.palette: QPalette | None = None
        self.font: QFont | None = None
        self._cache: dict[tuple[int, int, int, float, int, str], QPixmap] = {}

    def configure(self, width: int, height: int, ratio: float, palette: QPalette,
                  font: QFont) -> bool:
        """Use bars of ``width`` × ``height``; whether anything changed.

        The width is rounded down to a multiple of 8 pixels, so resizing the column
        redraws the bars only every few pixels.
        """
        width = max(_BAR_WIDTH_STEP * 3, width // _BAR_WIDTH_STEP * _BAR_WIDTH_STEP)
        height = max(8, height)
        changed = ((width, height, ratio) != (self.width, self.height, self.ratio)
                   or self.palette is None or self.font is None
                   or palette.cacheKey() != self.palette.cacheKey()
                   or font.key() != self.font.key())
        self.width, self.height, self.ratio = width, height, ratio
        self.palette, self.font = QPalette(palette), QFont(font)
        return changed

    def pixmap(self, percent: int) -> QPixmap:
        """The bar showing ``percent`` (0 to 100)."""
        palette = self.palette if self.palette is not None else QApplication.palette()
        font = self.font if self.font is not None else QApplication.font()
        key = (percent, self.width, self.height, self.ratio, palette.cacheKey(), font.key())
        pixmap = self._cache.get(key)
        if pixmap is None:
            if len(self._cache) > 1000:
                self._cache.clear()
            pixmap = self._cache[key] = self._draw(percent, palette, font)
        return pixmap

    def _draw(self, percent: int, palette: QPalette, font: QFont) -> QPixmap:
        pixmap = QPixmap(round(self.width * self.ratio), round(self.height * self.ratio))
        pixmap.setDevicePixelRatio(self.ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setFont(font)
        bar = QStyleOptionProgressBar()
        bar.rect = QRect(0, 0, self.width, self.height)
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        bar.direction = Qt.LayoutDirection.LeftToRight
        bar.fontMetrics = QFontMetrics(font)
        bar.palette = palette
        bar.minimum = 0
        bar.maximum = 100
        bar.progress = percent
        bar.text = f"{percent}%"
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        QApplication.style().drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)
        painter.end()
        return pixmap
