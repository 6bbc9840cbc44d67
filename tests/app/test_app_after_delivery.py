"""The after-delivery rules shared by the CLI and the folder form (no Qt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openmsi_gui.app import settings as settings_module
from openmsi_gui.app.after_delivery import (
    describe_policy,
    folder_policy,
    policy_problem,
    preview_rows,
    preview_summary,
)
from openmsi_gui.app.settings import SettingsError, WatchedFolder
from openmsi_gui.engine.after_delivery import (
    AfterAction,
    AfterDeliveryPolicy,
    Preview,
    PreviewItem,
)


def test_keep_needs_nothing() -> None:
    assert policy_problem(AfterAction.KEEP, "", "/data", []) is None


@pytest.mark.parametrize(("action", "archive", "expected", "says"), [
    (AfterAction.DELETE, "", [], "Name the destinations"),
    (AfterAction.MOVE, "", ["a"], "Choose the archive folder"),
    (AfterAction.MOVE, "done", ["a"], "full path"),
    (AfterAction.MOVE, "/data/done", ["a"], "outside the watched folder"),
    (AfterAction.MOVE, "/", ["a"], "outside the watched folder"),
])
def test_problems_are_one_sentence(action: AfterAction, archive: str, expected: list[str],
                                   says: str) -> None:
    problem = policy_problem(action, archive, "/data", expected)
    assert problem is not None
    assert says in problem
    assert problem.endswith(".")


def test_a_folder_policy_comes_from_its_settings() -> None:
    folder = WatchedFolder(path="/data", expected_destinations=["a", " b", "a"],
                           after_delivery=AfterAction.MOVE, archive_folder="/srv/done",
                           min_age=3600)
    assert folder_policy(folder) == AfterDeliveryPolicy(AfterAction.MOVE, Path("/srv/done"),
                                                        3600, ("a", "b"))
    folder.expected_destinations = []
    assert folder_policy(folder) is None  # nothing is ever moved without expected destinations


def test_settings_round_trip_and_an_unknown_action_keeps_files() -> None:
    folder = WatchedFolder(path="/data", after_delivery=AfterAction.DELETE, min_age=60)
    data = settings_module.to_dict(settings_module.Settings(folders=[folder]))
    assert settings_module.from_dict(data).folders[0].after_delivery is AfterAction.DELETE
    data["folders"][0]["after_delivery"] = "shred"
    assert settings_module.from_dict(data).folders[0].after_delivery is AfterAction.KEEP
    with pytest.raises(SettingsError, match="min_age"):
        WatchedFolder(min_age=-1)


def test_preview_text() -> None:
    preview = Preview(AfterAction.MOVE, (PreviewItem("a.tif", 3 << 20, "/srv/done/a.tif"),
                                         PreviewItem("b.tif", 1 << 20, "/srv/done/b.tif")),
                      changed=("c.tif",))
    assert preview_summary(preview) == ("2 files would be moved now, freeing 4 MiB in the "
                                        "watched folder. 1 file changed since it was sent: "
                                        "never touched, sent again.")
    assert preview_rows(preview)[0] == ("a.tif", "3 MiB", "/srv/done/a.tif")
    assert preview_summary(Preview(AfterAction.DELETE, ())) == "No file would be deleted now."


def test_describe_policy() -> None:
    policy = AfterDeliveryPolicy(AfterAction.DELETE, None, 7 * 86400, ("a", "b"))
    assert describe_policy(policy) == "Files confirmed by a and b are deleted once 7 days old."
