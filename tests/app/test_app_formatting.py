"""Sizes, rates, times and states for people: one set of rules for the CLI and the GUI."""

from __future__ import annotations

import math

import pytest

from openmsi_gui.app import formatting as fmt
from openmsi_gui.app.formatting import ItemState, item_state
from openmsi_gui.engine.events import Direction

KiB, MiB = 1 << 10, 1 << 20


@pytest.mark.parametrize(("n", "text"), [
    (0, "0 B"), (999, "999 B"), (1000, "1000 B"), (1023, "1023 B"), (1024, "1 KiB"),
    (1536, "1.5 KiB"), (512 * KiB, "512 KiB"), (12.3 * MiB, "12.3 MiB"),
    (1023.96 * KiB, "1.0 MiB"), (16 * MiB, "16 MiB"), (2.5 * (1 << 30), "2.5 GiB"),
    (7 * (1 << 50), "7 PiB"), (7.5 * (1 << 60), "7680 PiB")])
def test_format_bytes_uses_binary_units(n: float, text: str) -> None:
    assert fmt.format_bytes(n) == text


def test_transferred_rate_eta_chunks_percent() -> None:
    assert fmt.format_transferred(int(12.3 * MiB), int(45.6 * MiB)) == "12.3 / 45.6 MiB"
    assert fmt.format_transferred(int(45.6 * MiB), int(45.6 * MiB)) == "45.6 MiB"
    assert fmt.format_transferred(500, 0) == "500 B"
    assert fmt.format_transferred(0, 0) == ""
    assert fmt.format_transferred(int(12.3 * MiB), int(45.6 * MiB), approximate=True) == (
        "12.3 / ~45.6 MiB")


def test_counts_of_things() -> None:
    assert fmt.count_text(1, "file") == "1 file"
    assert fmt.count_text(21, "file") == "21 files"
    assert fmt.count_text(0, "file") == "0 files"
    assert fmt.count_text(2, "directory", "directories") == "2 directories"
    assert fmt.format_rate(4.2 * MiB) == "4.2 MiB/s"
    assert fmt.format_rate(0) == ""
    assert fmt.format_rate(math.inf) == ""
    assert fmt.rate_or_zero(0) == "0 B/s"
    assert fmt.format_eta(None) == ""
    assert fmt.format_eta(11.2) == "0:12"
    assert fmt.format_eta(3723) == "1:02:03"
    assert fmt.format_eta(-1) == ""
    assert fmt.format_chunks(3, 10) == "3/10"
    assert fmt.format_chunks(0, 0) == ""
    assert fmt.format_percent(0.999) == "99%"
    assert fmt.format_percent(1.0) == "100%"
    assert fmt.format_percent(1.7) == "100%"
    assert fmt.first_line("\n  first \nsecond") == "first"
    assert fmt.direction_text(Direction.UPLOAD) == "↑ Upload"
    assert fmt.direction_text(Direction.DOWNLOAD) == "↓ Download"


def test_item_state_words() -> None:
    assert item_state(False, True, True) is ItemState.DISABLED
    assert item_state(True, True, True) is ItemState.PAUSED
    assert item_state(True, False, True, True) is ItemState.FAILED
    assert item_state(True, False, False, True) is ItemState.WAITING
    assert item_state(True, False).value == "Enabled"

