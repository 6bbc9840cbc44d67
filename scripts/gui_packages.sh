# The Debian/Ubuntu libraries Qt needs to show a window and a tray icon, for scripts/demo and
# scripts/app. Sourced, not run, before bootstrap.sh (which installs what is missing).
# shellcheck shell=bash
export OPENMSI_APT_PACKAGES="libgl1 libegl1 libfontconfig1 libxkbcommon0 libglib2.0-0 \
  libdbus-1-3 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 \
  libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-xkb1 ${OPENMSI_APT_PACKAGES:-}"
export OPENMSI_APT_WHY="${OPENMSI_APT_WHY:-They are the graphics and desktop libraries Qt needs to show the window and the tray icon.}"
