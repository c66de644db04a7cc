#!/usr/bin/env bash
# Benchmark (not a test): CPU instructions per `files.get`, counted by valgrind's callgrind, for
# the official Python client, ours, and the emulator answering ours. Unlike seconds on this VM,
# the counts repeat from run to run, so they show what a change to a client costs.
#   bash bench/call_instructions.sh
# Each figure is the difference between a run of 1,100 calls and one of 100, over 1,000: what
# starting the interpreter and importing cost drops out.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "call_instructions.sh: valgrind is needed" >&2; exit 2; }
source bench/py_env.sh
export PYTHONHASHSEED=0

work=$(mktemp -d)
source bench/emulator.sh
cleanup() { stop_emulators; rm -rf "$work"; }
trap cleanup EXIT

collected() {  # valgrind's log -> its instruction count
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$1"
}
callgrind=(valgrind --tool=callgrind --callgrind-out-file=/dev/null)

client_instructions() {  # PYTHON CALLS
  "${callgrind[@]}" --log-file="$work/client.log" "$1" bench/py_bench.py get "$plain_base" "$plain_key" "$2" > /dev/null
  collected "$work/client.log"
}
emulator_instructions() {  # CALLS (made by ours)
  emulator_wrapper=("${callgrind[@]}" --log-file="$work/emulator.log")
  start_emulator counted
  "$ours" bench/py_bench.py get "$counted_base" "$counted_key" "$1" > /dev/null
  stop_emulator counted
  collected "$work/emulator.log"
}
per_call() {  # COUNT_100 COUNT_1100
  echo $(( ($2 - $1) / 1000 ))
}

start_emulator plain
official_100=$(client_instructions "$official" 100); official_1100=$(client_instructions "$official" 1100)
ours_100=$(client_instructions "$ours" 100); ours_1100=$(client_instructions "$ours" 1100)
stop_emulator plain
emulator_100=$(emulator_instructions 100); emulator_1100=$(emulator_instructions 1100)

echo "instructions per files.get (callgrind)"
printf '%-34s%12s\n' "official client" "$(per_call "$official_100" "$official_1100")"
printf '%-34s%12s\n' "ours" "$(per_call "$ours_100" "$ours_1100")"
printf '%-34s%12s\n' "emulator, answering ours" "$(per_call "$emulator_100" "$emulator_1100")"
