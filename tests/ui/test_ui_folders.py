"""The watched folders view and the shared topic picker, against the real broker."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QFileDialog,
    QMessageBox,
)
from pytestqt.qtbot import QtBot

from openmsi_gui.app import folders
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.folders import CHUNK_SIZES
from openmsi_gui.app.settings import (
    BrokerProfile,
    SettingsStore,
    WatchedFolder,
)
from openmsi_gui.engine import admin
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.ui.tasks import Tasks
from openmsi_gui.ui.views.create_topic import DEFAULT_PARTITIONS, CreateTopicDialog
from openmsi_gui.ui.views.folders import FoldersView
from openmsi_gui.ui.views.path_checks import CHECKING
from openmsi_gui.ui.views.topic_picker import REFRESH_HINT

# -- the view ---------------------------------------------------------------------------


@pytest.fixture
def other_profile() -> BrokerProfile:
    """A second profile, listed first (so new items default to it); never connected to."""
    return BrokerProfile(name="Other broker", bootstrap_servers="127.0.0.1:9")


@pytest.fixture
def profiles(store: SettingsStore, broker_profile: BrokerProfile,
             other_profile: BrokerProfile) -> list[BrokerProfile]:
    settings = store.settings
    settings.profiles = [other_profile, broker_profile]
    store.update(settings)
    return settings.profiles


@pytest.fixture
def view(qtbot: QtBot, store: SettingsStore, controller: AppController,
         tasks: Tasks, profiles: list[BrokerProfile]) -> FoldersView:
    widget = FoldersView(store, controller, tasks)
    qtbot.addWidget(widget)
    widget.resize(1000, 600)
    widget.show()
    return widget


@pytest.fixture
def pick(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], list[str]]:
    """Make the folder dialog answer ``path``; returns the captions it was asked with."""
    captions: list[str] = []

    def answer(path: Path) -> list[str]:
        def fake(parent: object, caption: str = "", directory: str = "", *args: object) -> str:
            captions.append(caption)
            return str(path)

        monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(fake))
        return captions

    return answer


def _folder_dir(tmp_path: Path, name: str = "instrument") -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


def _status(view: FoldersView, row: int = 0) -> str:
    cell = view.table.item(row, view.table.columnCount() - 1)
    assert cell is not None
    return cell.text()


def _tick(qtbot: QtBot, check: QCheckBox) -> None:
    """Click a check box on its box (its centre may be past the end of its text)."""
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(6, check.height() // 2))


def _choose_profile(view: FoldersView, profile: BrokerProfile) -> None:
    view.profile_combo.setCurrentIndex(view.profile_combo.findData(profile.id))


def _add_ready(view: FoldersView, qtbot: QtBot, pick: Callable[[Path], list[str]], path: Path,
               profile: BrokerProfile, topic: str) -> WatchedFolder:
    """Add ``path`` through the Add… button, fill the form, Apply; return the saved folder."""
    pick(path)
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    _choose_profile(view, profile)
    view.topic_picker.combo.setEditText(topic)
    assert view.apply_button.isEnabled(), view.errors.text()
    qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    [saved] = [f for f in view.store.settings.folders if f.path == str(path)]
    return saved


def test_add_with_the_folder_picker(view: FoldersView, qtbot: QtBot, tmp_path: Path,
                                    pick: Callable[[Path], list[str]], topic: str,
                                    profiles: list[BrokerProfile],
                                    broker_profile: BrokerProfile) -> None:
    path = _folder_dir(tmp_path)
    captions = pick(path)
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    assert captions == ["Choose a folder to watch"]
    # A new row, selected, not saved yet, defaulting to the first profile.
    assert view.table.rowCount() == 1
    assert _status(view) == "New (not saved)"
    assert view.store.settings.folders == []
    assert view.path_edit.text() == str(path)
    assert view.profile_combo.currentData() == profiles[0].id
    assert not view.apply_button.isEnabled()
    assert "Choose or type a topic" in view.errors.text()

    _choose_profile(view, broker_profile)
    qtbot.keyClicks(view.topic_picker.combo, topic)
    assert view.apply_button.isEnabled(), view.errors.text()
    qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)

    [folder] = view.store.settings.folders
    assert (folder.path, folder.profile_id, folder.topic) == (str(path), broker_profile.id, topic)
    assert folder.enabled
    assert _status(view) == "Enabled"
    assert view.table.item(0, 1).text() == broker_profile.name  # type: ignore[union-attr]
    assert view.table.item(0, 2).text() == topic  # type: ignore[union-attr]
    assert not view.apply_button.isEnabled()
    assert not view.revert_button.isEnabled()


def test_cancelled_picker_adds_nothing(view: FoldersView, qtbot: QtBot,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a: ""))
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    assert view.table.rowCount() == 0
    assert not view.form_box.isEnabled()


def _mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def _drag(mime: QMimeData) -> QDropEvent:
    """A stand-in for a QDragEnterEvent (the handler only uses what QDropEvent has).

    Building a QDragEnterEvent in Python is unreliable with PySide6 6.12: the QPointF
    constructor in the stubs is rejected in a fresh process (accepted later), the
    QPoint one may raise DeprecationWarning, and runs that built them aborted at exit
    with "bool_dealloc: deallocating True or False" (a reference-count bug).
    """
    return QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)


def test_drop_folders_adds_them_and_ignores_files(view: FoldersView, qtbot: QtBot,
                                                   tmp_path: Path) -> None:
    folder = _folder_dir(tmp_path, "dropped")
    afile = tmp_path / "file.txt"
    afile.write_text("not a folder")

    mime = _mime(folder)
    enter = _drag(mime)
    view.dragEnterEvent(enter)  # type: ignore[arg-type]
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    view.dropEvent(drop)
    assert drop.isAccepted()
    qtbot.waitUntil(lambda: view.table.rowCount() == 1)  # folders are told apart off-thread
    assert view.path_edit.text() == str(folder)
    assert CHECKING not in view.errors.text()  # the drop's own check is reused

    # A drag is accepted or refused without I/O, so a local file is accepted, then ignored.
    file_mime = _mime(afile)
    enter = _drag(file_mime)
    view.dragEnterEvent(enter)  # type: ignore[arg-type]
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, file_mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    view.dropEvent(drop)
    qtbot.waitUntil(lambda: view.checks.known(str(afile)))
    assert view.table.rowCount() == 1

    web = QMimeData()
    web.setUrls([QUrl("https://example.org/folder/")])
    enter = _drag(web)
    view.dragEnterEvent(enter)  # type: ignore[arg-type]
    assert not enter.isAccepted()
    drop = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, web, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    view.dropEvent(drop)
    assert not drop.isAccepted()

    second = _folder_dir(tmp_path, "second")
    both = _mime(afile, second)  # the event does not keep its mime data alive
    drop = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, both,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    view.dropEvent(drop)
    qtbot.waitUntil(lambda: view.table.rowCount() == 2)
    assert view.path_edit.text() == str(second)


def test_glob_patterns_as_a_technician_types_them(
        view: FoldersView, qtbot: QtBot, tmp_path: Path, pick: Callable[[Path], list[str]],
        broker_profile: BrokerProfile, topic: str) -> None:
    _add_ready(view, qtbot, pick, _folder_dir(tmp_path), broker_profile, topic)
    assert view.temporary_check.isChecked()
    assert view.hidden_check.isChecked()
    assert not view.advanced.is_expanded()  # regexes and chunk sizes are folded away
    qtbot.keyClicks(view.exclude_edit, "*.tmp, ~$*")
    assert not view.exclude_error.isVisibleTo(view)
    qtbot.keyClicks(view.include_edit, "*.{tif")
    assert view.include_error.isVisibleTo(view)
    assert "without its" in view.include_error.text()
    assert not view.apply_button.isEnabled()
    qtbot.keyClicks(view.include_edit, ",tiff}")
    assert not view.include_error.isVisibleTo(view)
    _tick(qtbot, view.temporary_check)
    qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    [folder] = view.store.settings.folders
    assert folder.exclude_globs == ["*.tmp", "~$*"]
    assert folder.include_globs == ["*.{tif,tiff}"]
    assert not folder.skip_temporary
    assert folder.skip_hidden
    assert view.exclude_edit.text() == "*.tmp, ~$*"


def test_a_regular_expression_typed_as_a_pattern_is_pointed_out_without_blocking(
        view: FoldersView, qtbot: QtBot, tmp_path: Path, pick: Callable[[Path], list[str]],
        broker_profile: BrokerProfile, topic: str) -> None:
    """As the command line warns: ".*\\.bak" would skip nothing (a glob); Advanced takes it."""
    _add_ready(view, qtbot, pick, _folder_dir(tmp_path), broker_profile, topic)
    qtbot.keyClicks(view.exclude_edit, r".*\.bak")
    assert view.exclude_error.isVisibleTo(view)
    assert view.exclude_error.text() == (
        r"Skip: '.*\.bak' looks like a regular expression, but this field takes patterns "
        "such as *.bak; put a regular expression under Advanced.")
    assert view.apply_button.isEnabled()  # a glob may hold these characters: only a hint
    view.exclude_edit.clear()
    qtbot.keyClicks(view.exclude_edit, "*.bak")
    assert not view.exclude_error.isVisibleTo(view)


def test_invalid_regex_shows_an_inline_error_and_disables_apply(
        view: FoldersView, qtbot: QtBot, tmp_path: Path, pick: Callable[[Path], list[str]],
        broker_profile: BrokerProfile, topic: str) -> None:
    _add_ready(view, qtbot, pick, _folder_dir(tmp_path), broker_profile, topic)
    qtbot.mouseClick(view.advanced.toggle, Qt.MouseButton.LeftButton)
    assert view.include_regex_edit.isVisibleTo(view)
    view.include_regex_edit.clear()
    qtbot.keyClicks(view.include_regex_edit, r"\.tif([")
    assert not view.apply_button.isEnabled()
    assert view.include_regex_error.isVisibleTo(view)
    assert "not valid" in view.include_regex_error.text()
    assert "include regular expression" in view.errors.text()
    assert view.revert_button.isEnabled()

    qtbot.keyClick(view.include_regex_edit, Qt.Key.Key_Backspace)
    qtbot.keyClick(view.include_regex_edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(view.include_regex_edit, "f?$")
    assert view.include_regex_edit.text() == r"\.tiff?$"
    assert not view.include_regex_error.isVisibleTo(view)
    assert view.apply_button.isEnabled()

    qtbot.keyClicks(view.exclude_regex_edit, "(")
    assert view.exclude_regex_error.isVisibleTo(view)
    assert not view.apply_button.isEnabled()
    # Revert puts back what is saved.
    qtbot.mouseClick(view.revert_button, Qt.MouseButton.LeftButton)
    assert view.include_regex_edit.text() == ""
    assert not view.exclude_regex_error.isVisibleTo(view)
    assert not view.apply_button.isEnabled()


def test_a_folder_with_a_regex_opens_the_advanced_section(
        view: FoldersView, store: SettingsStore, tmp_path: Path,
        broker_profile: BrokerProfile) -> None:
    settings = store.settings
    settings.folders.append(WatchedFolder(path=str(_folder_dir(tmp_path)), topic="t",
                                          profile_id=broker_profile.id,
                                          exclude_regex=r"\.bak$"))
    store.update(settings)
    view.select(settings.folders[0].id)
    assert view.advanced.is_expanded()
    assert view.exclude_regex_edit.text() == r"\.bak$"


SLOW_CHECK_SECONDS = 2.0


def test_a_slow_folder_check_never_freezes_the_form(
        view: FoldersView, qtbot: QtBot, tmp_path: Path, pick: Callable[[Path], list[str]],
        broker_profile: BrokerProfile, topic: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreachable network share may take seconds to answer: the GUI thread never waits."""
    saved = _add_ready(view, qtbot, pick, _folder_dir(tmp_path), broker_profile, topic)
    share = str(tmp_path / "unreachable-share")
    real_check = folders.folder_problem
    asked: list[str] = []
    started = threading.Event()

    def slow_check(path: str) -> str | None:
        asked.append(path)
        if path == share:
            started.set()
            time.sleep(SLOW_CHECK_SECONDS)
        return real_check(path)

    monkeypatch.setattr(folders, "folder_problem", slow_check)
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    try:
        begin = time.monotonic()
        view.path_edit.clear()
        qtbot.keyClicks(view.path_edit, share)
        assert time.monotonic() - begin < 1  # typing never waits for the file system
        ticks.clear()
        assert view.errors.text() == CHECKING
        assert not view.apply_button.isEnabled()  # never Apply an unchecked path
        assert not view.open_button.isEnabled()
        qtbot.waitUntil(started.is_set)
        view.on_apply_clicked()
        assert view.store.settings.folders[0].path == saved.path
        assert view.errors.text() == CHECKING
        qtbot.waitUntil(lambda: "does not exist" in view.errors.text(), timeout=10_000)
    finally:
        timer.stop()
    assert f"The folder {share} does not exist." in view.errors.text()
    assert not view.apply_button.isEnabled()
    assert asked.count(share) == 1  # once typing paused, not once per keystroke
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 20, ticks
    assert max(gaps) < SLOW_CHECK_SECONDS / 2, gaps  # the event loop ran all along


def test_a_late_answer_about_an_older_path_is_ignored(
        view: FoldersView, qtbot: QtBot, tmp_path: Path, pick: Callable[[Path], list[str]],
        broker_profile: BrokerProfile, topic: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _add_ready(view, qtbot, pick, _folder_dir(tmp_path, "a"), broker_profile, topic)
    other = str(_folder_dir(tmp_path, "b"))
    share = str(tmp_path / "unreachable-share")
    real_check = folders.folder_problem
    started, release = threading.Event(), threading.Event()

    def hanging_check(path: str) -> str | None:
        if path == share:
            started.set()
            release.wait(10)
        return real_check(path)

    monkeypatch.setattr(folders, "folder_problem", hanging_check)
    try:
        view.path_edit.setText(share)
        view.path_edit.textEdited.emit(share)
        qtbot.waitUntil(started.is_set)
        view.path_edit.setText(other)
        view.path_edit.textEdited.emit(other)
        assert view.errors.text() == CHECKING
        # The new path's check does not queue behind the one still hanging.
        qtbot.waitUntil(view.apply_button.isEnabled)
    finally:
        release.set()
    qtbot.waitUntil(lambda: view.checks.known(share))
    assert "does not exist" not in view.errors.text()
    assert view.apply_button.isEnabled()
    qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    assert view.store.settings.folders[0].path == other


def test_form_settings_are_saved(view: FoldersView, qtbot: QtBot, tmp_path: Path,
                                 pick: Callable[[Path], list[str]],
                                 broker_profile: BrokerProfile, topic: str) -> None:
    _add_ready(view, qtbot, pick, _folder_dir(tmp_path), broker_profile, topic)
    view.advanced.set_expanded(True)
    sizes = [view.chunk_combo.itemData(i) for i in range(view.chunk_combo.count())]
    assert sizes == list(CHUNK_SIZES)
    assert view.chunk_combo.currentText() == "512 KiB (default)"
    view.chunk_combo.setCurrentIndex(view.chunk_combo.findData(2 << 20))
    view.stable_spin.setValue(1.5)
    _tick(qtbot, view.existing_check)
    _tick(qtbot, view.polling_check)
    _tick(qtbot, view.hidden_check)
    qtbot.keyClicks(view.include_edit, "*.csv")
    view.exclude_regex_edit.setText("x")
    view.exclude_regex_edit.textEdited.emit("x")
    assert "(unsaved)" in _status(view)
    qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)

    [folder] = view.store.settings.folders
    assert folder.chunk_size == 2 << 20
    assert folder.stable_seconds == 1.5
    assert folder.upload_existing
    assert folder.polling
    assert not folder.skip_hidden
    assert (folder.include_globs, folder.exclude_regex) == (["*.csv"], "x")
    assert _status(view) == "Enabled"


def test_chunk_size_set_elsewhere_is_kept(view: FoldersView, store: SettingsStore,
                                          tmp_path: Path, broker_profile: BrokerProfile) -> None:
    settings = store.settings
    settings.folders.append(WatchedFolder(path=str(_folder_dir(tmp_path)), topic="t",
                                          profile_id=broker_profile.id, chunk_size=4096,
                                          enabled=False))
    store.update(settings)
    view.select(settings.folders[0].id)
    assert view.chunk_combo.currentText() == "4 KiB (custom)"
    assert view.current_item() == settings.folders[0]
    assert not view.apply_button.isEnabled()  # loading is not editing


def test_enable_disable_and_pause_toggle_the_flags(
        view: FoldersView, qtbot: QtBot, tmp_path: Path, pick: Callable[[Path], list[str]],
        broker_profile: BrokerProfile, topic: str) -> None:
    folder = _add_ready(view, qtbot, pick, _folder_dir(tmp_path), broker_profile, topic)
    assert folder.enabled
    assert not folder.paused
    assert view.enable_button.text() == "Disabl&e"
    assert view.pause_button.text() == "Pa&use"

    qtbot.mouseClick(view.pause_button, Qt.MouseButton.LeftButton)
    assert view.store.settings.folders[0].paused
    assert _status(view) == "Paused"
    assert view.pause_button.text() == "Res&ume"

    qtbot.mouseClick(view.enable_button, Qt.MouseButton.LeftButton)
    assert not view.store.settings.folders[0].enabled
    assert _status(view) == "Disabled"
    assert view.enable_button.text() == "&Enable"
    assert not view.enabled_check.isChecked()

    qtbot.mouseClick(view.enable_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(view.pause_button, Qt.MouseButton.LeftButton)
    saved = view.store.settings.folders[0]
    assert saved.enabled
    assert not saved.paused
    assert _status(view) == "Enabled"

    # The checkbox in the form is an edit like any other: saved on Apply.
    _tick(qtbot, view.enabled_check)
    assert view.store.settings.folders[0].enabled
    qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    assert not view.store.settings.folders[0].enabled


def test_toggles_keep_unsaved_edits(view: FoldersView, qtbot: QtBot, tmp_path: Path,
                                    pick: Callable[[Path], list[str]],
                                    broker_profile: BrokerProfile, topic: str) -> None:
    _add_ready(view, qtbot, pick, _folder_dir(tmp_path), broker_profile, topic)
    qtbot.keyClicks(view.include_edit, "abc")
    qtbot.mouseClick(view.pause_button, Qt.MouseButton.LeftButton)
    assert view.store.settings.folders[0].paused
    assert view.store.settings.folders[0].include_globs == []
    assert view.include_edit.text() == "abc"
    assert view.apply_button.isEnabled()


def test_remove_deletes(view: FoldersView, qtbot: QtBot, tmp_path: Path,
                        pick: Callable[[Path], list[str]], broker_profile: BrokerProfile,
                        topic: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _add_ready(view, qtbot, pick, _folder_dir(tmp_path, "a"), broker_profile, topic)
    pick(_folder_dir(tmp_path, "b"))
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)  # new, unsaved
    assert view.table.rowCount() == 2
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda _parent, _title, text, *_args: asked.append(text)
        or QMessageBox.StandardButton.Yes))
    qtbot.mouseClick(view.remove_button, Qt.MouseButton.LeftButton)
    assert view.table.rowCount() == 1
    assert len(view.store.settings.folders) == 1
    assert asked == []  # an unsaved folder goes without asking
    view.table.selectRow(0)
    qtbot.mouseClick(view.remove_button, Qt.MouseButton.LeftButton)
    assert asked == [f"Remove the watched folder “{tmp_path / 'a'}”?\n\nFiles already "
                     "transferred stay where they are."]
    assert view.table.rowCount() == 0
    assert view.store.settings.folders == []
    assert not view.remove_button.isEnabled()
    assert (tmp_path / "a").is_dir()  # the folder itself is untouched


def test_unsaved_edits_survive_switching_rows(view: FoldersView, qtbot: QtBot, tmp_path: Path,
                                              pick: Callable[[Path], list[str]],
                                              broker_profile: BrokerProfile, topic: str) -> None:
    first = _add_ready(view, qtbot, pick, _folder_dir(tmp_path, "a"), broker_profile, topic)
    second = _add_ready(view, qtbot, pick, _folder_dir(tmp_path, "b"), broker_profile, topic)
    view.select(first.id)
    qtbot.keyClicks(view.include_edit, "first")
    view.select(second.id)
    assert view.include_edit.text() == ""
    view.select(first.id)
    assert view.include_edit.text() == "first"
    assert "(unsaved)" in _status(view, 0)
    assert view.revert_button.isEnabled()


def test_view_follows_store_changes_from_any_thread(view: FoldersView, qtbot: QtBot,
                                                    store: SettingsStore, tmp_path: Path,
                                                    broker_profile: BrokerProfile) -> None:
    settings = store.settings
    settings.folders.append(WatchedFolder(path=str(_folder_dir(tmp_path, "a")), topic="t1",
                                          profile_id=broker_profile.id, enabled=False))
    store.update(settings)
    assert view.table.rowCount() == 1

    def elsewhere() -> None:
        s = store.settings
        s.folders.append(WatchedFolder(path=str(tmp_path / "a"), topic="t2",
                                       profile_id=broker_profile.id, enabled=False))
        s.profiles[1].name = "Renamed broker"
        store.update(s)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: view.table.rowCount() == 2)
    assert view.table.item(0, 1).text() == "Renamed broker"  # type: ignore[union-attr]
    assert view.profile_combo.findText("Renamed broker") >= 0


def test_long_names_do_not_widen_the_table(view: FoldersView, store: SettingsStore,
                                           tmp_path: Path, broker_profile: BrokerProfile) -> None:
    settings = store.settings
    settings.folders.append(WatchedFolder(path=str(_folder_dir(tmp_path)), topic="t" * 200,
                                          profile_id=broker_profile.id, enabled=False))
    store.update(settings)
    assert view.table.columnWidth(2) <= 220
    assert view.table.item(0, 2).toolTip() == "t" * 200  # type: ignore[union-attr]


def test_topic_list_loads_from_the_broker(view: FoldersView, qtbot: QtBot, tmp_path: Path,
                                          pick: Callable[[Path], list[str]],
                                          make_topic: Callable[..., str],
                                          broker_profile: BrokerProfile) -> None:
    existing = make_topic(1)
    pick(_folder_dir(tmp_path))
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    _choose_profile(view, broker_profile)
    picker = view.topic_picker
    assert picker.topics() == []
    qtbot.mouseClick(picker.refresh_button, Qt.MouseButton.LeftButton)
    assert "Loading" in picker.status.text()
    qtbot.waitUntil(lambda: existing in picker.topics(), timeout=20_000)
    assert f"on {broker_profile.name}" in picker.status.text()
    picker.combo.setCurrentIndex(picker.topics().index(existing))
    assert view.current_item().topic == existing  # type: ignore[union-attr]
    assert view.apply_button.isEnabled()


def test_topic_list_error_is_plain_text(qtbot: QtBot, store: SettingsStore,
                                        controller: AppController, tasks: Tasks,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import Future

    from openmsi_gui.ui.views.topic_picker import TopicPicker

    def failing(profile: BrokerProfile) -> Future[list[str]]:
        future: Future[list[str]] = Future()
        future.set_exception(admin.BrokerError("nothing accepts connections at x:1"))
        return future

    monkeypatch.setattr(controller, "list_topics", failing)
    picker = TopicPicker(controller, tasks)
    qtbot.addWidget(picker)
    qtbot.mouseClick(picker.refresh_button, Qt.MouseButton.LeftButton)
    assert not picker.refresh_button.isEnabled()  # no broker chosen yet
    picker.set_profile(BrokerProfile(name="Nowhere", bootstrap_servers="x:1"))
    qtbot.mouseClick(picker.refresh_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Could not list the topics" in picker.status.text())
    assert "nothing accepts connections" in picker.status.text()


def test_create_topic_creates_it_on_the_broker(view: FoldersView, qtbot: QtBot, tmp_path: Path,
                                               pick: Callable[[Path], list[str]],
                                               monkeypatch: pytest.MonkeyPatch,
                                               kafka_config: KafkaConfig,
                                               broker_profile: BrokerProfile) -> None:
    name = f"ui-{uuid.uuid4().hex[:10]}"
    asked: list[str] = []

    def ask(parent: object, broker: str, typed: str = "") -> tuple[str, int]:
        asked.append(broker)
        return name, 2

    monkeypatch.setattr(CreateTopicDialog, "ask", staticmethod(ask))
    pick(_folder_dir(tmp_path))
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    _choose_profile(view, broker_profile)
    qtbot.mouseClick(view.topic_picker.create_button, Qt.MouseButton.LeftButton)
    assert asked == [broker_profile.name]
    qtbot.waitUntil(lambda: name in view.topic_picker.topics(), timeout=20_000)
    assert admin.list_topics(kafka_config)[name] == 2
    assert view.topic_picker.topic() == name
    assert f"Created topic {name}." in view.topic_picker.status.text()
    assert view.current_item().topic == name  # type: ignore[union-attr]
    assert view.apply_button.isEnabled()


def test_create_topic_refuses_bad_names_without_asking_the_broker(
        view: FoldersView, qtbot: QtBot, tmp_path: Path, pick: Callable[[Path], list[str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CreateTopicDialog, "ask", staticmethod(lambda *a: ("bad name", 3)))
    pick(_folder_dir(tmp_path))
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(view.topic_picker.create_button, Qt.MouseButton.LeftButton)
    assert "Not created" in view.topic_picker.status.text()


def test_the_create_topic_dialog_folds_partitions_away(qtbot: QtBot) -> None:
    dialog = CreateTopicDialog("Lab broker", "raw")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.name_edit.isVisible()
    assert not dialog.partitions_spin.isVisible()
    assert dialog.values() == ("raw", DEFAULT_PARTITIONS)
    dialog.advanced.set_expanded(True)
    assert dialog.partitions_spin.isVisible()


def _fake_topics(monkeypatch: pytest.MonkeyPatch, controller: AppController,
                 topics: list[str]) -> None:
    from concurrent.futures import Future

    def listed(profile: BrokerProfile) -> Future[list[str]]:
        future: Future[list[str]] = Future()
        future.set_result(list(topics))
        return future

    monkeypatch.setattr(controller, "list_topics", listed)


def test_the_only_topic_is_chosen_and_the_hint_goes(
        view: FoldersView, qtbot: QtBot, tmp_path: Path, pick: Callable[[Path], list[str]],
        broker_profile: BrokerProfile, controller: AppController,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_topics(monkeypatch, controller, ["lab-data"])
    pick(_folder_dir(tmp_path))
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    _choose_profile(view, broker_profile)
    picker = view.topic_picker
    assert picker.status.text() == REFRESH_HINT
    qtbot.mouseClick(picker.refresh_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: picker.topic() == "lab-data")
    assert "one topic, lab-data: chosen" in picker.status.text()
    assert view.current_item().topic == "lab-data"  # type: ignore[union-attr]
    # Another folder on the same broker shows the list without asking again.
    pick(_folder_dir(tmp_path, "second"))
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    _choose_profile(view, broker_profile)
    assert REFRESH_HINT not in picker.status.text()
    assert picker.topics() == ["lab-data"]


def test_the_refresh_hint_shows_only_while_the_topic_is_empty(
        qtbot: QtBot, controller: AppController, tasks: Tasks) -> None:
    from openmsi_gui.ui.views.topic_picker import TopicPicker

    picker = TopicPicker(controller, tasks)
    qtbot.addWidget(picker)
    picker.set_profile(BrokerProfile(name="Nowhere", bootstrap_servers="x:1"))
    assert picker.status.text() == REFRESH_HINT
    qtbot.keyClicks(picker.combo, "typed")
    assert picker.status.text() == ""
    picker.set_topic("")
    assert picker.status.text() == REFRESH_HINT
    picker.set_topic("chosen")
    assert picker.status.text() == ""


def test_inputs_and_buttons_have_accessible_names(view: FoldersView) -> None:
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QDoubleSpinBox, QLineEdit

    widgets = view.findChildren(QAbstractButton) + view.findChildren(QComboBox) \
        + view.findChildren(QLineEdit) + view.findChildren(QDoubleSpinBox)
    unnamed = [w for w in widgets if not w.accessibleName()
               and not isinstance(w.parent(), (QComboBox, QAbstractSpinBox))
               and type(w.parent()).__name__ not in {"QScrollBar", "QTableWidget"}]
    assert unnamed == []


def test_filters_go_to_an_openmsistream_config_and_come_back(
        view: FoldersView, qtbot: QtBot, tmp_path: Path, pick: Callable[[Path], list[str]],
        broker_profile: BrokerProfile, topic: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _add_ready(view, qtbot, pick, _folder_dir(tmp_path), broker_profile, topic)
    qtbot.keyClicks(view.exclude_edit, "*.bak, **/scratch/**")
    _tick(qtbot, view.hidden_check)
    qtbot.mouseClick(view.apply_button, Qt.MouseButton.LeftButton)
    config = tmp_path / "instrument.config"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a: (str(config), "")))
    view.advanced.set_expanded(True)
    qtbot.mouseClick(view.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Exported to instrument.config" in view.ini_status.text())
    assert "upload_regex = ^" in config.read_text()

    view.exclude_edit.clear()  # edits, then the file's filters replace them (unsaved)
    view.exclude_edit.textEdited.emit("")
    _tick(qtbot, view.hidden_check)
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a: (str(config), "")))
    qtbot.mouseClick(view.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Filters imported" in view.ini_status.text())
    assert view.exclude_edit.text() == "*.bak, **/scratch/**"
    assert not view.hidden_check.isChecked()
    assert not view.apply_button.isEnabled()  # the same as saved: nothing to apply
