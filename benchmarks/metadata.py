"""What the information sent with each file costs: 500 small files sent and received.

Starts the embedded Tansu broker; for each mode, sends ``--files`` small files
(``--size`` bytes, one chunk each) from a folder with the engine's Uploader to a
fresh one-partition topic, then receives them with a Downloader into an empty
folder:

* ``none``: no information (no header);
* ``header``: three fixed fields, two fields from the path and a sample (a ~120-byte
  ``openmsi_metadata`` header on every chunk), received as usual (the header read,
  escaped and recorded in the history);
* ``meta``: the same, received with ``--sidecar`` (a ``.metadata.json`` written,
  fsynced and renamed beside each file);
* ``filter``: no information, received with a download filter that takes half of the
  files (the other half read past and counted).

Figures: files/s sent (first submit to the last acknowledgement) and files/s received
(from the destination's start, a group join included, to the last file).

    python benchmarks/metadata.py --files 500 --size 4096 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.kafka_config import CONSUMER_DEFAULTS, KafkaConfig
from openmsi_gui.engine.metadata import FolderMetadata
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.uploader import Uploader

FIELDS = {"instrument": "SEM-2", "lab": "B2.14", "operator": "A. Lovelace"}
PATTERN = re.compile(r"^(?P<specimen>S\d+)/(?P<run>run\d+)/")


def make_files(root: Path, count: int, size: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = root / f"S{i % 10:03d}" / f"run{i // 100}" / f"f{i:04d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        paths.append(path)
    return paths


def send(config: KafkaConfig, topic: str, root: Path, paths: list[Path], work: Path,
         metadata: FolderMetadata | None) -> float:
    registry = Registry(work / f"send-{uuid.uuid4().hex[:6]}.sqlite3")
    uploader = Uploader(config, topic, EventBus(), registry, metadata=metadata,
                        keep_results=False)
    uploader.start()
    try:
        started = time.monotonic()
        for path in paths:
            uploader.submit(root, path)
        if not uploader.wait_idle(300):
            raise SystemExit("the files were not sent")
        return time.monotonic() - started
    finally:
        uploader.stop()
        registry.close()


def receive(config: KafkaConfig, topic: str, work: Path, expected: int,
            wanted: re.Pattern[str] | None, sidecar: bool) -> float:
    registry = Registry(work / f"recv-{uuid.uuid4().hex[:6]}.sqlite3")
    down = Downloader(config, topic, work / f"in-{uuid.uuid4().hex[:6]}", EventBus(), registry,
                      group_id=f"bench-{uuid.uuid4().hex[:6]}", wanted=wanted, sidecar=sidecar)
    started = time.monotonic()
    down.start()
    try:
        while down.files_received + down.files_filtered < expected:
            if down.error is not None:
                raise SystemExit(f"the download failed: {down.error}")
            time.sleep(0.005)
        return time.monotonic() - started
    finally:
        down.stop()
        registry.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--size", type=int, default=4096, help="bytes per file")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each mode")
    args = parser.parse_args()
    CONSUMER_DEFAULTS.update({"session.timeout.ms": "2000", "heartbeat.interval.ms": "500"})
    work = Path(tempfile.mkdtemp(prefix="metabench-"))
    try:
        root = work / "out"
        paths = make_files(root, args.files, args.size)
        print(f"{args.files} files of {args.size} bytes; {os.cpu_count()} CPUs")
        with EmbeddedBroker() as broker:
            config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
            for round_ in range(args.rounds):
                for mode in ("none", "meta", "header", "filter"):
                    topic = f"bench-{uuid.uuid4().hex[:8]}"
                    admin.create_topic(config, topic, 1)
                    metadata = (FolderMetadata(FIELDS, PATTERN, "run-7")
                                if mode in ("meta", "header") else None)
                    sent = send(config, topic, root, paths, work, metadata)
                    wanted = re.compile(r"S00[0-4]/") if mode == "filter" else None
                    got = receive(config, topic, work, args.files, wanted, mode == "meta")
                    print(f"round {round_ + 1} {mode:6} sent {args.files / sent:7.1f} files/s, "
                          f"received {args.files / got:7.1f} files/s (group join included)",
                          flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
