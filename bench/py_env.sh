# Sourced by the Python benchmarks: builds the release emulator and sets `official` and `ours`
# to the interpreters of the official client (fluidcloud==0.1.0) and of our package, built in
# release into target/py-bench-venv.
cargo build --release -q -p fluidcloud-emulator
bash tests/compat/ensure_venv.sh >/dev/null
official=$PWD/target/compat-venv/bin/python
py_bench_venv=$PWD/target/py-bench-venv
if [ ! -x "$py_bench_venv/bin/python" ]; then
  python3 -m venv "$py_bench_venv"
  "$py_bench_venv/bin/python" -m pip install --quiet --disable-pip-version-check maturin==1.9.6
fi
PATH="$py_bench_venv/bin:$PATH" "$py_bench_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --no-build-isolation --no-deps --force-reinstall ./py
ours=$py_bench_venv/bin/python
