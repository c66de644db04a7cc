"""Exceptions raised by the FluidCloud SDK.

Every failure derives from :class:`FluidCloudError`. Non-2xx answers are :class:`ApiError`
or one of its subclasses, chosen by status, exactly as in the official client; the SDK adds
``request_id`` (the server's ``X-Request-Id``) and classes for transport failures,
cancellation and integrity checks.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = [
    "FluidCloudError",
    "ApiError",
    "AuthError",
    "PermissionError_",
    "NotFoundError",
    "QuotaExceededError",
    "ConflictError",
    "APIConnectionError",
    "APITimeoutError",
    "CancelledError",
    "IntegrityError",
    "error_for",
]


class FluidCloudError(Exception):
    """Base class for every error this SDK raises.

    Attributes:
        request_id: The server's request id when the failure came with an answer (``None``
            otherwise), to quote to support.
    """

    request_id: Optional[str] = None


class ApiError(FluidCloudError):
    """A non-2xx answer from the API or from storage.

    Attributes:
        status: The HTTP status code.
        detail: The parsed ``detail`` of the error body (str, dict or list), or the raw text.
        request_id: The server's request id, to quote to support (``None`` if it sent none).
    """

    def __init__(
        self,
        status: int,
        detail: Any = None,
        message: Optional[str] = None,
        *,
        request_id: Optional[str] = None,
    ) -> None:
        self.status = status
        self.detail = detail
        self.request_id = request_id
        super().__init__(message or f"FluidCloud API error {status}: {detail!r}")

    def __reduce__(self) -> Any:
        # `args` holds only the message: rebuilt from it alone, the error would lose its
        # status (errors cross process pools by pickle).
        return (type(self), (self.status, self.detail, str(self)), self.__dict__)


class AuthError(ApiError):
    """401: the API key or token is missing, unknown, expired or revoked."""


class PermissionError_(ApiError):
    """403: the key lacks a required scope (``insufficient_scope``) or access."""


class NotFoundError(ApiError):
    """404: no such resource in the caller's tenant."""


class QuotaExceededError(ApiError):
    """402: the tenant is over its storage or link quota."""


class ConflictError(ApiError):
    """409: e.g. sharing a file whose scan is not ``clean``, or a name collision."""


class APIConnectionError(FluidCloudError):
    """The service could not be reached, or the connection broke (after the retries)."""


class APITimeoutError(APIConnectionError):
    """A request took longer than the client's ``timeout``."""


class CancelledError(FluidCloudError):
    """The operation was cancelled."""


class IntegrityError(FluidCloudError):
    """Bytes did not match: a size or SHA-256 mismatch, or a file that changed while read."""


_BY_STATUS = {
    401: AuthError,
    402: QuotaExceededError,
    403: PermissionError_,
    404: NotFoundError,
    409: ConflictError,
}


def error_for(status: int, detail: Any) -> ApiError:
    """The most specific :class:`ApiError` for a status and its parsed detail."""
    return _BY_STATUS.get(status, ApiError)(status, detail)
