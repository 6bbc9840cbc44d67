"""Command processors: run without a shell in a child process, bounded in time, memory, output."""

from __future__ import annotations

import shlex
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import process_alive, wait_until

from openmsi_gui.engine.processing.api import (
    FileToProcess,
    ProcessorKind,
    ProcessorSpec,
    program_name,
)
from openmsi_gui.engine.processing.child import Capture
from openmsi_gui.engine.processing.runner import STOPPED_REASON, run, run_command
from openmsi_gui.engine.processing.template import command_args, template_problem

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX shells and signals")
PY = shlex.quote(sys.executable)
ECHO_ARGS = f"{PY} -c 'import sys, json; print(json.dumps({{\"argv\": sys.argv[1:]}}))'"


def _file(path: Path, relpath: str = "S001/a.txt", **metadata: str) -> FileToProcess:
    return FileToProcess(path=path, relpath=relpath, topic="lab-data", sha512="ab" * 64,
                         size=path.stat().st_size if path.exists() else 0, metadata=metadata)


def _command(template: str, timeout: float = 30.0, memory_limit: int | None = None
             ) -> ProcessorSpec:
    return ProcessorSpec(ProcessorKind.COMMAND, command=template, timeout=timeout,
                         memory_limit=memory_limit)


def test_a_command_printing_one_json_object_gives_it_as_result(tmp_path: Path) -> None:
    data = tmp_path / "a.txt"
    data.write_text("x")
    spec = _command(f"{ECHO_ARGS} {{path}} {{relpath}} {{topic}} {{sha512}} {{metadata_json}}")

    result = run(spec, _file(data, sample="S001"))

    assert result.ok, result.reason
    assert result.result == {"argv": [str(data), "S001/a.txt", "lab-data", "ab" * 64,
                                      '{"sample": "S001"}']}
    assert result.output == ""  # the result is not repeated as output
    assert result.processor == Path(sys.executable).name  # the program, not where it is


def test_a_command_that_prints_text_succeeds_without_result_and_keeps_its_output(
        tmp_path: Path) -> None:
    result = run_command(_command(f"{PY} -c 'print(\"hello\"); print(\"[1, 2]\")'"),
                         _file(tmp_path / "a"))
    assert result.ok
    assert result.result is None
    assert result.output == "hello\n[1, 2]"


@pytest.mark.parametrize("printed", ["[1, 2]", "{\"a\": NaN}", "{\"a\": 1} {\"b\": 2}", "{\"a\""])
def test_only_one_json_object_is_a_result(tmp_path: Path, printed: str) -> None:
    result = run_command(_command(f"printf %s {shlex.quote(printed)}"), _file(tmp_path / "a"))
    assert result.ok
    assert result.result is None
    assert result.output == printed


def test_a_non_zero_exit_fails_with_its_code_and_last_line(tmp_path: Path) -> None:
    template = (f"{PY} -c 'import sys; print(\"reading\"); "
                "print(\"no header\\x1b[31m\", file=sys.stderr); sys.exit(3)'")
    result = run_command(_command(template), _file(tmp_path / "a"))
    assert not result.ok
    assert result.reason == "The command exited with code 3: no header\\x1b[31m."
    assert "reading" in result.output
    assert "no header" in result.output


def test_a_hang_past_the_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    template = f"sh -c 'sleep 60 & echo $! > {pidfile}; wait'"
    result = run_command(_command(template, timeout=1), _file(tmp_path / "a"))
    assert not result.ok
    assert result.reason == ("The command took longer than 1 s and was stopped: raise the "
                             "timeout or check the command.")
    grandchild = int(pidfile.read_text())
    wait_until(lambda: not process_alive(grandchild), timeout=10, message="its child to be gone")


@pytest.mark.parametrize(("code", "signal_name"), [
    ("import os; os.abort()", "SIGABRT"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", "SIGSEGV"),
])
def test_a_crash_fails_with_the_signal(tmp_path: Path, code: str, signal_name: str) -> None:
    result = run_command(_command(f"{PY} -c '{code}'"), _file(tmp_path / "a"))
    assert not result.ok
    assert result.reason == (f"The command was ended by {signal_name} and printed nothing: "
                             "check the command.")


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux")
def test_a_memory_blow_up_beyond_the_limit_fails_cleanly(tmp_path: Path) -> None:
    spec = _command(f"{PY} -c 'data = bytearray(1 << 30); print(len(data))'",
                    memory_limit=256 << 20)
    result = run_command(spec, _file(tmp_path / "a"))
    assert not result.ok
    assert result.reason == ("The command exited with code 1 (it needed more memory than its limit "
                             "of 256 MiB): MemoryError.")


HOSTILE = "a b'c\"d; rm -rf x $(touch pwned) `touch pwned2` {path} {sha512} \\ & | > <.txt"


def test_a_hostile_file_name_reaches_the_command_as_one_argument(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "in {relpath}"
    folder.mkdir()
    data = folder / HOSTILE
    data.write_text("x")
    monkeypatch.chdir(tmp_path)
    relpath = f"{{topic}}/{HOSTILE}"

    result = run_command(_command(f"{ECHO_ARGS} {{path}} --name={{relpath}}"),
                         _file(data, relpath, note="{path} $(x)"))

    assert result.ok, result.reason
    assert result.result == {"argv": [str(data), f"--name={relpath}"]}
    assert not list(tmp_path.glob("pwned*"))


def test_metadata_json_is_one_argument_whatever_it_holds(tmp_path: Path) -> None:
    args = command_args("prog {metadata_json}",
                        _file(tmp_path / "a", operator="O'Brien \"x\" {path}\x00"))
    assert args == ["prog", '{"operator": "O\'Brien \\"x\\" {path}\\u0000"}']


def test_output_is_bounded_and_says_how_much_was_left_out(tmp_path: Path) -> None:
    template = f"{PY} -c 'import sys; sys.stdout.write(\"x\" * 1000000 + \"\\nlast\\n\")'"
    result = run_command(_command(template), _file(tmp_path / "a"))
    assert result.ok
    assert len(result.output) < 70_000
    assert "more bytes" in result.output
    assert result.output.endswith("last")


def test_a_stop_kills_a_running_command_at_once(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    stop = threading.Event()
    results = []
    spec = _command(f"sh -c 'touch {marker}; sleep 60'", timeout=120)
    worker = threading.Thread(target=lambda: results.append(
        run_command(spec, _file(tmp_path / "a"), stop=stop)))
    worker.start()
    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    worker.join(30)
    assert not worker.is_alive()
    assert results[0].reason == STOPPED_REASON


def test_a_missing_program_fails_with_a_sentence(tmp_path: Path) -> None:
    result = run_command(_command("no-such-program-here {path}"), _file(tmp_path / "a"))
    assert result.reason == ("The program 'no-such-program-here' was not found: install it, or "
                             "write its full path in the command.")


@pytest.mark.parametrize(("template", "problem"), [
    ("", "The command is empty"),
    ("   ", "The command is empty"),
    ("convert '{path}", "The command cannot be split into arguments (No closing quotation)"),
    ("convert {path} {foo}", "{foo} is not a placeholder: use"),
    ("convert {Path}", "{Path} is not a placeholder"),
    ("{path} --help", "The command must start with the program to run, not a placeholder"),
    ("/opt/{topic}/run {path}", "The command must start with the program to run"),
])
def test_template_problems_are_one_sentence(template: str, problem: str) -> None:
    said = template_problem(template)
    assert said is not None
    assert said.startswith(problem)
    assert said.endswith(".")
    assert run_command(_command(template), _file(Path("x"))).reason == said


@pytest.mark.parametrize("template", [
    "convert {path} {relpath} {topic} {sha512} {metadata_json}",
    "awk '{ print $1 }' {path}",
    "tool --json='{\"a\": 1}' {path}",
    "'/opt/my tools/run' \"{path}\"",
])
def test_good_templates_have_no_problem(template: str) -> None:
    assert template_problem(template) is None


def test_no_processor_is_a_success_without_result(tmp_path: Path) -> None:
    assert run(ProcessorSpec(), _file(tmp_path / "a")).ok


def test_nothing_starts_once_stopping(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    marker = tmp_path / "ran"
    result = run_command(_command(f"touch {marker}"), _file(tmp_path / "a"), stop=stop)
    assert result.reason == STOPPED_REASON
    assert not marker.exists()


def test_a_capture_keeps_the_head_and_the_tail_and_counts_the_rest() -> None:
    capture = Capture(limit=100, tail=20)
    for _ in range(10):
        capture.add(b"0123456789" * 3)
    capture.add(b"\nthe end\n" + b" " * 25)
    assert (capture.total, capture.dropped, capture.complete) == (334, 234, False)
    assert capture.text().startswith("0123456789" * 8 + "\n…234 more bytes…\n")
    assert capture.last_line() == "0123456789" * 8  # the tail is blank: the head's last line
    small = Capture()
    small.add(b"caf\xc3")
    small.add(b"\xa9 \xff\n")
    assert small.text() == "café \ufffd\n"
    assert (small.last_line(), small.complete) == ("café \ufffd", True)


@pytest.mark.parametrize(("template", "name"), [
    ("/work/main/.venv/bin/python -m tool {path}", "python"),
    ("'/opt/lab tools/index' {path}", "index"),
    ("'C:\\Tools\\index.exe' {path}", "index.exe"),
    ("true {path}", "true"),
    ("", ""),
    ("broken 'quote {path}", "broken"),
])
def test_a_command_is_named_by_its_program_file_name(template: str, name: str) -> None:
    assert program_name(template) == name
    assert _command(template).name == name
