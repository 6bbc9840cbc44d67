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
"""

from __future__ import annotations

import dataclasses
import enum
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openmsi_gui.app import keychain, profiles
from openmsi_gui.app.settings import (
    SASL_MECHANISMS,
    SECURITY_PROTOCOLS,
    BrokerProfile,
    Destination,
    SecurityProtocol,
    Settings,
    WatchedFolder,
    new_id,
)
from openmsi_gui.app.validation import (
    bootstrap_errors,
    clean_servers,
    topic_errors,
    unique_name,
    uses_sasl,
    uses_tls,
)

DEMO_TOPIC = "openmsi-demo"
"""The topic the demo folder pair uses (the same as ``openmsi-gui --demo``)."""
DEMO_GROUP = "openmsi-demo"
"""The consumer group of the demo destination."""
DEMO_PROFILE_NAME = "Local demo broker"
EMBEDDED_BOOTSTRAP = "(embedded)"
"""What an embedded profile shows as its address (the real one changes every start)."""
DEMO_OUTBOX = "outbox"
DEMO_INBOX = "inbox"
SECRET_NAMES = (profiles.PASSWORD,)
"""Every keychain entry the wizard may write for a profile."""

_CONNECTION_FIELDS = frozenset({"bootstrap_servers", "security_protocol", "sasl_mechanism",
                                "sasl_username", "password", "ca_file"})


class Step(enum.IntEnum):
    """The wizard's pages, in order."""

    WELCOME = 0
    BROKER = 1
    FIRST_JOB = 2
    DONE = 3


class Mode(enum.StrEnum):
    """Which broker the user starts with."""

    DEMO = "demo"
    REAL = "real"


class JobKind(enum.StrEnum):
    """What the first job is."""

    PAIR = "pair"
    """Demo only: a watched ``outbox`` and a destination ``inbox`` on the same topic."""
    FOLDER = "folder"
    DESTINATION = "destination"
    SKIP = "skip"


class FlowError(RuntimeError):
    """A step was asked to do something it cannot; the message says why, for the user."""


def default_demo_folder() -> Path:
    """Where the demo pair goes unless the user picks another folder."""
    return Path.home() / "OpenMSI demo"


@dataclass
class BrokerForm:
    """What the user typed on the broker step.

    Attributes:
        name: what the user calls the broker ("" = its first host name).
        bootstrap_servers: ``host:port[,host:port]``.
        security_protocol: one of :data:`~openmsi_gui.app.settings.SECURITY_PROTOCOLS`.
        sasl_mechanism: one of :data:`~openmsi_gui.app.settings.SASL_MECHANISMS`.
        sasl_username: SASL user name.
        password: SASL password; never saved in the settings.
        ca_file: PEM file of the brokers' certificate authority ("" = system CAs).
    """

    name: str = ""
    bootstrap_servers: str = ""
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    sasl_username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str = ""

    @property
    def uses_sasl(self) -> bool:
        """Whether the protocol authenticates with a user name and password."""
        return uses_sasl(self.security_protocol)

    @property
    def uses_tls(self) -> bool:
        """Whether the protocol encrypts (so a CA file matters)."""
        return uses_tls(self.security_protocol)


@dataclass
class JobForm:
    """What the user chose on the first-job step.

    Attributes:
        kind: what to set up.
        demo_folder: parent of the demo's ``outbox`` and ``inbox`` (kind ``pair``).
        folder_path: the folder to watch (kind ``folder``).
        folder_topic: where its files go (kind ``folder``).
        upload_existing: also send files already in the folder (kind ``folder``).
        dest_path: where received files are saved (kind ``destination``).
        dest_topic: the topic to receive (kind ``destination``).
        group_id: consumer group ("" = a new one; kind ``destination``).
    """

    kind: JobKind = JobKind.PAIR
    demo_folder: str = ""
    folder_path: str = ""
    folder_topic: str = ""
    upload_existing: bool = False
    dest_path: str = ""
    dest_topic: str = ""
    group_id: str = ""


def _expand(path: str) -> Path:
    return Path(path.strip()).expanduser()


def write_secrets(owner: str, secrets: Mapping[str, str]) -> None:
    """Store ``secrets`` for ``owner`` and delete the wizard's other names (blocking)."""
    for name in SECRET_NAMES:
        keychain.set_secret(owner, name, secrets.get(name, ""))


def prepare(directories: list[str], owner: str, secrets: Mapping[str, str],
            touch_keychain: bool) -> None:
    """Create the folders and write the keychain before the settings are saved (blocking)."""
    for directory in directories:
        os.makedirs(directory, exist_ok=True)
    if touch_keychain:
        write_secrets(owner, secrets)


class PathKind(enum.StrEnum):
    """What a path is on disk, as far as the wizard's checks care."""

    FOLDER = "folder"
    FILE = "file"
    NOTHING = "nothing"  # missing, or something else (a socket, a broken link)


def path_kind(path: str) -> PathKind:
    """Look at ``path`` on disk.

    Blocking (a dead network share can hang it): not for the GUI thread.
    """
    if os.path.isdir(path):
        return PathKind.FOLDER
    if os.path.isfile(path):
        return PathKind.FILE
    return PathKind.NOTHING


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
        self._existing = existing.copy() if existing is not None else None
        self._look = look
        self._known_paths: dict[str, PathKind] = {}
        self._unknown_paths: dict[str, None] = {}  # asked for but not known (ordered set)
        self._checking_messages: set[str] = set()
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
        if changed & _CONNECTION_FIELDS:
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
        problems = self._broker_errors()
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
            name=form.name.strip() or self._default_name(servers),
            bootstrap_servers=servers,
            security_protocol=SecurityProtocol(form.security_protocol),
            sasl_mechanism=form.sasl_mechanism if sasl else "",
            sasl_username=form.sasl_username.strip() if sasl else "",
            ca_file=str(_expand(form.ca_file)) if form.uses_tls and form.ca_file.strip() else "",
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
        self._checking_messages.clear()
        if step is Step.BROKER:
            problems = self._broker_errors()
        elif step is Step.FIRST_JOB:
            problems = self._job_errors()
        else:
            return []
        # What the user must fix comes before what is still being looked at.
        return sorted(problems, key=lambda problem: problem in self._checking_messages)

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

    def _broker_errors(self) -> list[str]:
        form = self.broker
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
            ca_file = _expand(form.ca_file)
            if not ca_file.is_absolute():
                problems.append("Give the CA file's full path.")
            else:
                kind = self._kind(ca_file)
                if kind is None:
                    problems.append(self._checking(ca_file))
                elif kind is not PathKind.FILE:
                    problems.append(f"The CA file {ca_file} does not exist.")
        return problems

    def _job_errors(self) -> list[str]:
        job = self.job
        problems: list[str] = []
        if job.kind is JobKind.PAIR:
            if self.mode is not Mode.DEMO:
                problems.append("The demo folder pair needs the demo broker.")
            problems += self._folder_errors(job.demo_folder, "the demo folder", must_exist=False)
            demo = _expand(job.demo_folder)
            if not problems:
                for sub in (DEMO_OUTBOX, DEMO_INBOX):
                    kind = self._kind(demo / sub)
                    if kind is None:
                        problems.append(self._checking(demo / sub))
                    elif kind is PathKind.FILE:
                        problems.append(f"{demo / sub} is a file; choose another demo folder.")
                problems += self._in_use(demo / DEMO_OUTBOX, demo / DEMO_INBOX)
        elif job.kind is JobKind.FOLDER:
            problems += self._folder_errors(job.folder_path, "the folder to watch",
                                            must_exist=True)
            problems += topic_errors(job.folder_topic.strip())
            if not problems:
                problems += self._in_use(_expand(job.folder_path), None)
        elif job.kind is JobKind.DESTINATION:
            problems += self._folder_errors(job.dest_path, "the folder to save files in",
                                            must_exist=False)
            problems += topic_errors(job.dest_topic.strip())
            if job.group_id != job.group_id.strip():
                problems.append("Remove the spaces around the consumer group.")
            if not problems:
                problems += self._in_use(None, _expand(job.dest_path))
        return problems

    def _folder_errors(self, text: str, what: str, *, must_exist: bool) -> list[str]:
        if not text.strip():
            return [f"Choose {what}."]
        path = _expand(text)
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

    # -- what is on disk ----------------------------------------------------------

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

    def paths_to_check(self) -> list[str]:
        """Paths the current validation needs but has not been told about (see ``look``)."""
        self.errors()
        if self.step is Step.DONE:
            for step in self.path():
                self.errors(step)
        wanted = [p for p in self._unknown_paths if p not in self._known_paths]
        self._unknown_paths.clear()
        return wanted

    def record_path(self, path: str, kind: PathKind) -> None:
        """Tell the flow what ``path`` (as returned by :meth:`paths_to_check`) is."""
        self._known_paths[path] = kind

    def forget_paths(self) -> None:
        """Drop what was recorded, so it is checked again (the disk may have changed)."""
        self._known_paths.clear()

    def _in_use(self, watched: Path | None, received: Path | None) -> list[str]:
        """Clashes with folders the existing settings already use."""
        if self._existing is None:
            return []
        problems: list[str] = []
        demo_ids = {p.id for p in self._existing.profiles if p.embedded}

        def same_demo(profile_id: str, topic: str) -> bool:
            # Running the demo setup again adds nothing (result() skips duplicates).
            return (self.job.kind is JobKind.PAIR and profile_id in demo_ids
                    and topic == DEMO_TOPIC)

        watched_paths = {_expand(f.path) for f in self._existing.folders
                         if f.path and not same_demo(f.profile_id, f.topic)}
        dest_paths = {_expand(d.path) for d in self._existing.destinations
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

    # -- the outcome --------------------------------------------------------------

    def directories_to_create(self) -> list[str]:
        """Folders that must exist before the result is applied (the UI creates them)."""
        job = self.job
        if job.kind is JobKind.PAIR:
            demo = _expand(job.demo_folder)
            return [str(demo / DEMO_OUTBOX), str(demo / DEMO_INBOX)]
        if job.kind is JobKind.DESTINATION:
            return [str(_expand(job.dest_path))]
        return []

    def summary(self) -> list[str]:
        """What finishing will set up, one sentence per item."""
        lines: list[str] = []
        if self.mode is Mode.DEMO:
            lines.append("Broker: the local demo broker on this computer. It is for trying "
                         "OpenMSI: what it holds is lost when the app quits.")
        else:
            profile = self.profile()
            security: str = profile.security_protocol
            if profile.sasl_username:
                security += f", user {profile.sasl_username}"
            lines.append(f"Broker: {profile.name} at {profile.bootstrap_servers} ({security}).")
            if self.secrets():
                lines.append("The password is kept in the system keychain, not in the "
                             "settings file.")
        job = self.job
        if job.kind is JobKind.PAIR:
            demo = _expand(job.demo_folder)
            lines.append(f"Files you put in {demo / DEMO_OUTBOX} are sent to topic "
                         f"{DEMO_TOPIC} and arrive in {demo / DEMO_INBOX}.")
        elif job.kind is JobKind.FOLDER:
            existing = " (including the files already there)" if job.upload_existing else ""
            lines.append(f"New files in {_expand(job.folder_path)}{existing} are sent to "
                         f"topic {job.folder_topic.strip()}.")
        elif job.kind is JobKind.DESTINATION:
            lines.append(f"Files from topic {job.dest_topic.strip()} are saved in "
                         f"{_expand(job.dest_path)}.")
        else:
            lines.append("No folders yet: add them later in the main window.")
        return lines

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
        new = settings.copy()
        profile = self._add_profile(new)
        job = self.job
        if job.kind is JobKind.PAIR:
            demo = _expand(job.demo_folder)
            self._add_folder(new, WatchedFolder(
                path=str(demo / DEMO_OUTBOX), profile_id=profile.id, topic=DEMO_TOPIC,
                upload_existing=True, stable_seconds=1.0))
            self._add_destination(new, Destination(
                path=str(demo / DEMO_INBOX), profile_id=profile.id, topic=DEMO_TOPIC,
                group_id=DEMO_GROUP))
        elif job.kind is JobKind.FOLDER:
            self._add_folder(new, WatchedFolder(
                path=str(_expand(job.folder_path)), profile_id=profile.id,
                topic=job.folder_topic.strip(), upload_existing=job.upload_existing))
        elif job.kind is JobKind.DESTINATION:
            self._add_destination(new, Destination(
                path=str(_expand(job.dest_path)), profile_id=profile.id,
                topic=job.dest_topic.strip(), group_id=job.group_id))
        new.ui.first_run_done = True
        return new, self.secrets()

    @staticmethod
    def dismissed(settings: Settings) -> Settings:
        """``settings`` with the wizard marked done, for Skip / Cancel (nothing else changes)."""
        new = settings.copy()
        new.ui.first_run_done = True
        return new

    def _add_profile(self, settings: Settings) -> BrokerProfile:
        if self.mode is Mode.DEMO:
            embedded = next((p for p in settings.profiles if p.embedded), None)
            if embedded is not None:
                return embedded
            profile = BrokerProfile(name=DEMO_PROFILE_NAME, bootstrap_servers=EMBEDDED_BOOTSTRAP,
                                    embedded=True)
            settings.profiles.append(profile)
            return profile
        profile = self.profile()
        profile.name = unique_name(profile.name,
                                   [p.name for p in settings.profiles if p.id != profile.id])
        settings.profiles = [p for p in settings.profiles if p.id != profile.id] + [profile]
        return profile

    @staticmethod
    def _add_folder(settings: Settings, folder: WatchedFolder) -> None:
        if not any(f.path == folder.path and f.topic == folder.topic
                   and f.profile_id == folder.profile_id for f in settings.folders):
            settings.folders.append(folder)

    @staticmethod
    def _add_destination(settings: Settings, dest: Destination) -> None:
        if not any(d.path == dest.path and d.topic == dest.topic
                   and d.profile_id == dest.profile_id for d in settings.destinations):
            settings.destinations.append(dest)

    @staticmethod
    def _default_name(servers: str) -> str:
        first = servers.split(",", maxsplit=1)[0]
        host = first.rpartition(":")[0] or first
        return host.strip("[]") or "Broker"
