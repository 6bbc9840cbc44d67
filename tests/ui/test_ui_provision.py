"""End-to-end encryption by point and click: the profile's encryption group and the
provisioning dialog (pytest-qt, offscreen, the real session broker)."""

from __future__ import annotations

import logging
import re
import stat
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QPushButton

from openmsi_gui.app import profiles, provisioning
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile, SettingsStore, WatchedFolder
from openmsi_gui.engine import admin, crypto
from openmsi_gui.engine.kafka_config import KafkaConfig, default_nodes_dir
from openmsi_gui.engine.provision import provision_node
from openmsi_gui.ui.provision_dialog import ProvisionDialog
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.views.profile_crypto import NO_ENCRYPTION
from openmsi_gui.ui.views.profiles import ProfilesView

ROT = "rot-password-123"
PROV = "prov-pw-456"
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
WAIT_MS = 20_000

Make = Callable[[], ProfilesView]


@pytest.fixture
def make_view(qtbot: Any, store: SettingsStore, controller: AppController,
              tasks: Tasks) -> Make:
    def make() -> ProfilesView:
        view = ProfilesView(store, controller, tasks)
        qtbot.addWidget(view)
        view.resize(900, 700)
        view.show()
        return view

    return make


def save_profiles(store: SettingsStore, *new: BrokerProfile) -> None:
    settings = store.settings
    settings.profiles.extend(new)
    store.update(settings)


def wait_checked(qtbot: Any, view: ProfilesView) -> None:
    """Wait for the kafkacrypto check and the node list (they run off the GUI thread)."""
    qtbot.waitUntil(lambda: view.crypto.status is not None, timeout=WAIT_MS)


def combo_entries(combo: QComboBox) -> list[tuple[str, str]]:
    return [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]


def click(qtbot: Any, button: QPushButton) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def open_dialog(qtbot: Any, view: ProfilesView) -> ProvisionDialog:
    click(qtbot, view.crypto.provision_button)
    dialog = view.provision_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def fill_passwords(qtbot: Any, dialog: ProvisionDialog, rot: str = ROT, repeat: str = ROT,
                   prov: str = PROV) -> None:
    for edit, text in ((dialog.rot_edit, rot), (dialog.repeat_edit, repeat),
                       (dialog.prov_edit, prov)):
        edit.clear()
        qtbot.keyClicks(edit, text)


def provision(qtbot: Any, dialog: ProvisionDialog) -> tuple[bool, str]:
    with qtbot.waitSignal(dialog.workFinished, timeout=WAIT_MS) as blocker:
        click(qtbot, dialog.provision_button)
    ok, text = blocker.args
    return bool(ok), str(text)


# -- the whole path ---------------------------------------------------------------


@POSIX
def test_provisioning_in_the_dialog_selects_the_node_and_saving_encrypts_the_profile(
        qtbot: Any, make_view: Make, store: SettingsStore, broker_profile: BrokerProfile,
        kafka_config: KafkaConfig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    root = f"enc{uuid.uuid4().hex[:8]}"
    save_profiles(store, broker_profile)
    settings = store.settings
    settings.folders.append(WatchedFolder(path="/data/in", profile_id=broker_profile.id,
                                          topic=f"{root}.raw", enabled=False))
    store.update(settings)
    view = make_view()
    wait_checked(qtbot, view)
    assert combo_entries(view.crypto.crypto_combo) == [(NO_ENCRYPTION, "")]
    assert view.crypto.crypto_combo.isEnabled()
    assert view.crypto.crypto_combo.accessibleName()

    dialog = open_dialog(qtbot, view)
    # Prefilled from the profile: its topics, the role its jobs need, this computer's name.
    assert dialog.topics_edit.text() == f"{root}.raw"
    assert dialog.role_combo.currentData() == "producer"
    assert dialog.node_edit.text().endswith("-producer")
    assert dialog.key_topics_check.isEnabled()
    assert dialog.key_topics_check.isChecked()
    assert dialog.key_topics_check.text() == \
        f"Create the key-exchange topics ({root}.keys, .reqs, .subs)"
    for edit in (dialog.rot_edit, dialog.repeat_edit, dialog.prov_edit):
        assert edit.echoMode() == QLineEdit.EchoMode.Password
    dialog.node_edit.clear()
    qtbot.keyClicks(dialog.node_edit, "lab_sender")
    fill_passwords(qtbot, dialog)

    ok, text = provision(qtbot, dialog)

    assert ok, text
    assert "Provisioned encryption node “lab_sender”" in text
    assert f"Created {root}.keys, {root}.reqs, {root}.subs." in text
    assert dialog.result_line.icon.accessibleName() == "Success"
    assert not dialog.provision_button.isEnabled()
    for edit in (dialog.rot_edit, dialog.repeat_edit, dialog.prov_edit):
        assert edit.text() == ""  # cleared as soon as they were used
    # The node: owner-only files in the app's node folder.
    folder = default_nodes_dir() / "lab_sender"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == [
        "lab_sender.config", "lab_sender.crypto", "lab_sender.seed"]
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # The key-exchange topics, on the real broker, one partition each.
    topics = admin.list_topics(kafka_config)
    assert [topics.get(f"{root}{s}") for s in (".keys", ".reqs", ".subs")] == [1, 1, 1]

    # The profile form lists the node and selects it; saving makes the profile encrypt.
    qtbot.waitUntil(lambda: view.crypto.crypto_combo.findData("lab_sender") >= 0, timeout=WAIT_MS)
    assert view.crypto.crypto_combo.currentData() == "lab_sender"
    assert "click Save" in view.form.status.text()
    with qtbot.waitSignal(dialog.finished, timeout=WAIT_MS):
        click(qtbot, dialog.close_button)
    with qtbot.waitSignal(view.saved, timeout=WAIT_MS):
        click(qtbot, view.form.save_button)
    saved = store.settings.profile(broker_profile.id)
    assert saved is not None
    assert saved.crypto_node_id == "lab_sender"
    config = profiles.kafka_config(saved, None)
    assert config.crypto is not None
    assert config.crypto.config_file == (folder / "lab_sender.config").resolve()
    for record in caplog.records:
        message = record.getMessage()
        assert ROT not in message, message
        assert PROV not in message, message


def test_choosing_none_makes_the_profile_plain_again(
        qtbot: Any, make_view: Make, store: SettingsStore) -> None:
    provision_node("lab_node", "both", None, ROT, PROV, default_nodes_dir())
    save_profiles(store, BrokerProfile(name="Lab", bootstrap_servers="lab:9092",
                                       crypto_node_id="lab_node"))
    view = make_view()
    wait_checked(qtbot, view)
    assert combo_entries(view.crypto.crypto_combo) == [(NO_ENCRYPTION, ""),
                                                       ("lab_node", "lab_node")]
    assert view.crypto.crypto_combo.currentData() == "lab_node"
    assert not view.form.save_button.isEnabled()
    view.crypto.crypto_combo.setCurrentIndex(view.crypto.crypto_combo.findData(""))
    assert view.form.save_button.isEnabled()
    with qtbot.waitSignal(view.saved, timeout=WAIT_MS):
        click(qtbot, view.form.save_button)
    assert store.settings.profiles[0].crypto_node_id == ""
    assert profiles.kafka_config(store.settings.profiles[0], None).crypto is None


# -- problems ---------------------------------------------------------------------


@pytest.mark.parametrize(("rot", "repeat", "prov", "shown", "words"), [
    ("short-pw", "short-pw", PROV, "rot_error", "12 characters"),
    (ROT, ROT + "!", PROV, "repeat_error", "differ"),
    (ROT, ROT, "12345", "prov_error", "6 characters"),
])
def test_password_problems_are_shown_inline_and_nothing_is_written(
        qtbot: Any, make_view: Make, store: SettingsStore, rot: str, repeat: str, prov: str,
        shown: str, words: str) -> None:
    save_profiles(store, BrokerProfile(name="Lab", bootstrap_servers="lab:9092"))
    view = make_view()
    wait_checked(qtbot, view)
    dialog = open_dialog(qtbot, view)
    fill_passwords(qtbot, dialog, rot, repeat, prov)
    click(qtbot, dialog.provision_button)
    errors = {name: getattr(dialog, name) for name in ("node_error", "topics_error",
                                                        "rot_error", "repeat_error",
                                                        "prov_error")}
    for name, error in errors.items():
        assert error.isVisible() == (name == shown), name
    assert words in errors[shown].text.text()
    assert errors[shown].icon.accessibleName() == "Problem"  # an icon too, not colour alone
    assert dialog.result_line.text() == "Fix the fields marked above."
    assert provisioning.list_nodes() == []
    assert dialog.provision_button.isEnabled()


def test_an_existing_node_name_and_bad_topics_are_refused(
        qtbot: Any, make_view: Make, store: SettingsStore) -> None:
    provision_node("taken", "producer", None, ROT, PROV, default_nodes_dir())
    save_profiles(store, BrokerProfile(name="Lab", bootstrap_servers="lab:9092"))
    view = make_view()
    wait_checked(qtbot, view)
    dialog = open_dialog(qtbot, view)
    dialog.node_edit.setText("taken")
    dialog.topics_edit.setText("ok bad/topic")
    fill_passwords(qtbot, dialog)
    click(qtbot, dialog.provision_button)
    assert "already exists" in dialog.node_error.text.text()
    assert "not a valid topic name" in dialog.topics_error.text.text()
    assert not dialog.rot_error.isVisible()
    assert provisioning.list_nodes() == ["taken"]


def test_without_kafkacrypto_a_sentence_and_enable_encryption_replace_the_controls(
        qtbot: Any, make_view: Make, store: SettingsStore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "kafkacrypto_available", lambda: False)
    save_profiles(store, BrokerProfile(name="Lab", bootstrap_servers="lab:9092"))
    view = make_view()
    wait_checked(qtbot, view)
    assert not view.crypto.node_row.isVisible()
    assert view.crypto.enable_button.isVisible()
    assert view.crypto.enable_button.isEnabled()
    assert view.crypto.note.isVisible()
    assert view.crypto.note.text() == (
        "Encryption needs KafkaCrypto, which this app may not include (it is GPL-2.0-only): "
        "click Enable encryption… to fetch it.")
    assert view.crypto.note.icon.accessibleName() == "Note"
    assert view.form.name_edit.isEnabled()  # the rest of the profile stays editable


def test_a_node_that_is_gone_is_marked_not_found(
        qtbot: Any, make_view: Make, store: SettingsStore) -> None:
    save_profiles(store, BrokerProfile(name="Lab", bootstrap_servers="lab:9092",
                                       crypto_node_id="gone"))
    view = make_view()
    wait_checked(qtbot, view)
    qtbot.waitUntil(view.crypto.note.isVisible, timeout=WAIT_MS)
    assert view.crypto.crypto_combo.currentText() == "gone (not found)"
    assert view.crypto.crypto_combo.currentData() == "gone"
    assert "“gone” was not found" in view.crypto.note.text()
    assert view.crypto.note.icon.accessibleName() == "Problem"
    assert not view.form.save_button.isEnabled()  # showing it is not a change


def test_the_demo_broker_cannot_be_encrypted(qtbot: Any, make_view: Make,
                                             store: SettingsStore) -> None:
    save_profiles(store, BrokerProfile(name="Demo", bootstrap_servers="(embedded)",
                                       embedded=True))
    view = make_view()
    wait_checked(qtbot, view)
    assert not view.crypto.crypto_combo.isEnabled()
    assert not view.crypto.provision_button.isEnabled()


def test_nodes_provisioned_elsewhere_appear_when_the_view_is_shown_again(
        qtbot: Any, make_view: Make, store: SettingsStore) -> None:
    save_profiles(store, BrokerProfile(name="Lab", bootstrap_servers="lab:9092"))
    view = make_view()
    wait_checked(qtbot, view)
    provision_node("from_cli", "consumer", ["lab"], ROT, PROV, default_nodes_dir())
    view.hide()
    view.show()
    qtbot.waitUntil(lambda: view.crypto.crypto_combo.findData("from_cli") >= 0, timeout=WAIT_MS)
    assert view.crypto.crypto_combo.currentData() == ""  # listed, not chosen


# -- the dialog on its own ----------------------------------------------------------


def test_dialog_defaults_follow_the_role_until_the_name_is_typed(qtbot: Any,
                                                               tasks: Tasks) -> None:
    dialog = ProvisionDialog(tasks=tasks, role="consumer", taken=[])
    qtbot.addWidget(dialog)
    assert dialog.node_edit.text().endswith("-consumer")
    dialog.role_combo.setCurrentIndex(dialog.role_combo.findData("both"))
    assert dialog.node_edit.text().endswith("-both")
    qtbot.keyClicks(dialog.node_edit, "x")
    dialog.role_combo.setCurrentIndex(dialog.role_combo.findData("producer"))
    assert dialog.node_edit.text().endswith("-bothx")
    assert [dialog.role_combo.itemText(i) for i in range(3)] == [
        "Sends files (producer)", "Receives files (consumer)",
        "Sends and receives files (both)"]


def test_dialog_key_topics_need_a_broker_and_topics(qtbot: Any, tasks: Tasks,
                                                    kafka_config: KafkaConfig) -> None:
    without = ProvisionDialog(tasks=tasks, topics=["lab"])
    qtbot.addWidget(without)
    assert not without.key_topics_check.isEnabled()
    assert "broker settings" in without.key_topics_check.toolTip()
    dialog = ProvisionDialog(tasks=tasks, config=lambda: kafka_config)
    qtbot.addWidget(dialog)
    assert not dialog.key_topics_check.isEnabled()  # every topic: no key topics to make
    assert dialog.topics_edit.placeholderText() == "empty = every topic"
    qtbot.keyClicks(dialog.topics_edit, "lab.raw, lab.proc")
    assert dialog.key_topics_check.isEnabled()
    assert dialog.key_topics_check.text() == \
        "Create the key-exchange topics (lab.keys, .reqs, .subs)"


def test_dialog_explains_the_passwords_and_never_keeps_them(qtbot: Any, tasks: Tasks) -> None:
    dialog = ProvisionDialog(tasks=tasks, topics=["lab"])
    qtbot.addWidget(dialog)
    texts = [label.text() for label in dialog.findChildren(QLabel)]
    assert "Your administrator gives you these two passwords; they are never stored." in texts
    fill_passwords(qtbot, dialog)
    dialog.reject()
    assert [e.text() for e in (dialog.rot_edit, dialog.repeat_edit, dialog.prov_edit)] == \
        ["", "", ""]


def test_dialog_controls_have_accessible_names_and_unique_mnemonics(qtbot: Any,
                                                                   tasks: Tasks) -> None:
    dialog = ProvisionDialog(tasks=tasks, topics=["lab"])
    qtbot.addWidget(dialog)
    controls = (dialog.findChildren(QLineEdit) + dialog.findChildren(QComboBox)
                + dialog.findChildren(QPushButton) + dialog.findChildren(QCheckBox))
    assert len(controls) >= 9
    for control in controls:
        assert control.accessibleName(), control
    mnemonics: list[str] = []
    for widget in dialog.findChildren(QPushButton) + dialog.findChildren(QLabel):
        found = re.findall(r"&(\w)", widget.text())
        if isinstance(widget, QLabel) and found:
            assert widget.buddy() is not None, widget.text()
        mnemonics += [m.lower() for m in found]
    assert len(mnemonics) == len(set(mnemonics)), sorted(mnemonics)
