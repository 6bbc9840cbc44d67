"""A received file's processing as people read it, without Qt.

After a file is verified at a destination that runs something after each file
(:mod:`openmsi_gui.app.processing_form`), its processing is waiting or running,
done, or failed with a reason and the processor's (bounded) output. The
transfers view and the history show it in words from here; the output came
from user code fed by Kafka messages, so it is escaped before it is shown.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from openmsi_gui.app.formatting import first_line
from openmsi_gui.engine.events import FileProcessed
from openmsi_gui.engine.processing.api import ProcessingState
from openmsi_gui.engine.processing.records import ProcessingRecord
from openmsi_gui.engine.untrusted import escaped

MAX_SHOWN_RESULT = 1000
"""Characters of a processor's JSON result shown (the results topic has all of it)."""
MAX_SHOWN_OUTPUT = 4000
"""Characters of a processor's output the details pane shows (its end: the error is there)."""


WORDS = {ProcessingState.PENDING: "Processing…", ProcessingState.RUNNING: "Processing…",
         ProcessingState.OK: "Processed", ProcessingState.FAILED: "Processing failed"}
"""What the status cell says once the file is received."""

RETRY_HINT = "Select it and press Retry processing to run it again."


@dataclass(frozen=True)
class Processing:
    """A file's processing: its state, why it failed, what the processor printed.

    Attributes:
        state: waiting or running, done, failed (as the registry keeps it).
        reason: why it failed, one sentence ("" otherwise).
        output: what the processor printed (bounded by the engine).
        processor: the processor's name (a plugin's, or the command's program).
        result: its result as one line of JSON ("" for none).
    """

    state: ProcessingState
    reason: str = ""
    output: str = ""
    processor: str = ""
    result: str = ""

    @classmethod
    def of(cls, event: FileProcessed) -> Processing:
        """What ``event`` says (its texts are escaped by the engine, and again when shown)."""
        return cls(event.state, event.reason, event.output, event.processor)

    @classmethod
    def of_record(cls, record: ProcessingRecord) -> Processing:
        """What the registry keeps about one file's processing at one destination."""
        result = "" if record.result is None else json.dumps(record.result, sort_keys=True)
        return cls(record.state, escaped(record.reason), record.output, record.processor,
                   result)

    @property
    def unfinished(self) -> bool:
        """Whether it is still to be done or running."""
        return not self.state.finished

    @property
    def failed(self) -> bool:
        """Whether it failed."""
        return self.state is ProcessingState.FAILED


def processing_word(processing: Processing) -> str:
    """``Processing…``, ``Processed`` or ``Processing failed``."""
    return WORDS[processing.state]


def processing_tooltip(processing: Processing) -> str:
    """The status cell's tooltip: the word, who processes, the reason and what to do."""
    by = f" by {escaped(processing.processor)}" if processing.processor else ""
    if processing.failed:
        return (f"{WORDS[processing.state]}{by}: {first_line(escaped(processing.reason))}\n"
                f"{RETRY_HINT}")
    if processing.state is ProcessingState.PENDING:
        return f"Received; waiting to be processed{by}."
    if processing.state is ProcessingState.RUNNING:
        return f"Received; being processed{by}."
    return f"Received and processed{by}."


def processing_lines(processing: Processing) -> list[str]:
    """Lines for the details pane: the state and reason, then the output's end."""
    by = f" by {escaped(processing.processor)}" if processing.processor else ""
    line = f"{WORDS[processing.state]}{by}"
    if processing.failed and processing.reason:
        line += f": {escaped(processing.reason.strip())}"
    lines = [line]
    if processing.result:
        lines.append(f"Result: {escaped(processing.result, MAX_SHOWN_RESULT)}")
    output = processing.output.strip()
    if output:
        shown = output if len(output) <= MAX_SHOWN_OUTPUT else "…" + output[-MAX_SHOWN_OUTPUT:]
        # Line by line: the lines stay lines, and nothing else can move the text.
        lines.append("Output:\n" + "\n".join(escaped(part, None)
                                              for part in shown.splitlines()))
    if processing.failed:
        lines.append(RETRY_HINT)
    return lines


def history_processing(records: Sequence[ProcessingRecord]) -> tuple[str, str]:
    """A received file's processing in the history: its cell and its tooltip.

    ``records`` are the file's processing rows, one per destination here that
    processes it (usually one).
    """
    if not records:
        return "", ""
    shown = [Processing.of_record(record) for record in records]
    cell = ", ".join(dict.fromkeys(processing_word(p) for p in shown))
    detail = "\n".join("\n".join(line for line in processing_lines(p) if line != RETRY_HINT)
                       for p in shown)
    return cell, detail
