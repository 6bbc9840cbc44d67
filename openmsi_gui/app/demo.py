"""The demo's folders: one place per user, reused from one run to the next.

``scripts/demo`` (``openmsi-gui --demo``) and ``openmsi demo`` put the watched
``outbox/``, the ``inbox/`` and the demo's own settings and registry in
``<data dir>/demo/``, so that runs do not pile up folders in the temp folder
and files dropped in one run are still there in the next.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from openmsi_gui.engine.registry import default_data_dir


def default_demo_dir() -> Path:
    """``<data dir>/demo``: the per-user data folder's demo/ (the real app's data stay apart)."""
    return default_data_dir() / "demo"


@dataclass(frozen=True, slots=True)
class DemoFolders:
    """Where a demo keeps its files.

    Attributes:
        base: the demo's folder.
    """

    base: Path

    @classmethod
    def at(cls, folder: str | os.PathLike[str] | None = None) -> DemoFolders:
        """The demo in ``folder``, or in :func:`default_demo_dir` when None."""
        return cls(Path(folder) if folder else default_demo_dir())

    @property
    def outbox(self) -> Path:
        """The watched folder: files dropped here are sent."""
        return self.base / "outbox"

    @property
    def inbox(self) -> Path:
        """Where the sent files arrive, verified."""
        return self.base / "inbox"

    def create(self) -> DemoFolders:
        """Make both folders (again, if the user deleted them); return self."""
        for folder in (self.outbox, self.inbox):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    def instructions(self) -> str:
        """Where to drop files and where they arrive, for the terminal."""
        return f"  Drop files into:  {self.outbox}\n  They appear in:   {self.inbox}"


DEMO_TITLE = "Demo on a local broker"
DEMO_DROP = "Drop files into"
DEMO_ARRIVE = "They arrive in"
