"""Setting up the real ``openmsistream`` programs for interop tests: venv, config, flags.

:func:`interop_venv` makes their virtual environment once (``.venv-interop`` at
the repository root, or ``$OPENMSISTREAM_VENV``), :func:`program_path` finds a
console program in it, :func:`write_config` writes their INI config and
:func:`reporting_args` their lab-overview flags; :mod:`openmsistream_tools`
drives the programs (and re-exports these).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

OPENMSISTREAM_REQUIREMENT = "openmsistream>=1.8.8,<1.9"
"""The pip requirement installed into the interop venv (1.8.8 was verified)."""

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VENV = REPO_ROOT / ".venv-interop"
VENV_ENV_VAR = "OPENMSISTREAM_VENV"
_MARKER = ".openmsistream-requirement"
_LOCK = ".install.lock"


DEFAULT_SESSION_TIMEOUT_MS = 2000


class OpenMSIStreamError(RuntimeError):
    """An openmsistream program failed, timed out, or could not be installed."""


# --------------------------------------------------------------------------- venv


def _bin_dir(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


def _venv_python(venv: Path) -> Path:
    return _bin_dir(venv) / ("python.exe" if os.name == "nt" else "python")


def _installed(venv: Path) -> bool:
    marker = venv / _MARKER
    return (
        marker.is_file()
        and marker.read_text(encoding="utf-8").strip() == OPENMSISTREAM_REQUIREMENT
        and program_path("DataFileDownloadDirectory", venv).exists()
    )


class _FileLock:
    """An exclusive advisory lock on a file (POSIX ``flock``; ``msvcrt`` on Windows)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fh: io.BufferedRandom | None = None

    def __enter__(self) -> _FileLock:
        self._fh = open(self._path, "a+b")  # closed in __exit__
        if sys.platform == "win32":  # pragma: no cover - not exercised on Linux CI
            import msvcrt

            while True:
                try:
                    msvcrt.locking(self._fh.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    time.sleep(0.5)
        else:
            import fcntl

            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is None:
            return
        if sys.platform == "win32":  # pragma: no cover
            import msvcrt

            self._fh.seek(0)
            msvcrt.locking(self._fh.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
        self._fh.close()
        self._fh = None


def interop_venv(install: bool = True, pip_timeout: float = 900.0) -> Path:
    """Return the virtual environment holding the real ``openmsistream`` programs.

    The location is ``$OPENMSISTREAM_VENV`` if set, else ``.venv-interop`` at the
    repository root. If the venv is missing (or was made for another
    requirement) it is created with ``python -m venv`` and
    :data:`OPENMSISTREAM_REQUIREMENT` is pip-installed into it. A lock file
    inside the venv folder makes concurrent callers (e.g. pytest-xdist workers)
    wait for one install. An install takes about 30 s.

    Args:
        install: create/repair the venv if needed; with False, only check.
        pip_timeout: seconds allowed for ``pip install``.

    Returns:
        The venv directory.

    Raises:
        OpenMSIStreamError: if the venv is not usable (``install=False``) or the
            install failed.
    """
    override = os.environ.get(VENV_ENV_VAR)
    venv = Path(override).expanduser().resolve() if override else DEFAULT_VENV
    if _installed(venv):
        return venv
    if not install:
        raise OpenMSIStreamError(f"no openmsistream venv at {venv}")
    venv.mkdir(parents=True, exist_ok=True)
    with _FileLock(venv / _LOCK):
        if _installed(venv):  # another process finished while we waited
            return venv
        if not _venv_python(venv).exists():
            base = getattr(sys, "_base_executable", sys.executable)
            _checked([base, "-m", "venv", str(venv)], "python -m venv", pip_timeout)
        _checked(
            [str(_venv_python(venv)), "-m", "pip", "install", "--disable-pip-version-check",
             "--quiet", OPENMSISTREAM_REQUIREMENT],
            "pip install openmsistream", pip_timeout,
        )
        (venv / _MARKER).write_text(OPENMSISTREAM_REQUIREMENT + "\n", encoding="utf-8")
    return venv


def _checked(cmd: Sequence[str], what: str, timeout: float) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise OpenMSIStreamError(f"{what} timed out after {timeout} s") from exc
    if proc.returncode != 0:
        raise OpenMSIStreamError(
            f"{what} failed (rc {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )


def program_path(name: str, venv: Path | None = None) -> Path:
    """Return the path of an openmsistream console program, e.g. ``UploadDataFile``.

    Args:
        name: the console script name.
        venv: the venv to look in; defaults to :func:`interop_venv`.
    """
    venv = venv if venv is not None else interop_venv()
    return _bin_dir(venv) / (name + (".exe" if os.name == "nt" else ""))


def program_env() -> dict[str, str]:
    """Return the environment for openmsistream subprocesses.

    Unbuffered UTF-8 output so log lines arrive as they are written, and no
    inherited ``OPENMSISTREAM_*``/``PYTHONPATH`` settings from the test run.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OPENMSISTREAM_") and k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8", PYTHONUTF8="1")
    return env


# ------------------------------------------------------------------------- config


def write_config(
    path: str | os.PathLike[str],
    bootstrap_servers: str,
    *,
    session_timeout_ms: int = DEFAULT_SESSION_TIMEOUT_MS,
    extra: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write an openmsistream INI config for a plaintext broker such as Tansu.

    The ``[producer]``/``[consumer]`` sections are the shipped
    ``local_broker_test.config`` values plus ``session.timeout.ms`` (needed for
    fast group joins on Tansu). openmsistream turns numeric-looking values into
    floats; librdkafka accepts them.

    Args:
        path: the file to write (parent folders are created).
        bootstrap_servers: ``host:port`` of the broker.
        session_timeout_ms: consumer ``session.timeout.ms``.
        extra: more ``{section: {key: value}}`` entries; they override defaults.

    Returns:
        The config path.
    """
    sections: dict[str, dict[str, str]] = {
        "broker": {"bootstrap.servers": bootstrap_servers},
        "producer": {
            "batch.size": "2000000",
            "linger.ms": "100",
            "compression.type": "lz4",
            "key.serializer": "StringSerializer",
            "value.serializer": "DataFileChunkSerializer",
        },
        "consumer": {
            "group.id": "create_new",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": "False",
            "fetch.min.bytes": "100000",
            "session.timeout.ms": str(session_timeout_ms),
            "heartbeat.interval.ms": str(max(100, session_timeout_ms // 4)),
            "key.deserializer": "StringDeserializer",
            "value.deserializer": "DataFileChunkDeserializer",
        },
    }
    for section, values in (extra or {}).items():
        sections.setdefault(section, {}).update(values)
    text = "".join(
        f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()) + "\n"
        for name, values in sections.items()
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out


def reporting_args(
    heartbeat_topic: str | None = None,
    log_topic: str | None = None,
    *,
    program_id: str | None = None,
    heartbeat_interval: float = 1.0,
    log_interval: float = 1.0,
) -> list[str]:
    """Command-line arguments that make a long-running program report to Kafka.

    Pass them as ``extra_args``. The programs check their timers every loop
    (about 20 times a second), independently of ``--update_seconds``, so a 1 s
    interval gives a beat about every 1.0-1.1 s. Without ``program_id`` the
    heartbeat and log keys carry the hex address of the program's producer,
    which changes every run. A program without a producer of its own (the
    download directory) makes one for its reports, and warns unless the config
    has ``[heartbeat]``/``[log]`` sections (see :func:`write_config`'s ``extra``).

    Args:
        heartbeat_topic: ``--heartbeat_topic_name``.
        log_topic: ``--log_topic_name``.
        program_id: ``--heartbeat_program_id`` and ``--log_program_id``.
        heartbeat_interval: ``--heartbeat_interval_secs``.
        log_interval: ``--log_interval_secs``.
    """
    args: list[str] = []
    if heartbeat_topic is not None:
        args += ["--heartbeat_topic_name", heartbeat_topic,
                 "--heartbeat_interval_secs", str(heartbeat_interval)]
        if program_id is not None:
            args += ["--heartbeat_program_id", program_id]
    if log_topic is not None:
        args += ["--log_topic_name", log_topic, "--log_interval_secs", str(log_interval)]
        if program_id is not None:
            args += ["--log_program_id", program_id]
    return args
