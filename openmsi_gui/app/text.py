"""Text rules shared by the command line and the GUI: sentences for people."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from openmsi_gui.engine.durations import DurationError, duration_words, parse_duration


def sentence(text: str) -> str:
    """``text`` with a capital first letter and a final full stop.

    Engine messages start in lower case and have no full stop, so that they can
    be joined ("cannot write to X: disk full"); people read them as sentences.
    """
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


_T = TypeVar("_T")


def problem_of(check: Callable[[_T], object], value: _T,
               error: type[Exception] = ValueError) -> str | None:
    """``check(value)``'s ``error`` as a sentence for a form, or None when it passes."""
    try:
        check(value)
    except error as exc:
        return sentence(str(exc))
    return None


def error_sentence(error: BaseException) -> str:
    """An exception's message as a sentence (its type's name if it has none)."""
    return sentence(str(error).strip() or type(error).__name__)


def duration_problem(text: str, empty: str, low: float, high: float,
                     what: str = "a time") -> str | None:
    """What is wrong with a duration field as written (None if it can be used).

    Args:
        text: the field (``90s``, ``20m``, ``1h``, ``7d``).
        empty: the sentence for an empty field.
        low: the shortest accepted, in seconds.
        high: the longest accepted, in seconds.
        what: how the sentence names it: "Give a time between 1 s and 1 day."
    """
    if not text.strip():
        return empty
    try:
        seconds = parse_duration(text)
    except DurationError as exc:
        return sentence(str(exc))
    if not low <= seconds <= high:
        return f"Give {what} between {duration_words(low)} and {duration_words(high)}."
    return None


def files(n: int) -> str:
    """``"1 file"``, ``"2 files"``."""
    return f"{n} file{'' if n == 1 else 's'}"


def quit_question(sending: int, receiving: int) -> str:
    """What Quit asks while files are on their way ("" if none are: it does not ask)."""
    parts = []
    if sending:
        parts.append(f"{files(sending)} still sending")
    if receiving:
        parts.append(f"{receiving} still arriving" if parts else
                     f"{files(receiving)} still arriving")
    if not parts:
        return ""
    they = "it continues" if sending + receiving == 1 else "they continue"
    return f"{' and '.join(parts)}; {they} at next start. Quit anyway?"
