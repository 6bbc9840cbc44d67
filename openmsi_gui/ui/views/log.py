"""The log view: the engine's log lines with a level filter.

Lines arrive in batches from :attr:`EngineAdapter.records`. The last
:data:`MAX_LINES` are kept in memory so that changing the level filter can
show lines it hid before; the text box is bounded the same way.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterable

from PySide6.QtGui import QFontDatabase, QTextCursor
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.ui.adapter import EngineAdapter

MAX_LINES = 5000

LEVELS = (("Debug", logging.DEBUG), ("Info", logging.INFO), ("Warning", logging.WARNING),
          ("Error", logging.ERROR))
"""The filter's choices: each shows its level and above."""

Record = tuple[int, str]
"""``(levelno, formatted line)`` as the adapter delivers them."""


def visible_lines(records: Iterable[Record], minimum: int) -> list[str]:
    """The lines of ``records`` at ``minimum`` level or above, in order."""
    return [text for levelno, text in records if levelno >= minimum]


class LogView(QWidget):
    """Engine log lines, filterable by level.

    Args:
        adapter: delivers the log lines (attach ``adapter.log_handler`` to a logger).
        max_lines: how many lines are kept.
    """

    def __init__(self, adapter: EngineAdapter, parent: QWidget | None = None,
                 max_lines: int = MAX_LINES) -> None:
        super().__init__(parent)
        self.adapter = adapter
        self.setAccessibleName("Log")
        self.records: collections.deque[Record] = collections.deque(maxlen=max_lines)

        self.level_combo = QComboBox()
        for name, levelno in LEVELS:
            self.level_combo.addItem(f"{name} and above" if levelno < logging.ERROR else name,
                                     levelno)
        self.level_combo.setCurrentIndex(1)
        self.level_combo.setAccessibleName("Minimum log level")
        self.level_combo.setToolTip("Show lines of this level and more severe ones")
        self.level_combo.currentIndexChanged.connect(self.on_level_combo_changed)
        level_label = QLabel("Le&vel:")
        level_label.setBuddy(self.level_combo)
        self.copy_button = QPushButton("&Copy all")
        self.copy_button.setToolTip("Copy the lines shown to the clipboard")
        self.copy_button.clicked.connect(self.on_copy_clicked)
        self.clear_button = QPushButton("Cl&ear")
        self.clear_button.setToolTip("Forget the lines collected so far")
        self.clear_button.clicked.connect(self.on_clear_clicked)

        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(max_lines)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setAccessibleName("Log lines")
        self.text.setPlaceholderText("Nothing logged yet.")

        bar = QHBoxLayout()
        bar.addWidget(level_label)
        bar.addWidget(self.level_combo)
        bar.addStretch(1)
        bar.addWidget(self.copy_button)
        bar.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.text, 1)
        self.setTabOrder(self.level_combo, self.copy_button)
        self.setTabOrder(self.copy_button, self.clear_button)
        self.setTabOrder(self.clear_button, self.text)
        adapter.records.connect(self.on_adapter_records)

    @property
    def minimum_level(self) -> int:
        """The lowest level shown."""
        value = self.level_combo.currentData()
        return value if isinstance(value, int) else logging.INFO

    def set_minimum_level(self, levelno: int) -> None:
        """Show lines of ``levelno`` and above (one of :data:`LEVELS`)."""
        index = self.level_combo.findData(levelno)
        if index >= 0:
            self.level_combo.setCurrentIndex(index)

    def on_adapter_records(self, records: list[Record]) -> None:
        self.records.extend(records)
        lines = visible_lines(records[-self.records.maxlen:] if self.records.maxlen
                              else records, self.minimum_level)
        if lines:
            following = (self.text.horizontalScrollBar().value() == 0 and
                         self.text.verticalScrollBar().value()
                         == self.text.verticalScrollBar().maximum())
            self.text.appendPlainText("\n".join(lines))
            if following:
                self._cursor_to_last_line()

    def _cursor_to_last_line(self) -> None:
        """Put the cursor at the start of the last line, scrolled there.

        The text cursor follows appended text to the end of the last line; showing
        the view (or focusing it) then scrolls sideways to it, and a long last line
        left every other line looking empty.
        """
        cursor = self.text.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.movePosition(QTextCursor.MoveOperation.StartOfBlock)
        self.text.setTextCursor(cursor)

    def on_level_combo_changed(self, _index: int) -> None:
        self.refilter()

    def refilter(self) -> None:
        """Show the kept lines again under the current filter, scrolled to the end."""
        self.text.setPlainText("\n".join(visible_lines(self.records, self.minimum_level)))
        self._cursor_to_last_line()

    def on_copy_clicked(self) -> None:
        QApplication.clipboard().setText(self.text.toPlainText())

    def on_clear_clicked(self) -> None:
        self.records.clear()
        self.text.clear()
