"""Export the tray status icons (drawn in code) as image files under ``resources/icons/``.

Run it after changing ``openmsi_gui/ui/icons.py``::

    QT_QPA_PLATFORM=offscreen python scripts/export_icons.py

It writes ``<state>-<size>.png`` for every ``AppStatus`` and size, the app icon
``openmsi.png`` (256 px, the idle icon), and the same idle icon at several sizes as
``openmsi.ico`` (Windows) and ``openmsi.icns`` (macOS). Both hold PNG images and are written
here byte by byte, because Qt's writers store one size only (and its ICO writer uncompressed).
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QGuiApplication

from openmsi_gui.app.transfers import AppStatus
from openmsi_gui.ui.icons import status_pixmap

SIZES = (16, 22, 24, 32, 48, 64, 128, 256)
ICO_SIZES = (16, 24, 32, 48, 64, 256)
ICNS_TYPES = {16: b"icp4", 32: b"icp5", 64: b"icp6", 128: b"ic07", 256: b"ic08"}
OUT = Path(__file__).resolve().parent.parent / "resources" / "icons"


def _png(status: AppStatus, size: int) -> bytes:
    """``status`` at ``size`` px, as PNG bytes."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    status_pixmap(status, size).save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico holding one PNG per size (Windows Vista and later read PNG entries)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = len(header) + 16 * len(pngs)
    entries, images = b"", b""
    for size, png in sorted(pngs.items()):
        side = 0 if size >= 256 else size  # 0 means 256
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset)
        images += png
        offset += len(png)
    return header + entries + images


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns holding one PNG per size (OSType chunks, big-endian lengths)."""
    body = b"".join(ICNS_TYPES[size] + struct.pack(">I", 8 + len(png)) + png
                    for size, png in sorted(pngs.items()))
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    """Write the icons; return the exit code."""
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (keeps Qt up)
    OUT.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for status in AppStatus:
        for size in SIZES:
            path = OUT / f"{status.name.lower()}-{size}.png"
            if not status_pixmap(status, size).save(str(path), "PNG"):
                print(f"could not write {path}", file=sys.stderr)
                return 1
            written.append(path)
    app_icon = OUT / "openmsi.png"
    status_pixmap(AppStatus.IDLE, 256).save(str(app_icon), "PNG")
    written.append(app_icon)
    ico = OUT / "openmsi.ico"
    ico.write_bytes(ico_bytes({n: _png(AppStatus.IDLE, n) for n in ICO_SIZES}))
    icns = OUT / "openmsi.icns"
    icns.write_bytes(icns_bytes({n: _png(AppStatus.IDLE, n) for n in ICNS_TYPES}))
    written += [ico, icns]
    total = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} files to {OUT} ({total / 1024:.1f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
