"""How a download rides out a full disk: nothing lost, and how soon it goes on.

Linux, as root (it mounts a small tmpfs). Starts the embedded Tansu broker, sends
a few files with ``openmsi upload``, and runs ``openmsi download`` into a tmpfs
too small for the largest. Once the download reports that file as waiting, the
tmpfs is grown, as a lab would free space, and the script times how long the
file takes to arrive and checks every file byte for byte. ``--retry-now`` also
times the Retry button's path, with the engine in-process as the GUI runs it.

    sudo python benchmarks/disk_full.py --mib 24
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import EventBus, FileWaiting
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry

OPENMSI = [sys.executable, "-m", "openmsi_gui"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mount(point: Path, mib: int) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mib}m", "tmpfs", str(point)],
                   check=True)


def grow(point: Path, mib: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={mib}m", str(point)], check=True)


def wait_for(condition: Callable[[], object], timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError("gave up waiting")
        time.sleep(0.05)
    return time.monotonic() - started


def run_cli(broker: EmbeddedBroker, topic: str, work: Path, src: Path, big: str,
            mib: int) -> None:
    """``openmsi download`` as a process; space is freed once it reports the file waiting."""
    point = work / "cli-disk"
    point.mkdir()
    mount(point, max(1, mib // 2))
    try:
        log = work / "download.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                [*OPENMSI, "--data-dir", str(work / "cli-state"), "download", str(point / "in"),
                 "--bootstrap-servers", broker.bootstrap_servers, "--topic", topic,
                 "--group", f"bench-{uuid.uuid4().hex[:8]}"], stdout=out, stderr=subprocess.STDOUT)
        try:
            waited = wait_for(lambda: f"waiting {big}" in log.read_text(), 60)
            grow(point, mib * 4)
            freed = time.monotonic()
            wait_for((point / "in" / big).exists, 120)
            arrived = time.monotonic() - freed
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
        same = all(digest(point / "in" / p.name) == digest(p) for p in src.iterdir())
        print(f"openmsi download: {big} waiting after {waited:.1f} s; arrived {arrived:.1f} s "
              f"after space was freed (next retry 5 s after the first refusal); exit {code}; "
              f"every file byte-exact: {same}")
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def run_retry_now(broker: EmbeddedBroker, topic: str, work: Path, src: Path, big: str,
                  mib: int) -> None:
    """The engine in-process, as the GUI runs it: free space, then press Retry."""
    point = work / "gui-disk"
    point.mkdir()
    mount(point, max(1, mib // 2))
    bus = EventBus()
    waiting: list[FileWaiting] = []
    bus.subscribe(lambda e: waiting.append(e) if isinstance(e, FileWaiting) else None)
    registry = Registry(work / "gui-state.sqlite3")
    config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
    down = Downloader(config, topic, point / "in", bus, registry,
                      group_id=f"bench-{uuid.uuid4().hex[:8]}", job="bench")
    down.start()
    try:
        wait_for(lambda: any(e.relpath == big for e in waiting), 60)
        time.sleep(1.0)  # well inside the first 5 s wait
        grow(point, mib * 4)
        pressed = time.monotonic()
        down.retry_now()
        wait_for((point / "in" / big).exists, 120)
        print(f"Retry pressed after freeing space: {big} arrived "
              f"{time.monotonic() - pressed:.2f} s later")
    finally:
        down.stop()
        registry.close()
        subprocess.run(["umount", "-l", str(point)], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=24, help="size of the largest file")
    parser.add_argument("--retry-now", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root, to mount a small tmpfs")
    with tempfile.TemporaryDirectory(prefix="openmsi-diskfull-") as tmp, \
            EmbeddedBroker() as broker:
        work = Path(tmp)
        topic = f"diskfull-{uuid.uuid4().hex[:8]}"
        admin.create_topic(KafkaConfig.for_bootstrap(broker.bootstrap_servers), topic, 1)
        src = work / "src"
        src.mkdir()
        sizes = {"before.bin": 1 << 20, "big.bin": args.mib << 20, "after.bin": 1 << 20}
        for name, size in sizes.items():
            (src / name).write_bytes(os.urandom(size))
        subprocess.run([*OPENMSI, "--data-dir", str(work / "up"), "upload",
                        *(str(src / n) for n in sizes), "--bootstrap-servers",
                        broker.bootstrap_servers, "--topic", topic, "--workers", "1"],
                       check=True, capture_output=True)
        print(f"sent {len(sizes)} files; the largest is {args.mib} MiB, the disk half that")
        run_cli(broker, topic, work, src, "big.bin", args.mib)
        if args.retry_now:
            run_retry_now(broker, topic, work, src, "big.bin", args.mib)


if __name__ == "__main__":
    main()
