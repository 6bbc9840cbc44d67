"""Shared fixtures: a real Tansu broker per session, fresh topics, isolated state."""

from __future__ import annotations

import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from helpers import TEST_GROUP_TIMEOUTS, Recorder
from s3server import SeaweedS3, start_seaweed

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile, SettingsStore
from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.kafka_config import CONSUMER_DEFAULTS, KafkaConfig
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.s3 import S3Location


@pytest.fixture(scope="session", autouse=True)
def _quick_group_joins() -> Iterator[None]:
    """Consumers made in the tests join their group in 1 s instead of 3 s.

    Tansu answers a JoinGroup after half the session timeout (6 s in the app's
    defaults). Tests that need another value set it in their own config.
    """
    saved = dict(CONSUMER_DEFAULTS)
    CONSUMER_DEFAULTS.update(TEST_GROUP_TIMEOUTS)
    yield
    CONSUMER_DEFAULTS.clear()
    CONSUMER_DEFAULTS.update(saved)


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    """A real Kafka-compatible broker (Tansu) on a free loopback port."""
    running = EmbeddedBroker().start()
    try:
        yield running
    finally:
        # Killed, not stopped: its data are in memory anyway, and a SIGTERM waits 5 s
        # when a client that a test left to the garbage collector is still connected.
        running.kill()


@pytest.fixture
def own_broker() -> Iterator[EmbeddedBroker]:
    """A broker of the test's own, which it may kill (``kill()``) and start again on its port."""
    broker = EmbeddedBroker().start()
    try:
        yield broker
    finally:
        broker.kill()


@pytest.fixture
def persistent_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker of the test's own whose topics outlive ``kill()`` and ``start()`` (same port)."""
    broker = EmbeddedBroker(data_dir=tmp_path / "broker").start()
    try:
        yield broker
    finally:
        broker.kill()  # at once: stopping it politely takes seconds once it was restarted
        broker.stop()  # its storage


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A real S3-compatible server (SeaweedFS) on free loopback ports, with one bucket."""
    server = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_location(s3_server: SeaweedS3) -> S3Location:
    """The test bucket with a fresh key prefix, signed with the right keys."""
    return S3Location(bucket=s3_server.bucket, prefix=f"p-{uuid.uuid4().hex[:10]}",
                      endpoint_url=s3_server.endpoint_url, region="us-east-1",
                      access_key_id=s3_server.access_key,
                      secret_access_key=s3_server.secret_key)


@pytest.fixture
def kafka_config(broker: EmbeddedBroker) -> KafkaConfig:
    """A plaintext client config for the session broker."""
    return KafkaConfig.for_bootstrap(broker.bootstrap_servers)


@pytest.fixture
def make_topic(kafka_config: KafkaConfig) -> Callable[..., str]:
    """Create a fresh, uniquely named topic: ``make_topic(partitions=3)``."""

    def create(partitions: int = 3) -> str:
        name = f"t-{uuid.uuid4().hex[:12]}"
        admin.create_topic(kafka_config, name, partitions)
        return name

    return create


@pytest.fixture
def topic(make_topic: Callable[..., str]) -> str:
    """A fresh three-partition topic."""
    return make_topic(3)


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep every registry and setting of a test inside its tmp folder."""
    data = tmp_path / "_data"
    monkeypatch.setenv("OPENMSI_GUI_DATA_DIR", str(data))
    return data


@pytest.fixture(autouse=True)
def _own_default_consumer_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """New destinations of each test get a consumer group of their own.

    The default group is named after the host, so every GUI test would share it;
    a job stopped while still joining it holds up the next join in that group
    for a minute on the test broker (Tansu).
    """
    import types

    from openmsi_gui.app import destinations

    host = f"test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(destinations, "socket", types.SimpleNamespace(gethostname=lambda: host))


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring that forgets everything at the end of the test (never touches the OS)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.secrets.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    """Every test gets an empty in-memory keychain."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def _isolated_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep settings files inside the test's tmp folder."""
    config = tmp_path / "_config"
    monkeypatch.setenv("OPENMSI_GUI_CONFIG_DIR", str(config))
    return config


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    """A registry in the test's tmp folder."""
    reg = Registry(tmp_path / "registry.sqlite3")
    yield reg
    reg.close()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def recorder(bus: EventBus) -> Recorder:
    rec = Recorder()
    bus.subscribe(rec)
    return rec


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    """Fail a test that leaves engine threads running."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()
                 and not t.name.startswith(("pydevd", "asyncio"))]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not extra, f"threads left running: {[t.name for t in extra]}"


@pytest.fixture(autouse=True)
def _no_dangling_qtimers(request: pytest.FixtureRequest,
                         monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail a Qt test that leaves a QTimer running once its widgets are closed.

    As napari does: every ``QTimer.start`` and ``QTimer.singleShot`` of the test
    is recorded with where it was called; after the test (and qtbot's closing of
    its widgets, set up after this fixture) a timer still active is an error.
    """
    if not {"qtbot", "qapp"} & set(request.fixturenames):
        yield
        return
    from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
    from shiboken6 import Shiboken

    started: list[tuple[QTimer, str]] = []
    base_start = QTimer.start
    base_single_shot = QTimer.singleShot

    def start(timer: QTimer, *args: object) -> None:
        started.append((timer, "".join(traceback.format_stack(limit=4)[:-1])))
        base_start(timer, *args)  # type: ignore[call-overload]

    def single_shot(msec: int, *args: object) -> None:
        if len(args) == 1 and callable(args[0]) and not isinstance(args[0], QObject):
            context, target = None, args[0]
        elif len(args) == 2 and isinstance(args[0], QObject) and callable(args[1]):
            context, target = args[0], args[1]
        else:
            base_single_shot(msec, *args)  # type: ignore[call-overload]
            return
        timer = QTimer(context)
        timer.setSingleShot(True)
        timer.timeout.connect(target)
        timer.timeout.connect(timer.deleteLater)
        started.append((timer, "".join(traceback.format_stack(limit=3)[:-1])))
        base_start(timer, msec)

    monkeypatch.setattr(QTimer, "start", start)
    monkeypatch.setattr(QTimer, "singleShot", staticmethod(single_shot))
    yield
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    dangling = [where for timer, where in started
                if Shiboken.isValid(timer) and timer.isActive()]
    started.clear()
    if dangling:
        pytest.fail(f"{len(dangling)} QTimer(s) still running after the test, started at:\n"
                    + "\n".join(dangling), pytrace=False)


@pytest.fixture
def tasks(qapp: object) -> Iterator[object]:
    """The UI's task facility (what the app owns), shut down after the test."""
    from openmsi_gui.ui.tasks import Tasks

    made = Tasks()
    yield made
    made.shutdown()


@pytest.fixture
def store(tmp_path: Path) -> SettingsStore:
    """Settings in the test's tmp folder."""
    return SettingsStore(tmp_path / "settings.json")


@pytest.fixture
def controller(store: SettingsStore, registry: Registry, bus: EventBus
               ) -> Iterator[AppController]:
    """An app controller on ``store``; shut down (jobs stopped) after the test."""
    ctl = AppController(store, bus, registry)
    yield ctl
    ctl.shutdown().result(60)


@pytest.fixture
def broker_profile(broker: EmbeddedBroker) -> BrokerProfile:
    """A plaintext profile for the session broker."""
    return BrokerProfile(name="Test broker", bootstrap_servers=broker.bootstrap_servers)
