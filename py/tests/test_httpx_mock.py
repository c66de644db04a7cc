"""http_client=: tests written for the official client with httpx.MockTransport keep passing."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

import fluidcloud

BASE = "https://api.test.invalid"
FILE = {
    "id": "11111111-1111-4111-8111-111111111111",
    "original_name": "a.txt",
    "size": 5,
    "sha256": hashlib.sha256(b"hello").hexdigest(),
    "status": "pending",
    "scan_status": "clean",
    "mime": "text/plain",
    "space_id": "s1",
    "some_future_field": True,
}


def test_api_calls_go_through_the_mock_transport():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/v1/spaces":
            return httpx.Response(200, json=[{"id": "s1", "name": "Default"}])
        return httpx.Response(404, json={"detail": "Not Found"}, headers={"x-request-id": "req_mock"})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    fc = fluidcloud.FluidCloud("fck_test_mock", base_url=BASE, http_client=http)
    assert [s.name for s in fc.spaces.list()] == ["Default"]
    with pytest.raises(fluidcloud.NotFoundError) as e:
        fc.files.get("nope")
    assert e.value.status == 404 and e.value.detail == "Not Found" and e.value.request_id == "req_mock"
    assert seen[0].headers["x-api-key"] == "fck_test_mock"
    assert seen[0].headers["accept"] == "application/json"
    assert seen[1].url.path == "/api/v1/files/nope"
    fc.close()
    assert http.is_closed


def test_an_upload_goes_through_the_mock_transport():
    stored = {}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/uploads/initiate":
            stored["initiate"] = json.loads(request.content)
            return httpx.Response(200, json={
                "mode": "single", "file_id": FILE["id"], "key": "t/s1/incoming/x.txt",
                "upload_url": "https://storage.test.invalid/put?sig=1",
            })
        if request.url.host == "storage.test.invalid":
            assert "x-api-key" not in request.headers and "authorization" not in request.headers
            stored["put"] = (request.headers["content-type"], request.content)
            return httpx.Response(200, headers={"etag": '"e1"'})
        if request.url.path == "/api/v1/uploads/complete":
            stored["complete"] = json.loads(request.content)
            return httpx.Response(200, json=FILE)
        return httpx.Response(500)

    fc = fluidcloud.FluidCloud("fck_test_mock", base_url=BASE, http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    f = fc.files.upload(b"hello", "s1", name="a.txt", client_key="ck")
    assert f.id == FILE["id"] and f.size == 5
    assert stored["initiate"] == {
        "original_name": "a.txt", "content_type": "text/plain", "size": 5,
        "space_id": "s1", "folder_id": None, "app": None,
    }
    assert stored["put"] == ("text/plain", b"hello")
    assert stored["complete"]["sha256"] == hashlib.sha256(b"hello").hexdigest()
    assert stored["complete"]["parts"] is None and stored["complete"]["client_key"] == "ck"


def test_transport_errors_from_the_mock_become_connection_errors():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route", request=request)

    fc = fluidcloud.FluidCloud("fck_test_mock", base_url=BASE, max_retries=1,
                               http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    with pytest.raises(fluidcloud.APIConnectionError) as caught:
        fc.spaces.list()
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_the_handlers_own_exceptions_come_back_as_they_were_without_retries():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("/spaces"):
            assert False, "an assertion in the test's handler"
        raise KeyboardInterrupt

    fc = fluidcloud.FluidCloud("fck_test_mock", base_url=BASE, max_retries=2,
                               http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    with pytest.raises(AssertionError, match="the test's handler"):
        fc.spaces.list()
    with pytest.raises(KeyboardInterrupt):
        fc.quota.usage()
    assert calls == ["/api/v1/spaces", "/api/v1/quota"], "each tried once"


def test_an_async_httpx_client_is_refused_up_front():
    with pytest.raises(TypeError, match="AsyncClient"):
        fluidcloud.FluidCloud("fck_test_mock", base_url=BASE, http_client=httpx.AsyncClient())
    with pytest.raises(TypeError, match="AsyncClient"):
        fluidcloud.AsyncFluidCloud("fck_test_mock", base_url=BASE, http_client=httpx.AsyncClient())


def test_closing_an_as_user_client_leaves_the_parents_http_client_open():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/service-token"):
            return httpx.Response(200, json={"token": "fcd_user", "expires_in": 60, "token_type": "Bearer"})
        return httpx.Response(200, json=[{"id": "s1", "name": "Default"}])

    http = httpx.Client(transport=httpx.MockTransport(handler))
    fc = fluidcloud.FluidCloud("fck_test_mock", base_url=BASE, http_client=http)
    user = fc.as_user("a.b.c", "talk")
    assert [s.id for s in user.spaces.list()] == ["s1"]
    user.close()
    assert not http.is_closed
    assert [s.id for s in fc.spaces.list()] == ["s1"]
    fc.close()
    assert http.is_closed


def test_an_answer_that_breaks_the_protocol_is_no_api_error():
    # A 200 whose body is not what the protocol says carries no status: ApiError (which
    # stands for a non-2xx answer) would have to put something else in `status`.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>a proxy's page</html>", headers={"x-request-id": "req_garbled"})

    fc = fluidcloud.FluidCloud("fck_test_mock", base_url=BASE, http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    with pytest.raises(fluidcloud.FluidCloudError) as e:
        fc.quota.usage()
    assert not isinstance(e.value, fluidcloud.ApiError)
    assert "quota.usage" in str(e.value)
    assert e.value.request_id == "req_garbled"
    fc.close()
