"""The watched folders view: new files in each folder are sent to a topic.

The list, the unsaved-edit handling, the folder checks and Apply/Revert come
from :class:`~openmsi_gui.ui.views.items_view.ItemsView`; the rules are in
:mod:`openmsi_gui.app.folders`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QWidget,
)

from openmsi_gui.app import folder_ini
from openmsi_gui.app.after_delivery import folder_problems as after_delivery_problems
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.folders import (
    CHUNK_SIZES,
    MAX_STABLE_SECONDS,
    advanced_in_use,
    filter_problems,
    regex_hints,
    validate_folder,
)
from openmsi_gui.app.formatting import format_bytes
from openmsi_gui.app.job_specs import job_id
from openmsi_gui.app.settings import BrokerProfile, Settings, SettingsStore, WatchedFolder
from openmsi_gui.app.text import error_sentence
from openmsi_gui.engine import wire
from openmsi_gui.engine.globs import IGNORE_CASE, TEMPORARY_PATTERNS, join_patterns, split_patterns
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.status_line import StatusLine, buddy_label, inline_error, line_edit, with_error
from openmsi_gui.ui.tasks import Purpose, Tasks, asyncSlot
from openmsi_gui.ui.views.advanced import AdvancedSection
from openmsi_gui.ui.views.after_delivery_section import AfterDeliverySection
from openmsi_gui.ui.views.bandwidth_field import BandwidthField
from openmsi_gui.ui.views.delivery_section import DeliverySection
from openmsi_gui.ui.views.information_section import InformationSection
from openmsi_gui.ui.views.item_list import push_button
from openmsi_gui.ui.views.items_view import ItemsView
from openmsi_gui.ui.views.profiles import CONFIG_FILTER


class FoldersView(ItemsView[WatchedFolder]):
    """Watched folders: new files in each are sent to a topic."""

    NOUN = "folder"
    COLUMNS = ("Folder", "Broker", "Topic", "Status")
    ADD_CAPTION = "Choose a folder to watch"
    DROP_HINT = "Tip: drop folders from your file manager onto this list to watch them."

    def __init__(self, store: SettingsStore, controller: AppController, tasks: Tasks,
                 parent: QWidget | None = None, state: LiveState | None = None) -> None:
        super().__init__(store, controller, tasks, parent, state)
        self.setAccessibleName("Watched folders")

    def _build_form(self, form: QFormLayout) -> None:
        self.include_edit = line_edit(
            "Send only files matching",
            "Send only files matching one of these patterns (comma-separated): * matches "
            "within a name, ** across folders, ? one character. Without / a pattern matches "
            "a name in any folder (*.tif); with / it starts at the watched folder "
            "(raw/*.tif). Empty: every file.", "every file (e.g. *.tif, raw/**)")
        self.include_error = inline_error("Send-only patterns problem")
        self.exclude_edit = line_edit(
            "Skip files matching",
            "Never send files matching one of these patterns (comma-separated), e.g. *.bak, "
            "~$*, **/scratch/** (a folder pattern skips everything inside it)",
            "nothing else (e.g. *.bak, **/scratch/**)")
        self.exclude_error = inline_error("Skip patterns problem")
        self.temporary_check = QCheckBox("Skip temporary and lock files")
        self.temporary_check.setAccessibleName("Skip temporary and lock files")
        self.temporary_check.setToolTip(
            "Skip files that programs make while they work and remove again: "
            + ", ".join(p.removeprefix(IGNORE_CASE) for p in TEMPORARY_PATTERNS))
        self.hidden_check = QCheckBox("Skip hidden files (names starting with “.”)")
        self.hidden_check.setAccessibleName("Skip hidden files")
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
        self.bwlimit = BandwidthField("Bandwidth limit", "no limit of its own (e.g. 4M)")
        self.bwlimit.edit.setToolTip("Sending from this folder is held to this rate, as well "
                                     "as to the app's limit (Preferences). "
                                     + self.bwlimit.edit.toolTip())
        self.advanced = self._build_advanced()
        self.delivery = DeliverySection(self.tasks, self.controller.registry.path.parent)
        self.delivery.changed.connect(self._on_form_changed)
        self.delivery.refresh_paired()
        self.after_delivery = AfterDeliverySection(self.tasks, self.controller.registry,
                                                   self.current_item)
        self.after_delivery.changed.connect(self._on_form_changed)
        self.information = InformationSection()
        self.information.changed.connect(self._on_form_changed)

        for edit in (self.include_edit, self.exclude_edit, self.include_regex_edit,
                     self.exclude_regex_edit, self.bwlimit.edit):
            edit.textEdited.connect(self._on_form_changed)
        for check in (self.temporary_check, self.hidden_check, self.existing_check,
                      self.polling_check):
            check.toggled.connect(self._on_form_changed)
        self.chunk_combo.currentIndexChanged.connect(self._on_form_changed)
        self.stable_spin.valueChanged.connect(self._on_form_changed)

        form.addRow(buddy_label("Folder:", self.path_edit), self.path_row)
        form.addRow(buddy_label("Bro&ker:", self.profile_combo), self.profile_combo)
        form.addRow(buddy_label("Top&ic:", self.topic_picker.combo), self.topic_picker)
        form.addRow(buddy_label("Send o&nly:", self.include_edit),
                    with_error(self.include_edit, self.include_error))
        form.addRow(buddy_label("Skip:", self.exclude_edit),
                    with_error(self.exclude_edit, self.exclude_error))
        form.addRow("", self.temporary_check)
        form.addRow("", self.hidden_check)
        form.addRow(buddy_label("&Stable for:", self.stable_spin), self.stable_spin)
        form.addRow("", self.existing_check)
        form.addRow(buddy_label("Limit to:", self.bwlimit.edit), self.bwlimit.widget)
        form.addRow("", self.enabled_check)
        form.addRow(self.information)
        form.addRow(self.delivery)
        form.addRow(self.after_delivery)
        form.addRow(self.advanced)
        self.enabled_check.setToolTip("Watch this folder (clear to stop without removing it)")

    def _build_advanced(self) -> AdvancedSection:
        """Regular expressions, chunk size and polling, folded by default."""
        section = AdvancedSection()
        self.include_regex_edit = line_edit(
            "Include regular expression",
            "Also send only files whose path inside the folder (with /) contains a match for "
            r"this regular expression, e.g. \.tiff?$", "none")
        self.include_regex_error = inline_error("Include regular expression problem")
        self.exclude_regex_edit = line_edit(
            "Exclude regular expression",
            "Also skip files whose path inside the folder (with /) contains a match for this "
            "regular expression", "none")
        self.exclude_regex_error = inline_error("Exclude regular expression problem")
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
        self.polling_check = QCheckBox("Network drive (pollin&g)")
        self.polling_check.setAccessibleName("Network drive (polling)")
        self.polling_check.setToolTip(
            "Look for changes every few seconds instead of waiting for the system to report "
            "them; needed for network shares, which do not report changes")
        section.form.addRow(buddy_label("Include regex:", self.include_regex_edit),
                            with_error(self.include_regex_edit, self.include_regex_error))
        section.form.addRow(buddy_label("Exclude rege&x:", self.exclude_regex_edit),
                            with_error(self.exclude_regex_edit, self.exclude_regex_error))
        section.form.addRow(buddy_label("Chunk si&ze:", self.chunk_combo), self.chunk_combo)
        section.form.addRow("", self.polling_check)
        self.export_button = push_button("Export for OpenMSIStream…",
                                         "Export filters for OpenMSIStream",
                                         self.on_export_clicked)
        self.export_button.setToolTip(
            "Write this folder's broker and filters as an OpenMSIStream config file: its "
            "[watch] section holds the filters and the same choice as one --upload_regex")
        self.import_button = push_button("Import filters…", "Import filters from a config file",
                                         self.on_import_clicked)
        self.import_button.setToolTip(
            "Take the filters from a config file's [watch] section (exported here, or with an "
            "OpenMSIStream upload_regex)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.import_button)
        buttons.addStretch(1)
        section.form.addRow(buttons)
        self.ini_status = StatusLine("Filter file status", hide_empty=True)
        section.form.addRow(self.ini_status)
        return section

    # -- OpenMSIStream config files ---------------------------------------------

    def on_export_clicked(self) -> None:
        item = self.current_item()
        profile = None if item is None else self._settings.profile(item.profile_id)
        if item is None or profile is None:
            self.ini_status.show_problem("Choose a broker first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export for OpenMSIStream",
                                              folder_ini.export_file_name(item), CONFIG_FILTER)
        if path:
            self._export(item, profile, Path(path))

    @asyncSlot()
    async def _export(self, item: WatchedFolder, profile: BrokerProfile, path: Path) -> None:
        try:
            text = await self.tasks.run(Purpose.IO, folder_ini.write_folder_ini, item, profile,
                                        path, context=self)
        except Exception as exc:
            self.ini_status.show_problem(f"Not exported: {error_sentence(exc)}")
            return
        self.ini_status.show_ok(text)

    def on_import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import filters from a config file", "",
                                              CONFIG_FILTER)
        if path and self.current_id() is not None:
            self._import(str(self.current_id()), Path(path))

    @asyncSlot()
    async def _import(self, item_id: str, path: Path) -> None:
        try:
            section = await self.tasks.run(Purpose.IO, folder_ini.read_filter_section, path,
                                           context=self)
            fields = folder_ini.filter_fields(section or {})
        except Exception as exc:
            self.ini_status.show_problem(f"Not imported: {error_sentence(exc)}")
            return
        if section is None:
            self.ini_status.show_problem(f"{path.name} has no [watch] section: nothing imported.")
            return
        shown = self.current_item()
        if shown is None or shown.id != item_id:
            return  # another folder is shown now
        self._loading = True
        try:
            self._load_specific(dataclasses.replace(shown, **fields))
        finally:
            self._loading = False
        self._on_form_changed()
        self.ini_status.show_ok(f"Filters imported from {path.name}; Apply to keep them.")

    def _form_tab_order(self) -> list[QWidget]:
        return [self.path_edit, self.browse_button, self.open_button, self.profile_combo,
                self.topic_picker.combo, self.topic_picker.refresh_button,
                self.topic_picker.create_button, self.include_edit, self.exclude_edit,
                self.temporary_check, self.hidden_check, self.stable_spin,
                self.existing_check, self.bwlimit.edit, self.enabled_check,
                *self.information.tab_order(), *self.delivery.tab_order(),
                *self.after_delivery.tab_order(), self.advanced.toggle,
                self.include_regex_edit, self.exclude_regex_edit, self.chunk_combo,
                self.polling_check]

    def _items(self, settings: Settings) -> list[WatchedFolder]:
        return settings.folders

    def _new_item(self, path: str, profile_id: str) -> WatchedFolder:
        return WatchedFolder(path=path, profile_id=profile_id)

    def _validate(self, item: WatchedFolder, settings: Settings) -> list[str]:
        problems = validate_folder(item, settings, self._checked_problem)
        current = self.current_id() == item.id
        deadline = self.delivery.problem() if current else None
        age = self.after_delivery.problem() if current else None
        fields = self.information.problem() if current else None
        return [*problems, *([f"Delivery deadline: {deadline}"] if deadline else []),
                *after_delivery_problems(item), *([age] if age else []),
                *([fields] if fields else [])]

    def _job_name(self, item: WatchedFolder) -> str:
        return str(job_id(item))

    def _columns(self, item: WatchedFolder, settings: Settings) -> list[str]:
        profile = settings.profile(item.profile_id)
        return [item.path, profile.name if profile else "(none)", item.topic or "(none)"]

    def _load_specific(self, item: WatchedFolder) -> None:
        self.include_edit.setText(join_patterns(item.include_globs))
        self.exclude_edit.setText(join_patterns(item.exclude_globs))
        self.temporary_check.setChecked(item.skip_temporary)
        self.hidden_check.setChecked(item.skip_hidden)
        self.include_regex_edit.setText(item.include_regex)
        self.exclude_regex_edit.setText(item.exclude_regex)
        self._select_chunk_size(item.chunk_size)
        self.stable_spin.setValue(item.stable_seconds)
        self.existing_check.setChecked(item.upload_existing)
        self.polling_check.setChecked(item.polling)
        self.bwlimit.set_text(item.bwlimit)
        self.information.load(item)
        self.delivery.load(item)
        self.after_delivery.load(item)
        for edit in (self.include_edit, self.exclude_edit, self.include_regex_edit,
                     self.exclude_regex_edit):
            edit.setCursorPosition(0)
        if advanced_in_use(item):  # never hide what decides which files are sent
            self.advanced.set_expanded(True)

    def _select_chunk_size(self, size: int) -> None:
        index = self.chunk_combo.findData(size)
        if index < 0:  # set elsewhere (CLI, hand-edited file): keep it, labelled
            self.chunk_combo.addItem(f"{format_bytes(size)} (custom)", size)
            index = self.chunk_combo.count() - 1
        self.chunk_combo.setCurrentIndex(index)

    def _read_specific(self, item: WatchedFolder) -> WatchedFolder:
        size = self.chunk_combo.currentData()
        include, exclude = self.include_edit.text(), self.exclude_edit.text()
        item = self.information.read(self.after_delivery.read(item))
        return self.delivery.read(dataclasses.replace(
            item,
            # Unchanged text keeps the stored list (a pattern list shown joined reads back alike).
            include_globs=(item.include_globs if include == join_patterns(item.include_globs)
                           else split_patterns(include)),
            exclude_globs=(item.exclude_globs if exclude == join_patterns(item.exclude_globs)
                           else split_patterns(exclude)),
            skip_temporary=self.temporary_check.isChecked(),
            skip_hidden=self.hidden_check.isChecked(),
            include_regex=self.include_regex_edit.text(),
            exclude_regex=self.exclude_regex_edit.text(),
            chunk_size=int(size) if size is not None else item.chunk_size,
            stable_seconds=self.stable_spin.value(),
            upload_existing=self.existing_check.isChecked(),
            polling=self.polling_check.isChecked(),
            bwlimit=self.bwlimit.text()))

    def _after_update(self, item: WatchedFolder, errors: list[str]) -> None:
        self.delivery.show_problem(item)
        self.after_delivery.show_state(item, after_delivery_problems(item))
        self.information.show_problems()
        problems = filter_problems(item)
        hints = regex_hints(item)
        for name, label in (("include_globs", self.include_error),
                            ("exclude_globs", self.exclude_error),
                            ("include_regex", self.include_regex_error),
                            ("exclude_regex", self.exclude_regex_error)):
            problem = problems[name] or hints.get(name)
            label.setText(problem or "")
            label.setVisible(problem is not None)
