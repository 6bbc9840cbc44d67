r"""Glob patterns a technician can write, matched against paths inside a watched folder.

The rules follow Syncthing's ignore patterns and rclone's filters, which lab
staff may know already:

* ``*`` matches any run of characters within one folder or file name, ``?``
  one character, ``[abc]`` / ``[a-z]`` one of a class (``[!abc]`` or ``[^abc]``
  one character not in it), ``{tif,tiff}`` one of the alternatives;
* ``**`` matches across folders: ``**/scratch/**``, ``raw/**/*.tif``;
* a pattern without ``/`` matches a name in any folder (``*.tmp``, ``~$*``);
  one with ``/`` is anchored at the watched folder (``raw/*.tif``, or
  ``/notes.txt`` for the top only); a trailing ``/`` means a folder (``scratch/``
  is any folder named scratch);
* a pattern that matches a folder matches everything inside it, so
  ``scratch``, ``scratch/`` and ``**/scratch/**`` all skip a scratch folder;
* ``\`` is a folder separator as on Windows (write ``[*]`` for a literal star);
  ``(?i)`` in front makes one pattern ignore case (``(?i)*.TIF``).

A field may hold several patterns, one per line or separated by commas
(:func:`split_patterns`; a comma inside ``{}`` or ``[]`` belongs to the pattern).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

IGNORE_CASE = "(?i)"

TEMPORARY_PATTERNS: tuple[str, ...] = (
    "(?i)~$*", "(?i).~lock.*#", "(?i)*.tmp", "(?i)*.temp", "(?i)*.part", "(?i)*.partial",
    "(?i)*.crdownload", "(?i)*.swp", "(?i)*.swx", "(?i)Thumbs.db", "(?i)desktop.ini",
    ".DS_Store",
)
"""Office lock files, editors' and browsers' scratch files and the OS's folder clutter.

Instrument data is never named like these ("Skip temporary and lock files").
"""


class GlobError(ValueError):
    """A pattern that cannot be read; the message says what is wrong."""


def split_patterns(text: str | Iterable[str]) -> list[str]:
    """The patterns in ``text``: one per line or comma-separated, blanks trimmed.

    Commas inside ``{...}`` or ``[...]`` belong to the pattern. A sequence is
    split item by item, so ``--exclude "*.tmp, ~$*"`` works as two patterns.
    """
    if not isinstance(text, str):
        return [p for item in text for p in split_patterns(item)]
    patterns: list[str] = []
    current: list[str] = []
    depth_brace = 0
    in_class = False
    for char in text:
        if char in ",\n\r" and not depth_brace and not in_class:
            patterns.append("".join(current))
            current = []
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        elif char == "{" and not in_class:
            depth_brace += 1
        elif char == "}" and not in_class and depth_brace:
            depth_brace -= 1
        current.append(char)
    patterns.append("".join(current))
    return [p.strip() for p in patterns if p.strip()]


def join_patterns(patterns: Sequence[str]) -> str:
    """The text of a pattern field: the patterns separated by ", "."""
    return ", ".join(patterns)


def _class(pattern: str, start: int, not_sep: str = "/") -> tuple[str, int] | None:
    """The regex of the ``[...]`` class at ``start`` and the index after it, or None."""
    i = start + 1
    negate = i < len(pattern) and pattern[i] in "!^"
    if negate:
        i += 1
    body_start = i
    if i < len(pattern) and pattern[i] == "]":
        i += 1  # a "]" right after "[" is a member
    while i < len(pattern) and pattern[i] != "]":
        i += 1
    if i >= len(pattern):
        return None  # no closing bracket: a literal "["
    body = pattern[body_start:i].replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return (f"[^{not_sep}{body}]" if negate else f"[{body}]"), i + 1


def _segment(pattern: str, not_sep: str = "/") -> str:
    """The regex of a pattern part without ``**`` segments (may contain ``/``)."""
    out: list[str] = []
    i = 0
    brace: list[int] = []  # open "{" positions, for "," and "}"
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append(f"[^{not_sep}]*")
        elif char == "?":
            out.append(f"[^{not_sep}]")
        elif char == "[":
            found = _class(pattern, i, not_sep)
            if found is not None:
                out.append(found[0])
                i = found[1]
                continue
            out.append(re.escape(char))
        elif char == "{":
            brace.append(i)
            out.append("(?:")
        elif char == "," and brace:
            out.append("|")
        elif char == "}" and brace:
            brace.pop()
            out.append(")")
        else:
            out.append(re.escape(char))
        i += 1
    if brace:
        raise GlobError(f"the pattern {pattern!r} has a “{{” without its “}}”")
    return "".join(out)


def glob_regex(pattern: str, backslash: bool = False) -> str:
    r"""The regular expression (for ``re.fullmatch`` on a POSIX relative path) of ``pattern``.

    Args:
        pattern: one glob pattern.
        backslash: also take ``\`` as a folder separator in the path (Windows
            paths, as OpenMSIStream matches them there).

    Raises:
        GlobError: if the pattern is empty or cannot be read.
    """
    text = pattern.strip()
    flags = ""
    if text.startswith(IGNORE_CASE):
        text, flags = text[len(IGNORE_CASE):], "i"
    text = text.replace("\\", "/")
    if text.endswith("/"):
        text = text.rstrip("/")  # a folder: everything inside it, by the rule below
    anchored = "/" in text
    text = text.lstrip("/")
    if not text:
        raise GlobError(f"the pattern {pattern.strip()!r} matches no name: write one, e.g. *.tmp")
    parts = text.split("/")
    sep, not_sep = (r"[/\\]", r"/\\") if backslash else ("/", "/")
    regex: list[str] = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            # "a/**/b": zero or more folders; a trailing "**": anything below.
            regex.append(".*" if last else f"(?:[^{not_sep}]+{sep})*")
            continue
        regex.append(_segment(part, not_sep) + ("" if last else sep))
    body = "".join(regex)
    if not anchored and not text.startswith("**"):
        body = f"(?:[^{not_sep}]+{sep})*" + body
    body += f"(?:{sep}.*)?"  # a folder matches everything inside it
    return f"(?{flags}:{body})" if flags else f"(?:{body})"


def glob_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used, as a sentence, or None."""
    try:
        re.compile(glob_regex(pattern))
    except GlobError as exc:
        return f"{str(exc)[0].upper()}{str(exc)[1:]}."
    except re.error as exc:
        return f"The pattern {pattern.strip()!r} cannot be read ({exc})."
    return None


def patterns_regex(patterns: Sequence[str], backslash: bool = False) -> str:
    r"""One regular expression matching a path that any of ``patterns`` matches ("" if none).

    ``backslash``: also take ``\`` as a folder separator (see :func:`glob_regex`).

    Raises:
        GlobError: if a pattern cannot be read.
    """
    return "|".join(glob_regex(p, backslash) for p in patterns)


@dataclass(frozen=True)
class GlobSet:
    """Compiled patterns: :meth:`matches` a POSIX path relative to the watched folder."""

    patterns: tuple[str, ...]

    def __post_init__(self) -> None:
        regex = patterns_regex(self.patterns)
        object.__setattr__(self, "_regex", re.compile(regex) if regex else None)

    def matches(self, relpath: str) -> bool:
        """Whether any pattern matches ``relpath`` (or a folder it is in)."""
        compiled: re.Pattern[str] | None = getattr(self, "_regex")  # noqa: B009
        return compiled is not None and compiled.fullmatch(relpath) is not None

    def __bool__(self) -> bool:
        return bool(self.patterns)


_REGEX_SIGNS = re.compile(r"\\[.dwsb]|\.\*|\.\+|\|\(|\)\||^\^|[^*\]]\$$|\(\?[:=!]")


def looks_like_regex(pattern: str) -> bool:
    r"""Whether ``pattern`` is probably a regular expression meant as a glob (``\.tmp$``).

    Used to warn, never to refuse: a glob may contain any of these characters.
    """
    return _REGEX_SIGNS.search(pattern) is not None
