"""What a status line says: ok, problem, note or work in progress (no Qt).

Every form's outcome line (:class:`~openmsi_gui.ui.status_line.StatusLine`) and
every status picture (:data:`~openmsi_gui.ui.status_icons.ICONS`) uses this one
vocabulary, so a status never travels as a bare string.
"""

from __future__ import annotations

import enum


class StatusKind(enum.Enum):
    """What a status line says; the value names its picture."""

    OK = "ok"
    PROBLEM = "problem"
    NOTE = "note"
    BUSY = "busy"

    @classmethod
    def of(cls, ok: bool | None) -> StatusKind:
        """The kind of an outcome: success, problem, or (None) work still going on."""
        if ok is None:
            return cls.BUSY
        return cls.OK if ok else cls.PROBLEM
