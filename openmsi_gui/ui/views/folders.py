"""The watched folders view, and the list-plus-form base it shares with destinations.

Validation lives in pure functions at module level (:func:`validate_folder`,
:func:`path_problem`, ...) so it can be tested without Qt. The views only
render items, keep unsaved edits per item and write through
:meth:`SettingsStore.update`; the controller starts and stops jobs on its own
when the settings change.

Whether a folder exists is asked of the file system off the GUI thread
(:func:`folder_problem` can hang for tens of seconds on an unreachable network
share): the form checks a path once typing pauses, says "Checking the folder…"
meanwhile, and offers Apply only once the current path has been checked.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
from collections.abc import Callable
from pathlib import PurePath
from typing import ClassVar, Generic, TypeVar

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import (
    QDesktopServices,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app.controller import AppController, job_id
from openmsi_gui.app.formatting import format_bytes
from openmsi_gui.app.settings import (
    Destination,
    Settings,
    SettingsStore,
    WatchedFolder,
)
from openmsi_gui.app.transfers import AppStatus
from openmsi_gui.engine import wire
from openmsi_gui.engine.events import JobState, JobStatus
from openmsi_gui.engine.watcher import DEFAULT_EXCLUDE
from openmsi_gui.ui.icons import status_icon
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.tasks import CHECK_DELAY_MS, run_in_thread, when_done
from openmsi_gui.ui.views.topic_picker import TopicPicker, topic_problem

CHUNK_SIZES = tuple(1 << n for n in range(16, 25))
"""Chunk sizes offered in the form: powers of two from 64 KiB to 16 MiB."""

MAX_STABLE_SECONDS = 3600.0
MAX_COLUMN_WIDTH = 220  # pixels; longer names are elided, with the full text as tooltip
ERROR_STYLE = "color: #c0392b;"  # problems are always spelled out too, never colour alone
CHECKING = "Checking the folder…"

T = TypeVar("T")
FolderCheck = Callable[[str], str | None]
"""Why a path is not a usable folder, or None (see :func:`folder_problem`)."""


# -- pure helpers (no Qt) -----------------------------------------------------------


def _normalized(path: str) -> PurePath:
    return PurePath(os.path.normcase(os.path.abspath(path)))


def same_or_inside(a: str, b: str) -> bool:
    """Whether folder ``a`` is ``b`` or inside it, or ``b`` inside ``a`` (paths only, no I/O)."""
    if not a or not b:
        return False
    pa, pb = _normalized(a), _normalized(b)
    return pa == pb or pa in pb.parents or pb in pa.parents


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot name a folder, judged by its text alone (no I/O), or None."""
    if not path.strip():
        return "Choose a folder."
    if not os.path.isabs(path):
        return f"Use a full path for the folder, not {path!r}."
    return None


def folder_problem(path: str) -> str | None:
    """Why ``path`` is not a usable folder, or None.

    Blocking: it asks the file system, which can take tens of seconds on an
    unreachable network share. The views call it off the GUI thread.
    """
    if (problem := path_problem(path)) is not None:
        return problem
    if not os.path.exists(path):
        return f"The folder {path} does not exist."
    if not os.path.isdir(path):
        return f"{path} is a file, not a folder."
    return None


def folder_problems(paths: list[str]) -> dict[str, str | None]:
    """:func:`folder_problem` of each path, by its normalized form (blocking)."""
    return {os.path.normpath(path): folder_problem(path) for path in paths}


def profile_problem(profile_id: str, settings: Settings) -> str | None:
    """Why ``profile_id`` cannot be used, or None."""
    if not settings.profiles:
        return "Add a broker first (Brokers tab)."
    if settings.profile(profile_id) is None:
        return "Choose a broker."
    return None


def regex_problem(pattern: str, what: str) -> str | None:
    """Why ``pattern`` is not a valid regular expression, or None."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"The {what} pattern is not a valid regular expression: {exc}."
    return None


def validate_folder(folder: WatchedFolder, settings: Settings,
                    folder_check: FolderCheck = folder_problem) -> list[str]:
    """Everything wrong with ``folder`` as one sentence each (empty if it can be saved).

    Args:
        folder: the folder as edited.
        settings: the saved settings (``folder`` itself may or may not be in them).
        folder_check: what is wrong with the path; the default asks the file system
            (blocking), the views pass what their background check found.
    """
    errors: list[str] = []
    if (problem := folder_check(folder.path)) is not None:
        errors.append(problem)
    if (problem := profile_problem(folder.profile_id, settings)) is not None:
        errors.append(problem)
    if (problem := topic_problem(folder.topic)) is not None:
        errors.append(problem[:1].upper() + problem[1:] + ".")
    for pattern, what in ((folder.include, "include"), (folder.exclude, "exclude")):
        if (problem := regex_problem(pattern, what)) is not None:
            errors.append(problem)
    try:
        wire.check_chunk_size(folder.chunk_size)
    except ValueError as exc:
        errors.append(f"The {exc}.")
    if not 0 <= folder.stable_seconds <= MAX_STABLE_SECONDS:
        errors.append(f"The stable time must be between 0 and {MAX_STABLE_SECONDS:g} seconds.")
    if folder.path and folder.topic:
        for other in settings.folders:
            if (other.id != folder.id and other.topic == folder.topic
                    and other.profile_id == folder.profile_id
                    and _normalized(other.path) == _normalized(folder.path)):
                errors.append(f"{other.path} is already sent to {folder.topic}.")
        for dest in settings.destinations:
            if (dest.kind == "folder" and dest.topic == folder.topic
                    and dest.profile_id == folder.profile_id
                    and same_or_inside(folder.path, dest.path)):
                errors.append(f"Files downloaded from {folder.topic} into {dest.path} would be "
                              "sent again: watch a folder outside it, or use another topic.")
    return errors


def status_text(enabled: bool, paused: bool, failed: bool = False,
                waiting: bool = False) -> tuple[AppStatus, str]:
    """The status icon and word for an item (the word never depends on colour).

    ``waiting``: its job runs but cannot go on for now (e.g. the disk is full).
    """
    if not enabled:
        return AppStatus.IDLE, "Disabled"
    if paused:
        return AppStatus.PAUSED, "Paused"
    if failed:
        return AppStatus.ERROR, "Failed"
    if waiting:
        return AppStatus.ERROR, "Waiting"
    return AppStatus.TRANSFERRING, "Enabled"


# -- the shared list-plus-form view ----------------------------------------------------


def buddy_label(text: str, buddy: QWidget) -> QLabel:
    """A form label whose mnemonic (``&x``) focuses ``buddy``."""
    label = QLabel(text)
    label.setBuddy(buddy)
    return label


def with_error(field: QWidget, error: QWidget) -> QWidget:
    """``field`` with its inline problem right under it, as one form cell."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(field)
    layout.addWidget(error)
    return box


ItemT = TypeVar("ItemT", WatchedFolder, Destination)


class ItemsView(QWidget, Generic[ItemT]):
    """A table of items with Add/Remove/Enable/Pause, and an edit form with Apply/Revert.

    Subclasses say how an item is made, shown, edited and validated. Unsaved
    edits are kept per item (switching rows loses nothing); new items exist
    only in the view until Apply. Store updates made elsewhere (on any thread)
    and job failures reported on the controller's bus are shown as they come.
    """

    NOUN: ClassVar[str] = "item"
    COLUMNS: ClassVar[tuple[str, ...]] = ("Folder", "Broker", "Topic", "Status")
    ADD_CAPTION: ClassVar[str] = "Choose a folder"
    DROP_HINT: ClassVar[str] = "Tip: drop folders from your file manager onto this list."

    def __init__(self, store: SettingsStore, controller: AppController,
                 parent: QWidget | None = None, state: LiveState | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.controller = controller
        self.state = state or LiveState.standalone(store, controller, self)
        self._settings = store.settings
        self._drafts: dict[str, ItemT] = {}  # unsaved versions, by id
        self._new_ids: list[str] = []  # drafts that are not in the settings yet
        self._retried: set[str] = set()  # jobs applied again: their last problem is stale
        self._loading = False
        self._path_checks: dict[str, str | None] = {}  # path -> folder_problem(path)
        self._in_flight: set[str] = set()  # paths being checked now
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(CHECK_DELAY_MS)
        self._check_timer.timeout.connect(self._on_check_timer_timeout)
        self.setAcceptDrops(True)
        self._build_list()
        self._build_common_inputs()
        self.form_box = QGroupBox()
        form = QFormLayout(self.form_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._build_form(form)
        self._build_apply_row()
        self._assemble()
        self._connect_sources()
        self._fill_profiles("")
        self._refresh_table()
        self._select_row(0)
        self._on_current_changed()

    # -- construction -----------------------------------------------------------

    def _build_list(self) -> None:
        noun = self.NOUN
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setAccessibleName(f"{noun.capitalize()}s")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        header.setMaximumSectionSize(MAX_COLUMN_WIDTH)
        self.table.itemSelectionChanged.connect(self._on_current_changed)
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.table)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self.on_remove_clicked)

        self.add_button = self._button("&Add…", f"Add {noun}", self.on_add_clicked)
        self.remove_button = self._button("Re&move", f"Remove {noun}", self.on_remove_clicked)
        self.enable_button = self._button("Disabl&e", f"Enable or disable {noun}",
                                          self.on_enable_clicked)
        self.pause_button = self._button("Pa&use", f"Pause or resume {noun}",
                                         self.on_pause_clicked)
        self.add_button.setToolTip(f"Add a {noun}")
        self.remove_button.setToolTip(f"Stop using the selected {noun} (no files are deleted)")
        self.pause_button.setToolTip("Hold transfers back without disconnecting")
        self.hint = QLabel(self.DROP_HINT)
        self.hint.setWordWrap(True)
        self.hint.setAccessibleName("Hint")

    def _build_common_inputs(self) -> None:
        self.path_edit = QLineEdit()
        self.path_edit.setAccessibleName("Folder path")
        self.path_edit.setPlaceholderText("full path of a folder")
        self.path_edit.textEdited.connect(self._on_form_changed)
        self.browse_button = self._button("Bro&wse…", "Browse for folder",
                                          self.on_browse_clicked)
        self.open_button = self._button("&Open folder", "Open folder",
                                        self.on_open_clicked)
        self.open_button.setToolTip("Show the folder in the file manager")
        self.path_row = QWidget()
        row = QHBoxLayout(self.path_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        row.addWidget(self.open_button)

        self.profile_combo = QComboBox()
        self.profile_combo.setAccessibleName("Broker")
        self.profile_combo.setToolTip("Which broker profile (Brokers tab) to use")
        self.profile_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.profile_combo.setMinimumContentsLength(16)
        self.profile_combo.currentIndexChanged.connect(self._on_profile_changed)

        self.topic_picker = TopicPicker(self.controller)
        self.topic_picker.topicChanged.connect(self._on_form_changed)

        self.enabled_check = QCheckBox("Enabled")
        self.enabled_check.setAccessibleName("Enabled")
        self.enabled_check.toggled.connect(self._on_form_changed)

    def _build_apply_row(self) -> None:
        self.errors = QLabel()
        self.errors.setWordWrap(True)
        self.errors.setTextFormat(Qt.TextFormat.PlainText)
        self.errors.setAccessibleName("Problems")
        self.errors.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.errors.setMinimumHeight(self.errors.fontMetrics().lineSpacing() * 3)
        self.revert_button = self._button("Re&vert", "Revert changes", self.on_revert_clicked)
        self.revert_button.setToolTip("Forget the changes made since the last Apply")
        self.apply_button = self._button("Appl&y", "Apply changes", self.on_apply_clicked)
        self.apply_button.setToolTip("Save the changes; they take effect at once")
        self.apply_row = QHBoxLayout()
        self.apply_row.addWidget(self.errors, 1, Qt.AlignmentFlag.AlignTop)
        self.apply_row.addWidget(self.revert_button, 0, Qt.AlignmentFlag.AlignTop)
        self.apply_row.addWidget(self.apply_button, 0, Qt.AlignmentFlag.AlignTop)

    def _assemble(self) -> None:
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.enable_button,
                       self.pause_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.table, 1)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.hint)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.form_box)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        bar = scroll.verticalScrollBar()
        right = QWidget()
        right.setMinimumWidth(self.form_box.minimumSizeHint().width()
                              + (bar.sizeHint().width() if bar is not None else 0))
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(scroll, 1)
        right_layout.addLayout(self.apply_row)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)

        chain = [self.table, self.add_button, self.remove_button, self.enable_button,
                 self.pause_button, *self._form_tab_order(), self.apply_button,
                 self.revert_button]
        for first, second in itertools.pairwise(chain):
            self.setTabOrder(first, second)

    def _connect_sources(self) -> None:
        """Follow the settings and the jobs' states, both delivered on the GUI thread."""
        self.state.adapter.settingsChanged.connect(self._on_store_changed)
        self.state.jobsChanged.connect(self._on_jobs_changed)

    def _button(self, text: str, name: str, slot: object) -> QPushButton:
        button = QPushButton(text)
        button.setAccessibleName(name)
        button.clicked.connect(slot)
        return button

    # -- what subclasses provide ------------------------------------------------

    def _build_form(self, form: QFormLayout) -> None:
        """Add the rows of the edit form (the common inputs are ready to place)."""
        raise NotImplementedError

    def _form_tab_order(self) -> list[QWidget]:
        """The form's inputs in tab order."""
        raise NotImplementedError

    def _items(self, settings: Settings) -> list[ItemT]:
        """The list in ``settings`` this view edits (mutable)."""
        raise NotImplementedError

    def _new_item(self, path: str, profile_id: str) -> ItemT:
        """A new item for ``path`` using ``profile_id``."""
        raise NotImplementedError

    def _validate(self, item: ItemT, settings: Settings) -> list[str]:
        """The problems of ``item``, its folder as far as checked (see :meth:`_checked_problem`)."""
        raise NotImplementedError

    def _checks_path(self, item: ItemT) -> bool:
        """Whether ``item`` has a folder the file system must confirm."""
        return True

    def _job_name(self, item: ItemT) -> str:
        """The name of the item's job in engine events."""
        raise NotImplementedError

    def _columns(self, item: ItemT, settings: Settings) -> list[str]:
        """The texts of every column but the last (status)."""
        raise NotImplementedError

    def _load_specific(self, item: ItemT) -> None:
        """Show the subclass's fields of ``item`` in the form."""
        raise NotImplementedError

    def _read_specific(self, item: ItemT) -> ItemT:
        """``item`` with the subclass's fields as the form shows them."""
        raise NotImplementedError

    # -- public -----------------------------------------------------------------

    def add_paths(self, paths: list[str]) -> list[str]:
        """Add new (unsaved) items for ``paths``, select the last; returns their ids."""
        profiles = self._settings.profiles
        profile_id = profiles[0].id if profiles else ""
        ids = []
        for path in paths:
            item = self._new_item(os.path.normpath(path), profile_id)
            self._drafts[item.id] = item
            self._new_ids.append(item.id)
            ids.append(item.id)
        if ids:
            self._refresh_table()
            self._select_id(ids[-1])
            self.topic_picker.setFocus(Qt.FocusReason.OtherFocusReason)
        return ids

    def current_id(self) -> str | None:
        """The id of the selected item."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        cell = self.table.item(rows[0].row(), 0)
        return None if cell is None else str(cell.data(Qt.ItemDataRole.UserRole))

    def current_item(self) -> ItemT | None:
        """The selected item, with its unsaved changes."""
        item_id = self.current_id()
        return None if item_id is None else self._working(item_id)

    def select(self, item_id: str) -> None:
        """Select the item ``item_id``."""
        self._select_id(item_id)

    # -- drag and drop ----------------------------------------------------------

    @staticmethod
    def dropped_paths(event: QDropEvent) -> list[str]:
        """The local paths among the URLs of a drag (no I/O: folders are told apart on drop)."""
        mime = event.mimeData()
        if mime is None or not mime.hasUrls():
            return []
        paths = (url.toLocalFile() for url in mime.urls() if url.isLocalFile())
        return [path for path in paths if path]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept a drag that carries local files or folders."""
        if self.dropped_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        """Keep accepting a drag that carries local files or folders."""
        if self.dropped_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """Add each dropped folder once checked off the GUI thread; dropped files are ignored."""
        paths = self.dropped_paths(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        when_done(run_in_thread(folder_problems, paths), self._on_drop_checked, context=self)

    def _on_drop_checked(self, problems: dict[str, str | None]) -> None:
        self._path_checks.update(problems)
        self.add_paths([path for path, problem in problems.items() if problem is None])

    # -- slots ------------------------------------------------------------------

    def on_add_clicked(self) -> None:
        path = QFileDialog.getExistingDirectory(self, self.ADD_CAPTION, self._start_dir())
        if path:
            self._path_checks[os.path.normpath(path)] = None  # the dialog chose a folder
            self.add_paths([path])

    def on_browse_clicked(self) -> None:
        path = QFileDialog.getExistingDirectory(self, self.ADD_CAPTION, self._start_dir())
        if path:
            self._path_checks[os.path.normpath(path)] = None  # the dialog chose a folder
            self.path_edit.setText(os.path.normpath(path))
            self._on_form_changed()

    def on_open_clicked(self) -> None:
        path = self.path_edit.text().strip()
        if self._is_folder(path):
            QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    def on_remove_clicked(self) -> None:
        item_id = self.current_id()
        if item_id is None:
            return
        row = self.table.currentRow()
        self._drafts.pop(item_id, None)
        if item_id in self._new_ids:
            self._new_ids.remove(item_id)
            self._refresh_table()
        else:
            settings = self.store.settings
            items = self._items(settings)
            items[:] = [i for i in items if i.id != item_id]
            self._save(settings)
        self._select_row(min(row, self.table.rowCount() - 1))

    def on_enable_clicked(self) -> None:
        self._toggle("enabled")

    def on_pause_clicked(self) -> None:
        self._toggle("paused")

    def on_apply_clicked(self) -> None:
        item = self.current_item()
        if item is None:
            return
        if self._path_pending(item):  # Apply is disabled meanwhile; never save unchecked
            self._show_problems([CHECKING], problem=False)
            return
        settings = self.store.settings
        errors = self._validate(item, settings)
        if errors:
            self._show_problems(errors)
            return
        items = self._items(settings)
        index = next((i for i, other in enumerate(items) if other.id == item.id), None)
        if index is None:
            items.append(item)
        else:
            items[index] = item
        self._retried.add(self._job_name(item))  # its last problem no longer counts
        self._drafts.pop(item.id, None)
        if item.id in self._new_ids:
            self._new_ids.remove(item.id)
        self._save(settings)

    def on_revert_clicked(self) -> None:
        item_id = self.current_id()
        if item_id is None:
            return
        self._drafts.pop(item_id, None)
        if item_id in self._new_ids:
            self.on_remove_clicked()
            return
        self._refresh_table()
        self._on_current_changed()

    # -- reacting to the store, the bus and the form -----------------------------

    def _on_store_changed(self, settings: Settings) -> None:
        self._settings = settings
        stored = {item.id: item for item in self._items(settings)}
        for item_id, draft in list(self._drafts.items()):
            if item_id in self._new_ids:
                continue
            if item_id not in stored:
                del self._drafts[item_id]
                continue
            # Pausing is not part of the form: follow whatever set it.
            followed = dataclasses.replace(draft, paused=stored[item_id].paused)
            if followed == stored[item_id]:
                del self._drafts[item_id]
            else:
                self._drafts[item_id] = followed
        self._refresh_table()
        self._on_current_changed()

    def _on_jobs_changed(self, events: list[JobState]) -> None:
        self._retried.difference_update(e.job for e in events if e.state is not JobStatus.PAUSED)
        mine = {self._job_name(item) for item in self._items(self._settings)}
        if any(event.job in mine for event in events):
            self._refresh_table()
            self._update_state()

    def _problem(self, item: ItemT) -> tuple[str, str]:
        """Why the item's job failed and what it waits for ("" if nothing, or retried)."""
        name = self._job_name(item)
        return ("", "") if name in self._retried else self.state.job_problem(name)

    def _on_current_changed(self) -> None:
        item = self.current_item()
        self.form_box.setEnabled(item is not None)
        if item is None:
            self.form_box.setTitle(f"No {self.NOUN} selected")
            self._loading = True
            try:
                self._fill_profiles("")
                self.path_edit.clear()
                self.topic_picker.set_topic("")
            finally:
                self._loading = False
        else:
            self.form_box.setTitle(f"Selected {self.NOUN}")
            self._load(item)
        self._update_state()
        path = self._path_to_check(item)
        if path in self._path_checks:  # shown as last checked; look again, it may have changed
            self._check_path(path)

    def _on_profile_changed(self) -> None:
        profile_id = self.profile_combo.currentData()
        self.topic_picker.set_profile(self._settings.profile(str(profile_id or "")))
        self._on_form_changed()

    def _on_form_changed(self) -> None:
        if self._loading:
            return
        item_id = self.current_id()
        base = None if item_id is None else self._working(item_id)
        if item_id is None or base is None:
            return
        edited = self._read(base)
        if item_id in self._new_ids or edited != self._stored(item_id):
            self._drafts[item_id] = edited
        else:
            self._drafts.pop(item_id, None)
        self._fill_row(self._row_of(item_id), item_id)
        self._update_state()

    # -- form -------------------------------------------------------------------

    def _load(self, item: ItemT) -> None:
        self._loading = True
        try:
            self.path_edit.setText(item.path)
            self._fill_profiles(item.profile_id)
            self.topic_picker.set_profile(self._settings.profile(item.profile_id))
            self.topic_picker.set_topic(item.topic)
            self.enabled_check.setChecked(item.enabled)
            self._load_specific(item)
        finally:
            self._loading = False

    def _read(self, base: ItemT) -> ItemT:
        profile_id = self.profile_combo.currentData()
        item = dataclasses.replace(
            base, path=self.path_edit.text().strip(), profile_id=str(profile_id or ""),
            topic=self.topic_picker.topic(), enabled=self.enabled_check.isChecked())
        return self._read_specific(item)

    def _fill_profiles(self, selected: str) -> None:
        combo = self.profile_combo
        combo.blockSignals(True)
        try:
            combo.clear()
            for profile in self._settings.profiles:
                combo.addItem(profile.name or "(unnamed broker)", profile.id)
            if selected and self._settings.profile(selected) is None:
                combo.addItem("(deleted broker)", selected)
            combo.setCurrentIndex(max(0, combo.findData(selected)) if selected else -1)
        finally:
            combo.blockSignals(False)

    def _update_state(self) -> None:
        """Buttons, toggles and the problem text for the selected item."""
        item_id = self.current_id()
        item = None if item_id is None else self._working(item_id)
        for button in (self.remove_button, self.enable_button, self.pause_button):
            button.setEnabled(item is not None)
        if item is None or item_id is None:
            self.open_button.setEnabled(False)
            self.enable_button.setText("Disabl&e")
            self.pause_button.setText("Pa&use")
            self.apply_button.setEnabled(False)
            self.revert_button.setEnabled(False)
            self._show_problems([])
            return
        self.enable_button.setText("Disabl&e" if item.enabled else "&Enable")
        self.pause_button.setText("Res&ume" if item.paused else "Pa&use")
        self.open_button.setEnabled(self._is_folder(item.path))
        dirty = item_id in self._drafts
        failure, waiting = self._problem(item) if item.enabled else ("", "")
        errors = self._validate(item, self._settings)
        checking = self._path_pending(item)
        if checking:
            self._check_timer.start()  # restarted by each keystroke: checks once typing pauses
        self.apply_button.setEnabled(not errors and not checking and (dirty or bool(failure)))
        self.revert_button.setEnabled(dirty)
        if errors:
            self._show_problems(errors)
        elif checking:
            self._show_problems([CHECKING], problem=False)
        elif failure and not dirty:
            self._show_problems([f"Could not start: {failure}", "Apply to try again."],
                                problem=True)
        elif waiting:
            self._show_problems([f"Waiting: {waiting}", "It goes on by itself once fixed."],
                                problem=True)
        elif item_id in self._new_ids:
            self._show_problems(["New: Apply to start using it."], problem=False)
        elif dirty:
            self._show_problems(["Unsaved changes."], problem=False)
        else:
            self._show_problems([])
        self._after_update(item, errors)

    def _after_update(self, item: ItemT, errors: list[str]) -> None:
        """Let a subclass mark fields (e.g. inline errors) after validation."""

    def _show_problems(self, lines: list[str], problem: bool = True) -> None:
        text = "\n".join(lines)
        self.errors.setText(text)
        self.errors.setAccessibleDescription(text)
        self.errors.setStyleSheet(ERROR_STYLE if problem else "")

    # -- table ------------------------------------------------------------------

    def _refresh_table(self) -> None:
        selected = self.current_id()
        ids = [item.id for item in self._items(self._settings)] + self._new_ids
        self.table.blockSignals(True)
        try:
            self.table.setRowCount(len(ids))
            for row, item_id in enumerate(ids):
                self._fill_row(row, item_id)
        finally:
            self.table.blockSignals(False)
        if selected in ids:
            self._select_id(selected, notify=False)
        else:
            self.table.clearSelection()

    def _fill_row(self, row: int, item_id: str) -> None:
        new = item_id in self._new_ids
        item = self._drafts.get(item_id) if new else self._stored(item_id)
        if item is None or row < 0:
            return
        texts: list[str] = self._columns(item, self._settings)
        icon: QIcon
        status: str
        failure = ""
        if new:
            icon, status = QIcon(), "New (not saved)"
        else:
            failure, waiting = self._problem(item)
            kind, status = status_text(item.enabled, item.paused, bool(failure), bool(waiting))
            failure = failure or waiting
            icon = status_icon(kind)
            if item_id in self._drafts:
                status += " (unsaved)"
        tips = [*texts, f"{status}: {failure}" if failure and item.enabled else status]
        for column, text in enumerate([*texts, status]):
            cell = QTableWidgetItem(text)
            cell.setToolTip(tips[column])
            if column == 0:
                cell.setData(Qt.ItemDataRole.UserRole, item_id)
            if column == len(texts):
                cell.setIcon(icon)
            self.table.setItem(row, column, cell)

    def _row_of(self, item_id: str) -> int:
        for row in range(self.table.rowCount()):
            cell = self.table.item(row, 0)
            if cell is not None and cell.data(Qt.ItemDataRole.UserRole) == item_id:
                return row
        return -1

    def _select_id(self, item_id: str, notify: bool = True) -> None:
        row = self._row_of(item_id)
        if row < 0:
            return
        if notify:
            self._select_row(row)
            return
        self.table.blockSignals(True)
        try:
            self.table.selectRow(row)
        finally:
            self.table.blockSignals(False)

    def _select_row(self, row: int) -> None:
        if 0 <= row < self.table.rowCount():
            self.table.selectRow(row)
        else:
            self.table.clearSelection()
            self._on_current_changed()

    # -- data -------------------------------------------------------------------

    def _stored(self, item_id: str) -> ItemT | None:
        return next((i for i in self._items(self._settings) if i.id == item_id), None)

    def _working(self, item_id: str) -> ItemT | None:
        return self._drafts.get(item_id) or self._stored(item_id)

    def _toggle(self, flag: str) -> None:
        item_id = self.current_id()
        item = None if item_id is None else self._working(item_id)
        if item_id is None or item is None:
            return
        value = not getattr(item, flag)
        if item_id in self._drafts:
            setattr(self._drafts[item_id], flag, value)  # drafts are private copies
        if item_id in self._new_ids:
            self._refresh_table()
            self._on_current_changed()
            return
        settings = self.store.settings
        for stored in self._items(settings):
            if stored.id == item_id:
                setattr(stored, flag, value)
        self._save(settings)

    def _save(self, settings: Settings) -> None:
        try:
            self.store.update(settings)  # calls _on_store_changed
        except OSError as exc:
            self._show_problems([f"Could not save the settings: {exc}"])

    def _start_dir(self) -> str:
        path = self.path_edit.text().strip()
        return path if self._is_folder(path) else os.path.expanduser("~")

    # -- checking folders off the GUI thread --------------------------------------

    def _path_to_check(self, item: ItemT | None) -> str:
        """The path of ``item`` that only the file system can judge ("" if none)."""
        if item is None or not self._checks_path(item) or path_problem(item.path) is not None:
            return ""
        return item.path

    def _path_pending(self, item: ItemT) -> bool:
        """Whether the folder of ``item`` has not been checked yet."""
        path = self._path_to_check(item)
        return bool(path) and path not in self._path_checks

    def _checked_problem(self, path: str) -> str | None:
        """:func:`folder_problem` as far as checked, without I/O (None while unchecked)."""
        return path_problem(path) or self._path_checks.get(path)

    def _is_folder(self, path: str) -> bool:
        return path in self._path_checks and self._path_checks[path] is None

    def _on_check_timer_timeout(self) -> None:
        path = self._path_to_check(self.current_item())
        if path and path not in self._path_checks:
            self._check_path(path)

    def _check_path(self, path: str) -> None:
        """Ask the file system about ``path`` on another thread; the answer updates the form."""
        if path in self._in_flight:  # e.g. still hanging on a dead share
            return
        self._in_flight.add(path)

        def done(problem: str | None) -> None:
            self._in_flight.discard(path)
            self._path_checks[path] = problem
            if self._path_to_check(self.current_item()) == path:  # else stale: kept, not shown
                self._update_state()

        def failed(exc: BaseException) -> None:
            done(f"Could not look at the folder {path}: {exc}.")

        when_done(run_in_thread(folder_problem, path), done, failed, context=self)


# -- watched folders -------------------------------------------------------------------


class FoldersView(ItemsView[WatchedFolder]):
    """Watched folders: new files in each are sent to a topic."""

    NOUN = "folder"
    COLUMNS = ("Folder", "Broker", "Topic", "Status")
    ADD_CAPTION = "Choose a folder to watch"
    DROP_HINT = "Tip: drop folders from your file manager onto this list to watch them."

    def __init__(self, store: SettingsStore, controller: AppController,
                 parent: QWidget | None = None, state: LiveState | None = None) -> None:
        super().__init__(store, controller, parent, state)
        self.setAccessibleName("Watched folders")

    def _build_form(self, form: QFormLayout) -> None:
        self.include_edit = QLineEdit()
        self.include_edit.setAccessibleName("Include pattern")
        self.include_edit.setPlaceholderText("everything")
        self.include_edit.setToolTip(
            "Send only files whose path inside the folder matches this regular expression, "
            r"e.g. \.tiff?$ (empty: every file)")
        self.include_error = self._inline_error("Include pattern problem")
        self.exclude_edit = QLineEdit()
        self.exclude_edit.setAccessibleName("Exclude pattern")
        self.exclude_edit.setPlaceholderText("nothing")
        self.exclude_edit.setToolTip(
            "Never send files whose path inside the folder matches this regular expression. "
            f"The default skips temporary and partial files: {DEFAULT_EXCLUDE}")
        self.exclude_error = self._inline_error("Exclude pattern problem")
        self.hidden_check = QCheckBox("Include hidden files (names starting with “.”)")
        self.hidden_check.setAccessibleName("Include hidden files")
        self.chunk_combo = QComboBox()
        self.chunk_combo.setAccessibleName("Chunk size")
        self.chunk_combo.setToolTip(
            "Bytes per Kafka message. Brokers refuse messages larger than their "
            "message.max.bytes (often 1 MiB): ask before choosing more.")
        for size in CHUNK_SIZES:
            label = format_bytes(size)
            if size == wire.DEFAULT_CHUNK_SIZE:
                label += " (default)"
            self.chunk_combo.addItem(label, size)
        self.stable_spin = QDoubleSpinBox()
        self.stable_spin.setAccessibleName("Stable time in seconds")
        self.stable_spin.setRange(0.0, MAX_STABLE_SECONDS)
        self.stable_spin.setDecimals(1)
        self.stable_spin.setSingleStep(0.5)
        self.stable_spin.setSuffix(" s")
        self.stable_spin.setToolTip(
            "How long a file must stay unchanged before it is sent, so files that an "
            "instrument is still writing are not sent half-done")
        self.existing_check = QCheckBox("Upload files already in the folder")
        self.existing_check.setAccessibleName("Upload existing files")
        self.existing_check.setToolTip(
            "Also send the files that were already in the folder when it was added. Files "
            "that arrive later are always sent; files already sent unchanged are skipped.")
        self.polling_check = QCheckBox("Network drive (pollin&g)")
        self.polling_check.setAccessibleName("Network drive (polling)")
        self.polling_check.setToolTip(
            "Look for changes every few seconds instead of waiting for the system to report "
            "them; needed for network shares, which do not report changes")

        for edit in (self.include_edit, self.exclude_edit):
            edit.textEdited.connect(self._on_form_changed)
        for check in (self.hidden_check, self.existing_check, self.polling_check):
            check.toggled.connect(self._on_form_changed)
        self.chunk_combo.currentIndexChanged.connect(self._on_form_changed)
        self.stable_spin.valueChanged.connect(self._on_form_changed)

        form.addRow(buddy_label("Folder:", self.path_edit), self.path_row)
        form.addRow(buddy_label("Bro&ker:", self.profile_combo), self.profile_combo)
        form.addRow(buddy_label("Top&ic:", self.topic_picker.combo), self.topic_picker)
        form.addRow(buddy_label("I&nclude:", self.include_edit),
                    with_error(self.include_edit, self.include_error))
        form.addRow(buddy_label("E&xclude:", self.exclude_edit),
                    with_error(self.exclude_edit, self.exclude_error))
        form.addRow("", self.hidden_check)
        form.addRow(buddy_label("Chunk si&ze:", self.chunk_combo), self.chunk_combo)
        form.addRow(buddy_label("&Stable for:", self.stable_spin), self.stable_spin)
        form.addRow("", self.existing_check)
        form.addRow("", self.polling_check)
        form.addRow("", self.enabled_check)
        self.enabled_check.setToolTip("Watch this folder (clear to stop without removing it)")

    def _form_tab_order(self) -> list[QWidget]:
        return [self.path_edit, self.browse_button, self.open_button, self.profile_combo,
                self.topic_picker.combo, self.topic_picker.refresh_button,
                self.topic_picker.create_button, self.include_edit, self.exclude_edit,
                self.hidden_check, self.chunk_combo, self.stable_spin, self.existing_check,
                self.polling_check, self.enabled_check]

    @staticmethod
    def _inline_error(name: str) -> QLabel:
        label = QLabel()
        label.setAccessibleName(name)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setStyleSheet(ERROR_STYLE)
        label.hide()
        return label

    def _items(self, settings: Settings) -> list[WatchedFolder]:
        return settings.folders

    def _new_item(self, path: str, profile_id: str) -> WatchedFolder:
        return WatchedFolder(path=path, profile_id=profile_id)

    def _validate(self, item: WatchedFolder, settings: Settings) -> list[str]:
        return validate_folder(item, settings, self._checked_problem)

    def _job_name(self, item: WatchedFolder) -> str:
        return str(job_id(item))

    def _columns(self, item: WatchedFolder, settings: Settings) -> list[str]:
        profile = settings.profile(item.profile_id)
        return [item.path, profile.name if profile else "(none)", item.topic or "(none)"]

    def _load_specific(self, item: WatchedFolder) -> None:
        self.include_edit.setText(item.include)
        self.exclude_edit.setText(item.exclude)
        self.hidden_check.setChecked(item.include_hidden)
        self._select_chunk_size(item.chunk_size)
        self.stable_spin.setValue(item.stable_seconds)
        self.existing_check.setChecked(item.upload_existing)
        self.polling_check.setChecked(item.polling)
        for edit in (self.include_edit, self.exclude_edit):
            edit.setCursorPosition(0)

    def _select_chunk_size(self, size: int) -> None:
        index = self.chunk_combo.findData(size)
        if index < 0:  # set elsewhere (CLI, hand-edited file): keep it, labelled
            self.chunk_combo.addItem(f"{format_bytes(size)} (custom)", size)
            index = self.chunk_combo.count() - 1
        self.chunk_combo.setCurrentIndex(index)

    def _read_specific(self, item: WatchedFolder) -> WatchedFolder:
        size = self.chunk_combo.currentData()
        return dataclasses.replace(
            item, include=self.include_edit.text(), exclude=self.exclude_edit.text(),
            include_hidden=self.hidden_check.isChecked(),
            chunk_size=int(size) if size is not None else item.chunk_size,
            stable_seconds=self.stable_spin.value(),
            upload_existing=self.existing_check.isChecked(),
            polling=self.polling_check.isChecked())

    def _after_update(self, item: WatchedFolder, errors: list[str]) -> None:
        for pattern, what, label in ((item.include, "include", self.include_error),
                                     (item.exclude, "exclude", self.exclude_error)):
            problem = regex_problem(pattern, what)
            label.setText(problem or "")
            label.setVisible(problem is not None)
