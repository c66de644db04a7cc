"""Each error class with its fields, and local failures as the official client raises them."""

from __future__ import annotations

import io
import logging
import pickle
import uuid

import pytest

import fluidcloud
from fluidcloud import (
    ApiError,
    APIConnectionError,
    AuthError,
    ConflictError,
    FluidCloudError,
    NotFoundError,
    PermissionError_,
    QuotaExceededError,
)

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def check(err: ApiError, cls: type, status: int) -> None:
    assert type(err) is cls
    assert err.status == status
    assert isinstance(err.request_id, str) and err.request_id.startswith("req_")
    assert isinstance(err, FluidCloudError)


def test_auth_error(emu):
    fc = fluidcloud.FluidCloud("fck_test_wrong", base_url=emu.base_url)
    with pytest.raises(AuthError) as e:
        fc.spaces.list()
    check(e.value, AuthError, 401)
    assert "fck_test_wrong" not in str(e.value)


def test_quota_exceeded(emu):
    key = emu.new_key(["spaces:read", "files:write"], bytes_limit=10)["key"]
    fc = fluidcloud.FluidCloud(key, base_url=emu.base_url)
    with pytest.raises(QuotaExceededError) as e:
        fc.files.upload(b"x" * 11, fc.spaces.list()[0].id)
    check(e.value, QuotaExceededError, 402)
    assert e.value.detail == "quota_exceeded"


def test_permission_error(emu):
    key = emu.new_key(["spaces:read"])["key"]
    fc = fluidcloud.FluidCloud(key, base_url=emu.base_url)
    with pytest.raises(PermissionError_) as e:
        fc.folders.create("x", fc.spaces.list()[0].id)
    check(e.value, PermissionError_, 403)
    assert e.value.detail == {"error": "insufficient_scope", "required": ["files:write"]}


def test_not_found(fc):
    with pytest.raises(NotFoundError) as e:
        fc.files.get(str(uuid.uuid4()))
    check(e.value, NotFoundError, 404)
    with pytest.raises(NotFoundError):
        fc.files.get("../spaces")


def test_conflict(fc, space):
    fc.folders.create("same", space)
    with pytest.raises(ConflictError) as e:
        fc.folders.create("same", space)
    check(e.value, ConflictError, 409)
    infected = fc.files.upload(EICAR, space, name="eicar.com")
    with pytest.raises(ConflictError):
        fc.files.public_url(infected.id)


def test_validation_error_is_api_error_with_a_list(fc, space):
    # As with the official client, the server judges the range: 422 with FastAPI's list.
    with pytest.raises(ApiError) as e:
        fc.files.signed_url(fc.files.upload(b"x", space).id, expires_in_days=400)
    check(e.value, ApiError, 422)
    assert isinstance(e.value.detail, list) and e.value.detail[0]["loc"] == ["body", "expires_in_days"]


def test_connection_error_after_retries():
    fc = fluidcloud.FluidCloud("fck_test_x", base_url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(APIConnectionError) as e:
        fc.spaces.list()
    assert isinstance(e.value, FluidCloudError)


def test_local_failures_raise_what_the_official_client_raises(fc, space, tmp_path):
    with pytest.raises(FileNotFoundError):
        fc.files.upload(str(tmp_path / "missing.bin"), space)
    with pytest.raises(TypeError):
        fc.files.upload(12345, space)  # type: ignore[arg-type]
    with pytest.raises(IsADirectoryError):
        fc.files.upload(str(tmp_path), space)
    with pytest.raises(OSError, match="not a regular file"):
        fc.files.upload("/dev/null", space)
    with pytest.raises(IsADirectoryError):
        fc.files.download(fc.files.upload(b"x", space).id, tmp_path)
    with pytest.raises(TypeError):
        fc.files.get(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        fluidcloud.FluidCloud("")
    with pytest.raises(ValueError):
        fc.files.get("")
    with open(tmp_path / "t.txt", "w") as text:
        with pytest.raises(TypeError, match="binary"):
            fc.files.upload(text, space)


def test_timeout_takes_what_the_official_clients_httpx_takes(emu):
    import httpx

    def quota(timeout, delay_ms=0):
        if delay_ms:
            emu.admin("POST", "/faults", json={"rules": [
                {"target": "api", "path_contains": "/quota", "times": 1, "action": "delay", "delay_ms": delay_ms},
            ]})
        with fluidcloud.FluidCloud(emu.api_key, base_url=emu.base_url, timeout=timeout, max_retries=0) as fc:
            return fc.quota.usage()

    from decimal import Decimal
    from fractions import Fraction

    for accepted in (5, 5.0, Fraction(5), httpx.Timeout(5.0), httpx.Timeout(None), (5.0, 5.0), (5.0, None, None, None)):
        assert isinstance(quota(accepted), fluidcloud.Quota), accepted
    # No limit: a slow answer is waited for.
    assert isinstance(quota(None, delay_ms=1200), fluidcloud.Quota)
    # A read limit shorter than the delay ends the wait, as it does in httpx.
    for impatient in (0.3, httpx.Timeout(0.3), httpx.Timeout(5.0, read=0.3), (5.0, 0.3, 5.0, 5.0)):
        with pytest.raises(fluidcloud.APITimeoutError):
            quota(impatient, delay_ms=1200)
        emu.admin("DELETE", "/faults")

    for wrong_type in ("5", b"5", [5.0], True, Decimal(5)):
        with pytest.raises(TypeError, match="timeout"):
            fluidcloud.FluidCloud(emu.api_key, base_url=emu.base_url, timeout=wrong_type)
    for wrong_value in (0, -1.0, float("nan"), (1.0,), (1.0, 2.0, 3.0, 4.0, 5.0)):
        with pytest.raises(ValueError, match="timeout"):
            fluidcloud.FluidCloud(emu.api_key, base_url=emu.base_url, timeout=wrong_value)


def test_file_names_that_are_not_utf8(fc, space, tmp_path):
    import hashlib
    import os

    raw = os.path.join(os.fsencode(str(tmp_path)), b"caf\xe9.txt")  # Latin-1, as old systems wrote
    with open(raw, "wb") as f:
        f.write(b"latin-1 name")
    path = os.fsdecode(raw)  # what os.listdir() gives: lone surrogates for the stray bytes
    stored = fc.files.upload(path, space, name="cafe.txt")
    assert (stored.original_name, stored.size) == ("cafe.txt", 12)
    assert stored.sha256 == hashlib.sha256(b"latin-1 name").hexdigest()
    with pytest.raises(ValueError, match="not UTF-8; pass name"):
        fc.files.upload(path, space)
    # The official client fails on such a name with UnicodeEncodeError as well.
    with pytest.raises(UnicodeEncodeError, match="name is not valid UTF-8"):
        fc.files.upload(b"x", space, name="caf\udce9.txt")


def test_bad_client_options_are_clear_errors(emu):
    def build(**options):
        return fluidcloud.FluidCloud(emu.api_key, base_url=options.pop("base_url", emu.base_url), **options)

    for options, error, says in [
        ({"max_retries": -1}, ValueError, "max_retries must be at least 0"),
        ({"max_retries": True}, TypeError, "max_retries must be int"),
        ({"concurrency": 0}, ValueError, "concurrency must be at least 1"),
        ({"concurrency": "2"}, TypeError, "concurrency must be int"),
        ({"base_url": "https://user:hunter2@api.example.com"}, ValueError, "user name or password"),
        ({"base_url": "https://api.example.com/?tenant=1"}, ValueError, "query or fragment"),
    ]:
        with pytest.raises(error, match=says) as e:
            build(**options)
        assert "hunter2" not in str(e.value)
    assert build(max_retries=0, concurrency=1).spaces.list()


def test_plain_http_beyond_this_machine_works_as_in_the_official_client_and_is_warned(caplog):
    # An emulator in docker-compose, say: refusing would break code that runs unchanged.
    with caplog.at_level(logging.WARNING, logger="fluidcloud"):
        fc = fluidcloud.FluidCloud("fck_test_secret", base_url="http://fluidcloud-emulator:8787")
    assert fc.base_url == "http://fluidcloud-emulator:8787"
    assert "plain http" in caplog.text and "fck_test_secret" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fluidcloud"):
        fluidcloud.FluidCloud("fck_test_secret", base_url="http://127.0.0.1:9")
        fluidcloud.FluidCloud("fck_test_secret", base_url="https://example.com")
    assert caplog.text == ""


def test_errors_survive_pickling_across_processes():
    err = fluidcloud.NotFoundError(404, "Not Found", request_id="req_1")
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), back.status, back.detail, back.request_id) == (fluidcloud.NotFoundError, 404, "Not Found", "req_1")
    assert str(back) == str(err)
    plain = pickle.loads(pickle.dumps(fluidcloud.FluidCloudError("boom")))
    assert str(plain) == "boom"


def test_a_file_objects_own_exception_comes_back_as_it_was(fc, space):
    class DiskOnFire(Exception):
        pass

    class Burning(io.BytesIO):
        def read(self, n=-1):
            raise DiskOnFire("disk on fire")

    with pytest.raises(DiskOnFire, match="disk on fire"):
        fc.files.upload(Burning(b"abc"), space, name="r.bin")

    class Interrupted(io.BytesIO):
        def read(self, n=-1):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fc.files.upload(Interrupted(b"a" * 300_000), space, name="k.bin")
    assert [f.original_name for f in fc.files.list(space)] == []


def test_a_refused_connection_carries_the_operating_systems_error():
    fc = fluidcloud.FluidCloud("fck_test_x", base_url="http://127.0.0.1:1", max_retries=0)
    with pytest.raises(fluidcloud.APIConnectionError) as caught:
        fc.spaces.list()
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


def test_a_refused_storage_put_reads_as_in_the_official_client(emu, fc, space):
    emu.admin("POST", "/faults", {"rules": [{"target": "storage_put", "times": 10, "action": "status", "status": 500}]})
    with pytest.raises(ApiError) as caught:
        fc.files.upload(b"abc", space, name="x.txt")
    assert str(caught.value) == "presigned upload PUT failed"
    assert caught.value.status == 500
    assert isinstance(caught.value.detail, str) and 0 < len(caught.value.detail) <= 300
