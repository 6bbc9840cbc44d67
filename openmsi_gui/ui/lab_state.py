"""The lab overview on the GUI thread: its reader, its programs, and their changes.

:class:`LabState` owns the :class:`~openmsi_gui.engine.lab_reader.LabReader` of
the Lab view's choice (:func:`~openmsi_gui.app.lab_reading.lab_target`): it
starts one when a profile and topic are chosen, starts another when the choice
(or that profile) changes, and stops it at quit, all on the app's executors
(:mod:`openmsi_gui.ui.tasks`). The reader publishes
:class:`~openmsi_gui.engine.events.LabReports` on the engine bus; the adapter
delivers them here, and they are folded into the
:class:`~openmsi_gui.app.lab.LabOverview`, which only this GUI thread touches.

Folding is cheap per heartbeat but a reader catching up on an hour of 500
programs delivers a hundred thousand of them at once, so they are folded a few
milliseconds at a time (:data:`FOLD_BUDGET_S`) with the event loop running in
between. Once a second (:data:`TICK_MS`) the rows are computed and announced,
and state changes are passed on for notifications. The programs heard from are
remembered per broker and topic (:class:`~openmsi_gui.app.lab_store.LabStore`),
read and written on the I/O executor.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import itertools
import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.lab import LabOverview, ProgramRow
from openmsi_gui.app.lab_reading import LabTarget, lab_target
from openmsi_gui.app.lab_store import LabStore
from openmsi_gui.app.settings import BrokerProfile, Settings
from openmsi_gui.app.text import error_sentence
from openmsi_gui.engine.events import EventBus, LabReports
from openmsi_gui.engine.lab_reader import LabReader
from openmsi_gui.engine.lab_wire import Heartbeat, LogBatch, utc_now
from openmsi_gui.ui.adapter import EngineAdapter
from openmsi_gui.ui.tasks import Purpose, Tasks, asyncSlot

log = logging.getLogger(__name__)

TICK_MS = 1000
"""How often rows are recomputed and changes looked for."""
STOP_WAIT_S = 10.0
"""How long quitting waits for a reader being started (a keychain prompt) at most."""
FOLD_BUDGET_S = 0.006
"""How long one go may fold heartbeats into the overview before the event loop runs."""
QUIET_AFTER_PROBLEM_S = 20.0
"""How long changes wait, once the reader reads again, for the beats it missed meanwhile
(and for the programs cut off from the same broker to reconnect: librdkafka waits up to
10 s between attempts)."""

_Item = tuple[Heartbeat | LogBatch, dt.datetime]
_Running = tuple[LabTarget, BrokerProfile]


class LabState(QObject):
    """The programs heard from on the lab's heartbeat topic, refreshed once a second.

    Signals:
        rowsRefreshed(list, object): every program's :class:`ProgramRow` and the time
            they were computed for (aware UTC), at most once a tick.
        logsArrived(set): the program ids (log program ids) that got log lines.
        changed(list): the :class:`StateChange` list of a tick (for notifications).
        readingChanged(): the reader started, stopped or reported a problem (see
            :attr:`reading`, :attr:`problem`).

    Args:
        adapter: delivers the reader's reports.
        controller: the settings and the broker profiles' client settings.
        tasks: the app's executors (starting and stopping readers).
        bus: where readers publish.
        clock: the current time (aware UTC); tests move it.
        reader_factory: makes a reader (tests may make another).
        remember: keep the programs heard from between runs (a store per broker and topic).
    """

    rowsRefreshed = Signal(list, object)
    logsArrived = Signal(set)
    changed = Signal(list)
    readingChanged = Signal()

    def __init__(self, adapter: EngineAdapter, controller: AppController, tasks: Tasks,
                 bus: EventBus, clock: Callable[[], dt.datetime] = utc_now,
                 reader_factory: Callable[..., LabReader] = LabReader,
                 remember: bool = True, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.adapter = adapter
        self.controller = controller
        self.tasks = tasks
        self.bus = bus
        self.clock = clock
        self.reader_factory = reader_factory
        self.remember = remember
        self.overview = LabOverview()
        self.rows: list[ProgramRow] = []
        self.now = clock()
        self.problem = ""
        self._pending: collections.deque[_Item] = collections.deque()
        self._new_logs: set[str] = set()
        self._reader: LabReader | None = None
        self._running: _Running | None = None
        self._source = ""
        self._names = itertools.count(1)
        self._following = False
        self._again = False
        self._stopped = False
        self._quiet_until = 0.0
        self._heard_from: dt.datetime | None = None  # since the reader's last outage
        self._fold_timer = QTimer(self)
        self._fold_timer.setSingleShot(True)
        self._fold_timer.setInterval(0)
        self._fold_timer.timeout.connect(self._fold)
        self._announce_timer = QTimer(self)
        self._announce_timer.setSingleShot(True)
        self._announce_timer.setInterval(0)
        self._announce_timer.timeout.connect(self._announce)
        self._tick_timer = QTimer(self)
        self._tick_timer.setInterval(TICK_MS)
        self._tick_timer.timeout.connect(self.refresh)
        self._tick_timer.start()
        adapter.labReports.connect(self.on_adapter_lab_reports)
        adapter.settingsChanged.connect(self.on_adapter_settings_changed)

    # -- the reader -----------------------------------------------------------------------

    @property
    def reading(self) -> LabTarget | None:
        """What the running reader reads (None when none runs)."""
        return self._running[0] if self._running is not None else None

    def start(self) -> None:
        """Start reading what the settings say (if anything)."""
        self.follow_settings()

    def on_adapter_settings_changed(self, _settings: Settings) -> None:
        self.follow_settings()

    @asyncSlot()
    async def follow_settings(self) -> None:
        """Start, restart or stop the reader to match the settings (one change at a time)."""
        if self._following:
            self._again = True
            return
        self._following = True
        try:
            self._again = True
            while self._again and not self._stopped:
                self._again = False
                wanted = lab_target(self.controller.store.settings)
                if wanted != self._running:
                    await self._stop_reader()
                    if wanted is not None and not self._stopped:
                        await self._start_reader(*wanted)
        finally:
            self._following = False

    async def _start_reader(self, target: LabTarget, profile: BrokerProfile) -> None:
        self._source = f"lab-{next(self._names)}"
        self._running = (target, profile)
        self._pending.clear()
        self.problem = ""
        self._heard_from = None
        self.overview = LabOverview()  # the previous topic's programs go at once
        self.refresh()
        try:
            config = await self.tasks.run(Purpose.IO, self.controller.kafka_config, profile)
            store = (LabStore.for_topic(config.bootstrap_servers, target.heartbeat_topic)
                     if self.remember else None)
            # Another broker or topic: other programs (read from its store off this thread).
            self.overview = await self.tasks.run(Purpose.IO, LabOverview, store)
            reader = self.reader_factory(config, self.bus, target.heartbeat_topic,
                                         target.log_topic, name=self._source)
            await self.tasks.run(Purpose.NET, reader.start)
        except Exception as error:  # shown in the view; the next change tries again
            log.warning("the Lab view cannot read %s: %s", target.heartbeat_topic, error)
            self.problem = f"Cannot read the lab's topics: {error_sentence(error)}"
        else:
            self._reader = reader
        self.refresh()
        self.readingChanged.emit()

    async def _stop_reader(self) -> None:
        reader, self._reader = self._reader, None
        self._running = None
        self._source = ""
        write = self.overview.store_write(self.clock(), force=True)
        if write is not None:
            await self.tasks.run(Purpose.IO, write)
        if reader is not None:
            try:
                await self.tasks.run(Purpose.NET, reader.stop)
            except Exception:  # the reader is gone either way
                log.exception("the lab reader did not stop cleanly")
            self.readingChanged.emit()

    async def stop(self) -> None:
        """Stop the reader for good (at quit); returns within the reader's stop timeout."""
        self._stopped = True
        self._tick_timer.stop()
        self._fold_timer.stop()
        self._announce_timer.stop()
        deadline = time.monotonic() + STOP_WAIT_S
        while self._following and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # a reader being started: stop it too
        await self._stop_reader()

    # -- reports --------------------------------------------------------------------------

    def on_adapter_lab_reports(self, reports: list[LabReports]) -> None:
        problem = self.problem
        for report in reports:
            if not self._source or report.source != self._source:
                continue  # a reader stopped since (or none of ours)
            self._pending.extend(report.beats)
            self._pending.extend(report.logs)
            problem = report.problem
        if problem != self.problem:
            if not problem:  # the beats sent meanwhile are on their way: wait for them
                self._quiet_until = time.monotonic() + QUIET_AFTER_PROBLEM_S
                self._heard_from = self.clock()
            self.problem = problem
            self.readingChanged.emit()
        if self._pending and not self._fold_timer.isActive():
            self._fold()

    def _fold(self) -> None:
        deadline = time.perf_counter() + FOLD_BUDGET_S
        pending, overview = self._pending, self.overview
        while pending:
            item, seen = pending.popleft()
            if isinstance(item, Heartbeat):
                overview.add_beat(item, seen)
            else:
                overview.add_logs(item, seen)
                self._new_logs.add(item.program_id)
            if not len(pending) % 64 and time.perf_counter() > deadline:
                break
        if pending:
            self._fold_timer.start()

    # -- ticks ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Compute every row now and the changes; announce the rows in the next go.

        Computing the rows and showing them are two goes of the event loop, so
        that neither holds it up for long (a mouse click, a repaint may come in
        between).
        """
        self.now = self.clock()
        self.rows = self.overview.rows(self.now)
        # While the reader cannot read (the lab's broker is away from here), programs only
        # seem silent: no change is told, so no notification blames their PCs.
        quiet = bool(self.problem or self._pending) or time.monotonic() < self._quiet_until
        changes = [] if quiet else self.overview.changes(self.now, self._heard_from)
        write = self.overview.store_write(self.now)
        if write is not None and not self.tasks.closed:
            self.tasks.submit(Purpose.IO, write)
        if changes:
            self.changed.emit(changes)
        self._announce_timer.start()

    def _announce(self) -> None:
        self.rowsRefreshed.emit(self.rows, self.now)
        if self._new_logs:
            logs, self._new_logs = self._new_logs, set()
            self.logsArrived.emit(logs)

    def forget(self, program_id: str) -> None:
        """Forget a program gone for good (it comes back if it beats again)."""
        self.overview.forget(program_id)
        self.refresh()
        self._announce_timer.stop()
        self._announce()  # at once: the user asked
