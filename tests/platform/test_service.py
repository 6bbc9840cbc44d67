"""Service mode: unit text, owner-only secrets, systemctl calls, the CLI, graceful stop."""

from __future__ import annotations

import os
import plistlib
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from helpers import wait_until

from openmsi_gui.engine.broker import EmbeddedBroker
from openmsi_gui.platform.service import (
    LaunchdServices,
    ServiceError,
    ServiceSpec,
    SystemdServices,
    WindowsTasks,
    check_args,
    parse_env,
    read_env_file,
    write_env_file,
)

OPENMSI = [sys.executable, "-m", "openmsi_gui"]
ARGS = ("watch", "/data/in box", "--config", "lab.config", "--topic", "T")
EXE = ("/opt/openmsi/bin/openmsi",)


class FakeRunner:
    """Records commands; answers ``is-active`` with ``state``."""

    def __init__(self, state: str = "active", fail: str = "") -> None:
        self.calls: list[list[str]] = []
        self.state = state
        self.fail = fail

    def __call__(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(args))
        if self.fail and self.fail in args:
            return subprocess.CompletedProcess(args, 1, "", "Failed to connect to bus\n")
        if "is-active" not in args and "status" not in args:
            return subprocess.CompletedProcess(args, 0, "", "")
        out = f"{self.state}\n" if "is-active" in args else "● openmsi-demo.service\n"
        return subprocess.CompletedProcess(args, 0 if self.state == "active" else 3, out, "")


def spec(system: bool = False, name: str = "demo") -> ServiceSpec:
    return ServiceSpec(name=name, args=ARGS, system=system, user="alice",
                       working_dir=Path("/home/alice"), command=EXE)


def manager(tmp_path: Path, runner: FakeRunner) -> SystemdServices:
    return SystemdServices(tmp_path / "config", runner, user_unit_dir=tmp_path / "user",
                           system_unit_dir=tmp_path / "system")


def test_unit_runs_the_absolute_command_and_stops_gracefully(tmp_path: Path) -> None:
    text = manager(tmp_path, FakeRunner()).render(spec())
    lines = text.splitlines()
    assert ('ExecStart=/opt/openmsi/bin/openmsi watch "/data/in box" --config lab.config '
            "--topic T") in lines
    assert "Restart=on-failure" in lines
    assert "RestartSec=10" in lines
    assert "KillSignal=SIGTERM" in lines
    assert "TimeoutStopSec=30" in lines
    assert "KillMode=none" not in text
    assert not any(line.startswith("KillMode") for line in lines)
    assert "After=network-online.target" in lines
    assert "Wants=network-online.target" in lines
    assert f"EnvironmentFile=-{tmp_path / 'config' / 'openmsi-demo.env'}" in lines
    assert "WorkingDirectory=/home/alice" in lines
    assert not any(line.startswith("User=") for line in lines)  # a user unit
    assert "WantedBy=default.target" in lines


def test_system_unit_runs_as_the_invoking_user_not_root(tmp_path: Path) -> None:
    lines = manager(tmp_path, FakeRunner()).render(spec(system=True)).splitlines()
    assert "User=alice" in lines
    assert "WantedBy=multi-user.target" in lines


def test_exec_start_escapes_systemd_specifiers_and_variables(tmp_path: Path) -> None:
    odd = ServiceSpec(name="x", args=("download", "/srv/100%", "--config", "$HOME/a.config"),
                      user="a", working_dir=Path("/"), command=EXE)
    text = manager(tmp_path, FakeRunner()).render(odd)
    assert "ExecStart=/opt/openmsi/bin/openmsi download /srv/100%% --config $$HOME/a.config" \
        in text.splitlines()


def test_env_file_is_owner_only_and_merges(tmp_path: Path) -> None:
    path = tmp_path / "config" / "openmsi-demo.env"
    write_env_file(path, {"PASSWORD": 'p"a$s`s\\w'})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    write_env_file(path, {"USER": "lab"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_env_file(path) == {"PASSWORD": 'p"a$s`s\\w', "USER": "lab"}
    # sh reads the same values (the launchd wrapper sources the file).
    out = subprocess.run(["/bin/sh", "-c", f'. "{path}"; printf %s "$PASSWORD"'],
                         capture_output=True, text=True, check=True).stdout
    assert out == 'p"a$s`s\\w'


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_refuses_an_env_file_others_can_access(tmp_path: Path, mode: int) -> None:
    services = manager(tmp_path, FakeRunner())
    path = services.env_file("demo")
    path.parent.mkdir(parents=True)
    path.write_text("PASSWORD=x\n")
    path.chmod(mode)
    with pytest.raises(ServiceError, match="chmod 600"):
        services.install(spec(), {})
    with pytest.raises(ServiceError, match="chmod 600"):
        write_env_file(path, {"A": "b"})
    assert not (tmp_path / "user" / "openmsi-demo.service").exists()


def test_parse_env_rejects_malformed_pairs() -> None:
    assert parse_env(["A=1", "B_2=x=y"]) == {"A": "1", "B_2": "x=y"}
    for bad in ["A", "1A=x", "A B=x", "A=line\nbreak"]:
        with pytest.raises(ServiceError):
            parse_env([bad])


def test_check_args_wants_watch_or_download_and_a_folder() -> None:
    assert check_args(list(ARGS)) == ARGS
    for bad in [[], ["upload", "x"], ["watch"], ["download", "--topic", "t"]]:
        with pytest.raises(ServiceError):
            check_args(bad)
    s3 = ["download-s3", "--bucket", "lab", "--config", "/etc/lab.config", "--topic", "t"]
    assert check_args(s3) == tuple(s3)  # no folder: it goes to a bucket


def test_install_remove_status_call_systemctl(tmp_path: Path) -> None:
    runner = FakeRunner()
    services = manager(tmp_path, runner)
    message = services.install(spec(), {"PASSWORD": "s3cret"})
    unit = tmp_path / "user" / "openmsi-demo.service"
    assert unit.read_text() == services.render(spec())
    assert "s3cret" not in unit.read_text()
    assert stat.S_IMODE(services.env_file("demo").stat().st_mode) == 0o600
    assert runner.calls == [["systemctl", "--user", "daemon-reload"],
                            ["systemctl", "--user", "enable", "--now", "openmsi-demo.service"]]
    assert "journalctl --user -u openmsi-demo.service" in message

    runner.calls.clear()
    status = services.status("demo", system=False)
    assert status.active
    assert status.state == "active"
    assert ["systemctl", "--user", "is-active", "openmsi-demo.service"] in runner.calls
    assert ["systemctl", "--user", "status", "--no-pager", "openmsi-demo.service"] \
        in runner.calls

    runner.calls.clear()
    services.remove("demo", system=False)
    assert runner.calls == [["systemctl", "--user", "stop", "openmsi-demo.service"],
                            ["systemctl", "--user", "disable", "openmsi-demo.service"],
                            ["systemctl", "--user", "daemon-reload"]]
    assert not unit.exists()
    assert not services.env_file("demo").exists()


def test_system_scope_drops_user_flag(tmp_path: Path) -> None:
    runner = FakeRunner(state="failed")
    services = manager(tmp_path, runner)
    services.install(spec(system=True), {})
    assert (tmp_path / "system" / "openmsi-demo.service").exists()
    assert runner.calls[-1] == ["systemctl", "enable", "--now", "openmsi-demo.service"]
    status = services.status("demo", system=True)
    assert not status.active
    assert status.state == "failed"


def test_failures_are_one_sentence(tmp_path: Path) -> None:
    services = manager(tmp_path, FakeRunner(fail="daemon-reload"))
    with pytest.raises(ServiceError, match="daemon-reload failed: Failed to connect to bus"):
        services.install(spec(), {})
    with pytest.raises(ServiceError, match="there is no service nothing"):
        manager(tmp_path, FakeRunner()).remove("nothing", system=False)


def test_launchd_plist_wraps_the_env_file_and_exits_gracefully(tmp_path: Path) -> None:
    runner = FakeRunner()
    services = LaunchdServices(tmp_path / "config", runner, home=tmp_path / "home",
                               daemon_dir=tmp_path / "daemons")
    services.install(spec(), {"PASSWORD": "x"})
    path = tmp_path / "home" / "Library" / "LaunchAgents" / "org.openmsi.demo.plist"
    with path.open("rb") as handle:
        plist = plistlib.load(handle)
    assert plist["ProgramArguments"][-len(ARGS) - 1:] == [*EXE, *ARGS]
    assert str(services.env_file("demo")) in plist["ProgramArguments"]
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["ExitTimeOut"] == 30
    assert "x" not in str(plist.get("EnvironmentVariables"))
    assert runner.calls[0][:2] == ["launchctl", "bootstrap"]
    # The wrapper loads the env file and execs the command with the arguments intact.
    probe = [*plist["ProgramArguments"][:5], "/bin/sh", "-c", 'printf %s "$PASSWORD:$1"',
             "sh", "a b"]
    out = subprocess.run(probe, capture_output=True, text=True, check=True).stdout
    assert out == "x:a b"


def test_windows_prints_the_task_scheduler_command(tmp_path: Path) -> None:
    runner = FakeRunner()
    tasks = WindowsTasks(tmp_path, runner)
    windows = ServiceSpec(name="demo", args=("watch", "D:\\data", "--config", "lab.config",
                                             "--topic", "T"),
                          user="LAB\\alice", working_dir=Path("/"),
                          command=("C:\\Program Files\\OpenMSI\\openmsi.exe",))
    text = tasks.install(windows, {})
    assert "schtasks /Create /TN OpenMSI\\demo /SC ONSTART /RU LAB\\alice /RP /TR" in text
    assert '\\"C:\\Program Files\\OpenMSI\\openmsi.exe\\" watch D:\\data' in text
    assert runner.calls == []  # nothing is run
    assert "schtasks /Delete /TN OpenMSI\\demo /F" in tasks.remove("demo", system=False)


# --- the command line -----------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OPENMSI, *args], capture_output=True, text=True, timeout=60,
                          check=False)


def test_cli_dry_run_prints_the_unit(tmp_path: Path) -> None:
    result = run_cli("service", "install", "demo", "--dry-run", "--", "watch", "/tmp/x",
                     "--bootstrap-servers", "h:1", "--topic", "t")
    assert result.returncode == 0, result.stderr
    if sys.platform.startswith("linux"):
        exec_start = next(line for line in result.stdout.splitlines()
                          if line.startswith("ExecStart="))
        executable = exec_start.removeprefix("ExecStart=").split()[0]
        assert Path(executable).is_absolute()
        assert exec_start.endswith(" watch /tmp/x --bootstrap-servers h:1 --topic t")
        assert "KillMode" not in result.stdout


def test_cli_options_after_the_name_and_env_not_printed(tmp_path: Path) -> None:
    result = run_cli("service", "install", "demo", "--env", "PASSWORD=s3cret", "--dry-run",
                     "--", "download", "/tmp/x", "--config", "lab.config", "--topic", "t")
    assert result.returncode == 0, result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    assert "PASSWORD" in result.stderr
    assert not list(tmp_path.rglob("*.env"))  # a dry run writes nothing


@pytest.mark.parametrize("args", [
    ["service", "frobnicate", "demo"],
    ["service", "install", "demo", "--dry-run"],
    ["service", "install", "demo", "--dry-run", "--", "upload", "x"],
    ["service", "install", "demo", "--dry-run", "--", "watch", "/tmp/x", "--topic", "t"],
    ["service", "install", "bad/name", "--dry-run", "--", "watch", "/tmp/x", "--topic", "t"],
    ["service", "status", "demo", "--", "watch", "/tmp"],
])
def test_cli_rejects_mistakes_with_exit_2(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "error" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX")
def test_exec_start_command_stops_gracefully_on_sigterm(broker: EmbeddedBroker, topic: str,
                                                        tmp_path: Path) -> None:
    """What systemd's KillSignal=SIGTERM does to the service: a clean exit 0."""
    folder = tmp_path / "watched"
    folder.mkdir()
    proc = subprocess.Popen([*OPENMSI, "--data-dir", str(tmp_path / "state"), "watch",
                             str(folder), "--bootstrap-servers", broker.bootstrap_servers,
                             "--topic", topic],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        lines: list[str] = []

        def watching() -> bool:
            line = proc.stdout.readline() if proc.stdout else ""
            lines.append(line)
            return "watching" in line or proc.poll() is not None

        wait_until(watching, timeout=30, message="watch started")
        assert proc.poll() is None, "".join(lines)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        assert code == 0
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
