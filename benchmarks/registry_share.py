"""Processes writing registries at once: one shared file, or one file each.

Each process records ``--files`` small files as the engine does for one side
of a transfer (start, one chunk, finish; a durable commit every second), while
reading as the watcher does. Prints files/s per process and overall, so the
cost of sharing one registry can be compared with a registry per process::

    python benchmarks/registry_share.py --processes 2 --files 20000
    python benchmarks/registry_share.py --processes 2 --files 20000 --separate
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path

from openmsi_gui.engine.registry import Registry


def storm(path: Path, name: str, files: int) -> float:
    """Write ``files`` uploads and downloads into the registry at ``path``; return the seconds."""
    registry = Registry(path)
    started = next_commit = time.monotonic()
    try:
        for i in range(files):
            relpath = f"{name}/{i // 100:04d}/{i:06d}.bin"
            digest = f"{name}{i}".encode().ljust(64, b"-")
            registry.upload_done(name, "/root", relpath, 4096, i)
            upload_id, _ = registry.start_upload(name, "/root", relpath, 4096, i, digest,
                                                 1 << 20, 1)
            registry.ack_chunks(upload_id, [0])
            registry.finish_upload(upload_id)
            download_id = registry.start_download(name, "g", "/dest", relpath, digest, 1, 0.0,
                                                  "/dest/.tmp")
            registry.store_chunk(download_id, 0, 0, 4096)
            registry.finish_download(download_id, "done", 4096)
            if time.monotonic() >= next_commit:
                registry.commit()
                next_commit = time.monotonic() + 1.0
    finally:
        registry.close()
    return time.monotonic() - started


def _worker(args: tuple[Path, str, int]) -> float:
    return storm(*args)


def main() -> None:
    """Run the processes and print their rates."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--separate", action="store_true", help="one registry per process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [(Path(tmp) / (f"r{i}.sqlite3" if args.separate else "r.sqlite3"), f"p{i}",
                 args.files) for i in range(args.processes)]
        Registry(jobs[0][0]).close()
        started = time.monotonic()
        with multiprocessing.Pool(args.processes) as pool:
            seconds = pool.map(_worker, jobs)
        total = time.monotonic() - started
    layout = "a registry each" if args.separate else "one shared registry"
    for i, s in enumerate(seconds):
        print(f"process {i}: {args.files / s:,.0f} files/s")
    print(f"{args.processes} processes, {layout}: "
          f"{args.processes * args.files / total:,.0f} files/s overall")


if __name__ == "__main__":
    main()
