"""The broker profiles view: create, edit, test, import and export Kafka connections.

Secrets never reach the settings file: a profile's password goes straight to
the OS keychain, and exported configs carry a ``$ENV`` reference instead.
Everything that can block (keychain, files, the network) runs on the view's own
worker threads and reports back through :func:`openmsi_gui.ui.tasks.when_done`.

A profile may name an encryption node (KafkaCrypto): the "End-to-end
encryption" group picks one of the nodes provisioned on this computer, or
provisions a new one (:class:`~openmsi_gui.ui.provision_dialog.ProvisionDialog`).

The module-level functions above the widget (validation, naming, turning
librdkafka errors into sentences, the connection probe) use no Qt, so they are
tested without a GUI.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import logging
import re
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QFont, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app import keychain, profiles, provisioning
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.provisioning import UNAVAILABLE_NOTE, EncryptionStatus
from openmsi_gui.app.settings import (
    SASL_MECHANISMS,
    SECURITY_PROTOCOLS,
    BrokerProfile,
    Settings,
    SettingsStore,
)
from openmsi_gui.app.text import sentence
from openmsi_gui.app.validation import (
    normalised,
    unique_name,
    uses_sasl,
    uses_tls,
    validate_profile,
)
from openmsi_gui.engine import admin
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.ui.provision_dialog import ProvisionDialog
from openmsi_gui.ui.tasks import when_done

log = logging.getLogger(__name__)

T = TypeVar("T")

PASSWORD_STORED = "stored in the system keychain"
PASSWORD_NOT_STORED = "not stored yet"
EMBEDDED_NOTE = ("This is the demo broker that OpenMSI starts on this computer. It cannot be "
                 "edited; data sent to it is lost when the app quits.")
NO_PROFILES_NOTE = "No broker profiles yet: click New or Import INI… to add one."
CONFIG_FILTER = "OpenMSIStream configs (*.config *.ini *.cfg);;All files (*)"
CA_FILTER = "CA certificates (*.pem *.crt);;All files (*)"
NO_ENCRYPTION = "None (plain messages)"
ENCRYPTION_NOTE = ("Files sent through this profile are encrypted on this computer; only "
                   "receivers with a node provisioned with the same passwords can read them. "
                   "Encrypted and plain messages cannot share a topic: use a second profile "
                   "for plain topics.")

# -- logic without Qt -------------------------------------------------------------

def profile_users(settings: Settings, profile_id: str) -> list[str]:
    """The watched folders and destinations that use a profile, described for the user."""
    users = [f"watched folder {f.path or '(no folder chosen)'} → topic {f.topic or '(none)'}"
             for f in settings.folders if f.profile_id == profile_id]
    users += [f"destination {d.path or d.bucket or '(no folder chosen)'} ← topic "
              f"{d.topic or '(none)'}" for d in settings.destinations
              if d.profile_id == profile_id]
    return users


def check_profile(profile: BrokerProfile, topic: str, password: str) -> str:
    """Probe ``profile``, using ``password`` if given, else the one in the keychain (blocking).

    Raises:
        BrokerError: if the broker cannot be used.
        KeychainError: if the keychain cannot be read.
    """

    def secret(owner: str, name: str) -> str | None:
        return password or keychain.get_secret(owner, name)

    return admin.probe_broker(profiles.kafka_config(profile, secret), topic)


def broker_config(profile: BrokerProfile, password: str) -> KafkaConfig:
    """``profile``'s broker settings, without its encryption node (blocking: keychain).

    Uses ``password`` if given, else the one in the keychain.

    Raises:
        KeychainError: if the keychain cannot be read.
    """

    def secret(owner: str, name: str) -> str | None:
        return password or keychain.get_secret(owner, name)

    return profiles.kafka_config(dataclasses.replace(profile, crypto_node_id=""), secret)


def import_profile(path: Path, taken: Iterable[str]) -> tuple[BrokerProfile, bool]:
    """Read an OpenMSIStream config into a new profile; its password goes to the keychain.

    Args:
        path: the INI file.
        taken: profile names already used (the new one gets a unique name).

    Returns:
        The profile and whether a password was stored for it.

    Raises:
        ConfigError: if the file cannot be used.
        ValueError: if the file describes a profile this app cannot use.
        KeychainError: if the password cannot be stored.
    """
    profile, password = profiles.import_ini(path)
    profile = normalised(dataclasses.replace(profile, name=unique_name(profile.name, taken)))
    errors = validate_profile(profile)
    if errors:
        raise ValueError(f"{path.name} cannot be used: {' '.join(errors)}")
    stored = bool(password) and uses_sasl(profile.security_protocol)
    if stored and password:
        keychain.set_secret(profiles.owner(profile), profiles.PASSWORD, password)
    return profile, stored


# -- the widget -------------------------------------------------------------------


class _Workers:
    """The view's threads: one for the keychain and files (in order), one for probes."""

    def __init__(self) -> None:
        self._io: ThreadPoolExecutor | None = None
        self._net: ThreadPoolExecutor | None = None

    def io(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        if self._io is None:
            self._io = ThreadPoolExecutor(1, thread_name_prefix="openmsi-profiles-io")
        return self._io.submit(fn, *args)

    def net(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        if self._net is None:
            self._net = ThreadPoolExecutor(1, thread_name_prefix="openmsi-profiles-net")
        return self._net.submit(fn, *args)

    def shutdown(self, *_args: object) -> None:
        """Let the threads end once their current work is done (never blocks)."""
        for pool in (self._io, self._net):
            if pool is not None:
                pool.shutdown(wait=False)
        self._io = self._net = None


class ProfilesView(QWidget):
    """Broker profiles: a list on the left, the selected profile's form on the right.

    Args:
        store: the settings; profiles are read from and saved to it.
        controller: runs the connection test of the embedded demo broker.
        parent: the parent widget.

    Signals:
        saved(str): a profile (by id) and its password were saved.
        deleted(str): a profile (by id) was deleted.
        imported(str): a profile (by id) was created from an INI file.
        exported(str): a profile was written to this INI file path.
        testFinished(bool, str): a connection test ended (success, sentence shown).
        statusChanged(bool, str): the status line changed (ok, text).
    """

    saved = Signal(str)
    deleted = Signal(str)
    imported = Signal(str)
    exported = Signal(str)
    testFinished = Signal(bool, str)
    statusChanged = Signal(bool, str)
    _settingsChanged = Signal()

    def __init__(self, store: SettingsStore, controller: AppController,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.controller = controller
        self.setAccessibleName("Broker profiles")
        self._workers = _Workers()
        self._loaded: BrokerProfile | None = None  # the profile the form shows, as saved
        self._draft: BrokerProfile | None = None  # a new profile not saved yet
        self._loading = False
        self._saving = False
        self._testing = False
        self._test_token = 0
        self._crypto: EncryptionStatus | None = None  # None until checked
        self._crypto_token = 0
        self.provision_dialog: ProvisionDialog | None = None
        self._build()
        self.destroyed.connect(self._workers.shutdown)
        self._settingsChanged.connect(self.on_store_changed, Qt.ConnectionType.QueuedConnection)
        store.subscribe(_store_listener(self))
        self._reload_list()
        if self.list.count():
            self.list.setCurrentRow(0)
        else:
            self._load(None)

    # -- building ------------------------------------------------------------------

    def _build(self) -> None:
        layout = QHBoxLayout(self)
        layout.addLayout(self._build_list_side())
        right = QVBoxLayout()
        right.addWidget(self._build_form())
        right.addWidget(self._build_test())
        right.addStretch(1)
        layout.addLayout(right, 1)
        self._set_tab_order()

    def _button(self, text: str, accessible: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setAccessibleName(accessible)
        button.setToolTip(tip)
        return button

    def _build_list_side(self) -> QVBoxLayout:
        side = QVBoxLayout()
        self.list = QListWidget()
        self.list.setAccessibleName("Broker profiles list")
        self.list.setMinimumWidth(200)
        self.list.setMaximumWidth(280)
        self.list.currentItemChanged.connect(self.on_list_current_changed)
        heading = QLabel("Profiles")
        heading.setBuddy(self.list)
        side.addWidget(heading)
        side.addWidget(self.list, 1)
        self.new_button = self._button("New", "New profile", "Add a broker profile (Ctrl+N)")
        self.new_button.setShortcut(QKeySequence(QKeySequence.StandardKey.New))
        self.new_button.clicked.connect(self.on_new_clicked)
        self.delete_button = self._button("D&elete", "Delete profile",
                                          "Delete the selected profile and its password")
        self.delete_button.clicked.connect(self.on_delete_clicked)
        self.import_button = self._button("&Import INI…", "Import INI config",
                                          "Create a profile from an OpenMSIStream config file")
        self.import_button.clicked.connect(self.on_import_clicked)
        self.export_button = self._button(
            "E&xport INI…", "Export INI config",
            "Write the profile as an OpenMSIStream config; the password is left out")
        self.export_button.clicked.connect(self.on_export_clicked)
        for pair in ((self.new_button, self.delete_button),
                     (self.import_button, self.export_button)):
            row = QHBoxLayout()
            row.addWidget(pair[0])
            row.addWidget(pair[1])
            side.addLayout(row)
        return side

    def _build_form(self) -> QGroupBox:
        box = QGroupBox("Profile")
        outer = QVBoxLayout(box)
        self.note_icon = _icon_label()
        self.note_text = QLabel()
        self.note_text.setWordWrap(True)
        self.note_text.setAccessibleName("Note")
        note_row = QHBoxLayout()
        note_row.addWidget(self.note_icon, 0, Qt.AlignmentFlag.AlignTop)
        note_row.addWidget(self.note_text, 1)
        outer.addLayout(note_row)

        form = QFormLayout()
        self.name_edit = self._line_edit("Profile name", "What you call this broker")
        self.servers_edit = self._line_edit(
            "Bootstrap servers", "host:port, or several separated by commas",
            "kafka.example.org:9092")
        self.protocol_combo = QComboBox()
        self.protocol_combo.setAccessibleName("Security protocol")
        self.protocol_combo.setToolTip("How the connection is secured")
        for protocol in SECURITY_PROTOCOLS:
            self.protocol_combo.addItem(protocol, protocol)
        self.mechanism_combo = QComboBox()
        self.mechanism_combo.setAccessibleName("SASL mechanism")
        self.mechanism_combo.setToolTip("How the user name and password are checked "
                                        "(SASL protocols only)")
        for mechanism in SASL_MECHANISMS:
            self.mechanism_combo.addItem(mechanism or "(none)", mechanism)
        self.username_edit = self._line_edit("SASL user name", "SASL protocols only")
        self.password_edit = self._line_edit(
            "SASL password", "Saved in the system keychain, never in the settings file")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.ca_edit = self._line_edit(
            "CA file", "PEM file of the certificate authority that signed the brokers' "
            "certificates (SSL protocols only)", "system default")
        self.browse_button = self._button("Bro&wse…", "Browse for CA file",
                                          "Choose the CA certificate file (*.pem, *.crt)")
        self.browse_button.clicked.connect(self.on_browse_clicked)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_edit, 1)
        ca_row.addWidget(self.browse_button)
        form.addRow("Na&me:", self.name_edit)
        form.addRow("B&ootstrap servers:", self.servers_edit)
        form.addRow("Securit&y protocol:", self.protocol_combo)
        form.addRow("SASL mec&hanism:", self.mechanism_combo)
        form.addRow("&User name:", self.username_edit)
        form.addRow("P&assword:", self.password_edit)
        ca_label = QLabel("&CA file:")
        ca_label.setBuddy(self.ca_edit)
        form.addRow(ca_label, ca_row)
        outer.addLayout(form)

        for edit in (self.name_edit, self.servers_edit, self.username_edit,
                     self.password_edit, self.ca_edit):
            edit.textChanged.connect(self.on_form_changed)
        for combo in (self.protocol_combo, self.mechanism_combo):
            combo.currentIndexChanged.connect(self.on_form_changed)

        self.status_icon = _icon_label()
        self.status_text = QLabel()
        self.status_text.setWordWrap(True)
        self.status_text.setAccessibleName("Profile status")
        self.status_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.revert_button = self._button("Re&vert", "Revert changes",
                                          "Forget the changes made since the last save")
        self.revert_button.clicked.connect(self.on_revert_clicked)
        self.save_button = self._button("&Save", "Save profile",
                                        "Save the profile; the password goes to the keychain")
        self.save_button.clicked.connect(self.on_save_clicked)
        outer.addWidget(self._build_crypto())
        row = QHBoxLayout()
        row.addWidget(self.status_icon, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.status_text, 1)
        row.addWidget(self.revert_button, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignBottom)
        outer.addLayout(row)
        return box

    def _build_crypto(self) -> QGroupBox:
        box = QGroupBox("End-to-end encryption")
        outer = QVBoxLayout(box)
        about = QLabel(ENCRYPTION_NOTE)
        about.setWordWrap(True)
        about.setAccessibleName("About end-to-end encryption")
        outer.addWidget(about)
        self.crypto_combo = QComboBox()
        self.crypto_combo.setAccessibleName("Encryption node")
        self.crypto_combo.setToolTip("The KafkaCrypto node that encrypts what this profile "
                                     "sends and decrypts what it receives")
        self.crypto_combo.addItem(NO_ENCRYPTION, "")
        self.crypto_combo.currentIndexChanged.connect(self.on_crypto_combo_changed)
        self.provision_button = self._button(
            "Provision a node…", "Provision a node",
            "Make a new encryption node on this computer with your administrator's passwords")
        self.provision_button.clicked.connect(self.on_provision_clicked)
        label = QLabel("Encryption node:")
        label.setBuddy(self.crypto_combo)
        row = QHBoxLayout()
        row.addWidget(label)
        row.addWidget(self.crypto_combo, 1)
        row.addWidget(self.provision_button)
        outer.addLayout(row)
        self.crypto_note_icon = _icon_label()
        self.crypto_note_text = QLabel()
        self.crypto_note_text.setWordWrap(True)
        self.crypto_note_text.setAccessibleName("Encryption note")
        self.crypto_note_text.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        note = QHBoxLayout()
        note.addWidget(self.crypto_note_icon, 0, Qt.AlignmentFlag.AlignTop)
        note.addWidget(self.crypto_note_text, 1)
        outer.addLayout(note)
        self.crypto_note_icon.hide()
        self.crypto_note_text.hide()
        return box

    def _build_test(self) -> QGroupBox:
        box = QGroupBox("Connection test")
        outer = QVBoxLayout(box)
        form = QFormLayout()
        self.topic_edit = self._line_edit("Topic to check", "Optional: also check that this "
                                          "topic exists", "optional")
        form.addRow("Topic to chec&k:", self.topic_edit)
        outer.addLayout(form)
        self.test_button = self._button("Test co&nnection", "Test connection",
                                        "Connect with the settings in the form (unsaved "
                                        "changes included)")
        self.test_button.clicked.connect(self.on_test_clicked)
        self.test_busy = QProgressBar()
        self.test_busy.setRange(0, 0)
        self.test_busy.setTextVisible(False)
        self.test_busy.setMaximumWidth(120)
        self.test_busy.setAccessibleName("Testing the connection")
        self.test_busy.hide()
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addWidget(self.test_busy)
        row.addStretch(1)
        outer.addLayout(row)
        self.test_icon = _icon_label()
        self.test_text = QLabel("Not tested yet.")
        self.test_text.setWordWrap(True)
        self.test_text.setAccessibleName("Connection test result")
        self.test_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        result = QHBoxLayout()
        result.addWidget(self.test_icon, 0, Qt.AlignmentFlag.AlignTop)
        result.addWidget(self.test_text, 1)
        outer.addLayout(result)
        return box

    def _line_edit(self, accessible: str, tip: str, placeholder: str = "") -> QLineEdit:
        edit = QLineEdit()
        edit.setAccessibleName(accessible)
        edit.setToolTip(tip)
        edit.setPlaceholderText(placeholder)
        return edit

    def _set_tab_order(self) -> None:
        chain: list[QWidget] = [
            self.list, self.new_button, self.delete_button, self.import_button,
            self.export_button, self.name_edit, self.servers_edit, self.protocol_combo,
            self.mechanism_combo, self.username_edit, self.password_edit, self.ca_edit,
            self.browse_button, self.crypto_combo, self.provision_button, self.revert_button,
            self.save_button, self.topic_edit,
            self.test_button]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    # -- list ------------------------------------------------------------------------

    def _current_id(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def _reload_list(self) -> None:
        """Rebuild the list from the store (plus the draft), keeping the selection."""
        current = self._current_id()
        entries = list(self.store.settings.profiles)
        if self._draft is not None:
            entries.append(self._draft)
        self.list.blockSignals(True)
        try:
            self.list.clear()
            for profile in entries:
                item = QListWidgetItem(self._item_text(profile))
                item.setData(Qt.ItemDataRole.UserRole, profile.id)
                item.setToolTip(profile.bootstrap_servers or "no servers yet")
                if profile is self._draft:
                    font = QFont(item.font())
                    font.setItalic(True)
                    item.setFont(font)
                self.list.addItem(item)
                if profile.id == current:
                    self.list.setCurrentItem(item)
        finally:
            self.list.blockSignals(False)

    def _item_text(self, profile: BrokerProfile) -> str:
        if profile is self._draft:
            return f"{profile.name} (not saved)"
        return f"{profile.name} (demo)" if profile.embedded else profile.name

    def _select(self, profile_id: str) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == profile_id:
                self.list.blockSignals(True)
                self.list.setCurrentItem(item)
                self.list.blockSignals(False)
                return

    def on_store_changed(self) -> None:
        """Settings changed (here or elsewhere): refresh the list, and the form if clean."""
        self._reload_list()
        if self._loaded is None or self._loaded is self._draft:
            if self._loaded is None and self.list.count():
                self.list.setCurrentRow(0)
            return
        stored = self.store.settings.profile(self._loaded.id)
        if stored is None:
            if self.list.count():
                self.list.setCurrentRow(0)
            else:
                self._load(None)
        elif stored != self._loaded and not self._dirty():
            self._load(stored)

    def on_list_current_changed(self, current: QListWidgetItem | None,
                                previous: QListWidgetItem | None) -> None:
        new_id = None if current is None else current.data(Qt.ItemDataRole.UserRole)
        if self._loaded is not None and new_id == self._loaded.id:
            return
        if not self._confirm_discard():
            if previous is not None:
                self.list.blockSignals(True)
                self.list.setCurrentItem(previous)
                self.list.blockSignals(False)
            return
        if self._draft is not None and new_id != self._draft.id:
            self._draft = None
            self._reload_list()
        profile = self.store.settings.profile(str(new_id)) if new_id is not None else None
        if profile is None and self._draft is not None and new_id == self._draft.id:
            profile = self._draft
        self._load(profile)

    def _confirm_discard(self) -> bool:
        """True if there are no unsaved changes, or the user agrees to lose them."""
        if self._loaded is None or not self._dirty():
            return True
        name = self.name_edit.text().strip() or self._loaded.name
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Discard the unsaved changes to “{name}”?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Discard

    # -- form --------------------------------------------------------------------

    def _load(self, profile: BrokerProfile | None) -> None:
        """Show ``profile`` in the form (None: nothing selected)."""
        self._loaded = profile
        self._test_token += 1
        self._loading = True
        try:
            shown = profile or BrokerProfile(name="", security_protocol="PLAINTEXT")
            self.name_edit.setText(shown.name)
            self.servers_edit.setText(shown.bootstrap_servers)
            self._set_combo(self.protocol_combo, shown.security_protocol)
            self._set_combo(self.mechanism_combo, shown.sasl_mechanism)
            self.username_edit.setText(shown.sasl_username)
            self.password_edit.clear()
            self.password_edit.setPlaceholderText("")
            self.ca_edit.setText(shown.ca_file)
            self._set_crypto_node(shown.crypto_node_id)
        finally:
            self._loading = False
        if profile is None:
            self._show_note(NO_PROFILES_NOTE)
        elif profile.embedded:
            self._show_note(EMBEDDED_NOTE)
        else:
            self._show_note("")
        self._show_status(None, "")
        self._show_result(None, "Not tested yet.")
        self._update_controls()
        if profile is not None and profile is not self._draft and not profile.embedded:
            self._check_password(profile)
        if profile is not None and profile.crypto_node_id:
            self._refresh_crypto()

    def _set_combo(self, combo: QComboBox, value: str) -> None:
        index = combo.findData(value)
        if index < 0:
            combo.addItem(value, value)
            index = combo.count() - 1
        combo.setCurrentIndex(index)

    def _form_profile(self) -> BrokerProfile:
        """The loaded profile with the form's values (not normalised)."""
        base = self._loaded or BrokerProfile()
        return dataclasses.replace(
            base, name=self.name_edit.text(), bootstrap_servers=self.servers_edit.text(),
            security_protocol=str(self.protocol_combo.currentData()),
            sasl_mechanism=str(self.mechanism_combo.currentData()),
            sasl_username=self.username_edit.text(), ca_file=self.ca_edit.text(),
            crypto_node_id=str(self.crypto_combo.currentData() or ""))

    def _dirty(self) -> bool:
        if self._loaded is None or self._loaded.embedded:
            return False
        if self._loaded is self._draft:
            return True
        return bool(self.password_edit.text()) or self._form_profile() != self._loaded

    def _check_password(self, profile: BrokerProfile) -> None:
        """Show whether the keychain holds a password (asked off the GUI thread)."""
        profile_id = profile.id

        def show(stored: bool) -> None:
            if self._loaded is not None and self._loaded.id == profile_id:
                missing = PASSWORD_NOT_STORED if uses_sasl(profile.security_protocol) else ""
                self.password_edit.setPlaceholderText(PASSWORD_STORED if stored else missing)

        def failed(exc: BaseException) -> None:
            if self._loaded is not None and self._loaded.id == profile_id:
                self._show_status(False, sentence(str(exc)))

        when_done(self._workers.io(keychain.has_secret, profiles.owner(profile),
                                    profiles.PASSWORD), show, failed, context=self)

    def on_form_changed(self) -> None:
        if not self._loading:
            self._update_controls()

    def _update_controls(self) -> None:
        loaded = self._loaded is not None
        editable = loaded and not (self._loaded and self._loaded.embedded) and not self._saving
        protocol = str(self.protocol_combo.currentData())
        sasl = uses_sasl(protocol)
        tls = uses_tls(protocol)
        groups: tuple[tuple[tuple[QWidget, ...], bool], ...] = (
            ((self.name_edit, self.servers_edit, self.protocol_combo), editable),
            ((self.mechanism_combo, self.username_edit, self.password_edit), editable and sasl),
            ((self.ca_edit, self.browse_button), editable and tls))
        for widgets, enabled in groups:
            for widget in widgets:
                widget.setEnabled(enabled)
        dirty = self._dirty()
        self.save_button.setEnabled(editable and dirty)
        self.revert_button.setEnabled(editable and dirty)
        self.delete_button.setEnabled(loaded and not self._saving)
        self.export_button.setEnabled(loaded and not (self._loaded and self._loaded.embedded))
        self.test_button.setEnabled(loaded and not self._testing)
        self.topic_edit.setEnabled(loaded)
        usable = editable and self._crypto is not None and self._crypto.available
        self.crypto_combo.setEnabled(usable)
        self.provision_button.setEnabled(usable)
        self._show_crypto_note()

    def _set_icon(self, label: QLabel, kind: str) -> None:
        """Show one of :data:`_ICONS` ("" for none) with its name for screen readers."""
        if not kind:
            label.clear()
            label.setAccessibleName("")
            label.setToolTip("")
            return
        pixmap, name = _ICONS[kind]
        label.setPixmap(self.style().standardIcon(pixmap).pixmap(16, 16))
        label.setAccessibleName(name)
        label.setToolTip(name)

    def _show_note(self, text: str) -> None:
        self.note_text.setText(text)
        self._set_icon(self.note_icon, "note" if text else "")
        self.note_text.setVisible(bool(text))
        self.note_icon.setVisible(bool(text))

    def _show_status(self, ok: bool | None, text: str) -> None:
        """The status line under the form: text plus an icon, never colour alone.

        Args:
            ok: success, problem, or None for work in progress.
            text: the sentence ("" clears the line).
        """
        self.status_text.setText(text)
        self._set_icon(self.status_icon, _kind(ok) if text else "")
        if text and ok is not None:
            self.statusChanged.emit(ok, text)

    def _show_result(self, ok: bool | None, text: str, busy: bool = False) -> None:
        """The connection test line: None without ``busy`` means "not tested"."""
        self.test_text.setText(text)
        self._set_icon(self.test_icon, "busy" if busy else "" if ok is None else _kind(ok))

    # -- actions -------------------------------------------------------------------

    def on_new_clicked(self) -> None:
        if self._draft is not None:
            self._select(self._draft.id)
            self._load(self._draft)
            self.name_edit.setFocus()
            return
        if not self._confirm_discard():
            return
        taken = [p.name for p in self.store.settings.profiles]
        self._draft = BrokerProfile(name=unique_name("New broker", taken))
        self._reload_list()
        self._select(self._draft.id)
        self._load(self._draft)
        self.name_edit.selectAll()
        self.name_edit.setFocus()

    def on_revert_clicked(self) -> None:
        if self._loaded is not None:
            self._load(self._loaded)

    def on_browse_clicked(self) -> None:
        start = str(Path(self.ca_edit.text()).parent) if self.ca_edit.text() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Choose the CA certificate", start,
                                              CA_FILTER)
        if path:
            self.ca_edit.setText(path)

    def on_save_clicked(self) -> None:
        if self._loaded is None or self._loaded.embedded or self._saving:
            return
        profile = self._form_profile()
        errors = validate_profile(profile, self.store.settings.profiles)
        if errors:
            self._show_status(False, " ".join(errors))
            return
        profile = normalised(profile)
        previous = self.store.settings.profile(profile.id)
        password = self.password_edit.text()
        secret_owner = profiles.owner(profile)
        job: Future[None] | None = None
        if uses_sasl(profile.security_protocol):
            if password:
                job = self._workers.io(keychain.set_secret, secret_owner, profiles.PASSWORD,
                                       password)
        elif previous is not None and uses_sasl(previous.security_protocol):
            job = self._workers.io(keychain.delete_secret, secret_owner, profiles.PASSWORD)
        if job is None:
            self._finish_save(profile)
            return
        self._saving = True
        self._show_status(None, "Saving…")
        self._update_controls()

        def stored(_: None) -> None:
            self._saving = False
            self._finish_save(profile)

        def failed(exc: BaseException) -> None:
            self._saving = False
            self._update_controls()
            self._show_status(False, f"Not saved: {sentence(str(exc))}")

        when_done(job, stored, failed, context=self)

    def _finish_save(self, profile: BrokerProfile) -> None:
        """Put ``profile`` (its secret already stored) into the settings."""
        settings = self.store.settings
        index = next((i for i, p in enumerate(settings.profiles) if p.id == profile.id), None)
        if index is None:
            settings.profiles.append(profile)
        else:
            settings.profiles[index] = profile
        try:
            self.store.update(settings)
        except OSError as exc:
            self._update_controls()
            self._show_status(False, f"Not saved: could not write the settings ({exc}).")
            return
        if self._draft is not None and self._draft.id == profile.id:
            self._draft = None
        self._reload_list()
        if self._loaded is not None and self._loaded.id == profile.id:
            self._select(profile.id)
            self._load(profile)
        self._show_status(True, f"Saved “{profile.name}”.")
        log.info("saved broker profile %s (%s)", profile.name, profile.id)
        self.saved.emit(profile.id)

    def on_delete_clicked(self) -> None:
        if self._loaded is None:
            return
        profile = self._loaded
        if profile is self._draft:
            self._draft = None
            self._loaded = None
            self._reload_list()
            self._after_removal()
            return
        settings = self.store.settings
        users = profile_users(settings, profile.id)
        if users:
            QMessageBox.warning(
                self, "Profile in use",
                f"“{profile.name}” cannot be deleted because it is used by:\n\n"
                + "\n".join(f"• {u}" for u in users)
                + "\n\nChoose another broker for them, or remove them, first.")
            self._show_status(False, f"“{profile.name}” is in use and was not deleted.")
            return
        answer = QMessageBox.question(
            self, "Delete profile",
            f"Delete the broker profile “{profile.name}” and its saved password?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return
        settings.profiles = [p for p in settings.profiles if p.id != profile.id]
        try:
            self.store.update(settings)
        except OSError as exc:
            self._show_status(False, f"Not deleted: could not write the settings ({exc}).")
            return
        self._loaded = None
        self._reload_list()
        self._after_removal()
        log.info("deleted broker profile %s (%s)", profile.name, profile.id)

        def done(_: None) -> None:
            self._show_status(True, f"Deleted “{profile.name}”.")
            self.deleted.emit(profile.id)

        def failed(exc: BaseException) -> None:
            self._show_status(False, f"Deleted “{profile.name}”, but its password is still "
                              f"in the keychain: {exc}")
            self.deleted.emit(profile.id)

        when_done(self._workers.io(keychain.delete_secret, profiles.owner(profile),
                                   profiles.PASSWORD), done, failed, context=self)

    def _after_removal(self) -> None:
        if self.list.count():
            self.list.setCurrentRow(0)
            if self._loaded is None:  # the row did not change, so no signal
                self.on_list_current_changed(self.list.currentItem(), None)
        else:
            self._load(None)

    def on_import_clicked(self) -> None:
        if not self._confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Import an OpenMSIStream config", "",
                                              CONFIG_FILTER)
        if not path:
            return
        taken = [p.name for p in self.store.settings.profiles]
        self._show_status(None, f"Importing {Path(path).name}…")

        def done(result: tuple[BrokerProfile, bool]) -> None:
            profile, stored = result
            settings = self.store.settings
            profile.name = unique_name(profile.name, [p.name for p in settings.profiles])
            settings.profiles.append(profile)
            try:
                self.store.update(settings)
            except OSError as exc:
                self._show_status(False, f"Not imported: could not write the settings ({exc}).")
                return
            self._draft = None
            self._loaded = None
            self._reload_list()
            self._select(profile.id)
            self._load(profile)
            extra = " Its password is in the system keychain." if stored else ""
            self._show_status(True, f"Imported “{profile.name}” from {Path(path).name}.{extra}")
            self.imported.emit(profile.id)

        def failed(exc: BaseException) -> None:
            self._show_status(False, f"Not imported: {sentence(str(exc))}")

        when_done(self._workers.io(import_profile, Path(path), taken), done, failed,
                  context=self)

    def on_export_clicked(self) -> None:
        if self._loaded is None or self._loaded.embedded:
            return
        profile = self._form_profile()
        errors = validate_profile(profile)
        if errors:
            self._show_status(False, " ".join(errors))
            return
        profile = normalised(profile)
        suggested = re.sub(r"[^A-Za-z0-9_.-]+", "_", profile.name).strip("_") or "broker"
        path, _ = QFileDialog.getSaveFileName(self, "Export as an OpenMSIStream config",
                                              f"{suggested}.config", CONFIG_FILTER)
        if not path:
            return
        text = profiles.export_ini(profile)
        env = profiles.env_name(profile)

        def done(_: int) -> None:
            extra = (f" Set the environment variable {env} to the password before using it."
                     if uses_sasl(profile.security_protocol) else "")
            self._show_status(True, f"Exported to {path}.{extra}")
            self.exported.emit(path)

        def failed(exc: BaseException) -> None:
            self._show_status(False, f"Not exported: {sentence(str(exc))}")

        when_done(self._workers.io(Path(path).write_text, text, "utf-8"), done, failed,
                  context=self)

    def on_test_clicked(self) -> None:
        if self._loaded is None or self._testing:
            return
        profile = self._form_profile()
        errors = validate_profile(profile)
        if errors:
            self._show_result(False, f"Not tested: {' '.join(errors)}")
            self.testFinished.emit(False, self.test_text.text())
            return
        profile = normalised(profile)
        topic = self.topic_edit.text().strip()
        if profile.embedded:
            future = self.controller.test_connection(profile, topic)
        else:
            future = self._workers.net(check_profile, profile, topic, self.password_edit.text())
        self._testing = True
        self._test_token += 1
        token = self._test_token
        self.test_busy.show()
        self.test_button.setText("Testing…")
        self._update_controls()
        where = "the demo broker" if profile.embedded else profile.bootstrap_servers
        self._show_result(None, f"Connecting to {where}…", busy=True)

        def finish(ok: bool, text: str) -> None:
            self._testing = False
            self.test_busy.hide()
            self.test_button.setText("Test co&nnection")
            self._update_controls()
            if token == self._test_token:
                self._show_result(ok, text)
            self.testFinished.emit(ok, text)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, (admin.BrokerError, keychain.KeychainError)):
                finish(False, f"Failed: {exc}")
            else:
                log.error("connection test failed unexpectedly: %s: %s",
                          type(exc).__name__, exc)
                finish(False, f"Failed unexpectedly: {exc or type(exc).__name__}")

        when_done(future, lambda text: finish(True, sentence(text)), failed, context=self)

    # -- encryption ----------------------------------------------------------------

    def _refresh_crypto(self) -> None:
        """Check for kafkacrypto and list the provisioned nodes (off the GUI thread).

        Only while the view is shown: :meth:`showEvent` does it when it appears.
        """
        if not self.isVisible():
            return
        self._crypto_token += 1
        token = self._crypto_token
        wanted = [str(self.crypto_combo.itemData(i)) for i in range(self.crypto_combo.count())]

        def show(status: EncryptionStatus) -> None:
            if token == self._crypto_token:
                self._apply_crypto(status)

        def failed(exc: BaseException) -> None:
            log.error("listing the encryption nodes failed: %s", exc)

        when_done(self._workers.io(provisioning.encryption_status, [w for w in wanted if w]),
                  show, failed, context=self)

    def _apply_crypto(self, status: EncryptionStatus) -> None:
        self._crypto = status
        selected = str(self.crypto_combo.currentData() or "")
        self.crypto_combo.blockSignals(True)
        try:
            self.crypto_combo.clear()
            self.crypto_combo.addItem(NO_ENCRYPTION, "")
            for node_id in status.nodes:
                self.crypto_combo.addItem(node_id, node_id)
                self.crypto_combo.setItemData(self.crypto_combo.count() - 1,
                                              str(status.folder / node_id),
                                              Qt.ItemDataRole.ToolTipRole)
            self._set_crypto_node(selected)
        finally:
            self.crypto_combo.blockSignals(False)
        self._update_controls()

    def _set_crypto_node(self, node_id: str) -> None:
        """Select ``node_id`` ("" for none), adding it if it is not listed."""
        index = self.crypto_combo.findData(node_id)
        if index < 0:
            missing = self._crypto is not None and node_id in self._crypto.missing
            self.crypto_combo.addItem(f"{node_id} (not found)" if missing else node_id, node_id)
            index = self.crypto_combo.count() - 1
        self.crypto_combo.setCurrentIndex(index)

    def _show_crypto_note(self) -> None:
        node_id = str(self.crypto_combo.currentData() or "")
        text = ""
        kind = ""
        if self._crypto is not None and not self._crypto.available:
            text, kind = UNAVAILABLE_NOTE, "note"
        elif self._crypto is not None and node_id in self._crypto.missing:
            text, kind = self._crypto.missing[node_id], "problem"
        self.crypto_note_text.setText(text)
        self._set_icon(self.crypto_note_icon, kind)
        self.crypto_note_text.setVisible(bool(text))
        self.crypto_note_icon.setVisible(bool(text))

    def on_crypto_combo_changed(self) -> None:
        self.on_form_changed()
        self._show_crypto_note()

    def on_provision_clicked(self) -> None:
        if self._loaded is None or self._loaded.embedded:
            return
        if self.provision_dialog is not None:
            if self.provision_dialog.busy:
                self.provision_dialog.show()
                self.provision_dialog.raise_()
                return
            self.provision_dialog.deleteLater()
        profile = normalised(self._form_profile())
        settings = self.store.settings
        config: Callable[[], KafkaConfig] | None = None
        if not validate_profile(profile):
            config = functools.partial(broker_config, profile, self.password_edit.text())
        taken = list(self._crypto.nodes) if self._crypto is not None else []
        dialog = ProvisionDialog(
            self, topics=provisioning.profile_topics(settings, profile.id),
            role=provisioning.profile_role(settings, profile.id), taken=taken, config=config,
            broker_name=profile.name)
        dialog.provisioned.connect(self.on_node_provisioned)
        dialog.finished.connect(lambda _code: self._refresh_crypto())
        self.provision_dialog = dialog
        dialog.open()

    def on_node_provisioned(self, node_id: str) -> None:
        """Select the new node in the form (the user saves it) and list it."""
        if self._loaded is not None and not self._loaded.embedded:
            self._set_crypto_node(node_id)
            self._show_status(True, f"Encryption node “{node_id}” is provisioned and selected: "
                              "click Save to use it for this profile.")
        self._refresh_crypto()

    def showEvent(self, event: QShowEvent) -> None:
        """Check for encryption and list the nodes, again each time the view appears.

        Nodes may have been provisioned meanwhile (``openmsi provision``).
        """
        super().showEvent(event)
        self._refresh_crypto()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Let the worker threads end with the window."""
        if self.provision_dialog is not None:
            self.provision_dialog.close()
        self._workers.shutdown()
        super().closeEvent(event)


_ICONS: dict[str, tuple[QStyle.StandardPixmap, str]] = {
    "ok": (QStyle.StandardPixmap.SP_DialogApplyButton, "Success"),
    "problem": (QStyle.StandardPixmap.SP_MessageBoxWarning, "Problem"),
    "note": (QStyle.StandardPixmap.SP_MessageBoxInformation, "Note"),
    "busy": (QStyle.StandardPixmap.SP_BrowserReload, "Working"),
}


def _kind(ok: bool | None) -> str:
    return "busy" if ok is None else "ok" if ok else "problem"


def _icon_label() -> QLabel:
    """A 16 px status picture; its accessible name says what it shows."""
    label = QLabel()
    label.setFixedSize(16, 16)
    return label


def _store_listener(view: ProfilesView) -> Callable[[Settings], None]:
    """A settings listener that hops to the GUI thread and outlives the view safely.

    The store has no way to unsubscribe, so the listener holds the view weakly
    and ignores a view whose Qt object is gone.
    """
    ref = weakref.ref(view)

    def listener(_settings: Settings) -> None:
        target = ref()
        if target is None:
            return
        with contextlib.suppress(RuntimeError):  # the Qt side of the view is gone
            target._settingsChanged.emit()

    return listener

