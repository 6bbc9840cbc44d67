"""What running a processor in a child process costs per file, whatever the processor does.

Runs a no-op processor ``--files`` times on one small file through the engine's
runner (the child process, its process group, the bounded output, the JSON
result) and prints the wall time per file (median, 90th percentile) and files/s
for: a command that is a native program (``true``), a command that is a Python
one-liner printing a JSON result, and a plugin (hosted by ``python -m``), with
and without a memory limit; and the time a stop takes to end a hanging child::

    python benchmarks/processor_overhead.py --files 100
    python benchmarks/processor_overhead.py --bundle dist/openmsi-gui   # + the installed app's
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from plugin_helpers import install_distribution

from openmsi_gui.engine.processing.api import (
    FileToProcess,
    ProcessorKind,
    ProcessorSpec,
)
from openmsi_gui.engine.processing.plugins import PLUGIN_PATH_ENV
from openmsi_gui.engine.processing.runner import run

NOOP_PLUGIN = """
from openmsi_gui.engine.processing.api import ProcessingResult

class Noop:
    name = "noop"
    version = "1"

    def process(self, file):
        return ProcessingResult.success({"size": file.size})
"""


def measure(label: str, spec: ProcessorSpec, file: FileToProcess, files: int) -> None:
    times = []
    for _ in range(files):
        started = time.perf_counter()
        result = run(spec, file)
        times.append(time.perf_counter() - started)
        if not result.ok:
            raise SystemExit(f"{label}: {result.reason}")
    times.sort()
    median = statistics.median(times)
    p90 = times[int(len(times) * 0.9) - 1]
    print(f"{label:<50} {median * 1000:7.1f} ms {p90 * 1000:7.1f} ms {1 / median:8.1f}")


def stop_time(file: FileToProcess) -> float:
    spec = ProcessorSpec(ProcessorKind.COMMAND, "sleep 600", timeout=900)
    stop = threading.Event()
    worker = threading.Thread(target=run, args=(spec, file, stop))
    worker.start()
    time.sleep(0.5)
    started = time.perf_counter()
    stop.set()
    worker.join()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--bundle", type=Path,
                        help="also a plugin hosted by this bundle's openmsi _plugin-host")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "a.txt"
        data.write_bytes(b"x" * 4096)
        file = FileToProcess(data, "S001/a.txt", "lab", "0" * 128, 4096, {"sample": "S001"})
        site = install_distribution(folder / "site", "noop-plugin", "1",
                                    {"noop_plugin.py": NOOP_PLUGIN}, {"noop": "noop_plugin:Noop"})
        os.environ[PLUGIN_PATH_ENV] = str(site)
        py = shlex.quote(sys.executable)
        print(f"{args.files} runs each, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        print(f"{'processor':<50} {'median':>10} {'p90':>10} {'files/s':>8}")
        command = ProcessorKind.COMMAND
        measure("command: true {path}", ProcessorSpec(command, "true {path}"), file, args.files)
        measure("command: python -c (prints a JSON result)",
                ProcessorSpec(command, f"{py} -c 'print(\"{{}}\")' {{path}}"), file, args.files)
        measure("command: true {path}, memory limit 2 GiB",
                ProcessorSpec(command, "true {path}", memory_limit=2 << 30), file, args.files)
        measure("plugin: no-op (python -m plugin host)",
                ProcessorSpec(ProcessorKind.PLUGIN, plugin="noop"), file, args.files)
        if args.bundle:
            sys.frozen = True  # type: ignore[attr-defined]
            sys.executable = str(args.bundle.resolve() / "openmsi-gui")
            measure("plugin: no-op (the bundle's openmsi _plugin-host)",
                    ProcessorSpec(ProcessorKind.PLUGIN, plugin="noop"), file, args.files)
        print(f"stop of a hanging command: {stop_time(file) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
