"""One structured line per request, cheap enough to leave on.

uvicorn's access log cost about 41 µs a request (a quarter of a booth's whole `GET` on
this machine): `logging` looks up the caller's stack frame for every line, and the request
line, holding `=` and `?`, ran through every redaction pattern of `boothcloud.logs`. This
middleware builds the line from the fields it already has (method, the path as sent with
its secrets redacted, status, duration, body bytes, client, request id). Under `serve`'s
logging set-up it hands those fields to the request log's handler as they are, to be
formatted with their batch (`logs.request_sink`: the same text, at about half the cost
per request under load); under any other set-up it hands `logging` a finished record (no
frame lookup), marked redacted so the handlers' filter does not scan it again: 14 µs in
isolation against uvicorn's 41. It is outermost, so the duration covers the whole app
and a 413 or 415 from a middleware is logged like any answer.

Every answer carries the id in `Request-Id` (as Stripe's API does), so a booth owner's
support ticket can quote the one line that concerns it, and the headers the app asks every
answer to carry (`Boothcloud-Api-Version`): stamped in the same pass over the answer that
takes its status, rather than by a middleware of their own. The text line is logfmt
(`method=GET path=/api/... status=200 ms=1.20 ...`); with `BOOTHCLOUD_LOG_FORMAT=json` every
log line is a JSON object and these fields are its keys (`boothcloud.logs.JsonFormatter`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from time import perf_counter, time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from boothcloud.logs import ACCESS_LOGGER, redact, request_record, request_sink

log = logging.getLogger(ACCESS_LOGGER)
REQUEST_ID_HEADER = b"request-id"


def target(scope: Scope) -> str:
    """The request target as the client sent it (undecoded), its secrets redacted."""
    raw: bytes | None = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else scope["path"]
    query: bytes = scope.get("query_string", b"")
    return redact(f"{path}?{query.decode('latin-1')}" if query else path)


class access_log:
    """Log each HTTP request once, after its answer, and stamp its `Request-Id` and the
    `stamp` headers on it."""

    def __init__(self, app: ASGIApp, stamp: Sequence[tuple[bytes, bytes]] = ()) -> None:
        self.app = app
        self.stamp = tuple(stamp)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        request_id = "req_" + secrets.token_hex(8)
        status = 0
        size = 0

        async def observed(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    *self.stamp,
                    (REQUEST_ID_HEADER, request_id.encode()),
                ]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            if log.isEnabledFor(logging.INFO):
                emit(scope, status, size, perf_counter() - started, request_id)


def emit(scope: Scope, status: int, size: int, seconds: float, request_id: str) -> None:
    client = scope.get("client")
    fields = {
        "method": scope["method"],
        "path": target(scope),
        "status": status,
        "ms": round(seconds * 1000, 2),
        "bytes": size,
        "client": client[0] if client else "-",
        "request_id": request_id,
    }
    sink = request_sink(log)
    if sink is not None:  # `serve`'s set-up: formatted with its batch, the same text
        sink.add_request((time(), fields))
    else:
        log.handle(request_record(fields))
