"""The processor API: what a processor is given for each file, and what it returns.

A processor runs after a file has been rebuilt and verified at a destination.
It is either a command (a template run without a shell) or a Python plugin
found through the entry-point group :data:`ENTRY_POINT_GROUP`. Both run in a
child process, so a crash, a hang or a memory blow-up fails that file's
processing and never the download.

Writing a plugin: a package declares, in its ``pyproject.toml``::

    [project.entry-points."openmsi_gui.processors"]
    count-lines = "my_lab_plugins:CountLines"

and ``CountLines`` is a class made without arguments, with ``name`` and
``version`` attributes and a ``process`` method::

    from openmsi_gui.engine.processing.api import FileToProcess, ProcessingResult

    class CountLines:
        name = "count-lines"
        version = "1.0"

        def process(self, file: FileToProcess) -> ProcessingResult:
            with open(file.path, "rb") as fh:
                lines = sum(1 for _ in fh)
            return ProcessingResult.success({"lines": lines})

The plugin reads the file; it must not move or delete it.

How it runs (:mod:`.runner`): each file is processed in a new child process
that imports the plugin, makes one instance and calls ``process`` once, so no
state survives from one file to the next. What the plugin prints goes to the
output kept in the history; an exception fails the file with its type and
message; the result must be a JSON object (a dict of JSON values) of at most
64 KiB. The destination's timeout applies, and on Linux the process may use
2 GiB of address space (``MemoryError`` beyond it). ``openmsi plugins`` lists
the plugins installed, by the name a destination takes.
"""

from __future__ import annotations

import enum
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

ENTRY_POINT_GROUP = "openmsi_gui.processors"
"""Where plugins are found (``importlib.metadata`` entry points)."""
RESULT_KEY_SUFFIX = "_chunk_processing_result"
"""OpenMSIStream's reproducers key a result ``<subdir as _>_<name>_chunk_processing_result``."""

JsonObject = dict[str, Any]
"""A JSON object (what ``json.loads`` of an object gives)."""


@dataclass(frozen=True)
class FileToProcess:
    """One verified file, as a processor sees it.

    Attributes:
        path: where the verified file is (read it; do not move or delete it).
        relpath: its path relative to the destination, "/"-separated.
        topic: the topic it came from.
        sha512: its SHA-512, hex.
        size: its size in bytes.
        metadata: the fields the instrument side attached (instrument, sample, ...).
    """

    path: Path
    relpath: str
    topic: str
    sha512: str
    size: int
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProcessingResult:
    """What a processor says about one file.

    Attributes:
        ok: whether processing succeeded.
        reason: why it failed, in one sentence ("" when it succeeded).
        result: a JSON object to keep and to send to the results topic (or None).
        output: what a command printed (bounded), kept in the history.
        processor: what ran, for provenance: the plugin's own ``name``, or the
            file name of the command's program (:func:`program_name`; filled in by
            the runner).
        processor_version: the plugin's ``version`` ("" for a command).
    """

    ok: bool
    reason: str = ""
    result: JsonObject | None = None
    output: str = ""
    processor: str = ""
    processor_version: str = ""

    @classmethod
    def success(cls, result: JsonObject | None = None, output: str = "") -> ProcessingResult:
        """A success, with an optional JSON-able result."""
        return cls(True, "", result, output)

    @classmethod
    def failure(cls, reason: str, output: str = "") -> ProcessingResult:
        """A failure, with the one sentence that says why."""
        return cls(False, reason, None, output)


@runtime_checkable
class Processor(Protocol):
    """What a plugin's entry point names: a class made without arguments."""

    name: str
    version: str

    def process(self, file: FileToProcess) -> ProcessingResult:
        """Process one verified file."""


class ProcessorKind(enum.StrEnum):
    """What runs after each file at a destination."""

    NONE = "none"
    COMMAND = "command"
    PLUGIN = "plugin"


class ProcessingState(enum.StrEnum):
    """Where one file's processing stands (kept per file in the registry)."""

    PENDING = "pending"  # verified and waiting for a worker (or for a restart)
    RUNNING = "running"  # its processor runs now
    OK = "ok"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        """Whether the processor ran to an outcome (ok or failed)."""
        return self in (ProcessingState.OK, ProcessingState.FAILED)


@dataclass(frozen=True)
class ProcessorSpec:
    """A destination's processor, as configured (CLI flags or the destination form).

    Attributes:
        kind: nothing, a command, or a plugin.
        command: the command template (``{path}``, ``{relpath}``, ``{topic}``,
            ``{sha512}``, ``{metadata_json}``), split like a shell would, run without one.
        plugin: the entry-point name of the plugin.
        timeout: seconds one file's processing may take before it is stopped and failed.
        results_topic: where results go as JSON ("" for nowhere).
        memory_limit: bytes of address space the child process may use (POSIX
            ``RLIMIT_AS``); None for the kind's default (2 GiB for a plugin, no
            limit for a command), 0 for no limit.
    """

    kind: ProcessorKind = ProcessorKind.NONE
    command: str = ""
    plugin: str = ""
    timeout: float = 60.0
    results_topic: str = ""
    memory_limit: int | None = None

    @property
    def name(self) -> str:
        """How results and the history name it: the plugin's name, or the command's program.

        A command is named by its program's file name (:func:`program_name`), so
        ``/opt/venv/bin/python3 index.py {path}`` is ``python3`` on every machine.
        """
        if self.kind is ProcessorKind.PLUGIN:
            return self.plugin
        if self.kind is ProcessorKind.COMMAND:
            return program_name(self.command)
        return ""


def program_name(command: str) -> str:
    """The file name of a command template's program: ``python3`` for ``/usr/bin/python3 …``.

    The template is split like a shell would (quotes group words); a path with
    ``/`` or a backslash gives its last part. "" for an empty command.
    """
    try:
        words = shlex.split(command, posix=True)
    except ValueError:  # unbalanced quotes: refused before it runs, named by its first word
        words = command.split()
    if not words:
        return ""
    return re.split(r"[\\/]", words[0].rstrip("/\\"))[-1] or words[0]


def result_key(relpath: str) -> str:
    """The results topic key of a file, as OpenMSIStream's reproducers make it.

    ``S001/a.txt`` gives ``S001_a.txt_chunk_processing_result``; a file at the root,
    ``a.txt``, gives ``_a.txt_chunk_processing_result`` (like the chunk keys).
    """
    subdir, _, name = relpath.rpartition("/")
    return f"{subdir.replace('/', '_')}_{name}{RESULT_KEY_SUFFIX}"
