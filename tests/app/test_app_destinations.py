"""Destinations without Qt: validation, consumer groups and where files go."""

from __future__ import annotations

from pathlib import Path

import pytest

from openmsi_gui.app.destinations import default_group_id, location_text, validate_destination
from openmsi_gui.app.settings import BrokerProfile, Destination, Settings, WatchedFolder


def _good(tmp_path: Path) -> tuple[Destination, Settings]:
    profile = BrokerProfile(name="Lab", bootstrap_servers="localhost:9092")
    dest = Destination(path=str(tmp_path), profile_id=profile.id, topic="raw", group_id="g1")
    return dest, Settings(profiles=[profile])


def test_validate_destination_accepts_a_good_one(tmp_path: Path) -> None:
    dest, settings = _good(tmp_path)
    assert validate_destination(dest, settings) == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"path": ""}, "Choose a folder"),
    ({"path": "/no/such/folder"}, "does not exist"),
    ({"topic": ""}, "Choose or type a topic"),
    ({"group_id": " "}, "Enter a consumer group"),
    ({"profile_id": "gone"}, "Choose a broker"),
    ({"kind": "s3", "bucket": "b"}, "not a valid bucket name"),
    ({"kind": "s3", "bucket": "lab-data", "region": "US East"}, "not a region name"),
    ({"kind": "ftp"}, "Unknown kind"),
])
def test_validate_destination_explains_each_problem(tmp_path: Path, change: dict[str, object],
                                                    expected: str) -> None:
    dest, settings = _good(tmp_path)
    for name, value in change.items():
        setattr(dest, name, value)
    errors = validate_destination(dest, settings)
    assert len(errors) == 1, errors
    assert expected in errors[0]


def test_validate_destination_refuses_split_groups_and_loops(tmp_path: Path) -> None:
    dest, settings = _good(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    settings.destinations.append(Destination(path=str(other), profile_id=dest.profile_id,
                                             topic="raw", group_id="g1"))
    assert any("split the files" in e for e in validate_destination(dest, settings))
    dest.group_id = "g2"
    assert validate_destination(dest, settings) == []

    settings.folders.append(WatchedFolder(path=str(tmp_path.parent), topic="raw",
                                          profile_id=dest.profile_id))
    assert any("would be sent again" in e for e in validate_destination(dest, settings))


def test_default_group_and_location() -> None:
    assert default_group_id("Lab-PC-7.example.org") == "openmsi-lab-pc-7"
    assert default_group_id("") == "openmsi-pc"
    assert default_group_id().startswith("openmsi-")
    assert location_text(Destination(kind="s3", bucket="b", prefix="raw/")) == "s3://b/raw"
    assert location_text(Destination(path="/data")) == "/data"
