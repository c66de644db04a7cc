# The one command that runs every test of the project: `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: test build rust-test compat-test py-test c-test node-test e2e-test

test: build rust-test compat-test py-test c-test node-test e2e-test

# The workspace is built once (debug); every later step reuses these binaries.
build:
	$(CARGO) build --workspace --all-targets --locked

rust-test: build
	$(CARGO) test --workspace --locked

# The official Python client, unmodified, against the emulator.
compat-test: build
	bash tests/compat/run.sh

# Our Python package: pip install ./py (dev profile), stubtest, pytest.
py-test: build compat-test
	bash py/run_tests.sh

# The C ABI: header freshness, the C test under valgrind, the quickstart.
c-test: build
	bash tests/c/run.sh

# The Node package: npm ci, the addon build, native.d.ts freshness, tsc, node --test, a packed install.
node-test: build
	bash node/run_tests.sh

# Every language's quickstart (examples/) against the emulator, and files crossing languages.
e2e-test: build py-test node-test
	bash tests/e2e/run.sh
