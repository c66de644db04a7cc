#!/usr/bin/env bash
# End-to-end and cross-language tests: every language's quickstart (examples/) against the
# emulator, and files written by one language read by the others (Python, Node, Rust, the
# CLI). Needs what `make` builds before it: the workspace (debug), the Python package in
# target/py-venv (py/run_tests.sh) and the Node addon (node/run_tests.sh).
#
#   bash tests/e2e/run.sh [pytest args...]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VPY="$REPO/target/py-venv/bin/python"
for needed in "$VPY" "$REPO/node/fluidcloud.node" "$REPO/target/debug/fluidcloud" "$REPO/target/debug/examples/quickstart"; do
    if [ ! -e "$needed" ]; then
        echo "tests/e2e/run.sh: $needed is missing: run \`make test\` (or its build, py-test and node-test steps) first" >&2
        exit 2
    fi
done

cd "$REPO"
export PYTHONDONTWRITEBYTECODE=1
exec "$VPY" -m pytest -c "$HERE/pytest.ini" --rootdir "$HERE" "$HERE" "$@"
