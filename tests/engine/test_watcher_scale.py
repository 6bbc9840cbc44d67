"""The watcher's listing, polling and backlog order, with a recording uploader (no broker)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from helpers import wait_until

from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.file_filter import FileFilter
from openmsi_gui.engine.tree_scan import UNSURE, list_folder, walk_tree
from openmsi_gui.engine.upload_types import Priority, UploadResult
from openmsi_gui.engine.watcher import FolderWatcher


class RecordingUploader:
    """Takes the place of an :class:`Uploader`: remembers what was submitted, in order."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str, Priority]] = []
        self.prehashed: list[tuple[str, int]] = []  # (name, files submitted before it)
        self._lock = threading.Lock()

    def add_result_listener(self, _callback: object) -> None:
        pass

    def submit(self, root: Path, path: Path, priority: Priority = Priority.NEW) -> None:
        with self._lock:
            self.submitted.append((path.relative_to(root).as_posix(), priority))

    def prehash(self, path: Path) -> None:
        with self._lock:
            self.prehashed.append((path.name, len(self.submitted)))

    def names(self, priority: Priority | None = None) -> list[str]:
        with self._lock:
            return [name for name, p in self.submitted if priority in (None, p)]


def old_file(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    then = time.time() - 3600
    os.utime(path, (then, then))
    return path


def age_folders(root: Path) -> None:
    """Folder mtimes an hour old, so listings trust them (see ``UNSURE``)."""
    then = time.time() - 3600
    for folder, _dirs, _files in os.walk(root):
        os.utime(folder, (then, then))


def watcher(root: Path, uploader: RecordingUploader, **kwargs: object) -> FolderWatcher:
    return FolderWatcher(root, uploader, EventBus(), stable_seconds=0.2,  # type: ignore[arg-type]
                         **kwargs)  # type: ignore[arg-type]


def test_a_tree_is_listed_folder_by_folder_in_name_order(tmp_path: Path) -> None:
    for name in ("b/2.dat", "b/1.dat", "a/x.dat", "top.dat", ".hidden/secret.dat", ".dot.dat"):
        old_file(tmp_path / name)
    (tmp_path / "link").symlink_to(tmp_path / "a")
    folders: dict[str, int] = {}
    root = str(tmp_path)
    hidden = FileFilter().walks_into
    assert [e.relpath for e in walk_tree(root, walks_into=hidden, folders=folders)] == [
        ".dot.dat", "top.dat", "a/x.dat", "b/1.dat", "b/2.dat"]
    assert set(folders) == {root, str(tmp_path / "a"), str(tmp_path / "b")}
    assert ".hidden/secret.dat" in [e.relpath for e in walk_tree(root)]
    visible = [e.relpath for e in walk_tree(root, walks_into=lambda rel: rel[0] != ".")]
    assert ".hidden/secret.dat" not in visible


def test_a_folder_changed_just_now_is_not_trusted_by_its_mtime(tmp_path: Path) -> None:
    old_file(tmp_path / "a.dat")
    listing = list_folder(str(tmp_path), str(tmp_path))
    assert listing is not None
    assert listing.mtime_ns == UNSURE
    age_folders(tmp_path)
    listing = list_folder(str(tmp_path), str(tmp_path))
    assert listing is not None
    assert listing.mtime_ns > 0
    assert list_folder(str(tmp_path), str(tmp_path / "gone")) is None


def test_the_backlog_queues_behind_files_that_appear_later(tmp_path: Path) -> None:
    for i in range(5):
        old_file(tmp_path / f"run/{i}.dat")
    uploader = RecordingUploader()
    w = watcher(tmp_path, uploader, upload_existing=True)
    w.start()
    try:
        assert uploader.names(Priority.BACKLOG) == [f"run/{i}.dat" for i in range(5)]
        (tmp_path / "run" / "late.dat").write_bytes(b"new measurement")
        wait_until(lambda: "run/late.dat" in uploader.names(Priority.NEW), timeout=10,
                   message="the late file, as NEW")
    finally:
        w.stop()
    assert uploader.names().count("run/late.dat") == 1


@pytest.mark.parametrize("polling", [False, True])
def test_new_files_and_folders_are_found(tmp_path: Path, polling: bool) -> None:
    old_file(tmp_path / "there/before.dat")
    age_folders(tmp_path)
    uploader = RecordingUploader()
    w = watcher(tmp_path, uploader, polling=polling, poll_seconds=0.1)
    w.start()
    try:
        (tmp_path / "there" / "added.dat").write_bytes(b"1")
        (tmp_path / "new" / "deep").mkdir(parents=True)
        (tmp_path / "new" / "deep" / "file.dat").write_bytes(b"2")
        wait_until(lambda: sorted(uploader.names()) == ["new/deep/file.dat", "there/added.dat"],
                   timeout=10, message="both new files")
    finally:
        w.stop()


def test_polling_lists_again_only_the_folders_that_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(20):
        old_file(tmp_path / f"f{i:02}/a.dat")
    age_folders(tmp_path)
    listed: list[str] = []
    import openmsi_gui.engine.watcher as watcher_module

    def counting(root: str, folder: str, walks_into: object = None):  # type: ignore[no-untyped-def]
        listed.append(folder)
        return list_folder(root, folder, walks_into)  # type: ignore[arg-type]

    monkeypatch.setattr(watcher_module, "list_folder", counting)
    uploader = RecordingUploader()
    w = watcher(tmp_path, uploader, polling=True, poll_seconds=0.05)
    w.start()
    try:
        (tmp_path / "f07" / "b.dat").write_bytes(b"new")
        wait_until(lambda: uploader.names() == ["f07/b.dat"], timeout=10, message="f07/b.dat")
        time.sleep(0.3)  # a few more polls
    finally:
        w.stop()
    assert set(listed) <= {str(tmp_path / "f07")}


def test_a_rescan_sends_a_rewritten_file_and_forgets_deleted_ones(tmp_path: Path) -> None:
    old_file(tmp_path / "keep.dat")
    old_file(tmp_path / "gone.dat")
    uploader = RecordingUploader()
    w = watcher(tmp_path, uploader, polling=True, poll_seconds=3600, rescan_seconds=0.2)
    w.start()
    try:
        (tmp_path / "gone.dat").unlink()
        old_file(tmp_path / "keep.dat", b"rewritten, same folder mtime")
        wait_until(lambda: uploader.names() == ["keep.dat"], timeout=10, message="keep.dat")
        wait_until(lambda: "gone.dat" not in w._known, timeout=10, message="gone.dat forgotten")
    finally:
        w.stop()


def test_a_failed_file_is_sent_again_when_found_again(tmp_path: Path) -> None:
    from openmsi_gui.engine.upload_types import UploadOutcome

    old_file(tmp_path / "a.dat")
    uploader = RecordingUploader()
    w = watcher(tmp_path, uploader, upload_existing=True, polling=True, poll_seconds=3600,
                rescan_seconds=0.2)
    w.start()
    try:
        w._on_result(UploadResult(tmp_path / "a.dat", UploadOutcome.FAILED, "broker said no"))
        wait_until(lambda: uploader.names() == ["a.dat", "a.dat"], timeout=10,
                   message="a.dat again")
    finally:
        w.stop()


def test_reading_the_files_raises_no_events(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Sending reads every file; on Linux those reads must not flood inotify's queue."""
    import openmsi_gui.engine.watcher as watcher_module

    for i in range(50):
        old_file(tmp_path / f"{i}.dat")
    seen: list[tuple[str, str]] = []
    handle = watcher_module._Handler.on_any_event

    def recording(self: object, event: watcher_module.FileSystemEvent) -> None:
        seen.append((event.event_type, Path(os.fsdecode(event.src_path)).name))
        handle(self, event)  # type: ignore[arg-type]

    monkeypatch.setattr(watcher_module._Handler, "on_any_event", recording)
    w = watcher(tmp_path, RecordingUploader())
    w.start()
    try:
        for _ in range(2):
            for i in range(50):
                (tmp_path / f"{i}.dat").read_bytes()
        (tmp_path / "written.dat").write_bytes(b"w")
        wait_until(lambda: ("created", "written.dat") in seen, timeout=10,
                   message="the written file's event")
    finally:
        w.stop()
    assert {name for _type, name in seen} == {"written.dat"}


def test_skipped_folders_are_not_listed(tmp_path: Path) -> None:
    for name in ("raw/a.tif", "raw/scratch/tmp1.dat", "scratch/b.dat", ".git/config",
                 "x.tmp/inside.dat"):
        old_file(tmp_path / name)
    keep = FileFilter(exclude="**/scratch/**")
    folders: dict[str, int] = {}
    names = [e.relpath for e in walk_tree(str(tmp_path), walks_into=keep.walks_into,
                                          folders=folders)]
    assert names == ["raw/a.tif"]
    assert sorted(Path(f).name for f in folders) == sorted([tmp_path.name, "raw"])
    assert FileFilter(exclude="scratch/", skip_hidden=False).walks_into(".git")
    assert not FileFilter(exclude="scratch/").walks_into("deep/scratch")


def test_a_new_file_is_hashed_ahead_once_during_its_stability_window(tmp_path: Path) -> None:
    uploader = RecordingUploader()
    job = FolderWatcher(tmp_path, uploader, EventBus(), stable_seconds=1.0,  # type: ignore[arg-type]
                        polling=True, poll_seconds=0.05)
    job.start()
    try:
        (tmp_path / "new.dat").write_bytes(b"data")
        wait_until(lambda: uploader.names() == ["new.dat"], timeout=5)
        assert uploader.prehashed == [("new.dat", 0)]  # before it was sent, once
    finally:
        job.stop()
