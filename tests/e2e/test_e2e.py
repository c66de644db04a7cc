"""Every language's quickstart against a real emulator process, and files written by one
language read back by the others. Each test gets a clean emulator state."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "support"))
from emulator_proc import Emulator  # noqa: E402

import fluidcloud  # noqa: E402  (our package, from target/py-venv)

CLI = REPO / "target" / "debug" / "fluidcloud"
HELLO = b"Hello from FluidCloud!\n"
RUN_TIMEOUT_S = 120


# Multipart from 64 KiB, so the cross-language files below go through parts too.
EMULATOR_FLAGS = ["--multipart-threshold", "64KiB", "--part-size", "16KiB"]


@pytest.fixture(scope="module")
def node_home(tmp_path_factory) -> Path:
    """A folder where `import 'fluidcloud'` finds the package under node/, as if installed."""
    home = tmp_path_factory.mktemp("node-home")
    (home / "node_modules").mkdir()
    (home / "node_modules" / "fluidcloud").symlink_to(REPO / "node", target_is_directory=True)
    return home


def env_for(emu: Emulator, key: Optional[str] = None) -> dict:
    env = dict(os.environ)
    env["FLUIDCLOUD_BASE_URL"] = emu.base_url
    env["FLUIDCLOUD_API_KEY"] = key or emu.api_key
    return env


def run(argv: List[str], env: dict, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, timeout=RUN_TIMEOUT_S)


def quickstart(language: str, node_home: Path) -> List[str]:
    """The command that runs `language`'s quickstart (file arguments go after it)."""
    if language == "python":
        return [sys.executable, str(REPO / "examples" / "python" / "quickstart.py")]
    if language == "node":
        # Copied beside node_modules, where Node resolves bare imports from.
        script = node_home / "quickstart.mjs"
        script.write_bytes((REPO / "examples" / "node" / "quickstart.mjs").read_bytes())
        return ["node", str(script)]
    return [str(REPO / "target" / "debug" / "examples" / "quickstart")]


LANGUAGES = ["python", "node", "rust"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_quickstart_uploads_publicly_and_the_link_serves_the_bytes(language, emu, node_home, tmp_path):
    command = quickstart(language, node_home)
    sample = tmp_path / "logo.png"
    sample.write_bytes(bytes(range(256)) * 300)  # 76,800 bytes: multipart here

    for args, expected, content_type in [([], HELLO, "text/plain"), ([str(sample)], sample.read_bytes(), "image/png")]:
        done = run(command + args, env_for(emu))
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        link = done.stdout.decode().strip()
        assert link.startswith(emu.base_url), link
        served = httpx.get(link)
        assert served.status_code == 200
        assert served.content == expected
        assert served.headers["content-type"].startswith(content_type)

    spaces = fluidcloud.FluidCloud(api_key=emu.api_key, base_url=emu.base_url).spaces.list()
    assert [s.name for s in spaces].count("Brand Assets") == 2


@pytest.mark.parametrize("language", LANGUAGES)
def test_quickstart_reports_a_wrong_key_and_fails(language, emu, node_home):
    done = run(quickstart(language, node_home), env_for(emu, key="fck_wrong_key"))
    assert done.returncode == 1
    message = done.stderr.decode(errors="replace")
    assert "401" in message, message
    assert "fck_wrong_key" not in message + done.stdout.decode(errors="replace"), "the key was shown"


NODE_READ = """
import { FluidCloud } from 'fluidcloud';
const [key, dest] = process.argv.slice(2);
const fc = new FluidCloud();
const file = await fc.files.resolve(key);
await fc.files.download(file.id, dest);
console.log(JSON.stringify({ id: file.id, sha256: file.sha256, size: file.size }));
fc.close();
"""

NODE_WRITE = """
import { FluidCloud } from 'fluidcloud';
const [path, spaceId] = process.argv.slice(2);
const fc = new FluidCloud();
const file = await fc.files.upload(path, { spaceId, clientKey: 'from-node', public: true });
console.log(JSON.stringify({ id: file.id, publicUrl: file.publicUrl }));
fc.close();
"""


def test_a_file_from_python_is_read_by_node_rust_and_the_cli(emu, node_home, tmp_path):
    data = os.urandom(200_000)
    fc = fluidcloud.FluidCloud(api_key=emu.api_key, base_url=emu.base_url)
    space = fc.spaces.create("Shared")
    stored = fc.files.upload(data, space.id, name="shared.bin", client_key="from-python")
    sha = hashlib.sha256(data).hexdigest()
    assert stored.sha256 == sha

    script = node_home / "read.mjs"
    script.write_text(NODE_READ)
    node_dest = tmp_path / "by-node.bin"
    done = run(["node", str(script), "from-python", str(node_dest)], env_for(emu), cwd=node_home)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert json.loads(done.stdout) == {"id": stored.id, "sha256": sha, "size": len(data)}
    assert node_dest.read_bytes() == data

    cli_dest = tmp_path / "by-cli.bin"
    done = run([str(CLI), "download", stored.id, str(cli_dest)], env_for(emu))
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert cli_dest.read_bytes() == data
    done = run([str(CLI), "get", stored.id, "--json"], env_for(emu))
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert json.loads(done.stdout)["sha256"] == sha


def test_a_file_from_node_is_read_by_python(emu, node_home, tmp_path):
    data = os.urandom(150_000)
    source = tmp_path / "from-node.bin"
    source.write_bytes(data)
    fc = fluidcloud.FluidCloud(api_key=emu.api_key, base_url=emu.base_url)
    space = fc.spaces.create("From Node")

    script = node_home / "write.mjs"
    script.write_text(NODE_WRITE)
    done = run(["node", str(script), str(source), space.id], env_for(emu), cwd=node_home)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    written = json.loads(done.stdout)

    found = fc.files.resolve("from-node")
    assert found.id == written["id"]
    assert found.sha256 == hashlib.sha256(data).hexdigest()
    dest = tmp_path / "by-python.bin"
    fc.files.download(found.id, dest)
    assert dest.read_bytes() == data
    assert httpx.get(written["publicUrl"]).content == data
