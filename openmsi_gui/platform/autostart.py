r"""Start the tray app when the user logs in, one writer per operating system.

* Linux and other XDG desktops: ``~/.config/autostart/openmsi-gui.desktop``.
* macOS: the LaunchAgent ``~/Library/LaunchAgents/org.openmsi.gui.plist``.
* Windows: the value ``OpenMSI GUI`` under
  ``HKCU\Software\Microsoft\Windows\CurrentVersion\Run``.

Every entry runs :func:`launch_command`: the installed ``openmsi-gui``
executable at its stable location (the frozen bundle's, or the console script
of the environment the app is installed in), never a versioned folder, so an
upgrade in place keeps it valid. If an upgrade moves the executable anyway,
:meth:`Autostart.refresh` (called when the app starts) rewrites the entry.
"""

from __future__ import annotations

import abc
import logging
import os
import plistlib
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

GUI_SCRIPT = "openmsi-gui"
CLI_SCRIPT = "openmsi"
DESKTOP_FILE = "openmsi-gui.desktop"
LAUNCH_AGENT_LABEL = "org.openmsi.gui"
log = logging.getLogger(__name__)

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = "OpenMSI GUI"
_NOT_WINDOWS = "the Windows registry exists only on Windows"

# Characters that make the Desktop Entry spec require an argument to be quoted.
_DESKTOP_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def installed_executable(script: str, module: str) -> list[str]:
    """The command that runs ``script`` as installed, with an absolute path.

    Args:
        script: the console or GUI script's name (``openmsi`` or ``openmsi-gui``).
        module: what ``python -m`` runs when no script is installed.

    Returns:
        The frozen bundle's executable, else the script in the environment the
        running interpreter belongs to (venv ``bin``/``Scripts``, then the
        interpreter's scripts folder, then ``PATH``), else
        ``[sys.executable, "-m", module]``.
    """
    name = f"{script}.exe" if os.name == "nt" else script
    executable = Path(sys.executable)
    if getattr(sys, "frozen", False):
        return [str(executable.with_name(name))]
    for folder in (executable.parent, Path(sysconfig.get_path("scripts"))):
        candidate = folder / name
        if candidate.is_file():
            return [str(candidate.absolute())]
    found = shutil.which(script)
    if found:
        return [str(Path(found).absolute())]
    return [str(executable.absolute()), "-m", module]


def launch_command() -> list[str]:
    """The command a start-on-login entry runs: the tray app, minimized."""
    return [*installed_executable(GUI_SCRIPT, "openmsi_gui.ui.application"), "--minimized"]


def desktop_exec(args: Sequence[str]) -> str:
    r"""An ``Exec=`` value for ``args``, quoted per the Desktop Entry spec.

    Args that contain reserved characters are double-quoted with ``"``, `````,
    ``$`` and ``\`` backslash-escaped; ``%`` becomes ``%%``; then the value is
    escaped as a Desktop Entry string (``\`` doubled).
    """
    words = []
    for arg in args:
        word = arg.replace("%", "%%")
        if not word or set(word) & _DESKTOP_RESERVED or "=" in word[:1]:
            escaped = "".join(f"\\{c}" if c in '"`$\\' else c for c in word)
            word = f'"{escaped}"'
        words.append(word)
    return " ".join(words).replace("\\", "\\\\")


def parse_desktop_exec(value: str) -> list[str]:
    """The arguments of an ``Exec=`` value (the inverse of :func:`desktop_exec`)."""
    text = value.replace("\\\\", "\\")
    args: list[str] = []
    word: list[str] = []
    in_word = quoted = escaped = False
    for c in text:
        if escaped:
            word.append(c)
            escaped = False
        elif quoted:
            if c == "\\":
                escaped = True
            elif c == '"':
                quoted = False
            else:
                word.append(c)
        elif c in " \t":
            if in_word:
                args.append("".join(word))
                word, in_word = [], False
        else:
            in_word = True
            if c == '"':
                quoted = True
            else:
                word.append(c)
    if in_word:
        args.append("".join(word))
    return [a.replace("%%", "%") for a in args]


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


class Autostart(abc.ABC):
    """Start-on-login entry for the tray app.

    Args:
        command: what the entry runs (default: :func:`launch_command`).
    """

    def __init__(self, command: Sequence[str] | None = None) -> None:
        self.command = list(command) if command is not None else launch_command()

    @abc.abstractmethod
    def render(self) -> str:
        """The entry as it is written (file text or registry value)."""

    @abc.abstractmethod
    def read(self) -> str | None:
        """The entry as it is now, or ``None`` if there is none."""

    @abc.abstractmethod
    def write(self, entry: str) -> None:
        """Write the entry."""

    @abc.abstractmethod
    def delete(self) -> None:
        """Remove the entry; no error if there is none."""

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the entry lives, for messages."""

    def enable(self) -> None:
        """Start the app on login (idempotent)."""
        self.write(self.render())

    def disable(self) -> None:
        """Stop starting the app on login (idempotent)."""
        self.delete()

    def is_enabled(self) -> bool:
        """Whether an entry exists."""
        return self.read() is not None

    def apply(self, enabled: bool) -> None:
        """:meth:`enable` or :meth:`disable`."""
        if enabled:
            self.enable()
        else:
            self.disable()

    def refresh(self) -> bool:
        """Rewrite an existing entry whose command is stale (e.g. after an upgrade).

        Returns:
            True if the entry was rewritten.
        """
        current = self.read()
        if current is None or current == self.render():
            return False
        self.write(self.render())
        return True


class _FileAutostart(Autostart):
    """An entry that is one file at ``self.path``."""

    path: Path

    @property
    def location(self) -> str:
        """The file's path."""
        return str(self.path)

    def read(self) -> str | None:
        """The file's text, or ``None`` if it does not exist."""
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write(self, entry: str) -> None:
        """Replace the file atomically."""
        _write_atomically(self.path, entry.encode("utf-8"))

    def delete(self) -> None:
        """Remove the file if it exists."""
        self.path.unlink(missing_ok=True)


class XdgAutostart(_FileAutostart):
    """An XDG autostart ``.desktop`` file (Linux and BSD desktops).

    Args:
        config_home: ``$XDG_CONFIG_HOME`` (default: from the environment, else ``~/.config``).
        command: what the entry runs.
    """

    def __init__(self, config_home: Path | None = None,
                 command: Sequence[str] | None = None) -> None:
        super().__init__(command)
        if config_home is None:
            env = os.environ.get("XDG_CONFIG_HOME", "")
            config_home = Path(env) if os.path.isabs(env) else Path.home() / ".config"
        self.path = config_home / "autostart" / DESKTOP_FILE

    def render(self) -> str:
        """The ``.desktop`` file."""
        return ("[Desktop Entry]\n"
                "Type=Application\n"
                "Name=OpenMSI GUI\n"
                "Comment=Stream instrument data files through Apache Kafka\n"
                f"Exec={desktop_exec(self.command)}\n"
                "Terminal=false\n"
                "X-GNOME-Autostart-enabled=true\n")


class LaunchAgent(_FileAutostart):
    """A per-user launchd agent (macOS), loaded by launchd at the next login.

    Args:
        home: the user's home folder (default: ``Path.home()``).
        command: what the entry runs.
    """

    def __init__(self, home: Path | None = None, command: Sequence[str] | None = None) -> None:
        super().__init__(command)
        home = home if home is not None else Path.home()
        self.path = home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"

    def render(self) -> str:
        """The property list (XML)."""
        plist: dict[str, Any] = {
            "Label": LAUNCH_AGENT_LABEL,
            "ProgramArguments": self.command,
            "RunAtLoad": True,
            "KeepAlive": False,
            "ProcessType": "Interactive",
        }
        return plistlib.dumps(plist).decode("utf-8")


class RunKeyRegistry(Protocol):
    r"""String values under ``HKCU\...\CurrentVersion\Run`` (injected in tests)."""

    def get_value(self, name: str) -> str | None:
        """The value's data, or ``None`` if it does not exist."""

    def set_value(self, name: str, data: str) -> None:
        """Create or replace a ``REG_SZ`` value."""

    def delete_value(self, name: str) -> None:
        """Delete the value; no error if it does not exist."""


class WinregRunKey:
    """:class:`RunKeyRegistry` on the real registry (Windows only)."""

    def get_value(self, name: str) -> str | None:
        """The value's data, or ``None`` if it does not exist."""
        if sys.platform == "win32":
            import winreg

            try:
                with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                    data, _kind = winreg.QueryValueEx(key, name)
            except FileNotFoundError:
                return None
            return str(data)
        raise OSError(_NOT_WINDOWS)

    def set_value(self, name: str, data: str) -> None:
        """Create or replace a ``REG_SZ`` value."""
        if sys.platform == "win32":
            import winreg

            with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, RUN_KEY, 0,
                                    winreg.KEY_SET_VALUE) as key:
                winreg.SetValueEx(key, name, 0, winreg.REG_SZ, data)
            return
        raise OSError(_NOT_WINDOWS)

    def delete_value(self, name: str) -> None:
        """Delete the value; no error if it does not exist."""
        if sys.platform == "win32":
            import winreg

            try:
                with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0,
                                    winreg.KEY_SET_VALUE) as key:
                    winreg.DeleteValue(key, name)
            except FileNotFoundError:
                pass
            return
        raise OSError(_NOT_WINDOWS)


class WindowsRunKey(Autostart):
    """The ``Run`` key value in the current user's registry hive (Windows).

    Args:
        registry: access to the Run key (default: the real one, through ``winreg``).
        command: what the entry runs.
    """

    def __init__(self, registry: RunKeyRegistry | None = None,
                 command: Sequence[str] | None = None) -> None:
        super().__init__(command)
        self.registry: RunKeyRegistry = registry if registry is not None else WinregRunKey()

    @property
    def location(self) -> str:
        """The registry value's full name."""
        return f"HKCU\\{RUN_KEY}\\{RUN_VALUE}"

    def render(self) -> str:
        """The command line, quoted for Windows."""
        return subprocess.list2cmdline(self.command)

    def read(self) -> str | None:
        """The Run value, if any."""
        return self.registry.get_value(RUN_VALUE)

    def write(self, entry: str) -> None:
        """Set the Run value."""
        self.registry.set_value(RUN_VALUE, entry)

    def delete(self) -> None:
        """Delete the Run value."""
        self.registry.delete_value(RUN_VALUE)


def for_this_platform() -> Autostart:
    """The writer for the running operating system."""
    if sys.platform == "win32":
        return WindowsRunKey()
    if sys.platform == "darwin":
        return LaunchAgent()
    return XdgAutostart()


def refresh_at_start(enabled: bool, entry: Autostart | None = None) -> bool:
    """At app start: point an enabled entry at this installation (never raises).

    Args:
        enabled: the user's start-on-login setting; nothing is done if False.
        entry: the writer (default: :func:`for_this_platform`).

    Returns:
        True if a stale entry was rewritten.
    """
    if not enabled:
        return False
    try:
        rewritten = (entry if entry is not None else for_this_platform()).refresh()
    except OSError as exc:
        log.warning("cannot update the start-on-login entry: %s", exc)
        return False
    if rewritten:
        log.info("start-on-login entry now runs %s", " ".join(launch_command()))
    return rewritten
