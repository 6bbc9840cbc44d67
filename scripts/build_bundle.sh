#!/usr/bin/env bash
# Build the one-folder bundle dist/openmsi-gui/ (openmsi-gui + openmsi) with PyInstaller and
# report its size. Run it inside the project's venv (. .venv/bin/activate), or it uses .venv/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${VIRTUAL_ENV:-}" && -f .venv/bin/activate ]]; then
  # shellcheck disable=SC1091
  source .venv/bin/activate
fi
if ! python -c "import PyInstaller" 2>/dev/null; then
  python -m pip install --quiet 'pyinstaller>=6.10,<7'
fi
echo "== pyinstaller $(python -m PyInstaller --version)"
start=$(date +%s)
python -m PyInstaller --noconfirm --clean --log-level WARN pyinstaller.spec
echo "== built dist/openmsi-gui in $(( $(date +%s) - start )) s"
ls dist/openmsi-gui
du -sh dist/openmsi-gui
tar -czf dist/openmsi-gui-linux.tar.gz -C dist openmsi-gui
du -h dist/openmsi-gui-linux.tar.gz
