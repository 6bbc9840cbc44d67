"""The list-plus-form view shared by the watched folders and the destinations.

Validation lives in Qt-free modules (:mod:`openmsi_gui.app.folders`,
:mod:`openmsi_gui.app.destinations`); the views only render items, keep
unsaved edits per item and write through :meth:`SettingsStore.update`. The
controller starts and stops jobs on its own when the settings change.
"""

from __future__ import annotations

import itertools
import os
from typing import ClassVar

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import SettingsStore, WatchedFolder
from openmsi_gui.app.transfer_status import removal_question
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.status_line import StatusLine
from openmsi_gui.ui.tasks import Tasks, asyncSlot
from openmsi_gui.ui.views.item_list import ItemList, push_button
from openmsi_gui.ui.views.items_editor import ItemsEditor, ItemT
from openmsi_gui.ui.views.path_checks import CHECKING, PathChecks
from openmsi_gui.ui.views.topic_picker import TopicPicker


class ItemsView(ItemsEditor[ItemT]):
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

    def __init__(self, store: SettingsStore, controller: AppController, tasks: Tasks,
                 parent: QWidget | None = None, state: LiveState | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.controller = controller
        self.tasks = tasks
        self.state = state or LiveState.standalone(store, controller, self)
        self._init_state(store.settings)
        self.checks = PathChecks(tasks, self)
        self.checks.timer.timeout.connect(self._on_check_timer_timeout)
        self.checks.checked.connect(self._on_path_checked)
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
        self.item_list = ItemList(self.NOUN, self.COLUMNS, self.DROP_HINT)
        self.table = self.item_list.table
        self.table.itemSelectionChanged.connect(self._on_current_changed)
        self.item_list.delete_shortcut.activated.connect(self.on_remove_clicked)
        self.add_button = self.item_list.add_button
        self.remove_button = self.item_list.remove_button
        self.enable_button = self.item_list.enable_button
        self.pause_button = self.item_list.pause_button
        self.hint = self.item_list.hint
        for button, slot in ((self.add_button, self.on_add_clicked),
                             (self.remove_button, self.on_remove_clicked),
                             (self.enable_button, self.on_enable_clicked),
                             (self.pause_button, self.on_pause_clicked)):
            button.clicked.connect(slot)

    def _build_common_inputs(self) -> None:
        self.path_edit = QLineEdit()
        self.path_edit.setAccessibleName("Folder path")
        self.path_edit.setPlaceholderText("full path of a folder")
        self.path_edit.textEdited.connect(self._on_form_changed)
        self.browse_button = push_button("Bro&wse…", "Browse for folder", self.on_browse_clicked)
        self.open_button = push_button("&Open folder", "Open folder", self.on_open_clicked)
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

        self.topic_picker = TopicPicker(self.controller, self.tasks)
        self.topic_picker.topicChanged.connect(self._on_form_changed)

        self.enabled_check = QCheckBox("Enabled")
        self.enabled_check.setAccessibleName("Enabled")
        self.enabled_check.toggled.connect(self._on_form_changed)

    def _build_apply_row(self) -> None:
        self.errors = StatusLine("Problems")
        self.errors.label.setMinimumHeight(self.errors.fontMetrics().lineSpacing() * 3)
        self.revert_button = push_button("Re&vert", "Revert changes", self.on_revert_clicked)
        self.revert_button.setToolTip("Forget the changes made since the last Apply")
        self.apply_button = push_button("Appl&y", "Apply changes", self.on_apply_clicked)
        self.apply_button.setToolTip("Save the changes; they take effect at once")
        self.apply_row = QHBoxLayout()
        self.apply_row.addWidget(self.errors, 1, Qt.AlignmentFlag.AlignTop)
        self.apply_row.addWidget(self.revert_button, 0, Qt.AlignmentFlag.AlignTop)
        self.apply_row.addWidget(self.apply_button, 0, Qt.AlignmentFlag.AlignTop)

    def _assemble(self) -> None:
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
        self.splitter.addWidget(self.item_list)
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

    # -- what subclasses provide ------------------------------------------------

    def _build_form(self, form: QFormLayout) -> None:
        """Add the rows of the edit form (the common inputs are ready to place)."""
        raise NotImplementedError

    def _form_tab_order(self) -> list[QWidget]:
        """The form's inputs in tab order."""
        raise NotImplementedError

    def _new_item(self, path: str, profile_id: str) -> ItemT:
        """A new item for ``path`` using ``profile_id``."""
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

    def select(self, item_id: str) -> None:
        """Select the item ``item_id``."""
        self._select_id(item_id)

    # -- drag and drop ----------------------------------------------------------

    @staticmethod
    def dropped_paths(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[str]:
        """The local paths among the URLs of a drag (no I/O: folders are told apart on drop)."""
        mime = event.mimeData()
        if mime is None or not mime.hasUrls():
            return []
        paths = (url.toLocalFile() for url in mime.urls() if url.isLocalFile())
        return [path for path in paths if path]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept a drag that carries local files or folders."""
        self.dragMoveEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent | QDragEnterEvent) -> None:
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
        self._add_dropped(paths)

    @asyncSlot()
    async def _add_dropped(self, paths: list[str]) -> None:
        try:
            folders = await self.checks.check_all(paths)
        except Exception as exc:  # told to the user
            self.tasks.report("Looking at the dropped folders", exc)
            return
        self.add_paths(folders)

    # -- slots ------------------------------------------------------------------

    def on_add_clicked(self) -> None:
        path = QFileDialog.getExistingDirectory(self, self.ADD_CAPTION, self._start_dir())
        if path:
            self.checks.remember(os.path.normpath(path), None)  # the dialog chose a folder
            self.add_paths([path])

    def on_browse_clicked(self) -> None:
        path = QFileDialog.getExistingDirectory(self, self.ADD_CAPTION, self._start_dir())
        if path:
            self.checks.remember(os.path.normpath(path), None)  # the dialog chose a folder
            self.path_edit.setText(os.path.normpath(path))
            self._on_form_changed()

    def on_open_clicked(self) -> None:
        path = self.path_edit.text().strip()
        if self.checks.is_folder(path):
            QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    def on_remove_clicked(self) -> None:
        item_id = self.current_id()
        if item_id is None:
            return
        row = self.table.currentRow()
        if item_id not in self._new_ids and not self._confirm_removal(item_id):
            return
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

    def _confirm_removal(self, item_id: str) -> bool:
        """Ask before removing a saved item, saying what happens to its waiting files."""
        item = self._stored(item_id)
        if item is None:
            return True
        settings = self.store.settings
        name = self._columns(item, settings)[0]
        unfinished = self.state.book.unfinished(self._job_name(item))
        upload = isinstance(item, WatchedFolder)
        text = removal_question("watched folder" if upload else self.NOUN, name, unfinished,
                                upload)
        answer = QMessageBox.question(
            self, f"Remove {self.NOUN}", text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def on_enable_clicked(self) -> None:
        self._toggle("enabled")

    def on_pause_clicked(self) -> None:
        self._toggle("paused")

    def on_apply_clicked(self) -> None:
        item = self.current_item()
        if item is None:
            return
        if self._path_pending(item):  # Apply is disabled meanwhile; never save unchecked
            self.errors.show_busy(CHECKING)
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
