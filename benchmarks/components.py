"""What the KafkaCrypto component costs: installing it, and looking for it at every start.

Uses the pinned wheel in ``.cache/components/`` (``scripts/fetch_components.py``) or the
file given, and a temporary components folder:

* install from the file (SHA-256, unpack into a temporary folder, rename), median of runs;
* ``activate()`` as both programs call it at start, with the component installed and
  without it (one small file read);
* ``status()`` (``openmsi encryption status``): find kafkacrypto without importing it;
* a fresh ``python -c`` that starts like the programs and imports kafkacrypto: from the
  component, or from this Python's own packages if it has them (where from is printed).

    python benchmarks/components.py [--wheel FILE.whl] [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from openmsi_gui.platform import components
from openmsi_gui.platform.component_install import install_from_file

ROOT = Path(__file__).resolve().parents[1]


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path,
                        default=ROOT / ".cache" / "components" / components.pin().wheel)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    if not args.wheel.is_file():
        sys.exit(f"no wheel at {args.wheel}: run scripts/fetch_components.py")
    with tempfile.TemporaryDirectory() as temp:
        os.environ[components.COMPONENTS_ENV] = str(Path(temp) / "components")
        empty = _median_ms(components.activate, args.runs)
        install = _median_ms(lambda: install_from_file(args.wheel), max(args.runs // 4, 3))
        active = _median_ms(components.activate, args.runs)
        status = _median_ms(components.status, args.runs)
        code = ("import time; t = time.perf_counter(); "
                "from openmsi_gui.platform.startup import prepare_process; prepare_process(); "
                "from openmsi_gui.engine.crypto import kafkacrypto_module; "
                "m = kafkacrypto_module(); "
                "print((time.perf_counter() - t) * 1000, m.__file__)")
        fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=True, env=os.environ).stdout.split()
    print(json.dumps({"wheel_kib": round(args.wheel.stat().st_size / 1024),
                      "install_from_file_ms": round(install, 1),
                      "activate_without_component_ms": round(empty, 3),
                      "activate_with_component_ms": round(active, 3),
                      "status_ms": round(status, 2),
                      "start_and_import_kafkacrypto_ms": round(float(fresh[0])),
                      "imported_from": fresh[1]}, indent=2))


if __name__ == "__main__":
    main()
