#!/usr/bin/env bash
# Creates (or reuses) target/compat-venv with the official client (fluidcloud==0.1.0), pytest
# and httpx, pinned in requirements.txt; reinstalls only when the pins change.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
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

