"""The destination form's "After each file" section, processing-only destinations, Reprocess."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.processing_form import NO_PLUGINS
from openmsi_gui.app.settings import BrokerProfile, Destination, DestinationKind, SettingsStore
from openmsi_gui.engine.processing.api import ProcessorKind
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.views.destinations import DestinationsView

PLUGINS = [("count-lines", "1.0", "my-lab-plugins"), ("thumbnail", "2.1", "thumbs")]


@pytest.fixture
def dest(store: SettingsStore, tmp_path: Path) -> Destination:
    """A saved, disabled destination (no job starts) into an existing folder."""
    settings = store.settings
    profile = BrokerProfile(name="Lab broker", bootstrap_servers="127.0.0.1:9")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    made = Destination(path=str(inbox), profile_id=profile.id, topic="lab-data",
                       group_id="g1", enabled=False)
    settings.profiles = [profile]
    settings.destinations = [made]
    store.update(settings)
    return made


@pytest.fixture
def view(qtbot: QtBot, store: SettingsStore, controller: AppController, tasks: Tasks,
         dest: Destination) -> DestinationsView:
    widget = DestinationsView(store, controller, tasks)
    widget.processing.plugins = lambda: PLUGINS
    qtbot.addWidget(widget)
    widget.resize(1000, 900)
    widget.show()
    widget.item_list.select_row(0)
    return widget


def _choose(view: DestinationsView, kind: ProcessorKind) -> None:
    combo = view.processing.kind_combo
    combo.setCurrentIndex(combo.findData(kind.value))


def _apply(view: DestinationsView, qtbot: QtBot) -> Destination:
    qtbot.waitUntil(view.apply_button.isEnabled)
    qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    [saved] = view.store.settings.destinations
    return saved


def test_nothing_runs_by_default_and_the_section_is_folded(view: DestinationsView) -> None:
    section = view.processing
    assert section.kind() is ProcessorKind.NONE
    assert not section.is_expanded()
    assert not section.reprocess_button.isEnabled()
    assert [section.kind_combo.itemText(i) for i in range(section.kind_combo.count())] == [
        "Nothing", "Run a command", "A Python plugin"]


def test_a_command_round_trips_to_the_settings(view: DestinationsView, qtbot: QtBot) -> None:
    section = view.processing
    section.set_expanded(True)
    _choose(view, ProcessorKind.COMMAND)
    assert section.command_edit.isVisible()
    assert not section.plugin_combo.isVisible()
    qtbot.keyClicks(section.command_edit, "python3 /opt/lab/index.py ")
    assert "{path}" in section.hints.text()
    section.hints.linkActivated.emit("{path}")  # a click on the link: inserted at the cursor
    qtbot.keyClicks(section.command_edit, " --sample ")
    section.insert("{metadata_json}")
    section.timeout_edit.clear()
    qtbot.keyClicks(section.timeout_edit, "2m")
    section.results.combo.setEditText("lab-data.results")
    saved = _apply(view, qtbot)
    assert (saved.processor, saved.processor_command, saved.processor_timeout,
            saved.results_topic) == (
        ProcessorKind.COMMAND, "python3 /opt/lab/index.py {path} --sample {metadata_json}",
        120.0, "lab-data.results")
    assert saved.processor_spec().name == "python3"

    # Shown again as saved once another item was shown meanwhile.
    view.item_list.select_row(-1)
    view.item_list.select_row(0)
    assert section.is_expanded()
    assert section.command_edit.text() == saved.processor_command
    assert section.timeout_edit.text() == "2m"
    assert section.results.topic() == "lab-data.results"
    assert section.reprocess_button.isEnabled()


@pytest.mark.parametrize(("command", "said"), [
    ("", "The command is empty"),
    ("python3 index.py {file}", "{file} is not a placeholder"),
    ("{path} --check", "must start with the program to run"),
    ("python3 'index.py {path}", "close its quotes"),
])
def test_an_invalid_template_blocks_apply_with_its_sentence(
        view: DestinationsView, qtbot: QtBot, command: str, said: str) -> None:
    section = view.processing
    _choose(view, ProcessorKind.COMMAND)
    qtbot.keyClicks(section.command_edit, command)
    section.command_edit.textEdited.emit(command)
    assert said in section.command_error.text()
    assert not section.command_error.isHidden()
    assert said in view.errors.text()
    assert not view.apply_button.isEnabled()
    view.on_apply_clicked()
    assert view.store.settings.destinations[0].processor is ProcessorKind.NONE

    section.command_edit.setText("python3 index.py {path}")
    section.command_edit.textEdited.emit(section.command_edit.text())
    assert section.command_error.isHidden()
    assert _apply(view, qtbot).processor_command == "python3 index.py {path}"


def test_an_unreadable_timeout_blocks_apply(view: DestinationsView, qtbot: QtBot) -> None:
    section = view.processing
    _choose(view, ProcessorKind.COMMAND)
    qtbot.keyClicks(section.command_edit, "true")
    section.timeout_edit.clear()
    qtbot.keyClicks(section.timeout_edit, "soon")
    assert "is not a duration" in section.timeout_error.text()
    assert not view.apply_button.isEnabled()
    section.timeout_edit.clear()
    qtbot.keyClicks(section.timeout_edit, "0s")
    assert not view.apply_button.isEnabled()
    section.timeout_edit.clear()
    qtbot.keyClicks(section.timeout_edit, "30s")
    assert _apply(view, qtbot).processor_timeout == 30.0


def test_the_memory_limit_round_trips_and_a_bad_one_blocks_apply(
        view: DestinationsView, qtbot: QtBot) -> None:
    section = view.processing
    section.set_expanded(True)
    assert not section.memory_edit.isEnabled()  # nothing runs: no limit to set
    _choose(view, ProcessorKind.PLUGIN)
    assert section.memory_edit.isEnabled()
    assert section.memory_edit.placeholderText() == "default: 2 GiB"
    _choose(view, ProcessorKind.COMMAND)
    assert section.memory_edit.placeholderText() == "default: no limit"
    qtbot.keyClicks(section.command_edit, "true")
    qtbot.keyClicks(section.memory_edit, "lots")
    assert "Cannot read the memory limit 'lots'" in section.memory_error.text()
    assert not section.memory_error.isHidden()
    assert not view.apply_button.isEnabled()
    section.memory_edit.clear()
    qtbot.keyClicks(section.memory_edit, "512M")
    assert section.memory_error.isHidden()
    saved = _apply(view, qtbot)
    assert saved.processor_memory == "512M"
    assert saved.processor_spec().memory_limit == 512 * 1024 ** 2
    view.item_list.select_row(-1)
    view.item_list.select_row(0)
    assert section.memory_edit.text() == "512M"


def test_the_installed_plugins_are_listed_and_one_is_kept(view: DestinationsView,
                                                          qtbot: QtBot) -> None:
    section = view.processing
    section.set_expanded(True)
    _choose(view, ProcessorKind.PLUGIN)
    combo = section.plugin_combo
    qtbot.waitUntil(lambda: combo.count() == 2)
    assert [combo.itemText(i) for i in range(2)] == [
        "count-lines 1.0 (my-lab-plugins)", "thumbnail 2.1 (thumbs)"]
    assert section.plugin_note.isHidden()
    combo.setCurrentIndex(1)
    saved = _apply(view, qtbot)
    assert (saved.processor, saved.processor_plugin) == (ProcessorKind.PLUGIN, "thumbnail")


def test_no_plugin_installed_says_where_to_read(qtbot: QtBot, store: SettingsStore,
                                                controller: AppController, tasks: Tasks,
                                                dest: Destination) -> None:
    settings = store.settings
    settings.destinations[0].processor = ProcessorKind.PLUGIN
    settings.destinations[0].processor_plugin = "gone"
    store.update(settings)
    view = DestinationsView(store, controller, tasks)
    view.processing.plugins = list
    qtbot.addWidget(view)
    view.show()
    view.item_list.select_row(0)
    section = view.processing
    qtbot.waitUntil(lambda: section.plugin_note.text() == NO_PLUGINS)
    assert "README" in NO_PLUGINS
    # The plugin chosen before is kept (marked), not silently replaced.
    assert section.plugin_combo.currentText() == "gone (not installed here)"
    assert view.current_item() == store.settings.destinations[0]


def test_processing_only_hides_the_folder_and_needs_a_processor(
        view: DestinationsView, qtbot: QtBot) -> None:
    combo = view.kind_combo
    combo.setCurrentIndex(combo.findData(DestinationKind.PROCESS.value))
    assert combo.currentText() == "Processing only (keep nothing but results)"
    assert not view.path_row.isVisible()
    assert not view.s3_box.isVisible()
    assert view.processing.is_expanded()  # where what it needs is chosen
    assert "processing-only destination keeps nothing" in view.errors.text()
    assert not view.apply_button.isEnabled()
    _choose(view, ProcessorKind.COMMAND)
    qtbot.keyClicks(view.processing.command_edit, "python3 /opt/lab/index.py {path}")
    saved = _apply(view, qtbot)
    assert (saved.kind, saved.processor) == (DestinationKind.PROCESS, ProcessorKind.COMMAND)
    assert view.table.item(0, 0).text() == "processing only: python3"  # type: ignore[union-attr]

    combo.setCurrentIndex(combo.findData(DestinationKind.FOLDER.value))
    assert view.path_row.isVisible()


def test_reprocess_asks_then_calls_the_app_and_says_the_outcome(
        view: DestinationsView, qtbot: QtBot, store: SettingsStore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = store.settings
    settings.destinations[0].processor = ProcessorKind.COMMAND
    settings.destinations[0].processor_command = "python3 index.py {path}"
    store.update(settings)
    section = view.processing
    assert section.reprocess_button.isEnabled()
    asked: list[str] = []
    answers = [QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes,
               QMessageBox.StandardButton.Yes]

    def question(_parent: object, _title: str, text: str, *_args: object) -> object:
        asked.append(text)
        return answers.pop(0)

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    called: list[Destination] = []

    def reprocessor(dest: Destination) -> Future[str]:
        called.append(dest)
        future: Future[str] = Future()
        future.set_result("Reprocessing lab-data with consumer group g1-reprocess-1.")
        return future

    section.reprocessor = reprocessor
    qtbot.mouseClick(section.reprocess_button, Qt.MouseButton.LeftButton)
    assert called == []  # cancelled
    assert "fresh consumer group" in asked[0]
    assert "already delivered to" in asked[0]
    assert "are not touched" in asked[0]
    with qtbot.waitSignal(section.reprocessed) as done:
        qtbot.mouseClick(section.reprocess_button, Qt.MouseButton.LeftButton)
    assert done.args == [True, "Reprocessing lab-data with consumer group g1-reprocess-1."]
    assert [d.id for d in called] == [view.current_id()]
    assert section.status.text() == done.args[1]

    def refused(_dest: Destination) -> Future[str]:
        future: Future[str] = Future()
        future.set_exception(RuntimeError("the destination is not running"))
        return future

    section.reprocessor = refused
    with qtbot.waitSignal(section.reprocessed) as done:
        qtbot.mouseClick(section.reprocess_button, Qt.MouseButton.LeftButton)
    assert done.args == [False, "Not reprocessed: The destination is not running."]
