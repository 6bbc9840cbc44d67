"""Which files under a watched folder are sent: glob patterns, two checkboxes, regexes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from openmsi_gui.engine.globs import TEMPORARY_PATTERNS, GlobError, GlobSet, split_patterns


@dataclass(frozen=True)
class FileFilter:
    """Which files under a watched root are sent (see :mod:`openmsi_gui.engine.globs`).

    A file is sent if its POSIX path relative to the root matches an include
    pattern (or there are none) and the include regex (if any), and nothing
    skips it: an exclude pattern, the exclude regex, or the two checkboxes.

    Attributes:
        include: glob patterns, or one text of them (comma- or line-separated).
        exclude: glob patterns, or one text of them.
        skip_temporary: skip :data:`~openmsi_gui.engine.globs.TEMPORARY_PATTERNS`
            (office lock files, editors' and browsers' scratch files, Thumbs.db).
        skip_hidden: skip names starting with "." (in any folder).
        include_regex: a regular expression the path must match (searched); "" for none.
        exclude_regex: a regular expression of paths to skip (searched); "" for none.

    Raises:
        ValueError: a pattern or regular expression cannot be read (a sentence).
    """

    include: tuple[str, ...] | str = ()
    exclude: tuple[str, ...] | str = ()
    skip_temporary: bool = True
    skip_hidden: bool = True
    include_regex: str = ""
    exclude_regex: str = ""

    def __post_init__(self) -> None:
        for name in ("include", "exclude"):
            object.__setattr__(self, name, tuple(split_patterns(getattr(self, name))))
        try:
            compiled = (GlobSet(self.include_patterns), GlobSet(self.exclude_patterns))
        except GlobError as exc:
            raise ValueError(str(exc)) from exc
        for pattern in (self.include_regex, self.exclude_regex):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
        object.__setattr__(self, "_globs", compiled)

    @property
    def include_patterns(self) -> tuple[str, ...]:
        """The include globs, split."""
        return tuple(self.include)

    @property
    def exclude_patterns(self) -> tuple[str, ...]:
        """The exclude globs, split, with the temporary-file ones if they are skipped."""
        return tuple(self.exclude) + (TEMPORARY_PATTERNS if self.skip_temporary else ())

    @property
    def include_hidden(self) -> bool:
        """Whether names starting with "." are sent (folders of them are walked)."""
        return not self.skip_hidden

    def walks_into(self, relpath: str) -> bool:
        """Whether files in the folder at ``relpath`` may be sent, so it is worth listing.

        A skipped folder (``scratch/``, ``**/scratch/**``, a hidden one) is not
        listed at all; every file in it would be skipped anyway, as an exclude
        pattern that matches a folder matches everything inside it.
        """
        if self.skip_hidden and relpath.rpartition("/")[2].startswith("."):
            return False
        _include, exclude = getattr(self, "_globs")  # noqa: B009
        return not exclude.matches(relpath + "/")

    def accepts(self, relpath: str) -> bool:
        """Whether a file at ``relpath`` (POSIX, relative to the root) should be sent."""
        include, exclude = getattr(self, "_globs")  # noqa: B009
        if self.skip_hidden and any(p.startswith(".") for p in relpath.split("/")):
            return False
        if include and not include.matches(relpath):
            return False
        if self.include_regex and not re.search(self.include_regex, relpath):
            return False
        if exclude.matches(relpath):
            return False
        return not (self.exclude_regex and re.search(self.exclude_regex, relpath))
