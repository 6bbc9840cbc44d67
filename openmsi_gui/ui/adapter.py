"""The one place engine events cross into Qt.

Engine threads call :meth:`EngineAdapter.push` (via the bus); events are
queued and delivered on the GUI thread in batches every ``interval_ms``, so a
burst of thousands of events costs the GUI a few slot calls, not thousands.
Log records take the same route, and settings changes (which may be made on
any thread) arrive as a signal on the GUI thread too.
"""

from __future__ import annotations

import collections
import logging
import threading

from PySide6.QtCore import QObject, QTimer, Signal
from shiboken6 import Shiboken

from openmsi_gui.app.settings import Settings, SettingsStore
from openmsi_gui.engine.events import Event, EventBus, LabReports


class EngineAdapter(QObject):
    """Turn engine events and log records into Qt signals on the GUI thread.

    Signals:
        events(list): a batch of :class:`~openmsi_gui.engine.events.Event`, in order.
        records(list): a batch of formatted log lines ``(levelno, text)``.
        labReports(list): the :class:`~openmsi_gui.engine.events.LabReports` of a batch
            (heartbeats and log messages read by a lab reader), in order; they are not
            in :attr:`events`.
        settingsChanged(object): the new :class:`~openmsi_gui.app.settings.Settings`
            after an update of ``store``: at once when the GUI thread made it, else
            with the next batch (only the latest of several).

    Args:
        bus: the engine events to deliver.
        interval_ms: how often batches are delivered.
        parent: the Qt parent.
        store: the settings whose changes :attr:`settingsChanged` announces.
    """

    events = Signal(list)
    records = Signal(list)
    labReports = Signal(list)
    settingsChanged = Signal(object)

    def __init__(self, bus: EventBus, interval_ms: int = 50,
                 parent: QObject | None = None, store: SettingsStore | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._gui_thread = threading.get_ident()
        self._pending_settings: Settings | None = None
        self._pending: collections.deque[Event] = collections.deque()
        self._pending_records: collections.deque[tuple[int, str]] = collections.deque(
            maxlen=5000)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._flush)
        self._timer.start()
        unsubscribe_bus = self._unsubscribe = bus.subscribe(self.push)
        unsubscribe_store = store.subscribe(self._on_settings) if store else _nothing
        self._unsubscribe_store = unsubscribe_store
        # The bus and the store outlive their listeners: stop listening even without close().
        self.destroyed.connect(lambda *_: (unsubscribe_bus(), unsubscribe_store()))
        self.log_handler = _QueueHandler(self)

    def _on_settings(self, settings: Settings) -> None:
        # No Qt call off the GUI thread: the adapter may be being deleted meanwhile.
        with self._lock:
            self._pending_settings = settings
        if threading.get_ident() == self._gui_thread and Shiboken.isValid(self):
            self._flush_settings()  # whoever updated the store sees its views follow

    def _flush_settings(self) -> None:
        with self._lock:
            settings, self._pending_settings = self._pending_settings, None
        if settings is not None:
            self.settingsChanged.emit(settings)

    def push(self, event: Event) -> None:
        """Queue an event (any thread)."""
        with self._lock:
            self._pending.append(event)

    def push_record(self, levelno: int, text: str) -> None:
        """Queue a log line (any thread)."""
        with self._lock:
            self._pending_records.append((levelno, text))

    def _flush(self) -> None:
        with self._lock:
            events, self._pending = list(self._pending), collections.deque()
            records = list(self._pending_records)
            self._pending_records.clear()
        self._flush_settings()
        lab = [event for event in events if isinstance(event, LabReports)]
        if lab:
            events = [event for event in events if not isinstance(event, LabReports)]
            self.labReports.emit(lab)
        if events:
            self.events.emit(events)
        if records:
            self.records.emit(records)

    def close(self) -> None:
        """Stop listening to the bus and the store, and deliver what is left."""
        self._unsubscribe()
        self._unsubscribe_store()
        self._timer.stop()
        self._flush()


def _nothing(*_args: object) -> None:
    """Unsubscribe from no store."""


class _QueueHandler(logging.Handler):
    def __init__(self, adapter: EngineAdapter) -> None:
        super().__init__(logging.INFO)
        self._adapter = adapter
        # No logger names: the log view is read by technicians (the log file keeps them).
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s",
                                            "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._adapter.push_record(record.levelno, self.format(record))
        except Exception:  # a logging handler must never raise
            self.handleError(record)
