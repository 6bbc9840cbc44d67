"""The real app in a real X server with a real system tray (Xvfb + trayer).

The app runs as a subprocess (``openmsi-gui --demo``) so it uses the xcb
platform, not the offscreen one the rest of the suite uses; xdotool clicks
its tray icon and drives the menu by keyboard, as a user would.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import wait_until

TOOLS = ("Xvfb", "trayer", "xdotool", "import")
SCREEN = (1024, 768)


def _missing() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


@pytest.fixture
def x_display(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An Xvfb display with trayer docked top right; yields the environment to use."""
    if _missing():
        if os.environ.get("CI"):
            pytest.fail(f"CI must install {_missing()} (scripts/test does)")
        pytest.skip(f"needs {_missing()}")
    # Xvfb picks a free display itself and writes its number once it is ready: tests
    # running in parallel (pytest-xdist) or another X server never collide with it.
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0",
                             f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
                            stderr=subprocess.DEVNULL, pass_fds=(write_fd,))
    os.close(write_fd)
    trayer = None
    try:
        with os.fdopen(read_fd) as numbers:
            ready, _, _ = select.select([numbers], [], [], 10)
            number = numbers.readline().strip() if ready else ""
        assert number.isdigit(), "Xvfb did not start"
        env = {**os.environ, "DISPLAY": f":{number}"}
        env.pop("QT_QPA_PLATFORM", None)
        wait_until(lambda: subprocess.run(["xdotool", "getdisplaygeometry"], env=env,
                                          capture_output=True, check=False).returncode == 0,
                   timeout=10, message="Xvfb")
        trayer = subprocess.Popen(["trayer", "--edge", "top", "--align", "right",
                                   "--widthtype", "request", "--height", "24",
                                   "--SetDockType", "true"], env=env,
                                  stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        yield env
    finally:
        for proc in (trayer, xvfb):
            if proc is not None:
                proc.terminate()
                proc.wait(10)


def xdo(env: dict[str, str], *args: str) -> None:
    subprocess.run(["xdotool", *args], env=env, check=True, timeout=10)


def test_tray_icon_menu_pauses_resumes_and_quits(x_display: dict[str, str],
                                                 tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    with log.open("w") as out:
        app = subprocess.Popen(
            [sys.executable, "-m", "openmsi_gui.ui.application", "--demo", "--demo-dir",
             str(tmp_path / "demo"), "--minimized"],
            env=x_display, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "receiving from topic" in log.read_text(), timeout=30,
                   message="the demo to start")
        icon = (SCREEN[0] - 12, 12)  # trayer docks the first icon at the top-right corner
        xdo(x_display, "mousemove", str(icon[0]), str(icon[1]), "click", "3")
        time.sleep(0.8)
        subprocess.run(["import", "-window", "root", str(tmp_path / "tray-menu.png")],
                       env=x_display, check=True, timeout=20)
        xdo(x_display, "key", "p")  # &Pause all
        wait_until(lambda: "all transfers paused" in log.read_text(), timeout=10,
                   message="Pause all from the tray menu")
        xdo(x_display, "mousemove", str(icon[0]), str(icon[1]), "click", "3")
        time.sleep(0.8)
        xdo(x_display, "key", "r")  # &Resume
        wait_until(lambda: "all transfers resumed" in log.read_text(), timeout=10,
                   message="Resume from the tray menu")
        (tmp_path / "demo" / "outbox" / "from-tray-test.txt").write_text("hello")
        wait_until((tmp_path / "demo" / "inbox" / "from-tray-test.txt").exists, timeout=30,
                   message="a file through the running app")
        xdo(x_display, "mousemove", str(icon[0]), str(icon[1]), "click", "3")
        time.sleep(0.8)
        xdo(x_display, "key", "q")  # &Quit
        assert app.wait(30) == 0
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    assert (tmp_path / "tray-menu.png").stat().st_size > 1000


def _sigterm_the_demo_app(tmp_path: Path, once_logged: str) -> None:
    """Start ``openmsi-gui --demo`` offscreen, SIGTERM it once its log shows ``once_logged``.

    Fails unless it exits with 0 within 10 s of the signal, and cleanly.
    """
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    log = tmp_path / "app.log"
    with log.open("w") as out:
        app = subprocess.Popen(
            [sys.executable, "-m", "openmsi_gui.ui.application", "--demo", "--demo-dir",
             str(tmp_path / "demo")], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: once_logged in log.read_text(), timeout=30,
                   message=f"{once_logged!r} in the app's log")
        signalled = time.monotonic()
        app.terminate()
        assert app.wait(30) == 0, log.read_text()[-2000:]
        assert time.monotonic() - signalled < 10
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    text = log.read_text()
    assert "stopping (SIGTERM)" in text
    assert "Fatal Python error" not in text
    assert "Traceback" not in text


def test_sigterm_quits_the_app_gracefully(tmp_path: Path) -> None:
    _sigterm_the_demo_app(tmp_path, "receiving from topic")


def test_sigterm_while_starting_still_quits_gracefully(tmp_path: Path) -> None:
    """A SIGTERM before the window is up (a logout right after login) is not fatal."""
    # The banner comes before the window, the tray, the broker and the jobs.
    _sigterm_the_demo_app(tmp_path, "OpenMSI GUI demo:")
