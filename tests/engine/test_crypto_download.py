"""Encrypted topics through the real jobs: round trip, late keys parked and retried."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from helpers import Recorder, tree_files, wait_until
from s3server import SeaweedS3
from test_crypto import PROV, ROT, encrypted_topic, nodes, started_cipher  # noqa: F401
from test_s3 import objects
from test_transfer import running

from openmsi_gui.app.controller import AppController
from openmsi_gui.app.settings import BrokerProfile, Destination, SettingsStore, WatchedFolder
from openmsi_gui.engine.download.receipting import ReceiptOptions
from openmsi_gui.engine.downloader import PARKED_ROW, Downloader, RetryDelays
from openmsi_gui.engine.events import (
    EventBus,
    FileDelivery,
    FileFailed,
    FileSkipped,
    FileWaiting,
    JobState,
    JobStatus,
)
from openmsi_gui.engine.jobs import DownloadJob, WatchJob, WatchOptions
from openmsi_gui.engine.kafka_config import KafkaConfig, default_nodes_dir
from openmsi_gui.engine.provision import provision_node
from openmsi_gui.engine.receipt_keys import SigningIdentity
from openmsi_gui.engine.receipt_listener import DeliveryWatch
from openmsi_gui.engine.receipts import trusted
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.s3 import S3Location
from openmsi_gui.engine.upload_types import UploadOutcome
from openmsi_gui.engine.uploader import Uploader

FILES = {"run1/scan.bin": b"\x00\x01secret bytes" * 5000, "notes.txt": "µm scan\n".encode() * 50}


def write(root: Path) -> None:
    for rel, data in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def send(config: KafkaConfig, topic: str, root: Path, bus: EventBus, registry: Registry) -> None:
    with started_cipher(config) as cipher:
        uploader = Uploader(config, topic, bus, registry, chunk_size=16384, cipher=cipher)
        with running(uploader):
            for rel in FILES:
                uploader.submit(root, root / rel)
            assert uploader.wait_idle(60)
        assert {r.outcome for r in uploader.results()} == {UploadOutcome.SENT}


@pytest.mark.slow
def test_jobs_encrypt_and_decrypt_from_the_config_node(
        nodes: tuple[KafkaConfig, KafkaConfig], encrypted_topic: str,  # noqa: F811
        tmp_path: Path, bus: EventBus, recorder: Recorder, registry: Registry) -> None:
    up_config, down_config = nodes
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir()
    identity = SigningIdentity.generate("encrypted-destination")
    download = DownloadJob(down_config, encrypted_topic, dest, bus, registry, group_id="g-enc",
                           receipts=ReceiptOptions(identity))
    watch = WatchJob(up_config, src, WatchOptions(
        encrypted_topic, stable_seconds=0.3, chunk_size=16384,
        delivery=DeliveryWatch(trusted(identity.public), "g-enc-receipts")), bus, registry)
    with running(download, watch):  # type: ignore[arg-type]
        write(src)
        wait_until(lambda: download.downloader.files_received == len(FILES), timeout=60,
                   message="decrypted files")
        # The receipts of an encrypted topic are sealed; the sender still opens them.
        wait_until(lambda: len(recorder.of(FileDelivery)) == len(FILES), timeout=30,
                   message="the deliveries")
    assert tree_files(dest) == FILES
    assert not recorder.of(FileFailed)
    assert {e.relpath for e in recorder.of(FileDelivery)  # type: ignore[attr-defined]
            } == set(FILES)
    consumer = Consumer({**down_config.consumer_settings("g-enc-raw"),
                         "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(f"{encrypted_topic}.receipts", 0, 0)])
    try:
        # As soon as one receipt per file is in (10 s at most), then half a second for extras.
        messages = consumer.consume(len(FILES), timeout=10)
        messages += consumer.consume(10, timeout=0.5)
        values = [m.value() for m in messages if m.error() is None]
    finally:
        consumer.close()
    assert len(values) == len(FILES)
    assert not any(b"scan.bin" in v or b"notes.txt" in v for v in values)


@pytest.mark.slow
def test_an_encrypted_topic_is_stored_in_an_s3_bucket(
        nodes: tuple[KafkaConfig, KafkaConfig], encrypted_topic: str,  # noqa: F811
        tmp_path: Path, bus: EventBus, recorder: Recorder, registry: Registry,
        s3_location: S3Location, s3_server: SeaweedS3) -> None:
    """Both features at once: decrypted from Kafka, stored in the bucket as plain files."""
    up_config, down_config = nodes
    src = tmp_path / "src"
    src.mkdir()
    download = DownloadJob(down_config, encrypted_topic, tmp_path / "staging", bus, registry,
                           group_id="g-enc-s3", s3=s3_location)
    watch = WatchJob(up_config, src, WatchOptions(encrypted_topic, stable_seconds=0.3,
                                                  chunk_size=16384), bus, registry)
    with running(download, watch):  # type: ignore[arg-type]
        write(src)
        wait_until(lambda: download.downloader.files_received == len(FILES), timeout=60,
                   message="decrypted files in the bucket")
    assert objects(s3_location, s3_server) == {f"{encrypted_topic}/{rel}": data
                                               for rel, data in FILES.items()}
    assert not recorder.of(FileFailed)


QUICK_PARKED = RetryDelays(parked=0.5)


@pytest.mark.slow
def test_messages_without_keys_are_kept_and_finish_when_keys_arrive(
        nodes: tuple[KafkaConfig, KafkaConfig], encrypted_topic: str,  # noqa: F811
        tmp_path: Path, bus: EventBus, recorder: Recorder, registry: Registry) -> None:
    up_config, down_config = nodes
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir()
    write(src)
    send(up_config, encrypted_topic, src, bus, registry)  # the producer is gone afterwards

    # No producer online: every message is parked (and its offset may be committed).
    with started_cipher(down_config, decrypt_wait=1.0) as cipher:
        first = Downloader(down_config, encrypted_topic, dest, bus, registry,
                           group_id="g-late", cipher=cipher, delays=QUICK_PARKED)
        with running(first):
            wait_until(lambda: registry.count_parked(encrypted_topic, "g-late",
                                                     first.dest_label) >= 3,
                       message="parked messages")
        parked = registry.count_parked(encrypted_topic, "g-late", first.dest_label)
    assert tree_files(dest) == {}
    waiting = [e for e in recorder.of(FileWaiting) if e.relpath == PARKED_ROW]
    assert waiting
    assert "decryption key" in waiting[0].reason
    assert not recorder.of(FileFailed)

    # Restart (the parked messages are in the registry), then the producer node comes back.
    with started_cipher(down_config, decrypt_wait=1.0) as cipher:
        second = Downloader(down_config, encrypted_topic, dest, bus, registry,
                            group_id="g-late", cipher=cipher, delays=QUICK_PARKED)
        with running(second), started_cipher(up_config) as producer:
            producer.serve_keys(encrypted_topic)
            wait_until(lambda: second.files_received == len(FILES), timeout=60,
                       message="files after the keys arrived")
    assert parked > 0
    assert tree_files(dest) == FILES
    assert registry.count_parked(encrypted_topic, "g-late", second.dest_label) == 0
    done = [e for e in recorder.of(FileSkipped) if e.relpath == PARKED_ROW]
    assert done
    assert not recorder.of(FileFailed)


def committed(config: KafkaConfig, topic: str, group: str) -> dict[int, int]:
    """The group's committed offset per partition of ``topic`` (negative: none)."""
    consumer = Consumer(config.consumer_settings(group))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        found = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in found}


def waits(recorder: Recorder) -> list[JobState]:
    return [e for e in recorder.of(JobState)
            if isinstance(e, JobState) and e.state is JobStatus.WAITING]


@pytest.mark.slow
def test_an_encrypted_topic_read_without_keys_waits_and_loses_nothing(
        nodes: tuple[KafkaConfig, KafkaConfig], encrypted_topic: str,  # noqa: F811
        kafka_config: KafkaConfig, tmp_path: Path, bus: EventBus, recorder: Recorder,
        registry: Registry) -> None:
    """No node: "this topic is encrypted", waiting, nothing committed; with keys, every file."""
    up_config, down_config = nodes
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir()
    write(src)
    send(up_config, encrypted_topic, src, bus, registry)
    plain = Downloader(kafka_config, encrypted_topic, dest, bus, registry, group_id="g-nokeys",
                       delays=RetryDelays(stall=(0.2, 0.5)))
    with running(plain):
        wait_until(lambda: len(waits(recorder)) >= 3,
                   message="the encrypted messages read again and still waiting")
    assert tree_files(dest) == {}
    assert plain.messages_rejected == 0
    assert not recorder.of(FileFailed)
    assert all(e.detail.startswith("this topic is encrypted: set up encryption")
               for e in waits(recorder))
    assert all(offset <= 0 for offset in committed(kafka_config, encrypted_topic,
                                                   "g-nokeys").values())

    # Encryption set up: the same group, now with a node, while the producer is online.
    with started_cipher(down_config, decrypt_wait=1.0) as cipher:
        keyed = Downloader(down_config, encrypted_topic, dest, bus, registry,
                           group_id="g-nokeys", cipher=cipher, delays=QUICK_PARKED)
        with running(keyed), started_cipher(up_config) as producer:
            producer.serve_keys(encrypted_topic)
            wait_until(lambda: keyed.files_received == len(FILES), timeout=60,
                       message="every file once encryption is set up")
    assert tree_files(dest) == FILES
    assert not recorder.of(FileFailed)


@pytest.mark.slow
def test_profiles_with_nodes_move_files_encrypted_through_the_controller(
        store: SettingsStore, controller: AppController, broker_profile: BrokerProfile,
        encrypted_topic: str, tmp_path: Path) -> None:  # noqa: F811
    """What the GUI does: two profiles naming nodes provisioned into the app's node folder."""
    for node_id, role in (("gui_up", "producer"), ("gui_down", "consumer")):
        provision_node(node_id, role, [encrypted_topic], ROT, PROV, default_nodes_dir())
    sender = dataclasses.replace(broker_profile, id="p-up", name="Lab (encrypted, up)",
                                 crypto_node_id="gui_up")
    receiver = dataclasses.replace(broker_profile, id="p-down", name="Lab (encrypted, down)",
                                   crypto_node_id="gui_down")
    (tmp_path / "out").mkdir()
    (tmp_path / "in").mkdir()
    settings = store.settings
    settings.profiles += [sender, receiver]
    settings.folders.append(WatchedFolder(path=str(tmp_path / "out"), profile_id=sender.id,
                                          topic=encrypted_topic, stable_seconds=0.3))
    settings.destinations.append(Destination(path=str(tmp_path / "in"), profile_id=receiver.id,
                                             topic=encrypted_topic, group_id="gui-enc"))
    store.update(settings)
    controller.start().result(60)
    write(tmp_path / "out")
    wait_until(lambda: tree_files(tmp_path / "in") == FILES, timeout=60,
               message="encrypted files through the app's jobs")


@pytest.mark.slow
def test_a_destination_waits_for_encryption_then_gets_every_file_once_its_profile_has_a_node(
        store: SettingsStore, controller: AppController, broker_profile: BrokerProfile,
        nodes: tuple[KafkaConfig, KafkaConfig], encrypted_topic: str,  # noqa: F811
        tmp_path: Path, bus: EventBus, recorder: Recorder, registry: Registry) -> None:
    """What the technician does: the app says the topic is encrypted; a node is set up."""
    up_config, _ = nodes
    src, inbox = tmp_path / "src", tmp_path / "in"
    src.mkdir()
    inbox.mkdir()
    write(src)
    send(up_config, encrypted_topic, src, bus, registry)
    settings = store.settings
    settings.profiles.append(broker_profile)
    settings.destinations.append(Destination(path=str(inbox), profile_id=broker_profile.id,
                                             topic=encrypted_topic, group_id="gui-nokeys"))
    store.update(settings)
    controller.start().result(60)
    wait_until(lambda: waits(recorder), message="the destination waiting")
    assert waits(recorder)[0].detail.startswith("this topic is encrypted")
    assert tree_files(inbox) == {}

    provision_node("gui_down2", "consumer", [encrypted_topic], ROT, PROV, default_nodes_dir())
    settings = store.settings
    settings.profiles = [dataclasses.replace(p, crypto_node_id="gui_down2")
                         if p.id == broker_profile.id else p for p in settings.profiles]
    with started_cipher(up_config) as producer:
        producer.serve_keys(encrypted_topic)
        store.update(settings)  # the destination restarts with the node
        wait_until(lambda: tree_files(inbox) == FILES, timeout=60,
                   message="every file once the profile has a node")
    assert not recorder.of(FileFailed)
    job = waits(recorder)[0].job
    states = [e.state for e in recorder.of(JobState) if isinstance(e, JobState) and e.job == job]
    assert states[-1] is JobStatus.RUNNING  # the wait is over (the app clears it)
