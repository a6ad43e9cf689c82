"""A lean HTTP/1.1 keep-alive client for the D1 bridge's JSON `POST`s.

Every D1 statement is one HTTP call to the bridge, so the client's cost per call is paid on
every request. httpx spent 1.6-1.9 ms of CPU per call here (its request and response
models, anyio, and httpcore looking for `sniffio` with a failing import on every call);
this client, a pool of asyncio streams speaking exactly the HTTP/1.1 the bridge needs,
spends about 0.2 ms (measured against local workerd, docs/d1.md). It sends
`Accept-Encoding: identity` (no gzip to undo for a few hundred bytes of JSON), reads
`Content-Length` or chunked bodies, and keeps connections open for the next call.

Retries: a call that fails on the transport is retried once on a fresh connection only
when the caller says it is safe (a read, or a batch of reads). A write is never retried:
the bridge may have applied it before the connection broke. A pooled connection is reused
only while the server has not closed it and it has been idle under 20 s.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

IDLE_SECONDS = 20.0  # drop pooled connections idle this long (servers close them anyway)
MAX_IDLE = 64
MAX_HEADER_BYTES = 64 * 1024


class TransportError(Exception):
    """The bridge could not be reached or broke the connection (no HTTP answer)."""


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self, now: float) -> bool:
        return (
            not self.writer.is_closing()
            and not self.reader.at_eof()
            and now - self.idle_since < IDLE_SECONDS
        )

    def close(self) -> None:
        self.writer.close()


class BridgeHTTP:
    """`post(path, body)` to one origin over reused HTTP/1.1 connections."""

    def __init__(
        self, url: str, headers: dict[str, str], *, timeout: float, connect_timeout: float
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the D1 bridge URL must be http(s)://host[:port]: {url!r}")
        self._host = parts.hostname
        self._tls = parts.scheme == "https"
        self._port = parts.port or (443 if self._tls else 80)
        self._prefix = parts.path.rstrip("/")
        fixed = {
            "Host": parts.netloc,
            "Content-Type": "application/json",
            "Accept-Encoding": "identity",
            **headers,
        }
        self._head = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._ssl = ssl.create_default_context() if self._tls else None
        self._idle: list[_Connection] = []

    async def post(self, path: str, body: bytes, *, safe: bool) -> tuple[int, bytes]:
        """(status, body) of one `POST`; retried once on a new connection if `safe`."""
        request = (
            f"POST {self._prefix}{path} HTTP/1.1\r\n{self._head}Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1") + body
        try:
            return await self._send(self._pooled(), request)
        except TransportError:
            if not safe:
                raise
        return await self._send(None, request)  # a read: once more, on a new connection

    async def _send(self, connection: _Connection | None, request: bytes) -> tuple[int, bytes]:
        try:
            if connection is None:
                connection = await self._connect()
            return await self._exchange(connection, request)
        except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError) as error:
            if connection is not None:
                connection.close()
            raise TransportError(repr(error)) from error

    def _pooled(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if connection.usable(now):
                return connection
            connection.close()
        return None

    async def _connect(self) -> _Connection:
        async with asyncio.timeout(self._connect_timeout):
            reader, writer = await asyncio.open_connection(
                self._host, self._port, ssl=self._ssl, limit=MAX_HEADER_BYTES
            )
        return _Connection(reader, writer)

    async def _exchange(self, connection: _Connection, request: bytes) -> tuple[int, bytes]:
        async with asyncio.timeout(self._timeout):
            connection.writer.write(request)
            await connection.writer.drain()
            status, keep_alive, body = await _read_response(connection.reader)
        if keep_alive and len(self._idle) < MAX_IDLE:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()
        return status, body

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    status = int(rest[:3])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return status, keep_alive, await _read_chunked(reader)
    length = headers.get("content-length")
    if length is None:  # body until the server closes
        return status, False, await reader.read()
    return status, keep_alive, await reader.readexactly(int(length))


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
