"""Every method of the official surface, against the emulator."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
import weakref
import time
import base64
import hmac
import json

import httpx
import pytest

import fluidcloud
from fluidcloud import File, Folder, Link, Quota, Share, Space


def user_jwt(sub: str, secret: str = "fluidcloud-emulator-jwt-secret") -> str:
    enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    head = enc(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = enc(json.dumps({"sub": sub, "exp": int(time.time()) + 3600}).encode())
    sig = enc(hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def test_spaces(fc):
    made = fc.spaces.create("Brand Assets")
    assert isinstance(made, Space) and made.name == "Brand Assets"
    names = [s.name for s in fc.spaces.list()]
    assert names == ["Default", "Brand Assets"]


def test_folders(fc, space):
    docs = fc.folders.create("docs", space)
    inner = fc.folders.create("inner", space, docs.id)
    assert isinstance(inner, Folder) and inner.parent_id == docs.id
    assert [f.name for f in fc.folders.list(space)] == ["docs"]
    assert [f.name for f in fc.folders.list(space, docs.id)] == ["inner"]
    assert fc.folders.rename(inner.id, "renamed").name == "renamed"
    assert fc.folders.move(inner.id, None).parent_id is None
    assert fc.folders.move(inner.id, docs.id).parent_id == docs.id
    trashed = fc.folders.delete(docs.id)
    assert trashed.deleted_at is not None
    assert fc.folders.list(space) == []
    assert [f.id for f in fc.folders.list(space, trash=True)] == [docs.id]
    assert fc.folders.restore(docs.id).deleted_at is None


def test_files(fc, space, tmp_path):
    folder = fc.folders.create("f", space)
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello fluidcloud")
    up = fc.files.upload(str(path), space, folder_id=folder.id, client_key="k-1", app="fluidtalk")
    assert isinstance(up, File)
    assert (up.original_name, up.mime, up.size) == ("notes.txt", "text/plain", 16)
    assert up.sha256 == hashlib.sha256(b"hello fluidcloud").hexdigest()
    assert up.source_app == "fluidtalk" and up.client_key == "k-1"
    assert fc.files.get(up.id).status == "ready"
    assert [f.id for f in fc.files.list(space, folder.id)] == [up.id]
    assert [f.id for f in fc.files.list(space, folder.id, app="fluidtalk")] == [up.id]
    assert fc.files.list(space, folder.id, app="other") == []
    assert fc.files.resolve("k-1", app="fluidtalk").id == up.id
    assert fc.files.rename(up.id, "n.txt").original_name == "n.txt"
    assert fc.files.move(up.id, None).folder_id is None
    assert fc.files.delete(up.id).deleted_at is not None
    assert [f.id for f in fc.files.list(space, trash=True)] == [up.id]
    assert fc.files.restore(up.id).deleted_at is None
    url = fc.files.download_url(up.id)
    assert isinstance(url, str)
    assert httpx.get(url, trust_env=False).content == b"hello fluidcloud"
    dest = tmp_path / "copy.txt"
    got = fc.files.download(up.id, dest)
    assert got.id == up.id and dest.read_bytes() == b"hello fluidcloud"


def test_links_and_shares(fc, space):
    f = fc.files.upload(b"\x89PNG fake", space, name="logo.png")
    public = fc.files.public_url(f.id)
    assert isinstance(public, Link) and public.expires_at is None
    assert fc.files.public_url(f.id).url == public.url
    signed = fc.files.signed_url(f.id, expires_in_days=3, permission="download")
    assert signed.permission == "download" and signed.expires_at
    shares = fc.shares.list(file_id=f.id)
    assert all(isinstance(s, Share) for s in shares) and len(shares) == 2
    assert fc.shares.revoke(signed.id) is None
    assert [s.id for s in fc.shares.list(file_id=f.id)] == [public.id]
    inactive = fc.shares.list(file_id=f.id, include_inactive=True)
    assert {s.id: s.revoked for s in inactive} == {public.id: False, signed.id: True}
    resp = httpx.get(public.url, trust_env=False)
    assert resp.content == b"\x89PNG fake" and resp.headers["content-type"] == "image/png"


def test_upload_public_sets_public_url(fc, space):
    f = fc.files.upload(b"public bytes", space, name="a.txt", public=True)
    assert f.public_url and httpx.get(f.public_url, trust_env=False).content == b"public bytes"


def test_quota(fc, space):
    fc.files.upload(b"x" * 100, space, app="fluidghost")
    q = fc.quota.usage()
    assert isinstance(q, Quota) and q.bytes_used == 100 and q.bytes_limit > 0
    assert q.by_app == [{"app": "fluidghost", "bytes_used": 100, "files": 1}]


def test_exchange_service_token_and_as_user(emu):
    key = emu.new_key(["service:delegate", "service:jobtoken", "spaces:read"])["key"]
    with fluidcloud.FluidCloud(key, base_url=emu.base_url) as service:
        token = service.exchange_service_token(user_jwt("u-1"), "fluidtalk", ttl_seconds=600)
        assert token.token.startswith("fcd_") and token.expires_in == 600 and token.app == "fluidtalk"
        assert token.token not in repr(token)
        user = service.as_user(user_jwt("u-1"), "fluidtalk", job_id="job-9")
        spaces = user.spaces.list()
        assert [s.name for s in spaces] == ["Default"]
        assert spaces[0].tenant_id == token.tenant_id


def test_context_manager_and_close(emu):
    with fluidcloud.FluidCloud(emu.api_key, base_url=emu.base_url) as fc:
        assert fc.spaces.list()
    with pytest.raises(RuntimeError, match="closed"):
        fc.spaces.list()


@pytest.mark.parametrize("make", [fluidcloud.FluidCloud, fluidcloud.AsyncFluidCloud])
def test_a_client_dropped_without_close_is_freed_at_once(emu, make):
    """No reference cycle between a client and its resources: reference counting frees a
    client as soon as it is dropped (and the core closes its connections then), while a
    resource taken from it before keeps working."""
    gc.disable()
    try:
        fc = make(emu.api_key, base_url=emu.base_url)
        client = weakref.ref(fc)
        spaces = fc.spaces
        del fc
        assert client() is None, "the client was kept alive by a reference cycle"
        if make is fluidcloud.FluidCloud:
            assert spaces.list()[0].name == "Default"
        else:
            assert asyncio.run(spaces.list())[0].name == "Default"
    finally:
        gc.enable()


def test_environment_defaults(emu, monkeypatch):
    monkeypatch.setenv("FLUIDCLOUD_API_KEY", emu.api_key)
    monkeypatch.setenv("FLUIDCLOUD_BASE_URL", emu.base_url)
    fc = fluidcloud.FluidCloud()
    assert fc.base_url == emu.base_url
    assert fc.spaces.list()[0].name == "Default"


def test_repr_and_logs_never_show_the_key(emu, caplog):
    secret = emu.new_key(["spaces:read"])["key"]
    fc = fluidcloud.FluidCloud(secret, base_url=emu.base_url)
    assert secret not in repr(fc) and emu.base_url in repr(fc)
    with caplog.at_level("DEBUG", logger="fluidcloud"):
        fc.spaces.list()
        with pytest.raises(fluidcloud.PermissionError_):
            fc.spaces.create("nope")
    text = caplog.text
    assert "spaces.list" in text and "spaces.create" in text and "PermissionError_" in text
    assert secret not in text


def test_httpx_is_not_imported_without_http_client(emu):
    import subprocess
    import sys

    code = (
        "import sys, fluidcloud\n"
        f"fc = fluidcloud.FluidCloud({emu.api_key!r}, base_url={emu.base_url!r})\n"
        "fc.files.upload(b'x', fc.spaces.list()[0].id)\n"
        "print('httpx' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_public_names_match_the_official_package():
    expected = {
        "FluidCloud", "FluidCloudError", "ApiError", "AuthError", "PermissionError_", "NotFoundError",
        "QuotaExceededError", "ConflictError", "Space", "Folder", "File", "Quota", "Link", "Share",
        "DelegatedToken", "__version__",
    }
    # Exactly: a star import must not bring our additions (CancelledError would shadow asyncio's).
    assert set(fluidcloud.__all__) == expected
    assert fluidcloud.AsyncFluidCloud and fluidcloud.APIConnectionError and fluidcloud.IntegrityError
    assert fluidcloud.__version__ == "0.1.0"
    from fluidcloud.errors import ApiError, NotFoundError  # noqa: F401
    assert issubclass(fluidcloud.NotFoundError, fluidcloud.ApiError)
    assert issubclass(fluidcloud.ApiError, fluidcloud.FluidCloudError)
    assert os.path.exists(os.path.join(os.path.dirname(fluidcloud.__file__), "py.typed"))


def test_ids_as_uuid_objects_and_flags_as_0_or_1_work_as_in_the_official_client(fc, space):
    import uuid

    made = fc.files.upload(b"orm", space, name="orm.txt")
    assert fc.files.get(uuid.UUID(made.id)).id == made.id
    assert [f.id for f in fc.files.list(uuid.UUID(space))] == [made.id]
    assert fc.files.list(space, trash=1) == [] and [f.id for f in fc.files.list(space, trash=0)] == [made.id]
    with pytest.raises(TypeError):
        fc.files.list(space, trash="yes")


def test_path_or_data_is_importable_from_the_client_module():
    from fluidcloud.client import PathOrData  # noqa: F401  (public in the official module)
