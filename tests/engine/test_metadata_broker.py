"""Information sent with each file (metadata) and download filters, with the real broker.

One watched-folder-like upload with fixed fields, fields from the path and a
current sample goes to one destination folder with sidecars and receipts; the
same topic is read by an S3 destination (SeaweedFS). Hostile headers, a file
held until a sample is set, and a download filter get their own small topics.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import pytest
from helpers import Recorder, chunks_of, tree_files, wait_until
from test_receipts_broker import read_all
from test_transfer import running

from openmsi_gui.engine import wire
from openmsi_gui.engine.download.receipting import ReceiptOptions
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import EventBus, FilesFiltered, FileWaiting
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.metadata import HEADER, WAITING_FOR_SAMPLE, FolderMetadata
from openmsi_gui.engine.receipt_keys import SigningIdentity
from openmsi_gui.engine.receipts import Receipt
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.s3 import S3Location, S3Store
from openmsi_gui.engine.upload_types import UploadOutcome
from openmsi_gui.engine.uploader import Uploader

FILES = {"run12/S001/image.tif": b"tif" * 3000, "run12/notes.txt": "Grüße\n".encode() * 40,
         "loose.bin": bytes(range(256)) * 9}
FIXED = {"instrument": "SEM-2", "operator": "Ada Lovelace"}
PATTERN = r"^run(?P<run>\d+)/(?:(?P<specimen>S\d+)/)?"


def expected(relpath: str) -> dict[str, str]:
    fields = dict(FIXED)
    found = re.search(PATTERN, relpath)
    if found:
        fields.update({k: v for k, v in found.groupdict().items() if v is not None})
    fields["sample"] = "Ü-42"
    return fields


def send(config: KafkaConfig, topic: str, root: Path, registry: Registry,
         metadata: FolderMetadata) -> None:
    uploader = Uploader(config, topic, EventBus(), registry, chunk_size=4096, metadata=metadata)
    with running(uploader):
        for rel in FILES:
            uploader.submit(root, root / rel)
        assert uploader.wait_idle(60)
    assert {r.outcome for r in uploader.results()} == {UploadOutcome.SENT}


@pytest.fixture(scope="module")
def sent(broker: object, tmp_path_factory: pytest.TempPathFactory) -> tuple[KafkaConfig, str,
                                                                             Registry]:
    from openmsi_gui.engine import admin

    config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)  # type: ignore[attr-defined]
    topic = f"meta-{uuid.uuid4().hex[:10]}"
    admin.create_topic(config, topic, 2)
    root = tmp_path_factory.mktemp("instrument")
    for rel, data in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    registry = Registry(tmp_path_factory.mktemp("state") / "registry.sqlite3")
    send(config, topic, root, registry, FolderMetadata(FIXED, re.compile(PATTERN), "Ü-42"))
    return config, topic, registry


def test_metadata_reaches_sidecars_history_and_receipts(
        sent: tuple[KafkaConfig, str, Registry], tmp_path: Path) -> None:
    config, topic, registry = sent
    dest = tmp_path / "inbox"
    identity = SigningIdentity.generate(f"host:{dest}")
    downloader = Downloader(config, topic, dest, EventBus(), registry, group_id="g-meta",
                            receipts=ReceiptOptions(identity), sidecar=True)
    with running(downloader):
        wait_until(lambda: downloader.files_received == len(FILES), message="all files")
        receipts = read_all(config, f"{topic}.receipts", identity, len(FILES))
    got = tree_files(dest)
    for rel, data in FILES.items():
        assert got.pop(rel) == data
        assert json.loads(got.pop(rel + ".metadata.json")) == expected(rel)
    assert got == {}
    history = {(r.direction, r.relpath): json.loads(r.metadata) for r in registry.history()}
    for rel in FILES:
        assert history[("upload", rel)] == expected(rel)
        assert history[("download", rel)] == expected(rel)
    by_path = {r.relpath: r for r in receipts if isinstance(r, Receipt)}
    assert {rel: json.loads(by_path[rel].metadata) for rel in FILES} == {
        rel: expected(rel) for rel in FILES}


def test_metadata_reaches_s3_object_metadata(
        sent: tuple[KafkaConfig, str, Registry], s3_location: S3Location,
        tmp_path: Path) -> None:
    config, topic, registry = sent
    store = S3Store(s3_location, topic)
    downloader = Downloader(config, topic, tmp_path / "staging", EventBus(), registry,
                            group_id="g-meta-s3", store=store)
    with running(downloader):
        wait_until(lambda: downloader.files_received == len(FILES), message="all files")
    for rel in FILES:
        head = store.client.head_object(Bucket=s3_location.bucket, Key=store.key(rel))
        meta = head["Metadata"]
        assert meta.pop("sha512")
        assert meta.pop("mtime")
        assert {k: unquote(v) for k, v in meta.items()} == expected(rel)
        assert all(v.isascii() for v in meta.values())


def test_a_file_waits_for_the_current_sample(
        kafka_config: KafkaConfig, topic: str, tmp_path: Path, registry: Registry,
        bus: EventBus, recorder: Recorder) -> None:
    (tmp_path / "a.txt").write_bytes(b"measured")
    metadata = FolderMetadata(require_sample=True)
    uploader = Uploader(kafka_config, topic, bus, registry, metadata=metadata)
    with running(uploader):
        uploader.submit(tmp_path, tmp_path / "a.txt")
        wait_until(lambda: recorder.of(FileWaiting), message="the file to wait")
        assert [e.reason for e in recorder.of(FileWaiting)] == [WAITING_FOR_SAMPLE]  # type: ignore[attr-defined]
        assert not uploader.wait_idle(0.3)
        assert registry.history() == []
        metadata.set_sample("S-7")
        assert uploader.wait_idle(30)
    assert [r.outcome for r in uploader.results()] == [UploadOutcome.SENT]
    assert json.loads(registry.history()[0].metadata) == {"sample": "S-7"}


HOSTILE: dict[str, bytes] = {
    "huge.txt": json.dumps({"k": "v" * 20_000}).encode(),
    "not-json.txt": b"\xff\xfe not json",
    "nested.txt": json.dumps({"a": {"b": "c"}}).encode(),
    "list.txt": b'["a", "b"]',
    "control.txt": json.dumps({"op\x1b[31m": "line1\nline2\u202e"}).encode(),
}


def produce_with_headers(config: KafkaConfig, topic: str,
                         files: dict[str, tuple[bytes, bytes | None]]) -> None:
    from confluent_kafka import Producer

    producer = Producer(config.producer_settings())
    for rel, (data, header) in files.items():
        for chunk in chunks_of(data, rel, chunk_size=512):
            headers = [(HEADER, header)] if header is not None else None
            producer.produce(topic, key=wire.make_key(chunk.subdir, chunk.filename,
                                                      chunk.chunk_i, chunk.n_chunks),
                             value=wire.encode_chunk(chunk), partition=0, headers=headers)
    assert producer.flush(30) == 0


def test_hostile_headers_are_ignored_or_escaped(
        kafka_config: KafkaConfig, topic: str, tmp_path: Path, registry: Registry,
        bus: EventBus, caplog: pytest.LogCaptureFixture) -> None:
    files = {rel: (rel.encode() * 300, header) for rel, header in HOSTILE.items()}
    produce_with_headers(kafka_config, topic, files)
    dest = tmp_path / "inbox"
    downloader = Downloader(kafka_config, topic, dest, bus, registry, group_id="g-hostile",
                            sidecar=True)
    with running(downloader):
        wait_until(lambda: downloader.files_received == len(files), message="every file")
    got = tree_files(dest)
    for rel, (data, _) in files.items():
        assert got[rel] == data
    assert json.loads(got["control.txt.metadata.json"]) == {
        "op\\x1b[31m": "line1\\nline2\\u202e"}
    ignored = [r.getMessage() for r in caplog.records if "is ignored" in r.getMessage()]
    for rel in ("huge.txt", "not-json.txt", "nested.txt", "list.txt"):
        assert json.loads(got[rel + ".metadata.json"]) == {}
        assert sum(f"sent with {rel} is ignored" in line for line in ignored) == 1  # per file
    assert all("\n" not in line and "\x1b" not in line for line in ignored)


def test_download_filter_reads_past_other_files_and_counts_them(
        kafka_config: KafkaConfig, make_topic: Callable[..., str], tmp_path: Path,
        registry: Registry, bus: EventBus, recorder: Recorder) -> None:
    topic = make_topic(1)
    files = {"keep/a.txt": (b"a" * 2000, None), "skip/b.txt": (b"b" * 2000, None),
             "keepers.txt": (b"c", None), "x/keep/d.txt": (b"d" * 3000, None)}
    produce_with_headers(kafka_config, topic, files)
    dest = tmp_path / "inbox"
    wanted = re.compile("keep")  # from the start, as OpenMSIStream: x/keep/d.txt is left out
    downloader = Downloader(kafka_config, topic, dest, bus, registry, group_id="g-filter",
                            wanted=wanted)
    n_messages = sum(len(chunks_of(data, rel, chunk_size=512))
                     for rel, (data, _) in files.items())
    with running(downloader):
        wait_until(lambda: downloader.next_offsets.get(0) == n_messages, message="all read")
        wait_until(lambda: downloader.files_received == 2, message="the matching files")
    assert sorted(tree_files(dest)) == ["keep/a.txt", "keepers.txt"]
    assert downloader.files_filtered == 2
    assert [e.count for e in recorder.of(FilesFiltered)] == [1, 2]  # type: ignore[attr-defined]
    again = Downloader(kafka_config, topic, dest, bus, registry, group_id="g-filter",
                       wanted=wanted)
    with running(again):  # a file sent after them marks where reading resumed
        produce_with_headers(kafka_config, topic, {"keep/later.txt": (b"later", None)})
        wait_until(lambda: again.files_received == 1, message="the later file")
    assert again.files_filtered == 0


def test_the_first_good_header_of_any_chunk_wins(
        kafka_config: KafkaConfig, topic: str, tmp_path: Path, registry: Registry,
        bus: EventBus) -> None:
    from confluent_kafka import Producer

    plan = {"ab.txt": [b'{"run":"A"}', b'{"run":"B"}'], "late.txt": [None, b'{"run":"L"}'],
            "junk-first.txt": [b"junk", b'{"run":"J"}']}
    producer = Producer(kafka_config.producer_settings())
    for rel, headers in plan.items():
        for chunk, header in zip(chunks_of((rel.encode() * 200)[:1000], rel, chunk_size=512),
                                 headers, strict=True):
            producer.produce(topic, key=wire.make_key("", chunk.filename, chunk.chunk_i,
                                                      chunk.n_chunks),
                             value=wire.encode_chunk(chunk), partition=0,
                             headers=None if header is None else [(HEADER, header)])
    assert producer.flush(30) == 0
    dest = tmp_path / "inbox"
    downloader = Downloader(kafka_config, topic, dest, bus, registry, group_id="g-first",
                            sidecar=True)
    with running(downloader):
        wait_until(lambda: downloader.files_received == len(plan), message="every file")
    runs = {rel: json.loads((dest / f"{rel}.metadata.json").read_text("utf-8"))
            for rel in plan}
    assert runs == {"ab.txt": {"run": "A"}, "late.txt": {"run": "L"},
                    "junk-first.txt": {"run": "J"}}
