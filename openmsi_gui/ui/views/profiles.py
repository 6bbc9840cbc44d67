"""The broker profiles view: create, edit, test, import and export Kafka connections.

Secrets never reach the settings file: a profile's password goes straight to
the OS keychain, and exported configs carry a ``$ENV`` reference instead.
The rules (validation, keychain and settings changes, the probe) live in
:mod:`openmsi_gui.app.validation` and :mod:`openmsi_gui.app.profile_editing`;
the view renders them. The list and its buttons are here; the selected
profile's form, test and encryption group are the
:class:`~openmsi_gui.ui.views.profile_editor.ProfileEditor`. Everything that can
block runs on the application's executors (:class:`~openmsi_gui.ui.tasks.Tasks`):
keychain and files on the serial one, probes on the network one.
"""

from __future__ import annotations

import itertools
import logging
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

from openmsi_gui.app import profile_editing
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile, SettingsStore
from openmsi_gui.app.text import error_sentence
from openmsi_gui.app.validation import normalised, unique_name, validate_profile
from openmsi_gui.ui.provision_dialog import ProvisionDialog
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.tasks import Purpose, Tasks, asyncSlot
from openmsi_gui.ui.views.profile_editor import ProfileEditor
from openmsi_gui.ui.views.profile_form import ProfileList, button

log = logging.getLogger(__name__)

CONFIG_FILTER = "OpenMSIStream configs (*.config *.ini *.cfg);;All files (*)"


class ProfilesView(QWidget):
    """Broker profiles: a list on the left, the selected profile's form on the right.

    Args:
        store: the settings; profiles are read from and saved to it.
        controller: runs the connection test of the embedded demo broker.
        tasks: the application's background work.
        parent: the parent widget.

    Attributes:
        editor: the selected profile's form, test and encryption group
            (``form``, ``tester`` and ``crypto`` are its parts).

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

    def __init__(self, store: SettingsStore, controller: AppController, tasks: Tasks,
                 parent: QWidget | None = None, state: LiveState | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.tasks = tasks
        self.state = state or LiveState.standalone(store, controller, self)
        self.setAccessibleName("Broker profiles")
        self._draft: BrokerProfile | None = None  # a new profile not saved yet
        self.editor = ProfileEditor(store, controller, tasks)
        self.form, self.tester, self.crypto = (self.editor.form, self.editor.tester,
                                               self.editor.crypto)
        for mine, theirs in ((self.saved, self.editor.saved),
                             (self.testFinished, self.editor.testFinished),
                             (self.statusChanged, self.editor.statusChanged)):
            theirs.connect(mine)
        self.editor.committed.connect(self.on_editor_committed)
        self.editor.stateChanged.connect(self._update_buttons)
        layout = QHBoxLayout(self)
        layout.addLayout(self._build_list_side())
        layout.addWidget(self.editor, 1)
        self._set_tab_order()
        self.state.adapter.settingsChanged.connect(self.on_store_changed)
        self._reload_list()
        if self.list.count():
            self.list.setCurrentRow(0)
        else:
            self._load(None)

    # -- building ------------------------------------------------------------------

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
            form.username_edit, form.password_edit, form.ca_edit, form.browse_button,
            form.advanced.toggle, form.mechanism_combo, crypto.crypto_combo,
            crypto.provision_button, form.revert_button, form.save_button, tester.topic_edit,
            tester.test_button]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    @property
    def provision_dialog(self) -> ProvisionDialog | None:
        """The provisioning dialog last opened, if any."""
        return self.editor.provision_dialog

    def _update_buttons(self) -> None:
        loaded = self.editor.loaded
        self.delete_button.setEnabled(loaded is not None and not self.editor.saving)
        self.export_button.setEnabled(loaded is not None and not loaded.embedded)

    def _load(self, profile: BrokerProfile | None) -> None:
        """Show ``profile`` in the editor (None: nothing selected)."""
        self.editor.load(profile, draft=profile is not None and profile is self._draft)

    def on_editor_committed(self, profile: BrokerProfile) -> None:
        """A profile went into the settings: list it (no longer a draft) and select it."""
        if self._draft is not None and self._draft.id == profile.id:
            self._draft = None
        self._reload_list()
        if self.editor.loaded is not None and self.editor.loaded.id == profile.id:
            self.list.select_id(profile.id)

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
        if self.editor.loaded is None or self.editor.loaded is self._draft:
            if self.editor.loaded is None and self.list.count():
                self.list.setCurrentRow(0)
            return
        stored = self.store.settings.profile(self.editor.loaded.id)
        if stored is None:
            if self.list.count():
                self.list.setCurrentRow(0)
            else:
                self._load(None)
        elif stored != self.editor.loaded and not self.editor.dirty():
            self._load(stored)

    def on_list_current_changed(self, current: QListWidgetItem | None,
                                previous: QListWidgetItem | None) -> None:
        new_id = None if current is None else current.data(Qt.ItemDataRole.UserRole)
        if self.editor.loaded is not None and new_id == self.editor.loaded.id:
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
        if self.editor.loaded is None or not self.editor.dirty():
            return True
        name = self.editor.form.name_edit.text().strip() or self.editor.loaded.name
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Discard the unsaved changes to “{name}”?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Discard

    # -- actions -------------------------------------------------------------------

    def on_new_clicked(self) -> None:
        if self._draft is not None:
            self.list.select_id(self._draft.id)
            self._load(self._draft)
            self.editor.form.name_edit.setFocus()
            return
        if not self._confirm_discard():
            return
        taken = [p.name for p in self.store.settings.profiles]
        self._draft = BrokerProfile(name=unique_name("New broker", taken))
        self._reload_list()
        self.list.select_id(self._draft.id)
        self._load(self._draft)
        self.editor.form.name_edit.selectAll()
        self.editor.form.name_edit.setFocus()

    def on_delete_clicked(self) -> None:
        if self.editor.loaded is None:
            return
        profile = self.editor.loaded
        if profile is self._draft:
            self._draft = None
            self.editor.forget()
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
            self.editor.show_status(False, f"“{profile.name}” is in use and was not deleted.")
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
            self.editor.show_status(False, f"Not deleted: could not write the settings ({exc}).")
            return
        self.editor.forget()
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
            self.editor.show_status(False, f"Deleted “{profile.name}”, but its password is still "
                              f"in the keychain: {exc}")
        else:
            self.editor.show_status(True, f"Deleted “{profile.name}”.")
        self.deleted.emit(profile.id)

    def _after_removal(self) -> None:
        if self.list.count():
            self.list.setCurrentRow(0)
            if self.editor.loaded is None:  # the row did not change, so no signal
                self.on_list_current_changed(self.list.currentItem(), None)
        else:
            self._load(None)

    def on_import_clicked(self) -> None:
        if not self._confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Import an OpenMSIStream config", "",
                                              CONFIG_FILTER)
        if path:
            self.editor.show_status(None, f"Importing {Path(path).name}…")
            self._import(Path(path), [p.name for p in self.store.settings.profiles])

    @asyncSlot()
    async def _import(self, path: Path, taken: list[str]) -> None:
        try:
            profile, stored = await self.tasks.run(Purpose.IO, profile_editing.import_profile,
                                                   path, taken, context=self)
        except Exception as exc:
            self.editor.show_status(False, f"Not imported: {error_sentence(exc)}")
            return
        settings = self.store.settings
        profile.name = unique_name(profile.name, [p.name for p in settings.profiles])
        settings.profiles.append(profile)
        try:
            self.store.update(settings)
        except OSError as exc:
            self.editor.show_status(False, f"Not imported: could not write the settings ({exc}).")
            return
        self._draft = None
        self.editor.forget()
        self._reload_list()
        self.list.select_id(profile.id)
        self._load(profile)
        extra = " Its password is in the system keychain." if stored else ""
        self.editor.show_status(True, f"Imported “{profile.name}” from {path.name}.{extra}")
        self.imported.emit(profile.id)

    def on_export_clicked(self) -> None:
        if self.editor.loaded is None or self.editor.loaded.embedded:
            return
        profile = self.editor.form_profile()
        errors = validate_profile(profile)
        if errors:
            self.editor.show_status(False, " ".join(errors))
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
            self.editor.show_status(False, f"Not exported: {error_sentence(exc)}")
            return
        self.editor.show_status(True, text)
        self.exported.emit(path)

    def showEvent(self, event: QShowEvent) -> None:
        """Check for encryption and list the nodes, again each time the view appears.

        Nodes may have been provisioned meanwhile (``openmsi provision``).
        """
        super().showEvent(event)
        self.crypto.refresh()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Close the provisioning dialog with the window."""
        self.editor.close_dialogs()
        super().closeEvent(event)


__all__ = ["CONFIG_FILTER", "ProfilesView"]
