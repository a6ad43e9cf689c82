"""Objects as files under a local folder, with presigned URLs that boothcloud serves.

A presigned URL here is `{public_url}/objects/{key}?method=PUT&expires=...&signature=...`
where the signature is an HMAC-SHA256 over method, key and expiry with
`BOOTHCLOUD_URL_SIGNING_SECRET`: the same upload flow as S3/R2 presigned URLs.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import mimetypes
import os
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from urllib.parse import quote, urlencode

from boothcloud.storage import (
    CHUNK_BYTES,
    ObjectInfo,
    ObjectReader,
    ObjectWriter,
    check_download_name,
)
from boothcloud.storage.keys import InvalidKey, check_key


class ObjectTooLarge(ValueError):
    """An upload went over the configured object size limit."""


def url_signature(
    secret: str, method: str, key: str, expires: int, download_as: str | None = None
) -> str:
    """HMAC-SHA256 over what the URL grants; a download name is signed too (as S3 signs its
    response-header overrides), and a URL without one signs what it always did."""
    message = f"{method}\n{key}\n{expires}" + (f"\n{download_as}" if download_as else "")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def guess_type(key: str) -> str:
    """The Content-Type of a local object: files keep none, so the key's extension says."""
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


class LocalStore:
    def __init__(self, root: Path, base_url: str, signing_secret: str) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.base_url = base_url.rstrip("/")
        self._secret = signing_secret

    def path_for(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise InvalidKey("key escapes the object folder")
        return path

    def info(self, key: str, path: Path) -> ObjectInfo:
        stat = path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime, UTC)
        return ObjectInfo(key, stat.st_size, modified, content_type=guess_type(key))

    def _temporary(self, path: Path) -> Path:
        """Where an object is written before it replaces `path` (hidden from `list`)."""
        return path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")

    def _put_sync(self, key: str, data: bytes) -> ObjectInfo:
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._temporary(path)
        temporary.write_bytes(data)
        temporary.replace(path)  # atomic: a reader never sees half an object
        return self.info(key, path)

    def open_reader(self, key: str) -> ObjectReader:
        try:
            return self.path_for(key).open("rb")
        except (FileNotFoundError, IsADirectoryError) as error:
            raise KeyError(key) from error

    def open_writer(self, key: str, content_type: str | None = None) -> ObjectWriter:
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return _FileWriter(self, key, path, self._temporary(path))

    async def put(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo:
        return await asyncio.to_thread(self._put_sync, key, data)

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        max_bytes: int,
        accept: Callable[[int], None] | None = None,
    ) -> ObjectInfo:
        """Write an upload chunk by chunk (never whole in memory), refusing more than
        `max_bytes`: the object appears atomically when complete, or not at all.

        `accept(size)` runs on the complete upload before it replaces anything; whatever it
        raises refuses the upload and leaves the previous object (if any) untouched."""
        path = self.path_for(key)
        temporary = self._temporary(path)

        def open_temporary() -> IO[bytes]:
            path.parent.mkdir(parents=True, exist_ok=True)
            return temporary.open("wb")

        handle = await asyncio.to_thread(open_temporary)
        written = 0
        try:
            async for chunk in chunks:
                written += len(chunk)
                if written > max_bytes:
                    raise ObjectTooLarge(f"object exceeds {max_bytes} bytes")
                if chunk:
                    await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.close)
            if accept is not None:
                accept(written)
            await asyncio.to_thread(temporary.replace, path)
        except BaseException:
            handle.close()
            temporary.unlink(missing_ok=True)
            raise
        return await asyncio.to_thread(self.info, key, path)

    async def get(self, key: str) -> bytes:
        path = self.path_for(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError) as error:
            raise KeyError(key) from error

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        path = self.path_for(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError) as error:
            raise KeyError(key) from error
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
                yield chunk
        finally:
            handle.close()

    def _head_sync(self, key: str) -> ObjectInfo | None:
        path = self.path_for(key)
        return self.info(key, path) if path.is_file() else None

    async def head(self, key: str) -> ObjectInfo | None:
        return await asyncio.to_thread(self._head_sync, key)

    async def delete(self, key: str) -> None:
        path = self.path_for(key)
        await asyncio.to_thread(path.unlink, missing_ok=True)

    def _list_sync(self, prefix: str) -> list[ObjectInfo]:
        # Walk only the folder the prefix names (`backups/` never visits `photos/`).
        folder = prefix.rpartition("/")[0]
        start = (self.root / folder).resolve() if folder else self.root
        if not start.is_relative_to(self.root) or not start.is_dir():
            return []
        found = []
        for path in start.rglob("*"):
            if path.name.startswith("."):
                continue  # uploads in progress
            key = path.relative_to(self.root).as_posix()
            if not key.startswith(prefix):
                continue
            try:
                if path.is_file():
                    found.append(self.info(key, path))
            except FileNotFoundError:
                continue  # deleted while listing
        return sorted(found, key=lambda info: info.key)  # S3 order: by key

    async def list(self, prefix: str) -> list[ObjectInfo]:
        return await asyncio.to_thread(self._list_sync, prefix)

    def _presign(
        self, method: str, key: str, expires_in: int, download_as: str | None = None
    ) -> str:
        check_key(key)
        expires = int(time.time()) + expires_in
        params: dict[str, str | int] = {"method": method, "expires": expires}
        if download_as is not None:
            params["download_as"] = check_download_name(download_as)
        params["signature"] = url_signature(self._secret, method, key, expires, download_as)
        return f"{self.base_url}/objects/{quote(key)}?{urlencode(params)}"

    def presign_put(self, key: str, expires_in: int, content_type: str | None = None) -> str:
        return self._presign("PUT", key, expires_in)

    def presign_get(self, key: str, expires_in: int, download_as: str | None = None) -> str:
        return self._presign("GET", key, expires_in, download_as)

    def verify(
        self, method: str, key: str, expires: int, signature: str, download_as: str | None = None
    ) -> bool:
        """Constant-time check of a presigned URL's signature, then its expiry."""
        expected = url_signature(self._secret, method, key, expires, download_as)
        return hmac.compare_digest(expected, signature) and expires >= int(time.time())

    async def close(self) -> None:
        return None


class _FileWriter:
    """A local object written to a hidden file, renamed into place on commit (atomic)."""

    def __init__(self, store: LocalStore, key: str, path: Path, temporary: Path) -> None:
        self._store, self._key, self._path, self._temporary = store, key, path, temporary
        self._file = temporary.open("wb")

    def write(self, data: bytes) -> int:
        return self._file.write(data)

    def commit(self) -> ObjectInfo:
        self._file.close()
        self._temporary.replace(self._path)
        return self._store.info(self._key, self._path)

    def abort(self) -> None:
        self._file.close()
        self._temporary.unlink(missing_ok=True)
