"""Job identities and their text form in events (no Qt)."""

from __future__ import annotations

import pytest

from openmsi_gui.app.controller import job_id
from openmsi_gui.app.settings import Destination, WatchedFolder
from openmsi_gui.engine.events import JobId, JobKind


def test_a_job_id_reads_back_from_its_text() -> None:
    for ident in (JobId(JobKind.FOLDER, "1a2b"), JobId(JobKind.DESTINATION, "c:d")):
        assert JobId.parse(str(ident)) == ident
    assert str(JobId(JobKind.FOLDER, "1a2b")) == "folder:1a2b"
    assert str(JobId(JobKind.DESTINATION, "1a2b")) == "dest:1a2b"


@pytest.mark.parametrize("name", ["folder:", "dest", "watch:/data", "download:topic", "",
                                  "destination:x"])
def test_other_job_names_are_not_ids(name: str) -> None:
    assert JobId.parse(name) is None


def test_settings_items_name_their_jobs() -> None:
    folder, dest = WatchedFolder(id="f1"), Destination(id="d1")
    assert job_id(folder) == JobId(JobKind.FOLDER, "f1")
    assert job_id(dest) == JobId(JobKind.DESTINATION, "d1")
    assert job_id(folder) != job_id(WatchedFolder(id="d1"))
    assert len({job_id(folder), job_id(dest), JobId.parse("folder:f1")}) == 2
