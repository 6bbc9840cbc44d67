"""Runs a destination's processor on one verified file, in a child process: the result.

:func:`run` (or :func:`run_command` / :func:`run_plugin`) blocks the calling
thread (a processing pool's) until the processor is done, its timeout passed, or
``stop`` was set, and always returns a :class:`~.api.ProcessingResult`: a crash,
a hang, a memory blow-up or a misbehaving plugin fails that file's processing
with one sentence and never raises into the caller.

* A command is a template (:mod:`.template`), run without a shell. Exit code 0 is
  success; when its standard output is exactly one JSON object, that object is
  the result. Its output (standard output unless it was the result, then
  standard error) is kept, bounded.
* A plugin runs in :mod:`.plugin_host`, which imports it; the app never does.

A stopped processing (``stop`` set: the app is quitting) fails with
:data:`STOPPED_REASON`; the caller, which set ``stop``, should leave the file to
be processed again at the next start rather than record the failure.
"""

from __future__ import annotations

import json
import signal
import threading

from openmsi_gui.engine.durations import duration_words
from openmsi_gui.engine.processing.api import (
    FileToProcess,
    JsonObject,
    ProcessingResult,
    ProcessorKind,
    ProcessorSpec,
)
from openmsi_gui.engine.processing.child import (
    ChildRun,
    Ending,
    bounded,
    run_child,
)
from openmsi_gui.engine.processing.limits import memory_limit, size_words
from openmsi_gui.engine.processing.plugins import host_command, plugin_dirs
from openmsi_gui.engine.processing.template import TemplateError, command_args
from openmsi_gui.engine.untrusted import escaped

STOPPED_REASON = "Processing was stopped because the app is stopping; it runs again at the " \
                 "next start."
REPLY_LIMIT = 1024 * 1024
"""Bytes of a plugin host's reply read at most (its result and output are bounded before)."""
_LINE = 200  # characters of a last output line quoted in a sentence
_MEMORY_WORDS = ("memoryerror", "cannot allocate memory", "out of memory", "bad_alloc")


def run(spec: ProcessorSpec, file: FileToProcess,
        stop: threading.Event | None = None) -> ProcessingResult:
    """Run ``spec``'s processor on ``file`` (nothing to run: a success with no result)."""
    if spec.kind is ProcessorKind.COMMAND:
        return run_command(spec, file, stop=stop)
    if spec.kind is ProcessorKind.PLUGIN:
        return run_plugin(spec, file, stop=stop)
    return ProcessingResult.success()


def _join(*texts: str) -> str:
    """Outputs one after the other, bounded to about 64 KiB."""
    return bounded("\n".join(t.rstrip("\n") for t in texts if t.strip()))


def _json_object(run: ChildRun) -> JsonObject | None:
    """Its standard output as a JSON object, when that is all it printed."""
    text = run.stdout.text().strip() if run.stdout.complete else ""
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _no_constant(name: str) -> None:
    """NaN and Infinity are not JSON: such output is not a result."""
    raise ValueError(name)


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def _last_line(run: ChildRun) -> str:
    line = run.stderr.last_line() or run.stdout.last_line()
    return escaped(line, _LINE) if line else ""


def _memory_hint(run: ChildRun, limit: int) -> str:
    """Words on the memory limit, when it may be why the child failed."""
    if not limit:
        return ""
    tail = (run.stderr.last_line() + " " + run.stdout.last_line()).lower()
    if any(word in tail for word in _MEMORY_WORDS):
        return f" (it needed more memory than its limit of {size_words(limit)})"
    if (run.returncode or 0) < 0:
        return f" (perhaps for want of memory: its limit is {size_words(limit)})"
    return ""


def _ended(run: ChildRun, what: str, timeout: float) -> str | None:
    """The sentence for a child that did not end by itself with a reply, or None."""
    if run.ending is Ending.STOPPED:
        return STOPPED_REASON
    if run.ending is Ending.TIMED_OUT:
        return (f"The {what} took longer than {duration_words(timeout)} and was stopped: "
                f"raise the timeout or check the {what}.")
    return None


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _how_it_ended(run: ChildRun) -> str:
    code = run.returncode or 0
    return f"was ended by {_signal_name(code)}" if code < 0 else f"exited with code {code}"


def _command_failure(run: ChildRun, limit: int) -> str:
    line = _last_line(run)
    said = f": {line}" if line else " and printed nothing: check the command"
    return _sentence(f"The command {_how_it_ended(run)}{_memory_hint(run, limit)}{said}")


def run_command(spec: ProcessorSpec, file: FileToProcess,
                stop: threading.Event | None = None) -> ProcessingResult:
    """Run ``spec``'s command template on ``file``, without a shell."""
    name = spec.name
    try:
        args = command_args(spec.command, file)
    except TemplateError as exc:
        return _failed(str(exc), name)
    limit = memory_limit(spec)
    program = escaped(args[0], 100)
    try:
        run = run_child(args, timeout=spec.timeout, stop=stop, memory_limit=limit)
    except FileNotFoundError:
        return _failed(f"The program '{program}' was not found: install it, or write its "
                       "full path in the command.", name)
    except PermissionError:
        return _failed(f"The program '{program}' cannot be run (permission denied): make it "
                       "executable, or check the command.", name)
    except OSError as exc:
        return _failed(f"The command could not be started ({escaped(exc.strerror or str(exc))}):"
                       " check the command.", name)
    except ValueError:
        return _failed("This file's name or metadata cannot be passed to a program (it holds a "
                       "NUL character): rename the file.", name)
    ended = _ended(run, "command", spec.timeout)
    result = _json_object(run) if ended is None and run.returncode == 0 else None
    output = _join("" if result is not None else run.stdout.text(), run.stderr.text())
    if ended is not None:
        return _failed(ended, name, output)
    if run.returncode != 0:
        return _failed(_command_failure(run, limit), name, output)
    return ProcessingResult(True, "", result, output, processor=name)


def _failed(reason: str, processor: str, output: str = "", version: str = "") -> ProcessingResult:
    return ProcessingResult(False, reason, None, output, processor, version)


def _request(spec: ProcessorSpec, file: FileToProcess) -> bytes:
    fields = {"path": str(file.path), "relpath": file.relpath, "topic": file.topic,
              "sha512": file.sha512, "size": file.size, "metadata": dict(file.metadata)}
    return json.dumps({"plugin": spec.plugin, "paths": [str(p) for p in plugin_dirs()],
                       "file": fields}).encode()


def _reply(run: ChildRun) -> JsonObject | None:
    reply = _json_object(run)
    if reply is None or not isinstance(reply.get("ok"), bool):
        return None
    return reply


def run_plugin(spec: ProcessorSpec, file: FileToProcess,
               stop: threading.Event | None = None) -> ProcessingResult:
    """Run ``spec``'s plugin on ``file`` in a plugin host child process."""
    label = f"'{escaped(spec.plugin, 100)}'"
    limit = memory_limit(spec)
    try:
        run = run_child(host_command(), timeout=spec.timeout, stop=stop, memory_limit=limit,
                        stdin=_request(spec, file), stdout_limit=REPLY_LIMIT)
    except OSError as exc:
        return _failed(f"The plugin host could not be started ({escaped(exc.strerror or str(exc))}"
                       "): reinstall OpenMSI GUI.", spec.plugin)
    output = run.stderr.text()
    ended = _ended(run, "plugin", spec.timeout)
    if ended is not None:
        return _failed(ended.replace("The plugin", f"The plugin {label}", 1), spec.plugin,
                       output)
    reply = _reply(run)
    if reply is None:
        line = _last_line(run) or "check the plugin"
        return _failed(_sentence(f"The plugin {label} {_how_it_ended(run)} without a result"
                                 f"{_memory_hint(run, limit)}: {line}"), spec.plugin, output)
    return ProcessingResult(
        ok=reply["ok"], reason=escaped(str(reply.get("reason") or ""), 500),
        result=reply.get("result") if isinstance(reply.get("result"), dict) else None,
        output=_join(str(reply.get("output") or ""), output),
        processor=str(reply.get("processor") or spec.plugin),
        processor_version=str(reply.get("processor_version") or ""))
