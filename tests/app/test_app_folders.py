"""Watched folders without Qt: what makes a folder usable and an edit savable."""

from __future__ import annotations

from pathlib import Path

import pytest

from openmsi_gui.app.folders import CHUNK_SIZES, same_or_inside, validate_folder
from openmsi_gui.app.formatting import format_bytes
from openmsi_gui.app.settings import BrokerProfile, Destination, Settings, WatchedFolder
from openmsi_gui.app.validation import topic_problem


def _settings(tmp_path: Path) -> tuple[Settings, BrokerProfile]:
    profile = BrokerProfile(name="Lab", bootstrap_servers="localhost:9092")
    return Settings(profiles=[profile]), profile


def test_validate_folder_accepts_a_good_folder(tmp_path: Path) -> None:
    settings, profile = _settings(tmp_path)
    folder = WatchedFolder(path=str(tmp_path), profile_id=profile.id, topic="raw-data")
    assert validate_folder(folder, settings) == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"path": ""}, "Choose a folder"),
    ({"path": "relative/dir"}, "full path"),
    ({"path": "/definitely/not/here"}, "does not exist"),
    ({"topic": ""}, "Choose or type a topic"),
    ({"topic": "bad topic!"}, "characters Kafka does not allow"),
    ({"include_regex": "(["}, "include regular expression is not valid"),
    ({"exclude_regex": "*.tmp"}, "exclude regular expression is not valid"),
    ({"include_globs": ["*.{tif"]}, "Send only: the pattern '*.{tif' has a “{” without"),
    ({"exclude_globs": ["*.tmp", "/"]}, "Skip: the pattern '/' matches no name"),
    ({"chunk_size": 1000}, "power of two"),
    ({"chunk_size": 512}, "power of two"),
    ({"stable_seconds": -1.0}, "stable time"),
    ({"profile_id": "gone"}, "Choose a broker"),
])
def test_validate_folder_explains_each_problem(tmp_path: Path, change: dict[str, object],
                                               expected: str) -> None:
    settings, profile = _settings(tmp_path)
    folder = WatchedFolder(path=str(tmp_path), profile_id=profile.id, topic="raw-data")
    for name, value in change.items():
        setattr(folder, name, value)
    errors = validate_folder(folder, settings)
    assert len(errors) == 1, errors
    assert expected in errors[0]


def test_validate_folder_checks_path_is_a_folder_and_profiles_exist(tmp_path: Path) -> None:
    afile = tmp_path / "data.bin"
    afile.write_bytes(b"x")
    folder = WatchedFolder(path=str(afile), profile_id="p", topic="t")
    errors = validate_folder(folder, Settings())
    assert any("is a file, not a folder" in e for e in errors)
    assert any("Add a broker first" in e for e in errors)


def test_validate_folder_refuses_duplicates_and_loops(tmp_path: Path) -> None:
    settings, profile = _settings(tmp_path)
    existing = WatchedFolder(path=str(tmp_path), profile_id=profile.id, topic="t")
    settings.folders.append(existing)
    twin = WatchedFolder(path=str(tmp_path) + "/", profile_id=profile.id, topic="t")
    assert any("already sent" in e for e in validate_folder(twin, settings))
    assert validate_folder(existing, settings) == []  # itself is no duplicate
    other_topic = WatchedFolder(path=str(tmp_path), profile_id=profile.id, topic="u")
    assert validate_folder(other_topic, settings) == []

    inner = tmp_path / "downloads"
    inner.mkdir()
    settings.destinations.append(Destination(path=str(inner), profile_id=profile.id,
                                             topic="u", group_id="g"))
    assert any("would be sent again" in e for e in validate_folder(other_topic, settings))


def test_validate_folder_can_use_a_known_answer_instead_of_the_file_system() -> None:
    settings, profile = _settings(Path("/"))
    folder = WatchedFolder(path="/definitely/not/here", profile_id=profile.id, topic="t")
    assert validate_folder(folder, settings, folder_check=lambda path: None) == []
    assert validate_folder(folder, settings, folder_check=lambda path: "gone") == ["gone"]


def test_small_pure_helpers() -> None:
    assert [format_bytes(s) for s in (CHUNK_SIZES[0], CHUNK_SIZES[-1])] == ["64 KiB", "16 MiB"]
    assert format_bytes(1000) == "1000 B"
    assert all(s & (s - 1) == 0 for s in CHUNK_SIZES)
    assert same_or_inside("/a/b", "/a/b/c")
    assert same_or_inside("/a/b/c", "/a/b")
    assert not same_or_inside("/a/b", "/a/bc")
    assert topic_problem("ok.topic_name-1") is None
    assert topic_problem("..") is not None
    assert topic_problem("x" * 250) is not None


def test_a_regular_expression_in_a_glob_field_gets_a_hint_not_an_error() -> None:
    from openmsi_gui.app.folders import regex_hints

    folder = WatchedFolder(path="/data", include_globs=["*.tif", r"^raw/.*\.h5$"],
                           exclude_globs=["*.tmp", "~$*", "**/scratch/**"])
    hints = regex_hints(folder)
    assert hints["exclude_globs"] is None
    assert hints["include_globs"] == (
        r"Send only: '^raw/.*\.h5$' looks like a regular expression, but this field takes "
        "patterns such as *.bak; put a regular expression under Advanced.")
