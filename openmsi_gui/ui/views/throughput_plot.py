"""A small line plot of upload and download throughput over the last five minutes.

Drawn with QPainter (QtCharts is not part of PySide6-Essentials). The two
series differ in dash style and in the legend's words, not only in colour.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from openmsi_gui.app.formatting import rate_or_zero
from openmsi_gui.app.throughput import (
    Sample,
    axis_label,
    describe,
    nice_axis,
    recent_rates,
    window_samples,
)
from openmsi_gui.app.transfers import HISTORY_SECONDS
from openmsi_gui.ui.state import LiveState

UP_COLOUR = QColor("#1f77d0")
DOWN_COLOUR = QColor("#d9730d")


class ThroughputPlot(QWidget):
    """Upload (solid line) and download (dashed line) rates of the last five minutes.

    Repaints on every ``LiveState.tick`` (once a second).

    Args:
        state: the live state whose ``book.throughput`` is drawn.
    """

    def __init__(self, state: LiveState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.seconds = HISTORY_SECONDS
        self.setAccessibleName("Throughput plot")
        self.setMinimumHeight(120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setBackgroundRole(QPalette.ColorRole.Base)
        self.setAutoFillBackground(True)
        state.tick.connect(self.on_state_tick)
        self.on_state_tick()

    def sizeHint(self) -> QSize:
        """Wide and short."""
        return QSize(640, 170)

    def samples(self) -> list[Sample]:
        """The samples in the plotted window."""
        return window_samples(self.state.book.throughput, time.time(), self.seconds)

    def on_state_tick(self) -> None:
        text = describe(self.samples())
        self.setAccessibleDescription(text)
        self.setToolTip(text)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        """Axes, gridlines, the two series and the legend."""
        painter = QPainter(self)
        try:
            self._paint(painter)
        finally:
            painter.end()

    def _paint(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text_colour = palette.color(QPalette.ColorRole.Text)
        grid_colour = palette.color(QPalette.ColorRole.Mid)
        metrics = self.fontMetrics()
        line_height = metrics.height()
        now = time.time()
        samples = window_samples(self.state.book.throughput, now, self.seconds)
        peak = max((max(s[1], s[2]) for s in samples), default=0)
        top, step = nice_axis(float(peak))
        labels = [axis_label(step * i, top) for i in range(round(top / step) + 1)]
        left = max(metrics.horizontalAdvance(label) for label in labels) + 12
        plot = QRectF(left, line_height * 1.6, self.width() - left - 12,
                      self.height() - line_height * 1.6 - line_height - 10)
        if plot.width() < 20 or plot.height() < 20:
            return

        def x_of(second: float) -> float:
            return plot.left() + (second - (now - self.seconds)) / self.seconds * plot.width()

        def y_of(value: float) -> float:
            return plot.bottom() - value / top * plot.height()

        # Title and legend on the first line.
        painter.setPen(text_colour)
        painter.drawText(QRectF(4, 2, plot.right(), line_height), Qt.AlignmentFlag.AlignLeft,
                         "Throughput, last 5 minutes")
        up, down = recent_rates(samples)
        legend = [(f"Download {rate_or_zero(down)}", DOWN_COLOUR, Qt.PenStyle.DashLine),
                  (f"Upload {rate_or_zero(up)}", UP_COLOUR, Qt.PenStyle.SolidLine)]
        x = plot.right()
        for text, colour, style in legend:
            width = metrics.horizontalAdvance(text)
            x -= width
            painter.setPen(text_colour)
            painter.drawText(QRectF(x, 2, width + 2, line_height), Qt.AlignmentFlag.AlignLeft,
                             text)
            x -= 34
            painter.setPen(QPen(colour, 2, style))
            mid = 2 + line_height / 2
            painter.drawLine(QPointF(x, mid), QPointF(x + 28, mid))
            x -= 16

        # Horizontal gridlines with rate labels.
        for i, label in enumerate(labels):
            y = y_of(step * i)
            painter.setPen(QPen(grid_colour, 1, Qt.PenStyle.DotLine if i else
                                Qt.PenStyle.SolidLine))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(text_colour)
            painter.drawText(QRectF(0, y - line_height / 2, left - 6, line_height),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)

        # Vertical gridlines every minute, labelled with the time ago.
        minutes = self.seconds // 60
        for i in range(minutes + 1):
            x = plot.left() + plot.width() * i / minutes
            painter.setPen(QPen(grid_colour, 1, Qt.PenStyle.DotLine))
            painter.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            label = "now" if i == minutes else f"−{minutes - i} min"
            width = metrics.horizontalAdvance(label)
            painter.setPen(text_colour)
            align_x = min(max(x - width / 2, plot.left() - left / 2), plot.right() - width)
            painter.drawText(QRectF(align_x, plot.bottom() + 4, width + 2, line_height),
                             Qt.AlignmentFlag.AlignLeft, label)

        if not any(s[1] or s[2] for s in samples):
            painter.setPen(text_colour)
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter,
                             "Nothing moved in the last 5 minutes")
            return

        painter.save()
        painter.setClipRect(plot.adjusted(-1, -2, 1, 1))
        for column, colour, style in ((2, DOWN_COLOUR, Qt.PenStyle.DashLine),
                                      (1, UP_COLOUR, Qt.PenStyle.SolidLine)):
            points = QPolygonF([QPointF(x_of(s[0] + 1), y_of(s[column])) for s in samples])
            pen = QPen(colour, 2, style)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            painter.setPen(pen)
            painter.drawPolyline(points)
        painter.restore()
