"""The status vocabulary shared by every status line (no Qt)."""

from __future__ import annotations

from openmsi_gui.app.status import StatusKind


def test_outcomes_map_to_kinds() -> None:
    assert StatusKind.of(True) is StatusKind.OK
    assert StatusKind.of(False) is StatusKind.PROBLEM
    assert StatusKind.of(None) is StatusKind.BUSY


def test_kinds_are_distinct_picture_names() -> None:
    values = [kind.value for kind in StatusKind]
    assert sorted(values) == ["busy", "note", "ok", "problem"]

