"""A bandwidth-limit field (rclone's ``--bwlimit`` syntax) with its inline problem."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QWidget

from openmsi_gui.app.bandwidth import LIMIT_HINT, limit_problem
from openmsi_gui.app.text import sentence
from openmsi_gui.ui.status_line import inline_error, line_edit, with_error


class BandwidthField:
    """A line edit for a limit, and a red line under it while the text is not one.

    Args:
        name: the accessible name, e.g. "Bandwidth limit".
        placeholder: shown while the field is empty.
        required: an empty (or "off") limit is a problem too (the preset).
    """

    def __init__(self, name: str, placeholder: str = "no limit",
                 required: bool = False) -> None:
        self.required = required
        self.edit: QLineEdit = line_edit(name, f"Bytes per second, {LIMIT_HINT}", placeholder)
        self.error = inline_error(f"{name} problem")
        self.widget: QWidget = with_error(self.edit, self.error)
        self.edit.textChanged.connect(self.check)

    def text(self) -> str:
        """The limit as typed, trimmed."""
        return self.edit.text().strip()

    def set_text(self, text: str) -> None:
        """Show ``text`` (and its problem, if any)."""
        self.edit.setText(text)
        self.edit.setCursorPosition(0)

    def problem(self) -> str | None:
        """What is wrong with the text, as a sentence (None if nothing)."""
        problem = limit_problem(self.text(), self.required)
        return sentence(problem) if problem is not None else None

    def check(self) -> bool:
        """Show or hide the problem line; whether the text is a limit."""
        problem = self.problem()
        self.error.setText(problem or "")
        self.error.setVisible(problem is not None)
        return problem is None
