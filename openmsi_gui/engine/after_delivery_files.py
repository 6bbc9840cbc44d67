"""The file operations of after-delivery actions: moves that never overwrite, verified copies.

A move within one volume is a hard link to the archive name (which fails if
that name exists, so nothing is ever overwritten) and then the removal of the
original; where links are not supported, a rename after checking the name is
free. Across volumes the file is copied to a hidden temporary name in the
archive, fsynced, read back and compared (SHA-512) with what was confirmed,
then given its final name the same way, and only then is the original removed
(by the caller, once it checked the original once more).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import uuid
from pathlib import Path

from openmsi_gui.engine.file_hash import sha512_of

READ_BYTES = 1 << 20


class ArchiveTaken(FileExistsError):
    """The archive already has a file under that name; nothing was overwritten."""


class CopyMismatch(OSError):
    """The copy in the archive (or the original while it was read) is not what was confirmed."""


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries durable (a no-op where folders cannot be opened: Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def place(source: Path, target: Path) -> None:
    """Give ``source`` the name ``target`` (same volume), never overwriting ``target``.

    Raises:
        ArchiveTaken: ``target`` exists.
        OSError: errno EXDEV when they are on different volumes; others as they come.
    """
    try:
        os.link(source, target, follow_symlinks=False)
    except FileExistsError as exc:
        raise ArchiveTaken(str(target)) from exc
    except OSError as exc:
        if exc.errno == errno.EXDEV:
            raise
        # No hard links here (FAT, some shares): rename once the name is free.
        if os.path.lexists(target):
            raise ArchiveTaken(str(target)) from exc
        os.replace(source, target)
        return
    os.unlink(source)


def copy_verified(source: Path, target: Path, expected: bytes) -> None:
    """Copy ``source`` to ``target`` on another volume, verified, never overwriting.

    The original stays in place (the caller removes it). On any failure nothing
    is left in the archive.

    Raises:
        ArchiveTaken: ``target`` exists.
        CopyMismatch: the bytes read or written are not ``expected``.
        OSError: reading or writing failed.
    """
    temp = target.with_name(f".openmsi-{uuid.uuid4().hex[:12]}.partial")
    try:
        digest = hashlib.sha512()
        with source.open("rb", buffering=0) as src, temp.open("xb") as dst:
            while data := src.read(READ_BYTES):
                digest.update(data)
                dst.write(data)
            dst.flush()
            os.fsync(dst.fileno())
        if digest.digest() != expected:
            raise CopyMismatch(f"{source} changed while it was copied")
        if sha512_of(temp) != expected:
            raise CopyMismatch(f"the copy at {target} does not match the original")
        st = source.stat()
        os.utime(temp, ns=(st.st_atime_ns, st.st_mtime_ns))
        place(temp, target)
        fsync_dir(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
