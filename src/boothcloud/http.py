"""HTTP plumbing: every error as RFC 9457 problem+json, and the request body size cap."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from boothcloud.db.base import IntegrityViolation
from boothcloud.errors import (
    PROBLEM_JSON,
    BadRequest,
    FieldError,
    PayloadTooLarge,
    ProblemError,
    ValidationFailed,
    constraint_error,
    problem_body,
)

log = logging.getLogger("boothcloud.http")

_SLUGS = {
    400: ("bad-request", "Malformed request"),
    401: ("unauthorized", "Missing or invalid credentials"),
    403: ("forbidden", "Not allowed for these credentials"),
    404: ("not-found", "Resource not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def problem_json(body: dict[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=body["status"], media_type=PROBLEM_JSON, headers=headers
    )


def problem_response(error: ProblemError) -> Response:
    return problem_json(error.body(), error.headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] or parts
    return ".".join(parts) or "body"


def validation_problem(error: RequestValidationError) -> ProblemError:
    """FastAPI's validation errors, reshaped; unparseable JSON is a 400, not a 422."""
    details = error.errors()
    if any(d.get("type") == "json_invalid" for d in details):
        return BadRequest("request body is not valid JSON")
    fields = [FieldError(_field_name(tuple(d.get("loc", ()))), str(d.get("msg"))) for d in details]
    summary = "; ".join(f"{f.field}: {f.message}" for f in fields[:5])
    return ValidationFailed(summary or "invalid request", errors=fields)


def install_error_handlers(app: FastAPI) -> None:
    async def on_problem(_: Request, error: Exception) -> Response:
        assert isinstance(error, ProblemError)
        return problem_response(error)

    async def on_validation(_: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        return problem_response(validation_problem(error))

    async def on_http(_: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        slug, title = _SLUGS.get(error.status_code, ("http-error", "HTTP error"))
        body = problem_body(error.status_code, slug, title, str(error.detail))
        return problem_json(body, error.headers)

    async def on_integrity(_: Request, error: Exception) -> Response:
        assert isinstance(error, IntegrityViolation)
        mapped = constraint_error(error.constraint)
        if mapped is None:
            log.error("unmapped constraint violation: %s", error.constraint)
            mapped = ValidationFailed(f"the request conflicts with a rule ({error.kind})")
        return problem_response(mapped)

    async def on_unexpected(_: Request, error: Exception) -> Response:
        log.exception("unhandled error", exc_info=error)
        return problem_json(
            problem_body(500, "internal-error", "Internal server error", "unexpected error")
        )

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(IntegrityViolation, on_integrity)
    app.add_exception_handler(Exception, on_unexpected)


class limit_body_size:
    """Refuse bodies over the limit with 413, by Content-Length or by counting the stream."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt  # paths with a limit of their own (object uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                # The server enforces Content-Length framing, so the header can be trusted.
                if value.isdigit() and int(value) > self.max_bytes:
                    await self._too_large(send)
                    return
                await self.app(scope, receive, send)
                return
            if name == b"transfer-encoding":
                chunked = True
        if not chunked:  # neither header: HTTP/1.1 has no body here
            await self.app(scope, receive, send)
            return
        # Chunked body of unknown length: read at most the limit before the app sees it.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        error = PayloadTooLarge(f"request body exceeds {self.max_bytes} bytes")
        await problem_response(error)({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def respond(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Serialize a response model in pydantic-core (Rust), skipping a second validation."""
    return Response(
        model.model_dump_json(), status_code=status, media_type="application/json", headers=headers
    )
