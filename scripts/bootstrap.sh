# Shared setup for scripts/demo and scripts/test: a venv in .venv with the project installed.
# Sourced, not run. Set OPENMSI_EXTRAS (e.g. "test") to add optional dependencies.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PYTHON="${PYTHON:-python3}"

need_apt=()
for pkg in ${OPENMSI_APT_PACKAGES:-}; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if ((${#need_apt[@]})) && command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "OpenMSI needs these system packages, which are not installed yet:"
  echo "  ${need_apt[*]}"
  echo "${OPENMSI_APT_WHY:-They are libraries the program needs to run.}"
  if [ -n "$SUDO" ]; then
    echo "Installing them with apt-get needs administrator rights: sudo may ask for your"
    echo "password now (Ctrl-C to stop; install them yourself and run this again)."
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-${OPENMSI_EXTRAS:-none}"
if [ ! -e "$stamp" ]; then
  spec="."; [ -n "${OPENMSI_EXTRAS:-}" ] && spec=".[${OPENMSI_EXTRAS}]"
  .venv/bin/python -m pip install -q -e "$spec"
  touch "$stamp"
fi
# shellcheck disable=SC1091
source .venv/bin/activate
