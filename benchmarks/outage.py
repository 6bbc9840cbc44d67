"""A broker outage under `openmsi watch`, `openmsi download` and the tray app: the figures.

For each program: start it on a broker of its own (Tansu, in memory), kill the
broker as a crash would, and print

* the seconds until the program says in plain words that the broker cannot be
  reached (its "Cannot reach the broker at HOST:PORT" line),
* the log lines per minute it writes while the broker stays away,
* for `watch`, whether the file written during the outage arrives once the broker
  is back on the same port (``--recover``),
* the seconds SIGTERM takes to stop it with the broker away again and a 30 MB file
  written just before (chunks in flight), and its exit code.

``--checkout DIR`` runs the programs from another checkout (e.g. a worktree of the
commit before a change) to compare; figures a program never reaches print as "-".

    python benchmarks/outage.py --outage 60
    python benchmarks/outage.py --only watch --checkout /tmp/before
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from openmsi_gui.app.settings import BrokerProfile, Destination, SettingsStore, WatchedFolder
from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.kafka_config import KafkaConfig

TOPIC = "outage"
PLAIN = "Cannot reach the broker at"
PROGRAMS = ("watch", "download", "gui")


@dataclass
class Figures:
    """What one run measured (None: never happened)."""

    program: str
    plain_after: float | None = None
    lines_per_minute: float = 0.0
    arrived_after_back: float | None = None
    stop_seconds: float | None = None
    exit_code: int | None = None
    notes: list[str] = field(default_factory=list)


class Program:
    """A program in the background, its stdout and stderr collected line by line."""

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: Path) -> None:
        # Not started in a checkout: ``python -m`` would import the package found there.
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env, errors="replace", cwd=cwd)
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def first(self, text: str, since: float = 0.0, timeout: float = 60.0) -> float | None:
        """When a line containing ``text`` came (after ``since``), waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            for at, line in list(self.lines):
                if at >= since and text in line:
                    return at
            if time.monotonic() > deadline or self.proc.poll() is not None:
                return None
            time.sleep(0.05)

    def count_between(self, start: float, end: float) -> int:
        return sum(start <= at < end for at, _line in list(self.lines))

    def stop(self, timeout: float = 60.0) -> tuple[float | None, int | None]:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None, None
        self._reader.join(5)
        return time.monotonic() - started, code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def environment(checkout: Path | None, work: Path) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONDONTWRITEBYTECODE="1",
               OPENMSI_GUI_CONFIG_DIR=str(work / "config"),
               OPENMSI_GUI_DATA_DIR=str(work / "data"))
    env["PYTHONPATH"] = str(checkout or Path(__file__).resolve().parent.parent)
    return env


def gui_settings(work: Path, servers: str) -> None:
    """A profile on the benchmark's broker, a watched folder and a destination."""
    store = SettingsStore(work / "config" / "settings.json")
    settings = store.settings
    profile = BrokerProfile(name="Lab broker", bootstrap_servers=servers)
    settings.profiles.append(profile)
    settings.folders.append(WatchedFolder(path=str(work / "out"), profile_id=profile.id,
                                          topic=TOPIC, stable_seconds=0.5))
    settings.destinations.append(Destination(path=str(work / "in"), profile_id=profile.id,
                                             topic=TOPIC, group_id="outage-benchmark"))
    settings.ui.first_run_done = True
    store.update(settings)


def run(program: str, outage: float, recover: bool, checkout: Path | None) -> Figures:
    figures = Figures(program)
    broker = EmbeddedBroker().start()
    config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
    admin.create_topic(config, TOPIC, 1)
    with tempfile.TemporaryDirectory(prefix=f"outage-{program}-") as tmp:
        work = Path(tmp)
        (work / "out").mkdir()
        (work / "in").mkdir()
        env = environment(checkout, work)
        cli = [sys.executable, "-m", "openmsi_gui", "--data-dir", str(work / "data")]
        servers = ["--bootstrap-servers", broker.bootstrap_servers, "--topic", TOPIC]
        if program == "watch":
            cmd = [*cli, "watch", str(work / "out"), *servers, "--stable-seconds", "0.5"]
            ready = "watching"
        elif program == "download":
            cmd = [*cli, "download", str(work / "in"), *servers]
            ready = "receiving from topic"  # older checkouts: "assigned partitions"
        else:
            gui_settings(work, broker.bootstrap_servers)
            cmd = [sys.executable, "-m", "openmsi_gui.ui.application", "--minimized"]
            ready = "ready:"
        proc = Program(cmd, env, work)
        try:
            if proc.first(ready, timeout=60) is None and proc.first(
                    "assigned partitions", timeout=1) is None:
                figures.notes.append("did not start")
                return figures
            if program != "download":
                (work / "out" / "before.bin").write_bytes(os.urandom(1_000_000))
                if program == "gui" and proc.first("before.bin", timeout=30) is None:
                    time.sleep(5)  # older checkouts do not log each file
                elif program == "watch":
                    proc.first("sent before.bin", timeout=30)
            time.sleep(1)
            broker.kill()
            killed = time.monotonic()
            if program != "download":
                (work / "out" / "during.bin").write_bytes(os.urandom(1_000_000))
            seen = proc.first(PLAIN, since=killed, timeout=outage)
            figures.plain_after = seen - killed if seen is not None else None
            time.sleep(max(0.0, killed + outage - time.monotonic()))
            figures.lines_per_minute = proc.count_between(killed, killed + outage) * 60 / outage
            if recover and program != "download":
                broker.start()  # the same port; in memory, so the topic is made again
                admin.create_topic(config, TOPIC, 1)
                back = time.monotonic()
                arrived = wait_file(work / "in" / "during.bin", 60) if program == "gui" else (
                    proc.first("sent during.bin", since=back, timeout=60))
                figures.arrived_after_back = arrived - back if arrived is not None else None
                broker.kill()
            if program != "download":  # chunks in flight when it is told to stop
                (work / "out" / "at-stop.bin").write_bytes(os.urandom(30_000_000))
            time.sleep(6)
            figures.stop_seconds, figures.exit_code = proc.stop()
            if figures.stop_seconds is None:
                figures.notes.append("(killed: still running 60 s after SIGTERM)")
        finally:
            proc.close()
            broker.kill()
    return figures


def wait_file(path: Path, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return time.monotonic()
        time.sleep(0.05)
    return None


def show(value: float | None, unit: str = "s") -> str:
    return "-" if value is None else f"{value:.1f} {unit}".strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=60.0,
                        help="seconds the broker stays away (default 60)")
    parser.add_argument("--only", choices=PROGRAMS, action="append",
                        help="measure only this program (repeatable)")
    parser.add_argument("--no-recover", dest="recover", action="store_false",
                        help="do not bring the broker back before stopping")
    parser.add_argument("--checkout", type=Path,
                        help="run the programs from this checkout instead")
    args = parser.parse_args()
    rows = [run(program, args.outage, args.recover, args.checkout)
            for program in args.only or PROGRAMS]
    print(f"\nbroker killed for {args.outage:.0f} s"
          f"{f' (programs from {args.checkout})' if args.checkout else ''}")
    print(f"{'program':<9} {'plain line':>11} {'lines/min':>10} {'sent after back':>16} "
          f"{'SIGTERM stop':>13} {'exit':>5}")
    for f in rows:
        arrived = "n/a" if f.program == "download" or not args.recover else show(
            f.arrived_after_back)
        print(f"{f.program:<9} {show(f.plain_after):>11} {f.lines_per_minute:>10.0f} "
              f"{arrived:>16} {show(f.stop_seconds):>13} "
              f"{'-' if f.exit_code is None else f.exit_code:>5} {' '.join(f.notes)}")


if __name__ == "__main__":
    main()
