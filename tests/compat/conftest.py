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
from emulator_proc import HTTP_TIMEOUT_S, emulator_fixtures  # noqa: E402


emulator, emu = emulator_fixtures()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A plain HTTP client with no credential, for presigned URLs and share links."""
    with httpx.Client(timeout=HTTP_TIMEOUT_S, trust_env=False) as client:
        yield client
