"""Wrap PyInstaller's one-folder output into ``OpenMSI GUI.app`` for the disk image.

Usage: ``python installer/macos/make_app.py [--dist dist/openmsi-gui] [--out "dist/OpenMSI GUI.app"]
[--version 1.2.3]``. The bundle's ``openmsi-gui``, ``openmsi`` and ``_internal/`` go to
``Contents/MacOS/`` (PyInstaller's bootloader finds ``_internal`` beside the executable);
Info.plist gets the version; the icon, LICENSE and THIRD_PARTY_NOTICES.md go to
``Contents/Resources/``. Runs on any OS, so the tests build it from a stand-in bundle.
"""

from __future__ import annotations

import argparse
import plistlib
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def make_app(dist: Path, out: Path, version: str) -> Path:
    """Build ``out`` (an ``.app`` folder) from the one-folder bundle ``dist``; return ``out``."""
    if not (dist / "openmsi-gui").is_file():
        raise SystemExit(f"{dist} has no openmsi-gui executable: run pyinstaller first")
    with (HERE / "Info.plist").open("rb") as f:
        info = plistlib.load(f)
    info["CFBundleShortVersionString"] = version
    info["CFBundleVersion"] = version
    if out.exists():
        shutil.rmtree(out)
    contents = out / "Contents"
    resources = contents / "Resources"
    shutil.copytree(dist, contents / "MacOS", symlinks=True)
    resources.mkdir(parents=True)
    with (contents / "Info.plist").open("wb") as f:
        plistlib.dump(info, f)
    (contents / "PkgInfo").write_text("APPL????", encoding="ascii")
    icns = ROOT / "resources" / "icons" / "openmsi.icns"
    if icns.is_file():
        shutil.copy2(icns, resources / info["CFBundleIconFile"])
    for name in ("LICENSE", "THIRD_PARTY_NOTICES.md"):
        shutil.copy2(ROOT / name, resources / name)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist" / "openmsi-gui")
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "OpenMSI GUI.app")
    parser.add_argument("--version", default="0.0.0")
    args = parser.parse_args(argv)
    print(make_app(args.dist, args.out, args.version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
