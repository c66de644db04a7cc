#!/usr/bin/env bash
# Builds and installs the Python package (`pip install ./py`, maturin as the PEP 517 backend)
# into target/py-venv, checks the extension's stubs with mypy.stubtest, and runs the tests.
#   bash py/run_tests.sh [pytest args...]
# The extension is built with cargo's dev profile, so it reuses the workspace's debug build.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
VENV="$REPO/target/py-venv"
VPY="$VENV/bin/python"
REQ="$HERE/requirements-test.txt"
STAMP="$VENV/.requirements.txt"

if [ ! -x "$VPY" ] || ! "$VPY" -m pip --version >/dev/null 2>&1; then
    rm -rf "$VENV"
    mkdir -p "$REPO/target"
    python3 -m venv "$VENV"
fi
if ! cmp -s "$REQ" "$STAMP"; then
    "$VPY" -m pip install --disable-pip-version-check --quiet -r "$REQ"
    cp "$REQ" "$STAMP"
fi

export PATH="$VENV/bin:$PATH"
MATURIN_PEP517_ARGS="--profile dev" "$VPY" -m pip install --disable-pip-version-check --quiet \
    --no-build-isolation --no-deps --force-reinstall "$REPO/py"

# The hand-written stubs must match the extension, and the package type-check against them.
(cd "$REPO" && "$VPY" -m mypy.stubtest fluidcloud._core)
(cd "$REPO" && "$VPY" -m mypy --no-error-summary py/python/fluidcloud)

# The official client (for the side-by-side test) lives in the compat test's environment.
bash "$REPO/tests/compat/ensure_venv.sh" >/dev/null
export FLUIDCLOUD_OFFICIAL_PYTHON="$REPO/target/compat-venv/bin/python"
export FLUIDCLOUD_EMULATOR_BIN="${FLUIDCLOUD_EMULATOR_BIN:-$REPO/target/debug/fluidcloud-emulator}"
cd "$REPO"
exec "$VPY" -m pytest -c "$HERE/tests/pytest.ini" --rootdir "$HERE/tests" "$HERE/tests" "$@"
