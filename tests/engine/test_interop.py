"""Files move both ways between OpenMSI GUI and the real ``openmsistream`` programs.

``openmsistream`` (GPL-3.0) runs only as subprocesses from its own venv; see
``openmsistream_tools``. Both directions use the same real broker fixture.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import openmsistream_tools as omsi
import pytest
from helpers import tree_files, wait_until
from test_receipts_broker import read_all
from test_transfer import running

from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.download.receipting import ReceiptOptions
from openmsi_gui.engine.downloader import Downloader
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.receipt_keys import SigningIdentity
from openmsi_gui.engine.receipts import FileIdentity, Receipt, ReceiptStatus
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.upload_types import UploadOutcome
from openmsi_gui.engine.uploader import Uploader

pytestmark = pytest.mark.interop


@pytest.fixture(scope="session")
def omsi_venv() -> Path:
    """The venv holding the real openmsistream (installed on first use)."""
    return omsi.interop_venv()


@pytest.fixture
def omsi_config(omsi_venv: Path, broker: EmbeddedBroker, tmp_path: Path) -> Path:
    return omsi.write_config(tmp_path / "omsi.config", broker.bootstrap_servers)


def sample_tree(root: Path, with_empty: bool) -> dict[str, bytes]:
    files = {
        "root.bin": os.urandom(200_000),
        "sub dir/ünïcödé µm.dat": os.urandom(70_000),
        "a/b/deep.txt": b"two levels down\n" * 100,
        "run 7/spectrum.csv": b"wavelength,counts\n" + b"532.1,1000\n" * 4000,
    }
    if with_empty:
        files["empty.dat"] = b""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def test_openmsistream_upload_directory_to_our_download(
        omsi_config: Path, kafka_config: KafkaConfig, make_topic: Callable[..., str],
        tmp_path: Path, bus: EventBus, registry: Registry) -> None:
    topic = make_topic(3)
    src = tmp_path / "instrument"
    files = sample_tree(src, with_empty=False)  # openmsistream never sends empty files
    single = tmp_path / "single scan.tif"
    single.write_bytes(os.urandom(300_000))
    # Small chunks so every file's chunks are spread over all three partitions.
    with omsi.UploadDirectory(src, omsi_config, topic, chunk_size=16384,
                              log_dir=tmp_path / "omsi-logs") as upload:
        upload.wait_uploaded(files)
    omsi.run_upload_file(single, omsi_config, topic, chunk_size=16384,
                         log_file=tmp_path / "omsi-logs" / "upload.log")
    expected = {**files, "single scan.tif": single.read_bytes()}
    dest = tmp_path / "dest"
    identity = SigningIdentity.generate("our-destination")
    downloader = Downloader(kafka_config, topic, dest, bus, registry, group_id="from-omsi",
                            receipts=ReceiptOptions(identity))
    downloader.start()
    try:
        wait_until(lambda: downloader.files_received == len(expected), timeout=60,
                   message="every openmsistream file")
    finally:
        downloader.stop()
    assert tree_files(dest) == expected
    # Files openmsistream produced get receipts too, which verify with the pairing code.
    receipts = read_all(kafka_config, f"{topic}.receipts", identity, len(expected))
    assert all(isinstance(r, Receipt) and r.status is ReceiptStatus.STORED for r in receipts)
    confirmed = {r.relpath for r in receipts if isinstance(r, Receipt) and r.confirms(
        FileIdentity(topic, r.relpath, hashlib.sha512(expected[r.relpath]).digest(),
                     len(expected[r.relpath])))}
    assert confirmed == set(expected)


def test_our_upload_to_openmsistream_download_directory(
        omsi_config: Path, kafka_config: KafkaConfig, make_topic: Callable[..., str],
        tmp_path: Path, bus: EventBus, registry: Registry) -> None:
    topic = make_topic(3)
    src = tmp_path / "instrument"
    files = sample_tree(src, with_empty=True)
    uploader = Uploader(kafka_config, topic, bus, registry, chunk_size=16384)
    with running(uploader):
        for rel in files:
            uploader.submit(src, src / rel)
        assert uploader.wait_idle(60)
    assert {r.outcome for r in uploader.results()} == {UploadOutcome.SENT}
    with omsi.DownloadDirectory(tmp_path / "omsi-out", omsi_config, topic, "from-us",
                                log_dir=tmp_path / "omsi-logs") as download:
        download.wait_for_files(files, timeout=90)
        assert not download.error_lines
    assert download.files() == files


def test_same_config_file_drives_both_tools(
        omsi_config: Path, broker: EmbeddedBroker, make_topic: Callable[..., str],
        tmp_path: Path) -> None:
    """`openmsi upload --config` accepts openmsistream's INI file unchanged."""
    import subprocess
    import sys

    topic = make_topic(1)
    data = os.urandom(100_000)
    (tmp_path / "x.bin").write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-m", "openmsi_gui", "--data-dir", str(tmp_path / "state"), "upload",
         str(tmp_path / "x.bin"), "--config", str(omsi_config), "--topic_name", topic],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    with omsi.DownloadDirectory(tmp_path / "omsi-out", omsi_config, topic, "cfg",
                                log_dir=tmp_path / "omsi-logs") as download:
        download.wait_for_files({"x.bin": data}, timeout=60)
