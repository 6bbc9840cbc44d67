"""What the Not confirmed check costs on a large registry.

A watched folder's :class:`~openmsi_gui.engine.confirmation.DeadlineWatch` asks
the registry, at every check (a tenth of the deadline, at most every minute),
which of the folder's files the expected destinations did not confirm in time.
This fills a registry with ``--files`` uploads of one folder (and as many other
uploads of another folder), records a stored receipt from each of two
destinations for all but the latest ``--unconfirmed`` of them, then times a
watch's first check (it reads every sending since the folder was added; median
of 5 fresh watches), its later checks (from the oldest file still unconfirmed
on), and the history with and without its delivery words::

    python benchmarks/confirmation.py --files 10000,100000
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import statistics
import tempfile
import time
from pathlib import Path

from openmsi_gui.app.history import HISTORY_LIMIT, load_history, make_entries
from openmsi_gui.engine.confirmation import DeadlineWatch, Expectation
from openmsi_gui.engine.deliveries import DeliveryBook
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.receipts import Receipt, ReceiptStatus
from openmsi_gui.engine.registry import Registry

TOPIC, ROOT, EXPECTED = "lab", "/data/outbox", ("archive", "mirror")


def fill(registry: Registry, files: int, unconfirmed: int) -> None:
    """``files`` uploads of ROOT and of another folder; receipts for all but ``unconfirmed``."""
    book = DeliveryBook(registry)
    for root in (ROOT, "/data/other"):
        for i in range(files):
            relpath = f"{i // 100:04d}/{i:06d}.bin"
            digest = hashlib.sha512(f"{root}{i}".encode()).digest()
            upload_id, _ = registry.start_upload(TOPIC, root, relpath, 4096, i, digest,
                                                 1 << 20, 1)
            registry.finish_upload(upload_id)
            if root == ROOT and i < files - unconfirmed:  # the latest ones wait
                for name in EXPECTED:
                    book.record(Receipt(name, TOPIC, relpath, digest, 4096, 0.0, "/x",
                                        time.time(), ReceiptStatus.STORED))
    registry.commit()
    time.sleep(0.01)  # every sending is older than the checks' "now - deadline" below


def timed(fn: object, repeat: int = 5) -> float:
    """Median seconds of ``fn()``."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    """Fill registries of the sizes given and print the check's cost."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", default="10000,100000",
                        help="files sent from the folder, comma-separated sizes")
    parser.add_argument("--unconfirmed", type=int, default=100)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # one warning per file not confirmed, at every first check
    print("| files of the folder | not confirmed | first check | later checks | history "
          "(10,000 rows) | history without deliveries |")
    print("|---|---|---|---|---|---|")
    for files in (int(n) for n in args.files.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            registry = Registry(Path(folder) / "registry.sqlite3")
            try:
                fill(registry, files, args.unconfirmed)
                print(measure(registry, files), flush=True)
            finally:
                registry.close()


def measure(registry: Registry, files: int) -> str:
    """One table row: the checks' and the history's median times."""
    found: list[object] = []
    expectation = Expectation(EXPECTED, deadline=0.001)

    def first() -> None:
        watch = DeadlineWatch(registry, TOPIC, ROOT, expectation, EventBus(), "bench",
                              lambda _relpath: None)
        found[:] = watch.check()

    seconds = timed(first)
    later = DeadlineWatch(registry, TOPIC, ROOT, expectation, EventBus(), "bench",
                          lambda _relpath: None)
    later.check()
    again = timed(later.check)
    history = timed(lambda: load_history(registry), repeat=3)
    plain = timed(lambda: make_entries(registry.history(HISTORY_LIMIT)), repeat=3)
    return (f"| {files:,} | {len(found)} | {seconds * 1000:.0f} ms | {again * 1000:.0f} ms "
            f"| {history * 1000:.0f} ms | {plain * 1000:.0f} ms |")

if __name__ == "__main__":
    main()
