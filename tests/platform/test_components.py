"""KafkaCrypto as a per-user component: install (file, index), refuse, status, remove, activate."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import sysconfig
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from component_wheels import fake_wheel, kafkacrypto_wheel

from openmsi_gui.cli.main import main
from openmsi_gui.platform import components
from openmsi_gui.platform.component_install import (
    INDEX_ENV,
    HashMismatch,
    IndexUnreachable,
    InstallProgress,
    _extract,
    install_from_file,
    install_from_index,
)
from openmsi_gui.platform.components import COMPONENTS_ENV, MARKER, ComponentError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty components folder; sys.path is restored afterwards."""
    target = tmp_path / "components"
    monkeypatch.setenv(COMPONENTS_ENV, str(target))
    saved = list(sys.path)
    yield target
    sys.path[:] = saved


def test_the_pinned_list_is_one_file_linked_from_requirements() -> None:
    pinned = components.pin()
    assert (pinned.name, pinned.version, pinned.licence) == (
        "kafkacrypto", "0.9.11.3", "GPL-2.0-only")
    assert len(pinned.sha256) == 64
    assert (ROOT / "requirements" / "components.json").resolve() == components.PINS_FILE


def test_install_from_the_real_wheel_unpacks_it_whole_and_activates_it(folder: Path) -> None:
    wheel = kafkacrypto_wheel()
    steps: list[InstallProgress] = []
    result = install_from_file(wheel, steps.append)
    final = folder / "kafkacrypto-0.9.11.3"
    assert (final / "kafkacrypto" / "__init__.py").is_file()
    assert json.loads((final / MARKER).read_text())["sha256"] == components.pin().sha256
    assert [p.name for p in folder.iterdir()] == [final.name]  # no temporary folder left
    assert str(final) in sys.path
    assert sys.path[-1] == str(final)
    assert result.component
    assert result.installed
    assert steps[-1] == InstallProgress("Installed.", 1.0)
    # Installing again replaces it in place.
    assert install_from_file(wheel).component
    assert [p.name for p in folder.iterdir()] == [final.name]


def test_a_wheel_with_another_hash_is_refused_and_nothing_is_installed(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = fake_wheel(tmp_path)
    with pytest.raises(HashMismatch, match=r"is not the kafkacrypto 0\.9\.11\.3 wheel"):
        install_from_file(bad)
    assert not folder.exists() or not any(folder.iterdir())
    assert main(["encryption", "install", "--from", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("openmsi: error: kafkacrypto-0.9.11.3-py3-none-any.whl is not the ")
    assert err.endswith("refused; download kafkacrypto-0.9.11.3-py3-none-any.whl from pypi.org "
                        "again")
    assert main(["encryption", "install", "--from", str(tmp_path / "nowhere.whl")]) == 2


def test_status_json_and_remove(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["encryption", "install", "--from", str(kafkacrypto_wheel())]) == 0
    capsys.readouterr()
    assert main(["encryption", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    # This test environment has kafkacrypto installed with pip: that one is used first.
    assert status["source"] == "python"
    assert status["installed"]
    assert status["component_installed"]
    assert status["components_dir"] == str(folder)
    assert status["licence"] == "GPL-2.0-only"
    assert status["pinned_version"] == "0.9.11.3"
    assert main(["encryption", "status"]) == 0
    assert capsys.readouterr().out.startswith("Encryption is installed with Python packages: ")
    assert main(["encryption", "remove"]) == 0
    out = capsys.readouterr().out
    assert f"Removed {folder / 'kafkacrypto-0.9.11.3'}." in out
    assert "still available" in out
    assert not (folder / "kafkacrypto-0.9.11.3").exists()
    assert str(folder / "kafkacrypto-0.9.11.3") not in sys.path
    assert main(["encryption", "remove"]) == 0
    assert "nothing to remove" in capsys.readouterr().out


class _Index(http.server.BaseHTTPRequestHandler):
    wheel = b""
    listed_sha = ""

    def do_GET(self) -> None:
        pinned = components.pin()
        if self.path == "/simple/kafkacrypto/":  # PEP 691, with a URL relative to the page
            assert self.headers["Accept"] == "application/vnd.pypi.simple.v1+json"
            body = json.dumps({"meta": {"api-version": "1.1"}, "files": [{
                "filename": pinned.wheel, "size": len(self.wheel),
                "url": f"../../files/{pinned.wheel}",
                "hashes": {"sha256": self.listed_sha}}]}).encode()
        elif self.path == f"/files/{pinned.wheel}":
            body = self.wheel
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def index(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Index]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(INDEX_ENV, f"http://127.0.0.1:{server.server_address[1]}/simple")
    _Index.wheel = kafkacrypto_wheel().read_bytes()
    _Index.listed_sha = hashlib.sha256(_Index.wheel).hexdigest()
    try:
        yield _Index
    finally:
        server.shutdown()
        server.server_close()


def test_install_from_the_index_downloads_checks_and_reports_progress(
        folder: Path, index: type[_Index]) -> None:
    steps: list[InstallProgress] = []
    assert install_from_index(steps.append).component
    downloads = [s.fraction for s in steps if s.step.startswith("Downloading")]
    assert downloads
    assert downloads[-1] == 1.0
    assert steps[0].step.startswith("Asking 127.0.0.1:")
    assert steps[0].step.endswith(" for kafkacrypto 0.9.11.3…")


def test_the_index_serving_another_file_is_refused(folder: Path, index: type[_Index],
                                                   tmp_path: Path) -> None:
    index.wheel = fake_wheel(tmp_path).read_bytes()
    index.listed_sha = hashlib.sha256(index.wheel).hexdigest()
    with pytest.raises(HashMismatch, match="lists another"):
        install_from_index()
    index.listed_sha = ""  # not listed: the download itself is checked
    with pytest.raises(HashMismatch, match="is not the kafkacrypto"):
        install_from_index()
    assert not (folder / "kafkacrypto-0.9.11.3").exists()


def test_offline_says_what_to_do(folder: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(INDEX_ENV, "http://127.0.0.1:9/simple")  # nothing listens on port 9
    with pytest.raises(IndexUnreachable, match=r"cannot reach 127\.0\.0\.1:9 "):
        install_from_index()
    assert main(["encryption", "install"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        "install it from the file (openmsi encryption install --from FILE)")


def _site_without_kafkacrypto(into: Path) -> Path:
    """This environment's packages, linked one by one, except kafkacrypto."""
    into.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.lower().startswith("kafkacrypto"):
            (into / entry.name).symlink_to(entry)
    return into


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links")
def test_a_python_without_kafkacrypto_gets_it_from_the_component(folder: Path,
                                                                 tmp_path: Path) -> None:
    site = _site_without_kafkacrypto(tmp_path / "site")
    env = {**os.environ, COMPONENTS_ENV: str(folder)}
    env.pop("PYTHONPATH", None)
    prelude = f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(site)!r}]; "

    def run(code: str) -> str:
        # -S: no site-packages (so no kafkacrypto) but the linked ones.
        result = subprocess.run([sys.executable, "-S", "-c", prelude + code], env=env,
                                capture_output=True, text=True, check=False, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    status = "from openmsi_gui.cli.main import main; main(['encryption', 'status', '--json'])"
    assert json.loads(run(status))["source"] == "none"
    hint = ("from openmsi_gui.engine.crypto import kafkacrypto_available, INSTALL_HINT; "
            "print(kafkacrypto_available())")
    assert run(hint).strip() == "False"
    run(f"from openmsi_gui.cli.main import main; "
        f"main(['encryption', 'install', '--from', {str(kafkacrypto_wheel())!r}])")
    after = json.loads(run(status))
    assert (after["source"], after["location"]) == ("component",
                                                    str(folder / "kafkacrypto-0.9.11.3"))
    started = run("from openmsi_gui.platform.startup import prepare_process; prepare_process(); "
                  "from openmsi_gui.engine.crypto import kafkacrypto_module; "
                  "print(kafkacrypto_module().__file__)")
    assert started.strip() == str(folder / "kafkacrypto-0.9.11.3" / "kafkacrypto" /
                                  "__init__.py")
    # Installed while the program runs: usable at once, no restart.
    live = run("from openmsi_gui.platform.startup import prepare_process; prepare_process(); "
               "from openmsi_gui.platform import components; components.remove(); "
               "from openmsi_gui.engine.crypto import kafkacrypto_available as ok; a = ok(); "
               "from openmsi_gui.platform.component_install import install_from_file; "
               f"install_from_file(__import__('pathlib').Path({str(kafkacrypto_wheel())!r})); "
               "print(a, ok())")
    assert live.split() == ["False", "True"]


@pytest.mark.parametrize("name", ["../evil.py", "/abs.py", "a/../../evil.py", "C:evil.py",
                                  "..\\evil.py"])
def test_a_wheel_entry_outside_its_folder_is_refused(tmp_path: Path, name: str) -> None:
    with zipfile.ZipFile(tmp_path / "w.zip", "w") as archive:
        archive.writestr(name, "x")
    with zipfile.ZipFile(tmp_path / "w.zip") as archive, pytest.raises(ComponentError,
                                                                      match="refused"):
        _extract(archive, archive.infolist()[0], tmp_path / "into")
