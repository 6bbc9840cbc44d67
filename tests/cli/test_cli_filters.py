"""Which files ``openmsi watch`` sends: glob flags, regex flags, or the config's [watch] section."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from openmsi_gui.app import folder_ini
from openmsi_gui.app.folders import file_filter
from openmsi_gui.app.settings import BrokerProfile, WatchedFolder
from openmsi_gui.cli import main
from openmsi_gui.cli.parser import build_parser
from openmsi_gui.engine.file_filter import FileFilter


def _filter(*flags: str, config: Path | None = None) -> FileFilter:
    broker = ["--config", str(config)] if config else ["--bootstrap-servers", "h:1"]
    return main._file_filter(build_parser().parse_args(
        ["watch", "/data", *broker, "--topic", "t", *flags]))


def test_glob_flags_repeat_and_split_on_commas() -> None:
    chosen = _filter("--exclude", "*.bak, ~$*", "--exclude", "**/scratch/**",
                     "--include", "*.tif")
    assert chosen.exclude == ("*.bak", "~$*", "**/scratch/**")
    assert chosen.include == ("*.tif",)
    assert chosen.skip_temporary
    assert chosen.skip_hidden
    assert not chosen.accepts("raw/scratch/a.tif")
    assert chosen.accepts("raw/a.tif")


def test_the_checkboxes_and_regexes_have_flags() -> None:
    chosen = _filter("--include-temporary", "--include-hidden", "--include-regex", r"\.tif$",
                     "--exclude-regex", "^old/")
    assert (chosen.skip_temporary, chosen.skip_hidden) == (False, False)
    assert chosen.accepts(".x/~$a.tif")
    assert not chosen.accepts("old/a.tif")


def test_a_regex_given_as_a_glob_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    _filter("--exclude", r"\.tmp$")
    assert "use --exclude-regex" in caplog.text


def test_the_config_files_watch_section_is_used_without_flags(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    folder = WatchedFolder(exclude_globs=["*.bak"], skip_hidden=False, include_regex="raw")
    config = tmp_path / "lab.config"
    config.write_text(folder_ini.export_folder_ini(
        folder, BrokerProfile(bootstrap_servers="h:1"), file_filter(folder)), "utf-8")
    assert _filter(config=config) == file_filter(folder)
    assert "[watch] in lab.config" in caplog.text
    assert _filter("--exclude", "*.tmp", config=config).exclude == ("*.tmp",)  # flags win


def test_a_broken_watch_section_is_one_sentence(tmp_path: Path) -> None:
    config = tmp_path / "lab.config"
    config.write_text("[broker]\nbootstrap.servers = h:1\n[watch]\nskip_hidden = maybe\n")
    with pytest.raises(main.UsageError, match="should be true or false"):
        _filter(config=config)
