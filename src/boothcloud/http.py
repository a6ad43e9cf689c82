"""HTTP plumbing: every error as RFC 9457 problem+json, the body size cap, JSON bodies only.

A 405 names in `Allow` every method of the path (RFC 9110 section 15.5.6), not only the
first route Starlette tried; a route whose OpenAPI operation takes a JSON body answers 415
to any other Content-Type (or none), instead of a puzzling "valid dictionary" 422.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from boothcloud.db.base import IntegrityViolation
from boothcloud.errors import (
    PROBLEM_JSON,
    BadRequest,
    FieldError,
    PayloadTooLarge,
    ProblemError,
    UnsupportedMediaType,
    ValidationFailed,
    constraint_error,
    problem_body,
)
from boothcloud.openapi import takes_json

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


def validation_problem(details: Sequence[Any]) -> ProblemError:
    """Pydantic's (or FastAPI's) validation errors, reshaped; unparseable JSON is a 400."""
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
        return problem_response(validation_problem(error.errors()))

    async def on_http(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        slug, title = _SLUGS.get(error.status_code, ("http-error", "HTTP error"))
        body = problem_body(error.status_code, slug, title, str(error.detail))
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app.routes, request.scope))
        return problem_json(body, headers)

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


def _routes_for_path(routes: Sequence[BaseRoute], scope: Scope) -> list[APIRoute]:
    """The API routes whose path matches the request's, whatever their methods (FastAPI
    0.136, pinned, copies included routers' routes into the app's table)."""
    return [
        route
        for route in routes
        if isinstance(route, APIRoute) and route.matches(scope)[0] is not Match.NONE
    ]


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route serves at the request's path, for a 405's `Allow`."""
    methods = {m for route in _routes_for_path(routes, scope) for m in route.methods or ()}
    return sorted(methods)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class require_json_body:
    """415 for a JSON route called with another Content-Type, or none.

    Which routes take JSON is read from the app's OpenAPI document (the contract clients
    see), once, on the first request that does not declare JSON; JSON requests cost one
    header check.
    """

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self._json_operations: set[tuple[str, str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
            if not _is_json(content_type.decode("latin-1")) and self._takes_json(scope):
                error = UnsupportedMediaType(
                    "this route takes a JSON body: send it with `Content-Type: application/json`"
                )
                await problem_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _takes_json(self, scope: Scope) -> bool:
        if self._json_operations is None:
            self._json_operations = {
                (path, method.upper())
                for path, item in self.api.openapi().get("paths", {}).items()
                for method, operation in item.items()
                if isinstance(operation, dict) and takes_json(operation)
            }
        return any(
            (route.path_format, scope["method"]) in self._json_operations
            for route in _routes_for_path(self.api.routes, scope)
            if scope["method"] in (route.methods or ())
        )


class refuse_repeated_query:
    """422 for an API query parameter given more than once (`?q=a&q=b`).

    No parameter of this API takes a list (tests/test_errors.py checks the OpenAPI
    document), and FastAPI would silently keep the last value: a search for `b`, a page
    size nobody meant. Only requests with a query string pay for the check.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if query and scope["path"].startswith("/api/"):
            names = [name for name, _ in parse_qsl(query.decode("latin-1"), True)]
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                fields = [
                    FieldError(name, "given more than once; send it once") for name in repeated
                ]
                error = ValidationFailed(f"{repeated[0]}: given more than once", errors=fields)
                await problem_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


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
