"""Running the `openmsi` command in tests: at once, in the background, stopped by a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers import TEST_GROUP_TIMEOUTS, wait_until

OPENMSI = [sys.executable, "-m", "openmsi_gui"]


def run(args: list[str], data_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OPENMSI, "--data-dir", str(data_dir), *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


@contextmanager
def background(args: list[str], data_dir: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([*OPENMSI, "--data-dir", str(data_dir), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def read_until(proc: subprocess.Popen[str], text: str) -> str:
    """What ``proc`` printed up to the first line holding ``text`` (or until it ended).

    A signal sent before the command installed its handlers (while Python still
    imports it) would kill it outright: wait for a line saying it is up first.
    """
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or (text not in lines[-1] and lines[-1]):
        lines.append(proc.stdout.readline())
    return "".join(lines)


def stop_gracefully(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, float]:
    started = time.monotonic()
    proc.send_signal(sig)
    proc.wait(timeout=30)
    return proc.returncode, time.monotonic() - started


def write_config(path: Path, bootstrap: str) -> Path:
    path.write_text("[broker]\nbootstrap.servers = $TEST_BROKER\n\n[producer]\n"
                    "key.serializer = StringSerializer\nlinger.ms = 10\n\n[consumer]\n"
                    "group.id = create_new\nauto.offset.reset = earliest\n")
    os.environ["TEST_BROKER"] = bootstrap
    return path


class Running:
    """An `openmsi` command in the background, its output collected line by line."""

    def __init__(self, args: list[str], data_dir: Path,
                 env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([*OPENMSI, "--data-dir", str(data_dir), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=None if env is None else {**os.environ, **env})
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 30) -> None:
        """Wait for a line holding ``text`` (e.g. that it is up: signal it only then)."""
        wait_until(lambda: any(text in line for line in self.lines), timeout=timeout,
                   message=f"{text!r} in {self.lines}")

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def stop(self) -> int:
        """SIGTERM it; its exit code (it must exit: the wait fails the test otherwise)."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        self._reader.join(10)
        return code

    def kill(self) -> None:
        """SIGKILL it, as a crash or a power cut would (no chance to say goodbye)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=20)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def quick_join_config(path: Path, bootstrap: str) -> Path:
    """A ``--config`` file for ``bootstrap`` whose consumers join their group in 1 s, not 3 s.

    For tests that start consumers again and again (a restart, a kill): see
    ``helpers.TEST_GROUP_TIMEOUTS``.
    """
    consumer = "".join(f"{key} = {value}\n" for key, value in TEST_GROUP_TIMEOUTS.items())
    path.write_text(f"[broker]\nbootstrap.servers = {bootstrap}\n\n[consumer]\n{consumer}")
    return path
