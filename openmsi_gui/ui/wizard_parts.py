"""Building blocks of the first-run wizard's pages: status lines, path rows, the page base.

:class:`FlowPage` shows one step of :class:`~openmsi_gui.app.wizard.SetupFlow`;
the pages themselves are in :mod:`openmsi_gui.ui.wizard_pages` and
:mod:`openmsi_gui.ui.wizard_broker`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QWidget,
    QWizardPage,
)

from openmsi_gui.app.transfers import AppStatus
from openmsi_gui.app.wizard import FlowError, Step
from openmsi_gui.ui.icons import status_pixmap

if TYPE_CHECKING:
    from openmsi_gui.ui.wizard import SetupWizard


def result_pixmap(ok: bool, size: int = 20) -> QPixmap:
    """A green disc with a tick for success, the red warning triangle for failure."""
    if not ok:
        return status_pixmap(AppStatus.ERROR, size)
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = float(size)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(QColor("#2e8b3e")))
    painter.drawEllipse(QRectF(s * 0.05, s * 0.05, s * 0.9, s * 0.9))
    painter.setPen(QPen(QColor("white"), s * 0.11, Qt.PenStyle.SolidLine,
                        Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    tick = QPainterPath(QPointF(s * 0.28, s * 0.52))
    tick.lineTo(QPointF(s * 0.44, s * 0.68))
    tick.lineTo(QPointF(s * 0.72, s * 0.34))
    painter.drawPath(tick)
    painter.end()
    return pixmap


def hint(text: str = "") -> QLabel:
    """A word-wrapped plain-text label."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def buddy(text: str, field: QWidget) -> QLabel:
    """A form label whose mnemonic focuses ``field`` (for rows made of several widgets)."""
    label = QLabel(text)
    label.setBuddy(field)
    return label


class Status(QWidget):
    """An icon and a sentence (never colour alone), plus a busy bar while work runs."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.icon = QLabel()
        self.icon.setFixedSize(20, 20)
        self.icon.setAccessibleName(f"{name} icon")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setFixedWidth(80)
        self.busy.setAccessibleName(f"{name}: working")
        self.busy.hide()
        self.text = hint()
        self.text.setAccessibleName(name)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.busy, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.text, 1)

    def show_busy(self, text: str) -> None:
        self.icon.clear()
        self.icon.hide()
        self.busy.show()
        self.text.setText(text)

    def show_result(self, ok: bool, text: str) -> None:
        self.busy.hide()
        self.icon.setPixmap(result_pixmap(ok, 20))
        self.icon.setAccessibleDescription("Success" if ok else "Failure")
        self.icon.show()
        self.text.setText(text)

    def clear(self) -> None:
        self.busy.hide()
        self.icon.clear()
        self.icon.hide()
        self.text.clear()


class FlowPage(QWizardPage):
    """A page showing one step of the flow; Next asks the flow."""

    def __init__(self, owner: SetupWizard, step: Step) -> None:
        super().__init__()
        self.owner = owner
        self.flow = owner.flow
        self.step = step
        self.reason = hint()
        self.reason.setAccessibleName("What is missing")

    def nextId(self) -> int:
        following = self.flow.next_of(self.step)
        return int(following) if following is not None else -1

    def isComplete(self) -> bool:
        if self.step is Step.DONE:
            return self.flow.can_finish()[0] and not self.owner.finishing
        return self.flow.step is self.step and self.flow.can_advance()[0]

    def validatePage(self) -> bool:
        if self.step is Step.DONE:
            return self.flow.can_finish()[0]
        try:
            self.flow.next_step()
        except FlowError as exc:
            self.reason.setText(str(exc))
            return False
        return True

    def cleanupPage(self) -> None:
        # Called when the user goes Back from this page, and for every visited page
        # (last first) when the wizard closes or restarts.
        if self.flow.step is self.step and self.flow.previous_of(self.step) is not None:
            self.flow.back()

    def refresh(self) -> None:
        """Show what the flow says is missing, and let the wizard re-check Next."""
        if self.flow.step is self.step:
            ok, reason = self.flow.can_advance()
            self.reason.setText("" if ok else reason)
            self.owner.check_paths_soon()
        self.completeChanged.emit()


class PathRow(QWidget):
    """A path field with a Browse button that opens a folder picker."""

    def __init__(self, name: str, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = caption
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit()
        self.edit.setAccessibleName(name)
        self.browse = QPushButton("Br&owse…")
        self.browse.setAccessibleName(f"Choose: {name}")
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.browse)
        self.browse.clicked.connect(self.on_browse_clicked)

    def on_browse_clicked(self) -> None:
        start = self.edit.text().strip() or os.path.expanduser("~")
        path = QFileDialog.getExistingDirectory(self, self.caption, start)
        if path:
            self.edit.setText(os.path.normpath(path))
