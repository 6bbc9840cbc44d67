"""The lab overview's model: states, silence, inference, last-hour sums, memory (no broker)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from openmsi_gui.app import lab_table
from openmsi_gui.app.lab import (
    DEFAULT_INTERVAL,
    MAX_LOG_LINES,
    LabOverview,
    ProgramState,
    StateChange,
)
from openmsi_gui.app.lab_reading import recovered_notice
from openmsi_gui.app.lab_store import LabStore, store_path
from openmsi_gui.app.lab_table import Column
from openmsi_gui.engine.lab_wire import (
    Counters,
    Heartbeat,
    LogBatch,
    ReportedState,
    ReportKind,
    decode_heartbeat,
    encode_heartbeat,
    heartbeat_key,
)

T0 = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def ours(program_id: str = "pc1_watch", *, interval: float = 60.0, files: int = 1,
         size: int = 1000, state: ReportedState = ReportedState.WORKING, problem: str = "",
         **more: object) -> Heartbeat:
    return Heartbeat(program_id, None, Counters(messages_produced=2, bytes_produced=size,
                                                files=files),
                     interval=interval, host="pc1", app_version="1.2.3", kind=ReportKind.WATCH,
                     job="raw data", state=state, problem=problem, files_waiting=3,
                     files_failed=0, free_bytes=5 * 2**30, **more)  # type: ignore[arg-type]


def theirs(program_id: str = "osn", messages: int = 5, size: int = 500) -> Heartbeat:
    return Heartbeat(program_id, None, Counters(messages_produced=messages,
                                                bytes_produced=size))


def test_our_program_reports_its_state_and_counters() -> None:
    overview = LabOverview()
    overview.add_beat(ours(), at(0))
    row = overview.row("pc1_watch", at(5))
    assert row is not None
    assert (row.state, row.host, row.version, row.kind, row.job) == (
        ProgramState.WORKING, "pc1", "1.2.3", ReportKind.WATCH, "raw data")
    assert (row.files_last_hour, row.bytes_last_hour, row.messages_last_hour) == (1, 1000, 2)
    assert (row.interval, row.interval_inferred, row.is_ours) == (60.0, False, True)
    assert (row.files_waiting, row.files_failed, row.free_bytes) == (3, 0, 5 * 2**30)
    assert row.log_program_id == "pc1_watch"
    assert row.problem == ""

    overview.add_beat(ours(state=ReportedState.NEEDS_ATTENTION,
                           problem="The disk is full: free some space."), at(60))
    row = overview.row("pc1_watch", at(61))
    assert row is not None
    assert row.state is ProgramState.NEEDS_ATTENTION
    assert row.problem == "The disk is full: free some space."
    assert overview.row("nobody", at(61)) is None


def test_silent_after_two_intervals_then_recovers_with_one_change_each() -> None:
    overview = LabOverview()
    overview.add_beat(ours(interval=60), at(0))
    assert overview.changes(at(1)) == [StateChange("pc1_watch", None, ProgramState.WORKING)]
    assert overview.changes(at(2)) == []
    assert not overview.any_silent(at(125))  # two intervals and the grace not yet over
    row = overview.row("pc1_watch", at(130))
    assert row is not None
    assert row.state is ProgramState.SILENT
    assert row.problem == ("No heartbeat for 2 min (expected every 1 min): check that the PC "
                           "and the app are running.")
    assert overview.any_silent(at(130))
    assert overview.changes(at(130)) == [
        StateChange("pc1_watch", ProgramState.WORKING, ProgramState.SILENT)]
    for later in (140, 300, 3000):  # still silent: told once
        assert overview.changes(at(later)) == []
    overview.add_beat(ours(interval=60, state=ReportedState.IDLE), at(3001))
    assert overview.changes(at(3002)) == [
        StateChange("pc1_watch", ProgramState.SILENT, ProgramState.IDLE)]
    assert overview.changes(at(3003)) == []
    assert not overview.any_silent(at(3003))


def test_a_program_read_back_silent_then_current_is_no_recovery() -> None:
    """At start the hour is read back in parts: a program's old beats first, then new ones."""
    overview = LabOverview()
    overview.add_beat(ours(interval=60), at(0))
    assert overview.changes(at(3000)) == [StateChange("pc1_watch", None, ProgramState.SILENT)]
    overview.add_beat(ours(interval=60), at(2990))  # the rest of the hour, read a tick later
    assert overview.changes(at(3001)) == [StateChange("pc1_watch", None, ProgramState.WORKING)]
    assert recovered_notice(overview.changes(at(3002))) is None
    assert overview.changes(at(3200)) == [  # a real silence now: told, and its end too
        StateChange("pc1_watch", ProgramState.WORKING, ProgramState.SILENT)]
    overview.add_beat(ours(interval=60), at(3201))
    assert overview.changes(at(3202)) == [
        StateChange("pc1_watch", ProgramState.SILENT, ProgramState.WORKING)]


def test_openmsistream_interval_is_inferred_from_the_spacing_of_its_beats() -> None:
    overview = LabOverview()
    overview.add_beat(theirs(), at(0))
    row = overview.row("osn", at(1))
    assert row is not None
    assert (row.interval, row.interval_inferred) == (DEFAULT_INTERVAL, True)
    assert (row.version, row.host, row.files_last_hour, row.is_ours) == (
        "OpenMSIStream", "", None, False)
    assert row.state is ProgramState.WORKING  # its last beat moved messages
    when = 0
    for spacing in (30, 30, 31, 29, 300):  # one late beat does not count much
        when += spacing
        overview.add_beat(theirs(messages=0, size=0), at(when))
    row = overview.row("osn", at(421))
    assert row is not None
    assert row.interval == 30
    assert row.interval_inferred
    assert row.state is ProgramState.IDLE  # its last beat moved nothing
    silent = overview.row("osn", at(420 + 67))
    assert silent is not None
    assert silent.state is ProgramState.SILENT
    assert "expected about every 30 s" in silent.problem
    assert overview.row("osn", at(420 + 60)).state is ProgramState.IDLE  # type: ignore[union-attr]


def test_one_beat_of_openmsistream_waits_two_default_intervals() -> None:
    overview = LabOverview(default_interval=100)
    overview.add_beat(theirs(), at(0))
    assert not overview.any_silent(at(209))
    assert overview.any_silent(at(211))


def test_last_hour_sums_expire_and_duplicates_do_not_count_twice() -> None:
    overview = LabOverview()
    for minute in range(90):  # a beat a minute for an hour and a half
        overview.add_beat(ours(files=1, size=10), at(minute * 60))
    row = overview.row("pc1_watch", at(89 * 60))
    assert row is not None
    assert 59 <= row.files_last_hour <= 61  # type: ignore[operator]
    assert row.bytes_last_hour == 10 * row.files_last_hour  # type: ignore[operator]
    before = row.files_last_hour
    overview.add_beat(ours(files=1, size=10), at(88 * 60))  # read again (a reader restarted)
    assert overview.row("pc1_watch", at(89 * 60)).files_last_hour == before  # type: ignore[union-attr]
    later = overview.row("pc1_watch", at(89 * 60 + 3600 + 60))
    assert later is not None
    assert (later.files_last_hour, later.bytes_last_hour,
                                  later.messages_last_hour) == (0, 0, 0)


def test_logs_are_bounded_and_belong_to_the_program_s_log_id() -> None:
    overview = LabOverview()
    overview.add_beat(ours(log_program_id="pc1_logs"), at(0))
    overview.add_logs(LogBatch("pc1_logs", 0.0, tuple(f"line {i}" for i in range(600))), at(1))
    lines = overview.logs_for("pc1_watch")
    assert len(lines) == MAX_LOG_LINES
    assert lines[-1].text == "line 599"
    assert lines[-1].time == at(1)
    assert lines[-1].program_id == "pc1_logs"
    assert [line.text for line in overview.logs_for("pc1_watch", limit=2)] == [
        "line 598", "line 599"]
    assert overview.logs_for("pc1_logs", limit=1)[0].text == "line 599"
    assert overview.logs_for("unknown") == []
    row = overview.row("pc1_watch", at(1))
    assert row is not None
    assert row.log_program_id == "pc1_logs"


def test_forget_and_the_store_round_trip(tmp_path: Path) -> None:
    store = LabStore.for_topic("localhost:9092", "beats", tmp_path)
    assert store.path == store_path("localhost:9092", "beats", tmp_path)
    overview = LabOverview(store)
    overview.add_beat(ours(), at(0))
    overview.add_beat(theirs(), at(0))
    overview.add_beat(theirs(), at(20))
    write = overview.store_write(at(21))
    assert write is not None
    write()
    assert overview.store_write(at(22)) is None  # nothing new
    overview.add_beat(ours(), at(60))
    assert overview.store_write(at(61)) is None  # not due yet
    assert overview.store_write(at(61), force=True) is not None

    again = LabOverview(LabStore.for_topic("localhost:9092", "beats", tmp_path))
    assert len(again) == 2
    row = again.row("pc1_watch", at(3 * 3600))  # hours later: remembered, and silent
    assert row is not None
    assert row.state is ProgramState.SILENT
    assert (row.host, row.version, row.files_last_hour, row.free_bytes) == (
        "pc1", "1.2.3", 0, 5 * 2**30)
    osn = again.row("osn", at(21))
    assert osn is not None
    assert (osn.interval, osn.interval_inferred) == (20, True)

    again.forget("pc1_watch")
    assert again.row("pc1_watch", at(0)) is None
    write = again.store_write(at(3 * 3600))
    assert write is not None
    write()
    assert [r.program_id for r in LabOverview(store).rows(at(0))] == ["osn"]
    assert LabOverview(LabStore.for_topic("localhost:9092", "other", tmp_path)).rows(at(0)) == []


def test_a_damaged_or_edited_store_is_read_safely(tmp_path: Path) -> None:
    store = LabStore(tmp_path / "lab.json")
    store.path.write_text("{not json", encoding="utf-8")
    assert store.load() == []
    store.path.write_text(json.dumps({"programs": [
        {"program_id": "evil\x1b[2J", "last_seen": T0.isoformat(), "interval": 10,
         "host": "h\nforged", "free_bytes": -5, "state": "bogus"},
        {"program_id": "no time", "interval": 10},
        {"program_id": "bad interval", "last_seen": T0.isoformat(), "interval": "NaN"},
        "junk"]}), encoding="utf-8")
    [known] = store.load()
    assert known.program_id == "evil\\x1b[2J"
    assert known.host == "h\\nforged"
    assert known.free_bytes is None
    assert known.state is None


def test_hostile_heartbeats_are_shown_escaped() -> None:
    beat = decode_heartbeat(heartbeat_key("pc\x1b]0;owned\x07"), encode_heartbeat(
        ours("x", problem="bad\nnews", state=ReportedState.NEEDS_ATTENTION)))
    assert beat is not None
    overview = LabOverview()
    overview.add_beat(beat, at(0))
    [row] = overview.rows(at(1))
    text = lab_table.table_text([row], at(1))
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "bad\\nnews" in text


def test_cells_words_and_sorting() -> None:
    overview = LabOverview()
    overview.add_beat(ours("b_ours"), at(0))
    overview.add_beat(theirs("a_theirs"), at(-200))
    overview.add_beat(theirs("a_theirs"), at(-100))
    rows = {row.program_id: row for row in overview.rows(at(12))}
    mine, other = rows["b_ours"], rows["a_theirs"]
    now = at(12)
    assert lab_table.cell_text(mine, Column.LAST_SEEN, now) == "12 s ago"
    assert lab_table.cell_text(other, Column.LAST_SEEN, now) == "1 min ago"
    assert lab_table.cell_text(mine, Column.BYTES_HOUR, now) == "1000 B"
    assert lab_table.cell_text(mine, Column.FREE, now) == "5 GiB"
    assert lab_table.cell_text(other, Column.FREE, now) == "—"
    assert lab_table.cell_text(other, Column.FILES_HOUR, now) == "—"
    assert lab_table.cell_text(other, Column.HOST, now) == "—"
    assert lab_table.cell_text(other, Column.VERSION, now) == "OpenMSIStream"
    assert lab_table.cell_text(mine, Column.STATE, now) == "working"
    assert lab_table.seen_ago(at(0), at(2 * 3600 + 5 * 60 + 7)) == "2 h 5 min ago"
    assert lab_table.seen_ago(at(10), at(0)) == "just now"
    assert set(lab_table.HEADERS) == set(Column)

    def order(column: Column) -> list[str]:
        return [r.program_id for r in sorted(rows.values(),
                                             key=lambda r: lab_table.sort_key(r, column, now))]

    assert order(Column.NAME) == ["a_theirs", "b_ours"]
    assert order(Column.LAST_SEEN) == ["b_ours", "a_theirs"]
    assert order(Column.FREE) == ["b_ours", "a_theirs"]  # unknown last
    assert order(Column.BYTES_HOUR) == ["a_theirs", "b_ours"]  # 1000 B each: then by name
    silent = overview.rows(at(3600))
    assert next(r.program_id for r in sorted(
        silent, key=lambda r: lab_table.sort_key(r, Column.STATE, at(3600)))) == "a_theirs"
    for column in Column:  # every column sorts without mixing types
        sorted(overview.rows(now), key=lambda r, c=column: lab_table.sort_key(r, c, now))


def test_search_matches_every_word_anywhere() -> None:
    overview = LabOverview()
    overview.add_beat(ours("microscope_watch"), at(0))
    [row] = overview.rows(at(1))
    assert lab_table.matches(row, "")
    assert lab_table.matches(row, "MICRO pc1")
    assert lab_table.matches(row, "raw 1.2.3 working")
    assert not lab_table.matches(row, "micro other")


def test_table_text_and_json() -> None:
    overview = LabOverview()
    assert "No program" in lab_table.table_text([], at(0))
    overview.add_beat(ours("pc1_watch"), at(0))
    overview.add_beat(theirs("osn"), at(0))
    now = at(30 * 60)  # ours is silent, OpenMSIStream's (900 s) not yet
    text = lab_table.table_text(overview.rows(now), now)
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["Program", "Host"]
    assert lines[1].startswith("osn")
    assert lines[2].startswith("pc1_watch")
    assert "pc1_watch is silent: No heartbeat for 30 min (expected every 1 min)" in text
    assert lines[-1] == "2 programs: 1 running, 0 needing attention, 1 silent"
    data = lab_table.as_json(overview.rows(now), now)
    assert [d["program_id"] for d in data] == ["osn", "pc1_watch"]
    assert data[1]["state"] == "silent"
    assert data[1]["files_last_hour"] == 1
    assert data[0]["files_last_hour"] is None
    assert data[0]["interval_inferred"] is True
    json.dumps(data)


def test_table_text_fits_a_terminal_leaving_out_the_least_needed_columns() -> None:
    overview = LabOverview()
    overview.add_beat(ours("microscope-pc07_watch"), at(0))
    overview.add_beat(theirs("osn"), at(0))
    now = at(30 * 60)
    wide = lab_table.table_text(overview.rows(now), now)
    assert "Left out" not in wide
    narrow = lab_table.table_text(overview.rows(now), now, width=80)
    table = narrow.split("\n\n")[0].splitlines()
    assert all(len(line) <= 80 for line in table[:-1])
    assert table[0].split()[:4] == ["Program", "Last", "seen", "State"]
    assert table[-1].startswith("Left out to fit the terminal: Version, Host")
    assert narrow.splitlines()[-1] == wide.splitlines()[-1]  # the same summary


def test_table_text_says_ten_problems_and_counts_the_rest() -> None:
    overview = LabOverview()
    for i in range(25):
        overview.add_beat(ours(f"pc{i:02d}_watch"), at(0))
    now = at(30 * 60)
    text = lab_table.table_text(overview.rows(now), now)
    assert text.count(" is silent: ") == lab_table.MAX_PROBLEMS
    assert "… and 15 more (their state is in the table; --json has every problem)." in text
    assert text.splitlines()[-1] == "25 programs: 0 running, 0 needing attention, 25 silent"


def test_five_hundred_programs_beating_every_ten_seconds() -> None:
    """Sanity of the running sums: an hour of 500 programs, rows asked every simulated second."""
    overview = LabOverview()
    beats = [ours(f"pc{i:03d}", interval=10) for i in range(500)]
    for second in range(0, 3600 + 600, 10):
        for beat in beats:
            overview.add_beat(beat, at(second))
        overview.rows(at(second))
    rows = overview.rows(at(4199))
    assert len(rows) == 500
    assert all(r.state is ProgramState.WORKING for r in rows)
    assert all(355 <= r.files_last_hour <= 361 for r in rows)  # type: ignore[operator]
    assert max(len(p.hour) for p in overview._programs.values()) <= 122


def test_the_lab_views_status_line_is_worded_without_qt() -> None:
    from openmsi_gui.app.lab_reading import LabTarget, view_status
    from openmsi_gui.app.settings import BrokerProfile, Settings
    from openmsi_gui.app.status import StatusKind

    assert view_status(Settings(), None, "", [])[0] is StatusKind.NOTE  # no profile yet
    profile = BrokerProfile(name="Lab broker", bootstrap_servers="b:1")
    settings = Settings(profiles=[profile])
    assert view_status(settings, None, "", [])[1].startswith("Choose the broker")
    target = LabTarget(profile.id, "beats", "")
    assert view_status(settings, target, "Retrying.", []) == (StatusKind.PROBLEM, "Retrying.")
    overview = LabOverview()
    overview.add_beat(ours("pc1_watch"), at(0))
    assert view_status(settings, target, "", overview.rows(at(1))) == (
        StatusKind.OK, "Reading 'beats' on Lab broker — 1 program: 1 running, 0 needing "
        "attention, 0 silent.")


def test_after_the_readers_own_outage_silence_counts_from_when_it_hears_again() -> None:
    overview = LabOverview()
    overview.add_beat(ours(interval=60), at(0))
    assert overview.changes(at(1))[0].after is ProgramState.WORKING
    back = at(600)  # the reader could not read for ten minutes
    assert overview.changes(at(610), heard_from=back) == []  # it may be reconnecting too
    assert overview.changes(at(600 + 127), heard_from=back) == [
        StateChange("pc1_watch", ProgramState.WORKING, ProgramState.SILENT)]


def test_a_shorter_read_back_is_said_under_the_table() -> None:
    assert lab_table.read_back_note(3600) is None
    assert lab_table.read_back_note(120) == (
        "Files (1 h) and Data (1 h) count only the last 2 min read (--since).")
