"""Fixtures: a real emulator process per module, and clients of our package for it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))
from emulator_proc import Emulator, emulator_fixtures  # noqa: E402

import fluidcloud  # noqa: E402

#: Multipart from 64 KiB in 16 KiB parts, so small files exercise it.
DEFAULT_FLAGS = ["--multipart-threshold", "64KiB", "--part-size", "16KiB"]


emulator, emu = emulator_fixtures(DEFAULT_FLAGS)


@pytest.fixture
def fc(emu: Emulator) -> Iterator[fluidcloud.FluidCloud]:
    with fluidcloud.FluidCloud(emu.api_key, base_url=emu.base_url) as client:
        yield client


@pytest.fixture
def space(fc: fluidcloud.FluidCloud) -> str:
    return fc.spaces.list()[0].id
