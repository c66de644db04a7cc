#!/usr/bin/env bash
# Benchmark (not a test): the official Python client (fluidcloud==0.1.0) against ours, same
# emulator, same files, alternating runs; medians. Ours is built in release for this.
#   bash bench/python.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
source bench/py_env.sh

work=$(mktemp -d)
source bench/emulator.sh
cleanup() { stop_emulators; rm -rf "$work"; }
trap cleanup EXIT
head -c $((1024 * 1024 * 1024)) /dev/urandom > "$work/big"
head -c 99000000 /dev/urandom > "$work/single"

start_emulator local
start_emulator network --storage-bytes-per-sec 50000000 --storage-latency-ms 20
key=$local_key

# measure CLIENT BASE ARGS… -> appends one JSON line to $work/CLIENT-LABEL
measure() {
  local label=$1 client=$2 base=$3; shift 3
  local python=$official; [ "$client" = ours ] && python=$ours
  sync
  "$python" bench/py_bench.py "$@" > "$work/line"
  sed "s/^/$client $label /" "$work/line" >> "$work/results"
  curl -sf -o /dev/null -X POST "$base/_emulator/reset"
}
: > "$work/results"
# The two clients take each measurement back to back, so that both meet the same mood of a
# shared machine; who goes first alternates from run to run. The first heavy upload after the
# light measurements ran 0.1–0.2 s slower whichever client made it, so each run starts with
# an upload that is not counted.
for run in $(seq "$runs"); do
  order="official ours"; [ $((run % 2)) = 0 ] && order="ours official"
  measure warm-up official "$local_base" upload "$local_base" "$key" "$work/big"
  for client in $order; do measure big-local "$client" "$local_base" upload "$local_base" "$key" "$work/big"; done
  for client in $order; do measure big-network "$client" "$network_base" upload "$network_base" "$key" "$work/big"; done
  for client in $order; do measure single-99MB "$client" "$local_base" upload "$local_base" "$key" "$work/single"; done
  for client in $order; do measure small-300 "$client" "$local_base" small "$local_base" "$key" 300; done
  for client in $order; do measure get-2000 "$client" "$local_base" get "$local_base" "$key" 2000; done
done

python3 - "$work/results" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    client, label, data = line.split(" ", 2)
    if label == "warm-up":
        continue
    rows.setdefault((label, client), []).append(json.loads(data))
def med(label, client, field):
    return statistics.median(r[field] for r in rows[(label, client)])
# Every run, so that a median hiding a noisy machine shows itself.
for (label, client), runs in sorted(rows.items()):
    print(f"{label:<13}{client:<10}" + " ".join(f"{r['seconds']:.2f}s" for r in runs))
size_big, size_single = 1 << 30, 99_000_000
print(f"{'measurement':<34}{'official':>14}{'ours':>14}{'ratio':>9}")
for label, size, unit in [("big-local", size_big, "MB/s"), ("big-network", size_big, "MB/s"), ("single-99MB", size_single, "MB/s")]:
    o, u = size / med(label, "official", "seconds") / 1e6, size / med(label, "ours", "seconds") / 1e6
    print(f"{label + ' throughput':<34}{o:>10.1f} {unit}{u:>10.1f} {unit}{u / o:>8.2f}x")
    go, gu = med(label, "official", "growth_mib"), med(label, "ours", "growth_mib")
    print(f"{label + ' memory growth':<34}{go:>10.1f} MiB{gu:>10.1f} MiB")
for label, count, unit in [("small-300", 300, "up/s"), ("get-2000", 2000, "call/s")]:
    o, u = count / med(label, "official", "seconds"), count / med(label, "ours", "seconds")
    print(f"{label:<34}{o:>9.1f} {unit}{u:>9.1f} {unit}{u / o:>8.2f}x")
PY
