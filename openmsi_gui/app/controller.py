"""Run the jobs the settings describe, off the GUI thread.

The :class:`AppController` owns the event bus, the registry and one job per
enabled watched folder or destination (a local folder, or an S3 bucket fed
from a local staging folder next to the registry). Every operation that can block
(connecting, flushing, keychain access, starting the embedded broker) runs on
its single *control thread*, in order; GUI code calls the non-blocking
methods and learns the outcome from engine events.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from openmsi_gui.app import destinations, keychain, profiles
from openmsi_gui.app.bandwidth import app_limit, item_limit
from openmsi_gui.app.connection import LinkLog
from openmsi_gui.app.connection_checks import CheckTarget, run_recorded
from openmsi_gui.app.demo_broker import DemoBroker
from openmsi_gui.app.job_specs import job_id, wanted_jobs
from openmsi_gui.app.job_start import JobStarter, Running
from openmsi_gui.app.processing import Reprocessing, retry_sentence
from openmsi_gui.app.settings import (
    BrokerProfile,
    Destination,
    Settings,
    SettingsStore,
    WatchedFolder,
)
from openmsi_gui.app.stalls import StallWatch
from openmsi_gui.engine import admin
from openmsi_gui.engine.bandwidth import Limit
from openmsi_gui.engine.events import (
    ConnectionState,
    ConnectionStatus,
    Event,
    EventBus,
    JobId,
    JobKind,
    JobState,
    JobStatus,
    PauseState,
)
from openmsi_gui.engine.jobs import DownloadJob, WatchJob
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.kafka_log import install_ring
from openmsi_gui.engine.registry import Registry
from openmsi_gui.platform import components

log = logging.getLogger(__name__)


RETRY_SECONDS = 30.0
LOCAL_BROKER_FOLDER = "local-broker"
"""The embedded broker's data, in the data folder (reused by the next start)."""
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before a job that died is restarted, by how often it died in a row
(at most ``retry_seconds``)."""
STEADY_SECONDS = 60.0
"""A job that ran this long before it died starts its back-off afresh."""


class AppController:
    """Keep one running job per enabled folder and destination.

    Args:
        store: the settings; every update is applied.
        bus: where engine events go.
        registry: shared record of transfers.
        secret: keychain lookup (injectable for tests).
        retry_seconds: how long after a job failed to start it is tried again; a job
            that died is restarted sooner at first (see :data:`RESTART_DELAYS`).
        stall_seconds: a file without progress this long is stalled (default: the
            settings' ``ui.stall_minutes``, followed when they change).
    """

    def __init__(self, store: SettingsStore, bus: EventBus, registry: Registry,
                 secret: profiles.SecretLookup = keychain.get_secret,
                 retry_seconds: float = RETRY_SECONDS,
                 stall_seconds: float | None = None) -> None:
        self.store = store
        self.bus = bus
        self.registry = registry
        self._secret = secret
        self._retry_seconds = retry_seconds
        self._control = ThreadPoolExecutor(1, thread_name_prefix="openmsi-control")
        # Broker checks get their own threads: a slow one must not hold up jobs.
        self._probe = ThreadPoolExecutor(2, thread_name_prefix="openmsi-probe")
        self._deaths: dict[JobId, int] = {}  # deaths in a row, for the back-off
        self._jobs: dict[JobId, Running] = {}
        self._reprocessing = Reprocessing(bus, registry)
        # Its data (messages, committed offsets) outlive a quit, next to the registry.
        self._demo = DemoBroker(self._demo_topics, registry.path.parent / LOCAL_BROKER_FOLDER)
        self._paused_until: float | None = None
        self._paused = False
        self._resume_timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._closed = False
        # The app-wide bandwidth limit, shared by every job; changed in place.
        self.bandwidth = Limit(app_limit(store.settings.bandwidth), lasting=False)
        self.stalls = StallWatch(bus, stall_seconds or store.settings.ui.stall_minutes * 60)
        self._fixed_stall = stall_seconds is not None
        self._starter = JobStarter(bus, registry, self.bandwidth, self._config,
                                   lambda: self.apply(self.store.settings), retry_seconds)
        store.subscribe(self._on_settings_changed)
        bus.subscribe(LinkLog(log))  # one line when a job's broker goes, one when it is back
        install_ring()  # warnings for the lab overview's log topic, from the start
        bus.subscribe(self._on_event)
        # KafkaCrypto installed from this process: the jobs waiting for it start at once.
        self._unlisten = components.add_listener(lambda: self.apply(self.store.settings))

    # -- public, non-blocking ---------------------------------------------------

    def start(self) -> Future[None]:
        """Start every enabled job (returns at once)."""
        self.stalls.start()
        return self.apply(self.store.settings)

    def apply(self, settings: Settings) -> Future[None]:
        """Reconcile running jobs with ``settings`` on the control thread."""
        return self._submit(self._apply, settings)

    def _on_settings_changed(self, settings: Settings) -> None:
        if not self._fixed_stall:
            self.stalls.stall_seconds = settings.ui.stall_minutes * 60
        self.apply(settings)

    def _on_event(self, event: Event) -> None:
        """A job whose thread died on an error is restarted (engine threads call this).

        A demo broker that stopped is started again (on its port) once a job says so.
        """
        if (isinstance(event, ConnectionState) and self._demo.started
                and event.status is ConnectionStatus.UNREACHABLE):
            self._submit(self._revive_demo_broker)  # if it is the one that stopped
        if isinstance(event, JobState) and event.state is JobStatus.FAILED and not self._closed:
            ident = JobId.parse(event.job)
            if ident is not None:
                self._submit(self._restart_if_dead, ident)

    def _restart_if_dead(self, ident: JobId) -> None:
        running = self._jobs.get(ident)
        error = running.job.error if running else None
        if running is None or error is None:
            return  # a start failure (already retried) or a job stopped since
        deaths = 0 if time.monotonic() - running.started >= STEADY_SECONDS else (
            self._deaths.get(ident, 0))
        self._deaths[ident] = deaths + 1
        delay = min(RESTART_DELAYS[min(deaths, len(RESTART_DELAYS) - 1)], self._retry_seconds)
        log.warning("%s stopped on an error (%s); it restarts in %.0f s", ident, error, delay)
        # Its failure (already reported) stands until it runs again: no "stopped".
        self._stop_job(ident, announce=False)
        self._starter.schedule_retry(delay)

    def shutdown(self) -> Future[None]:
        """Stop every job and the embedded broker; the future completes when done."""
        future = self._submit(self._shutdown)
        self._closed = True
        return future

    def pause_all(self, seconds: float | None = None) -> Future[None]:
        """Hold every transfer, for ``seconds`` if given (then resume by itself).

        A :class:`PauseState` event tells who listens, as :meth:`resume_all` does.
        """
        with self._lock:
            self._paused = True
            self._paused_until = time.time() + seconds if seconds else None
            if self._resume_timer:
                self._resume_timer.cancel()
                self._resume_timer = None
            if seconds:
                self._resume_timer = threading.Timer(seconds, self.resume_all)
                self._resume_timer.name = "openmsi-resume-timer"
                self._resume_timer.daemon = True
                self._resume_timer.start()
            until = self._paused_until
        self.bus.publish(PauseState("", True, until))
        return self._submit(self._set_paused, True)

    def resume_all(self) -> Future[None]:
        """Undo :meth:`pause_all`."""
        with self._lock:
            self._paused = False
            self._paused_until = None
            if self._resume_timer:
                self._resume_timer.cancel()
                self._resume_timer = None
        self.bus.publish(PauseState("", False))
        return self._submit(self._set_paused, False)

    def limit_bandwidth_now(self, on: bool) -> Future[None]:
        """Turn "Limit bandwidth now" on or off: saved, and applied to every job at once."""
        return self._submit(self._set_limit_now, on)

    def _set_limit_now(self, on: bool) -> None:
        settings = self.store.settings
        settings.bandwidth.limit_now = on
        self.bandwidth.set(app_limit(settings.bandwidth))
        log.info("bandwidth %s", f"limited to {settings.bandwidth.preset} now" if on
                 else "no longer limited by \"Limit bandwidth now\"")
        self.store.update(settings)

    @property
    def paused(self) -> bool:
        """Whether everything is paused."""
        return self._paused

    @property
    def paused_until(self) -> float | None:
        """When a timed pause ends (epoch seconds), if one is in effect."""
        return self._paused_until

    def retry_upload(self, folder_id: str, relpath: str) -> Future[None]:
        """Send ``relpath`` of a watched folder again (after a failure)."""
        return self._submit(self._retry_upload, JobId(JobKind.FOLDER, folder_id), relpath)

    def send_again(self, folder_id: str, relpath: str) -> Future[None]:
        """Send every chunk of ``relpath`` of a watched folder again, whatever the registry says.

        For a file the receivers never got whole (it stalled, the broker lost it).
        """
        return self._submit(self._retry_upload, JobId(JobKind.FOLDER, folder_id), relpath,
                            True)

    def restart_job(self, job_name: str) -> Future[None]:
        """Stop and start a job (named as in its events).

        A destination then reads on again from its committed offsets, so a
        stalled file is fetched again.
        """
        return self._submit(self._restart_job, JobId.parse(job_name))

    def retry_waiting(self, job_name: str) -> Future[None]:
        """Have a destination's job (named as in its events) retry at once what waits."""
        return self._submit(self._retry_waiting, JobId.parse(job_name))

    def retry_processing(self, job_name: str, relpath: str) -> Future[str]:
        """Run a destination's processor again on a received file; the sentence to show."""
        return self._submit(self._retry_processing, JobId.parse(job_name), relpath)

    def reprocess(self, dest: Destination) -> Future[str]:
        """Run ``dest``'s processor over everything on its topic (a fresh group); a sentence.

        The future raises :class:`~openmsi_gui.engine.admin.BrokerError` with a plain
        reason when the broker cannot be read.
        """
        return self._submit_probe(self._reprocess, dest)

    def test_connection(self, profile: BrokerProfile, topic: str = "",
                        password: str = "") -> Future[str]:
        """Check ``profile`` (and ``topic``); the result is a sentence for the user.

        Args:
            profile: the profile to try (it need not be saved).
            topic: also require this topic ("" to skip).
            password: an unsaved password to try instead of the keychain's.

        The future raises :class:`~openmsi_gui.engine.admin.BrokerError` (or
        :class:`~openmsi_gui.app.keychain.KeychainError`) with a plain reason.
        """
        return self._submit_probe(self._test_connection, profile, topic, password)

    def test_s3(self, dest: Destination, secret: str | None = None) -> Future[str]:
        """Check that ``dest``'s bucket can be used; the result is a sentence for the user.

        Args:
            dest: the S3 destination to try (it need not be saved).
            secret: an unsaved secret access key to try instead of the keychain's.

        The future raises :class:`~openmsi_gui.engine.s3.S3Error` (or
        :class:`~openmsi_gui.app.keychain.KeychainError`) with a plain reason.
        """
        return self._submit_probe(self._test_s3, dest, secret)

    def list_topics(self, profile: BrokerProfile) -> Future[list[str]]:
        """The topics on ``profile``'s broker, sorted."""
        return self._submit_probe(lambda: sorted(admin.list_topics(self._config(profile))))

    def create_topic(self, profile: BrokerProfile, topic: str,
                     partitions: int = 3) -> Future[bool]:
        """Create ``topic`` on ``profile``'s broker."""
        return self._submit_probe(lambda: admin.create_topic(self._config(profile), topic,
                                                             partitions))

    def kafka_config(self, profile: BrokerProfile) -> KafkaConfig:
        """The librdkafka settings of ``profile`` (blocks on the keychain: off the GUI thread)."""
        return self._config(profile)

    @property
    def embedded_bootstrap(self) -> str:
        """Address of the embedded broker, if it runs."""
        return self._demo.bootstrap_servers

    # -- control thread ---------------------------------------------------------

    def _submit(self, fn: Any, *args: Any) -> Future[Any]:
        return self._submit_to(self._control, fn, *args)

    def _submit_probe(self, fn: Any, *args: Any) -> Future[Any]:
        return self._submit_to(self._probe, fn, *args)

    def _submit_to(self, pool: ThreadPoolExecutor, fn: Any, *args: Any) -> Future[Any]:
        if self._closed:
            done: Future[Any] = Future()
            done.set_exception(RuntimeError("the application is shutting down"))
            return done
        return pool.submit(fn, *args)

    def _config(self, profile: BrokerProfile, password: str = "") -> KafkaConfig:
        override = ""
        if profile.embedded:
            override = self._demo.ensure().bootstrap_servers

        def secret(owner: str, name: str) -> str | None:
            return password or self._secret(owner, name)

        return profiles.kafka_config(profile, secret, override)

    def _demo_topics(self) -> set[str]:
        """The topics of the enabled folders and destinations on the embedded broker."""
        settings = self.store.settings
        items: list[WatchedFolder | Destination] = [*settings.folders, *settings.destinations]
        return {item.topic for item in items if item.enabled and item.topic and
                (profile := settings.profile(item.profile_id)) is not None and profile.embedded}

    def _revive_demo_broker(self) -> None:
        if not self._closed:
            self._demo.revive()

    def _test_connection(self, profile: BrokerProfile, topic: str, password: str) -> str:
        return run_recorded(self.registry.path.parent, CheckTarget.BROKER, profile.id,
                            profile.name, lambda: admin.probe_broker(
                                self._config(profile, password), topic))

    def _test_s3(self, dest: Destination, secret: str | None) -> str:
        def test() -> str:
            location = (destinations.s3_location(dest, secret) if secret
                        else destinations.load_s3_location(dest, self._secret))
            return destinations.check_s3(location)

        return run_recorded(self.registry.path.parent, CheckTarget.S3, dest.id,
                            destinations.location_text(dest), test)

    def _apply(self, settings: Settings) -> None:
        self.bandwidth.set(app_limit(settings.bandwidth))
        wanted, problems = wanted_jobs(settings, self._secret, self._running_signature)
        for ident in list(self._jobs):
            running = self._jobs[ident]
            entry = wanted.get(ident)
            if entry is None or entry.signature != running.signature:
                self._stop_job(ident)
        self._starter.forget_unwanted(wanted)
        for ident, reason in problems.items():  # after the stops, which say "stopped"
            self.bus.publish(JobState(str(ident), JobStatus.FAILED, reason))
        failed = bool(problems)
        for ident, entry in wanted.items():
            if ident not in self._jobs:
                failed |= not self._starter.start(ident, entry, self._jobs)
            started = self._jobs.get(ident)
            if started is not None:
                started.limit.set(item_limit(entry.item))
                _follow_pause(started, self._paused or entry.item.paused)
                if isinstance(started.job, WatchJob) and isinstance(entry.item, WatchedFolder):
                    started.job.set_sample(entry.item.current_sample)  # in place
        if failed:
            self._starter.schedule_retry()

    def _running_signature(self, ident: JobId) -> tuple[Any, ...] | None:
        running = self._jobs.get(ident)
        return None if running is None else running.signature

    def _stop_job(self, ident: JobId, announce: bool = True) -> None:
        running = self._jobs.pop(ident, None)
        if running is None:
            return
        if announce:  # stopped on purpose: a later death starts the back-off afresh
            self._deaths.pop(ident, None)
        try:
            running.job.stop()
        except Exception:
            log.exception("%s did not stop cleanly", ident)
        if announce:
            self.bus.publish(JobState(str(ident), JobStatus.STOPPED))

    def _set_paused(self, paused: bool) -> None:
        until = f" until {time.strftime('%H:%M', time.localtime(self._paused_until))}" if (
            paused and self._paused_until) else ""
        log.info("all transfers %s%s", "paused" if paused else "resumed", until)
        settings = self.store.settings
        items: list[WatchedFolder | Destination] = [*settings.folders, *settings.destinations]
        paused_items = {job_id(item) for item in items if item.paused}
        for ident, running in self._jobs.items():
            _follow_pause(running, paused or ident in paused_items)

    def _retry_upload(self, ident: JobId, relpath: str, again: bool = False) -> None:
        running = self._jobs.get(ident)
        if running is None or not isinstance(running.job, WatchJob):
            raise RuntimeError("that watched folder is not running")
        root = running.job.root
        if again:
            log.info("%s: sending %s again, every chunk", ident, relpath)
        running.job.uploader.submit(root, root / relpath, again=again)

    def _restart_job(self, ident: JobId | None) -> None:
        if ident is None or ident not in self._jobs:
            raise RuntimeError("that job is not running")
        log.info("%s: restarting it to read its unfinished files again", ident)
        self._stop_job(ident)
        self._apply(self.store.settings)

    def _retry_waiting(self, ident: JobId | None) -> None:
        running = self._jobs.get(ident) if ident is not None else None
        if running is None or not isinstance(running.job, DownloadJob):
            raise RuntimeError("that destination is not running")
        running.job.retry_now()

    def _retry_processing(self, ident: JobId | None, relpath: str) -> str:
        running = self._jobs.get(ident) if ident is not None else None
        if running is None or not isinstance(running.job, DownloadJob):
            return retry_sentence(relpath, "the destination is not running: start it, then "
                                           "retry")
        return retry_sentence(relpath, running.job.retry_processing(relpath))

    def _reprocess(self, dest: Destination) -> str:
        profile = self.store.settings.profile(dest.profile_id)
        if profile is None:
            return "Choose the destination's broker first."
        return self._reprocessing.start(dest, self._config(profile))

    def _shutdown(self) -> None:
        self._unlisten()
        with self._lock:
            if self._resume_timer:
                self._resume_timer.cancel()
        self._starter.cancel_retry()
        self._probe.shutdown(wait=True, cancel_futures=True)
        self.stalls.stop()
        for ident in list(self._jobs):
            self._stop_job(ident)
        self._reprocessing.stop_all()
        self._demo.stop()
        self._control.shutdown(wait=False)


def _follow_pause(running: Running, paused: bool) -> None:
    if running.paused != paused:
        running.paused = paused
        if paused:
            running.job.pause()
        else:
            running.job.resume()
