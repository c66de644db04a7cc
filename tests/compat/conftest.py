"""Fixtures of the compatibility test: a real `fluidcloud-emulator` process per test module.

A module may set `EMULATOR_FLAGS` (a list of extra arguments). Every test gets a clean
emulator state via `POST /_emulator/reset` (the `emu` fixture).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from emulator_proc import HTTP_TIMEOUT_S, Emulator, start_emulator, stop_emulator  # noqa: E402


@pytest.fixture(scope="module")
def emulator(request) -> Iterator[Emulator]:
    """One emulator process per test module, started with the module's EMULATOR_FLAGS."""
    flags = list(getattr(request.module, "EMULATOR_FLAGS", []))
    emu = start_emulator(flags)
    try:
        yield emu
    finally:
        stop_emulator(emu)


@pytest.fixture
def emu(emulator: Emulator) -> Emulator:
    """The module's emulator, reset to a clean state (default tenant, key and space)."""
    if emulator.proc.poll() is not None:
        pytest.fail(
            f"emulator exited (status {emulator.proc.returncode}); stderr:\n{emulator.stderr()}",
            pytrace=False,
        )
    emulator.reset()
    return emulator


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A plain HTTP client with no credential, for presigned URLs and share links."""
    with httpx.Client(timeout=HTTP_TIMEOUT_S, trust_env=False) as client:
        yield client
