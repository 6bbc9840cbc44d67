#!/usr/bin/env bash
# Build the one-folder bundle dist/openmsi-gui/ (openmsi-gui + openmsi) with PyInstaller and
# report its size. It is built from the lock file (requirements/bundle-<platform>.lock, every
# file checked against its SHA-256, refreshed by scripts/lock) in its own venv, .venv-bundle/,
# so that the development venv (.venv) is left as it is and the bundle never depends on what
# resolved there. The venv is reused while the lock file is unchanged; pip's cache keeps a
# rebuilt one quick. The app itself is taken from this checkout (pyinstaller.spec's pathex).
# The release workflows run it too (PYTHON=python on Windows, where python3 may not exist).
set -euo pipefail
cd "$(dirname "$0")/.."
case "$(uname -s)" in
  Linux) platform=linux ;;
  Darwin) platform=macos ;;
  *) platform=windows ;;
esac
lock="requirements/bundle-$platform.lock"
venv="${OPENMSI_BUNDLE_VENV:-.venv-bundle}"
bin="$venv/bin"; [[ -d "$venv/Scripts" ]] && bin="$venv/Scripts"
python="${PYTHON:-python3}"
# (written without a newline: Windows' Python would end the line with a carriage return)
digest="$("$python" -c 'import hashlib, sys; sys.stdout.write(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()[:16])' "$lock")"
stamp="$venv/.installed-$digest"
start=$(date +%s)
if [[ ! -e "$stamp" ]]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  bin="$venv/bin"; [[ -d "$venv/Scripts" ]] && bin="$venv/Scripts"
  # pysodium is published as source only: it is built with the lock's own setuptools
  # (installed first, by its hashes), not with one pip would fetch unchecked to build it.
  setuptools="$venv/setuptools.txt"
  awk '/^setuptools==/ {p = 1; print; next} p && /^ / {print; next} {p = 0}' "$lock" > "$setuptools"
  "$bin/python" -m pip install --quiet --require-hashes --no-deps -r "$setuptools"
  rm -f "$setuptools"
  "$bin/python" -m pip install --quiet --require-hashes --no-build-isolation -r "$lock"
  touch "$stamp"
  echo "== $venv installed from $lock in $(( $(date +%s) - start )) s"
fi
echo "== pyinstaller $("$bin/python" -m PyInstaller --version) in $venv (from $lock)"
start=$(date +%s)
"$bin/python" -m PyInstaller --noconfirm --clean --log-level WARN pyinstaller.spec
echo "== built dist/openmsi-gui in $(( $(date +%s) - start )) s"
ls dist/openmsi-gui
du -sh dist/openmsi-gui
if [[ "$platform" == linux ]]; then  # the Linux download; Windows and macOS get installers
  tar -czf dist/openmsi-gui-linux.tar.gz -C dist openmsi-gui
  du -h dist/openmsi-gui-linux.tar.gz
fi
