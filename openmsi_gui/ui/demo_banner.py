"""The demo window's banner: where to drop files, where they arrive, and buttons to open both."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStyle,
    QWidget,
)

from openmsi_gui.app.demo import DEMO_ARRIVE, DEMO_DROP, DEMO_TITLE, DemoFolders


class PathLabel(QLabel):
    """A path shown whole when it fits, elided in the middle when not (full path as tooltip)."""

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = str(path)
        self.setToolTip(self.path)
        self.setAccessibleName(self.path)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Never wider than the window allows: the buttons beside it stay visible.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(80)
        self._elide()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self.setText(self.fontMetrics().elidedText(self.path, Qt.TextElideMode.ElideMiddle,
                                                   max(self.width(), 80)))


class DemoBanner(QFrame):
    """Says that this is the demo, where to drop files and where they arrive.

    Args:
        folders: the demo's folders.
        parent: the main window.
    """

    def __init__(self, folders: DemoFolders, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folders = folders
        self.setObjectName("demoBanner")
        self.setAccessibleName(DEMO_TITLE)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        icon = QLabel()
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        icon.setPixmap(self.style().standardIcon(
            QStyle.StandardPixmap.SP_MessageBoxInformation).pixmap(size, size))
        row.addWidget(icon)
        row.addWidget(QLabel(f"<b>{DEMO_TITLE}:</b> {DEMO_DROP.lower()}"))
        self.outbox_label = PathLabel(folders.outbox)
        self.inbox_label = PathLabel(folders.inbox)
        self.open_outbox = QPushButton("Open &outbox")
        self.open_outbox.setToolTip(f"Open {folders.outbox}: files you put there are sent")
        self.open_inbox = QPushButton("Open &inbox")
        self.open_inbox.setToolTip(f"Open {folders.inbox}: the sent files arrive there")
        self.open_outbox.clicked.connect(lambda: self.open_folder(folders.outbox))
        self.open_inbox.clicked.connect(lambda: self.open_folder(folders.inbox))
        row.addWidget(self.outbox_label, 1)
        row.addWidget(self.open_outbox)
        row.addSpacing(8)
        row.addWidget(QLabel(f"{DEMO_ARRIVE.lower()}"))
        row.addWidget(self.inbox_label, 1)
        row.addWidget(self.open_inbox)

    def open_folder(self, folder: Path) -> None:
        """Show ``folder`` in the file manager (made again if the user deleted it)."""
        self.folders.create()
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def paintEvent(self, event: QPaintEvent) -> None:
        """A rounded box in the theme's colours (painted, so it follows a theme change)."""
        palette = self.palette()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = QColor(palette.color(QPalette.ColorRole.Highlight))
        fill.setAlpha(40)
        painter.setBrush(fill)
        painter.setPen(palette.color(QPalette.ColorRole.Highlight))
        painter.drawRoundedRect(self.rect().adjusted(1, 1, -1, -1), 4, 4)
        painter.end()
        super().paintEvent(event)
