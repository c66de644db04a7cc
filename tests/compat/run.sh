#!/usr/bin/env bash
# Compatibility test: the official Python client (fluidcloud==0.1.0, unmodified) against
# the local emulator binary. Does not build the emulator (the Makefile builds the workspace).
#
#   bash tests/compat/run.sh [pytest args...]
#
# Env: FLUIDCLOUD_EMULATOR_BIN (default $REPO/target/debug/fluidcloud-emulator),
#      PYTHON (interpreter used to create the venv, default python3).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

BIN="${FLUIDCLOUD_EMULATOR_BIN:-$REPO/target/debug/fluidcloud-emulator}"
if [ ! -f "$BIN" ] || [ ! -x "$BIN" ]; then
    echo "run.sh: emulator binary not found (or not executable): $BIN" >&2
    echo "run.sh: build it first (cargo build -p fluidcloud-emulator) or set FLUIDCLOUD_EMULATOR_BIN" >&2
    exit 2
fi
# Absolute path, so pytest finds it whatever its working directory.
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
export FLUIDCLOUD_EMULATOR_BIN="$BIN"

PYTHON="${PYTHON:-python3}"
VENV="$REPO/target/compat-venv"
VPY="$VENV/bin/python"
REQ="$HERE/requirements.txt"
STAMP="$VENV/.compat-requirements.txt"

if [ ! -x "$VPY" ] || ! "$VPY" -m pip --version >/dev/null 2>&1; then
    command -v "$PYTHON" >/dev/null 2>&1 || { echo "run.sh: $PYTHON not found" >&2; exit 2; }
    echo "run.sh: creating virtual environment $VENV" >&2
    rm -rf "$VENV"
    mkdir -p "$REPO/target"
    "$PYTHON" -m venv "$VENV" || {
        echo "run.sh: '$PYTHON -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 2
    }
fi

# (Re)install only when the pinned set changed or a package is missing.
if ! cmp -s "$REQ" "$STAMP" \
    || ! "$VPY" -c 'import fluidcloud, httpx, pytest' >/dev/null 2>&1; then
    echo "run.sh: installing $(grep -v '^#' "$REQ" | tr '\n' ' ')" >&2
    "$VPY" -m pip install --disable-pip-version-check --quiet -r "$REQ"
    cp "$REQ" "$STAMP"
fi

cd "$REPO"
export PYTHONDONTWRITEBYTECODE=1
exec "$VPY" -m pytest -c "$HERE/pytest.ini" --rootdir "$HERE" "$HERE" "$@"
