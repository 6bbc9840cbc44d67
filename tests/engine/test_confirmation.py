"""The deadline logic of Not confirmed, from the registry alone (no broker)."""

from __future__ import annotations

import hashlib

import pytest
from helpers import Recorder, wait_until

from openmsi_gui.engine.confirmation import (
    MAX_AUTO_RESENDS,
    DeadlineWatch,
    Expectation,
    find_unconfirmed,
    unconfirmed_reason,
)
from openmsi_gui.engine.deliveries import DeliveryBook
from openmsi_gui.engine.durations import (
    DurationError,
    duration_text,
    duration_words,
    parse_duration,
)
from openmsi_gui.engine.events import EventBus, FileUnconfirmed
from openmsi_gui.engine.receipts import Receipt, ReceiptStatus
from openmsi_gui.engine.registry import Registry

TOPIC, ROOT = "lab", "/data/outbox"


def sha(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


def sent(registry: Registry, relpath: str, data: bytes, root: str = ROOT) -> int:
    upload_id, _ = registry.start_upload(TOPIC, root, relpath, len(data), 1, sha(data), 1024,
                                         1, fresh=True)
    registry.finish_upload(upload_id)
    return upload_id


def stored(registry: Registry, destination: str, relpath: str, data: bytes,
           status: ReceiptStatus = ReceiptStatus.STORED) -> None:
    DeliveryBook(registry).record(Receipt(destination, TOPIC, relpath, sha(data), len(data),
                                          0.0, "/x", 1.0, status, ""))


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("20m", 1200), ("1h", 3600),
                                               ("7d", 604800), (" 1.5H ", 5400)])
def test_durations_are_read_as_people_write_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(duration_text(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "1", "h", "1 week", "-1h", "0s", "1h30m"])
def test_a_bad_duration_says_how_to_write_one(text: str) -> None:
    with pytest.raises(DurationError, match=r"90s|above zero"):
        parse_duration(text)


def test_duration_words() -> None:
    assert [duration_words(s) for s in (45, 1200, 3600, 5400, 86400, 7 * 86400)] == [
        "45 s", "20 min", "1 h", "1 h 30 min", "1 day", "7 days"]


def test_a_file_is_not_confirmed_by_each_expected_destination_missing(
        registry: Registry) -> None:
    sent(registry, "a.txt", b"a")
    sent(registry, "b.txt", b"b")
    sent(registry, "c.txt", b"c")
    stored(registry, "archive", "a.txt", b"a")
    stored(registry, "mirror", "a.txt", b"a")
    stored(registry, "archive", "b.txt", b"b")
    stored(registry, "mirror", "b.txt", b"b", ReceiptStatus.FAILED)  # failed is no confirmation
    found = find_unconfirmed(registry, TOPIC, ROOT, ("archive", "mirror"), sent_before=1e12)
    assert [(f.relpath, f.missing) for f in found] == [
        ("b.txt", ("mirror",)), ("c.txt", ("archive", "mirror"))]
    assert found[0].file_hash == sha(b"b")
    assert found[0].size == 1


def test_only_files_sent_before_the_deadline_and_since_the_start_count(
        registry: Registry) -> None:
    sent(registry, "a.txt", b"a")
    assert find_unconfirmed(registry, TOPIC, ROOT, ("archive",), sent_before=0) == []
    assert find_unconfirmed(registry, TOPIC, ROOT, ("archive",), 1e12, sent_since=1e11) == []
    assert find_unconfirmed(registry, TOPIC, ROOT, (), 1e12) == []
    assert find_unconfirmed(registry, "other", ROOT, ("archive",), 1e12) == []
    assert find_unconfirmed(registry, TOPIC, "/elsewhere", ("archive",), 1e12) == []


def test_only_the_latest_sending_of_a_file_counts(registry: Registry) -> None:
    sent(registry, "a.txt", b"old")
    sent(registry, "a.txt", b"new")
    stored(registry, "archive", "a.txt", b"new")
    assert find_unconfirmed(registry, TOPIC, ROOT, ("archive",), 1e12) == []
    sent(registry, "a.txt", b"new")  # sent again: the earlier confirmation of it stands
    assert find_unconfirmed(registry, TOPIC, ROOT, ("archive",), 1e12) == []
    sent(registry, "b.txt", b"b")
    sent(registry, "b.txt", b"b")
    (b,) = find_unconfirmed(registry, TOPIC, ROOT, ("archive",), 1e12)
    assert b.resends == 1


def test_a_file_being_sent_again_is_not_counted_until_it_is_sent(registry: Registry) -> None:
    sent(registry, "a.txt", b"a")
    registry.start_upload(TOPIC, ROOT, "a.txt", 1, 1, sha(b"a"), 1024, 1, fresh=True)
    assert find_unconfirmed(registry, TOPIC, ROOT, ("archive",), 1e12) == []


def watch(registry: Registry, bus: EventBus, resend: bool, resent: list[str],
          now: list[float]) -> DeadlineWatch:
    return DeadlineWatch(registry, TOPIC, ROOT, Expectation(("archive",), 60.0, resend), bus,
                         "folder:x", resent.append, clock=lambda: now[0])


def test_each_sending_is_announced_once_with_what_to_do(registry: Registry, bus: EventBus,
                                                        recorder: Recorder) -> None:
    sent(registry, "a\x1b.txt", b"a")
    now = [0.0]
    resent: list[str] = []
    deadlines = watch(registry, bus, False, resent, now)
    assert deadlines.check() == []  # not late yet
    now[0] = 1e12
    (event,) = deadlines.check()
    assert deadlines.check() == []
    assert recorder.of(FileUnconfirmed) == [event]
    assert event.relpath == "a\\x1b.txt"  # escaped, as every name in events
    assert event.missing == ("archive",)
    assert not event.resending
    assert event.reason == unconfirmed_reason(("archive",), 60.0)
    assert event.reason.startswith("no receipt from archive within 1 min of sending")
    assert "Send again" in event.reason
    assert resent == []
    # After a restart (a new watch on the same registry) it is found again.
    assert len(watch(registry, bus, False, resent, now).check()) == 1


def test_resend_sends_the_same_content_again_at_most_max_times(registry: Registry,
                                                               bus: EventBus) -> None:
    sent(registry, "a.txt", b"a")
    now, resent = [1e12], []
    for attempt in range(MAX_AUTO_RESENDS + 1):
        (event,) = watch(registry, bus, True, resent, now).check()
        assert event.resending is (attempt < MAX_AUTO_RESENDS)
        if event.resending:
            sent(registry, "a.txt", b"a")  # what the uploader records for the re-send
    assert resent == ["a.txt"] * MAX_AUTO_RESENDS


def test_check_runs_on_its_own_thread(registry: Registry, bus: EventBus,
                                      recorder: Recorder) -> None:
    sent(registry, "a.txt", b"a")
    deadlines = watch(registry, bus, False, [], [1e12]).start()
    try:
        wait_until(lambda: recorder.of(FileUnconfirmed), timeout=5)
    finally:
        deadlines.stop()


def _sent_at(registry: Registry, relpath: str, data: bytes, at: float) -> None:
    upload_id = sent(registry, relpath, data)
    registry.database.write(lambda cur: cur.execute(
        "UPDATE uploads SET completed=? WHERE id=?", (at, upload_id)))


def test_later_checks_read_only_from_the_oldest_file_still_unconfirmed(
        registry: Registry, bus: EventBus) -> None:
    now = [1000.0]
    deadlines = watch(registry, bus, False, [], now)
    _sent_at(registry, "a.txt", b"a", 100.0)
    _sent_at(registry, "b.txt", b"b", 200.0)
    stored(registry, "archive", "b.txt", b"b")
    assert [e.relpath for e in deadlines.check()] == ["a.txt"]
    stored(registry, "archive", "a.txt", b"a")  # confirmed late
    now[0] = 2000.0
    assert deadlines.check() == []
    _sent_at(registry, "c.txt", b"c", 1990.0)  # sent after the last check
    now[0] = 2100.0
    assert [e.relpath for e in deadlines.check()] == ["c.txt"]
    now[0] = 3000.0
    assert deadlines.check() == []  # announced once; still late, and still looked at
    assert [u.relpath for u in find_unconfirmed(registry, TOPIC, ROOT, ("archive",),
                                                sent_before=3000.0)] == ["c.txt"]
