"""Processors end to end through ``openmsi download`` (real broker, real child processes).

The README's example plugin, installed as a user would (into a folder on
``PYTHONPATH``), sends one result per file to a results topic, checked field by
field; a command that crashes, one that hangs past ``--then-timeout`` and a
plugin over its memory limit each fail that file's processing only; a download
killed (SIGKILL) while files are being processed processes them all after a
restart, and keeps no duplicate. Metadata sent by ``openmsi watch`` (fixed
fields, a path regex's groups, the current sample) reaches the command's
``{metadata_json}`` and the results; ``download-s3`` processes its staged copy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shlex
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import Running, quick_join_config
from helpers import chunks_of, produce_chunks, tree_files, wait_until
from plugin_helpers import EXAMPLE_PLUGIN, install_distribution, install_project
from processing_helpers import Result, Results, marker_command, recorded, recording_command
from s3server import SeaweedS3

from openmsi_gui.engine import admin
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.processing.api import result_key
from openmsi_gui.engine.s3 import S3Location

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and limits")


@pytest.fixture
def results_topic(kafka_config: KafkaConfig) -> Iterator[Results]:
    """A fresh results topic and its reader."""
    reader = Results.fresh(kafka_config)
    yield reader
    reader.close()


def send(config: KafkaConfig, files: dict[str, bytes]) -> str:
    """A fresh one-partition topic holding ``files`` (1 KiB chunks)."""
    topic = f"t-{uuid.uuid4().hex[:10]}"
    admin.create_topic(config, topic, 1)
    produce_chunks(config, topic, [c for r, d in files.items() for c in chunks_of(d, r)])
    return topic


def download(config: KafkaConfig, topic: str, dest: Path, data: Path, *flags: str,
             env: dict[str, str] | None = None) -> Running:
    config_file = quick_join_config(data.parent / "broker.config", config.bootstrap_servers)
    return Running(["download", str(dest), "--config", str(config_file), "--topic", topic,
                    "--group", f"g-{topic}", "--no-receipts", *flags],
                   data, env=env)


def by_relpath(results: list[Result]) -> dict[str, Result]:
    return {value["relpath"]: (key, value) for key, value in results}


EXAMPLE_FILES = {
    "S001/a.txt": b"first line\nsecond line\nthird, without a newline",
    "S001/run 2/spectrum.csv": b"".join(b"%d,%d\n" % (i, i * i) for i in range(900)),
    "top.txt": b"one line at the root\n",
    "S001/empty.dat": b"",
}


def lines_of(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def test_example_plugin_sends_one_result_per_file(kafka_config: KafkaConfig,
                                                  results_topic: Results,
                                                  tmp_path: Path) -> None:
    """The README's plugin, installed into a folder on PYTHONPATH, as a user would."""
    site = install_project(EXAMPLE_PLUGIN, tmp_path / "site")
    topic = send(kafka_config, EXAMPLE_FILES)
    dest = tmp_path / "inbox"
    started = dt.datetime.now(dt.UTC)
    down = download(kafka_config, topic, dest, tmp_path / "data", "--then-plugin",
                    "file-summary", "--then-timeout", "20s", "--results-topic",
                    results_topic.topic, env={"PYTHONPATH": os.pathsep.join(
                        filter(None, [os.environ.get("PYTHONPATH"), str(site)]))})
    try:
        found = by_relpath(results_topic.wait(len(EXAMPLE_FILES), what=down.lines))
        assert down.stop() == 0, down.lines
    finally:
        down.close()
    assert tree_files(dest) == EXAMPLE_FILES
    assert len(results_topic.found) == len(EXAMPLE_FILES)  # one message per file
    for relpath, data in EXAMPLE_FILES.items():
        key, value = found[relpath]
        assert key == result_key(relpath)
        assert value["relpath"] == relpath
        assert value["sha512"] == hashlib.sha512(data).hexdigest()
        assert value["size"] == len(data)
        assert value["processor"] == "file-summary"
        assert value["processor_version"] == "1.0.0"
        assert value["topic"] == topic
        assert value["metadata"] == {}
        assert value["host"] == socket.gethostname()
        assert value["destination"] == str(dest.resolve())  # without receipts: its folder
        when = dt.datetime.fromisoformat(value["time"])
        assert when.utcoffset() is not None  # ISO 8601 with its offset
        assert started - dt.timedelta(seconds=5) <= when <= dt.datetime.now(dt.UTC)
        if not data:
            assert value["status"] == "failed"
            assert value["reason"] == "The file is empty: there is nothing to summarise."
            assert value["result"] is None
            continue
        assert value["status"] == "ok"
        assert "reason" not in value
        head = data[:4096]
        assert value["result"] == {"size": len(data), "lines": lines_of(data),
                                   "head_sha256": hashlib.sha256(head).hexdigest(),
                                   "head_bytes": len(head), "sample": None}
    assert found["S001/run 2/spectrum.csv"][0] == "S001_run 2_spectrum.csv_chunk_processing_result"
    assert found["top.txt"][0] == "_top.txt_chunk_processing_result"


FAILING = """
import os, pathlib, signal, sys, time
path, relpath = pathlib.Path(sys.argv[1]), sys.argv[2]
if "crash" in relpath:
    print("about to crash", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGSEGV)
if "hang" in relpath:
    time.sleep(120)
print('{"bytes": %d}' % path.stat().st_size)
"""


def test_a_crash_or_a_hang_fails_only_that_file(kafka_config: KafkaConfig,
                                                results_topic: Results, tmp_path: Path) -> None:
    """A command killed by a signal, one stopped after --then-timeout: the others go on."""
    files = {"ok/1.txt": b"one", "crash.txt": b"crashes", "ok/2.txt": b"two",
             "hang.txt": b"hangs", "ok/3.txt": b"three"}
    script = tmp_path / "failing.py"
    script.write_text(FAILING, encoding="utf-8")
    topic = send(kafka_config, files)
    dest = tmp_path / "inbox"
    down = download(kafka_config, topic, dest, tmp_path / "data", "--then",
                    shlex.join([sys.executable, str(script), "{path}", "{relpath}"]),
                    "--then-timeout", "1s", "--results-topic", results_topic.topic)
    try:
        found = by_relpath(results_topic.wait(len(files), what=down.lines))
        assert down.proc.poll() is None  # still downloading
        assert down.stop() == 0, down.lines
    finally:
        down.close()
    assert tree_files(dest) == files  # every file downloaded
    statuses = {relpath: value["status"] for relpath, (_, value) in found.items()}
    assert statuses == {"ok/1.txt": "ok", "ok/2.txt": "ok", "ok/3.txt": "ok",
                        "crash.txt": "failed", "hang.txt": "failed"}
    assert found["ok/2.txt"][1]["result"] == {"bytes": 3}
    assert found["crash.txt"][1]["reason"] == "The command was ended by SIGSEGV: about to crash."
    assert found["hang.txt"][1]["reason"] == (
        "The command took longer than 1 s and was stopped: raise the timeout or check "
        "the command.")
    assert found["hang.txt"][1]["result"] is None


GREEDY = '''
from openmsi_gui.engine.processing.api import ProcessingResult


class Greedy:
    name = "greedy"
    version = "0.3"

    def process(self, file):
        if "big" in file.relpath:
            hoard = bytearray(3 * 1024 ** 3)  # past the 2 GiB a plugin may use
            return ProcessingResult.success({"hoarded": len(hoard)})
        return ProcessingResult.success({"size": file.size})
'''


def test_a_plugin_over_its_memory_limit_fails_only_that_file(
        kafka_config: KafkaConfig, results_topic: Results, tmp_path: Path) -> None:
    site = install_distribution(tmp_path / "site", "lab-greedy", "0.3.1",
                                {"lab_greedy.py": GREEDY}, {"greedy": "lab_greedy:Greedy"})
    files = {"small.txt": b"fits", "big.raw": b"asks for too much", "small2.txt": b"fits too"}
    topic = send(kafka_config, files)
    dest = tmp_path / "inbox"
    down = download(kafka_config, topic, dest, tmp_path / "data", "--then-plugin", "greedy",
                    "--then-timeout", "30s", "--results-topic", results_topic.topic,
                    env={"OPENMSI_GUI_PLUGIN_PATH": str(site)})
    try:
        found = by_relpath(results_topic.wait(len(files), what=down.lines))
        assert down.stop() == 0, down.lines
    finally:
        down.close()
    assert tree_files(dest) == files
    assert found["small.txt"][1]["status"] == found["small2.txt"][1]["status"] == "ok"
    assert found["small2.txt"][1]["result"] == {"size": 8}
    big = found["big.raw"][1]
    assert big["status"] == "failed"
    assert big["processor"] == "greedy"
    assert big["reason"] == ("The plugin 'greedy' ran out of memory on this file: raise its "
                             "memory limit or make it use less.")


def test_sigkill_while_processing_then_restart_processes_every_file(
        kafka_config: KafkaConfig, tmp_path: Path) -> None:
    """At least once: what was queued or running when the program died runs after a restart."""
    files = {f"run/{i:02d}.bin": bytes([i]) * (500 + i) for i in range(20)}
    markers = tmp_path / "markers"
    topic = send(kafka_config, files)
    dest, data = tmp_path / "inbox", tmp_path / "data"
    flags = ["--then", recording_command(markers), "--then-timeout", "30s"]

    def processed() -> set[str]:
        return recorded(markers)

    first = download(kafka_config, topic, dest, data, *flags)
    try:
        wait_until(processed, timeout=60, message=f"a file processed: {first.lines}")
        first.kill()
    finally:
        first.close()
    done_before = processed()
    assert len(done_before) < len(files), "everything was processed before the kill"

    again = download(kafka_config, topic, dest, data, *flags)
    try:
        wait_until(lambda: len(processed()) == len(files), timeout=60,
                   message=f"every file processed after the restart: {again.lines}")
        assert again.stop() == 0, again.lines
    finally:
        again.close()
    assert tree_files(dest) == files  # none lost, no duplicate beside them
    for relpath, content in files.items():
        assert (markers / relpath.replace("/", "_")).read_bytes() == content
    runs = (markers / "runs.log").read_text().split()
    assert set(runs) == set(files)  # each at least once (twice if killed while running)
    assert "verified but not processed yet: processing them now" in "\n".join(again.lines)


SHOW_METADATA = """
import json, sys
print(json.dumps({"relpath": sys.argv[1], "metadata": json.loads(sys.argv[2])}))
"""


def test_metadata_from_the_instrument_side_reaches_the_processor_and_results(
        kafka_config: KafkaConfig, results_topic: Results, tmp_path: Path) -> None:
    """Fixed fields, a path regex's groups, the current sample: {metadata_json}, results."""
    src = tmp_path / "outbox"
    files = {"S001/a.tif": b"image", "S002/b/c.txt": b"notes", "top.txt": b"no sample folder"}
    for relpath, data in files.items():
        (src / relpath).parent.mkdir(parents=True, exist_ok=True)
        (src / relpath).write_bytes(data)
    script = tmp_path / "show.py"
    script.write_text(SHOW_METADATA, encoding="utf-8")
    topic = f"t-{uuid.uuid4().hex[:10]}"
    admin.create_topic(kafka_config, topic, 1)
    data = tmp_path / "data"
    watch = Running(["watch", str(src), "--bootstrap-servers", kafka_config.bootstrap_servers,
                     "--topic", topic, "--upload-existing", "--stable-seconds", "0",
                     "--meta", "instrument=SEM-2", "--meta-from-path", r"^(?P<specimen>S\d+)/",
                     "--sample", "run-7"], tmp_path / "watch")
    down = download(kafka_config, topic, tmp_path / "inbox", data, "--then",
                    shlex.join([sys.executable, str(script), "{relpath}", "{metadata_json}"]),
                    "--results-topic", results_topic.topic)
    try:
        found = by_relpath(results_topic.wait(len(files), what=(watch.lines, down.lines)))
        assert watch.stop() == 0, watch.lines
        assert down.stop() == 0, down.lines
    finally:
        watch.close()
        down.close()
    for relpath in files:
        expected = {"instrument": "SEM-2", "sample": "run-7"}
        if relpath.startswith("S"):
            expected["specimen"] = relpath[:4]
        value = found[relpath][1]
        assert value["status"] == "ok", value
        assert value["metadata"] == expected
        assert value["result"] == {"relpath": relpath, "metadata": expected}  # {metadata_json}


def test_download_s3_processes_the_staged_copy_then_removes_it(
        kafka_config: KafkaConfig, results_topic: Results, s3_server: SeaweedS3,
        s3_location: S3Location, tmp_path: Path) -> None:
    """The processor runs on the verified local copy; the bucket gets the file, staging empties."""
    files = {"S001/a.csv": b"1,2\n3,4\n", "b.bin": bytes(range(256)) * 9}
    topic = send(kafka_config, files)
    markers, data = tmp_path / "markers", tmp_path / "data"
    config_file = quick_join_config(tmp_path / "broker.config", kafka_config.bootstrap_servers)
    s3 = Running(["download-s3", "--config", str(config_file), "--topic", topic,
                  "--bucket", s3_location.bucket, "--prefix", s3_location.prefix,
                  "--endpoint-url", s3_location.endpoint_url, "--region", s3_location.region,
                  "--access-key-id", s3_location.access_key_id, "--no-receipts",
                  "--then", marker_command(markers), "--results-topic", results_topic.topic],
                 data, env={"OPENMSI_S3_SECRET_ACCESS_KEY": s3_location.secret_access_key})
    try:
        found = by_relpath(results_topic.wait(len(files), what=s3.lines))
        assert s3.stop() == 0, s3.lines
    finally:
        s3.close()
    client = s3_server.client()
    for relpath, content in files.items():
        value = found[relpath][1]
        assert value["status"] == "ok", value
        assert value["result"] == {"bytes": len(content), "relpath": relpath}
        assert (markers / relpath.replace("/", "_")).read_bytes() == content
        key = f"{s3_location.prefix}/{topic}/{relpath}"
        assert client.get_object(Bucket=s3_location.bucket, Key=key)["Body"].read() == content
    assert (data / "s3-staging").is_dir()
    staged = [p for p in (data / "s3-staging").rglob("*") if p.is_file()]
    assert staged == []  # the staged copies were removed once processed
