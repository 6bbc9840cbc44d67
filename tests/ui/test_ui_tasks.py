"""The UI's task facility: executors by purpose, awaited from ``@asyncSlot`` coroutines."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

from openmsi_gui.ui.tasks import Purpose, Tasks, asyncSlot


class Form(QObject):
    def __init__(self, tasks: Tasks) -> None:
        super().__init__()
        self.tasks = tasks
        self.results: list[object] = []

    @asyncSlot()
    async def on_clicked(self) -> None:
        try:
            name = await self.tasks.run(Purpose.IO, threading.current_thread, context=self)
            self.results.append(name.name)
            await self.tasks.run(Purpose.NET, _fail, context=self)
        except ValueError as exc:
            self.results.append(str(exc))


def _fail() -> None:
    raise ValueError("no broker")


def test_results_and_errors_come_back_on_the_gui_thread(qtbot: QtBot, tasks: Tasks) -> None:
    form = Form(tasks)
    form.on_clicked()
    qtbot.waitUntil(lambda: len(form.results) == 2)
    assert form.results == ["openmsi-ui-io_0", "no broker"]


def test_io_work_runs_in_order_on_one_thread(qtbot: QtBot, tasks: Tasks) -> None:
    seen: list[tuple[int, str]] = []

    def step(n: int) -> None:
        time.sleep(0.01 * (3 - n))
        seen.append((n, threading.current_thread().name))

    futures = [tasks.submit(Purpose.IO, step, n) for n in range(3)]
    qtbot.waitUntil(lambda: all(f.done() for f in futures))
    assert [n for n, _ in seen] == [0, 1, 2]
    assert {name for _, name in seen} == {"openmsi-ui-io_0"}


def test_a_deleted_context_cancels_the_coroutine(qtbot: QtBot, tasks: Tasks) -> None:
    release = threading.Event()
    reached: list[str] = []

    class View(QObject):
        @asyncSlot()
        async def on_go(self) -> None:
            await tasks.run(Purpose.IO, release.wait, 5, context=self)
            reached.append("touched a deleted widget")

    view = View()
    task = view.on_go()
    view.deleteLater()
    qtbot.waitUntil(lambda: not _alive(view))
    release.set()
    qtbot.waitUntil(task.done)
    assert task.cancelled()
    assert reached == []


def _alive(obj: QObject) -> bool:
    from shiboken6 import Shiboken

    return bool(Shiboken.isValid(obj))


def test_a_hung_path_check_holds_up_neither_checks_nor_shutdown(qtbot: QtBot) -> None:
    tasks = Tasks()
    hang = threading.Event()
    hung = tasks.submit(Purpose.FS, hang.wait, 10)
    quick = tasks.submit(Purpose.FS, lambda: "ok")
    qtbot.waitUntil(quick.done)
    assert quick.result() == "ok"
    started = time.monotonic()
    tasks.shutdown()
    assert time.monotonic() - started < 1
    assert not hung.done()
    hang.set()
    qtbot.waitUntil(hung.done)


def test_shutdown_waits_for_started_io_and_refuses_new_work(qtbot: QtBot) -> None:
    tasks = Tasks()
    done: list[bool] = []
    tasks.submit(Purpose.IO, lambda: (time.sleep(0.2), done.append(True)))
    tasks.shutdown()
    assert done == [True]
    with pytest.raises(RuntimeError):
        tasks.submit(Purpose.IO, print)


def test_report_logs_and_tells_the_user(qtbot: QtBot, tasks: Tasks,
                                        caplog: pytest.LogCaptureFixture) -> None:
    with qtbot.waitSignal(tasks.failed) as blocker:
        tasks.report("saving the profile", OSError("disk full"))
    assert blocker.args == ["Saving the profile failed: disk full."]
    assert "saving the profile failed" in caplog.text


def test_quitting_waits_for_a_hung_call_only_so_long(qtbot: QtBot,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    tasks = Tasks()
    release = threading.Event()
    hung = tasks.submit(Purpose.IO, release.wait, 30)
    queued = tasks.submit(Purpose.IO, lambda: "written")
    started = time.monotonic()
    tasks.shutdown(timeout=0.3)
    assert time.monotonic() - started < 2
    assert "quitting with io work still running" in caplog.text
    release.set()
    qtbot.waitUntil(queued.done)  # a keychain write already asked for is not dropped
    assert hung.done()
    assert queued.result() == "written"
