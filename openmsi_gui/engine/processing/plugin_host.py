"""The child process that runs one plugin on one file (``python -m`` this module).

Protocol: the request arrives as one JSON object on standard input
(``plugin``: the entry-point name, ``paths``: extra folders to find it in,
``file``: the :class:`~.api.FileToProcess` fields); the reply leaves as one JSON
object on the standard output the process started with (``ok``, ``reason``,
``result``, ``output``, ``processor``, ``processor_version``). Before the plugin
is imported, file descriptor 1 and ``sys.stdout`` are pointed at standard error,
so whatever the plugin prints (even from C) becomes its output, never part of
the reply. Every way a plugin can go wrong becomes a failure with one sentence;
what the runner sees when no reply comes (a crash, a kill) is its own business.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

from openmsi_gui.engine.processing.api import FileToProcess, JsonObject, ProcessingResult
from openmsi_gui.engine.processing.child import OUTPUT_LIMIT, bounded
from openmsi_gui.engine.processing.plugins import find_plugin, search_path
from openmsi_gui.engine.untrusted import escaped

_FIX = "fix the plugin or choose another one"
RESULT_LIMIT = OUTPUT_LIMIT
"""Bytes a result may have as JSON (a command's result is bounded by its output's 64 KiB)."""


def _what(exc: BaseException) -> str:
    text = str(exc)
    return escaped(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, 200)


def _failure(reason: str, processor: str = "", version: str = "") -> JsonObject:
    return {"ok": False, "reason": reason, "result": None, "output": "",
            "processor": processor, "processor_version": version}


def _file(fields: dict[str, Any]) -> FileToProcess:
    return FileToProcess(path=Path(fields["path"]), relpath=str(fields["relpath"]),
                         topic=str(fields["topic"]), sha512=str(fields["sha512"]),
                         size=int(fields["size"]),
                         metadata={str(k): str(v) for k, v in fields["metadata"].items()})


def _checked(returned: object, label: str, name: str, version: str) -> JsonObject:
    """The reply for what ``process`` returned, or a failure saying what is wrong with it."""
    if not isinstance(returned, ProcessingResult):
        return _failure(f"The plugin {label} returned {type(returned).__name__} instead of a "
                        f"ProcessingResult: {_FIX}.", name, version)
    result: object = returned.result
    if result is not None and not isinstance(result, dict):
        return _failure(f"The plugin {label} gave a result that is a "
                        f"{type(result).__name__}, not a JSON object (a dict): {_FIX}.",
                        name, version)
    try:
        size = len(json.dumps(result, allow_nan=False).encode())
    except (TypeError, ValueError) as exc:
        return _failure(f"The plugin {label} gave a result that cannot be written as JSON "
                        f"({_what(exc)}): {_FIX}.", name, version)
    if size > RESULT_LIMIT:
        return _failure(f"The plugin {label} gave a result of {size // 1024} KiB, more than "
                        f"the {RESULT_LIMIT // 1024} KiB a result may have: keep big data in "
                        "files and return where they are.", name, version)
    reason = str(returned.reason or "")
    if not returned.ok and not reason:
        reason = f"The plugin {label} failed on this file without saying why."
    return {"ok": bool(returned.ok), "reason": "" if returned.ok else reason, "result": result,
            "output": bounded(str(returned.output or "")), "processor": name,
            "processor_version": version}


def serve(request: JsonObject) -> JsonObject:
    """Run the plugin a request names on its file; the reply (never raises but exits)."""
    plugin_name = str(request["plugin"])
    label = f"'{escaped(plugin_name, 100)}'"
    extra = [str(folder) for folder in request.get("paths", [])]
    # After the app's own modules: a plugin folder cannot shadow what the app runs on.
    sys.path.extend(folder for folder in extra if folder not in sys.path)
    found = find_plugin(plugin_name, search_path(Path(folder) for folder in extra))
    if found is None:
        return _failure(f"The plugin {label} is not installed here: install it (pip install "
                        "its package) or choose another one.", plugin_name)
    point, dist = found
    try:
        plugin = point.load()()
    except Exception as exc:  # any error of the plugin's code fails this file
        traceback.print_exc()
        return _failure(f"The plugin {label} could not be loaded ({_what(exc)}): reinstall "
                        "its package or check it.", plugin_name, dist.version or "")
    name = str(getattr(plugin, "name", "") or plugin_name)
    version = str(getattr(plugin, "version", "") or dist.version or "")
    try:
        returned = plugin.process(_file(request["file"]))
    except MemoryError:
        return _failure(f"The plugin {label} ran out of memory on this file: raise its "
                        "memory limit or make it use less.", name, version)
    except Exception as exc:  # any error of the plugin's code fails this file
        traceback.print_exc()
        return _failure(f"The plugin {label} failed on this file ({_what(exc)}): check the "
                        "file, or fix the plugin.", name, version)
    return _checked(returned, label, name, version)


def main() -> NoReturn:
    """Read the request, run the plugin, write the reply on the original standard output."""
    sys.stdout.flush()
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # the plugin's prints, Python's and C's, go to standard error
    sys.stdout = sys.stderr
    request = json.loads(sys.stdin.buffer.read())
    reply = serve(request)
    with os.fdopen(reply_fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(reply, ensure_ascii=False))
    sys.stderr.flush()
    os._exit(0)  # now: threads the plugin left running must not keep the file waiting


if __name__ == "__main__":
    main()
