#!/usr/bin/env bash
# Gives the C library its C names and writes fluidcloud.pc. Does not build: run
# `cargo build -p fluidcloud-ffi [--release]` first.
#
#   bash ffi-c/package.sh [--release] [--prefix DIR]
#
# Without --prefix, stages the uninstalled tree for development and tests:
#   target/<profile>/libfluidcloud.so -> libfluidcloud_c.so   (symlinks to cargo's outputs)
#   target/<profile>/libfluidcloud.a  -> libfluidcloud_c.a
#   target/<profile>/pkgconfig/fluidcloud.pc                   (include/ of this checkout,
#                                                               with an rpath to the library)
# so that:  cc app.c $(PKG_CONFIG_PATH=target/debug/pkgconfig pkg-config --cflags --libs fluidcloud)
# With --prefix DIR, installs DIR/lib/libfluidcloud.{so,a}, DIR/include/fluidcloud.h and
# DIR/lib/pkgconfig/fluidcloud.pc.
#
# Why the renaming: the crate's library target is `fluidcloud_c`, because `fluidcloud` is the
# core crate's library name and two libraries of one name collide in a Cargo workspace. The
# shared library's SONAME is already libfluidcloud.so (ffi-c/build.rs).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PROFILE=debug
PREFIX=""
while [ $# -gt 0 ]; do
    case "$1" in
        --release) PROFILE=release ;;
        --prefix) PREFIX="${2:?--prefix needs a directory}"; shift ;;
        *) echo "package.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
OUT="$TARGET_DIR/$PROFILE"
for f in libfluidcloud_c.so libfluidcloud_c.a; do
    [ -f "$OUT/$f" ] || { echo "package.sh: $OUT/$f not found; run cargo build -p fluidcloud-ffi first" >&2; exit 2; }
done
VERSION="$(awk -F'"' '/^\[workspace.package\]/{s=1} s && /^version *=/{print $2; exit}' "$REPO/Cargo.toml")"

write_pc() { # prefix libdir includedir rpath dest
    sed -e "s|@PREFIX@|$1|" -e "s|@LIBDIR@|$2|" -e "s|@INCLUDEDIR@|$3|" -e "s|@RPATH@|$4|" \
        -e "s|@VERSION@|$VERSION|" "$HERE/fluidcloud.pc.in" >"$5.tmp"
    mv "$5.tmp" "$5"
}

if [ -z "$PREFIX" ]; then
    ln -sfn libfluidcloud_c.so "$OUT/libfluidcloud.so"
    ln -sfn libfluidcloud_c.a "$OUT/libfluidcloud.a"
    mkdir -p "$OUT/pkgconfig"
    write_pc "$REPO" "$OUT" "$REPO/include" '-Wl,-rpath,${libdir} ' "$OUT/pkgconfig/fluidcloud.pc"
    echo "$OUT/pkgconfig/fluidcloud.pc"
else
    mkdir -p "$PREFIX/lib/pkgconfig" "$PREFIX/include"
    PREFIX="$(cd "$PREFIX" && pwd)"
    install -m 0755 "$OUT/libfluidcloud_c.so" "$PREFIX/lib/libfluidcloud.so"
    install -m 0644 "$OUT/libfluidcloud_c.a" "$PREFIX/lib/libfluidcloud.a"
    install -m 0644 "$REPO/include/fluidcloud.h" "$PREFIX/include/fluidcloud.h"
    write_pc "$PREFIX" '${prefix}/lib' '${prefix}/include' '' "$PREFIX/lib/pkgconfig/fluidcloud.pc"
    echo "$PREFIX/lib/pkgconfig/fluidcloud.pc"
fi
