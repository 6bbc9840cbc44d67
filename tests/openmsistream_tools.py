"""Drive the real ``openmsistream`` console programs from interoperability tests.

``openmsistream`` is GPL-3.0, so the product never imports or copies it. Tests
run its console programs as subprocesses from a separate virtual environment
(``.venv-interop`` at the repository root, or ``$OPENMSISTREAM_VENV``), created
on first use. Nothing here imports ``openmsistream``.

Observed behaviour this module relies on (openmsistream 1.8.8):

* The long-running programs read stdin one character per second; ``q`` drains
  and stops, ``c`` prints counters. Closing stdin does *not* stop them, and
  there is no signal handling, so :meth:`stop` sends ``q`` and kills only on
  timeout.
* ``--logger_file_path`` moves the log file, and ``DataFileUploadDirectory``
  then also keeps its upload registry CSVs next to it instead of in
  ``<root>/LOGS/``. The helpers always pass it, so the watched and output
  folders stay free of log files.
* Consumers against Tansu need a short ``session.timeout.ms`` (every JoinGroup
  waits half the session timeout; the 45 s default makes joins take 22 s). The
  configs written here use 2000 (joins in 1 s) with a 500 ms heartbeat.
* Empty files are never sent by the upload programs (zero chunks).
* ``DataFileUploadDirectory``'s default ``--upload_regex`` silently skips
  hidden files and any absolute path containing ``log`` (e.g. ``catalog.csv``,
  or a pytest ``tmp_path`` of a test whose name contains "log").

Wire format seen from 1.8.8 (raw messages, no headers):

* key: UTF-8 ``<subdir with "/"->"_">_<filename>_chunk_<i>_of_<n>``; a root file
  gives ``_root.bin_chunk_1_of_4``, ``a/b/deep.txt`` gives
  ``a_b_deep.txt_chunk_1_of_1``.
* value: ``msgpack.packb([...], use_bin_type=True)`` of 10 fields: filename
  (str), file SHA-512 (64-byte bin), chunk SHA-512 (bin), offset (int),
  chunk_i (int, 1-based), n_chunks (int), subdir (str, POSIX, "" at root),
  filename_append (str, ""), data (bin), mtime (float, ``st_mtime``).
* partition: librdkafka's default ``consistent_random`` = CRC32(key) % n.

Heartbeats and log messages seen from 1.8.8 (see :func:`reporting_args`):

* heartbeat: key ``<program_id>_heartbeat``; value JSON ``{"timestamp":
  "2026-12-06T05:08:41.836760+00:00", ...}`` with ``n_messages_produced`` and
  ``n_bytes_produced`` (ints) from the upload directory (bytes of the
  serialised messages, a little more than the file), ``n_messages_read``,
  ``n_messages_processed``, ``n_bytes_read``, ``n_bytes_processed`` from the
  download directory (bytes of file data). Counts are since the previous beat.
  One more beat is sent when the program stops with ``q``.
* log: key ``<program_id>_log``; value ``{"timestamp": <float epoch>,
  "messages": [...]}`` with every line logged since the previous one (INFO
  too), often an empty list.

Typical use::

    venv = interop_venv()
    cfg = write_config(tmp_path / "omsi.config", broker.bootstrap_servers)
    run_upload_file(src, cfg, "topic")
    with DownloadDirectory(tmp_path / "out", cfg, "topic", "group") as dl:
        dl.wait_for_files({"name.bin": src})
"""

from __future__ import annotations

import ast
import contextlib
import csv
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

# Re-exported: the tests use them as ``omsi.interop_venv``, ``omsi.write_config`` and so on.
from openmsistream_setup import (  # noqa: F401
    DEFAULT_SESSION_TIMEOUT_MS,
    DEFAULT_VENV,
    OPENMSISTREAM_REQUIREMENT,
    REPO_ROOT,
    VENV_ENV_VAR,
    OpenMSIStreamError,
    interop_venv,
    program_env,
    program_path,
    reporting_args,
    write_config,
)

# ----------------------------------------------------------------- UploadDataFile


@dataclass(frozen=True)
class ProgramResult:
    """The outcome of a program that ran to completion.

    Attributes:
        returncode: the exit status.
        output: stdout and stderr, interleaved.
        seconds: wall-clock run time.
    """

    returncode: int
    output: str
    seconds: float


def run_upload_file(
    file: str | os.PathLike[str],
    config: str | os.PathLike[str],
    topic: str,
    chunk_size: int | None = None,
    timeout: float = 120.0,
    *,
    n_threads: int | None = None,
    log_file: str | os.PathLike[str] | None = None,
    check: bool = True,
) -> ProgramResult:
    """Run ``UploadDataFile`` on one file and wait for it to exit.

    The file is sent with an empty ``subdir_str`` (the key is
    ``_<name>_chunk_<i>_of_<n>``). It takes about 1 s for small files.

    Args:
        file: the file to upload.
        config: the INI config (see :func:`write_config`).
        topic: the topic to produce to.
        chunk_size: ``--chunk_size`` (a power of 2); default 524288.
        timeout: seconds before the process is killed.
        n_threads: ``--n_threads``.
        log_file: where to put the log file. By default a temporary file,
            because the program otherwise writes ``UploadDataFile.log`` next to
            the uploaded file.
        check: raise if the exit code is not 0 or a traceback was printed.

    Returns:
        The :class:`ProgramResult`.

    Raises:
        OpenMSIStreamError: on timeout, or a failure when ``check`` is True.
    """
    tmp_logs: str | None = None
    if log_file is None:
        tmp_logs = tempfile.mkdtemp(prefix="omsi-upload-logs-")
        log_file = Path(tmp_logs) / "UploadDataFile.log"
    cmd = [
        str(program_path("UploadDataFile")), str(Path(file).resolve()),
        "--config", str(Path(config).resolve()), "--topic_name", topic,
        "--logger_file_path", str(Path(log_file).resolve()),
    ]
    if chunk_size is not None:
        cmd += ["--chunk_size", str(chunk_size)]
    if n_threads is not None:
        cmd += ["--n_threads", str(n_threads)]
    start = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=program_env(), timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.output or b"").decode("utf-8", "replace")
        raise OpenMSIStreamError(f"UploadDataFile timed out after {timeout} s:\n{out}") from exc
    finally:
        if tmp_logs is not None:
            shutil.rmtree(tmp_logs, ignore_errors=True)
    result = ProgramResult(proc.returncode, proc.stdout.decode("utf-8", "replace"),
                           time.monotonic() - start)
    if check and (result.returncode != 0 or "Traceback" in result.output):
        raise OpenMSIStreamError(
            f"UploadDataFile failed (rc {result.returncode}):\n{result.output}")
    return result


# ------------------------------------------------------------ long-running programs


class _RunningProgram:
    """A long-running openmsistream program controlled through stdin."""

    program = ""
    ready_text = ""
    settle_seconds = 0.0

    def __init__(self, args: Sequence[str], log_dir: str | os.PathLike[str] | None) -> None:
        self._own_log_dir = log_dir is None
        self.log_dir = Path(log_dir) if log_dir is not None else Path(
            tempfile.mkdtemp(prefix=f"omsi-{self.program}-logs-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_file = (self.log_dir / f"{self.program}.log").resolve()
        self._args = [*args, "--logger_file_path", str(log_file)]
        self._proc: subprocess.Popen[bytes] | None = None
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None
        self.returncode: int | None = None

    # -- lifecycle
    def start(self, timeout: float = 60.0) -> _RunningProgram:
        """Start the program and wait for its start-up log line.

        Raises:
            OpenMSIStreamError: if it exits or is not ready within ``timeout``.
        """
        cmd = [str(program_path(self.program)), *self._args]
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=program_env(),
        )
        self._reader = threading.Thread(
            target=self._read, name=f"{self.program}-reader", daemon=True)
        self._reader.start()
        if not self.wait_for_output(self.ready_text, timeout):
            self.kill()
            raise OpenMSIStreamError(
                f"{self.program} did not start within {timeout} s:\n{self.output}")
        time.sleep(self.settle_seconds)
        return self

    def _read(self) -> None:
        proc = self._proc
        if proc is None or proc.stdout is None:
            return
        for raw in proc.stdout:
            with self._cond:
                self._lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def send(self, command: str) -> None:
        """Write control characters to stdin (``"c"`` = check, ``"q"`` = quit).

        The program reads one character per second, so do not add newlines.
        """
        if self._proc is None or self._proc.stdin is None or self._proc.poll() is not None:
            raise OpenMSIStreamError(f"{self.program} is not running")
        self._proc.stdin.write(command.encode())
        self._proc.stdin.flush()

    def stop(self, timeout: float = 60.0, check: bool = True) -> int:
        """Send ``q``, wait for a clean exit, and kill the process on timeout.

        A clean stop normally takes 1-2 s (stdin is polled once a second, then
        queued messages are drained).

        Args:
            timeout: seconds to wait after sending ``q``.
            check: raise if the program had to be killed or exited non-zero.

        Returns:
            The exit code.
        """
        proc = self._proc
        if proc is None:
            return self.returncode if self.returncode is not None else 0
        killed = False
        if proc.poll() is None:
            with contextlib.suppress(OSError, ValueError, OpenMSIStreamError):
                self.send("q")
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                killed = True
                proc.kill()
                proc.wait()
        self._finish(proc)
        if check and (killed or proc.returncode != 0):
            why = "was killed after not stopping" if killed else f"exited with {proc.returncode}"
            raise OpenMSIStreamError(f"{self.program} {why}:\n{self.output}")
        return proc.returncode

    def kill(self) -> None:
        """Kill the process at once (no drain)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        self._finish(proc)

    def _finish(self, proc: subprocess.Popen[bytes]) -> None:
        if self._reader is not None:
            self._reader.join(10)
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if proc.stdout is not None:
            proc.stdout.close()
        self.returncode = proc.returncode
        self._proc = None
        if self._own_log_dir:  # its content is also in self.output
            shutil.rmtree(self.log_dir, ignore_errors=True)

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    # -- output
    @property
    def output(self) -> str:
        """Everything printed so far (stdout and stderr)."""
        with self._cond:
            return "\n".join(self._lines)

    @property
    def error_lines(self) -> list[str]:
        """Log lines reporting errors or warnings.

        The programs keep running (and exit 0) after e.g. a rejected message,
        which only shows up here: ``ERROR: ... failed to deserialize a
        DataFileChunk`` or ``WARNING: hashes for file ... not matched``.
        """
        with self._cond:
            return [line for line in self._lines
                    if "] ERROR" in line or "] WARNING" in line]

    def wait_for_output(self, text: str, timeout: float, start_line: int = 0) -> bool:
        """Wait until a printed line (from ``start_line`` on) contains ``text``.

        Returns:
            True if found, False on timeout or if the program exited first.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if any(text in line for line in self._lines[start_line:]):
                    return True
                remaining = deadline - time.monotonic()
                reader_done = self._reader is None or not self._reader.is_alive()
                if remaining <= 0 or self._proc is None or reader_done:
                    return False
                self._cond.wait(min(remaining, 0.2))

    def check(self, timeout: float = 10.0) -> str:
        """Send ``c`` and return the lines it printed."""
        with self._cond:
            n = len(self._lines)
        self.send("c")
        self.wait_for_output(self.check_text, timeout, start_line=n)
        time.sleep(0.1)
        with self._cond:
            return "\n".join(self._lines[n:])

    check_text = ""

    def __enter__(self) -> _RunningProgram:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.stop()
        else:  # do not hide the original error
            try:
                self.stop(check=False)
            except Exception:
                self.kill()


class UploadDirectory(_RunningProgram):
    """``DataFileUploadDirectory`` watching a folder, as a context manager.

    Files already present are uploaded at start-up with ``upload_existing``
    (``stop()`` right after start still drains them). Files added later are
    sent after ``--watchdog_lag_time`` (3 s by default) without events.
    :meth:`start` returns 1 s after the start-up line, because the folder
    watcher starts a little after it and misses files created before. Names
    starting with ``.``, paths matching ``.log`` and ``LOGS/`` are skipped, as
    are empty files.

    Args:
        directory: the folder to watch.
        config: the INI config.
        topic: the topic to produce to.
        upload_existing: pass ``--upload_existing``.
        chunk_size: ``--chunk_size``.
        upload_regex: ``--upload_regex``. The default regex is matched against
            the *absolute* path and rejects any path with ``log`` after its
            first character, so a folder such as ``.../test_catalog0/`` uploads
            nothing; the constructor raises in that case unless a regex is given.
        log_dir: where the log and the upload registry CSVs go (by default a
            new folder beside ``directory``: the program resolves paths
            against the log folder's parent). Reuse one across runs to test
            resuming.
        extra_args: more command-line arguments.
    """

    program = "DataFileUploadDirectory"
    ready_text = "Will upload "
    # The watchdog observer starts shortly *after* the ready line: a file
    # created within ~0.1 s of it was missed in tests, 0.2 s later it was seen.
    settle_seconds = 1.0
    check_text = "are fully produced"

    def __init__(
        self,
        directory: str | os.PathLike[str],
        config: str | os.PathLike[str],
        topic: str,
        upload_existing: bool = True,
        *,
        chunk_size: int | None = None,
        upload_regex: str | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.directory = Path(directory).resolve()
        if upload_regex is None and "log" in self.directory.as_posix()[1:]:
            raise OpenMSIStreamError(
                f"{self.directory} contains 'log': openmsistream's default --upload_regex "
                "would skip every file; rename the folder or pass upload_regex")
        self.topic = topic
        args = [str(self.directory), "--config", str(Path(config).resolve()), "--topic_name", topic]
        if upload_existing:
            args.append("--upload_existing")
        if chunk_size is not None:
            args += ["--chunk_size", str(chunk_size)]
        if upload_regex is not None:
            args += ["--upload_regex", upload_regex]
        if log_dir is None:
            # DataFileUploadDirectory takes the log folder's parent as the root for
            # relative paths: elsewhere it silently uploads nothing. Keep it beside.
            log_dir = tempfile.mkdtemp(prefix="omsi-logs-", dir=self.directory.parent)
        super().__init__([*args, *extra_args], log_dir)

    def __enter__(self) -> UploadDirectory:
        self.start()
        return self

    def uploaded_files(self) -> set[str]:
        """Relative POSIX paths that the registry lists as fully uploaded.

        The registry (``uploaded_to_<topic>*.csv`` in :attr:`log_dir`) is
        rewritten at most every 5 s, so this lags the broker a little.
        """
        found: set[str] = set()
        for table in self.log_dir.glob(f"uploaded_to_{self.topic}*.csv"):
            try:
                text = table.read_text(encoding="utf-8")
            except OSError:
                continue
            rows = [r for r in text.splitlines() if r and not r.startswith("sep=")]
            # Each value is Python's repr() of the string (``'a.txt'``, or
            # ``"it's.txt"``), then CSV-quoted with '"' when it holds ';' or '"'.
            for row in csv.DictReader(rows, delimiter=";", quotechar='"'):
                rel = row.get("rel_filepath")
                if not rel:
                    continue
                try:
                    value = ast.literal_eval(rel)
                except (ValueError, SyntaxError):
                    value = rel
                found.add(str(value))
        return found

    def wait_uploaded(self, rel_paths: Iterable[str], timeout: float = 60.0) -> None:
        """Wait until all ``rel_paths`` (POSIX, relative to the folder) are uploaded.

        Raises:
            OpenMSIStreamError: on timeout.
        """
        want = set(rel_paths)
        deadline = time.monotonic() + timeout
        while True:
            missing = want - self.uploaded_files()
            if not missing:
                return
            if time.monotonic() > deadline or not self.running:
                raise OpenMSIStreamError(
                    f"not uploaded within {timeout} s: {sorted(missing)}\n{self.output}")
            time.sleep(0.25)


class DownloadDirectory(_RunningProgram):
    """``DataFileDownloadDirectory`` rebuilding files from a topic, as a context manager.

    Files are written in place chunk by chunk, so existence does not mean
    complete: use :meth:`wait_for_files`. The first files appear about 3-4 s
    after start (two Tansu group joins). File mtimes are not restored.

    Args:
        outdir: the output folder (created by the program).
        config: the INI config.
        topic: the topic to consume.
        group: ``--consumer_group_id``.
        n_threads: ``--n_threads`` (default 2).
        log_dir: where the log goes (a temporary folder by default, deleted
            when the program ends); without it the program would write
            ``DataFileDownloadDirectory.log`` into ``outdir``.
        extra_args: more command-line arguments.
    """

    program = "DataFileDownloadDirectory"
    ready_text = "Will reconstruct files"
    check_text = "files completely reconstructed so far"

    def __init__(
        self,
        outdir: str | os.PathLike[str],
        config: str | os.PathLike[str],
        topic: str,
        group: str,
        *,
        n_threads: int | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.outdir = Path(outdir).resolve()
        args = [str(self.outdir), "--config", str(Path(config).resolve()), "--topic_name", topic,
                "--consumer_group_id", group]
        if n_threads is not None:
            args += ["--n_threads", str(n_threads)]
        super().__init__([*args, *extra_args], log_dir)

    def __enter__(self) -> DownloadDirectory:
        self.start()
        return self

    def wait_for_files(
        self,
        expected: Mapping[str, bytes | str | os.PathLike[str]],
        timeout: float = 60.0,
    ) -> None:
        """Wait until each file under :attr:`outdir` has the expected content.

        Args:
            expected: relative POSIX path -> expected bytes, or a path to a
                file with the expected content.
            timeout: seconds to wait.

        Raises:
            OpenMSIStreamError: on timeout (naming the missing or differing files).
        """
        want: dict[str, tuple[int, bytes]] = {}
        for rel, content in expected.items():
            data = content if isinstance(content, bytes) else Path(content).read_bytes()
            want[rel] = (len(data), hashlib.sha512(data).digest())
        done: set[str] = set()
        deadline = time.monotonic() + timeout
        while True:
            for rel, (size, digest) in want.items():
                if rel in done:
                    continue
                path = self.outdir.joinpath(*rel.split("/"))
                try:
                    if (path.stat().st_size == size
                            and hashlib.sha512(path.read_bytes()).digest() == digest):
                        done.add(rel)
                except OSError:
                    pass
            if len(done) == len(want):
                return
            if time.monotonic() > deadline or not self.running:
                raise OpenMSIStreamError(
                    f"files not reconstructed within {timeout} s: {sorted(set(want) - done)}"
                    f"\n{self.output}")
            time.sleep(0.1)

    def files(self) -> dict[str, bytes]:
        """Every regular file under :attr:`outdir`, by relative POSIX path."""
        if not self.outdir.is_dir():
            return {}
        return {p.relative_to(self.outdir).as_posix(): p.read_bytes()
                for p in sorted(self.outdir.rglob("*")) if p.is_file()}
