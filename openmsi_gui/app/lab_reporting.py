"""Reporting to the lab overview: the rules of its settings, and what each app job reports as.

Qt-free, shared by the command line and Preferences. With ``Settings.lab.report``
on, every job of the app beats as ``<program name or host>_<job name>`` on its own
broker, and the app's warnings go to the log topic as ``<program name or host>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from openmsi_gui.app.connection import link_problem
from openmsi_gui.app.lab_settings import MAX_INTERVAL_SECS, MIN_INTERVAL_SECS, LabSettings
from openmsi_gui.app.text import sentence
from openmsi_gui.app.validation import topic_problem
from openmsi_gui.engine.heartbeats import (
    JobReporting,
    ReportTarget,
    config_fingerprint,
    host_name,
)

MAX_PROGRAM_ID = 100
_PROGRAM_CHARS = re.compile(r"[A-Za-z0-9._-]+")
_NOT_PROGRAM_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def program_id_problem(name: str) -> str | None:
    """Why ``name`` cannot name a program in the overview (a fragment), or None if it can."""
    if len(name) > MAX_PROGRAM_ID:
        return f"a program name has at most {MAX_PROGRAM_ID} characters"
    if not _PROGRAM_CHARS.fullmatch(name):
        return "a program name may use letters, digits, '.', '_' and '-' only"
    return None


def interval_problem(seconds: float) -> str | None:
    """Why ``seconds`` cannot be the interval between heartbeats, or None."""
    if not MIN_INTERVAL_SECS <= seconds <= MAX_INTERVAL_SECS:
        return (f"the interval must be between {MIN_INTERVAL_SECS:g} and "
                f"{MAX_INTERVAL_SECS:g} seconds")
    return None


def lab_errors(lab: LabSettings) -> list[str]:
    """Problems with the reporting settings, as sentences ([] if none).

    Nothing is checked while reporting is off, so a half-filled form can be kept.
    """
    if not lab.report:
        return []
    problems = [topic_problem(lab.heartbeat_topic)]
    if lab.log_topic:
        problems.append(topic_problem(lab.log_topic))
    if lab.program_name:
        problems.append(program_id_problem(lab.program_name))
    problems.append(interval_problem(lab.interval_secs))
    return [sentence(p) for p in problems if p is not None]


def default_program_name() -> str:
    """What names this app in the overview when no program name is set: the host name."""
    return host_name()


def program_name(lab: LabSettings) -> str:
    """What names this app in the overview: its program name, else the host name."""
    return lab.program_name or default_program_name()


def job_part(name: str, fallback: str) -> str:
    """A job's name as the last part of a program id ("inbox"; a path's slashes as "_")."""
    return _NOT_PROGRAM_CHARS.sub("_", name).strip("_")[:MAX_PROGRAM_ID] or fallback


def app_job_reporting(lab: LabSettings, job_name: str, fallback: str,
                      settings: Mapping[str, object]) -> JobReporting | None:
    """What one job of the app reports as, or None when reporting is off.

    Args:
        lab: the reporting settings.
        job_name: the job's human name ("inbox").
        fallback: a name for it when its human name has no usable character (its id).
        settings: the job's settings without secrets (the fingerprint's).
    """
    if not lab.report or not lab.heartbeat_topic:
        return None
    program = program_name(lab)
    target = ReportTarget(
        heartbeat_topic=lab.heartbeat_topic,
        heartbeat_program_id=f"{program}_{job_part(job_name, fallback)}",
        heartbeat_interval=lab.interval_secs, log_topic=lab.log_topic,
        log_program_id=program, log_interval=lab.interval_secs, host=host_name())
    return JobReporting(target, job_name, config_fingerprint(settings), link_problem)


def signature(lab: LabSettings) -> tuple[object, ...]:
    """What of the reporting settings a running job depends on (a change restarts it)."""
    if not lab.report:
        return (False,)
    return (True, lab.heartbeat_topic, lab.log_topic, program_name(lab), lab.interval_secs)
