"""Rate-limit per-item notifications such as progress events."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable


class Throttle:
    """Say yes to an item at most once per ``interval`` seconds.

    Args:
        interval: minimum seconds between two positive answers for one item.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def ready(self, item: Hashable) -> bool:
        """Whether ``item`` may be reported now (and remember that it was)."""
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(item, -1e9) < self.interval:
                return False
            self._last[item] = now
            return True

    def forget(self, item: Hashable) -> None:
        """Drop what is known about ``item`` (e.g. once it is finished)."""
        with self._lock:
            self._last.pop(item, None)
