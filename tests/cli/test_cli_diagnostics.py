"""``openmsi diagnostics OUT.zip``: writes the zip, says where and how big, exits 0."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from cli_helpers import run

from openmsi_gui.cli.main import main

SECRET = "cli-Secret-6c1e"
CONFIG_SECRET = "cli-cfg-Secret-9a7b"


def test_diagnostics_in_a_subprocess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "openmsi-gui.log").write_text(f"05:00 INFO sasl.password={SECRET}\n05:01 INFO ok\n")
    monkeypatch.setenv("OPENMSI_GUI_LOG_DIR", str(logs))
    # Never the OS keychain in a test: this one fails, as on a server without any.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    config_dir = Path(os.environ["OPENMSI_GUI_CONFIG_DIR"])  # the test's own (conftest)
    config_dir.mkdir(parents=True)
    (config_dir / "settings.json").write_text(json.dumps({
        "schema_version": 2, "profiles": [{"name": "Lab", "bootstrap_servers": "b:9092",
                                           "sasl_password": SECRET}]}))
    config = tmp_path / "lab.config"
    config.write_text(f"[broker]\nbootstrap.servers = b:9092\nsasl.password = {CONFIG_SECRET}\n")
    out = tmp_path / "support" / "diag.zip"
    out.parent.mkdir()
    done = run(["diagnostics", str(out), "--config", str(config)], tmp_path / "data")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Diagnostics saved to {out} (")
    assert "KiB)" in done.stdout.splitlines()[0]
    with zipfile.ZipFile(out) as zipped:
        contents = {name: zipped.read(name) for name in zipped.namelist()}
    for name, data in contents.items():
        assert SECRET.encode() not in data, name
        assert CONFIG_SECRET.encode() not in data, name
    assert {"manifest.json", "versions.json", "settings.json", "logs/openmsi-gui.log",
            "config/lab.config", "registry.json"} <= set(contents)
    assert json.loads(contents["settings.json"])["profiles"][0]["name"] == "Lab"
    problems = json.loads(contents["manifest.json"])["problems"]
    assert [p.split(":")[0] for p in problems] == ["keychain"]
    assert "not included: keychain:" in done.stdout
    assert not (tmp_path / "data").exists()  # read only: no registry is made


def test_a_folder_that_is_not_there_is_one_sentence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnostics", str(tmp_path / "missing" / "d")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"openmsi: error: Could not save the diagnostics to "
                          f"{tmp_path / 'missing' / 'd.zip'}: ")
    assert err.strip().endswith("choose another folder.")


def test_a_config_file_that_is_not_there_is_one_sentence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnostics", str(tmp_path / "d.zip"), "--config", "nowhere.config"]) == 2
    assert "config file 'nowhere.config' does not exist" in capsys.readouterr().err
    assert not (tmp_path / "d.zip").exists()
