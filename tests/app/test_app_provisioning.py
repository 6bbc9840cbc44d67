"""Provisioning encryption nodes from the GUI, without Qt (app.provisioning)."""

from __future__ import annotations

import logging
import stat
import sys
import time
import uuid
from pathlib import Path

import pytest

from openmsi_gui.app import provisioning
from openmsi_gui.app.keychain import KeychainError
from openmsi_gui.app.provisioning import ProvisionForm
from openmsi_gui.app.settings import BrokerProfile, Destination, Settings, WatchedFolder
from openmsi_gui.engine import admin, crypto
from openmsi_gui.engine import provision as engine_provision
from openmsi_gui.engine.broker import free_port
from openmsi_gui.engine.kafka_config import KafkaConfig, default_nodes_dir

ROT = "rot-password-123"
PROV = "prov-pw-456"
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


def good_form(**changes: object) -> ProvisionForm:
    form = ProvisionForm(node_id="lab-pc-producer", role="producer", topics_text="lab-data",
                         rot_password=ROT, rot_repeat=ROT, provisioning_password=PROV)
    for key, value in changes.items():
        setattr(form, key, value)
    return form


# -- small helpers ------------------------------------------------------------------


@pytest.mark.parametrize(("text", "topics"), [
    ("", []),
    ("  ", []),
    ("lab", ["lab"]),
    ("lab, lab.raw  other;third", ["lab", "lab.raw", "other", "third"]),
    ("a,,a, b\nb", ["a", "b"]),
])
def test_parse_topics(text: str, topics: list[str]) -> None:
    assert provisioning.parse_topics(text) == topics


def test_key_topics_label_names_the_first_root_and_counts_the_rest() -> None:
    assert provisioning.key_topics_label([]) == \
        "Create the key-exchange topics (<topic>.keys, .reqs, .subs)"
    assert provisioning.key_topics_label(["lab.raw"]) == \
        "Create the key-exchange topics (lab.keys, .reqs, .subs)"
    assert provisioning.key_topics_label(["lab.raw", "lab.proc", "xrd"]).endswith(
        "(lab.keys, .reqs, .subs, and the same for 1 more topic)")


@pytest.mark.parametrize(("hostname", "role", "taken", "expected"), [
    ("LabPC.example.org", "producer", (), "labpc-producer"),
    ("lab pc#3", "consumer", (), "lab-pc-3-consumer"),
    ("", "both", (), "node-both"),
    ("labpc", "producer", ("labpc-producer", "LABPC-PRODUCER-2"), "labpc-producer-3"),
])
def test_default_node_id(hostname: str, role: str, taken: tuple[str, ...],
                         expected: str) -> None:
    name = provisioning.default_node_id(role, taken, hostname=hostname)
    assert name == expected
    engine_provision.check_node_id(name)


def test_default_node_id_uses_this_computers_name() -> None:
    name = provisioning.default_node_id("producer")
    assert name.endswith("-producer")
    engine_provision.check_node_id(name)


def test_profile_topics_and_role() -> None:
    settings = Settings()
    lab, other = BrokerProfile(name="Lab"), BrokerProfile(name="Other")
    settings.profiles += [lab, other]
    assert provisioning.profile_topics(settings, lab.id) == []
    assert provisioning.profile_role(settings, lab.id) == "producer"
    settings.destinations.append(Destination(profile_id=lab.id, topic="lab-out"))
    assert provisioning.profile_role(settings, lab.id) == "consumer"
    settings.folders += [WatchedFolder(profile_id=lab.id, topic="lab-in"),
                         WatchedFolder(profile_id=lab.id, topic="lab-out"),
                         WatchedFolder(profile_id=other.id, topic="elsewhere")]
    assert provisioning.profile_topics(settings, lab.id) == ["lab-in", "lab-out"]
    assert provisioning.profile_role(settings, lab.id) == "both"
    assert provisioning.profile_role(settings, other.id) == "producer"


# -- the form ---------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"node_id": ""}, "node_id", "Enter a name"),
    ({"node_id": "-bad"}, "node_id", "starting with a letter or digit"),
    ({"node_id": "with space"}, "node_id", "letters, digits"),
    ({"node_id": "Taken"}, "node_id", "already exists"),
    ({"role": "controller"}, "role", "sends or receives"),
    ({"topics_text": "ok, bad/topic"}, "topics", "not a valid topic name"),
    ({"topics_text": "", "create_key_topics": True}, "topics", "Enter the topics"),
    ({"rot_password": "short-11ch", "rot_repeat": "short-11ch"}, "rot_password",
     "12 characters"),
    ({"rot_repeat": ROT + "x"}, "rot_repeat", "differ"),
    ({"provisioning_password": "12345"}, "provisioning_password", "6 characters"),
])
def test_form_errors_name_the_field(changes: dict[str, object], field: str,
                                    words: str) -> None:
    errors = good_form(**changes).errors(taken=["taken"])
    assert list(errors) == [field]
    assert words in errors[field]
    assert errors[field].endswith(".")


def test_a_good_form_has_no_errors_and_empty_topics_mean_every_topic() -> None:
    assert good_form().errors() == {}
    assert good_form(topics_text="").errors() == {}
    assert good_form(topics_text="").topics == []


def test_the_form_never_shows_its_passwords() -> None:
    form = good_form()
    assert ROT not in repr(form)
    assert PROV not in repr(form)
    form.clear_secrets()
    assert (form.rot_password, form.rot_repeat, form.provisioning_password) == ("", "", "")


# -- listing nodes ------------------------------------------------------------------


def test_list_nodes_finds_provisioned_nodes_only(tmp_path: Path) -> None:
    assert provisioning.list_nodes(tmp_path / "missing") == []
    engine_provision.provision_node("b_node", "consumer", None, ROT, PROV, tmp_path)
    engine_provision.provision_node("A-node", "producer", None, ROT, PROV, tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "stray.config").write_text("[DEFAULT]\n")
    (tmp_path / ".half.provisioning-x").mkdir()
    (tmp_path / ".half.provisioning-x" / ".half.provisioning-x.config").write_text("")
    assert provisioning.list_nodes(tmp_path) == ["A-node", "b_node"]


def test_list_nodes_defaults_to_the_apps_node_folder() -> None:
    engine_provision.provision_node("here", "producer", None, ROT, PROV, default_nodes_dir())
    assert provisioning.list_nodes() == ["here"]


def test_encryption_status_lists_nodes_and_says_which_are_missing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    engine_provision.provision_node("here", "producer", None, ROT, PROV, default_nodes_dir())
    status = provisioning.encryption_status(["here", "gone"])
    assert status.available
    assert status.nodes == ("here",)
    assert status.folder == default_nodes_dir()
    assert list(status.missing) == ["gone"]
    assert "“gone” was not found" in status.missing["gone"]
    assert str(default_nodes_dir()) in status.missing["gone"]
    monkeypatch.setattr(crypto, "kafkacrypto_available", lambda: False)
    assert not provisioning.encryption_status().available


def test_node_problem() -> None:
    assert provisioning.node_problem("") == ""
    assert "not found" in provisioning.node_problem("nowhere")
    engine_provision.provision_node("here", "both", None, ROT, PROV, default_nodes_dir())
    assert provisioning.node_problem("here") == ""


# -- provisioning ------------------------------------------------------------------


@POSIX
def test_provision_writes_an_owner_only_node_and_says_what_next(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    steps: list[str] = []
    result = provisioning.provision(good_form(topics_text="lab.raw lab.proc"),
                                    progress=steps.append)
    folder = default_nodes_dir() / "lab-pc-producer"
    assert result.ok
    assert result.complete
    assert result.folder == folder
    assert result.key_topics is None
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("lab-pc-producer.config", "lab-pc-producer.crypto", "lab-pc-producer.seed"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    text = result.message
    assert "Provisioned encryption node “lab-pc-producer” (sends files; topics: lab)" in text
    assert "lab.keys, lab.reqs, lab.subs (1 partition each)" in text
    assert "Keep OpenMSI running" in text
    assert "same two passwords" in text
    assert steps == ["Making the node's keys…"]
    for record in caplog.records:
        message = record.getMessage()
        assert ROT not in message
        assert PROV not in message
    assert provisioning.list_nodes() == ["lab-pc-producer"]


def test_provision_for_every_topic_of_a_receiver() -> None:
    result = provisioning.provision(good_form(role="consumer", topics_text=""))
    assert result.ok
    assert "(receives files; topics: every topic)" in result.message
    assert "Keep OpenMSI running" not in result.message
    assert ".keys" not in result.message


def test_provision_refusals_are_sentences(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    assert provisioning.provision(good_form(), tmp_path).ok
    again = provisioning.provision(good_form(), tmp_path)
    assert not again.ok
    assert again.folder is None
    assert again.message.startswith("Not provisioned: ")
    assert "already exists" in again.message

    def missing(_name: str = "kafkacrypto") -> None:
        raise crypto.CryptoSetupError(crypto.INSTALL_HINT)

    monkeypatch.setattr(engine_provision, "kafkacrypto_module", missing)
    result = provisioning.provision(good_form(node_id="other"), tmp_path)
    assert not result.ok
    assert result.message == ("Not provisioned: Encryption is not installed: run openmsi "
                              "encryption install, or Enable encryption… in the broker "
                              "profile.")


def test_provision_where_no_folder_can_be_made(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    result = provisioning.provision(good_form(), blocked)
    assert not result.ok
    assert result.message.startswith(f"Not provisioned: the node's files could not be "
                                     f"written in {blocked} (")


def test_provision_creates_the_key_topics_on_the_broker(kafka_config: KafkaConfig) -> None:
    root = f"k{uuid.uuid4().hex[:10]}"
    steps: list[str] = []
    result = provisioning.provision(
        good_form(topics_text=f"{root}.raw", create_key_topics=True),
        config=lambda: kafka_config, progress=steps.append)
    assert result.complete, result.message
    assert result.key_topics is not None
    assert sorted(result.key_topics.created) == [f"{root}.keys", f"{root}.reqs",
                                                 f"{root}.subs"]
    assert f"Created {root}.keys, {root}.reqs, {root}.subs." in result.message
    assert steps == ["Making the node's keys…", "Creating the key-exchange topics…"]
    topics = admin.list_topics(kafka_config)
    assert all(topics[f"{root}{suffix}"] == 1 for suffix in (".keys", ".reqs", ".subs"))


def test_key_topic_problems_keep_the_node_and_say_what_to_do(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provisioning, "KEY_TOPIC_TIMEOUT", 2.0)
    dead = KafkaConfig.for_bootstrap(f"127.0.0.1:{free_port()}")
    form = good_form(create_key_topics=True)
    started = time.monotonic()
    result = provisioning.provision(form, config=lambda: dead)
    assert time.monotonic() - started < 6  # one wait, not one per topic
    assert result.ok
    assert not result.complete
    assert result.key_topics is None
    assert "The key-exchange topics were not created: " in result.message
    assert "127.0.0.1" in result.key_topics_error

    def no_keychain() -> KafkaConfig:
        raise KeychainError("the system keychain is locked: unlock it")

    result = provisioning.provision(good_form(node_id="second", create_key_topics=True),
                                    config=no_keychain)
    assert result.ok
    assert not result.complete
    assert result.key_topics is None
    assert ("The key-exchange topics were not created: The system keychain is locked: "
            "unlock it.") in result.message
