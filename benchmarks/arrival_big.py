"""Time to arrival of one big file written into a watched folder (``openmsi watch`` → ``download``).

For each trial: ``openmsi download`` starts (waited on until it has its partitions), then
``openmsi watch SRC --stable-seconds S``; once the watcher runs, one file of ``--mib`` MiB is
written into SRC. Its time to arrival is from the moment it became stable (its last write +
S) until it is at its final name in the destination with its full size. The copy is then
checked (SHA-256). Every trial gets a fresh topic, folders and ``--data-dir`` on the same
embedded broker.

``--code DIR`` (repeatable) runs the CLI with ``PYTHONPATH=DIR``: give two checkouts (e.g.
a worktree of the commit before a change, and this one) to compare them A/B, alternated
within each repetition (A,B then B,A).

Run (from the repository root, with the project venv)::

    python benchmarks/arrival_big.py --repeat 3 --code /path/to/before --code .
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
MIB = 1024 * 1024


def load_transfer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_transfer", HERE / "transfer.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_transfer"] = module
    spec.loader.exec_module(module)
    return module


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(MIB):
            digest.update(block)
    return digest.hexdigest()


def trial(tr: ModuleType, openmsi: Path, bootstrap: str, code: Path, data: bytes,
          args: argparse.Namespace, run: Path) -> float:
    """One file's time to arrival (s) with the CLI of ``code``."""
    topic = f"arrival-{uuid.uuid4().hex[:8]}"
    tr.create_topic(bootstrap, topic)
    src, dest = run / "src", run / "dest"
    src.mkdir(parents=True)
    dest.mkdir()
    env = {**tr.openmsi_env(), "PYTHONPATH": str(code)}
    down = tr.Child("openmsi download", [
        str(openmsi), "--data-dir", str(run / "state-down"), "download", str(dest),
        "--bootstrap-servers", bootstrap, "--topic", topic, "--group", f"g-{topic}"],
        run / "download.log", env)
    up = None
    try:
        down.wait_for_text("receiving from topic", 60)
        up = tr.Child("openmsi watch", [
            str(openmsi), "--data-dir", str(run / "state-up"), "watch", str(src),
            "--stable-seconds", str(args.stable), "--bootstrap-servers", bootstrap,
            "--topic", topic], run / "upload.log", env)
        time.sleep(args.settle)  # the watcher is up and connected
        target = src / "big.dat"
        with target.open("wb") as handle:
            for i in range(0, len(data), 4 * MIB):
                handle.write(data[i:i + 4 * MIB])
        stable_at = time.monotonic() + args.stable
        final = dest / "big.dat"
        deadline = time.monotonic() + 120
        while not (final.exists() and final.stat().st_size == len(data)):
            if time.monotonic() > deadline:
                raise tr.BenchError(f"not arrived in 120 s\n{down.tail()}\n{up.tail()}")
            time.sleep(0.005)
        arrived = time.monotonic() - stable_at
        if sha256_of(final) != hashlib.sha256(data).hexdigest():
            raise tr.BenchError("FAILED: the copy differs from the file sent")
        return arrived
    finally:
        if up is not None:
            up.stop(tr.sigint, 30)
        down.stop(tr.sigint, 30)
        tr.delete_topic(bootstrap, topic)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stable", type=float, default=3.0, help="--stable-seconds")
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--code", type=Path, action="append", default=[])
    parser.add_argument("--workdir", type=Path, default=Path("/work/tmpbench-arrival"))
    args = parser.parse_args()
    codes = [c.resolve() for c in args.code] or [HERE.parent]
    tr = load_transfer()
    from openmsi_gui.engine.broker import EmbeddedBroker

    openmsi = Path(sys.executable).with_name("openmsi")
    data = os.urandom(args.mib * MIB)
    shutil.rmtree(args.workdir, ignore_errors=True)
    times: dict[Path, list[float]] = {c: [] for c in codes}
    broker = EmbeddedBroker()
    broker.start()
    try:
        for rep in range(args.repeat):
            order = codes if rep % 2 == 0 else list(reversed(codes))
            for code in order:
                load = os.getloadavg()[0]
                took = trial(tr, openmsi, broker.bootstrap_servers, code, data, args,
                             args.workdir / f"{rep}-{uuid.uuid4().hex[:6]}")
                times[code].append(took)
                print(f"[rep {rep + 1}] {code}: {args.mib} MiB arrived {took:.2f} s after "
                      f"it was stable (load {load:.2f})", flush=True)
    finally:
        broker.stop()
        shutil.rmtree(args.workdir, ignore_errors=True)
    for code, found in times.items():
        print(f"{code}: median {statistics.median(found):.2f} s, min {min(found):.2f}, "
              f"max {max(found):.2f} (n={len(found)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
