"""S3 destinations against a real S3-compatible server (SeaweedFS) and the real broker."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from helpers import Recorder, wait_until
from s3server import SeaweedS3
from test_transfer import running, upload_tree, write_sample_tree

from openmsi_gui.engine.downloader import Downloader, RetryDelays
from openmsi_gui.engine.events import EventBus, FileCompleted, FileWaiting
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.s3 import (
    SIDECAR_SUFFIX,
    S3Error,
    S3Location,
    S3Store,
    explain,
    probe_bucket,
    staging_dir,
)

MiB = 1024 * 1024


def objects(location: S3Location, server: SeaweedS3) -> dict[str, bytes]:
    """Every object under the location's prefix, by key relative to the prefix."""
    client = server.client()
    found = {}
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=location.bucket, Prefix=location.prefix + "/")
    for page in pages:
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=location.bucket, Key=item["Key"])["Body"].read()
            found[item["Key"].removeprefix(location.prefix + "/")] = body
    return found


def pending_uploads(location: S3Location, server: SeaweedS3) -> list[dict[str, Any]]:
    response = server.client().list_multipart_uploads(Bucket=location.bucket,
                                                      Prefix=location.prefix + "/")
    return list(response.get("Uploads", []))


def test_probe_explains_wrong_secret_missing_bucket_and_bad_endpoint(
        s3_location: S3Location) -> None:
    probe_bucket(s3_location)  # the right keys pass
    with pytest.raises(S3Error, match="refused the secret key"):
        probe_bucket(dataclasses.replace(s3_location, secret_access_key="wrong-secret"))
    with pytest.raises(S3Error, match="does not know the access key"):
        probe_bucket(dataclasses.replace(s3_location, access_key_id="AKIANOBODY"))
    with pytest.raises(S3Error, match="'no-such-bucket' does not exist"):
        probe_bucket(dataclasses.replace(s3_location, bucket="no-such-bucket"))
    with pytest.raises(S3Error, match="not a valid bucket name"):
        probe_bucket(dataclasses.replace(s3_location, bucket="Bad_Bucket"))


@pytest.mark.parametrize(("code", "sentence"), [
    ("RequestTimeTooSkewed", "this computer's clock is wrong"),
    ("ExpiredToken", "credentials have expired"),
    ("AuthorizationHeaderMalformed", "in another region"),
    ("SlowDown", "S3 refused the request (SlowDown): Please reduce your request rate."),
])
def test_explain_names_what_aws_may_answer(code: str, sentence: str) -> None:
    """Answers SeaweedFS does not give, from real AWS error codes."""
    from botocore.exceptions import ClientError

    error = ClientError({"Error": {"Code": code, "Message": "Please reduce your request rate."},
                         "ResponseMetadata": {"HTTPStatusCode": 403}}, "PutObject")
    assert sentence in explain(error, S3Location(bucket="lab-data"))


def test_explain_names_an_untrusted_endpoint_certificate() -> None:
    from botocore.exceptions import SSLError

    error = SSLError(endpoint_url="https://s3.lab:9000", error="certificate verify failed")
    text = explain(error, S3Location(bucket="b", endpoint_url="https://s3.lab:9000"))
    assert "https://s3.lab:9000" in text
    assert "not trusted" in text


def test_probe_explains_unreachable_endpoint(s3_location: S3Location) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = dataclasses.replace(s3_location, endpoint_url=f"http://127.0.0.1:{port}")
    store = S3Store(dead, "t")
    store.client.meta.config.retries["max_attempts"] = 1
    with pytest.raises(S3Error, match="cannot reach the S3 endpoint"):
        store.check()


def test_put_small_and_multipart_objects_verified_with_metadata(
        s3_location: S3Location, s3_server: SeaweedS3, tmp_path: Path) -> None:
    store = S3Store(s3_location, "topic-a", part_size=5 * MiB, workers=3)
    small, big = tmp_path / "small.bin", tmp_path / "big.bin"
    small.write_bytes(os.urandom(1000))
    big.write_bytes(os.urandom(17 * MiB + 123))  # 4 parts, the last one short
    for path, relpath in ((small, "small.bin"), (big, "sub/big.bin")):
        digest = hashlib.sha512(path.read_bytes()).digest()
        url = store.put(path, relpath, digest, 1_700_000_000.5)
        assert url == f"s3://{s3_location.bucket}/{s3_location.prefix}/topic-a/{relpath}"
        assert store.exists(relpath, path.stat().st_size, digest)
        head = s3_server.client().head_object(Bucket=s3_location.bucket,
                                              Key=store.key(relpath))
        assert head["Metadata"]["sha512"] == digest.hex()
        assert head["Metadata"]["mtime"] == "1700000000.500000"
    assert objects(s3_location, s3_server) == {
        "topic-a/small.bin": small.read_bytes(), "topic-a/sub/big.bin": big.read_bytes()}
    assert not store.exists("small.bin", 1000, b"\0" * 64)
    assert not list(tmp_path.glob("*" + SIDECAR_SUFFIX))


def test_interrupted_multipart_upload_resumes_after_restart(
        s3_location: S3Location, s3_server: SeaweedS3, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(26 * MiB))
    digest = hashlib.sha512(path.read_bytes()).digest()
    first = S3Store(s3_location, "t", part_size=5 * MiB, workers=1)
    calls = {"n": 0}

    def stop_after_two() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    with pytest.raises(S3Error, match="resumes on restart"):
        first.put(path, "big.bin", digest, 0.0, stopping=stop_after_two)
    assert path.with_name("big.bin" + SIDECAR_SUFFIX).is_file()
    assert len(pending_uploads(s3_location, s3_server)) == 1

    # A new process: only the missing parts are sent.
    second = S3Store(s3_location, "t", part_size=5 * MiB, workers=2)
    sent: list[int] = []
    real_upload_part = second.client.upload_part

    def counting_upload_part(**kwargs: Any) -> Any:
        sent.append(kwargs["PartNumber"])
        return real_upload_part(**kwargs)

    monkeypatch.setattr(second.client, "upload_part", counting_upload_part)
    second.put(path, "big.bin", digest, 0.0)
    assert sorted(sent) == [3, 4, 5, 6]
    assert objects(s3_location, s3_server) == {"t/big.bin": path.read_bytes()}
    assert pending_uploads(s3_location, s3_server) == []
    assert not path.with_name("big.bin" + SIDECAR_SUFFIX).exists()


def test_recover_aborts_uploads_whose_file_is_gone(
        s3_location: S3Location, s3_server: SeaweedS3, tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    path = staging / "gone.bin"
    path.write_bytes(os.urandom(11 * MiB))
    store = S3Store(s3_location, "t", part_size=5 * MiB, workers=1)
    with pytest.raises(S3Error):
        store.put(path, "gone.bin", b"x" * 64, 0.0, stopping=lambda: True)
    kept = staging / "kept.bin"
    kept.write_bytes(os.urandom(11 * MiB))
    with pytest.raises(S3Error):
        store.put(kept, "kept.bin", b"y" * 64, 0.0, stopping=lambda: True)
    assert len(pending_uploads(s3_location, s3_server)) == 2
    path.unlink()
    assert store.recover(staging) == 1
    remaining = pending_uploads(s3_location, s3_server)
    assert [u["Key"] for u in remaining] == [store.key("kept.bin")]
    assert not (staging / ("gone.bin" + SIDECAR_SUFFIX)).exists()


def s3_downloader(kafka_config: KafkaConfig, topic: str, location: S3Location, bus: EventBus,
                  registry: Registry, data_dir: Path, group: str,
                  delays: RetryDelays | None = None, **store_kwargs: Any) -> Downloader:
    store = S3Store(location, topic, **store_kwargs)
    return Downloader(kafka_config, topic, staging_dir(location, topic, data_dir), bus,
                      registry, group_id=group, store=store,
                      delays=delays or RetryDelays())


def test_files_from_kafka_land_in_the_bucket_byte_exact(
        kafka_config: KafkaConfig, topic: str, tmp_path: Path, bus: EventBus,
        recorder: Recorder, registry: Registry, s3_location: S3Location,
        s3_server: SeaweedS3) -> None:
    files = write_sample_tree(tmp_path / "src")
    big = os.urandom(40 * MiB + 7)  # a 9-part multipart upload (5 MiB parts)
    (tmp_path / "src" / "run" / "big.raw").parent.mkdir()
    (tmp_path / "src" / "run" / "big.raw").write_bytes(big)
    files["run/big.raw"] = big
    upload_tree(kafka_config, topic, tmp_path / "src", bus, registry, chunk_size=1 << 20)
    down = s3_downloader(kafka_config, topic, s3_location, bus, registry, tmp_path / "data",
                         "g-s3", part_size=5 * MiB)
    with running(down):
        wait_until(lambda: down.files_received == len(files), message="all files in S3")
    assert objects(s3_location, s3_server) == {f"{topic}/{k}": v for k, v in files.items()}
    completed = {e.relpath: e.path for e in recorder.of(FileCompleted)
                 if e.path.startswith("s3://")}
    assert completed["run/big.raw"] == (f"s3://{s3_location.bucket}/{s3_location.prefix}/"
                                        f"{topic}/run/big.raw")
    staged = [p for p in down.dest.rglob("*") if p.is_file()]
    assert staged == []
    history = {row.relpath: row.status for row in registry.history()
               if row.direction == "download"}
    assert set(history.values()) == {"done"}


def test_failed_upload_is_retried_and_offsets_wait_for_the_object(
        kafka_config: KafkaConfig, topic: str, tmp_path: Path, bus: EventBus,
        recorder: Recorder, registry: Registry, s3_location: S3Location,
        s3_server: SeaweedS3, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(30_000))
    upload_tree(kafka_config, topic, src, bus, registry)
    data_dir = tmp_path / "data"

    # S3 refuses every upload: the file waits, and the group commits nothing.
    broken = s3_downloader(kafka_config, topic, s3_location, bus, registry, data_dir, "g-r",
                           delays=RetryDelays(store=(0.3,)))
    real_put = S3Store.put
    failures = {"n": 0}

    def failing_put(self: S3Store, *args: Any, **kwargs: Any) -> str:
        failures["n"] += 1
        raise S3Error("S3 refused the request (InternalError): try later")

    monkeypatch.setattr(S3Store, "put", failing_put)
    with running(broken):
        wait_until(lambda: failures["n"] >= 3, message="retries")
    waiting = recorder.of(FileWaiting)
    assert waiting
    assert "InternalError" in waiting[0].reason
    assert "retrying in" in waiting[0].reason
    assert objects(s3_location, s3_server) == {}

    # Restart with S3 working: the file is re-read from the uncommitted offsets.
    monkeypatch.setattr(S3Store, "put", real_put)
    fixed = s3_downloader(kafka_config, topic, s3_location, bus, registry, data_dir, "g-r")
    with running(fixed):
        wait_until(lambda: fixed.files_received == 1, message="file stored after restart")
    assert objects(s3_location, s3_server) == {f"{topic}/a.bin": (src / "a.bin").read_bytes()}


def test_missing_bucket_stops_the_download_from_starting(
        kafka_config: KafkaConfig, topic: str, tmp_path: Path, bus: EventBus,
        registry: Registry, s3_location: S3Location) -> None:
    missing = dataclasses.replace(s3_location, bucket="not-there")
    down = s3_downloader(kafka_config, topic, missing, bus, registry, tmp_path, "g-m")
    with pytest.raises(S3Error, match="'not-there' does not exist"):
        down.start()


def test_object_keys_follow_openmsistream_layout() -> None:
    plain = S3Location(bucket="b")
    assert plain.object_key("topic", "sub/x.csv") == "topic/sub/x.csv"
    assert plain.url == "s3://b"
    prefixed = S3Location(bucket="b", prefix="/lab1/")
    assert prefixed.object_key("topic", "x.csv") == "lab1/topic/x.csv"
    assert prefixed.url == "s3://b/lab1"
    assert "secret" not in repr(S3Location(bucket="b", secret_access_key="secret"))
    assert S3Location(bucket="b", endpoint_url="s3.example.org").endpoint == (
        "https://s3.example.org")


def test_parts_stay_within_s3_limits() -> None:
    from openmsi_gui.engine.s3 import MAX_PARTS, MIN_PART_SIZE, _parts

    parts = _parts(5 * 1024**4, 8 * MiB)  # 5 TiB
    assert len(parts) <= MAX_PARTS
    assert all(p.length >= MIN_PART_SIZE for p in parts[:-1])
    assert sum(p.length for p in parts) == 5 * 1024**4



def test_cli_download_s3_with_openmsistream_s3_section(
        broker: Any, topic: str, tmp_path: Path, s3_server: SeaweedS3,
        s3_location: S3Location, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli_helpers import background, run, stop_gracefully, write_config

    config = write_config(tmp_path / "lab.config", broker.bootstrap_servers)
    # OpenMSIStream's [s3] section, secrets from the environment.
    with config.open("a") as handle:
        handle.write("\n[s3]\naccess_key_id = $TEST_S3_KEY\nsecret_key_id = $TEST_S3_SECRET\n"
                     f"endpoint_url = {s3_server.endpoint_url}\nregion = us-east-1\n")
    monkeypatch.setenv("TEST_S3_KEY", s3_server.access_key)
    monkeypatch.setenv("TEST_S3_SECRET", s3_server.secret_key)
    data = os.urandom(700_000)
    (tmp_path / "scan.tif").write_bytes(data)
    assert run(["upload", str(tmp_path / "scan.tif"), "--config", str(config), "--topic", topic],
               tmp_path / "state").returncode == 0
    args = ["download-s3", "--config", str(config), "--topic", topic, "--bucket",
            s3_location.bucket, "--prefix", s3_location.prefix, "--group", "cli-s3"]
    with background(args, tmp_path / "state") as proc:
        wait_until(lambda: objects(s3_location, s3_server), message="object in the bucket")
        code, _ = stop_gracefully(proc)
        output = proc.communicate()[0]
    assert code == 0, output
    assert objects(s3_location, s3_server) == {f"{topic}/scan.tif": data}

    monkeypatch.setenv("TEST_S3_SECRET", "not-the-secret")
    result = run(args, tmp_path / "state")
    assert result.returncode == 2
    assert "S3 refused the secret key" in result.stderr
    assert "Traceback" not in result.stderr
    result = run([*args[:-4], "--bucket", "Not_A_Bucket"], tmp_path / "state")
    assert result.returncode == 2
    assert "not a valid bucket name" in result.stderr


def test_a_checksum_mismatch_is_an_error_not_a_warning(
        s3_location: S3Location, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server reports bytes other than those sent (ETag): the put fails, to be retried."""
    store = S3Store(s3_location, "t", part_size=5 * MiB)
    small, big = tmp_path / "small.bin", tmp_path / "big.bin"
    small.write_bytes(os.urandom(1000))
    big.write_bytes(os.urandom(11 * MiB))
    real_put, real_complete = store.client.put_object, store.client.complete_multipart_upload

    def corrupt_etag(response: dict[str, Any]) -> dict[str, Any]:
        return {**response, "ETag": '"' + "0" * 32 + ('-3"' if "-" in response["ETag"]
                                                     else '"')}

    monkeypatch.setattr(store.client, "put_object",
                        lambda **kw: corrupt_etag(real_put(**kw)))
    monkeypatch.setattr(store.client, "complete_multipart_upload",
                        lambda **kw: corrupt_etag(real_complete(**kw)))
    for path in (small, big):
        digest = hashlib.sha512(path.read_bytes()).digest()
        with pytest.raises(S3Error, match=r"checksum \(ETag\) does not match"):
            store.put(path, path.name, digest, 0.0)
