"""A KafkaCrypto node on disk: importing kafkacrypto, and the node's files.

kafkacrypto is GPL-2.0-only and optional (the bundled app leaves it out), so it
is imported only when needed; :class:`CryptoSetupError` explains how to install
it when it is missing.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import logging
import os
import stat
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from openmsi_gui.engine.kafka_config import CryptoNode, default_nodes_dir

log = logging.getLogger(__name__)

INSTALL_HINT = ("encryption is not installed: run openmsi encryption install, or Enable "
                "encryption… in the broker profile")
"""What to do when kafkacrypto is missing (the installed app leaves it out)."""


class CryptoSetupError(Exception):
    """Encryption cannot start; the message says what to do (install, provision, chmod)."""


class EncryptionNotInstalled(CryptoSetupError):
    """kafkacrypto is not installed: jobs that need it wait until it is (see INSTALL_HINT)."""


# -- importing kafkacrypto -----------------------------------------------------

_IMPORT_LOCK = threading.Lock()


def kafkacrypto_module(name: str = "kafkacrypto") -> ModuleType:
    """Import ``kafkacrypto`` (or one of its modules) without its import-time warnings.

    kafkacrypto announces its version and Kafka library with ``RuntimeWarning``
    when first imported; those are silenced here.

    Raises:
        CryptoSetupError: if kafkacrypto, pysodium or libsodium is missing.
    """
    with _IMPORT_LOCK:
        module = sys.modules.get(name)
        if module is not None and sys.modules.get("kafkacrypto") is not None:
            return module
        try:
            kc_log = logging.getLogger("kafkacrypto")
            if kc_log.level == logging.NOTSET:
                # Each node start logs routine WARNINGs (key types it skips, new
                # chains); errors still show. Set the level to see everything.
                kc_log.setLevel(logging.ERROR)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                importlib.import_module("kafkacrypto")
                return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == "kafkacrypto":
                raise EncryptionNotInstalled(INSTALL_HINT) from exc
            if exc.name in ("pysodium", "dirhash", "certifi"):
                raise CryptoSetupError(f"kafkacrypto needs the {exc.name} package: pip "
                                       f"install {exc.name}") from exc
            if exc.name == "kafka":  # kafkacrypto's fallback when confluent_kafka fails
                raise CryptoSetupError(
                    "kafkacrypto could not load confluent-kafka in this Python "
                    f"({sys.executable}): install it there (pip install confluent-kafka)"
                ) from exc
            raise CryptoSetupError(f"{INSTALL_HINT} ({exc})") from exc
        except (ValueError, OSError) as exc:
            if "sodium" in str(exc).lower():
                raise CryptoSetupError(
                    "encryption needs the libsodium library: install it (Debian/Ubuntu: apt "
                    "install libsodium23; Fedora: dnf install libsodium; macOS: brew install "
                    "libsodium; Windows: libsodium.dll from download.libsodium.org on PATH)"
                ) from exc
            raise CryptoSetupError(f"kafkacrypto cannot start: {exc}") from exc


def kafkacrypto_available() -> bool:
    """Whether encryption can be used in this installation."""
    try:
        kafkacrypto_module()
    except CryptoSetupError:
        return False
    return True


# -- node files ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeFiles:
    """The three files of a provisioned node, checked to exist and be usable."""

    node_id: str
    config: Path
    cryptokey: Path
    seed: Path


def not_found(node: CryptoNode) -> CryptoSetupError:
    """The error for a node whose folder is nowhere it was looked for."""
    searched = ", ".join(str(p) for p in node.searched) or "nowhere"
    return CryptoSetupError(
        f"encryption node {node.node_id!r} was not found (looked for {searched}): provision "
        f"it with 'openmsi provision --node-id {node.node_id} ...' or copy its folder "
        f"{node.node_id}/ into {default_nodes_dir()}")


def check_access(path: Path, what: str) -> None:
    """Raise CryptoSetupError unless ``path`` (``what`` it is) can be read and written."""
    if not path.is_file():
        raise CryptoSetupError(
            f"{what} {path.name} is missing from {path.parent}: copy all three node files "
            f"(.config, .crypto, .seed) together, or provision the node again")
    if not os.access(path, os.R_OK | os.W_OK):
        raise CryptoSetupError(
            f"cannot read and write {path}: the node's files must belong to the user running "
            f"OpenMSI (fix with: chown $USER and chmod 600 {path.parent}/*)")


def warn_if_shared(path: Path) -> None:
    """Log a warning if the secret key file ``path`` is readable by other users."""
    if sys.platform == "win32":
        return
    with contextlib.suppress(OSError):
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            log.warning("%s is a secret key file readable by other users: chmod 600 %s",
                        path.name, path)


def _probe_lock(path: Path) -> None:
    """Raise BlockingIOError if another process holds ``path``'s KafkaCrypto lock."""
    if sys.platform == "win32":
        return
    import fcntl

    with path.open("rb+") as handle:
        try:
            fcntl.lockf(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # released on close
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise BlockingIOError(exc.errno, f"{path} is locked") from exc
            raise


class NodeStore:
    """A node's ``.config`` opened with KafkaCrypto's ``CryptoStore``, and closed properly.

    The file is locked (as KafkaCrypto and OpenMSIStream lock it) for as long as
    it is open, so two programs never run the same node. kafkacrypto 0.9.11's
    ``AtomicFile.close()`` fails before it closes the file when nothing is left
    to write; :meth:`close` finishes the job.

    Args:
        path: the ``.config`` file (it must exist).
        node_id: the expected node id (then written to the file), or None to
            read it from the file without writing.

    Raises:
        BlockingIOError: another program holds the node.
        OSError: the file cannot be opened.
        Exception: whatever kafkacrypto raises for a file it cannot parse.
    """

    def __init__(self, path: Path, node_id: str | None = None) -> None:
        utils = kafkacrypto_module("kafkacrypto.utils")
        store_mod = kafkacrypto_module("kafkacrypto.cryptostore")
        _probe_lock(path)  # atomic_open leaks its file when the lock is taken
        self._file: Any = utils.atomic_open(str(path), "r+")
        try:
            self.store: Any = store_mod.CryptoStore(node_id, self._file)
        except BaseException:
            self._close_file()
            raise

    def _close_file(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._file.flush()  # writes what is pending; else removes a missing temp file
        readfile = getattr(self._file, "_AtomicFile__readfile", None)
        if readfile is not None and not readfile.closed:
            self._file.internal_close(readfile)  # unlock and close

    def close(self) -> None:
        """Write what is pending, unlock and close (idempotent)."""
        with contextlib.suppress(Exception):
            self.store.close()
        self._close_file()


def file_value(store: Any, name: str, default: Path) -> Path:
    """The path a node's ``.config`` gives for ``name`` (relative to the node's folder)."""
    value = store.load_value(name)
    if not isinstance(value, str) or not value:
        return default
    path = Path(value.removeprefix("file#")).expanduser()
    return path if path.is_absolute() else default.parent / path
