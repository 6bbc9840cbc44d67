"""Time to arrival: from "stable in the watched folder" to "verified at its final name".

Starts the embedded broker, a fresh topic (3 partitions), ``openmsi download`` and
``openmsi watch --stable-seconds W`` (both the real CLI, each run through
``benchmarks/stage_marks.py`` for per-file stage times), then WRITES files into the watched
folder while both run:

* ``rate``: ``--rate`` files of ``--file-size`` per second (20 x 1 MiB by default) for
  ``--seconds`` (60 by default), each written in one go, at an even pace;
* ``big``: one ``--big-size`` file (1 GiB by default), written in 16 MiB blocks.

A file is *stable* at its mtime (after its last write) plus the stability window W: the
earliest moment a watcher may call it complete. It has *arrived* when the download side
publishes its completion event: verified, renamed to its final name and that rename made
durable (the marks also give the rename itself). The figure is arrival minus stable, so it
is the time beyond the stability window; the tables print p50 / p95 / max of it, and of
where it goes: the watcher noticing it is stable (``submit``), the uploader having it
acknowledged (``sent``), the download side renaming it, and completing it.

Run (from the repository root, with the project venv)::

    python benchmarks/arrival.py                       # 20/s x 1 MiB for 60 s, then 1 GiB
    python benchmarks/arrival.py --seconds 10 --big-size 256M   # a quick look

Scratch folders go under ``--workdir`` (default /work/tmpbench-arrival) and are deleted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import transfer  # benchmarks/transfer.py: processes, topics
from timeline import (
    Side,
    add_client_options,
    benchmark_broker,
    broker_args,
    checked_workdir,
    quantile,
)

BLOCK = 16 * 1024 * 1024


def write_file(path: Path, size: int, pattern: bytes) -> float:
    """Write ``size`` bytes (a unique head, then ``pattern``); return the mtime (s)."""
    with path.open("wb") as handle:
        handle.write(os.urandom(32))
        left = size - 32
        while left > 0:
            piece = pattern[:min(left, len(pattern))]
            handle.write(piece)
            left -= len(piece)
    return path.stat().st_mtime_ns / 1e9


def run_case(args: argparse.Namespace, bootstrap: str, broker_pid: int, case: str
             ) -> dict[str, Any]:
    tag = f"{case}-{uuid.uuid4().hex[:6]}"
    run = args.workdir / "runs" / tag
    src, dest = run / "src", run / "dest"
    src.mkdir(parents=True)
    topic = f"arrival-{tag}"
    transfer.create_topic(bootstrap, topic)
    n = round(args.rate * args.seconds) if case == "rate" else 1
    down = up = None
    try:
        down = Side("down", run, n, [
            "--data-dir", str(run / "state-down"), "download", str(dest),
            *broker_args(run, bootstrap, args), "--topic", topic,
            "--group", f"arr-{uuid.uuid4().hex[:8]}"], None)
        down.child.wait_for_text("receiving from topic", args.join_timeout)
        up = Side("up", run, n, [
            "--data-dir", str(run / "state-up"), "watch", str(src),
            "--stable-seconds", str(args.stable_seconds),
            *broker_args(run, bootstrap, args), "--topic", topic], None)
        up.child.wait_for_text("listed in", args.join_timeout)
        time.sleep(1.0)
        if args.wait_quiet > 0:
            transfer.wait_for_quiet(broker_pid, args.wait_quiet)
        load0 = os.getloadavg()[0]
        stable: dict[str, float] = {}
        written_at = time.time()
        if case == "rate":
            pattern = os.urandom(args.file_size)
            for i in range(n):
                due = written_at + i / args.rate
                pause = due - time.time()
                if pause > 0:
                    time.sleep(pause)
                name = f"f{i:05d}.bin"
                stable[name] = write_file(src / name, args.file_size, pattern) + \
                    args.stable_seconds
        else:
            name = "big.bin"
            stable[name] = write_file(src / name, args.big_size, os.urandom(BLOCK)) + \
                args.stable_seconds
        write_s = time.time() - written_at
        deadline = time.monotonic() + args.timeout
        marks = None
        while marks is None:
            if time.monotonic() > deadline:
                raise transfer.BenchError(f"not all arrived within {args.timeout} s:\n"
                                          f"{down.child.tail(8)}")
            if not down.child.running:
                raise transfer.BenchError(f"the downloader exited:\n{down.child.tail()}")
            time.sleep(0.1)
            marks = down.marks()
        load1 = os.getloadavg()[0]
        up.child.stop(transfer.sigint, 30)
        down.child.wait(30) or down.child.stop(transfer.sigint, 30)
        up_marks = up.marks() or {"files": {}}
        return {"case": case, "n": n, "stable": stable, "down": marks["files"],
                "up": up_marks["files"], "write_s": write_s, "load": (load0, load1),
                "rss": (up_marks.get("maxrss_kib", 0) / 1024, marks["maxrss_kib"] / 1024)}
    finally:
        for side in (up, down):
            if side is not None and side.child.running:
                side.child.kill()
        transfer.delete_topic(bootstrap, topic)
        shutil.rmtree(run, ignore_errors=True)


def report(result: dict[str, Any], args: argparse.Namespace) -> None:
    stable = result["stable"]
    rows: list[tuple[str, list[float]]] = []
    for label, side, stage in (("watcher hands it over (submit)", "up", "submit"),
                               ("acknowledged by the broker (sent)", "up", "sent"),
                               ("renamed to its final name", "down", "renamed"),
                               ("ARRIVED: verified, durable (completed)", "down", "completed")):
        values = [result[side][name][stage] - at for name, at in stable.items()
                  if stage in result[side].get(name, {})]
        rows.append((label, values))
    if result["case"] == "rate":
        what = (f"{result['n']} x {args.file_size / 2**20:g} MiB at {args.rate:g}/s "
                f"(written in {result['write_s']:.1f} s)")
    else:
        what = f"1 x {args.big_size / 2**20:g} MiB (written in {result['write_s']:.1f} s)"
    print(f"\n== time to arrival: {what}; stability window {args.stable_seconds:g} s; "
          f"load average {result['load'][0]:.2f} -> {result['load'][1]:.2f}; peak RSS "
          f"up {result['rss'][0]:.0f} MiB, down {result['rss'][1]:.0f} MiB ==")
    print("   seconds after 'stable' (mtime + window)    n      p50      p95      max")
    for label, values in rows:
        if values:
            print(f"   {label:40s} {len(values):4d} {statistics.median(values):8.3f} "
                  f"{quantile(values, 0.95):8.3f} {max(values):8.3f}")
        else:
            print(f"   {label:40s}    0")


def parse_args(argv: list[str]) -> argparse.Namespace:
    from openmsi_gui.engine.sizes import parse_size

    parser = argparse.ArgumentParser(prog="arrival.py", description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="rate,big", help="rate, big (default both)")
    parser.add_argument("--rate", type=float, default=20.0, help="files per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--file-size", default="1M")
    parser.add_argument("--big-size", default="1G")
    parser.add_argument("--stable-seconds", type=float, default=1.0,
                        help="the watcher's stability window (default 1)")
    parser.add_argument("--workdir", type=Path, default=Path("/work/tmpbench-arrival"))
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--join-timeout", type=float, default=60)
    parser.add_argument("--wait-quiet", type=float, default=20)
    add_client_options(parser)
    args = parser.parse_args(argv)
    args.file_size = int(parse_size(args.file_size))
    args.big_size = int(parse_size(args.big_size))
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    args.workdir = checked_workdir(parser, args.workdir)
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    failed = 0
    with benchmark_broker(args.workdir) as broker:
        for case in args.cases:
            try:
                report(run_case(args, broker.bootstrap_servers, broker._proc.pid, case), args)
            except transfer.BenchError as exc:
                failed += 1
                print(f"[{case}] FAILED: {exc}", flush=True)
            sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
