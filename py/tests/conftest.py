"""Fixtures: a real emulator process per module, and clients of our package for it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))
from emulator_proc import Emulator, start_emulator, stop_emulator  # noqa: E402

import fluidcloud  # noqa: E402

#: Multipart from 64 KiB in 16 KiB parts, so small files exercise it.
DEFAULT_FLAGS = ["--multipart-threshold", "64KiB", "--part-size", "16KiB"]


@pytest.fixture(scope="module")
def emulator(request) -> Iterator[Emulator]:
    flags = list(getattr(request.module, "EMULATOR_FLAGS", DEFAULT_FLAGS))
    emu = start_emulator(flags)
    try:
        yield emu
    finally:
        stop_emulator(emu)


@pytest.fixture
def emu(emulator: Emulator) -> Emulator:
    """The module's emulator, reset to its first state."""
    emulator.reset()
    return emulator


@pytest.fixture
def fc(emu: Emulator) -> Iterator[fluidcloud.FluidCloud]:
    with fluidcloud.FluidCloud(emu.api_key, base_url=emu.base_url) as client:
        yield client


@pytest.fixture
def space(fc: fluidcloud.FluidCloud) -> str:
    return fc.spaces.list()[0].id
