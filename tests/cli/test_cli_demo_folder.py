"""The demo's folders: one per user in the data folder, reused, never piling up in temp."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from cli_helpers import run

from openmsi_gui.app.demo import DemoFolders, default_demo_dir
from openmsi_gui.engine.registry import default_data_dir


def test_the_default_demo_folder_is_in_the_user_data_folder() -> None:
    assert default_demo_dir() == default_data_dir() / "demo"
    folders = DemoFolders.at(None)
    assert (folders.outbox, folders.inbox) == (default_demo_dir() / "outbox",
                                               default_demo_dir() / "inbox")


def test_folders_are_made_again_if_deleted(tmp_path: Path) -> None:
    folders = DemoFolders.at(tmp_path / "d").create()
    folders.inbox.rmdir()
    folders.create()
    assert folders.inbox.is_dir()
    assert str(folders.outbox) in folders.instructions()


def _demo_temp_folders() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if "openmsi" in name
            and "demo" in name}


@pytest.mark.slow
def test_two_demo_runs_share_one_folder_and_leave_temp_alone(tmp_path: Path) -> None:
    """``openmsi demo`` without ``--folder``: the data folder's demo/, the same each run."""
    before = _demo_temp_folders()
    (tmp_path / "data" / "demo" / "outbox").mkdir(parents=True)
    (tmp_path / "data" / "demo" / "outbox" / "kept.txt").write_text("from the last run")
    for _ in range(2):
        result = run(["demo", "--duration", "1"], tmp_path / "data", timeout=60)
        assert result.returncode == 0, result.stderr
        assert f"Drop files into:  {tmp_path / 'data' / 'demo' / 'outbox'}" in result.stdout
    assert (tmp_path / "data" / "demo" / "outbox" / "kept.txt").read_text() == "from the last run"
    assert (tmp_path / "data" / "demo" / "inbox").is_dir()
    assert _demo_temp_folders() <= before
