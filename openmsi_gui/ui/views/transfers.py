"""The transfers view: live progress, throughput and history.

The "Now" page shows every file moving (or recently moved) with where it
comes from or goes to, its progress, rate, time left and error, filterable
(all, active, problems) and searchable, above a throughput plot; the selected
row's error is shown in full under the table; failed uploads can be sent again
and finished rows dismissed. The "History" page lists everything the registry
remembers.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QEvent, QItemSelection, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.transfer_rows import (
    Column,
    FilterMode,
    can_retry,
    can_retry_processing,
    can_send_again,
    folder_id_of,
    row_details,
    selection_hint,
    summary_text,
)
from openmsi_gui.app.transfers import UNFINISHED, RowStatus, TransferRow
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.status_line import buddy_label
from openmsi_gui.ui.tasks import Tasks, asyncSlot
from openmsi_gui.ui.views.history import HistoryView
from openmsi_gui.ui.views.progress_bars import BAR_MARGIN
from openmsi_gui.ui.views.tables import setup_sortable_table
from openmsi_gui.ui.views.throughput_plot import ThroughputPlot
from openmsi_gui.ui.views.transfer_model import TransferFilterProxy, TransferTableModel

RETRY_TIP = ("Send the selected failed uploads again, or retry waiting and stalled downloads "
             "now (Alt+Y)")
SEND_AGAIN_TIP = ("Send the selected uploads again, every chunk, whatever their state: for "
                  "a file the receivers never got whole (Alt+G)")
RETRY_PROCESSING_TIP = ("Run the destination's processor again on the selected received files "
                        "whose processing failed (Alt+O)")
DISMISS_TIP = ("Take the selected failed or finished files off this list; the History "
               "keeps them (Alt+M, or Delete in the table)")


ProcessingRetry = Callable[[str, str], "Future[str]"]
"""Runs a destination's processor again on one received file, ``(job, relpath)``; the
future's result is the sentence to show (:meth:`AppController.retry_processing`)."""


class TransfersView(QWidget):
    """Files moving now, the throughput plot, and the searchable history.

    Args:
        state: live rows, throughput and file events.
        controller: to send failed uploads again.
        registry: the history's source.
        tasks: the app's background work.

    Attributes:
        retry_processing: what *Retry processing* calls for each selected file.
    """

    def __init__(self, state: LiveState, controller: AppController, registry: Registry,
                 tasks: Tasks, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.tasks = tasks
        self.controller = controller
        self.registry = registry
        self.retry_processing: ProcessingRetry = controller.retry_processing
        self.setAccessibleName("Transfers")

        self.model = TransferTableModel(state, parent=self)
        self.proxy = TransferFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.plot = ThroughputPlot(state)
        self._build_controls()
        self._build_table()
        self._build_pages(registry, tasks, state)
        self._connect(state)

    def _build_controls(self) -> None:
        self.filter_combo = QComboBox()
        for mode in FilterMode:
            self.filter_combo.addItem(mode.value, mode)
        self.filter_combo.setAccessibleName("Show transfers")
        self.filter_combo.setToolTip(
            "All rows, only files queued, moving or waiting, or only the problems "
            "(failed, waiting, stalled and unconfirmed files)")
        self.filter_combo.currentIndexChanged.connect(self.on_filter_combo_changed)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search file, job, status, error…")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search transfers")
        self.search.textChanged.connect(self.proxy.set_search)
        self.retry_button = QPushButton("Retr&y")
        self.retry_button.setAccessibleName("Retry failed uploads and waiting downloads")
        self.retry_button.setToolTip(RETRY_TIP)
        self.retry_button.setEnabled(False)
        self.retry_button.clicked.connect(self.on_retry_clicked)
        self.send_again_button = QPushButton("Send a&gain")
        self.send_again_button.setAccessibleName("Send the selected uploads again")
        self.send_again_button.setToolTip(SEND_AGAIN_TIP)
        self.send_again_button.setEnabled(False)
        self.send_again_button.clicked.connect(self.on_send_again_clicked)
        self.retry_processing_button = QPushButton("Retry pr&ocessing")
        self.retry_processing_button.setAccessibleName("Retry processing of the selected files")
        self.retry_processing_button.setToolTip(RETRY_PROCESSING_TIP)
        self.retry_processing_button.setEnabled(False)
        self.retry_processing_button.hide()  # shown once a row's processing failed
        self.retry_processing_button.clicked.connect(self.on_retry_processing_clicked)
        self.dismiss_button = QPushButton("Dis&miss")
        self.dismiss_button.setAccessibleName("Dismiss failed or finished transfers")
        self.dismiss_button.setToolTip(DISMISS_TIP)
        self.dismiss_button.setEnabled(False)
        self.dismiss_button.clicked.connect(self.on_dismiss_clicked)
        self.controls = QHBoxLayout()
        self.controls.addWidget(buddy_label("Sho&w:", self.filter_combo))
        self.controls.addWidget(self.filter_combo)
        self.controls.addSpacing(8)
        self.controls.addWidget(buddy_label("Se&arch:", self.search))
        self.controls.addWidget(self.search, 1)
        self.controls.addWidget(self.retry_button)
        self.controls.addWidget(self.send_again_button)
        self.controls.addWidget(self.retry_processing_button)
        self.controls.addWidget(self.dismiss_button)

    def _build_table(self) -> None:
        self.table = QTableView()
        self.table.setAccessibleName("Transfers now")
        self.table.setModel(self.proxy)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        # Paths keep their start and their name (the extension tells the kind of file).
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        # Unsorted at first: the model's own order is newest first.
        setup_sortable_table(self.table, (
            (Column.DIRECTION, "↓ Download"), (Column.FILE, "M" * 14),
            (Column.PLACE, "M" * 9), (Column.STATUS, "Processing failed"),
            (Column.DELIVERY, "Delivered 00:00 · MMMMMMM"),
            (Column.PROGRESS, "100%  100%"),
            (Column.SIZE, "888.8 / 888.8 MiB"), (Column.CHUNKS, "8888/8888"),
            (Column.RATE, "888.8 MiB/s"), (Column.ETA, "Time left")), Column.STATUS)
        header = self.table.horizontalHeader()
        header.sectionResized.connect(self.on_header_section_resized)
        self.update_progress_bars()

    def _build_pages(self, registry: Registry, tasks: Tasks, state: LiveState) -> None:
        self.summary = QLabel()
        self.summary.setAccessibleName("Transfer summary")
        self.hint = QLabel()
        self.hint.setAccessibleName("Selection hint")
        self.hint.setWordWrap(True)
        self.hint.hide()
        self.message = QLabel()
        self.message.setAccessibleName("Retry result")
        self.message.setWordWrap(True)
        self.message.hide()  # shown with the outcome of a Retry
        self.details = QLabel()
        self.details.setAccessibleName("Selected transfer")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setFrameShape(QFrame.Shape.StyledPanel)
        self.details.setMargin(4)
        self.details.hide()

        table_box = QWidget()
        table_layout = QVBoxLayout(table_box)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addLayout(self.controls)
        table_layout.addWidget(self.table, 1)
        table_layout.addWidget(self.details)
        table_layout.addWidget(self.hint)
        table_layout.addWidget(self.message)
        table_layout.addWidget(self.summary)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.plot)
        self.splitter.addWidget(table_box)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setCollapsible(1, False)
        self.splitter.setSizes([170, 400])
        self.now_page = QWidget()
        self.now_page.setAccessibleName("Transfers now page")
        now_layout = QVBoxLayout(self.now_page)
        now_layout.addWidget(self.splitter)

        self.history = HistoryView(registry, tasks, state, controller=self.controller)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Transfer pages")
        self.tabs.addTab(self.now_page, "&Now")
        self.tabs.addTab(self.history, "&History")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)

    def _connect(self, state: LiveState) -> None:
        self.setTabOrder(self.filter_combo, self.search)
        self.setTabOrder(self.search, self.retry_button)
        self.setTabOrder(self.retry_button, self.send_again_button)
        self.setTabOrder(self.send_again_button, self.retry_processing_button)
        self.setTabOrder(self.retry_processing_button, self.dismiss_button)
        self.setTabOrder(self.dismiss_button, self.table)
        find = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
        find.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        find.activated.connect(self.on_find_activated)
        dismiss = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.table)
        dismiss.setContext(Qt.ShortcutContext.WidgetShortcut)
        dismiss.activated.connect(self.on_dismiss_clicked)

        self.table.selectionModel().selectionChanged.connect(self.on_table_selection_changed)
        # A plain callback, not proxy.dataChanged: a Python slot there would wait for the
        # GIL inside every C++ dataChanged (see transfer_model).
        self.model.add_flush_listener(self.on_model_flushed)
        self.proxy.rowsRemoved.connect(self.update_actions)
        self.proxy.modelReset.connect(self.update_actions)
        state.tick.connect(self.on_state_tick)
        self.on_state_tick()

    # -- progress bars -------------------------------------------------------------------

    def update_progress_bars(self) -> None:
        """Size the model's progress bar pixmaps to the progress column's cells."""
        margin = 2 * BAR_MARGIN
        self.model.set_bar_geometry(
            self.table.columnWidth(Column.PROGRESS) - margin - 2,
            self.table.verticalHeader().defaultSectionSize() - margin,
            # The view's palette: on a theme change the view hears of it before its table.
            self.table.devicePixelRatioF(), self.palette(), self.table.font())

    def on_header_section_resized(self, section: int, _old: int, _new: int) -> None:
        if section == Column.PROGRESS:
            self.update_progress_bars()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        restyled = (QEvent.Type.PaletteChange, QEvent.Type.FontChange, QEvent.Type.StyleChange)
        if hasattr(self, "model") and event.type() in restyled:
            self.update_progress_bars()

    # -- selection and actions ---------------------------------------------------------

    def selected_rows(self) -> list[TransferRow]:
        """The transfers selected in the table."""
        rows = self.table.selectionModel().selectedRows()
        return [self.model.row_at(self.proxy.mapToSource(index).row()) for index in rows]

    def update_actions(self) -> None:
        """Enable Retry and Dismiss for the selection; show the current row in full."""
        rows = self.selected_rows()
        retryable = any(can_retry(row) for row in rows)
        self.retry_button.setEnabled(retryable)
        self.send_again_button.setEnabled(any(can_send_again(row) for row in rows))
        processing = any(can_retry_processing(row) for row in rows)
        self.retry_processing_button.setEnabled(processing)
        if processing:
            self.retry_processing_button.show()
        self.dismiss_button.setEnabled(any(row.status not in UNFINISHED for row in rows))
        hint = selection_hint(rows)
        self.retry_button.setToolTip(hint or RETRY_TIP)
        self.hint.setText(hint)
        self.hint.setVisible(bool(hint))
        current = self.current_row(rows)
        details = row_details(current) if current is not None else ""
        if details != self.details.text():
            self.details.setText(details)
        self.details.setVisible(bool(details))

    def current_row(self, selected: list[TransferRow]) -> TransferRow | None:
        """The row the details pane shows: the current one if selected, else the first."""
        index = self.table.currentIndex()
        if index.isValid() and self.table.selectionModel().isRowSelected(index.row()):
            return self.model.row_at(self.proxy.mapToSource(index).row())
        return selected[0] if selected else None

    def on_table_selection_changed(self, _selected: QItemSelection,
                                   _deselected: QItemSelection) -> None:
        self.update_actions()

    def on_model_flushed(self) -> None:
        if self.table.selectionModel().hasSelection():
            self.update_actions()

    def on_filter_combo_changed(self, index: int) -> None:
        mode = self.filter_combo.itemData(index)
        if isinstance(mode, FilterMode):
            self.proxy.set_mode(mode)
        self.update_actions()

    def on_find_activated(self) -> None:
        target = self.search if self.tabs.currentWidget() is self.now_page \
            else self.history.search
        target.setFocus(Qt.FocusReason.ShortcutFocusReason)
        target.selectAll()

    def on_dismiss_clicked(self) -> None:
        self.state.dismiss([row.key for row in self.selected_rows()
                            if row.status not in UNFINISHED])
        self.update_actions()

    def on_retry_clicked(self) -> None:
        rows = [row for row in self.selected_rows() if can_retry(row)]
        waiting_jobs: dict[str, None] = {}
        stalled_jobs: dict[str, None] = {}
        for row in rows:
            folder_id = folder_id_of(row.job)
            if folder_id is not None:
                self._retry(folder_id, row.relpath)
            elif row.status is RowStatus.STALLED:
                stalled_jobs[row.job] = None
            else:
                waiting_jobs[row.job] = None
        for job in waiting_jobs:
            if job not in stalled_jobs:
                self._retry_waiting(job)
        for job in stalled_jobs:
            self._restart(job)

    def on_send_again_clicked(self) -> None:
        rows = [row for row in self.selected_rows() if can_send_again(row)]
        for row in rows:
            folder_id = folder_id_of(row.job)
            if folder_id is not None:
                self.message.setText(f"Sending {row.relpath} again…")
                self._tell(self.controller.send_again(folder_id, row.relpath),
                           f"Queued {row.relpath} to be sent again, every chunk.",
                           f"Could not send {row.relpath} again")

    def on_retry_processing_clicked(self) -> None:
        for row in self.selected_rows():
            if can_retry_processing(row):
                self._say(f"Processing {row.relpath} again…")
                self._tell(self.retry_processing(row.job, row.relpath), "",
                           f"Could not process {row.relpath} again")

    def _restart(self, job: str) -> None:
        self.message.setText("Reading the stalled downloads again…")
        self._tell(self.controller.restart_job(job),
                   "The destination reads its unfinished files again.",
                   "Could not read them again")

    def _retry_waiting(self, job: str) -> None:
        self._say("Trying the waiting downloads again…")
        self._tell(self.controller.retry_waiting(job),
                   "Asked the destination to try its waiting downloads now.",
                   "Could not retry now")

    def _retry(self, folder_id: str, relpath: str) -> None:
        self._say(f"Sending {relpath} again…")
        self._tell(self.controller.retry_upload(folder_id, relpath),
                   f"Queued {relpath} to be sent again.", f"Could not send {relpath} again")

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()

    @asyncSlot()
    async def _tell(self, future: Future[Any], done: str, failed: str) -> None:
        """Say ``done`` (or what ``future`` says) once it succeeds, else ``failed`` and why."""
        try:
            said = await self.tasks.wait(future, context=self)
        except Exception as error:  # told to the user
            self._say(f"{failed}: {str(error) or type(error).__name__}")
        else:
            self._say(said if isinstance(said, str) and said else done)

    def on_state_tick(self) -> None:
        self.summary.setText(summary_text(self.state.book.summary()))
