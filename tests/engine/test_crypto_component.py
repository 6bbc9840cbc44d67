"""Without the KafkaCrypto component, encrypted jobs wait (never fail); once installed they run.

The installed app has no kafkacrypto until the user installs the component;
here its absence is faked (``kafkacrypto_available`` answers False) while the
real nodes, broker and jobs are used, so the files that wait really arrive.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import Recorder, tree_files, wait_until
from test_crypto import PROV, ROT, encrypted_topic  # noqa: F401
from test_crypto_download import FILES, write

from openmsi_gui.app import component_wait
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile, Destination, SettingsStore, WatchedFolder
from openmsi_gui.cli.encryption import wait_for_encryption
from openmsi_gui.cli.signals import StopSignals
from openmsi_gui.engine import crypto
from openmsi_gui.engine.events import EventBus, FileFailed, JobState, JobStatus
from openmsi_gui.engine.kafka_config import KafkaConfig, default_nodes_dir, find_crypto_node
from openmsi_gui.engine.provision import provision_node
from openmsi_gui.engine.registry import Registry
from openmsi_gui.platform import components

WAITING = ("Encryption is not installed: run openmsi encryption install, or Enable "
           "encryption… in the broker profile.")


class _Component:
    """kafkacrypto_available() as the installed app sees it: False until 'installed'."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.installed = False
        real = crypto.kafkacrypto_available
        monkeypatch.setattr(crypto, "kafkacrypto_available",
                            lambda: self.installed and real())

    def install(self) -> None:
        self.installed = True
        components.notify()  # what install_from_file does after unpacking


def test_the_waiting_sentence() -> None:
    assert component_wait.WAITING == WAITING


def test_encrypted_jobs_wait_for_the_component_then_move_every_file(
        store: SettingsStore, registry: Registry, bus: EventBus, broker_profile: BrokerProfile,
        encrypted_topic: str, tmp_path: Path, recorder: Recorder,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    component = _Component(monkeypatch)
    for node_id, role in (("wait_up", "producer"), ("wait_down", "consumer")):
        provision_node(node_id, role, [encrypted_topic], ROT, PROV, default_nodes_dir())
    sender = dataclasses.replace(broker_profile, id="p-up", crypto_node_id="wait_up")
    receiver = dataclasses.replace(broker_profile, id="p-down", crypto_node_id="wait_down")
    out, inbox = tmp_path / "out", tmp_path / "in"
    out.mkdir()
    inbox.mkdir()
    settings = store.settings
    settings.profiles += [sender, receiver]
    settings.folders.append(WatchedFolder(path=str(out), profile_id=sender.id,
                                          topic=encrypted_topic, stable_seconds=0.3))
    settings.destinations.append(Destination(path=str(inbox), profile_id=receiver.id,
                                             topic=encrypted_topic, group_id="wait-enc"))
    store.update(settings)
    controller = AppController(store, bus, registry)  # retried in 10 s: the install is sooner
    try:
        controller.start().result(60)
        write(out)

        def waiting() -> set[str]:
            return {e.job for e in recorder.of(JobState)
                    if e.state is JobStatus.WAITING and e.detail == WAITING}

        wait_until(lambda: len(waiting()) == 2, message="both jobs waiting for the component")
        assert not [e for e in recorder.of(JobState) if e.state is JobStatus.FAILED]
        assert tree_files(inbox) == {}

        component.install()  # no restart of the app
        wait_until(lambda: tree_files(inbox) == FILES, timeout=60,
                   message="every file once the component is installed")
        for job in waiting():
            states = [e.state for e in recorder.of(JobState) if e.job == job]
            assert states[-1] is JobStatus.RUNNING
        assert not recorder.of(FileFailed)
        assert not [e for e in recorder.of(JobState) if e.state is JobStatus.FAILED]
    finally:
        controller.shutdown().result(60)


def test_the_command_line_waits_and_retries_until_the_component_is_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    component = _Component(monkeypatch)
    provision_node("cli_wait", "consumer", ["lab"], ROT, PROV, tmp_path)
    config = KafkaConfig.for_bootstrap("localhost:9")
    assert wait_for_encryption(config, StopSignals(), retry=0.05)  # no node: nothing to wait
    config.crypto = find_crypto_node(config_file=str(tmp_path / "cli_wait" / "cli_wait.config"))
    installing = threading.Timer(0.3, component.install)
    installing.start()
    assert wait_for_encryption(config, StopSignals(), retry=0.05)
    assert component.installed  # it returned once the component came, not before
    installing.join()
    assert "waiting: encryption is not installed: run openmsi encryption install" in caplog.text


def test_a_stop_signal_ends_the_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _Component(monkeypatch)
    provision_node("cli_stop", "consumer", ["lab"], ROT, PROV, tmp_path)
    config = KafkaConfig.for_bootstrap("localhost:9")
    config.crypto = find_crypto_node(config_file=str(tmp_path / "cli_stop" / "cli_stop.config"))
    signals = StopSignals()
    stop: Callable[[], None] = lambda: signals._handle(signal.SIGTERM, None)  # noqa: E731
    threading.Timer(0.2, stop).start()
    assert not wait_for_encryption(config, signals, retry=0.05)
