"""The one place engine events cross into Qt.

Engine threads call :meth:`EngineAdapter.push` (via the bus); events are
queued and delivered on the GUI thread in batches every ``interval_ms``, so a
burst of thousands of events costs the GUI a few slot calls, not thousands.
Log records take the same route.
"""

from __future__ import annotations

import collections
import logging
import threading

from PySide6.QtCore import QObject, QTimer, Signal

from openmsi_gui.engine.events import Event, EventBus


class EngineAdapter(QObject):
    """Turn engine events and log records into Qt signals on the GUI thread.

    Signals:
        events(list): a batch of :class:`~openmsi_gui.engine.events.Event`, in order.
        records(list): a batch of formatted log lines ``(levelno, text)``.
    """

    events = Signal(list)
    records = Signal(list)

    def __init__(self, bus: EventBus, interval_ms: int = 50,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._pending: collections.deque[Event] = collections.deque()
        self._pending_records: collections.deque[tuple[int, str]] = collections.deque(
            maxlen=5000)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._flush)
        self._timer.start()
        self._unsubscribe = bus.subscribe(self.push)
        self.log_handler = _QueueHandler(self)

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
        if events:
            self.events.emit(events)
        if records:
            self.records.emit(records)

    def close(self) -> None:
        """Stop listening to the bus and deliver what is left."""
        self._unsubscribe()
        self._timer.stop()
        self._flush()


class _QueueHandler(logging.Handler):
    def __init__(self, adapter: EngineAdapter) -> None:
        super().__init__(logging.INFO)
        self._adapter = adapter
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                                            "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._adapter.push_record(record.levelno, self.format(record))
        except Exception:  # a logging handler must never raise
            self.handleError(record)
