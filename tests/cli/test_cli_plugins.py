"""``openmsi plugins``: the installed processor plugins, by the names --plugin takes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from plugin_helpers import install_distribution

from openmsi_gui.app import processing_form
from openmsi_gui.cli.main import main
from openmsi_gui.engine.processing.plugins import PLUGIN_PATH_ENV

MODULE = """
from openmsi_gui.engine.processing.api import ProcessingResult

class Sizes:
    name = "sizes"
    version = "2.0"

    def process(self, file):
        return ProcessingResult.success({"size": file.size})
"""


def test_plugins_are_listed_by_name_version_and_package(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    site = install_distribution(tmp_path / "site", "lab-sizes", "2.0.1",
                                {"lab_sizes.py": MODULE}, {"sizes": "lab_sizes:Sizes"})
    monkeypatch.setenv(PLUGIN_PATH_ENV, str(site))

    assert main(["plugins"]) == 0
    assert "sizes 2.0.1 (lab-sizes)" in capsys.readouterr().out.splitlines()

    assert main(["plugins", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {"name": "sizes", "version": "2.0.1", "distribution": "lab-sizes"} in listed


def test_no_plugin_says_how_to_install_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(PLUGIN_PATH_ENV, str(tmp_path / "empty"))
    monkeypatch.setattr(processing_form, "available_plugins", list)  # whatever the venv has
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("No plugins installed")
    assert str(tmp_path / "empty") in out
