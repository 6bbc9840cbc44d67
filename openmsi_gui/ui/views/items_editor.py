"""The editing state behind :class:`~openmsi_gui.ui.views.items_view.ItemsView`.

Unsaved edits per item, new items that exist only in the view until Apply,
job failures from the controller's bus, folder checks, and how all of that
shows in the table, the form and its problem line.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QCheckBox, QComboBox, QGroupBox, QLineEdit, QPushButton, QWidget

from openmsi_gui.app.folders import path_problem
from openmsi_gui.app.formatting import ItemState, item_state
from openmsi_gui.app.settings import Destination, Settings, SettingsStore, WatchedFolder
from openmsi_gui.app.transfers import AppStatus
from openmsi_gui.engine.events import ConnectionState, JobState, JobStatus
from openmsi_gui.ui.icons import status_icon
from openmsi_gui.ui.status_line import StatusLine
from openmsi_gui.ui.views.item_list import ItemList, ListRow
from openmsi_gui.ui.views.path_checks import CHECKING, PathChecks

if TYPE_CHECKING:
    from openmsi_gui.ui.state import LiveState
    from openmsi_gui.ui.views.topic_picker import TopicPicker

ItemT = TypeVar("ItemT", WatchedFolder, Destination)

_STATE_ICONS = {ItemState.DISABLED: AppStatus.IDLE, ItemState.PAUSED: AppStatus.PAUSED,
                ItemState.FAILED: AppStatus.ERROR, ItemState.WAITING: AppStatus.ERROR,
                ItemState.ENABLED: AppStatus.TRANSFERRING}


class ItemsEditor(QWidget, Generic[ItemT]):
    """Drafts, failures and folder checks of a list of items, and how they are shown.

    :class:`~openmsi_gui.ui.views.items_view.ItemsView` builds the widgets
    named below; subclasses of it say how an item is made, shown and validated.
    """

    NOUN: ClassVar[str] = "item"

    store: SettingsStore
    state: LiveState
    checks: PathChecks
    item_list: ItemList
    form_box: QGroupBox
    errors: StatusLine
    path_edit: QLineEdit
    profile_combo: QComboBox
    topic_picker: TopicPicker
    enabled_check: QCheckBox
    open_button: QPushButton
    remove_button: QPushButton
    enable_button: QPushButton
    pause_button: QPushButton
    apply_button: QPushButton
    revert_button: QPushButton

    def _init_state(self, settings: Settings) -> None:
        self._settings = settings
        self._drafts: dict[str, ItemT] = {}  # unsaved versions, by id
        self._new_ids: list[str] = []  # drafts that are not in the settings yet
        self._retried: set[str] = set()  # jobs applied again: their last problem is stale
        self._loading = False

    # -- what subclasses provide ------------------------------------------------

    def _items(self, settings: Settings) -> list[ItemT]:
        """The list in ``settings`` this view edits (mutable)."""
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

    def _after_update(self, item: ItemT, errors: list[str]) -> None:
        """Let a subclass mark fields (e.g. inline errors) after validation."""

    # -- reacting to the store, the bus and the form -----------------------------

    def current_id(self) -> str | None:
        """The id of the selected item."""
        return self.item_list.current_id()

    def current_item(self) -> ItemT | None:
        """The selected item, with its unsaved changes."""
        item_id = self.current_id()
        return None if item_id is None else self._working(item_id)

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

    def _on_jobs_changed(self, events: list[JobState | ConnectionState]) -> None:
        self._retried.difference_update(e.job for e in events if isinstance(e, ConnectionState)
                                        or e.state is not JobStatus.PAUSED)
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
        if self.checks.known(path):  # shown as last checked; look again, it may have changed
            self.checks.check(path)

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
        row, number = self._row_view(item_id), self.item_list.row_of(item_id)
        if row is not None and number >= 0:
            self.item_list.show_row(number, row)
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
            self.errors.clear()
            return
        self.enable_button.setText("Disabl&e" if item.enabled else "&Enable")
        self.pause_button.setText("Res&ume" if item.paused else "Pa&use")
        self.open_button.setEnabled(self.checks.is_folder(item.path))
        dirty = item_id in self._drafts
        failure, waiting = self._problem(item) if item.enabled else ("", "")
        errors = self._validate(item, self._settings)
        checking = self._path_pending(item)
        if checking:
            self.checks.check_soon()  # restarted by each keystroke: checks once typing pauses
        self.apply_button.setEnabled(not errors and not checking and (dirty or bool(failure)))
        self.revert_button.setEnabled(dirty)
        if errors:
            self._show_problems(errors)
        elif checking:
            self.errors.show_busy(CHECKING)
        elif failure and not dirty:
            self._show_problems([f"Could not start: {failure}", "Apply to try again."])
        elif waiting:
            self._show_problems([f"Waiting: {waiting}", "It goes on by itself once fixed."])
        elif item_id in self._new_ids:
            self.errors.show_note("New: Apply to start using it.")
        elif dirty:
            self.errors.show_note("Unsaved changes.")
        else:
            self.errors.clear()
        self._after_update(item, errors)

    def _show_problems(self, lines: list[str]) -> None:
        self.errors.show_problem("\n".join(lines))

    # -- table ------------------------------------------------------------------

    def _refresh_table(self) -> None:
        ids = [item.id for item in self._items(self._settings)] + self._new_ids
        self.item_list.show_rows([row for row in map(self._row_view, ids) if row is not None])

    def _row_view(self, item_id: str) -> ListRow | None:
        new = item_id in self._new_ids
        item = self._drafts.get(item_id) if new else self._stored(item_id)
        if item is None:
            return None
        texts: list[str] = self._columns(item, self._settings)
        icon, failure = QIcon(), ""
        if new:
            status = "New (not saved)"
        else:
            failure, waiting = self._problem(item)
            state = item_state(item.enabled, item.paused, bool(failure), bool(waiting))
            link = self.state.book.job_link_state(self._job_name(item))
            # A broker that does not answer (or a missing topic) says so in the row itself.
            status = link if link and state is ItemState.WAITING else state.value
            failure = failure or waiting
            icon = status_icon(_STATE_ICONS[state])
            if note := self._status_note(item):
                status += f" · {note}"
            if item_id in self._drafts:
                status += " (unsaved)"
        tips = [*texts, f"{status}: {failure}" if failure and item.enabled else status]
        return ListRow(item_id, [*texts, status], icon, tips)

    def _status_note(self, item: ItemT) -> str:
        """What the row's status adds for ``item`` (e.g. files a filter left out; "" none)."""
        return ""

    def _select_id(self, item_id: str, notify: bool = True) -> None:
        self.item_list.select_id(item_id, notify)

    def _select_row(self, row: int) -> None:
        if not self.item_list.select_row(row):
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
        return path if self.checks.is_folder(path) else os.path.expanduser("~")

    # -- checking folders off the GUI thread --------------------------------------

    def _path_to_check(self, item: ItemT | None) -> str:
        """The path of ``item`` that only the file system can judge ("" if none)."""
        if item is None or not self._checks_path(item) or path_problem(item.path) is not None:
            return ""
        return item.path

    def _path_pending(self, item: ItemT) -> bool:
        """Whether the folder of ``item`` has not been checked yet."""
        path = self._path_to_check(item)
        return bool(path) and not self.checks.known(path)

    def _checked_problem(self, path: str) -> str | None:
        """:func:`folder_problem` as far as checked, without I/O (None while unchecked)."""
        return self.checks.problem(path)

    def _on_check_timer_timeout(self) -> None:
        path = self._path_to_check(self.current_item())
        if path and not self.checks.known(path):
            self.checks.check(path)

    def _on_path_checked(self, path: str) -> None:
        if self._path_to_check(self.current_item()) == path:  # else stale: kept, not shown
            self._update_state()
