"""A folder's filters through an OpenMSIStream config file and back (no Qt)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from openmsi_gui.app import folder_ini
from openmsi_gui.app.folders import file_filter
from openmsi_gui.app.settings import BrokerProfile, WatchedFolder
from openmsi_gui.engine.kafka_config import load_config

NAMES = [
    "scan_01.tif", "raw/scan_02.tif", "raw/deep/er/scan_03.TIF", "report.docx",
    "~$report.docx", "raw/~$notes.xlsx", ".DS_Store", "raw/.DS_Store", "Thumbs.db",
    "desktop.ini", "data.tmp", "big.bin.part", ".~lock.report.docx#", "scratch/a.tif",
    "raw/scratch/b.tif", "scratchpad/d.tif", ".hidden/e.tif", "catalog.log", "notes #1;2.txt",
    "price$.csv",
]

FOLDERS = [
    WatchedFolder(),
    WatchedFolder(skip_temporary=False, skip_hidden=False),
    WatchedFolder(include_globs=["*.tif", "raw/**"], exclude_globs=["**/scratch/**"]),
    WatchedFolder(exclude_globs=["*.{docx,log}", "notes #1;2.txt", "price$.csv"],
                  include_regex=r"(?i)\.(tif|csv|txt)$"),
    WatchedFolder(exclude_regex=r"^raw/|\.log$", skip_temporary=False),
    WatchedFolder(include_globs=["(?i)*.TIF"], exclude_regex="$^", skip_hidden=False),
]

PROFILE = BrokerProfile(name="Lab", bootstrap_servers="kafka.lab:9092")


def _fields(folder: WatchedFolder) -> dict[str, object]:
    return {name: getattr(folder, name) for name in (
        "include_globs", "exclude_globs", "skip_temporary", "skip_hidden", "include_regex",
        "exclude_regex")}


@pytest.mark.parametrize("folder", FOLDERS)
def test_export_then_import_gives_the_same_filters(tmp_path: Path, folder: WatchedFolder) -> None:
    path = tmp_path / "lab.config"
    path.write_text(folder_ini.export_folder_ini(folder, PROFILE, file_filter(folder)), "utf-8")
    section = folder_ini.read_filter_section(path)
    assert section is not None
    assert folder_ini.filter_fields(section) == _fields(folder)
    assert load_config(path).bootstrap_servers == "kafka.lab:9092"  # still a broker config


@pytest.mark.parametrize("folder", FOLDERS)
def test_the_upload_regex_accepts_what_the_filters_accept(folder: WatchedFolder) -> None:
    wanted = file_filter(folder)
    regex = re.compile(folder_ini.upload_regex(wanted))
    for name in NAMES:
        assert bool(regex.match(name)) == wanted.accepts(name), name
        if "/" not in folder.include_regex + folder.exclude_regex:  # OpenMSIStream on Windows
            assert bool(regex.match(name.replace("/", "\\"))) == wanted.accepts(name), name


def test_a_bare_openmsistream_regex_is_kept_and_sends_what_openmsistream_would() -> None:
    upload = r"^((?!(\.log|LOGS)).)*$"  # shaped like OpenMSIStream's default
    fields = folder_ini.filter_fields({"upload_regex": upload})
    folder = dataclasses.replace(WatchedFolder(), **fields)
    assert upload in folder.include_regex
    ours = file_filter(folder)
    for name in NAMES:
        theirs = bool(re.match(upload, name)) and not any(
            p.startswith(".") for p in name.split("/"))
        assert ours.accepts(name) == theirs, name


def test_a_bad_flag_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(folder_ini.FilterIniError, match="should be true or false"):
        folder_ini.filter_fields({"include": "*.tif", "skip_hidden": "maybe"})
    path = tmp_path / "plain.config"
    path.write_text("[broker]\nbootstrap.servers = h:1\n", "utf-8")
    assert folder_ini.read_filter_section(path) is None
