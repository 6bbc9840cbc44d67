"""``openmsi audit`` against a real broker: delivered, failed, missing, forged and garbage.

One topic holds files sent by a real watch job (which adds signed "sent"
records) and confirmed by a real destination (a Downloader signing receipts), a
file whose chunks do not add up to its SHA-512 (the destination's failure
receipt), a file sent after the destination stopped (missing), and, on the
receipts topic, forged and garbage records that must be counted and never
believed. The auditing machine knows the pairing codes
of the destination and of the sender.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import msgpack
import openmsistream_tools as omsi
import pytest
from helpers import chunks_of, produce_chunks, produce_raw, wait_until

from openmsi_gui.app import pairing
from openmsi_gui.cli.main import main
from openmsi_gui.cli.pair import receipt_options
from openmsi_gui.cli.parser import build_parser
from openmsi_gui.engine import admin
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.download.receipting import ReceiptOptions
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.jobs import WatchJob, WatchOptions
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.receipt_keys import SigningIdentity
from openmsi_gui.engine.receipts import Receipt, ReceiptStatus, open_receipt, seal_receipt, trusted
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.topic_reader import TopicMissing, read_topic

GOOD = {"a.txt": b"alpha\n" * 300, "sub/b.bin": bytes(range(256)) * 40}
BAD = "bad.bin"
LATE = "late.txt"
DEST = "lab-archive"
SENDER = "instrument-pc:/data"


@dataclasses.dataclass
class Scenario:
    bootstrap: str
    topic: str
    identity: SigningIdentity
    sender: SigningIdentity
    sent_before: float  # between the failure and the good files


def count(config: KafkaConfig, topic: str) -> int:
    try:
        return read_topic(config, topic, lambda _m: None)
    except TopicMissing:
        return 0


def forged_and_garbage(identity: SigningIdentity, topic: str) -> list[tuple[str, bytes]]:
    """Four untrusted records: an impostor's key, an altered record, two kinds of garbage."""
    late = Receipt(DEST, topic, LATE, hashlib.sha512(b"late\n").digest(), 5, 0.0,
                   "/srv/late.txt", time.time(), ReceiptStatus.STORED)
    impostor = seal_receipt(late, SigningIdentity.generate(DEST))  # same name, other key
    genuine = seal_receipt(dataclasses.replace(late, relpath="other.txt"), identity)
    header, payload = msgpack.unpackb(genuine)
    record, signature = msgpack.unpackb(payload)
    altered_record = msgpack.packb([topic, LATE, *msgpack.unpackb(record)[2:]])
    altered = msgpack.packb([header, msgpack.packb([altered_record, signature])])
    return [("x", impostor), ("x", altered), ("x", b"\x00garbage"), ("x", b"{}")]


@pytest.fixture(scope="module")
def scenario(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    config = KafkaConfig.for_bootstrap(broker.bootstrap_servers)
    topic = f"audit-{uuid.uuid4().hex[:10]}"
    admin.create_topic(config, topic, 2)
    root = tmp_path_factory.mktemp("audit")
    outbox = root / "outbox"
    registry = Registry(root / "registry.sqlite3")
    identity = SigningIdentity.generate(DEST)
    mismatch = [dataclasses.replace(c, file_hash=hashlib.sha512(b"other").digest())
                for c in chunks_of(b"x" * 3000, BAD)]
    produce_chunks(config, topic, mismatch)
    time.sleep(0.05)
    sent_before = time.time()
    for relpath, data in GOOD.items():
        (outbox / relpath).parent.mkdir(parents=True, exist_ok=True)
        (outbox / relpath).write_bytes(data)
    sender = SigningIdentity.generate(SENDER)
    trust_sender = trusted(sender.public)
    watch = WatchJob(config, outbox, WatchOptions(topic, upload_existing=True, chunk_size=4096,
                                                  sent_records=ReceiptOptions(sender)),
                     EventBus(), registry)
    watch.start()
    try:
        wait_until(lambda: watch.sent_records is not None
                   and watch.sent_records.produced == len(GOOD), timeout=60,
                   message="the sent records")
    finally:
        watch.stop()
    sent = []
    read_topic(config, f"{topic}.receipts",
               lambda m: sent.append(open_receipt(m.value(), trust_sender)))
    assert [(r.status, r.destination) for r in sent if isinstance(r, Receipt)] == [
        (ReceiptStatus.SENT, SENDER)] * len(GOOD)
    downloader = Downloader(config, topic, root / "inbox", EventBus(), registry,
                            group_id=f"audit-{uuid.uuid4().hex[:8]}",
                            receipts=ReceiptOptions(identity))
    downloader.start()
    try:
        wait_until(lambda: count(config, f"{topic}.receipts") >= len(GOOD) + 1, timeout=60,
                   message="the destination's receipts")
    finally:
        downloader.stop()
        registry.close()
    produce_chunks(config, topic, chunks_of(b"late\n", LATE))
    produce_raw(config, f"{topic}.receipts", forged_and_garbage(identity, topic))
    return Scenario(broker.bootstrap_servers, topic, identity, sender, sent_before)


@pytest.fixture
def auditor(tmp_path: Path, scenario: Scenario) -> Path:
    """A machine paired with the destination and the sender (its keychain lasts one test)."""
    pairing.trust(scenario.identity.public.pairing_code(), tmp_path / "auditor")
    pairing.trust(scenario.sender.public.pairing_code(), tmp_path / "auditor")
    return tmp_path / "auditor"


def audit(capsys: pytest.CaptureFixture[str], scenario: Scenario, data_dir: Path,
          *extra: str) -> tuple[int, str, str]:
    code = main(["--data-dir", str(data_dir), "audit", "--bootstrap-servers",
                 scenario.bootstrap, "--topic", scenario.topic, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def row_of(out: str, relpath: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith(relpath + " ")]
    return line


def test_rows_say_delivered_failed_and_missing(capsys: pytest.CaptureFixture[str],
                                               scenario: Scenario, auditor: Path) -> None:
    code, out, _ = audit(capsys, scenario, auditor, "--expect", DEST)
    assert code == 1
    header = out.splitlines()[0].split()
    assert header == ["path", "size", "sha512", "sent", DEST]
    for relpath, data in GOOD.items():
        line = row_of(out, relpath)
        assert f" {len(data)} " in line
        assert hashlib.sha512(data).hexdigest()[:12] in line
        assert "delivered 20" in line
    assert "failed: " in row_of(out, BAD)
    assert "SHA-512" in row_of(out, BAD)
    assert row_of(out, LATE).endswith("missing")
    summary = out.splitlines()[-1]
    assert summary.startswith("4 files sent, 2 confirmed by every expected destination, "
                              "1 failed, 1 missing; 4 receipts not trusted (")
    assert "2 not a receipt" in summary
    assert "1 forged or altered" in summary
    assert "1 from a destination or sender not paired here" in summary


def test_forged_receipts_never_confirm(capsys: pytest.CaptureFixture[str],
                                       scenario: Scenario, auditor: Path) -> None:
    code, out, _ = audit(capsys, scenario, auditor, "--json")
    report = json.loads(out)
    assert code == 1
    late = next(f for f in report["files"] if f["path"] == LATE)
    assert late["destinations"][DEST]["status"] == "missing"
    assert late["confirmed"] is False
    assert report["summary"]["untrusted_receipts"] == {
        "not a receipt": 2, "forged or altered (its signature does not match)": 1,
        "from a destination or sender not paired here": 1}


def test_json_report(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
                     scenario: Scenario, auditor: Path) -> None:
    code, out, _ = audit(capsys, scenario, auditor, "--json", "--expect", f"{DEST},ghost")
    assert code == 1
    assert "'ghost' is expected but not paired here" in caplog.text
    assert f"'{DEST}' is expected" not in caplog.text
    report = json.loads(out)
    assert report["topic"] == scenario.topic
    assert report["receipts_topic"] == f"{scenario.topic}.receipts"
    assert report["expected"] == [DEST, "ghost"]
    files = {f["path"]: f for f in report["files"]}
    assert set(files) == {*GOOD, BAD, LATE}
    a = files["a.txt"]
    assert a["size"] == len(GOOD["a.txt"])
    assert a["sha512"] == hashlib.sha512(GOOD["a.txt"]).hexdigest()
    assert a["sent_by"] == "sent record"
    assert a["sender"] == SENDER
    assert a["on_topic"] is True
    assert files[BAD]["sent_by"] == "data topic"
    assert a["destinations"][DEST]["status"] == "delivered"
    assert a["destinations"][DEST]["stored_at"].endswith("inbox/a.txt")
    assert a["destinations"]["ghost"] == {"status": "missing", "time": None, "reason": "",
                                          "stored_at": ""}
    assert files[BAD]["destinations"][DEST]["status"] == "failed"
    assert report["summary"]["files"] == 4
    assert report["summary"]["confirmed"] == 0
    assert report["summary"]["missing"] == 4
    assert report["summary"]["clean"] is False


def test_since_and_csv(capsys: pytest.CaptureFixture[str], scenario: Scenario, auditor: Path,
                       tmp_path: Path) -> None:
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(scenario.sent_before - 0.999))
    csv_path = tmp_path / "audit.csv"
    code, _, _ = audit(capsys, scenario, auditor, "--since", since, "--csv", str(csv_path))
    assert code == 1
    lines = csv_path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == f"path,size,sha512,sent,{DEST}"
    assert {line.split(",")[0] for line in lines[1:]} <= {*GOOD, BAD, LATE}
    assert {*GOOD, LATE} <= {line.split(",")[0] for line in lines[1:]}


def test_an_unpaired_machine_trusts_nothing(capsys: pytest.CaptureFixture[str],
                                            caplog: pytest.LogCaptureFixture,
                                            scenario: Scenario, tmp_path: Path) -> None:
    code, out, _ = audit(capsys, scenario, tmp_path / "stranger", "--expect", DEST)
    assert code == 1
    assert "no destination is paired here" in caplog.text
    assert [line.endswith("missing") for line in out.splitlines()[1:-1]] == [True] * 4
    assert out.splitlines()[-1].endswith(
        "4 missing; 9 receipts not trusted (7 from a destination or sender not paired here, "
        "2 not a receipt)")


@pytest.mark.parametrize(("extra", "words"), [
    (["--since", "yesterday"], "is not a date"),
])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], scenario: Scenario,
                             auditor: Path, extra: list[str], words: str) -> None:
    code, _, err = audit(capsys, scenario, auditor, *extra)
    assert code == 2
    assert words in err


def test_a_missing_topic_exits_2(capsys: pytest.CaptureFixture[str], scenario: Scenario,
                                 auditor: Path) -> None:
    code = main(["--data-dir", str(auditor), "audit", "--bootstrap-servers",
                 scenario.bootstrap, "--topic", "no-such-topic-here"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "does not exist" in err


def test_watch_signs_its_sent_records_with_its_name(tmp_path: Path) -> None:
    parser = build_parser()
    folder = tmp_path / "outbox"
    named = parser.parse_args(["--data-dir", str(tmp_path), "watch", str(folder),
                               "--bootstrap-servers", "x:1", "--topic", "t", "--name", "pc-7"])
    options = receipt_options(named, str(folder))
    assert options is not None
    assert options.identity.name == "pc-7"
    default = parser.parse_args(["--data-dir", str(tmp_path), "watch", str(folder),
                                 "--bootstrap-servers", "x:1", "--topic", "t"])
    made = receipt_options(default, str(folder))
    assert made is not None
    assert made.identity.name.endswith(f":{folder}")
    none = parser.parse_args(["watch", str(folder), "--bootstrap-servers", "x:1", "--topic",
                              "t", "--no-receipts"])
    assert receipt_options(none, str(folder)) is None


@pytest.mark.interop
def test_files_from_openmsistream_are_found_from_the_data_topic(
        capsys: pytest.CaptureFixture[str], broker: EmbeddedBroker, kafka_config: KafkaConfig,
        make_topic: Callable[..., str], tmp_path: Path, registry: Registry) -> None:
    omsi.interop_venv()
    config = omsi.write_config(tmp_path / "omsi.config", broker.bootstrap_servers)
    topic = make_topic(2)
    first = tmp_path / "scan 1.tif"
    first.write_bytes(os.urandom(70_000))
    omsi.run_upload_file(first, config, topic, chunk_size=16384,
                         log_file=tmp_path / "logs" / "first.log")
    identity = SigningIdentity.generate(DEST)
    downloader = Downloader(kafka_config, topic, tmp_path / "inbox", EventBus(), registry,
                            group_id=f"audit-{uuid.uuid4().hex[:8]}",
                            receipts=ReceiptOptions(identity))
    downloader.start()
    try:
        wait_until(lambda: count(kafka_config, f"{topic}.receipts") >= 1, timeout=60,
                   message="the receipt of the openmsistream file")
    finally:
        downloader.stop()
    produce_chunks(kafka_config, topic, chunks_of(b"late\n", LATE))  # after it stopped
    auditor = tmp_path / "auditor"
    pairing.trust(identity.public.pairing_code(), auditor)
    code = main(["--data-dir", str(auditor), "audit", "--config", str(config), "--topic",
                 topic, "--expect", DEST, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    files = {f["path"]: f for f in report["files"]}
    assert set(files) == {first.name, LATE}
    assert files[first.name]["sent_by"] == "data topic"
    assert files[first.name]["size"] == 70_000
    assert files[first.name]["sha512"] == hashlib.sha512(first.read_bytes()).hexdigest()
    assert files[first.name]["destinations"][DEST]["status"] == "delivered"
    assert files[LATE]["destinations"][DEST]["status"] == "missing"
    assert report["summary"]["untrusted_receipts"] == {}


def test_openmsi_upload_adds_sent_records(capsys: pytest.CaptureFixture[str],
                                          broker: EmbeddedBroker, make_topic: Callable[..., str],
                                          tmp_path: Path) -> None:
    topic = make_topic(1)
    (tmp_path / "run").mkdir()
    scan = tmp_path / "run" / "scan.tif"
    scan.write_bytes(b"s" * 10_000)
    sender_dir = tmp_path / "sender"
    assert main(["--data-dir", str(sender_dir), "upload", str(scan), "--root", str(tmp_path),
                 "--bootstrap-servers", broker.bootstrap_servers, "--topic", topic,
                 "--name", "pc-9"]) == 0
    made = pairing.identity("pc-9", sender_dir, create=False)
    assert made is not None
    auditor = tmp_path / "auditor"
    pairing.trust(made.public.pairing_code(), auditor)
    capsys.readouterr()
    code = main(["--data-dir", str(auditor), "audit", "--bootstrap-servers",
                 broker.bootstrap_servers, "--topic", topic, "--expect", DEST, "--json"])
    (row,) = json.loads(capsys.readouterr().out)["files"]
    assert code == 1
    assert (row["path"], row["size"], row["sent_by"], row["sender"]) == (
        "run/scan.tif", 10_000, "sent record", "pc-9")
    assert row["destinations"][DEST]["status"] == "missing"
    # On the sending machine itself, its own sent records are believed without pairing.
    assert main(["--data-dir", str(sender_dir), "audit", "--bootstrap-servers",
                 broker.bootstrap_servers, "--topic", topic, "--json"]) == 1
    (row,) = json.loads(capsys.readouterr().out)["files"]
    assert (row["sent_by"], row["sender"]) == ("sent record", "pc-9")


def test_sent_records_only_skips_the_data_topic(capsys: pytest.CaptureFixture[str],
                                                scenario: Scenario, auditor: Path) -> None:
    code, out, _ = audit(capsys, scenario, auditor, "--json", "--sent-records-only",
                         "--expect", DEST)
    report = json.loads(out)
    assert code == 0  # the two files with a sent record were both delivered
    assert {f["path"] for f in report["files"]} == set(GOOD)
    assert all(f["on_topic"] is False for f in report["files"])  # not read
