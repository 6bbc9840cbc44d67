"""What the app's Lab view reads, and what it tells the user about (Qt-free).

The Lab view reads the heartbeat (and log) topic of one broker profile. Its
fields show :func:`view_choice` (the saved choice, else the first profile and
the topics this app reports to); the reader runs once the user has chosen a
profile there (:func:`lab_target`), so an app that never looks at the lab reads
nothing. :func:`silent_notice` and :func:`recovered_notice` word the tray's
notifications from :meth:`LabOverview.changes <openmsi_gui.app.lab.LabOverview.changes>`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from openmsi_gui.app import lab_table
from openmsi_gui.app.lab import LogLine, ProgramRow, ProgramState, StateChange
from openmsi_gui.app.settings import BrokerProfile, Settings
from openmsi_gui.app.status import StatusKind

NAMES_IN_NOTICE = 3
"""Programs named in one notification; more are counted."""
_DATED = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d")
"""A log line that starts with its own time (ours do; OpenMSIStream's lines do not)."""


@dataclass(frozen=True)
class LabTarget:
    """The broker profile and topics the Lab view reads.

    Attributes:
        profile_id: the broker profile's id ("" when there is none).
        heartbeat_topic: the heartbeat topic.
        log_topic: the log topic ("" for none).
    """

    profile_id: str
    heartbeat_topic: str
    log_topic: str


def view_choice(settings: Settings) -> LabTarget:
    """What the Lab view's fields show: the saved choice, else the defaults."""
    lab = settings.lab
    profile = settings.profile(lab.view_profile_id)
    if profile is None and settings.profiles:
        profile = settings.profiles[0]
    return LabTarget(profile.id if profile is not None else "",
                     lab.view_heartbeat_topic.strip() or lab.heartbeat_topic.strip(),
                     lab.view_log_topic.strip() or lab.log_topic.strip())


def lab_target(settings: Settings) -> tuple[LabTarget, BrokerProfile] | None:
    """What the Lab view's reader reads, with its profile; None until the user chose one."""
    profile = settings.profile(settings.lab.view_profile_id)
    choice = view_choice(settings)
    if profile is None or not choice.heartbeat_topic:
        return None
    return choice, profile


def chosen(settings: Settings, target: LabTarget) -> Settings:
    """``settings`` with ``target`` saved as the Lab view's choice (a copy)."""
    changed = settings.copy()
    changed.lab.view_profile_id = target.profile_id
    changed.lab.view_heartbeat_topic = target.heartbeat_topic.strip()
    changed.lab.view_log_topic = target.log_topic.strip()
    return changed


def _names(program_ids: Sequence[str]) -> str:
    shown = ", ".join(program_ids[:NAMES_IN_NOTICE])
    more = len(program_ids) - NAMES_IN_NOTICE
    return f"{shown} and {more} more" if more > 0 else shown


def silent_notice(changes: Sequence[StateChange]) -> tuple[str, str] | None:
    """The title and text of one notification for the programs that turned silent.

    Program ids are escaped already (they come from
    :mod:`openmsi_gui.engine.lab_wire`). None when none turned silent.
    """
    silent = [c.program_id for c in changes
              if c.after is ProgramState.SILENT and c.before not in (None, ProgramState.SILENT)]
    if not silent:
        return None
    if len(silent) == 1:
        return ("A program is silent",
                f"{silent[0]} has not sent a heartbeat for two intervals: "
                "check that its PC and the program are running.")
    return (f"{len(silent)} programs are silent",
            f"{_names(silent)} have not sent a heartbeat for two intervals: "
            "check that their PCs and the programs are running.")


def recovered_notice(changes: Sequence[StateChange]) -> tuple[str, str] | None:
    """The title and text of one soft notification for silent programs that beat again."""
    back = [c.program_id for c in changes
            if c.before is ProgramState.SILENT and c.after is not ProgramState.SILENT]
    if not back:
        return None
    verb = "is" if len(back) == 1 else "are"
    return ("Heard from again", f"{_names(back)} {verb} sending heartbeats again.")


def reading_summary(target: LabTarget, profile_name: str, rows: Sequence[ProgramRow]
                    ) -> tuple[bool, str]:
    """Whether every program is well, and one sentence on what the Lab view reads.

    Args:
        target: what is read.
        profile_name: the broker profile's name.
        rows: the programs heard from.
    """
    where = f"'{target.heartbeat_topic}' on {profile_name}"
    if not rows:
        return True, f"Reading {where}: no program has reported in the last hour yet."
    well = all(row.state not in (ProgramState.SILENT, ProgramState.NEEDS_ATTENTION)
               for row in rows)
    return well, f"Reading {where} — {lab_table.summary(rows)}."


def view_status(settings: Settings, reading: LabTarget | None, problem: str,
                rows: Sequence[ProgramRow]) -> tuple[StatusKind, str]:
    """What the Lab view's status line says, and how it is said.

    What to do first, the reader's problem, or what it reads and how the programs are.

    Args:
        settings: the app's settings (its broker profiles).
        reading: what the reader reads (None when none runs).
        problem: the reader's problem ("" when it reads).
        rows: the programs heard from.
    """
    if not settings.profiles:
        return (StatusKind.NOTE, "Add a broker profile first: the Lab view reads the "
                "heartbeats your lab's programs send to its broker.")
    if problem:
        return StatusKind.PROBLEM, problem
    if reading is None:
        return (StatusKind.NOTE, "Choose the broker and the heartbeat topic your lab's "
                "programs report to, then Read.")
    profile = settings.profile(reading.profile_id)
    well, text = reading_summary(reading, profile.name if profile else "", rows)
    return StatusKind.of(well), text


def program_summary(row: ProgramRow) -> str:
    """Two lines about the selected program: who and where, then its problem if any."""
    kind = row.kind.value if row.kind else ""
    # On the command line the job is named after its command: "watch", not "watch watch".
    what = " ".join(part for part in (kind, row.job if row.job != kind else "") if part)
    every = f"every {row.interval:g} s" + (" (inferred)" if row.interval_inferred else "")
    version = f"version {row.version}" if row.is_ours else row.version
    facts = [f"host {row.host}" if row.host else "", what, f"heartbeat {every}", version]
    first = f"{row.program_id} — {row.state.value}: " + " · ".join(f for f in facts if f)
    return f"{first}\n{row.problem}" if row.problem else first


def log_line_text(line: LogLine) -> str:
    """One log line as shown: the line as sent, after its message's local time if it has none.

    Our lines carry the time they were logged (which may be long before their
    message was sent, while the broker was away); OpenMSIStream's carry none.
    The text is escaped already.
    """
    if _DATED.match(line.text):
        return line.text
    return f"{line.time.astimezone():%Y-%m-%d %H:%M:%S}  {line.text}"


def log_text(lines: Sequence[LogLine]) -> str:
    """The program's log lines, one per line (see :func:`log_line_text`)."""
    return "\n".join(log_line_text(line) for line in lines)


def no_log_lines(program_id: str, log_topic: str) -> str:
    """What the log pane says while it shows no line (``program_id`` "": none selected)."""
    if not program_id:
        return "Select a program to see the warnings and errors it sent to the log topic."
    if not log_topic:
        return "Give a log topic, then Read, to see the programs' warnings and errors."
    return f"No warnings or errors from {program_id} on '{log_topic}' yet."
