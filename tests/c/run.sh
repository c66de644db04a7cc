#!/usr/bin/env bash
# The C ABI test:
#   1. include/fluidcloud.h must equal what cbindgen (pinned, installed if missing) generates;
#   2. tests/c/test_ffi.c is built with cc against libfluidcloud.so (through fluidcloud.pc),
#      examples/c/quickstart.c against libfluidcloud.a;
#   3. two emulators start (one with throttled storage, for the cancellation test), with a
#      low multipart threshold so multipart is exercised; keys, a fault rule and a user JWT
#      are made for the test;
#   4. the quickstart runs and its public link is fetched; the C test runs under valgrind
#      (--leak-check=full --error-exitcode=1); its last line is "N passed, M failed".
#
#   bash tests/c/run.sh
#
# Env: FLUIDCLOUD_EMULATOR_BIN (default target/debug/fluidcloud-emulator), CC (default cc),
#      FC_TEST_NO_VALGRIND=1 to run the test without valgrind (for debugging only).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"

CBINDGEN_VERSION=0.29.4
CC="${CC:-cc}"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
OUT="$TARGET_DIR/debug"
EMU="${FLUIDCLOUD_EMULATOR_BIN:-$OUT/fluidcloud-emulator}"
PART_SIZE=65536          # emulator part size: the test's uploads span 3 to 16 parts
THRESHOLD=131072         # uploads of at least this size go multipart
SLOW_BYTES_PER_SEC=8192  # per storage request on the second emulator
JWT_SECRET=fluidcloud-c-test-secret
DELAYED_ID=00000000-0000-4000-8000-00000000dead

TMP="$(mktemp -d "${TMPDIR:-/tmp}/fluidcloud-ctest.XXXXXX")"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

say() { echo "run.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- 1. cbindgen, and the committed header is what it generates ----
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"
if ! cbindgen --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION"; then
    say "installing cbindgen $CBINDGEN_VERSION into $CARGO_BIN (about a minute)"
    cargo install cbindgen --locked --version "$CBINDGEN_VERSION" --quiet
fi
cbindgen --quiet --config ffi-c/cbindgen.toml --crate fluidcloud-ffi --output "$TMP/fluidcloud.h"
if ! diff -u include/fluidcloud.h "$TMP/fluidcloud.h" >"$TMP/header.diff"; then
    cat "$TMP/header.diff" >&2
    die "include/fluidcloud.h is stale: regenerate it with
    cbindgen --config ffi-c/cbindgen.toml --crate fluidcloud-ffi --output include/fluidcloud.h"
fi
say "include/fluidcloud.h is up to date"

# ---- 2. the libraries (the whole workspace: a no-op after the Makefile's build, where a subset of crates would rebuild with other features), their C names, the .pc ----
cargo build --locked --quiet --workspace --all-targets
bash ffi-c/package.sh >/dev/null
export PKG_CONFIG_PATH="$OUT/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
command -v pkg-config >/dev/null || die "pkg-config not found (apt-get install pkg-config)"
[ "$(pkg-config --modversion fluidcloud)" = "$(awk -F'"' '/^\[workspace.package\]/{s=1} s && /^version *=/{print $2; exit}' Cargo.toml)" ] \
    || die "fluidcloud.pc has the wrong version"

CFLAGS_STRICT=(-Wall -Wextra -Werror -g -O0)
# The test: shared library, through pkg-config (the rpath comes from the .pc).
# shellcheck disable=SC2046
"$CC" "${CFLAGS_STRICT[@]}" -std=c11 -o "$TMP/test_ffi" tests/c/test_ffi.c \
    $(pkg-config --cflags --libs fluidcloud) -lpthread
# The quickstart: static library, plus the system libraries the .pc lists for static links.
# shellcheck disable=SC2046
"$CC" "${CFLAGS_STRICT[@]}" -std=c99 -o "$TMP/quickstart" examples/c/quickstart.c \
    $(pkg-config --cflags fluidcloud) "$OUT/libfluidcloud.a" \
    $(pkg-config --static --libs fluidcloud | sed 's/ -lfluidcloud / /')
readelf -d "$TMP/quickstart" 2>/dev/null | grep -q 'libfluidcloud' && die "the quickstart should link libfluidcloud statically"
# The header is valid C++ too.
if command -v c++ >/dev/null; then
    echo '#include "fluidcloud.h"' | c++ -fsyntax-only -Wall -Werror -x c++ -I include -
fi
say "built the C test (shared) and the quickstart (static)"

# ---- 3. emulators, keys, a fault rule, a user JWT ----
[ -x "$EMU" ] || die "emulator binary not found: $EMU"
# start_emulator NAME ARGS...: sets NAME_URL and NAME_KEY from its two readiness lines.
start_emulator() {
    local name="$1" fifo="$TMP/$1.out" fd line url="" key=""
    shift
    mkfifo "$fifo"
    "$EMU" --listen 127.0.0.1:0 "$@" >"$fifo" 2>"$TMP/$name.log" &
    PIDS+=("$!")
    exec {fd}<"$fifo"
    while IFS= read -r -t 60 line <&"$fd"; do
        case "$line" in
            FLUIDCLOUD_BASE_URL=*) url="${line#*=}" ;;
            FLUIDCLOUD_API_KEY=*) key="${line#*=}" ;;
        esac
        [ -n "$url" ] && [ -n "$key" ] && break
    done
    # Keep reading whatever else it prints, so it never blocks on a full pipe.
    cat <&"$fd" >/dev/null &
    exec {fd}<&-
    if [ -z "$url" ] || [ -z "$key" ]; then
        cat "$TMP/$name.log" >&2
        die "emulator '$name' did not start"
    fi
    printf -v "${name}_URL" %s "$url"
    printf -v "${name}_KEY" %s "$key"
}
COMMON=(--multipart-threshold "$THRESHOLD" --part-size "$PART_SIZE" --jwt-secret "$JWT_SECRET")
start_emulator MAIN "${COMMON[@]}"
start_emulator SLOW "${COMMON[@]}" --storage-bytes-per-sec "$SLOW_BYTES_PER_SEC"
# shellcheck disable=SC2153
say "emulators at $MAIN_URL and $SLOW_URL (throttled)"

admin() { # PATH JSON
    curl -fsS -X POST -H 'content-type: application/json' --data "$2" "$MAIN_URL/_emulator/$1"
}
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
KEY_READONLY="$(admin keys '{"scopes": ["spaces:read"]}' | json_field key)"
KEY_SMALL="$(admin keys '{"scopes": ["spaces:read", "spaces:write", "files:read", "files:write", "quota:read"], "bytes_limit": 1000}' | json_field key)"
admin faults "{\"rules\": [{\"target\": \"api\", \"path_contains\": \"$DELAYED_ID\", \"times\": 1, \"action\": \"delay\", \"delay_ms\": 5000}]}" >/dev/null
USER_JWT="$(python3 - "$JWT_SECRET" <<'EOF'
import base64, hashlib, hmac, json, sys, time
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"sub": "c-test-user", "exp": int(time.time()) + 3600}).encode())
sig = hmac.new(sys.argv[1].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
print(f"{head}.{body}.{b64(sig)}")
EOF
)"

# Loopback must never go through a proxy from the environment.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

# ---- 4a. the quickstart: from memory, then from a file; its link serves the bytes ----
run_quickstart() { # [FILE] -> prints the link
    FLUIDCLOUD_BASE_URL="$MAIN_URL" FLUIDCLOUD_API_KEY="$MAIN_KEY" "$TMP/quickstart" "$@"
}
LINK="$(run_quickstart)"
[ "$(curl -fsS "$LINK")" = "Hello from FluidCloud!" ] || die "quickstart: the public link does not serve hello.txt"
LINK="$(run_quickstart examples/c/quickstart.c)"
curl -fsS "$LINK" -o "$TMP/served.c"
cmp -s "$TMP/served.c" examples/c/quickstart.c || die "quickstart: the public link does not serve the file"
if FLUIDCLOUD_BASE_URL="$MAIN_URL" FLUIDCLOUD_API_KEY=fck_test_wrong "$TMP/quickstart" 2>"$TMP/qs.err"; then
    die "quickstart: a wrong key should fail"
fi
grep -q FC_ERR_AUTH "$TMP/qs.err" || die "quickstart: a wrong key should report FC_ERR_AUTH"
say "quickstart: ok ($LINK)"

# ---- 4b. the C test, under valgrind ----
export FC_TEST_BASE_URL="$MAIN_URL" FC_TEST_API_KEY="$MAIN_KEY" FC_TEST_SLOW_BASE_URL="$SLOW_URL" \
    FC_TEST_KEY_READONLY="$KEY_READONLY" FC_TEST_KEY_SMALL="$KEY_SMALL" FC_TEST_USER_JWT="$USER_JWT" \
    FC_TEST_DELAYED_ID="$DELAYED_ID" FC_TEST_TMPDIR="$TMP" FC_TEST_PART_SIZE="$PART_SIZE"

RUNNER=()
if [ "${FC_TEST_NO_VALGRIND:-}" != 1 ]; then
    if ! command -v valgrind >/dev/null; then
        command -v apt-get >/dev/null || die "valgrind is missing and apt-get is not available to install it"
        say "installing valgrind"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind) >/dev/null \
            || die "could not install valgrind"
    fi
    # Leaks that count: definitely and indirectly lost. The SDK's worker threads (a tokio
    # runtime, kept in a static for the life of the process) are still alive at exit, so
    # what they hold is "still reachable" or, inside their stacks, "possibly lost": reported,
    # not errors.
    RUNNER=(valgrind --quiet --leak-check=full --error-exitcode=1
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
        --fair-sched=yes)
fi
set +e
"${RUNNER[@]}" "$TMP/test_ffi" | tee "$TMP/test.out"
status=${PIPESTATUS[0]}
set -e
summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$TMP/test.out" | tail -n 1)"
if [ "$status" -ne 0 ] && [ -n "$summary" ] && [ "${summary##*, }" = "0 failed" ]; then
    # Every test passed but valgrind found errors or leaks: count them as one failure.
    say "valgrind reported memory errors or leaks (above)"
    echo "${summary%% passed*} passed, 1 failed"
    exit 1
fi
[ -n "$summary" ] || die "the C test ended without its summary (exit $status)"
exit "$status"
