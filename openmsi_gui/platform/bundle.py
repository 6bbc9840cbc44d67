"""Native libraries in the installed (frozen) bundle: found, or explained in one sentence.

The bundle carries librdkafka (inside confluent-kafka) and libsodium (loaded by
pysodium through :func:`ctypes.util.find_library`). PyInstaller makes Windows and
macOS look in the bundle's folder first; on Linux ``find_library`` asks
``ldconfig`` and would miss the bundled copy, so :func:`use_bundled_libraries`
makes it look there too. On Windows the folder is also added to the DLL search
path, so that a service started from another working folder finds them.
"""

from __future__ import annotations

import ctypes.util
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

REINSTALL = "reinstall OpenMSI GUI (its installer puts the library back)"
_DLL_DIRECTORIES: list[object] = []  # kept: closing one takes its folder off the search path


def bundle_dir() -> Path | None:
    """The folder holding the bundle's libraries, or None when not running frozen."""
    if not getattr(sys, "frozen", False):
        return None
    meipass = getattr(sys, "_MEIPASS", None)
    return Path(meipass) if meipass else Path(sys.executable).parent


def find_in(folder: Path, name: str) -> str | None:
    """A library called ``name`` (as for ``find_library``: "sodium") in ``folder``, or None."""
    for pattern in (f"lib{name}.so*", f"lib{name}.*dylib", f"{name}.dll", f"lib{name}.dll",
                    f"lib{name}-*.dll"):
        found = sorted(folder.glob(pattern))
        if found:
            return str(found[0])
    return None


def bundled_find_library(folder: Path,
                         system: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """``find_library`` that prefers the copy in ``folder`` over ``system``'s answer."""
    def find_library(name: str) -> str | None:
        return find_in(folder, name.removeprefix("lib")) or system(name)

    find_library.__doc__ = f"ctypes.util.find_library, looking in {folder} first."
    return find_library


def use_bundled_libraries() -> Path | None:
    """When frozen, make ctypes and Windows find the bundle's libraries; return its folder."""
    folder = bundle_dir()
    if folder is None:
        return None
    if getattr(ctypes.util.find_library, "__wrapped_bundle__", None) != str(folder):
        finder = bundled_find_library(folder, ctypes.util.find_library)
        finder.__wrapped_bundle__ = str(folder)  # type: ignore[attr-defined]
        ctypes.util.find_library = finder  # type: ignore[assignment]
    if sys.platform == "win32":
        _DLL_DIRECTORIES.append(os.add_dll_directory(str(folder)))
        path = os.environ.get("PATH", "")
        if str(folder) not in path.split(os.pathsep):
            os.environ["PATH"] = os.pathsep.join((str(folder), path)) if path else str(folder)
    return folder


def missing_library(exc: BaseException) -> str | None:
    """A sentence for a native library that could not be loaded, or None for other errors.

    Covers librdkafka (``import confluent_kafka`` fails: "DLL load failed", "cannot
    open shared object file") and libsodium ("Unable to find libsodium").
    """
    text = str(exc).lower()
    frozen = bundle_dir() is not None
    if "sodium" in text:
        fix = REINSTALL if frozen else (
            "install it (Debian/Ubuntu: apt install libsodium23; Fedora: dnf install "
            "libsodium; macOS: brew install libsodium; Windows: libsodium.dll from "
            "download.libsodium.org on PATH)")
        return f"the libsodium library (for encryption) could not be loaded: {fix}"
    kafka = ("rdkafka" in text or "confluent_kafka" in text or "cimpl" in text
             or getattr(exc, "name", "") in ("confluent_kafka", "confluent_kafka.cimpl"))
    if kafka and any(s in text for s in ("dll load failed", "cannot open shared object",
                                         "image not found", "library not loaded",
                                         "no module named", "specified module")):
        fix = REINSTALL if frozen else "reinstall confluent-kafka (pip install " \
            "--force-reinstall confluent-kafka)"
        if sys.platform == "win32" and not frozen:
            fix += ", and install the Microsoft Visual C++ Redistributable"
        return f"the Kafka library (librdkafka) could not be loaded: {fix}"
    return None


def native_versions() -> list[str]:
    """librdkafka's and libsodium's versions and where libsodium was found (``--version``).

    Loads libsodium the way pysodium does, so that it shows whether this
    installation finds it; a library that cannot be loaded gets its sentence.
    """
    lines = []
    try:
        import confluent_kafka

        lines.append(f"librdkafka {confluent_kafka.libversion()[0]}")
    except (ImportError, OSError) as exc:
        lines.append(missing_library(exc) or f"librdkafka: {exc}")
    path = ctypes.util.find_library("sodium") or ctypes.util.find_library("libsodium")
    try:
        if path is None:
            raise OSError("Unable to find libsodium")
        sodium = ctypes.CDLL(path)
        sodium.sodium_version_string.restype = ctypes.c_char_p
        version = sodium.sodium_version_string().decode("ascii", "replace")
        lines.append(f"libsodium {version} ({path})")
    except (OSError, AttributeError) as exc:
        lines.append(missing_library(OSError(f"libsodium: {exc}")) or f"libsodium: {exc}")
    return lines
