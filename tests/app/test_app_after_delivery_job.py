"""The app's folder settings reach the job: a folder set to Delete loses its confirmed file.

Real broker, the app's controller running a watched folder and a destination
(paired in the test's in-memory keychain); a file sent, confirmed by the
destination's receipt, is deleted from the folder and recorded in the history.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from helpers import wait_until

from openmsi_gui.app import pairing
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.history import HistoryColumn, history_cell
from openmsi_gui.app.settings import BrokerProfile, Destination, SettingsStore, WatchedFolder
from openmsi_gui.engine.after_delivery import AfterAction
from openmsi_gui.engine.registry import Registry


def test_a_folder_set_to_delete_frees_its_confirmed_files(
        store: SettingsStore, controller: AppController, broker_profile: BrokerProfile,
        make_topic: Callable[..., str], tmp_path: Path, registry: Registry) -> None:
    topic = make_topic(1)
    out, inbox = tmp_path / "out", tmp_path / "in"
    (out / "run1").mkdir(parents=True)
    inbox.mkdir()
    (out / "run1" / "scan.tif").write_bytes(b"scan" * 1000)
    made = pairing.identity("archive", registry.path.parent)
    assert made is not None
    pairing.trust(made.public.pairing_code(), registry.path.parent)
    settings = store.settings
    settings.profiles = [broker_profile]
    settings.destinations = [Destination(path=str(inbox), profile_id=broker_profile.id,
                                         topic=topic, receipt_name="archive")]
    settings.folders = [WatchedFolder(path=str(out), profile_id=broker_profile.id, topic=topic,
                                      upload_existing=True, stable_seconds=0.2,
                                      expected_destinations=["archive"],
                                      after_delivery=AfterAction.DELETE)]
    store.update(settings)
    controller.start().result(60)
    wait_until(lambda: not (out / "run1" / "scan.tif").exists(), timeout=60,
               message="the confirmed file to be deleted")
    assert (inbox / "run1" / "scan.tif").read_bytes() == b"scan" * 1000
    assert (out / "run1").is_dir()  # there before the folder was added

    def status() -> list[str]:  # recorded just after the file went
        return [history_cell(r, HistoryColumn.STATUS) for r in registry.history()
                if r.direction == "upload"]

    wait_until(lambda: status() == ["Done, deleted"], timeout=10,
               message="the history to say Done, deleted")
