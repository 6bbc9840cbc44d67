"""The app controller runs what the settings describe, against the real broker."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import Recorder, wait_until

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.job_specs import job_id
from openmsi_gui.app.settings import BrokerProfile, Destination, SettingsStore, WatchedFolder
from openmsi_gui.app.transfers import TransferBook
from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.events import (
    ConnectionState,
    ConnectionStatus,
    EventBus,
    FileCompleted,
    JobId,
    JobState,
    JobStatus,
    PauseState,
)
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry


@pytest.fixture
def quick_retry(store: SettingsStore, registry: Registry, bus: EventBus
                ) -> Iterator[AppController]:
    """A controller that tries failed jobs again after half a second."""
    ctl = AppController(store, bus, registry, retry_seconds=0.5)
    yield ctl
    ctl.shutdown().result(60)


def configure(store: SettingsStore, profile: BrokerProfile, topic: str, tmp_path: Path,
              **folder_options: object) -> tuple[WatchedFolder, Destination]:
    settings = store.settings
    settings.profiles.append(profile)
    folder = WatchedFolder(path=str(tmp_path / "out"), profile_id=profile.id, topic=topic,
                           stable_seconds=0.3, **folder_options)  # type: ignore[arg-type]
    dest = Destination(path=str(tmp_path / "in"), profile_id=profile.id, topic=topic,
                       group_id=f"ctl-{topic}")
    (tmp_path / "out").mkdir()
    (tmp_path / "in").mkdir()  # chosen folders exist: the views and the wizard see to it
    settings.folders.append(folder)
    settings.destinations.append(dest)
    store.update(settings)
    return folder, dest


def test_settings_changes_start_and_stop_jobs(
        store: SettingsStore, controller: AppController, broker_profile: BrokerProfile,
        make_topic: Callable[..., str], tmp_path: Path) -> None:
    topic = make_topic(1)
    configure(store, broker_profile, topic, tmp_path)
    controller.start().result(30)  # files already there before watching are not sent
    (tmp_path / "out" / "one.txt").write_text("first")
    wait_until((tmp_path / "in" / "one.txt").exists, message="the first file")
    settings = store.settings
    settings.folders[0].enabled = False
    store.update(settings)
    controller.apply(store.settings).result(30)
    (tmp_path / "out" / "two.txt").write_text("not watched now")
    time.sleep(2)
    assert not (tmp_path / "in" / "two.txt").exists()
    settings.folders[0].enabled = True
    store.update(settings)
    wait_until((tmp_path / "in" / "two.txt").exists, message="the file after re-enabling")


def test_timed_pause_resumes_by_itself(
        store: SettingsStore, controller: AppController, broker_profile: BrokerProfile,
        make_topic: Callable[..., str], tmp_path: Path, recorder: Recorder) -> None:
    topic = make_topic(1)
    configure(store, broker_profile, topic, tmp_path)
    controller.start().result(30)
    controller.pause_all(2.5).result(10)
    assert controller.paused
    assert controller.paused_until is not None
    (tmp_path / "out" / "held.bin").write_bytes(os.urandom(1000))
    time.sleep(1.5)
    assert not (tmp_path / "in" / "held.bin").exists()
    wait_until(lambda: not controller.paused, timeout=10, message="the pause to end")
    wait_until((tmp_path / "in" / "held.bin").exists, message="the held file")
    pauses = [(e.paused, e.until) for e in recorder.of(PauseState)]
    assert pauses == [(True, pauses[0][1]), (False, None)]  # views hear of it, no polling
    assert pauses[0][1] is not None


def test_a_job_that_cannot_start_is_reported(
        store: SettingsStore, controller: AppController, broker_profile: BrokerProfile,
        tmp_path: Path, recorder: Recorder) -> None:
    configure(store, broker_profile, "no-such-topic", tmp_path)
    controller.start().result(30)
    failures = [e for e in recorder.of(JobState) if e.state is JobStatus.FAILED]
    assert {e.job for e in failures} == {str(job_id(store.settings.folders[0]))}
    assert all("does not exist" in e.detail for e in failures)
    # A destination waits for its topic instead, and says so.
    dest = str(job_id(store.settings.destinations[0]))
    wait_until(lambda: any(e.job == dest and e.status is ConnectionStatus.TOPIC_MISSING
                           for e in recorder.of(ConnectionState)),
               timeout=10, message="the destination to say that its topic is missing")


def test_embedded_profile_starts_the_local_broker(
        store: SettingsStore, controller: AppController, tmp_path: Path) -> None:
    profile = BrokerProfile(name="Demo", embedded=True)
    configure(store, profile, "demo-topic", tmp_path)
    controller.start().result(30)
    assert controller.embedded_bootstrap
    (tmp_path / "out" / "demo.txt").write_text("through the embedded broker")
    wait_until((tmp_path / "in" / "demo.txt").exists, message="the demo file")
    assert "demo-topic" in controller.list_topics(profile).result(10)


def test_a_local_broker_that_stopped_comes_back_where_the_jobs_are(
        store: SettingsStore, controller: AppController, tmp_path: Path,
        recorder: Recorder) -> None:
    """Test connection tests what the jobs use: not a new broker on another port."""
    profile = BrokerProfile(name="Demo", embedded=True)
    configure(store, profile, "demo-topic", tmp_path)
    settings = store.settings
    # Sending only: a consumer of the local broker started again hangs in close() (Tansu).
    settings.destinations[0].enabled = False
    store.update(settings)
    controller.start().result(30)
    address = controller.embedded_bootstrap

    def sent(name: str) -> bool:
        return any(e.relpath == name for e in recorder.of(FileCompleted))

    (tmp_path / "out" / "first.txt").write_text("first")
    wait_until(lambda: sent("first.txt"), message="the first file sent")
    controller._demo.ensure().kill()  # as a crash would
    assert controller.test_connection(profile).result(60).startswith(f"Connected to {address}")
    assert controller.embedded_bootstrap == address
    (tmp_path / "out" / "after.txt").write_text("after")  # the job reconnected by itself
    wait_until(lambda: sent("after.txt"), timeout=60, message="the later file sent")


def test_connection_errors_are_plain_sentences(controller: AppController) -> None:
    from openmsi_gui.engine.broker import free_port

    dead = BrokerProfile(bootstrap_servers=f"127.0.0.1:{free_port()}")
    future = controller.test_connection(dead)
    error = future.exception(30)
    assert isinstance(error, admin.BrokerError)
    assert "rdkafka" not in str(error)
    assert "127.0.0.1" in str(error)


def test_a_job_that_dies_at_runtime_is_restarted(
        store: SettingsStore, quick_retry: AppController, broker_profile: BrokerProfile,
        make_topic: Callable[..., str], tmp_path: Path, recorder: Recorder,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from openmsi_gui.engine.downloader import Downloader

    controller = quick_retry
    real_handle = Downloader._handle
    crashes = {"n": 0}

    def crash_once(self: Downloader, message: object) -> None:
        if crashes["n"] == 0:
            crashes["n"] += 1
            raise RuntimeError("disk controller hiccup")
        real_handle(self, message)  # type: ignore[arg-type]

    monkeypatch.setattr(Downloader, "_handle", crash_once)
    topic = make_topic(1)
    configure(store, broker_profile, topic, tmp_path)
    controller.start().result(30)
    (tmp_path / "out" / "survivor.txt").write_text("arrives after the restart")
    wait_until((tmp_path / "in" / "survivor.txt").exists, timeout=60,
               message="the file after the downloader restarted")
    assert crashes["n"] == 1
    failed = [e for e in recorder.of(JobState) if e.state is JobStatus.FAILED]
    assert "disk controller hiccup" in failed[0].detail


def test_a_job_that_died_stays_failed_until_it_runs_again(
        store: SettingsStore, quick_retry: AppController, broker_profile: BrokerProfile,
        make_topic: Callable[..., str], tmp_path: Path, recorder: Recorder,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Views show the failure and its reason while the restart waits (no "stopped")."""
    from openmsi_gui.app.job_specs import job_id
    from openmsi_gui.engine.downloader import Downloader

    real_handle = Downloader._handle
    crashes = {"n": 0}

    def crash_once(self: Downloader, message: object) -> None:
        crashes["n"] += 1
        if crashes["n"] == 1:
            raise RuntimeError("disk controller hiccup")
        real_handle(self, message)  # type: ignore[arg-type]

    monkeypatch.setattr(Downloader, "_handle", crash_once)
    _folder, dest = configure(store, broker_profile, make_topic(1), tmp_path)
    name = str(job_id(dest))
    quick_retry.start().result(30)
    (tmp_path / "out" / "doomed.txt").write_text("kills the downloader")

    def states() -> list[JobStatus]:
        return [e.state for e in recorder.of(JobState) if e.job == name]

    def restarted() -> bool:
        seen = states()
        return JobStatus.FAILED in seen and JobStatus.RUNNING in seen[seen.index(
            JobStatus.FAILED):]

    wait_until(restarted, timeout=60, message="the restart after the crash")
    seen = states()
    died = seen.index(JobStatus.FAILED)
    assert seen[died + 1] is JobStatus.RUNNING, seen  # nothing cleared the failure meanwhile
    book = TransferBook()  # what the views read, up to the restart
    for event in recorder.of(JobState):
        if event.job == name and event.state is JobStatus.RUNNING and book.job_errors:
            break
        book.apply(event)
    assert book.job_errors == {name: "disk controller hiccup"}


def test_a_watch_job_whose_thread_died_restarts_and_sends_its_files(
        store: SettingsStore, quick_retry: AppController, broker_profile: BrokerProfile,
        make_topic: Callable[..., str], tmp_path: Path, recorder: Recorder,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The watcher's thread raising is a failure on the folder's row, then a restart."""
    from openmsi_gui.app.job_specs import job_id
    from openmsi_gui.engine.watcher import FolderWatcher

    real_submit = FolderWatcher._submit_stable
    crashes = {"n": 0}

    def crash_once(self: FolderWatcher) -> None:
        crashes["n"] += 1
        if crashes["n"] == 1:
            raise RuntimeError("share went away")
        real_submit(self)

    monkeypatch.setattr(FolderWatcher, "_submit_stable", crash_once)
    folder, _dest = configure(store, broker_profile, make_topic(1), tmp_path)
    name = str(job_id(folder))
    quick_retry.start().result(30)
    (tmp_path / "out" / "survivor.txt").write_text("sent after the restart")
    wait_until((tmp_path / "in" / "survivor.txt").exists, timeout=60,
               message="the file, after the watch job restarted")
    seen = [(e.state, e.detail) for e in recorder.of(JobState) if e.job == name]
    died = seen.index((JobStatus.FAILED, "share went away"))
    assert JobStatus.RUNNING in [state for state, _ in seen[died:]], seen


def test_retry_waiting_reaches_a_running_destination_only(
        store: SettingsStore, controller: AppController, broker_profile: BrokerProfile,
        make_topic: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openmsi_gui.app.job_specs import job_id
    from openmsi_gui.engine.downloader import Downloader

    asked: list[str] = []
    monkeypatch.setattr(Downloader, "retry_now", lambda self: asked.append(self.job))
    folder, dest = configure(store, broker_profile, make_topic(1), tmp_path)
    controller.start().result(30)
    controller.retry_waiting(str(job_id(dest))).result(10)
    assert asked == [str(job_id(dest))]
    for name in (str(job_id(folder)), "dest:gone"):
        with pytest.raises(RuntimeError, match="not running"):
            controller.retry_waiting(name).result(10)


def test_a_missing_destination_folder_is_not_created(
        store: SettingsStore, quick_retry: AppController, broker_profile: BrokerProfile,
        make_topic: Callable[..., str], tmp_path: Path, recorder: Recorder) -> None:
    """A USB disk or share not connected at login: no files on the disk beneath it."""
    from openmsi_gui.app.job_specs import job_id

    controller = quick_retry
    _folder, dest = configure(store, broker_profile, make_topic(1), tmp_path)
    (tmp_path / "in").rmdir()
    controller.start().result(30)
    name = str(job_id(dest))
    failed = [e for e in recorder.of(JobState) if e.job == name and e.state is JobStatus.FAILED]
    assert failed
    assert "is not there" in failed[0].detail
    assert "reconnect it" in failed[0].detail
    assert not (tmp_path / "in").exists()
    (tmp_path / "in").mkdir()  # connected
    wait_until(lambda: JobId.parse(name) in controller._jobs, timeout=30,
               message="the job after a retry")
    (tmp_path / "out" / "late.txt").write_text("arrives")
    wait_until((tmp_path / "in" / "late.txt").exists, message="a file once it is there")


def test_a_broker_away_at_start_is_waited_for_not_failed(
        store: SettingsStore, quick_retry: AppController, own_broker: EmbeddedBroker,
        tmp_path: Path, recorder: Recorder) -> None:
    own_broker.kill()
    profile = BrokerProfile(name="Lab broker", bootstrap_servers=own_broker.bootstrap_servers)
    folder, _dest = configure(store, profile, "later", tmp_path)
    job = str(job_id(folder))
    quick_retry.start()

    def link(status: ConnectionStatus) -> list[ConnectionState]:
        return [e for e in recorder.of(ConnectionState) if e.job == job and e.status is status]

    wait_until(lambda: link(ConnectionStatus.UNREACHABLE), timeout=20,
               message="the folder to say that its broker does not answer")
    assert link(ConnectionStatus.UNREACHABLE)[0].servers == own_broker.bootstrap_servers
    assert not [e for e in recorder.of(JobState) if e.job == job and e.state is JobStatus.FAILED]
    own_broker.start()
    admin.create_topic(KafkaConfig.for_bootstrap(own_broker.bootstrap_servers), "later", 1)
    wait_until(lambda: any(e.down_since is not None for e in link(ConnectionStatus.CONNECTED)),
               timeout=30, message="the folder's job to start once the broker answers")
    (tmp_path / "out" / "late.txt").write_text("late")
    wait_until((tmp_path / "in" / "late.txt").exists, timeout=30, message="the file")
