"""Settings of the lab overview: what this app reports, and what its Lab view reads.

Part of the versioned settings schema (:class:`openmsi_gui.app.settings.Settings`
has a ``lab`` field); kept apart so the schema module stays readable.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HEARTBEAT_TOPIC = "openmsi_heartbeats"
DEFAULT_LOG_TOPIC = "openmsi_logs"
DEFAULT_INTERVAL_SECS = 60.0
MIN_INTERVAL_SECS = 1.0
MAX_INTERVAL_SECS = 86400.0


@dataclass
class LabSettings:
    """Reporting to the lab overview, and the Lab view.

    Attributes:
        report: every job of the app sends heartbeats (and log messages, if
            ``log_topic`` is set) to its own broker.
        heartbeat_topic: where heartbeats go.
        log_topic: where warnings and errors go ("" for nowhere).
        program_name: names this app in the overview ("" for the host name); each
            job reports as ``<program_name>_<job name>``.
        interval_secs: seconds between heartbeats (and between log messages).
        view_profile_id: the broker profile the Lab view reads ("" for the first one).
        view_heartbeat_topic: the heartbeat topic the Lab view reads ("" for
            ``heartbeat_topic``).
        view_log_topic: the log topic the Lab view reads ("" for ``log_topic``).
    """

    report: bool = False
    heartbeat_topic: str = DEFAULT_HEARTBEAT_TOPIC
    log_topic: str = DEFAULT_LOG_TOPIC
    program_name: str = ""
    interval_secs: float = DEFAULT_INTERVAL_SECS
    view_profile_id: str = ""
    view_heartbeat_topic: str = ""
    view_log_topic: str = ""

    def __post_init__(self) -> None:
        self.interval_secs = min(max(float(self.interval_secs), MIN_INTERVAL_SECS),
                                 MAX_INTERVAL_SECS)
