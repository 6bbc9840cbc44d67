"""The Audit window: whether every file sent on a topic reached every expected destination.

The same report as ``openmsi audit`` (:mod:`openmsi_gui.app.audit`): choose one of
the app's topics, the destinations that must confirm (ticked from those paired
here) and optionally a start date, then *Run audit*. The topics are read on the
net executor and the pairings on the I/O executor (:mod:`openmsi_gui.ui.tasks`);
the window only renders rows, the summary and *Export CSV…*.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import (
    QDateTime,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from openmsi_gui.app import audit
from openmsi_gui.app.audit import AuditReport
from openmsi_gui.app.audit_targets import (
    AuditTarget,
    audit_targets,
    default_since,
    run_target,
    sender_codes,
    typed_target,
)
from openmsi_gui.app.confirming import pair, paired_names
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.text import error_sentence
from openmsi_gui.engine.untrusted import escaped
from openmsi_gui.ui.status_line import StatusLine, buddy_label
from openmsi_gui.ui.tasks import Purpose, Tasks, asyncSlot
from openmsi_gui.ui.views.audit_model import SORT_ROLE, AuditTableModel
from openmsi_gui.ui.views.csv_dialog import ask_csv_path
from openmsi_gui.ui.views.tables import setup_sortable_table

_SORT = SORT_ROLE


class AuditWindow(QDialog):
    """Choose a topic and the expected destinations, run the audit, export it as CSV.

    Signals:
        finished_report(object): an audit finished (the :class:`AuditReport`).
        exported(str, int): a CSV file was written with this many files.

    Args:
        controller: the settings (topics, profiles) and the brokers' settings.
        tasks: the app's background work.
        data_dir: the data folder (its ``pairing.json``).
    """

    finished_report = Signal(object)
    exported = Signal(str, int)

    def __init__(self, controller: AppController, tasks: Tasks, data_dir: Path | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Audit deliveries")
        self.setAccessibleName("Audit deliveries")
        self.controller = controller
        self.tasks = tasks
        self.data_dir = data_dir
        self.report: AuditReport | None = None
        self._targets: list[AuditTarget] = []
        self._paired: list[str] = []
        self._build_form()
        self._build_results()
        self._assemble()
        self.resize(980, 560)
        self.reload_targets()
        self.load_paired()

    def _build_form(self) -> None:
        self.profile = QComboBox()
        self.profile.setAccessibleName("Broker profile")
        self.topic = QComboBox()
        self.topic.setEditable(True)
        self.topic.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.topic.setAccessibleName("Topic to audit")
        self.topic.setToolTip("A topic of your folders and destinations, or type any topic")
        self.topic.currentIndexChanged.connect(self.on_topic_changed)
        self.topic.editTextChanged.connect(self._update_buttons)
        self.pair_button = QPushButton("&Pair…")
        self.pair_button.setToolTip("Trust the receipts of a destination, or the sent records "
                                    "of a sender, by its pairing code")
        self.pair_button.clicked.connect(self.on_pair_clicked)
        self.code_button = QPushButton("C&opy sender code")
        self.code_button.setToolTip("Copy the pairing code this topic's folders sign their "
                                    "sent records with, for the machine that audits")
        self.code_button.clicked.connect(self.copy_sender_code)
        self.expected = QListWidget()
        self.expected.setAccessibleName("Expected destinations")
        self.expected.setToolTip("The destinations that must confirm every file (paired "
                                 "here); none ticked: every destination heard from")
        self.expected.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.expected.setMaximumHeight(self.fontMetrics().height() * 4 + 8)
        self.since_box = QCheckBox("Only files sent &since")
        self.since = QDateTimeEdit()
        self.since.setAccessibleName("Sent since")
        self.since.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.since.setCalendarPopup(True)
        self.since.setDateTime(QDateTime.fromSecsSinceEpoch(int(default_since(time.time()).timestamp())))
        self.since.setEnabled(False)
        self.since_box.toggled.connect(self.since.setEnabled)
        self.records_only = QCheckBox("Sent records &only")
        self.records_only.setToolTip("Find the files from their senders' sent records only, "
                                     "without reading the data (fast on a large topic; files "
                                     "sent by openmsistream are not found)")
        self.run_button = QPushButton("&Run audit")
        self.run_button.setDefault(True)
        self.run_button.setToolTip("Read the topic and its receipts (this may take a while "
                                   "on a long topic)")
        self.run_button.clicked.connect(self.run_audit)

    def _build_results(self) -> None:
        self.model = AuditTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(_SORT)
        self.table = QTableView()
        self.table.setAccessibleName("Audit table")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        self.status = StatusLine("Audit summary", busy_bar=True)
        self.export_button = QPushButton("E&xport CSV…")
        self.export_button.setToolTip("Save the report as a CSV file (every row, whole SHA-512)")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.on_export_clicked)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)

    def _assemble(self) -> None:
        form = QGridLayout()
        form.addWidget(buddy_label("&Broker:", self.profile), 0, 0)
        form.addWidget(self.profile, 0, 1)
        form.addWidget(buddy_label("&Topic:", self.topic), 0, 2)
        form.addWidget(self.topic, 0, 3)
        expected_label = buddy_label("&Expected:", self.expected)
        form.addWidget(expected_label, 1, 0, Qt.AlignmentFlag.AlignTop)
        form.addWidget(self.expected, 1, 1, 1, 3)
        pairing_buttons = QVBoxLayout()
        pairing_buttons.addWidget(self.pair_button)
        pairing_buttons.addWidget(self.code_button)
        pairing_buttons.addStretch(1)
        form.addLayout(pairing_buttons, 1, 4)
        form.addWidget(self.since_box, 2, 1)
        form.addWidget(self.since, 2, 2, 1, 2)
        form.addWidget(self.records_only, 2, 4)
        form.setColumnStretch(3, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    # -- choices ----------------------------------------------------------------------------

    def reload_targets(self) -> None:
        """List the broker profiles and the topics of the app's folders and destinations."""
        settings = self.controller.store.settings
        self._targets = audit_targets(settings)
        self.profile.clear()
        for profile in settings.profiles:
            self.profile.addItem(profile.name, profile.id)
        self.topic.clear()
        for target in self._targets:
            self.topic.addItem(target.label)
        if not settings.profiles:
            self.status.show_note("Add a broker profile first: the audit reads its topics.")
        elif not self._targets:
            self.status.show_note("Type the topic to audit (your folders and destinations "
                                  "have none yet).")
        self._update_buttons()

    def _update_buttons(self, _text: str = "") -> None:
        target = self.target()
        self.run_button.setEnabled(target is not None and bool(target.topic))
        self.code_button.setEnabled(target is not None and bool(target.folders))

    @asyncSlot()
    async def load_paired(self) -> None:
        """Read the destinations paired here (keychain, on the I/O executor)."""
        self._paired = await self.tasks.run(Purpose.IO, paired_names, self.data_dir,
                                            context=self)
        self._show_expected()

    # -- pairing ----------------------------------------------------------------------------

    def on_pair_clicked(self) -> None:
        code, ok = QInputDialog.getText(self, "Pair", "Pairing code (omsi-pair:…) of a "
                                        "destination, or of a sender:")
        if ok and code.strip():
            self.add_code(code.strip())

    @asyncSlot()
    async def add_code(self, code: str) -> None:
        """Trust the destination or sender ``code`` names (keychain, on the I/O executor)."""
        try:
            public, self._paired = await self.tasks.run(Purpose.IO, pair, code, self.data_dir,
                                                        context=self)
        except Exception as error:  # told to the user
            self.status.show_problem(f"Not paired: {error_sentence(error)}")
            return
        ticked = self.expected_names()
        self._show_expected()
        self._tick(ticked)
        self.status.show_ok(f"{escaped(public.name)} is paired: its receipts (or sent "
                            "records) are trusted here.")

    @asyncSlot()
    async def copy_sender_code(self) -> None:
        """Copy the pairing code of the chosen topic's folder (keychain, I/O executor)."""
        target = self.target()
        if target is None or not target.folders:
            return
        try:
            codes = await self.tasks.run(Purpose.IO, sender_codes, target, self.data_dir,
                                         context=self)
        except Exception as error:  # told to the user
            self.status.show_problem(f"No code: {error_sentence(error)}")
            return
        if not codes:
            return
        QGuiApplication.clipboard().setText("\n".join(code for _name, code in codes))
        names = ", ".join(f"'{escaped(name)}'" for name, _code in codes)
        self.status.show_ok(f"The pairing code of {names} is copied: pair it on the machine "
                            "that audits (Pair…, or 'openmsi pair add').")

    def target(self) -> AuditTarget | None:
        """The topic chosen (one of the list, or typed), or None without a broker profile."""
        index = self.topic.currentIndex()
        text = self.topic.currentText().strip()
        if 0 <= index < len(self._targets) and text == self.topic.itemText(index):
            return self._targets[index]
        profile_id = self.profile.currentData()
        return typed_target(text, str(profile_id)) if profile_id is not None else None

    def on_topic_changed(self, index: int) -> None:
        if 0 <= index < len(self._targets):
            found = self.profile.findData(self._targets[index].profile_id)
            if found >= 0:
                self.profile.setCurrentIndex(found)
        self._update_buttons()
        self._show_expected()

    def _show_expected(self) -> None:
        target = self.target()
        ticked = set(target.expected) if target is not None else set()
        self.expected.clear()
        for name in dict.fromkeys([*self._paired, *sorted(ticked)]):
            item = QListWidgetItem(escaped(name, 200))
            item.setData(_SORT, name)
            item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            item.setCheckState(Qt.CheckState.Checked if name in ticked
                               else Qt.CheckState.Unchecked)
            self.expected.addItem(item)

    def _tick(self, names: list[str]) -> None:
        for i in range(self.expected.count()):
            item = self.expected.item(i)
            if str(item.data(_SORT)) in names:
                item.setCheckState(Qt.CheckState.Checked)

    def expected_names(self) -> list[str]:
        """The destinations ticked."""
        items = (self.expected.item(i) for i in range(self.expected.count()))
        return [str(item.data(_SORT)) for item in items
                if item.checkState() == Qt.CheckState.Checked]

    def since_time(self) -> float | None:
        """The start chosen (epoch seconds), or None for the whole topic."""
        if not self.since_box.isChecked():
            return None
        return self.since.dateTime().toSecsSinceEpoch()

    # -- running ----------------------------------------------------------------------------

    @asyncSlot()
    async def run_audit(self) -> None:
        """Read the topic and its receipts in the background; show the report."""
        target = self.target()
        if target is None:
            return
        self.run_button.setEnabled(False)
        self.status.show_busy(f"Reading {escaped(target.topic)} and its receipts…")
        try:
            report = await self.tasks.run(
                Purpose.NET, run_target, self.controller.kafka_config,
                self.controller.store.settings, target, self.expected_names(),
                self.since_time(), self.data_dir, not self.records_only.isChecked(),
                context=self)
        except Exception as error:  # told to the user
            self.run_button.setEnabled(True)
            self.status.show_problem(f"The audit could not run: {error_sentence(error)}")
            return
        self.run_button.setEnabled(True)
        self.show_report(report)

    def show_report(self, report: AuditReport) -> None:
        """Render ``report``: rows, summary, export."""
        self.report = report
        self.model.set_report(report)
        samples = [(0, "M" * 14), (1, "888888888"), (2, "8" * audit.HASH_PREFIX),
                   (3, "2000-00-00 00:00:00")]
        samples += [(audit.FIRST_DESTINATION + i, "delivered 2000-00-00 00:00:00")
                    for i in range(len(report.destinations))]
        setup_sortable_table(self.table, samples, audit.FIRST_DESTINATION)
        summary = report.summary.text()
        if report.summary.clean:
            self.status.show_ok(summary)
        else:
            self.status.show_problem(summary)
        self.export_button.setEnabled(True)
        self.finished_report.emit(report)

    # -- export -----------------------------------------------------------------------------

    def on_export_clicked(self) -> None:
        if self.report is None:
            return
        path = ask_csv_path(self, "Export audit", f"openmsi-audit-{self.report.topic}.csv")
        if path is not None:
            self.export_to(path)

    @asyncSlot()
    async def export_to(self, path: Path) -> None:
        """Write the report to ``path`` as CSV (on the I/O executor)."""
        report = self.report
        if report is None:
            return
        try:
            count = await self.tasks.run(Purpose.IO, audit.export_csv, path, report,
                                         context=self)
        except Exception as error:  # told to the user
            self.status.show_problem(f"Could not export to {path}: {error_sentence(error)}")
            return
        self.status.show_ok(f"Exported {count} files to {path}")
        self.exported.emit(str(path), count)
