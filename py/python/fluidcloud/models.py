"""Result objects: dataclasses with the API's fields (ids and timestamps are ``str``).

``from_dict`` ignores unknown keys, so a server that adds a field never breaks a client.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Dict, Optional, Type, TypeVar

__all__ = ["Space", "Folder", "File", "Quota", "Link", "Share", "DelegatedToken"]

T = TypeVar("T", bound="_Model")


class _Model:
    @classmethod
    def from_dict(cls: Type[T], data: Dict[str, Any]) -> T:
        """Build the model from a response dict, dropping keys it does not know."""
        known = _field_names(cls)
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def _from_core(cls: Type[T], data: Dict[str, Any]) -> T:
        """Build the model from the Rust core's answer, which carries exactly the model's
        fields (``tests/test_models.py`` holds both sides to that). Matching keywords in
        ``__init__`` cost ten times more than the rest of building the object."""
        model = cls.__new__(cls)
        model.__dict__.update(data)
        return model


_FIELD_NAMES: Dict[type, frozenset] = {}


def _field_names(cls: type) -> frozenset:
    # Looked up once per class: ``fields()`` costs more than building the model.
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = frozenset(f.name for f in fields(cls))  # type: ignore[arg-type]
    return names


@dataclass
class Space(_Model):
    id: str
    name: str
    tenant_id: Optional[str] = None
    created_at: Optional[str] = None
    updated_at: Optional[str] = None


@dataclass
class Folder(_Model):
    id: str
    name: str
    space_id: Optional[str] = None
    parent_id: Optional[str] = None
    tenant_id: Optional[str] = None
    deleted_at: Optional[str] = None
    created_at: Optional[str] = None
    updated_at: Optional[str] = None


@dataclass
class File(_Model):
    id: str
    original_name: str
    name: Optional[str] = None
    space_id: Optional[str] = None
    folder_id: Optional[str] = None
    tenant_id: Optional[str] = None
    mime: Optional[str] = None
    size: Optional[int] = None
    sha256: Optional[str] = None
    scan_status: Optional[str] = None
    status: Optional[str] = None
    created_by: Optional[str] = None
    source_app: Optional[str] = None
    client_key: Optional[str] = None
    deleted_at: Optional[str] = None
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
    #: Set by ``files.upload(..., public=True)``: the permanent public link.
    public_url: Optional[str] = None


@dataclass
class DelegatedToken(_Model):
    """A token that acts as an end user (see ``FluidCloud.as_user``)."""

    token: str
    expires_in: int = 0
    tenant_id: Optional[str] = None
    user_id: Optional[str] = None
    app: Optional[str] = None
    token_type: str = "Bearer"

    def __repr__(self) -> str:  # the token is a credential
        return (
            f"DelegatedToken(token='<redacted>', expires_in={self.expires_in!r}, "
            f"tenant_id={self.tenant_id!r}, user_id={self.user_id!r}, app={self.app!r}, "
            f"token_type={self.token_type!r})"
        )


@dataclass
class Quota(_Model):
    bytes_used: int
    bytes_limit: int
    links_used: int
    links_limit: int
    #: Per-app usage: a list of ``{"app", "bytes_used", "files"}``.
    by_app: Optional[list] = None


@dataclass
class Link(_Model):
    """A minted share link; ``expires_at`` is ``None`` for a permanent public link."""

    url: str
    id: str
    permission: str = "view"
    expires_at: Optional[str] = None


@dataclass
class Share(_Model):
    """A listed share (its URL is never listed again)."""

    id: str
    file_id: str
    permission: str
    expires_at: Optional[str] = None
    max_downloads: Optional[int] = None
    download_count: int = 0
    revoked: bool = False
    has_password: bool = False
    created_at: Optional[str] = None
    updated_at: Optional[str] = None
