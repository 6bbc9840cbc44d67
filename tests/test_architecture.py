"""Architecture rules that must hold whatever else changes."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = ("PySide6", "shiboken6", "qasync", "PyQt5", "PyQt6")
HEADLESS = [ROOT / "openmsi_gui" / d for d in ("engine", "app", "cli", "platform")]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", [p for d in HEADLESS for p in sorted(d.rglob("*.py"))],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_and_cli_never_import_qt(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m.split(".")[0] in QT_MODULES}
    assert not bad, f"{path.name} imports {bad}"


def test_product_never_imports_openmsistream() -> None:
    for path in (ROOT / "openmsi_gui").rglob("*.py"):
        assert not {m for m in imported_modules(path) if m.split(".")[0] == "openmsistream"}


def test_import_linter_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is a test dependency"
    result = subprocess.run([lint_imports, "--config", str(ROOT / "pyproject.toml")],
                            capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_engine_imports_without_qt_installed() -> None:
    # A None entry in sys.modules makes any import of that name fail.
    code = (f"import sys; sys.modules.update(dict.fromkeys({QT_MODULES!r})); "
            "import openmsi_gui.engine.jobs, openmsi_gui.cli.main, openmsi_gui.app.controller")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr


THREAD_MAKERS = {"Thread", "ThreadPoolExecutor", "ProcessPoolExecutor", "QThread", "QThreadPool"}


def test_only_ui_tasks_starts_threads_in_the_ui() -> None:
    """Views await background work on the app's executors (ui/tasks.py), never their own."""
    makers: dict[str, set[str]] = {}
    for path in sorted((ROOT / "openmsi_gui" / "ui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = (node.func.attr if isinstance(node.func, ast.Attribute)
                        else node.func.id if isinstance(node.func, ast.Name) else "")
                if name in THREAD_MAKERS:
                    makers.setdefault(str(path.relative_to(ROOT)), set()).add(name)
    assert set(makers) == {"openmsi_gui/ui/tasks.py"}, makers


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of ``tree``'s module, classes and functions."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def test_no_text_says_file_s_or_message_s() -> None:
    """Counts are words ("1 file", "3 messages"), never "file(s)" (issue 11)."""
    bad: list[str] = []
    for path in sorted((ROOT / "openmsi_gui").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings and "(s)" in node.value):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not bad, bad
