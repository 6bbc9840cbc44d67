"""Status icons drawn in code: each state differs in shape and colour, not colour alone."""

from __future__ import annotations

import functools

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

from openmsi_gui.app.transfers import AppStatus

COLOURS = {
    AppStatus.IDLE: QColor("#5f6b7a"),
    AppStatus.TRANSFERRING: QColor("#1f77d0"),
    AppStatus.PAUSED: QColor("#c98a00"),
    AppStatus.ERROR: QColor("#d03030"),
}
LABELS = {
    AppStatus.IDLE: "Idle",
    AppStatus.TRANSFERRING: "Transferring",
    AppStatus.PAUSED: "Paused",
    AppStatus.ERROR: "Needs attention",
}


@functools.cache
def status_pixmap(status: AppStatus, size: int = 64) -> QPixmap:
    """A square picture of ``status`` (cached: do not paint on the result).

    Idle is a hollow ring with a dot, transferring a disc with arrows, paused a rounded square
    with bars, and an error a triangle with "!".
    """
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = COLOURS[status]
    s = float(size)
    white = QPen(QColor("white"), s * 0.09, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(colour))
    if status is AppStatus.ERROR:
        painter.drawPolygon(QPolygonF([QPointF(s / 2, s * 0.06), QPointF(s * 0.96, s * 0.92),
                                       QPointF(s * 0.04, s * 0.92)]))
        painter.setPen(white)
        painter.drawLine(QPointF(s / 2, s * 0.38), QPointF(s / 2, s * 0.62))
        painter.drawPoint(QPointF(s / 2, s * 0.78))
    elif status is AppStatus.PAUSED:
        painter.drawRoundedRect(QRectF(s * 0.06, s * 0.06, s * 0.88, s * 0.88), s * 0.18,
                                s * 0.18)
        painter.setBrush(QBrush(QColor("white")))
        painter.drawRect(QRectF(s * 0.32, s * 0.27, s * 0.12, s * 0.46))
        painter.drawRect(QRectF(s * 0.56, s * 0.27, s * 0.12, s * 0.46))
    elif status is AppStatus.IDLE:
        painter.setPen(QPen(colour, s * 0.14))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(QRectF(s * 0.12, s * 0.12, s * 0.76, s * 0.76))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(colour))
        painter.drawEllipse(QRectF(s * 0.38, s * 0.38, s * 0.24, s * 0.24))
    else:
        painter.drawEllipse(QRectF(s * 0.05, s * 0.05, s * 0.9, s * 0.9))
        painter.setPen(white)
        if status is AppStatus.TRANSFERRING:
            for x, up in ((0.36, True), (0.64, False)):
                top, bottom = s * 0.26, s * 0.74
                tip, tail = (top, bottom) if up else (bottom, top)
                path = QPainterPath(QPointF(s * x, tail))
                path.lineTo(QPointF(s * x, tip))
                path.moveTo(QPointF(s * x - s * 0.1, tip + (s * 0.1 if up else -s * 0.1)))
                path.lineTo(QPointF(s * x, tip))
                path.lineTo(QPointF(s * x + s * 0.1, tip + (s * 0.1 if up else -s * 0.1)))
                painter.drawPath(path)
    painter.end()
    return pixmap


@functools.cache
def status_icon(status: AppStatus) -> QIcon:
    """An icon of ``status`` at the sizes trays ask for."""
    icon = QIcon()
    for size in (16, 22, 24, 32, 48, 64):
        icon.addPixmap(status_pixmap(status, size))
    return icon
