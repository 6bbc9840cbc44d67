"""The "Provision a node" dialog: create a KafkaCrypto encryption node by point and click.

It renders :class:`~openmsi_gui.app.provisioning.ProvisionForm`: the checks, the
default node name and the provisioning itself live in
:mod:`openmsi_gui.app.provisioning`. Provisioning and the creation of the
key-exchange topics run on the application's network executor; the passwords are
read from their fields once, the fields are cleared at once, and the passwords
are never logged or stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app import provisioning
from openmsi_gui.app.provisioning import (
    ROLES,
    ConfigFactory,
    ProvisionForm,
    ProvisionResult,
)
from openmsi_gui.engine.provision import MIN_PROVISIONING_PASSWORD, MIN_ROT_PASSWORD
from openmsi_gui.ui.status_icons import FieldError
from openmsi_gui.ui.status_line import StatusLine, buddy_label, line_edit, with_error
from openmsi_gui.ui.tasks import ProgressRelay, Purpose, Tasks, asyncSlot

log = logging.getLogger(__name__)

INTRO = ("An encryption node holds this computer's keys for end-to-end encryption "
         "(KafkaCrypto). Files are encrypted before they leave the sender and decrypted "
         "only by receivers whose node was provisioned with the same two passwords.")
PASSWORDS_NOTE = "Your administrator gives you these two passwords; they are never stored."
ALL_TOPICS_HINT = "empty = every topic"
NO_BROKER_TIP = "Fill in the broker settings of the profile first."



class ProvisionDialog(QDialog):
    """Provision a KafkaCrypto node for this computer.

    Args:
        parent: the parent widget.
        tasks: the application's background work.
        topics: topics to fill in (the profile's), or none for every topic.
        role: the role to preselect (``producer``, ``consumer`` or ``both``).
        taken: ids of the nodes that already exist (never replaced here).
        config: builds the broker settings for creating the key-exchange topics
            (called in the background); None disables that checkbox.
        broker_name: the broker's name, for the checkbox's tooltip.
        dest_dir: where the node goes (default: the app's node folder).

    Signals:
        provisioned(str): a node (by id) was provisioned.
        workFinished(bool, str): provisioning ended (node made, sentences shown).
    """

    provisioned = Signal(str)
    workFinished = Signal(bool, str)

    def __init__(self, parent: QWidget | None = None, *, tasks: Tasks, topics: Iterable[str] = (),
                 role: str = "producer", taken: Iterable[str] = (),
                 config: ConfigFactory | None = None, broker_name: str = "",
                 dest_dir: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Provision an encryption node")
        self.setAccessibleName("Provision an encryption node")
        self._taken = list(taken)
        self._config = config
        self._broker_name = broker_name
        self._dest_dir = dest_dir
        self.tasks = tasks
        self._busy = False
        self._done: ProvisionResult | None = None
        self._node_edited = False
        self._progress = ProgressRelay(self)
        self._progress.text.connect(self.on_worker_progress)
        self._labels: list[QLabel] = []
        self._build(list(topics), role if role in ROLES else "producer")
        self._on_topics_changed()

    # -- building ----------------------------------------------------------------

    def _build(self, topics: list[str], role: str) -> None:
        layout = QVBoxLayout(self)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(self._build_node(topics, role))
        layout.addWidget(self._build_passwords())
        self.key_topics_check = QCheckBox()
        self.key_topics_check.setAccessibleName("Create the key-exchange topics")
        self.key_topics_check.setChecked(self._config is not None)
        self.key_topics_check.toggled.connect(self._on_topics_changed)
        layout.addWidget(self.key_topics_check)
        self.result_line = StatusLine("Provisioning result", busy_bar=True, hide_empty=True)
        layout.addWidget(self.result_line)
        layout.addStretch(1)
        layout.addLayout(self._build_buttons())
        width = max(label.sizeHint().width() for label in self._labels)
        for label in self._labels:  # the two groups' fields line up
            label.setMinimumWidth(width)
        self.role_combo.currentIndexChanged.connect(self.on_role_changed)
        self.node_edit.textEdited.connect(self.on_node_edited)
        self.topics_edit.textChanged.connect(self._on_topics_changed)
        self.setMinimumWidth(520)

    def _build_node(self, topics: list[str], role: str) -> QGroupBox:
        node = QGroupBox("Node")
        form = QFormLayout(node)
        self.role_combo = QComboBox()
        self.role_combo.setAccessibleName("Role")
        self.role_combo.setToolTip("Senders encrypt and hand out keys; receivers ask for keys "
                                   "and decrypt")
        for value, text in ROLES.items():
            self.role_combo.addItem(f"{text} ({value})", value)
        self.role_combo.setCurrentIndex(self.role_combo.findData(role))
        self.node_edit = line_edit("Node name", "The node's folder and its name in "
                                    "[kafkacrypto] node_id")
        self.node_edit.setText(provisioning.default_node_id(role, self._taken))
        self.node_error = FieldError("Node name problem")
        self.role_error = FieldError("Role problem")
        self.topics_edit = line_edit(
            "Topics", "The topics this node may encrypt or decrypt, separated by commas or "
            "spaces; only the part before the first '.' counts", ALL_TOPICS_HINT)
        self.topics_edit.setText(", ".join(topics))
        self.topics_error = FieldError("Topics problem")
        self._add_row(form, "&Role:", self.role_combo, self.role_error)
        self._add_row(form, "Node &name:", self.node_edit, self.node_error)
        self._add_row(form, "&Topics:", self.topics_edit, self.topics_error)
        return node

    def _build_passwords(self) -> QGroupBox:
        secrets = QGroupBox("Passwords")
        outer = QVBoxLayout(secrets)
        note = QLabel(PASSWORDS_NOTE)
        note.setWordWrap(True)
        note.setAccessibleName("About the passwords")
        outer.addWidget(note)
        form = QFormLayout()
        self.rot_edit = self._password("Root-of-trust password",
                                       f"{MIN_ROT_PASSWORD} characters or more; the same for "
                                       "every node of your deployment")
        self.rot_error = FieldError("Root-of-trust password problem")
        self.repeat_edit = self._password("Repeat the root-of-trust password",
                                          "The same password again, to catch typing mistakes")
        self.repeat_error = FieldError("Repeated password problem")
        self.prov_edit = self._password("Provisioning password",
                                        f"{MIN_PROVISIONING_PASSWORD} characters or more")
        self.prov_error = FieldError("Provisioning password problem")
        self._add_row(form, "R&oot-of-trust password:", self.rot_edit, self.rot_error)
        self._add_row(form, "Rep&eat it:", self.repeat_edit, self.repeat_error)
        self._add_row(form, "&Provisioning password:", self.prov_edit, self.prov_error)
        outer.addLayout(form)
        return secrets

    def _build_buttons(self) -> QHBoxLayout:
        self.provision_button = QPushButton("Pro&vision")
        self.provision_button.setAccessibleName("Provision the node")
        self.provision_button.setToolTip("Make the node's keys on this computer")
        self.provision_button.setDefault(True)
        self.provision_button.clicked.connect(self.on_provision_clicked)
        self.close_button = QPushButton("Cancel")
        self.close_button.setAccessibleName("Close")
        self.close_button.clicked.connect(self.on_close_clicked)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.provision_button)
        buttons.addWidget(self.close_button)
        return buttons

    @staticmethod
    def _password(accessible: str, tip: str) -> QLineEdit:
        edit = line_edit(accessible, tip)
        edit.setEchoMode(QLineEdit.EchoMode.Password)
        return edit

    def _add_row(self, form: QFormLayout, text: str, field: QWidget, error: FieldError) -> None:
        """A labelled field with its inline problem under it."""
        label = buddy_label(text, field)
        form.addRow(label, with_error(field, error))
        self._labels.append(label)

    # -- the form ---------------------------------------------------------------

    def form(self) -> ProvisionForm:
        """What the fields say (passwords included: clear the result after use)."""
        return ProvisionForm(
            node_id=self.node_edit.text().strip(), role=str(self.role_combo.currentData()),
            topics_text=self.topics_edit.text(), rot_password=self.rot_edit.text(),
            rot_repeat=self.repeat_edit.text(), provisioning_password=self.prov_edit.text(),
            create_key_topics=self.key_topics_check.isEnabled()
            and self.key_topics_check.isChecked())

    def _errors_widgets(self) -> dict[str, tuple[FieldError, QWidget]]:
        return {"node_id": (self.node_error, self.node_edit),
                "role": (self.role_error, self.role_combo),
                "topics": (self.topics_error, self.topics_edit),
                "rot_password": (self.rot_error, self.rot_edit),
                "rot_repeat": (self.repeat_error, self.repeat_edit),
                "provisioning_password": (self.prov_error, self.prov_edit)}

    def _show_errors(self, errors: dict[str, str]) -> None:
        first: QWidget | None = None
        for name, (error, field) in self._errors_widgets().items():
            error.show_error(errors.get(name, ""))
            if name in errors and first is None:
                first = field
        if first is not None:
            first.setFocus()

    def on_role_changed(self) -> None:
        if not self._node_edited:
            self.node_edit.setText(provisioning.default_node_id(
                str(self.role_combo.currentData()), self._taken))

    def on_node_edited(self) -> None:
        self._node_edited = True

    def _on_topics_changed(self) -> None:
        topics = provisioning.parse_topics(self.topics_edit.text())
        self.key_topics_check.setText(provisioning.key_topics_label(topics))
        if self._config is None:
            self.key_topics_check.setEnabled(False)
            self.key_topics_check.setToolTip(NO_BROKER_TIP)
        elif not topics:
            self.key_topics_check.setEnabled(False)
            self.key_topics_check.setToolTip("Enter the topics first: key-exchange topics are "
                                             "made for each topic")
        else:
            self.key_topics_check.setEnabled(not self._busy and self._done is None)
            where = f" on {self._broker_name}" if self._broker_name else ""
            self.key_topics_check.setToolTip(f"Create them{where} with 1 partition each if "
                                             "they do not exist (needs the right to create "
                                             "topics)")

    # -- running ----------------------------------------------------------------

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for widget in (self.role_combo, self.node_edit, self.topics_edit, self.rot_edit,
                       self.repeat_edit, self.prov_edit):
            widget.setEnabled(not busy and self._done is None)
        self.provision_button.setEnabled(not busy and self._done is None)
        self._on_topics_changed()

    def on_provision_clicked(self) -> None:
        if self._busy or self._done is not None:
            return
        form = self.form()
        errors = form.errors(self._taken)
        self._show_errors(errors)
        if errors:
            form.clear_secrets()
            self.result_line.show_problem("Fix the fields marked above.")
            return
        for edit in (self.rot_edit, self.repeat_edit, self.prov_edit):
            edit.clear()
        config = self._config if form.create_key_topics else None
        self._set_busy(True)
        self.result_line.show_busy("Making the node's keys…")
        self._provision(form, config, self._progress.report)

    @asyncSlot()
    async def _provision(self, form: ProvisionForm, config: ConfigFactory | None,
                         progress: Callable[[str], None]) -> None:
        try:
            result = await self.tasks.run(Purpose.NET, provisioning.provision, form,
                                          self._dest_dir, config, progress, context=self)
        except Exception as exc:
            log.error("provisioning failed unexpectedly: %s", type(exc).__name__, exc_info=exc)
            result = ProvisionResult(False, form.node_id, sentences=[
                f"Not provisioned: an unexpected {type(exc).__name__} happened; see the log."])
        finally:
            form.clear_secrets()
        self._finish(result)

    def on_worker_progress(self, text: str) -> None:
        if self._busy:
            self.result_line.show_busy(text)

    def _finish(self, result: ProvisionResult) -> None:
        if result.ok:
            self._done = result
            self._taken.append(result.node_id)
            self.close_button.setText("Close")
            self.close_button.setDefault(True)
        self._set_busy(False)
        self.result_line.show_result(result.complete, "\n".join(result.sentences))
        if result.ok:
            self.close_button.setFocus()
            self.provisioned.emit(result.node_id)
        self.workFinished.emit(result.ok, self.result_line.text())

    @property
    def busy(self) -> bool:
        """Whether provisioning is running."""
        return self._busy

    @property
    def result_of_run(self) -> ProvisionResult | None:
        """The successful provisioning, once it happened."""
        return self._done

    def on_close_clicked(self) -> None:
        if self._done is not None:
            self.accept()
        else:
            self.reject()

    def done(self, code: int) -> None:
        """Close; a node that was made counts as accepted. Passwords are cleared."""
        for edit in (self.rot_edit, self.repeat_edit, self.prov_edit):
            edit.clear()
        super().done(QDialog.DialogCode.Accepted.value if self._done is not None else code)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Clear the passwords; running work still reports to the dialog."""
        for edit in (self.rot_edit, self.repeat_edit, self.prov_edit):
            edit.clear()
        super().closeEvent(event)
