"""Provisioning KafkaCrypto encryption nodes from the GUI, without Qt.

The provisioning dialog (:mod:`openmsi_gui.ui.provision_dialog`) only renders a
:class:`ProvisionForm`: the checks of what was typed, the default node name,
the list of nodes already provisioned and the provisioning run itself live here
and are tested without a GUI.

The two passwords come from the administrator of the deployment and are never
stored or logged: the form keeps them out of its ``repr``, :func:`provision`
uses them once, and :meth:`ProvisionForm.clear_secrets` drops them.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from openmsi_gui.app import encryption_component
from openmsi_gui.app.settings import Settings
from openmsi_gui.app.text import sentence
from openmsi_gui.app.validation import topic_errors
from openmsi_gui.engine import admin, crypto
from openmsi_gui.engine.kafka_config import (
    ConfigError,
    KafkaConfig,
    default_nodes_dir,
    find_crypto_node,
)
from openmsi_gui.engine.provision import (
    ALL_TOPICS,
    MIN_PROVISIONING_PASSWORD,
    MIN_ROT_PASSWORD,
    KeyTopicsResult,
    ProvisionError,
    check_node_id,
    create_key_topics,
    key_topics,
    provision_node,
    topic_roots,
)

log = logging.getLogger(__name__)

ROLES: dict[str, str] = {
    "producer": "Sends files",
    "consumer": "Receives files",
    "both": "Sends and receives files",
}
"""The roles the GUI offers (engine names) and what they mean to the user."""

UNAVAILABLE_NOTE = encryption_component.NOT_INSTALLED_NOTE
"""What the encryption section says while kafkacrypto cannot be imported."""

KEY_TOPIC_TIMEOUT = 10.0
"""Seconds the broker gets to answer, and to create each key-exchange topic."""

_SPLIT = re.compile(r"[\s,;]+")
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9_.-]+")

ConfigFactory = Callable[[], KafkaConfig]
"""Builds the broker settings for the key-exchange topics (may block: keychain)."""


def parse_topics(text: str) -> list[str]:
    """The topics in comma-, semicolon- or space-separated ``text``, in order, once each."""
    topics: list[str] = []
    for word in _SPLIT.split(text):
        if word and word not in topics:
            topics.append(word)
    return topics


def key_topics_label(topics: Iterable[str]) -> str:
    """The key-topics checkbox text: ``Create the key-exchange topics (lab.keys, .reqs, .subs)``."""
    roots = [root for root in topic_roots(topics) if root != ALL_TOPICS]
    if not roots:
        return "Create the key-exchange topics (<topic>.keys, .reqs, .subs)"
    first = f"{roots[0]}.keys, .reqs, .subs"
    more = len(roots) - 1
    return (f"Create the key-exchange topics ({first}"
            + (f", and the same for {more} more topic{'s' if more > 1 else ''})" if more else ")"))


def list_nodes(folder: Path | None = None) -> list[str]:
    """The ids of the nodes provisioned in ``folder`` (default :func:`default_nodes_dir`).

    A node is a folder ``<id>/`` holding ``<id>.config``; half-written folders
    (hidden, from a provisioning in progress) and anything else are skipped.
    """
    folder = default_nodes_dir() if folder is None else folder
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    nodes = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if (entry / f"{entry.name}.config").is_file():
                nodes.append(entry.name)
        except OSError:
            continue
    return sorted(nodes, key=str.casefold)


def node_problem(node_id: str) -> str:
    """A sentence if ``node_id`` names a node that cannot be found ("" if it is found or "")."""
    if not node_id:
        return ""
    node = find_crypto_node(node_id=node_id)
    if node.config_file is not None:
        return ""
    return (f"Encryption node “{node_id}” was not found in {default_nodes_dir()}: provision "
            f"it, or copy its folder {node_id}/ there.")


@dataclass(frozen=True)
class EncryptionStatus:
    """Whether encryption can be used here, and which nodes exist.

    Attributes:
        available: kafkacrypto (and libsodium) can be imported.
        nodes: ids of the nodes in :attr:`folder`.
        folder: where nodes are provisioned.
        missing: nodes asked about that are not found anywhere, each with a
            sentence saying so (see :func:`node_problem`).
        removable: kafkacrypto is the app's component, which "Remove encryption…" removes.
    """

    available: bool
    nodes: tuple[str, ...]
    folder: Path
    missing: dict[str, str] = field(default_factory=dict)
    removable: bool = False


def encryption_status(node_ids: Iterable[str] = ()) -> EncryptionStatus:
    """Check for kafkacrypto, list the nodes, and look for ``node_ids`` (blocking).

    Blocking because it imports kafkacrypto (a third of a second) and reads folders.
    """
    component = encryption_component.component_state()
    folder = default_nodes_dir()
    nodes = tuple(list_nodes(folder))
    missing: dict[str, str] = {}
    for node_id in node_ids:
        problem = "" if node_id in nodes else node_problem(node_id)
        if problem:
            missing[node_id] = problem
    return EncryptionStatus(component.usable, nodes, folder, missing, component.removable)


def default_node_id(role: str, taken: Iterable[str] = (), hostname: str | None = None) -> str:
    """A node name for this computer: ``<hostname>-<role>``, numbered if taken."""
    host = (hostname if hostname is not None else socket.gethostname()).split(".")[0]
    host = _NOT_IN_ID.sub("-", host).strip("-_.").lower() or "node"
    base = f"{host}-{role if role in ROLES else 'node'}"
    used = {t.casefold() for t in taken}
    name, number = base, 2
    while name.casefold() in used:
        name = f"{base}-{number}"
        number += 1
    return name


def profile_topics(settings: Settings, profile_id: str) -> list[str]:
    """The topics the folders and destinations of a profile use, in order."""
    topics = [f.topic for f in settings.folders if f.profile_id == profile_id]
    topics += [d.topic for d in settings.destinations if d.profile_id == profile_id]
    return list(dict.fromkeys(t for t in topics if t))


def profile_role(settings: Settings, profile_id: str) -> str:
    """The role a profile's jobs need: ``producer`` if it only sends, and so on."""
    sends = any(f.profile_id == profile_id for f in settings.folders)
    receives = any(d.profile_id == profile_id for d in settings.destinations)
    if sends and receives:
        return "both"
    return "consumer" if receives else "producer"


@dataclass
class ProvisionForm:
    """What the user typed in the provisioning dialog.

    Attributes:
        node_id: the new node's name.
        role: one of :data:`ROLES`.
        topics_text: the topics the node may use, separated by commas or spaces
            ("" for every topic).
        rot_password: the root-of-trust password; never stored.
        rot_repeat: the root-of-trust password again.
        provisioning_password: the provisioning password; never stored.
        create_key_topics: also create ``<topic>.keys``, ``.reqs`` and ``.subs``.
    """

    node_id: str = ""
    role: str = "producer"
    topics_text: str = ""
    rot_password: str = field(default="", repr=False)
    rot_repeat: str = field(default="", repr=False)
    provisioning_password: str = field(default="", repr=False)
    create_key_topics: bool = False

    @property
    def topics(self) -> list[str]:
        """The topics typed, parsed."""
        return parse_topics(self.topics_text)

    def errors(self, taken: Iterable[str] = ()) -> dict[str, str]:
        """What to fix, one sentence per field name (empty if nothing).

        Args:
            taken: ids of nodes that already exist (they are never replaced here).
        """
        errors: dict[str, str] = {}
        node_id = self.node_id.strip()
        if not node_id:
            errors["node_id"] = "Enter a name for the node."
        else:
            try:
                check_node_id(node_id)
            except ProvisionError:
                errors["node_id"] = ("Use letters, digits, '_', '-' and '.' in the node name, "
                                     "starting with a letter or digit.")
            else:
                if node_id.casefold() in {t.casefold() for t in taken}:
                    errors["node_id"] = (f"A node called “{node_id}” already exists: choose "
                                         "another name.")
        if self.role not in ROLES:
            errors["role"] = "Choose whether this computer sends or receives files."
        topic_problems = [p for t in self.topics for p in topic_errors(t)]
        if topic_problems:
            errors["topics"] = topic_problems[0]
        elif self.create_key_topics and not self.topics:
            errors["topics"] = ("Enter the topics whose key-exchange topics should be created, "
                                "or untick the box below.")
        if len(self.rot_password) < MIN_ROT_PASSWORD:
            errors["rot_password"] = (f"The root-of-trust password needs {MIN_ROT_PASSWORD} "
                                      "characters or more.")
        elif self.rot_repeat != self.rot_password:
            errors["rot_repeat"] = "The two root-of-trust passwords differ: type it again."
        if len(self.provisioning_password) < MIN_PROVISIONING_PASSWORD:
            errors["provisioning_password"] = (
                f"The provisioning password needs {MIN_PROVISIONING_PASSWORD} characters or "
                "more.")
        return errors

    def clear_secrets(self) -> None:
        """Forget the passwords."""
        self.rot_password = self.rot_repeat = self.provisioning_password = ""


@dataclass
class ProvisionResult:
    """What :func:`provision` did.

    Attributes:
        ok: the node was provisioned (the key topics may still have failed).
        node_id: the node's name.
        folder: the node's folder, if it was made.
        sentences: what happened and what to do next, in plain language.
        key_topics: the key-topic creation, if it was asked for and tried.
        key_topics_error: why the key topics were asked for but not tried.
    """

    ok: bool
    node_id: str
    folder: Path | None = None
    sentences: list[str] = field(default_factory=list)
    key_topics: KeyTopicsResult | None = None
    key_topics_error: str = ""

    @property
    def complete(self) -> bool:
        """Provisioned, and the key topics (if asked for) all exist."""
        return (self.ok and not self.key_topics_error
                and (self.key_topics is None or self.key_topics.ok))

    @property
    def message(self) -> str:
        """The sentences as one text."""
        return " ".join(self.sentences)


def provision(form: ProvisionForm, dest_dir: Path | None = None,
              config: ConfigFactory | None = None,
              progress: Callable[[str], None] | None = None) -> ProvisionResult:
    """Provision the node described by ``form``, then create its key topics if asked (blocking).

    Never raises for what the user can fix: the result says what happened. The
    passwords are used once and never logged.

    Args:
        form: the checked form (see :meth:`ProvisionForm.errors`).
        dest_dir: where the node's folder goes (default :func:`default_nodes_dir`).
        config: builds the broker settings for the key topics; None skips them
            even if the form asks for them.
        progress: told what is being done, in a few words.
    """
    node_id = form.node_id.strip()
    topics = form.topics
    dest = default_nodes_dir() if dest_dir is None else dest_dir
    report = progress or (lambda _text: None)
    report("Making the node's keys…")
    try:
        folder = provision_node(node_id, form.role, topics, form.rot_password,
                                form.provisioning_password, dest)
    except (ProvisionError, crypto.CryptoSetupError) as exc:
        return ProvisionResult(False, node_id,
                               sentences=[f"Not provisioned: {sentence(str(exc))}"])
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return ProvisionResult(False, node_id, sentences=[
            f"Not provisioned: the node's files could not be written in {dest} ({reason})."])
    roots = ", ".join(topic_roots(topics)) if topics else "every topic"
    result = ProvisionResult(True, node_id, folder, [
        f"Provisioned encryption node “{node_id}” ({ROLES[form.role].lower()}; topics: "
        f"{roots}).", f"Its files are in {folder}."])
    names = sorted({name for topic in topics for name in key_topics(topic)})
    if form.create_key_topics and topics and config is not None:
        report("Creating the key-exchange topics…")
        try:
            broker = config()
            admin.list_topics(broker, KEY_TOPIC_TIMEOUT)  # one wait if it is unreachable
        except (ConfigError, OSError, RuntimeError, admin.BrokerError) as exc:
            # RuntimeError: KeychainError
            result.key_topics_error = sentence(str(exc))
            result.sentences.append(f"The key-exchange topics were not created: "
                                    f"{result.key_topics_error}")
        else:
            result.key_topics = create_key_topics(broker, topics, KEY_TOPIC_TIMEOUT)
            result.sentences.append(result.key_topics.message)
    elif names:
        result.sentences.append(
            f"Encrypted topics also need {', '.join(names)} (1 partition each): ask the "
            "broker's administrator to create them if they do not exist.")
    if form.role in ("producer", "both"):
        result.sentences.append("Keep OpenMSI running on this computer while receivers get "
                                "their keys: they get them from it.")
    result.sentences.append("Every computer that sends or receives these topics needs its own "
                            "node, provisioned with the same two passwords.")
    return result


__all__ = ["ROLES", "UNAVAILABLE_NOTE", "EncryptionStatus", "ProvisionForm", "ProvisionResult",
           "default_node_id", "encryption_status", "key_topics_label", "list_nodes",
           "node_problem", "parse_topics", "profile_role", "profile_topics", "provision"]
