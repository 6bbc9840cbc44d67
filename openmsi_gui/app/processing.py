"""A destination's processing in the app (Qt-free): its stage, retry, and Reprocess runs.

:func:`processing_of` turns a destination's "After each file" settings into
what its download job runs; :func:`process_area` is where a processing-only
destination rebuilds its files. :class:`Reprocessing` starts and stops the
Reprocess runs the destination form asks for (each ends by itself once the
topic is processed); :func:`retry_sentence` words a retry's outcome.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from openmsi_gui.app.file_information import destination_wanted
from openmsi_gui.app.processing_form import processor_text, results_words
from openmsi_gui.app.settings import Destination, DestinationKind
from openmsi_gui.engine.events import EventBus
from openmsi_gui.engine.kafka_config import KafkaConfig
from openmsi_gui.engine.processing.api import ProcessorKind
from openmsi_gui.engine.processing.reprocess import Reprocess, private_area, reprocess_group
from openmsi_gui.engine.processing.stage import ProcessingOptions
from openmsi_gui.engine.registry import Registry
from openmsi_gui.engine.untrusted import escaped

log = logging.getLogger("openmsi_gui.app.processing")


def processing_of(dest: Destination) -> ProcessingOptions | None:
    """What ``dest``'s job runs after each file (None: nothing)."""
    if dest.processor is ProcessorKind.NONE:
        return None
    private = dest.kind is DestinationKind.PROCESS
    return ProcessingOptions(dest.processor_spec(), private=private,
                             destination=f"process:{dest.group_id or dest.id}" if private else "")


def process_area(data_dir: Path, dest: Destination) -> Path:
    """Where the processing-only destination ``dest`` rebuilds its files (private, emptied)."""
    return private_area(data_dir, "destination", dest.id)


def reprocess_job_name(dest: Destination) -> str:
    """The job name of ``dest``'s Reprocess runs in events and logs."""
    return f"reprocess:{dest.id}"


def retry_sentence(relpath: str, problem: str | None) -> str:
    """What Retry processing says: that it runs again, or why it cannot."""
    shown = escaped(relpath)
    if problem is None:
        return f"{shown} is being processed again."
    if problem.startswith(shown):  # a file name keeps its case
        return f"{problem}."
    return f"{problem[:1].upper()}{problem[1:]}."


class Reprocessing:
    """The Reprocess runs of the app's destinations (one at a time per destination).

    Args:
        bus: where the runs' events go.
        registry: where processing state is kept.
    """

    def __init__(self, bus: EventBus, registry: Registry) -> None:
        self._bus = bus
        self._registry = registry
        self._lock = threading.Lock()
        self._runs: dict[str, Reprocess] = {}

    def start(self, dest: Destination, config: KafkaConfig) -> str:
        """Start processing everything on ``dest``'s topic again (blocking: off the GUI thread).

        Returns:
            The sentence to show.

        Raises:
            BrokerError: the broker cannot be reached or has no such topic.
            DownloadRegexError: its download filter is not a regular expression.
        """
        if dest.processor is ProcessorKind.NONE:
            return "Choose a command or a plugin to run after each file first."
        with self._lock:
            running = self._runs.get(dest.id)
            if running is not None and not running.done.is_set():
                return (f"Reprocessing of {dest.topic} is already running: it ends by itself "
                        "once every file is processed.")
        run = Reprocess(config, dest.topic, dest.processor_spec(), self._registry.path.parent,
                        self._bus, self._registry, name=reprocess_job_name(dest),
                        group=reprocess_group(dest.group_id or f"openmsi-{dest.id}"),
                        stop_when_done=True, wanted=destination_wanted(dest))
        run.start()
        with self._lock:
            previous = self._runs.pop(dest.id, None)
            self._runs[dest.id] = run
        if previous is not None:
            previous.stop()
        return (f"Every file on the topic {dest.topic} goes through "
                f"“{processor_text(dest.processor_spec())}” again (group {run.group}); files "
                f"already delivered are not touched.{results_words(dest)}")

    def stop_all(self) -> None:
        """Stop every run (at quit; a run stopped before its end must be started again)."""
        with self._lock:
            runs, self._runs = list(self._runs.values()), {}
        for run in runs:
            run.stop()
