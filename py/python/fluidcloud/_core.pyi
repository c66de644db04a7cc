"""Type stubs of the Rust extension module (checked by mypy.stubtest)."""

import asyncio
from typing import Any, Dict, Optional

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
    @property
    def sends_credential_in_clear(self) -> bool: ...
    # The answer as plain values: a dict, a list of dicts, or None.
    def call(self, op: str, args: Dict[str, Any]) -> Any: ...
    # A future on the running loop; cancelling it aborts the call.
    def call_async(self, op: str, args: Dict[str, Any]) -> asyncio.Future[Any]: ...
    def with_credential(self, credential: str) -> "Client": ...
