# Sourced by the benchmarks: release emulators on free ports. Needs `$work`, a scratch folder.
#   start_emulator NAME FLAGS…   sets NAME_base, NAME_key and NAME_pid
#   stop_emulator NAME           SIGINT, then waits: a wrapper such as valgrind can finish
#   stop_emulators               stops every one started (for an EXIT trap)
# A command to run the emulator under (valgrind, say) goes in the array `emulator_wrapper`.
emulator_pids=()
emulator_wrapper=()

start_emulator() {
  local name=$1 pid; shift
  : > "$work/$name.out"
  "${emulator_wrapper[@]}" ./target/release/fluidcloud-emulator --listen 127.0.0.1:0 "$@" > "$work/$name.out" &
  pid=$!
  emulator_pids+=("$pid")
  printf -v "${name}_pid" '%s' "$pid"
  until [ "$(wc -l < "$work/$name.out")" -ge 2 ]; do
    kill -0 "$pid" 2>/dev/null || { echo "emulator $name died" >&2; exit 1; }
    sleep 0.05
  done
  printf -v "${name}_base" '%s' "$(sed -n 's/^FLUIDCLOUD_BASE_URL=//p' "$work/$name.out")"
  printf -v "${name}_key" '%s' "$(sed -n 's/^FLUIDCLOUD_API_KEY=//p' "$work/$name.out")"
}

stop_emulator() {
  local pid_var="${1}_pid"
  kill -INT "${!pid_var}" 2>/dev/null || true
  wait "${!pid_var}" 2>/dev/null || true
}

stop_emulators() {
  for pid in "${emulator_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
