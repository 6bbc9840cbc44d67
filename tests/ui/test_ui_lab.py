"""The Lab view: its table of programs, their states, log lines, notifications and reader."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSystemTrayIcon
from pytestqt.qtbot import QtBot

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.lab import LabOverview, ProgramState
from openmsi_gui.app.lab_table import Column
from openmsi_gui.app.settings import BrokerProfile, SettingsStore
from openmsi_gui.engine.events import EventBus, LabReports
from openmsi_gui.engine.lab_wire import Counters, Heartbeat, LogBatch, ReportedState, ReportKind
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui.adapter import EngineAdapter
from openmsi_gui.ui.lab_state import LabState
from openmsi_gui.ui.main_window import MainWindow
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.tray import Tray
from openmsi_gui.ui.views.lab_model import COLUMNS, LabTableModel
from openmsi_gui.ui.views.lab_view import LabView

T0 = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.UTC)


def beat(program_id: str, *, interval: float | None = 10.0, host: str = "pc1",
         state: ReportedState = ReportedState.WORKING, problem: str = "",
         files: int = 1) -> Heartbeat:
    """One of our heartbeats (``interval`` None: OpenMSIStream's, which has no such field)."""
    if interval is None:
        return Heartbeat(program_id, T0, Counters(messages_produced=3, bytes_produced=300))
    return Heartbeat(program_id, T0, Counters(messages_produced=files, bytes_produced=1000,
                                              files=files), interval=interval, host=host,
                     app_version="1.0", kind=ReportKind.WATCH, job="outbox", state=state,
                     problem=problem, files_waiting=0, files_failed=0, free_bytes=10**10)


class FakeReader:
    """Stands for a LabReader: tests publish its reports themselves."""

    made: ClassVar[list[FakeReader]] = []

    def __init__(self, config: object, bus: EventBus, heartbeat_topic: str,
                 log_topic: str = "", name: str = "lab", **_: Any) -> None:
        self.bus, self.topic, self.log_topic, self.name = bus, heartbeat_topic, log_topic, name
        self.running = False
        FakeReader.made.append(self)

    def start(self) -> None:
        self.running = True

    def stop(self, timeout: float = 5.0) -> None:
        self.running = False

    def report(self, beats: list[tuple[Heartbeat, dt.datetime]] = (),  # type: ignore[assignment]
               logs: list[tuple[LogBatch, dt.datetime]] = (),  # type: ignore[assignment]
               problem: str = "") -> None:
        self.bus.publish(LabReports(self.name, source=self.name, beats=tuple(beats),
                                    logs=tuple(logs), problem=problem))


@pytest.fixture
def adapter(qtbot: QtBot, bus: EventBus, store: SettingsStore) -> Iterator[EngineAdapter]:
    made = EngineAdapter(bus, store=store)
    yield made
    made.close()


@pytest.fixture
def clock() -> list[dt.datetime]:
    return [T0]


def stop(qtbot: QtBot, lab: LabState) -> None:
    """Stop ``lab`` as the app does at quit, and wait for it."""
    done = asyncio.ensure_future(lab.stop())
    qtbot.waitUntil(done.done, timeout=10_000)
    done.result()
    lab.deleteLater()


@pytest.fixture
def lab(qtbot: QtBot, adapter: EngineAdapter, controller: AppController, tasks: Tasks,
        bus: EventBus, clock: list[dt.datetime]) -> Iterator[LabState]:
    FakeReader.made.clear()
    made = LabState(adapter, controller, tasks, bus, clock=lambda: clock[0],
                    reader_factory=FakeReader, remember=False)  # type: ignore[arg-type]
    yield made
    stop(qtbot, made)


def choose(store: SettingsStore, topic: str = "beats", log_topic: str = "logs",
           servers: str = "127.0.0.1:9") -> BrokerProfile:
    """Save a Lab view choice: a profile and its topics."""
    settings = store.settings
    profile = BrokerProfile(name="Lab broker", bootstrap_servers=servers)
    settings.profiles.append(profile)
    settings.lab.view_profile_id = profile.id
    settings.lab.view_heartbeat_topic = topic
    settings.lab.view_log_topic = log_topic
    store.update(settings)
    return profile


def reader(qtbot: QtBot) -> FakeReader:
    qtbot.waitUntil(lambda: bool(FakeReader.made) and FakeReader.made[-1].running,
                    timeout=5000)
    return FakeReader.made[-1]


@pytest.fixture
def view(qtbot: QtBot, store: SettingsStore, lab: LabState) -> LabView:
    made = LabView(store, lab)
    qtbot.addWidget(made)
    made.resize(1000, 600)
    made.show()
    return made


def test_five_hundred_rows_sort_filter_and_refresh_with_small_signals(qapp: object) -> None:
    overview = LabOverview()
    for i in range(500):
        state = ReportedState.NEEDS_ATTENTION if i % 50 == 7 else ReportedState.WORKING
        overview.add_beat(beat(f"pc{i:03d}_watch", host=f"host-{i % 40}", state=state,
                               problem="The outbox folder is gone." if i % 50 == 7 else ""),
                          T0 + dt.timedelta(seconds=i % 10))
    overview.add_beat(beat("osn_upload", interval=None), T0 - dt.timedelta(hours=2))
    model = LabTableModel()
    model.set_rows(overview.rows(T0 + dt.timedelta(seconds=10)), T0 + dt.timedelta(seconds=10))
    assert model.rowCount() == 501

    state_column = COLUMNS.index(Column.STATE)
    model.sort(state_column, Qt.SortOrder.AscendingOrder)  # the worst first
    states = [model.index(r, 0).data(Qt.ItemDataRole.UserRole + 1).state for r in range(12)]
    assert states[0] is ProgramState.SILENT
    assert set(states[1:11]) == {ProgramState.NEEDS_ATTENTION}
    assert states[11] is ProgramState.WORKING
    first = model.index(0, state_column)
    assert first.data() == "silent"
    assert first.data(Qt.ItemDataRole.DecorationRole) is not None
    assert "No heartbeat" in first.data(Qt.ItemDataRole.ToolTipRole)
    assert first.data(Qt.ItemDataRole.AccessibleTextRole).startswith("Silent: No heartbeat")
    assert model.index(11, 0).data(Qt.ItemDataRole.ToolTipRole) is None

    model.set_search("host-7 attention")
    names = {model.index(r, 0).data() for r in range(model.rowCount())}
    assert names == {"pc007_watch", "pc207_watch", "pc407_watch"}
    model.set_search("")

    # A second later, ten programs beat: rows change in place, the rest only ticks.
    model.sort(-1)  # the order first heard from
    signals: dict[str, int] = {"reset": 0, "inserted": 0, "changed": 0, "ticks": 0, "layout": 0}

    def count(name: str) -> Callable[..., None]:
        return lambda *_: signals.__setitem__(name, signals[name] + 1)

    model.modelReset.connect(count("reset"))
    model.rowsInserted.connect(count("inserted"))
    model.layoutChanged.connect(count("layout"))

    def on_changed(top: Any, bottom: Any, roles: list[int]) -> None:
        signals["ticks" if roles else "changed"] += 1

    model.dataChanged.connect(on_changed)
    later = T0 + dt.timedelta(seconds=11)
    for i in range(0, 100, 10):
        overview.add_beat(beat(f"pc{i:03d}_watch"), later)
    overview.add_beat(beat("new_one"), later)
    model.set_rows(overview.rows(later), later)
    assert signals == {"reset": 0, "inserted": 1, "changed": 10, "ticks": 1, "layout": 0}
    assert model.rowCount() == 502
    assert model.index(501, 0).data() == "new_one"
    assert model.index(501, COLUMNS.index(Column.LAST_SEEN)).data() == "just now"

    # Sorted by last seen, the programs just heard from come first, and stay there.
    model.sort(COLUMNS.index(Column.LAST_SEEN), Qt.SortOrder.AscendingOrder)
    top = {model.index(r, 0).data() for r in range(11)}
    assert top == {"new_one", *(f"pc{i:03d}_watch" for i in range(0, 100, 10))}
    model.set_rows(overview.rows(later + dt.timedelta(seconds=1)),
                   later + dt.timedelta(seconds=1))
    assert {model.index(r, 0).data() for r in range(11)} == top
    assert model.index(0, COLUMNS.index(Column.LAST_SEEN)).data() == "1 s ago"


def test_a_program_turning_silent_notifies_once_and_recovers_by_itself(
        qtbot: QtBot, store: SettingsStore, lab: LabState, view: LabView,
        adapter: EngineAdapter, controller: AppController, clock: list[dt.datetime],
        monkeypatch: pytest.MonkeyPatch) -> None:
    live = LiveState(adapter, controller)
    tray = Tray(live, lab=lab)
    shown: list[tuple[str, str, QSystemTrayIcon.MessageIcon]] = []
    monkeypatch.setattr(tray.icon, "isVisible", lambda: True)
    monkeypatch.setattr(tray.icon, "showMessage",
                        lambda title, text, icon, _ms: shown.append((title, text, icon)))
    choose(store)
    feed = reader(qtbot)
    feed.report([(beat("scope_watch"), T0), (beat("oven_watch", interval=600), T0)])
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=5000)
    state_column = COLUMNS.index(Column.STATE)

    def state_of(program_id: str) -> str:
        return str(view.index_of(program_id).siblingAtColumn(state_column).data())

    assert state_of("scope_watch") == "working"
    assert shown == []  # first heard from: nothing to say

    clock[0] = T0 + dt.timedelta(seconds=15)
    feed.report([(beat("oven_watch", interval=600), clock[0])])
    qtbot.waitUntil(lambda: lab.overview.row("oven_watch", clock[0]) is not None
                    and lab.overview.row("oven_watch", clock[0]).last_seen == clock[0],
                    timeout=5000)
    clock[0] = T0 + dt.timedelta(seconds=23)  # two intervals and the grace: silent
    lab.refresh()
    qtbot.waitUntil(lambda: state_of("scope_watch") == "silent", timeout=5000)
    assert state_of("oven_watch") == "working"
    assert view.model.row_at(0).program_id == "scope_watch"  # the silent first
    tooltip = view.index_of("scope_watch").data(Qt.ItemDataRole.ToolTipRole)
    assert tooltip.startswith("No heartbeat for 23 s")
    assert len(shown) == 1
    assert shown[0][0] == "A program is silent"
    assert "scope_watch" in shown[0][1]
    assert shown[0][2] is QSystemTrayIcon.MessageIcon.Warning
    for seconds in (24, 40, 300):  # still silent: never told again
        clock[0] = T0 + dt.timedelta(seconds=seconds)
        lab.refresh()
    assert len(shown) == 1
    qtbot.waitUntil(lambda: "1 silent" in view.status.label.text(), timeout=5000)

    feed.report([(beat("scope_watch"), clock[0])])  # it is back
    qtbot.waitUntil(lambda: state_of("scope_watch") == "working", timeout=5000)
    assert len(shown) == 2
    assert shown[1][2] is QSystemTrayIcon.MessageIcon.Information
    assert "scope_watch is sending heartbeats again" in shown[1][1]
    tray.deleteLater()
    live.deleteLater()


def test_no_program_is_said_silent_while_the_lab_broker_cannot_be_read(
        qtbot: QtBot, store: SettingsStore, lab: LabState, view: LabView,
        adapter: EngineAdapter, controller: AppController, clock: list[dt.datetime],
        monkeypatch: pytest.MonkeyPatch) -> None:
    live = LiveState(adapter, controller)
    tray = Tray(live, lab=lab)
    shown: list[str] = []
    monkeypatch.setattr(tray.icon, "isVisible", lambda: True)
    monkeypatch.setattr(tray.icon, "showMessage", lambda title, *_: shown.append(title))
    choose(store)
    feed = reader(qtbot)
    feed.report([(beat("scope_watch"), T0), (beat("oven_watch"), T0)])
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=5000)
    feed.report(problem="Nothing accepts connections at 127.0.0.1:9. Retrying.")
    qtbot.waitUntil(lambda: "Retrying" in view.status.label.text(), timeout=5000)
    clock[0] = T0 + dt.timedelta(seconds=60)  # both seem silent: the reader hears nothing
    lab.refresh()
    assert shown == []  # their PCs are not to blame

    monkeypatch.setattr("openmsi_gui.ui.lab_state.QUIET_AFTER_PROBLEM_S", 0.0)
    feed.report([(beat("scope_watch"), clock[0])])  # back: only one of them beat meanwhile
    qtbot.waitUntil(lambda: not lab.problem, timeout=5000)
    clock[0] += dt.timedelta(seconds=20)  # oven_watch: two intervals since the reader is back
    lab.refresh()
    assert shown == []  # it may still be reconnecting to the broker that was away
    feed.report([(beat("scope_watch"), clock[0])])
    seen = clock[0]
    qtbot.waitUntil(lambda: lab.overview.row("scope_watch", seen).last_seen == seen,
                    timeout=5000)
    clock[0] += dt.timedelta(seconds=5)
    lab.refresh()
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    assert shown == ["A program is silent"]  # oven_watch; scope_watch never seemed gone
    tray.deleteLater()
    live.deleteLater()


def test_log_lines_show_their_own_time_once_and_the_pane_says_when_there_are_none(
        qtbot: QtBot, store: SettingsStore, lab: LabState, view: LabView) -> None:
    choose(store)
    feed = reader(qtbot)
    ours = "2026-12-06 08:59:58,123 WARNING openmsi: the disk is nearly full"
    feed.report([(beat("scope_watch"), T0), (beat("osn_upload", interval=None), T0)],
                [(LogBatch("scope_watch", T0.timestamp(), (ours,)), T0),
                 (LogBatch("osn_upload", T0.timestamp(), ("a line of OpenMSIStream's",)), T0)])
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=5000)
    assert view.select("scope_watch")
    assert view.logs_text() == ours  # not after the time its message was sent
    assert view.select("osn_upload")
    assert view.logs_text().endswith("  a line of OpenMSIStream's")
    assert view.logs_text()[:4].isdigit()  # its message's time: the line has none
    feed.report([(beat("quiet_watch"), T0)])
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=5000)
    assert view.select("quiet_watch")
    assert view.logs.placeholderText() == (
        "No warnings or errors from quiet_watch on 'logs' yet.")


def test_a_long_text_from_a_heartbeat_does_not_widen_the_view(
        qtbot: QtBot, store: SettingsStore, lab: LabState, view: LabView) -> None:
    choose(store)
    feed = reader(qtbot)
    long = Heartbeat("long_watch", T0, Counters(files=1), interval=10.0, host="pc1",
                     app_version="9" * 300, kind=ReportKind.WATCH, job="watch")
    feed.report([(long, T0)])
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=5000)
    assert view.select("long_watch")
    assert "watch watch" not in view.detail.text()  # the command line's job: its command
    assert view.minimumSizeHint().width() < 1000
    assert view.width() == 1000


def test_selecting_shows_its_log_lines_and_forget_removes_it(
        qtbot: QtBot, store: SettingsStore, lab: LabState, view: LabView,
        clock: list[dt.datetime]) -> None:
    choose(store)
    feed = reader(qtbot)
    assert (feed.topic, feed.log_topic) == ("beats", "logs")
    feed.report([(beat("scope_watch", state=ReportedState.NEEDS_ATTENTION,
                       problem="Cannot read D:\\data: access denied."), T0),
                 (beat("osn_upload", interval=None), T0)],
                [(LogBatch("scope_watch", T0.timestamp(), ("WARNING first", "ERROR second")),
                  T0)])
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=5000)
    assert view.logs_text() == ""
    assert view.select("scope_watch")
    assert view.logs_text().splitlines()[-1].endswith("ERROR second")
    assert "access denied" in view.detail.text()
    assert view.forget_button.isEnabled()
    feed.report(logs=[(LogBatch("scope_watch", T0.timestamp(), ("ERROR third",)), T0)])
    qtbot.waitUntil(lambda: view.logs_text().endswith("ERROR third"), timeout=5000)

    qtbot.mouseClick(view.forget_button, Qt.MouseButton.LeftButton)
    assert view.model.rowCount() == 1
    assert view.model.row_at(0).program_id == "osn_upload"
    assert view.logs_text() == ""
    assert not view.forget_button.isEnabled()
    assert view.select("osn_upload")
    assert "OpenMSIStream" in view.detail.text()
    assert not view.table.grab().isNull()  # painted through the model's multiData


def test_the_choice_is_saved_and_the_reader_follows_it(
        qtbot: QtBot, store: SettingsStore, lab: LabState, view: LabView) -> None:
    assert "Add a broker profile first" in view.status.label.text()
    settings = store.settings
    settings.profiles.append(BrokerProfile(name="Lab broker", bootstrap_servers="127.0.0.1:9"))
    store.update(settings)
    qtbot.waitUntil(lambda: view.profile.count() == 1, timeout=5000)
    assert view.heartbeat_topic.text() == "openmsi_heartbeats"  # the reporting default
    assert FakeReader.made == []  # nothing chosen, nothing read
    view.heartbeat_topic.setText("lab_beats")
    qtbot.mouseClick(view.read_button, Qt.MouseButton.LeftButton)
    assert store.settings.lab.view_heartbeat_topic == "lab_beats"
    first = reader(qtbot)
    assert first.topic == "lab_beats"
    qtbot.waitUntil(lambda: "Reading 'lab_beats' on Lab broker" in view.status.label.text(),
                    timeout=5000)
    first.report(problem="The topic lab_beats does not exist: check its name.")
    qtbot.waitUntil(lambda: "does not exist" in view.status.label.text(), timeout=5000)

    view.heartbeat_topic.setText("other_beats")
    view.heartbeat_topic.returnPressed.emit()
    qtbot.waitUntil(lambda: FakeReader.made[-1] is not first and FakeReader.made[-1].running,
                    timeout=5000)
    assert not first.running
    assert FakeReader.made[-1].topic == "other_beats"
    first.report([(beat("stale_watch"), T0)])  # a stopped reader's last words: ignored
    qtbot.wait(200)
    assert view.model.rowCount() == 0


def test_the_main_window_has_a_lab_tab(
        qtbot: QtBot, store: SettingsStore, controller: AppController, registry: Registry,
        adapter: EngineAdapter, tasks: Tasks, lab: LabState) -> None:
    live = LiveState(adapter, controller)
    window = MainWindow(store, controller, registry, adapter, live, tasks, lab=lab)
    qtbot.addWidget(window)
    window.show_lab()
    assert window.tabs.currentWidget() is window.lab
    assert window.tabs.tabText(window.tabs.currentIndex()) == "L&ab"
    live.deleteLater()


def produce_beats(config: Any, topic: str, beats: list[Heartbeat]) -> None:
    from confluent_kafka import Producer

    from openmsi_gui.engine.lab_wire import encode_heartbeat, heartbeat_key

    producer = Producer(config.producer_settings())
    for one in beats:
        producer.produce(topic, encode_heartbeat(one), heartbeat_key(one.program_id))
    producer.flush(10)


def test_the_view_shows_what_a_real_reader_reads_on_the_broker(
        qtbot: QtBot, store: SettingsStore, adapter: EngineAdapter,
        controller: AppController, tasks: Tasks, bus: EventBus, kafka_config: Any,
        make_topic: Callable[..., str], broker: Any) -> None:
    topic = make_topic(1)
    now = dt.datetime.now(dt.UTC)
    produce_beats(kafka_config, topic, [
        Heartbeat("lab-pc1_watch", now, Counters(messages_produced=4, bytes_produced=4096,
                                                 files=2), interval=5.0, host="lab-pc1",
                  app_version="1.0", kind=ReportKind.WATCH, job="outbox",
                  state=ReportedState.WORKING),
        Heartbeat("osn_upload", now, Counters(messages_produced=3, bytes_produced=300))])
    lab = LabState(adapter, controller, tasks, bus)
    try:
        view = LabView(store, lab)
        qtbot.addWidget(view)
        choose(store, topic, "", broker.bootstrap_servers)
        lab.start()
        qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=20_000)
        assert view.select("lab-pc1_watch")
        assert "lab-pc1" in view.detail.text()
        names = {view.model.row_at(r).program_id: view.model.row_at(r)
                 for r in range(view.model.rowCount())}
        assert names["osn_upload"].version == "OpenMSIStream"
        assert names["lab-pc1_watch"].files_last_hour == 2
    finally:
        stop(qtbot, lab)


def test_the_app_reads_its_lab_from_start_and_stops_the_reader_at_quit(
        qtbot: QtBot, store: SettingsStore, kafka_config: Any, make_topic: Callable[..., str],
        broker: Any, tmp_path: Any) -> None:
    from openmsi_gui.ui.application import OpenMSIApp

    topic = make_topic(1)
    produce_beats(kafka_config, topic, [beat("scope_watch")])
    choose(store, topic, "", broker.bootstrap_servers)
    settings = store.settings
    settings.ui.first_run_done = True
    store.update(settings)
    openmsi = OpenMSIApp(store, Registry(tmp_path / "app-registry.sqlite3"))
    openmsi.start(show_window=True)
    # Not qtbot.addWidget(window): closing the app's window may ask a question.
    try:
        openmsi.tray.lab_action.trigger()
        assert openmsi.window.tabs.currentWidget() is openmsi.window.lab
        qtbot.waitUntil(lambda: [row.program_id for row in openmsi.lab.rows] == ["scope_watch"],
                        timeout=20_000)
        assert openmsi.lab.reading is not None
    finally:
        openmsi.quit()
        qtbot.waitUntil(lambda: openmsi.tasks.closed, timeout=60_000)
        assert openmsi.lab.reading is None  # the reader stopped (no thread left: conftest)
        openmsi.window.deleteLater()
        openmsi.deleteLater()
