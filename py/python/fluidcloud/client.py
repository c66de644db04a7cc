"""The FluidCloud clients: :class:`FluidCloud` (blocking) and :class:`AsyncFluidCloud`.

    from fluidcloud import FluidCloud
    fc = FluidCloud(api_key="fck_live_...")          # or FLUIDCLOUD_API_KEY
    asset = fc.files.upload("logo.png", space_id=space_id, public=True)
    print(asset.public_url)

The work happens in the Rust core (``fluidcloud._core``): blocking calls release the GIL
and stop on Ctrl-C; uploads stream from their source, hash beside the transfer and send
multipart parts in parallel.
"""

from __future__ import annotations

import inspect
import logging
import math
import numbers
import time
from typing import Any, Dict, List, Optional, Tuple, TypeVar

from . import _core, _ops
from ._ops import Progress, Source

#: What ``files.upload`` takes, under the official client's name for it.
PathOrData = Source
from .models import DelegatedToken, File, Folder, Link, Quota, Share, Space

__all__ = ["FluidCloud", "AsyncFluidCloud", "DEFAULT_BASE_URL"]

DEFAULT_BASE_URL = "https://api-cloud.fluidvip.com"

logger = logging.getLogger("fluidcloud")
T = TypeVar("T")


def _log_failure(op: str, started: float, error: BaseException) -> None:
    # Only the call's name, the class and the request id: arguments can hold credentials.
    logger.debug(
        "%s failed after %.1f ms: %s (request id %s)",
        op,
        (time.perf_counter() - started) * 1000,
        type(error).__name__,
        getattr(error, "request_id", None),
    )


B = TypeVar("B", bound="_Base")
# The extension's client class, for annotations.
_CoreClient = _core.Client


class _Handle:
    """The extension client that a client and its resources share (``None`` once closed).
    Resources hold this, not the client: with no reference cycle between them, a client
    dropped without ``close()`` is freed at once, and its connections closed with it."""

    __slots__ = ("core",)

    def __init__(self, core: Optional[_CoreClient]) -> None:
        self.core = core

    def _client(self) -> _CoreClient:
        if self.core is None:
            raise RuntimeError("this FluidCloud client is closed")
        return self.core

    def _run(self, op: str, args: Dict[str, Any], build: Any) -> Any:
        started = time.perf_counter()
        try:
            answer = self._client().call(op, args)
        except BaseException as e:
            _log_failure(op, started, e)
            raise
        logger.debug("%s took %.1f ms", op, (time.perf_counter() - started) * 1000)
        return build(answer)

    async def _arun(self, op: str, args: Dict[str, Any], build: Any) -> Any:
        started = time.perf_counter()
        try:
            answer = await self._client().call_async(op, args)
        except BaseException as e:
            _log_failure(op, started, e)
            raise
        logger.debug("%s took %.1f ms", op, (time.perf_counter() - started) * 1000)
        return build(answer)


class _Base:
    _handle: _Handle
    _http: Any

    def _attach(self) -> None:
        raise NotImplementedError

    @classmethod
    def _wrap(cls: "type[B]", core: _CoreClient, http_client: Any) -> B:
        """A client around an extension client already made (``as_user``'s)."""
        self = cls.__new__(cls)
        self._http = http_client
        self._handle = _Handle(core)
        self._attach()
        return self

    def _client(self) -> _CoreClient:
        return self._handle._client()

    def _run(self, op: str, args: Dict[str, Any], build: Any) -> Any:
        return self._handle._run(op, args, build)

    async def _arun(self, op: str, args: Dict[str, Any], build: Any) -> Any:
        return await self._handle._arun(op, args, build)


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number of seconds or None, not {type(value).__name__}")
    return float(value)


def _timeouts(timeout: Any) -> Tuple[Optional[float], Optional[float]]:
    """``timeout`` in the forms the official client's httpx takes: seconds, ``None`` for no
    limit, an ``httpx.Timeout`` or a ``(connect, read[, write[, pool]])`` tuple. Returns the
    longest wait for the server to make progress (``None``: no limit) and the connect timeout
    (``None``: the core's default, never longer than the first; ``inf``: no limit).
    """
    if timeout is None:
        return None, math.inf
    if isinstance(timeout, tuple):
        if not 2 <= len(timeout) <= 4:
            raise ValueError(f"a timeout tuple is (connect, read[, write[, pool]]), not {len(timeout)} values")
        connect, read = timeout[0], timeout[1]
        write = timeout[2] if len(timeout) > 2 else None
    elif all(hasattr(timeout, field) for field in ("connect", "read", "write", "pool")):
        connect, read, write = timeout.connect, timeout.read, timeout.write
    else:
        return _seconds("timeout", timeout), None
    # One limit stands for httpx's read and write ones: the shorter, so that no wait lasts
    # longer than the caller allowed for it.
    waits = [_seconds(name, v) for name, v in (("timeout.read", read), ("timeout.write", write)) if v is not None]
    return (min(waits) if waits else None), (math.inf if connect is None else _seconds("timeout.connect", connect))


def _count(name: str, value: Any) -> int:
    """An int the extension can take (unsigned); the core judges the rest."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be at least 0, not {value}")
    return int(value)


def _make_core(
    api_key: Optional[str],
    base_url: Optional[str],
    api_version: str,
    timeout: Any,
    http_client: Any,
    max_retries: int,
    concurrency: int,
) -> _core.Client:
    if api_key is not None and not isinstance(api_key, str):
        raise TypeError(f"api_key must be str, not {type(api_key).__name__}")
    if api_key == "":
        raise ValueError("api_key is required")
    if http_client is not None and inspect.iscoroutinefunction(getattr(http_client, "request", None)):
        raise TypeError("http_client must be an httpx.Client: an async client (httpx.AsyncClient) is not supported")
    progress_timeout, connect_timeout = _timeouts(timeout)
    core = _core.Client(
        api_key,
        base_url=base_url,
        api_version=api_version,
        timeout=progress_timeout,
        connect_timeout=connect_timeout,
        max_retries=_count("max_retries", max_retries),
        concurrency=_count("concurrency", concurrency),
        http_client=http_client,
    )
    if core.sends_credential_in_clear and http_client is None:
        # Allowed, as by the official client (an emulator in docker-compose, say), but said.
        logger.warning("sending the API key over plain http to %s: use https beyond a private network", core.base_url)
    return core


class FluidCloud(_Base):
    """The FluidCloud API client (blocking, thread-safe).

    Args:
        api_key: An API key (``fck_live_…`` / ``fck_test_…``, sent as ``X-API-Key``) or a
            bearer token. Default: ``FLUIDCLOUD_API_KEY``.
        base_url: API origin. Default: ``FLUIDCLOUD_BASE_URL``, else production.
        api_version: API version segment (``"v1"``).
        timeout: Seconds to wait for the server to make progress (take the next piece of an
            upload, start its answer, send the next piece of a download); a slow transfer
            that keeps moving is not cut off. ``None`` for no limit; an ``httpx.Timeout`` or a
            ``(connect, read, write, pool)`` tuple also works, as with the official client.
        http_client: An ``httpx.Client`` to send every request through (API and storage),
            e.g. one built on ``httpx.MockTransport`` in tests.
        max_retries: Retries of failed requests that are safe to repeat.
        concurrency: Multipart parts uploaded at once.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        api_version: str = "v1",
        timeout: float = 300.0,
        http_client: Any = None,
        max_retries: int = 2,
        concurrency: int = 8,
    ) -> None:
        self._http = http_client
        self._handle = _Handle(_make_core(api_key, base_url, api_version, timeout, http_client, max_retries, concurrency))
        self._attach()

    def _attach(self) -> None:
        self.spaces = _Spaces(self._handle)
        self.folders = _Folders(self._handle)
        self.files = _Files(self._handle)
        self.shares = _Shares(self._handle)
        self.quota = _Quota(self._handle)

    @property
    def base_url(self) -> str:
        return self._client().base_url

    def __repr__(self) -> str:
        state = "closed" if self._handle.core is None else repr(self._handle.core.base_url)
        return f"FluidCloud(base_url={state})"

    def exchange_service_token(
        self,
        user_jwt: str,
        app: str,
        *,
        job_id: Optional[str] = None,
        ttl_seconds: Optional[int] = None,
    ) -> DelegatedToken:
        """Trade this service key and an end user's JWT for a token that acts as that user."""
        return self._run(*_ops.exchange_service_token(user_jwt, app, job_id, ttl_seconds))

    def as_user(
        self,
        user_jwt: str,
        app: str,
        *,
        job_id: Optional[str] = None,
        ttl_seconds: Optional[int] = None,
        timeout: float = 300.0,
    ) -> "FluidCloud":
        """A new client acting as the end user, sharing this one's connections.

        ``timeout`` is accepted for compatibility; the new client shares this one's
        connections and therefore its timeout.
        """
        del timeout
        token = self.exchange_service_token(user_jwt, app, job_id=job_id, ttl_seconds=ttl_seconds)
        # Shares this client's transport but not its http_client's lifetime: closing the
        # user's client must not close the caller's httpx.Client.
        return FluidCloud._wrap(self._client().with_credential(token.token), None)

    def close(self) -> None:
        """Release the client (and close ``http_client`` when one was given)."""
        self._handle.core = None
        if self._http is not None:
            self._http.close()

    def __enter__(self) -> "FluidCloud":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


class _Resource:
    def __init__(self, handle: _Handle) -> None:
        self._c = handle


class _Spaces(_Resource):
    def list(self) -> List[Space]:
        return self._c._run(*_ops.spaces_list())

    def create(self, name: str) -> Space:
        return self._c._run(*_ops.spaces_create(name))


class _Folders(_Resource):
    def list(self, space_id: str, parent_id: Optional[str] = None, *, trash: bool = False) -> List[Folder]:
        return self._c._run(*_ops.folders_list(space_id, parent_id, trash))

    def create(self, name: str, space_id: str, parent_id: Optional[str] = None) -> Folder:
        return self._c._run(*_ops.folders_create(name, space_id, parent_id))

    def rename(self, folder_id: str, name: str) -> Folder:
        return self._c._run(*_ops.folders_rename(folder_id, name))

    def move(self, folder_id: str, parent_id: Optional[str]) -> Folder:
        """Move under ``parent_id``; ``None`` moves to the space root."""
        return self._c._run(*_ops.folders_move(folder_id, parent_id))

    def delete(self, folder_id: str) -> Folder:
        return self._c._run(*_ops.folders_delete(folder_id))

    def restore(self, folder_id: str) -> Folder:
        return self._c._run(*_ops.folders_restore(folder_id))


class _Files(_Resource):
    def upload(
        self,
        file: Source,
        space_id: str,
        *,
        folder_id: Optional[str] = None,
        name: Optional[str] = None,
        content_type: Optional[str] = None,
        public: bool = False,
        app: Optional[str] = None,
        client_key: Optional[str] = None,
        on_progress: Optional[Progress] = None,
    ) -> File:
        """Upload a path, bytes or a binary file object; returns the stored file.

        ``public=True`` also mints the permanent public link (``result.public_url``).
        ``on_progress(done, total)`` is called as storage confirms bytes, from a worker thread.
        """
        return self._c._run(
            *_ops.upload(
                file,
                space_id,
                folder_id=folder_id,
                name=name,
                content_type=content_type,
                public=public,
                app=app,
                client_key=client_key,
                on_progress=on_progress,
            )
        )

    def download(self, file_id: str, dest: Any, *, on_progress: Optional[Progress] = None) -> File:
        """Download to ``dest`` (verified against the file's size and SHA-256)."""
        return self._c._run(*_ops.files_download(file_id, dest, on_progress))

    def list(
        self,
        space_id: str,
        folder_id: Optional[str] = None,
        *,
        trash: bool = False,
        app: Optional[str] = None,
    ) -> List[File]:
        return self._c._run(*_ops.files_list(space_id, folder_id, trash, app))

    def get(self, file_id: str) -> File:
        return self._c._run(*_ops.files_get(file_id))

    def resolve(self, client_key: str, *, app: Optional[str] = None) -> File:
        """The newest live file uploaded with ``client_key`` in the ``app`` namespace."""
        return self._c._run(*_ops.files_resolve(client_key, app))

    def rename(self, file_id: str, name: str) -> File:
        return self._c._run(*_ops.files_rename(file_id, name))

    def move(self, file_id: str, folder_id: Optional[str]) -> File:
        """Move into ``folder_id``; ``None`` moves to the space root."""
        return self._c._run(*_ops.files_move(file_id, folder_id))

    def delete(self, file_id: str) -> File:
        return self._c._run(*_ops.files_delete(file_id))

    def restore(self, file_id: str) -> File:
        return self._c._run(*_ops.files_restore(file_id))

    def download_url(self, file_id: str) -> str:
        """A short-lived presigned GET URL for the owner."""
        return self._c._run(*_ops.files_download_url(file_id))

    def public_url(self, file_id: str) -> Link:
        """Mint (or return) the permanent public link: inline, cacheable, never expires."""
        return self._c._run(*_ops.files_public_url(file_id))

    def signed_url(self, file_id: str, *, expires_in_days: int = 7, permission: str = "view") -> Link:
        """Mint an expiring link (1..365 days)."""
        return self._c._run(*_ops.files_signed_url(file_id, expires_in_days, permission))


class _Shares(_Resource):
    def list(self, *, file_id: Optional[str] = None, include_inactive: bool = False) -> List[Share]:
        return self._c._run(*_ops.shares_list(file_id, include_inactive))

    def revoke(self, share_id: str) -> None:
        self._c._run(*_ops.shares_revoke(share_id))


class _Quota(_Resource):
    def usage(self) -> Quota:
        return self._c._run(*_ops.quota_usage())


class AsyncFluidCloud(_Base):
    """The same client for ``asyncio``: every method is ``async``; use ``async with``."""

    def __init__(
        self,
        api_key: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        api_version: str = "v1",
        timeout: float = 300.0,
        http_client: Any = None,
        max_retries: int = 2,
        concurrency: int = 8,
    ) -> None:
        self._http = http_client
        self._handle = _Handle(_make_core(api_key, base_url, api_version, timeout, http_client, max_retries, concurrency))
        self._attach()

    def _attach(self) -> None:
        self.spaces = _AsyncSpaces(self._handle)
        self.folders = _AsyncFolders(self._handle)
        self.files = _AsyncFiles(self._handle)
        self.shares = _AsyncShares(self._handle)
        self.quota = _AsyncQuota(self._handle)

    @property
    def base_url(self) -> str:
        return self._client().base_url

    def __repr__(self) -> str:
        state = "closed" if self._handle.core is None else repr(self._handle.core.base_url)
        return f"AsyncFluidCloud(base_url={state})"

    async def exchange_service_token(
        self,
        user_jwt: str,
        app: str,
        *,
        job_id: Optional[str] = None,
        ttl_seconds: Optional[int] = None,
    ) -> DelegatedToken:
        return await self._arun(*_ops.exchange_service_token(user_jwt, app, job_id, ttl_seconds))

    async def as_user(
        self,
        user_jwt: str,
        app: str,
        *,
        job_id: Optional[str] = None,
        ttl_seconds: Optional[int] = None,
        timeout: float = 300.0,
    ) -> "AsyncFluidCloud":
        del timeout
        token = await self.exchange_service_token(user_jwt, app, job_id=job_id, ttl_seconds=ttl_seconds)
        return AsyncFluidCloud._wrap(self._client().with_credential(token.token), None)

    async def close(self) -> None:
        self._handle.core = None
        if self._http is not None:
            self._http.close()

    async def __aenter__(self) -> "AsyncFluidCloud":
        return self

    async def __aexit__(self, *_exc: Any) -> None:
        await self.close()


class _AsyncResource:
    def __init__(self, handle: _Handle) -> None:
        self._c = handle


class _AsyncSpaces(_AsyncResource):
    async def list(self) -> List[Space]:
        return await self._c._arun(*_ops.spaces_list())

    async def create(self, name: str) -> Space:
        return await self._c._arun(*_ops.spaces_create(name))


class _AsyncFolders(_AsyncResource):
    async def list(self, space_id: str, parent_id: Optional[str] = None, *, trash: bool = False) -> List[Folder]:
        return await self._c._arun(*_ops.folders_list(space_id, parent_id, trash))

    async def create(self, name: str, space_id: str, parent_id: Optional[str] = None) -> Folder:
        return await self._c._arun(*_ops.folders_create(name, space_id, parent_id))

    async def rename(self, folder_id: str, name: str) -> Folder:
        return await self._c._arun(*_ops.folders_rename(folder_id, name))

    async def move(self, folder_id: str, parent_id: Optional[str]) -> Folder:
        return await self._c._arun(*_ops.folders_move(folder_id, parent_id))

    async def delete(self, folder_id: str) -> Folder:
        return await self._c._arun(*_ops.folders_delete(folder_id))

    async def restore(self, folder_id: str) -> Folder:
        return await self._c._arun(*_ops.folders_restore(folder_id))


class _AsyncFiles(_AsyncResource):
    async def upload(
        self,
        file: Source,
        space_id: str,
        *,
        folder_id: Optional[str] = None,
        name: Optional[str] = None,
        content_type: Optional[str] = None,
        public: bool = False,
        app: Optional[str] = None,
        client_key: Optional[str] = None,
        on_progress: Optional[Progress] = None,
    ) -> File:
        return await self._c._arun(
            *_ops.upload(
                file,
                space_id,
                folder_id=folder_id,
                name=name,
                content_type=content_type,
                public=public,
                app=app,
                client_key=client_key,
                on_progress=on_progress,
            )
        )

    async def download(self, file_id: str, dest: Any, *, on_progress: Optional[Progress] = None) -> File:
        return await self._c._arun(*_ops.files_download(file_id, dest, on_progress))

    async def list(
        self,
        space_id: str,
        folder_id: Optional[str] = None,
        *,
        trash: bool = False,
        app: Optional[str] = None,
    ) -> List[File]:
        return await self._c._arun(*_ops.files_list(space_id, folder_id, trash, app))

    async def get(self, file_id: str) -> File:
        return await self._c._arun(*_ops.files_get(file_id))

    async def resolve(self, client_key: str, *, app: Optional[str] = None) -> File:
        return await self._c._arun(*_ops.files_resolve(client_key, app))

    async def rename(self, file_id: str, name: str) -> File:
        return await self._c._arun(*_ops.files_rename(file_id, name))

    async def move(self, file_id: str, folder_id: Optional[str]) -> File:
        return await self._c._arun(*_ops.files_move(file_id, folder_id))

    async def delete(self, file_id: str) -> File:
        return await self._c._arun(*_ops.files_delete(file_id))

    async def restore(self, file_id: str) -> File:
        return await self._c._arun(*_ops.files_restore(file_id))

    async def download_url(self, file_id: str) -> str:
        return await self._c._arun(*_ops.files_download_url(file_id))

    async def public_url(self, file_id: str) -> Link:
        return await self._c._arun(*_ops.files_public_url(file_id))

    async def signed_url(self, file_id: str, *, expires_in_days: int = 7, permission: str = "view") -> Link:
        return await self._c._arun(*_ops.files_signed_url(file_id, expires_in_days, permission))


class _AsyncShares(_AsyncResource):
    async def list(self, *, file_id: Optional[str] = None, include_inactive: bool = False) -> List[Share]:
        return await self._c._arun(*_ops.shares_list(file_id, include_inactive))

    async def revoke(self, share_id: str) -> None:
        await self._c._arun(*_ops.shares_revoke(share_id))


class _AsyncQuota(_AsyncResource):
    async def usage(self) -> Quota:
        return await self._c._arun(*_ops.quota_usage())
