"""The first-run wizard, driven like a user would, against the real broker."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest
from helpers import Recorder
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QFileDialog,
    QLineEdit,
    QWidget,
    QWizard,
)
from pytestqt.qtbot import QtBot

from openmsi_gui.app import profiles
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.job_specs import job_id
from openmsi_gui.app.settings import BrokerProfile, SettingsStore
from openmsi_gui.app.wizard import JobKind, PathKind, Step, path_kind
from openmsi_gui.engine.broker import EmbeddedBroker, free_port
from openmsi_gui.engine.events import JobState, JobStatus
from openmsi_gui.ui import wizard as ui_wizard
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.wizard import SetupWizard

PASSWORD = "Pa55-word-typed-in-the-wizard"
Next = QWizard.WizardButton.NextButton
Back = QWizard.WizardButton.BackButton
Finish = QWizard.WizardButton.FinishButton
Cancel = QWizard.WizardButton.CancelButton


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default demo folder (~/OpenMSI demo) lands in the test's tmp folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def wizard(qtbot: QtBot, store: SettingsStore, controller: AppController, tasks: Tasks
           ) -> Iterator[SetupWizard]:
    wiz = SetupWizard(store, controller, tasks)
    qtbot.addWidget(wiz)
    wiz.show()
    qtbot.waitExposed(wiz)
    yield wiz
    if wiz.isVisible():
        wiz.reject()


@pytest.fixture
def no_jobs(controller: AppController, monkeypatch: pytest.MonkeyPatch) -> None:
    """Saved settings start no jobs (for tests about the wizard, not the transfers)."""
    monkeypatch.setattr(controller, "apply", lambda settings: _done(None))


@pytest.fixture
def pick_folder(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], list[str]]:
    """``pick_folder(path)``: the next folder dialogs answer ``path``; returns their captions."""
    captions: list[str] = []

    def patch(path: Path) -> list[str]:
        def fake(_parent: QWidget, caption: str = "", _start: str = "") -> str:
            captions.append(caption)
            return str(path)

        monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(fake))
        return captions

    return patch


def click(qtbot: QtBot, button: QAbstractButton) -> None:
    assert button.isVisible(), f"{button.text()!r} is hidden"
    if not button.isEnabled():  # paths are checked off the GUI thread once typing pauses
        qtbot.waitUntil(button.isEnabled, timeout=3000)
    # Radio buttons and check boxes react on their indicator and label only.
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton, pos=QPoint(8, button.height() // 2))


def press(qtbot: QtBot, wizard: SetupWizard, which: QWizard.WizardButton) -> None:
    click(qtbot, wizard.button(which))


def type_into(qtbot: QtBot, edit: QLineEdit, text: str) -> None:
    edit.clear()
    qtbot.keyClicks(edit, text)


def test_demo_path_end_to_end(qtbot: QtBot, wizard: SetupWizard, store: SettingsStore,
                              pick_folder: Callable[[Path], list[str]], tmp_path: Path) -> None:
    assert wizard.currentId() == Step.WELCOME
    assert wizard.welcome.demo.isChecked()
    press(qtbot, wizard, Next)
    assert wizard.currentId() == Step.FIRST_JOB  # the broker page is skipped
    page = wizard.first_job
    assert page.kind_buttons[JobKind.PAIR].isChecked()
    assert page.kind_buttons[JobKind.PAIR].isVisible()
    assert page.demo_folder.edit.text() == str(tmp_path / "home" / "OpenMSI demo")
    captions = pick_folder(tmp_path / "demo")
    click(qtbot, page.demo_folder.browse)
    assert captions == ["Choose where the demo folders go"]
    assert page.demo_folder.edit.text() == str(tmp_path / "demo")
    press(qtbot, wizard, Next)
    assert wizard.currentId() == Step.DONE
    assert "outbox" in wizard.done_page.summary.text()
    assert wizard.button(Finish).isVisible()
    press(qtbot, wizard, Finish)
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=10_000)

    settings = store.settings
    assert settings.ui.first_run_done
    [profile] = settings.profiles
    assert profile.embedded
    [folder] = settings.folders
    [dest] = settings.destinations
    assert folder.path == str(tmp_path / "demo" / "outbox")
    assert dest.path == str(tmp_path / "demo" / "inbox")
    assert folder.profile_id == dest.profile_id == profile.id
    assert (tmp_path / "demo" / "outbox").is_dir()
    assert (tmp_path / "demo" / "inbox").is_dir()
    assert not (tmp_path / "home" / "OpenMSI demo").exists()

    # The controller started the demo broker and both jobs: a file goes round.
    (tmp_path / "demo" / "outbox" / "hello.txt").write_text("hello from the wizard")
    received = tmp_path / "demo" / "inbox" / "hello.txt"
    qtbot.waitUntil(received.exists, timeout=60_000)
    qtbot.waitUntil(lambda: received.read_text() == "hello from the wizard", timeout=10_000)


def test_real_broker_path(qtbot: QtBot, wizard: SetupWizard, store: SettingsStore,
                          broker: EmbeddedBroker, make_topic: Callable[..., str],
                          pick_folder: Callable[[Path], list[str]], recorder: Recorder,
                          memory_keyring: object, tmp_path: Path) -> None:
    topic = make_topic(1)
    click(qtbot, wizard.welcome.real)
    press(qtbot, wizard, Next)
    assert wizard.currentId() == Step.BROKER
    page = wizard.broker
    assert not wizard.button(Next).isEnabled()
    assert not page.test_button.isEnabled()
    assert "broker address" in page.reason.text()
    type_into(qtbot, page.address, broker.bootstrap_servers)
    type_into(qtbot, page.name, "Lab broker")
    assert not page.mechanism.isVisible()  # PLAINTEXT needs no login
    assert not wizard.button(Next).isEnabled()
    assert page.reason.text() == "Test the connection before continuing."
    click(qtbot, page.test_button)
    assert page.status.busy.isVisible()
    assert not page.test_button.isEnabled()
    qtbot.waitUntil(lambda: page.status.text().startswith("Connected"), timeout=30_000)
    assert broker.bootstrap_servers in page.status.text()
    assert page.status.icon.accessibleName() == "Success"
    assert not page.status.busy.isVisible()
    assert wizard.button(Next).isEnabled()
    press(qtbot, wizard, Next)

    assert wizard.currentId() == Step.FIRST_JOB
    job = wizard.first_job
    assert not job.kind_buttons[JobKind.PAIR].isVisible()  # no demo pair on a real broker
    assert job.kind_buttons[JobKind.FOLDER].isChecked()
    assert job.folder_topic.currentText() == ""
    qtbot.waitUntil(lambda: job.folder_topic.findText(topic) >= 0, timeout=20_000)
    watched = tmp_path / "instrument"
    watched.mkdir()
    pick_folder(watched)
    click(qtbot, job.folder.browse)
    assert job.folder.edit.text() == str(watched)
    assert not wizard.button(Next).isEnabled()
    assert "topic" in job.reason.text()
    job.folder_topic.setCurrentIndex(job.folder_topic.findText(topic))
    assert job.folder_topic.currentText() == topic
    qtbot.waitUntil(wizard.button(Next).isEnabled, timeout=3000)  # the folder, checked
    press(qtbot, wizard, Next)
    assert "Lab broker" in wizard.done_page.summary.text()
    press(qtbot, wizard, Finish)
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=10_000)

    settings = store.settings
    assert settings.ui.first_run_done
    [profile] = settings.profiles
    assert (profile.name, profile.bootstrap_servers) == ("Lab broker", broker.bootstrap_servers)
    assert not profile.embedded
    [folder] = settings.folders
    assert (folder.path, folder.topic, folder.profile_id) == (str(watched), topic, profile.id)
    # The controller starts the watch job from the saved settings.
    qtbot.waitUntil(lambda: any(isinstance(e, JobState) and e.job == str(job_id(folder))
                                and e.state is JobStatus.RUNNING for e in recorder.of(JobState)),
                    timeout=30_000)


@pytest.mark.usefixtures("no_jobs")
def test_password_goes_to_the_keychain_not_the_settings_file(
        qtbot: QtBot, wizard: SetupWizard, store: SettingsStore, controller: AppController,
        memory_keyring: object, monkeypatch: pytest.MonkeyPatch,
        pick_folder: Callable[[Path], list[str]], tmp_path: Path) -> None:
    # The session broker has no SASL, so the controller's test is replaced by one that
    # records what the keychain held when the controller would have connected.
    seen: list[str | None] = []

    def fake_test(profile: BrokerProfile, topic: str = "") -> Future[str]:
        from openmsi_gui.app import keychain

        seen.append(keychain.get_secret(profiles.owner(profile), profiles.PASSWORD))
        done: Future[str] = Future()
        done.set_result(f"Connected to {profile.bootstrap_servers}: 2 topics.")
        return done

    def fake_topics(profile: BrokerProfile) -> Future[list[str]]:
        done: Future[list[str]] = Future()
        done.set_result(["raw"])
        return done

    monkeypatch.setattr(controller, "test_connection", fake_test)
    monkeypatch.setattr(controller, "list_topics", fake_topics)
    click(qtbot, wizard.welcome.real)
    press(qtbot, wizard, Next)
    page = wizard.broker
    type_into(qtbot, page.address, "kafka.lab.example.org:9093")
    page.protocol.setCurrentIndex(page.protocol.findData("SASL_SSL"))
    assert page.password.isVisible()
    assert page.ca_file.isVisible()
    assert page.mechanism.currentData() == "PLAIN"  # the usual one, chosen for the user
    page.mechanism.setCurrentIndex(page.mechanism.findData("SCRAM-SHA-512"))
    type_into(qtbot, page.username, "lab-user")
    type_into(qtbot, page.password, PASSWORD)
    assert page.password.echoMode() == QLineEdit.EchoMode.Password
    click(qtbot, page.test_button)
    qtbot.waitUntil(lambda: page.status.text().startswith("Connected"), timeout=10_000)
    assert seen == [PASSWORD]
    press(qtbot, wizard, Next)
    job = wizard.first_job
    pick_folder(tmp_path)
    click(qtbot, job.kind_buttons[JobKind.DESTINATION])
    click(qtbot, job.dest.browse)
    qtbot.waitUntil(lambda: job.dest_topic.findText("raw") >= 0, timeout=5000)
    job.dest_topic.setEditText("not-there-yet")
    assert "no topic “not-there-yet”" in job.warning.text()
    job.dest_topic.setCurrentIndex(job.dest_topic.findText("raw"))
    assert job.warning.text() == ""
    assert not job.warning.icon.isVisible()
    type_into(qtbot, job.group, "analysis")
    press(qtbot, wizard, Next)
    assert "keychain" in wizard.done_page.summary.text()
    press(qtbot, wizard, Finish)
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=10_000)

    settings = store.settings
    [profile] = settings.profiles
    assert (profile.security_protocol, profile.sasl_mechanism, profile.sasl_username) == (
        "SASL_SSL", "SCRAM-SHA-512", "lab-user")
    [dest] = settings.destinations
    assert (dest.topic, dest.group_id, dest.path) == ("raw", "analysis", str(tmp_path))
    secrets = memory_keyring.secrets  # type: ignore[attr-defined]
    assert secrets == {("openmsi-gui", f"profile:{profile.id}/sasl.password"): PASSWORD}
    text = store.path.read_text(encoding="utf-8")
    assert PASSWORD not in text
    assert "lab-user" in text
    assert PASSWORD not in json.dumps(json.loads(text))


def test_a_dead_port_fails_in_plain_language(qtbot: QtBot, wizard: SetupWizard) -> None:
    click(qtbot, wizard.welcome.real)
    press(qtbot, wizard, Next)
    page = wizard.broker
    address = f"127.0.0.1:{free_port()}"
    type_into(qtbot, page.address, address)
    click(qtbot, page.test_button)
    assert page.status.text() == f"Connecting to {address}…"
    qtbot.waitUntil(lambda: page.status.text().startswith("Could not connect"),
                    timeout=30_000)
    text = page.status.text()
    assert address in text
    assert "broker" in text
    assert "Kafka" not in text  # no librdkafka jargon
    assert "_TRANSPORT" not in text
    assert page.status.icon.accessibleName() == "Problem"
    assert page.status.icon.isVisible()
    assert not wizard.button(Next).isEnabled()
    assert page.test_button.isEnabled()  # try again
    # Editing the address clears the old verdict.
    qtbot.keyClicks(page.address, "1")
    assert page.status.text() == ""


def test_cancel_marks_first_run_done(qtbot: QtBot, wizard: SetupWizard,
                                     store: SettingsStore) -> None:
    assert not store.settings.ui.first_run_done
    press(qtbot, wizard, Cancel)
    assert not wizard.isVisible()
    settings = store.settings
    assert settings.ui.first_run_done
    assert settings.profiles == []
    assert settings.folders == []
    assert settings.destinations == []


def test_escape_cancels_too_and_keeps_other_settings(
        qtbot: QtBot, store: SettingsStore, controller: AppController, tasks: Tasks,
        broker_profile: BrokerProfile) -> None:
    settings = store.settings
    settings.profiles.append(broker_profile)
    settings.ui.theme = "dark"
    store.update(settings)
    wizard = SetupWizard(store, controller, tasks)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitExposed(wizard)
    qtbot.keyClick(wizard, Qt.Key.Key_Escape)
    assert not wizard.isVisible()
    after = store.settings
    assert after.ui.first_run_done
    assert after.profiles == [broker_profile]
    assert after.ui.theme == "dark"


def test_cancel_after_a_test_forgets_the_typed_password(
        qtbot: QtBot, wizard: SetupWizard, controller: AppController,
        memory_keyring: object, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_test(profile: BrokerProfile, topic: str = "") -> Future[str]:
        done: Future[str] = Future()
        done.set_result("Connected to kafka.example.org:9092: 0 topics.")
        return done

    monkeypatch.setattr(controller, "test_connection", fake_test)
    click(qtbot, wizard.welcome.real)
    press(qtbot, wizard, Next)
    page = wizard.broker
    type_into(qtbot, page.address, "kafka.example.org:9092")
    page.protocol.setCurrentIndex(page.protocol.findData("SASL_PLAINTEXT"))
    page.mechanism.setCurrentIndex(page.mechanism.findData("PLAIN"))
    type_into(qtbot, page.username, "u")
    type_into(qtbot, page.password, PASSWORD)
    click(qtbot, page.test_button)
    secrets = memory_keyring.secrets  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: bool(secrets), timeout=5000)
    qtbot.waitUntil(lambda: wizard.button(Next).isEnabled(), timeout=5000)
    press(qtbot, wizard, Cancel)
    qtbot.waitUntil(lambda: not secrets, timeout=5000)


def test_back_to_the_demo_skips_the_broker_page(qtbot: QtBot, wizard: SetupWizard) -> None:
    click(qtbot, wizard.welcome.real)
    press(qtbot, wizard, Next)
    assert wizard.currentId() == Step.BROKER
    type_into(qtbot, wizard.broker.address, "kafka.example.org:9092")
    press(qtbot, wizard, Back)
    assert wizard.currentId() == Step.WELCOME
    assert wizard.flow.step is Step.WELCOME
    click(qtbot, wizard.welcome.demo)
    press(qtbot, wizard, Next)
    assert wizard.currentId() == Step.FIRST_JOB
    assert wizard.first_job.kind_buttons[JobKind.PAIR].isChecked()
    press(qtbot, wizard, Back)
    click(qtbot, wizard.welcome.real)
    press(qtbot, wizard, Next)
    assert wizard.currentId() == Step.BROKER
    assert wizard.broker.address.text() == "kafka.example.org:9092"  # kept


def test_skip_saves_only_the_broker(qtbot: QtBot, wizard: SetupWizard, store: SettingsStore,
                                    broker: EmbeddedBroker) -> None:
    click(qtbot, wizard.welcome.real)
    press(qtbot, wizard, Next)
    type_into(qtbot, wizard.broker.address, broker.bootstrap_servers)
    qtbot.keyClick(wizard.broker.address, Qt.Key.Key_Return)  # Enter tests the address
    qtbot.waitUntil(lambda: wizard.button(Next).isEnabled(), timeout=30_000)
    assert wizard.currentId() == Step.BROKER
    qtbot.keyClick(wizard.broker.address, Qt.Key.Key_Return)  # then Enter means Next
    assert wizard.currentId() == Step.FIRST_JOB
    click(qtbot, wizard.first_job.kind_buttons[JobKind.SKIP])
    assert wizard.button(Next).isEnabled()
    press(qtbot, wizard, Next)
    assert "later" in wizard.done_page.summary.text()
    press(qtbot, wizard, Finish)
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=10_000)
    settings = store.settings
    assert [p.bootstrap_servers for p in settings.profiles] == [broker.bootstrap_servers]
    assert settings.folders == []
    assert settings.destinations == []
    assert settings.ui.first_run_done


class _BrokenKeyring(keyring.backend.KeyringBackend):
    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("the keyring is locked")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.PasswordDeleteError(username)


@pytest.mark.usefixtures("no_jobs")
def test_a_keychain_failure_on_finish_saves_nothing(
        qtbot: QtBot, wizard: SetupWizard, store: SettingsStore, controller: AppController,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controller, "test_connection",
                        lambda profile, topic="": _done("Connected."))
    monkeypatch.setattr(controller, "list_topics", lambda profile: _done([]))
    click(qtbot, wizard.welcome.real)
    press(qtbot, wizard, Next)
    page = wizard.broker
    type_into(qtbot, page.address, "kafka.example.org:9092")
    page.protocol.setCurrentIndex(page.protocol.findData("SASL_PLAINTEXT"))
    page.mechanism.setCurrentIndex(page.mechanism.findData("PLAIN"))
    type_into(qtbot, page.username, "u")
    type_into(qtbot, page.password, PASSWORD)
    click(qtbot, page.test_button)
    qtbot.waitUntil(lambda: wizard.button(Next).isEnabled(), timeout=5000)
    press(qtbot, wizard, Next)
    click(qtbot, wizard.first_job.kind_buttons[JobKind.SKIP])
    press(qtbot, wizard, Next)
    previous = keyring.get_keyring()
    keyring.set_keyring(_BrokenKeyring())
    try:
        press(qtbot, wizard, Finish)
        status = wizard.done_page.status
        qtbot.waitUntil(lambda: status.text().startswith("Nothing was saved"),
                        timeout=5000)
    finally:
        keyring.set_keyring(previous)
    assert "keychain" in status.text()
    assert wizard.isVisible()
    assert store.settings.profiles == []
    assert wizard.button(Finish).isEnabled()  # the user can try again
    assert wizard.button(Cancel).isEnabled()
    press(qtbot, wizard, Finish)
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=5000)
    assert len(store.settings.profiles) == 1


def _done(value: object) -> Future[object]:
    future: Future[object] = Future()
    future.set_result(value)
    return future


def test_every_control_has_an_accessible_name(wizard: SetupWizard) -> None:
    pages = [wizard.page(i) for i in wizard.pageIds()]
    missing = []
    for root in [wizard, *pages]:
        for widget in root.findChildren(QWidget):
            if not isinstance(widget, (QAbstractButton, QLineEdit, QComboBox)):
                continue
            if isinstance(widget, QLineEdit) and isinstance(widget.parent(), QComboBox):
                continue  # an editable combo box's own editor; the combo box is named
            if widget.focusPolicy() != Qt.FocusPolicy.NoFocus and not widget.accessibleName():
                missing.append(f"{type(widget).__name__} {getattr(widget, 'text', str)()!r}")
    assert missing == []


@pytest.mark.usefixtures("no_jobs")
def test_keyboard_only(qtbot: QtBot, wizard: SetupWizard, store: SettingsStore,
                       tmp_path: Path) -> None:
    wizard.activateWindow()
    qtbot.waitUntil(wizard.isActiveWindow, timeout=5000)
    window = wizard.windowHandle()  # key events through the window, so mnemonics work

    def alt(key: Qt.Key) -> None:
        qtbot.keyClick(window, key, Qt.KeyboardModifier.AltModifier)

    alt(Qt.Key.Key_K)  # "Connect to my lab's &Kafka broker" (buttons click after ~100 ms)
    qtbot.waitUntil(wizard.welcome.real.isChecked, timeout=2000)
    alt(Qt.Key.Key_D)  # "Try it with a &demo broker"
    qtbot.waitUntil(wizard.welcome.demo.isChecked, timeout=2000)
    alt(Qt.Key.Key_N)  # Next
    qtbot.waitUntil(lambda: wizard.currentId() == Step.FIRST_JOB, timeout=2000)
    alt(Qt.Key.Key_L)  # Location
    edit = wizard.first_job.demo_folder.edit
    qtbot.waitUntil(edit.hasFocus, timeout=2000)
    qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(edit, str(tmp_path / "kb"))
    assert edit.text() == str(tmp_path / "kb")
    qtbot.waitUntil(wizard.button(Next).isEnabled, timeout=3000)  # checked once typing pauses
    alt(Qt.Key.Key_N)
    qtbot.waitUntil(lambda: wizard.currentId() == Step.DONE, timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_Return)  # Finish is the default button
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=10_000)
    assert store.settings.folders[0].path == str(tmp_path / "kb" / "outbox")



def test_a_hanging_disk_check_does_not_freeze_the_wizard(
        wizard: SetupWizard, qtbot: QtBot, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder on a dead network share: the wizard keeps painting while it is looked at."""
    share = tmp_path / "unreachable-share"
    started, release = threading.Event(), threading.Event()
    asked: list[str] = []

    def hanging_kind(path: str) -> PathKind:
        asked.append(path)
        if path == str(share):
            started.set()
            release.wait(10)
        return path_kind(path)

    monkeypatch.setattr(ui_wizard, "path_kind", hanging_kind)
    press(qtbot, wizard, Next)
    assert wizard.currentId() == Step.FIRST_JOB
    edit = wizard.first_job.demo_folder.edit
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    try:
        edit.selectAll()
        qtbot.keyClicks(edit, str(share))
        qtbot.waitUntil(started.is_set, timeout=3000)
        qtbot.wait(1000)
        assert wizard.first_job.reason.text() == f"Checking {share}…"
        assert not wizard.button(Next).isEnabled()
    finally:
        release.set()
        timer.stop()
    qtbot.waitUntil(wizard.button(Next).isEnabled, timeout=3000)
    assert asked.count(str(share)) == 1  # once typing paused, not once per keystroke
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 20, ticks
    assert max(gaps) < 0.5, gaps  # the event loop ran all along


def test_the_demo_choice_says_the_local_broker_keeps_its_data(wizard: SetupWizard) -> None:
    """It did say "in memory", from before the local broker kept its data (issue 11 item 4)."""
    note = wizard.welcome.demo.accessibleDescription()
    assert "memory" not in note
    assert "keeps its data" in note
