"""The app's watched folder expects destinations: its settings reach the job (real broker).

The folder expects a destination that is paired and runs in the same app (its
files are confirmed), and one that never answers, with a one-second deadline
and *Send again automatically*: every file turns Not confirmed by the silent
one only, is sent again by itself at most three times, and the transfer book
counts it as a problem.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from helpers import Recorder, wait_until

from openmsi_gui.app import pairing
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.job_specs import job_id
from openmsi_gui.app.settings import BrokerProfile, Destination, SettingsStore, WatchedFolder
from openmsi_gui.app.transfers import RowStatus, TransferBook
from openmsi_gui.engine.confirmation import MAX_AUTO_RESENDS
from openmsi_gui.engine.events import (
    DeliveryStatus,
    Direction,
    EventBus,
    FileCompleted,
    FileDelivery,
    FileUnconfirmed,
)
from openmsi_gui.engine.registry import Registry


def test_a_folder_expecting_a_silent_destination_sends_again_then_says_so(
        store: SettingsStore, controller: AppController, broker_profile: BrokerProfile,
        make_topic: Callable[..., str], tmp_path: Path, registry: Registry, bus: EventBus,
        recorder: Recorder) -> None:
    topic = make_topic(1)
    out, inbox = tmp_path / "out", tmp_path / "in"
    out.mkdir()
    inbox.mkdir()
    (out / "scan.tif").write_bytes(b"scan" * 1000)
    dest = Destination(path=str(inbox), profile_id=broker_profile.id, topic=topic,
                       receipt_name="archive")
    made = pairing.identity("archive", registry.path.parent)
    assert made is not None
    pairing.trust(made.public.pairing_code(), registry.path.parent)
    folder = WatchedFolder(path=str(out), profile_id=broker_profile.id, topic=topic,
                           upload_existing=True, stable_seconds=0.2,
                           expected_destinations=["archive", "offsite"], delivery_deadline=1.0,
                           resend_unconfirmed=True)
    book = TransferBook()
    bus.subscribe(book.apply)
    settings = store.settings
    settings.profiles = [broker_profile]
    settings.folders = [folder]
    settings.destinations = [dest]
    store.update(settings)
    controller.start().result(60)

    def unconfirmed() -> list[FileUnconfirmed]:
        return [e for e in recorder.of(FileUnconfirmed) if isinstance(e, FileUnconfirmed)]

    wait_until(lambda: any(not e.resending for e in unconfirmed()), timeout=60,
               message="the last Not confirmed, after the automatic re-sends")
    events = unconfirmed()
    assert [e.resending for e in events] == [True] * MAX_AUTO_RESENDS + [False]
    # The archive confirms each sending (the first one maybe after the deadline: its
    # consumer group was still forming); offsite never does.
    assert all("offsite" in e.missing for e in events)
    assert events[-1].missing == ("offsite",)
    assert all(e.job == str(job_id(folder)) and e.relpath == "scan.tif" for e in events)
    sent = [e for e in recorder.of(FileCompleted)
            if isinstance(e, FileCompleted) and e.direction is Direction.UPLOAD]
    assert len(sent) == MAX_AUTO_RESENDS + 1
    assert any(isinstance(e, FileDelivery) and e.status is DeliveryStatus.DELIVERED
               and e.destination == "archive" for e in recorder.events)
    wait_until(lambda: book.problems().unconfirmed_files == 1, timeout=5,
               message="the book to count it")
    (row,) = [r for r in book.rows.values() if r.direction is Direction.UPLOAD]
    assert row.status is RowStatus.UNCONFIRMED
    assert "archive" in row.deliveries
