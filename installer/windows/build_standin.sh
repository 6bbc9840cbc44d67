#!/usr/bin/env bash
# Build the Windows installer on Linux with Debian's makensis against a stand-in payload (dummy
# openmsi-gui.exe / openmsi.exe and an _internal/ folder), so CI proves the .nsi compiles with
# warnings as errors. Usage: installer/windows/build_standin.sh [OUTPUT.exe]
# (default: build/installer/OpenMSI-GUI-standin-setup.exe). Needs `apt-get install nsis`.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$(realpath -m "${1:-$root/build/installer/OpenMSI-GUI-standin-setup.exe}")"
command -v makensis >/dev/null || { echo "makensis not found: apt-get install nsis" >&2; exit 2; }

payload="$(mktemp -d)"
trap 'rm -rf "$payload"' EXIT
mkdir -p "$payload/_internal/resources/icons"
printf 'MZ stand-in for the tray app\n' >"$payload/openmsi-gui.exe"
printf 'MZ stand-in for the command line\n' >"$payload/openmsi.exe"
printf 'stand-in\n' >"$payload/_internal/base_library.zip"
cp "$root/resources/icons/openmsi.png" "$payload/_internal/resources/icons/" 2>/dev/null || true

mkdir -p "$(dirname "$out")"
makensis -V2 -WX -INPUTCHARSET UTF8 \
  "-DPAYLOAD=$payload" "-DVERSION=${VERSION:-0.0.0}" "-DOUTFILE=$out" \
  "$root/installer/windows/openmsi-gui.nsi"
ls -l "$out"
