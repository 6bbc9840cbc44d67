"""List a folder tree cheaply: one ``scandir`` per folder and one ``stat`` per file.

The watcher lists whole trees (its first look, its safety-net rescans) and,
when polling a network share, single folders whose modification time moved.
Both go through :func:`list_folder`, which also reports each folder's own
modification time so a poll can skip the folders where nothing was added,
removed or renamed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

UNSURE = -1
"""A folder mtime so recent that a change in the same clock tick could hide behind it."""

_RACY_SECONDS = 2.0  # FAT and some shares keep mtimes to 2 s


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A regular file found in a listing.

    Attributes:
        path: its absolute path.
        relpath: its path relative to the listed root, POSIX-style.
        size: bytes.
        mtime_ns: modification time.
    """

    path: str
    relpath: str
    size: int
    mtime_ns: int

    @property
    def stamp(self) -> tuple[int, int]:
        """What changes when the file does: (size, mtime_ns)."""
        return self.size, self.mtime_ns


@dataclass
class FolderListing:
    """One folder's files, subfolders and the mtime it had when it was listed."""

    mtime_ns: int
    files: list[FileEntry] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)


def list_folder(root: str, folder: str,
                walks_into: Callable[[str], bool] | None = None) -> FolderListing | None:
    """List ``folder`` (under ``root``), in name order; None if it cannot be read.

    Subfolders whose relative path ``walks_into`` refuses are left out (the
    file filter decides about files). Symbolic links to files count as files;
    links to folders are not followed, as ``os.walk`` does not follow them.
    """
    try:
        mtime_ns = os.stat(folder).st_mtime_ns  # before listing: a later change moves it on
        with os.scandir(folder) as entries:
            found = sorted(entries, key=lambda e: e.name)
    except OSError:
        return None
    if time.time() - mtime_ns / 1e9 < _RACY_SECONDS:
        mtime_ns = UNSURE
    listing = FolderListing(mtime_ns)
    prefix = "" if folder == root else folder[len(root) + 1:].replace(os.sep, "/") + "/"
    for entry in found:
        try:
            if entry.is_dir(follow_symlinks=False):
                if walks_into is None or walks_into(prefix + entry.name):
                    listing.folders.append(entry.path)
                continue
            if not entry.is_file():
                continue
            st = entry.stat()
        except OSError:
            continue  # gone since the listing, or unreadable
        listing.files.append(FileEntry(entry.path, prefix + entry.name, st.st_size,
                                       st.st_mtime_ns))
    return listing


def walk_tree(root: str, folder: str | None = None,
              walks_into: Callable[[str], bool] | None = None,
              folders: dict[str, int] | None = None) -> Iterator[FileEntry]:
    """Every file under ``folder`` (default ``root``), folder by folder in name order.

    Args:
        root: the watched root (relative paths are taken from it).
        folder: where to start, ``root`` or a folder under it.
        walks_into: which subfolders (by relative path) to descend into; all if None.
        folders: filled with each listed folder's mtime (:data:`UNSURE` when too recent).
    """
    stack = [folder or root]
    while stack:
        current = stack.pop()
        listing = list_folder(root, current, walks_into)
        if listing is None:
            continue
        if folders is not None:
            folders[current] = listing.mtime_ns
        yield from listing.files
        stack.extend(reversed(listing.folders))
