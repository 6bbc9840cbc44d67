"""`openmsi demo` stopped mid-transfer and started again finishes every file (issue 11).

The demo's broker keeps its data in the demo folder (Tansu on SeaweedFS), so what
was sent before the stop is still there after it.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from cli_helpers import background, read_until, stop_gracefully
from helpers import tree_files, wait_until


def _processes_using(folder: Path) -> list[str]:
    """Command lines of running processes that mention ``folder``."""
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if str(folder) in line]


@pytest.mark.slow
def test_demo_stopped_mid_transfer_finishes_every_file_after_a_restart(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    (demo / "outbox").mkdir(parents=True)
    for i in range(8):
        (demo / "outbox" / f"run_{i}.raw").write_bytes(os.urandom(3_000_000 + i))
    args = ["demo", "--folder", str(demo), "--duration", "120"]
    with background(args, tmp_path / "state") as proc:
        assert "Press Ctrl-C" in read_until(proc, "Press Ctrl-C")
        wait_until(lambda: any((demo / "inbox").glob("run_*")), timeout=60,
                   message="a first file in the inbox")
        code, _ = stop_gracefully(proc)
    assert code == 0
    assert _processes_using(demo) == [], "the demo left its broker storage running"
    with background(args, tmp_path / "state") as proc:
        assert "Press Ctrl-C" in read_until(proc, "Press Ctrl-C")
        wait_until(lambda: tree_files(demo / "inbox") == tree_files(demo / "outbox"),
                   timeout=90, message="every file in the inbox after the restart")
        code, _ = stop_gracefully(proc, signal.SIGINT)
    assert code == 0
    assert _processes_using(demo) == []
