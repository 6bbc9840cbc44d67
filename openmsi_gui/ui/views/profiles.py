"""The broker profiles view: create, edit, test, import and export Kafka connections.

Secrets never reach the settings file: a profile's password goes straight to
the OS keychain, and exported configs carry a ``$ENV`` reference instead.
The rules (validation, keychain and settings changes, the probe) live in
:mod:`openmsi_gui.app.validation` and :mod:`openmsi_gui.app.profile_editing`;
this view renders them. Everything that can block runs on the application's
executors (:class:`~openmsi_gui.ui.tasks.Tasks`): keychain and files on the
serial one, probes on the network one.

A profile may name an encryption node (KafkaCrypto): the "End-to-end
encryption" group (:mod:`~openmsi_gui.ui.views.profile_crypto`) picks one of
the nodes provisioned on this computer, or provisions a new one
(:class:`~openmsi_gui.ui.provision_dialog.ProvisionDialog`).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import weakref
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app import keychain, profile_editing, provisioning
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile, SecurityProtocol, Settings, SettingsStore
from openmsi_gui.app.text import error_sentence, sentence
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
from openmsi_gui.ui.tasks import Purpose, Tasks, asyncSlot
from openmsi_gui.ui.views.profile_crypto import EncryptionBox
from openmsi_gui.ui.views.profile_form import (
    ConnectionTestBox,
    ProfileForm,
    ProfileList,
    button,
)

log = logging.getLogger(__name__)

PASSWORD_STORED = "stored in the system keychain"
PASSWORD_NOT_STORED = "not stored yet"
EMBEDDED_NOTE = ("This is the demo broker that OpenMSI starts on this computer. It cannot be "
                 "edited; data sent to it is lost when the app quits.")
NO_PROFILES_NOTE = "No broker profiles yet: click New or Import INI… to add one."
CONFIG_FILTER = "OpenMSIStream configs (*.config *.ini *.cfg);;All files (*)"
CA_FILTER = "CA certificates (*.pem *.crt);;All files (*)"


class ProfilesView(QWidget):
    """Broker profiles: a list on the left, the selected profile's form on the right.

    Args:
        store: the settings; profiles are read from and saved to it.
        controller: runs the connection test of the embedded demo broker.
        tasks: the application's background work.
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

    def __init__(self, store: SettingsStore, controller: AppController, tasks: Tasks,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.controller = controller
        self.tasks = tasks
        self.setAccessibleName("Broker profiles")
        self._loaded: BrokerProfile | None = None  # the profile the form shows, as saved
        self._draft: BrokerProfile | None = None  # a new profile not saved yet
        self._loading = False
        self._saving = False
        self._testing = False
        self._test_token = 0
        self.provision_dialog: ProvisionDialog | None = None
        self._build()
        self._settingsChanged.connect(self.on_store_changed, Qt.ConnectionType.QueuedConnection)
        store.subscribe(_store_listener(self))
        self._reload_list()
        if self.list.count():
            self.list.setCurrentRow(0)
        else:
            self._load(None)

    # -- building ------------------------------------------------------------------

    def _build(self) -> None:
        self.crypto = EncryptionBox(self.tasks)
        self.form = ProfileForm(self.crypto)
        self.tester = ConnectionTestBox()
        layout = QHBoxLayout(self)
        layout.addLayout(self._build_list_side())
        right = QVBoxLayout()
        right.addWidget(self.form)
        right.addWidget(self.tester)
        right.addStretch(1)
        layout.addLayout(right, 1)
        self.form.browse_button.clicked.connect(self.on_browse_clicked)
        self.form.revert_button.clicked.connect(self.on_revert_clicked)
        self.form.save_button.clicked.connect(self.on_save_clicked)
        for edit in self.form.edits():
            edit.textChanged.connect(self.on_form_changed)
        for combo in (self.form.protocol_combo, self.form.mechanism_combo):
            combo.currentIndexChanged.connect(self.on_form_changed)
        self.crypto.crypto_combo.currentIndexChanged.connect(self.on_crypto_combo_changed)
        self.crypto.provision_button.clicked.connect(self.on_provision_clicked)
        self.crypto.statusChanged.connect(self._update_controls)
        self.tester.test_button.clicked.connect(self.on_test_clicked)
        self._set_tab_order()

    def _build_list_side(self) -> QVBoxLayout:
        side = QVBoxLayout()
        self.list = ProfileList()
        self.list.currentItemChanged.connect(self.on_list_current_changed)
        heading = QLabel("Profiles")
        heading.setBuddy(self.list)
        side.addWidget(heading)
        side.addWidget(self.list, 1)
        self.new_button = button("New", "New profile", "Add a broker profile (Ctrl+N)")
        self.new_button.setShortcut(QKeySequence(QKeySequence.StandardKey.New))
        self.new_button.clicked.connect(self.on_new_clicked)
        self.delete_button = button("D&elete", "Delete profile",
                                    "Delete the selected profile and its password")
        self.delete_button.clicked.connect(self.on_delete_clicked)
        self.import_button = button("&Import INI…", "Import INI config",
                                    "Create a profile from an OpenMSIStream config file")
        self.import_button.clicked.connect(self.on_import_clicked)
        self.export_button = button(
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

    def _set_tab_order(self) -> None:
        form, crypto, tester = self.form, self.crypto, self.tester
        chain: list[QWidget] = [
            self.list, self.new_button, self.delete_button, self.import_button,
            self.export_button, form.name_edit, form.servers_edit, form.protocol_combo,
            form.mechanism_combo, form.username_edit, form.password_edit, form.ca_edit,
            form.browse_button, crypto.crypto_combo, crypto.provision_button,
            form.revert_button, form.save_button, tester.topic_edit, tester.test_button]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    # -- list ------------------------------------------------------------------------

    def _reload_list(self) -> None:
        """Rebuild the list from the store (plus the draft), keeping the selection."""
        entries = list(self.store.settings.profiles)
        if self._draft is not None:
            entries.append(self._draft)
        self.list.show_profiles(entries, self._draft)

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
                self.list.select_quietly(previous)
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
        name = self.form.name_edit.text().strip() or self._loaded.name
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
        self._show_status(None, "")
        self.tester.show_result(None, "Not tested yet.")
        self._update_controls()
        if profile is not None and profile is not self._draft and not profile.embedded:
            self._check_password(profile)
        if profile is not None and profile.crypto_node_id:
            self.crypto.refresh()

    def _form_profile(self) -> BrokerProfile:
        """The loaded profile with the form's values (not normalised)."""
        return self.form.values(self._loaded or BrokerProfile(), self.crypto.node_id())

    def _dirty(self) -> bool:
        if self._loaded is None or self._loaded.embedded:
            return False
        if self._loaded is self._draft:
            return True
        return bool(self.form.password_edit.text()) or self._form_profile() != self._loaded

    @asyncSlot()
    async def _check_password(self, profile: BrokerProfile) -> None:
        """Show whether the keychain holds a password (asked in the background)."""
        try:
            stored = await self.tasks.run(Purpose.IO, profile_editing.password_stored, profile,
                                          context=self)
        except Exception as exc:
            if self._loaded is not None and self._loaded.id == profile.id:
                self._show_status(False, error_sentence(exc))
            return
        if self._loaded is not None and self._loaded.id == profile.id:
            missing = PASSWORD_NOT_STORED if uses_sasl(profile.security_protocol) else ""
            self.form.password_edit.setPlaceholderText(PASSWORD_STORED if stored else missing)

    def on_form_changed(self) -> None:
        if not self._loading:
            self._update_controls()

    def _update_controls(self) -> None:
        loaded = self._loaded is not None
        embedded = self._loaded is not None and self._loaded.embedded
        editable = loaded and not embedded and not self._saving
        protocol = self.form.protocol()
        self.form.enable(editable, uses_sasl(protocol), uses_tls(protocol))
        dirty = self._dirty()
        self.form.save_button.setEnabled(editable and dirty)
        self.form.revert_button.setEnabled(editable and dirty)
        self.delete_button.setEnabled(loaded and not self._saving)
        self.export_button.setEnabled(loaded and not embedded)
        self.tester.test_button.setEnabled(loaded and not self._testing)
        self.tester.topic_edit.setEnabled(loaded)
        self.crypto.enable(editable)

    def _show_status(self, ok: bool | None, text: str) -> None:
        """The status line under the form: text plus an icon, never colour alone.

        Args:
            ok: success, problem, or None for work in progress.
            text: the sentence ("" clears the line).
        """
        self.form.show_status(ok, text)
        if text and ok is not None:
            self.statusChanged.emit(ok, text)

    # -- actions -------------------------------------------------------------------

    def on_new_clicked(self) -> None:
        if self._draft is not None:
            self.list.select_id(self._draft.id)
            self._load(self._draft)
            self.form.name_edit.setFocus()
            return
        if not self._confirm_discard():
            return
        taken = [p.name for p in self.store.settings.profiles]
        self._draft = BrokerProfile(name=unique_name("New broker", taken))
        self._reload_list()
        self.list.select_id(self._draft.id)
        self._load(self._draft)
        self.form.name_edit.selectAll()
        self.form.name_edit.setFocus()

    def on_revert_clicked(self) -> None:
        if self._loaded is not None:
            self._load(self._loaded)

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
        profile = self._form_profile()
        errors = validate_profile(profile, self.store.settings.profiles)
        if errors:
            self._show_status(False, " ".join(errors))
            return
        profile = normalised(profile)
        change = profile_editing.password_change(
            profile, self.store.settings.profile(profile.id), self.form.password_edit.text())
        if change is None:
            self._finish_save(profile)
            return
        self._saving = True
        self._show_status(None, "Saving…")
        self._update_controls()
        self._save_with_password(profile, change)

    @asyncSlot()
    async def _save_with_password(self, profile: BrokerProfile,
                                  change: Callable[[], None]) -> None:
        try:
            await self.tasks.run(Purpose.IO, change, context=self)
        except Exception as exc:
            self._saving = False
            self._update_controls()
            self._show_status(False, f"Not saved: {error_sentence(exc)}")
            return
        self._saving = False
        self._finish_save(profile)

    def _finish_save(self, profile: BrokerProfile) -> None:
        """Put ``profile`` (its secret already stored) into the settings."""
        try:
            self.store.update(profile_editing.put_profile(self.store.settings, profile))
        except OSError as exc:
            self._update_controls()
            self._show_status(False, f"Not saved: could not write the settings ({exc}).")
            return
        if self._draft is not None and self._draft.id == profile.id:
            self._draft = None
        self._reload_list()
        if self._loaded is not None and self._loaded.id == profile.id:
            self.list.select_id(profile.id)
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
        users = profile_editing.profile_users(self.store.settings, profile.id)
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
        try:
            self.store.update(profile_editing.remove_profile(self.store.settings, profile.id))
        except OSError as exc:
            self._show_status(False, f"Not deleted: could not write the settings ({exc}).")
            return
        self._loaded = None
        self._reload_list()
        self._after_removal()
        log.info("deleted broker profile %s (%s)", profile.name, profile.id)
        self._delete_password(profile)

    @asyncSlot()
    async def _delete_password(self, profile: BrokerProfile) -> None:
        try:
            await self.tasks.run(Purpose.IO, profile_editing.delete_password, profile,
                                 context=self)
        except Exception as exc:
            self._show_status(False, f"Deleted “{profile.name}”, but its password is still "
                              f"in the keychain: {exc}")
        else:
            self._show_status(True, f"Deleted “{profile.name}”.")
        self.deleted.emit(profile.id)

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
        if path:
            self._show_status(None, f"Importing {Path(path).name}…")
            self._import(Path(path), [p.name for p in self.store.settings.profiles])

    @asyncSlot()
    async def _import(self, path: Path, taken: list[str]) -> None:
        try:
            profile, stored = await self.tasks.run(Purpose.IO, profile_editing.import_profile,
                                                   path, taken, context=self)
        except Exception as exc:
            self._show_status(False, f"Not imported: {error_sentence(exc)}")
            return
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
        self.list.select_id(profile.id)
        self._load(profile)
        extra = " Its password is in the system keychain." if stored else ""
        self._show_status(True, f"Imported “{profile.name}” from {path.name}.{extra}")
        self.imported.emit(profile.id)

    def on_export_clicked(self) -> None:
        if self._loaded is None or self._loaded.embedded:
            return
        profile = self._form_profile()
        errors = validate_profile(profile)
        if errors:
            self._show_status(False, " ".join(errors))
            return
        profile = normalised(profile)
        path, _ = QFileDialog.getSaveFileName(self, "Export as an OpenMSIStream config",
                                              profile_editing.export_file_name(profile),
                                              CONFIG_FILTER)
        if path:
            self._export(profile, path)

    @asyncSlot()
    async def _export(self, profile: BrokerProfile, path: str) -> None:
        try:
            text = await self.tasks.run(Purpose.IO, profile_editing.export_profile, profile,
                                        Path(path), context=self)
        except Exception as exc:
            self._show_status(False, f"Not exported: {error_sentence(exc)}")
            return
        self._show_status(True, text)
        self.exported.emit(path)

    def on_test_clicked(self) -> None:
        if self._loaded is None or self._testing:
            return
        profile = self._form_profile()
        errors = validate_profile(profile)
        if errors:
            self.tester.show_result(False, f"Not tested: {' '.join(errors)}")
            self.testFinished.emit(False, self.tester.test_text.text())
            return
        profile = normalised(profile)
        self._testing = True
        self._test_token += 1
        self.tester.set_testing(True)
        self._update_controls()
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
        self._update_controls()
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
        profile = normalised(self._form_profile())
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
            self._show_status(True, f"Encryption node “{node_id}” is provisioned and selected: "
                              "click Save to use it for this profile.")
        self.crypto.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        """Check for encryption and list the nodes, again each time the view appears.

        Nodes may have been provisioned meanwhile (``openmsi provision``).
        """
        super().showEvent(event)
        self.crypto.refresh()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Close the provisioning dialog with the window."""
        if self.provision_dialog is not None:
            self.provision_dialog.close()
        super().closeEvent(event)


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
