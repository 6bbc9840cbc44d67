"""The destinations view: topics consumed into local folders or S3 buckets.

The list, the unsaved-edit handling and Apply/Revert come from
:class:`~openmsi_gui.ui.views.items_view.ItemsView`; validation is
:func:`~openmsi_gui.app.destinations.validate_destination`. An S3
destination's secret access key never reaches the settings: Apply stores it
in the OS keychain first, on the app's serial I/O executor, and the bucket
test runs on the controller's probe threads.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from concurrent.futures import Future

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLineEdit, QWidget

from openmsi_gui.app import keychain, pairing
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.destinations import (
    KINDS,
    SECRET,
    default_group_id,
    key_layout,
    location_text,
    owner,
    s3_problems,
    validate_destination,
)
from openmsi_gui.app.file_information import filtered_text
from openmsi_gui.app.job_specs import job_id
from openmsi_gui.app.settings import Destination, DestinationKind, Settings, SettingsStore
from openmsi_gui.app.text import error_sentence, sentence
from openmsi_gui.engine.s3 import S3Error
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.status_line import buddy_label
from openmsi_gui.ui.tasks import Purpose, Tasks, asyncSlot
from openmsi_gui.ui.views.advanced import AdvancedSection
from openmsi_gui.ui.views.bandwidth_field import BandwidthField
from openmsi_gui.ui.views.item_list import push_button
from openmsi_gui.ui.views.items_view import ItemsView
from openmsi_gui.ui.views.processing_section import ProcessingSection
from openmsi_gui.ui.views.receipt_fields import ReceiptFields
from openmsi_gui.ui.views.receiving_fields import ReceivingFields
from openmsi_gui.ui.views.s3_box import NOT_TESTED, SECRET_NOT_STORED, SECRET_STORED, S3Box

GROUP_TOOLTIP = (
    "The Kafka consumer group. Downloaders that share a group share the files: each file "
    "goes to only one of them. Give every computer (or folder) that needs its own complete "
    "copy a group of its own.")


class DestinationsView(ItemsView[Destination]):
    """Destinations: each consumes a topic into a local folder or an S3 bucket.

    Signals:
        testFinished(bool, str): a bucket test ended (success, the sentence shown).
        secretSaved(str): Apply stored (or removed) the S3 secret of a destination (id).
    """

    NOUN = "destination"
    COLUMNS = ("Destination", "Broker", "Topic", "Status")  # the group is under Advanced
    ADD_CAPTION = "Choose the folder to download into"
    DROP_HINT = "Tip: drop a folder from your file manager here to download into it."

    testFinished = Signal(bool, str)
    secretSaved = Signal(str)

    def __init__(self, store: SettingsStore, controller: AppController, tasks: Tasks,
                 parent: QWidget | None = None, state: LiveState | None = None) -> None:
        self._secrets: dict[str, str] = {}  # typed, not yet stored, by destination id
        self._has_secret: dict[str, bool] = {}  # what the keychain holds, once asked
        self._saving = False
        self._testing = False
        self._test_token = 0
        super().__init__(store, controller, tasks, parent, state)
        self.setAccessibleName("Destinations")
        self._place_add_s3_button()

    # -- construction -----------------------------------------------------------

    def _build_form(self, form: QFormLayout) -> None:
        self.kind_combo = QComboBox()
        self.kind_combo.setAccessibleName("Kind of destination")
        self.kind_combo.setToolTip("Where the files go: a folder on this computer, an S3 "
                                   "bucket (AWS or any S3-compatible store), or nowhere: "
                                   "processing only keeps nothing but the results")
        for value, label in KINDS:
            self.kind_combo.addItem(label, value)
        self.kind_combo.currentIndexChanged.connect(self._on_kind_changed)

        self.group_edit = QLineEdit()
        self.group_edit.setAccessibleName("Consumer group")
        self.group_edit.setToolTip(GROUP_TOOLTIP)
        self.group_edit.setPlaceholderText(default_group_id())
        self.group_edit.textEdited.connect(self._on_form_changed)
        self.bwlimit = BandwidthField("Bandwidth limit", "no limit of its own (e.g. 4M)")
        self.bwlimit.edit.setToolTip("Receiving for this destination is held to this rate, "
                                     "as well as to the app's limit (Preferences). "
                                     + self.bwlimit.edit.toolTip())
        self.bwlimit.edit.textEdited.connect(self._on_form_changed)
        self.add_s3_button = push_button("Add S&3 bucket", "Add S3 bucket destination",
                                         self.on_add_s3_clicked)
        self.add_s3_button.setToolTip("Add a destination that stores the files in an S3 bucket")

        self.s3_box = box = S3Box()
        for edit in box.fields:
            edit.textEdited.connect(self._on_form_changed)
        box.secret_edit.textEdited.connect(self._on_secret_edited)
        box.test_button.clicked.connect(self.on_test_clicked)
        box.hide()
        self.bucket_edit, self.prefix_edit = box.bucket_edit, box.prefix_edit
        self.endpoint_edit, self.region_edit = box.endpoint_edit, box.region_edit
        self.access_key_edit, self.secret_edit = box.access_key_edit, box.secret_edit
        self.layout_hint, self.test_button = box.layout_hint, box.test_button
        self.test_status = box.test_status

        self._form = form
        form.addRow(buddy_label("Ki&nd:", self.kind_combo), self.kind_combo)
        form.addRow(buddy_label("Bro&ker:", self.profile_combo), self.profile_combo)
        form.addRow(buddy_label("Top&ic:", self.topic_picker.combo), self.topic_picker)
        form.addRow(buddy_label("Folder:", self.path_edit), self.path_row)
        form.addRow(box)
        form.addRow(buddy_label("Limit to:", self.bwlimit.edit), self.bwlimit.widget)
        self.receiving = ReceivingFields(self)
        self.receiving.changed.connect(self._on_form_changed)
        self.state.filteredChanged.connect(self._refresh_table)
        self.receiving.add_rows(form)
        form.addRow("", self.enabled_check)
        self.processing = ProcessingSection(self.controller, self.tasks,
                                            saved=lambda: self._stored(self.current_id() or ""))
        self.processing.changed.connect(self._on_form_changed)
        form.addRow(self.processing)
        self.advanced = AdvancedSection()
        self.advanced.form.addRow(buddy_label("Consumer &group:", self.group_edit),
                                  self.group_edit)
        self._build_receipt_fields(self.advanced.form)
        form.addRow(self.advanced)
        self.enabled_check.setToolTip("Download this topic (clear to stop without removing it)")

    def _build_receipt_fields(self, form: QFormLayout) -> None:
        """Whether and under which name the destination sends receipts; its pairing code."""
        self.receipt_fields = ReceiptFields(
            self.tasks, lambda: self.controller.registry.path.parent, self._signing_name, self)
        self.receipt_fields.changed.connect(self._on_form_changed)
        self.receipts_check = self.receipt_fields.receipts_check
        self.receipt_name_edit = self.receipt_fields.receipt_name_edit
        self.pairing_button = self.receipt_fields.pairing_button
        self.pairing_status = self.receipt_fields.pairing_status
        self.receipt_fields.add_rows(form)

    def _place_add_s3_button(self) -> None:
        """Put *Add S3 bucket* right after *Add…* in the list's button row and tab order."""
        row = self.item_list.buttons
        row.insertWidget(row.indexOf(self.add_button) + 1, self.add_s3_button)
        QWidget.setTabOrder(self.add_button, self.add_s3_button)
        QWidget.setTabOrder(self.add_s3_button, self.remove_button)

    def _form_tab_order(self) -> list[QWidget]:
        return [self.kind_combo, self.profile_combo, self.topic_picker.combo,
                self.topic_picker.refresh_button, self.topic_picker.create_button,
                self.path_edit, self.browse_button, self.open_button,
                self.bucket_edit, self.prefix_edit, self.endpoint_edit, self.region_edit,
                self.access_key_edit, self.secret_edit, self.test_button, self.bwlimit.edit,
                *self.receiving.tab_order(), self.enabled_check, *self.processing.tab_order(),
                self.advanced.toggle, self.group_edit, *self.receipt_fields.tab_order()]

    # -- ItemsView hooks --------------------------------------------------------

    def _items(self, settings: Settings) -> list[Destination]:
        return settings.destinations

    def _new_item(self, path: str, profile_id: str) -> Destination:
        return Destination(path=path, profile_id=profile_id, group_id=default_group_id())

    def _validate(self, item: Destination, settings: Settings) -> list[str]:
        problems = validate_destination(item, settings, self._checked_problem)
        timeout = self.processing.problem() if self.current_id() == item.id else None
        return [*problems, *([timeout] if timeout else [])]

    def _status_note(self, item: Destination) -> str:
        count = self.state.filtered.get(self._job_name(item), 0)
        return filtered_text(count) if count else ""

    def _checks_path(self, item: Destination) -> bool:
        return item.kind == "folder"

    def _job_name(self, item: Destination) -> str:
        return str(job_id(item))

    def _columns(self, item: Destination, settings: Settings) -> list[str]:
        profile = settings.profile(item.profile_id)
        return [location_text(item), profile.name if profile else "(none)",
                item.topic or "(none)"]

    def _load_specific(self, item: Destination) -> None:
        index = self.kind_combo.findData(item.kind)
        if index < 0:
            self.kind_combo.addItem(f"{item.kind} (unknown)", item.kind)
            index = self.kind_combo.count() - 1
        self.kind_combo.setCurrentIndex(index)
        self._show_kind(item.kind)
        self.processing.load(item, self._settings.profile(item.profile_id))
        self.receiving.load(item)
        self.group_edit.setText(item.group_id)
        self.bwlimit.set_text(item.bwlimit)
        self.receipt_fields.load(item)
        if (item.group_id and item.group_id != default_group_id()) or (
                item.receipt_name or not item.receipts):
            self.advanced.set_expanded(True)  # a group or receipt settings of its own: say so
        self.bucket_edit.setText(item.bucket)
        self.prefix_edit.setText(item.prefix)
        self.endpoint_edit.setText(item.endpoint_url)
        self.region_edit.setText(item.region)
        self.access_key_edit.setText(item.access_key_id)
        self.secret_edit.setText(self._secrets.get(item.id, ""))
        self._test_token += 1  # a test still running was for the item shown before
        self.test_status.show_result(None, NOT_TESTED)
        self._show_secret_state(item)

    def _read_specific(self, item: Destination) -> Destination:
        item = self.receipt_fields.read(self.receiving.read(self.processing.read(item)))
        return dataclasses.replace(
            item, kind=DestinationKind(self.kind_combo.currentData() or item.kind),
            group_id=self.group_edit.text().strip(), bucket=self.bucket_edit.text().strip(),
            prefix=self.prefix_edit.text().strip(),
            endpoint_url=self.endpoint_edit.text().strip(),
            region=self.region_edit.text().strip(),
            access_key_id=self.access_key_edit.text().strip(), bwlimit=self.bwlimit.text())

    def _after_update(self, item: Destination, errors: list[str]) -> None:
        self.receipt_fields.show_state(item)
        self.receiving.show_state(item)
        self.processing.results.set_profile(self._settings.profile(item.profile_id))
        self.processing.show_state(item, self._stored(item.id))
        s3 = item.kind == "s3"
        if s3:
            self.open_button.setEnabled(False)
            prefix = item.prefix.strip().strip("/")
            note = ("" if prefix else ", as OpenMSIStream stores them")
            self.layout_hint.setText(f"Files go to {key_layout(item)} in the bucket{note}.")
        self.test_button.setEnabled(s3 and not self._testing and not self._saving)
        if self._saving:  # also when a job state or a folder check updates the form
            for button in (self.remove_button, self.enable_button, self.pause_button,
                           self.apply_button, self.revert_button):
                button.setEnabled(False)
            return
        if self._secrets.get(item.id) and s3:
            # A typed secret is an unsaved change the dataclass cannot show.
            self.revert_button.setEnabled(True)
            if not errors:
                self.apply_button.setEnabled(True)
                if item.id not in self._new_ids:
                    self.errors.show_note("Unsaved changes.")

    # -- slots ------------------------------------------------------------------

    def on_add_s3_clicked(self) -> None:
        profiles = self._settings.profiles
        item = Destination(kind=DestinationKind.S3, profile_id=profiles[0].id if profiles else "",
                           group_id=default_group_id())
        self._drafts[item.id] = item
        self._new_ids.append(item.id)
        self._refresh_table()
        self._select_id(item.id)
        self.bucket_edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def on_apply_clicked(self) -> None:
        item = self.current_item()
        if item is None or self._saving:
            return
        if self._path_pending(item) or self._validate(item, self.store.settings):
            super().on_apply_clicked()  # shows the problems
            return
        stored = self._stored(item.id)
        secret = self._secrets.get(item.id, "")
        if item.kind == "s3" and secret:
            write = functools.partial(keychain.set_secret, owner(item), SECRET, secret)
        elif item.kind != "s3" and stored is not None and stored.kind == "s3":
            write = functools.partial(keychain.delete_secret, owner(item), SECRET)
        else:
            super().on_apply_clicked()
            return
        # The secret goes first, so the job the new settings start finds it.
        self._set_saving(True)
        self._apply_after(write, item)

    @asyncSlot()
    async def _apply_after(self, write: Callable[[], None], item: Destination) -> None:
        try:
            await self.tasks.run(Purpose.IO, write, context=self)
        except Exception as exc:  # told to the user
            self._set_saving(False)
            self._show_problems([f"Not saved: {sentence(str(exc))}"])
            return
        self._secrets.pop(item.id, None)
        self._has_secret[item.id] = item.kind == "s3"
        self._set_saving(False)
        if self.current_id() != item.id:
            self._select_id(item.id)
        ItemsView.on_apply_clicked(self)
        self.secretSaved.emit(item.id)

    def _signing_name(self) -> str | None:
        """The name the shown destination's job signs with: the saved one, if saved."""
        item = self.current_item()
        return None if item is None else pairing.destination_name(self._stored(item.id) or item)

    def on_revert_clicked(self) -> None:
        item_id = self.current_id()
        if item_id is not None:
            self._secrets.pop(item_id, None)
        super().on_revert_clicked()

    def on_remove_clicked(self) -> None:
        item_id = self.current_id()
        stored = None if item_id is None else self._stored(item_id)
        if item_id is not None:
            self._secrets.pop(item_id, None)
        super().on_remove_clicked()
        if stored is None or stored.kind != "s3" or self._stored(stored.id) is not None:
            return
        self._has_secret.pop(stored.id, None)
        self._forget_secret(stored)

    @asyncSlot()
    async def _forget_secret(self, stored: Destination) -> None:
        try:
            await self.tasks.run(Purpose.IO, keychain.delete_secret, owner(stored), SECRET,
                                 context=self)
        except Exception as exc:  # told to the user
            self._show_problems([f"Removed {location_text(stored)}, but its secret is still in "
                                 f"the keychain: {sentence(str(exc))}"])

    def on_test_clicked(self) -> None:
        item = self.current_item()
        if item is None or item.kind != "s3" or self._testing:
            return
        problems = s3_problems(item)
        if problems:
            text = f"Not tested: {' '.join(problems)}"
            self.test_status.show_problem(text)
            self.testFinished.emit(False, text)
            return
        future = self.controller.test_s3(item, self._secrets.get(item.id) or None)
        self._testing = True
        self._test_token += 1
        self.s3_box.set_testing(True)
        self._update_state()
        where = item.endpoint_url.strip() or "AWS S3"
        self.test_status.show_busy(f"Looking at {location_text(item)} on {where}…")
        self._finish_test(future, self._test_token)

    @asyncSlot()
    async def _finish_test(self, future: Future[str], token: int) -> None:
        try:
            ok, text = True, await self.tasks.wait(future, context=self)
        except (S3Error, keychain.KeychainError) as exc:
            ok, text = False, f"Failed: {sentence(str(exc))}"
        except Exception as exc:  # unexpected: logged, and told to the user
            self.tasks.report("Testing the bucket", exc)
            ok, text = False, f"Failed unexpectedly: {error_sentence(exc)}"
        self._testing = False
        self.s3_box.set_testing(False)
        self._update_state()
        if token == self._test_token:
            self.test_status.show_result(ok, text)
        self.testFinished.emit(ok, text)

    # -- helpers ----------------------------------------------------------------

    def _on_kind_changed(self) -> None:
        self._show_kind(str(self.kind_combo.currentData()))
        if self.kind_combo.currentData() == DestinationKind.PROCESS:
            self.processing.set_expanded(True)  # where what it needs is chosen
        self._on_form_changed()
        item = self.current_item()
        if item is not None and not self._loading:
            self._show_secret_state(item)

    def _show_kind(self, kind: str) -> None:
        self._form.setRowVisible(self.path_row, kind == DestinationKind.FOLDER)
        self.s3_box.setVisible(kind == "s3")

    def _on_secret_edited(self, text: str) -> None:
        item_id = self.current_id()
        if item_id is None or self._loading:
            return
        if text:
            self._secrets[item_id] = text
        else:
            self._secrets.pop(item_id, None)
        self._update_state()

    def _show_secret_state(self, item: Destination) -> None:
        """Say in the secret's placeholder whether the keychain holds one (asked off-thread)."""
        known = self._has_secret.get(item.id)
        if item.id in self._new_ids or known is not None:
            self.secret_edit.setPlaceholderText(SECRET_STORED if known else SECRET_NOT_STORED)
            return
        self.secret_edit.setPlaceholderText("")
        if item.kind == "s3":
            self._ask_secret(item)

    @asyncSlot()
    async def _ask_secret(self, item: Destination) -> None:
        try:
            stored = await self.tasks.run(Purpose.IO, keychain.has_secret, owner(item), SECRET,
                                          context=self)
        except Exception as exc:  # told to the user
            if self.current_id() == item.id:
                self.secret_edit.setPlaceholderText("keychain not available")
                self.test_status.show_problem(sentence(str(exc)))
            return
        self._has_secret[item.id] = stored
        if self.current_id() == item.id:
            self.secret_edit.setPlaceholderText(SECRET_STORED if stored else SECRET_NOT_STORED)

    def _set_saving(self, saving: bool) -> None:
        """Hold the view still while the keychain stores a secret."""
        self._saving = saving
        for widget in (self.table, self.add_button, self.add_s3_button, self.form_box):
            widget.setEnabled(not saving)
        if saving:
            for button in (self.remove_button, self.enable_button, self.pause_button,
                           self.apply_button, self.revert_button, self.test_button):
                button.setEnabled(False)
            self.errors.show_busy("Saving the secret in the keychain…")
        else:
            self._on_current_changed()

