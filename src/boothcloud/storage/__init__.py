"""Object storage behind one small interface: a local folder or any S3-compatible store.

Photos and backups live here. The local folder is the embedded default; boothcloud itself
serves presigned URLs for it (HMAC-signed, expiring) so a booth uses one upload flow
whether objects sit on disk, in Cloudflare R2, AWS S3, SeaweedFS or MinIO.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

CHUNK_BYTES = 256 * 1024  # what `ObjectStore.stream` yields at a time
PART_BYTES = 8 * 1024 * 1024  # a multipart upload's part (R2 wants equal parts but the last)
# A download name (`presign_get(download_as=...)`): plain characters only, so it goes into
# a `Content-Disposition` header as it is, unquoted by anything, on every store.
DOWNLOAD_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


def check_download_name(download_as: str) -> str:
    """`download_as` if it is a `DOWNLOAD_NAME`; a ValueError otherwise (a programming
    error: the app builds these names itself)."""
    if not re.fullmatch(DOWNLOAD_NAME, download_as):
        raise ValueError(f"not a download name: {download_as!r}")
    return download_as


def attachment(download_as: str) -> str:
    """The `Content-Disposition` of a download URL's answer, on every store."""
    return f'attachment; filename="{check_download_name(download_as)}"'


class ObjectReader(Protocol):
    """A stored object read from the start in pieces (blocking: use it on a worker thread)."""

    def read(self, size: int) -> bytes: ...

    def close(self) -> None: ...


class ObjectWriter(Protocol):
    """An object written in pieces and published whole by `commit`, or never (`abort`).

    Blocking, like a file: backups write from a worker thread. Nothing is visible under the
    key before `commit`, and memory stays at a few parts however large the object.
    """

    def write(self, data: bytes) -> int: ...

    def commit(self) -> ObjectInfo: ...

    def abort(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    last_modified: datetime
    etag: str | None = None
    content_type: str | None = None  # as the store keeps it (local: guessed from the key)


class ObjectStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo: ...

    async def get(self, key: str) -> bytes: ...

    def stream(self, key: str) -> AsyncIterator[bytes]:
        """The object in chunks (KeyError when missing), never whole in memory."""
        ...

    def open_reader(self, key: str) -> ObjectReader:
        """The object as a blocking stream (KeyError when missing); call on a thread."""
        ...

    def open_writer(self, key: str, content_type: str | None = None) -> ObjectWriter:
        """A blocking writer that publishes the object on `commit`; call on a thread."""
        ...

    async def head(self, key: str) -> ObjectInfo | None: ...

    async def delete(self, key: str) -> None: ...

    async def list(self, prefix: str) -> list[ObjectInfo]: ...

    def presign_put(self, key: str, expires_in: int, content_type: str | None = None) -> str: ...

    def presign_get(self, key: str, expires_in: int, download_as: str | None = None) -> str:
        """A GET URL valid for `expires_in` seconds; with `download_as` (a `DOWNLOAD_NAME`)
        its answer says `Content-Disposition: attachment; filename="<download_as>"`, so a
        browser saves the object under that name instead of showing it (a link's
        `download` attribute does nothing once the redirect leaves the page's origin)."""
        ...

    async def close(self) -> None: ...
