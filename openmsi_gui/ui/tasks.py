"""The UI's one task facility: background work awaited from ``@asyncSlot`` coroutines.

Views never start threads. A slot that needs blocking work is a qasync
``@asyncSlot`` coroutine that awaits it on one of the application's executors,
chosen by purpose::

    @asyncSlot()
    async def on_save_clicked(self) -> None:
        try:
            await self.tasks.run(Purpose.IO, keychain.set_secret, owner, key, secret,
                                 context=self)
        except keychain.KeychainError as exc:
            self.status.show_problem(str(exc))

This module is the only one in ``ui/`` that creates threads or executors. The
application owns the :class:`Tasks` object and shuts it down at exit.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar, cast

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication
from shiboken6 import Shiboken

from openmsi_gui.app.text import sentence

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")

SHUTDOWN_SECONDS = 5.0
"""How long quitting waits for background work that has started."""

CHECK_DELAY_MS = 300
"""A typed path is checked on disk once typing pauses this long."""


AsyncHandler = Callable[..., Coroutine[Any, Any, None]]


def asyncSlot(*types: type) -> Callable[[AsyncHandler], Callable[..., Any]]:
    """qasync's ``asyncSlot`` (typed): the coroutine runs as a task on the qasync loop.

    An exception that escapes the coroutine goes to ``sys.excepthook``, that is
    the crash handler, which logs it and tells the user; ``CancelledError`` (the
    context widget was deleted meanwhile) is ignored.
    """
    import qasync

    return cast(Callable[[AsyncHandler], Callable[..., Any]], qasync.asyncSlot(*types))


class Purpose(enum.Enum):
    """What background work is for; each purpose has its own executor."""

    IO = "io"
    """Keychain, settings and files, one at a time and in order (one thread)."""
    NET = "net"
    """Broker and S3 probes, topic lists: a slow one must not hold up the keychain."""
    FS = "fs"
    """Path checks, which may hang on a dead network share: a daemon thread each."""


class _DaemonThreads(Executor):
    """Run each call on a daemon thread of its own (path checks).

    A check that hangs on a dead network share must hold up neither other
    checks nor the exit of the app.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        if self._closed:
            raise RuntimeError("cannot schedule new work after shutdown")
        future: Future[T] = Future()
        threading.Thread(target=_run, args=(future, fn, args, kwargs), name=self._name,
                         daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True  # never waits: that is the point of this executor


class _DaemonPool(Executor):
    """At most ``workers`` daemon threads taking calls in the order they came.

    Unlike the threads of a ``ThreadPoolExecutor``, which are joined at exit,
    daemon threads let the app quit even if a call never returns (a keychain
    prompt nobody answers, a probe of a host that is gone).
    """

    def __init__(self, name: str, workers: int) -> None:
        self._name = name
        self._workers = workers
        self._lock = threading.Condition()
        self._queue: collections.deque[tuple[Future[Any], Callable[..., Any], tuple[Any, ...],
                                             dict[str, Any]]] = collections.deque()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._queue.append((future, fn, args, kwargs))
            if self._idle == 0 and len(self._threads) < self._workers:
                thread = threading.Thread(target=self._work, daemon=True,
                                          name=f"{self._name}_{len(self._threads)}")
                self._threads.append(thread)
                thread.start()
            self._lock.notify()
        return future

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
                while not self._queue and not self._closed:
                    self._lock.wait()
                self._idle -= 1
                if not self._queue:
                    return
                future, fn, args, kwargs = self._queue.popleft()
            _run(future, fn, args, kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False,
                 timeout: float | None = None) -> None:
        """Refuse new work; optionally drop queued work and wait for the rest.

        Args:
            wait: wait for the calls already taken (and, without
                ``cancel_futures``, the queued ones).
            cancel_futures: cancel the calls not started yet.
            timeout: give up waiting after this many seconds.
        """
        with self._lock:
            self._closed = True
            if cancel_futures:
                for future, *_ in self._queue:
                    future.cancel()
                self._queue.clear()
            self._lock.notify_all()
        if not wait:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def busy(self) -> bool:
        """Whether a call is still running."""
        return any(thread.is_alive() for thread in self._threads)


def _run(future: Future[T], fn: Callable[..., T], args: tuple[Any, ...],
         kwargs: dict[str, Any]) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(fn(*args, **kwargs))
    except BaseException as exc:  # handed over to whoever awaits the future
        future.set_exception(exc)


class Tasks(QObject):
    """Executors by purpose, owned by the application, shut down at exit.

    Signals:
        failed(str): background work failed unexpectedly; a sentence for the status line.
    """

    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        ensure_event_loop()
        self._executors: dict[Purpose, Executor] = {}
        self._closed = False

    def executor(self, purpose: Purpose) -> Executor:
        """The executor for ``purpose`` (created on first use)."""
        if self._closed:
            raise RuntimeError("the application is stopping")
        existing = self._executors.get(purpose)
        if existing is not None:
            return existing
        name = f"openmsi-ui-{purpose.value}"
        made: Executor
        if purpose is Purpose.FS:
            made = _DaemonThreads(name)
        else:
            made = _DaemonPool(name, 1 if purpose is Purpose.IO else 2)
        self._executors[purpose] = made
        return made

    def submit(self, purpose: Purpose, fn: Callable[P, T], *args: P.args,
               **kwargs: P.kwargs) -> Future[T]:
        """Start ``fn`` on the executor for ``purpose``; for callers that are not coroutines."""
        return self.executor(purpose).submit(fn, *args, **kwargs)

    async def run(self, purpose: Purpose, fn: Callable[..., T], *args: Any,
                  context: QObject | None = None) -> T:
        """Run ``fn(*args)`` on the executor for ``purpose`` and return its result.

        Args:
            purpose: which executor.
            fn: the blocking function.
            *args: its arguments.
            context: a widget; if it is deleted before the work ends, the awaiting
                coroutine is cancelled instead of touching it.

        Raises:
            asyncio.CancelledError: ``context`` was deleted meanwhile.
            Exception: whatever ``fn`` raised.
        """
        return await self.wait(self.submit(purpose, fn, *args), context=context)

    async def wait(self, future: Future[T], context: QObject | None = None) -> T:
        """Await work already running elsewhere (e.g. on the controller's thread).

        Args:
            future: the work.
            context: as for :meth:`run`.
        """
        try:
            result = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            raise
        except BaseException:
            _check_alive(context)
            raise
        _check_alive(context)
        return result

    def report(self, what: str, error: BaseException) -> None:
        """Log an unexpected failure of background work and tell the user.

        Args:
            what: what was being done, e.g. "saving the profile".
            error: the exception.
        """
        log.error("%s failed", what, exc_info=error)
        self.failed.emit(sentence(f"{what} failed: {error}"))

    def shutdown(self, timeout: float = SHUTDOWN_SECONDS) -> None:
        """Wait up to ``timeout`` seconds for keychain and settings work; drop queued probes.

        Keychain and settings writes normally end well within the time; a call
        that hangs (a keychain prompt, a probe of a host that is gone) is left
        behind rather than holding up the exit. Path checks are not waited for.
        """
        self._closed = True
        deadline = time.monotonic() + timeout
        for purpose, executor in self._executors.items():
            if isinstance(executor, _DaemonPool):
                executor.shutdown(cancel_futures=purpose is not Purpose.IO,
                                  timeout=max(0.0, deadline - time.monotonic()))
                if executor.busy():
                    log.warning("quitting with %s work still running", purpose.value)
            else:
                executor.shutdown(wait=False)
        self._executors.clear()

    @property
    def closed(self) -> bool:
        """Whether :meth:`shutdown` was called."""
        return self._closed


def _check_alive(context: QObject | None) -> None:
    if context is not None and not Shiboken.isValid(context):
        raise asyncio.CancelledError


_installed: list[asyncio.AbstractEventLoop] = []


class ProgressRelay(QObject):
    """Carries progress sentences from a worker thread to a widget on the GUI thread.

    Pass :meth:`report` to the work as its progress callback and connect :attr:`text`
    to the widget: the signal is queued onto the GUI thread.
    """

    text = Signal(str)

    def report(self, text: str) -> None:
        """Tell ``text`` (any thread); nothing happens once the widget is gone."""
        with contextlib.suppress(RuntimeError):  # the relay was deleted with its widget
            self.text.emit(text)


def install_event_loop(app: QApplication, already_running: bool = False
                       ) -> asyncio.AbstractEventLoop:
    """Make a qasync loop on ``app`` the current asyncio loop, so ``@asyncSlot`` works.

    Args:
        app: the application.
        already_running: Qt's event loop is driven by someone else (tests, scripts).
    """
    import qasync

    loop: asyncio.AbstractEventLoop = qasync.QEventLoop(app, already_running=already_running)
    asyncio.set_event_loop(loop)
    _installed[:] = [loop]
    return loop


def ensure_event_loop() -> asyncio.AbstractEventLoop:
    """The installed qasync loop; one driven by Qt's own loop if ``main()`` made none.

    ``main()`` installs the loop and runs it. Tests and scripts that build the
    app's objects run Qt's event loop themselves, so the loop is installed as
    already running.
    """
    if _installed and not _installed[0].is_closed():
        return _installed[0]
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        raise RuntimeError("background tasks need a QApplication")
    return install_event_loop(app, already_running=True)

