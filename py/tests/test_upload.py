"""Uploads in every source kind, multipart, progress, retries under faults, threads, the GIL."""

from __future__ import annotations

import hashlib
import io
import threading
import time

import httpx
import pytest

import fluidcloud

SIZE = 16 * 1024 * 5 + 123  # 6 parts of the module's 16 KiB


def payload(n: int = SIZE) -> bytes:
    return bytes((i * 31 + 7) % 251 for i in range(n))


def fetch(fc, file_id: str) -> bytes:
    return httpx.get(fc.files.download_url(file_id), trust_env=False).content


@pytest.mark.parametrize("kind", ["path", "pathlike", "bytes", "bytearray", "memoryview", "fileobj"])
def test_multipart_from_every_source(fc, space, tmp_path, kind):
    data = payload()
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    calls = []
    source = {
        "path": str(path),
        "pathlike": path,
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview": memoryview(data),
        "fileobj": open(path, "rb"),
    }[kind]
    try:
        f = fc.files.upload(source, space, on_progress=lambda d, t: calls.append((d, t)))
    finally:
        if kind == "fileobj":
            source.close()
    assert f.size == len(data) and f.sha256 == hashlib.sha256(data).hexdigest()
    expected_name = "photo.jpg" if kind in ("path", "pathlike", "fileobj") else "upload.bin"
    assert f.original_name == expected_name
    assert f.mime == ("image/jpeg" if expected_name == "photo.jpg" else "application/octet-stream")
    assert fetch(fc, f.id) == data
    assert calls[-1] == (len(data), len(data))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_file_object_uploads_from_its_position(fc, space):
    buf = io.BytesIO(b"HEADERbody bytes")
    buf.seek(6)
    f = fc.files.upload(buf, space, name="dir/part.txt")
    assert f.original_name == "part.txt" and f.size == 10
    assert fetch(fc, f.id) == b"body bytes"


def test_progress_callback_errors_stop_the_upload(fc, space):
    def boom(done, total):
        if done:
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        fc.files.upload(payload(), space, on_progress=boom)
    assert fc.files.list(space) == []


def test_retries_under_storage_and_api_faults(emu, fc, space):
    emu.admin("POST", "/faults", json={"rules": [
        {"target": "storage_put", "path_contains": "/parts/2", "times": 1, "action": "status", "status": 503, "retry_after": 0},
        {"target": "storage_put", "path_contains": "/parts/4", "times": 1, "action": "reset", "after_bytes": 500},
        {"target": "api", "path_contains": "/uploads/complete", "times": 1, "action": "drop_response"},
        {"target": "api", "path_contains": "/files/", "times": 1, "action": "status", "status": 502},
    ]})
    data = payload()
    f = fc.files.upload(data, space)
    assert f.sha256 == hashlib.sha256(data).hexdigest()
    assert fc.files.get(f.id).id == f.id
    assert emu.admin("GET", "/faults").json()["rules"] == []


def test_one_client_shared_by_threads(fc, space):
    errors = []

    def work(i: int) -> None:
        try:
            for j in range(3):
                fc.files.upload(f"{i}-{j}".encode(), space, name=f"{i}-{j}.txt")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(fc.files.list(space)) == 18


def test_an_empty_name_names_a_path_upload_by_its_file_as_the_official_client_does(fc, space, tmp_path):
    path = tmp_path / "report.csv"
    path.write_bytes(b"a,b\n")
    assert fc.files.upload(str(path), space, name="").original_name == "report.csv"
    with pytest.raises(IsADirectoryError):
        fc.files.upload(str(tmp_path) + "/", space)


def test_a_file_object_whose_read_returns_str_is_a_type_error(fc, space):
    class Texty(io.RawIOBase):
        def readable(self):
            return True

        def seekable(self):
            return True

        def tell(self):
            return 0

        def seek(self, offset, whence=0):
            return 0

        def read(self, n=-1):
            return "text"

    with pytest.raises(TypeError, match="binary mode"):
        fc.files.upload(Texty(), space)


class _Seekable:
    """A minimal binary file object: tell and seek (for the size), and the read of a subclass."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def tell(self):
        return self.pos

    def seek(self, offset, whence=0):
        self.pos = {0: offset, 1: self.pos + offset, 2: len(self.data) + offset}[whence]
        return self.pos

    def take(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out


class _ReadTakesNoSize(_Seekable):
    """The official client reads a single upload's file object with read(), no size."""

    def read(self):
        return self.take(len(self.data))


class _ReadReturnsAllEveryTime(_Seekable):
    """A read() with no size that does not keep a position: the official client calls it once."""

    def read(self):
        return self.data


class _ReadReturnsMore(_Seekable):
    """read(n) is allowed to be sloppy; every byte it returns must go up, in order."""

    def read(self, n):
        return self.take(3 * n + 1)


@pytest.mark.parametrize("reader", [_ReadTakesNoSize, _ReadReturnsAllEveryTime, _ReadReturnsMore])
@pytest.mark.parametrize("size", [1000, SIZE])
def test_a_file_object_with_an_unusual_read_uploads_every_byte(fc, space, reader, size):
    data = payload(size)
    f = fc.files.upload(reader(data), space, name="odd.bin")
    assert f.size == size and f.sha256 == hashlib.sha256(data).hexdigest()
    assert fetch(fc, f.id) == data
