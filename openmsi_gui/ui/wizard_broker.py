"""The wizard's broker page: address, security, credentials and the connection test."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app.settings import SASL_MECHANISMS, BrokerProfile
from openmsi_gui.app.text import error_sentence
from openmsi_gui.app.validation import DEFAULT_SASL_MECHANISM
from openmsi_gui.app.wizard_forms import FlowError, Step, write_secrets
from openmsi_gui.ui.status_line import buddy_label
from openmsi_gui.ui.tasks import Purpose, asyncSlot
from openmsi_gui.ui.wizard_parts import FlowPage, step_status

if TYPE_CHECKING:
    from openmsi_gui.ui.wizard import SetupWizard

PROTOCOL_CHOICES = (
    ("PLAINTEXT", "PLAINTEXT: no encryption, no login"),
    ("SSL", "SSL: encrypted"),
    ("SASL_PLAINTEXT", "SASL_PLAINTEXT: login, no encryption"),
    ("SASL_SSL", "SASL_SSL: encrypted, with login"),
)
"""The security protocols, as value and what the user reads."""


class BrokerPage(FlowPage):
    """Address, security, credentials and the connection test."""

    def __init__(self, owner: SetupWizard) -> None:
        super().__init__(owner, Step.BROKER, "Your Kafka broker",
                         "Enter what your broker's administrator gave you, then test the "
                         "connection.")
        self._build_fields()
        self._lay_out()
        self._connect_fields()
        self._testing = False
        self._show_rows()

    def _build_fields(self) -> None:
        form = self.flow.broker
        self.address = QLineEdit(form.bootstrap_servers)
        self.name = QLineEdit(form.name)
        self.name.setPlaceholderText("e.g. Lab Kafka (optional)")
        self.name.setAccessibleName("Display name")
        self.address.setPlaceholderText("kafka.example.org:9092")
        self.address.setAccessibleName("Broker address")
        self.address.setAccessibleDescription("host:port; several brokers separated by commas")
        self.address.setToolTip("bootstrap.servers: host:port, several separated by commas")
        self.protocol = QComboBox()
        self.protocol.setAccessibleName("Security protocol")
        for value, text in PROTOCOL_CHOICES:
            self.protocol.addItem(text, value)
        self.protocol.setCurrentIndex(max(0, self.protocol.findData(form.security_protocol)))
        self.mechanism = QComboBox()
        self.mechanism.setAccessibleName("SASL mechanism")
        for value in SASL_MECHANISMS:
            self.mechanism.addItem(value or "(choose one)", value)
        self.mechanism.setCurrentIndex(max(0, self.mechanism.findData(form.sasl_mechanism)))
        self.username = QLineEdit(form.sasl_username)
        self.username.setAccessibleName("User name")
        self.password = QLineEdit(form.password)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Password")
        self.password.setAccessibleDescription("Kept in the system keychain, never in the "
                                               "settings file")
        self.ca_file = QLineEdit(form.ca_file)
        self.ca_file.setPlaceholderText("(the system's certificate authorities)")
        self.ca_file.setAccessibleName("CA file")
        self.ca_browse = QPushButton("Br&owse…")
        self.ca_browse.setAccessibleName("Choose the CA file")
        ca_row = QWidget()
        ca_layout = QHBoxLayout(ca_row)
        ca_layout.setContentsMargins(0, 0, 0, 0)
        ca_layout.addWidget(self.ca_file, 1)
        ca_layout.addWidget(self.ca_browse)
        self.test_button = QPushButton("&Test connection")
        self.test_button.setAccessibleName("Test connection")
        self.status = step_status("Connection test result")
        self._ca_row = ca_row

    def _lay_out(self) -> None:
        self.form = QFormLayout()
        self.form.addRow("Broker &address:", self.address)
        self.form.addRow("&Display name:", self.name)
        self.form.addRow("&Security:", self.protocol)
        self.form.addRow("SASL &mechanism:", self.mechanism)
        self.form.addRow("&User name:", self.username)
        self.form.addRow("&Password:", self.password)
        self.form.addRow(buddy_label("&CA file:", self.ca_file), self._ca_row)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop)
        test_row.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addSpacing(6)
        layout.addLayout(test_row)
        layout.addStretch(1)
        layout.addWidget(self.reason)

    def _connect_fields(self) -> None:
        self.name.textChanged.connect(lambda text: self._edit(name=text))
        self.address.textChanged.connect(lambda text: self._edit(bootstrap_servers=text))
        self.protocol.currentIndexChanged.connect(self.on_protocol_changed)
        self.mechanism.currentIndexChanged.connect(
            lambda _i: self._edit(sasl_mechanism=str(self.mechanism.currentData())))
        self.username.textChanged.connect(lambda text: self._edit(sasl_username=text))
        self.password.textChanged.connect(lambda text: self._edit(password=text))
        self.ca_file.textChanged.connect(lambda text: self._edit(ca_file=text))
        self.ca_browse.clicked.connect(self.on_ca_browse_clicked)
        self.test_button.clicked.connect(self.on_test_clicked)
        self.address.returnPressed.connect(self.on_address_return_pressed)

    def initializePage(self) -> None:
        self.owner.check_paths_now()
        self.refresh()

    def _edit(self, **changes: str) -> None:
        before = self.flow.connection_message
        self.flow.update_broker(**changes)
        if before and not self.flow.connection_message and not self._testing:
            self.status.clear()
        self.refresh()

    def _show_rows(self) -> None:
        form = self.flow.broker
        for widget in (self.mechanism, self.username, self.password):
            self.form.setRowVisible(widget, form.uses_sasl)
        self.form.setRowVisible(self._ca_row, form.uses_tls)

    def refresh(self) -> None:
        super().refresh()
        self.test_button.setEnabled(not self._testing and not self.flow.errors(Step.BROKER))

    def on_protocol_changed(self, _index: int = 0) -> None:
        self._edit(security_protocol=str(self.protocol.currentData()))
        if self.flow.broker.uses_sasl and not self.mechanism.currentData():
            # The usual one, rather than a required choice in words few know.
            self.mechanism.setCurrentIndex(self.mechanism.findData(DEFAULT_SASL_MECHANISM))
        self._show_rows()

    def on_ca_browse_clicked(self) -> None:
        start = os.path.dirname(self.ca_file.text()) or os.path.expanduser("~")
        path, _filter = QFileDialog.getOpenFileName(
            self, "Choose the broker's CA certificate", start,
            "Certificates (*.pem *.crt *.cer);;All files (*)")
        if path:
            self.ca_file.setText(path)

    def on_address_return_pressed(self) -> None:
        # Enter tests an untested address; once it passed, Enter means Next (the default).
        if not self.flow.connection_ok and self.test_button.isEnabled():
            self.on_test_clicked()

    def on_test_clicked(self) -> None:
        if self._testing:
            return
        try:
            token = self.flow.begin_connection_test()
        except FlowError as exc:
            self.status.show_result(False, str(exc))
            self.refresh()
            return
        profile = self.flow.profile()
        self._testing = True
        self.status.show_busy(f"Connecting to {profile.bootstrap_servers}…")
        self.refresh()
        secrets: dict[str, str] | None = None
        if self.flow.broker.uses_sasl:
            # The controller reads the password from the keychain, so it goes there first.
            self.owner.keychain_touched = True
            secrets = self.flow.secrets()
        self._test(token, profile, self.flow.secret_owner, secrets)

    @asyncSlot()
    async def _test(self, token: int, profile: BrokerProfile, owner: str,
                    secrets: dict[str, str] | None) -> None:
        tasks = self.owner.tasks
        if secrets is not None:
            try:
                await tasks.run(Purpose.IO, write_secrets, owner, secrets, context=self)
            except Exception as exc:
                self._on_tested(token, False, error_sentence(exc), connecting=False)
                return
        try:
            message = await tasks.wait(self.owner.controller.test_connection(profile),
                                       context=self)
        except Exception as exc:
            self._on_tested(token, False, error_sentence(exc))
            return
        self._on_tested(token, True, message)

    def _on_tested(self, token: int, ok: bool, message: str, connecting: bool = True) -> None:
        self._testing = False
        if self.flow.record_connection(token, ok, message):
            text = message if ok or not connecting else f"Could not connect. {message}"
            self.status.show_result(ok, text)
        else:
            self.status.clear()  # the form changed meanwhile; that result is stale
        self.refresh()
