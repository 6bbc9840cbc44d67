"""Live application state on the GUI thread: the transfer book, jobs' problems and the status."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from openmsi_gui.app.bandwidth import app_limit, status_text
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import Settings, SettingsStore
from openmsi_gui.app.transfer_rows import job_places
from openmsi_gui.app.transfers import AppStatus, RowKey, TransferBook, TransferRow
from openmsi_gui.engine.events import (
    ConnectionState,
    Event,
    FileCompleted,
    FileDelivery,
    FileFailed,
    FileProcessed,
    FilesFiltered,
    FileUnconfirmed,
    JobId,
    JobState,
    PauseState,
)
from openmsi_gui.ui.adapter import EngineAdapter


class LiveState(QObject):
    """Fold adapter batches into the :class:`TransferBook` and announce changes.

    Views read what is known about jobs (their failures and waits) from
    :attr:`book` and the pause from :attr:`paused`, both kept from engine events.

    Signals:
        rowsChanged(list): the :class:`TransferRow` objects changed by a batch.
        rowsDropped(list): the keys of rows removed from the book (their folder or
            destination was removed, or the user dismissed them).
        statusChanged(object, str): the :class:`AppStatus` and a one-line status.
        fileFailed(object): a :class:`FileFailed` event (for notifications).
        filesUnconfirmed(list): the :class:`FileUnconfirmed` events of one batch (for
            one notification).
        deliveriesChanged(): a batch had destinations' words on files sent (the history).
        fileCompleted(object): a :class:`FileCompleted` event.
        fileProcessed(object): a :class:`FileProcessed` event that ended (ok or failed).
        jobsChanged(list): the :class:`JobState` and :class:`ConnectionState` events of a
            batch, once folded in.
        tick(): once a second (for throughput plots).
        bandwidthChanged(): the app-wide limit in force, or "Limit bandwidth now", changed
            (see :attr:`limit_text`, :attr:`limit_now`).
        filteredChanged(): a destination's download filter left out more files (see
            :attr:`filtered`).
    """

    rowsChanged = Signal(list)
    rowsDropped = Signal(list)
    statusChanged = Signal(object, str)
    fileFailed = Signal(object)
    filesUnconfirmed = Signal(list)
    deliveriesChanged = Signal()
    fileCompleted = Signal(object)
    fileProcessed = Signal(object)
    jobsChanged = Signal(list)
    tick = Signal()
    bandwidthChanged = Signal()
    filteredChanged = Signal()

    def __init__(self, adapter: EngineAdapter, controller: AppController,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.book = TransferBook()
        self.filtered: dict[str, int] = {}  # by job: files its download filter left out
        self.adapter = adapter
        self.controller = controller
        # From then on PauseState events keep these up to date.
        self.paused = controller.paused
        self.paused_until = controller.paused_until
        self._status: tuple[AppStatus, str, bool] | None = None
        self._jobs = set(job_places(controller.store.settings))
        self._bandwidth = controller.store.settings.bandwidth
        self.limit_text = ""  # "Limited to 4 MiB/s" while an app-wide limit is in force
        self.limit_now = self._bandwidth.limit_now
        self.limit_preset = self._bandwidth.preset
        self._refresh_limit()
        self.book.set_places(job_places(controller.store.settings))
        adapter.events.connect(self.on_adapter_events)
        adapter.settingsChanged.connect(self.on_adapter_settings_changed)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.on_timer)
        self._timer.start()

    @classmethod
    def standalone(cls, store: SettingsStore, controller: AppController,
                   parent: QObject) -> LiveState:
        """A live state with an adapter of its own, for a view shown without the app."""
        return cls(EngineAdapter(controller.bus, parent=parent, store=store), controller,
                   parent=parent)

    def on_adapter_events(self, events: list[Event]) -> None:
        changed: dict[int, TransferRow] = {}
        jobs: list[JobState | ConnectionState] = []
        unconfirmed: list[FileUnconfirmed] = []
        for event in events:
            row = self.book.apply(event)
            if row is not None:
                changed[id(row)] = row
                if isinstance(event, FileUnconfirmed):
                    unconfirmed.append(event)
            if isinstance(event, (JobState, ConnectionState)):
                jobs.append(event)
            else:
                self._follow(event)
        for row in self.book.take_touched():
            changed[id(row)] = row
        if changed:
            self.rowsChanged.emit(list(changed.values()))
        if jobs:
            self.jobsChanged.emit(jobs)
        if unconfirmed:
            self.filesUnconfirmed.emit(unconfirmed)
        if any(isinstance(event, FileDelivery) for event in events):
            self.deliveriesChanged.emit()
        filtered = {e.job: e.count for e in events if isinstance(e, FilesFiltered)}
        if filtered:
            self.filtered.update(filtered)
            self.filteredChanged.emit()
        self.refresh_status()

    def _follow(self, event: Event) -> None:
        """Announce a failed or completed file; follow a pause."""
        if isinstance(event, FileFailed):
            self.fileFailed.emit(event)
        elif isinstance(event, FileCompleted):
            self.fileCompleted.emit(event)
        elif isinstance(event, FileProcessed) and event.state.finished:
            self.fileProcessed.emit(event)
        elif isinstance(event, PauseState):
            self.paused, self.paused_until = event.paused, event.until

    def on_adapter_settings_changed(self, settings: Settings) -> None:
        """Name the rows' folders and destinations; drop the rows of removed ones."""
        places = job_places(settings)
        removed = self._jobs - places.keys()
        self._jobs = set(places)
        dropped: list[RowKey] = []
        for job in removed:
            if JobId.parse(job) is not None:
                dropped += self.book.forget_job(job)
        self._bandwidth = settings.bandwidth
        self._refresh_limit()
        renamed = self.book.set_places(places)
        if renamed:
            self.rowsChanged.emit(renamed)
        if dropped:
            self.rowsDropped.emit(dropped)
        self.refresh_status()

    def dismiss(self, keys: list[RowKey]) -> None:
        """Take the rows ``keys`` off the list (they stay in the history)."""
        dropped = self.book.drop(keys)
        if dropped:
            self.rowsDropped.emit(dropped)
        self.refresh_status()

    def on_timer(self) -> None:
        self.book.tick()
        self.tick.emit()
        self.refresh_status()
        self._refresh_limit()  # a timetable moves on by itself

    def _refresh_limit(self) -> None:
        """Emit :attr:`bandwidthChanged` if the limit in force or the toggle changed."""
        bandwidth = self._bandwidth
        state = (status_text(app_limit(bandwidth)), bandwidth.limit_now, bandwidth.preset)
        if state != (self.limit_text, self.limit_now, self.limit_preset):
            self.limit_text, self.limit_now, self.limit_preset = state
            self.bandwidthChanged.emit()

    def refresh_status(self) -> None:
        """Emit :attr:`statusChanged` if the status, its text or the pause changed.

        The pause too: the pause buttons follow it even while a problem keeps the
        status at "needs attention".
        """
        status, text = (self.book.status(self.paused),
                        self.book.status_line(self.paused, self.paused_until))
        if (status, text, self.paused) != self._status:
            self._status = (status, text, self.paused)
            self.statusChanged.emit(status, text)

    @property
    def status(self) -> AppStatus:
        """The current overall status."""
        return self.book.status(self.paused)

    def job_problem(self, job: str) -> tuple[str, str]:
        """Why ``job`` failed and what it waits for (each "" if nothing)."""
        return self.book.job_errors.get(job, ""), (self.book.job_link_problem(job) or
                                                     self.book.job_waits.get(job, ""))
