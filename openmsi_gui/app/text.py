"""Text rules shared by the command line and the GUI: sentences for people."""

from __future__ import annotations


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


def error_sentence(error: BaseException) -> str:
    """An exception's message as a sentence (its type's name if it has none)."""
    return sentence(str(error).strip() or type(error).__name__)


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
