"""After delivery: the planner and the executor, on a real registry and real files (no broker).

Deliveries are recorded as the receipt listener records verified receipts; the
broker end to end is in test_after_delivery_broker.py.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
from pathlib import Path

import pytest

from openmsi_gui.engine import after_delivery as ad
from openmsi_gui.engine import after_delivery_actions as actions
from openmsi_gui.engine import after_delivery_files
from openmsi_gui.engine.after_delivery_actions import AfterDeliveryExecutor, Outcome
from openmsi_gui.engine.deliveries import DeliveryBook
from openmsi_gui.engine.receipts import Receipt, ReceiptStatus
from openmsi_gui.engine.registry import Registry

TOPIC = "lab"
DESTS = ("archive", "backup")


class Folder:
    """A watched folder whose files were sent, and a registry that says so."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = Path(os.path.realpath(tmp_path / "outbox"))
        self.root.mkdir()
        self.archive = tmp_path / "archive"
        self.archive.mkdir()
        self.registry = Registry(tmp_path / "registry.sqlite3")
        self.book = DeliveryBook(self.registry)
        self.changed: list[tuple[str, bool]] = []
        self.gone: list[str] = []

    def sent(self, relpath: str, data: bytes, mtime: float | None = None) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        st = path.stat()
        upload_id, _ = self.registry.start_upload(TOPIC, str(self.root), relpath, st.st_size,
                                                  st.st_mtime_ns, sha(data), 4096, 1)
        self.registry.finish_upload(upload_id)
        return path

    def confirm(self, relpath: str, data: bytes, *dests: str,
                status: ReceiptStatus = ReceiptStatus.STORED, when: float | None = None) -> None:
        for dest in dests:
            self.book.record(Receipt(dest, TOPIC, relpath, sha(data), len(data), 0.0,
                                     f"/srv/{relpath}", when or time.time(), status,
                                     "" if status is ReceiptStatus.STORED else "no space"))

    def policy(self, action: ad.AfterAction = ad.AfterAction.MOVE, min_age: float = 0.0,
               expected: tuple[str, ...] = DESTS) -> ad.AfterDeliveryPolicy:
        return ad.AfterDeliveryPolicy(action, self.archive, min_age, expected)

    def executor(self, policy: ad.AfterDeliveryPolicy, watch_began: float = 0.0,
                 folders_at_start: set[str] | None = None) -> AfterDeliveryExecutor:
        return AfterDeliveryExecutor(
            self.registry, TOPIC, self.root, policy, watch_began=watch_began,
            folders_at_start=folders_at_start if folders_at_start is not None else set(),
            on_changed=lambda rel, same: self.changed.append((rel, same)),
            on_gone=self.gone.append)

    def history(self, relpath: str) -> tuple[str, str]:
        row = next(r for r in self.registry.history() if r.relpath == relpath)
        return row.after_delivery, row.after_delivery_to


def sha(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    f = Folder(tmp_path)
    yield f
    f.registry.close()


def test_keep_and_no_expected_destination_never_act(folder: Folder) -> None:
    folder.sent("a.txt", b"a")
    folder.confirm("a.txt", b"a", *DESTS)
    assert ad.plan(folder.registry, TOPIC, folder.root, folder.policy(ad.AfterAction.KEEP)) == []
    assert ad.plan(folder.registry, TOPIC, folder.root, folder.policy(expected=())) == []


def test_only_files_confirmed_by_every_expected_destination_are_moved(folder: Folder) -> None:
    folder.sent("one.txt", b"one")
    folder.sent("sub/two.txt", b"two")
    folder.confirm("one.txt", b"one", "archive")
    folder.confirm("sub/two.txt", b"two", *DESTS)
    results = folder.executor(folder.policy()).run_once()
    assert [(r.relpath, r.outcome) for r in results] == [("sub/two.txt", Outcome.MOVED)]
    assert (folder.root / "one.txt").exists()
    assert (folder.archive / "sub" / "two.txt").read_bytes() == b"two"
    assert not (folder.root / "sub" / "two.txt").exists()
    assert folder.gone == ["sub/two.txt"]
    assert folder.history("sub/two.txt") == ("moved", str(folder.archive / "sub" / "two.txt"))


def test_a_failed_or_mismatched_receipt_does_not_confirm(folder: Folder) -> None:
    folder.sent("a.txt", b"a")
    folder.confirm("a.txt", b"a", "archive")
    folder.confirm("a.txt", b"a", "backup", status=ReceiptStatus.FAILED)
    folder.confirm("a.txt", b"other content", "backup")  # another SHA-512
    assert ad.plan(folder.registry, TOPIC, folder.root, folder.policy()) == []


def test_delete_records_it_and_a_file_recreated_is_new(folder: Folder) -> None:
    path = folder.sent("a.txt", b"a", mtime=1_000_000)
    folder.confirm("a.txt", b"a", *DESTS)
    [result] = folder.executor(folder.policy(ad.AfterAction.DELETE)).run_once()
    assert result.outcome is Outcome.DELETED
    assert not path.exists()
    assert folder.history("a.txt") == ("deleted", "")
    path.write_bytes(b"a")
    os.utime(path, (1_000_000, 1_000_000))
    st = path.stat()
    assert not folder.registry.upload_done(TOPIC, str(folder.root), "a.txt", st.st_size,
                                           st.st_mtime_ns)
    assert ad.plan(folder.registry, TOPIC, folder.root, folder.policy()) == []


def test_a_file_changed_since_it_was_sent_is_never_touched(folder: Folder) -> None:
    grown = folder.sent("grown.txt", b"grown")
    same_stamp = folder.sent("same.txt", b"12345", mtime=1_000_000)
    folder.confirm("grown.txt", b"grown", *DESTS)
    folder.confirm("same.txt", b"12345", *DESTS)
    grown.write_bytes(b"grown and more")
    same_stamp.write_bytes(b"54321")  # same size, mtime put back: only the SHA-512 tells
    os.utime(same_stamp, (1_000_000, 1_000_000))
    results = folder.executor(folder.policy(ad.AfterAction.DELETE)).run_once()
    assert {r.outcome for r in results} == {Outcome.CHANGED}
    assert grown.read_bytes() == b"grown and more"
    assert same_stamp.read_bytes() == b"54321"
    assert sorted(folder.changed) == [("grown.txt", False), ("same.txt", True)]
    assert folder.history("same.txt") == ("", "")


def test_a_file_only_touched_is_sent_again_explicitly(folder: Folder) -> None:
    path = folder.sent("a.txt", b"same", mtime=1_000_000)
    folder.confirm("a.txt", b"same", *DESTS)
    os.utime(path, (2_000_000, 2_000_000))  # the watcher's sending would skip it: same content
    [result] = folder.executor(folder.policy(ad.AfterAction.DELETE)).run_once()
    assert result.outcome is Outcome.CHANGED
    assert folder.changed == [("a.txt", True)]
    assert path.exists()


def test_a_newer_generation_on_its_way_blocks_the_older_confirmation(folder: Folder) -> None:
    folder.sent("a.txt", b"a")
    folder.confirm("a.txt", b"a", *DESTS)
    folder.registry.start_upload(TOPIC, str(folder.root), "a.txt", 2, 1, sha(b"aa"), 4096, 1)
    assert ad.plan(folder.registry, TOPIC, folder.root, folder.policy()) == []


def test_minimum_age(folder: Folder) -> None:
    folder.sent("old.txt", b"old", mtime=time.time() - 3 * 86400)
    folder.confirm("old.txt", b"old", *DESTS)
    policy = folder.policy(min_age=7 * 86400)
    assert ad.plan(folder.registry, TOPIC, folder.root, policy) == []  # sent just now
    later = time.time() + 7 * 86400 + 1
    assert [c.relpath for c in ad.plan(folder.registry, TOPIC, folder.root, policy, later)] == [
        "old.txt"]


def test_an_archive_file_is_never_overwritten(folder: Folder) -> None:
    path = folder.sent("a.txt", b"new")
    folder.confirm("a.txt", b"new", *DESTS)
    (folder.archive / "a.txt").write_bytes(b"older, kept")
    [result] = folder.executor(folder.policy()).run_once()
    assert result.outcome is Outcome.TAKEN
    assert path.read_bytes() == b"new"
    assert (folder.archive / "a.txt").read_bytes() == b"older, kept"
    assert folder.history("a.txt") == ("", "")


def test_a_move_across_volumes_is_copied_verified_then_removed(
        folder: Folder, monkeypatch: pytest.MonkeyPatch) -> None:
    real_link = os.link

    def no_link(source: Path, target: Path, **kwargs: bool) -> None:
        if folder.root in Path(source).parents:  # the watched folder is "another volume"
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_link(source, target, **kwargs)

    monkeypatch.setattr(after_delivery_files.os, "link", no_link)
    path = folder.sent("deep/a.bin", os.urandom(3 << 20), mtime=1_234_567)
    data = path.read_bytes()
    folder.confirm("deep/a.bin", data, *DESTS)
    [result] = folder.executor(folder.policy()).run_once()
    assert result.outcome is Outcome.MOVED
    assert not path.exists()
    moved = folder.archive / "deep" / "a.bin"
    assert moved.read_bytes() == data
    assert moved.stat().st_mtime == 1_234_567
    assert [p.name for p in moved.parent.iterdir()] == ["a.bin"]  # no temporary left


def test_a_file_gone_meanwhile_is_recorded_and_not_planned_again(folder: Folder) -> None:
    folder.sent("a.txt", b"a").unlink()
    folder.confirm("a.txt", b"a", *DESTS)
    [result] = folder.executor(folder.policy()).run_once()
    assert result.outcome is Outcome.GONE
    assert ad.plan(folder.registry, TOPIC, folder.root, folder.policy()) == []


def test_a_symlink_is_refused(folder: Folder, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"x")
    folder.sent("link.txt", b"x")
    (folder.root / "link.txt").unlink()
    (folder.root / "link.txt").symlink_to(outside)
    os.utime(folder.root / "link.txt", (1, 1), follow_symlinks=False)
    folder.confirm("link.txt", b"x", *DESTS)
    [result] = folder.executor(folder.policy(ad.AfterAction.DELETE)).run_once()
    assert result.outcome in (Outcome.REFUSED, Outcome.CHANGED)
    assert outside.exists()
    assert (folder.root / "link.txt").is_symlink()


def test_empty_folders_go_only_if_made_after_the_watch_began(folder: Folder) -> None:
    folder.sent("old/a.txt", b"a")
    folder.sent("new/deeper/b.txt", b"b")
    folder.confirm("old/a.txt", b"a", *DESTS)
    folder.confirm("new/deeper/b.txt", b"b", *DESTS)
    at_start = {str(folder.root), str(folder.root / "old")}
    executor = folder.executor(folder.policy(ad.AfterAction.DELETE), watch_began=time.time(),
                               folders_at_start=at_start)
    if hasattr(os.stat(folder.root), "st_birthtime"):
        pytest.skip("creation times decide here")
    executor.run_once()
    assert (folder.root / "old").is_dir()
    assert not (folder.root / "new").exists()
    assert folder.root.is_dir()


def test_the_archive_inside_the_folder_is_refused(folder: Folder) -> None:
    policy = ad.AfterDeliveryPolicy(ad.AfterAction.MOVE, folder.root / "done", 0, DESTS)
    with pytest.raises(ValueError, match="outside"):
        folder.executor(policy)


def test_preview_lists_files_and_space_freed(folder: Folder) -> None:
    folder.sent("a.txt", b"a" * 100)
    folder.sent("b.txt", b"b" * 50)
    changed = folder.sent("c.txt", b"c")
    folder.sent("d.txt", b"d").unlink()
    for name, data in (("a.txt", b"a" * 100), ("b.txt", b"b" * 50), ("c.txt", b"c"),
                       ("d.txt", b"d")):
        folder.confirm(name, data, *DESTS)
    changed.write_bytes(b"cc")
    preview = ad.preview(folder.registry, TOPIC, folder.root, folder.policy())
    assert [i.relpath for i in preview.items] == ["a.txt", "b.txt"]
    assert preview.freed == 150
    assert preview.items[0].target == str(folder.archive / "a.txt")
    assert preview.changed == ("c.txt",)
    assert preview.missing == ("d.txt",)
    assert (folder.root / "a.txt").exists()  # a preview touches nothing


def test_a_missing_archive_folder_is_not_made_again(folder: Folder) -> None:
    path = folder.sent("a.txt", b"a")
    folder.confirm("a.txt", b"a", *DESTS)
    folder.archive.rmdir()  # a USB disk unplugged: its mount point must stay empty
    [result] = folder.executor(folder.policy()).run_once()
    assert result.outcome is Outcome.REFUSED
    assert "missing" in result.detail
    assert path.exists()
    assert not folder.archive.exists()


def test_a_pass_goes_on_batch_after_batch(folder: Folder,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(actions, "PLAN_BATCH", 2)
    for i in range(5):
        folder.sent(f"f{i}.txt", b"%d" % i)
        folder.confirm(f"f{i}.txt", b"%d" % i, *DESTS)
    results = folder.executor(folder.policy(ad.AfterAction.DELETE)).run_once()
    assert [r.outcome for r in results] == [Outcome.DELETED] * 5


def test_a_file_left_in_place_is_not_read_again_every_pass(folder: Folder) -> None:
    folder.sent("a.txt", b"new")
    folder.confirm("a.txt", b"new", *DESTS)
    (folder.archive / "a.txt").write_bytes(b"older, kept")
    executor = folder.executor(folder.policy())
    assert [r.outcome for r in executor.run_once()] == [Outcome.TAKEN]
    assert executor.run_once() == []  # tried again after RETRY_SECONDS


def test_a_read_only_folder_is_left_alone(folder: Folder,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = folder.sent("ro/a.txt", b"a")
    folder.confirm("ro/a.txt", b"a", *DESTS)
    real_access = os.access

    def access(where: object, mode: int) -> bool:  # root may write anywhere: say it may not
        return Path(str(where)) != path.parent and real_access(where, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(actions.os, "access", access)
    [result] = folder.executor(folder.policy(ad.AfterAction.DELETE)).run_once()
    assert result.outcome is Outcome.REFUSED
    assert "read-only" in result.detail
    assert path.exists()
