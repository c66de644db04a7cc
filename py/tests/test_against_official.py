"""The same scenario with the official client (in its own environment) and with ours:
every result must match field by field, but for ids and timestamps."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess

import fluidcloud

SCENARIO = r'''
import dataclasses, json, sys
import fluidcloud
key, base = sys.argv[1], sys.argv[2]
fc = fluidcloud.FluidCloud(key, base_url=base)
out = {}
def keep(name, value):
    if isinstance(value, list):
        out[name] = [dataclasses.asdict(v) for v in value]
    elif dataclasses.is_dataclass(value):
        out[name] = dataclasses.asdict(value)
    else:
        out[name] = value
space = fc.spaces.create("Compared")
keep("space", space)
folder = fc.folders.create("docs", space.id)
keep("folder", folder)
keep("renamed", fc.folders.rename(folder.id, "papers"))
data = bytes(range(256)) * 300
up = fc.files.upload(data, space.id, folder_id=folder.id, name="table.csv", client_key="ck", app="fluidtalk")
keep("upload", up)
small = fc.files.upload(b"tiny", space.id, name="tiny.json", public=True)
keep("public_upload", small)
keep("get", fc.files.get(up.id))
keep("list", fc.files.list(space.id, folder.id))
keep("resolve", fc.files.resolve("ck", app="fluidtalk"))
keep("moved", fc.files.move(up.id, None))
keep("deleted", fc.files.delete(up.id))
keep("restored", fc.files.restore(up.id))
keep("signed", fc.files.signed_url(small.id, expires_in_days=2, permission="download"))
keep("shares", fc.shares.list(file_id=small.id))
keep("quota", fc.quota.usage())
try:
    fc.files.get("00000000-0000-4000-8000-000000000000")
except fluidcloud.NotFoundError as e:
    keep("error", {"class": type(e).__name__, "status": e.status, "detail": e.detail})
print(json.dumps(out))
'''

VOLATILE = {"id", "tenant_id", "space_id", "folder_id", "parent_id", "file_id", "created_at", "updated_at",
            "deleted_at", "expires_at", "url", "public_url", "name"}


def scrub(value):
    """Ids, timestamps and URLs differ between runs; keep whether they were set."""
    if isinstance(value, dict):
        return {k: (v is not None if k in VOLATILE else scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def run_with(python: str, key: str, base_url: str, env_extra=None) -> dict:
    env = dict(os.environ, PYTHONPATH="", **(env_extra or {}))
    out = subprocess.run([python, "-c", SCENARIO, key, base_url], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_official_and_ours_give_the_same_results(emu):
    import sys

    official_python = os.environ["FLUIDCLOUD_OFFICIAL_PYTHON"]
    theirs = run_with(official_python, emu.new_key(["spaces:read", "spaces:write", "files:read", "files:write", "shares:read", "shares:write", "quota:read"])["key"], emu.base_url)
    ours = run_with(sys.executable, emu.new_key(["spaces:read", "spaces:write", "files:read", "files:write", "shares:read", "shares:write", "quota:read"])["key"], emu.base_url)
    assert theirs.keys() == ours.keys()
    for name in theirs:
        assert scrub(ours[name]) == scrub(theirs[name]), name
    # Names are compared where they are not ids of the storage layer.
    assert ours["renamed"]["name"] == theirs["renamed"]["name"] == "papers"
    assert ours["upload"]["original_name"] == theirs["upload"]["original_name"] == "table.csv"
    assert fluidcloud.File.from_dict(ours["upload"]).sha256 == theirs["upload"]["sha256"]
