"""Per-stage timeline of files going ``openmsi watch`` -> embedded Tansu -> ``openmsi download``.

Both sides are the real CLI in their own processes, each run through
``benchmarks/stage_marks.py``, which wraps a few engine methods in that process only to note
when each file passes each stage (see its docstring for the stages). This script starts the
embedded broker, a fresh topic (3 partitions), the downloader (waited on until it is
assigned), then the watcher (``--upload-existing --stable-seconds 0.5``), waits until every
file is completed downstream, and prints:

* for ``big`` (one file, ``--size``, 256 MiB by default): each stage as seconds from "file
  stable" (the watcher handing the file to the uploader), with the step from the previous
  stage, for the upload side and the download side;
* for ``small`` (``--count`` x ``--small-size``, 500 x 256 KiB): each stage's median and p95
  offset from the file's own "stable", and the whole run (first stable to last completed);
* CPU seconds of the uploader, downloader and broker over the transfer, the busiest
  threads of each side, and the per-call totals (registry commits, fsyncs, renames, bus
  events, checkpoints, ...), per file.

``--profile`` adds one more run of each data set with both sides launched under
``py-spy record`` (speedscope files under ``--profile-dir``, default /tmp/speedtl-profiles)
and prints the top functions by own time of each side. py-spy must be installed in the venv
(``pip install py-spy``); timings of profiled runs are not used in the tables.

``--producer KEY=VALUE`` / ``--consumer KEY=VALUE`` (repeatable) give both sides a config
file with those librdkafka settings (e.g. ``--consumer fetch.wait.max.ms=20``), to tune with
measurements; ``benchmarks/arrival.py`` takes them too.

Run (from the repository root, with the project venv)::

    python benchmarks/timeline.py                    # big and small, once each
    python benchmarks/timeline.py --datasets big --size 1G --profile

Data goes under ``--workdir`` (default /work/tmpbench-timeline, never the repository).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import shutil
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import transfer  # benchmarks/transfer.py: processes, data sets, topics

HERE = Path(__file__).resolve().parent
MARKS_SCRIPT = HERE / "stage_marks.py"
UP_STAGES = ["submit", "hash_start", "hash_end", "produce_first", "ack_first", "produce_last",
             "ack_last", "sent"]
DOWN_STAGES = ["consume_first", "consume_last", "written_last", "to_finisher", "verify_start",
               "verify_end", "fsync_start", "renamed_start", "renamed", "dir_fsynced",
               "completed"]
STAGE_WORDS = {
    "submit": "file stable (handed to the uploader)",
    "hash_start": "hash pass starts",
    "hash_end": "hash pass done",
    "produce_first": "first chunk produced",
    "ack_first": "first chunk acknowledged",
    "produce_last": "last chunk produced",
    "ack_last": "last chunk acknowledged",
    "sent": "upload completed (event)",
    "consume_first": "first chunk consumed",
    "consume_last": "last chunk consumed",
    "written_last": "last chunk written",
    "to_finisher": "complete: handed to the finisher",
    "verify_start": "verify starts",
    "verify_end": "verified",
    "fsync_start": "fsync of the temp file starts",
    "renamed_start": "fsynced (rename starts)",
    "renamed": "renamed to the final name",
    "dir_fsynced": "folder fsynced (rename durable)",
    "completed": "download completed (event)",
}


class Side:
    """One CLI side run through stage_marks.py (optionally under py-spy)."""

    def __init__(self, name: str, run: Path, expect: int, cli_args: list[str],
                 profile: Path | None) -> None:
        self.marks_path = run / f"{name}-marks.json"
        cmd = [sys.executable, str(MARKS_SCRIPT), str(self.marks_path), str(expect), "--",
               *cli_args]
        if profile is not None:
            spy = Path(sys.executable).with_name("py-spy")
            cmd = [str(spy), "record", "--rate", "100", "--nonblocking", "--format",
                   "speedscope", "--output", str(profile), "--", *cmd]
        self.started = time.time()
        env = transfer.openmsi_env()
        if profile is not None:  # py-spy would charge os.fsync/os.replace to the wrapper
            env["STAGE_MARKS_OS"] = "0"
        self.child = transfer.Child(name, cmd, run / f"{name}.log", env)

    def marks(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.marks_path.read_text())
        except (OSError, ValueError):
            return None
        return data


def broker_args(run: Path, bootstrap: str, args: argparse.Namespace) -> list[str]:
    """``--bootstrap-servers``, or ``--config`` with the ``--producer``/``--consumer`` extras."""
    if not (args.producer or args.consumer):
        return ["--bootstrap-servers", bootstrap]
    lines = ["[broker]", f"bootstrap.servers = {bootstrap}", "[producer]",
             *[" = ".join(kv.split("=", 1)) for kv in args.producer], "[consumer]",
             *[" = ".join(kv.split("=", 1)) for kv in args.consumer]]
    path = run / "kafka.config"
    path.write_text("\n".join(lines) + "\n")
    return ["--config", str(path)]


def add_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--producer", action="append", default=[], metavar="KEY=VALUE",
                        help="a librdkafka producer setting for the watch side (repeatable; "
                             "e.g. linger.ms=5), through a [producer] section")
    parser.add_argument("--consumer", action="append", default=[], metavar="KEY=VALUE",
                        help="a librdkafka consumer setting for the download side "
                             "(repeatable; e.g. fetch.wait.max.ms=50)")


def dataset_for(args: argparse.Namespace, name: str) -> transfer.Dataset:
    if name == "big":
        key = f"tl-big-{args.size}"
        transfer.DATASETS[key] = (1, args.size)
    else:
        key = f"tl-small-{args.count}x{args.small_size}"
        transfer.DATASETS[key] = (args.count, args.small_size)
    return transfer.make_dataset(args.workdir, key)


def run_once(args: argparse.Namespace, bootstrap: str, broker_pid: int,
             dataset: transfer.Dataset, profile_dir: Path | None) -> dict[str, Any]:
    """One transfer; returns both sides' marks, CPU seconds and wall times."""
    tag = f"{dataset.name}-{uuid.uuid4().hex[:6]}"
    run = args.workdir / "runs" / tag
    dest = run / "dest"
    run.mkdir(parents=True)
    topic = f"tl-{tag}"
    transfer.create_topic(bootstrap, topic)
    n = len(dataset.files)
    prof = {side: (profile_dir / f"{tag}-{side}.speedscope.json" if profile_dir else None)
            for side in ("up", "down")}
    down = up = None
    try:
        down = Side("down", run, n, [
            "--data-dir", str(run / "state-down"), "download", str(dest),
            *broker_args(run, bootstrap, args), "--topic", topic,
            "--group", f"tl-{uuid.uuid4().hex[:8]}"], prof["down"])
        down.child.wait_for_text("receiving from topic", args.join_timeout)
        time.sleep(1.0)
        if args.wait_quiet > 0:
            transfer.wait_for_quiet(broker_pid, args.wait_quiet)
        load = os.getloadavg()[0]
        broker0 = transfer.proc_cpu_s(broker_pid)
        down_cpu0 = transfer.proc_cpu_s(down.child.pid)
        up = Side("up", run, n, [
            "--data-dir", str(run / "state-up"), "watch", str(dataset.root),
            "--upload-existing", "--stable-seconds", str(args.stable_seconds),
            *broker_args(run, bootstrap, args), "--topic", topic], prof["up"])
        deadline = time.monotonic() + args.timeout
        down_marks = None
        while down_marks is None:
            if time.monotonic() > deadline:
                raise transfer.BenchError(f"not done after {args.timeout} s:\n"
                                          f"{up.child.tail(8)}\n{down.child.tail(8)}")
            if not down.child.running:
                raise transfer.BenchError(f"the downloader exited:\n{down.child.tail()}")
            time.sleep(0.05)
            down_marks = down.marks()
        ended = time.time()
        broker_cpu = transfer.proc_cpu_s(broker_pid) - broker0
        up_usage = up.child.wait(args.stop_timeout) or up.child.stop(transfer.sigint, 30)
        down_usage = down.child.wait(args.stop_timeout) or down.child.stop(transfer.sigint, 30)
        up_marks = up.marks()
        if up_marks is None:
            raise transfer.BenchError(f"the uploader wrote no marks:\n{up.child.tail()}")
        bad = transfer.verify_dest(dataset, dest)
        if bad:
            raise transfer.BenchError("WRONG BYTES: " + "; ".join(bad[:3]))
        return {"dataset": dataset, "up": up_marks, "down": down_marks,
                "up_started": up.started, "ended": ended, "load": load,
                "broker_cpu_s": broker_cpu,
                "down_cpu_before_s": down_cpu0, "up_usage": up_usage, "down_usage": down_usage,
                "profiles": prof}
    finally:
        for side in (up, down):
            if side is not None and side.child.running:
                side.child.kill()
        transfer.delete_topic(bootstrap, topic)
        shutil.rmtree(dest, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(run, ignore_errors=True)


def merged(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    files: dict[str, dict[str, float]] = collections.defaultdict(dict)
    for side in ("up", "down"):
        for name, stages in result[side]["files"].items():
            files[name].update(stages)
    return files


def print_cpu(result: dict[str, Any], n_files: int) -> None:
    up, down = result["up"], result["down"]
    print(f"CPU s: uploader {up['process_cpu_s']:.2f} (at its last file; "
          f"{result['up_usage'].cpu_s:.2f} until exit), downloader "
          f"{down['process_cpu_s'] - result['down_cpu_before_s']:.2f} over the transfer, "
          f"broker {result['broker_cpu_s']:.2f}; peak RSS uploader "
          f"{up['maxrss_kib'] / 1024:.0f} MiB, downloader {down['maxrss_kib'] / 1024:.0f} MiB;"
          f" load average {result['load']:.2f}")
    for side, data in (("uploader", up), ("downloader", down)):
        busy = [f"{name} {cpu:.2f}" for name, cpu in data["threads"][:6] if cpu >= 0.01]
        print(f"  busiest threads, {side}: " + ", ".join(busy))
    print(f"  per-call totals (count, seconds, ms per file over {n_files} file(s)):")
    for side, data in (("up", up), ("down", down)):
        for name, (count, seconds) in sorted(data["totals"].items(), key=lambda x: -x[1][1]):
            print(f"    {side:4s} {name:42s} {int(count):7d} {seconds:8.3f} "
                  f"{1000 * seconds / n_files:8.2f}")


def print_big(result: dict[str, Any]) -> None:
    files = merged(result)
    (name, stages), = files.items()
    t0 = stages.get("submit", result["up_started"])
    ds = result["dataset"]
    wall = stages.get("completed", result["ended"]) - t0
    print(f"\n== timeline: 1 x {ds.total_bytes / transfer.MIB:.0f} MiB ({name}); "
          f"seconds from 'file stable' ==")
    print(f"   uploader process started at {result['up_started'] - t0:+.3f} s")
    for side, order in (("upload", UP_STAGES), ("download", DOWN_STAGES)):
        print(f"  {side}: (step from the previous {side} stage)")
        prev = None
        for stage in order:
            if stage not in stages:
                print(f"    {STAGE_WORDS[stage]:40s}      (not seen)")
                continue
            at = stages[stage] - t0
            step = f"({at - prev:+.3f})" if prev is not None else ""
            print(f"    {STAGE_WORDS[stage]:40s} {at:8.3f} s  {step}")
            prev = at
    total = ds.total_bytes / 1e6
    whole = stages.get("completed", result["ended"]) - result["up_started"]
    print(f"  end to end from 'file stable': {wall:.2f} s = {total / wall:.1f} MB/s; from "
          f"starting the uploader: {whole:.2f} s = {total / whole:.1f} MB/s")
    print_cpu(result, 1)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def print_small(result: dict[str, Any]) -> None:
    files = merged(result)
    ds = result["dataset"]
    starts = [s["submit"] for s in files.values() if "submit" in s]
    ends = [s["completed"] for s in files.values() if "completed" in s]
    print(f"\n== timeline: {len(ds.files)} x {next(iter(ds.files.values())) // 1024} KiB; per "
          f"file, seconds from its own 'file stable' ==")
    print(f"    {'stage':40s} {'median':>8s} {'p95':>8s} {'max':>8s}")
    for stage in UP_STAGES + DOWN_STAGES:
        offsets = [s[stage] - s["submit"] for s in files.values() if stage in s and "submit" in s]
        if offsets:
            print(f"    {STAGE_WORDS[stage]:40s} {statistics.median(offsets):8.3f} "
                  f"{quantile(offsets, 0.95):8.3f} {max(offsets):8.3f}")
    steps = [("hash", "hash_start", "hash_end"), ("produce", "produce_first", "produce_last"),
             ("produced -> acked", "produce_last", "ack_last"),
             ("acked -> first consumed", "ack_last", "consume_first"),
             ("to_finisher -> verify_end", "to_finisher", "verify_end"),
             ("fsync temp", "fsync_start", "renamed_start"),
             ("rename", "renamed_start", "renamed"),
             ("renamed -> folder fsynced", "renamed", "dir_fsynced"),
             ("folder fsynced -> completed", "dir_fsynced", "completed")]
    print(f"    {'per-file step':40s} {'median':>8s} {'p95':>8s}")
    for label, a, b in steps:
        d = [s[b] - s[a] for s in files.values() if a in s and b in s]
        if d:
            print(f"    {label:40s} {statistics.median(d):8.4f} {quantile(d, 0.95):8.4f}")
    if starts and ends:
        span = max(ends) - min(starts)
        total = ds.total_bytes / 1e6
        whole = max(ends) - result["up_started"]
        print(f"  first 'stable' at {min(starts) - result['up_started']:.2f} s after starting "
              f"the uploader, last 'stable' at {max(starts) - result['up_started']:.2f} s; last "
              f"completed at {whole:.2f} s")
        print(f"  whole run: {span:.2f} s from first stable to last completed "
              f"({len(ends) / span:.0f} files/s, {total / span:.1f} MB/s); with start-up "
              f"{whole:.2f} s ({len(ends) / whole:.0f} files/s, {total / whole:.1f} MB/s)")
        sent = [s["sent"] for s in files.values() if "sent" in s]
        print(f"  uploader's last 'sent' at {max(sent) - result['up_started']:.2f} s")
    print_cpu(result, len(ds.files))


def top_functions(path: Path, limit: int) -> list[tuple[str, float]]:
    """Own-time share of each function (leaf frames) of a py-spy speedscope file."""
    data = json.loads(path.read_text())
    frames = data["shared"]["frames"]
    own: collections.Counter[str] = collections.Counter()
    total = 0.0
    for profile in data["profiles"]:
        for sample, weight in zip(profile["samples"], profile["weights"], strict=False):
            if sample:
                frame = frames[sample[-1]]
                where = f"{frame['name']} ({Path(frame.get('file', '?')).name}:" \
                        f"{frame.get('line', '?')})"
                own[where] += weight
                total += weight
    return [(name, count / total) for name, count in own.most_common(limit)] if total else []


def print_profile(result: dict[str, Any], limit: int) -> None:
    for side, path in result["profiles"].items():
        if path is None:
            continue
        if not path.is_file():
            print(f"  (no profile written for {side}: {path})")
            continue
        print(f"\n== py-spy, {'uploader' if side == 'up' else 'downloader'} "
              f"({result['dataset'].name}): top functions by own time; {path} ==")
        for name, share in top_functions(path, limit):
            print(f"    {share:6.1%}  {name}")


def checked_workdir(parser: argparse.ArgumentParser, workdir: Path) -> Path:
    """``workdir`` resolved; outside the repository (its runs would land in the checkout)."""
    workdir = workdir.resolve()
    if workdir == transfer.REPO or transfer.REPO in workdir.parents:
        parser.error("--workdir must be outside the repository")
    return workdir


@contextlib.contextmanager
def benchmark_broker(workdir: Path) -> Iterator[Any]:
    """Prepare ``workdir`` and run an embedded broker for the benchmark's runs.

    SIGTERM and Ctrl-C end the runs; the processes they started and the broker are
    stopped whatever happens, and the load average is printed before and after.
    """
    from openmsi_gui.engine.broker import EmbeddedBroker

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print(transfer.machine_info(None, None))
    workdir.mkdir(parents=True, exist_ok=True)
    transfer.compile_bytecode(workdir)  # start-up as installed (see transfer.openmsi_env)
    print(f"load average at start: {os.getloadavg()}", flush=True)
    shutil.rmtree(workdir / "runs", ignore_errors=True)
    broker = EmbeddedBroker()
    try:
        broker.start()
        assert broker._proc is not None
        yield broker
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    finally:
        transfer.kill_all_children()
        broker.stop()
    print(f"\nload average at end: {os.getloadavg()}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    from openmsi_gui.engine.sizes import parse_size

    parser = argparse.ArgumentParser(prog="timeline.py", description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="big,small", help="big, small (default both)")
    parser.add_argument("--size", default="256M", help="the big file's size (default 256M)")
    parser.add_argument("--count", type=int, default=500, help="small files (default 500)")
    parser.add_argument("--small-size", default="256K", help="small file size (default 256K)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--stable-seconds", type=float, default=0.5)
    parser.add_argument("--profile", action="store_true",
                        help="one more run per data set under py-spy (top functions)")
    parser.add_argument("--profile-dir", type=Path, default=Path("/tmp/speedtl-profiles"))
    parser.add_argument("--top", type=int, default=20, help="functions shown per profile")
    parser.add_argument("--workdir", type=Path, default=Path("/work/tmpbench-timeline"))
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--join-timeout", type=float, default=60)
    parser.add_argument("--stop-timeout", type=float, default=60)
    parser.add_argument("--wait-quiet", type=float, default=20)
    parser.add_argument("--keep", action="store_true", help="keep logs and marks of each run")
    add_client_options(parser)
    args = parser.parse_args(argv)
    args.size = int(parse_size(args.size))
    args.small_size = int(parse_size(args.small_size))
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    args.workdir = checked_workdir(parser, args.workdir)
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    datasets = [dataset_for(args, name) for name in args.datasets]
    if args.profile:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    with benchmark_broker(args.workdir) as broker:
        pid = broker._proc.pid
        for dataset in datasets:
            show = print_big if len(dataset.files) == 1 else print_small
            for rep in range(args.repeat):
                try:
                    show(run_once(args, broker.bootstrap_servers, pid, dataset, None))
                except transfer.BenchError as exc:
                    failed += 1
                    print(f"[{dataset.name} rep {rep + 1}] FAILED: {exc}", flush=True)
            if args.profile:
                try:
                    result = run_once(args, broker.bootstrap_servers, pid, dataset,
                                      args.profile_dir)
                    print_profile(result, args.top)
                except transfer.BenchError as exc:
                    failed += 1
                    print(f"[{dataset.name} profiled] FAILED: {exc}", flush=True)
            sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
