"""The rules of the information sent with each file and of download filters (Qt-free), and
the app taking a current sample in place (real broker)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import Recorder, wait_until
from test_app_controller import configure

from openmsi_gui.app import file_information as info
from openmsi_gui.app.controller import AppController
from openmsi_gui.app.folders import validate_folder
from openmsi_gui.app.job_specs import job_id
from openmsi_gui.app.settings import BrokerProfile, Settings, SettingsStore, WatchedFolder
from openmsi_gui.engine.events import FileWaiting
from openmsi_gui.engine.metadata import WAITING_FOR_SAMPLE
from openmsi_gui.engine.registry import Registry


def test_preview_of_an_example_path() -> None:
    assert info.preview({"lab": "B2"}, r"(?P<sample>S\d+)/", "x/S001/a.tif", "run-1") == (
        "lab = B2, sample = run-1")  # the current sample wins over a field from the path
    assert info.preview({}, r"(?P<sample>S\d+)/", "x/S001/a.tif") == "sample = S001"
    assert info.preview({}, r"(?P<sample>S\d+)/", "x/a.tif") == (
        "The pattern finds nothing in x/a.tif.")
    assert info.preview({}, "", "") == "No information is sent with the files."
    assert info.preview({}, r"S\d+", "a") == (
        "The path pattern has no named group: name the part to keep, e.g. (?P<sample>[^/]+)/.")


def test_rows_of_the_form() -> None:
    assert info.fields_from_rows([("a", "1"), ("", ""), ("b", "")]) == ({"a": "1", "b": ""}, None)
    assert info.fields_from_rows([("", "v")])[1] == "The value 'v' has no field name: name it."


def test_folder_validation_says_what_is_wrong(tmp_path: Path) -> None:
    folder = WatchedFolder(path=str(tmp_path), topic="t", metadata={"bad key": "v"},
                           metadata_from_path="(", current_sample="a\nb")
    problems = validate_folder(folder, Settings(), lambda _path: None)
    assert any("may only use letters" in p for p in problems)
    assert any("not a regular expression" in p for p in problems)
    assert any("control character" in p for p in problems)
    assert all(p.endswith(".") and "\n" not in p for p in problems)


def test_download_filter_rules() -> None:
    assert info.compile_download_regex("") is None
    assert info.download_regex_problem("[a-") is not None
    assert info.filtered_text(1) == "1 file skipped by the filter"
    assert info.filtered_text(12) == "12 files skipped by the filter"


def test_a_sample_set_while_running_is_taken_in_place(
        store: SettingsStore, controller: AppController, broker_profile: BrokerProfile,
        make_topic: Callable[..., str], tmp_path: Path, recorder: Recorder,
        registry: Registry) -> None:
    folder, _dest = configure(store, broker_profile, make_topic(1), tmp_path,
                             metadata={"lab": "B2"}, require_sample=True)
    controller.start().result(30)
    name = str(job_id(folder))
    job = controller._jobs[job_id(folder)].job
    (tmp_path / "out" / "scan.tif").write_bytes(b"scan")
    wait_until(lambda: any(e.reason == WAITING_FOR_SAMPLE and e.job == name  # type: ignore[attr-defined]
                           for e in recorder.of(FileWaiting)), message="the file to wait")
    assert not (tmp_path / "in" / "scan.tif").exists()
    settings = store.settings
    settings.folders[0].current_sample = "S-42"
    store.update(settings)
    wait_until((tmp_path / "in" / "scan.tif").exists, message="the file")
    assert controller._jobs[job_id(folder)].job is job  # not restarted
    received = [r for r in registry.history() if r.direction == "download"]
    assert [json.loads(r.metadata) for r in received] == [{"lab": "B2", "sample": "S-42"}]


@pytest.mark.parametrize("flag", [False, True])
def test_the_sample_is_not_part_of_the_job_signature(flag: bool) -> None:
    from openmsi_gui.app.job_specs import signature

    profile = BrokerProfile()
    folder = WatchedFolder(require_sample=flag)
    other = WatchedFolder(id=folder.id, require_sample=flag, current_sample="S1",
                          added_at=folder.added_at)
    assert signature(folder, profile) == signature(other, profile)


def test_history_shows_and_finds_the_information() -> None:
    from openmsi_gui.app import history
    from openmsi_gui.app.history import HistoryColumn
    from openmsi_gui.engine.registry import HistoryRow

    row = HistoryRow("download", "t", "S001/a.tif", 3, "done", "", 1.0, 2.0, "ab" * 64,
                     metadata='{"sample":"S001","op\\\\x1b":"A. L"}')
    assert history.history_tooltip(row, HistoryColumn.PATH) == (
        "S001/a.tif\nsample = S001\nop\\x1b = A. L")
    assert "sample = s001" in history.search_text(row)
    plain = HistoryRow("upload", "t", "b.tif", 3, "done", "", 1.0, 2.0, "ab" * 64)
    assert history.history_tooltip(plain, HistoryColumn.PATH) == "b.tif"
