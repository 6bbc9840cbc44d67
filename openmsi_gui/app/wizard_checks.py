"""What is wrong on the setup flow's steps, and what is known about the disk (no Qt).

:class:`StepChecks` validates the broker and first-job forms of
:class:`~openmsi_gui.app.wizard.SetupFlow`. Paths are looked at with ``look``,
or, when it is None (the Qt wizard), only through what :meth:`StepChecks.record_path`
was told; what is still unknown is collected for the UI to check in the background.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from openmsi_gui.app.settings import SASL_MECHANISMS, SECURITY_PROTOCOLS, Settings
from openmsi_gui.app.validation import bootstrap_errors, topic_errors
from openmsi_gui.app.wizard_forms import (
    DEMO_INBOX,
    DEMO_OUTBOX,
    DEMO_TOPIC,
    BrokerForm,
    JobForm,
    JobKind,
    Mode,
    PathKind,
    Step,
    expand,
)


class StepChecks:
    """The validation of the broker and first-job steps.

    Args:
        existing: the current settings, to reject folders that are already in use.
        look: how paths are checked (None: only what :meth:`record_path` was told).
    """

    def __init__(self, existing: Settings | None,
                 look: Callable[[str], PathKind] | None) -> None:
        self._existing = existing.copy() if existing is not None else None
        self._look = look
        self._known_paths: dict[str, PathKind] = {}
        self._unknown_paths: dict[str, None] = {}  # asked for but not known (ordered set)
        self._checking_messages: set[str] = set()

    def errors(self, step: Step, mode: Mode, broker: BrokerForm, job: JobForm) -> list[str]:
        """What is wrong on ``step``, what the user must fix first."""
        self._checking_messages.clear()
        if step is Step.BROKER:
            problems = self.broker_errors(broker)
        elif step is Step.FIRST_JOB:
            problems = self.job_errors(job, mode)
        else:
            return []
        # What the user must fix comes before what is still being looked at.
        return sorted(problems, key=lambda problem: problem in self._checking_messages)

    def broker_errors(self, form: BrokerForm) -> list[str]:
        """What is wrong with the broker form."""
        problems = bootstrap_errors(form.bootstrap_servers)
        if form.security_protocol not in SECURITY_PROTOCOLS:
            problems.append("Choose a security protocol.")
        if form.uses_sasl:
            if not form.sasl_mechanism or form.sasl_mechanism not in SASL_MECHANISMS:
                problems.append("Choose a SASL mechanism (your broker's administrator knows "
                                "which).")
            if not form.sasl_username.strip():
                problems.append("Enter the user name.")
            if not form.password:
                problems.append("Enter the password.")
        if form.uses_tls and form.ca_file.strip():
            ca_file = expand(form.ca_file)
            if not ca_file.is_absolute():
                problems.append("Give the CA file's full path.")
            else:
                kind = self._kind(ca_file)
                if kind is None:
                    problems.append(self._checking(ca_file))
                elif kind is not PathKind.FILE:
                    problems.append(f"The CA file {ca_file} does not exist.")
        return problems

    def job_errors(self, job: JobForm, mode: Mode) -> list[str]:
        """What is wrong with the first-job form in ``mode``."""
        problems: list[str] = []
        if job.kind is JobKind.PAIR:
            if mode is not Mode.DEMO:
                problems.append("The demo folder pair needs the demo broker.")
            problems += self._folder_errors(job.demo_folder, "the demo folder", must_exist=False)
            demo = expand(job.demo_folder)
            if not problems:
                for sub in (DEMO_OUTBOX, DEMO_INBOX):
                    kind = self._kind(demo / sub)
                    if kind is None:
                        problems.append(self._checking(demo / sub))
                    elif kind is PathKind.FILE:
                        problems.append(f"{demo / sub} is a file; choose another demo folder.")
                problems += self._in_use(job, demo / DEMO_OUTBOX, demo / DEMO_INBOX)
        elif job.kind is JobKind.FOLDER:
            problems += self._folder_errors(job.folder_path, "the folder to watch",
                                            must_exist=True)
            problems += topic_errors(job.folder_topic.strip())
            if not problems:
                problems += self._in_use(job, expand(job.folder_path), None)
        elif job.kind is JobKind.DESTINATION:
            problems += self._folder_errors(job.dest_path, "the folder to save files in",
                                            must_exist=False)
            problems += topic_errors(job.dest_topic.strip())
            if job.group_id != job.group_id.strip():
                problems.append("Remove the spaces around the consumer group.")
            if not problems:
                problems += self._in_use(job, None, expand(job.dest_path))
        return problems

    def _folder_errors(self, text: str, what: str, *, must_exist: bool) -> list[str]:
        if not text.strip():
            return [f"Choose {what}."]
        path = expand(text)
        if not path.is_absolute():
            return [f"Give the full path of {what}."]
        kind = self._kind(path)
        if kind is None:
            return [self._checking(path)]
        if kind is PathKind.FOLDER:
            return []
        if must_exist:
            return [f"The folder {path} does not exist."]
        if kind is PathKind.FILE:
            return [f"{path} is a file, not a folder."]
        return []

    def _kind(self, path: Path) -> PathKind | None:
        """What ``path`` is: looked at now, recorded earlier, or None (not known yet)."""
        key = str(path)
        if self._look is not None:
            return self._look(key)
        kind = self._known_paths.get(key)
        if kind is None:
            self._unknown_paths[key] = None
        return kind

    def _checking(self, path: Path) -> str:
        message = f"Checking {path}…"
        self._checking_messages.add(message)
        return message

    def take_unknown(self) -> list[str]:
        """The paths asked about since the last call that are not known yet."""
        wanted = [p for p in self._unknown_paths if p not in self._known_paths]
        self._unknown_paths.clear()
        return wanted

    def record_path(self, path: str, kind: PathKind) -> None:
        """Record what ``path`` (as returned by :meth:`take_unknown`) is."""
        self._known_paths[path] = kind

    def forget_paths(self) -> None:
        """Drop what was recorded, so it is checked again (the disk may have changed)."""
        self._known_paths.clear()

    def _in_use(self, job: JobForm, watched: Path | None, received: Path | None) -> list[str]:
        """Clashes with folders the existing settings already use."""
        if self._existing is None:
            return []
        problems: list[str] = []
        demo_ids = {p.id for p in self._existing.profiles if p.embedded}

        def same_demo(profile_id: str, topic: str) -> bool:
            # Running the demo setup again adds nothing (result() skips duplicates).
            return (job.kind is JobKind.PAIR and profile_id in demo_ids
                    and topic == DEMO_TOPIC)

        watched_paths = {expand(f.path) for f in self._existing.folders
                         if f.path and not same_demo(f.profile_id, f.topic)}
        dest_paths = {expand(d.path) for d in self._existing.destinations
                      if d.kind == "folder" and d.path and not same_demo(d.profile_id, d.topic)}
        if watched is not None and watched in watched_paths:
            problems.append(f"{watched} is already watched.")
        if watched is not None and watched in dest_paths:
            problems.append(f"{watched} already receives files; watching it would send them "
                            "again.")
        if received is not None and received in watched_paths:
            problems.append(f"{received} is watched; files saved there would be sent again.")
        if received is not None and received in dest_paths:
            problems.append(f"{received} already receives files from another topic.")
        return problems
