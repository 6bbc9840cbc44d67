"""The history of every file sent or received, from the registry: search, sort, export.

Registry reads and CSV writes are awaited on the app's I/O executor
(:class:`~openmsi_gui.ui.tasks.Tasks`); what a cell shows comes from
:mod:`openmsi_gui.app.history`, the CSV format from :mod:`openmsi_gui.app.history_export`.
The table's models are in :mod:`openmsi_gui.ui.views.history_model`.
"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QTimer,
    Signal,
)
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.history import (
    HISTORY_LIMIT,
    HistoryColumn,
    HistoryEntry,
    expectations,
    load_history,
)
from openmsi_gui.app.history_export import export_history
from openmsi_gui.app.stalls import resend_target
from openmsi_gui.engine.registry import HistoryRow, Registry
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.status_line import buddy_label
from openmsi_gui.ui.tasks import Purpose, Tasks, asyncSlot
from openmsi_gui.ui.views.audit_window import AuditWindow
from openmsi_gui.ui.views.csv_dialog import ask_csv_path
from openmsi_gui.ui.views.history_model import HistoryFilterProxy, HistoryTableModel
from openmsi_gui.ui.views.tables import setup_sortable_table

REFRESH_DEBOUNCE_MS = 1000


class HistoryView(QWidget):
    """Every transfer in the registry: search, sort by any column, export to CSV.

    Refreshes itself (at most once a second, and only while shown) when files
    complete or fail.

    Signals:
        loaded(int): a refresh finished with this many rows.
        exported(str, int): a CSV file was written with this many rows.
        failed(str): a refresh or export failed, with the reason.

    Args:
        registry: where the history is read from.
        tasks: the app's background work (registry reads and CSV writes).
        state: the live state whose file events trigger a refresh (optional).
        controller: sends selected uploads again ("Send again"; no button without it).
    """

    loaded = Signal(int)
    exported = Signal(str, int)
    failed = Signal(str)

    def __init__(self, registry: Registry, tasks: Tasks, state: LiveState | None = None,
                 parent: QWidget | None = None, controller: AppController | None = None
                 ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.tasks = tasks
        self.controller = controller
        self.setAccessibleName("Transfer history")
        self._loading = False
        self._again = False
        self._stale = True

        self.model = HistoryTableModel(self)
        self.proxy = HistoryFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._build_bar()
        self._build_table()
        self._assemble()
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(REFRESH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.on_debounce_timeout)
        if state is not None:
            state.fileCompleted.connect(self.on_state_file_finished)
            state.fileFailed.connect(self.on_state_file_finished)
            state.fileProcessed.connect(self.on_state_file_finished)
            state.filesUnconfirmed.connect(self.on_state_file_finished)
            state.deliveriesChanged.connect(self.on_state_file_finished)
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset,
                       self.proxy.layoutChanged):
            signal.connect(self._update_count)
        self._update_count()
        self.refresh()

    def _build_bar(self) -> None:
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search path, topic, status, error, hash…")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search history")
        self.search.textChanged.connect(self.on_search_text_changed)
        self.refresh_button = QPushButton("&Refresh")
        self.refresh_button.setToolTip("Read the history again (it also refreshes by itself "
                                       "when files finish)")
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button = QPushButton("E&xport CSV…")
        self.export_button.setToolTip("Save the rows shown (searched and sorted) as a CSV file")
        self.export_button.clicked.connect(self.on_export_clicked)
        self.send_again_button = QPushButton("Send a&gain")
        self.send_again_button.setAccessibleName("Send the selected uploads again")
        self.send_again_button.setToolTip(
            "Send the selected uploads again, every chunk, even if they were sent: for a file "
            "the receivers never got whole (its folder must still be watched)")
        self.send_again_button.setEnabled(False)
        self.send_again_button.setVisible(self.controller is not None)
        self.send_again_button.clicked.connect(self.on_send_again_clicked)
        self.audit_button = QPushButton("&Audit…")
        self.audit_button.setToolTip("Check from the topics that every file sent reached every "
                                     "expected destination (as 'openmsi audit')")
        self.audit_button.setVisible(self.controller is not None)
        self.audit_button.clicked.connect(self.open_audit)
        self.audit_window: AuditWindow | None = None

    def _build_table(self) -> None:
        self.table = QTableView()
        self.table.setAccessibleName("History table")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        setup_sortable_table(self.table, (
            (HistoryColumn.DIRECTION, "↓ Download"), (HistoryColumn.TOPIC, "M" * 9),
            (HistoryColumn.PATH, "M" * 18), (HistoryColumn.SIZE, "888.8 MiB"),
            (HistoryColumn.STATUS, "Superseded"),
            (HistoryColumn.DELIVERY, "Delivered 00:00 · MMMMMMM"), (HistoryColumn.ERROR, "M" * 12),
            (HistoryColumn.STARTED, "2000-00-00 00:00:00"),
            (HistoryColumn.COMPLETED, "2000-00-00 00:00:00")), HistoryColumn.STATUS)
        self.count_label = QLabel()
        self.count_label.setAccessibleName("History count")
        self.message = QLabel()
        self.message.setAccessibleName("History message")
        self.message.setWordWrap(True)

    def _assemble(self) -> None:
        bar = QHBoxLayout()
        bar.addWidget(buddy_label("&Search:", self.search))
        bar.addWidget(self.search, 1)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.export_button)
        bar.addWidget(self.send_again_button)
        bar.addWidget(self.audit_button)
        footer = QHBoxLayout()
        footer.addWidget(self.count_label)
        footer.addWidget(self.message, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addLayout(footer)
        self.setTabOrder(self.search, self.refresh_button)
        self.setTabOrder(self.refresh_button, self.export_button)
        self.setTabOrder(self.export_button, self.send_again_button)
        self.setTabOrder(self.send_again_button, self.audit_button)
        self.setTabOrder(self.audit_button, self.table)
        self.table.selectionModel().selectionChanged.connect(self.on_selection_changed)

    # -- refreshing -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the registry again in the background (coalesced if a read is running)."""
        if self._loading:
            self._again = True
            return
        self._loading = True
        self._again = False
        self._stale = False
        self.refresh_button.setEnabled(False)
        self._load()

    @asyncSlot()
    async def _load(self) -> None:
        try:
            expected = (expectations(self.controller.store.settings)
                         if self.controller is not None else None)
            entries = await self.tasks.run(Purpose.IO, load_history, self.registry,
                                           HISTORY_LIMIT, expected, context=self)
        except Exception as error:  # told to the user
            self.on_history_failed(error)
        else:
            self.on_history_loaded(entries)

    def on_state_file_finished(self, _event: object = None) -> None:
        if not self._debounce.isActive():
            self._debounce.start()

    def on_debounce_timeout(self) -> None:
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:
        """Catch up with refreshes skipped while hidden."""
        super().showEvent(event)
        if self._stale and not self._loading:
            self.refresh()

    def on_history_loaded(self, entries: list[HistoryEntry]) -> None:
        self._finish_loading()
        selected = {self.proxy.mapToSource(i).row() for i in
                    self.table.selectionModel().selectedRows()}
        keys = {self.model.entry(r).key for r in selected}
        current = self.table.currentIndex()
        current_key = (self.model.entry(self.proxy.mapToSource(current).row()).key
                       if current.isValid() else None)
        current_column = current.column() if current.isValid() else 0
        scroll = self.table.verticalScrollBar().value()
        self.model.set_entries(entries)
        if keys or current_key is not None:
            self._reselect(keys, current_key, current_column)
        self.table.verticalScrollBar().setValue(scroll)
        self.loaded.emit(len(entries))
        if self._again:
            self.refresh()

    def on_history_failed(self, error: BaseException) -> None:
        self._finish_loading()
        reason = str(error) or type(error).__name__
        self.message.setText(f"Could not read the history: {reason}")
        self.failed.emit(reason)

    def _finish_loading(self) -> None:
        self._loading = False
        self.refresh_button.setEnabled(True)

    def _reselect(self, keys: set[tuple[str, str, str, float]],
                  current_key: tuple[str, str, str, float] | None, column: int) -> None:
        selection = QItemSelection()
        current = QModelIndex()
        last = self.proxy.columnCount() - 1
        for row, entry in enumerate(self.model.entries):
            if entry.key in keys or entry.key == current_key:
                proxy_index = self.proxy.mapFromSource(self.model.index(row, 0))
                if not proxy_index.isValid():
                    continue
                if entry.key in keys:
                    selection.select(proxy_index, proxy_index.siblingAtColumn(last))
                if entry.key == current_key:
                    current = proxy_index.siblingAtColumn(column)
        selection_model = self.table.selectionModel()
        if current.isValid():
            selection_model.setCurrentIndex(current, QItemSelectionModel.SelectionFlag.NoUpdate)
        selection_model.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    # -- searching and export -----------------------------------------------------------------

    def on_search_text_changed(self, text: str) -> None:
        self.proxy.set_search(text)
        self._update_count()

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count_label.setText(f"{total} transfers" if shown == total
                                 else f"{shown} of {total} transfers")

    def visible_rows(self) -> list[HistoryRow]:
        """The rows shown, in the order shown."""
        return [self.model.entry(self.proxy.mapToSource(self.proxy.index(r, 0)).row()).row
                for r in range(self.proxy.rowCount())]

    def on_export_clicked(self) -> None:
        path = ask_csv_path(self, "Export history", "openmsi-history.csv")
        if path is not None:
            self.export_to(path)

    @asyncSlot()
    async def export_to(self, path: Path) -> None:
        """Write the rows shown to ``path`` as CSV (in the background)."""
        rows = self.visible_rows()
        self.message.setText(f"Exporting {len(rows)} transfers…")
        try:
            count = await self.tasks.run(Purpose.IO, export_history, path, rows, context=self)
        except Exception as error:  # told to the user
            reason = str(error) or type(error).__name__
            self.message.setText(f"Could not export to {path}: {reason}")
            self.failed.emit(reason)
            return
        self.message.setText(f"Exported {count} transfers to {path}")
        self.exported.emit(str(path), count)

    # -- audit ------------------------------------------------------------------------------

    def open_audit(self) -> None:
        """Show the Audit window (one, kept while the view lives)."""
        if self.controller is None:
            return
        if self.audit_window is None:
            self.audit_window = AuditWindow(self.controller, self.tasks,
                                            self.registry.path.parent, self)
        else:
            self.audit_window.reload_targets()
        self.audit_window.show()
        self.audit_window.raise_()
        self.audit_window.activateWindow()

    # -- sending again ------------------------------------------------------------------------

    def selected_rows(self) -> list[HistoryRow]:
        """The transfers selected in the table."""
        return [self.model.entry(self.proxy.mapToSource(index).row()).row
                for index in self.table.selectionModel().selectedRows()]

    def _targets(self) -> list[tuple[str, str]]:
        if self.controller is None:
            return []
        settings = self.controller.store.settings
        found = (resend_target(settings, row) for row in self.selected_rows())
        return list(dict.fromkeys(target for target in found if target is not None))

    def on_selection_changed(self, _selected: QItemSelection,
                             _deselected: QItemSelection) -> None:
        self.send_again_button.setEnabled(bool(self._targets()))

    def on_send_again_clicked(self) -> None:
        if self.controller is None:
            return
        for folder_id, relpath in self._targets():
            self.message.setText(f"Sending {relpath} again…")
            self._tell(self.controller.send_again(folder_id, relpath), relpath)

    @asyncSlot()
    async def _tell(self, future: Future[None], relpath: str) -> None:
        try:
            await self.tasks.wait(future, context=self)
        except Exception as error:  # told to the user
            self.message.setText(f"Could not send {relpath} again: "
                                 f"{str(error) or type(error).__name__}")
        else:
            self.message.setText(f"Queued {relpath} to be sent again, every chunk.")
