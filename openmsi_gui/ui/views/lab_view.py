"""The Lab view: every program reporting on the lab's heartbeat topic, and its log lines.

Choose the broker profile and the topics (defaults: the topics this app reports
to), then *Read*: the choice is saved, and :class:`~openmsi_gui.ui.lab_state.LabState`
reads them from then on, even while the view is not shown (for notifications).
The table (:mod:`openmsi_gui.ui.views.lab_model`) is searchable and sortable;
a state is shown by a picture that differs in shape, its word, and for a
program that needs attention or is silent, its problem as a tooltip. The pane
under the table shows the selected program and its recent log lines; *Forget*
removes a program gone for good. Words come from :mod:`openmsi_gui.app.lab_table`
and :mod:`openmsi_gui.app.lab_reading`.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QItemSelection, QModelIndex, Qt, Signal
from PySide6.QtGui import QFontDatabase, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app.lab import ProgramRow
from openmsi_gui.app.lab_reading import (
    LabTarget,
    chosen,
    log_text,
    no_log_lines,
    program_summary,
    view_choice,
    view_status,
)
from openmsi_gui.app.lab_table import Column
from openmsi_gui.app.settings import Settings, SettingsStore
from openmsi_gui.app.status import StatusKind
from openmsi_gui.ui.lab_state import LabState
from openmsi_gui.ui.status_line import StatusLine, buddy_label, line_edit
from openmsi_gui.ui.views.lab_model import COLUMNS, PROGRAM_ROLE, LabTableModel
from openmsi_gui.ui.views.tables import setup_sortable_table

LOG_LINES = 500
"""Log lines shown for the selected program."""


class LabTable(QTableView):
    """The programs' table, painted holding the GIL throughout.

    Painting asks the model (Python) for every visible cell. A reader's thread
    that decodes an hour of heartbeats holds the GIL most of the time, and each
    of those calls waited for it: a repaint took a tenth of a second. A Python
    ``paintEvent`` takes the GIL once, and the model's calls inside it keep it.
    """

    def paintEvent(self, event: QPaintEvent) -> None:
        """Paint as Qt does, in one go (see the class docstring)."""
        super().paintEvent(event)


class LabView(QWidget):
    """Choose what to read; the programs heard from; the selected one's log lines.

    Signals:
        selectedChanged(str): the selected program's id ("" for none).

    Args:
        store: the settings (the Lab view's choice is saved there).
        lab: the programs and the reader.
    """

    selectedChanged = Signal(str)

    def __init__(self, store: SettingsStore, lab: LabState,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.lab = lab
        self.setAccessibleName("Lab overview")
        self._loaded: LabTarget | None = None
        self._settings = store.settings
        self._said: tuple[StatusKind, str] | None = None
        self._selected = ""
        self._build_form()
        self._build_table()
        self._build_detail()
        self._assemble()
        self.load_choice(store.settings)
        lab.rowsRefreshed.connect(self.on_lab_rows_refreshed)
        lab.logsArrived.connect(self.on_lab_logs_arrived)
        lab.readingChanged.connect(self.show_summary)
        lab.adapter.settingsChanged.connect(self.load_choice)
        self.on_lab_rows_refreshed(lab.rows, lab.now)

    def _build_form(self) -> None:
        self.profile = QComboBox()
        self.profile.setAccessibleName("Broker profile of the lab")
        self.profile.setToolTip("The broker your lab's programs send their heartbeats to")
        self.heartbeat_topic = line_edit(
            "Heartbeat topic", "The topic the programs send heartbeats to (OpenMSIStream's "
            "--heartbeat_topic_name)", "openmsi_heartbeats")
        self.log_topic = line_edit(
            "Log topic", "The topic the programs send their warnings and errors to "
            "(OpenMSIStream's --log_topic_name); empty for none", "none")
        self.read_button = QPushButton("&Read")
        self.read_button.setToolTip("Read these topics from now on (saved); the last hour "
                                    "is read first")
        self.read_button.clicked.connect(self.on_read_clicked)
        self.heartbeat_topic.textChanged.connect(self._update_buttons)
        self.heartbeat_topic.returnPressed.connect(self.on_read_clicked)
        self.log_topic.returnPressed.connect(self.on_read_clicked)
        self.status = StatusLine("Lab overview status")

    def _build_table(self) -> None:
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name, host, job, version, problem…")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search programs")
        self.search.textChanged.connect(self.on_search_text_changed)
        self.model = LabTableModel(self)
        self.table = LabTable()
        self.table.setAccessibleName("Programs table")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        samples = {Column.NAME: "M" * 16, Column.HOST: "M" * 9, Column.LAST_SEEN: "888 min ago",
                   Column.STATE: "Needs attention", Column.FILES_HOUR: "Files (1 h)",
                   Column.BYTES_HOUR: "888.8 MB", Column.WAITING: "Waiting",
                   Column.FAILED: "Failed", Column.FREE: "888.8 GB",
                   Column.VERSION: "OpenMSIStream"}
        setup_sortable_table(self.table, [(COLUMNS.index(c), t) for c, t in samples.items()],
                             COLUMNS.index(Column.STATE))
        # The worst first: with hundreds of programs, a silent one must not be a scroll away.
        self.table.sortByColumn(COLUMNS.index(Column.STATE), Qt.SortOrder.AscendingOrder)
        self.table.selectionModel().selectionChanged.connect(self.on_selection_changed)

    def _build_detail(self) -> None:
        self.detail = QLabel()
        self.detail.setAccessibleName("Selected program")
        self.detail.setTextFormat(Qt.TextFormat.PlainText)
        self.detail.setWordWrap(True)
        # A long unbreakable text from a heartbeat (a version, a path) must not widen the
        # window: the label takes the width it is given.
        self.detail.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.forget_button = QPushButton("&Forget")
        self.forget_button.setAccessibleName("Forget the selected program")
        self.forget_button.setToolTip("Remove a program gone for good from the list (it comes "
                                      "back if it sends a heartbeat again)")
        self.forget_button.setEnabled(False)
        self.forget_button.clicked.connect(self.on_forget_clicked)
        self.logs = QPlainTextEdit()
        self.logs.setReadOnly(True)
        self.logs.setMaximumBlockCount(LOG_LINES)
        self.logs.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.logs.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.logs.setAccessibleName("Log lines of the selected program")
        self.logs.setPlaceholderText(no_log_lines("", ""))

    def _assemble(self) -> None:
        form = QGridLayout()
        form.addWidget(buddy_label("&Broker:", self.profile), 0, 0)
        form.addWidget(self.profile, 0, 1)
        form.addWidget(buddy_label("&Heartbeat topic:", self.heartbeat_topic), 0, 2)
        form.addWidget(self.heartbeat_topic, 0, 3)
        form.addWidget(buddy_label("L&og topic:", self.log_topic), 0, 4)
        form.addWidget(self.log_topic, 0, 5)
        form.addWidget(self.read_button, 0, 6)
        form.setColumnStretch(1, 2)
        form.setColumnStretch(3, 2)
        form.setColumnStretch(5, 2)
        search = QHBoxLayout()
        search.addWidget(buddy_label("&Search:", self.search))
        search.addWidget(self.search, 1)
        detail = QWidget()
        detail_layout = QVBoxLayout(detail)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.detail, 1)
        top.addWidget(self.forget_button, 0, Qt.AlignmentFlag.AlignTop)
        detail_layout.addLayout(top)
        detail_layout.addWidget(self.logs, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addLayout(search)
        layout.addWidget(self.splitter, 1)
        self.setTabOrder(self.profile, self.heartbeat_topic)
        self.setTabOrder(self.heartbeat_topic, self.log_topic)
        self.setTabOrder(self.log_topic, self.read_button)
        self.setTabOrder(self.read_button, self.search)
        self.setTabOrder(self.search, self.table)
        self.setTabOrder(self.table, self.forget_button)
        self.setTabOrder(self.forget_button, self.logs)

    # -- the choice -----------------------------------------------------------------------

    def load_choice(self, settings: Settings) -> None:
        """Show the profiles, and the saved choice unless the fields were edited since."""
        self._settings = settings
        edited = self._loaded is not None and self.typed() != self._loaded
        current = self.profile.currentData()
        choice = view_choice(settings)
        self.profile.blockSignals(True)
        self.profile.clear()
        for profile in settings.profiles:
            self.profile.addItem(profile.name, profile.id)
        wanted = current if edited else choice.profile_id
        self.profile.setCurrentIndex(max(0, self.profile.findData(wanted)))
        self.profile.blockSignals(False)
        if not edited:
            self.heartbeat_topic.setText(choice.heartbeat_topic)
            self.log_topic.setText(choice.log_topic)
            self._loaded = self.typed()
        self._update_buttons()
        self.show_summary()

    def typed(self) -> LabTarget:
        """What the fields say."""
        profile_id = self.profile.currentData()
        return LabTarget(str(profile_id) if profile_id is not None else "",
                         self.heartbeat_topic.text().strip(), self.log_topic.text().strip())

    def _update_buttons(self, _text: str = "") -> None:
        typed = self.typed()
        self.read_button.setEnabled(bool(typed.profile_id and typed.heartbeat_topic))

    def on_read_clicked(self) -> None:
        typed = self.typed()
        if not (typed.profile_id and typed.heartbeat_topic):
            return
        self._loaded = typed
        self.store.update(chosen(self._settings, typed))  # LabState follows

    def show_summary(self) -> None:
        """Say what is read and how the programs are, or what to do first."""
        said = view_status(self._settings, self.lab.reading, self.lab.problem, self.lab.rows)
        if said != self._said:  # once a second: only what changed
            self._said = said
            self.status.say(*said)

    # -- the table ------------------------------------------------------------------------

    def on_lab_rows_refreshed(self, rows: list[ProgramRow], now: dt.datetime) -> None:
        self.model.set_rows(rows, now)
        self.show_summary()
        self._show_detail()

    def on_search_text_changed(self, text: str) -> None:
        self.model.set_search(text)

    def on_selection_changed(self, _selected: QItemSelection,
                             _deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        row = rows[0].data(PROGRAM_ROLE) if rows else None
        self._selected = row.program_id if isinstance(row, ProgramRow) else ""
        self.forget_button.setEnabled(bool(self._selected))
        self._show_detail()
        self._show_logs()
        self.selectedChanged.emit(self._selected)

    def selected(self) -> ProgramRow | None:
        """The selected program, as of the last refresh."""
        at = self.model.position(self._selected) if self._selected else None
        return self.model.row_at(at) if at is not None else None

    def select(self, program_id: str) -> bool:
        """Select ``program_id``'s row (if shown); whether it is."""
        at = self.model.position(program_id)
        if at is None:
            return False
        self.table.selectRow(at)
        self.table.scrollTo(self.model.index(at, 0))
        return True

    def _show_detail(self) -> None:
        row = self.selected()
        text = program_summary(row) if row is not None else ""
        if self.detail.text() != text:
            self.detail.setText(text)

    def _log_id(self) -> str:
        row = self.selected()
        return (row.log_program_id or row.program_id) if row is not None else ""

    def _show_logs(self) -> None:
        lines = self.lab.overview.logs_for(self._selected, LOG_LINES) if self._selected else []
        reading = self.lab.reading
        self.logs.setPlaceholderText(no_log_lines(self._selected,
                                                  reading.log_topic if reading else ""))
        self.logs.setPlainText(log_text(lines))
        self.logs.verticalScrollBar().setValue(self.logs.verticalScrollBar().maximum())

    def on_lab_logs_arrived(self, program_ids: set[str]) -> None:
        if self._log_id() in program_ids:
            self._show_logs()

    def on_forget_clicked(self) -> None:
        if self._selected:
            forgotten, self._selected = self._selected, ""
            self.table.selectionModel().clear()  # and the current row, which would move on
            self.lab.forget(forgotten)

    def logs_text(self) -> str:
        """The log lines shown (tests)."""
        return self.logs.toPlainText()

    def index_of(self, program_id: str) -> QModelIndex:
        """The index of ``program_id``'s first cell (invalid when not shown)."""
        at = self.model.position(program_id)
        return self.model.index(at, 0) if at is not None else QModelIndex()
