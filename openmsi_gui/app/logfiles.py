"""The app's log file: one rotating ``openmsi-gui.log`` per user (Qt-free)."""

from __future__ import annotations

import logging
import os
import tempfile
from logging.handlers import RotatingFileHandler
from pathlib import Path

import platformdirs

LOG_NAME = "openmsi-gui.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUP_COUNT = 5
FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"

log = logging.getLogger(__name__)


class AppLogHandler(RotatingFileHandler):
    """The rotating file handler :func:`setup_file_logging` puts on the root logger."""


def log_dir() -> Path:
    """The per-user log folder (``$OPENMSI_GUI_LOG_DIR`` overrides it)."""
    override = os.environ.get("OPENMSI_GUI_LOG_DIR")
    if override:
        return Path(override)
    return Path(platformdirs.user_log_dir("openmsi-gui", appauthor=False))


def _installed() -> list[AppLogHandler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, AppLogHandler)]


def setup_file_logging(level: int = logging.INFO, path: Path | None = None) -> Path:
    """Log to ``path`` (default ``openmsi-gui.log`` in :func:`log_dir`; 5 MB × 5 files).

    Idempotent: calling it again with the same file keeps the one handler. If the folder
    cannot be written, the log goes to the temporary folder instead.

    Returns:
        The log file's path.
    """
    path = path or log_dir() / LOG_NAME
    for handler in _installed():
        if Path(handler.baseFilename) == path.absolute():
            return path
    close_file_logging()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = AppLogHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT,
                                encoding="utf-8")
    except OSError as exc:
        fallback = Path(tempfile.gettempdir()) / "openmsi-gui" / LOG_NAME
        log.warning("cannot write the log file %s (%s); using %s instead", path, exc, fallback)
        path = fallback
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = AppLogHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT,
                                encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(level)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > level:
        root.setLevel(level)
    return path


def close_file_logging() -> None:
    """Remove and close the handler(s) installed by :func:`setup_file_logging`."""
    root = logging.getLogger()
    for handler in _installed():
        root.removeHandler(handler)
        handler.close()
