"""Crash capture: an unexpected exception is logged, the registry saved, and the user told.

:func:`install_crash_handler` replaces ``sys.excepthook`` (which PySide6 also calls for
exceptions escaping slots) and ``threading.excepthook``. On any thread the hook logs the
traceback at CRITICAL, writes ``crash-<timestamp>.txt`` next to the log file and calls the
``emergency`` callable (the app commits its registry); then it hops to the GUI thread, where
one dialog at a time says what happened and where the log is. Errors that happen while a
dialog is pending or open are logged and counted, not shown.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

from openmsi_gui import __version__
from openmsi_gui.app.formatting import count_text

log = logging.getLogger(__name__)

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
#: ``show_dialog(message, details, log_path)``; returns True if the user chose "Quit".
ShowDialog = Callable[[str, str, Path], bool]

MAX_CRASH_FILES = 20  # per run: an error in a loop must not fill the disk


def show_crash_dialog(message: str, details: str, log_path: Path,
                      parent: QWidget | None = None) -> bool:
    """The crash dialog; blocks until "Quit" or "Keep running" and returns True for "Quit"."""
    box = QMessageBox(QMessageBox.Icon.Critical, "OpenMSI GUI: unexpected error", message,
                      QMessageBox.StandardButton.NoButton, parent)
    box.setDetailedText(details)
    copy = box.addButton("Copy details", QMessageBox.ButtonRole.ActionRole)
    folder = box.addButton("Open log folder", QMessageBox.ButtonRole.ActionRole)
    quit_button = box.addButton("Quit", QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton("Keep running", QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    while True:  # every QMessageBox button closes the box: reopen it after copy / open
        box.exec()
        clicked = box.clickedButton()
        if clicked is copy:
            QGuiApplication.clipboard().setText(details)
        elif clicked is folder:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_path.parent)))
        else:
            box.deleteLater()
            return clicked is quit_button


class CrashHandler(QObject):
    """Receives exceptions from any thread; shows the dialog on the GUI thread.

    Create it on the GUI thread (it must live there). Use :func:`install_crash_handler`.

    Attributes:
        crashes: exceptions handled so far.
        suppressed: exceptions not shown because a dialog was pending or open.

    Signals:
        crashed(message, details): queued to the GUI thread for the dialog.
    """

    crashed = Signal(str, str)

    def __init__(self, log_path: Path, emergency: Callable[[], None] | None = None,
                 quit_app: Callable[[], None] | None = None,
                 show_dialog: ShowDialog | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_path = log_path
        self.emergency = emergency
        self.quit_app = quit_app
        self.show_dialog: ShowDialog = show_dialog or show_crash_dialog
        self.crashes = 0
        self.suppressed = 0
        self._lock = threading.Lock()
        self._dialog_busy = False
        self._unreported = 0
        self._crash_files = 0
        self._previous_sys = sys.excepthook
        self._previous_threading = threading.excepthook
        self.crashed.connect(self._on_crashed, Qt.ConnectionType.QueuedConnection)

    # -- hooks -----------------------------------------------------------

    def install(self) -> None:
        """Become ``sys.excepthook`` and ``threading.excepthook``."""
        self._previous_sys = sys.excepthook
        self._previous_threading = threading.excepthook
        sys.excepthook = self.sys_hook
        threading.excepthook = self.thread_hook

    def uninstall(self) -> None:
        """Put the previous hooks back (if they are still ours)."""
        if sys.excepthook == self.sys_hook:
            sys.excepthook = self._previous_sys
        if threading.excepthook == self.thread_hook:
            threading.excepthook = self._previous_threading

    def sys_hook(self, exc_type: type[BaseException], exc: BaseException,
                 tb: TracebackType | None) -> None:
        """``sys.excepthook``: uncaught exceptions on the main thread and in Qt slots."""
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous_sys(exc_type, exc, tb)
            return
        self.handle((exc_type, exc, tb), threading.current_thread().name)

    def thread_hook(self, args: threading.ExceptHookArgs) -> None:
        """``threading.excepthook``: uncaught exceptions in Python threads."""
        if issubclass(args.exc_type, SystemExit) or args.exc_value is None:
            self._previous_threading(args)
            return
        name = args.thread.name if args.thread is not None else "unknown thread"
        self.handle((args.exc_type, args.exc_value, args.exc_traceback), name)

    # -- handling (any thread) -------------------------------------------

    def handle(self, exc_info: ExcInfo, thread_name: str) -> None:
        """Log, write the crash file, save what can be saved, then ask for the dialog."""
        try:
            log.critical("unexpected error in thread %s", thread_name, exc_info=exc_info)
            details = "".join(traceback.format_exception(*exc_info))
            crash_file = self._write_crash_file(details, thread_name)
            saved = self._run_emergency()
            with self._lock:
                self.crashes += 1
                if self._dialog_busy:
                    self.suppressed += 1
                    self._unreported += 1
                    return
                self._dialog_busy = True
            message = ("OpenMSI GUI ran into an unexpected error. "
                       + ("Your transfer records were saved. " if saved else "")
                       + f"The details are in the log file:\n{self.log_path}")
            if crash_file is not None:
                details = f"{details}\nAlso saved to {crash_file}\n"
            self.crashed.emit(message, details)
        except Exception:  # the hook itself must never raise
            with self._lock:
                self._dialog_busy = False
            self._previous_sys(*exc_info)

    def _write_crash_file(self, details: str, thread_name: str) -> Path | None:
        with self._lock:
            if self._crash_files >= MAX_CRASH_FILES:
                return None
            self._crash_files += 1
        now = datetime.now()
        path = self.log_path.parent / f"crash-{now:%Y%m%d-%H%M%S-%f}.txt"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"OpenMSI GUI {__version__}\n{now.isoformat()}\n"
                            f"thread: {thread_name}\n\n{details}", encoding="utf-8")
        except OSError:
            log.exception("cannot write the crash file %s", path)
            return None
        return path

    def _run_emergency(self) -> bool:
        if self.emergency is None:
            return False
        try:
            self.emergency()
        except Exception:
            log.exception("emergency save failed")
            return False
        return True

    # -- dialog (GUI thread) ---------------------------------------------

    def _on_crashed(self, message: str, details: str) -> None:
        try:
            with self._lock:
                earlier, self._unreported = self._unreported, 0
            if earlier:
                message += (f"\n\n{count_text(earlier, 'more error', 'more errors')} happened "
                            "meanwhile (see the log).")
            quit_requested = self.show_dialog(message, details, self.log_path)
        except Exception:
            log.exception("cannot show the crash dialog")
            quit_requested = False
        finally:
            with self._lock:
                self._dialog_busy = False
        if quit_requested and self.quit_app is not None:
            self.quit_app()


def install_crash_handler(log_path: Path, emergency: Callable[[], None] | None = None,
                          quit_app: Callable[[], None] | None = None,
                          show_dialog: ShowDialog | None = None,
                          parent: QObject | None = None) -> CrashHandler:
    """Create a :class:`CrashHandler` (on the GUI thread) and install its hooks.

    Args:
        log_path: the log file named in the dialog; crash files go next to it.
        emergency: called on the failing thread to save state (e.g. commit the registry).
        quit_app: called when the user picks "Quit".
        show_dialog: replaces :func:`show_crash_dialog` (tests).
        parent: the handler's QObject parent.
    """
    handler = CrashHandler(log_path, emergency, quit_app, show_dialog, parent)
    handler.install()
    return handler
