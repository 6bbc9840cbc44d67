"""Plugin processors: found through an entry point, run in a child process, never trusted."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import process_alive, wait_until
from plugin_helpers import install_distribution

from openmsi_gui.engine.processing import plugins
from openmsi_gui.engine.processing.api import FileToProcess, ProcessorKind, ProcessorSpec
from openmsi_gui.engine.processing.plugins import (
    PLUGIN_PATH_ENV,
    PluginInfo,
    available_plugins,
    host_command,
)
from openmsi_gui.engine.processing.runner import STOPPED_REASON, run, run_plugin

PLUGINS = '''
import os
import sys
import time

from openmsi_gui.engine.processing.api import ProcessingResult


class CountLines:
    name = "count-lines"
    version = "1.2"

    def process(self, file):
        print("a plugin printing on stdout")
        sys.stdout.flush()
        os.write(1, b"and C code writing on fd 1\\n")
        with open(file.path, "rb") as fh:
            lines = sum(1 for _ in fh)
        return ProcessingResult.success(
            {"lines": lines, "relpath": file.relpath, "sample": file.metadata.get("sample")},
            output="counted")


class Raises:
    name = "raises"
    version = "0.1"

    def process(self, file):
        raise ValueError("bad header in " + file.relpath)


class WrongType:
    name = "wrong-type"
    version = "0.1"

    def process(self, file):
        return {"ok": True}


class NotJson:
    name = "not-json"
    version = "0.1"

    def process(self, file):
        return ProcessingResult.success({"when": time})


class SaysNo:
    name = "says-no"
    version = "0.1"

    def process(self, file):
        return ProcessingResult.failure("The file has no header.")


class Greedy:
    name = "greedy"
    version = "0.1"

    def process(self, file):
        data = bytearray(1 << 30)
        return ProcessingResult.success({"size": len(data)})


class Hangs:
    name = "hangs"
    version = "0.1"

    def process(self, file):
        open(str(file.path) + ".started", "w").close()
        time.sleep(120)


class StartsAndHangs:
    name = "starts-and-hangs"
    version = "0.1"

    def process(self, file):
        import subprocess
        child = subprocess.Popen(["sleep", "60"])
        with open(str(file.path) + ".child", "w") as fh:
            fh.write(str(child.pid))
        time.sleep(120)


class Crashes:
    name = "crashes"
    version = "0.1"

    def process(self, file):
        import signal
        print("about to crash", file=sys.stderr)
        os.kill(os.getpid(), signal.SIGSEGV)


class LeavesAThread:
    name = "leaves-a-thread"
    version = "0.1"

    def process(self, file):
        import threading
        threading.Thread(target=time.sleep, args=(600,)).start()  # not a daemon
        return ProcessingResult.success({"done": True})


class TooBig:
    name = "too-big"
    version = "0.1"

    def process(self, file):
        return ProcessingResult.success({"values": list(range(100000))})


class BrokenInit:
    def __init__(self):
        raise RuntimeError("no licence file")
'''
NAMES = {"count-lines": "CountLines", "raises": "Raises", "wrong-type": "WrongType",
         "not-json": "NotJson", "says-no": "SaysNo", "greedy": "Greedy", "hangs": "Hangs",
         "crashes": "Crashes", "broken-init": "BrokenInit", "missing-module": None,
         "leaves-a-thread": "LeavesAThread", "too-big": "TooBig",
         "starts-and-hangs": "StartsAndHangs"}


def install_lab_plugins(site: Path) -> Path:
    """Distribution ``lab-plugins`` 3.4: the plugins above (and one whose module is missing)."""
    return install_distribution(
        site, "lab-plugins", "3.4", {"lab_plugins.py": PLUGINS},
        {name: f"lab_plugins:{cls}" if cls else "no_such_module:X" for name, cls in NAMES.items()})


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    install_lab_plugins(folder)
    monkeypatch.setenv(PLUGIN_PATH_ENV, str(folder))
    return folder


@pytest.fixture
def data(tmp_path: Path) -> FileToProcess:
    path = tmp_path / "a.txt"
    path.write_text("one\ntwo\nthree\n")
    return FileToProcess(path=path, relpath="S001/a.txt", topic="lab", sha512="cd" * 64,
                         size=14, metadata={"sample": "S001"})


def _plugin(name: str, timeout: float = 60.0, memory_limit: int | None = None) -> ProcessorSpec:
    return ProcessorSpec(ProcessorKind.PLUGIN, plugin=name, timeout=timeout,
                         memory_limit=memory_limit)


def test_installed_plugins_are_listed_without_importing_them(site: Path) -> None:
    found = available_plugins()
    assert PluginInfo("count-lines", "3.4", "lab-plugins") in found
    assert {p.name for p in found} >= set(NAMES)
    assert "lab_plugins" not in sys.modules


def test_a_plugin_runs_in_a_child_and_its_prints_do_not_corrupt_the_reply(
        site: Path, data: FileToProcess) -> None:
    result = run(_plugin("count-lines"), data)
    assert result.ok, result.reason
    assert result.result == {"lines": 3, "relpath": "S001/a.txt", "sample": "S001"}
    assert (result.processor, result.processor_version) == ("count-lines", "1.2")
    assert "a plugin printing on stdout" in result.output
    assert "and C code writing on fd 1" in result.output
    assert result.output.startswith("counted")
    assert "lab_plugins" not in sys.modules


def test_a_plugin_saying_no_fails_with_its_reason(site: Path, data: FileToProcess) -> None:
    result = run_plugin(_plugin("says-no"), data)
    assert (result.ok, result.reason) == (False, "The file has no header.")


@pytest.mark.parametrize(("name", "reason"), [
    ("raises", "The plugin 'raises' failed on this file (ValueError: bad header in S001/a.txt): "
               "check the file, or fix the plugin."),
    ("wrong-type", "The plugin 'wrong-type' returned dict instead of a ProcessingResult: fix the "
                   "plugin or choose another one."),
    ("not-json", "The plugin 'not-json' gave a result that cannot be written as JSON (TypeError: "
                 "Object of type module is not JSON serializable): fix the plugin or choose "
                 "another one."),
    ("broken-init", "The plugin 'broken-init' could not be loaded (RuntimeError: no licence "
                    "file): reinstall its package or check it."),
    ("missing-module", "The plugin 'missing-module' could not be loaded (ModuleNotFoundError: "
                       "No module named 'no_such_module'): reinstall its package or check it."),
    ("too-big", "The plugin 'too-big' gave a result of 672 KiB, more than the 64 KiB a result "
                "may have: keep big data in files and return where they are."),
    ("not-installed", "The plugin 'not-installed' is not installed here: install it (pip install "
                      "its package) or choose another one."),
])
def test_a_misbehaving_plugin_fails_with_one_sentence(site: Path, data: FileToProcess,
                                                       name: str, reason: str) -> None:
    result = run_plugin(_plugin(name), data)
    assert not result.ok
    assert result.reason == reason
    assert result.result is None


def test_a_plugin_crashing_fails_without_harming_the_caller(site: Path,
                                                             data: FileToProcess) -> None:
    result = run_plugin(_plugin("crashes"), data)
    assert result.reason == ("The plugin 'crashes' was ended by SIGSEGV without a result (perhaps "
                             "for want of memory: its limit is 2 GiB): about to crash.")
    assert "about to crash" in result.output


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux")
def test_a_plugin_using_too_much_memory_fails_cleanly(site: Path, data: FileToProcess) -> None:
    result = run_plugin(_plugin("greedy", memory_limit=256 << 20), data)
    assert result.reason == ("The plugin 'greedy' ran out of memory on this file: raise its "
                             "memory limit or make it use less.")


def test_a_hanging_plugin_is_stopped_at_its_timeout(site: Path, data: FileToProcess) -> None:
    result = run_plugin(_plugin("hangs", timeout=1), data)
    assert result.reason == ("The plugin 'hangs' took longer than 1 s and was stopped: raise the "
                             "timeout or check the plugin.")


def test_a_stop_kills_a_running_plugin_at_once(site: Path, data: FileToProcess) -> None:
    stop = threading.Event()
    results = []
    worker = threading.Thread(target=lambda: results.append(
        run_plugin(_plugin("hangs", timeout=300), data, stop=stop)))
    worker.start()
    started = Path(f"{data.path}.started")
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    worker.join(30)
    assert not worker.is_alive()
    assert results[0].reason == STOPPED_REASON


def test_a_stop_given_positionally_is_heard(site: Path, data: FileToProcess) -> None:
    stop = threading.Event()
    stop.set()
    assert run_plugin(_plugin("count-lines"), data, stop).reason == STOPPED_REASON


def test_the_installed_app_hosts_plugins_with_its_hidden_subcommand(
        site: Path, data: FileToProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frozen, there is no ``python -m``: ``openmsi _plugin-host`` beside the app runs it."""
    openmsi = Path(sys.executable).with_name("openmsi")
    if not openmsi.is_file():
        openmsi_found = shutil.which("openmsi")
        if openmsi_found is None:
            pytest.skip("no openmsi console script installed")
        monkeypatch.setattr(sys, "executable", str(Path(openmsi_found).with_name("python")))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert host_command()[1:] == [plugins.HOST_COMMAND]

    result = run_plugin(_plugin("count-lines"), data)

    assert result.ok, result.reason
    assert result.result == {"lines": 3, "relpath": "S001/a.txt", "sample": "S001"}


def test_a_plugin_folder_in_the_data_folder_is_searched(tmp_path: Path, data: FileToProcess,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "data"
    install_lab_plugins(data_dir / "plugins")
    monkeypatch.setenv("OPENMSI_GUI_DATA_DIR", str(data_dir))
    monkeypatch.delenv(PLUGIN_PATH_ENV, raising=False)
    assert "count-lines" in {p.name for p in available_plugins()}
    assert run_plugin(_plugin("count-lines"), data).ok


def test_a_plugin_leaving_a_thread_running_is_done_once_it_returns(
        site: Path, data: FileToProcess) -> None:
    result = run_plugin(_plugin("leaves-a-thread", timeout=60), data)
    assert result.ok, result.reason
    assert result.result == {"done": True}


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_what_a_hanging_plugin_started_is_killed_with_it(site: Path,
                                                         data: FileToProcess) -> None:
    stop = threading.Event()
    results = []
    worker = threading.Thread(target=lambda: results.append(
        run_plugin(_plugin("starts-and-hangs", timeout=300), data, stop)))
    worker.start()
    started = Path(f"{data.path}.child")
    deadline = time.monotonic() + 30
    while not (started.exists() and started.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    worker.join(30)
    assert results[0].reason == STOPPED_REASON
    pid = int(started.read_text())
    wait_until(lambda: not process_alive(pid), timeout=10, message="its child to be gone")
