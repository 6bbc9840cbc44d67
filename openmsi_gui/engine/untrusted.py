r"""Text taken from Kafka messages, made safe to show: the one way it reaches people.

Names, keys and any other text read from a message are untrusted: a key may be
ciphertext (hundreds of control bytes), or be crafted to carry ESC sequences
that drive the terminal, or newlines that forge log lines. :func:`escaped` is
the single path for such text into a log line, the terminal, a notification or
the GUI: every character that is not plainly printable is shown as a
Python-style escape (``\x1b``, ``\n``, ``\u202e``), and the result is cut to
a readable length. Plain names (letters of any script, spaces, punctuation)
are shown unchanged.

Backslashes are left as they are, so that :func:`escaped` is idempotent: a
text already escaped (or a sentence built from escaped names) can safely be
escaped again at the next boundary. A backslash never forges a line or moves
the cursor; it only makes an escape ambiguous, and names from messages with a
backslash are refused by :mod:`~openmsi_gui.engine.safepath` anyway.
"""

from __future__ import annotations

import unicodedata

DEFAULT_LIMIT = 300
"""Characters shown at most (a longer text is cut and ends with "…")."""

# Control (Cc), format (Cf: bidi overrides, zero-width), surrogate (Cs, undecodable
# bytes), private-use (Co), unassigned (Cn), line and paragraph separators (Zl, Zp).
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ELLIPSIS = "…"


def _escape_char(char: str) -> str:
    code = ord(char)
    if char in _SHORT:
        return _SHORT[char]
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escaped(text: str | bytes | None, limit: int | None = DEFAULT_LIMIT) -> str:
    r"""``text`` from a message as it may be shown: control characters escaped, length bounded.

    Args:
        text: a name, key or sentence read from a message; bytes are decoded as
            UTF-8 and every byte that is not valid UTF-8 is shown as ``\xNN``.
            None is shown as an empty string.
        limit: the most characters returned (escapes count in full); a longer
            result is cut and ends with "…". None: never cut (a table cell).

    Returns:
        Text with no control, format or separator characters: one log line,
        whatever the message held.
    """
    if text is None:
        return ""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", "surrogateescape")
    if text.isprintable() and (limit is None or len(text) <= limit):
        return text  # the usual name: nothing to escape (checked in C)
    out: list[str] = []
    length = 0
    for char in text:
        piece = _escape_char(char) if unicodedata.category(char) in _HIDDEN else char
        out.append(piece)
        length += len(piece)
        if limit is not None and length > limit:
            break
    if limit is None or length <= limit:
        return "".join(out)
    kept: list[str] = []
    length = 0
    for piece in out:  # whole escapes only, and room for the ellipsis
        if length + len(piece) > limit - len(_ELLIPSIS):
            break
        kept.append(piece)
        length += len(piece)
    return "".join(kept) + _ELLIPSIS
