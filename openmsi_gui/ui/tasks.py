"""Deliver the result of background work to the GUI thread."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal

T = TypeVar("T")

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
