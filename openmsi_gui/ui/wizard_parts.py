"""Building blocks of the first-run wizard's pages: hints, path rows, the page base.

:class:`FlowPage` shows one step of :class:`~openmsi_gui.app.wizard.SetupFlow`;
the pages themselves are in :mod:`openmsi_gui.ui.wizard_pages` and
:mod:`openmsi_gui.ui.wizard_broker`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
    QWizardPage,
)

from openmsi_gui.app.wizard import FlowError, Step
from openmsi_gui.ui.status_line import StatusLine

if TYPE_CHECKING:
    from openmsi_gui.ui.wizard import SetupWizard


def hint(text: str = "") -> QLabel:
    """A word-wrapped plain-text label."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def step_status(name: str, hide_empty: bool = False) -> StatusLine:
    """A wizard page's status line: a 20 px icon, or a busy bar while work runs."""
    return StatusLine(name, busy_bar=True, hide_empty=hide_empty, icon_size=20)


class FlowPage(QWizardPage):
    """A page showing one step of the flow; Next asks the flow.

    Args:
        owner: the wizard.
        step: the step the page shows.
        title: the page's title.
        subtitle: the sentence under the title ("" for none; pages may set it later).
    """

    def __init__(self, owner: SetupWizard, step: Step, title: str, subtitle: str = "") -> None:
        super().__init__()
        self.setTitle(title)
        if subtitle:
            self.setSubTitle(subtitle)
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
    """A path field (holding ``text``) with a Browse button that opens a folder picker."""

    def __init__(self, name: str, caption: str, text: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = caption
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit(text)
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
