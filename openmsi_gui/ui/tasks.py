"""Deliver the result of background work to the GUI thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal

T = TypeVar("T")

CHECK_DELAY_MS = 300
"""A typed path is checked on disk once typing pauses this long."""

_alive: set[_Relay] = set()


class _Relay(QObject):
    finished = Signal(object)


def when_done(future: Future[T], on_result: Callable[[T], Any],
              on_error: Callable[[BaseException], Any] | None = None,
              context: QObject | None = None) -> None:
    """Call ``on_result(value)`` or ``on_error(exc)`` on the GUI thread when ``future`` ends.

    Args:
        future: work running on another thread (e.g. the controller's).
        on_result: called with the result.
        on_error: called with the exception (default: ignored, it is logged elsewhere).
        context: if given and deleted before the future ends, nothing is called.
    """
    relay = _Relay(context)
    _alive.add(relay)

    def deliver(done: Future[T]) -> None:
        _alive.discard(relay)
        if done.cancelled():
            return
        error = done.exception()
        if error is not None:
            if on_error is not None:
                on_error(error)
        else:
            on_result(done.result())

    relay.finished.connect(deliver, Qt.ConnectionType.QueuedConnection)

    def hop(done: Future[T]) -> None:
        try:
            relay.finished.emit(done)
        except RuntimeError:  # the context (and with it the relay) was deleted meanwhile
            _alive.discard(relay)

    future.add_done_callback(hop)


def run_in_thread(fn: Callable[..., T], *args: Any) -> Future[T]:
    """Run ``fn(*args)`` on a daemon thread of its own; its future carries the outcome.

    For file-system checks: one that hangs on a dead network share must hold
    up neither other checks nor the exit of the app (the threads of an
    executor are joined at exit).
    """
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed over to whoever waits on the future
            future.set_exception(exc)

    threading.Thread(target=run, name="openmsi-path-check", daemon=True).start()
    return future
