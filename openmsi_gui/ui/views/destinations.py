"""The destinations view: topics consumed into local folders (S3 buckets in a later release).

The list, the unsaved-edit handling and Apply/Revert come from
:class:`~openmsi_gui.ui.views.folders.ItemsView`; validation is the pure
function :func:`validate_destination`.
"""

from __future__ import annotations

import dataclasses
import re
import socket

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QWidget,
)

from openmsi_gui.app.controller import AppController, destination_job_name
from openmsi_gui.app.settings import Destination, Settings, SettingsStore
from openmsi_gui.ui.views.folders import (
    ItemsView,
    buddy_label,
    path_problem,
    profile_problem,
    same_or_inside,
)
from openmsi_gui.ui.views.topic_picker import topic_problem

KINDS = (("folder", "Local folder"), ("s3", "S3 bucket"))
"""Destination kinds: the value stored in :attr:`Destination.kind` and what the user sees."""

S3_LATER = "coming in a later release"
GROUP_TOOLTIP = (
    "The Kafka consumer group. Downloaders that share a group share the files: each file "
    "goes to only one of them. Give every computer (or folder) that needs its own complete "
    "copy a group of its own.")


def default_group_id(hostname: str | None = None) -> str:
    """``openmsi-<short host name>``, the group a new destination gets."""
    host = socket.gethostname() if hostname is None else hostname
    short = re.sub(r"[^A-Za-z0-9_-]+", "-", host.split(".")[0]).strip("-").lower()
    return f"openmsi-{short or 'pc'}"


def location_text(dest: Destination) -> str:
    """Where a destination's files go, in one line."""
    if dest.kind == "s3":
        return f"s3://{dest.bucket}/{dest.prefix}".rstrip("/")
    return dest.path


def validate_destination(dest: Destination, settings: Settings) -> list[str]:
    """Everything wrong with ``dest`` as one sentence each (empty if it can be saved).

    Args:
        dest: the destination as edited.
        settings: the saved settings (``dest`` itself may or may not be in them).
    """
    errors: list[str] = []
    if dest.kind == "s3":
        errors.append(f"S3 buckets are {S3_LATER}: choose Local folder.")
    elif dest.kind != "folder":
        errors.append(f"Unknown kind of destination {dest.kind!r}: choose Local folder.")
    elif (problem := path_problem(dest.path)) is not None:
        errors.append(problem)
    if (problem := profile_problem(dest.profile_id, settings)) is not None:
        errors.append(problem)
    if (problem := topic_problem(dest.topic)) is not None:
        errors.append(problem[:1].upper() + problem[1:] + ".")
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


class DestinationsView(ItemsView[Destination]):
    """Destinations: each consumes a topic into a local folder."""

    NOUN = "destination"
    COLUMNS = ("Destination", "Broker", "Topic", "Group", "Status")
    ADD_CAPTION = "Choose the folder to download into"
    DROP_HINT = "Tip: drop a folder from your file manager here to download into it."

    def __init__(self, store: SettingsStore, controller: AppController,
                 parent: QWidget | None = None) -> None:
        super().__init__(store, controller, parent)
        self.setAccessibleName("Destinations")

    def _build_form(self, form: QFormLayout) -> None:
        self.kind_combo = QComboBox()
        self.kind_combo.setAccessibleName("Kind of destination")
        self.kind_combo.setToolTip(f"Where the files go (S3 buckets are {S3_LATER})")
        for value, label in KINDS:
            self.kind_combo.addItem(label, value)
        model = self.kind_combo.model()
        s3_index = self.kind_combo.findData("s3")
        if isinstance(model, QStandardItemModel):
            s3_item = model.item(s3_index)
            if s3_item is not None:
                s3_item.setEnabled(False)
        self.kind_combo.setItemData(s3_index, S3_LATER, Qt.ItemDataRole.ToolTipRole)
        self.kind_combo.currentIndexChanged.connect(self._on_kind_changed)

        self.group_edit = QLineEdit()
        self.group_edit.setAccessibleName("Consumer group")
        self.group_edit.setToolTip(GROUP_TOOLTIP)
        self.group_edit.setPlaceholderText(default_group_id())
        self.group_edit.textEdited.connect(self._on_form_changed)

        self.s3_box = QGroupBox(f"S3 bucket ({S3_LATER})")
        self.s3_box.setAccessibleName("S3 bucket settings")
        s3_form = QFormLayout(self.s3_box)
        self.bucket_edit = self._s3_edit("Bucket")
        self.prefix_edit = self._s3_edit("Key prefix")
        self.endpoint_edit = self._s3_edit("Endpoint URL")
        self.endpoint_edit.setPlaceholderText("empty for AWS")
        self.region_edit = self._s3_edit("Region")
        for label, edit in (("Bucket:", self.bucket_edit), ("Key prefix:", self.prefix_edit),
                            ("Endpoint URL:", self.endpoint_edit),
                            ("Region:", self.region_edit)):
            s3_form.addRow(buddy_label(label, edit), edit)
        self.s3_box.setEnabled(False)  # ready for the S3 release
        self.s3_box.hide()

        self._form = form
        form.addRow(buddy_label("Ki&nd:", self.kind_combo), self.kind_combo)
        form.addRow(buddy_label("Bro&ker:", self.profile_combo), self.profile_combo)
        form.addRow(buddy_label("Top&ic:", self.topic_picker.combo), self.topic_picker)
        form.addRow(buddy_label("Consumer &group:", self.group_edit), self.group_edit)
        form.addRow(buddy_label("Folder:", self.path_edit), self.path_row)
        form.addRow(self.s3_box)
        form.addRow("", self.enabled_check)
        self.enabled_check.setToolTip("Download this topic (clear to stop without removing it)")

    def _s3_edit(self, name: str) -> QLineEdit:
        edit = QLineEdit()
        edit.setAccessibleName(name)
        edit.textEdited.connect(self._on_form_changed)
        return edit

    def _form_tab_order(self) -> list[QWidget]:
        return [self.kind_combo, self.profile_combo, self.topic_picker.combo,
                self.topic_picker.refresh_button, self.topic_picker.create_button,
                self.group_edit, self.path_edit, self.browse_button, self.open_button,
                self.bucket_edit, self.prefix_edit, self.endpoint_edit, self.region_edit,
                self.enabled_check]

    def _on_kind_changed(self) -> None:
        self._show_kind(str(self.kind_combo.currentData()))
        self._on_form_changed()

    def _show_kind(self, kind: str) -> None:
        self._form.setRowVisible(self.path_row, kind != "s3")
        self.s3_box.setVisible(kind == "s3")

    def _items(self, settings: Settings) -> list[Destination]:
        return settings.destinations

    def _new_item(self, path: str, profile_id: str) -> Destination:
        return Destination(path=path, profile_id=profile_id, group_id=default_group_id())

    def _validate(self, item: Destination, settings: Settings) -> list[str]:
        return validate_destination(item, settings)

    def _job_name(self, item: Destination) -> str:
        return destination_job_name(item)

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

    def _read_specific(self, item: Destination) -> Destination:
        return dataclasses.replace(
            item, kind=str(self.kind_combo.currentData() or item.kind),
            group_id=self.group_edit.text().strip(), bucket=self.bucket_edit.text().strip(),
            prefix=self.prefix_edit.text().strip(),
            endpoint_url=self.endpoint_edit.text().strip(),
            region=self.region_edit.text().strip())
