"""What each call sends to the Rust core and how its answer becomes a model.

Shared by :class:`~fluidcloud.FluidCloud` and :class:`~fluidcloud.AsyncFluidCloud`: each
function returns ``(operation, arguments, build)``.
"""

from __future__ import annotations

import inspect
import io
import mimetypes
import os
from typing import Any, Callable, Dict, Optional, Tuple, Union

from .models import DelegatedToken, File, Folder, Link, Quota, Share, Space

Build = Callable[[Any], Any]
Op = Tuple[str, Dict[str, Any], Build]
Progress = Callable[[int, int], Any]
#: A path, in-memory bytes, or a binary file object.
Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Any]


def _many(model: Any) -> Build:
    return lambda rows: [model._from_core(r) for r in rows]


def _none(_: Any) -> None:
    return None


def _url(body: Dict[str, Any]) -> str:
    return body["url"]


def spaces_list() -> Op:
    return "spaces.list", {}, _many(Space)


def spaces_create(name: str) -> Op:
    return "spaces.create", {"name": name}, Space._from_core


def folders_list(space_id: str, parent_id: Optional[str], trash: bool) -> Op:
    return "folders.list", {"space_id": space_id, "parent_id": parent_id, "trash": trash}, _many(Folder)


def folders_create(name: str, space_id: str, parent_id: Optional[str]) -> Op:
    return "folders.create", {"name": name, "space_id": space_id, "parent_id": parent_id}, Folder._from_core


def folders_rename(folder_id: str, name: str) -> Op:
    return "folders.rename", {"folder_id": folder_id, "name": name}, Folder._from_core


def folders_move(folder_id: str, parent_id: Optional[str]) -> Op:
    return "folders.move", {"folder_id": folder_id, "parent_id": parent_id}, Folder._from_core


def folders_delete(folder_id: str) -> Op:
    return "folders.delete", {"folder_id": folder_id}, Folder._from_core


def folders_restore(folder_id: str) -> Op:
    return "folders.restore", {"folder_id": folder_id}, Folder._from_core


def files_list(space_id: str, folder_id: Optional[str], trash: bool, app: Optional[str]) -> Op:
    args = {"space_id": space_id, "folder_id": folder_id, "trash": trash, "app": app}
    return "files.list", args, _many(File)


def files_get(file_id: str) -> Op:
    return "files.get", {"file_id": file_id}, File._from_core


def files_resolve(client_key: str, app: Optional[str]) -> Op:
    return "files.resolve", {"client_key": client_key, "app": app}, File._from_core


def files_rename(file_id: str, name: str) -> Op:
    return "files.rename", {"file_id": file_id, "name": name}, File._from_core


def files_move(file_id: str, folder_id: Optional[str]) -> Op:
    return "files.move", {"file_id": file_id, "folder_id": folder_id}, File._from_core


def files_delete(file_id: str) -> Op:
    return "files.delete", {"file_id": file_id}, File._from_core


def files_restore(file_id: str) -> Op:
    return "files.restore", {"file_id": file_id}, File._from_core


def files_download_url(file_id: str) -> Op:
    return "files.download_url", {"file_id": file_id}, _url


def files_public_url(file_id: str) -> Op:
    return "files.public_url", {"file_id": file_id}, Link._from_core


def files_signed_url(file_id: str, expires_in_days: int, permission: str) -> Op:
    args = {"file_id": file_id, "expires_in_days": expires_in_days, "permission": permission}
    return "files.signed_url", args, Link._from_core


def files_download(file_id: str, dest: Any, on_progress: Optional[Progress]) -> Op:
    return "files.download", {"file_id": file_id, "dest": os.fspath(dest), "on_progress": on_progress}, File._from_core


def shares_list(file_id: Optional[str], include_inactive: bool) -> Op:
    return "shares.list", {"file_id": file_id, "include_inactive": include_inactive}, _many(Share)


def shares_revoke(share_id: str) -> Op:
    return "shares.revoke", {"share_id": share_id}, _none


def quota_usage() -> Op:
    return "quota.usage", {}, Quota._from_core


def exchange_service_token(user_jwt: str, app: str, job_id: Optional[str], ttl_seconds: Optional[int]) -> Op:
    args = {"user_jwt": user_jwt, "app": app, "job_id": job_id, "ttl_seconds": ttl_seconds}
    return "auth.exchange_service_token", args, DelegatedToken._from_core


def _is_utf8(text: str) -> bool:
    """False for names os.fsdecode made of bytes that are not UTF-8 (lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _read_takes_a_size(file: Any) -> bool:
    """Whether `file.read` can be called with a size. The official client reads a single
    upload's file object with `read()`, so an object whose `read` takes none works there."""
    try:
        parameters = inspect.signature(file.read).parameters.values()
    except (TypeError, ValueError):  # no signature to be had (some built-ins): assume the usual
        return True
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    return any(p.kind in positional for p in parameters)


class _ReadWhole:
    """A file object whose `read` takes no size, read whole as the official client does: once
    (the extension hands the bytes out in pieces), then at its end."""

    def __init__(self, file: Any) -> None:
        self._file: Any = file

    def read(self, size: int = -1) -> Any:
        file, self._file = self._file, None
        return b"" if file is None else file.read()


def upload(
    file: Source,
    space_id: str,
    *,
    folder_id: Optional[str],
    name: Optional[str],
    content_type: Optional[str],
    public: bool,
    app: Optional[str],
    client_key: Optional[str],
    on_progress: Optional[Progress],
) -> Op:
    """Names and types the upload as the official client does; the bytes stay where they are."""
    size: Optional[int] = None
    source: Any
    if isinstance(file, (bytes, bytearray, memoryview)):
        kind, source = "bytes", file if isinstance(file, (bytes, bytearray)) else bytes(file)
        name = name or "upload.bin"
    elif isinstance(file, (str, os.PathLike)):
        kind, source = "path", os.fspath(file)  # str or bytes; the extension takes both
        if not name:
            # As the official client: an empty name is no name. The core names the file
            # (a trailing slash kept, so a directory is reported as one) or explains.
            base = os.path.basename(source)
            name = base if isinstance(base, str) and base and _is_utf8(base) else None
    elif hasattr(file, "read"):
        if isinstance(file, io.TextIOBase):
            raise TypeError("file must be opened in binary mode ('rb'), not text mode")
        position = file.tell()
        file.seek(0, os.SEEK_END)
        size = file.tell() - position
        file.seek(position)
        kind, source = "reader", file if _read_takes_a_size(file) else _ReadWhole(file)
        name = name or getattr(file, "name", None) or "upload.bin"
        name = os.path.basename(str(name))
    else:
        raise TypeError("file must be a path (str), bytes, or a binary file object")
    if not content_type and name:
        content_type = _guess_type(name)
    args = {
        "kind": kind,
        "source": source,
        "size": size,
        "space_id": space_id,
        "folder_id": folder_id,
        "name": name,
        "content_type": content_type,
        "public": public,
        "app": app,
        "client_key": client_key,
        "on_progress": on_progress,
    }
    return "files.upload", args, File._from_core
