"""The D1 bridge's HTTP client against a real loopback server: keep-alive, chunked bodies,
and retries only for calls the caller marks safe (a read)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from boothcloud.db.bridgehttp import BridgeHTTP, TransportError


class Server:
    """Answers each request with its own number, chunked; `drop` requests are read and the
    connection closed without an answer (a bridge that broke mid-request)."""

    def __init__(self) -> None:
        self.requests = 0
        self.connections = 0
        self.drop: set[int] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                self.requests += 1
                if self.requests in self.drop:
                    writer.close()
                    return
                body = b'{"n": %d}' % self.requests
                writer.write(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, BridgeHTTP]]:
    state = Server()
    listener = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    client = BridgeHTTP(f"http://127.0.0.1:{port}", {}, timeout=5, connect_timeout=5)
    try:
        yield state, client
    finally:
        await client.close()
        listener.close()
        await listener.wait_closed()


async def test_connections_are_reused_and_chunked_bodies_read(
    server: tuple[Server, BridgeHTTP],
) -> None:
    state, client = server
    answers = [await client.post("/query", b"{}", safe=False) for _ in range(3)]
    assert answers == [(200, b'{"n": %d}' % n) for n in (1, 2, 3)]
    assert state.connections == 1


async def test_a_read_is_retried_once_on_a_new_connection(
    server: tuple[Server, BridgeHTTP],
) -> None:
    state, client = server
    state.drop = {1}
    assert await client.post("/query", b"{}", safe=True) == (200, b'{"n": 2}')
    assert (state.requests, state.connections) == (2, 2)


async def test_a_write_is_never_sent_twice(server: tuple[Server, BridgeHTTP]) -> None:
    state, client = server
    state.drop = {1}
    with pytest.raises(TransportError):
        await client.post("/batch", b"{}", safe=False)
    assert state.requests == 1
