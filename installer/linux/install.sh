#!/usr/bin/env bash
# Install (or remove) the one-folder bundle for the current user, without root:
#   ~/.local/opt/openmsi-gui/                          the bundle (openmsi-gui, openmsi, _internal/)
#   ~/.local/bin/openmsi-gui, ~/.local/bin/openmsi     symlinks into it
#   ~/.local/share/applications/openmsi-gui.desktop    menu entry (Exec = the absolute path)
#   ~/.local/share/icons/hicolor/256x256/apps/openmsi-gui.png
# Usage: installer/linux/install.sh [BUNDLE_DIR]    (default: dist/openmsi-gui)
#        installer/linux/install.sh --uninstall      (settings and history are kept)
# Start on login is the app's own setting (~/.config/autostart/openmsi-gui.desktop); uninstall
# removes that entry too, since it would point at a program that is gone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
opt="$HOME/.local/opt/openmsi-gui"
bin="$HOME/.local/bin"
apps="$data/applications"
icons="$data/icons/hicolor/256x256/apps"

refresh_caches() {
  if command -v update-desktop-database >/dev/null; then update-desktop-database -q "$apps" || true; fi
  if command -v gtk-update-icon-cache >/dev/null; then
    gtk-update-icon-cache -q -t "$data/icons/hicolor" 2>/dev/null || true
  fi
}

if [[ "${1:-}" == "--uninstall" ]]; then
  for link in "$bin/openmsi-gui" "$bin/openmsi"; do
    # Only our own symlinks: a pip-installed openmsi in ~/.local/bin stays.
    if [[ -L "$link" && "$(readlink "$link")" == "$opt/"* ]]; then rm -f "$link"; fi
  done
  rm -rf "$opt"
  rm -f "$apps/openmsi-gui.desktop" "$icons/openmsi-gui.png"
  rm -f "${XDG_CONFIG_HOME:-$HOME/.config}/autostart/openmsi-gui.desktop"
  refresh_caches
  echo "Removed OpenMSI GUI. Settings and history are kept in" \
    "${XDG_CONFIG_HOME:-$HOME/.config}/openmsi-gui and $data/openmsi-gui."
  exit 0
fi

bundle="$(realpath "${1:-$root/dist/openmsi-gui}")"
if [[ ! -x "$bundle/openmsi-gui" || ! -d "$bundle/_internal" ]]; then
  echo "$bundle is not a one-folder bundle (openmsi-gui + _internal/): build it first" \
    "with scripts/build_bundle.sh" >&2
  exit 2
fi
icon="$root/resources/icons/openmsi.png"
[[ -f "$icon" ]] || icon="$bundle/_internal/resources/icons/openmsi.png"

mkdir -p "$(dirname "$opt")" "$bin" "$apps" "$icons"
rm -rf "$opt.new"
cp -a "$bundle" "$opt.new"
for name in LICENSE THIRD_PARTY_NOTICES.md; do
  if [[ -f "$root/$name" ]]; then cp "$root/$name" "$opt.new/"; fi
done
rm -rf "$opt"
mv "$opt.new" "$opt"
ln -sfn "$opt/openmsi-gui" "$bin/openmsi-gui"
ln -sfn "$opt/openmsi" "$bin/openmsi"
if [[ -f "$icon" ]]; then install -m 644 "$icon" "$icons/openmsi-gui.png"; fi
# Desktop sessions often lack ~/.local/bin on PATH: point the menu entry at the bundle itself.
sed -e "s|^Exec=openmsi-gui|Exec=\"$opt/openmsi-gui\"|" -e "s|^TryExec=openmsi-gui|TryExec=$opt/openmsi-gui|" \
  "$here/openmsi-gui.desktop" >"$apps/openmsi-gui.desktop"
chmod 644 "$apps/openmsi-gui.desktop"
refresh_caches
echo "Installed OpenMSI GUI in $opt; run openmsi-gui (from $bin) or pick it in the applications menu."
