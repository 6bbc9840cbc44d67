"""What after-delivery actions cost: a planning pass over the registry, and moves and deletes.

No broker: the registry is filled as a watch job and its receipt listener fill it
(``--files`` uploads, each confirmed by two destinations), then:

* one planning pass (:func:`plan`: the SQL over uploads and deliveries) is timed,
  with every file confirmed, and again with none to act on (the pass a watch job
  makes every minute once its folder is clean);
* the same pass with a minimum age of 7 days, when no file is old enough (the
  pass a folder keeping a week of files makes every minute);
* the executor moves every file to an archive on the same disk, then (a fresh
  folder) deletes every file: files/s and MiB/s, each file's size, mtime and
  SHA-512 re-checked before it goes.

    python benchmarks/after_delivery.py                    # 2,000 files of 256 KiB
    python benchmarks/after_delivery.py --files 20000 --kib 4
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

from openmsi_gui.engine.after_delivery import AfterAction, AfterDeliveryPolicy, plan
from openmsi_gui.engine.after_delivery_actions import AfterDeliveryExecutor, Outcome
from openmsi_gui.engine.deliveries import DeliveryBook
from openmsi_gui.engine.receipts import Receipt, ReceiptStatus
from openmsi_gui.engine.registry import Registry

TOPIC = "bench"
DESTS = ("archive", "mirror")


def fill(base: Path, files: int, kib: int) -> tuple[Registry, Path]:
    """A watched folder of ``files`` files, sent and confirmed by both destinations."""
    root = Path(os.path.realpath(base / "outbox"))
    root.mkdir(parents=True)
    registry = Registry(base / "registry.sqlite3")
    book = DeliveryBook(registry)
    for i in range(files):
        data = os.urandom(kib * 1024)
        relpath = f"run_{i // 500:03d}/scan_{i:06d}.tif"
        path = root / relpath
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        st = path.stat()
        digest = hashlib.sha512(data).digest()
        upload_id, _ = registry.start_upload(TOPIC, str(root), relpath, st.st_size,
                                             st.st_mtime_ns, digest, 1 << 19, 1)
        registry.finish_upload(upload_id)
        for dest in DESTS:
            book.record(Receipt(dest, TOPIC, relpath, digest, len(data), 0.0, "/x",
                                time.time(), ReceiptStatus.STORED))
    registry.commit()
    return registry, root


def timed_pass(base: Path, files: int, kib: int, action: AfterAction) -> None:
    registry, root = fill(base, files, kib)
    archive = base / "archive"
    archive.mkdir()
    policy = AfterDeliveryPolicy(action, archive if action is AfterAction.MOVE else None, 0.0,
                                 DESTS)
    started = time.perf_counter()
    planned = plan(registry, TOPIC, root, policy)
    plan_s = time.perf_counter() - started
    started = time.perf_counter()
    young = plan(registry, TOPIC, root, dataclasses.replace(policy, min_age=7 * 86400.0))
    young_s = time.perf_counter() - started
    executor = AfterDeliveryExecutor(registry, TOPIC, root, policy, watch_began=0.0,
                                     folders_at_start={str(root)})
    started = time.perf_counter()
    results = executor.run_once()
    act_s = time.perf_counter() - started
    done = sum(r.outcome in (Outcome.MOVED, Outcome.DELETED) for r in results)
    started = time.perf_counter()
    left = plan(registry, TOPIC, root, policy)
    idle_s = time.perf_counter() - started
    mib = done * kib / 1024
    print(f"{action.value:6}  {files:6} files x {kib} KiB: plan {plan_s * 1000:7.1f} ms "
          f"({len(planned)} candidates), then {done} {action.value}d in {act_s:6.2f} s = "
          f"{done / act_s:7.0f} files/s, {mib / act_s:6.1f} MiB/s; idle plan "
          f"{idle_s * 1000:5.1f} ms ({len(left)} left); with --min-age 7d, none old enough: "
          f"{young_s * 1000:.1f} ms ({len(young)})")
    registry.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--kib", type=int, default=256)
    args = parser.parse_args()
    for action in (AfterAction.MOVE, AfterAction.DELETE):
        with tempfile.TemporaryDirectory() as tmp:
            timed_pass(Path(tmp), args.files, args.kib, action)
    return 0


if __name__ == "__main__":
    sys.exit(main())
