"""The first-run setup flow: its steps, their validation and their result, without Qt.

The flow is a small state machine that the Qt wizard (:mod:`openmsi_gui.ui.wizard`)
only renders, as Electrum's ``electrum/wizard.py`` is rendered by its GUIs::

    WELCOME ──demo──────────────► FIRST_JOB ──► DONE
       └────real──► BROKER ──────────┘

* **WELCOME**: try the local demo broker (``demo``) or enter a real one (``real``).
* **BROKER** (real only): address, security and credentials. The user must test the
  connection before moving on; the test itself runs in the UI (through
  :meth:`~openmsi_gui.app.controller.AppController.test_connection`), the flow only
  records its outcome with :meth:`SetupFlow.record_connection`.
* **FIRST_JOB**: watch a folder, fill a destination folder, (demo only) both as a
  pair, or skip.
* **DONE**: a summary; finishing applies :meth:`SetupFlow.result`.

The password is kept apart from everything that is saved: :meth:`SetupFlow.result`
returns it separately, for the keychain (see :mod:`openmsi_gui.app.keychain`).

The flow's vocabulary (steps, forms, blocking helpers) is in
:mod:`openmsi_gui.app.wizard_forms`, what is wrong on each step in
:mod:`openmsi_gui.app.wizard_checks`, and what finishing sets up in
:mod:`openmsi_gui.app.wizard_outcome`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openmsi_gui.app import profiles, wizard_outcome
from openmsi_gui.app.settings import BrokerProfile, SecurityProtocol, Settings, new_id
from openmsi_gui.app.validation import clean_servers, topic_errors
from openmsi_gui.app.wizard_checks import StepChecks
from openmsi_gui.app.wizard_forms import (
    CONNECTION_FIELDS,
    DEMO_TOPIC,
    BrokerForm,
    FlowError,
    JobForm,
    JobKind,
    Mode,
    PathKind,
    Step,
    default_demo_folder,
    expand,
    path_kind,
)
from openmsi_gui.app.wizard_outcome import default_name


class SetupFlow:
    """The first-run wizard as a state machine; the Qt wizard renders it.

    Change the forms only through :meth:`choose_mode`, :meth:`update_broker` and
    :meth:`update_job` (they keep the connection test honest), move with
    :meth:`next_step` and :meth:`back`, and ask :meth:`can_advance` /
    :meth:`errors` what to show.

    Args:
        demo_folder: default parent folder of the demo pair (default
            :func:`default_demo_folder`).
        existing: the current settings, to reject folders that are already in use.
        look: how paths are checked: :func:`path_kind` (the default) looks at the disk
            when validating; ``None`` (the Qt wizard) only uses what
            :meth:`record_path` was told, and lists what it still needs in
            :meth:`paths_to_check`, so that the GUI thread never waits on the disk.

    Attributes:
        step: the current step.
        mode: demo or real broker.
        broker: the broker form (used in real mode).
        job: the first-job form.
        profile_id: id of the profile the real broker gets (stable, so a password
            stored for a connection test belongs to the saved profile).
        connection_ok: whether the broker form, as it is now, passed a connection test.
        connection_message: the last test's sentence for the user ("" = not tested).
        known_topics: topics on the real broker, once the UI has listed them.
    """

    def __init__(self, demo_folder: str | os.PathLike[str] | None = None, *,
                 existing: Settings | None = None,
                 look: Callable[[str], PathKind] | None = path_kind) -> None:
        self.step = Step.WELCOME
        self.mode = Mode.DEMO
        self.broker = BrokerForm()
        folder = Path(demo_folder) if demo_folder is not None else default_demo_folder()
        self.job = JobForm(demo_folder=str(folder), folder_topic=DEMO_TOPIC,
                           dest_topic=DEMO_TOPIC)
        self.profile_id = new_id()
        self.connection_ok = False
        self.connection_message = ""
        self.known_topics: list[str] | None = None
        self._checks = StepChecks(existing, look)
        self._revision = 0
        self._kind_chosen = False

    # -- editing ------------------------------------------------------------------

    def choose_mode(self, mode: Mode | str) -> None:
        """Pick the demo or a real broker (on the welcome step)."""
        mode = Mode(mode)
        if mode == self.mode:
            return
        self.mode = mode
        self.known_topics = None
        if mode is Mode.REAL:
            for name in ("folder_topic", "dest_topic"):
                if getattr(self.job, name) == DEMO_TOPIC:
                    setattr(self.job, name, "")
            if self.job.kind is JobKind.PAIR or not self._kind_chosen:
                self.job.kind = JobKind.FOLDER
        else:
            for name in ("folder_topic", "dest_topic"):
                if not getattr(self.job, name):
                    setattr(self.job, name, DEMO_TOPIC)
            if not self._kind_chosen:
                self.job.kind = JobKind.PAIR

    def update_broker(self, **changes: str) -> None:
        """Change fields of :attr:`broker`; a changed connection setting needs a new test.

        Raises:
            TypeError: for an unknown field or a value that is not text.
        """
        fields = {f.name for f in dataclasses.fields(BrokerForm)}
        for name, value in changes.items():
            if name not in fields:
                raise TypeError(f"BrokerForm has no field {name!r}")
            if not isinstance(value, str):
                raise TypeError(f"BrokerForm.{name} must be text")
        changed = {name for name, value in changes.items()
                   if getattr(self.broker, name) != value}
        self.broker = dataclasses.replace(self.broker, **changes)
        if changed & CONNECTION_FIELDS:
            self._revision += 1
            self.connection_ok = False
            self.connection_message = ""
            self.known_topics = None

    def update_job(self, **changes: str | bool) -> None:
        """Change fields of :attr:`job` (``kind`` accepts a :class:`JobKind` or its value).

        Raises:
            TypeError: for an unknown field or a value of the wrong type.
            ValueError: for an unknown kind.
        """
        defaults = JobForm()
        for name, value in changes.items():
            if not hasattr(defaults, name):
                raise TypeError(f"JobForm has no field {name!r}")
            if type(value) is not type(getattr(defaults, name)) and name != "kind":
                raise TypeError(f"JobForm.{name} must be {type(getattr(defaults, name)).__name__}")
        values: dict[str, Any] = dict(changes)
        if "kind" in values:
            kind = JobKind(str(values["kind"]))
            if kind is JobKind.PAIR and self.mode is not Mode.DEMO:
                raise ValueError("the demo folder pair needs the demo broker")
            values["kind"] = kind
            self._kind_chosen = True
        self.job = dataclasses.replace(self.job, **values)

    def set_known_topics(self, topics: list[str] | None) -> None:
        """Record the topics the real broker has (None = unknown), for :meth:`warnings`."""
        self.known_topics = sorted(topics) if topics is not None else None

    # -- the connection test ------------------------------------------------------

    def begin_connection_test(self) -> int:
        """Start a test of the broker form as it is now; returns a token for the result.

        Raises:
            FlowError: if the form is not valid yet (the message says what to fix).
        """
        problems = self._checks.broker_errors(self.broker)
        if problems:
            raise FlowError(problems[0])
        self.connection_ok = False
        self.connection_message = ""
        return self._revision

    def record_connection(self, token: int, ok: bool, message: str) -> bool:
        """Store a test's outcome; ignored (False) if the form changed since it began."""
        if token != self._revision:
            return False
        self.connection_ok = ok
        self.connection_message = message
        return True

    def profile(self) -> BrokerProfile:
        """The real broker's profile as it would be saved (no password)."""
        form = self.broker
        servers = clean_servers(form.bootstrap_servers)
        sasl = form.uses_sasl
        return BrokerProfile(
            id=self.profile_id,
            name=form.name.strip() or default_name(servers),
            bootstrap_servers=servers,
            security_protocol=SecurityProtocol(form.security_protocol),
            sasl_mechanism=form.sasl_mechanism if sasl else "",
            sasl_username=form.sasl_username.strip() if sasl else "",
            ca_file=str(expand(form.ca_file)) if form.uses_tls and form.ca_file.strip() else "",
        )

    @property
    def secret_owner(self) -> str:
        """The keychain owner of :meth:`secrets` (the real profile's)."""
        return profiles.owner(self.profile())

    def secrets(self) -> dict[str, str]:
        """Keychain name → value to store for :attr:`secret_owner` ({} in demo mode).

        Names of :data:`SECRET_NAMES` missing here should be deleted from the keychain.
        """
        if self.mode is Mode.REAL and self.broker.uses_sasl and self.broker.password:
            return {profiles.PASSWORD: self.broker.password}
        return {}

    # -- navigation ---------------------------------------------------------------

    def path(self) -> list[Step]:
        """The steps of the current mode, in order."""
        if self.mode is Mode.DEMO:
            return [Step.WELCOME, Step.FIRST_JOB, Step.DONE]
        return [Step.WELCOME, Step.BROKER, Step.FIRST_JOB, Step.DONE]

    def next_of(self, step: Step) -> Step | None:
        """The step after ``step`` in the current mode (None after the last)."""
        path = self.path()
        if step not in path:
            return None
        index = path.index(step)
        return path[index + 1] if index + 1 < len(path) else None

    def previous_of(self, step: Step) -> Step | None:
        """The step before ``step`` in the current mode (None before the first)."""
        path = self.path()
        if step not in path:
            return None
        index = path.index(step)
        return path[index - 1] if index > 0 else None

    def can_advance(self) -> tuple[bool, str]:
        """Whether :meth:`next_step` may go on, and if not, what the user must do."""
        if self.step is Step.DONE:
            return False, "This is the last step: press Finish."
        problems = self.errors()
        if problems:
            return False, problems[0]
        if self.step is Step.BROKER and not self.connection_ok:
            return False, "Test the connection before continuing."
        return True, ""

    def can_finish(self) -> tuple[bool, str]:
        """Whether every step on the path is complete, and if not, what is missing."""
        for step in self.path():
            problems = self.errors(step)
            if problems:
                return False, problems[0]
            if step is Step.BROKER and not self.connection_ok:
                return False, "Test the connection to the broker first."
        return True, ""

    def next_step(self) -> Step:
        """Move on; returns the new step.

        Raises:
            FlowError: if the current step is incomplete (see :meth:`can_advance`).
        """
        ok, reason = self.can_advance()
        if not ok:
            raise FlowError(reason)
        following = self.next_of(self.step)
        assert following is not None  # only DONE has no next step, and it cannot advance
        self.step = following
        return self.step

    def back(self) -> Step:
        """Go back one step, keeping everything typed; returns the new step.

        Raises:
            FlowError: on the first step.
        """
        previous = self.previous_of(self.step)
        if previous is None:
            raise FlowError("This is the first step.")
        self.step = previous
        return self.step

    # -- validation ---------------------------------------------------------------

    def errors(self, step: Step | None = None) -> list[str]:
        """What is wrong on ``step`` (default: the current one), in plain language."""
        step = self.step if step is None else step
        return self._checks.errors(step, self.mode, self.broker, self.job)

    def warnings(self) -> list[str]:
        """Things worth knowing on the current step that do not stop the user."""
        notes: list[str] = []
        if self.step is Step.FIRST_JOB and self.mode is Mode.REAL and self.known_topics is not None:
            topic = {JobKind.FOLDER: self.job.folder_topic,
                     JobKind.DESTINATION: self.job.dest_topic}.get(self.job.kind, "")
            if topic and not topic_errors(topic) and topic not in self.known_topics:
                notes.append(f"The broker has no topic “{topic}” yet: ask its administrator "
                             "to create it, or pick an existing one.")
        return notes

    # -- what is on disk ----------------------------------------------------------

    def paths_to_check(self) -> list[str]:
        """Paths the current validation needs but has not been told about (see ``look``)."""
        self.errors()
        if self.step is Step.DONE:
            for step in self.path():
                self.errors(step)
        return self._checks.take_unknown()

    def record_path(self, path: str, kind: PathKind) -> None:
        """Tell the flow what ``path`` (as returned by :meth:`paths_to_check`) is."""
        self._checks.record_path(path, kind)

    def forget_paths(self) -> None:
        """Drop what was recorded, so it is checked again (the disk may have changed)."""
        self._checks.forget_paths()

    # -- the outcome --------------------------------------------------------------

    def directories_to_create(self) -> list[str]:
        """Folders that must exist before the result is applied (the UI creates them)."""
        return wizard_outcome.directories_to_create(self.job)

    def summary(self) -> list[str]:
        """What finishing will set up, one sentence per item."""
        profile = None if self.mode is Mode.DEMO else self.profile()
        return wizard_outcome.summary(profile, bool(self.secrets()), self.job)

    def result(self, settings: Settings) -> tuple[Settings, dict[str, str]]:
        """The settings after finishing, and the secrets for the keychain.

        ``settings`` is not changed. The new settings keep everything in it, add the
        profile (or reuse an existing demo broker profile) and the first folder or
        destination, and set ``ui.first_run_done``. The secrets (keychain name →
        value, owned by :attr:`secret_owner`) are never part of the settings.

        Raises:
            FlowError: if a step is incomplete (see :meth:`can_finish`).
        """
        ok, reason = self.can_finish()
        if not ok:
            raise FlowError(reason)
        profile = None if self.mode is Mode.DEMO else self.profile()
        return wizard_outcome.apply(settings, profile, self.job), self.secrets()

    @staticmethod
    def dismissed(settings: Settings) -> Settings:
        """``settings`` with the wizard marked done, for Skip / Cancel (nothing else changes)."""
        new = settings.copy()
        new.ui.first_run_done = True
        return new


__all__ = ["DEMO_TOPIC", "BrokerForm", "FlowError", "JobForm", "JobKind", "Mode", "PathKind",
           "SetupFlow", "Step", "default_demo_folder", "path_kind"]
