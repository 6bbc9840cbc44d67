"""Build and run the tray application (console/GUI script ``openmsi-gui``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QWizard

from openmsi_gui import __version__
from openmsi_gui.app import job_names
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.demo import DemoFolders
from openmsi_gui.app.logfiles import setup_file_logging
from openmsi_gui.app.settings import (
    BrokerProfile,
    Destination,
    Settings,
    SettingsStore,
    WatchedFolder,
    default_config_dir,
)
from openmsi_gui.app.text import quit_question
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.registry import Registry
from openmsi_gui.platform.autostart import refresh_at_start
from openmsi_gui.platform.startup import prepare_process
from openmsi_gui.ui.adapter import EngineAdapter
from openmsi_gui.ui.crash import install_crash_handler
from openmsi_gui.ui.lab_state import LabState
from openmsi_gui.ui.main_window import MainWindow
from openmsi_gui.ui.single_instance import SingleInstance, server_name
from openmsi_gui.ui.state import LiveState
from openmsi_gui.ui.tasks import Tasks, asyncSlot, install_event_loop
from openmsi_gui.ui.theme import apply_theme
from openmsi_gui.ui.tray import Tray

log = logging.getLogger(__name__)
DEMO_TOPIC = "openmsi-demo"
GIL_SWITCH_SECONDS = 0.001


_IMPORTED = time.monotonic()


def demo_settings(base: Path) -> Settings:
    """Settings for the demo: the embedded broker, ``outbox/`` watched, ``inbox/`` filled."""
    (base / "outbox").mkdir(parents=True, exist_ok=True)
    (base / "inbox").mkdir(parents=True, exist_ok=True)
    profile = BrokerProfile(name="Local demo broker", bootstrap_servers="(embedded)",
                            embedded=True)
    settings = Settings(profiles=[profile])
    settings.folders.append(WatchedFolder(path=str(base / "outbox"), profile_id=profile.id,
                                          topic=DEMO_TOPIC, upload_existing=True,
                                          stable_seconds=1.0))
    settings.destinations.append(Destination(path=str(base / "inbox"), profile_id=profile.id,
                                             topic=DEMO_TOPIC, group_id="openmsi-demo"))
    settings.ui.first_run_done = True
    return settings


class OpenMSIApp(QObject):
    """Everything the running app is made of; tests build it without ``main()``.

    Args:
        store: the settings.
        registry: the transfer registry.
        instance_name: single-instance socket name ("" to skip the check).
        demo: the demo's folders, when running the demo (its window says where they are).
    """

    def __init__(self, store: SettingsStore, registry: Registry,
                 instance_name: str = "", demo: DemoFolders | None = None) -> None:
        super().__init__()
        self.store = store
        self.registry = registry
        self.bus = EventBus()
        self.tasks = Tasks(parent=self)
        self.controller = AppController(store, self.bus, registry)
        self.adapter = EngineAdapter(self.bus, parent=self, store=store)
        self.state = LiveState(self.adapter, self.controller, parent=self)
        self.lab = LabState(self.adapter, self.controller, self.tasks, self.bus, parent=self)
        ui = store.settings.ui
        self.tray = Tray(self.state, ui.notify_failures, ui.notify_completions, parent=self,
                         lab=self.lab)
        self.window = MainWindow(store, self.controller, registry, self.adapter, self.state,
                                 self.tasks, has_tray=self.tray.available, demo=demo,
                                 lab=self.lab)
        self.instance = SingleInstance(instance_name, parent=self) if instance_name else None
        self.tray.openRequested.connect(self.window.show_and_raise)
        self.tray.labRequested.connect(self.window.show_lab)
        self.tray.quitRequested.connect(self.request_quit)
        self.window.quitRequested.connect(self.request_quit)
        self.window.wizardRequested.connect(self.show_wizard)
        self.window.preferencesRequested.connect(self.show_preferences)
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._apply_theme)
        self.adapter.settingsChanged.connect(self._on_settings)
        logging.getLogger().addHandler(self.adapter.log_handler)
        self._unname_jobs = job_names.install(
            store, self.bus, [*logging.getLogger().handlers])  # the log file's too
        self._stopped = False
        self._wizard: QWizard | None = None

    def _on_settings(self, settings: Settings) -> None:
        self.tray.notify_failures = settings.ui.notify_failures
        self.tray.notify_completions = settings.ui.notify_completions
        self._apply_theme()

    def _apply_theme(self, *_args: object) -> None:
        """Follow the settings, and the OS when the theme is "system" (live)."""
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, self.store.settings.ui.theme)

    def show_preferences(self) -> None:
        """Open the preferences dialog."""
        from openmsi_gui.ui.preferences import PreferencesDialog

        PreferencesDialog(self.store, self.tasks, self.window).open()

    def start(self, show_window: bool | None = None) -> None:
        """Show the tray (and the window if there is no tray) and start the jobs."""
        self.tray.show()
        if show_window or (show_window is None and not self.tray.available):
            self.window.show_and_raise()
        if self.instance is not None:
            self.instance.activated.connect(self.window.show_and_raise)
        self.controller.start()
        self.lab.start()
        if not self.store.settings.ui.first_run_done:
            self.show_wizard()

    def show_wizard(self) -> None:
        """Open the setup wizard, or bring forward the one already open."""
        from openmsi_gui.ui.wizard import SetupWizard

        if self._wizard is None:
            self._wizard = SetupWizard(self.store, self.controller, self.tasks, self.window)
            self._wizard.finished.connect(self._on_wizard_finished)
        self._wizard.show()
        self._wizard.raise_()

    def _on_wizard_finished(self, _result: int) -> None:
        if self._wizard is not None:
            self._wizard.deleteLater()
            self._wizard = None

    def request_quit(self) -> None:
        """Quit, as the user asked; while files are on their way, ask once first."""
        question = quit_question(*self.state.book.on_their_way())
        if question and not self._stopped:
            answer = QMessageBox.question(
                self.window if self.window.isVisible() else None, "Quit OpenMSI", question,
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.quit()

    def quit(self) -> None:
        """Hide everything, stop the jobs off the GUI thread, then leave the event loop.

        Stopping takes a few seconds at most, whatever the broker does: chunks
        not acknowledged by then are sent again at the next start.
        """
        if self._stopped:
            return
        self._stopped = True
        self.window.hide()
        self.tray.hide()
        self._stop_jobs()

    @asyncSlot()
    async def _stop_jobs(self) -> None:
        try:
            await self.lab.stop()  # before the jobs: it may read the embedded broker
        except Exception:
            log.exception("the lab reader did not stop cleanly")
        try:
            await self.tasks.wait(self.controller.shutdown())
        except Exception:
            log.exception("the jobs did not stop cleanly")
        self._finish()

    def _finish(self) -> None:
        self.tasks.shutdown()
        self._unname_jobs()
        logging.getLogger().removeHandler(self.adapter.log_handler)
        self.adapter.close()
        if self.instance is not None:
            self.instance.close()
        self.registry.close()
        app = QApplication.instance()
        if app is not None:
            app.quit()

    def emergency_save(self) -> None:
        """Commit the registry's pending writes (crash handler; safe from any thread)."""
        try:
            self.registry.commit()
        except Exception:
            log.exception("could not commit the registry")

    @property
    def stopped(self) -> bool:
        """Whether :meth:`quit` has finished its work."""
        return self._stopped


def prepare_demo(folder: Path | None) -> DemoFolders:
    """Point the settings and data folders at the demo's own, with its settings; its folders.

    Args:
        folder: where the demo lives; None for demo/ in the user's data folder,
            reused from one run to the next.
    """
    # Before the data folder is moved into the demo's own: demo/ of the user's.
    demo = DemoFolders.at(folder).create()  # outbox/ and inbox/ made again if deleted
    os.environ["OPENMSI_GUI_CONFIG_DIR"] = str(demo.base / "config")
    os.environ["OPENMSI_GUI_DATA_DIR"] = str(demo.base / "data")
    settings_path = demo.base / "config" / "settings.json"
    if not settings_path.exists():
        SettingsStore(settings_path).update(demo_settings(demo.base))
    return demo


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``openmsi-gui``."""
    parser = argparse.ArgumentParser(prog="openmsi-gui",
                                     description="OpenMSI GUI tray application")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--demo", action="store_true",
                        help="try it on a local broker, with its own settings in a temp folder")
    parser.add_argument("--demo-dir", type=Path,
                        help="folder for the demo (default: demo/ in the user data folder, "
                             "reused from one run to the next)")
    parser.add_argument("--minimized", action="store_true",
                        help="start in the tray (used when starting on login)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tray application; return the exit code."""
    args = build_parser().parse_args(argv)
    # Until the app can quit gracefully, a SIGTERM (logout, service stop) is remembered
    # instead of killing it half-started; it quits as soon as the event loop runs.
    early_signals: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: early_signals.append(signum))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    log_path = setup_file_logging()
    prepare_process()
    demo = prepare_demo(args.demo_dir) if args.demo else None
    if demo is not None:
        print(f"OpenMSI GUI demo:\n{demo.instructions()}", flush=True)
    # The engine's threads share the GIL with the GUI thread; asking a running
    # thread to yield after 1 ms (not 5) keeps the event loop responsive.
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    app = QApplication(sys.argv[:1])
    app.setApplicationName("OpenMSI")
    app.setQuitOnLastWindowClosed(False)
    loop = install_event_loop(app)
    name = server_name(str(default_config_dir()))
    probe = SingleInstance(name)
    if probe.notify_running():
        print("OpenMSI GUI is already running; brought it forward.", flush=True)
        return 0
    store = SettingsStore()
    apply_theme(app, store.settings.ui.theme)
    openmsi = OpenMSIApp(store, Registry(), instance_name=name, demo=demo)
    crash = install_crash_handler(log_path, emergency=openmsi.emergency_save,
                                  quit_app=openmsi.quit, parent=openmsi)
    assert openmsi.instance is not None
    openmsi.instance.claim()
    if not early_signals:  # a stop asked for while starting needs no broker and no jobs
        openmsi.start(show_window=not args.minimized)
    refresh_at_start(store.settings.ui.start_on_login)  # re-point it after an upgrade
    # Benchmarks read this line (benchmarks/gui_responsiveness.py).
    QTimer.singleShot(0, lambda: log.info("ready: window and tray shown at %.3f, %.2f s after "
                                          "import", time.time(), time.monotonic() - _IMPORTED))

    _quit_on_signals(openmsi, early_signals)

    try:
        loop.run_until_complete(_until_quit(app))
    finally:
        loop.close()
    crash.uninstall()
    return 0


def _quit_on_signals(openmsi: OpenMSIApp, received: list[int]) -> None:
    """SIGINT/SIGTERM (Ctrl-C, logout, service stop) quit gracefully, like the menu's Quit.

    Args:
        openmsi: the app to quit.
        received: signals that arrived while it was starting; it quits at once.
    """
    def handler(signum: int, _frame: object) -> None:
        log.info("stopping (%s)...", signal.Signals(signum).name)
        QTimer.singleShot(0, openmsi.quit)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    if received:
        handler(received[0], None)
    # Python runs signal handlers only between bytecodes; wake it up regularly.
    wake = QTimer(openmsi)
    wake.timeout.connect(lambda: None)
    wake.start(250)


async def _until_quit(app: QApplication) -> None:
    done = asyncio.get_running_loop().create_future()

    def finish() -> None:
        if not done.done():
            done.set_result(None)

    app.aboutToQuit.connect(finish)
    await done


if __name__ == "__main__":
    sys.exit(main())
