#!/usr/bin/env bash
# Download the KafkaCrypto wheel pinned in requirements/components.json into .cache/components/
# (once: kept while its SHA-256 matches), for the frozen tests' `openmsi encryption install
# --from`. It is never put into the bundle (GPL-2.0-only). Fails if it cannot be fetched or its
# hash differs from the pinned one.
set -euo pipefail
cd "$(dirname "$0")/.."
python=python3; [[ -n "${VIRTUAL_ENV:-}" ]] && python=python
read -r version wheel sha256 < <("$python" -c '
import json
k = json.load(open("requirements/components.json"))["kafkacrypto"]
print(k["version"], k["wheel"], k["sha256"])')
dir=.cache/components
file="$dir/$wheel"
if [[ -f "$file" ]] && echo "$sha256  $file" | sha256sum --check --status; then
  echo "$file (cached)"
  exit 0
fi
rm -f "$file"
if ! "$python" -m pip download --quiet --no-deps --only-binary :all: "kafkacrypto==$version" -d "$dir" \
    || [[ ! -f "$file" ]]; then
  echo "error: could not download $wheel from the package index (tests/test_frozen.py needs it)" >&2
  exit 1
fi
if ! echo "$sha256  $file" | sha256sum --check --status; then
  echo "error: $file does not have the SHA-256 pinned in requirements/components.json" >&2
  rm -f "$file"
  exit 1
fi
echo "$file ($(du -h "$file" | cut -f1))"
