"""Pictures of a lab program's state: each differs in shape and colour, not colour alone.

Working, idle and needs attention are the tray's pictures for transferring, idle
and needs attention; silent is a purple diamond crossed by a flat line (no
heartbeat).
"""

from __future__ import annotations

import functools

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPen, QPixmap, QPolygonF

from openmsi_gui.app.lab import ProgramState
from openmsi_gui.app.transfers import AppStatus
from openmsi_gui.ui.icons import status_pixmap

SILENT_COLOUR = QColor("#7b3fa0")
_AS_STATUS = {ProgramState.WORKING: AppStatus.TRANSFERRING, ProgramState.IDLE: AppStatus.IDLE,
              ProgramState.NEEDS_ATTENTION: AppStatus.ERROR}
NAMES = {ProgramState.WORKING: "Working", ProgramState.IDLE: "Idle",
         ProgramState.NEEDS_ATTENTION: "Needs attention", ProgramState.SILENT: "Silent"}
"""What screen readers say for each picture."""


@functools.cache
def state_pixmap(state: ProgramState, size: int = 16) -> QPixmap:
    """A square picture of ``state`` (cached: do not paint on the result)."""
    status = _AS_STATUS.get(state)
    if status is not None:
        return status_pixmap(status, size)
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = float(size)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(SILENT_COLOUR))
    painter.drawPolygon(QPolygonF([QPointF(s / 2, s * 0.02), QPointF(s * 0.98, s / 2),
                                   QPointF(s / 2, s * 0.98), QPointF(s * 0.02, s / 2)]))
    painter.setPen(QPen(QColor("white"), max(1.5, s * 0.1), Qt.PenStyle.SolidLine,
                        Qt.PenCapStyle.RoundCap))
    painter.drawLine(QPointF(s * 0.26, s / 2), QPointF(s * 0.74, s / 2))
    painter.end()
    return pixmap


@functools.cache
def state_icon(state: ProgramState) -> QIcon:
    """An icon of ``state`` at the sizes tables and lists ask for."""
    icon = QIcon()
    for size in (16, 20, 24, 32):
        icon.addPixmap(state_pixmap(state, size))
    return icon
