"""The parts of the broker profiles view: the list, the profile form and the test box.

They only build and show widgets; :class:`~openmsi_gui.ui.views.profiles.ProfilesView`
decides what they show.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app.settings import (
    SASL_MECHANISMS,
    SECURITY_PROTOCOLS,
    BrokerProfile,
    SecurityProtocol,
)
from openmsi_gui.app.status import StatusKind
from openmsi_gui.app.validation import DEFAULT_SASL_MECHANISM, uses_sasl
from openmsi_gui.ui.status_line import StatusLine, busy_indicator, line_edit
from openmsi_gui.ui.views.advanced import AdvancedSection


def button(text: str, accessible: str, tip: str) -> QPushButton:
    """A push button with its accessible name and tooltip."""
    made = QPushButton(text)
    made.setAccessibleName(accessible)
    made.setToolTip(tip)
    return made


class ProfileList(QListWidget):
    """The profiles by name; a profile not saved yet (the draft) is in italics."""

    def __init__(self) -> None:
        super().__init__()
        self.setAccessibleName("Broker profiles list")
        self.setMinimumWidth(200)
        self.setMaximumWidth(280)

    def current_id(self) -> str | None:
        """The id of the selected profile."""
        item = self.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def show_profiles(self, entries: list[BrokerProfile], draft: BrokerProfile | None) -> None:
        """List ``entries`` (``draft`` among them), keeping the selection; no signals."""
        current = self.current_id()
        self.blockSignals(True)
        try:
            self.clear()
            for profile in entries:
                item = QListWidgetItem(_item_text(profile, profile is draft))
                item.setData(Qt.ItemDataRole.UserRole, profile.id)
                item.setToolTip(profile.bootstrap_servers or "no servers yet")
                if profile is draft:
                    font = QFont(item.font())
                    font.setItalic(True)
                    item.setFont(font)
                self.addItem(item)
                if profile.id == current:
                    self.setCurrentItem(item)
        finally:
            self.blockSignals(False)

    def select_quietly(self, item: QListWidgetItem) -> None:
        """Select ``item`` without telling anyone."""
        self.blockSignals(True)
        self.setCurrentItem(item)
        self.blockSignals(False)

    def select_id(self, profile_id: str) -> None:
        """Select the profile ``profile_id`` without telling anyone."""
        for row in range(self.count()):
            item = self.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == profile_id:
                self.select_quietly(item)
                return


def _item_text(profile: BrokerProfile, draft: bool) -> str:
    if draft:
        return f"{profile.name} (not saved)"
    return f"{profile.name} (demo)" if profile.embedded else profile.name


class ProfileForm(QGroupBox):
    """The fields of one profile with a note above them, and its save row (:attr:`save_row`).

    Args:
        extra: a widget shown between the fields and the status line (encryption).
    """

    def __init__(self, extra: QWidget) -> None:
        super().__init__("Profile")
        outer = QVBoxLayout(self)
        self.note = StatusLine("Note", hide_empty=True)
        outer.addWidget(self.note)

        self.name_edit = line_edit("Profile name", "What you call this broker")
        self.servers_edit = line_edit("Bootstrap servers",
                                      "host:port, or several separated by commas",
                                      "kafka.example.org:9092")
        self.protocol_combo = QComboBox()
        self.protocol_combo.setAccessibleName("Security protocol")
        self.protocol_combo.setToolTip("How the connection is secured")
        for protocol in SECURITY_PROTOCOLS:
            self.protocol_combo.addItem(protocol, protocol)
        self.mechanism_combo = QComboBox()
        self.mechanism_combo.setAccessibleName("SASL mechanism")
        self.mechanism_combo.setToolTip(
            "How the user name and password are checked (SASL protocols only); "
            f"{DEFAULT_SASL_MECHANISM} unless your broker's administrator says otherwise")
        for mechanism in SASL_MECHANISMS:
            self.mechanism_combo.addItem(mechanism or "(none)", mechanism)
        self.username_edit = line_edit("SASL user name", "SASL protocols only")
        self.password_edit = line_edit(
            "SASL password", "Saved in the system keychain, never in the settings file")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.ca_edit = line_edit(
            "CA file", "PEM file of the certificate authority that signed the brokers' "
            "certificates (SSL protocols only)", "system default")
        self.browse_button = button("Bro&wse…", "Browse for CA file",
                                    "Choose the CA certificate file (*.pem, *.crt)")
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_edit, 1)
        ca_row.addWidget(self.browse_button)
        form = QFormLayout()
        form.addRow("Na&me:", self.name_edit)
        form.addRow("B&ootstrap servers:", self.servers_edit)
        form.addRow("Securit&y protocol:", self.protocol_combo)
        form.addRow("&User name:", self.username_edit)
        form.addRow("P&assword:", self.password_edit)
        ca_label = QLabel("&CA file:")
        ca_label.setBuddy(self.ca_edit)
        form.addRow(ca_label, ca_row)
        outer.addLayout(form)
        self.advanced = AdvancedSection()
        mechanism_label = QLabel("SASL mec&hanism:")
        mechanism_label.setBuddy(self.mechanism_combo)
        self.advanced.form.addRow(mechanism_label, self.mechanism_combo)
        outer.addWidget(self.advanced)
        self.protocol_combo.currentIndexChanged.connect(self.on_protocol_combo_changed)

        self.status = StatusLine("Profile status")
        self.revert_button = button("Re&vert", "Revert changes",
                                    "Forget the changes made since the last save")
        self.save_button = button("&Save", "Save profile",
                                  "Save the profile; the password goes to the keychain")
        outer.addWidget(extra)
        outer.addStretch(1)  # a tall window leaves room below, not inside the last group
        # Placed by the owner below the (scrolling) form, so that it stays in sight.
        self.save_row = QHBoxLayout()
        self.save_row.addWidget(self.status, 1)
        self.save_row.addWidget(self.revert_button, 0, Qt.AlignmentFlag.AlignBottom)
        self.save_row.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignBottom)

    def edits(self) -> tuple[QLineEdit, ...]:
        """The text fields (their changes make the form dirty)."""
        return (self.name_edit, self.servers_edit, self.username_edit, self.password_edit,
                self.ca_edit)

    def show_profile(self, shown: BrokerProfile) -> None:
        """Fill the fields from ``shown``; the password field is emptied."""
        self.name_edit.setText(shown.name)
        self.servers_edit.setText(shown.bootstrap_servers)
        _set_combo(self.protocol_combo, shown.security_protocol)
        _set_combo(self.mechanism_combo, shown.sasl_mechanism)
        self.username_edit.setText(shown.sasl_username)
        self.password_edit.clear()
        self.password_edit.setPlaceholderText("")
        self.ca_edit.setText(shown.ca_file)
        if (shown.sasl_mechanism not in ("", DEFAULT_SASL_MECHANISM)
                or (uses_sasl(shown.security_protocol) and not shown.sasl_mechanism)):
            self.advanced.set_expanded(True)  # never hide a choice that is not the usual one

    def on_protocol_combo_changed(self, _index: int) -> None:
        """A SASL protocol needs a mechanism: pick the usual one rather than ask."""
        if uses_sasl(self.protocol()) and not self.mechanism_combo.currentData():
            _set_combo(self.mechanism_combo, DEFAULT_SASL_MECHANISM)

    def values(self, base: BrokerProfile, crypto_node_id: str) -> BrokerProfile:
        """``base`` with the fields' values (not normalised)."""
        return dataclasses.replace(
            base, name=self.name_edit.text(), bootstrap_servers=self.servers_edit.text(),
            security_protocol=SecurityProtocol(self.protocol_combo.currentData()),
            sasl_mechanism=str(self.mechanism_combo.currentData()),
            sasl_username=self.username_edit.text(), ca_file=self.ca_edit.text(),
            crypto_node_id=crypto_node_id)

    def protocol(self) -> str:
        """The security protocol chosen."""
        return str(self.protocol_combo.currentData())

    def enable(self, editable: bool, sasl: bool, tls: bool) -> None:
        """Enable the fields that apply."""
        groups: tuple[tuple[tuple[QWidget, ...], bool], ...] = (
            ((self.name_edit, self.servers_edit, self.protocol_combo), editable),
            ((self.mechanism_combo, self.username_edit, self.password_edit), editable and sasl),
            ((self.ca_edit, self.browse_button), editable and tls))
        for widgets, enabled in groups:
            for widget in widgets:
                widget.setEnabled(enabled)

    def show_note(self, text: str) -> None:
        """The note above the fields ("" hides it)."""
        self.note.say(StatusKind.NOTE, text)

    def show_status(self, ok: bool | None, text: str) -> None:
        """The status line: text plus an icon, never colour alone ("" clears it)."""
        self.status.say(StatusKind.of(ok), text)


def _set_combo(combo: QComboBox, value: str) -> None:
    index = combo.findData(value)
    if index < 0:
        combo.addItem(value, value)
        index = combo.count() - 1
    combo.setCurrentIndex(index)


class ConnectionTestBox(QGroupBox):
    """A topic to check, the Test button, a busy bar and the result line."""

    def __init__(self) -> None:
        super().__init__("Connection test")
        outer = QVBoxLayout(self)
        form = QFormLayout()
        self.topic_edit = line_edit("Topic to check", "Optional: also check that this "
                                    "topic exists", "optional")
        form.addRow("Topic to chec&k:", self.topic_edit)
        outer.addLayout(form)
        self.test_button = button("Test co&nnection", "Test connection",
                                  "Connect with the settings in the form (unsaved changes "
                                  "included)")
        self.test_busy = busy_indicator("Testing the connection", 120)
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addWidget(self.test_busy)
        row.addStretch(1)
        outer.addLayout(row)
        self.result = StatusLine("Connection test result")
        self.result.say(None, "Not tested yet.")
        outer.addWidget(self.result)

    def set_testing(self, testing: bool) -> None:
        """Show the busy bar and say "Testing…" on the button while a test runs."""
        self.test_busy.setVisible(testing)
        self.test_button.setText("Testing…" if testing else "Test co&nnection")

    def show_result(self, ok: bool | None, text: str, busy: bool = False) -> None:
        """The result line: None without ``busy`` means "not tested"."""
        if busy:
            self.result.show_busy(text)
        else:
            self.result.show_result(ok, text)
