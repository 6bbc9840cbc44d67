"""What the diagnostics zip costs: its time and size with full log files and a big registry.

No broker, no keychain (an in-memory one holding a profile's password). Six full
log files (the current one and five rotated, ``--log-mb`` MB each, lines like
the app's with a secret every 500 lines), a registry with ``--files`` uploads
over ten folders, then :func:`write_diagnostics` is timed (median of
``--rounds``) and the zip's size printed.

    python benchmarks/diagnostics.py                 # 6 x 5 MB of logs, 100,000 files
    python benchmarks/diagnostics.py --files 10000 --log-mb 1
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import keyring
import keyring.backend

from openmsi_gui.app import keychain, profiles
from openmsi_gui.app.diagnostics import DiagnosticsSources, write_diagnostics
from openmsi_gui.app.logfiles import BACKUP_COUNT, LOG_NAME
from openmsi_gui.app.settings import BrokerProfile, SecurityProtocol, Settings, SettingsStore
from openmsi_gui.engine.registry import Registry

SECRET = "bench-Secret-5e2a"


class _Memory(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.values.pop((service, username), None)


def fill(base: Path, files: int, log_mb: float) -> DiagnosticsSources:
    profile = BrokerProfile(name="Lab", bootstrap_servers="broker.lab:9093",
                            security_protocol=SecurityProtocol.SASL_SSL,
                            sasl_mechanism="PLAIN", sasl_username="lab")
    store = SettingsStore(base / "settings.json")
    store.update(Settings(profiles=[profile]))
    keychain.set_secret(profiles.owner(profile), profiles.PASSWORD, SECRET)
    logs = base / "logs"
    logs.mkdir()
    line = ("2026-12-06 05:{m:02d}:{s:02d},{ms:03d} INFO [openmsi-watch] "
            "openmsi_gui.engine.uploader: inbox: sent 2026-11-24/scan_{i:06d}.tif ({mb} MB) "
            "to lab-data\n")
    count = int(log_mb * 1_000_000 / len(line))
    text = "".join(line.format(m=i // 60 % 60, s=i % 60, ms=i * 37 % 1000, i=i, mb=i % 97)
                   if i % 500 else f"... sasl.password={SECRET}\n" for i in range(count))
    for name in [LOG_NAME, *(f"{LOG_NAME}.{n}" for n in range(1, BACKUP_COUNT + 1))]:
        (logs / name).write_text(text)
    data = base / "data"
    registry = Registry(data / "registry.sqlite3")
    for i in range(files):
        upload, _ = registry.start_upload("lab-data", f"/data/instrument-{i % 10}",
                                          f"f{i}.tif", 1000, i, i.to_bytes(64, "big"), 1024, 1)
        registry.finish_upload(upload)
    registry.close()
    return DiagnosticsSources(store.path, data, logs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--log-mb", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    keyring.set_keyring(_Memory())
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        print(f"filling: {args.files} uploads, {1 + BACKUP_COUNT} log files of "
              f"{args.log_mb:g} MB", flush=True)
        sources = fill(base, args.files, args.log_mb)
        times = []
        for n in range(args.rounds):
            started = time.perf_counter()
            result = write_diagnostics(base / f"d{n}.zip", sources)
            times.append(time.perf_counter() - started)
        with __import__("zipfile").ZipFile(result.path) as zipped:
            inside = sum(info.file_size for info in zipped.infolist())
            leaked = any(SECRET.encode() in zipped.read(name) for name in zipped.namelist())
        print(f"write_diagnostics: median {statistics.median(times):.2f} s "
              f"(rounds: {', '.join(f'{t:.2f}' for t in times)})")
        print(f"zip: {result.size / 1024 / 1024:.2f} MiB ({inside / 1024 / 1024:.1f} MiB "
              f"inside, {len(result.members)} members); secret found inside: {leaked}")


if __name__ == "__main__":
    main()
