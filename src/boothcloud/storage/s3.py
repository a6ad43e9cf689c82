"""Objects in any S3-compatible store: Cloudflare R2, AWS S3, SeaweedFS, MinIO.

boto3 is synchronous, so every call that touches the network runs on a small thread pool
of its own: the event loop never waits on S3, and a slow store cannot starve the default
executor the rest of the app shares. Presigning is local computation (SigV4 over the
request) and stays on the caller's thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from boothcloud.settings import Settings
from boothcloud.storage import (
    CHUNK_BYTES,
    PART_BYTES,
    ObjectInfo,
    ObjectReader,
    ObjectWriter,
    attachment,
)
from boothcloud.storage.keys import check_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")
POOL_SIZE = 16
_MISSING = {"404", "NoSuchKey", "NotFound"}
PARTS_IN_FLIGHT = 2  # parts uploading while the next one fills: memory is 3 parts at most


def _missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in _MISSING


class S3Store:
    """`ObjectStore` on one bucket of an S3-compatible service."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket
        self._pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="s3")

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        def secret(value: Any) -> str | None:
            return value.get_secret_value() if value is not None else None

        client: S3Client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=secret(settings.s3_access_key_id),
            aws_secret_access_key=secret(settings.s3_secret_access_key),
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path" if settings.s3_path_style else "virtual"},
                max_pool_connections=POOL_SIZE,
                retries={"max_attempts": 3, "mode": "standard"},
                # R2 and older S3-compatible stores reject the newer default checksums.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )
        return cls(client, settings.s3_bucket)

    async def _call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def put(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo:
        check_key(key)

        def work() -> None:
            if content_type:
                self.client.put_object(
                    Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
                )
            else:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

        await self._call(work)
        info = await self.head(key)
        if info is None:  # pragma: no cover - a store that loses a write it acknowledged
            raise KeyError(key)
        return info

    async def get(self, key: str) -> bytes:
        def work() -> bytes:
            body: bytes = self._body(key).read()
            return body

        return await self._call(work)

    def _body(self, key: str) -> Any:
        """botocore's StreamingBody of the object: it reads from the network as it goes."""
        check_key(key)
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as error:
            if _missing(error):
                raise KeyError(key) from error
            raise

    def open_reader(self, key: str) -> ObjectReader:
        body: ObjectReader = self._body(key)
        return body

    def open_writer(self, key: str, content_type: str | None = None) -> ObjectWriter:
        return _MultipartWriter(self, check_key(key), content_type)

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        def start() -> Iterator[bytes]:
            chunks: Iterator[bytes] = self._body(key).iter_chunks(CHUNK_BYTES)
            return chunks

        chunks = await self._call(start)
        while chunk := await self._call(lambda: next(chunks, b"")):
            yield chunk

    def head_sync(self, key: str) -> ObjectInfo | None:
        """`head`, blocking (for code already on a worker thread)."""
        check_key(key)
        try:
            found = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                return None
            raise
        return ObjectInfo(
            key,
            found["ContentLength"],
            found["LastModified"],
            found["ETag"].strip('"'),
            found.get("ContentType"),
        )

    async def head(self, key: str) -> ObjectInfo | None:
        return await self._call(lambda: self.head_sync(key))

    def submit(self, work: Callable[[], T]) -> Future[T]:
        """Run blocking `work` on the store's own pool (multipart parts in parallel)."""
        return self._pool.submit(work)

    async def delete(self, key: str) -> None:
        check_key(key)
        await self._call(lambda: self.client.delete_object(Bucket=self.bucket, Key=key))

    async def list(self, prefix: str) -> list[ObjectInfo]:
        def work() -> list[ObjectInfo]:
            found: list[ObjectInfo] = []
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    found.append(
                        ObjectInfo(
                            item["Key"],
                            item["Size"],
                            item["LastModified"],
                            item.get("ETag", "").strip('"') or None,
                        )
                    )
            return sorted(found, key=lambda info: info.key)

        return await self._call(work)

    def presign_put(self, key: str, expires_in: int, content_type: str | None = None) -> str:
        """A PUT URL; with `content_type`, the upload must send that exact Content-Type."""
        params = {"Bucket": self.bucket, "Key": check_key(key)}
        if content_type:
            params["ContentType"] = content_type
        url: str = self.client.generate_presigned_url(
            "put_object", Params=params, ExpiresIn=expires_in
        )
        return url

    def presign_get(self, key: str, expires_in: int, download_as: str | None = None) -> str:
        params = {"Bucket": self.bucket, "Key": check_key(key)}
        if download_as is not None:  # S3's (and R2's) signed response-header override
            params["ResponseContentDisposition"] = attachment(download_as)
        url: str = self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires_in
        )
        return url

    async def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (development and tests)."""

        def work() -> None:
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as error:
                if not _missing(error) and "NoSuchBucket" not in str(error):
                    raise
                self.client.create_bucket(Bucket=self.bucket)

        await self._call(work)

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()


class _MultipartWriter:
    """An S3 multipart upload in `PART_BYTES` parts, uploaded on the store's pool while the
    next part fills; an object smaller than one part is one plain PUT. Until `commit`
    completes the upload nothing exists under the key; `abort` discards the parts."""

    def __init__(self, store: S3Store, key: str, content_type: str | None) -> None:
        self._store, self._key = store, key
        self._extra = {"ContentType": content_type} if content_type else {}
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[Future[dict[str, Any]]] = []

    @property
    def _client(self) -> Any:
        return self._store.client

    def write(self, data: bytes) -> int:
        self._buffer += data
        while len(self._buffer) >= PART_BYTES:
            part = bytes(self._buffer[:PART_BYTES])
            del self._buffer[:PART_BYTES]
            self._send(part)
        return len(data)

    def _send(self, part: bytes) -> None:
        if self._upload_id is None:
            started = self._client.create_multipart_upload(
                Bucket=self._store.bucket, Key=self._key, **self._extra
            )
            self._upload_id = str(started["UploadId"])
        in_flight = [f for f in self._parts if not f.done()]
        if len(in_flight) >= PARTS_IN_FLIGHT:
            in_flight[0].result()
        number = len(self._parts) + 1
        self._parts.append(self._store.submit(lambda: self._upload(number, part)))

    def _upload(self, number: int, part: bytes) -> dict[str, Any]:
        answer = self._client.upload_part(
            Bucket=self._store.bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=part,
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def commit(self) -> ObjectInfo:
        bucket = self._store.bucket
        if self._upload_id is None:
            self._client.put_object(
                Bucket=bucket, Key=self._key, Body=bytes(self._buffer), **self._extra
            )
        else:
            if self._buffer:
                self._send(bytes(self._buffer))
            parts = [f.result() for f in self._parts]
            self._client.complete_multipart_upload(
                Bucket=bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": parts},
            )
        self._buffer.clear()
        info = self._store.head_sync(self._key)
        if info is None:  # pragma: no cover - a store that loses a write it acknowledged
            raise KeyError(self._key)
        return info

    def abort(self) -> None:
        self._buffer.clear()
        for future in self._parts:
            future.cancel()
        if self._upload_id is not None:
            for future in self._parts:
                if not future.cancelled():
                    future.exception()  # wait: a part landing after the abort would linger
            self._client.abort_multipart_upload(
                Bucket=self._store.bucket, Key=self._key, UploadId=self._upload_id
            )
