"""The official Python client (`fluidcloud==0.1.0`, unmodified) against the emulator.

Every call of PROTOCOL §5 goes through the client's own methods; presigned URLs and share
links are fetched with a plain httpx client that sends no credential. The emulator runs
with a lowered multipart threshold so that multipart uploads stay small.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

import httpx
import pytest

import fluidcloud
from fluidcloud import (
    ApiError,
    AuthError,
    ConflictError,
    DelegatedToken,
    File,
    FluidCloud,
    FluidCloudError,
    Folder,
    Link,
    NotFoundError,
    PermissionError_,
    Quota,
    QuotaExceededError,
    Share,
    Space,
)

JWT_SECRET = "compat-test-jwt-secret-6f1d2c"
THRESHOLD = 1024 * 1024  # 1 MiB
PART_SIZE = 256 * 1024  # 256 KiB
EMULATOR_FLAGS = [
    "--multipart-threshold", "1MiB",
    "--part-size", "256KiB",
    "--jwt-secret", JWT_SECRET,
]
DEFAULT_BYTES_LIMIT = 1024**4  # README: --bytes-limit default 1TiB
DEFAULT_LINKS_LIMIT = 10000  # README: --links-limit default

ALL_SCOPES = [
    "spaces:read", "spaces:write", "files:read", "files:write",
    "shares:read", "shares:write", "quota:read",
]
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_uuid(value: Any) -> None:
    assert isinstance(value, str) and UUID_RE.match(value), f"not a lowercase UUID: {value!r}"


def parse_ts(value: Any) -> datetime:
    assert isinstance(value, str), f"not a timestamp: {value!r}"
    ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert ts.utcoffset() == timedelta(0), f"timestamp not in UTC: {value!r}"
    return ts


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def user_jwt(sub: str, secret: str = JWT_SECRET, ttl: int = 3600) -> str:
    """An HS256 user JWT signed with the emulator's --jwt-secret."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    payload = {"sub": sub, "iat": now, "exp": now + ttl}
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(payload, separators=(",", ":")).encode())
    )
    sig = hmac.new(secret.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64url(sig)


def payload(seed: str, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


class Recorder:
    """Passive httpx event hooks: what the client sent, and the upload tickets it got."""

    def __init__(self) -> None:
        self.requests: List[httpx.Request] = []
        self.tickets: List[Dict[str, Any]] = []

    def on_request(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def on_response(self, response: httpx.Response) -> None:
        if response.request.url.path.endswith("/uploads/initiate") and response.is_success:
            response.read()
            self.tickets.append(response.json())

    def puts(self) -> List[httpx.Request]:
        return [r for r in self.requests if r.method == "PUT"]


def make_client(emu, api_key: Optional[str] = None, recorder: Optional[Recorder] = None) -> FluidCloud:
    http_client = None
    if recorder is not None:
        http_client = httpx.Client(
            timeout=60.0,
            event_hooks={"request": [recorder.on_request], "response": [recorder.on_response]},
        )
    return FluidCloud(
        api_key=api_key or emu.api_key,
        base_url=emu.base_url,
        timeout=60.0,
        http_client=http_client,
    )


def fetch(http: httpx.Client, url: str, **kw) -> httpx.Response:
    """GET a presigned URL / share link with no credential header."""
    return http.get(url, **kw)


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------

@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def fc(emu, recorder):
    """The official client with the emulator's default key (every scope), clean state."""
    client = make_client(emu, recorder=recorder)
    yield client
    client.close()


@pytest.fixture
def space(fc) -> Space:
    spaces = fc.spaces.list()
    assert spaces, "a new tenant starts with its Default space"
    return spaces[0]


@pytest.fixture
def clients(emu):
    """Factory for more clients (other keys); all closed at teardown."""
    made: List[FluidCloud] = []

    def _make(api_key: str) -> FluidCloud:
        c = make_client(emu, api_key)
        made.append(c)
        return c

    yield _make
    for c in made:
        c.close()


# ---------------------------------------------------------------------------
# the client itself
# ---------------------------------------------------------------------------

def test_installed_client_is_the_official_release():
    assert fluidcloud.__version__ == "0.1.0"
    assert issubclass(AuthError, ApiError) and issubclass(ApiError, FluidCloudError)


def test_announced_key_is_the_default(emu):
    assert emu.base_url.startswith("http://127.0.0.1:")
    assert emu.api_key == "fck_test_emulator"


# ---------------------------------------------------------------------------
# spaces
# ---------------------------------------------------------------------------

def test_spaces_list_and_create(fc):
    spaces = fc.spaces.list()
    assert [s.name for s in spaces] == ["Default"]
    default = spaces[0]
    assert isinstance(default, Space)
    assert_uuid(default.id)

    created = fc.spaces.create("Brand Assets")
    assert isinstance(created, Space)
    assert created.name == "Brand Assets"
    assert_uuid(created.id)
    assert created.id != default.id
    assert created.tenant_id == default.tenant_id
    parse_ts(created.created_at)

    assert {s.id: s.name for s in fc.spaces.list()} == {
        default.id: "Default",
        created.id: "Brand Assets",
    }


# ---------------------------------------------------------------------------
# folders
# ---------------------------------------------------------------------------

def test_folders_create_list_rename_move(fc, space):
    beta = fc.folders.create("beta", space.id)
    alpha = fc.folders.create("alpha", space.id)
    assert isinstance(beta, Folder)
    assert_uuid(beta.id)
    assert (beta.name, beta.space_id, beta.parent_id, beta.deleted_at) == ("beta", space.id, None, None)

    child = fc.folders.create("child", space.id, parent_id=alpha.id)
    assert (child.name, child.space_id, child.parent_id) == ("child", space.id, alpha.id)

    # Root listing, sorted by name; a parent's listing holds its children only.
    assert [(f.id, f.name) for f in fc.folders.list(space.id)] == [(alpha.id, "alpha"), (beta.id, "beta")]
    assert [f.id for f in fc.folders.list(space.id, alpha.id)] == [child.id]
    assert fc.folders.list(space.id, beta.id) == []

    renamed = fc.folders.rename(child.id, "kid")
    assert (renamed.id, renamed.name, renamed.parent_id) == (child.id, "kid", alpha.id)

    moved = fc.folders.move(child.id, beta.id)
    assert (moved.id, moved.name, moved.parent_id) == (child.id, "kid", beta.id)
    assert fc.folders.list(space.id, alpha.id) == []
    assert [f.name for f in fc.folders.list(space.id, beta.id)] == ["kid"]

    # parent_id=None is sent as an explicit null: back to the space root.
    at_root = fc.folders.move(child.id, None)
    assert (at_root.id, at_root.name, at_root.parent_id) == (child.id, "kid", None)
    assert [f.name for f in fc.folders.list(space.id)] == ["alpha", "beta", "kid"]
    assert fc.folders.list(space.id, beta.id) == []


def test_folders_delete_restore_and_trash_listing(fc, space):
    keep = fc.folders.create("keep", space.id)
    doomed = fc.folders.create("doomed", space.id)
    inner = fc.folders.create("inner", space.id, parent_id=doomed.id)

    deleted = fc.folders.delete(doomed.id)
    assert (deleted.id, deleted.name) == (doomed.id, "doomed")
    parse_ts(deleted.deleted_at)

    assert [f.id for f in fc.folders.list(space.id)] == [keep.id]
    trash = fc.folders.list(space.id, trash=True)
    assert doomed.id in [f.id for f in trash]
    assert keep.id not in [f.id for f in trash]
    assert all(f.deleted_at is not None for f in trash)

    restored = fc.folders.restore(doomed.id)
    assert (restored.id, restored.name, restored.deleted_at) == (doomed.id, "doomed", None)
    assert [f.name for f in fc.folders.list(space.id)] == ["doomed", "keep"]
    assert [f.id for f in fc.folders.list(space.id, doomed.id)] == [inner.id]
    assert fc.folders.list(space.id, trash=True) == []


def test_folder_sibling_name_collision_is_conflict(fc, space):
    first = fc.folders.create("Reports", space.id)
    with pytest.raises(ConflictError) as exc:
        fc.folders.create("Reports", space.id)
    assert exc.value.status == 409
    assert exc.value.detail

    other = fc.folders.create("Drafts", space.id)
    with pytest.raises(ConflictError) as exc:
        fc.folders.rename(other.id, "Reports")
    assert exc.value.status == 409
    assert [f.id for f in fc.folders.list(space.id)] == [other.id, first.id]


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------

def test_single_upload_and_get(fc, space, recorder):
    data = b"hello, fluidcloud\n" * 64
    f = fc.files.upload(data, space.id, name="hello.txt")

    ticket = recorder.tickets[-1]
    assert ticket["mode"] == "single"
    assert ticket["file_id"] == f.id
    assert len(recorder.puts()) == 1

    assert isinstance(f, File)
    assert_uuid(f.id)
    assert f.original_name == "hello.txt"
    assert f.size == len(data)
    assert f.sha256 == sha256(data)
    assert f.mime == "text/plain"
    assert (f.space_id, f.folder_id, f.deleted_at) == (space.id, None, None)
    assert f.scan_status == "clean"
    assert f.status == "pending"
    assert f.public_url is None
    assert f.source_app is None and f.client_key is None
    parse_ts(f.created_at)

    got = fc.files.get(f.id)
    assert (got.id, got.original_name, got.size, got.sha256, got.mime) == (
        f.id, "hello.txt", len(data), sha256(data), "text/plain",
    )
    assert got.status == "ready"
    assert got.scan_status == "clean"


def test_files_list_by_folder_and_order(fc, space):
    folder = fc.folders.create("docs", space.id)
    b = fc.files.upload(b"bbb", space.id, name="b.txt")
    a = fc.files.upload(b"aaaa", space.id, name="a.txt")
    inside = fc.files.upload(b"inside!", space.id, folder_id=folder.id, name="c.txt")
    assert inside.folder_id == folder.id

    root = fc.files.list(space.id)
    assert [(x.id, x.original_name, x.size) for x in root] == [(a.id, "a.txt", 4), (b.id, "b.txt", 3)]
    assert all(isinstance(x, File) for x in root)
    in_folder = fc.files.list(space.id, folder.id)
    assert [(x.id, x.original_name, x.sha256) for x in in_folder] == [(inside.id, "c.txt", sha256(b"inside!"))]


def test_files_rename_move_delete_restore(fc, space):
    folder = fc.folders.create("inbox", space.id)
    data = b"report body"
    f = fc.files.upload(data, space.id, name="report.txt")

    renamed = fc.files.rename(f.id, "final.txt")
    assert (renamed.id, renamed.original_name, renamed.size) == (f.id, "final.txt", len(data))

    moved = fc.files.move(f.id, folder.id)
    assert (moved.id, moved.folder_id) == (f.id, folder.id)
    assert fc.files.list(space.id) == []
    assert [x.id for x in fc.files.list(space.id, folder.id)] == [f.id]

    # folder_id=None is sent as an explicit null: back to the space root.
    at_root = fc.files.move(f.id, None)
    assert (at_root.id, at_root.folder_id, at_root.original_name) == (f.id, None, "final.txt")
    assert [x.id for x in fc.files.list(space.id)] == [f.id]
    assert fc.files.list(space.id, folder.id) == []

    deleted = fc.files.delete(f.id)
    assert deleted.id == f.id
    parse_ts(deleted.deleted_at)
    assert fc.files.list(space.id) == []
    trash = fc.files.list(space.id, trash=True)
    assert [(x.id, x.original_name) for x in trash] == [(f.id, "final.txt")]
    assert fc.files.get(f.id).deleted_at is not None

    restored = fc.files.restore(f.id)
    assert (restored.id, restored.deleted_at, restored.sha256) == (f.id, None, sha256(data))
    assert [x.id for x in fc.files.list(space.id)] == [f.id]
    assert fc.files.list(space.id, trash=True) == []


def test_download_url_serves_the_bytes(fc, space, http):
    data = payload("download", 70_000)
    f = fc.files.upload(data, space.id, name="blob.bin")
    url = fc.files.download_url(f.id)
    assert isinstance(url, str) and url.startswith(("http://", "https://"))
    resp = fetch(http, url)
    assert resp.status_code == 200, resp.text
    assert resp.content == data


@pytest.mark.parametrize("source", ["path", "bytes", "fileobj"])
def test_multipart_upload(fc, space, recorder, http, tmp_path, source):
    size = THRESHOLD + 12_345  # 4 full parts of 256 KiB + one of 12345 bytes
    data = payload(f"multipart-{source}", size)
    path = tmp_path / "big.bin"
    path.write_bytes(data)

    if source == "path":
        f = fc.files.upload(str(path), space.id)
    elif source == "bytes":
        f = fc.files.upload(data, space.id, name="big.bin")
    else:
        with open(path, "rb") as fh:
            f = fc.files.upload(fh, space.id)

    ticket = recorder.tickets[-1]
    assert ticket["mode"] == "multipart"
    assert ticket["part_size"] == PART_SIZE
    assert [p["part_number"] for p in ticket["part_urls"]] == [1, 2, 3, 4, 5]
    puts = recorder.puts()
    assert [len(r.content) for r in puts] == [PART_SIZE] * 4 + [12_345]
    for r in puts:
        assert "x-api-key" not in r.headers and "authorization" not in r.headers

    assert f.id == ticket["file_id"]
    assert f.original_name == "big.bin"
    assert f.size == size
    assert f.sha256 == sha256(data)
    assert f.mime == "application/octet-stream"
    assert f.space_id == space.id

    got = fc.files.get(f.id)
    assert (got.size, got.sha256, got.status) == (size, sha256(data), "ready")
    resp = fetch(http, fc.files.download_url(f.id))
    assert resp.status_code == 200
    assert resp.content == data


def test_upload_just_below_threshold_is_single(fc, space, recorder):
    data = payload("below", THRESHOLD - 1)
    f = fc.files.upload(data, space.id, name="edge.bin")
    assert recorder.tickets[-1]["mode"] == "single"
    assert (f.size, f.sha256) == (THRESHOLD - 1, sha256(data))


# ---------------------------------------------------------------------------
# links and shares
# ---------------------------------------------------------------------------

PNG = bytes.fromhex("89504e470d0a1a0a") + payload("png", 4000)


def test_upload_public_true_then_fetch_without_credential(fc, space, http):
    f = fc.files.upload(PNG, space.id, name="logo.png", public=True)
    assert f.mime == "image/png"
    assert isinstance(f.public_url, str) and f.public_url.startswith(("http://", "https://"))

    resp = fetch(http, f.public_url)
    assert resp.status_code == 200, resp.text
    assert resp.content == PNG
    assert resp.headers["content-type"] == "image/png"
    assert resp.headers.get("cache-control") == "public, max-age=31536000, immutable"

    shares = fc.shares.list(file_id=f.id)
    assert len(shares) == 1
    s = shares[0]
    assert isinstance(s, Share)
    assert (s.file_id, s.permission, s.expires_at, s.revoked) == (f.id, "view", None, False)
    assert s.download_count == 1


def test_public_url_and_signed_url(fc, space, http):
    f = fc.files.upload(PNG, space.id, name="pixel.png")

    public = fc.files.public_url(f.id)
    assert isinstance(public, Link)
    assert_uuid(public.id)
    assert (public.permission, public.expires_at) == ("view", None)
    again = fc.files.public_url(f.id)  # the same active permanent link (stable URL)
    assert (again.id, again.url) == (public.id, public.url)

    resp = fetch(http, public.url)
    assert resp.status_code == 200
    assert resp.content == PNG
    assert resp.headers["content-type"] == "image/png"
    assert resp.headers["content-disposition"].startswith("inline")

    before = datetime.now(timezone.utc)
    signed = fc.files.signed_url(f.id, expires_in_days=3, permission="download")
    assert isinstance(signed, Link)
    assert signed.permission == "download"
    assert signed.id != public.id and signed.url != public.url
    expires = parse_ts(signed.expires_at)
    assert before + timedelta(days=3) - timedelta(minutes=5) <= expires <= before + timedelta(days=3, minutes=5)

    resp = fetch(http, signed.url)
    assert resp.status_code == 200
    assert resp.content == PNG
    assert resp.headers["content-type"] == "image/png"
    disposition = resp.headers["content-disposition"]
    assert disposition.startswith("attachment") and "pixel.png" in disposition

    default = fc.files.signed_url(f.id)  # expires_in_days=7, permission="view"
    assert default.permission == "view"
    assert parse_ts(default.expires_at) > before + timedelta(days=6)


def test_shares_list_include_inactive_and_revoke(fc, space, http):
    f1 = fc.files.upload(b"first file", space.id, name="one.txt")
    f2 = fc.files.upload(b"second file", space.id, name="two.txt")
    pub = fc.files.public_url(f1.id)
    sig = fc.files.signed_url(f1.id, expires_in_days=1)
    other = fc.files.signed_url(f2.id, expires_in_days=2)

    listed = {s.id: s for s in fc.shares.list()}
    assert set(listed) == {pub.id, sig.id, other.id}
    assert (listed[pub.id].file_id, listed[pub.id].expires_at) == (f1.id, None)
    assert listed[sig.id].file_id == f1.id and listed[sig.id].expires_at is not None
    assert listed[other.id].file_id == f2.id
    for s in listed.values():
        assert isinstance(s, Share)
        assert (s.permission, s.revoked, s.has_password, s.download_count) == ("view", False, False, 0)
    assert {s.id for s in fc.shares.list(file_id=f1.id)} == {pub.id, sig.id}
    assert fc.quota.usage().links_used == 3

    assert fc.shares.revoke(sig.id) is None
    assert {s.id for s in fc.shares.list()} == {pub.id, other.id}
    everything = {s.id: s for s in fc.shares.list(include_inactive=True)}
    assert set(everything) == {pub.id, sig.id, other.id}
    assert everything[sig.id].revoked is True
    assert everything[pub.id].revoked is False
    assert {s.id for s in fc.shares.list(file_id=f1.id, include_inactive=True)} == {pub.id, sig.id}
    assert fc.quota.usage().links_used == 2

    assert fetch(http, sig.url).status_code == 404
    assert fetch(http, pub.url).content == b"first file"
    assert fc.shares.revoke(sig.id) is None  # revoking again is still 204


# ---------------------------------------------------------------------------
# quota
# ---------------------------------------------------------------------------

def test_quota_usage(fc, space):
    q = fc.quota.usage()
    assert isinstance(q, Quota)
    assert (q.bytes_used, q.bytes_limit, q.links_used, q.links_limit) == (
        0, DEFAULT_BYTES_LIMIT, 0, DEFAULT_LINKS_LIMIT,
    )

    f1 = fc.files.upload(payload("q1", 1000), space.id, name="q1.bin")
    fc.files.upload(payload("q2", 2345), space.id, name="q2.bin")
    fc.files.public_url(f1.id)
    q = fc.quota.usage()
    assert (q.bytes_used, q.links_used) == (3345, 1)

    fc.files.delete(f1.id)  # trashed files still count
    assert fc.quota.usage().bytes_used == 3345


# ---------------------------------------------------------------------------
# federation: service token exchange, as_user, app + client_key
# ---------------------------------------------------------------------------

def test_exchange_service_token(emu, clients):
    service = clients(emu.new_key(["service:delegate", "service:jobtoken"])["key"])
    sub = str(uuid.uuid4())
    jwt = user_jwt(sub)

    tok = service.exchange_service_token(jwt, "fluidtalk")
    assert isinstance(tok, DelegatedToken)
    assert tok.token.startswith("fcd_")
    assert (tok.user_id, tok.app, tok.token_type, tok.expires_in) == (sub, "fluidtalk", "Bearer", 3600)
    assert tok.tenant_id

    job = service.exchange_service_token(jwt, "fluidtalk", job_id="job-42", ttl_seconds=604800)
    assert job.token.startswith("fcd_") and job.token != tok.token
    assert (job.user_id, job.tenant_id, job.expires_in) == (sub, tok.tenant_id, 604800)

    short = service.exchange_service_token(jwt, "fluidtalk", ttl_seconds=120)
    assert short.expires_in == 120


def test_exchange_service_token_scopes(emu, clients):
    jwt = user_jwt(str(uuid.uuid4()))
    delegate_only = clients(emu.new_key(["service:delegate"])["key"])
    with pytest.raises(PermissionError_) as exc:
        delegate_only.exchange_service_token(jwt, "fluidtalk", job_id="job-1")
    assert exc.value.status == 403
    assert exc.value.detail["error"] == "insufficient_scope"
    assert "service:jobtoken" in exc.value.detail["required"]

    not_a_service = clients(emu.new_key(ALL_SCOPES)["key"])
    with pytest.raises(PermissionError_) as exc:
        not_a_service.exchange_service_token(jwt, "fluidtalk")
    assert exc.value.status == 403
    assert exc.value.detail == {"error": "insufficient_scope", "required": ["service:delegate"]}


def test_as_user_stores_in_the_users_tenant(emu, fc, clients):
    service = clients(emu.new_key(["service:delegate"])["key"])
    sub = str(uuid.uuid4())
    jwt = user_jwt(sub)
    tenant_id = service.exchange_service_token(jwt, "fluidtalk").tenant_id

    user = service.as_user(jwt, "fluidtalk")
    assert isinstance(user, FluidCloud)
    spaces = user.spaces.list()
    assert [s.name for s in spaces] == ["Default"]
    assert spaces[0].tenant_id == tenant_id
    user_space = spaces[0]

    first = user.files.upload(b"voice note v1", user_space.id, name="note.ogg",
                              app="fluidtalk", client_key="msg-1")
    assert (first.source_app, first.client_key, first.tenant_id) == ("fluidtalk", "msg-1", tenant_id)
    assert first.size == 13 and first.sha256 == sha256(b"voice note v1")
    assert user.files.resolve("msg-1", app="fluidtalk").id == first.id

    second = user.files.upload(b"voice note v2!", user_space.id, name="note.ogg",
                               app="fluidtalk", client_key="msg-1")
    assert user.files.resolve("msg-1", app="fluidtalk").id == second.id  # newest live match
    assert {x.id for x in user.files.list(user_space.id, app="fluidtalk")} == {first.id, second.id}

    by_app = {entry["app"]: entry for entry in (user.quota.usage().by_app or [])}
    assert by_app["fluidtalk"]["bytes_used"] == 13 + 14
    assert by_app["fluidtalk"]["files"] == 2

    user.files.delete(second.id)
    assert user.files.resolve("msg-1", app="fluidtalk").id == first.id
    with pytest.raises(NotFoundError):
        user.files.resolve("no-such-key", app="fluidtalk")

    # The user's tenant is not the default key's tenant.
    with pytest.raises(NotFoundError) as exc:
        fc.files.get(first.id)
    assert exc.value.status == 404


def test_resolve_with_app_and_client_key(fc, space):
    f = fc.files.upload(b"ghost post image", space.id, name="cover.jpg",
                        app="fluidghost", client_key="post-7/cover")
    assert (f.source_app, f.client_key, f.mime) == ("fluidghost", "post-7/cover", "image/jpeg")

    got = fc.files.resolve("post-7/cover", app="fluidghost")
    assert (got.id, got.original_name, got.sha256) == (f.id, "cover.jpg", sha256(b"ghost post image"))
    assert [x.id for x in fc.files.list(space.id, app="fluidghost")] == [f.id]
    with pytest.raises(NotFoundError):
        fc.files.resolve("post-7/cover", app="fluidtalk")  # another app's namespace


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

def test_auth_error_401(emu, clients):
    for bad in ("fck_test_not_a_real_key", "not-a-jwt-or-token"):
        with pytest.raises(AuthError) as exc:
            clients(bad).spaces.list()
        assert exc.value.status == 401
        assert exc.value.detail


def test_quota_exceeded_402(emu, clients):
    small = clients(emu.new_key(ALL_SCOPES, bytes_limit=1000)["key"])
    sp = small.spaces.list()[0]
    ok = small.files.upload(payload("fits", 600), sp.id, name="fits.bin")
    assert ok.size == 600

    with pytest.raises(QuotaExceededError) as exc:
        small.files.upload(payload("too-big", 500), sp.id, name="too-big.bin")
    assert exc.value.status == 402
    assert exc.value.detail == "quota_exceeded"
    q = small.quota.usage()
    assert (q.bytes_used, q.bytes_limit) == (600, 1000)
    assert [x.original_name for x in small.files.list(sp.id)] == ["fits.bin"]


def test_link_quota_exceeded_402(emu, clients):
    one_link = clients(emu.new_key(ALL_SCOPES, links_limit=1)["key"])
    sp = one_link.spaces.list()[0]
    f = one_link.files.upload(b"linkable", sp.id, name="l.txt")
    one_link.files.public_url(f.id)
    with pytest.raises(QuotaExceededError) as exc:
        one_link.files.signed_url(f.id, expires_in_days=1)
    assert exc.value.status == 402
    q = one_link.quota.usage()
    assert (q.links_used, q.links_limit) == (1, 1)


def test_permission_error_403_insufficient_scope(emu, clients):
    read_only = clients(emu.new_key([s for s in ALL_SCOPES if s != "files:write"])["key"])
    sp = read_only.spaces.list()[0]
    assert read_only.files.list(sp.id) == []

    with pytest.raises(PermissionError_) as exc:
        read_only.files.upload(b"nope", sp.id, name="nope.txt")
    assert exc.value.status == 403
    assert exc.value.detail == {"error": "insufficient_scope", "required": ["files:write"]}

    with pytest.raises(PermissionError_) as exc:
        read_only.folders.create("nope", sp.id)
    assert exc.value.status == 403
    assert exc.value.detail == {"error": "insufficient_scope", "required": ["files:write"]}


def test_not_found_404(fc, space, emu, clients):
    missing = str(uuid.uuid4())
    for call in (
        lambda: fc.files.get(missing),
        lambda: fc.files.download_url(missing),
        lambda: fc.files.public_url(missing),
        lambda: fc.folders.rename(missing, "x"),
        lambda: fc.shares.revoke(missing),
    ):
        with pytest.raises(NotFoundError) as exc:
            call()
        assert exc.value.status == 404
        assert exc.value.detail

    # Another tenant's file is answered exactly like a missing one.
    f = fc.files.upload(b"private", space.id, name="p.txt")
    stranger = clients(emu.new_key(ALL_SCOPES)["key"])
    with pytest.raises(NotFoundError) as exc:
        stranger.files.get(f.id)
    assert exc.value.status == 404


def test_infected_file_conflict_409(fc, space):
    data = b"prefix " + EICAR + b" suffix"
    f = fc.files.upload(data, space.id, name="eicar.txt")
    assert (f.size, f.sha256) == (len(data), sha256(data))
    assert f.scan_status == "infected"
    assert fc.files.get(f.id).scan_status == "infected"

    with pytest.raises(ConflictError) as exc:
        fc.files.public_url(f.id)
    assert exc.value.status == 409
    assert exc.value.detail
    with pytest.raises(ConflictError) as exc:
        fc.files.signed_url(f.id, expires_in_days=1)
    assert exc.value.status == 409
    assert fc.shares.list(include_inactive=True) == []


def test_validation_error_422_is_api_error(fc, space):
    with pytest.raises(ApiError) as exc:
        fc.folders.create("a/b", space.id)
    assert type(exc.value) is ApiError
    assert exc.value.status == 422
    assert isinstance(exc.value.detail, list) and exc.value.detail
    assert {"loc", "msg", "type"} <= set(exc.value.detail[0])
