"""Text from messages is escaped before it is shown: the function, and that it is used."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from openmsi_gui.engine import untrusted
from openmsi_gui.engine.untrusted import escaped


@pytest.mark.parametrize(("raw", "shown"), [
    ("scan_01.tif", "scan_01.tif"),
    ("ünïcödé name µm 測定.txt", "ünïcödé name µm 測定.txt"),
    ("line\nforged: INFO all good", "line\\nforged: INFO all good"),
    ("\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07"),
    ("nul\x00tab\tcr\r", "nul\\x00tab\\tcr\\r"),
    ("del\x7f c1\x9b", "del\\x7f c1\\x9b"),
    ("bidi\u202etxt.exe", "bidi\\u202etxt.exe"),
    ("sep\u2028para\u2029", "sep\\u2028para\\u2029"),
    ("zero\u200bwidth", "zero\\u200bwidth"),
    (b"\x01\x93\xc4 key\xff", "\\x01\\x93\\xc4 key\\xff"),
    (b"caf\xc3\xa9", "café"),
    (None, ""),
])
def test_control_characters_are_shown_as_escapes(raw: str | bytes | None, shown: str) -> None:
    assert escaped(raw) == shown


def test_long_text_is_cut_without_breaking_an_escape() -> None:
    assert escaped("x" * 1000) == "x" * (untrusted.DEFAULT_LIMIT - 1) + "…"
    cut = escaped("\x1b" * 1000, limit=10)
    assert cut == "\\x1b\\x1b…"
    assert len(escaped(bytes(range(256)) * 3)) <= untrusted.DEFAULT_LIMIT


@pytest.mark.parametrize("raw", ["a\nb", "\x1b" * 500, "x" * 400, "ok \u202e", "\\x1b"])
def test_escaping_twice_changes_nothing(raw: str) -> None:
    once = escaped(raw)
    assert escaped(once) == once
    assert once.isprintable()


# -- every log line and file event of the download stages goes through it --------------

DOWNLOAD = Path(untrusted.__file__).parent / "download"
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
REPORTER_METHODS = {"discovered", "progress", "completed", "failed", "skipped", "waiting"}
# Values that never come from a message: job and topic names from the settings,
# counts, offsets, the broker's own errors, and what was already escaped.
LOCAL = {"job", "_job", "topic", "_topic", "self", "partition", "offset", "delay", "limit",
         "seconds", "aborted", "opened", "_parked", "_retry_seconds", "_stall_attempts",
         "_stall_reason", "attempts", "n_chunks", "stored", "size", "chunk_i",
         "stored_bytes", "what", "PARKED_ROW", "revoked", "partitions", "err", "error",
         "started", "len", "sorted", "round", "time", "monotonic", "hex", "str", "p", "complete",
         "pending", "behind", "to_pause", "to_resume", "join", "reasons", "r",
         "level", "DEBUG", "INFO", "WARNING", "ERROR", "hint", "left", "_failures",
         "_messages", "kept",  # counts in words
         "value",  # an enum's (a message's value() is caught before)
         "path"}  # FileCompleted.path: where the file is, for opening it (never shown as text)


def _unescaped(node: ast.AST) -> list[str]:
    """Parts of a log or event argument that may carry message text unescaped.

    A value passes if it is a constant, ``escaped(...)``, an ``Incoming.shown``,
    or made only of names and attributes in LOCAL.
    """
    if isinstance(node, ast.Constant):
        return []
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "escaped":
        return []
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("key", "value")):
        return [ast.unparse(node)]  # a Kafka message's key() or value()
    if isinstance(node, ast.Attribute):
        return [] if node.attr in LOCAL | {"shown"} else [ast.unparse(node)]
    if isinstance(node, ast.Name):
        return [] if node.id in LOCAL - {"value"} else [node.id]
    found = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.expr | ast.comprehension | ast.keyword):
            found += _unescaped(child)
    return found


def _shown_calls(tree: ast.AST) -> list[tuple[ast.Call, list[ast.expr]]]:
    """Log calls and file events, with the arguments that become text."""
    calls = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = ast.unparse(node.func.value)
        if owner == "log" and node.func.attr in LOG_METHODS:
            calls.append((node, node.args))  # the format too: it may be an f-string
        elif owner.endswith("_files") and node.func.attr in REPORTER_METHODS:
            shown = node.args[1:] if node.func.attr == "progress" else node.args  # throttle key
            calls.append((node, [*shown, *(k.value for k in node.keywords)]))
    return calls


def test_every_log_line_and_event_of_the_download_stages_escapes_message_text() -> None:
    """A new log call or event with a value from a message must use ``escaped()``.

    Arguments are checked against the values known to be local (job and topic
    names, numbers); anything else must be wrapped in ``escaped(...)`` or be an
    ``Incoming.shown``. A value that is truly local goes into LOCAL here.
    """
    problems = []
    checked = 0
    for path in sorted(DOWNLOAD.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call, args in _shown_calls(tree):
            checked += 1
            for arg in args:
                for part in _unescaped(arg):
                    problems.append(f"{path.name}:{call.lineno}: {part}")
    assert checked > 30
    assert problems == [], (
        "wrap these log or event arguments in escaped(...) if they may hold text from a "
        "message, or add their names to LOCAL in this test if they never do")
