"""Processors for processing tests: a command template that writes markers."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

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
