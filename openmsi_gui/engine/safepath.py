"""Turn a relative path from an untrusted message into a path inside a folder.

A message names a file by ``subdir_str`` and ``filename``. Anything that could
escape the destination folder or that some operating system cannot store is
refused rather than "fixed", so that the same message never lands under two
different names on two machines. The rules are the same on every OS, because a
topic is usually read by Windows and Linux machines alike.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from openmsi_gui.engine.untrusted import escaped

_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$", re.I)
_FORBIDDEN = re.compile(r'[\x00-\x1f<>:"|?*\\]')
MAX_COMPONENT_BYTES = 255
MAX_DEPTH = 64


class UnsafePath(ValueError):
    """A path from a message that must not be written."""


def check_component(part: str) -> str:
    """Return ``part`` if it is a safe single file or folder name.

    Raises:
        UnsafePath: naming the rule that ``part`` breaks.
    """
    if part in ("", ".", ".."):
        raise UnsafePath(f"'{escaped(part)}' is not a file or folder name")
    bad = _FORBIDDEN.search(part)
    if bad:
        char = bad.group()
        shown = repr(char) if char.isprintable() else f"U+{ord(char):04X}"
        raise UnsafePath(f"'{escaped(part)}' contains the forbidden character {shown}")
    if _RESERVED.match(part):
        raise UnsafePath(f"'{escaped(part)}' is a reserved device name on Windows")
    if part[-1] in ". ":
        raise UnsafePath(f"'{escaped(part)}' ends with a dot or a space")
    if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
        raise UnsafePath(f"'{escaped(part, 40)}' is longer than {MAX_COMPONENT_BYTES} bytes")
    return part


def split_relpath(relpath: str) -> list[str]:
    """Split a POSIX relative path from a message into checked components.

    Raises:
        UnsafePath: for absolute, drive-letter or UNC paths, ``..`` and bad names.
    """
    if not relpath:
        raise UnsafePath("empty path")
    if relpath.startswith(("/", "\\")):
        raise UnsafePath(f"'{escaped(relpath)}' is an absolute path")
    if re.match(r"^[A-Za-z]:", relpath):
        raise UnsafePath(f"'{escaped(relpath)}' starts with a drive letter")
    parts = relpath.split("/")
    if len(parts) > MAX_DEPTH:
        raise UnsafePath(f"{relpath[:60]!r}... is nested more than {MAX_DEPTH} folders deep")
    return [check_component(part) for part in parts]


def resolve_inside(root: Path, relpath: str) -> Path:
    """Return the absolute path for ``relpath`` under ``root``, or refuse it.

    Besides the name rules, the resolved path (following any symlinks that
    already exist under ``root``) must stay inside ``root``.

    Raises:
        UnsafePath: if the path is unsafe or would land outside ``root``.
    """
    parts = split_relpath(relpath)
    base = Path(os.path.realpath(root))
    target = base.joinpath(*parts)
    real_parent = Path(os.path.realpath(target.parent))
    if real_parent != base and base not in real_parent.parents:
        raise UnsafePath(f"'{escaped(relpath)}' would be written outside the destination folder")
    if target.is_symlink():
        raise UnsafePath(f"'{escaped(relpath)}' is a symbolic link in the destination folder")
    return target
