"""Start on login: each OS's entry format, round trips, refresh, and the preferences box."""

from __future__ import annotations

import configparser
import plistlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pytestqt.qtbot import QtBot

from openmsi_gui.app.settings import SettingsStore
from openmsi_gui.platform import autostart
from openmsi_gui.platform.autostart import (
    Autostart,
    LaunchAgent,
    WindowsRunKey,
    XdgAutostart,
    desktop_exec,
    launch_command,
    parse_desktop_exec,
    refresh_at_start,
)

if TYPE_CHECKING:
    from openmsi_gui.ui.tasks import Tasks

COMMAND = ["/opt/OpenMSI GUI/openmsi-gui", "--minimized"]


class FakeRegistry:
    """Records what would go to HKCU\\...\\Run."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.deleted: list[str] = []

    def get_value(self, name: str) -> str | None:
        return self.values.get(name)

    def set_value(self, name: str, data: str) -> None:
        self.values[name] = data

    def delete_value(self, name: str) -> None:
        self.deleted.append(name)
        self.values.pop(name, None)


def read_desktop(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_xdg_desktop_file_format(tmp_path: Path) -> None:
    entry = XdgAutostart(tmp_path, command=COMMAND)
    entry.enable()
    path = tmp_path / "autostart" / "openmsi-gui.desktop"
    section = read_desktop(path)
    assert section["Type"] == "Application"
    assert section["Exec"] == '"/opt/OpenMSI GUI/openmsi-gui" --minimized'
    assert parse_desktop_exec(section["Exec"]) == COMMAND
    assert section["X-GNOME-Autostart-enabled"] == "true"
    assert section["Name"] == "OpenMSI GUI"


@pytest.mark.parametrize("args", [
    ["/usr/bin/openmsi-gui", "--minimized"],
    ["C:\\Program Files\\x.exe", 'say "hi"', "$HOME", "`x`", "50%", ""],
])
def test_desktop_exec_quoting_round_trips(args: list[str]) -> None:
    assert parse_desktop_exec(desktop_exec(args)) == args


def test_desktop_exec_escapes_per_spec() -> None:
    # Inside quotes: \" \` \$ \\ ; then the string level doubles every backslash.
    assert desktop_exec(['a"b']) == '"a\\\\"b"'
    assert desktop_exec(["100%"]) == "100%%"


def test_launch_agent_plist_format(tmp_path: Path) -> None:
    entry = LaunchAgent(tmp_path, command=COMMAND)
    entry.enable()
    path = tmp_path / "Library" / "LaunchAgents" / "org.openmsi.gui.plist"
    with path.open("rb") as handle:
        plist = plistlib.load(handle)
    assert plist["Label"] == "org.openmsi.gui"
    assert plist["ProgramArguments"] == COMMAND
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] is False


def test_windows_run_key_value_and_deletion() -> None:
    registry = FakeRegistry()
    entry = WindowsRunKey(registry, command=["C:\\Program Files\\OpenMSI\\openmsi-gui.exe",
                                             "--minimized"])
    assert not entry.is_enabled()
    entry.enable()
    assert registry.values == {
        "OpenMSI GUI": '"C:\\Program Files\\OpenMSI\\openmsi-gui.exe" --minimized'}
    assert entry.is_enabled()
    entry.disable()
    assert registry.deleted == ["OpenMSI GUI"]
    assert not entry.is_enabled()
    assert entry.location.startswith("HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run")


def make_writer(kind: str, base: Path, registry: FakeRegistry, command: list[str]
                ) -> Autostart:
    if kind == "xdg":
        return XdgAutostart(base, command=command)
    if kind == "launchd":
        return LaunchAgent(base, command=command)
    return WindowsRunKey(registry, command=command)


@pytest.mark.parametrize("kind", ["xdg", "launchd", "windows"])
def test_round_trip_and_refresh(tmp_path: Path, kind: str) -> None:
    registry = FakeRegistry()
    old = make_writer(kind, tmp_path, registry, ["/old/openmsi-gui", "--minimized"])
    assert not old.is_enabled()
    assert not old.refresh()  # nothing to refresh while disabled
    assert not old.is_enabled()
    old.enable()
    old.enable()  # idempotent
    assert old.is_enabled()
    # After an upgrade that moved the executable, the app starts with a new command:
    new = make_writer(kind, tmp_path, registry, ["/new place/openmsi-gui", "--minimized"])
    assert new.refresh()
    assert new.read() == new.render()
    assert "/new place/openmsi-gui" in (new.read() or "")
    assert not new.refresh()  # already current
    new.disable()
    new.disable()  # idempotent
    assert not new.is_enabled()
    assert not old.is_enabled()


def test_refresh_at_start_only_when_enabled_and_never_raises(tmp_path: Path) -> None:
    XdgAutostart(tmp_path, command=["/old/openmsi-gui"]).enable()
    current = XdgAutostart(tmp_path, command=COMMAND)
    assert not refresh_at_start(False, current)
    assert refresh_at_start(True, current)
    assert parse_desktop_exec(read_desktop(current.path)["Exec"]) == COMMAND
    failing = FakeAutostart(fail=True)
    failing.entry = "stale"
    assert not refresh_at_start(True, failing)  # logged, not raised
    assert failing.calls == [True]


def test_launch_command_frozen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundle = tmp_path / "OpenMSI"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(bundle / "python-or-bootloader"))
    name = "openmsi-gui.exe" if sys.platform == "win32" else "openmsi-gui"
    assert launch_command() == [str(bundle / name), "--minimized"]


def test_launch_command_uses_the_installed_script(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.delattr(sys, "frozen", raising=False)
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "openmsi-gui").write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))
    assert launch_command() == [str(venv_bin / "openmsi-gui"), "--minimized"]


def test_launch_command_falls_back_to_the_module(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(autostart.sysconfig, "get_path", lambda _name: str(tmp_path))
    monkeypatch.setattr(autostart.shutil, "which", lambda _name: None)
    assert launch_command() == [str(tmp_path / "python"), "-m", "openmsi_gui.ui.application",
                                "--minimized"]


def test_the_real_command_is_absolute() -> None:
    command = launch_command()
    assert Path(command[0]).is_absolute()
    assert command[-1] == "--minimized"


def test_for_this_platform_picks_by_os(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    assert isinstance(autostart.for_this_platform(), XdgAutostart)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert isinstance(autostart.for_this_platform(), LaunchAgent)
    monkeypatch.setattr(sys, "platform", "win32")
    assert isinstance(autostart.for_this_platform(), WindowsRunKey)


# --- the preferences dialog -------------------------------------------------------------


class FakeAutostart(Autostart):
    def __init__(self, fail: bool = False) -> None:
        super().__init__(["/x/openmsi-gui", "--minimized"])
        self.entry: str | None = None
        self.calls: list[bool] = []
        self.fail = fail

    @property
    def location(self) -> str:
        return "fake"

    def render(self) -> str:
        return "entry"

    def read(self) -> str | None:
        return self.entry

    def write(self, entry: str) -> None:
        self.calls.append(True)
        if self.fail:
            raise PermissionError("read-only folder")
        self.entry = entry

    def delete(self) -> None:
        self.calls.append(False)
        self.entry = None


def test_preferences_checkbox_enables_and_disables(qtbot: QtBot, store: SettingsStore,
                                                   tasks: Tasks) -> None:
    from openmsi_gui.ui.preferences import PreferencesDialog

    fake = FakeAutostart()
    dialog = PreferencesDialog(store, tasks, autostart=fake)
    qtbot.addWidget(dialog)
    assert not dialog.start_on_login.isChecked()
    dialog.start_on_login.setChecked(True)
    dialog.accept()
    qtbot.waitUntil(lambda: fake.entry == "entry")
    assert store.settings.ui.start_on_login
    assert dialog.pending is not None
    assert dialog.pending.result(5) is None

    dialog = PreferencesDialog(store, tasks, autostart=fake)
    qtbot.addWidget(dialog)
    assert dialog.start_on_login.isChecked()
    dialog.accept()  # unchanged: nothing written
    assert dialog.pending is None
    dialog.start_on_login.setChecked(False)
    dialog.accept()
    qtbot.waitUntil(lambda: fake.entry is None)
    assert fake.calls == [True, False]
    assert not store.settings.ui.start_on_login


def test_preferences_checkbox_failure_reverts_and_tells(qtbot: QtBot, store: SettingsStore,
                                                       tasks: Tasks,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QMessageBox

    from openmsi_gui.ui.preferences import PreferencesDialog

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning",
                        lambda _parent, _title, text: shown.append(text))
    dialog = PreferencesDialog(store, tasks, autostart=FakeAutostart(fail=True))
    qtbot.addWidget(dialog)
    dialog.start_on_login.setChecked(True)
    dialog.accept()
    qtbot.waitUntil(lambda: bool(shown))
    assert "read-only folder" in shown[0]
    assert not dialog.start_on_login.isChecked()
    assert not store.settings.ui.start_on_login
