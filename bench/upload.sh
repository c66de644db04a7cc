#!/usr/bin/env bash
# Benchmark (not a test): the SDK uploads a file from a path to the emulator; printed beside
# two references from the same run: SHA-256 of the file alone, and an "oracle" client that
# already knows the hash (one curl PUT of the whole file, then complete).
#   bash bench/upload.sh [SIZE_MIB] [local|network] [RUNS]
# SDK and oracle runs alternate; medians are printed (this VM's timings are noisy).
# network = the emulator's realistic storage: 50 MB/s per connection, 20 ms latency.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
setting=${2:-local}
runs=${3:-3}
case "$setting" in
  local) net=() ;;
  network) net=(--storage-bytes-per-sec 50000000 --storage-latency-ms 20) ;;
  *) echo "setting must be local or network" >&2; exit 2 ;;
esac
cargo build --release -q -p fluidcloud-emulator -p fluidcloud --example bench_upload
bench=./target/release/examples/bench_upload
work=$(mktemp -d)
source bench/emulator.sh
cleanup() { stop_emulators; rm -rf "$work"; }
trap cleanup EXIT

head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/blob"
size=$(stat -c %s "$work/blob")

start_emulator sdk "${net[@]}"
# The oracle needs a single PUT of the whole file, so its emulator never goes multipart.
start_emulator oracle "${net[@]}" --multipart-threshold 1TiB

sync
read -r sha_seconds sha < <("$bench" sha256 "$work/blob")

oracle() {
  local base=$oracle_base key=$oracle_key
  local api=(-sf -H "X-API-Key: $key" -H 'Content-Type: application/json')
  local space ticket file_id key_path url start
  space=$(curl "${api[@]}" "$base/api/v1/spaces" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
  start=$(date +%s.%N)
  ticket=$(curl "${api[@]}" "$base/api/v1/uploads/initiate" -d "{\"original_name\":\"blob.bin\",\"content_type\":\"application/octet-stream\",\"size\":$size,\"space_id\":\"$space\",\"folder_id\":null,\"app\":null}")
  read -r file_id key_path url < <(python3 -c 'import json,sys; t=json.load(sys.stdin); print(t["file_id"], t["key"], t["upload_url"])' <<<"$ticket")
  curl -sf -o /dev/null -T "$work/blob" -H 'Content-Type: application/octet-stream' "$url"
  curl "${api[@]}" -o /dev/null "$base/api/v1/uploads/complete" -d "{\"file_id\":\"$file_id\",\"key\":\"$key_path\",\"upload_id\":null,\"parts\":null,\"original_name\":\"blob.bin\",\"mime\":\"application/octet-stream\",\"size\":$size,\"sha256\":\"$sha\",\"space_id\":\"$space\",\"folder_id\":null,\"app\":null,\"client_key\":null}"
  python3 -c "import time; print(f'{time.time() - $start:.3f}')"
}

oracle_runs=(); sdk_runs=(); rss_runs=()
for run in $(seq "$runs"); do
  sync
  /usr/bin/time -f '%M' -o "$work/rss" "$bench" upload "$sdk_base" "$sdk_key" "$work/blob" > "$work/sdk.out"
  read -r sdk_seconds sdk_sha < "$work/sdk.out"
  [ "$sdk_sha" = "$sha" ] || { echo "the SDK stored sha256 $sdk_sha, expected $sha" >&2; exit 1; }
  sdk_runs+=("$sdk_seconds"); rss_runs+=("$(cat "$work/rss")")
  sync
  oracle_runs+=("$(oracle)")
  # Drop the stored copies so that runs do not pile up on disk.
  curl -sf -o /dev/null -X POST "$sdk_base/_emulator/reset"
  curl -sf -o /dev/null -X POST "$oracle_base/_emulator/reset"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
max() { printf '%s\n' "$@" | sort -g | tail -1; }
oracle_seconds=$(median "${oracle_runs[@]}")
sdk_seconds=$(median "${sdk_runs[@]}")
rss_kib=$(max "${rss_runs[@]}")
echo "runs: sdk ${sdk_runs[*]} s; oracle ${oracle_runs[*]} s; peak RSS ${rss_runs[*]} KiB"

python3 - "$size" "$setting" "$sha_seconds" "$oracle_seconds" "$sdk_seconds" "$rss_kib" <<'PY'
import sys
size, setting = int(sys.argv[1]), sys.argv[2]
sha_s, oracle_s, sdk_s, rss_kib = map(float, sys.argv[3:7])
mbps = lambda s: size / s / 1e6
print(f"upload benchmark ({setting}): {size / 2**20:.0f} MiB from a path, medians")
print(f"  sha256 alone (SHA-NI)   {sha_s:7.3f} s  {mbps(sha_s):8.1f} MB/s")
print(f"  oracle (curl + complete){oracle_s:7.3f} s  {mbps(oracle_s):8.1f} MB/s")
print(f"  fluidcloud SDK          {sdk_s:7.3f} s  {mbps(sdk_s):8.1f} MB/s  = {oracle_s / sdk_s:.2f} x oracle, peak RSS {rss_kib / 1024:.1f} MiB (max)")
PY
