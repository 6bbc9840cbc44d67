"""Optional components the app may not ship, fetched by the user: KafkaCrypto.

KafkaCrypto is GPL-2.0-only, so the installers leave it out; the user installs
its wheel (pure Python) into a per-user folder, from the Python Package Index
or from a file (see :mod:`.component_install`). Everything it needs besides
itself (pysodium and libsodium, msgpack, certifi, dirhash) is in the bundle.

The folder holds one sub-folder per version, ``kafkacrypto-<version>/``, with
the unpacked wheel and a marker (:data:`MARKER`) that records its SHA-256. Only
the version pinned in ``components.json`` (beside this module, the one list of
pinned hashes) is ever put on ``sys.path``, and it is *appended*: a Python
installation that already has kafkacrypto (``pip install``) keeps using its own.

:func:`activate` runs at the start of both programs (see
:func:`openmsi_gui.platform.startup.prepare_process`), before anything imports
kafkacrypto, and again after an install, so a running app uses the component
at once; :func:`add_listener` tells the app it arrived.
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

log = logging.getLogger(__name__)

COMPONENTS_ENV = "OPENMSI_GUI_COMPONENTS_DIR"
"""Overrides the components folder (tests, or a folder shared by the users of a PC)."""
PINS_FILE = Path(__file__).with_name("components.json")
"""The pinned versions and wheel hashes (``requirements/components.json`` links to it)."""
MARKER = "openmsi-component.json"
KAFKACRYPTO = "kafkacrypto"
_APP_NAME = "openmsi-gui"


class ComponentError(Exception):
    """A component cannot be installed or removed; the message says what to do."""


class Source(enum.Enum):
    """Where this installation gets kafkacrypto from."""

    COMPONENT = "component"  # the per-user components folder
    PYTHON = "python"  # the Python packages (pip install, or a development checkout)
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Pin:
    """The one version of a component this app accepts, and its wheel's SHA-256."""

    name: str
    version: str
    wheel: str
    sha256: str
    licence: str
    project: str


def pin(name: str = KAFKACRYPTO) -> Pin:
    """The pinned version of ``name`` (from :data:`PINS_FILE`).

    Raises:
        ComponentError: the list is missing or has no entry for ``name``.
    """
    try:
        entry: dict[str, Any] = json.loads(PINS_FILE.read_text(encoding="utf-8"))[name]
        return Pin(name, str(entry["version"]), str(entry["wheel"]),
                   str(entry["sha256"]).lower(), str(entry.get("licence", "")),
                   str(entry.get("project", "")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ComponentError(f"the list of pinned components ({PINS_FILE}) is missing or "
                             f"damaged ({exc!r}): reinstall OpenMSI GUI") from exc


def components_dir() -> Path:
    """The per-user components folder (``$OPENMSI_GUI_COMPONENTS_DIR`` overrides it)."""
    override = os.environ.get(COMPONENTS_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(_APP_NAME, appauthor=False)) / "components"


def install_dir(wanted: Pin) -> Path:
    """The folder ``wanted`` is unpacked into (it goes on ``sys.path``)."""
    return components_dir() / f"{wanted.name}-{wanted.version}"


def installed_marker(wanted: Pin) -> dict[str, Any] | None:
    """The marker of ``wanted``'s folder if it holds exactly the pinned wheel, else None."""
    try:
        marker = json.loads((install_dir(wanted) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("sha256") != wanted.sha256:
        return None
    return marker


# -- activation ---------------------------------------------------------------------

_LOCK = threading.Lock()
_LISTENERS: list[Callable[[], object]] = []


def activate(name: str = KAFKACRYPTO) -> Path | None:
    """Put the installed component on ``sys.path`` (appended); return its folder, or None.

    Cheap (one small file read) and idempotent; never raises. Also finds a
    component another process (``openmsi encryption install``) installed since.
    """
    try:
        wanted = pin(name)
    except ComponentError as exc:
        log.warning("%s", exc)
        return None
    if installed_marker(wanted) is None:
        return None
    folder = str(install_dir(wanted))
    with _LOCK:
        if folder not in sys.path:
            sys.path.append(folder)
            importlib.invalidate_caches()
            log.debug("component %s %s: %s", wanted.name, wanted.version, folder)
    return Path(folder)


def deactivate(folder: Path) -> None:
    """Take ``folder`` off ``sys.path`` (after removing it)."""
    with _LOCK:
        while str(folder) in sys.path:
            sys.path.remove(str(folder))
        importlib.invalidate_caches()


def add_listener(listener: Callable[[], object]) -> Callable[[], None]:
    """Call ``listener`` (in the installing thread) after a component is installed or removed.

    Returns:
        A function that removes the listener.
    """
    with _LOCK:
        _LISTENERS.append(listener)

    def remove_listener() -> None:
        with _LOCK, contextlib.suppress(ValueError):
            _LISTENERS.remove(listener)

    return remove_listener


def notify() -> None:
    """Tell the listeners that a component changed (never raises)."""
    with _LOCK:
        listeners = list(_LISTENERS)
    for listener in listeners:
        try:
            listener()
        except Exception:
            log.exception("a component listener failed")


# -- status and removal -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    """Whether kafkacrypto can be used here, and where it comes from.

    Attributes:
        source: where the import of kafkacrypto finds it.
        version: the version found ("" if none).
        location: the folder it is imported from (None if none).
        component: the components folder holds the pinned version.
        pin: the version this app accepts.
        folder: the components folder.
    """

    source: Source
    version: str
    location: Path | None
    component: bool
    pin: Pin
    folder: Path

    @property
    def installed(self) -> bool:
        """kafkacrypto can be imported."""
        return self.source is not Source.NONE

    @property
    def sentence(self) -> str:
        """What the status is, in one sentence."""
        where = f"{self.pin.name} {self.version}".rstrip()
        if self.source is Source.COMPONENT and not self.component:
            return (f"Encryption was removed: {where} stays loaded in this program until it "
                    "quits.")
        if self.source is Source.COMPONENT:
            return (f"Encryption is installed: {where} ({self.pin.licence}) in "
                    f"{self.location}.")
        if self.source is Source.PYTHON:
            return (f"Encryption is installed with Python packages: {where} in "
                    f"{self.location}.")
        return ("Encryption is not installed: run openmsi encryption install, or Enable "
                "encryption… in a broker profile.")

    def to_json(self) -> dict[str, Any]:
        """The status as plain data (``openmsi encryption status --json``)."""
        return {"installed": self.installed, "source": self.source.value,
                "name": self.pin.name, "version": self.version,
                "location": str(self.location) if self.location else None,
                "component_installed": self.component, "components_dir": str(self.folder),
                "pinned_version": self.pin.version, "pinned_wheel": self.pin.wheel,
                "sha256": self.pin.sha256, "licence": self.pin.licence,
                "project": self.pin.project}


def status(name: str = KAFKACRYPTO) -> ComponentStatus:
    """Where ``import kafkacrypto`` would find it (without importing it), after :func:`activate`.

    Raises:
        ComponentError: the pinned list is damaged.
    """
    wanted = pin(name)
    activate(name)
    component = installed_marker(wanted) is not None
    own = install_dir(wanted)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):  # ValueError: sys.modules[name] is None
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return ComponentStatus(Source.NONE, "", None, component, wanted, components_dir())
    package = Path(next(iter(spec.submodule_search_locations)))
    if package.parent == own:  # also when removed while loaded (component is then False)
        return ComponentStatus(Source.COMPONENT, wanted.version, own, component, wanted,
                               components_dir())
    return ComponentStatus(Source.PYTHON, _version(name), package.parent, component, wanted,
                           components_dir())


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


def remove(name: str = KAFKACRYPTO) -> list[Path]:
    """Delete every installed version of ``name`` from the components folder.

    Returns:
        The folders removed (empty if none was installed).

    Raises:
        ComponentError: a folder could not be deleted (a sentence).
    """
    folder = components_dir()
    removed: list[Path] = []
    try:
        found = sorted(folder.glob(f"{name}-*"))
    except OSError:
        found = []
    for path in found:
        if not path.is_dir():
            continue
        deactivate(path)
        try:
            shutil.rmtree(path)
        except OSError as exc:
            raise ComponentError(f"cannot delete {path}: {exc.strerror or exc}: close the "
                                 "programs using it and try again") from exc
        removed.append(path)
    if removed:
        notify()
    return removed


__all__ = ["COMPONENTS_ENV", "KAFKACRYPTO", "MARKER", "PINS_FILE", "ComponentError",
           "ComponentStatus", "Pin", "Source", "activate", "add_listener", "components_dir",
           "deactivate", "install_dir", "installed_marker", "notify", "pin", "remove",
           "status"]
