"""End-to-end encryption (KafkaCrypto) with real nodes and the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition
from test_transfer import running

from openmsi_gui.engine import wire
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.crypto import (
    INSTALL_HINT,
    CryptoSetupError,
    KafkaCryptoCipher,
    KeysNotReady,
    NotEncrypted,
    cipher_for,
    key_topics,
)
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.kafka_config import KafkaConfig, default_nodes_dir, load_config
from openmsi_gui.engine.provision import create_key_topics, provision_node
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.upload_types import UploadError, UploadOutcome
from openmsi_gui.engine.uploader import Uploader

ROT = "rot-password-for-tests"
PROV = "prov-password"


def node_ini(folder: Path, bootstrap: str, node_id: str) -> KafkaConfig:
    """An INI beside the node folders naming ``node_id``, loaded."""
    path = folder / f"{node_id}.ini"
    path.write_text(f"[broker]\nbootstrap.servers = {bootstrap}\n\n"
                    f"[kafkacrypto]\nnode_id = {node_id}\n", encoding="utf-8")
    return load_config(path)


@pytest.fixture
def encrypted_topic(kafka_config: KafkaConfig, make_topic: Callable[..., str]) -> str:
    """A fresh topic with its three key-exchange topics."""
    name = make_topic(3)
    assert create_key_topics(kafka_config, [name]).ok
    return name


@pytest.fixture
def nodes(tmp_path: Path, kafka_config: KafkaConfig,
          encrypted_topic: str) -> tuple[KafkaConfig, KafkaConfig]:
    """Configs for a producer node and a consumer node provisioned for the topic."""
    folder = tmp_path / "nodes"
    provision_node("lab_up", "producer", [encrypted_topic], ROT, PROV, folder)
    provision_node("lab_down", "consumer", [encrypted_topic], ROT, PROV, folder)
    return (node_ini(folder, kafka_config.bootstrap_servers, "lab_up"),
            node_ini(folder, kafka_config.bootstrap_servers, "lab_down"))


def consume_all(config: KafkaConfig, topic: str, count: int,
                timeout: float = 20.0) -> list[Message]:
    """``count`` raw messages from every partition of ``topic`` (no group join)."""
    consumer = Consumer(config.consumer_settings())
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        while len(messages) < count and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                messages.append(message)
    finally:
        consumer.close()
    return messages


def rebuild_files(config: KafkaConfig, topic: str, reader: KafkaCryptoCipher, n_files: int,
                  timeout: float = 60.0) -> dict[str, bytes]:
    """Consume, decrypt and reassemble until ``n_files`` files are complete."""
    consumer = Consumer(config.consumer_settings())
    chunks: dict[str, dict[int, wire.Chunk]] = {}
    complete: dict[str, bytes] = {}
    log: list[tuple[int, int, float]] = []
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        deadline = time.monotonic() + timeout
        while len(complete) < n_files:
            if time.monotonic() > deadline:
                pytest.fail(f"files not rebuilt in {timeout} s: chunks per file "
                            f"{ {rel: sorted(parts) for rel, parts in chunks.items()} }, "
                            f"messages {log}")
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            started = time.monotonic()
            _, value = reader.decrypt(topic, message.key(), message.value(), wait=30)
            log.append((message.partition(), message.offset(),
                        round(time.monotonic() - started, 2)))
            chunk = wire.decode_chunk(value)
            parts = chunks.setdefault(chunk.relpath, {})
            parts[chunk.chunk_i] = chunk
            if len(parts) == chunk.n_chunks:
                complete[chunk.relpath] = b"".join(parts[i].data for i in sorted(parts))
    finally:
        consumer.close()
    return complete


def started_cipher(config: KafkaConfig, decrypt_wait: float = 5.0) -> KafkaCryptoCipher:
    cipher = cipher_for(config, decrypt_wait=decrypt_wait)
    assert cipher is not None
    return cipher


def crypto_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("kafkacrypto")]


def test_encrypted_upload_decrypts_to_the_exact_chunks(
        nodes: tuple[KafkaConfig, KafkaConfig], encrypted_topic: str, tmp_path: Path,
        bus: EventBus, registry: Registry) -> None:
    up_config, down_config = nodes
    src = tmp_path / "src"
    files = {"scan.bin": os.urandom(40_000), "sub/notes.txt": b"secret notes\n" * 500}
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    assert down_config.crypto is not None
    assert down_config.crypto.config_file is not None
    down_settings = down_config.crypto.config_file.read_bytes()
    cipher = started_cipher(up_config)
    rebuilt: dict[str, bytearray] = {}
    try:  # the producer node stays online until the consumer has its keys
        uploader = Uploader(up_config, encrypted_topic, bus, registry, chunk_size=8192,
                            cipher=cipher)
        with running(uploader):
            for rel in files:
                uploader.submit(src, src / rel)
            assert uploader.wait_idle(30)
        assert {r.outcome for r in uploader.results()} == {UploadOutcome.SENT}
        expected = 5 + 1  # 40 000 B in 8 KiB chunks, and one chunk
        raw = consume_all(down_config, encrypted_topic, expected)
        assert len(raw) == expected
        for message in raw:  # nothing readable travels
            assert message.key()[:1] == b"\x01"
            assert b"secret notes" not in message.value()
            with pytest.raises(wire.BadMessage):
                wire.decode_chunk(message.value())
        with KafkaCryptoCipher(down_config.crypto, down_config) as reader:
            for message in raw:
                key, value = reader.decrypt(encrypted_topic, message.key(), message.value(),
                                            wait=15)
                chunk = wire.decode_chunk(value)
                assert key.decode() == wire.make_key(chunk.subdir, chunk.filename,
                                                     chunk.chunk_i, chunk.n_chunks)
                data = rebuilt.setdefault(chunk.relpath, bytearray())
                data[chunk.offset:chunk.offset + len(chunk.data)] = chunk.data
    finally:
        cipher.close()
    assert {rel: bytes(data) for rel, data in rebuilt.items()} == files
    assert not crypto_threads()
    assert down_config.crypto.config_file.read_bytes() == down_settings  # not rewritten


def test_untrusted_consumer_gets_keys_not_ready_quickly(
        tmp_path: Path, kafka_config: KafkaConfig, encrypted_topic: str,
        nodes: tuple[KafkaConfig, KafkaConfig]) -> None:
    up_config, _ = nodes
    other = tmp_path / "other"
    provision_node("stranger", "consumer", [encrypted_topic], "another-root-password", PROV,
                   other)
    stranger_config = node_ini(other, kafka_config.bootstrap_servers, "stranger")
    with started_cipher(up_config) as writer, \
            started_cipher(stranger_config, decrypt_wait=2) as reader:
        key, value = writer.encrypt(encrypted_topic, b"k", b"confidential")
        started = time.monotonic()
        with pytest.raises(KeysNotReady, match="waiting for the decryption key") as caught:
            reader.decrypt(encrypted_topic, key, value)
        assert 2 <= time.monotonic() - started < 4
        assert caught.value.topic == encrypted_topic
        started = time.monotonic()
        with pytest.raises(KeysNotReady):  # the same key index: no second wait
            reader.decrypt(encrypted_topic, key, value)
        assert time.monotonic() - started < 1


@pytest.mark.slow
def test_keys_arrive_when_the_producer_node_comes_back(
        nodes: tuple[KafkaConfig, KafkaConfig], encrypted_topic: str) -> None:
    """The downloader's park-and-retry: keys of an earlier run are served after a restart."""
    up_config, down_config = nodes
    with started_cipher(up_config) as writer:
        key, value = writer.encrypt(encrypted_topic, b"k", b"sent while nobody listened")
    with started_cipher(down_config) as reader:
        with pytest.raises(KeysNotReady):
            reader.decrypt(encrypted_topic, key, value, wait=1)
        with started_cipher(up_config) as restarted:
            restarted.serve_keys(encrypted_topic)
            deadline = time.monotonic() + 20
            while True:
                try:
                    opened = reader.decrypt(encrypted_topic, key, value, wait=0)
                    break
                except KeysNotReady:
                    assert time.monotonic() < deadline, "the restarted producer sent no key"
                    time.sleep(0.2)
    assert opened == (b"k", b"sent while nobody listened")


def test_plain_and_tampered_messages_are_never_decrypted(
        nodes: tuple[KafkaConfig, KafkaConfig], encrypted_topic: str) -> None:
    up_config, down_config = nodes
    with started_cipher(up_config) as writer, started_cipher(down_config) as reader:
        started = time.monotonic()
        with pytest.raises(NotEncrypted, match="not encrypted"):
            reader.decrypt(encrypted_topic, b"plain_key", b"plain value")
        assert time.monotonic() - started < 1
        key, value = writer.encrypt(encrypted_topic, b"k", b"v" * 100)
        assert reader.decrypt(encrypted_topic, key, value, wait=15) == (b"k", b"v" * 100)
        tampered = value[:-1] + bytes([value[-1] ^ 1])
        with pytest.raises(NotEncrypted, match="corrupt"):
            reader.decrypt(encrypted_topic, key, tampered)
        assert isinstance(NotEncrypted("x"), wire.BadMessage)


def test_ciphers_on_one_node_share_one_kafkacrypto(nodes: tuple[KafkaConfig, KafkaConfig],
                                                   encrypted_topic: str) -> None:
    up_config, _ = nodes
    first = cipher_for(up_config)
    second = cipher_for(up_config)
    assert first is not None
    assert second is not None
    assert crypto_threads() == ["kafkacrypto-lab_up"]
    first.close()
    first.close()
    assert second.encrypt(encrypted_topic, b"k", b"v")[0][:1] == b"\x01"
    second.close()
    assert not crypto_threads()
    with pytest.raises(RuntimeError, match="closed"):
        second.encrypt(encrypted_topic, b"k", b"v")


def test_uploader_refuses_an_encrypted_topic_without_key_topics(
        nodes: tuple[KafkaConfig, KafkaConfig], make_topic: Callable[..., str], bus: EventBus,
        registry: Registry) -> None:
    up_config, _ = nodes
    bare = make_topic(1)
    with started_cipher(up_config) as cipher:
        uploader = Uploader(up_config, bare, bus, registry, cipher=cipher)
        with pytest.raises(UploadError, match=rf"{bare}\.keys and {bare}\.reqs do not exist"):
            uploader.start()


def test_key_topics_are_named_after_the_topic_root() -> None:
    assert key_topics("lab") == ["lab.keys", "lab.reqs", "lab.subs"]
    assert key_topics("lab.raw.v2") == ["lab.keys", "lab.reqs", "lab.subs"]


# -- setup errors ---------------------------------------------------------------------


def test_missing_node_says_where_it_looked_and_how_to_provision(tmp_path: Path) -> None:
    ini = tmp_path / "lab.config"
    ini.write_text("[broker]\nbootstrap.servers = localhost:9\n[kafkacrypto]\n"
                   "node_id = nowhere\n", encoding="utf-8")
    config = load_config(ini)
    assert config.crypto is not None
    assert config.crypto.config_file is None
    with pytest.raises(CryptoSetupError) as caught:
        cipher_for(config)
    text = str(caught.value)
    assert "encryption node 'nowhere' was not found" in text
    assert str(tmp_path / "nowhere" / "nowhere.config") in text
    assert "openmsi provision --node-id nowhere" in text


@pytest.mark.parametrize(("suffix", "what"), [(".crypto", "the private key file"),
                                              (".seed", "the key seed file")])
def test_missing_secret_file_names_it(tmp_path: Path, suffix: str, what: str) -> None:
    folder = provision_node("half", "producer", ["lab"], ROT, PROV, tmp_path)
    (folder / f"half{suffix}").unlink()
    before = (folder / "half.config").read_bytes()
    config = node_ini(tmp_path, "localhost:9", "half")
    with pytest.raises(CryptoSetupError, match=rf"{what} half\{suffix} is missing from .*"
                                               r"copy all three node files"):
        cipher_for(config)
    assert not (folder / f"half{suffix}").exists()  # kafkacrypto did not make a new one
    assert (folder / "half.config").read_bytes() == before


def test_node_in_use_by_another_process(tmp_path: Path) -> None:
    folder = provision_node("busy", "producer", ["lab"], ROT, PROV, tmp_path)
    code = textwrap.dedent(f"""
        import fcntl, sys, time
        f = open({str(folder / "busy.config")!r}, "r+")
        fcntl.lockf(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        print("locked", flush=True)
        sys.stdin.read()
    """)
    if sys.platform == "win32":
        pytest.skip("POSIX locks")
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(CryptoSetupError, match="in use by another program"):
            cipher_for(node_ini(tmp_path, "localhost:9", "busy"))
    finally:
        holder.communicate("", timeout=10)


def test_without_kafkacrypto_the_engine_imports_and_explains(tmp_path: Path) -> None:
    folder = provision_node("solo", "producer", ["lab"], ROT, PROV, tmp_path)
    code = textwrap.dedent(f"""
        import sys
        sys.modules["kafkacrypto"] = None  # as in the bundled app
        import openmsi_gui.engine.uploader, openmsi_gui.engine.provision, openmsi_gui.cli.provision
        from openmsi_gui.engine.crypto import CryptoSetupError, cipher_for, kafkacrypto_available
        from openmsi_gui.engine.kafka_config import KafkaConfig, find_crypto_node
        assert not kafkacrypto_available()
        config = KafkaConfig.for_bootstrap("localhost:9")
        assert cipher_for(config) is None
        config.crypto = find_crypto_node(config_file={str(folder / "solo.config")!r})
        try:
            cipher_for(config)
        except CryptoSetupError as exc:
            print(exc)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == INSTALL_HINT == (
        "encryption is not installed: run openmsi encryption install, or Enable encryption… "
        "in the broker profile")


def test_without_libsodium_the_error_says_how_to_install_it(tmp_path: Path) -> None:
    (tmp_path / "pysodium.py").write_text("raise ValueError('Unable to find libsodium')\n")
    code = ("from openmsi_gui.engine.crypto import CryptoSetupError, kafkacrypto_module\n"
            "try:\n    kafkacrypto_module()\nexcept CryptoSetupError as exc:\n    print(exc)\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("encryption needs the libsodium library: install it "
                                    "(Debian/Ubuntu: apt install libsodium23;")


# -- finding the node from the INI file -------------------------------------------------


def make_node_dir(parent: Path, node_id: str) -> Path:
    folder = parent / node_id
    folder.mkdir(parents=True)
    (folder / f"{node_id}.config").write_text(f"[DEFAULT]\nnode_id : {node_id}\n")
    return folder / f"{node_id}.config"


def test_node_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ini = tmp_path / "conf" / "lab.config"
    ini.parent.mkdir()
    ini.write_text("[broker]\nbootstrap.servers = b:9092\n[kafkacrypto]\nnode_id = n\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    omsi_dir = tmp_path / "omsi"
    monkeypatch.setenv("OPENMSISTREAM_CONFIG_FILE_DIR", str(omsi_dir))
    expected = [omsi_dir / "n" / "n.config", ini.parent / "n" / "n.config",
                default_nodes_dir() / "n" / "n.config", cwd / "n" / "n.config"]
    node = load_config(ini).crypto
    assert node is not None
    assert node.config_file is None
    assert list(node.searched) == expected
    for where in (cwd, default_nodes_dir(), ini.parent, omsi_dir):  # last = highest priority
        made = make_node_dir(where, "n")
        node = load_config(ini).crypto
        assert node is not None
        assert node.config_file == made.resolve()
        assert node.folder == made.parent.resolve()
    assert KafkaConfig.for_bootstrap("b:9092").crypto is None


def test_config_file_option_wins_and_is_relative_to_the_ini(tmp_path: Path) -> None:
    made = make_node_dir(tmp_path / "keys", "m")
    make_node_dir(tmp_path, "n")
    ini = tmp_path / "lab.config"
    ini.write_text("[broker]\nbootstrap.servers = b:9092\n[kafkacrypto]\nnode_id = n\n"
                   "config_file = file#keys/m/m.config\n")
    config = load_config(ini)
    assert config.crypto is not None
    assert (config.crypto.node_id, config.crypto.config_file) == ("m", made.resolve())
    assert config.sections["kafkacrypto"]["node_id"] == "n"  # kept as before


# -- interoperability with the real openmsistream --------------------------------------------


@pytest.fixture
def omsi_encrypted(broker: EmbeddedBroker, tmp_path: Path, encrypted_topic: str,
                   kafka_config: KafkaConfig) -> tuple[Path, KafkaConfig, KafkaConfig]:
    """An openmsistream config with its own node beside it, and our two node configs.

    ``(omsi.config for omsi_node (prodcon), our producer config, our consumer config)``.
    """
    import openmsistream_tools as omsi

    omsi.interop_venv()
    folder = tmp_path / "omsi"
    provision_node("omsi_node", "both", [encrypted_topic], ROT, PROV, folder)
    config = omsi.write_config(folder / "omsi.config", broker.bootstrap_servers,
                               extra={"kafkacrypto": {"node_id": "omsi_node"}})
    ours = tmp_path / "ours"
    provision_node("our_up", "producer", [encrypted_topic], ROT, PROV, ours)
    provision_node("our_down", "consumer", [encrypted_topic], ROT, PROV, ours)
    return (config, node_ini(ours, broker.bootstrap_servers, "our_up"),
            node_ini(ours, broker.bootstrap_servers, "our_down"))


@pytest.mark.interop
@pytest.mark.slow
def test_our_encrypted_upload_to_openmsistream_download_directory(
        omsi_encrypted: tuple[Path, KafkaConfig, KafkaConfig], encrypted_topic: str,
        tmp_path: Path, bus: EventBus, registry: Registry) -> None:
    import openmsistream_tools as omsi

    omsi_config, up_config, _ = omsi_encrypted
    src = tmp_path / "src"
    files = {"scan.bin": os.urandom(70_000), "run 2/notes.txt": b"encrypted notes\n" * 300}
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    with started_cipher(up_config) as cipher:  # online while openmsistream asks for keys
        uploader = Uploader(up_config, encrypted_topic, bus, registry, chunk_size=16384,
                            cipher=cipher)
        with running(uploader):
            for rel in files:
                uploader.submit(src, src / rel)
            assert uploader.wait_idle(30)
        download = omsi.DownloadDirectory(tmp_path / "omsi-out", omsi_config, encrypted_topic,
                                          "from-us", log_dir=tmp_path / "omsi-logs")
        download.start()
        try:
            download.wait_for_files(files, timeout=60)
            assert not download.error_lines
        finally:
            # openmsistream 1.8.8 closes the KafkaCrypto of an encrypted download twice
            # on quitting and exits with 1 (AttributeError in ConsumerGroup.close).
            download.stop(check=False)
    assert download.files() == files
    assert "AttributeError" in download.output or download.returncode == 0
    assert not (tmp_path / "omsi-out" / "ENCRYPTED_MESSAGES").exists()


@pytest.mark.interop
@pytest.mark.slow
def test_openmsistream_encrypted_upload_decrypts_with_our_node(
        omsi_encrypted: tuple[Path, KafkaConfig, KafkaConfig], encrypted_topic: str,
        tmp_path: Path) -> None:
    import openmsistream_tools as omsi

    omsi_config, _, down_config = omsi_encrypted
    src = tmp_path / "instrument"
    files = {"a.bin": os.urandom(50_000), "sub/b.txt": b"from openmsistream\n" * 200}
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    with omsi.UploadDirectory(src, omsi_config, encrypted_topic, chunk_size=16384,
                              log_dir=tmp_path / "omsi-up-logs") as upload:
        upload.wait_uploaded(files)
        with started_cipher(down_config) as reader:  # while its producer node is online
            rebuilt = rebuild_files(down_config, encrypted_topic, reader, len(files))
    assert rebuilt == files
