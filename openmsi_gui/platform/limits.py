"""The open-files limit, raised at start so that many files and sockets fit.

macOS starts programs with a soft limit of 256 open files: a watched folder with
a backlog, a few Kafka connections and the registry reach it, and OpenMSIStream
tells its users to run ``ulimit -n`` by hand. The soft limit may be raised up to
the hard limit without privileges, so both programs do that when they start.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

# macOS refuses RLIM_INFINITY (and anything above kern.maxfilesperproc) for
# RLIMIT_NOFILE; OPEN_MAX is what it always accepts.
MACOS_OPEN_MAX = 10240


class RlimitApi(Protocol):
    """The part of :mod:`resource` used here (tests pass a fake)."""

    RLIMIT_NOFILE: int
    RLIM_INFINITY: int

    def getrlimit(self, resource: int, /) -> tuple[int, int]:
        """The (soft, hard) limits."""

    def setrlimit(self, resource: int, limits: tuple[int, int], /) -> None:
        """Set the (soft, hard) limits."""


@dataclass(frozen=True, slots=True)
class OpenFilesLimit:
    """The open-files limit before and after :func:`raise_open_files_limit`.

    Attributes:
        before: the soft limit the program was started with.
        after: the soft limit now (the same if it could not be raised).
        hard: the hard limit (-1 for unlimited); None where there is no such limit.
    """

    before: int
    after: int
    hard: int | None


def _targets(hard: int, infinity: int, platform: str) -> list[int]:
    """Soft limits to try, best first."""
    if hard == infinity:
        return [MACOS_OPEN_MAX] if platform == "darwin" else [1 << 20, MACOS_OPEN_MAX]
    if platform == "darwin":
        return [hard, MACOS_OPEN_MAX] if hard > MACOS_OPEN_MAX else [hard]
    return [hard]


def raise_open_files_limit(api: RlimitApi | None = None,
                           platform: str = sys.platform) -> OpenFilesLimit | None:
    """Raise the soft open-files limit to the hard limit; never fails.

    Args:
        api: the :mod:`resource` module (tests pass a fake); None to import it.
        platform: ``sys.platform``.

    Returns:
        The limits before and after, or None where there is no such limit (Windows).
    """
    if api is None:
        try:
            import resource
        except ImportError:  # Windows: sockets and files have no per-process soft limit
            return None
        api = resource
    try:
        soft, hard = api.getrlimit(api.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return None
    hard_text = -1 if hard == api.RLIM_INFINITY else hard
    for target in _targets(hard, api.RLIM_INFINITY, platform):
        if soft != api.RLIM_INFINITY and target <= soft:
            break
        try:
            api.setrlimit(api.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError):
            continue
        log.debug("open-files limit raised from %d to %d", soft, target)
        return OpenFilesLimit(soft, target, hard_text)
    return OpenFilesLimit(soft, soft, hard_text)


def open_files_limit() -> int | None:
    """The soft open-files limit now, or None where there is none (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft
