"""The destination form's "After each file" section: nothing, a command, or a Python plugin.

A command is a template: the placeholders under it insert themselves at the
cursor, and what is wrong with it is said under it as it is typed. The plugins
installed here are read from the packages' metadata through
:mod:`openmsi_gui.ui.tasks` (the first time the plugin choice is shown). The
rules and words are in :mod:`openmsi_gui.app.processing_form`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QWidget,
)

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.destinations import location_text
from openmsi_gui.app.processing_form import (
    DEFAULT_TIMEOUT,
    KIND_LABELS,
    NO_PLUGINS,
    PLACEHOLDERS,
    installed_plugins,
    memory_placeholder,
    memory_problem,
    plugin_choices,
    reprocess_question,
    timeout_problem,
)
from openmsi_gui.app.settings import BrokerProfile, Destination, DestinationKind
from openmsi_gui.app.text import error_sentence
from openmsi_gui.engine.durations import duration_text, parse_duration
from openmsi_gui.engine.processing.api import ProcessorKind
from openmsi_gui.engine.processing.template import template_problem
from openmsi_gui.ui.status_line import StatusLine, buddy_label, inline_error, line_edit, with_error
from openmsi_gui.ui.tasks import Purpose, Tasks, asyncSlot
from openmsi_gui.ui.views.advanced import AdvancedSection
from openmsi_gui.ui.views.item_list import push_button
from openmsi_gui.ui.views.topic_picker import TopicPicker

Reprocessor = Callable[[Destination], "Future[str]"]
"""Starts Reprocess for a saved destination (:meth:`AppController.reprocess`); the future's
result is the sentence to show."""


PluginList = Callable[[], Sequence[tuple[str, str, str]]]
"""What lists the installed plugins: ``(name, version, distribution)`` each (blocking)."""


class ProcessingSection(AdvancedSection):
    """After each file: what runs, its timeout, the results topic, and Reprocess.

    Args:
        controller: lists and creates topics for the results topic picker.
        tasks: reads the installed plugins, awaits Reprocess.
        saved: the destination shown, as saved (None if new): what Reprocess runs.
        plugins: lists the installed plugins (blocking; run on the I/O executor).

    Attributes:
        reprocessor: starts Reprocess for a saved destination (the controller's).

    Signals:
        changed(): the user changed a field.
        reprocessed(bool, str): Reprocess was started (or not), and the sentence shown.
    """

    changed = Signal()
    reprocessed = Signal(bool, str)

    def __init__(self, controller: AppController, tasks: Tasks,
                 saved: Callable[[], Destination | None] = lambda: None,
                 plugins: PluginList = installed_plugins, parent: QWidget | None = None) -> None:
        super().__init__("After each file", parent)
        self._saved = saved
        self.reprocessor: Reprocessor = controller.reprocess
        self.toggle.setToolTip("Run a command or a Python plugin on each file once it is "
                               "verified, and send its result to a topic")
        self.tasks = tasks
        self.plugins = plugins
        self._listed: list[tuple[str, str, str]] | None = None  # None: not read yet
        self._asked = False
        self._loading = False
        self.kind_combo = QComboBox()
        self.kind_combo.setAccessibleName("After each file")
        self.kind_combo.setToolTip(
            "What runs on each file once it is rebuilt and verified here. It runs apart from "
            "the download: if it fails, hangs or crashes, only that file's processing fails.")
        for kind, label in KIND_LABELS.items():
            self.kind_combo.addItem(label, kind.value)
        self.kind_combo.currentIndexChanged.connect(self._on_kind_changed)
        self._build_command()
        self.plugin_combo = QComboBox()
        self.plugin_combo.setAccessibleName("Plugin")
        self.plugin_combo.setToolTip("The Python plugins installed on this computer (entry "
                                     "points of the group openmsi_gui.processors)")
        self.plugin_combo.currentIndexChanged.connect(self._on_changed)
        self.plugin_note = StatusLine("Plugins", hide_empty=True)
        self.timeout_edit = line_edit(
            "Stop it after", "Processing one file is stopped, and that file's processing "
            "failed, after this long: 90s, 20m, 1h", duration_text(DEFAULT_TIMEOUT))
        self.timeout_edit.textEdited.connect(self._on_changed)
        self.timeout_error = inline_error("Stop it after problem")
        self.memory_edit = line_edit(
            "Memory limit", "The memory (address space) one file's processing may use: 2G, "
            "512M, or none. Beyond it the processor fails with 'ran out of memory', and only "
            "that file's processing fails. Empty: 2 GiB for a plugin, no limit for a command. "
            "Enforced on Linux only.")
        self.memory_edit.textEdited.connect(self._on_changed)
        self.memory_error = inline_error("Memory limit problem")
        self.results = TopicPicker(controller, tasks)
        self.results.setAccessibleName("Results topic picker")
        self.results.combo.setAccessibleName("Send results to topic")
        self.results.combo.setToolTip(
            "Each file's result (or why it failed) is sent to this topic as a JSON object, "
            "keyed as OpenMSIStream's reproducers key theirs (empty: kept in the history only)")
        if (results_line := self.results.combo.lineEdit()) is not None:
            results_line.setPlaceholderText("none (optional)")
            results_line.setAccessibleName("Send results to topic")
        self.results.refresh_button.setText("Refresh")  # the form's own picker has the keys
        self.results.create_button.setText("Create topic…")
        self.results.topicChanged.connect(self._on_changed)
        self.reprocess_button = push_button("Reprocess everything on the topic…",
                                            "Reprocess everything on the topic",
                                            self.on_reprocess_clicked)
        self.reprocess_button.setToolTip(
            "Run the processor again over every file still on the topic, with a fresh "
            "consumer group; files already delivered are not touched")
        self.status = StatusLine("Processing status", hide_empty=True)
        self.form.addRow(buddy_label("Then:", self.kind_combo), self.kind_combo)
        self.form.addRow(buddy_label("Command:", self.command_edit), self.command_cell)
        self.plugin_cell = with_error(self.plugin_combo, self.plugin_note)
        self.form.addRow(buddy_label("Plugin:", self.plugin_combo), self.plugin_cell)
        self.form.addRow(buddy_label("Stop it after:", self.timeout_edit),
                         with_error(self.timeout_edit, self.timeout_error))
        self.form.addRow(buddy_label("Memory limit:", self.memory_edit),
                         with_error(self.memory_edit, self.memory_error))
        # Its own full-width row: a picker beside a label would widen the whole form.
        self.form.addRow(buddy_label("Send results to topic (optional):", self.results.combo))
        self.form.addRow(self.results)
        self.form.addRow("", self.reprocess_button)
        self.form.addRow(self.status)
        self._show_kind()

    def _build_command(self) -> None:
        self.command_edit = QLineEdit()
        self.command_edit.setAccessibleName("Command")
        self.command_edit.setToolTip(
            "The program and its arguments, as in a terminal; it runs without a shell, each "
            "placeholder replaced inside its own argument. Exit code 0 is success; one JSON "
            "object printed on its output is its result.")
        self.command_edit.setPlaceholderText("e.g. python3 /opt/lab/index.py {path}")
        self.command_edit.textEdited.connect(self._on_changed)
        self.command_error = inline_error("Command problem")
        # Links on two lines: the form stays narrow; Tab reaches each link.
        links = [f'<a href="{name}">{name}</a>' for name, _ in PLACEHOLDERS]
        self.hints = QLabel(f"Insert: {' '.join(links[:3])}<br>{' '.join(links[3:])}")
        self.hints.setAccessibleName("Insert a placeholder")
        self.hints.setToolTip("\n".join(f"{name}: {meaning}" for name, meaning in PLACEHOLDERS))
        self.hints.setTextFormat(Qt.TextFormat.RichText)
        self.hints.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                           | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.hints.linkActivated.connect(self.insert)
        self.command_cell = with_error(self.command_edit, self.command_error)
        cell_layout = self.command_cell.layout()
        if cell_layout is not None:
            cell_layout.addWidget(self.hints)

    def tab_order(self) -> list[QWidget]:
        """The section's fields in tab order (its toggle first)."""
        return [self.toggle, self.kind_combo, self.command_edit, self.hints, self.plugin_combo,
                self.timeout_edit, self.memory_edit, self.results.combo,
                self.results.refresh_button, self.results.create_button,
                self.reprocess_button]

    # -- the destination's fields ------------------------------------------------------

    def kind(self) -> ProcessorKind:
        """The kind of processor chosen."""
        return ProcessorKind(self.kind_combo.currentData() or ProcessorKind.NONE.value)

    def load(self, dest: Destination, profile: BrokerProfile | None) -> None:
        """Show ``dest``'s settings (open the section if something runs after each file)."""
        self._loading = True
        try:
            self.kind_combo.setCurrentIndex(
                max(0, self.kind_combo.findData(dest.processor.value)))
            self.command_edit.setText(dest.processor_command)
            self.command_edit.setCursorPosition(0)
            self._fill_plugins(dest.processor_plugin)
            self.timeout_edit.setText(duration_text(dest.processor_timeout))
            self.memory_edit.setText(dest.processor_memory)
            self.results.set_profile(profile)
            self.results.set_topic(dest.results_topic)
        finally:
            self._loading = False
        self.status.clear()
        self._show_kind()
        if dest.processor is not ProcessorKind.NONE or dest.kind is DestinationKind.PROCESS:
            self.set_expanded(True)

    def read(self, dest: Destination) -> Destination:
        """``dest`` with the section's fields (a timeout that cannot be read is kept)."""
        text = self.timeout_edit.text()
        timeout = dest.processor_timeout if timeout_problem(text) else parse_duration(text)
        plugin = self.plugin_combo.currentData()
        return dataclasses.replace(
            dest, processor=self.kind(), processor_command=self.command_edit.text().strip(),
            processor_plugin=str(plugin) if plugin else dest.processor_plugin,
            processor_timeout=timeout, processor_memory=self.memory_edit.text().strip(),
            results_topic=self.results.topic())

    def problem(self) -> str | None:
        """What is wrong with the fields as typed that the destination cannot hold."""
        return None if self.kind() is ProcessorKind.NONE else timeout_problem(
            self.timeout_edit.text())

    def show_state(self, _dest: Destination, saved: Destination | None) -> None:
        """Show the live problems; Reprocess is for a saved destination that processes."""
        command = (template_problem(self.command_edit.text())
                   if self.kind() is ProcessorKind.COMMAND else None)
        self.command_error.setText(command or "")
        self.command_error.setVisible(command is not None)
        timeout = self.problem()
        self.timeout_error.setText(timeout or "")
        self.timeout_error.setVisible(timeout is not None)
        memory = (None if self.kind() is ProcessorKind.NONE else
                  memory_problem(self.memory_edit.text()))
        self.memory_error.setText(memory or "")
        self.memory_error.setVisible(memory is not None)
        self.reprocess_button.setEnabled(
            saved is not None and saved.processor is not ProcessorKind.NONE and bool(saved.topic))

    def insert(self, placeholder: str) -> None:
        """Put ``placeholder`` at the command's cursor (as if typed)."""
        self.command_edit.insert(placeholder)
        self.command_edit.setFocus()
        self._on_changed()

    # -- plugins ------------------------------------------------------------------------

    def _fill_plugins(self, chosen: str) -> None:
        combo = self.plugin_combo
        combo.blockSignals(True)
        try:
            combo.clear()
            for label, name in plugin_choices(self._listed or [], chosen):
                combo.addItem(label, name)
            combo.setCurrentIndex(max(0, combo.findData(chosen)) if chosen else
                                  (0 if combo.count() else -1))
        finally:
            combo.blockSignals(False)
        if self._listed is None:
            self.plugin_note.clear()
        elif not self._listed:
            self.plugin_note.show_note(NO_PLUGINS)
        else:
            self.plugin_note.clear()

    def _chosen_plugin(self) -> str:
        data = self.plugin_combo.currentData()
        return str(data) if data else ""

    @asyncSlot()
    async def read_plugins(self) -> None:
        """Read the plugins installed here (package metadata, off the GUI thread) and list them."""
        self.plugin_note.show_busy("Looking for installed plugins…")
        try:
            found = await self.tasks.run(Purpose.IO, self.plugins, context=self)
        except Exception as exc:  # told to the user
            self._listed = []
            self.plugin_note.show_problem(f"The plugins could not be listed: "
                                          f"{error_sentence(exc)}")
            return
        self._listed = [(str(n), str(v), str(d)) for n, v, d in found]
        chosen = self._chosen_plugin()
        self._fill_plugins(chosen)
        if not chosen and self.plugin_combo.count() and self.kind() is ProcessorKind.PLUGIN:
            self.changed.emit()  # the first plugin is now chosen

    # -- reprocess ---------------------------------------------------------------------

    def on_reprocess_clicked(self) -> None:
        dest = self._saved()
        if dest is None or dest.processor is ProcessorKind.NONE:
            return
        answer = QMessageBox.question(
            self, "Reprocess everything on the topic", reprocess_question(
                dest, location_text(dest)),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Yes:
            self.reprocess(dest)

    @asyncSlot()
    async def reprocess(self, dest: Destination) -> None:
        """Start Reprocess for ``dest`` and say how it went."""
        self.status.show_busy(f"Starting to reprocess {dest.topic}…")
        self.reprocess_button.setEnabled(False)
        try:
            said = await self.tasks.wait(self.reprocessor(dest), context=self)
        except Exception as exc:  # told to the user (a broker that cannot be read)
            ok, said = False, f"Not reprocessed: {error_sentence(exc)}"
            self.status.show_problem(said)
        else:  # what it started, or why it did not (already running, no processor)
            ok = True
            self.status.show_note(said)
        self.reprocess_button.setEnabled(True)
        self.reprocessed.emit(ok, said)

    # -- slots -------------------------------------------------------------------------

    def _show_kind(self) -> None:
        kind = self.kind()
        self.form.setRowVisible(self.command_cell, kind is ProcessorKind.COMMAND)
        self.form.setRowVisible(self.plugin_cell, kind is ProcessorKind.PLUGIN)
        for widget in (self.timeout_edit, self.memory_edit, self.results.combo):
            widget.setEnabled(kind is not ProcessorKind.NONE)
        self.memory_edit.setPlaceholderText(memory_placeholder(kind))
        self.results.setEnabled(kind is not ProcessorKind.NONE)
        if kind is ProcessorKind.PLUGIN and not self._asked:
            self._asked = True  # once: choosing the kind again does not ask again
            self.read_plugins()

    def _on_kind_changed(self) -> None:
        self._show_kind()
        self._on_changed()

    def _on_changed(self, *_args: object) -> None:
        if not self._loading:
            self.changed.emit()
