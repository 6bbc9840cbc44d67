"""Throughput and peak memory of ``openmsi download-s3`` for one large file.

Starts the embedded Tansu broker and a SeaweedFS S3 server, sends one file of
``--gib`` GiB with ``openmsi upload``, then times ``openmsi download-s3`` from
its start until the object is in the bucket, and reports each process's peak
RSS (``ru_maxrss`` from ``os.wait4``). ``--read-back`` also downloads the
object and compares its SHA-512 with the file's.

    python benchmarks/s3_download.py --gib 4
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from s3server import start_seaweed

from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.kafka_config import KafkaConfig

OPENMSI = [sys.executable, "-m", "openmsi_gui"]
BLOCK = 64 * 1024 * 1024


def write_file(path: Path, size: int) -> str:
    hasher = hashlib.sha512()
    with path.open("wb") as handle:
        left = size
        while left:
            block = os.urandom(min(BLOCK, left))
            hasher.update(block)
            handle.write(block)
            left -= len(block)
    return hasher.hexdigest()


def rss_mib(pid: int) -> int:
    """Current resident set of a process, in MiB (0 if gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def reap(proc: subprocess.Popen[bytes]) -> tuple[int, int]:
    """Exit code and peak RSS (KiB) of a finished child."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--read-back", action="store_true")
    parser.add_argument("--timeline", action="store_true", help="print RSS over time")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="s3bench-"))
    size = int(args.gib * 1024**3)
    with EmbeddedBroker() as broker:
        s3 = start_seaweed(work / "seaweed")
        try:
            topic = f"bench-{uuid.uuid4().hex[:8]}"
            admin.create_topic(KafkaConfig.for_bootstrap(broker.bootstrap_servers), topic, 1)
            source = work / "big.bin"
            digest = write_file(source, size)
            env = dict(os.environ, OPENMSI_S3_SECRET_ACCESS_KEY=s3.secret_key)
            common = ["--bootstrap-servers", broker.bootstrap_servers, "--topic", topic]
            started = time.monotonic()
            up = subprocess.Popen([*OPENMSI, "--data-dir", str(work / "up"), "upload",
                                   str(source), *common], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
            up_code, up_rss = reap(up)
            up_seconds = time.monotonic() - started
            assert up_code == 0, "upload failed"
            client = s3.client()
            started = time.monotonic()
            down = subprocess.Popen(
                [*OPENMSI, "--data-dir", str(work / "down"), "download-s3", *common,
                 "--bucket", s3.bucket, "--endpoint-url", s3.endpoint_url, "--region",
                 "us-east-1", "--access-key-id", s3.access_key, "--group", "bench"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            key = f"{topic}/big.bin"
            samples: list[tuple[float, int]] = []
            while True:
                samples.append((time.monotonic() - started, rss_mib(down.pid)))
                try:
                    head = client.head_object(Bucket=s3.bucket, Key=key)
                    break
                except Exception:
                    if down.poll() is not None:
                        raise SystemExit("download-s3 exited early") from None
                    time.sleep(0.2)
            down_seconds = time.monotonic() - started
            down.send_signal(signal.SIGTERM)
            down_code, down_rss = reap(down)
            assert head["ContentLength"] == size
            assert head["Metadata"]["sha512"] == digest
            print(f"file: {size / 1024**3:.2f} GiB ({size / 1e6:.0f} MB)")
            print(f"upload to Kafka: {up_seconds:.1f} s, {size / 1e6 / up_seconds:.1f} MB/s, "
                  f"peak RSS {up_rss / 1024:.0f} MiB")
            print(f"Kafka to S3 (rebuild, verify, multipart, verify): {down_seconds:.1f} s, "
                  f"{size / 1e6 / down_seconds:.1f} MB/s, peak RSS {down_rss / 1024:.0f} MiB, "
                  f"exit {down_code}")
            print(f"object ETag {head['ETag']}, sha512 metadata matches")
            if args.timeline:
                step = max(1, len(samples) // 20)
                print("RSS timeline (s: MiB):", ", ".join(
                    f"{t:.0f}: {m}" for t, m in samples[::step]))
            if args.read_back:
                hasher = hashlib.sha512()
                body = client.get_object(Bucket=s3.bucket, Key=key)["Body"]
                for block in body.iter_chunks(1 << 20):
                    hasher.update(block)
                print("read back: SHA-512", "matches" if hasher.hexdigest() == digest
                      else "DIFFERS")
        finally:
            s3.stop()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
