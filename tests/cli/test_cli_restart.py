"""A long-running command whose job dies restarts it, or exits non-zero (real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_helpers import quick_join_config
from helpers import chunks_of, produce_chunks, tree_files, wait_until

from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry

# Runs ``openmsi`` with a job part that raises its first CRASHES times (-1: always),
# and quick restarts: (target, method) name the part to break.
FAULTY = textwrap.dedent("""
    import os, sys
    from openmsi_gui.cli import supervise
    from openmsi_gui.cli.main import main
    from openmsi_gui.engine.download.downloader import Downloader
    from openmsi_gui.engine.download.finisher import Finisher
    from openmsi_gui.engine.watcher import FolderWatcher

    supervise.RESTART_DELAYS = (0.2, 0.5)
    supervise.MAX_RESTARTS = 2
    target = {"downloader": Downloader, "finisher": Finisher,
              "watcher": FolderWatcher}[os.environ["BREAK"]]
    method = os.environ["BREAK_METHOD"]
    real = getattr(target, method)
    left = [int(os.environ["CRASHES"])]

    def broken(self, *args):
        if left[0] != 0:
            left[0] -= 1
            raise RuntimeError("injected failure")
        return real(self, *args)

    setattr(target, method, broken)
    sys.exit(main(sys.argv[1:]))
""")


def run_faulty(args: list[str], data_dir: Path, part: str, method: str,
               crashes: int) -> subprocess.Popen[str]:
    env = {**os.environ, "BREAK": part, "BREAK_METHOD": method, "CRASHES": str(crashes)}
    return subprocess.Popen([sys.executable, "-c", FAULTY, "--data-dir", str(data_dir), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    return proc.returncode, out


@pytest.mark.parametrize(("part", "method"), [("downloader", "_handle"),
                                             ("finisher", "_verify_and_place")])
def test_a_download_that_dies_restarts_and_completes(
        part: str, method: str, kafka_config: KafkaConfig, topic: str, tmp_path: Path) -> None:
    """An error in the consumer loop, or on the finisher thread, restarts the job."""
    files = {f"run/{i}.bin": os.urandom(3000 + i) for i in range(5)}
    for relpath, data in files.items():
        produce_chunks(kafka_config, topic, chunks_of(data, relpath))
    dest = tmp_path / "dest"
    config = quick_join_config(tmp_path / "quick.ini", kafka_config.bootstrap_servers)
    proc = run_faulty(["download", str(dest), "--config", str(config), "--topic", topic,
                       "--group", f"restart-{topic}"],
                      tmp_path / "state", part, method, crashes=2)
    try:
        wait_until(lambda: tree_files(dest) == files if dest.exists() else False, timeout=90,
                   message="every file, after two restarts")
        assert proc.poll() is None  # still running, and working
    finally:
        code, out = finish(proc)
    assert code == 0, out
    assert "the consumer stopped on an unexpected error" in out
    assert "Traceback" in out  # the log has the traceback
    assert "injected failure" in out
    assert "restarting it in" in out


def test_a_download_that_keeps_dying_exits_non_zero(kafka_config: KafkaConfig, topic: str,
                                                    tmp_path: Path) -> None:
    produce_chunks(kafka_config, topic, chunks_of(b"poison", "p.bin"))
    config = quick_join_config(tmp_path / "quick.ini", kafka_config.bootstrap_servers)
    proc = run_faulty(["download", str(tmp_path / "dest"), "--config", str(config), "--topic",
                       topic],
                      tmp_path / "state", "downloader", "_handle", crashes=-1)
    try:
        proc.wait(timeout=90)
    finally:
        code, out = finish(proc)
    assert code == 1, out
    last = out.strip().splitlines()[-1]
    assert last.startswith("openmsi: error: the job stopped on an error 3 times in a row"), last
    assert "injected failure" in last


def test_a_watch_whose_watcher_dies_restarts_and_sends_what_arrived(
        kafka_config: KafkaConfig, topic: str, tmp_path: Path) -> None:
    src, state = tmp_path / "src", tmp_path / "state"
    src.mkdir()
    proc = run_faulty(["watch", str(src), "--bootstrap-servers", kafka_config.bootstrap_servers,
                       "--topic", topic, "--stable-seconds", "0.2"],
                      state, "watcher", "_submit_stable", crashes=1)

    def sent() -> list[str]:
        if not (state / "registry.sqlite3").exists():
            return []
        registry = Registry(state / "registry.sqlite3")
        try:
            return [r.relpath for r in registry.history() if r.status == "done"]
        finally:
            registry.close()

    assert proc.stdout is not None
    first: list[str] = []
    while not first or ("watching" not in first[-1] and first[-1]):  # the job has started
        first.append(proc.stdout.readline())
    try:
        assert "watching" in first[-1], first
        (src / "new.txt").write_text("written after the start")
        wait_until(lambda: sent() == ["new.txt"], timeout=60, message="new.txt sent")
        assert proc.poll() is None
    finally:
        code, out = finish(proc)
    out = "".join(first) + out
    assert code == 0, out
    assert "watching stopped on an unexpected error" in out
