"""Provisioning KafkaCrypto nodes without prompts, the key topics, and ``openmsi provision``."""

from __future__ import annotations

import argparse
import base64
import configparser
import logging
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from openmsi_gui.cli.provision import add_parser, cmd_provision
from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import free_port
from openmsi_gui.engine.crypto import kafkacrypto_module
from openmsi_gui.engine.kafka_config import KafkaConfig, default_nodes_dir
from openmsi_gui.engine.provision import (
    ProvisionError,
    create_key_topics,
    missing_key_topics,
    provision_node,
)

ROT = "rot-password-123"
PROV = "prov-pw-456"
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


def node_config(folder: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(delimiters=(":",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(next(folder.glob("*.config")))
    return parser


def chain_of(folder: Path, node_id: str) -> tuple[bytes, bytes]:
    """The node's chain and trusted root entry, as stored."""
    parser = node_config(folder)

    def value(section: str, key: str) -> bytes:
        return base64.b64decode(parser[f"{node_id}-{section}"][key].removeprefix("base64#"))

    return value("chains", "chain0"), value("allowlist", "rot0")


@POSIX
def test_node_files_are_owner_only_and_secrets_stay_out_of_logs(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
        ) -> None:
    caplog.set_level(logging.DEBUG)
    folder = provision_node("lab_up", "producer", ["lab.raw"], ROT, PROV, tmp_path / "nodes")
    assert folder == tmp_path / "nodes" / "lab_up"
    assert sorted(p.name for p in (tmp_path / "nodes").iterdir()) == ["lab_up"]  # no leftovers
    assert sorted(p.name for p in folder.iterdir()) == [
        "lab_up.config", "lab_up.crypto", "lab_up.seed"]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    seed = (folder / "lab_up.seed").read_bytes()
    out = capsys.readouterr()
    shown = caplog.text + out.out + out.err
    for secret in (ROT, PROV, seed[-32:].hex(), (folder / "lab_up.crypto").read_bytes().hex()):
        assert secret not in shown
    for path in folder.iterdir():
        for password in (ROT, PROV):
            assert password.encode() not in path.read_bytes()
    assert "provisioned KafkaCrypto node lab_up" in caplog.text
    assert "kafkacrypto" not in {r.name.split(".")[0] for r in caplog.records}  # no noise


def test_chain_limits_role_and_topics_and_trusts_only_the_root(tmp_path: Path) -> None:
    chain_mod = kafkacrypto_module("kafkacrypto.chain")
    up = provision_node("up", "producer", ["lab.raw", "lab.proc"], ROT, PROV, tmp_path)
    down = provision_node("down", "consumer", ["lab"], ROT, PROV, tmp_path)
    both = provision_node("both", "both", [], ROT, PROV, tmp_path)
    stranger = provision_node("x", "producer", ["lab"], "another-root-pw", PROV, tmp_path)
    up_chain, rot = chain_of(up, "up")
    assert chain_of(down, "down")[1] == rot == chain_of(both, "both")[1]
    assert chain_of(stranger, "x")[1] != rot

    def allowed(chain: bytes, topic: str, usage: str) -> bool:
        try:
            chain_mod.process_chain(chain, topic, usage, allowlist=[rot])
        except ValueError:
            return False
        return True

    assert allowed(up_chain, "lab", "key-encrypt")
    assert not allowed(up_chain, "other", "key-encrypt")
    assert not allowed(up_chain, "lab", "key-encrypt-request")
    down_chain = chain_of(down, "down")[0]
    assert allowed(down_chain, "lab", "key-encrypt-request")
    assert allowed(down_chain, "lab", "key-encrypt-subscribe")
    assert not allowed(down_chain, "lab", "key-encrypt")
    both_chain = chain_of(both, "both")[0]
    assert all(allowed(both_chain, "anything", usage) for usage in (
        "key-encrypt", "key-encrypt-request", "key-encrypt-subscribe"))
    assert not allowed(chain_of(stranger, "x")[0], "lab", "key-encrypt")
    parser = node_config(up)
    assert parser["DEFAULT"]["node_id"] == "up"
    assert parser["up"]["cryptokey"] == "file#up.crypto"
    assert parser["up"]["ratchet"] == "file#up.seed"
    assert "up-kafka" in parser  # OpenMSIStream reads it; no broker settings in it
    assert "bootstrap_servers" not in parser["up-kafka"]
    assert "temporary" not in parser["up-allowlist"]
    # OpenMSIStream's key-exchange consumer must not start at the end of <root>.keys.
    assert parser["up-kafka-crypto-consumer"]["auto_offset_reset"] == "earliest"


def test_bad_arguments_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"rot_password": "short"}, "root-of-trust password needs 12"),
        ({"provisioning_password": "12345"}, "provisioning password needs 6"),
        ({"role": "admin"}, "role 'admin' is not one of producer, consumer, both"),
        ({"node_id": "../escape"}, "node id '../escape' is not usable"),
        ({"node_id": "a b"}, "is not usable"),
        ({"key_type": 2}, "key type 2 is not one of"),
    ]
    for change, message in cases:
        kwargs: dict[str, object] = {
            "node_id": "n", "role": "producer", "topics": ["lab"], "rot_password": ROT,
            "provisioning_password": PROV, "dest_dir": tmp_path / "nodes", **change}
        with pytest.raises(ProvisionError, match=message):
            provision_node(**kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "nodes").exists()


def test_existing_node_is_kept_unless_replaced(tmp_path: Path) -> None:
    folder = provision_node("n", "producer", ["lab"], ROT, PROV, tmp_path)
    key = (folder / "n.crypto").read_bytes()
    with pytest.raises(ProvisionError, match="already exists"):
        provision_node("n", "consumer", ["lab"], ROT, PROV, tmp_path)
    assert (folder / "n.crypto").read_bytes() == key
    provision_node("n", "consumer", ["lab"], ROT, PROV, tmp_path, overwrite=True)
    assert (folder / "n.crypto").read_bytes() != key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n"]


def test_key_topics_are_created_once_with_one_partition(
        kafka_config: KafkaConfig, make_topic: Callable[..., str]) -> None:
    topic = make_topic(3)
    assert missing_key_topics(kafka_config, topic) == [
        f"{topic}.keys", f"{topic}.reqs", f"{topic}.subs"]
    first = create_key_topics(kafka_config, [topic, f"{topic}.processed"])  # one root
    assert first.ok
    assert first.created == [f"{topic}.keys", f"{topic}.reqs", f"{topic}.subs"]
    assert first.message == f"Created {topic}.keys, {topic}.reqs, {topic}.subs."
    topics = admin.list_topics(kafka_config)
    assert [topics[name] for name in first.created] == [1, 1, 1]
    again = create_key_topics(kafka_config, [topic])
    assert (again.ok, again.created, again.existed) == (True, [], first.created)
    assert missing_key_topics(kafka_config, topic) == []


def test_key_topics_on_an_unreachable_broker_give_a_sentence() -> None:
    config = KafkaConfig.for_bootstrap(f"127.0.0.1:{free_port()}")
    result = create_key_topics(config, ["lab"], timeout=0.5)
    assert not result.ok
    assert result.message.startswith("Could not create lab.keys, lab.reqs, lab.subs (")
    assert result.message.endswith("ask the broker's administrator to create them with 1 "
                                   "partition each.")


# -- openmsi provision ---------------------------------------------------------------------


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="openmsi")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return cmd_provision(parser.parse_args(["provision", *argv]))


def test_cli_provisions_with_passwords_from_the_environment(
        kafka_config: KafkaConfig, make_topic: Callable[..., str],
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    topic = make_topic(1)
    monkeypatch.setenv("OPENMSI_ROT_PASSWORD", ROT)
    monkeypatch.setenv("OPENMSI_PROVISIONING_PASSWORD", PROV)
    code = run_cli(["--node-id", "cli_node", "--role", "both", "--topic", topic,
                    "--create-key-topics", "--bootstrap-servers",
                    kafka_config.bootstrap_servers])
    out = capsys.readouterr()
    assert code == 0, out.err
    folder = default_nodes_dir() / "cli_node"
    assert (folder / "cli_node.seed").is_file()
    assert f"Provisioned encryption node 'cli_node' (both, topics {topic}) in {folder}" in out.out
    assert "  [kafkacrypto]\n  node_id = cli_node\n" in out.out
    assert f"Created {topic}.keys, {topic}.reqs, {topic}.subs." in out.out
    assert ROT not in out.out + out.err
    assert missing_key_topics(kafka_config, topic) == []


def test_cli_without_terminal_or_environment_says_which_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("OPENMSI_ROT_PASSWORD", raising=False)
    code = run_cli(["--node-id", "n", "--role", "producer", "--topic", "lab",
                    "--dest", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err == (
        "openmsi: error: no terminal to ask for the root-of-trust password: set "
        "$OPENMSI_ROT_PASSWORD\n")
    assert not list(tmp_path.iterdir())


def test_cli_refuses_a_topic_the_gui_would_refuse(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli(["--node-id", "n", "--role", "producer", "--topic", "bad topic!",
                    "--dest", str(tmp_path)])
    assert code == 2
    assert "is not a valid topic name" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_cli_outside_the_search_path_prints_config_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENMSI_ROT_PASSWORD", ROT)
    monkeypatch.setenv("OPENMSI_PROVISIONING_PASSWORD", PROV)
    code = run_cli(["--node-id", "far", "--role", "consumer", "--all-topics",
                    "--dest", str(tmp_path / "elsewhere")])
    out = capsys.readouterr().out
    assert code == 0
    assert "(consumer, topics ^.*$)" in out
    assert f"  config_file = {tmp_path / 'elsewhere' / 'far' / 'far.config'}\n" in out
    assert "rerun with --create-key-topics" in out
    assert run_cli(["--node-id", "far", "--role", "consumer", "--all-topics",
                    "--dest", str(tmp_path / "elsewhere")]) == 2
    assert "already exists" in capsys.readouterr().err
