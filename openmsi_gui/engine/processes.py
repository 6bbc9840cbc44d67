"""Helper processes (the embedded broker, its storage): start, tie to the app, stop, ports."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

if sys.platform == "linux":
    import ctypes

    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl  # looked up here, not in the child
else:
    _PRCTL = None
_PR_SET_PDEATHSIG = 1


def _pdeathsig() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM the child if the app that started it dies (even by SIGKILL).

    It runs between fork and exec in a threaded parent, so it only calls a C
    function resolved beforehand: no imports, no locks.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


die_with_parent = _pdeathsig if _PRCTL is not None else None
"""A ``preexec_fn`` that ties a child process to the app (Linux; None elsewhere)."""


def terminate(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM ``proc`` and wait; SIGKILL it if it is still there after ``timeout`` s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that is free right now."""
    return free_ports(1, host)[0]


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """Return ``n`` distinct TCP ports on ``host`` that are free right now."""
    sockets = []
    try:
        for _ in range(n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for sock in sockets:
            sock.close()
