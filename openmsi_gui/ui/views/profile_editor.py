"""The right side of the broker profiles view: one profile's form, its test and encryption.

:class:`ProfileEditor` shows the profile the list selected, saves it (the
password to the keychain, on the application's serial executor), tests the
connection (on the network executor) and provisions encryption nodes. The
rules are in :mod:`openmsi_gui.app.validation` and
:mod:`openmsi_gui.app.profile_editing`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFileDialog, QScrollArea, QVBoxLayout, QWidget

from openmsi_gui.app import keychain, profile_editing, provisioning
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile, SecurityProtocol, SettingsStore
from openmsi_gui.app.text import error_sentence, sentence
from openmsi_gui.app.validation import normalised, uses_sasl, uses_tls, validate_profile
from openmsi_gui.engine import admin
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.ui.provision_dialog import ProvisionDialog
from openmsi_gui.ui.tasks import Purpose, Tasks, asyncSlot
from openmsi_gui.ui.views.profile_crypto import EncryptionBox
from openmsi_gui.ui.views.profile_form import ConnectionTestBox, ProfileForm

log = logging.getLogger(__name__)

PASSWORD_STORED = "stored in the system keychain"
PASSWORD_NOT_STORED = "not stored yet"
EMBEDDED_NOTE = ("This is the demo broker that OpenMSI starts on this computer. It cannot be "
                 "edited; it keeps its data in the app's data folder when the app quits.")
NO_PROFILES_NOTE = "No broker profiles yet: click New or Import INI… to add one."
CA_FILTER = "CA certificates (*.pem *.crt);;All files (*)"


class ProfileEditor(QWidget):
    """The form of one broker profile, the connection test and the encryption group.

    Args:
        store: the settings; a saved profile goes into them.
        controller: runs the connection test of the embedded demo broker.
        tasks: the application's background work.

    Signals:
        committed(object): a profile (a :class:`BrokerProfile`) was put into the
            settings; the list shows it before the form reloads it.
        saved(str): a profile (by id) and its password were saved.
        testFinished(bool, str): a connection test ended (success, sentence shown).
        statusChanged(bool, str): the status line changed (ok, text).
        stateChanged(): what is loaded, or whether it is being saved, may have changed.
    """

    committed = Signal(object)
    saved = Signal(str)
    testFinished = Signal(bool, str)
    statusChanged = Signal(bool, str)
    stateChanged = Signal()

    def __init__(self, store: SettingsStore, controller: AppController, tasks: Tasks) -> None:
        super().__init__()
        self.store = store
        self.controller = controller
        self.tasks = tasks
        self._loaded: BrokerProfile | None = None  # the profile the form shows, as saved
        self._is_draft = False  # the loaded profile is new, not saved yet
        self._loading = False
        self._saving = False
        self._testing = False
        self._test_token = 0
        self.provision_dialog: ProvisionDialog | None = None
        self.crypto = EncryptionBox(tasks)
        self.form = ProfileForm(self.crypto)
        self.tester = ConnectionTestBox()
        # A small window scrolls the fields instead of cutting off (or pushing off-screen)
        # the Save button and the connection test below them.
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.form)
        bar = scroll.verticalScrollBar()
        scroll.setMinimumWidth(self.form.minimumSizeHint().width()
                               + (bar.sizeHint().width() if bar is not None else 0))
        scroll.setSizeAdjustPolicy(QScrollArea.SizeAdjustPolicy.AdjustToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addLayout(self.form.save_row)
        layout.addWidget(self.tester)
        self.form.browse_button.clicked.connect(self.on_browse_clicked)
        self.form.revert_button.clicked.connect(self.on_revert_clicked)
        self.form.save_button.clicked.connect(self.on_save_clicked)
        for edit in self.form.edits():
            edit.textChanged.connect(self.on_form_changed)
        for combo in (self.form.protocol_combo, self.form.mechanism_combo):
            combo.currentIndexChanged.connect(self.on_form_changed)
        self.crypto.crypto_combo.currentIndexChanged.connect(self.on_crypto_combo_changed)
        self.crypto.provision_button.clicked.connect(self.on_provision_clicked)
        self.crypto.statusChanged.connect(self.update_controls)
        self.crypto.componentResult.connect(self.show_status)
        self.tester.test_button.clicked.connect(self.on_test_clicked)

    @property
    def loaded(self) -> BrokerProfile | None:
        """The profile the form shows, as saved (None: nothing selected)."""
        return self._loaded

    @property
    def saving(self) -> bool:
        """Whether a save waits for the keychain."""
        return self._saving

    def forget(self) -> None:
        """Show nothing loaded without touching the form (the list selects another soon)."""
        self._loaded = None
        self._is_draft = False

    def load(self, profile: BrokerProfile | None, draft: bool = False) -> None:
        """Show ``profile`` in the form (None: nothing selected; ``draft``: not saved yet)."""
        self._loaded = profile
        self._is_draft = draft and profile is not None
        self._test_token += 1
        self._loading = True
        try:
            shown = profile or BrokerProfile(name="", security_protocol=SecurityProtocol.PLAINTEXT)
            self.form.show_profile(shown)
            self.crypto.set_node(shown.crypto_node_id)
        finally:
            self._loading = False
        if profile is None:
            self.form.show_note(NO_PROFILES_NOTE)
        elif profile.embedded:
            self.form.show_note(EMBEDDED_NOTE)
        else:
            self.form.show_note("")
        self.show_status(None, "")
        self.tester.show_result(None, "Not tested yet.")
        self.update_controls()
        if profile is not None and not self._is_draft and not profile.embedded:
            self._check_password(profile)
        if profile is not None and profile.crypto_node_id:
            self.crypto.refresh()

    def form_profile(self) -> BrokerProfile:
        """The loaded profile with the form's values (not normalised)."""
        return self.form.values(self._loaded or BrokerProfile(), self.crypto.node_id())

    def dirty(self) -> bool:
        """Whether the form differs from the saved profile (a draft always does)."""
        if self._loaded is None or self._loaded.embedded:
            return False
        if self._is_draft:
            return True
        return bool(self.form.password_edit.text()) or self.form_profile() != self._loaded

    @asyncSlot()
    async def _check_password(self, profile: BrokerProfile) -> None:
        """Show whether the keychain holds a password (asked in the background)."""
        try:
            stored = await self.tasks.run(Purpose.IO, profile_editing.password_stored, profile,
                                          context=self)
        except Exception as exc:
            if self._loaded is not None and self._loaded.id == profile.id:
                self.show_status(False, error_sentence(exc))
            return
        if self._loaded is not None and self._loaded.id == profile.id:
            missing = PASSWORD_NOT_STORED if uses_sasl(profile.security_protocol) else ""
            self.form.password_edit.setPlaceholderText(PASSWORD_STORED if stored else missing)

    def on_form_changed(self) -> None:
        if not self._loading:
            self.update_controls()

    def update_controls(self) -> None:
        """Enable what applies to the loaded profile; the view updates its own buttons."""
        loaded = self._loaded is not None
        embedded = self._loaded is not None and self._loaded.embedded
        editable = loaded and not embedded and not self._saving
        protocol = self.form.protocol()
        self.form.enable(editable, uses_sasl(protocol), uses_tls(protocol))
        dirty = self.dirty()
        self.form.save_button.setEnabled(editable and dirty)
        self.form.revert_button.setEnabled(editable and dirty)
        self.tester.test_button.setEnabled(loaded and not self._testing)
        self.tester.topic_edit.setEnabled(loaded)
        self.crypto.enable(editable)
        self.stateChanged.emit()

    def show_status(self, ok: bool | None, text: str) -> None:
        """The status line under the form: text plus an icon, never colour alone.

        Args:
            ok: success, problem, or None for work in progress.
            text: the sentence ("" clears the line).
        """
        self.form.show_status(ok, text)
        if text and ok is not None:
            self.statusChanged.emit(ok, text)

    def on_revert_clicked(self) -> None:
        if self._loaded is not None:
            self.load(self._loaded, self._is_draft)

    def on_browse_clicked(self) -> None:
        current = self.form.ca_edit.text()
        start = str(Path(current).parent) if current else ""
        path, _ = QFileDialog.getOpenFileName(self, "Choose the CA certificate", start,
                                              CA_FILTER)
        if path:
            self.form.ca_edit.setText(path)

    def on_save_clicked(self) -> None:
        if self._loaded is None or self._loaded.embedded or self._saving:
            return
        profile = self.form_profile()
        errors = validate_profile(profile, self.store.settings.profiles)
        if errors:
            self.show_status(False, " ".join(errors))
            return
        profile = normalised(profile)
        change = profile_editing.password_change(
            profile, self.store.settings.profile(profile.id), self.form.password_edit.text())
        if change is None:
            self._finish_save(profile)
            return
        self._saving = True
        self.show_status(None, "Saving…")
        self.update_controls()
        self._save_with_password(profile, change)

    @asyncSlot()
    async def _save_with_password(self, profile: BrokerProfile,
                                  change: Callable[[], None]) -> None:
        try:
            await self.tasks.run(Purpose.IO, change, context=self)
        except Exception as exc:
            self._saving = False
            self.update_controls()
            self.show_status(False, f"Not saved: {error_sentence(exc)}")
            return
        self._saving = False
        self._finish_save(profile)

    def _finish_save(self, profile: BrokerProfile) -> None:
        """Put ``profile`` (its secret already stored) into the settings."""
        try:
            self.store.update(profile_editing.put_profile(self.store.settings, profile))
        except OSError as exc:
            self.update_controls()
            self.show_status(False, f"Not saved: could not write the settings ({exc}).")
            return
        reload = self._loaded is not None and self._loaded.id == profile.id
        self.committed.emit(profile)
        if reload:
            self.load(profile)
        self.show_status(True, f"Saved “{profile.name}”.")
        log.info("saved broker profile %s (%s)", profile.name, profile.id)
        self.saved.emit(profile.id)

    def on_test_clicked(self) -> None:
        if self._loaded is None or self._testing:
            return
        profile = self.form_profile()
        errors = validate_profile(profile)
        if errors:
            self.tester.show_result(False, f"Not tested: {' '.join(errors)}")
            self.testFinished.emit(False, self.tester.result.text())
            return
        profile = normalised(profile)
        self._testing = True
        self._test_token += 1
        self.tester.set_testing(True)
        self.update_controls()
        where = "the demo broker" if profile.embedded else profile.bootstrap_servers
        self.tester.show_result(None, f"Connecting to {where}…", busy=True)
        self._test(profile, self.tester.topic_edit.text().strip(),
                   self.form.password_edit.text(), self._test_token)

    @asyncSlot()
    async def _test(self, profile: BrokerProfile, topic: str, password: str,
                    token: int) -> None:
        try:
            if profile.embedded:
                text = await self.tasks.wait(self.controller.test_connection(profile, topic),
                                             context=self)
            else:
                text = await self.tasks.run(Purpose.NET, profile_editing.check_profile, profile,
                                            topic, password, context=self)
            ok, text = True, sentence(text)
        except (admin.BrokerError, keychain.KeychainError) as exc:
            ok, text = False, f"Failed: {exc}"
        except Exception as exc:
            log.error("connection test failed unexpectedly: %s: %s", type(exc).__name__, exc)
            ok, text = False, f"Failed unexpectedly: {exc or type(exc).__name__}"
        self._testing = False
        self.tester.set_testing(False)
        self.update_controls()
        if token == self._test_token:
            self.tester.show_result(ok, text)
        self.testFinished.emit(ok, text)

    # -- encryption ----------------------------------------------------------------

    def on_crypto_combo_changed(self) -> None:
        self.on_form_changed()
        self.crypto.show_note()

    def on_provision_clicked(self) -> None:
        if self._loaded is None or self._loaded.embedded:
            return
        if self.provision_dialog is not None:
            if self.provision_dialog.busy:
                self.provision_dialog.show()
                self.provision_dialog.raise_()
                return
            self.provision_dialog.deleteLater()
        profile = normalised(self.form_profile())
        settings = self.store.settings
        config: Callable[[], KafkaConfig] | None = None
        if not validate_profile(profile):
            config = functools.partial(profile_editing.broker_config, profile,
                                       self.form.password_edit.text())
        dialog = ProvisionDialog(
            self, tasks=self.tasks, topics=provisioning.profile_topics(settings, profile.id),
            role=provisioning.profile_role(settings, profile.id), taken=self.crypto.taken(),
            config=config, broker_name=profile.name)
        dialog.provisioned.connect(self.on_node_provisioned)
        dialog.finished.connect(lambda _code: self.crypto.refresh())
        self.provision_dialog = dialog
        dialog.open()

    def on_node_provisioned(self, node_id: str) -> None:
        """Select the new node in the form (the user saves it) and list it."""
        if self._loaded is not None and not self._loaded.embedded:
            self.crypto.set_node(node_id)
            self.show_status(True, f"Encryption node “{node_id}” is provisioned and selected: "
                              "click Save to use it for this profile.")
        self.crypto.refresh()

    def close_dialogs(self) -> None:
        """Close the provisioning and Enable encryption dialogs (with the window)."""
        if self.provision_dialog is not None:
            self.provision_dialog.close()
        if self.crypto.enable_dialog is not None:
            self.crypto.enable_dialog.close()
