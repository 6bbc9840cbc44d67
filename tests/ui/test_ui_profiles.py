"""The broker profiles view, driven through its widgets (pytest-qt, offscreen)."""

from __future__ import annotations

import itertools
import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keyring.errors
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
)

from openmsi_gui.app import keychain, profiles
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import (
    BrokerProfile,
    Destination,
    SecurityProtocol,
    SettingsStore,
    WatchedFolder,
)
from openmsi_gui.engine import admin
from openmsi_gui.engine.admin import explain_failure, probe_broker
from openmsi_gui.engine.broker import EmbeddedBroker, free_port
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.views.profile_editor import PASSWORD_STORED
from openmsi_gui.ui.views.profiles import ProfilesView

SECRET = "hunter2-never-in-files"
LIBRDKAFKA_WORDS = ("rdkafka", "KafkaError", "_TRANSPORT", "Local:", "-195")
TEST_TIMEOUT_MS = 25_000

Make = Callable[[], ProfilesView]


@pytest.fixture
def make_view(qtbot: Any, store: SettingsStore, controller: AppController,
              tasks: Tasks) -> Make:
    """Build the view on the test's store and controller, shown offscreen."""

    def make() -> ProfilesView:
        view = ProfilesView(store, controller, tasks)
        qtbot.addWidget(view)
        view.resize(900, 600)
        view.show()
        return view

    return make


def add_profiles(store: SettingsStore, *new: BrokerProfile) -> None:
    settings = store.settings
    settings.profiles.extend(new)
    store.update(settings)


def secret_of(memory_keyring: Any, profile_id: str) -> str | None:
    account = f"profile:{profile_id}/{profiles.PASSWORD}"
    value: str | None = memory_keyring.secrets.get((keychain.SERVICE, account))
    return value


def type_into(qtbot: Any, edit: QLineEdit, text: str) -> None:
    edit.clear()
    qtbot.keyClicks(edit, text)


def choose(combo: QComboBox, value: str) -> None:
    index = combo.findData(value)
    assert index >= 0, value
    combo.setCurrentIndex(index)


def click(qtbot: Any, button: QPushButton) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def answer(monkeypatch: pytest.MonkeyPatch, reply: QMessageBox.StandardButton) -> list[str]:
    """Make QMessageBox.question reply at once; returns the questions asked."""
    asked: list[str] = []

    def question(_parent: object, _title: str, text: str, *_args: object) -> Any:
        asked.append(text)
        return reply

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def run_test(qtbot: Any, view: ProfilesView, topic: str = "") -> tuple[bool, str]:
    if topic:
        type_into(qtbot, view.tester.topic_edit, topic)
    with qtbot.waitSignal(view.testFinished, timeout=TEST_TIMEOUT_MS) as blocker:
        click(qtbot, view.tester.test_button)
    ok, text = blocker.args
    assert view.tester.result.text() == text
    assert not view.tester.result.icon.pixmap().isNull()  # text and icon, not colour alone
    assert view.tester.result.icon.accessibleName() == ("Success" if ok else "Problem")
    assert view.tester.test_button.isEnabled()
    assert view.tester.test_busy.isHidden()
    return bool(ok), str(text)


def assert_plain(text: str) -> None:
    for word in LIBRDKAFKA_WORDS:
        assert word not in text, text


# -- creating, editing, deleting ---------------------------------------------------


def test_create_profile_password_goes_to_keychain_only(
        qtbot: Any, make_view: Make, store: SettingsStore, memory_keyring: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    view = make_view()
    assert view.list.count() == 0
    click(qtbot, view.new_button)
    assert view.list.count() == 1
    type_into(qtbot, view.form.name_edit, "Lab Kafka")
    type_into(qtbot, view.form.servers_edit, "kafka1.lab:9093, kafka2.lab:9093")
    choose(view.form.protocol_combo, "SASL_SSL")
    choose(view.form.mechanism_combo, "SCRAM-SHA-512")
    type_into(qtbot, view.form.username_edit, "microscope-3")
    type_into(qtbot, view.form.password_edit, SECRET)
    type_into(qtbot, view.form.ca_edit, "/etc/ssl/lab-ca.pem")
    assert view.form.password_edit.echoMode() == QLineEdit.EchoMode.Password

    with qtbot.waitSignal(view.saved, timeout=5000) as blocker:
        click(qtbot, view.form.save_button)

    saved = store.settings.profile(blocker.args[0])
    assert saved is not None
    assert (saved.name, saved.bootstrap_servers, saved.security_protocol, saved.sasl_mechanism,
            saved.sasl_username, saved.ca_file) == (
        "Lab Kafka", "kafka1.lab:9093,kafka2.lab:9093", "SASL_SSL", "SCRAM-SHA-512",
        "microscope-3", "/etc/ssl/lab-ca.pem")
    assert secret_of(memory_keyring, saved.id) == SECRET
    on_disk = store.path.read_text(encoding="utf-8")
    assert SECRET not in on_disk
    assert "password" not in json.dumps(json.loads(on_disk)["profiles"]).lower()
    assert all(SECRET not in record.getMessage() for record in caplog.records)
    # The form now shows the saved profile, with the password hidden in the keychain.
    assert view.list.count() == 1
    assert view.list.currentItem().text() == "Lab Kafka"
    assert view.form.password_edit.text() == ""
    qtbot.waitUntil(lambda: view.form.password_edit.placeholderText() == PASSWORD_STORED)
    assert not view.form.save_button.isEnabled()
    assert view.form.status.text() == "Saved “Lab Kafka”."
    assert view.form.status.icon.accessibleName() == "Success"


def test_invalid_form_is_not_saved_and_says_why(qtbot: Any, make_view: Make,
                                                store: SettingsStore) -> None:
    view = make_view()
    click(qtbot, view.new_button)
    type_into(qtbot, view.form.servers_edit, "kafka.lab")
    with qtbot.waitSignal(view.statusChanged) as blocker:
        click(qtbot, view.form.save_button)
    assert blocker.args[0] is False
    assert "host:port" in view.form.status.text()
    assert view.form.status.icon.accessibleName() == "Problem"
    assert store.settings.profiles == []


def test_edit_and_revert(qtbot: Any, make_view: Make, store: SettingsStore,
                         memory_keyring: Any) -> None:
    lab = BrokerProfile(name="Lab", bootstrap_servers="old.lab:9092")
    add_profiles(store, lab, BrokerProfile(name="Other", bootstrap_servers="other:9092"))
    view = make_view()
    assert view.form.name_edit.text() == "Lab"
    assert not view.form.save_button.isEnabled()

    type_into(qtbot, view.form.servers_edit, "new.lab:9092")
    assert view.form.save_button.isEnabled()
    click(qtbot, view.form.revert_button)
    assert view.form.servers_edit.text() == "old.lab:9092"
    assert not view.form.save_button.isEnabled()

    type_into(qtbot, view.form.name_edit, "other")  # names are unique, ignoring case
    click(qtbot, view.form.save_button)
    assert "already called" in view.form.status.text()

    type_into(qtbot, view.form.name_edit, "Lab (renamed)")
    type_into(qtbot, view.form.servers_edit, "new.lab:9092")
    with qtbot.waitSignal(view.saved, timeout=5000):
        click(qtbot, view.form.save_button)
    edited = store.settings.profile(lab.id)
    assert edited is not None
    assert (edited.name, edited.bootstrap_servers) == ("Lab (renamed)", "new.lab:9092")
    assert [p.name for p in store.settings.profiles] == ["Lab (renamed)", "Other"]
    assert memory_keyring.secrets == {}  # no SASL, nothing in the keychain


def test_keychain_failure_saves_nothing(qtbot: Any, make_view: Make, store: SettingsStore,
                                       memory_keyring: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def locked(*_args: object) -> None:
        raise keyring.errors.KeyringError("the keyring is locked")

    monkeypatch.setattr(memory_keyring, "set_password", locked)
    view = make_view()
    click(qtbot, view.new_button)
    type_into(qtbot, view.form.servers_edit, "lab:9093")
    choose(view.form.protocol_combo, "SASL_PLAINTEXT")
    choose(view.form.mechanism_combo, "PLAIN")
    type_into(qtbot, view.form.username_edit, "me")
    type_into(qtbot, view.form.password_edit, SECRET)
    with qtbot.waitSignal(view.statusChanged, timeout=5000) as blocker:
        click(qtbot, view.form.save_button)
    ok, text = blocker.args
    assert not ok
    assert text.startswith("Not saved: Could not save the secret in the system keychain")
    assert store.settings.profiles == []  # the secret is written first, then the settings
    assert view.form.password_edit.text() == SECRET  # kept, to try again
    assert view.form.save_button.isEnabled()


def test_leaving_sasl_deletes_the_stored_password(qtbot: Any, make_view: Make,
                                                  store: SettingsStore,
                                                  memory_keyring: Any) -> None:
    lab = BrokerProfile(name="Lab", bootstrap_servers="lab:9093",
                        security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
                        sasl_username="me", ca_file="/ca.pem")
    add_profiles(store, lab)
    keychain.set_secret(profiles.owner(lab), profiles.PASSWORD, SECRET)
    view = make_view()
    choose(view.form.protocol_combo, "SSL")
    with qtbot.waitSignal(view.saved, timeout=5000):
        click(qtbot, view.form.save_button)
    saved = store.settings.profile(lab.id)
    assert saved is not None
    assert (saved.security_protocol, saved.sasl_mechanism, saved.sasl_username,
            saved.ca_file) == ("SSL", "", "", "/ca.pem")
    assert secret_of(memory_keyring, lab.id) is None


def test_switching_away_from_unsaved_changes_asks_first(
        qtbot: Any, make_view: Make, store: SettingsStore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    add_profiles(store, BrokerProfile(name="A", bootstrap_servers="a:9092"),
                 BrokerProfile(name="B", bootstrap_servers="b:9092"))
    view = make_view()
    type_into(qtbot, view.form.servers_edit, "changed:9092")

    asked = answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    view.list.setCurrentRow(1)
    assert asked
    assert view.list.currentRow() == 0
    assert view.form.servers_edit.text() == "changed:9092"

    answer(monkeypatch, QMessageBox.StandardButton.Discard)
    view.list.setCurrentRow(1)
    assert view.form.name_edit.text() == "B"
    assert store.settings.profiles[0].bootstrap_servers == "a:9092"


def test_sasl_and_ca_fields_follow_the_protocol(qtbot: Any, make_view: Make,
                                                monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    view = make_view()
    click(qtbot, view.new_button)
    choose(view.form.protocol_combo, "PLAINTEXT")
    sasl = (view.form.mechanism_combo, view.form.username_edit, view.form.password_edit)
    tls = (view.form.ca_edit, view.form.browse_button)
    assert not any(w.isEnabled() for w in sasl + tls)
    choose(view.form.protocol_combo, "SASL_PLAINTEXT")
    assert all(w.isEnabled() for w in sasl)
    assert not any(w.isEnabled() for w in tls)
    choose(view.form.protocol_combo, "SSL")
    assert all(w.isEnabled() for w in tls)
    assert not any(w.isEnabled() for w in sasl)

    pem = tmp_path / "ca.pem"
    filters: list[str] = []

    def get_open(_parent: object, _caption: str, _dir: str, filt: str) -> tuple[str, str]:
        filters.append(filt)
        return str(pem), filt

    monkeypatch.setattr(QFileDialog, "getOpenFileName", get_open)
    click(qtbot, view.form.browse_button)
    assert view.form.ca_edit.text() == str(pem)
    assert "*.pem" in filters[0]
    assert "*.crt" in filters[0]


def test_delete_asks_then_removes_profile_and_secret(
        qtbot: Any, make_view: Make, store: SettingsStore, memory_keyring: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    lab = BrokerProfile(name="Lab", bootstrap_servers="lab:9093", security_protocol="SASL_SSL",
                        sasl_mechanism="PLAIN", sasl_username="me")
    keep = BrokerProfile(name="Keep", bootstrap_servers="keep:9092")
    add_profiles(store, lab, keep)
    keychain.set_secret(profiles.owner(lab), profiles.PASSWORD, SECRET)
    view = make_view()
    assert view.form.name_edit.text() == "Lab"

    asked = answer(monkeypatch, QMessageBox.StandardButton.No)
    click(qtbot, view.delete_button)
    assert len(asked) == 1
    assert len(store.settings.profiles) == 2

    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(view.deleted, timeout=5000) as blocker:
        click(qtbot, view.delete_button)
    assert blocker.args == [lab.id]
    assert [p.id for p in store.settings.profiles] == [keep.id]
    assert secret_of(memory_keyring, lab.id) is None
    assert view.list.count() == 1
    assert view.form.name_edit.text() == "Keep"


def test_delete_is_refused_while_a_folder_or_destination_uses_it(
        qtbot: Any, make_view: Make, store: SettingsStore, memory_keyring: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    lab = BrokerProfile(name="Lab", bootstrap_servers="lab:9092")
    add_profiles(store, lab)
    keychain.set_secret(profiles.owner(lab), profiles.PASSWORD, SECRET)
    settings = store.settings
    settings.folders.append(WatchedFolder(path="/data/microscope", profile_id=lab.id,
                                          topic="images", enabled=False))
    settings.destinations.append(Destination(path="/archive", profile_id=lab.id,
                                             topic="images", enabled=False))
    store.update(settings)
    view = make_view()
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning",
                        lambda _p, _t, text, *_a: warnings.append(text))
    asked = answer(monkeypatch, QMessageBox.StandardButton.Yes)

    click(qtbot, view.delete_button)

    assert asked == []  # refused before asking
    assert len(warnings) == 1
    assert "/data/microscope" in warnings[0]
    assert "/archive" in warnings[0]
    assert [p.id for p in store.settings.profiles] == [lab.id]
    assert secret_of(memory_keyring, lab.id) == SECRET
    assert "in use" in view.form.status.text()


def test_profiles_added_elsewhere_appear(qtbot: Any, make_view: Make,
                                         store: SettingsStore) -> None:
    view = make_view()
    assert view.list.count() == 0
    assert not view.tester.test_button.isEnabled()
    add_profiles(store, BrokerProfile(name="From the wizard", bootstrap_servers="w:9092"))
    qtbot.waitUntil(lambda: view.list.count() == 1)
    qtbot.waitUntil(lambda: view.form.name_edit.text() == "From the wizard")
    assert view.tester.test_button.isEnabled()


def test_embedded_profile_is_read_only_and_tested_through_the_controller(
        qtbot: Any, make_view: Make, store: SettingsStore) -> None:
    add_profiles(store, BrokerProfile(name="Local demo broker", bootstrap_servers="(embedded)",
                                      embedded=True))
    view = make_view()
    assert view.list.currentItem().text() == "Local demo broker (demo)"
    assert view.form.note.isVisible()
    assert "demo broker" in view.form.note.text()
    for widget in (view.form.name_edit, view.form.servers_edit, view.form.protocol_combo,
                   view.form.mechanism_combo, view.form.username_edit, view.form.password_edit,
                   view.form.ca_edit, view.form.browse_button, view.form.save_button,
                   view.export_button):
        assert not widget.isEnabled(), widget.accessibleName()
    ok, text = run_test(qtbot, view)
    assert ok, text
    assert text.startswith("Connected to 127.0.0.1:")


# -- connection tests ---------------------------------------------------------------


def test_connection_to_the_real_broker(qtbot: Any, make_view: Make, store: SettingsStore,
                                       broker_profile: BrokerProfile, topic: str) -> None:
    add_profiles(store, broker_profile)
    view = make_view()
    ok, text = run_test(qtbot, view)
    assert ok, text
    assert text.startswith(f"Connected to {broker_profile.bootstrap_servers}")
    assert view.tester.result.icon.toolTip() == "Success"

    ok, text = run_test(qtbot, view, topic)
    assert ok, text
    assert f"topic {topic!r} exists" in text


def test_connection_reports_a_missing_topic(qtbot: Any, make_view: Make,
                                            store: SettingsStore,
                                            broker_profile: BrokerProfile) -> None:
    add_profiles(store, broker_profile)
    view = make_view()
    ok, text = run_test(qtbot, view, "no-such-topic-here")
    assert not ok
    assert "'no-such-topic-here' does not exist" in text
    assert_plain(text)


def test_connection_to_a_dead_port_is_plain_and_leaves_the_gui_responsive(
        qtbot: Any, make_view: Make, store: SettingsStore) -> None:
    add_profiles(store, BrokerProfile(name="Dead", bootstrap_servers=f"127.0.0.1:{free_port()}"))
    view = make_view()
    ticks: list[float] = []
    timer = QTimer(view)
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()

    started = time.monotonic()
    with qtbot.waitSignal(view.testFinished, timeout=TEST_TIMEOUT_MS) as blocker:
        qtbot.mouseClick(view.tester.test_button, Qt.MouseButton.LeftButton)
        handler_seconds = time.monotonic() - started
        assert not view.tester.test_button.isEnabled()  # busy state
        assert view.tester.test_busy.isVisible()
        assert "Connecting to" in view.tester.result.text()
        assert view.tester.result.icon.accessibleName() == "Working"
    total = time.monotonic() - started
    timer.stop()

    assert handler_seconds < 0.2
    assert total > 1.0  # the check itself takes seconds: it ran on another thread
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert gaps
    assert max(gaps) < 0.5, f"the GUI thread stalled for {max(gaps):.2f} s"
    ok, text = blocker.args
    assert not ok
    assert "nothing accepts connections at 127.0.0.1:" in text
    assert_plain(text)
    assert view.tester.result.icon.accessibleName() == "Problem"


def test_missing_ca_file_is_a_tls_problem(qtbot: Any, make_view: Make, store: SettingsStore,
                                          tmp_path: Path) -> None:
    add_profiles(store, BrokerProfile(name="TLS", bootstrap_servers="127.0.0.1:9093",
                                      security_protocol="SSL",
                                      ca_file=str(tmp_path / "missing-ca.pem")))
    view = make_view()
    ok, text = run_test(qtbot, view)
    assert not ok
    assert "secure connection" in text
    assert "CA file" in text
    assert_plain(text)


def test_invalid_form_is_not_tested(qtbot: Any, make_view: Make) -> None:
    view = make_view()
    click(qtbot, view.new_button)
    ok, text = run_test(qtbot, view)
    assert not ok
    assert text.startswith("Not tested:")
    assert "bootstrap servers" in text


def test_connection_test_uses_the_unsaved_password(
        qtbot: Any, make_view: Make, store: SettingsStore, memory_keyring: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    lab = BrokerProfile(name="Lab", bootstrap_servers="lab:9093",
                        security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-256",
                        sasl_username="me")
    add_profiles(store, lab)
    keychain.set_secret(profiles.owner(lab), profiles.PASSWORD, "stored-password")
    seen: list[dict[str, str]] = []

    def fake_probe(config: KafkaConfig, topic: str = "", **_kw: object) -> str:
        seen.append(dict(config.broker))
        return "connected to lab:9093: 0 topics"

    monkeypatch.setattr(admin, "probe_broker", fake_probe)
    view = make_view()
    qtbot.waitUntil(lambda: view.form.password_edit.placeholderText() == PASSWORD_STORED)

    ok, text = run_test(qtbot, view)
    assert ok
    assert text == "Connected to lab:9093: 0 topics."
    assert seen[-1]["sasl.password"] == "stored-password"

    type_into(qtbot, view.form.password_edit, "typed-not-saved")
    run_test(qtbot, view)
    assert seen[-1]["sasl.password"] == "typed-not-saved"
    assert seen[-1]["sasl.username"] == "me"
    assert secret_of(memory_keyring, lab.id) == "stored-password"  # testing saves nothing


# -- import and export ------------------------------------------------------------


def test_export_writes_an_env_reference_not_the_password(
        qtbot: Any, make_view: Make, store: SettingsStore, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    lab = BrokerProfile(name="Lab Kafka", bootstrap_servers="lab:9093",
                        security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
                        sasl_username="me", ca_file="/etc/ssl/lab-ca.pem")
    add_profiles(store, lab)
    keychain.set_secret(profiles.owner(lab), profiles.PASSWORD, SECRET)
    target = tmp_path / "exported.config"
    suggested: list[str] = []

    def get_save(_parent: object, _caption: str, name: str, filt: str) -> tuple[str, str]:
        suggested.append(name)
        return str(target), filt

    monkeypatch.setattr(QFileDialog, "getSaveFileName", get_save)
    view = make_view()
    with qtbot.waitSignal(view.exported, timeout=5000):
        click(qtbot, view.export_button)

    assert suggested == ["Lab_Kafka.config"]
    text = target.read_text(encoding="utf-8")
    assert "sasl.password = $OPENMSI_LAB_KAFKA_PASSWORD" in text
    assert SECRET not in text
    assert "OPENMSI_LAB_KAFKA_PASSWORD" in view.form.status.text()


def test_import_creates_a_profile_and_keeps_the_password_out_of_settings(
        qtbot: Any, make_view: Make, store: SettingsStore, memory_keyring: Any,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_profiles(store, BrokerProfile(name="cloud", bootstrap_servers="old:9092"))
    source = tmp_path / "cloud.config"
    source.write_text("[broker]\n"
                      "bootstrap.servers = $CLOUD_BOOTSTRAP\n"
                      "security.protocol = SASL_SSL\n"
                      "sasl.mechanism = PLAIN\n"
                      "sasl.username = APIKEY\n"
                      f"sasl.password = {SECRET}\n", encoding="utf-8")
    monkeypatch.setenv("CLOUD_BOOTSTRAP", "pkc-1.cloud.example:9092")
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *_a: (str(source), "OpenMSIStream configs"))
    view = make_view()

    with qtbot.waitSignal(view.imported, timeout=5000) as blocker:
        click(qtbot, view.import_button)

    new = store.settings.profile(blocker.args[0])
    assert new is not None
    assert (new.name, new.bootstrap_servers, new.security_protocol, new.sasl_mechanism,
            new.sasl_username) == ("cloud (2)", "pkc-1.cloud.example:9092", "SASL_SSL",
                                   "PLAIN", "APIKEY")
    assert secret_of(memory_keyring, new.id) == SECRET
    assert SECRET not in store.path.read_text(encoding="utf-8")
    assert view.list.count() == 2
    assert view.form.name_edit.text() == "cloud (2)"
    qtbot.waitUntil(lambda: view.form.password_edit.placeholderText() == PASSWORD_STORED)
    assert "keychain" in view.form.status.text()


def test_import_of_a_bad_file_says_what_is_wrong(
        qtbot: Any, make_view: Make, store: SettingsStore, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "broken.config"
    source.write_text("[producer]\nlinger.ms = 5\n", encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a: (str(source), ""))
    view = make_view()
    with qtbot.waitSignal(view.statusChanged, timeout=5000) as blocker:
        click(qtbot, view.import_button)
    ok, text = blocker.args
    assert not ok
    assert text.startswith("Not imported:")
    assert "bootstrap.servers" in text
    assert store.settings.profiles == []


# -- accessibility ------------------------------------------------------------------


def test_every_control_has_an_accessible_name_and_a_unique_mnemonic(make_view: Make) -> None:
    view = make_view()
    controls = view.findChildren(QLineEdit) + view.findChildren(QComboBox) \
        + view.findChildren(QPushButton) + view.findChildren(QListWidget)
    assert len(controls) >= 17
    for control in controls:
        assert control.accessibleName(), control
    mnemonics: list[str] = []
    for widget in view.findChildren(QPushButton) + view.findChildren(QLabel):
        found = re.findall(r"&(\w)", widget.text())
        if isinstance(widget, QLabel) and found:
            assert widget.buddy() is not None, widget.text()
        mnemonics += [m.lower() for m in found]
    assert len(mnemonics) == len(set(mnemonics)), sorted(mnemonics)
    # The main window's tabs and buttons use these.
    assert not set(mnemonics) & set("tfdblprq")
    assert not view.new_button.shortcut().isEmpty()


def test_keyboard_shortcuts_reach_the_actions(qtbot: Any, make_view: Make,
                                              store: SettingsStore) -> None:
    view = make_view()
    view.activateWindow()
    qtbot.waitUntil(view.isActiveWindow)
    view.list.setFocus()
    qtbot.waitUntil(view.list.hasFocus)
    qtbot.keyClick(view.list, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: view.list.count() == 1)  # shortcuts animate the click
    type_into(qtbot, view.form.servers_edit, "lab:9092")
    view.form.servers_edit.setFocus()
    with qtbot.waitSignal(view.saved, timeout=5000):
        qtbot.keyClick(view.form.servers_edit, Qt.Key.Key_S, Qt.KeyboardModifier.AltModifier)
    assert [p.bootstrap_servers for p in store.settings.profiles] == ["lab:9092"]


# -- logic without Qt ---------------------------------------------------------------


@pytest.mark.parametrize(("error", "expected"), [
    ("127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused "
     "(after 0ms in state CONNECT)", "nothing accepts connections at"),
    ("nope.invalid:9092/bootstrap: Failed to resolve 'nope.invalid:9092': Name or service "
     "not known (after 1ms in state CONNECT)", "could not be found (DNS)"),
    ("ssl://lab:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::"
     "certificate verify failed (after 20ms in state SSL_HANDSHAKE)", "secure connection"),
    ("sasl_ssl://lab:9093/1: SASL authentication error: Authentication failed during "
     "authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 "
     "(after 310ms in state AUTH_REQ)", "refused the user name or password"),
])
def test_explain_failure_in_plain_language(error: str, expected: str) -> None:
    text = explain_failure([error, "1/1 brokers are down"], "lab:9093", "SASL_SSL")
    assert expected in text
    assert "lab:9093" in text
    assert_plain(text)


def test_explain_failure_without_errors() -> None:
    assert "cannot reach" in explain_failure([], "lab:9092", "PLAINTEXT")
    assert "expects SSL (TLS)" in explain_failure(["1/1 brokers are down"], "lab:9093", "SSL")


def test_probe_unknown_host_is_a_dns_problem() -> None:
    with pytest.raises(admin.BrokerError) as caught:
        probe_broker(KafkaConfig.for_bootstrap("no-such-host.invalid:9092"))
    assert "could not be found (DNS)" in str(caught.value)


def test_probe_tls_against_a_plaintext_broker_points_at_tls(broker: EmbeddedBroker) -> None:
    config = KafkaConfig(broker={"bootstrap.servers": broker.bootstrap_servers,
                                 "security.protocol": "SSL"})
    started = time.monotonic()
    with pytest.raises(admin.BrokerError) as caught:
        probe_broker(config, timeout=3.0)
    assert time.monotonic() - started < 6
    message = str(caught.value)
    assert "TLS" in message or "secure connection" in message
    assert_plain(message)


def test_the_sasl_mechanism_waits_under_advanced(qtbot: Any, make_view: Make,
                                                 store: SettingsStore) -> None:
    view = make_view()
    click(qtbot, view.new_button)
    assert not view.form.advanced.is_expanded()
    assert not view.form.mechanism_combo.isVisible()
    choose(view.form.protocol_combo, "SASL_SSL")  # the usual mechanism, without asking
    assert view.form.mechanism_combo.currentData() == "PLAIN"


def test_an_unusual_sasl_mechanism_is_shown(make_view: Make, store: SettingsStore) -> None:
    add_profiles(store, BrokerProfile(name="Scram", bootstrap_servers="h:9093",
                                      security_protocol=SecurityProtocol.SASL_SSL,
                                      sasl_mechanism="SCRAM-SHA-256"))
    view = make_view()
    assert view.form.name_edit.text() == "Scram"
    assert view.form.advanced.is_expanded()
    assert view.form.mechanism_combo.currentData() == "SCRAM-SHA-256"
