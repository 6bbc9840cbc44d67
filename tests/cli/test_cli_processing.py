"""``openmsi download --then``, ``openmsi process`` and ``openmsi reprocess`` (real broker)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from cli_helpers import Running, run
from confluent_kafka import Consumer
from helpers import chunks_of, produce_chunks, tree_files, wait_until
from processing_helpers import marker_command

from openmsi_gui.cli.parser import build_parser
from openmsi_gui.cli.processing import processor_spec
from openmsi_gui.engine import admin
from openmsi_gui.engine.kafka_config import KafkaConfig

FILES = {"run1/a.txt": b"first file", "b.txt": b"second file"}


def results_of(config: KafkaConfig, topic: str, count: int) -> list[dict[str, object]]:
    consumer = Consumer({**config.consumer_settings(f"r-{uuid.uuid4().hex[:8]}"),
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    found: list[dict[str, object]] = []
    try:
        for _ in range(120):
            if len(found) >= count:
                break
            found += [json.loads(m.value()) for m in consumer.consume(10, timeout=0.5)
                      if m.error() is None]
    finally:
        consumer.close()
    return found


def test_download_then_a_command_and_reprocess_the_topic(kafka_config: KafkaConfig,
                                                         tmp_path: Path) -> None:
    topic = f"t-{uuid.uuid4().hex[:10]}"
    admin.create_topic(kafka_config, topic, 1)
    produce_chunks(kafka_config, topic, [c for r, d in FILES.items() for c in chunks_of(d, r)])
    dest, markers, data = tmp_path / "inbox", tmp_path / "markers", tmp_path / "data"
    servers = ["--bootstrap-servers", kafka_config.bootstrap_servers, "--topic", topic]
    down = Running(["download", str(dest), *servers, "--no-receipts",
                    "--then", marker_command(markers), "--then-timeout", "30s",
                    "--results-topic", f"{topic}.results"], data)
    try:
        wait_until(lambda: all((markers / r.replace("/", "_")).exists() for r in FILES),
                   timeout=60, message=f"the markers: {down.lines}")
        assert down.stop() == 0
    finally:
        down.close()
    assert tree_files(dest) == FILES
    results = results_of(kafka_config, f"{topic}.results", len(FILES))
    assert sorted(str(r["relpath"]) for r in results) == sorted(FILES)
    assert {r["status"] for r in results} == {"ok"}

    delivered = {p: p.stat().st_mtime_ns for p in dest.rglob("*")}
    again = tmp_path / "again"
    done = run(["reprocess", *servers, "--command", marker_command(again)], data, timeout=90)
    assert done.returncode == 0, done.stderr
    assert "processed again 2 files, 0 failed" in done.stdout
    assert {p.name for p in again.iterdir()} >= {"run1_a.txt", "b.txt"}
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*")} == delivered
    assert [p for p in (data / "processing").rglob("*") if p.is_file()] == []

    only = tmp_path / "only"  # a destination's download filter holds for reprocess too
    done = run(["reprocess", *servers, "--command", marker_command(only),
                "--download_regex", "run1/"], data, timeout=90)
    assert done.returncode == 0, done.stderr
    assert "processed again 1 files, 0 failed, 1 file skipped by the filter" in done.stdout
    assert {p.name for p in only.iterdir()} - {"marker.py"} == {"run1_a.txt"}


def test_process_keeps_nothing_but_results(kafka_config: KafkaConfig, tmp_path: Path) -> None:
    topic = f"t-{uuid.uuid4().hex[:10]}"
    admin.create_topic(kafka_config, topic, 1)
    produce_chunks(kafka_config, topic, [c for r, d in FILES.items() for c in chunks_of(d, r)])
    markers, data = tmp_path / "markers", tmp_path / "data"
    proc = Running(["process", "--bootstrap-servers", kafka_config.bootstrap_servers,
                    "--topic", topic, "--group", f"g-{uuid.uuid4().hex[:6]}",
                    "--command", marker_command(markers)], data)
    try:
        wait_until(lambda: all((markers / r.replace("/", "_")).exists() for r in FILES),
                   timeout=60, message=f"the markers: {proc.lines}")
        assert proc.stop() == 0
    finally:
        proc.close()
    assert list((data / "processing").glob("*/*")) == []  # its private area is empty
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "markers"]


@pytest.mark.parametrize(("flags", "expected"), [
    (["--results-topic", "r"], "--results-topic, --retry-failed and --then-memory need a "
                               "processor"),
    (["--then", "x {path}", "--then-memory", "lots"],
     "cannot read the memory limit 'lots': write a size with its unit such as 2G or 512M"),
    (["--then", "convert {file}"], "{file} is not a placeholder"),
    (["--then-plugin", "no-such-plugin"], "no plugin named 'no-such-plugin' is installed"),
    (["--then", "x {path}", "--results-topic", "t"], "another topic than the one read"),
])
def test_processing_flags_are_checked_in_one_sentence(flags: list[str], expected: str,
                                                      tmp_path: Path) -> None:
    done = run(["download", str(tmp_path / "d"), "--bootstrap-servers", "127.0.0.1:1",
                "--topic", "t", *flags], tmp_path / "data")
    assert done.returncode == 2
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("command", "flags", "limit"), [
    ("download", ["--then", "x {path}"], None),
    ("download-s3", ["--then-plugin", "p", "--then-memory", "512M"], 512 * 1024 ** 2),
    ("process", ["--group", "g", "--command", "x {path}", "--then-memory", "2G"], 2 << 30),
    ("reprocess", ["--command", "x {path}", "--then-memory", "none"], 0),
])
def test_then_memory_is_the_processors_memory_limit(command: str, flags: list[str],
                                                    limit: int | None) -> None:
    dest = {"download": ["d"], "download-s3": ["--bucket", "b"]}.get(command, [])
    args = build_parser().parse_args([command, *dest, "--bootstrap-servers", "h:1",
                                      "--topic", "t", *flags])
    assert args.then_memory == limit
    if not args.then_plugin:  # a plugin's name is checked against those installed
        spec = processor_spec(args, "t")
        assert spec is not None
        assert spec.memory_limit == limit
