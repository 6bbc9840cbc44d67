"""The destinations view: topics consumed into local folders or S3 buckets.

The list, the unsaved-edit handling and Apply/Revert come from
:class:`~openmsi_gui.ui.views.folders.ItemsView`; validation is the pure
function :func:`validate_destination`, whose S3 part lives in
:mod:`openmsi_gui.app.destinations`. An S3 destination's secret access key
never reaches the settings: Apply stores it in the OS keychain first, on the
view's own worker thread, and the bucket test runs on the controller's probe
threads.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import socket
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QProgressBar,
    QStyle,
    QWidget,
)

from openmsi_gui.app import keychain
from openmsi_gui.app.controller import AppController, job_id
from openmsi_gui.app.destinations import (
    SECRET,
    key_layout,
    location_text,
    owner,
    s3_problems,
    validate_s3_destination,
)
from openmsi_gui.app.settings import Destination, DestinationKind, Settings, SettingsStore
from openmsi_gui.app.text import sentence
from openmsi_gui.engine.s3 import S3Error
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.tasks import when_done
from openmsi_gui.ui.views.folders import (
    FolderCheck,
    ItemsView,
    buddy_label,
    folder_problem,
    profile_problem,
    same_or_inside,
)
from openmsi_gui.ui.views.topic_picker import topic_problem

log = logging.getLogger(__name__)

T = TypeVar("T")

KINDS = (("folder", "Local folder"), ("s3", "S3 bucket"))
"""Destination kinds: the value stored in :attr:`Destination.kind` and what the user sees."""

SECRET_STORED = "stored in the keychain"
SECRET_NOT_STORED = "not stored yet"
NOT_TESTED = "Not tested yet."
TEST_BUTTON = "Te&st the bucket"
GROUP_TOOLTIP = (
    "The Kafka consumer group. Downloaders that share a group share the files: each file "
    "goes to only one of them. Give every computer (or folder) that needs its own complete "
    "copy a group of its own.")
PREFIX_TOOLTIP = (
    "Objects are named <prefix>/<topic>/<subfolders>/<name>. Leave the prefix empty for "
    "OpenMSIStream's layout, <topic>/<subfolders>/<name>.")


def default_group_id(hostname: str | None = None) -> str:
    """``openmsi-<short host name>``, the group a new destination gets."""
    host = socket.gethostname() if hostname is None else hostname
    short = re.sub(r"[^A-Za-z0-9_-]+", "-", host.split(".")[0]).strip("-").lower()
    return f"openmsi-{short or 'pc'}"


def validate_destination(dest: Destination, settings: Settings,
                         folder_check: FolderCheck = folder_problem) -> list[str]:
    """Everything wrong with ``dest`` as one sentence each (empty if it can be saved).

    Args:
        dest: the destination as edited.
        settings: the saved settings (``dest`` itself may or may not be in them).
        folder_check: what is wrong with a local folder; the default asks the file
            system (blocking), the view passes what its background check found.
    """
    errors: list[str] = []
    if dest.kind == "s3":
        errors += validate_s3_destination(dest, settings)  # broker, topic, bucket, …
        if dest.topic and (problem := topic_problem(dest.topic)) is not None:
            errors.append(sentence(problem))
    else:
        if dest.kind != "folder":
            errors.append(f"Unknown kind of destination {dest.kind!r}: choose Local folder "
                          "or S3 bucket.")
        elif (problem := folder_check(dest.path)) is not None:
            errors.append(problem)
        if (problem := profile_problem(dest.profile_id, settings)) is not None:
            errors.append(problem)
        if (problem := topic_problem(dest.topic)) is not None:
            errors.append(sentence(problem))
    if not dest.group_id.strip():
        errors.append("Enter a consumer group.")
    if dest.topic and dest.group_id:
        for other in settings.destinations:
            if (other.id != dest.id and other.profile_id == dest.profile_id
                    and other.topic == dest.topic and other.group_id == dest.group_id):
                errors.append(
                    f"{location_text(other)} already downloads {dest.topic} in consumer group "
                    f"{dest.group_id}: the two would split the files between them. Use another "
                    "consumer group.")
    if dest.kind == "folder" and dest.path and dest.topic:
        for folder in settings.folders:
            if (folder.topic == dest.topic and folder.profile_id == dest.profile_id
                    and same_or_inside(folder.path, dest.path)):
                errors.append(
                    f"{folder.path} is sent to {dest.topic}: files downloaded here would be "
                    "sent again. Choose a folder outside it, or another topic.")
    return errors


_ICONS: dict[str, tuple[QStyle.StandardPixmap, str]] = {
    "ok": (QStyle.StandardPixmap.SP_DialogApplyButton, "Success"),
    "problem": (QStyle.StandardPixmap.SP_MessageBoxWarning, "Problem"),
    "busy": (QStyle.StandardPixmap.SP_BrowserReload, "Working"),
}


class DestinationsView(ItemsView[Destination]):
    """Destinations: each consumes a topic into a local folder or an S3 bucket.

    Signals:
        testFinished(bool, str): a bucket test ended (success, the sentence shown).
        secretSaved(str): Apply stored (or removed) the S3 secret of a destination (id).
    """

    NOUN = "destination"
    COLUMNS = ("Destination", "Broker", "Topic", "Group", "Status")
    ADD_CAPTION = "Choose the folder to download into"
    DROP_HINT = "Tip: drop a folder from your file manager here to download into it."

    testFinished = Signal(bool, str)
    secretSaved = Signal(str)

    def __init__(self, store: SettingsStore, controller: AppController,
                 parent: QWidget | None = None, state: LiveState | None = None) -> None:
        self._secrets: dict[str, str] = {}  # typed, not yet stored, by destination id
        self._has_secret: dict[str, bool] = {}  # what the keychain holds, once asked
        self._io_pool: ThreadPoolExecutor | None = None
        self._saving = False
        self._testing = False
        self._test_token = 0
        super().__init__(store, controller, parent, state)
        self.setAccessibleName("Destinations")
        self._place_add_s3_button()
        self.destroyed.connect(self._shutdown_io)

    # -- construction -----------------------------------------------------------

    def _build_form(self, form: QFormLayout) -> None:
        self.kind_combo = QComboBox()
        self.kind_combo.setAccessibleName("Kind of destination")
        self.kind_combo.setToolTip("Where the files go: a folder on this computer, or an S3 "
                                   "bucket (AWS or any S3-compatible store)")
        for value, label in KINDS:
            self.kind_combo.addItem(label, value)
        self.kind_combo.currentIndexChanged.connect(self._on_kind_changed)

        self.group_edit = QLineEdit()
        self.group_edit.setAccessibleName("Consumer group")
        self.group_edit.setToolTip(GROUP_TOOLTIP)
        self.group_edit.setPlaceholderText(default_group_id())
        self.group_edit.textEdited.connect(self._on_form_changed)

        self.add_s3_button = self._button("Add S&3 bucket", "Add S3 bucket destination",
                                          self.on_add_s3_clicked)
        self.add_s3_button.setToolTip("Add a destination that stores the files in an S3 bucket")

        self._form = form
        form.addRow(buddy_label("Ki&nd:", self.kind_combo), self.kind_combo)
        form.addRow(buddy_label("Bro&ker:", self.profile_combo), self.profile_combo)
        form.addRow(buddy_label("Top&ic:", self.topic_picker.combo), self.topic_picker)
        form.addRow(buddy_label("Consumer &group:", self.group_edit), self.group_edit)
        form.addRow(buddy_label("Folder:", self.path_edit), self.path_row)
        form.addRow(self._build_s3_box())
        form.addRow("", self.enabled_check)
        self.enabled_check.setToolTip("Download this topic (clear to stop without removing it)")

    def _build_s3_box(self) -> QGroupBox:
        self.s3_box = QGroupBox("S3 bucket")
        self.s3_box.setAccessibleName("S3 bucket settings")
        s3_form = QFormLayout(self.s3_box)
        s3_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.bucket_edit = self._s3_edit("Bucket", "The bucket's name (it must exist already)",
                                         "e.g. lab-raw-data")
        self.prefix_edit = self._s3_edit("Key prefix", PREFIX_TOOLTIP, "none")
        self.layout_hint = QLabel()
        self.layout_hint.setWordWrap(True)
        self.layout_hint.setTextFormat(Qt.TextFormat.PlainText)
        self.layout_hint.setAccessibleName("Object names")
        self.endpoint_edit = self._s3_edit(
            "Endpoint URL", "The address of an S3-compatible store (MinIO, Ceph, SeaweedFS…); "
            "leave empty for Amazon S3", "empty for AWS")
        self.region_edit = self._s3_edit("Region", "The bucket's region, e.g. us-east-1 "
                                         "(empty: the SDK default)", "default")
        self.access_key_edit = self._s3_edit(
            "Access key ID", "The access key with read and write rights on the bucket (empty: "
            "the keys of the AWS environment variables or profile)", "from the environment")
        self.secret_edit = self._s3_edit(
            "Secret access key", "Saved in the system keychain when you Apply, never in the "
            "settings file", SECRET_NOT_STORED, form_field=False)
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret_edit.textEdited.connect(self._on_secret_edited)

        self.test_button = self._button(TEST_BUTTON, "Test the bucket",
                                        self.on_test_clicked)
        self.test_button.setToolTip("Sign in and look at the bucket with the settings in the "
                                    "form (unsaved changes included); nothing is written")
        self.test_busy = QProgressBar()
        self.test_busy.setRange(0, 0)
        self.test_busy.setTextVisible(False)
        self.test_busy.setMaximumWidth(100)
        self.test_busy.setAccessibleName("Testing the bucket")
        self.test_busy.hide()
        self.test_icon = QLabel()
        self.test_icon.setFixedSize(16, 16)
        self.test_text = QLabel(NOT_TESTED)
        self.test_text.setWordWrap(True)
        self.test_text.setTextFormat(Qt.TextFormat.PlainText)
        self.test_text.setAccessibleName("Bucket test result")
        self.test_text.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.test_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        test_row = QHBoxLayout()
        test_row.setContentsMargins(0, 0, 0, 0)
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_busy)
        test_row.addStretch(1)
        result_row = QHBoxLayout()
        result_row.setContentsMargins(0, 0, 0, 0)
        result_row.addWidget(self.test_icon, 0, Qt.AlignmentFlag.AlignTop)
        result_row.addWidget(self.test_text, 1, Qt.AlignmentFlag.AlignTop)

        s3_form.addRow(buddy_label("Bucket:", self.bucket_edit), self.bucket_edit)
        s3_form.addRow(buddy_label("Key prefi&x:", self.prefix_edit), self.prefix_edit)
        s3_form.addRow("", self.layout_hint)
        s3_form.addRow(buddy_label("Endpoint URL:", self.endpoint_edit), self.endpoint_edit)
        s3_form.addRow(buddy_label("Region:", self.region_edit), self.region_edit)
        s3_form.addRow(buddy_label("Access key ID:", self.access_key_edit),
                       self.access_key_edit)
        s3_form.addRow(buddy_label("Secret access key:", self.secret_edit), self.secret_edit)
        s3_form.addRow("", test_row)
        s3_form.addRow("", result_row)
        self.s3_box.hide()
        return self.s3_box

    def _s3_edit(self, name: str, tip: str, placeholder: str,
                 form_field: bool = True) -> QLineEdit:
        edit = QLineEdit()
        edit.setAccessibleName(name)
        edit.setToolTip(tip)
        edit.setPlaceholderText(placeholder)
        if form_field:
            edit.textEdited.connect(self._on_form_changed)
        return edit

    def _place_add_s3_button(self) -> None:
        """Put *Add S3 bucket* right after *Add…* in the list's button row and tab order."""
        parent = self.add_button.parentWidget()
        outer = parent.layout() if parent is not None else None
        row = _layout_holding(outer, self.add_button) if outer is not None else None
        if row is not None and isinstance(row, QHBoxLayout):
            row.insertWidget(row.indexOf(self.add_button) + 1, self.add_s3_button)
        QWidget.setTabOrder(self.add_button, self.add_s3_button)
        QWidget.setTabOrder(self.add_s3_button, self.remove_button)

    def _form_tab_order(self) -> list[QWidget]:
        return [self.kind_combo, self.profile_combo, self.topic_picker.combo,
                self.topic_picker.refresh_button, self.topic_picker.create_button,
                self.group_edit, self.path_edit, self.browse_button, self.open_button,
                self.bucket_edit, self.prefix_edit, self.endpoint_edit, self.region_edit,
                self.access_key_edit, self.secret_edit, self.test_button, self.enabled_check]

    # -- ItemsView hooks --------------------------------------------------------

    def _items(self, settings: Settings) -> list[Destination]:
        return settings.destinations

    def _new_item(self, path: str, profile_id: str) -> Destination:
        return Destination(path=path, profile_id=profile_id, group_id=default_group_id())

    def _validate(self, item: Destination, settings: Settings) -> list[str]:
        return validate_destination(item, settings, self._checked_problem)

    def _checks_path(self, item: Destination) -> bool:
        return item.kind == "folder"

    def _job_name(self, item: Destination) -> str:
        return str(job_id(item))

    def _columns(self, item: Destination, settings: Settings) -> list[str]:
        profile = settings.profile(item.profile_id)
        return [location_text(item), profile.name if profile else "(none)",
                item.topic or "(none)", item.group_id]

    def _load_specific(self, item: Destination) -> None:
        index = self.kind_combo.findData(item.kind)
        if index < 0:
            self.kind_combo.addItem(f"{item.kind} (unknown)", item.kind)
            index = self.kind_combo.count() - 1
        self.kind_combo.setCurrentIndex(index)
        self._show_kind(item.kind)
        self.group_edit.setText(item.group_id)
        self.bucket_edit.setText(item.bucket)
        self.prefix_edit.setText(item.prefix)
        self.endpoint_edit.setText(item.endpoint_url)
        self.region_edit.setText(item.region)
        self.access_key_edit.setText(item.access_key_id)
        self.secret_edit.setText(self._secrets.get(item.id, ""))
        self._test_token += 1  # a test still running was for the item shown before
        self._show_test(None, NOT_TESTED)
        self._show_secret_state(item)

    def _read_specific(self, item: Destination) -> Destination:
        return dataclasses.replace(
            item, kind=DestinationKind(self.kind_combo.currentData() or item.kind),
            group_id=self.group_edit.text().strip(), bucket=self.bucket_edit.text().strip(),
            prefix=self.prefix_edit.text().strip(),
            endpoint_url=self.endpoint_edit.text().strip(),
            region=self.region_edit.text().strip(),
            access_key_id=self.access_key_edit.text().strip())

    def _after_update(self, item: Destination, errors: list[str]) -> None:
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
                    self._show_problems(["Unsaved changes."], problem=False)

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
        job: Future[None] | None = None
        if item.kind == "s3" and secret:
            job = self._io(keychain.set_secret, owner(item), SECRET, secret)
        elif item.kind != "s3" and stored is not None and stored.kind == "s3":
            job = self._io(keychain.delete_secret, owner(item), SECRET)
        if job is None:
            super().on_apply_clicked()
            return
        # The secret goes first, so the job the new settings start finds it.
        self._set_saving(True)
        item_id = item.id

        def saved(_: None) -> None:
            self._secrets.pop(item_id, None)
            self._has_secret[item_id] = item.kind == "s3"
            self._set_saving(False)
            if self.current_id() != item_id:
                self._select_id(item_id)
            ItemsView.on_apply_clicked(self)
            self.secretSaved.emit(item_id)

        def failed(exc: BaseException) -> None:
            self._set_saving(False)
            self._show_problems([f"Not saved: {sentence(str(exc))}"])

        when_done(job, saved, failed, context=self)

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

        def failed(exc: BaseException) -> None:
            self._show_problems([f"Removed {location_text(stored)}, but its secret is still in "
                                 f"the keychain: {sentence(str(exc))}"])

        when_done(self._io(keychain.delete_secret, owner(stored), SECRET), lambda _: None,
                  failed, context=self)

    def on_test_clicked(self) -> None:
        item = self.current_item()
        if item is None or item.kind != "s3" or self._testing:
            return
        problems = s3_problems(item)
        if problems:
            text = f"Not tested: {' '.join(problems)}"
            self._show_test(False, text)
            self.testFinished.emit(False, text)
            return
        future = self.controller.test_s3(item, self._secrets.get(item.id) or None)
        self._testing = True
        self._test_token += 1
        token = self._test_token
        self.test_busy.show()
        self.test_button.setText("Testing…")
        self._update_state()
        where = item.endpoint_url.strip() or "AWS S3"
        self._show_test(None, f"Looking at {location_text(item)} on {where}…", busy=True)

        def finish(ok: bool, text: str) -> None:
            self._testing = False
            self.test_busy.hide()
            self.test_button.setText(TEST_BUTTON)
            self._update_state()
            if token == self._test_token:
                self._show_test(ok, text)
            self.testFinished.emit(ok, text)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, (S3Error, keychain.KeychainError)):
                finish(False, f"Failed: {sentence(str(exc))}")
            else:
                log.error("bucket test failed unexpectedly: %s: %s", type(exc).__name__, exc)
                finish(False, f"Failed unexpectedly: {exc or type(exc).__name__}")

        when_done(future, lambda text: finish(True, text), failed, context=self)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Let the worker thread end with the window."""
        self._shutdown_io()
        super().closeEvent(event)

    # -- helpers ----------------------------------------------------------------

    def _on_kind_changed(self) -> None:
        self._show_kind(str(self.kind_combo.currentData()))
        self._on_form_changed()
        item = self.current_item()
        if item is not None and not self._loading:
            self._show_secret_state(item)

    def _show_kind(self, kind: str) -> None:
        self._form.setRowVisible(self.path_row, kind != "s3")
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
        item_id = item.id
        known = self._has_secret.get(item_id)
        if item_id in self._new_ids or known is not None:
            self.secret_edit.setPlaceholderText(SECRET_STORED if known else SECRET_NOT_STORED)
            return
        self.secret_edit.setPlaceholderText("")
        if item.kind != "s3":
            return

        def show(stored: bool) -> None:
            self._has_secret[item_id] = stored
            if self.current_id() == item_id:
                self.secret_edit.setPlaceholderText(SECRET_STORED if stored
                                                    else SECRET_NOT_STORED)

        def failed(exc: BaseException) -> None:
            if self.current_id() == item_id:
                self.secret_edit.setPlaceholderText("keychain not available")
                self._show_test(False, sentence(str(exc)))

        when_done(self._io(keychain.has_secret, owner(item), SECRET), show, failed, context=self)

    def _set_saving(self, saving: bool) -> None:
        """Hold the view still while the keychain stores a secret."""
        self._saving = saving
        for widget in (self.table, self.add_button, self.add_s3_button, self.form_box):
            widget.setEnabled(not saving)
        if saving:
            for button in (self.remove_button, self.enable_button, self.pause_button,
                           self.apply_button, self.revert_button, self.test_button):
                button.setEnabled(False)
            self._show_problems(["Saving the secret in the keychain…"], problem=False)
        else:
            self._on_current_changed()

    def _show_test(self, ok: bool | None, text: str, busy: bool = False) -> None:
        """The bucket test line, with an icon that has a name (never colour alone)."""
        self.test_text.setText(text)
        kind = "busy" if busy else "" if ok is None else "ok" if ok else "problem"
        if not kind:
            self.test_icon.clear()
            self.test_icon.setAccessibleName("")
            self.test_icon.setToolTip("")
            return
        pixmap, name = _ICONS[kind]
        self.test_icon.setPixmap(self.style().standardIcon(pixmap).pixmap(16, 16))
        self.test_icon.setAccessibleName(name)
        self.test_icon.setToolTip(name)

    def _io(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run keychain work on the view's one worker thread, in order."""
        if self._io_pool is None:
            self._io_pool = ThreadPoolExecutor(1, thread_name_prefix="openmsi-destinations-io")
        return self._io_pool.submit(fn, *args)

    def _shutdown_io(self, *_args: object) -> None:
        """Let the worker thread end once its work is done (never blocks)."""
        if self._io_pool is not None:
            self._io_pool.shutdown(wait=False)
            self._io_pool = None


def _layout_holding(layout: QLayout, widget: QWidget) -> QLayout | None:
    """The layout under ``layout`` (itself included) that directly holds ``widget``."""
    if layout.indexOf(widget) >= 0:
        return layout
    for index in range(layout.count()):
        item = layout.itemAt(index)
        child = item.layout() if item is not None else None
        if child is not None and (found := _layout_holding(child, widget)) is not None:
            return found
    return None
