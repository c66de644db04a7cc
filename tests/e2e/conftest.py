"""Fixtures of the end-to-end tests: a real emulator process per test module (`emulator`),
reset for each test (`emu`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from emulator_proc import emulator_fixtures  # noqa: E402

emulator, emu = emulator_fixtures()
