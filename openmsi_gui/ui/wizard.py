"""The first-run wizard (renders :mod:`openmsi_gui.app.wizard`).

Every decision (which page follows, what is missing, what gets saved) is made by
:class:`~openmsi_gui.app.wizard.SetupFlow`; the pages here only show it and feed it
what the user types. Blocking work never runs on the GUI thread: the connection
test goes through the controller, and keychain writes and folder creation go
through the wizard's own one-thread executor, shut down when the wizard closes.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from openmsi_gui.app import keychain
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import SASL_MECHANISMS, SettingsStore
from openmsi_gui.app.transfers import AppStatus
from openmsi_gui.app.wizard import (
    DEMO_INBOX,
    DEMO_OUTBOX,
    SECRET_NAMES,
    FlowError,
    JobKind,
    Mode,
    PathKind,
    SetupFlow,
    Step,
    path_kind,
)
from openmsi_gui.ui.icons import status_pixmap
from openmsi_gui.ui.tasks import CHECK_DELAY_MS, run_in_thread, when_done

T = TypeVar("T")

PROTOCOL_CHOICES = (
    ("PLAINTEXT", "PLAINTEXT: no encryption, no login"),
    ("SSL", "SSL: encrypted"),
    ("SASL_PLAINTEXT", "SASL_PLAINTEXT: login, no encryption"),
    ("SASL_SSL", "SASL_SSL: encrypted, with login"),
)
"""The security protocols, as value and what the user reads."""


def plain_error(error: BaseException) -> str:
    """An exception's message as a sentence (engine messages start in lower case)."""
    text = str(error).strip() or type(error).__name__
    return text[:1].upper() + text[1:]


def result_pixmap(ok: bool, size: int = 20) -> QPixmap:
    """A green disc with a tick for success, the red warning triangle for failure."""
    if not ok:
        return status_pixmap(AppStatus.ERROR, size)
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = float(size)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(QColor("#2e8b3e")))
    painter.drawEllipse(QRectF(s * 0.05, s * 0.05, s * 0.9, s * 0.9))
    painter.setPen(QPen(QColor("white"), s * 0.11, Qt.PenStyle.SolidLine,
                        Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    tick = QPainterPath(QPointF(s * 0.28, s * 0.52))
    tick.lineTo(QPointF(s * 0.44, s * 0.68))
    tick.lineTo(QPointF(s * 0.72, s * 0.34))
    painter.drawPath(tick)
    painter.end()
    return pixmap


def write_secrets(owner: str, secrets: Mapping[str, str]) -> None:
    """Store ``secrets`` for ``owner`` and delete the wizard's other names (blocking)."""
    for name in SECRET_NAMES:
        keychain.set_secret(owner, name, secrets.get(name, ""))


def _prepare(directories: list[str], owner: str, secrets: Mapping[str, str],
             touch_keychain: bool) -> None:
    """Create the folders and write the keychain before the settings are saved (blocking)."""
    for directory in directories:
        os.makedirs(directory, exist_ok=True)
    if touch_keychain:
        write_secrets(owner, secrets)


def _hint(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def _buddy(text: str, field: QWidget) -> QLabel:
    """A form label whose mnemonic focuses ``field`` (for rows made of several widgets)."""
    label = QLabel(text)
    label.setBuddy(field)
    return label


class _Status(QWidget):
    """An icon and a sentence (never colour alone), plus a busy bar while work runs."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.icon = QLabel()
        self.icon.setFixedSize(20, 20)
        self.icon.setAccessibleName(f"{name} icon")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setFixedWidth(80)
        self.busy.setAccessibleName(f"{name}: working")
        self.busy.hide()
        self.text = _hint()
        self.text.setAccessibleName(name)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.busy, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.text, 1)

    def show_busy(self, text: str) -> None:
        self.icon.clear()
        self.icon.hide()
        self.busy.show()
        self.text.setText(text)

    def show_result(self, ok: bool, text: str) -> None:
        self.busy.hide()
        self.icon.setPixmap(result_pixmap(ok, 20))
        self.icon.setAccessibleDescription("Success" if ok else "Failure")
        self.icon.show()
        self.text.setText(text)

    def clear(self) -> None:
        self.busy.hide()
        self.icon.clear()
        self.icon.hide()
        self.text.clear()


class _FlowPage(QWizardPage):
    """A page showing one step of the flow; Next asks the flow."""

    def __init__(self, owner: SetupWizard, step: Step) -> None:
        super().__init__()
        self.owner = owner
        self.flow = owner.flow
        self.step = step
        self.reason = _hint()
        self.reason.setAccessibleName("What is missing")

    def nextId(self) -> int:
        following = self.flow.next_of(self.step)
        return int(following) if following is not None else -1

    def isComplete(self) -> bool:
        if self.step is Step.DONE:
            return self.flow.can_finish()[0] and not self.owner.finishing
        return self.flow.step is self.step and self.flow.can_advance()[0]

    def validatePage(self) -> bool:
        if self.step is Step.DONE:
            return self.flow.can_finish()[0]
        try:
            self.flow.next_step()
        except FlowError as exc:
            self.reason.setText(str(exc))
            return False
        return True

    def cleanupPage(self) -> None:
        # Called when the user goes Back from this page, and for every visited page
        # (last first) when the wizard closes or restarts.
        if self.flow.step is self.step and self.flow.previous_of(self.step) is not None:
            self.flow.back()

    def refresh(self) -> None:
        """Show what the flow says is missing, and let the wizard re-check Next."""
        if self.flow.step is self.step:
            ok, reason = self.flow.can_advance()
            self.reason.setText("" if ok else reason)
            self.owner.check_paths_soon()
        self.completeChanged.emit()


class WelcomePage(_FlowPage):
    """Demo broker or a real one."""

    def __init__(self, owner: SetupWizard) -> None:
        super().__init__(owner, Step.WELCOME)
        self.setTitle("Welcome to OpenMSI")
        self.setSubTitle("OpenMSI sends the files your instrument writes to a Kafka broker, "
                         "and saves files from a broker into folders.")
        self.demo = QRadioButton("Try it with a &demo broker on this computer")
        self.demo.setAccessibleName("Try it with a demo broker on this computer")
        demo_note = _hint("Nothing to configure, and nothing leaves this computer. The demo "
                          "broker keeps what it holds in memory, so it is for trying, not for "
                          "real data.")
        self.real = QRadioButton("Connect to my lab's &Kafka broker")
        self.real.setAccessibleName("Connect to my lab's Kafka broker")
        real_note = _hint("You need its address (host:port) and, if it asks for one, a user "
                          "name and password from its administrator.")
        for note in (demo_note, real_note):
            note.setIndent(24)
        self.group = QButtonGroup(self)
        self.group.addButton(self.demo)
        self.group.addButton(self.real)
        self.demo.setAccessibleDescription(demo_note.text())
        self.real.setAccessibleDescription(real_note.text())
        later = _hint("Cancel if you prefer to set things up yourself; this wizard stays "
                      "available under File ▸ Setup wizard.")
        later.setAccessibleName("About cancelling")
        layout = QVBoxLayout(self)
        layout.addWidget(self.demo)
        layout.addWidget(demo_note)
        layout.addSpacing(8)
        layout.addWidget(self.real)
        layout.addWidget(real_note)
        layout.addStretch(1)
        layout.addWidget(later)
        (self.demo if self.flow.mode is Mode.DEMO else self.real).setChecked(True)
        self.demo.toggled.connect(self.on_mode_toggled)

    def on_mode_toggled(self, _checked: bool = False) -> None:
        self.flow.choose_mode(Mode.DEMO if self.demo.isChecked() else Mode.REAL)
        self.refresh()


class BrokerPage(_FlowPage):
    """Address, security, credentials and the connection test."""

    def __init__(self, owner: SetupWizard) -> None:
        super().__init__(owner, Step.BROKER)
        self.setTitle("Your Kafka broker")
        self.setSubTitle("Enter what your broker's administrator gave you, then test the "
                         "connection.")
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
        self.status = _Status("Connection test result")

        self.form = QFormLayout()
        self.form.addRow("Broker &address:", self.address)
        self.form.addRow("&Display name:", self.name)
        self.form.addRow("&Security:", self.protocol)
        self.form.addRow("SASL &mechanism:", self.mechanism)
        self.form.addRow("&User name:", self.username)
        self.form.addRow("&Password:", self.password)
        self.form.addRow(_buddy("&CA file:", self.ca_file), ca_row)
        self._ca_row = ca_row
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop)
        test_row.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addSpacing(6)
        layout.addLayout(test_row)
        layout.addStretch(1)
        layout.addWidget(self.reason)

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
        self._testing = False
        self._show_rows()

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

        def test(_: object = None) -> None:
            when_done(self.owner.controller.test_connection(profile),
                      lambda message: self._on_tested(token, True, message),
                      lambda error: self._on_tested(token, False, plain_error(error)),
                      context=self)

        if self.flow.broker.uses_sasl:
            # The controller reads the password from the keychain, so it goes there first.
            self.owner.keychain_touched = True
            when_done(self.owner.run_in_background(write_secrets, self.flow.secret_owner,
                                                   self.flow.secrets()),
                      test, lambda error: self._on_tested(token, False, plain_error(error),
                                                          connecting=False),
                      context=self)
        else:
            test()

    def _on_tested(self, token: int, ok: bool, message: str, connecting: bool = True) -> None:
        self._testing = False
        if self.flow.record_connection(token, ok, message):
            text = message if ok or not connecting else f"Could not connect. {message}"
            self.status.show_result(ok, text)
        else:
            self.status.clear()  # the form changed meanwhile; that result is stale
        self.refresh()


class _PathRow(QWidget):
    """A path field with a Browse button that opens a folder picker."""

    def __init__(self, name: str, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = caption
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit()
        self.edit.setAccessibleName(name)
        self.browse = QPushButton("Br&owse…")
        self.browse.setAccessibleName(f"Choose: {name}")
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.browse)
        self.browse.clicked.connect(self.on_browse_clicked)

    def on_browse_clicked(self) -> None:
        start = self.edit.text().strip() or os.path.expanduser("~")
        path = QFileDialog.getExistingDirectory(self, self.caption, start)
        if path:
            self.edit.setText(os.path.normpath(path))


class FirstJobPage(_FlowPage):
    """A first watched folder, destination, the demo pair, or nothing yet."""

    def __init__(self, owner: SetupWizard) -> None:
        super().__init__(owner, Step.FIRST_JOB)
        self.setTitle("Your first folder")
        job = self.flow.job
        self.kind_buttons: dict[JobKind, QRadioButton] = {
            JobKind.PAIR: QRadioButton("Try the &demo: a folder that sends files to another"),
            JobKind.FOLDER: QRadioButton("&Send the files that appear in a folder"),
            JobKind.DESTINATION: QRadioButton("&Receive files from a topic into a folder"),
            JobKind.SKIP: QRadioButton("S&kip: add folders later"),
        }
        self.kinds = QButtonGroup(self)
        self.stack = QStackedWidget()
        self.stack.setAccessibleName("Details")
        self._stack_index: dict[JobKind, int] = {}
        layout = QVBoxLayout(self)
        for kind, button in self.kind_buttons.items():
            button.setAccessibleName(button.text().replace("&", ""))
            self.kinds.addButton(button)
            layout.addWidget(button)
            button.toggled.connect(lambda checked, k=kind: self._choose(k) if checked else None)

        # The demo pair.
        self.demo_folder = _PathRow("Demo folder", "Choose where the demo folders go")
        self.demo_folder.edit.setText(job.demo_folder)
        self.demo_note = _hint()
        self.demo_note.setAccessibleName("About the demo folders")
        pair = QWidget()
        pair_form = QFormLayout(pair)
        pair_form.addRow(_buddy("&Location:", self.demo_folder.edit), self.demo_folder)
        pair_form.addRow(self.demo_note)

        # A watched folder.
        self.folder = _PathRow("Folder to watch", "Choose the folder to watch")
        self.folder.edit.setText(job.folder_path)
        self.folder_topic = self._topic_box(job.folder_topic)
        self.upload_existing = QCheckBox("Also send the files &already in it")
        self.upload_existing.setAccessibleName("Also send the files already in it")
        self.upload_existing.setChecked(job.upload_existing)
        watch = QWidget()
        watch_form = QFormLayout(watch)
        watch_form.addRow(_buddy("&Watch folder:", self.folder.edit), self.folder)
        watch_form.addRow("To&pic:", self.folder_topic)
        watch_form.addRow("", self.upload_existing)

        # A destination.
        self.dest = _PathRow("Folder to save files in", "Choose where received files go")
        self.dest.edit.setText(job.dest_path)
        self.dest_topic = self._topic_box(job.dest_topic)
        self.group = QLineEdit(job.group_id)
        self.group.setPlaceholderText("(a new group)")
        self.group.setAccessibleName("Consumer group")
        self.group.setToolTip("Computers that share a consumer group share the files: each "
                              "file arrives at only one of them.")
        dest = QWidget()
        dest_form = QFormLayout(dest)
        dest_form.addRow(_buddy("Sa&ve into:", self.dest.edit), self.dest)
        dest_form.addRow("To&pic:", self.dest_topic)
        dest_form.addRow("Consumer &group:", self.group)

        skip = _hint("Nothing is sent or received until you add a watched folder or a "
                     "destination in the main window.")
        skip.setAccessibleName("About skipping")
        skip.setAlignment(Qt.AlignmentFlag.AlignTop)
        for kind, widget in ((JobKind.PAIR, pair), (JobKind.FOLDER, watch),
                             (JobKind.DESTINATION, dest), (JobKind.SKIP, skip)):
            for form in widget.findChildren(QFormLayout):
                form.setContentsMargins(0, 0, 0, 0)
            self._stack_index[kind] = self.stack.addWidget(widget)
        layout.addSpacing(6)
        layout.addWidget(self.stack)
        layout.addStretch(1)
        self.warning = _Status("Warning")
        layout.addWidget(self.warning)
        layout.addWidget(self.reason)

        self.demo_folder.edit.textChanged.connect(self.on_demo_folder_changed)
        self.folder.edit.textChanged.connect(lambda text: self._edit(folder_path=text))
        self.folder_topic.editTextChanged.connect(lambda text: self._edit(folder_topic=text))
        self.upload_existing.toggled.connect(lambda on: self._edit(upload_existing=on))
        self.dest.edit.textChanged.connect(lambda text: self._edit(dest_path=text))
        self.dest_topic.editTextChanged.connect(lambda text: self._edit(dest_topic=text))
        self.group.textChanged.connect(lambda text: self._edit(group_id=text))
        self.on_demo_folder_changed(job.demo_folder)

    @staticmethod
    def _topic_box(text: str) -> QComboBox:
        box = QComboBox()
        box.setEditable(True)
        box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        box.setAccessibleName("Topic")
        box.setEditText(text)
        box.setMinimumContentsLength(24)
        return box

    def initializePage(self) -> None:
        demo = self.flow.mode is Mode.DEMO
        self.setSubTitle("Choose what this computer does first. You can add more later."
                         if demo else "Choose what this computer does with the broker first. "
                         "You can add more later.")
        self.kind_buttons[JobKind.PAIR].setVisible(demo)
        # The flow may have changed topics and kind with the mode.
        job = self.flow.job
        for box, text in ((self.folder_topic, job.folder_topic), (self.dest_topic, job.dest_topic)):
            if box.currentText() != text:
                box.setEditText(text)
        self.kind_buttons[job.kind].setChecked(True)
        self.stack.setCurrentIndex(self._stack_index[job.kind])
        if not demo:
            self._list_topics()
        self.owner.check_paths_now()
        self.refresh()

    def _choose(self, kind: JobKind) -> None:
        if kind is not self.flow.job.kind:
            self.flow.update_job(kind=kind)
        self.stack.setCurrentIndex(self._stack_index[kind])
        self.refresh()

    def _edit(self, **changes: str | bool) -> None:
        self.flow.update_job(**changes)
        self.refresh()

    def on_demo_folder_changed(self, text: str) -> None:
        if text != self.flow.job.demo_folder:
            self.flow.update_job(demo_folder=text)
        base = os.path.expanduser(text.strip())
        self.demo_note.setText(
            f"OpenMSI creates “{DEMO_OUTBOX}” and “{DEMO_INBOX}” there. Files you put in "
            f"{os.path.join(base, DEMO_OUTBOX)} are sent through the demo broker and arrive "
            f"in {os.path.join(base, DEMO_INBOX)}.")
        self.refresh()

    def _list_topics(self) -> None:
        profile = self.flow.profile()

        def listed(topics: list[str]) -> None:
            # Only if the broker is still the one that was asked.
            if self.flow.mode is Mode.REAL and self.flow.profile() == profile:
                self.flow.set_known_topics(topics)
                for box in (self.folder_topic, self.dest_topic):
                    text = box.currentText()
                    box.blockSignals(True)
                    box.clear()
                    box.addItems(topics)
                    box.setEditText(text)
                    box.blockSignals(False)
                self.refresh()

        # On failure the topic names stay unknown; the connection test already spoke.
        when_done(self.owner.controller.list_topics(profile), listed, lambda _error: None,
                  context=self)

    def refresh(self) -> None:
        super().refresh()
        warnings = self.flow.warnings() if self.flow.step is self.step else []
        if warnings:
            self.warning.show_result(False, " ".join(warnings))
        else:
            self.warning.clear()


class DonePage(_FlowPage):
    """What will be set up; Finish saves it."""

    def __init__(self, owner: SetupWizard) -> None:
        super().__init__(owner, Step.DONE)
        self.setTitle("Ready")
        self.setSubTitle("Check what will be set up, then press Finish.")
        self.summary = _hint()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setAccessibleName("Summary")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = _Status("Saving")
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addStretch(1)
        layout.addWidget(self.status)
        layout.addWidget(self.reason)

    def initializePage(self) -> None:
        items = "".join(f"<li style='margin-bottom: 8px'>{html.escape(line)}</li>"
                        for line in self.flow.summary())
        self.summary.setText(f"<ul style='-qt-list-indent: 1'>{items}</ul>")
        self.status.clear()
        ok, reason = self.flow.can_finish()
        self.reason.setText("" if ok else reason)
        self.completeChanged.emit()

    def refresh(self) -> None:
        self.completeChanged.emit()


class SetupWizard(QWizard):
    """Try the demo broker or enter a real one, then add a first folder or destination.

    Finishing writes the password to the keychain (off the GUI thread) and then
    saves the settings; the controller starts the new jobs. Cancelling marks the
    first run as done so the wizard does not come back on every start.

    Args:
        store: the settings to extend.
        controller: runs the connection test and lists topics.
        parent: the main window.

    Attributes:
        flow: the state machine this wizard renders.
        finishing: Finish was pressed and the keychain/folders are being written.
        keychain_touched: a password went to the keychain for a connection test.
    """

    def __init__(self, store: SettingsStore, controller: AppController,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.controller = controller
        # look=None: the flow never touches the disk; check_paths_now() does, off-thread.
        self.flow = SetupFlow(existing=store.settings, look=None)
        self.finishing = False
        self.keychain_touched = False
        self._executor: ThreadPoolExecutor | None = None
        self._checking: set[str] = set()
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(CHECK_DELAY_MS)
        self._check_timer.timeout.connect(self._check_paths)
        self.setWindowTitle("Set up OpenMSI")
        self.setAccessibleName("Set up OpenMSI")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setMinimumSize(660, 520)
        self.welcome = WelcomePage(self)
        self.broker = BrokerPage(self)
        self.first_job = FirstJobPage(self)
        self.done_page = DonePage(self)
        self.pages: dict[Step, _FlowPage] = {}
        for page in (self.welcome, self.broker, self.first_job, self.done_page):
            page.setAccessibleName(f"Setup step: {page.title()}")
            self.setPage(int(page.step), page)
            self.pages[page.step] = page
        self.setStartId(int(Step.WELCOME))
        for which, name in ((QWizard.WizardButton.BackButton, "Back"),
                            (QWizard.WizardButton.NextButton, "Next"),
                            (QWizard.WizardButton.FinishButton, "Finish"),
                            (QWizard.WizardButton.CancelButton, "Cancel"),
                            (QWizard.WizardButton.CommitButton, "Commit")):
            self.button(which).setAccessibleName(name)

    # -- background work ------------------------------------------------------------

    def run_in_background(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run blocking ``fn(*args)`` on the wizard's own thread (keychain, folders)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="openmsi-wizard")
        return self._executor.submit(fn, *args)

    def check_paths_soon(self) -> None:
        """Look at the paths the flow needs once typing pauses."""
        self._check_timer.start()

    def check_paths_now(self) -> None:
        """Look again at every path the flow needs (a page is shown: the disk may have changed)."""
        self.flow.forget_paths()
        self._check_timer.stop()
        self._check_paths()

    def _check_paths(self) -> None:
        for path in self.flow.paths_to_check():
            if path in self._checking:
                continue
            self._checking.add(path)

            def checked(kind: PathKind, path: str = path) -> None:
                self._checking.discard(path)
                self.flow.record_path(path, kind)
                self._refresh_current_page()

            def failed(_error: BaseException, path: str = path) -> None:
                checked(PathKind.NOTHING, path)

            when_done(run_in_thread(path_kind, path), checked, failed, context=self)

    def _refresh_current_page(self) -> None:
        """Re-validate the page on show (after a path check came back)."""
        page = self.pages.get(self.flow.step)
        if page is not None:
            page.refresh()

    def _stop_executor(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)  # queued writes still run, then the thread ends

    # -- finishing and cancelling -----------------------------------------------------

    def accept(self) -> None:
        if self.finishing:
            return
        try:
            _settings, secrets = self.flow.result(self.store.settings)
        except FlowError as exc:
            self.done_page.status.show_result(False, str(exc))
            return
        self.finishing = True
        self._set_buttons_enabled(False)
        self.done_page.status.show_busy("Saving…")
        touch_keychain = self.flow.mode is Mode.REAL or self.keychain_touched
        future = self.run_in_background(_prepare, self.flow.directories_to_create(),
                                        self.flow.secret_owner, secrets, touch_keychain)
        when_done(future, self._on_prepared, self._on_prepare_failed, context=self)

    def _on_prepared(self, _: None) -> None:
        # Built from the settings as they are now, in case they changed meanwhile.
        settings, _secrets = self.flow.result(self.store.settings)
        self.store.update(settings)
        self.finishing = False
        self._stop_executor()
        super().accept()

    def _on_prepare_failed(self, error: BaseException) -> None:
        self.finishing = False
        self._set_buttons_enabled(True)
        self.done_page.status.show_result(False, f"Nothing was saved. {plain_error(error)}")
        self.done_page.completeChanged.emit()

    def _set_buttons_enabled(self, enabled: bool) -> None:
        for which in (QWizard.WizardButton.BackButton, QWizard.WizardButton.FinishButton,
                      QWizard.WizardButton.CancelButton):
            self.button(which).setEnabled(enabled)

    def reject(self) -> None:
        if self.finishing:
            return
        settings = self.store.settings
        if not settings.ui.first_run_done:
            self.store.update(SetupFlow.dismissed(settings))
        if self.keychain_touched:
            # Forget the password typed for a test: the profile was never saved.
            self.run_in_background(write_secrets, self.flow.secret_owner, {})
            self.keychain_touched = False
        self._stop_executor()
        super().reject()
