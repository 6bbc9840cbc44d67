"""Run ``openmsi watch``, ``download`` or ``download-s3`` as a service on a server.

* Linux: a systemd unit, per user (``~/.config/systemd/user``) or system-wide
  (``/etc/systemd/system``, running as the invoking user, never root). Unlike
  OpenMSIStream's units it stops gracefully: systemd sends SIGTERM to the whole
  control group (the default ``KillMode=control-group``, never ``none``), the
  command flushes, stores and commits, and only after ``TimeoutStopSec`` does
  systemd resort to SIGKILL. It restarts on failure, not after a clean stop.
* macOS: a launchd agent (per user) or daemon (``--system``) with the same
  behaviour (launchd sends SIGTERM, then SIGKILL after ``ExitTimeOut``).
* Windows: the documented way to run a console program at boot is a Task
  Scheduler task; :class:`WindowsTasks` prints the ``schtasks`` command lines
  rather than installing anything.

Secrets never go into the unit: a config file's ``$VARIABLES`` come from an
environment file (``--env KEY=VALUE``) that is created owner-only (0600), and
one that others can read is refused.
"""

from __future__ import annotations

import abc
import getpass
import os
import plistlib
import re
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openmsi_gui.platform.autostart import CLI_SCRIPT, installed_executable

ACTIONS = ("watch", "download", "download-s3")
_WITH_FOLDER = ("watch", "download")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]



def write_service_file(path: Path, text: str) -> None:
    """Write a unit or property list, explaining a permission error.

    Raises:
        ServiceError: if the folder is not writable (a ``--system`` service needs sudo).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except PermissionError as exc:
        raise ServiceError(f"cannot write {path}: permission denied (a --system service "
                           "needs sudo)") from exc

class ServiceError(Exception):
    """A problem the user fixes by changing the command or the environment."""


def run_command(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """The default runner: run ``args`` and capture its output (never raises on failure)."""
    try:
        return subprocess.run(list(args), capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise ServiceError(f"{args[0]} is not installed: service mode needs it") from exc


def cli_command() -> list[str]:
    """The absolute command that runs ``openmsi`` as installed (frozen, venv or PATH)."""
    return installed_executable(CLI_SCRIPT, "openmsi_gui")


def invoking_user() -> str:
    """The user who ran the command (the one behind ``sudo``, if any)."""
    return os.environ.get("SUDO_USER") or getpass.getuser()


@dataclass(frozen=True)
class ServiceSpec:
    """What to run as a service.

    Attributes:
        name: the service's short name (``openmsi-<name>``).
        args: the ``openmsi`` arguments, starting with ``watch`` or ``download``.
        system: system-wide (at boot) rather than per user (at login, or at boot
            with ``loginctl enable-linger``).
        user: the account a system service runs as.
        working_dir: relative paths in ``args`` are relative to it.
        command: the absolute ``openmsi`` command.
    """

    name: str
    args: tuple[str, ...] = ()
    system: bool = False
    user: str = field(default_factory=invoking_user)
    working_dir: Path = field(default_factory=Path.cwd)
    command: tuple[str, ...] = field(default_factory=lambda: tuple(cli_command()))

    @property
    def unit_name(self) -> str:
        """``openmsi-<name>``."""
        return f"openmsi-{self.name}"

    @property
    def exec_args(self) -> list[str]:
        """The full command line the service runs."""
        return [*self.command, *self.args]


def check_name(name: str) -> str:
    """``name`` if it can name a service, else :class:`ServiceError`."""
    if not _NAME.fullmatch(name):
        raise ServiceError(f"{name!r} cannot name a service: use letters, digits, '-', '_' "
                           "and '.' (at most 64)")
    return name


def check_args(args: Sequence[str]) -> tuple[str, ...]:
    """``args`` if they start with one of :data:`ACTIONS`, else :class:`ServiceError`."""
    if not args or args[0] not in ACTIONS:
        raise ServiceError("give the command to run after '--', e.g. "
                           "openmsi service install NAME -- watch /data --config lab.config "
                           "--topic T")
    if args[0] in _WITH_FOLDER and (len(args) < 2 or args[1].startswith("-")):
        raise ServiceError(f"give the folder: openmsi service install NAME -- {args[0]} FOLDER "
                           "...")
    return tuple(args)


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings as a dict; :class:`ServiceError` for a malformed one."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not _ENV_KEY.fullmatch(key):
            raise ServiceError(f"--env {pair.split('=')[0]!r} is not KEY=VALUE: give a name "
                               "of letters, digits and '_', then '=' and the value")
        if "\n" in value or "\r" in value or "\0" in value:
            raise ServiceError(f"--env {key}: the value cannot contain line breaks")
        values[key] = value
    return values


def _quote_env(value: str) -> str:
    # Double quotes with \ " ` $ escaped mean the same to systemd and to sh.
    escaped = "".join(f"\\{c}" if c in '\\"`$' else c for c in value)
    return f'"{escaped}"'


def _unquote_env(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r'\\([\\"`$])', r"\1", text[1:-1])
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    return text


def check_env_file(path: Path) -> None:
    """Refuse an environment file that anyone but its owner can read or write."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ServiceError(f"{path} is readable or writable by others (mode "
                           f"{stat.filemode(mode)}): run chmod 600 {path}")


def read_env_file(path: Path) -> dict[str, str]:
    """The ``KEY=VALUE`` lines of an environment file ({} if there is none)."""
    check_env_file(path)
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return values
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = _unquote_env(value.strip())
    return values


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Merge ``values`` into the environment file at ``path``, owner-only (0600).

    The file is never readable by anyone else, not even for a moment: it is
    created with mode 0600 and the mode is enforced again before writing.
    """
    merged = {**read_env_file(path), **values}
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{key}={_quote_env(value)}\n" for key, value in merged.items())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def _systemd_quote(arg: str) -> str:
    # systemd expands %specifiers and $VARIABLES in ExecStart=: escape both.
    text = arg.replace("%", "%%").replace("$", "$$")
    if text and not re.search(r"[\s\"'\\;]", text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _systemd_path(path: Path) -> str:
    # Path settings are taken literally, except for %specifiers.
    return str(path).replace("%", "%%")


def systemd_unit(spec: ServiceSpec, env_file: Path) -> str:
    """The text of the systemd unit for ``spec``.

    Args:
        spec: what to run.
        env_file: the environment file (optional at run time: ``EnvironmentFile=-``).
    """
    exec_start = " ".join(_systemd_quote(arg) for arg in spec.exec_args)
    user = f"User={spec.user}\n" if spec.system else ""
    target = "multi-user.target" if spec.system else "default.target"
    return (
        "[Unit]\n"
        f"Description=OpenMSI {spec.args[0]} ({spec.name})\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"{user}"
        f"WorkingDirectory={_systemd_path(spec.working_dir)}\n"
        f"EnvironmentFile=-{_systemd_path(env_file)}\n"
        "Environment=PYTHONUNBUFFERED=1\n"
        f"ExecStart={exec_start}\n"
        "Restart=on-failure\n"
        "RestartSec=10\n"
        "KillSignal=SIGTERM\n"
        "TimeoutStopSec=30\n"
        "\n"
        "[Install]\n"
        f"WantedBy={target}\n"
    )


# Loads the environment file (if any) into the environment, then execs the command so
# that launchd's SIGTERM reaches openmsi itself.
_SH_WRAPPER = 'f="$1"; shift; if [ -f "$f" ]; then set -a; . "$f"; set +a; fi; exec "$@"'


def launchd_plist(spec: ServiceSpec, env_file: Path, log_file: Path) -> dict[str, Any]:
    """The launchd property list for ``spec`` (an agent, or a daemon if ``spec.system``)."""
    plist: dict[str, Any] = {
        "Label": f"org.openmsi.{spec.name}",
        "ProgramArguments": ["/bin/sh", "-c", _SH_WRAPPER, spec.unit_name, str(env_file),
                             *spec.exec_args],
        "WorkingDirectory": str(spec.working_dir),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "ExitTimeOut": 30,
        "StandardOutPath": str(log_file),
        "StandardErrorPath": str(log_file),
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1"},
    }
    if spec.system:
        plist["UserName"] = spec.user
    return plist


@dataclass
class ServiceStatus:
    """What the service manager says.

    Attributes:
        active: the service is running.
        state: the manager's one-word state (``active``, ``inactive``, ``failed``...).
        details: the manager's full report.
    """

    active: bool
    state: str
    details: str


class ServiceManager(abc.ABC):
    """Installs, removes and reports services on one operating system.

    Args:
        runner: runs the service manager's commands (tests pass a fake).
        config_dir: where environment files go.
    """

    def __init__(self, config_dir: Path, runner: Runner = run_command) -> None:
        self.config_dir = config_dir
        self.runner = runner

    def env_file(self, name: str) -> Path:
        """The environment file of service ``name``."""
        return self.config_dir / f"openmsi-{name}.env"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = self.runner(args)
        if check and result.returncode != 0:
            reason = (result.stderr or result.stdout).strip().splitlines()
            raise ServiceError(f"{' '.join(args)} failed: "
                               f"{reason[-1] if reason else f'exit code {result.returncode}'}")
        return result

    @abc.abstractmethod
    def render(self, spec: ServiceSpec) -> str:
        """What :meth:`install` would write (for ``--dry-run``)."""

    @abc.abstractmethod
    def install(self, spec: ServiceSpec, env: Mapping[str, str]) -> str:
        """Install and start the service; return a message for the user."""

    @abc.abstractmethod
    def remove(self, name: str, system: bool) -> str:
        """Stop and remove the service; return a message for the user."""

    @abc.abstractmethod
    def status(self, name: str, system: bool) -> ServiceStatus:
        """Whether the service runs, and the manager's report."""

    def _prepare_env(self, name: str, env: Mapping[str, str]) -> Path:
        path = self.env_file(name)
        check_env_file(path)
        if env:
            write_env_file(path, env)
        return path


class SystemdServices(ServiceManager):
    """systemd units (Linux).

    Args:
        config_dir: where environment files go.
        runner: runs ``systemctl``.
        user_unit_dir: per-user units (default ``~/.config/systemd/user``).
        system_unit_dir: system units (default ``/etc/systemd/system``).
    """

    def __init__(self, config_dir: Path, runner: Runner = run_command,
                 user_unit_dir: Path | None = None,
                 system_unit_dir: Path = Path("/etc/systemd/system")) -> None:
        super().__init__(config_dir, runner)
        if user_unit_dir is None:
            env = os.environ.get("XDG_CONFIG_HOME", "")
            base = Path(env) if os.path.isabs(env) else Path.home() / ".config"
            user_unit_dir = base / "systemd" / "user"
        self.user_unit_dir = user_unit_dir
        self.system_unit_dir = system_unit_dir

    def unit_path(self, name: str, system: bool) -> Path:
        """Where the unit file of service ``name`` goes."""
        folder = self.system_unit_dir if system else self.user_unit_dir
        return folder / f"openmsi-{name}.service"

    def _systemctl(self, system: bool, *args: str,
                   check: bool = True) -> subprocess.CompletedProcess[str]:
        scope = () if system else ("--user",)
        return self._run("systemctl", *scope, *args, check=check)

    def render(self, spec: ServiceSpec) -> str:
        """The unit file's text."""
        return systemd_unit(spec, self.env_file(spec.name))

    def install(self, spec: ServiceSpec, env: Mapping[str, str]) -> str:
        """Write the unit (and environment file), reload systemd, enable and start it."""
        self._prepare_env(spec.name, env)
        path = self.unit_path(spec.name, spec.system)
        write_service_file(path, self.render(spec))
        unit = f"{spec.unit_name}.service"
        self._systemctl(spec.system, "daemon-reload")
        self._systemctl(spec.system, "enable", "--now", unit)
        scope = "" if spec.system else " --user"
        message = f"installed and started {unit} ({path}); logs: journalctl{scope} -u {unit}"
        if not spec.system:
            message += (f"; to run it without a login session: loginctl enable-linger "
                        f"{spec.user}")
        return message

    def remove(self, name: str, system: bool) -> str:
        """Stop and disable the unit, delete it and its environment file, reload systemd."""
        path = self.unit_path(name, system)
        if not path.exists():
            raise ServiceError(f"there is no service {name} ({path} does not exist)"
                               + ("" if system else ": add --system for a system service"))
        unit = f"openmsi-{name}.service"
        self._systemctl(system, "stop", unit, check=False)
        self._systemctl(system, "disable", unit, check=False)
        try:
            path.unlink()
        except PermissionError as exc:
            raise ServiceError(f"cannot delete {path}: permission denied (a --system service "
                               "needs sudo)") from exc
        self.env_file(name).unlink(missing_ok=True)
        self._systemctl(system, "daemon-reload")
        return f"stopped and removed {unit}"

    def status(self, name: str, system: bool) -> ServiceStatus:
        """``systemctl is-active`` and ``systemctl status``."""
        unit = f"openmsi-{name}.service"
        state = self._systemctl(system, "is-active", unit, check=False).stdout.strip()
        details = self._systemctl(system, "status", "--no-pager", unit, check=False)
        return ServiceStatus(active=state == "active", state=state or "unknown",
                             details=(details.stdout + details.stderr).rstrip())


class LaunchdServices(ServiceManager):
    """launchd agents and daemons (macOS).

    Args:
        config_dir: where environment files go.
        runner: runs ``launchctl``.
        home: the user's home folder (agents go in ``~/Library/LaunchAgents``).
        daemon_dir: where system daemons go.
    """

    def __init__(self, config_dir: Path, runner: Runner = run_command,
                 home: Path | None = None,
                 daemon_dir: Path = Path("/Library/LaunchDaemons")) -> None:
        super().__init__(config_dir, runner)
        self.home = home if home is not None else Path.home()
        self.daemon_dir = daemon_dir

    def plist_path(self, name: str, system: bool) -> Path:
        """Where the property list of service ``name`` goes."""
        folder = self.daemon_dir if system else self.home / "Library" / "LaunchAgents"
        return folder / f"org.openmsi.{name}.plist"

    def _domain(self, system: bool) -> str:
        return "system" if system else f"gui/{os.getuid() if hasattr(os, 'getuid') else 0}"

    def _plist(self, spec: ServiceSpec) -> dict[str, Any]:
        log_file = self.home / "Library" / "Logs" / f"{spec.unit_name}.log"
        return launchd_plist(spec, self.env_file(spec.name), log_file)

    def render(self, spec: ServiceSpec) -> str:
        """The property list (XML)."""
        return plistlib.dumps(self._plist(spec)).decode("utf-8")

    def install(self, spec: ServiceSpec, env: Mapping[str, str]) -> str:
        """Write the property list (and environment file), then bootstrap it."""
        self._prepare_env(spec.name, env)
        path = self.plist_path(spec.name, spec.system)
        write_service_file(path, self.render(spec))
        self._run("launchctl", "bootstrap", self._domain(spec.system), str(path))
        return f"installed and started org.openmsi.{spec.name} ({path})"

    def remove(self, name: str, system: bool) -> str:
        """Boot the job out of launchd and delete its files."""
        path = self.plist_path(name, system)
        if not path.exists():
            raise ServiceError(f"there is no service {name} ({path} does not exist)")
        self._run("launchctl", "bootout", f"{self._domain(system)}/org.openmsi.{name}",
                  check=False)
        path.unlink()
        self.env_file(name).unlink(missing_ok=True)
        return f"stopped and removed org.openmsi.{name}"

    def status(self, name: str, system: bool) -> ServiceStatus:
        """``launchctl print``."""
        result = self._run("launchctl", "print", f"{self._domain(system)}/org.openmsi.{name}",
                           check=False)
        match = re.search(r"^\s*state = (\S+)", result.stdout, re.MULTILINE)
        state = match.group(1) if match else ("not loaded" if result.returncode else "unknown")
        return ServiceStatus(active=state == "running", state=state,
                             details=(result.stdout + result.stderr).rstrip())


class WindowsTasks(ServiceManager):
    """Windows: print the Task Scheduler commands that run the CLI at boot.

    Windows services need a service wrapper; Task Scheduler is the documented,
    built-in way to start a console program at boot under a given account. The
    task runs as the invoking user (``/RU``, password prompted by ``/RP``) so the
    keychain (Windows Credential Manager) entries of that user stay reachable.
    """

    def task_name(self, name: str) -> str:
        """The task's path in Task Scheduler."""
        return f"OpenMSI\\{name}"

    def render(self, spec: ServiceSpec) -> str:
        """The ``schtasks /Create`` command line."""
        action = subprocess.list2cmdline(spec.exec_args)
        create = subprocess.list2cmdline([
            "schtasks", "/Create", "/TN", self.task_name(spec.name), "/SC", "ONSTART",
            "/RU", spec.user, "/RP", "/TR", action])
        return create + "\n"

    def install(self, spec: ServiceSpec, env: Mapping[str, str]) -> str:
        """Print how to create, start and check the task (nothing is installed)."""
        if env:
            raise ServiceError("--env is not supported on Windows: store the values as the "
                               "task user's environment variables (setx NAME VALUE)")
        name = self.task_name(spec.name)
        return ("Windows runs the command line at boot with Task Scheduler. In an "
                "administrator prompt, run:\n\n  " + self.render(spec) +
                f"  schtasks /Run /TN {name}\n\n"
                "Then, in Task Scheduler, open the task's Settings and untick "
                "\"Stop the task if it runs longer than\" (3 days by default). The command "
                f"must be under 261 characters; put options in a --config file if not.\n"
                f"Start from {spec.working_dir} or give absolute paths.")

    def remove(self, name: str, system: bool) -> str:
        """Print how to delete the task."""
        task = self.task_name(name)
        return (f"In an administrator prompt, run:\n\n  schtasks /End /TN {task}\n"
                f"  schtasks /Delete /TN {task} /F")

    def status(self, name: str, system: bool) -> ServiceStatus:
        """``schtasks /Query``."""
        result = self._run("schtasks", "/Query", "/TN", self.task_name(name), "/V",
                           "/FO", "LIST", check=False)
        match = re.search(r"^Status:\s*(.+)$", result.stdout, re.MULTILINE)
        state = match.group(1).strip() if match else "not installed"
        return ServiceStatus(active=state == "Running", state=state,
                             details=(result.stdout + result.stderr).rstrip())


def for_this_platform(config_dir: Path, runner: Runner = run_command) -> ServiceManager:
    """The service manager of the running operating system."""
    if sys.platform == "win32":
        return WindowsTasks(config_dir, runner)
    if sys.platform == "darwin":
        return LaunchdServices(config_dir, runner)
    return SystemdServices(config_dir, runner)
