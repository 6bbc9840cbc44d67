"""Crash capture: log file, crash file, emergency save, one dialog on the GUI thread."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer, QUrl
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from openmsi_gui.app.logfiles import LOG_NAME, close_file_logging, setup_file_logging
from openmsi_gui.engine.registry import Registry
from openmsi_gui.ui import crash
from openmsi_gui.ui.crash import CrashHandler, install_crash_handler, show_crash_dialog


@dataclass
class FakeDialog:
    """Records each dialog instead of blocking; answers "Keep running" (or "Quit")."""

    answer: bool = False
    calls: list[tuple[str, str, Path, bool]] = field(default_factory=list)

    def __call__(self, message: str, details: str, log_path: Path) -> bool:
        on_gui = threading.current_thread() is threading.main_thread()
        self.calls.append((message, details, log_path, on_gui))
        return self.answer


@pytest.fixture
def log_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("OPENMSI_GUI_LOG_DIR", str(tmp_path / "logs"))
    root = logging.getLogger()
    level = root.level
    path = setup_file_logging()
    yield path
    close_file_logging()
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _restore_hooks() -> Iterator[None]:
    sys_hook, thread_hook = sys.excepthook, threading.excepthook
    yield
    sys.excepthook, threading.excepthook = sys_hook, thread_hook


@pytest.fixture
def dialog() -> FakeDialog:
    return FakeDialog()


@pytest.fixture
def emergencies() -> list[str]:
    return []


@pytest.fixture
def handler(qtbot: QtBot, log_path: Path, dialog: FakeDialog, emergencies: list[str]
            ) -> Iterator[CrashHandler]:
    installed = install_crash_handler(
        log_path, emergency=lambda: emergencies.append(threading.current_thread().name),
        show_dialog=dialog)
    yield installed
    installed.uninstall()
    installed.deleteLater()


def crash_files(log_path: Path) -> list[Path]:
    return sorted(log_path.parent.glob("crash-*.txt"))


def test_file_logging_writes_to_the_log_dir_once(log_path: Path, tmp_path: Path) -> None:
    assert log_path == tmp_path / "logs" / LOG_NAME
    assert setup_file_logging() == log_path  # idempotent: still one handler
    logging.getLogger("openmsi_gui.test").info("hello from the test")
    for handler in logging.getLogger().handlers:
        handler.flush()
    lines = [line for line in log_path.read_text(encoding="utf-8").splitlines()
             if "hello from the test" in line]
    assert len(lines) == 1
    assert "INFO" in lines[0]
    assert "openmsi_gui.test" in lines[0]
    assert "MainThread" in lines[0]


def test_exception_in_a_thread_is_logged_saved_and_shown_once(
        qtbot: QtBot, handler: CrashHandler, dialog: FakeDialog, emergencies: list[str],
        log_path: Path) -> None:
    def boom() -> None:
        raise RuntimeError("worker exploded")

    worker = threading.Thread(target=boom, name="crash-test-worker")
    worker.start()
    worker.join(5)
    qtbot.waitUntil(lambda: len(dialog.calls) == 1)

    message, details, shown_path, on_gui = dialog.calls[0]
    assert on_gui
    assert shown_path == log_path
    assert str(log_path) in message
    assert "RuntimeError: worker exploded" in details
    assert emergencies == ["crash-test-worker"]
    text = log_path.read_text(encoding="utf-8")
    assert "CRITICAL" in text
    assert "crash-test-worker" in text
    assert "Traceback" in text
    assert "RuntimeError: worker exploded" in text
    [crash_file] = crash_files(log_path)
    assert "RuntimeError: worker exploded" in crash_file.read_text(encoding="utf-8")
    assert handler.crashes == 1
    assert handler.suppressed == 0


def test_exception_through_sys_excepthook_is_handled_on_the_gui_thread(
        qtbot: QtBot, handler: CrashHandler, dialog: FakeDialog, emergencies: list[str],
        log_path: Path) -> None:
    assert sys.excepthook == handler.sys_hook
    try:
        raise ValueError("slot failed")
    except ValueError as caught:
        sys.excepthook(type(caught), caught, caught.__traceback__)
    assert dialog.calls == []  # queued: never shown from inside the hook
    qtbot.waitUntil(lambda: len(dialog.calls) == 1)

    message, details, _path, on_gui = dialog.calls[0]
    assert on_gui
    assert str(log_path) in message
    assert "ValueError: slot failed" in details
    assert emergencies == ["MainThread"]
    assert "ValueError: slot failed" in log_path.read_text(encoding="utf-8")
    assert len(crash_files(log_path)) == 1


def test_a_burst_shows_one_dialog_and_counts_the_rest(
        qtbot: QtBot, handler: CrashHandler, dialog: FakeDialog, emergencies: list[str]
        ) -> None:
    def boom(number: int) -> None:
        raise OSError(f"failure {number}")

    workers = [threading.Thread(target=boom, args=(n,), name=f"burst-{n}") for n in range(5)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(5)
    qtbot.waitUntil(lambda: len(dialog.calls) == 1)
    qtbot.wait(100)

    assert len(dialog.calls) == 1
    assert handler.crashes == 5
    assert handler.suppressed == 4
    assert "4 more errors happened" in dialog.calls[0][0]
    assert len(emergencies) == 5
    assert len(crash_files(handler.log_path)) == 5

    # Once the dialog is closed, the next error gets its own dialog.
    sys.excepthook(OSError, OSError("later"), None)
    qtbot.waitUntil(lambda: len(dialog.calls) == 2)
    assert "more error" not in dialog.calls[1][0]


def test_quit_choice_quits_and_emergency_commits_the_registry(
        qtbot: QtBot, log_path: Path, tmp_path: Path) -> None:
    registry = Registry(tmp_path / "crash-registry.sqlite3")
    quits: list[bool] = []
    installed = install_crash_handler(log_path, emergency=registry.commit,
                                      quit_app=lambda: quits.append(True),
                                      show_dialog=FakeDialog(answer=True))
    try:
        sys.excepthook(RuntimeError, RuntimeError("bad"), None)
        qtbot.waitUntil(lambda: quits == [True])
    finally:
        installed.uninstall()
        installed.deleteLater()
        registry.close()


def test_keyboard_interrupt_and_failing_emergency_are_handled(
        qtbot: QtBot, log_path: Path, dialog: FakeDialog,
        monkeypatch: pytest.MonkeyPatch) -> None:
    passed_on: list[type[BaseException]] = []
    monkeypatch.setattr(sys, "excepthook", lambda t, v, tb: passed_on.append(t))

    def failing() -> None:
        raise OSError("disk gone")

    installed = install_crash_handler(log_path, emergency=failing, show_dialog=dialog)
    try:
        sys.excepthook(KeyboardInterrupt, KeyboardInterrupt(), None)
        assert passed_on == [KeyboardInterrupt]
        sys.excepthook(RuntimeError, RuntimeError("bad"), None)
        qtbot.waitUntil(lambda: len(dialog.calls) == 1)
        assert "saved" not in dialog.calls[0][0]
        assert "emergency save failed" in log_path.read_text(encoding="utf-8")
    finally:
        installed.uninstall()
        installed.deleteLater()


def test_uninstall_restores_the_previous_hooks(qtbot: QtBot, log_path: Path) -> None:
    sys_hook, thread_hook = sys.excepthook, threading.excepthook
    installed = install_crash_handler(log_path, show_dialog=FakeDialog())
    assert sys.excepthook == installed.sys_hook
    assert threading.excepthook == installed.thread_hook
    installed.uninstall()
    installed.deleteLater()
    assert sys.excepthook is sys_hook
    assert threading.excepthook is thread_hook


def test_real_dialog_copies_opens_the_folder_and_keeps_running(
        qtbot: QtBot, qapp: QApplication, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []

    class FakeDesktop:
        @staticmethod
        def openUrl(url: QUrl) -> bool:
            opened.append(url.toLocalFile())
            return True

    monkeypatch.setattr(crash, "QDesktopServices", FakeDesktop)
    log_file = tmp_path / "logs" / LOG_NAME
    clicks = ["Copy details", "Open log folder", "Keep running"]
    texts: list[str] = []

    def click_next() -> None:
        box = qapp.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click_next)
            return
        texts.append(box.text())
        label = clicks.pop(0)
        [button] = [b for b in box.findChildren(QPushButton) if b.text() == label]
        button.click()
        if clicks:
            QTimer.singleShot(20, click_next)

    QTimer.singleShot(20, click_next)
    assert show_crash_dialog(f"It broke. Log: {log_file}", "Traceback: details",
                             log_file) is False
    assert clicks == []
    assert str(log_file) in texts[0]
    assert QGuiApplication.clipboard().text() == "Traceback: details"
    assert opened == [str(log_file.parent)]
