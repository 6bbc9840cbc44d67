"""A job's broker link in plain words, and how the transfer book shows it (no Qt)."""

from __future__ import annotations

import pytest

from openmsi_gui.app.connection import (
    LinkProblems,
    outage_length,
    reachable_again_sentence,
    topic_missing_sentence,
    unreachable_sentence,
)
from openmsi_gui.app.text import quit_question
from openmsi_gui.app.transfers import AppStatus, RowStatus, TransferBook
from openmsi_gui.engine.events import (
    ConnectionState,
    ConnectionStatus,
    Direction,
    FileDiscovered,
    FileProgress,
)

LOST = ConnectionState("folder:1", ConnectionStatus.UNREACHABLE, servers="lab:9092",
                       down_since=1000.0, at=1001.0)
BACK = ConnectionState("folder:1", ConnectionStatus.CONNECTED, "reachable again",
                       servers="lab:9092", down_since=1000.0, at=1130.0)


@pytest.mark.parametrize(("seconds", "text"), [
    (0.2, "1 s"), (45, "45 s"), (60, "1 min"), (130, "2 min 10 s"), (3600, "1 h"),
    (3900, "1 h 5 min"),
])
def test_outage_lengths(seconds: float, text: str) -> None:
    assert outage_length(seconds) == text


def test_the_sentences() -> None:
    assert unreachable_sentence("lab:9092") == (
        "Cannot reach the broker at lab:9092 — retrying; files wait")
    assert reachable_again_sentence(130) == "Broker reachable again after 2 min 10 s"
    assert topic_missing_sentence("raw") == "Waiting for topic raw to be created"


def test_an_outage_is_two_lines_and_a_problem_in_between() -> None:
    links = LinkProblems()
    assert links.apply(LOST) == "Cannot reach the broker at lab:9092 — retrying; files wait"
    assert links.apply(LOST) is None  # told already
    assert links.first() == unreachable_sentence("lab:9092")
    assert links.apply(BACK) == "Broker reachable again after 2 min 10 s"
    assert links.problems == {}
    # A job's start ("connected" without an outage) is no news.
    assert links.apply(ConnectionState("folder:1", ConnectionStatus.CONNECTED)) is None


def test_a_missing_topic_then_its_creation() -> None:
    links = LinkProblems()
    missing = ConnectionState("dest:1", ConnectionStatus.TOPIC_MISSING, "raw")
    assert links.apply(missing) == "Waiting for topic raw to be created"
    created = ConnectionState("dest:1", ConnectionStatus.CONNECTED, "topic raw exists now")
    assert links.apply(created) == "Topic raw exists now; receiving"
    assert links.apply(ConnectionState("dest:1", ConnectionStatus.CONNECTED, "3 partitions")
                       ) is None


def test_the_book_shows_an_outage_until_it_ends() -> None:
    book = TransferBook()
    book.apply(FileDiscovered("folder:1", Direction.UPLOAD, "scan.tif", 100))
    book.apply(FileProgress("folder:1", Direction.UPLOAD, "scan.tif", 10, 100, 1, 10))
    book.take_touched()
    book.apply(LOST)
    row = book.rows[("folder:1", Direction.UPLOAD, "scan.tif")]
    assert book.take_touched() == [row]  # the views redraw it
    assert row.status is RowStatus.WAITING  # not "Sending 10 %" for minutes
    assert row.error == unreachable_sentence("lab:9092")
    assert book.status(paused=False) is AppStatus.ERROR
    assert book.status_line(paused=False) == (
        "OpenMSI: Cannot reach the broker at lab:9092 — retrying; files wait")
    assert book.job_link_problem("folder:1") == unreachable_sentence("lab:9092")
    assert book.on_their_way() == (1, 0)
    book.apply(BACK)
    assert row.status is RowStatus.ACTIVE
    assert book.status(paused=False) is AppStatus.TRANSFERRING
    assert book.job_link_problem("folder:1") == ""


def test_a_stopped_job_has_no_link_problem() -> None:
    book = TransferBook()
    book.apply(LOST)
    book.apply(ConnectionState("folder:1", ConnectionStatus.STOPPED))
    assert book.status(paused=False) is AppStatus.IDLE


@pytest.mark.parametrize(("sending", "receiving", "question"), [
    (0, 0, ""),
    (2, 0, "2 files still sending; they continue at next start. Quit anyway?"),
    (1, 0, "1 file still sending; it continues at next start. Quit anyway?"),
    (0, 3, "3 files still arriving; they continue at next start. Quit anyway?"),
    (2, 1, "2 files still sending and 1 still arriving; they continue at next start. "
           "Quit anyway?"),
])
def test_quit_asks_while_files_are_on_their_way(sending: int, receiving: int,
                                                question: str) -> None:
    assert quit_question(sending, receiving) == question


def test_the_rows_say_it_in_two_words() -> None:
    book = TransferBook()
    book.apply(LOST)
    assert book.job_link_state("folder:1") == "No broker"
    book.apply(ConnectionState("dest:1", ConnectionStatus.TOPIC_MISSING, "raw"))
    assert book.job_link_state("dest:1") == "No topic yet"
    book.apply(BACK)
    assert book.job_link_state("folder:1") == ""
