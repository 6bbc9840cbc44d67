"""One processor's child process: started, bounded in time and memory, its output kept short.

A processor is user code. It runs in a child process of its own, in a new
process group (POSIX) or process group and no console window (Windows), so that
a timeout or a stop kills it and everything it started, and a crash or a
memory blow-up only ends that child. Its standard output and error are read by
two threads and kept bounded (:class:`Capture`), so a command that prints
gigabytes costs the app 64 KiB.

The memory limit is POSIX ``RLIMIT_AS`` (address space), set in the child
before it runs anything; macOS does not enforce it and Windows has no such
limit here (a Job Object would be needed): there it is not applied.
"""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from openmsi_gui.engine.processes import die_with_parent

OUTPUT_LIMIT = 64 * 1024
"""Bytes kept of each stream: the first 48 KiB and the last 16 KiB."""
_TAIL = 16 * 1024
_POLL = 0.05  # seconds between looks at the child, the deadline and the stop event
_DRAIN = 1.0  # seconds to wait for the output after the child ended
_GIVE_UP = 5.0  # seconds to wait for a killed child to be gone

if sys.platform != "win32":
    import resource

    _SETRLIMIT = resource.setrlimit  # looked up here, not in the child
    _RLIMIT_AS = resource.RLIMIT_AS


class Ending(enum.Enum):
    """How a child process ended."""

    EXITED = "exited"
    """By itself (its exit code says how)."""
    TIMED_OUT = "timed out"
    """It ran past its timeout and was killed with everything it started."""
    STOPPED = "stopped"
    """The stop event was set (the app is quitting): killed at once."""


class Capture:
    """A stream's bytes, bounded: the head and the tail are kept, the middle counted."""

    def __init__(self, limit: int = OUTPUT_LIMIT, tail: int = _TAIL) -> None:
        self._head_limit = limit - tail
        self._tail_limit = tail
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        """Keep what fits of ``data``."""
        self.total += len(data)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data:
            self._tail += data
            del self._tail[:-self._tail_limit]

    @property
    def dropped(self) -> int:
        """Bytes not kept."""
        return self.total - len(self._head) - len(self._tail)

    @property
    def complete(self) -> bool:
        """Whether every byte was kept."""
        return self.dropped == 0

    def data(self) -> bytes:
        """The bytes kept, head then tail (only whole when :attr:`complete`)."""
        return bytes(self._head + self._tail)

    def text(self) -> str:
        """The text kept, decoded (undecodable bytes replaced), the gap said in words."""
        head = self._head.decode("utf-8", "replace")
        if not self._tail:
            return head
        tail = self._tail.decode("utf-8", "replace")
        if not self.dropped:
            return (self._head + self._tail).decode("utf-8", "replace")
        return f"{head}\n…{self.dropped} more bytes…\n{tail}"

    def last_line(self) -> str:
        """The last line that is not blank ("" if none)."""
        for source in (self._tail, self._head):
            for line in reversed(source.decode("utf-8", "replace").splitlines()):
                if line.strip():
                    return line.strip()
        return ""


def bounded(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """``text`` cut to about ``limit`` characters: its head and tail, the gap said in words."""
    if len(text) <= limit + 1024:  # a text already bounded (with its gap said) stays as it is
        return text
    head, tail = text[:limit * 3 // 4], text[-(limit // 4):]
    return f"{head}\n…{len(text) - len(head) - len(tail)} more characters…\n{tail}"


@dataclass(frozen=True)
class ChildRun:
    """What a child process did.

    Attributes:
        ending: exited, timed out or stopped.
        returncode: its exit code (negative: the signal that ended it, POSIX).
        stdout: its standard output, bounded.
        stderr: its standard error, bounded.
    """

    ending: Ending
    returncode: int | None
    stdout: Capture
    stderr: Capture


def _preexec(memory_limit: int) -> Callable[[], None] | None:
    """The ``preexec_fn``: tie the child to the app (Linux) and limit its address space."""
    if sys.platform == "win32":
        return None
    if not memory_limit:
        return die_with_parent

    def preexec() -> None:  # pragma: no cover - runs in the child before exec
        if die_with_parent is not None:
            die_with_parent()
        with contextlib.suppress(ValueError, OSError):  # macOS: not enforced (documented)
            _SETRLIMIT(_RLIMIT_AS, (memory_limit, memory_limit))

    return preexec


def _popen_options() -> dict[str, object]:
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP
                | subprocess.CREATE_NO_WINDOW}
    return {"start_new_session": True}


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc`` and what it started: its process group (POSIX) or tree (Windows)."""
    if sys.platform == "win32":
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)],
                       capture_output=True, check=False,
                       creationflags=subprocess.CREATE_NO_WINDOW)
        if proc.poll() is None:
            proc.kill()
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # the group the child leads (start_new_session)


def _read(stream: IO[bytes], capture: Capture) -> None:
    try:
        while chunk := stream.read1(65536):  # type: ignore[attr-defined]
            capture.add(chunk)
    except (OSError, ValueError):
        pass  # closed under us: the child is gone


def _write(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
    except (BrokenPipeError, OSError, ValueError):
        pass  # it did not read its input: what it does say is what counts
    finally:
        with contextlib.suppress(OSError):
            stream.close()


def _thread(target: Callable[..., None], *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name="processor-io", daemon=True)
    thread.start()
    return thread


def run_child(args: Sequence[str], *, timeout: float, stop: threading.Event | None = None,
              memory_limit: int = 0, stdin: bytes | None = None,
              env: Mapping[str, str] | None = None,
              stdout_limit: int = OUTPUT_LIMIT) -> ChildRun:
    """Run ``args`` (no shell) until it exits, its timeout passes, or ``stop`` is set.

    Args:
        args: the program and its arguments.
        timeout: seconds it may run; then it and its process group are killed.
        stop: when set, the child is killed at once (the caller is stopping).
        memory_limit: its address space in bytes (POSIX ``RLIMIT_AS``); 0 for none.
        stdin: what it reads on its standard input (None: nothing, end of file).
        env: its environment (None: this process's).
        stdout_limit: bytes of its standard output kept (standard error: 64 KiB).

    Returns:
        How it ended, with its output.

    Raises:
        OSError: it could not be started (no such program, not executable).
        ValueError: an argument cannot be passed to a program (a NUL character).
    """
    if stop is not None and stop.is_set():
        return ChildRun(Ending.STOPPED, None, Capture(), Capture())  # not even started
    proc = subprocess.Popen(
        list(args), stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        preexec_fn=_preexec(memory_limit),  # noqa: PLW1509 (it calls C functions only)
        **_popen_options())  # type: ignore[call-overload]
    out, err = Capture(stdout_limit, min(_TAIL, stdout_limit // 4)), Capture()
    readers = [_thread(_read, proc.stdout, out), _thread(_read, proc.stderr, err)]
    if stdin is not None:
        _thread(_write, proc.stdin, stdin)
    ending = _wait(proc, timeout, stop)
    _drain(proc, readers)
    return ChildRun(ending, proc.returncode, out, err)


def _wait(proc: subprocess.Popen[bytes], timeout: float,
          stop: threading.Event | None) -> Ending:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            proc.wait(timeout=max(0.0, min(_POLL, remaining)))
            return Ending.EXITED
        except subprocess.TimeoutExpired:
            pass
        if stop is not None and stop.is_set():
            ending = Ending.STOPPED
            break
        if time.monotonic() >= deadline:
            ending = Ending.TIMED_OUT
            break
    kill_tree(proc)
    for _ in range(2):  # never hang here, even on a child that cannot be killed
        try:
            proc.wait(timeout=_GIVE_UP)
            break
        except subprocess.TimeoutExpired:
            proc.kill()
    return ending


def _drain(proc: subprocess.Popen[bytes], readers: list[threading.Thread]) -> None:
    """Read the output to its end; kill what still holds the pipes after a short wait."""
    for reader in readers:
        reader.join(_DRAIN)
    if any(reader.is_alive() for reader in readers):
        kill_tree(proc)  # something it started still holds the output open
        for reader in readers:
            reader.join(_DRAIN)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None and not any(r.is_alive() for r in readers):
            stream.close()
