"""Pick a topic from a broker's topic list, or create one.

:class:`TopicPicker` is shared by the watched folders and destinations views.
Listing and creating topics talk to the broker, so both run on the
controller's thread; the picker awaits them with :meth:`Tasks.wait
<openmsi_gui.ui.tasks.Tasks.wait>`, and ignores answers to older requests.
"""

from __future__ import annotations

from concurrent.futures import Future

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile
from openmsi_gui.app.validation import topic_problem
from openmsi_gui.ui.status_line import StatusKind, StatusLine
from openmsi_gui.ui.tasks import Tasks, asyncSlot
from openmsi_gui.ui.views.create_topic import CreateTopicDialog

REFRESH_HINT = "Press Refresh to list the broker's topics."

_KNOWN_TOPICS: dict[str, list[str]] = {}
"""The topics last listed, by profile id: every picker shows them (GUI thread only)."""


def _listed(topics: list[str], profile: BrokerProfile) -> str:
    if not topics:
        return f"{profile.name} has no topics yet: create one."
    count = "1 topic" if len(topics) == 1 else f"{len(topics)} topics"
    return f"{count} on {profile.name}."


class TopicPicker(QWidget):
    """An editable topic combo box with *Refresh* and *Create topic…* buttons.

    Call :meth:`set_profile` when the broker changes; the list is loaded only
    when the user presses *Refresh* (so a slow broker never delays anything
    else), and a status line says what is going on in plain words.

    Signals:
        topicChanged(str): the text of the topic box changed (typed or picked).
    """

    topicChanged = Signal(str)

    def __init__(self, controller: AppController, tasks: Tasks,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.tasks = tasks
        self._profile: BrokerProfile | None = None
        self._request = 0  # answers to older requests are ignored
        self._hinting = False  # the status line shows REFRESH_HINT
        self.setAccessibleName("Topic picker")

        self.combo = QComboBox()
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.combo.setMinimumContentsLength(10)
        self.combo.setAccessibleName("Topic")
        self.combo.setToolTip("The Kafka topic; type a name or pick one after Refresh")
        completer = self.combo.completer()
        if completer is not None:  # topic names are case sensitive
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseSensitive)
            completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        line_edit = self.combo.lineEdit()
        if line_edit is not None:
            line_edit.setPlaceholderText("topic name")
            line_edit.setAccessibleName("Topic")
        self.combo.editTextChanged.connect(self.on_combo_text_changed)

        self.refresh_button = QPushButton("Refres&h")
        self.refresh_button.setAccessibleName("Refresh topic list")
        self.refresh_button.setToolTip("Load the list of topics from the broker")
        self.refresh_button.clicked.connect(self.on_refresh_clicked)

        self.create_button = QPushButton("&Create topic…")
        self.create_button.setAccessibleName("Create topic")
        self.create_button.setToolTip("Create a new topic on the broker")
        self.create_button.clicked.connect(self.on_create_clicked)

        self.status = StatusLine("Topic list status")

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        row.addWidget(self.refresh_button)
        row.addWidget(self.create_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.setTabOrder(self.combo, self.refresh_button)
        self.setTabOrder(self.refresh_button, self.create_button)
        self.setFocusProxy(self.combo)
        self._update_buttons()
        self._say("")

    # -- public -----------------------------------------------------------------

    def topic(self) -> str:
        """The topic as typed or picked (surrounding blanks removed)."""
        return self.combo.currentText().strip()

    def set_topic(self, topic: str) -> None:
        """Show ``topic`` without emitting :attr:`topicChanged`."""
        self.combo.blockSignals(True)
        try:
            self.combo.setEditText(topic)
        finally:
            self.combo.blockSignals(False)
        self._update_hint()

    def profile(self) -> BrokerProfile | None:
        """The broker whose topics are listed."""
        return self._profile

    def set_profile(self, profile: BrokerProfile | None) -> None:
        """Use ``profile``'s broker; a list loaded from another broker is dropped."""
        if profile == self._profile:
            return
        self._profile = profile
        self._request += 1  # forget answers about the previous broker
        known = _KNOWN_TOPICS.get(profile.id) if profile is not None else None
        self._set_topics(known or [])
        if profile is not None and known is not None:
            self._say(_listed(known, profile), StatusKind.OK)
        else:
            self._say("")
            self._update_hint()
        self._update_buttons()

    def topics(self) -> list[str]:
        """The topics in the drop-down list."""
        return [self.combo.itemText(i) for i in range(self.combo.count())]

    def refresh(self, note: str = "") -> None:
        """Load the broker's topics in the background.

        Args:
            note: a sentence to show before the outcome (e.g. "Created topic x.").
        """
        profile = self._profile
        if profile is None:
            self._say("Choose a broker first.", StatusKind.PROBLEM)
            return
        self._request += 1
        request = self._request
        self._say(f"{note} Loading topics from {profile.name}…".strip(), StatusKind.BUSY)
        self._list(self.controller.list_topics(profile), request, profile, note)

    @asyncSlot()
    async def _list(self, future: Future[list[str]], request: int, profile: BrokerProfile,
                    note: str) -> None:
        try:
            topics = await self.tasks.wait(future, context=self)
        except Exception as error:  # told to the user
            self._on_error(request, "Could not list the topics", error)
        else:
            self._on_topics(request, profile, topics, note)

    # -- slots ------------------------------------------------------------------

    def on_combo_text_changed(self, text: str) -> None:
        self._update_hint()
        self.topicChanged.emit(text.strip())

    def on_refresh_clicked(self) -> None:
        self.refresh()

    def on_create_clicked(self) -> None:
        profile = self._profile
        if profile is None:
            self._say("Choose a broker first.", StatusKind.PROBLEM)
            return
        answer = CreateTopicDialog.ask(self, profile.name, self.topic())
        if answer is None:
            return
        name, partitions = answer
        problem = topic_problem(name)
        if problem is not None:
            self._say(f"Not created: {problem}.", StatusKind.PROBLEM)
            return
        self._request += 1
        request = self._request
        self._say(f"Creating topic {name}…", StatusKind.BUSY)
        self._create(self.controller.create_topic(profile, name, partitions), request, name)

    @asyncSlot()
    async def _create(self, future: Future[bool], request: int, name: str) -> None:
        try:
            created = await self.tasks.wait(future, context=self)
        except Exception as error:  # told to the user
            self._on_error(request, f"Could not create {name}", error)
        else:
            self._on_created(request, name, created)

    # -- private ----------------------------------------------------------------

    def _on_topics(self, request: int, profile: BrokerProfile, topics: list[str],
                   note: str) -> None:
        if request != self._request:
            return
        _KNOWN_TOPICS[profile.id] = list(topics)
        self._set_topics(topics)
        outcome = _listed(topics, profile)
        if len(topics) == 1 and not self.topic():
            self.combo.setEditText(topics[0])  # emits topicChanged: the form takes it
            outcome = f"{profile.name} has one topic, {topics[0]}: chosen."
        self._say(f"{note} {outcome}".strip(), StatusKind.OK)

    def _on_created(self, request: int, name: str, created: bool) -> None:
        if request != self._request:
            return
        self.combo.setEditText(name)  # emits topicChanged: the form sees the new topic
        self.refresh(f"Created topic {name}." if created else f"Topic {name} already exists.")

    def _on_error(self, request: int, what: str, error: BaseException) -> None:
        if request != self._request:
            return
        self._say(f"{what}: {str(error) or type(error).__name__}", StatusKind.PROBLEM)

    def _set_topics(self, topics: list[str]) -> None:
        text = self.combo.currentText()
        self.combo.blockSignals(True)
        try:
            self.combo.clear()
            self.combo.addItems(topics)
            self.combo.setEditText(text)
        finally:
            self.combo.blockSignals(False)

    def _say(self, text: str, kind: StatusKind = StatusKind.NOTE) -> None:
        self._hinting = False
        self.status.say(kind, text)
        self.status.setVisible(bool(text))

    def _update_hint(self) -> None:
        """Say "Press Refresh…" while the topic is empty and nothing else is said."""
        wanted = self._profile is not None and not self.topic() and not self.topics()
        if wanted and not self.status.text():
            self._say(REFRESH_HINT)
            self._hinting = True
        elif not wanted and self._hinting:
            self._say("")

    def _update_buttons(self) -> None:
        has_profile = self._profile is not None
        self.refresh_button.setEnabled(has_profile)
        self.create_button.setEnabled(has_profile)


__all__ = ["TopicPicker", "topic_problem"]  # topic_problem: the one rule, from app.validation
