"""A real `fluidcloud-emulator` process for Python tests (the compat test and the package's).

The emulator is started with `--listen 127.0.0.1:0` plus extra flags; its stdout is read
line by line (with a deadline, no sleeps) until it has printed both
`FLUIDCLOUD_BASE_URL=…` and `FLUIDCLOUD_API_KEY=…`.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional, Sequence

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "target" / "debug" / "fluidcloud-emulator"
STARTUP_TIMEOUT_S = float(os.environ.get("FLUIDCLOUD_EMULATOR_STARTUP_TIMEOUT", "30"))
STOP_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 60.0

# The emulator listens on loopback: never route it through a proxy from the environment.
_no_proxy = [p for p in os.environ.get("NO_PROXY", "").split(",") if p]
for _host in ("127.0.0.1", "localhost"):
    if _host not in _no_proxy:
        _no_proxy.append(_host)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join(_no_proxy)

_BASE_RE = re.compile(r"FLUIDCLOUD_BASE_URL=(\S+)")
_KEY_RE = re.compile(r"FLUIDCLOUD_API_KEY=(\S+)")


def emulator_bin() -> Path:
    path = Path(os.environ.get("FLUIDCLOUD_EMULATOR_BIN") or DEFAULT_BIN)
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"emulator binary not found or not executable: {path} "
            "(build it with `cargo build -p fluidcloud-emulator` or set FLUIDCLOUD_EMULATOR_BIN)",
            pytrace=False,
        )
    return path


@dataclass
class Emulator:
    """A running emulator process and its admin API."""

    base_url: str
    api_key: str
    flags: List[str]
    proc: subprocess.Popen
    stderr_path: str
    http: httpx.Client = field(repr=False)

    def __iter__(self):
        """Unpacks as `(base_url, api_key)`."""
        return iter((self.base_url, self.api_key))

    def stderr(self) -> str:
        try:
            return Path(self.stderr_path).read_text(errors="replace")
        except OSError:
            return ""

    # -- admin API (/_emulator/, no credential) --------------------------------------
    def admin(self, method: str, path: str, json: Optional[dict] = None) -> httpx.Response:
        resp = self.http.request(method, f"{self.base_url}/_emulator{path}", json=json)
        assert resp.is_success, (
            f"admin {method} /_emulator{path} {json!r} -> {resp.status_code} {resp.text!r}"
        )
        return resp

    def reset(self) -> None:
        self.admin("POST", "/reset")

    def new_key(
        self,
        scopes: Sequence[str],
        *,
        tenant_id: Optional[str] = None,
        bytes_limit: Optional[int] = None,
        links_limit: Optional[int] = None,
    ) -> dict:
        """`POST /_emulator/keys` -> {"key", "tenant_id"} (a new tenant unless tenant_id)."""
        body: dict = {"scopes": list(scopes)}
        if tenant_id is not None:
            body["tenant_id"] = tenant_id
        if bytes_limit is not None:
            body["bytes_limit"] = bytes_limit
        if links_limit is not None:
            body["links_limit"] = links_limit
        data = self.admin("POST", "/keys", json=body).json()
        assert isinstance(data.get("key"), str) and data["key"].startswith("fck_"), data
        assert isinstance(data.get("tenant_id"), str) and data["tenant_id"], data
        return data


def _pump_stdout(stream, lines: "queue.Queue[Optional[str]]") -> None:
    """Forward stdout lines to the queue; keep draining after startup so the
    emulator never blocks on a full pipe. `None` marks EOF."""
    try:
        for raw in iter(stream.readline, b""):
            lines.put(raw.decode("utf-8", errors="replace"))
    finally:
        lines.put(None)


def start_emulator(flags: Sequence[str] = ()) -> Emulator:
    """Start the emulator and wait (bounded) for both announcement lines."""
    binary = emulator_bin()
    argv = [str(binary), "--listen", "127.0.0.1:0", *flags]
    err = tempfile.NamedTemporaryFile(prefix="fluidcloud-emulator-", suffix=".stderr", delete=False)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
    err.close()
    lines: "queue.Queue[Optional[str]]" = queue.Queue()
    threading.Thread(target=_pump_stdout, args=(proc.stdout, lines), daemon=True).start()

    base_url = api_key = None
    seen: List[str] = []
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    problem = None
    while base_url is None or api_key is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            problem = f"no announcement within {STARTUP_TIMEOUT_S:g}s"
            break
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            problem = f"no announcement within {STARTUP_TIMEOUT_S:g}s"
            break
        if line is None:
            try:
                code = proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                code = "still running"
            problem = f"stdout closed before the announcement (exit status: {code})"
            break
        seen.append(line.rstrip("\n"))
        if m := _BASE_RE.search(line):
            base_url = m.group(1).rstrip("/")
        if m := _KEY_RE.search(line):
            api_key = m.group(1)

    if problem is not None:
        _stop(proc)
        stderr = Path(err.name).read_text(errors="replace")
        os.unlink(err.name)
        pytest.fail(
            f"emulator failed to start: {problem}\n"
            f"argv: {argv}\n"
            f"stdout so far: {seen!r}\n"
            f"stderr:\n{stderr}",
            pytrace=False,
        )
    http = httpx.Client(timeout=HTTP_TIMEOUT_S, trust_env=False)
    return Emulator(base_url, api_key, list(flags), proc, err.name, http)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def stop_emulator(emu: Emulator) -> None:
    emu.http.close()
    _stop(emu.proc)
    try:
        os.unlink(emu.stderr_path)
    except OSError:
        pass


def emulator_fixtures(default_flags: Sequence[str] = ()):
    """The `emulator` and `emu` fixtures, for a conftest: `emulator, emu = emulator_fixtures()`.

    `emulator` is one process per test module, started with the module's `EMULATOR_FLAGS`
    (else `default_flags`); `emu` is that emulator reset to its first state (default tenant,
    key and space) for each test.
    """

    @pytest.fixture(scope="module")
    def emulator(request) -> Iterator[Emulator]:
        flags = list(getattr(request.module, "EMULATOR_FLAGS", default_flags))
        emu = start_emulator(flags)
        try:
            yield emu
        finally:
            stop_emulator(emu)

    @pytest.fixture
    def emu(emulator: Emulator) -> Emulator:
        if emulator.proc.poll() is not None:
            pytest.fail(
                f"emulator exited (status {emulator.proc.returncode}); stderr:\n{emulator.stderr()}",
                pytrace=False,
            )
        emulator.reset()
        return emulator

    return emulator, emu
