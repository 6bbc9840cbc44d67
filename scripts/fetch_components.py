"""Download the KafkaCrypto wheel pinned in openmsi_gui/platform/components.json.

It goes into .cache/components/ (kept while its SHA-256 matches the pin), for the frozen tests'
and the release workflows' ``openmsi encryption install --from``. It never goes into the bundle
(GPL-2.0-only). Exits non-zero, with one sentence, when it cannot be fetched or its hash differs.
Prints the wheel's path.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PINS = ROOT / "openmsi_gui" / "platform" / "components.json"
FOLDER = ROOT / ".cache" / "components"


def sha256_of(path: Path) -> str:
    """The file's SHA-256, in hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    """Fetch the wheel unless it is there already; 0 when it is, with the pinned hash."""
    pin = json.loads(PINS.read_text(encoding="utf-8"))["kafkacrypto"]
    wheel = FOLDER / pin["wheel"]
    if wheel.is_file() and sha256_of(wheel) == pin["sha256"]:
        print(wheel)
        return 0
    wheel.unlink(missing_ok=True)
    download = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
         f"kafkacrypto=={pin['version']}", "-d", str(FOLDER)], check=False)
    if download.returncode != 0 or not wheel.is_file():
        print(f"error: could not download {wheel.name} from the package index "
              "(tests/test_frozen.py needs it)", file=sys.stderr)
        return 1
    if sha256_of(wheel) != pin["sha256"]:
        wheel.unlink()
        print(f"error: the downloaded {wheel.name} does not have the SHA-256 pinned in "
              f"{PINS.relative_to(ROOT)}: refused", file=sys.stderr)
        return 1
    print(wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
