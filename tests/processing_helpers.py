"""Processors for processing tests: a marker-writing command, its template, a test runner."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import threading
from pathlib import Path

from openmsi_gui.engine.processing.api import FileToProcess, ProcessingResult, ProcessorSpec

MARKER_SCRIPT = """
import json, pathlib, sys, time
path, relpath, markers = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
time.sleep(delay)
if "bad" in relpath and not (markers / "allow-bad").exists():
    print("refusing", relpath, file=sys.stderr)
    sys.exit(3)
(markers / relpath.replace("/", "_")).write_bytes(path.read_bytes())
print(json.dumps({"bytes": path.stat().st_size, "relpath": relpath}))
"""


def marker_command(markers: Path, delay: float = 0.0) -> str:
    """A command template that copies each file into ``markers`` (named by its relpath).

    It fails (exit 3) on paths containing "bad" until ``markers/allow-bad`` exists,
    and prints one JSON object: its result.
    """
    script = markers / "marker.py"
    markers.mkdir(parents=True, exist_ok=True)
    script.write_text(MARKER_SCRIPT, encoding="utf-8")
    args = [sys.executable, str(script), "{path}", "{relpath}", str(markers), str(delay)]
    return shlex.join(args)


def plain_runner(spec: ProcessorSpec, file: FileToProcess,
                stop: threading.Event) -> ProcessingResult:
    """A plain command runner (until the engine's runner is used by these tests)."""
    values = {"path": str(file.path), "relpath": file.relpath, "topic": file.topic,
              "sha512": file.sha512, "metadata_json": json.dumps(dict(file.metadata))}
    args = [part.format(**values) for part in shlex.split(spec.command)]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=spec.timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return ProcessingResult.failure(f"it took longer than {spec.timeout:g} s")
    output = (done.stdout + done.stderr)[-65536:]
    if done.returncode:
        return ProcessingResult.failure(f"the command exited with code {done.returncode}",
                                        output)
    try:
        result = json.loads(done.stdout)
    except ValueError:
        result = None
    return ProcessingResult.success(result if isinstance(result, dict) else None, output)
