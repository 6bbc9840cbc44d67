"""What both programs do first: find the bundle's libraries and components, raise limits.

Called by ``openmsi`` and ``openmsi-gui`` (and the bundle's launchers) before
anything opens files or loads libsodium, so that nobody has to run ``ulimit -n``
or copy DLLs by hand as OpenMSIStream's troubleshooting page asks. The KafkaCrypto
component, if the user installed it, goes on ``sys.path`` here too, before anything
imports it.
"""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

from openmsi_gui.platform.bundle import missing_library, use_bundled_libraries
from openmsi_gui.platform.components import activate
from openmsi_gui.platform.limits import OpenFilesLimit, raise_open_files_limit

log = logging.getLogger(__name__)


def prepare_process() -> OpenFilesLimit | None:
    """Use the bundle's libraries (when frozen) and components, raise the open-files limit.

    Never fails.

    Returns:
        The open-files limit before and after, or None where there is none (Windows).
    """
    use_bundled_libraries()
    activate()
    limit = raise_open_files_limit()
    if limit is not None:
        log.debug("open-files limit %d, was %d (hard limit %s)", limit.after, limit.before,
                  limit.hard)
    return limit


def exit_missing_library(exc: BaseException, program: str) -> NoReturn:
    """Leave with one sentence if ``exc`` is a native library that failed to load, else re-raise.

    Args:
        exc: what importing the program raised.
        program: the program's name, for the message.
    """
    sentence = missing_library(exc)
    if sentence is None:
        raise exc
    print(f"{program}: error: {sentence}", file=sys.stderr, flush=True)
    raise SystemExit(2)
