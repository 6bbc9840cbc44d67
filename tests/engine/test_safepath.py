"""Unit tests for turning untrusted relative paths into safe paths (safepath.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from openmsi_gui.engine.safepath import (
    MAX_COMPONENT_BYTES,
    MAX_DEPTH,
    UnsafePath,
    check_component,
    resolve_inside,
    split_relpath,
)


@pytest.mark.parametrize(("relpath", "parts"), [
    ("file.txt", ["file.txt"]),
    ("a/b/c.bin", ["a", "b", "c.bin"]),
    ("ünïcödé/日本語.txt", ["ünïcödé", "日本語.txt"]),
    ("with space/file name.txt", ["with space", "file name.txt"]),
    ("a.b.c/d.e.f", ["a.b.c", "d.e.f"]),
    (".hidden/.file", [".hidden", ".file"]),
    ("...x", ["...x"]),
    ("CONFIG.txt", ["CONFIG.txt"]),
    ("console", ["console"]),
    ("COM10", ["COM10"]),
    ("x" * MAX_COMPONENT_BYTES, ["x" * MAX_COMPONENT_BYTES]),
    ("/".join(["d"] * MAX_DEPTH), ["d"] * MAX_DEPTH),
])
def test_accepted(relpath: str, parts: list[str]) -> None:
    assert split_relpath(relpath) == parts


REJECTED: dict[str, tuple[str, str]] = {
    "dotdot": ("..", "not a file or folder name"),
    "dot": (".", "not a file or folder name"),
    "dotdot inside": ("a/../../x", "not a file or folder name"),
    "dotdot last": ("a/..", "not a file or folder name"),
    "empty": ("", "empty"),
    "absolute": ("/etc/passwd", "absolute"),
    "unc": ("\\\\server\\share\\x", "absolute"),
    "backslash root": ("\\x", "absolute"),
    "drive slash": ("C:/x", "drive letter"),
    "drive relative": ("C:x", "drive letter"),
    "drive lower": ("z:", "drive letter"),
    "backslash": ("a\\b", "forbidden"),
    "nul": ("a\x00b", r"U\+0000"),
    "newline": ("a\nb", r"U\+000A"),
    "tab": ("a\tb", r"U\+0009"),
    "escape": ("a\x1bb", r"U\+001B"),
    "unit separator": ("a\x1fb", r"U\+001F"),
    "lt": ("a<b", "forbidden"),
    "gt": ("a>b", "forbidden"),
    "colon": ("dir/a:b", "forbidden"),
    "quote": ('a"b', "forbidden"),
    "pipe": ("a|b", "forbidden"),
    "question": ("a?b", "forbidden"),
    "star": ("a*b", "forbidden"),
    "CON": ("CON", "reserved"),
    "con.txt": ("con.txt", "reserved"),
    "COM1": ("COM1", "reserved"),
    "LPT9.log": ("LPT9.log", "reserved"),
    "NUL": ("NUL", "reserved"),
    "aux in subdir": ("a/Aux.tar.gz", "reserved"),
    "prn folder": ("PRN/x", "reserved"),
    "conin$": ("CONIN$", "reserved"),
    "com superscript": ("COM\u00b9", "reserved"),
    "trailing dot": ("name.", "ends with"),
    "trailing space": ("name ", "ends with"),
    "folder trailing dot": ("dir./x", "ends with"),
    "empty component": ("a//b", "not a file or folder name"),
    "trailing slash": ("a/", "not a file or folder name"),
    "overlong": ("x" * (MAX_COMPONENT_BYTES + 1), "longer than"),
    "overlong multibyte": ("é" * 128, "longer than"),
    "too deep": ("/".join(["d"] * (MAX_DEPTH + 1)), "deep"),
}


@pytest.mark.parametrize(("relpath", "reason"), list(REJECTED.values()), ids=list(REJECTED))
def test_rejected(relpath: str, reason: str) -> None:
    with pytest.raises(UnsafePath, match=reason):
        split_relpath(relpath)


def test_unsafe_path_is_a_value_error() -> None:
    assert issubclass(UnsafePath, ValueError)


def test_check_component_returns_part() -> None:
    assert check_component("ok.txt") == "ok.txt"


@pytest.mark.parametrize("part", ["a\\b", "", ".", ".."])
def test_check_component_rejects(part: str) -> None:
    with pytest.raises(UnsafePath):
        check_component(part)


# -- resolve_inside --------------------------------------------------------


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    folder = tmp_path / "dest"
    folder.mkdir()
    return folder


def test_resolve_inside_plain(dest: Path) -> None:
    target = resolve_inside(dest, "a/b/c.txt")
    assert target == Path(os.path.realpath(dest)) / "a" / "b" / "c.txt"
    assert not target.exists()  # resolving never creates anything


def test_resolve_inside_rejects_unsafe_names(dest: Path) -> None:
    with pytest.raises(UnsafePath):
        resolve_inside(dest, "../escape.txt")


def test_resolve_inside_symlink_pointing_outside(dest: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (dest / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePath, match="outside the destination"):
        resolve_inside(dest, "link/evil.txt")
    with pytest.raises(UnsafePath, match="outside the destination"):
        resolve_inside(dest, "link/deeper/evil.txt")


def test_resolve_inside_symlink_to_parent(dest: Path) -> None:
    (dest / "up").symlink_to("..", target_is_directory=True)
    with pytest.raises(UnsafePath, match="outside the destination"):
        resolve_inside(dest, "up/escape.txt")


def test_resolve_inside_symlink_within_dest_is_allowed(dest: Path) -> None:
    (dest / "real").mkdir()
    (dest / "alias").symlink_to(dest / "real", target_is_directory=True)
    target = resolve_inside(dest, "alias/x.txt")
    assert Path(os.path.realpath(target.parent)) == Path(os.path.realpath(dest / "real"))


def test_resolve_inside_existing_symlink_at_target(dest: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (dest / "file.txt").symlink_to(victim)
    with pytest.raises(UnsafePath, match="symbolic link"):
        resolve_inside(dest, "file.txt")
    assert victim.read_text() == "keep me"


def test_resolve_inside_dangling_symlink_at_target(dest: Path, tmp_path: Path) -> None:
    (dest / "file.txt").symlink_to(tmp_path / "does-not-exist.txt")
    with pytest.raises(UnsafePath, match="symbolic link"):
        resolve_inside(dest, "file.txt")


def test_resolve_inside_symlink_to_file_inside_dest_at_target(dest: Path) -> None:
    (dest / "real.txt").write_text("x")
    (dest / "file.txt").symlink_to(dest / "real.txt")
    with pytest.raises(UnsafePath, match="symbolic link"):
        resolve_inside(dest, "file.txt")


def test_resolve_inside_root_given_through_symlink(tmp_path: Path, dest: Path) -> None:
    via = tmp_path / "via"
    via.symlink_to(dest, target_is_directory=True)
    target = resolve_inside(via, "a/x.txt")
    assert target == Path(os.path.realpath(dest)) / "a" / "x.txt"
