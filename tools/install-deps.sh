#!/usr/bin/env bash
# install-deps.sh -- install what building, running and testing need, when
# missing: Debian packages (apt-get) and the test clients (npm ci in tests/).
# Safe to run again: it installs nothing that is already there.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

packages=(build-essential pkg-config clang libclang-rt-14-dev
          libwslay-dev libpq-dev libcurl4-openssl-dev libssl-dev libjansson-dev
          libgoogle-perftools-dev libcmocka-dev postgresql postgresql-contrib nginx-light curl jq nodejs npm chromium)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# A node/npm that did not come from Debian (e.g. NodeSource) counts as present.
if command -v node >/dev/null && command -v npm >/dev/null; then
    missing=("${missing[@]/nodejs}") && missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]}"
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    [ "$(id -u)" = 0 ] || { echo "install-deps: run as root to install packages" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -d "$ROOT/tests/node_modules" ] ||
    [ "$ROOT/tests/package-lock.json" -nt "$ROOT/tests/node_modules/.package-lock.json" ]; then
    echo "install-deps: npm ci in tests/"
    (cd "$ROOT/tests" && npm ci --no-audit --no-fund --loglevel=error)
fi
