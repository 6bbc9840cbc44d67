"""Which write errors make a download wait, and which fail one file.

When the destination as a whole cannot take data (disk full, quota, read-only,
a network share gone) nothing is failed and nothing is committed past the
message that could not be written: the downloader waits and tries again. Only
a problem of one file (a name the file system refuses, a file too large for
it) fails that file.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from openmsi_gui.engine.os_errors import TOO_MANY_FILES

# Errors that pass when the lab frees space, fixes permissions or brings a share
# back: the download waits for them instead of failing files. Anything else (a
# name the file system refuses, a file too large for it) fails the one file.
_PASSING_ERRNOS = frozenset(
    getattr(errno, name) for name in (
        "ENOSPC", "EDQUOT", "EROFS", "EIO", "ESTALE", "ETIMEDOUT", "EHOSTDOWN", "ENOTCONN",
        "ENODEV", "ENXIO", "EACCES", "EPERM", "EBUSY", "EAGAIN", "ENOLCK", "ECONNRESET",
        "ECONNABORTED", "ENETDOWN", "ENETUNREACH", "EHOSTUNREACH", "EMFILE", "ENFILE")
    if hasattr(errno, name))

# Windows errors Python maps to no such errno (a share gone is often EINVAL there):
# drive not ready, sharing and lock violations, network path or name gone, disk full.
_PASSING_WINERRORS = frozenset({21, 32, 33, 51, 53, 59, 64, 67, 112, 121, 1231})

_ADVICE = {
    errno.ENOSPC: "free some space there",
    getattr(errno, "EDQUOT", -1): "the disk quota is used up: free some space or ask for more",
    errno.EROFS: "it is read-only: make it writable",
    errno.EACCES: "permission denied: let this user write there",
    errno.EPERM: "permission denied: let this user write there",
    errno.EMFILE: TOO_MANY_FILES,
    errno.ENFILE: TOO_MANY_FILES,
}


@dataclass(frozen=True)
class RetryDelays:
    """How long the downloader waits before trying again (seconds; the last one repeats).

    Args:
        stall: a destination that cannot take data (a full disk is retried at
            least once a minute).
        store: a verified file the sink could not store (a rename refused, an
            S3 upload failed).
        parked: encrypted messages whose keys have not arrived.
    """

    stall: tuple[float, ...] = (5.0, 10.0, 20.0, 30.0, 60.0)
    store: tuple[float, ...] = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0)
    parked: float = 5.0


def nth_delay(delays: tuple[float, ...], attempts: int) -> float:
    """The delay after ``attempts`` tries (the last one repeats)."""
    return delays[min(attempts, len(delays) - 1)]


DEFAULT_DELAYS = RetryDelays()


class Rejected(Exception):
    """A file generation that must fail with this reason."""


class DestinationUnavailable(Exception):
    """The destination cannot take data now; wait and read the message again.

    Args:
        relpath: the file whose message could not be stored ("" for none).
        reason: what is wrong and what to do, for the transfers view.
        log_hint: more for the log line only (e.g. what to do on the command line).
    """

    def __init__(self, relpath: str, reason: str, log_hint: str = "") -> None:
        super().__init__(reason)
        self.relpath = relpath
        self.reason = reason
        self.log_hint = log_hint


ENCRYPTED_TOPIC = "this topic is encrypted: set up encryption for this broker profile"
ENCRYPTED_TOPIC_CLI = ("on the command line, make a node with `openmsi provision` and name it "
                       "in the config file's [kafkacrypto] node_id")


class TopicEncrypted(DestinationUnavailable):
    """A KafkaCrypto message read by a destination that has no node to decrypt it.

    It waits like a destination that cannot take data: nothing from that message
    on is committed, so once encryption is set up (the job restarts with a node)
    every file is read again. It is about the whole topic, not one file: the job
    waits (no file row), and its next start clears that.
    """

    def __init__(self) -> None:
        super().__init__("", ENCRYPTED_TOPIC, ENCRYPTED_TOPIC_CLI)


def destination_problem(exc: OSError, dest: Path) -> str | None:
    """A sentence about ``exc`` if it is a problem of the destination that may pass, else None.

    Such problems (disk full, read-only, no permission, a network share gone, a
    file locked by another program) make the download wait and retry; the others
    (a name the file system refuses, a file too large for it) fail one file.
    """
    if (exc.errno not in _PASSING_ERRNOS and
            getattr(exc, "winerror", None) not in _PASSING_WINERRORS):
        return None
    advice = _ADVICE.get(exc.errno, "check the destination")
    return f"cannot write to {exc.filename or dest}: {exc.strerror or exc}; {advice}"


def whole_destination_problem(exc: OSError, dest: Path, missing: str | None) -> str | None:
    """What to wait on if ``exc`` stops the whole destination, else None (fail the file).

    A refused permission only counts when the destination folder itself is
    not writable: one read-only subfolder (an archived run, or a name a
    producer picked on purpose) must not hold up every other file.

    Args:
        exc: the error writing a file under ``dest``.
        dest: the destination folder.
        missing: why the destination folder is gone, if it is (that always waits).
    """
    if missing is not None:
        return missing
    problem = destination_problem(exc, dest)
    if (problem is not None and exc.errno in (errno.EACCES, errno.EPERM) and
            getattr(exc, "winerror", None) not in _PASSING_WINERRORS and
            os.access(dest, os.W_OK | os.X_OK)):
        return None
    return problem


def cannot_write(exc: OSError) -> str:
    """The reason a file fails on an error that is not the destination's."""
    return f"cannot write to the destination: {exc.strerror or exc}"
