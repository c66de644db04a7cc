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

bash "$HERE/ensure_venv.sh"
VPY="$REPO/target/compat-venv/bin/python"

cd "$REPO"
export PYTHONDONTWRITEBYTECODE=1
exec "$VPY" -m pytest -c "$HERE/pytest.ini" --rootdir "$HERE" "$HERE" "$@"
