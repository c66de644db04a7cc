#!/usr/bin/env bash
# Benchmark (not a test): a 1 GiB single PUT from curl to the emulator over loopback, then
# the complete call that checks its sha256. One warm-up run (this VM pays for first-touched
# memory), then RUNS measured runs and their median.
#   bash bench/emulator_put.sh [SIZE_MIB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
runs=${2:-3}
cargo build --release -q -p fluidcloud-emulator
work=$(mktemp -d)
source bench/emulator.sh
cleanup() { stop_emulators; rm -rf "$work"; }
trap cleanup EXIT

head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/blob"
sha=$(sha256sum "$work/blob" | cut -d' ' -f1)
size=$(stat -c %s "$work/blob")

start_emulator emu --multipart-threshold 1TiB
base=$emu_base key=$emu_key
api() { curl -sf -H "X-API-Key: $key" -H 'Content-Type: application/json' "$@"; }
sync

echo "emulator PUT benchmark: ${size_mib} MiB, $runs runs, $(nproc) cores"
results=()
for run in $(seq 0 "$runs"); do
  space=$(api "$base/api/v1/spaces" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
  ticket=$(api "$base/api/v1/uploads/initiate" -d "{\"original_name\":\"blob.bin\",\"content_type\":\"application/octet-stream\",\"size\":$size,\"space_id\":\"$space\",\"folder_id\":null,\"app\":null}")
  read -r file_id key_path url < <(python3 -c 'import json,sys; t=json.load(sys.stdin); print(t["file_id"], t["key"], t["upload_url"])' <<<"$ticket")
  put=$(curl -sf -o /dev/null -w '%{time_total}' -T "$work/blob" -H 'Content-Type: application/octet-stream' "$url")
  start=$(date +%s.%N)
  api "$base/api/v1/uploads/complete" -o /dev/null -d "{\"file_id\":\"$file_id\",\"key\":\"$key_path\",\"upload_id\":null,\"parts\":null,\"original_name\":\"blob.bin\",\"mime\":\"application/octet-stream\",\"size\":$size,\"sha256\":\"$sha\",\"space_id\":\"$space\",\"folder_id\":null,\"app\":null,\"client_key\":null}"
  complete=$(python3 -c "import time; print(f'{time.time() - $start:.3f}')")
  label="run $run"; [ "$run" = 0 ] && label="warm-up"
  python3 -c "print(f'$label: PUT {$put:.3f} s = {$size / $put / 1e9:.2f} GB/s; complete {$complete} s')"
  [ "$run" = 0 ] || results+=("$put")
  # A clean slate and no dirty pages left behind, so runs do not slow each other down.
  curl -sf -o /dev/null -X POST "$base/_emulator/reset"
  sync
done
python3 - "$size" "${results[@]}" <<'PY'
import statistics, sys
size, times = int(sys.argv[1]), [float(t) for t in sys.argv[2:]]
m = statistics.median(times)
print(f"median PUT: {m:.3f} s = {size / m / 1e9:.2f} GB/s ({size / m / 2**30:.2f} GiB/s) over {len(times)} runs")
PY
