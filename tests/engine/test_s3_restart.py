"""S3 uploads interrupted at the worst moments start over or finish, never stall (issue 11).

Against a real S3-compatible server (SeaweedFS) and the real broker.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from helpers import Recorder, wait_until
from s3server import SeaweedS3
from test_s3 import objects, pending_uploads, s3_downloader
from test_transfer import running

from openmsi_gui.engine.downloader import RetryDelays
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.s3 import SIDECAR_SUFFIX, S3Error, S3Location, S3Store
from openmsi_gui.engine.uploader import Uploader

MiB = 1024 * 1024


def _interrupted(store: S3Store, path: Path, relpath: str, digest: bytes) -> None:
    """Start a multipart upload of ``path`` and stop it after its first part."""
    calls = {"n": 0}

    def stop_after_one() -> bool:
        calls["n"] += 1
        return calls["n"] > 1

    with pytest.raises(S3Error, match="resumes on restart"):
        store.put(path, relpath, digest, 0.0, stopping=stop_after_one)


def test_an_expired_interrupted_upload_starts_over_and_lands(
        s3_location: S3Location, s3_server: SeaweedS3, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    path = staging / "big.bin"
    path.write_bytes(os.urandom(16 * MiB))
    digest = hashlib.sha512(path.read_bytes()).digest()
    _interrupted(S3Store(s3_location, "t", part_size=5 * MiB, workers=1), path, "big.bin",
                 digest)
    [upload] = pending_uploads(s3_location, s3_server)
    # While the service was down, a bucket rule aborted the upload.
    s3_server.client().abort_multipart_upload(Bucket=s3_location.bucket, Key=upload["Key"],
                                              UploadId=upload["UploadId"])

    restarted = S3Store(s3_location, "t", part_size=5 * MiB, workers=2)
    restarted.recover(staging)
    restarted.put(path, "big.bin", digest, 0.0)  # one attempt suffices
    assert objects(s3_location, s3_server) == {"t/big.bin": path.read_bytes()}
    assert pending_uploads(s3_location, s3_server) == []
    assert not path.with_name("big.bin" + SIDECAR_SUFFIX).exists()
    assert sum("had expired; it starts again" in r.getMessage() for r in caplog.records) == 1


def test_a_completed_upload_whose_record_stayed_is_not_sent_again(
        s3_location: S3Location, s3_server: SeaweedS3, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(11 * MiB))
    digest = hashlib.sha512(path.read_bytes()).digest()
    sidecar = path.with_name("big.bin" + SIDECAR_SUFFIX)
    first = S3Store(s3_location, "t", part_size=5 * MiB, workers=1)
    kept = tmp_path / "kept-record"
    real_complete = first.client.complete_multipart_upload

    def complete_then_crash(**kwargs: Any) -> Any:
        shutil.copy(sidecar, kept)  # the record as a crash right after this call leaves it
        return real_complete(**kwargs)

    monkeypatch.setattr(first.client, "complete_multipart_upload", complete_then_crash)
    first.put(path, "big.bin", digest, 0.0)
    shutil.copy(kept, sidecar)

    second = S3Store(s3_location, "t", part_size=5 * MiB, workers=1)
    sent: list[str] = []
    for name in ("create_multipart_upload", "upload_part", "put_object"):
        real = getattr(second.client, name)
        monkeypatch.setattr(second.client, name,
                            lambda _real=real, _name=name, **kw: (sent.append(_name),
                                                                  _real(**kw))[1])
    assert second.put(path, "big.bin", digest, 0.0).endswith("/t/big.bin")
    assert sent == []
    assert not sidecar.exists()
    assert objects(s3_location, s3_server) == {"t/big.bin": path.read_bytes()}


def _committed(kafka_config: KafkaConfig, topic: str, group: str) -> int:
    consumer = Consumer(kafka_config.consumer_settings(group))
    try:
        [tp] = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        return int(tp.offset)
    finally:
        consumer.close()


def test_a_crash_between_completing_and_removing_the_record_does_not_hold_offsets(
        kafka_config: KafkaConfig, make_topic: Any, tmp_path: Path, bus: EventBus,
        recorder: Recorder, registry: Registry, s3_location: S3Location,
        s3_server: SeaweedS3, monkeypatch: pytest.MonkeyPatch) -> None:
    topic = make_topic(1)
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(11 * MiB))
    uploader = Uploader(kafka_config, topic, bus, registry, chunk_size=1 << 20)
    with running(uploader):
        uploader.submit(src, src / "big.bin")
        assert uploader.wait_idle(60)

    real_put = S3Store.put
    crashes = {"n": 0}

    def put_then_crash(self: S3Store, path: Path, *args: Any, **kwargs: Any) -> str:
        sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
        real_complete = self.client.complete_multipart_upload

        def complete(**kw: Any) -> Any:
            shutil.copy(sidecar, sidecar.with_name("kept"))
            return real_complete(**kw)

        if crashes["n"] == 0:
            monkeypatch.setattr(self.client, "complete_multipart_upload", complete)
            real_put(self, path, *args, **kwargs)
            monkeypatch.setattr(self.client, "complete_multipart_upload", real_complete)
            os.replace(sidecar.with_name("kept"), sidecar)  # the record outlived the upload
            crashes["n"] += 1
            raise S3Error("the process died here")
        return real_put(self, path, *args, **kwargs)

    monkeypatch.setattr(S3Store, "put", put_then_crash)
    down = s3_downloader(kafka_config, topic, s3_location, bus, registry, tmp_path / "data",
                         "g-crash", delays=RetryDelays(store=(0.2,)), part_size=5 * MiB)
    with running(down):
        wait_until(lambda: down.files_received == 1, message="the file stored")
        wait_until(lambda: _committed(kafka_config, topic, "g-crash") == 11, timeout=20,
                   message="every offset committed")
    assert crashes["n"] == 1
    assert objects(s3_location, s3_server) == {f"{topic}/big.bin":
                                               (src / "big.bin").read_bytes()}
    assert not [p for p in down.dest.rglob("*") if p.is_file()]
