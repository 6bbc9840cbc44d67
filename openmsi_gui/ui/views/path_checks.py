"""Whether typed or dropped paths are folders, asked of the file system off the GUI thread.

:func:`~openmsi_gui.app.folders.folder_problem` can hang for tens of seconds on
an unreachable network share, so the forms ask it on the app's file-system
executor once typing pauses, say "Checking the folder…" meanwhile, and offer
Apply only once the current path has been checked.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from openmsi_gui.app import folders as folder_rules
from openmsi_gui.ui.tasks import CHECK_DELAY_MS, Purpose, Tasks, asyncSlot

CHECKING = "Checking the folder…"


class PathChecks(QObject):
    """The answers of the file system about paths, by path, and the checks under way.

    :attr:`timer` is restarted by each keystroke (:meth:`check_soon`); when it
    fires the owner checks the path it shows then.

    Signals:
        checked(str): the answer about this path arrived (it may be stale by now).
    """

    checked = Signal(str)

    def __init__(self, tasks: Tasks, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self._answers: dict[str, str | None] = {}  # path -> folder_problem(path)
        self._in_flight: set[str] = set()  # paths being checked now
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(CHECK_DELAY_MS)

    def known(self, path: str) -> bool:
        """Whether ``path`` has been checked (its answer may be out of date)."""
        return path in self._answers

    def problem(self, path: str) -> str | None:
        """:func:`folder_problem` as far as checked, without I/O (None while unchecked)."""
        return folder_rules.path_problem(path) or self._answers.get(path)

    def is_folder(self, path: str) -> bool:
        """Whether ``path`` was found to be a folder."""
        return path in self._answers and self._answers[path] is None

    def remember(self, path: str, problem: str | None) -> None:
        """Take an answer found otherwise (e.g. the folder dialog chose ``path``)."""
        self._answers[path] = problem

    def check_soon(self) -> None:
        """(Re)start :attr:`timer`: a path is checked once typing pauses."""
        self.timer.start()

    def stop(self) -> None:
        """Stop :attr:`timer` (nothing to check any more)."""
        self.timer.stop()

    def check(self, path: str) -> None:
        """Ask the file system about ``path``; :attr:`checked` says when it answered."""
        if path in self._in_flight:  # e.g. still hanging on a dead share
            return
        self._in_flight.add(path)
        self._check(path)

    @asyncSlot()
    async def _check(self, path: str) -> None:
        try:
            problem = await self.tasks.run(Purpose.FS, folder_rules.folder_problem, path,
                                           context=self)
        except Exception as exc:  # shown in the form as the folder's problem
            problem = f"Could not look at the folder {path}: {exc}."
        finally:
            self._in_flight.discard(path)
        self._answers[path] = problem
        self.checked.emit(path)

    async def check_all(self, paths: list[str]) -> list[str]:
        """Check ``paths`` at once (dropped on a view); return those that are folders."""
        answers = await self.tasks.run(Purpose.FS, folder_rules.folder_problems, paths,
                                       context=self)
        self._answers.update(answers)
        return [path for path, problem in answers.items() if problem is None]
