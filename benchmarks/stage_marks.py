"""Stage marks: when each file passes each stage inside a real ``openmsi`` process.

``python benchmarks/stage_marks.py MARKS EXPECT -- <openmsi arguments>`` runs the real CLI
(``openmsi_gui.cli.main.main``) in this process after wrapping a few engine methods, in this
process only (the product is not changed), so that each records the wall-clock time
(``time.time()``, comparable across processes and with file mtimes) at which a file passes it.
Files are keyed by their base name (the benchmarks' data sets are flat).

Upload side: ``submit`` (the watcher hands over a stable file), ``hash_start``/``hash_end``
(the one-pass SHA-512), ``produce_first``/``produce_last`` (the first chunk handed to
librdkafka, the return of the last such call), ``ack_first``/``ack_last`` (delivery
reports), ``sent`` (the upload's completion event).
Download side: ``consume_first``/``consume_last`` (a chunk decoded and about to be written),
``written_last``, ``to_finisher`` (complete, handed to the finisher), ``verify_start``/
``verify_end``, ``fsync_start`` (the sink's fsync of the temp file), ``renamed_start``/
``renamed`` (``os.replace`` to the final name), ``dir_fsynced`` (the folder fsync that makes
the rename durable), ``completed`` (the download's completion event).

Besides, totals per wrapped call (count, seconds): registry commits, fsyncs, renames,
bus events, checkpoints, time spent inside ``produce`` (including waits on a full queue).

Once EXPECT files are completed (``sent`` upstream, ``completed`` downstream) the marks, the
totals and each thread's CPU seconds (``/proc/self/task``) are written as JSON to MARKS,
and the process interrupts itself (SIGINT: the CLI stops as on Ctrl-C), so a profiler that
launched it ends too. Any EXPECT <= 0 never stops by itself.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")


class Marks:
    """Thread-safe store of per-file stage times and per-call totals."""

    def __init__(self, out: Path, expect: int) -> None:
        self.out = out
        self.expect = expect
        self.lock = threading.Lock()
        self.files: dict[str, dict[str, float]] = {}
        self.totals: dict[str, list[float]] = {}  # name -> [count, seconds]
        self.done: set[str] = set()
        self.dumped = False
        self.started = time.time()

    def first(self, name: str, stage: str, at: float | None = None) -> None:
        with self.lock:
            self.files.setdefault(name, {}).setdefault(stage, at or time.time())

    def last(self, name: str, stage: str, at: float | None = None) -> None:
        with self.lock:
            self.files.setdefault(name, {})[stage] = at or time.time()

    def add(self, total: str, seconds: float) -> None:
        with self.lock:
            entry = self.totals.setdefault(total, [0, 0.0])
            entry[0] += 1
            entry[1] += seconds

    def finished(self, name: str, stage: str) -> None:
        self.last(name, stage)
        with self.lock:
            self.done.add(name)
            ready = self.expect > 0 and len(self.done) >= self.expect and not self.dumped
            if ready:
                self.dumped = True
        if ready:
            self.dump()
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()

    def dump(self) -> None:
        with self.lock:
            data = {"pid": os.getpid(), "started": self.started, "dumped": time.time(),
                    "files": self.files, "totals": self.totals, "threads": thread_cpu(),
                    "process_cpu_s": sum(os.times()[:2]), "maxrss_kib": maxrss_kib()}
        tmp = self.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.out)


def maxrss_kib() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def thread_cpu() -> list[tuple[str, float]]:
    """(name, CPU seconds) of every live thread, Python names where known, busiest first."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    found: list[tuple[str, float]] = []
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
        found.append((names.get(int(task.name), comm), cpu))
    return sorted(found, key=lambda x: -x[1])


def _wrap(owner: Any, attr: str, before: Callable[..., None] | None = None,
          after: Callable[..., None] | None = None, total: str | None = None,
          marks: Marks | None = None) -> None:
    original = getattr(owner, attr)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before is not None:
            before(*args, **kwargs)
        t0 = time.time()
        try:
            return original(*args, **kwargs)
        finally:
            if total is not None and marks is not None:
                marks.add(total, time.time() - t0)
            if after is not None:
                after(*args, **kwargs)

    setattr(owner, attr, wrapper)


def install(marks: Marks) -> None:
    """Wrap the engine's stage boundaries (this process only)."""
    from openmsi_gui.engine import chunk_sender, registry, uploader
    from openmsi_gui.engine.download import downloader, finisher, receiving, sinks
    from openmsi_gui.engine.events import Direction, EventBus
    from openmsi_gui.engine.file_events import FileReporter

    def base(path: Any) -> str:
        return os.path.basename(str(path))

    # upload side
    _wrap(uploader.Uploader, "submit",
          before=lambda _self, _root, path, *a, **k: marks.first(base(path), "submit"))
    # The uploader's hash pass before sending: the file's SHA-512 (older code: hash_file).
    _wrap(uploader, "sha512_of" if hasattr(uploader, "sha512_of") else "hash_file",
          before=lambda path, *a, **k: marks.first(base(path), "hash_start"),
          after=lambda path, *a, **k: marks.last(base(path), "hash_end"), total="hash_file",
          marks=marks)
    _wrap(chunk_sender.ChunkSender, "_produce",
          before=lambda _s, _pr, _k, _v, _p, sending, *a, **k: marks.first(base(sending.path),
                                                                           "produce_first"),
          after=lambda _s, _pr, _k, _v, _p, sending, *a, **k: marks.last(base(sending.path),
                                                                         "produce_last"),
          total="produce (incl. waits on a full queue)", marks=marks)

    def on_ack(_self: Any, err: Any, sending: Any, *a: Any, **k: Any) -> None:
        marks.first(base(sending.path), "ack_first")
        marks.last(base(sending.path), "ack_last")

    _wrap(uploader.Uploader, "_on_delivery", before=on_ack)
    # download side
    _wrap(receiving.Receiver, "_store",
          before=lambda _s, _inc, chunk, *a, **k: (
              marks.first(chunk.filename, "consume_first"),
              marks.last(chunk.filename, "consume_last")),
          after=lambda _s, _inc, chunk, *a, **k: marks.last(chunk.filename, "written_last"),
          total="store chunk (write)", marks=marks)
    _wrap(finisher.Finisher, "submit",
          before=lambda _s, inc: marks.first(base(inc.relpath), "to_finisher"))
    _wrap(finisher, "verify",
          before=lambda inc, *a: marks.first(base(inc.relpath), "verify_start"),
          after=lambda inc, *a: marks.last(base(inc.relpath), "verify_end"),
          total="verify", marks=marks)
    _wrap(sinks.FolderSink, "place",
          before=lambda _s, inc: marks.first(base(inc.relpath), "fsync_start"),
          total="place (fsync + rename + registry)", marks=marks)

    def flush_before(self: Any) -> None:
        self._tl_placed = [base(inc.relpath) for inc in self._placed]

    def flush_after(self: Any) -> None:
        now = time.time()
        for name in getattr(self, "_tl_placed", []):
            marks.first(name, "dir_fsynced", now)

    _wrap(sinks.FolderSink, "flush", before=flush_before, after=flush_after,
          total="sink flush (dir fsync)", marks=marks)
    _wrap(downloader.Downloader, "_checkpoint", total="download checkpoint", marks=marks)
    for attr in ("commit", "upload_done", "last_upload", "start_upload", "ack_chunks",
                 "finish_upload", "find_download", "latest_done_download", "start_download",
                 "store_chunks", "finish_download"):
        if hasattr(registry.Registry, attr):
            _wrap(registry.Registry, attr, total=f"registry.{attr}", marks=marks)
    _wrap(EventBus, "publish", total="bus publish", marks=marks)

    def completed(self: Any, relpath: str, *a: Any, **k: Any) -> None:
        stage = "sent" if self.direction is Direction.UPLOAD else "completed"
        marks.finished(base(relpath), stage)

    _wrap(FileReporter, "completed", before=completed)
    if os.environ.get("STAGE_MARKS_OS") == "0":  # profiled runs: C calls keep their callers
        return
    # os-level: fsyncs and the rename to the final name
    _wrap(os, "fsync", total="os.fsync", marks=marks)

    def replace_before(src: Any, dst: Any, *a: Any, **k: Any) -> None:
        if not base(dst).startswith("."):
            marks.first(base(dst), "renamed_start")

    def replace_after(src: Any, dst: Any, *a: Any, **k: Any) -> None:
        if not base(dst).startswith("."):
            marks.first(base(dst), "renamed")

    _wrap(os, "replace", before=replace_before, after=replace_after, total="os.replace",
          marks=marks)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[2] != "--":
        print("usage: stage_marks.py MARKS EXPECT -- <openmsi arguments>", file=sys.stderr)
        return 2
    marks = Marks(Path(argv[0]), int(argv[1]))
    install(marks)
    from openmsi_gui.cli.main import main as cli_main

    try:
        return cli_main(argv[3:])
    finally:
        if not marks.dumped:
            marks.dump()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
