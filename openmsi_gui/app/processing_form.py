"""A destination's "After each file" settings for people, without Qt.

What the destination form offers (nothing, a command, a plugin), the
placeholders a command template may use, the rules that block Apply, and the
words of the Reprocess question. :mod:`openmsi_gui.ui.views.processing_section`
renders them; the command line checks ``--then`` with :func:`template_problem`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from openmsi_gui.app.settings import Destination, DestinationKind
from openmsi_gui.app.validation import topic_problem
from openmsi_gui.engine.durations import DurationError, duration_words, parse_duration
from openmsi_gui.engine.processing.api import ProcessorKind
from openmsi_gui.engine.processing.plugins import available_plugins
from openmsi_gui.engine.processing.template import split_template
from openmsi_gui.engine.processing.template import template_problem as engine_template_problem

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
_FIELD = re.compile(r"\{(" + "|".join(PLACEHOLDER_NAMES) + r")\}")


def template_problem(command: str) -> str | None:
    """Why ``command`` cannot run after each file, as one sentence (None if it can).

    The engine's rule (:func:`~openmsi_gui.engine.processing.template.template_problem`:
    quotes, known placeholders), and one more: the program itself must be named, so
    that a file received from the topic is never what runs.
    """
    problem = engine_template_problem(command)
    if problem is not None:
        return problem
    if _FIELD.search(split_template(command)[0]):
        return ("The command must start with the program to run, not a placeholder: e.g. "
                "python3 /opt/lab/index.py {path}.")
    return None


def timeout_problem(text: str) -> str | None:
    """What is wrong with a "Stop it after" time as written (None if it can be used)."""
    if not text.strip():
        return "Give the time after which processing is stopped, e.g. 60s or 10m."
    try:
        seconds = parse_duration(text)
    except DurationError as exc:
        return f"{str(exc)[0].upper()}{str(exc)[1:]}."
    if not MIN_TIMEOUT <= seconds <= MAX_TIMEOUT:
        return (f"Give a time between {duration_words(MIN_TIMEOUT)} and "
                f"{duration_words(MAX_TIMEOUT)}.")
    return None


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


def reprocess_question(dest: Destination, where: str) -> str:
    """What the Reprocess confirmation says it does, for ``dest`` delivering to ``where``."""
    spec = dest.processor_spec()
    results = (f" Results go to the topic {dest.results_topic}." if dest.results_topic
               else "")
    touched = ("Nothing else is kept." if dest.kind is DestinationKind.PROCESS else
               f"Files already delivered to {where} are not touched.")
    return (f"Run “{spec.name}” again over every file still on the topic {dest.topic}?\n\n"
            "A fresh consumer group reads the topic from its oldest message; each file is "
            "rebuilt in a private temporary area, verified and processed, then removed. "
            f"{touched}{results}\n\nThe destination goes on downloading new files meanwhile.")


def installed_plugins() -> list[tuple[str, str, str]]:
    """The plugins installed here: ``(name, version, distribution)`` each (reads metadata).

    :func:`~openmsi_gui.engine.processing.plugins.available_plugins`: nothing is
    imported, so a broken plugin is listed and fails when it runs.
    """
    return [(p.name, p.version, p.distribution) for p in available_plugins()]
