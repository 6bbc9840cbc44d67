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
