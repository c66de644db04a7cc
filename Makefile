# The one command that runs every test of the project: `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: test build rust-test compat-test bench-emulator

test: build rust-test compat-test

# The workspace is built once (debug); every later step reuses these binaries.
build:
	$(CARGO) build --workspace --all-targets --locked

rust-test: build
	$(CARGO) test --workspace --locked

compat-test: build
	bash tests/compat/run.sh

bench-emulator:
	bash bench/emulator_put.sh
