"""What both programs do first: the open-files limit and the bundle's native libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from openmsi_gui.platform import bundle
from openmsi_gui.platform.bundle import bundled_find_library, find_in, missing_library
from openmsi_gui.platform.limits import MACOS_OPEN_MAX, OpenFilesLimit, raise_open_files_limit

INFINITY = -1


class FakeResource:
    """:mod:`resource` with settable limits; refuses soft limits above ``accept_up_to``."""

    RLIMIT_NOFILE = 7
    RLIM_INFINITY = INFINITY

    def __init__(self, soft: int, hard: int, accept_up_to: int | None = None) -> None:
        self.limits = (soft, hard)
        self.accept_up_to = accept_up_to
        self.tried: list[int] = []

    def getrlimit(self, resource: int, /) -> tuple[int, int]:
        assert resource == self.RLIMIT_NOFILE
        return self.limits

    def setrlimit(self, resource: int, limits: tuple[int, int], /) -> None:
        self.tried.append(limits[0])
        if self.accept_up_to is not None and limits[0] > self.accept_up_to:
            raise ValueError("not allowed")
        self.limits = limits


def test_soft_limit_goes_up_to_the_hard_limit() -> None:
    fake = FakeResource(1024, 524288)
    assert raise_open_files_limit(fake, "linux") == OpenFilesLimit(1024, 524288, 524288)
    assert fake.limits == (524288, 524288)


def test_macos_unlimited_hard_limit_gets_open_max() -> None:
    fake = FakeResource(256, INFINITY)
    assert raise_open_files_limit(fake, "darwin") == OpenFilesLimit(256, MACOS_OPEN_MAX, -1)
    assert fake.limits == (MACOS_OPEN_MAX, INFINITY)


def test_macos_falls_back_to_open_max_when_the_hard_limit_is_refused() -> None:
    fake = FakeResource(256, 100_000, accept_up_to=24_576)
    assert raise_open_files_limit(fake, "darwin") == OpenFilesLimit(256, MACOS_OPEN_MAX,
                                                                     100_000)
    assert fake.tried == [100_000, MACOS_OPEN_MAX]


def test_a_refused_limit_changes_nothing_and_raises_nothing() -> None:
    fake = FakeResource(256, 4096, accept_up_to=256)
    assert raise_open_files_limit(fake, "linux") == OpenFilesLimit(256, 256, 4096)
    assert fake.limits == (256, 4096)


def test_a_limit_already_at_the_hard_limit_is_left_alone() -> None:
    fake = FakeResource(4096, 4096)
    assert raise_open_files_limit(fake, "linux") == OpenFilesLimit(4096, 4096, 4096)
    assert fake.tried == []


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_NOFILE on Windows")
def test_the_cli_raises_a_low_soft_limit_at_start(tmp_path: Path) -> None:
    """A real process started with ``ulimit -Sn 256`` runs with its hard limit."""
    code = ("import resource, sys; from openmsi_gui.platform.startup import prepare_process; "
            "prepare_process(); soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE); "
            "print(soft, hard)")
    out = subprocess.run(["sh", "-c", f'ulimit -Sn 256 && "{sys.executable}" -c "{code}"'],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    soft, hard = (int(v) if v.isdigit() else -1 for v in out.split())
    assert soft > 256
    assert soft == hard or (hard == -1 and soft >= MACOS_OPEN_MAX)


def test_the_bundled_libsodium_is_found_first(tmp_path: Path) -> None:
    (tmp_path / "libsodium.so.23").write_bytes(b"")
    find = bundled_find_library(tmp_path, lambda name: f"/usr/lib/lib{name}.so")
    assert find("sodium") == str(tmp_path / "libsodium.so.23")
    assert find("libsodium") == str(tmp_path / "libsodium.so.23")
    assert find("ssl") == "/usr/lib/libssl.so"


@pytest.mark.parametrize("name", ["libsodium.so.23", "libsodium.26.dylib", "libsodium.dll",
                                  "libsodium-26.dll"])
def test_library_names_of_each_system(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    assert find_in(tmp_path, "sodium") == str(tmp_path / name)


def test_frozen_start_makes_ctypes_look_in_the_bundle(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes.util

    (tmp_path / "libsodium.so.23").write_bytes(b"")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.setattr(ctypes.util, "find_library", ctypes.util.find_library)
    monkeypatch.setattr(bundle.os, "add_dll_directory", lambda _path: None, raising=False)
    monkeypatch.setenv("PATH", "/usr/bin")
    assert bundle.use_bundled_libraries() == tmp_path
    assert bundle.use_bundled_libraries() == tmp_path  # a second call does not wrap it again
    assert ctypes.util.find_library("sodium") == str(tmp_path / "libsodium.so.23")
    assert missing_library(ValueError("Unable to find libsodium")) == (
        "the libsodium library (for encryption) could not be loaded: " + bundle.REINSTALL)


def test_not_frozen_changes_nothing() -> None:
    import ctypes.util

    before = ctypes.util.find_library
    assert bundle.use_bundled_libraries() is None
    assert ctypes.util.find_library is before


@pytest.mark.parametrize("error", [
    ImportError("DLL load failed while importing cimpl: The specified module could not be "
                "found."),
    ImportError("librdkafka.so.1: cannot open shared object file: No such file or directory"),
    ImportError("dlopen(cimpl.so): Library not loaded: @rpath/librdkafka.1.dylib"),
])
def test_a_missing_librdkafka_is_one_sentence(error: ImportError) -> None:
    sentence = missing_library(error)
    assert sentence is not None
    assert sentence.startswith("the Kafka library (librdkafka) could not be loaded: reinstall")


def test_a_missing_libsodium_says_how_to_install_it() -> None:
    sentence = missing_library(ValueError("Unable to find libsodium"))
    assert sentence is not None
    assert "apt install libsodium23" in sentence


def test_other_import_errors_are_not_explained() -> None:
    assert missing_library(ImportError("No module named 'yaml'")) is None


def test_the_launcher_says_one_sentence_for_a_missing_library(tmp_path: Path) -> None:
    """The bundle's CLI launcher, with confluent_kafka made unloadable, exits 2 with a sentence."""
    fake = tmp_path / "confluent_kafka"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "raise ImportError('DLL load failed while importing cimpl: The specified module could "
        "not be found.')\n")
    root = Path(__file__).resolve().parents[2]
    env = {"PYTHONPATH": f"{tmp_path}{__import__('os').pathsep}{root}", "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, str(root / "scripts" / "launch_cli.py"), "history"],
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == ("openmsi: error: the Kafka library (librdkafka) could not be "
                                  "loaded: reinstall confluent-kafka (pip install "
                                  "--force-reinstall confluent-kafka)")


def test_version_names_the_native_libraries() -> None:
    from openmsi_gui.platform.bundle import native_versions

    lines = native_versions()
    assert lines[0].startswith("librdkafka 2.")
    assert lines[1].startswith("libsodium 1.")  # tests install libsodium23 (scripts/test)
    run = subprocess.run([sys.executable, "-m", "openmsi_gui", "--version"], capture_output=True,
                         text=True, timeout=60, check=True)
    assert run.stdout.splitlines()[1:] == lines
