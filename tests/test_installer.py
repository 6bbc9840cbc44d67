"""Installers and licences: the NSIS script builds, the macOS and Linux metadata is valid.

Real installers need Windows and macOS runners (.github/workflows/release-*.yml); here the
NSIS script is compiled by Debian's makensis against a stand-in payload, the macOS files are
parsed and the Linux install script runs into a temporary HOME. Tools missing from the machine
skip their test, except under CI (``CI`` set), where they are required.
"""

from __future__ import annotations

import configparser
import os
import plistlib
import re
import runpy
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from openmsi_gui.platform import autostart

ROOT = Path(__file__).resolve().parents[1]
INSTALLER = ROOT / "installer"
NSI = INSTALLER / "windows" / "openmsi-gui.nsi"
INFO_PLIST = INSTALLER / "macos" / "Info.plist"
DMG_SETTINGS = INSTALLER / "macos" / "dmg_settings.py"
DESKTOP = INSTALLER / "linux" / "openmsi-gui.desktop"
WORKFLOWS = ROOT / ".github" / "workflows"


def require_tool(name: str, apt_package: str) -> str:
    """The tool's path; skip without it, or fail when running under CI."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (apt-get install {apt_package})"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_yaml() -> Any:
    """The yaml module; skip without PyYAML, or fail when running under CI."""
    try:
        import yaml
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("PyYAML is not installed (pip install pyyaml)")
        pytest.skip("PyYAML is not installed (pip install pyyaml)")
    return yaml


def nsis_sections(text: str) -> dict[str, str]:
    """The body of every ``Section`` of an NSIS script, by its (unquoted) name."""
    sections = {}
    pattern = r'^Section\s+(?:/o\s+)?"([^"]+)"[^\n]*\n(.*?)^SectionEnd'
    for match in re.finditer(pattern, text, flags=re.MULTILINE | re.DOTALL):
        sections[match.group(1)] = match.group(2)
    return sections


def nsis_defines(text: str) -> dict[str, str]:
    """The ``!define NAME "value"`` lines of an NSIS script (defaults included)."""
    return dict(re.findall(r'^\s*!define\s+(\w+)\s+"([^"]*)"', text, flags=re.MULTILINE))


def make_standin_bundle(folder: Path, *, suffix: str = "") -> Path:
    """A stand-in for PyInstaller's dist/openmsi-gui: two tiny programs and an _internal/."""
    folder.mkdir(parents=True)
    (folder / "_internal").mkdir()
    (folder / "_internal" / "base_library.zip").write_bytes(b"stand-in")
    for name in ("openmsi-gui", "openmsi"):
        exe = folder / f"{name}{suffix}"
        exe.write_text(f"#!/bin/sh\necho stand-in {name} \"$@\"\n", encoding="utf-8")
        exe.chmod(0o755)
    return folder


# --- Windows (NSIS) ---------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_nsis_script_builds_a_windows_installer(tmp_path: Path) -> None:
    require_tool("makensis", "nsis")
    out = tmp_path / "OpenMSI-GUI-standin-setup.exe"
    result = subprocess.run(
        [str(INSTALLER / "windows" / "build_standin.sh"), str(out)],
        capture_output=True, text=True, check=False, env={**os.environ, "VERSION": "1.2.3"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = out.read_bytes()
    assert data[:2] == b"MZ", "not a Windows executable"
    assert b"Nullsoft" in data, "not an NSIS installer"
    assert 50_000 < len(data) < 5_000_000


def test_nsis_script_refuses_to_build_without_a_payload(tmp_path: Path) -> None:
    require_tool("makensis", "nsis")
    result = subprocess.run(
        ["makensis", "-V2", "-WX", f"-DOUTFILE={tmp_path / 'x-setup.exe'}", str(NSI)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode != 0
    assert "PAYLOAD" in result.stdout + result.stderr


def test_nsis_script_is_per_user_and_matches_the_apps_autostart_entry() -> None:
    text = NSI.read_text(encoding="utf-8")
    defines = nsis_defines(text)
    assert re.search(r"^RequestExecutionLevel user$", text, flags=re.MULTILINE)
    assert re.search(r'^InstallDir "\$LOCALAPPDATA\\Programs\\\$\{APPNAME\}"$', text,
                     flags=re.MULTILINE)
    assert "HKLM" not in text, "a per-user install must not touch HKLM"
    # The installer's checkbox and the app's own setting write the same registry value.
    assert defines["RUN_KEY"] == autostart.RUN_KEY
    assert defines["APPNAME"] == autostart.RUN_VALUE
    assert defines["EXE"] == "openmsi-gui.exe"
    uninstall_root = "Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\"
    assert defines["UNINST_KEY"].startswith(uninstall_root)


def test_nsis_run_key_is_written_on_install_and_removed_on_uninstall() -> None:
    sections = nsis_sections(NSI.read_text(encoding="utf-8"))
    install = {name: body for name, body in sections.items() if not name.startswith("un.")}
    uninstall = {name: body for name, body in sections.items() if name.startswith("un.")}
    write_run = """WriteRegStr HKCU "${RUN_KEY}" "${APPNAME}" '"$INSTDIR\\${EXE}" --minimized'"""
    delete_run = 'DeleteRegValue HKCU "${RUN_KEY}" "${APPNAME}"'

    autostart_section = install["Start ${APPNAME} when I log in"]
    assert write_run in autostart_section
    # Reinstalling without the box ticked must drop an old entry.
    assert delete_run in install["${APPNAME} (required)"]
    assert sum(write_run in body for body in sections.values()) == 1
    assert delete_run in uninstall["un.${APPNAME}"]
    assert 'DeleteRegKey HKCU "${UNINST_KEY}"' in uninstall["un.${APPNAME}"]
    assert "WriteUninstaller" in install["${APPNAME} (required)"]
    assert 'CreateShortcut "${SHORTCUT}"' in install["${APPNAME} (required)"]
    assert 'Delete "${SHORTCUT}"' in uninstall["un.${APPNAME}"]


def test_nsis_uninstaller_deletes_user_data_only_when_asked() -> None:
    text = NSI.read_text(encoding="utf-8")
    sections = nsis_sections(text)
    data_sections = [name for name, body in sections.items() if "openmsi-gui\"" in body
                     and "RMDir /r" in body]
    assert data_sections == ["un.Also delete my settings, history and logs"]
    # /o: unticked by default, so a silent uninstall (/S) keeps settings, history and keys.
    assert re.search(r'^Section /o "un\.Also delete my settings', text, flags=re.MULTILINE)
    body = sections[data_sections[0]]
    assert 'RMDir /r "$APPDATA\\openmsi-gui"' in body
    assert 'RMDir /r "$LOCALAPPDATA\\openmsi-gui"' in body
    assert "MUI_UNPAGE_COMPONENTS" in text
    # The program folder is emptied file by file, never wiped: the user may have chosen it.
    assert 'RMDir /r "$INSTDIR"' not in text


def test_nsis_installer_shows_the_licence_and_bundles_the_notices() -> None:
    text = NSI.read_text(encoding="utf-8")
    assert '!insertmacro MUI_PAGE_LICENSE "${LICENSE_FILE}"' in text
    assert (NSI.parent / nsis_defines(text)["LICENSE_FILE"].replace("\\", "/")).resolve() == (
        ROOT / "LICENSE")
    assert (NSI.parent / nsis_defines(text)["NOTICES_FILE"].replace("\\", "/")).resolve() == (
        ROOT / "THIRD_PARTY_NOTICES.md")
    main = nsis_sections(text)["${APPNAME} (required)"]
    assert 'File "/oname=LICENSE.txt" "${LICENSE_FILE}"' in main
    assert 'File "/oname=THIRD_PARTY_NOTICES.md" "${NOTICES_FILE}"' in main
    assert 'File /r "${PAYLOAD}\\*.*"' in main


# --- macOS --------------------------------------------------------------------------------------


def test_info_plist_describes_a_tray_app() -> None:
    with INFO_PLIST.open("rb") as f:
        info = plistlib.load(f)
    assert info["LSUIElement"] is True
    assert info["NSHighResolutionCapable"] is True
    assert info["CFBundleExecutable"] == "openmsi-gui"
    assert info["CFBundleIdentifier"] == autostart.LAUNCH_AGENT_LABEL
    assert info["CFBundlePackageType"] == "APPL"
    assert info["CFBundleShortVersionString"] == info["CFBundleVersion"] == "@VERSION@"
    assert (ROOT / "resources" / "icons" / info["CFBundleIconFile"]).is_file()


def test_make_app_wraps_the_bundle(tmp_path: Path) -> None:
    dist = make_standin_bundle(tmp_path / "dist" / "openmsi-gui")
    app = tmp_path / "dist" / "OpenMSI GUI.app"
    result = subprocess.run(
        [sys.executable, str(INSTALLER / "macos" / "make_app.py"), "--dist", str(dist),
         "--out", str(app), "--version", "1.2.3"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    contents = app / "Contents"
    assert os.access(contents / "MacOS" / "openmsi-gui", os.X_OK)
    assert (contents / "MacOS" / "openmsi").is_file()
    assert (contents / "MacOS" / "_internal" / "base_library.zip").is_file()
    with (contents / "Info.plist").open("rb") as f:
        info = plistlib.load(f)
    assert info["CFBundleShortVersionString"] == info["CFBundleVersion"] == "1.2.3"
    assert info["LSUIElement"] is True
    for name in ("LICENSE", "THIRD_PARTY_NOTICES.md", info["CFBundleIconFile"]):
        assert (contents / "Resources" / name).is_file(), name


def test_dmgbuild_settings_execute_with_defines(tmp_path: Path) -> None:
    app = str(tmp_path / "OpenMSI GUI.app")
    settings = runpy.run_path(str(DMG_SETTINGS), init_globals={"defines": {"app": app}})
    assert settings["files"] == [app]
    assert settings["symlinks"] == {"Applications": "/Applications"}
    assert settings["format"] == "UDZO"
    assert set(settings["icon_locations"]) == {"OpenMSI GUI.app", "Applications"}
    assert settings["background"] == "builtin-arrow"
    assert settings["icon"] is None or Path(settings["icon"]).is_file()
    # dmgbuild passes an empty dict when no -D is given: the default app path is used.
    default = runpy.run_path(str(DMG_SETTINGS), init_globals={"defines": {}})
    assert default["files"] == ["dist/OpenMSI GUI.app"]


# --- Linux ----------------------------------------------------------------------------------------


def read_desktop_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def test_desktop_file_describes_the_app() -> None:
    entry = read_desktop_entry(DESKTOP)
    assert entry["Type"] == "Application"
    assert entry["Exec"] == entry["TryExec"] == "openmsi-gui"
    assert entry["Icon"] == "openmsi-gui"
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";")
    # Same name as the autostart entry the app writes, so desktops treat them as one app.
    assert DESKTOP.name == autostart.DESKTOP_FILE


def test_desktop_file_validates() -> None:
    validate = require_tool("desktop-file-validate", "desktop-file-utils")
    result = subprocess.run([validate, str(DESKTOP)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == "", "hints and warnings count too"


def test_linux_install_script_installs_and_uninstalls_for_the_user(tmp_path: Path) -> None:
    bundle = make_standin_bundle(tmp_path / "dist" / "openmsi-gui")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["HOME"] = str(home)
    script = str(INSTALLER / "linux" / "install.sh")

    result = subprocess.run([script, str(bundle)], capture_output=True, text=True, env=env,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    opt = home / ".local" / "opt" / "openmsi-gui"
    assert (opt / "_internal" / "base_library.zip").is_file()
    assert (opt / "LICENSE").is_file()
    assert (opt / "THIRD_PARTY_NOTICES.md").is_file()
    for name in ("openmsi-gui", "openmsi"):
        link = home / ".local" / "bin" / name
        assert link.is_symlink()
        assert link.resolve() == (opt / name).resolve()
        ran = subprocess.run([str(link), "--help"], capture_output=True, text=True, check=True)
        assert ran.stdout.strip() == f"stand-in {name} --help"
    icon = home / ".local/share/icons/hicolor/256x256/apps/openmsi-gui.png"
    assert icon.read_bytes() == (ROOT / "resources" / "icons" / "openmsi.png").read_bytes()
    desktop = home / ".local/share/applications/openmsi-gui.desktop"
    entry = read_desktop_entry(desktop)
    assert entry["Exec"] == f'"{opt}/openmsi-gui"'
    assert entry["TryExec"] == f"{opt}/openmsi-gui"
    if shutil.which("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", str(desktop)], check=True)

    # Installing again (an upgrade) replaces the bundle in place.
    (bundle / "_internal" / "new.txt").write_text("v2", encoding="utf-8")
    subprocess.run([script, str(bundle)], capture_output=True, env=env, check=True)
    assert (opt / "_internal" / "new.txt").is_file()

    # Uninstall removes the program, menu entry, icon, links and autostart; keeps user data.
    settings = home / ".config" / "openmsi-gui" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text("{}", encoding="utf-8")
    login = home / ".config" / "autostart" / "openmsi-gui.desktop"
    login.parent.mkdir(parents=True)
    login.write_text("[Desktop Entry]\n", encoding="utf-8")
    subprocess.run([script, "--uninstall"], capture_output=True, env=env, check=True)
    assert not opt.exists()
    assert not desktop.exists()
    assert not icon.exists()
    assert not login.exists()
    assert not (home / ".local" / "bin" / "openmsi").is_symlink()
    assert settings.is_file()


def test_linux_install_script_refuses_a_folder_that_is_not_a_bundle(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}
    result = subprocess.run([str(INSTALLER / "linux" / "install.sh"), str(tmp_path)],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 2
    assert "not a one-folder bundle" in result.stderr
    assert not (tmp_path / ".local").exists()


# --- Release workflows ------------------------------------------------------------------------


def load_workflow(name: str) -> dict[Any, Any]:
    yaml = require_yaml()
    with (WORKFLOWS / name).open(encoding="utf-8") as f:
        workflow: dict[Any, Any] = yaml.safe_load(f)
    return workflow


@pytest.mark.parametrize(
    ("name", "runner", "packager"),
    [
        ("release-windows.yml", "windows-latest", "installer\\windows\\openmsi-gui.nsi"),
        ("release-macos.yml", "macos-latest", "installer/macos/dmg_settings.py"),
    ],
)
def test_release_workflow_structure(name: str, runner: str, packager: str) -> None:
    workflow = load_workflow(name)
    # YAML 1.1 reads the bare key `on` as True.
    triggers: dict[str, Any] = workflow["on"] if "on" in workflow else workflow[True]
    assert triggers["push"]["tags"] == ["v*"]
    assert workflow["permissions"] == {"contents": "read"}
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == runner
    steps = job["steps"]
    for step in steps:
        assert step.get("name"), step
        assert ("run" in step) != ("uses" in step), step
    uses = [step["uses"] for step in steps if "uses" in step]
    assert uses[0].startswith("actions/checkout@")
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    (python,) = [s for s in steps if s.get("uses", "").startswith("actions/setup-python@")]
    assert python["with"]["python-version"] == "3.11"
    script = "\n".join(step.get("run", "") for step in steps)
    # Built from the platform's lock file, as CI's bundle (scripts/build_bundle.sh).
    assert "pip install" not in script
    assert "bash scripts/build_bundle.sh" in script
    assert packager in script
    assert (ROOT / packager.replace("\\", "/")).is_file()
    assert (ROOT / "pyinstaller.spec").is_file()


def test_release_workflows_pass_actionlint() -> None:
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (optional)")
    result = subprocess.run([actionlint, "-no-color", *map(str, sorted(WORKFLOWS.glob("*.yml")))],
                            capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_installer_shell_scripts_pass_shellcheck() -> None:
    shellcheck = require_tool("shellcheck", "shellcheck")
    scripts = [INSTALLER / "linux" / "install.sh", INSTALLER / "windows" / "build_standin.sh",
               *(ROOT / "scripts" / name
                 for name in ("build_bundle.sh", "lock"))]
    result = subprocess.run([shellcheck, *map(str, scripts)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# --- Licences -------------------------------------------------------------------------------------


def test_licence_is_gpl3_or_later_everywhere() -> None:
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").split("\n", 2)[:2] == [
        "                    GNU GENERAL PUBLIC LICENSE",
        "                       Version 3, 29 June 2007",
    ]
    with (ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    assert project["license"] == "GPL-3.0-or-later"
    notices = (ROOT / "THIRD_PARTY_NOTICES.md").read_text(encoding="utf-8")
    assert "`GPL-3.0-or-later`" in notices


def test_every_dependency_has_a_third_party_notice() -> None:
    with (ROOT / "pyproject.toml").open("rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    notices = (ROOT / "THIRD_PARTY_NOTICES.md").read_text(encoding="utf-8").lower()
    for requirement in dependencies:
        name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower()
        assert name in notices, f"{name} is missing from THIRD_PARTY_NOTICES.md"
    for bundled in ("tansu", "qt", "librdkafka", "python"):
        assert bundled in notices
    # The bundled broker is a separate executable and must be named as such.
    assert "bundled as a separate, unmodified executable" in notices
