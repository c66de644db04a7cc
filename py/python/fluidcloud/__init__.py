"""FluidCloud SDK for Python: a drop-in replacement for the official client, on a Rust core.

    from fluidcloud import FluidCloud
    fc = FluidCloud(api_key="fck_live_...")
    asset = fc.files.upload("logo.png", space_id=space_id, public=True)
    print(asset.public_url)
"""

from .client import AsyncFluidCloud, FluidCloud
from .errors import (
    APIConnectionError,
    ApiError,
    APITimeoutError,
    AuthError,
    CancelledError,
    ConflictError,
    FluidCloudError,
    IntegrityError,
    NotFoundError,
    PermissionError_,
    QuotaExceededError,
)
from .models import DelegatedToken, File, Folder, Link, Quota, Share, Space

__version__ = "0.1.0"

__all__ = [
    "FluidCloud",
    "FluidCloudError",
    "ApiError",
    "AuthError",
    "PermissionError_",
    "NotFoundError",
    "QuotaExceededError",
    "ConflictError",
    "Space",
    "Folder",
    "File",
    "Quota",
    "Link",
    "Share",
    "DelegatedToken",
    "__version__",
]
# As in the official package: `from fluidcloud import *` brings nothing more (our own
# `CancelledError` would shadow asyncio's). The additions are imported by name.
