"""A processor's memory limit: its default per kind, and the text people write for it.

The limit is the address space of the child process that runs the processor
(POSIX ``RLIMIT_AS``, enforced on Linux; see :mod:`.child`). A plugin has
:data:`PLUGIN_MEMORY_LIMIT` by default; a command has none, since programs
such as Java or Go reserve far more address space than they use. A
destination (``--then-memory``, the form's *Memory limit*) may set another:
``2G``, ``512M``, ``none``, or "" for the kind's default.
"""

from __future__ import annotations

from openmsi_gui.engine.processing.api import ProcessorKind, ProcessorSpec
from openmsi_gui.engine.sizes import SizeError, format_size, parse_size

PLUGIN_MEMORY_LIMIT = 2 * 1024 ** 3
"""A plugin's address space by default (POSIX ``RLIMIT_AS``)."""
MIN_MEMORY_LIMIT = 64 * 1024 ** 2
"""The smallest limit accepted: below it not even a small program starts."""
NO_LIMIT_WORDS = ("none", "off", "0")
DEFAULT_WORDS = ("", "default")


class MemoryLimitError(ValueError):
    """A memory limit that cannot be read; the message says what to write."""


def memory_limit(spec: ProcessorSpec) -> int:
    """The address space ``spec``'s child may use, in bytes (0: no limit)."""
    if spec.memory_limit is not None:
        return max(0, spec.memory_limit)
    return PLUGIN_MEMORY_LIMIT if spec.kind is ProcessorKind.PLUGIN else 0


def size_words(n: int) -> str:
    """``"2 GiB"``, ``"256 MiB"``: a memory limit in a sentence."""
    for unit, size in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def parse_memory_limit(text: str) -> int | None:
    """The limit ``text`` asks for: bytes, 0 for none, None for the kind's default.

    ``2G`` and ``512M`` are binary multiples (``2GiB`` too); ``none`` (``off``,
    ``0``) is no limit; "" (``default``) is the kind's default.

    Raises:
        MemoryLimitError: it is not one of those, or below :data:`MIN_MEMORY_LIMIT`.
    """
    value = text.strip().lower()
    if value in DEFAULT_WORDS:
        return None
    if value in NO_LIMIT_WORDS:
        return 0
    try:
        size = int(parse_size(value, default=None))
    except SizeError:
        raise MemoryLimitError(f"cannot read the memory limit {text.strip()!r}: write a size "
                               "with its unit such as 2G or 512M, or none for no limit") from None
    if size < MIN_MEMORY_LIMIT:
        raise MemoryLimitError(f"a memory limit of {text.strip()} is too small for a program "
                               f"to start: give at least {format_size(MIN_MEMORY_LIMIT)}, or "
                               "none for no limit")
    return size


def memory_limit_text(limit: int | None) -> str:
    """``limit`` as :func:`parse_memory_limit` reads it: ``2G``, ``none``, or "" (default)."""
    if limit is None:
        return ""
    return "none" if limit <= 0 else format_size(limit)


def default_memory_words(kind: ProcessorKind) -> str:
    """What the default is for ``kind``: ``2 GiB`` for a plugin, ``no limit`` for a command."""
    return size_words(PLUGIN_MEMORY_LIMIT) if kind is ProcessorKind.PLUGIN else "no limit"

