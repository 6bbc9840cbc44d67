"""Live application state on the GUI thread: the transfer book and the overall status."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.transfers import AppStatus, TransferBook, TransferRow
from openmsi_gui.engine.events import Event, FileCompleted, FileFailed
from openmsi_gui.ui.adapter import EngineAdapter


class LiveState(QObject):
    """Fold adapter batches into the :class:`TransferBook` and announce changes.

    Signals:
        rowsChanged(list): the :class:`TransferRow` objects changed by a batch.
        statusChanged(object, str): the :class:`AppStatus` and a one-line status.
        fileFailed(object): a :class:`FileFailed` event (for notifications).
        fileCompleted(object): a :class:`FileCompleted` event.
        tick(): once a second (for throughput plots and timed pauses).
    """

    rowsChanged = Signal(list)
    statusChanged = Signal(object, str)
    fileFailed = Signal(object)
    fileCompleted = Signal(object)
    tick = Signal()

    def __init__(self, adapter: EngineAdapter, controller: AppController,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.book = TransferBook()
        self.controller = controller
        self._status: tuple[AppStatus, str] | None = None
        adapter.events.connect(self.on_adapter_events)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.on_timer)
        self._timer.start()

    def on_adapter_events(self, events: list[Event]) -> None:
        changed: dict[int, TransferRow] = {}
        for event in events:
            row = self.book.apply(event)
            if row is not None:
                changed[id(row)] = row
            if isinstance(event, FileFailed):
                self.fileFailed.emit(event)
            elif isinstance(event, FileCompleted):
                self.fileCompleted.emit(event)
        if changed:
            self.rowsChanged.emit(list(changed.values()))
        self.refresh_status()

    def on_timer(self) -> None:
        self.book.tick()
        self.tick.emit()
        self.refresh_status()

    def refresh_status(self) -> None:
        """Emit :attr:`statusChanged` if the status or its text changed."""
        paused = self.controller.paused
        status = (self.book.status(paused),
                  self.book.status_line(paused, self.controller.paused_until))
        if status != self._status:
            self._status = status
            self.statusChanged.emit(*status)

    @property
    def status(self) -> AppStatus:
        """The current overall status."""
        return self.book.status(self.controller.paused)

    def acknowledge_failures(self) -> None:
        """The user looked at the failures."""
        self.book.acknowledge_failures()
        self.refresh_status()
