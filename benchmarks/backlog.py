"""A backlog of many small files: does per-file cost stay flat, does memory? (issue 10).

Generates N files of 4 KiB in folders of 100 under a work dir outside the repo, starts the
embedded broker, then ``openmsi download DEST`` (waited on until it logs its partition
assignment) and ``openmsi watch SRC --upload-existing --stable-seconds 0.5`` as subprocesses,
each with its own ``--data-dir`` (or one shared folder with ``--shared-data-dir``, the case
that used to die on the registry lock). Prints files/s overall and per slice of 5,000 files
(files counted as they arrive in DEST), the peak RSS of each side (``ru_maxrss`` after a
SIGTERM, and ``/proc`` sampling), the watcher's initial scan time (from its log) and PASS/FAIL
against the targets: every slice ≥ 0.7 × the first slice's rate, the largest run ≥ 0.7 × the
files/s of the smallest, RSS < 150 MB per side::

    python benchmarks/backlog.py --files 5000,50000
    python benchmarks/backlog.py --files 5000,50000 --shared-data-dir
    python benchmarks/backlog.py --files 50000 --profile 5000,40000   # py-spy the receiver

``--watch-scale N`` measures the watcher at scale instead, for the native observer then
``--polling`` (local disk here): the initial scan of N files (start until the watch logs
"watching", which it does once its scan is done), how long a file written 5 s after start
takes to reach DEST while the backlog is sent (``--upload-existing``), and the watch's CPU
seconds (``/proc/PID/stat``) over 60 s idle once everything is sent::

    python benchmarks/backlog.py --watch-scale 100000

A script that prints figures, never a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

FILE_SIZE = 4096
PER_FOLDER = 100
RSS_LIMIT_MB = 150.0
RATIO = 0.7


def _load_transfer() -> ModuleType:
    """The helpers of ``transfer.py`` (children reaped with rusage, topics, the env)."""
    spec = importlib.util.spec_from_file_location("_bench_transfer",
                                                  Path(__file__).with_name("transfer.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


T = _load_transfer()


@dataclasses.dataclass
class Result:
    """What one run measured."""

    files: int
    arrived: int = 0
    seconds: float = 0.0
    slices: list[float] = dataclasses.field(default_factory=list)  # files/s per slice
    up_rss_mb: float = 0.0
    down_rss_mb: float = 0.0
    scan_s: float | None = None
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    error: str = ""

    @property
    def files_s(self) -> float:
        return self.arrived / self.seconds if self.seconds else 0.0


def make_source(workdir: Path, files: int) -> Path:
    """``files`` files of 4 KiB in folders of 100 (kept between runs)."""
    root = workdir / f"src-{files}"
    marker = root / ".complete"
    if marker.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    started = time.monotonic()
    for i in range(files):
        folder = root / f"d{i // PER_FOLDER:05d}"
        if i % PER_FOLDER == 0:
            folder.mkdir(parents=True)
        (folder / f"f{i:06d}.bin").write_bytes(os.urandom(FILE_SIZE))
    marker.touch()
    print(f"generated {files:,} files in {time.monotonic() - started:.1f} s under {root}",
          flush=True)
    return root


def check_running(up: Any, down: Any, args: argparse.Namespace, elapsed: float,
                  quiet: float, arrived: int) -> None:
    """Raise BenchError if a side exited, the run is too long or nothing arrives any more."""
    if not down.running or not up.running:
        who = down if not down.running else up
        raise T.BenchError(f"{who.name} exited ({who.poll()}):\n{who.tail()}")
    if elapsed > args.timeout:
        raise T.BenchError(f"timeout after {args.timeout:.0f} s")
    if quiet > args.stall:
        raise T.BenchError(f"nothing arrived for {args.stall:.0f} s:\n"
                           f"  watch:\n{up.tail(8)}\n  download:\n{down.tail(8)}")
    if args.progress and int(elapsed) % 30 == 0:
        print(f"  {elapsed:6.0f} s: {arrived:,} arrived", flush=True)


def count_arrived(dest: Path) -> int:
    """Complete files in DEST (partial ones are hidden or not yet full size)."""
    count = 0
    if not dest.exists():
        return 0
    for folder, dirs, names in os.walk(dest):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if name.endswith(".bin") and not name.startswith("."):
                try:
                    if os.stat(os.path.join(folder, name)).st_size == FILE_SIZE:
                        count += 1
                except OSError:
                    pass
    return count


def sigterm(child: object) -> None:
    child.signal(signal.SIGTERM)  # type: ignore[attr-defined]


def scan_seconds(log_text: str, started_wall: float) -> float | None:
    """Seconds from the watcher's start to its first "sent" line (the scan comes first).

    The log has whole seconds only, so this is the initial scan plus the first send,
    to within a second.
    """
    for line in log_text.splitlines():
        match = re.match(r"(\d\d):(\d\d):(\d\d)(?:[.,](\d+))? \w+ sent ", line.strip())
        if match is None:
            continue
        h, m, s, frac = match.groups()
        tm = time.localtime(started_wall)
        day = time.mktime((tm.tm_year, tm.tm_mon, tm.tm_mday, 0, 0, 0, 0, 0, -1))
        at = day + int(h) * 3600 + int(m) * 60 + int(s) + float("0." + (frac or "0"))
        return max(0.0, at - int(started_wall))
    return None


def profile(pid: int, out: Path, seconds: int) -> subprocess.Popen[bytes] | None:
    """Start ``py-spy record`` on ``pid`` for ``seconds`` (None when py-spy is missing)."""
    spy = shutil.which("py-spy")
    if spy is None:
        print("py-spy not found: no profile", flush=True)
        return None
    print(f"  profiling the receiver for {seconds} s -> {out}", flush=True)
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(seconds),
                             "--rate", "50", "--format", "raw", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(args: argparse.Namespace, bootstrap: str, openmsi: Path, files: int) -> Result:
    """One transfer of ``files`` files; never raises, the error goes in the result."""
    result = Result(files)
    src = make_source(args.workdir, files)
    tag = f"{files}-{uuid.uuid4().hex[:6]}"
    rundir = args.workdir / "runs" / tag
    dest = rundir / "dest"
    rundir.mkdir(parents=True)
    topic, group = f"backlog-{tag}", f"backlog-{uuid.uuid4().hex[:8]}"
    T.create_topic(bootstrap, topic)
    down_dir = rundir / ("state" if args.shared_data_dir else "state-down")
    up_dir = rundir / ("state" if args.shared_data_dir else "state-up")
    down = up = None
    spies: list[subprocess.Popen[bytes]] = []
    todo = sorted(args.profile)
    try:
        down = T.Child("openmsi download", [
            str(openmsi), "--data-dir", str(down_dir), "download", str(dest),
            "--bootstrap-servers", bootstrap, "--topic", topic, "--group", group],
            rundir / "download.log", T.openmsi_env())
        down.wait_for_text("receiving from topic", 120)
        result.load = os.getloadavg()
        started_wall, started = time.time(), time.monotonic()
        up = T.Child("openmsi watch", [
            str(openmsi), "--data-dir", str(up_dir), "watch", str(src), "--upload-existing",
            "--stable-seconds", "0.5", "--bootstrap-servers", bootstrap, "--topic", topic],
            rundir / "upload.log", T.openmsi_env())
        marks: list[float] = []  # time at which each slice boundary was reached
        rss = {"up": 0, "down": 0}
        arrived, last_change, last_count = 0, started, -1
        while True:
            time.sleep(1.0)
            now = time.monotonic()
            rss["up"] = max(rss["up"], T.proc_rss_kib(up.pid))
            rss["down"] = max(rss["down"], T.proc_rss_kib(down.pid))
            arrived = count_arrived(dest)
            while len(marks) < arrived // args.slice:
                marks.append(now - started)
            while todo and arrived >= todo[0]:
                spies = [s for s in spies if s.poll() is None]
                spy = profile(down.pid, rundir.parent / f"profile-{files}-at-{todo.pop(0)}.txt",
                              args.profile_seconds)
                if spy is not None:
                    spies.append(spy)
            if arrived != last_count:
                last_count, last_change = arrived, now
            if arrived >= files:
                break
            check_running(up, down, args, now - started, now - last_change, arrived)
        result.seconds = time.monotonic() - started
        if len(marks) * args.slice < files:
            marks.append(result.seconds)
        previous = 0.0
        for i, mark in enumerate(marks):
            size = min(args.slice, files - i * args.slice)
            result.slices.append(size / (mark - previous) if mark > previous else 0.0)
            previous = mark
        result.scan_s = scan_seconds(up.output(), started_wall)
    except Exception as exc:  # report, then carry on with the next size
        result.error = str(exc) if isinstance(exc, T.BenchError) else f"{type(exc).__name__}: {exc}"
        result.seconds = time.monotonic() - started if "started" in locals() else 0.0
    finally:
        result.arrived = count_arrived(dest)
        for spy in spies:
            try:
                spy.wait(args.profile_seconds + 30)
            except subprocess.TimeoutExpired:
                spy.kill()
        for child in (up, down):
            if child is not None:
                usage = child.stop(sigterm, 30)
                mb = max(usage.maxrss_kib, rss["up" if child is up else "down"]
                         if "rss" in locals() else 0) / 1024
                if child is up:
                    result.up_rss_mb = mb
                else:
                    result.down_rss_mb = mb
        T.delete_topic(bootstrap, topic)
        if not args.keep:
            shutil.rmtree(dest, ignore_errors=True)
            for folder in {down_dir, up_dir}:
                shutil.rmtree(folder, ignore_errors=True)
    return result


@dataclasses.dataclass
class Scale:
    """What one ``--watch-scale`` run measured (one observer)."""

    files: int
    polling: bool
    scan_s: float | None = None  # start until the watch logs "watching" (scan done)
    listed_s: float | None = None  # the listing itself, as the watch logs it
    late_sent_s: float | None = None  # a file written 5 s after start, until the watch sent it
    late_s: float | None = None  # a file written 5 s after start, until it is in DEST
    late_backlog: int = 0  # backlog files still not in DEST when the late one arrived
    all_s: float | None = None  # start until every file (backlog + late) is in DEST
    idle_cpu_s: float | None = None  # the watch's utime+stime over IDLE_SECONDS, all sent
    error: str = ""


IDLE_SECONDS = 60.0
LATE_AFTER = 5.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` in seconds (``/proc/PID/stat``)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_scale(args: argparse.Namespace, bootstrap: str, openmsi: Path, files: int,
              polling: bool) -> Scale:
    """Scan time, a late file behind the backlog, idle CPU; never raises."""
    result = Scale(files, polling)
    src = make_source(args.workdir, files)
    tag = f"scale-{files}-{'poll' if polling else 'native'}-{uuid.uuid4().hex[:6]}"
    late_name = f"late-{tag}.bin"
    rundir = args.workdir / "runs" / tag
    dest = rundir / "dest"
    rundir.mkdir(parents=True)
    topic, group = f"backlog-{tag}", f"backlog-{uuid.uuid4().hex[:8]}"
    T.create_topic(bootstrap, topic)
    down = up = None
    up_log: Any = None
    try:
        down = T.Child("openmsi download", [
            str(openmsi), "--data-dir", str(rundir / "state-down"), "download", str(dest),
            "--bootstrap-servers", bootstrap, "--topic", topic, "--group", group],
            rundir / "download.log", T.openmsi_env())
        down.wait_for_text("receiving from topic", 120)
        started = time.monotonic()
        up = T.Child("openmsi watch", [
            str(openmsi), "--data-dir", str(rundir / "state-up"), "watch", str(src),
            "--upload-existing", "--stable-seconds", "0.5", "--bootstrap-servers", bootstrap,
            "--topic", topic, *(["--polling"] if polling else [])],
            rundir / "upload.log", T.openmsi_env())
        late_written = False
        sent_line = f"sent {late_name}".encode()
        up_log, tail = up.log_path.open("rb"), b""
        last_count, last_change, next_count = -1, started, started
        while True:
            time.sleep(0.1)
            now = time.monotonic()
            if result.scan_s is None and "watching " in up.output():
                result.scan_s = now - started
                listed = re.search(r"files under .* listed in ([\d.]+) s", up.output())
                result.listed_s = float(listed.group(1)) if listed else None
                print(f"  scan done in {result.scan_s:.1f} s", flush=True)
            if not late_written and now - started >= LATE_AFTER:
                (src / late_name).write_bytes(os.urandom(FILE_SIZE))
                late_written, late_at = True, now
            if late_written and result.late_sent_s is None:
                tail = tail[-200:] + up_log.read()  # only what was added: the log is long
                if sent_line in tail:
                    result.late_sent_s = now - late_at
                    print(f"  late file sent {result.late_sent_s:.1f} s after it was written",
                          flush=True)
            if (late_written and result.late_s is None
                    and (dest / late_name).exists()
                    and (dest / late_name).stat().st_size == FILE_SIZE):
                result.late_s = now - late_at
                result.late_backlog = files + 1 - count_arrived(dest)
                print(f"  late file arrived {result.late_s:.1f} s after it was written, "
                      f"{result.late_backlog:,} backlog files still to come", flush=True)
            if now < next_count:  # count DEST every 2 s: a walk of it costs CPU
                continue
            next_count = now + 2.0
            arrived = count_arrived(dest)
            if arrived != last_count:
                last_count, last_change = arrived, now
            if arrived >= files + 1:
                result.all_s = now - started
                break
            check_running(up, down, args, now - started, now - last_change, arrived)
        time.sleep(5.0)  # let the last results settle before the idle window
        before = cpu_seconds(up.pid)
        time.sleep(IDLE_SECONDS)
        result.idle_cpu_s = cpu_seconds(up.pid) - before
    except Exception as exc:  # report, then carry on with the next run
        result.error = str(exc) if isinstance(exc, T.BenchError) else f"{type(exc).__name__}: {exc}"
    finally:
        if up_log is not None:
            up_log.close()
        for child in (up, down):
            if child is not None:
                child.stop(sigterm, 30)
        (src / late_name).unlink(missing_ok=True)
        T.delete_topic(bootstrap, topic)
        if not args.keep:
            shutil.rmtree(rundir, ignore_errors=True)
    return result


def report_scale(results: list[Scale]) -> None:
    """Print the ``--watch-scale`` figures, plainly."""
    print(f"\n== watch at scale: 4 KiB files in folders of {PER_FOLDER}, local disk, "
          f"{len(os.sched_getaffinity(0))} CPUs ==")
    for r in results:
        def fmt(value: float | None) -> str:
            return f"{value:.1f} s" if value is not None else "n/a"

        print(f"\n{r.files:,} files in {r.files // PER_FOLDER:,} folders, "
              f"{'--polling' if r.polling else 'native observer'}:")
        if r.error:
            print(f"  ERROR: {r.error}")
        print(f"  initial scan (start to 'watching' logged): {fmt(r.scan_s)}, of which the "
              f"listing (backlog queued, sending already under way): {fmt(r.listed_s)}")
        print(f"  file written {LATE_AFTER:.0f} s after start, sent (acknowledged) after: "
              f"{fmt(r.late_sent_s)}")
        print(f"  ... in DEST after: {fmt(r.late_s)}"
              + (f" ({r.late_backlog:,} backlog files not yet in DEST then: the receiver reads "
                 "each partition in order)" if r.late_s is not None else ""))
        print(f"  whole backlog + late file sent: {fmt(r.all_s)}")
        idle = ("n/a" if r.idle_cpu_s is None else
                f"{r.idle_cpu_s:.2f} CPU s ({100 * r.idle_cpu_s / IDLE_SECONDS:.1f} % of a CPU)")
        print(f"  idle watch CPU over {IDLE_SECONDS:.0f} s: {idle}", flush=True)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(args: argparse.Namespace, results: list[Result]) -> bool:
    """Print the figures and the targets; return True when every target is met."""
    layout = "one shared data dir" if args.shared_data_dir else "a data dir each"
    print(f"\n== backlog: 4 KiB files in folders of {PER_FOLDER}, {layout}, "
          f"{len(os.sched_getaffinity(0))} CPUs ==")
    all_ok = True
    for r in results:
        print(f"\n{r.files:,} files (load at start {r.load[0]:.2f} {r.load[1]:.2f} "
              f"{r.load[2]:.2f}): {r.arrived:,} arrived in {r.seconds:.1f} s = "
              f"{r.files_s:,.0f} files/s")
        if r.error:
            print(f"  ERROR: {r.error}")
        scan = f"≤ {r.scan_s:.0f} s" if r.scan_s is not None else "n/a (not in the log)"
        print(f"  watcher initial scan (to the first file sent, 1 s log resolution): {scan}")
        if r.slices:
            print(f"  files/s per {args.slice:,}-file slice: "
                  + ", ".join(f"{s:,.0f}" for s in r.slices))
            floor = RATIO * r.slices[0]
            flat = all(s >= floor for s in r.slices)
            worst = min(r.slices) / r.slices[0] if r.slices[0] else 0.0
            print(f"  slices ≥ {RATIO} × first ({floor:,.0f} files/s): {verdict(flat)} "
                  f"(worst {worst:.2f} ×)")
            all_ok &= flat
        for side, mb in (("sender (watch)", r.up_rss_mb), ("receiver (download)", r.down_rss_mb)):
            ok = 0 < mb < RSS_LIMIT_MB
            print(f"  peak RSS {side}: {mb:.0f} MB  < {RSS_LIMIT_MB:.0f} MB: {verdict(ok)}")
            all_ok &= ok
        all_ok &= not r.error and r.arrived == r.files
    done = [r for r in results if not r.error and r.files_s]
    if len(done) >= 2:
        small, big = min(done, key=lambda r: r.files), max(done, key=lambda r: r.files)
        ok = big.files_s >= RATIO * small.files_s
        print(f"\n{big.files:,} files at {big.files_s:,.0f} files/s ≥ {RATIO} × "
              f"{small.files:,} files at {small.files_s:,.0f} files/s "
              f"({RATIO * small.files_s:,.0f}): {verdict(ok)} "
              f"({big.files_s / small.files_s:.2f} ×)")
        all_ok &= ok
    print(f"\noverall: {verdict(all_ok)}", flush=True)
    return all_ok


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", default="5000,50000",
                        help="comma-separated file counts (default 5000,50000; 100000 on request)")
    parser.add_argument("--shared-data-dir", action="store_true",
                        help="both processes use one --data-dir (one registry)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--stall", type=float, default=300.0,
                        help="give up when nothing arrives for this long")
    parser.add_argument("--slice", type=int, default=5000, help="files per slice")
    parser.add_argument("--workdir", type=Path, default=Path("/work/tmpbench/backlog"))
    parser.add_argument("--profile", default="",
                        help="comma-separated arrived counts at which to py-spy the receiver")
    parser.add_argument("--profile-seconds", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep DEST and the data dirs")
    parser.add_argument("--progress", action="store_true", help="print progress every 30 s")
    parser.add_argument("--watch-scale", type=int, default=0, metavar="N",
                        help="instead: scan time, a late file behind the backlog and idle CPU "
                             "of a watch on N files, native then --polling")
    args = parser.parse_args(argv)
    args.files = [int(x) for x in args.files.split(",") if x]
    args.profile = [int(x) for x in args.profile.split(",") if x]
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    from openmsi_gui.engine.broker import EmbeddedBroker

    openmsi = Path(sys.executable).with_name("openmsi")
    if not openmsi.exists():
        found = shutil.which("openmsi")
        if found is None:
            print("backlog.py: error: the 'openmsi' command is not installed", file=sys.stderr)
            return 2
        openmsi = Path(found)
    args.workdir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(args.workdir / "runs", ignore_errors=True)
    print(f"load average at start: {os.getloadavg()}; work dir {args.workdir}", flush=True)
    broker = EmbeddedBroker()
    results: list[Result] = []
    try:
        broker.start()
        if args.watch_scale:
            scale = [run_scale(args, broker.bootstrap_servers, openmsi, args.watch_scale, polling)
                     for polling in (False, True)]
            report_scale(scale)
            return 0 if not any(r.error for r in scale) else 1
        for files in args.files:
            results.append(run(args, broker.bootstrap_servers, openmsi, files))
            print(f"{files:,}: {results[-1].arrived:,} arrived, "
                  f"{results[-1].files_s:,.0f} files/s {results[-1].error[:200]}", flush=True)
    finally:
        T.kill_all_children()
        broker.stop()
    return 0 if report(args, results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
