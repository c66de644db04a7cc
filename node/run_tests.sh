#!/usr/bin/env bash
# Builds the Node package from source and runs its checks and tests:
#   npm ci, `npm run build` (the addon, with the napi CLI and cargo's dev profile), the
#   freshness check of the committed native.d.ts, tsc --noEmit, and npm test (node --test
#   against target/debug/fluidcloud-emulator, which the workspace build makes).
#   bash node/run_tests.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
cd "$HERE"

export FLUIDCLOUD_EMULATOR_BIN="${FLUIDCLOUD_EMULATOR_BIN:-$REPO/target/debug/fluidcloud-emulator}"
if [ ! -x "$FLUIDCLOUD_EMULATOR_BIN" ]; then
    echo "node/run_tests.sh: $FLUIDCLOUD_EMULATOR_BIN is missing; build the workspace first (cargo build --workspace)" >&2
    exit 1
fi

# Install the pinned dependencies, then build the addon: a development step, not an install
# script, since the published package ships the built addon and no Rust sources.
if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund
else
    npm install --no-audit --no-fund
fi
npm run build

# The committed declarations of the native addon must be what the build generates.
GENERATED="$REPO/target/napi-dts/native.d.ts"
if [ ! -f "$GENERATED" ]; then
    echo "node/run_tests.sh: the build did not generate $GENERATED" >&2
    exit 1
fi
if ! diff -u native.d.ts "$GENERATED"; then
    echo "node/run_tests.sh: native.d.ts is stale; run 'npm run build:types' in node/ and commit it" >&2
    exit 1
fi

# The public types: a TypeScript file using the API must type-check.
npx --no-install tsc --noEmit -p tsconfig.json

npm test
