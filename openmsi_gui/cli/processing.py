"""What runs after each file, on the command line: ``--then``, ``process``, ``reprocess``.

``openmsi download`` and ``download-s3`` take ``--then "TEMPLATE"`` or
``--then-plugin NAME``, ``--then-timeout``, ``--then-memory``, ``--results-topic``
and ``--retry-failed`` (``process`` and ``reprocess`` too, with ``--command`` and
``--plugin``). ``openmsi process`` is a processing-only destination
(OpenMSIStream's stream processor): files are rebuilt in a private temporary
area, verified, processed and removed. ``openmsi reprocess`` runs a processor
over everything still on a topic with a fresh consumer group, then exits.
"""

from __future__ import annotations

import argparse
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

from openmsi_gui.app.file_information import filtered_text
from openmsi_gui.app.validation import topic_problem
from openmsi_gui.cli.signals import STOP
from openmsi_gui.engine.durations import DurationError, parse_duration
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.processing.api import ProcessorKind, ProcessorSpec
from openmsi_gui.engine.processing.limits import MemoryLimitError, parse_memory_limit
from openmsi_gui.engine.processing.plugins import available_plugins
from openmsi_gui.engine.processing.stage import ProcessingOptions
from openmsi_gui.engine.processing.template import PLACEHOLDER_LIST, template_problem

log = logging.getLogger("openmsi")

DEFAULT_TIMEOUT = "60s"


class ProcessingArgsError(ValueError):
    """Processing flags that cannot be used together; the message says what to change."""


def _timeout(text: str) -> float:
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _memory(text: str) -> int | None:
    try:
        return parse_memory_limit(text)
    except MemoryLimitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _shared(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--then-timeout", type=_timeout, default=_timeout(DEFAULT_TIMEOUT),
                       metavar="DURATION", help="stop one file's processing after this long "
                       f"and count it failed: 90s, 20m, 1h (default {DEFAULT_TIMEOUT})")
    group.add_argument("--then-memory", type=_memory, default=None, metavar="SIZE",
                       help="memory (address space) the processor may use: 2G, 512M, or none "
                            "(default: 2G for a plugin, none for a command; enforced on Linux "
                            "only)")
    group.add_argument("--results-topic", default="", metavar="TOPIC",
                       help="produce one JSON result per processed file to TOPIC, keyed as "
                            "OpenMSIStream's reproducers key theirs (created if missing)")
    group.add_argument("--retry-failed", action="store_true",
                       help="at start, also run the processor again on the files whose "
                            "processing failed (those still there with the same SHA-512)")


def add_then_args(parser: argparse.ArgumentParser) -> None:
    """The "after each file" flags of the download commands (``--then`` and the rest)."""
    group = parser.add_argument_group(
        "after each file", f"Run a command (placeholders {PLACEHOLDER_LIST}; no shell) or a "
        "Python plugin on every file once it is stored and verified. A crash, a hang or a "
        "memory blow-up fails that file's processing, never the download; a file verified "
        "but not processed when the program stops is processed at the next start (at least "
        "once).")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--then", default="", metavar="TEMPLATE",
                       help="command to run, e.g. \"convert {path} {path}.png\"; exit code 0 "
                            "is success, one JSON object printed is its result")
    which.add_argument("--then-plugin", default="", metavar="NAME",
                       help="plugin to run (entry-point group openmsi_gui.processors)")
    _shared(group)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                broker_args: Callable[[argparse.ArgumentParser], None],
                running_args: Callable[[argparse.ArgumentParser], None],
                filter_args: Callable[[argparse.ArgumentParser], None]) -> None:
    """The ``process`` and ``reprocess`` subcommands.

    ``running_args`` adds what ``process`` shares with the download commands
    (its download filter among them); ``filter_args``, the download filter, which
    ``reprocess`` takes too.
    """
    process = sub.add_parser(
        "process", help="process every file of a topic, keeping nothing but the results "
                        "(until Ctrl-C)",
        description="A processing-only destination (OpenMSIStream's stream processor): each "
                    "file is rebuilt in a private temporary area of the data folder, verified, "
                    "processed, then removed, whether processing succeeded or not.")
    broker_args(process)
    process.add_argument("--group", "--consumer_group_id", dest="group", required=True,
                         help="consumer group id (it remembers what was processed)")
    _processor_args(process)
    running_args(process)

    again = sub.add_parser(
        "reprocess", help="run a processor again over every file still on a topic, then exit",
        description="A fresh consumer group reads the topic from its oldest message; each "
                    "file is rebuilt in a private temporary area, verified, processed and "
                    "removed. Files already delivered anywhere are not touched. Exits once "
                    "everything the topic held at the start is processed (1 if some failed).")
    broker_args(again)
    _processor_args(again)
    filter_args(again)


def _processor_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("processor", f"placeholders {PLACEHOLDER_LIST}")
    which = group.add_mutually_exclusive_group(required=True)
    which.add_argument("--command", dest="then", default="", metavar="TEMPLATE",
                       help="command to run on each file (no shell)")
    which.add_argument("--plugin", dest="then_plugin", default="", metavar="NAME",
                       help="plugin to run on each file")
    _shared(group)


def processor_spec(args: argparse.Namespace, topic: str) -> ProcessorSpec | None:
    """The processor the flags ask for (None: nothing runs after each file).

    Raises:
        ProcessingArgsError: a template, plugin or results topic that cannot be used.
    """
    results = args.results_topic.strip()
    if args.then:
        if (problem := template_problem(args.then)) is not None:
            raise ProcessingArgsError(problem)
        spec = ProcessorSpec(ProcessorKind.COMMAND, command=args.then,
                             timeout=args.then_timeout, results_topic=results,
                             memory_limit=args.then_memory)
    elif args.then_plugin:
        installed = {p.name for p in available_plugins()}
        if args.then_plugin not in installed:
            names = ", ".join(sorted(installed)) or "none"
            raise ProcessingArgsError(
                f"no plugin named {args.then_plugin!r} is installed (installed: {names}): "
                "install its package into this Python, or check the name")
        spec = ProcessorSpec(ProcessorKind.PLUGIN, plugin=args.then_plugin,
                             timeout=args.then_timeout, results_topic=results,
                             memory_limit=args.then_memory)
    else:
        if results or args.retry_failed or args.then_memory is not None:
            raise ProcessingArgsError("--results-topic, --retry-failed and --then-memory need "
                                      "a processor: add --then \"COMMAND\" or --then-plugin "
                                      "NAME")
        return None
    if results and (problem := topic_problem(results)) is not None:
        raise ProcessingArgsError(f"--results-topic: {problem}")
    if results == topic:
        raise ProcessingArgsError("send the results to another topic than the one read "
                                  "(--results-topic): they would come back as files")
    return spec


def processing_options(args: argparse.Namespace, private: bool = False,
                       destination: str = "") -> ProcessingOptions | None:
    """The processing of a download, process or reprocess command (None: none).

    Args:
        args: the parsed flags.
        private: processing only (``openmsi process``).
        destination: the name results give the destination ("": the usual one).

    Raises:
        ProcessingArgsError: see :func:`processor_spec`.
    """
    spec = processor_spec(args, args.topic)
    if spec is None:
        return None
    return ProcessingOptions(spec, private=private, retry_failed=args.retry_failed,
                             destination=destination)


def _until_done_or_stopped(done: Callable[[], bool]) -> bool:
    """Wait for ``done()`` or SIGINT/SIGTERM; whether it is done."""
    while not done():
        if STOP.received is not None:
            return False
        time.sleep(0.2)
    return True


def run_reprocess(config: KafkaConfig, args: argparse.Namespace, bus: EventBus,
                  data_dir: Path, wanted: re.Pattern[str] | None = None,
                  wait: Callable[[Callable[[], bool]], bool] = _until_done_or_stopped) -> int:
    """``openmsi reprocess``: 0 once every file is processed, 1 if some failed.

    ``wanted`` is its ``--download-regex`` (None: every file); ``wait(done)`` waits
    for ``done()`` or a stop signal and returns whether done.
    """
    from openmsi_gui.engine.processing.reprocess import Reprocess
    from openmsi_gui.engine.registry import Registry

    spec = processor_spec(args, args.topic)
    assert spec is not None  # the parser requires --command or --plugin
    registry = Registry(data_dir / "registry.sqlite3")
    run = Reprocess(config, args.topic, spec, data_dir, bus, registry, wanted=wanted)
    try:
        run.start()
        try:
            finished = wait(run.done.is_set)
        finally:
            run.stop()
    finally:
        registry.close()
    if run.job.error is not None:
        raise run.job.error
    filtered = run.job.downloader.files_filtered
    skipped = f", {filtered_text(filtered)}" if filtered else ""
    print(f"openmsi: processed again {run.stage.processed} files, {run.stage.failed} "
          f"failed{skipped}{'' if finished else ' (stopped before the end)'}")
    return 1 if run.stage.failed or not finished else 0
