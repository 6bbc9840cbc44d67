"""A destination's "After each file" settings for people, without Qt.

What the destination form offers (nothing, a command, a plugin), the
placeholders a command template may use, the rules that block Apply (the
timeout, the memory limit, the results topic), and the
words of the Reprocess question. :mod:`openmsi_gui.ui.views.processing_section`
renders them. A command template is checked by the engine's
:func:`~openmsi_gui.engine.processing.template.template_problem`, as ``--then`` is.
"""

from __future__ import annotations

from collections.abc import Sequence

from openmsi_gui.app.settings import Destination, DestinationKind
from openmsi_gui.app.text import duration_problem, problem_of
from openmsi_gui.app.validation import topic_problem
from openmsi_gui.engine.durations import duration_words
from openmsi_gui.engine.processing.api import ProcessorKind, ProcessorSpec
from openmsi_gui.engine.processing.limits import (
    MemoryLimitError,
    default_memory_words,
    parse_memory_limit,
)
from openmsi_gui.engine.processing.plugins import available_plugins
from openmsi_gui.engine.processing.template import template_problem

KIND_LABELS: dict[ProcessorKind, str] = {
    ProcessorKind.NONE: "Nothing",
    ProcessorKind.COMMAND: "Run a command",
    ProcessorKind.PLUGIN: "A Python plugin",
}
"""What the "After each file" choice shows for each kind of processor."""

PLACEHOLDERS: tuple[tuple[str, str], ...] = (
    ("{path}", "where the verified file is"),
    ("{relpath}", "its path relative to the destination, e.g. S001/a.txt"),
    ("{topic}", "the topic it came from"),
    ("{sha512}", "its SHA-512, hex"),
    ("{metadata_json}", "the fields the instrument side attached, as one JSON object"),
)
"""What a command template may contain, and what each becomes."""

PLACEHOLDER_NAMES = tuple(name[1:-1] for name, _ in PLACEHOLDERS)
NO_PLUGINS = ("No plugins installed: see the README (Processing files after they arrive) "
              "to write or install one.")
MIN_TIMEOUT = 1.0
MAX_TIMEOUT = 86400.0
DEFAULT_TIMEOUT = 60.0


def timeout_problem(text: str) -> str | None:
    """What is wrong with a "Stop it after" time as written (None if it can be used)."""
    return duration_problem(text, "Give the time after which processing is stopped, e.g. 60s "
                            "or 10m.", MIN_TIMEOUT, MAX_TIMEOUT)


def memory_problem(text: str) -> str | None:
    """What is wrong with a "Memory limit" as written (None if it can be used; "": default)."""
    return problem_of(parse_memory_limit, text, MemoryLimitError)


def memory_placeholder(kind: ProcessorKind) -> str:
    """The empty "Memory limit" field's words: what the default is for ``kind``."""
    return f"default: {default_memory_words(kind)}"


def processor_problems(dest: Destination) -> list[str]:
    """Everything wrong with the "After each file" settings of ``dest``, one sentence each."""
    errors: list[str] = []
    kind = dest.processor
    if dest.kind is DestinationKind.PROCESS and kind is ProcessorKind.NONE:
        errors.append("A processing-only destination keeps nothing: choose a command or a "
                      "plugin to run after each file.")
    if kind is ProcessorKind.COMMAND and (problem := template_problem(
            dest.processor_command)) is not None:
        errors.append(problem)
    if kind is ProcessorKind.PLUGIN and not dest.processor_plugin.strip():
        errors.append("Choose the plugin to run after each file.")
    if kind is not ProcessorKind.NONE and not (
            MIN_TIMEOUT <= dest.processor_timeout <= MAX_TIMEOUT):
        errors.append(f"Give a time between {duration_words(MIN_TIMEOUT)} and "
                      f"{duration_words(MAX_TIMEOUT)} to stop processing after.")
    if kind is not ProcessorKind.NONE and (problem := memory_problem(
            dest.processor_memory)) is not None:
        errors.append(problem)
    results = dest.results_topic.strip()
    if results and kind is not ProcessorKind.NONE:
        if (problem := topic_problem(results)) is not None:
            errors.append(f"Results topic: {problem}.")
        elif results == dest.topic:
            errors.append("Send the results to another topic than the one downloaded: they "
                          "would come back as files.")
    return errors


def plugin_label(name: str, version: str, dist: str) -> str:
    """How an installed plugin is listed: ``count-lines 1.0 (my-lab-plugins)``."""
    where = f" ({dist})" if dist and dist != name else ""
    return f"{name} {version}{where}".replace("  ", " ").strip()


def plugin_choices(available: Sequence[tuple[str, str, str]],
                   chosen: str = "") -> list[tuple[str, str]]:
    """The plugin combo's ``(label, name)`` entries; a chosen one not installed stays, marked."""
    entries = [(plugin_label(name, version, dist), name) for name, version, dist in available]
    if chosen and chosen not in {name for _, name in entries}:
        entries.append((f"{chosen} (not installed here)", chosen))
    return entries


def processor_text(spec: ProcessorSpec) -> str:
    """What runs, in full, for a sentence: the plugin's name, or the whole command template.

    Results and the transfers view name a command by its program only
    (:attr:`ProcessorSpec.name`); a question about running it shows all of it.
    """
    return spec.command.strip() if spec.kind is ProcessorKind.COMMAND else spec.name


def results_words(dest: Destination) -> str:
    """`` Results go to the topic R.`` (with its leading space), or "" without a results topic."""
    return f" Results go to the topic {dest.results_topic}." if dest.results_topic else ""


def reprocess_question(dest: Destination, where: str) -> str:
    """What the Reprocess confirmation says it does, for ``dest`` delivering to ``where``."""
    touched = ("Nothing else is kept." if dest.kind is DestinationKind.PROCESS else
               f"Files already delivered to {where} are not touched.")
    if dest.download_regex:
        touched += f" Only files matching {dest.download_regex} are taken."
    return (f"Run “{processor_text(dest.processor_spec())}” again over every file still on "
            f"the topic {dest.topic}?\n\n"
            "A fresh consumer group reads the topic from its oldest message; each file is "
            "rebuilt in a private temporary area, verified and processed, then removed. "
            f"{touched}{results_words(dest)}\n\nThe destination goes on downloading new files "
            "meanwhile.")


def installed_plugins() -> list[tuple[str, str, str]]:
    """The plugins installed here: ``(name, version, distribution)`` each (reads metadata).

    :func:`~openmsi_gui.engine.processing.plugins.available_plugins`: nothing is
    imported, so a broken plugin is listed and fails when it runs.
    """
    return [(p.name, p.version, p.distribution) for p in available_plugins()]
