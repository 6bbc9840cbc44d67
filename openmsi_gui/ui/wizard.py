"""The first-run wizard (renders :mod:`openmsi_gui.app.wizard`).

Every decision (which page follows, what is missing, what gets saved) is made by
:class:`~openmsi_gui.app.wizard.SetupFlow`; the pages
(:mod:`~openmsi_gui.ui.wizard_pages`, :mod:`~openmsi_gui.ui.wizard_broker`) only
show it and feed it what the user types. Blocking work never runs on the GUI
thread: the connection test goes through the controller, keychain writes and
folder creation through the application's serial executor
(:data:`~openmsi_gui.ui.tasks.Purpose.IO`), path checks through
:data:`~openmsi_gui.ui.tasks.Purpose.FS`.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget, QWizard

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import SettingsStore
from openmsi_gui.app.text import error_sentence
from openmsi_gui.app.wizard import (
    FlowError,
    Mode,
    PathKind,
    SetupFlow,
    Step,
    path_kind,
)
from openmsi_gui.app.wizard_forms import prepare, write_secrets
from openmsi_gui.ui.tasks import CHECK_DELAY_MS, Purpose, Tasks, asyncSlot
from openmsi_gui.ui.wizard_broker import BrokerPage
from openmsi_gui.ui.wizard_pages import DonePage, FirstJobPage, WelcomePage
from openmsi_gui.ui.wizard_parts import FlowPage


class SetupWizard(QWizard):
    """Try the demo broker or enter a real one, then add a first folder or destination.

    Finishing writes the password to the keychain (off the GUI thread) and then
    saves the settings; the controller starts the new jobs. Cancelling marks the
    first run as done so the wizard does not come back on every start.

    Args:
        store: the settings to extend.
        controller: runs the connection test and lists topics.
        tasks: the application's background work.
        parent: the main window.

    Attributes:
        flow: the state machine this wizard renders.
        finishing: Finish was pressed and the keychain/folders are being written.
        keychain_touched: a password went to the keychain for a connection test.
    """

    def __init__(self, store: SettingsStore, controller: AppController, tasks: Tasks,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.controller = controller
        self.tasks = tasks
        # look=None: the flow never touches the disk; check_paths_now() does, off-thread.
        self.flow = SetupFlow(existing=store.settings, look=None)
        self.finishing = False
        self.keychain_touched = False
        self._checking: set[str] = set()
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(CHECK_DELAY_MS)
        self._check_timer.timeout.connect(self._check_paths)
        self.setWindowTitle("Set up OpenMSI")
        self.setAccessibleName("Set up OpenMSI")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setMinimumSize(660, 520)
        self.welcome = WelcomePage(self)
        self.broker = BrokerPage(self)
        self.first_job = FirstJobPage(self)
        self.done_page = DonePage(self)
        self.pages: dict[Step, FlowPage] = {}
        for page in (self.welcome, self.broker, self.first_job, self.done_page):
            page.setAccessibleName(f"Setup step: {page.title()}")
            self.setPage(int(page.step), page)
            self.pages[page.step] = page
        self.setStartId(int(Step.WELCOME))
        for which, name in ((QWizard.WizardButton.BackButton, "Back"),
                            (QWizard.WizardButton.NextButton, "Next"),
                            (QWizard.WizardButton.FinishButton, "Finish"),
                            (QWizard.WizardButton.CancelButton, "Cancel"),
                            (QWizard.WizardButton.CommitButton, "Commit")):
            self.button(which).setAccessibleName(name)

    # -- background work ------------------------------------------------------------

    def check_paths_soon(self) -> None:
        """Look at the paths the flow needs once typing pauses."""
        self._check_timer.start()

    def check_paths_now(self) -> None:
        """Look again at every path the flow needs (a page is shown: the disk may have changed)."""
        self.flow.forget_paths()
        self._check_timer.stop()
        self._check_paths()

    def _check_paths(self) -> None:
        for path in self.flow.paths_to_check():
            if path not in self._checking:
                self._checking.add(path)
                self._check_path(path)

    @asyncSlot()
    async def _check_path(self, path: str) -> None:
        try:
            kind = await self.tasks.run(Purpose.FS, path_kind, path, context=self)
        except Exception:
            kind = PathKind.NOTHING  # unreadable: the flow says what is wrong with it
        self._checking.discard(path)
        self.flow.record_path(path, kind)
        self._refresh_current_page()

    def _refresh_current_page(self) -> None:
        """Re-validate the page on show (after a path check came back)."""
        page = self.pages.get(self.flow.step)
        if page is not None:
            page.refresh()

    # -- finishing and cancelling -----------------------------------------------------

    def accept(self) -> None:
        if self.finishing:
            return
        try:
            _settings, secrets = self.flow.result(self.store.settings)
        except FlowError as exc:
            self.done_page.status.show_result(False, str(exc))
            return
        self.finishing = True
        self._set_buttons_enabled(False)
        self.done_page.status.show_busy("Saving…")
        touch_keychain = self.flow.mode is Mode.REAL or self.keychain_touched
        self._prepare(self.flow.directories_to_create(), self.flow.secret_owner, secrets,
                      touch_keychain)

    @asyncSlot()
    async def _prepare(self, directories: list[str], owner: str, secrets: Mapping[str, str],
                       touch_keychain: bool) -> None:
        try:
            await self.tasks.run(Purpose.IO, prepare, directories, owner, secrets,
                                 touch_keychain, context=self)
        except Exception as exc:
            self.finishing = False
            self._set_buttons_enabled(True)
            self.done_page.status.show_result(False,
                                              f"Nothing was saved. {error_sentence(exc)}")
            self.done_page.completeChanged.emit()
            return
        # Built from the settings as they are now, in case they changed meanwhile.
        settings, _secrets = self.flow.result(self.store.settings)
        self.store.update(settings)
        self.finishing = False
        super().accept()

    def _set_buttons_enabled(self, enabled: bool) -> None:
        for which in (QWizard.WizardButton.BackButton, QWizard.WizardButton.FinishButton,
                      QWizard.WizardButton.CancelButton):
            self.button(which).setEnabled(enabled)

    def reject(self) -> None:
        if self.finishing:
            return
        settings = self.store.settings
        if not settings.ui.first_run_done:
            self.store.update(SetupFlow.dismissed(settings))
        if self.keychain_touched:
            # Forget the password typed for a test: the profile was never saved.
            self._forget_password(self.tasks, self.flow.secret_owner)
            self.keychain_touched = False
        super().reject()

    @asyncSlot()
    async def _forget_password(self, tasks: Tasks, owner: str) -> None:
        try:  # no context: this runs on after the wizard is gone
            await tasks.run(Purpose.IO, write_secrets, owner, {})
        except Exception as exc:
            tasks.report("Forgetting the password typed in the setup wizard", exc)
