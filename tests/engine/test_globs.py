"""Glob filters as a technician writes them, against the names labs really have."""

from __future__ import annotations

import pytest

from openmsi_gui.engine.file_filter import FileFilter
from openmsi_gui.engine.globs import (
    GlobSet,
    glob_problem,
    looks_like_regex,
    split_patterns,
)

NAMES = [
    "scan_01.tif", "raw/scan_02.tif", "raw/deep/er/scan_03.TIF", "report.docx",
    "~$report.docx", "raw/~$notes.xlsx", ".DS_Store", "raw/.DS_Store", "Thumbs.db",
    "raw/THUMBS.DB", "desktop.ini", "data.tmp", "big.bin.part", "video.crdownload",
    ".notes.txt.swp", ".~lock.report.docx#", "scratch/a.tif", "raw/scratch/b.tif",
    "raw/scratch/deeper/c.tif", "scratchpad/d.tif", ".hidden/e.tif", "catalog.log",
]


def accepted(file_filter: FileFilter) -> list[str]:
    return [name for name in NAMES if file_filter.accepts(name)]


def test_the_defaults_skip_lock_temporary_hidden_and_system_files() -> None:
    assert accepted(FileFilter()) == [
        "scan_01.tif", "raw/scan_02.tif", "raw/deep/er/scan_03.TIF", "report.docx",
        "scratch/a.tif", "raw/scratch/b.tif", "raw/scratch/deeper/c.tif", "scratchpad/d.tif",
        "catalog.log"]  # unlike OpenMSIStream's default, "log" in a name is sent


def test_the_checkboxes_off_send_everything() -> None:
    assert accepted(FileFilter(skip_temporary=False, skip_hidden=False)) == NAMES


def test_hidden_files_without_temporary_ones() -> None:
    sent = accepted(FileFilter(skip_temporary=True, skip_hidden=False))
    assert ".hidden/e.tif" in sent
    assert ".DS_Store" not in sent
    assert ".~lock.report.docx#" not in sent


@pytest.mark.parametrize(("patterns", "skipped"), [
    ("**/scratch/**", {"scratch/a.tif", "raw/scratch/b.tif", "raw/scratch/deeper/c.tif"}),
    ("scratch", {"scratch/a.tif", "raw/scratch/b.tif", "raw/scratch/deeper/c.tif"}),
    ("scratch/", {"scratch/a.tif", "raw/scratch/b.tif", "raw/scratch/deeper/c.tif"}),
    ("scratch/**", {"scratch/a.tif"}),  # with "/": anchored at the watched folder
    ("/scratch", {"scratch/a.tif"}),
    ("raw/*.tif", {"raw/scan_02.tif"}),  # "*" stays within one folder
    ("raw/**/*.tif", {"raw/scan_02.tif", "raw/scratch/b.tif", "raw/scratch/deeper/c.tif"}),
    ("*.docx, *.log", {"report.docx", "catalog.log"}),
    ("scan_0?.tif", {"scan_01.tif", "raw/scan_02.tif"}),
    ("scan_0[13].*", {"scan_01.tif", "raw/deep/er/scan_03.TIF"}),
    ("scan_0[!1].tif", {"raw/scan_02.tif"}),
    ("(?i)*.tif", {"scan_01.tif", "raw/scan_02.tif", "raw/deep/er/scan_03.TIF",
                   "scratch/a.tif", "raw/scratch/b.tif", "raw/scratch/deeper/c.tif",
                   "scratchpad/d.tif"}),
    ("*.{docx,log}", {"report.docx", "catalog.log"}),
    ("raw\\deep\\**", {"raw/deep/er/scan_03.TIF"}),  # Windows separators
])
def test_exclude_patterns(patterns: str, skipped: set[str]) -> None:
    everything = accepted(FileFilter())
    sent = accepted(FileFilter(exclude=patterns))
    assert set(everything) - set(sent) == skipped


def test_include_patterns_and_regexes_combine() -> None:
    assert accepted(FileFilter(include="*.tif", exclude=["**/scratch/**"])) == [
        "scan_01.tif", "raw/scan_02.tif", "scratchpad/d.tif"]
    assert accepted(FileFilter(include="raw/**", include_regex=r"\.TIF$")) == [
        "raw/deep/er/scan_03.TIF"]
    assert accepted(FileFilter(exclude_regex="scratch")) == [
        "scan_01.tif", "raw/scan_02.tif", "raw/deep/er/scan_03.TIF", "report.docx",
        "catalog.log"]


def test_the_issue_example_is_two_patterns_not_a_regex_error() -> None:
    file_filter = FileFilter(exclude="*.tmp, ~$*", skip_temporary=False)
    assert file_filter.exclude == ("*.tmp", "~$*")
    assert not file_filter.accepts("data.tmp")
    assert not file_filter.accepts("raw/~$notes.xlsx")
    assert file_filter.accepts("report.docx")


def test_patterns_split_on_commas_and_lines_but_not_inside_braces_or_classes() -> None:
    assert split_patterns("*.tmp, ~$*\n**/scratch/**\r\n\n , *.{tif,tiff},[,]x") == [
        "*.tmp", "~$*", "**/scratch/**", "*.{tif,tiff}", "[,]x"]
    assert split_patterns(["*.a, *.b", "*.c"]) == ["*.a", "*.b", "*.c"]
    assert GlobSet(("[,]x",)).matches("dir/,x")


def test_special_characters_are_literal() -> None:
    names = GlobSet(("a+b (1).tif", "100%.csv", "[*].txt", "x[.txt"))
    for name in ("a+b (1).tif", "sub/100%.csv", "*.txt", "x[.txt"):
        assert names.matches(name), name
    assert not names.matches("aab (1).tif")
    assert not names.matches("a.txt")


@pytest.mark.parametrize(("pattern", "problem"), [
    ("*.{tif", "without its"),
    ("/", "matches no name"),
])
def test_unreadable_patterns_are_one_sentence(pattern: str, problem: str) -> None:
    message = glob_problem(pattern)
    assert message is not None
    assert problem in message
    assert message.endswith(".")
    with pytest.raises(ValueError, match=problem):
        FileFilter(exclude=pattern)
    assert glob_problem("**/scratch/**") is None


def test_regexes_given_as_globs_are_recognised() -> None:
    assert looks_like_regex(r"\.(tmp|temp)$")
    assert looks_like_regex(r"(^|/)~\$")
    assert not looks_like_regex("~$*")
    assert not looks_like_regex("scan (1).tif")
