"""``openmsi status``: every program reporting to a lab's heartbeat topic, once.

Reads the heartbeat topic (and the log topic) from ``--since`` ago up to its
end now, adds the programs remembered from earlier runs (so that one stopped
for longer still shows, as silent, until ``--forget``), and prints the Lab
view's table, or ``--json``. Exits 0 when no program is silent, 1 otherwise,
2 with one sentence when the broker cannot be reached or the topic does not
exist.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from openmsi_gui.app import lab_table
from openmsi_gui.app.lab import LabOverview, ProgramState
from openmsi_gui.app.lab_reading import log_line_text
from openmsi_gui.app.lab_settings import DEFAULT_HEARTBEAT_TOPIC
from openmsi_gui.app.lab_store import LabStore
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.lab_reader import read_once
from openmsi_gui.engine.untrusted import escaped


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
               duration: Callable[[str], float]) -> argparse.ArgumentParser:
    """Add ``status`` to the ``openmsi`` parser (the caller adds --config)."""
    parser = sub.add_parser(
        "status", help="list every program reporting to a heartbeat topic, and whether one "
                       "is silent",
        description="Reads the heartbeat topic (and the log topic) and prints one row per "
                    "program, ours and OpenMSIStream's: host, when it was last seen, its "
                    "state (working, idle, needs attention, silent), files and data in the "
                    "last hour, files waiting and failed, free disk, version. A program is "
                    "silent once it missed two heartbeat intervals. Programs heard from in "
                    "earlier runs are remembered (in the data folder) until --forget. Exit "
                    "code 0 when no program is silent, 1 when one is, 2 when the broker "
                    "cannot be reached or the topic does not exist.")
    parser.add_argument("--heartbeat-topic", "--heartbeat_topic_name", dest="heartbeat_topic",
                        default=DEFAULT_HEARTBEAT_TOPIC, metavar="TOPIC",
                        help=f"the heartbeat topic (default {DEFAULT_HEARTBEAT_TOPIC})")
    parser.add_argument("--log-topic", "--log_topic_name", dest="log_topic", default="",
                        metavar="TOPIC", help="the log topic: --json then lists each "
                                              "program's recent log lines (default: none)")
    parser.add_argument("--since", type=duration, default=3600.0, metavar="DURATION",
                        help="how far back to read: 90s, 20m, 1h, 7d (default 1h)")
    parser.add_argument("--forget", action="append", default=[], metavar="PROGRAM",
                        help="stop showing a program that no longer runs (repeatable)")
    parser.add_argument("--logs", action="append", default=[], metavar="PROGRAM",
                        help="also print a program's recent log lines (with --log-topic; "
                             "repeatable)")
    parser.add_argument("--json", action="store_true", help="print the programs as JSON")
    return parser


RECENT_LOG_LINES = 20
"""Log lines per program in ``--json``."""


def _with_logs(overview: LabOverview, programs: list[dict[str, object]]
               ) -> list[dict[str, object]]:
    for program in programs:
        program["recent_log"] = [
            {"time": line.time.isoformat(), "text": line.text}
            for line in overview.logs_for(str(program["program_id"]), RECENT_LOG_LINES)]
    return programs


def _log_text(overview: LabOverview, program_id: str) -> str:
    shown = escaped(program_id)
    lines = overview.logs_for(program_id, RECENT_LOG_LINES)
    if not lines:
        return f"No log lines from {shown} (give --log-topic, and --since further back?)."
    return "\n".join([f"Recent log lines of {shown}:", *(
        f"  {log_line_text(line)}" for line in lines)])


def cmd_status(args: argparse.Namespace, config: KafkaConfig) -> int:
    """``openmsi status`` (broker errors are the caller's to print as one sentence)."""
    since = dt.timedelta(seconds=args.since)
    beats, logs = read_once(config, args.heartbeat_topic, args.log_topic, since)
    data_dir: Path | None = args.data_dir
    overview = LabOverview(LabStore.for_topic(config.bootstrap_servers, args.heartbeat_topic,
                                              data_dir))
    for program_id in args.forget:
        overview.forget(program_id)
    for beat, seen in beats:
        overview.add_beat(beat, seen)
    for batch, seen in logs:
        overview.add_logs(batch, seen)
    now = dt.datetime.now(dt.UTC)
    write = overview.store_write(now, force=True)
    if write is not None:
        write()
    rows = overview.rows(now)
    if args.json:
        print(json.dumps({"checked_at": now.isoformat(), "heartbeat_topic": args.heartbeat_topic,
                          "programs": _with_logs(overview, lab_table.as_json(rows, now))},
                         indent=2,
                         ensure_ascii=False))
    else:
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
        print(lab_table.table_text(rows, now, width))
        note = lab_table.read_back_note(args.since) if rows else None
        if note is not None:
            print(note)
        for program_id in args.logs:
            print(f"\n{_log_text(overview, program_id)}")
    sys.stdout.flush()
    return 1 if any(row.state is ProgramState.SILENT for row in rows) else 0
