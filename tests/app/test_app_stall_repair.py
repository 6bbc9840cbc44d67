"""A file the broker lost half of turns Stalled, and Send again repairs it (issue 11).

The reported case: after a restart of a broker that forgot its data, a file sat
at 87 % forever, the sender said "Sent" and touching the file answered "Skipped:
same content". Here the broker holds only the first chunks of a file the
registry records as sent. Real broker, real jobs, run by the app's controller.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import Recorder, chunks_of, produce_chunks, wait_until

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile, Destination, SettingsStore, WatchedFolder
from openmsi_gui.app.transfers import RowStatus, TransferBook
from openmsi_gui.engine.events import (
    Direction,
    EventBus,
    FileSkipped,
    FileStalled,
    JobState,
    JobStatus,
)
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry

CHUNK = 16 * 1024


@pytest.fixture
def quick_stalls(store: SettingsStore, registry: Registry, bus: EventBus
                 ) -> Iterator[AppController]:
    """A controller for which one second without progress is a stall."""
    ctl = AppController(store, bus, registry, stall_seconds=1.0)
    yield ctl
    ctl.shutdown().result(60)


def test_a_half_lost_file_turns_stalled_and_send_again_repairs_it(
        store: SettingsStore, quick_stalls: AppController, broker_profile: BrokerProfile,
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path,
        registry: Registry, bus: EventBus, recorder: Recorder) -> None:
    topic = make_topic(1)
    out, inbox = tmp_path / "out", tmp_path / "in"
    out.mkdir()
    inbox.mkdir()
    data = os.urandom(5 * CHUNK)
    (out / "huge_run2.raw").write_bytes(data)
    st = (out / "huge_run2.raw").stat()
    # What the sender did before the broker lost the rest: all sent, as far as it knows.
    chunks = chunks_of(data, "huge_run2.raw", CHUNK, mtime=st.st_mtime)
    produce_chunks(kafka_config, topic, chunks[:3])
    upload_id, _ = registry.start_upload(topic, str(out), "huge_run2.raw", st.st_size,
                                         st.st_mtime_ns, hashlib.sha512(data).digest(), CHUNK,
                                         len(chunks))
    registry.finish_upload(upload_id)

    settings = store.settings
    settings.profiles.append(broker_profile)
    folder = WatchedFolder(path=str(out), profile_id=broker_profile.id, topic=topic,
                           stable_seconds=0.3, chunk_size=CHUNK)
    settings.folders.append(folder)
    settings.destinations.append(Destination(path=str(inbox), profile_id=broker_profile.id,
                                             topic=topic, group_id=f"stall-{topic}"))
    store.update(settings)
    book = TransferBook()
    bus.subscribe(book.apply)
    quick_stalls.start().result(30)

    wait_until(lambda: recorder.of(FileStalled), timeout=30, message="the file to stall")
    [stalled] = recorder.of(FileStalled)
    assert stalled.direction is Direction.DOWNLOAD
    assert stalled.relpath == "huge_run2.raw"
    [row] = [r for r in book.rows.values() if r.direction is Direction.DOWNLOAD]
    assert row.status is RowStatus.STALLED
    assert round(row.fraction, 2) == 0.6  # where it stopped (held progress is shown)
    assert "Send again" in row.error

    # Retry on the receiving side reads the file again from the broker: still only 3 of 5.
    dest_job = stalled.job
    quick_stalls.restart_job(dest_job).result(30)
    states = [e.state for e in recorder.of(JobState) if e.job == dest_job]
    assert JobStatus.STOPPED in states
    stopped = len(states) - 1 - states[::-1].index(JobStatus.STOPPED)
    assert JobStatus.RUNNING in states[stopped:]  # stopped, then started again
    wait_until(lambda: len(recorder.of(FileStalled)) == 2, timeout=30,
               message="the file to stall again")
    with pytest.raises(RuntimeError, match="not running"):
        quick_stalls.restart_job("dest:nosuchjob").result(10)

    # A plain retry finds "the same content already sent", as in the report...
    quick_stalls.retry_upload(folder.id, "huge_run2.raw").result(10)
    wait_until(lambda: recorder.of(FileSkipped), message="the plain retry skipped")
    # ...Send again sends every chunk, and the file lands.
    quick_stalls.send_again(folder.id, "huge_run2.raw").result(10)
    wait_until((inbox / "huge_run2.raw").exists, timeout=30, message="the repaired file")
    assert (inbox / "huge_run2.raw").read_bytes() == data
    wait_until(lambda: book.rows[row.key].status is RowStatus.DONE, message="the row done")
    assert len(recorder.of(FileStalled)) == 2
