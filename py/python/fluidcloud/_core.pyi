"""Type stubs of the Rust extension module (checked by mypy.stubtest)."""

from typing import Any, Awaitable, Dict, Optional

from typing_extensions import final

__all__ = ["Client", "__version__"]
__version__: str

@final
class Client:
    def __new__(
        cls,
        api_key: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        api_version: Optional[str] = None,
        timeout: Optional[float] = ...,
        connect_timeout: Optional[float] = None,
        max_retries: int = 2,
        concurrency: int = 8,
        http_client: Optional[Any] = None,
    ) -> "Client": ...
    @property
    def base_url(self) -> str: ...
    # The answer as plain values: a dict, a list of dicts, or None.
    def call(self, op: str, args: Dict[str, Any]) -> Any: ...
    def call_async(self, op: str, args: Dict[str, Any]) -> Awaitable[Any]: ...
    def as_user(
        self, user_jwt: str, app: str, *, job_id: Optional[str] = None, ttl_seconds: Optional[int] = None
    ) -> "Client": ...
