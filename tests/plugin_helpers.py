"""A plugin distribution installed for a test without pip: a module beside its dist-info."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from openmsi_gui.engine.processing.api import ENTRY_POINT_GROUP


def install_distribution(site: Path, name: str, version: str, modules: Mapping[str, str],
                         entry_points: Mapping[str, str]) -> Path:
    """Install distribution ``name`` into the folder ``site`` as pip would leave it.

    Args:
        site: the folder (put it in ``$OPENMSI_GUI_PLUGIN_PATH`` to have it searched).
        name: the distribution's name, e.g. ``lab-plugins``.
        version: its version.
        modules: module file name (``lab_plugins.py``) -> source.
        entry_points: entry-point name -> ``module:Class``, in ``openmsi_gui.processors``.

    Returns:
        ``site``.
    """
    site.mkdir(parents=True, exist_ok=True)
    for filename, source in modules.items():
        (site / filename).write_text(source, encoding="utf-8")
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                                   encoding="utf-8")
    points = "".join(f"{point} = {target}\n" for point, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{points}", encoding="utf-8")
    return site


EXAMPLE_PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "openmsi-example-plugin"
"""The example plugin package the README walks through."""


def install_project(project: Path, site: Path) -> Path:
    """Install the pure-Python ``project`` into ``site`` as ``pip install --target`` would.

    The distribution's name, version and entry points are read from its
    ``pyproject.toml`` (so a test checks what a user would install), its packages
    copied from ``src/``, and its dist-info written by hand: a pip install
    builds a wheel, which takes seconds and needs ``wheel`` in the environment.

    Returns:
        ``site``.
    """
    import shutil
    import tomllib

    project_table = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    meta = project_table["project"]
    site.mkdir(parents=True, exist_ok=True)
    for package in (project / "src").iterdir():
        if package.is_dir() and (package / "__init__.py").is_file():
            shutil.copytree(package, site / package.name,
                            ignore=shutil.ignore_patterns("__pycache__"))
    info = site / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n"
        f"Summary: {meta.get('description', '')}\n", encoding="utf-8")
    groups = meta.get("entry-points", {})
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in points.items())
        + "\n" for group, points in groups.items()), encoding="utf-8")
    (info / "INSTALLER").write_text("tests\n", encoding="utf-8")
    return site
