"""Operating-system errors that need a sentence of their own (not just ``strerror``)."""

from __future__ import annotations

import errno

TOO_MANY_FILES = ("too many files are open on this computer: quit programs you do not need, "
                  "or restart OpenMSI")
INOTIFY_WATCHES = ("this computer cannot watch more folders (Linux's inotify watch limit): "
                   "turn on polling for this folder, or raise fs.inotify.max_user_watches")
INOTIFY_INSTANCES = ("this computer cannot watch more folders (Linux's inotify instance "
                     "limit): turn on polling for this folder, or raise "
                     "fs.inotify.max_user_instances")


def what_to_do(exc: BaseException) -> str | None:
    """A sentence for the errors whose ``strerror`` does not say what to do, else None."""
    text = str(exc)
    if "inotify watch limit" in text:
        return INOTIFY_WATCHES
    if "inotify instance limit" in text:
        return INOTIFY_INSTANCES
    if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
        return TOO_MANY_FILES
    return None


def os_error_text(exc: OSError) -> str:
    """What went wrong, as a phrase: ``strerror``, or what to do for the errors that need it."""
    return what_to_do(exc) or exc.strerror or str(exc) or type(exc).__name__


def cannot_read(exc: OSError) -> str:
    """The reason a file to send could not be read."""
    return f"cannot read the file: {os_error_text(exc)}"
