"""The S3 part of the destination form: bucket, prefix, endpoint, keys and the bucket test."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from openmsi_gui.ui.status_line import StatusLine, buddy_label
from openmsi_gui.ui.views.item_list import push_button

SECRET_STORED = "stored in the keychain"
SECRET_NOT_STORED = "not stored yet"
NOT_TESTED = "Not tested yet."
TEST_BUTTON = "Te&st the bucket"
PREFIX_TOOLTIP = (
    "Objects are named <prefix>/<topic>/<subfolders>/<name>. Leave the prefix empty for "
    "OpenMSIStream's layout, <topic>/<subfolders>/<name>.")


def _edit(name: str, tip: str, placeholder: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setAccessibleName(name)
    edit.setToolTip(tip)
    edit.setPlaceholderText(placeholder)
    return edit


class S3Box(QGroupBox):
    """The S3 fields of a destination, a *Test the bucket* button and its result line.

    :attr:`fields` are the edits that are part of the destination (the secret is not:
    it goes to the keychain).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("S3 bucket", parent)
        self.setAccessibleName("S3 bucket settings")
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.bucket_edit = _edit("Bucket", "The bucket's name (it must exist already)",
                                 "e.g. lab-raw-data")
        self.prefix_edit = _edit("Key prefix", PREFIX_TOOLTIP, "none")
        self.layout_hint = QLabel()
        self.layout_hint.setWordWrap(True)
        self.layout_hint.setTextFormat(Qt.TextFormat.PlainText)
        self.layout_hint.setAccessibleName("Object names")
        self.endpoint_edit = _edit(
            "Endpoint URL", "The address of an S3-compatible store (MinIO, Ceph, SeaweedFS…); "
            "leave empty for Amazon S3", "empty for AWS")
        self.region_edit = _edit("Region", "The bucket's region, e.g. us-east-1 (empty: the "
                                 "SDK default)", "default")
        self.access_key_edit = _edit(
            "Access key ID", "The access key with read and write rights on the bucket (empty: "
            "the keys of the AWS environment variables or profile)", "from the environment")
        self.secret_edit = _edit(
            "Secret access key", "Saved in the system keychain when you Apply, never in the "
            "settings file", SECRET_NOT_STORED)
        self.secret_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.fields = (self.bucket_edit, self.prefix_edit, self.endpoint_edit,
                       self.region_edit, self.access_key_edit)

        self.test_button = push_button(TEST_BUTTON, "Test the bucket")
        self.test_button.setToolTip("Sign in and look at the bucket with the settings in the "
                                    "form (unsaved changes included); nothing is written")
        self.test_status = StatusLine("Bucket test result", busy_bar=True)
        self.test_status.show_result(None, NOT_TESTED)
        test_row = QHBoxLayout()
        test_row.setContentsMargins(0, 0, 0, 0)
        test_row.addWidget(self.test_button)
        test_row.addStretch(1)

        form.addRow(buddy_label("Bucket:", self.bucket_edit), self.bucket_edit)
        form.addRow(buddy_label("Key prefi&x:", self.prefix_edit), self.prefix_edit)
        form.addRow("", self.layout_hint)
        form.addRow(buddy_label("Endpoint URL:", self.endpoint_edit), self.endpoint_edit)
        form.addRow(buddy_label("Region:", self.region_edit), self.region_edit)
        form.addRow(buddy_label("Access key ID:", self.access_key_edit), self.access_key_edit)
        form.addRow(buddy_label("Secret access key:", self.secret_edit), self.secret_edit)
        form.addRow("", test_row)
        form.addRow("", self.test_status)

    def set_testing(self, testing: bool) -> None:
        """Say on the button whether a test is running."""
        self.test_button.setText("Testing…" if testing else TEST_BUTTON)
