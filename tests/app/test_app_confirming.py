"""A watched folder's expected destinations, deadline and re-send option (settings, no Qt)."""

from __future__ import annotations

import pytest

from openmsi_gui.app.confirming import folder_expectation
from openmsi_gui.app.settings import (
    DEFAULT_DELIVERY_DEADLINE,
    Settings,
    SettingsError,
    WatchedFolder,
    from_dict,
    to_dict,
)


def test_a_folder_expects_nobody_by_default() -> None:
    folder = WatchedFolder()
    assert folder.expected_destinations == []
    assert folder.delivery_deadline == DEFAULT_DELIVERY_DEADLINE == 3600.0
    assert folder.resend_unconfirmed is False
    assert folder_expectation(folder) is None


def test_the_delivery_settings_are_saved_and_read_back() -> None:
    folder = WatchedFolder(expected_destinations=["archive", "mirror"], delivery_deadline=1200,
                           resend_unconfirmed=True)
    (back,) = from_dict(to_dict(Settings(folders=[folder]))).folders
    assert back == folder
    expectation = folder_expectation(back)
    assert expectation is not None
    assert expectation.destinations == ("archive", "mirror")
    assert (expectation.deadline, expectation.resend) == (1200.0, True)
    assert expectation.since == folder.added_at  # files sent before it was added: not looked at


def test_blank_and_repeated_names_are_dropped() -> None:
    expectation = folder_expectation(WatchedFolder(expected_destinations=[" a ", "", "a", "b"]))
    assert expectation is not None
    assert expectation.destinations == ("a", "b")


@pytest.mark.parametrize("deadline", [0, -5, 10 * 365 * 86400])
def test_a_deadline_out_of_range_is_refused_when_the_file_loads(deadline: float) -> None:
    data = to_dict(Settings(folders=[WatchedFolder()]))
    data["folders"][0]["delivery_deadline"] = deadline
    with pytest.raises(SettingsError, match="delivery_deadline"):
        from_dict(data)


def test_expected_destinations_must_be_texts() -> None:
    data = to_dict(Settings(folders=[WatchedFolder()]))
    data["folders"][0]["expected_destinations"] = "archive"
    with pytest.raises(SettingsError, match="list of texts"):
        from_dict(data)
