"""A collapsible "Advanced" section for the forms: settings most people never change.

Consumer groups, chunk sizes, SASL mechanisms, partitions and regular
expressions are words a technician should not have to read to set up a
folder; they stay one click away, folded by default.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QSizePolicy, QToolButton, QVBoxLayout, QWidget


class AdvancedSection(QWidget):
    """A "▸ Advanced" button that shows or hides a form of its own.

    Args:
        title: the button's text (no mnemonic by default: the forms have few letters left).
        parent: the parent widget.

    Attributes:
        toggle: the button (checked while the section is open).
        body: the widget shown and hidden.
        form: the layout to add the section's rows to.
    """

    def __init__(self, title: str = "Advanced", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggle = QToolButton()
        self.toggle.setText(title)
        self.toggle.setAccessibleName(title.replace("&", ""))
        self.toggle.setToolTip("Show or hide the settings most people never change")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setAutoRaise(True)
        self.toggle.toggled.connect(self.on_toggle_toggled)
        self.body = QWidget()
        self.body.setAccessibleName(f"{title.replace('&', '')} settings")
        self.form = QFormLayout(self.body)
        self.form.setContentsMargins(12, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.body.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.body)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

    def is_expanded(self) -> bool:
        """Whether the section is open."""
        return self.toggle.isChecked()

    def set_expanded(self, expanded: bool) -> None:
        """Open or fold the section."""
        self.toggle.setChecked(expanded)

    def on_toggle_toggled(self, checked: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if checked else Qt.ArrowType.RightArrow)
        self.body.setVisible(checked)
