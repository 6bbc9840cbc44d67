"""The wizard's welcome, first-job and summary pages (the broker page is its own module)."""

from __future__ import annotations

import html
import os
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLineEdit,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app import keychain
from openmsi_gui.app.wizard_forms import DEMO_INBOX, DEMO_OUTBOX, JobKind, Mode, Step
from openmsi_gui.engine import admin
from openmsi_gui.engine.kafka_config import ConfigError
from openmsi_gui.ui.status_line import buddy_label
from openmsi_gui.ui.tasks import asyncSlot
from openmsi_gui.ui.wizard_parts import FlowPage, PathRow, hint, step_status

if TYPE_CHECKING:
    from openmsi_gui.ui.wizard import SetupWizard


class WelcomePage(FlowPage):
    """Demo broker or a real one."""

    def __init__(self, owner: SetupWizard) -> None:
        super().__init__(owner, Step.WELCOME, "Welcome to OpenMSI",
                         "OpenMSI sends the files your instrument writes to a Kafka broker, "
                         "and saves files from a broker into folders.")
        self.demo = QRadioButton("Try it with a &demo broker on this computer")
        self.demo.setAccessibleName("Try it with a demo broker on this computer")
        demo_note = hint("Nothing to configure, and nothing leaves this computer. The demo "
                          "broker keeps its data in the app's data folder when the app quits.")
        self.real = QRadioButton("Connect to my lab's &Kafka broker")
        self.real.setAccessibleName("Connect to my lab's Kafka broker")
        real_note = hint("You need its address (host:port) and, if it asks for one, a user "
                          "name and password from its administrator.")
        for note in (demo_note, real_note):
            note.setIndent(24)
        self.group = QButtonGroup(self)
        self.group.addButton(self.demo)
        self.group.addButton(self.real)
        self.demo.setAccessibleDescription(demo_note.text())
        self.real.setAccessibleDescription(real_note.text())
        later = hint("Cancel if you prefer to set things up yourself; this wizard stays "
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


class FirstJobPage(FlowPage):
    """A first watched folder, destination, the demo pair, or nothing yet."""

    def __init__(self, owner: SetupWizard) -> None:
        super().__init__(owner, Step.FIRST_JOB, "Your first folder")
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

        pages = {JobKind.PAIR: self._build_pair(), JobKind.FOLDER: self._build_watch(),
                 JobKind.DESTINATION: self._build_destination(), JobKind.SKIP: _skip_note()}
        for kind, widget in pages.items():
            for form in widget.findChildren(QFormLayout):
                form.setContentsMargins(0, 0, 0, 0)
            self._stack_index[kind] = self.stack.addWidget(widget)
        layout.addSpacing(6)
        layout.addWidget(self.stack)
        layout.addStretch(1)
        self.warning = step_status("Warning", hide_empty=True)
        layout.addWidget(self.warning)
        layout.addWidget(self.reason)

        self.demo_folder.edit.textChanged.connect(self.on_demo_folder_changed)
        self.folder.edit.textChanged.connect(lambda text: self._edit(folder_path=text))
        self.folder_topic.editTextChanged.connect(lambda text: self._edit(folder_topic=text))
        self.upload_existing.toggled.connect(lambda on: self._edit(upload_existing=on))
        self.dest.edit.textChanged.connect(lambda text: self._edit(dest_path=text))
        self.dest_topic.editTextChanged.connect(lambda text: self._edit(dest_topic=text))
        self.group.textChanged.connect(lambda text: self._edit(group_id=text))
        self.on_demo_folder_changed(self.flow.job.demo_folder)

    def _build_pair(self) -> QWidget:
        """The demo pair's details."""
        job = self.flow.job
        self.demo_folder = PathRow("Demo folder", "Choose where the demo folders go",
                                   job.demo_folder)
        self.demo_note = hint()
        self.demo_note.setAccessibleName("About the demo folders")
        pair, pair_form = _path_form("&Location:", self.demo_folder)
        pair_form.addRow(self.demo_note)
        return pair

    def _build_watch(self) -> QWidget:
        """A watched folder's details."""
        job = self.flow.job
        self.folder = PathRow("Folder to watch", "Choose the folder to watch", job.folder_path)
        self.folder_topic = self._topic_box(job.folder_topic)
        self.upload_existing = QCheckBox("Also send the files &already in it")
        self.upload_existing.setAccessibleName("Also send the files already in it")
        self.upload_existing.setChecked(job.upload_existing)
        watch, watch_form = _path_form("&Watch folder:", self.folder, self.folder_topic)
        watch_form.addRow("", self.upload_existing)
        return watch

    def _build_destination(self) -> QWidget:
        """A destination's details."""
        job = self.flow.job
        self.dest = PathRow("Folder to save files in", "Choose where received files go",
                            job.dest_path)
        self.dest_topic = self._topic_box(job.dest_topic)
        self.group = QLineEdit(job.group_id)
        self.group.setPlaceholderText("(a new group)")
        self.group.setAccessibleName("Consumer group")
        self.group.setToolTip("Computers that share a consumer group share the files: each "
                              "file arrives at only one of them.")
        dest, dest_form = _path_form("Sa&ve into:", self.dest, self.dest_topic)
        dest_form.addRow("Consumer &group:", self.group)
        return dest

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

    @asyncSlot()
    async def _list_topics(self) -> None:
        profile = self.flow.profile()
        try:
            topics = await self.owner.tasks.wait(self.owner.controller.list_topics(profile),
                                                 context=self)
        except (admin.BrokerError, ConfigError, keychain.KeychainError):
            return  # the topic names stay unknown; the connection test already spoke
        except Exception as exc:
            self.owner.tasks.report("Listing the broker's topics", exc)
            return
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

    def refresh(self) -> None:
        super().refresh()
        warnings = self.flow.warnings() if self.flow.step is self.step else []
        if warnings:
            self.warning.show_problem(" ".join(warnings))
        else:
            self.warning.clear()


class DonePage(FlowPage):
    """What will be set up; Finish saves it."""

    def __init__(self, owner: SetupWizard) -> None:
        super().__init__(owner, Step.DONE, "Ready",
                         "Check what will be set up, then press Finish.")
        self.summary = hint()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setAccessibleName("Summary")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = step_status("Saving")
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


def _path_form(label: str, row: PathRow,
               topic: QComboBox | None = None) -> tuple[QWidget, QFormLayout]:
    """A details page: ``row`` labelled ``label``, then the ``topic`` box if any."""
    page = QWidget()
    form = QFormLayout(page)
    form.addRow(buddy_label(label, row.edit), row)
    if topic is not None:
        form.addRow("To&pic:", topic)
    return page, form


def _skip_note() -> QWidget:
    """What skipping means."""
    skip = hint("Nothing is sent or received until you add a watched folder or a "
                "destination in the main window.")
    skip.setAccessibleName("About skipping")
    skip.setAlignment(Qt.AlignmentFlag.AlignTop)
    return skip
