"""A leaner request path for the simplest routes, with FastAPI's meaning kept.

FastAPI's general dependency solver costs more per request than everything else a
booth's `GET /api/customers/:id` does (bench/: 119 us in-process against 53 us for the
same auth and service code without it). Most routes here need little of it: string path
parameters, the request, and async dependencies built only from those (the database, the
caller). For such an endpoint `LeanRoute` resolves the parameters itself (dependencies
once per request, as FastAPI caches them) and calls the endpoint; any other endpoint
(query, header, cookie or body parameters, sync callables, non-Response returns) goes
through FastAPI's own handler unchanged. OpenAPI is generated from the same route, so the
documentation cannot drift from what runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, get_type_hints

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, _effective_route_context_var
from starlette.requests import Request
from starlette.responses import Response

Resolver = Callable[[Request, dict[Any, Any]], Awaitable[dict[str, Any]]]


def _is_simple(dependant: Dependant) -> bool:
    if (
        dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
    ):
        return False
    if any(field.field_info.annotation is not str for field in dependant.path_params):
        return False
    call = dependant.call
    if call is not None and not inspect.iscoroutinefunction(call):
        return False
    return all(_is_simple(sub) for sub in dependant.dependencies)


def _arguments(dependant: Dependant) -> Resolver:
    """Build the keyword arguments of `dependant.call` for one request."""
    path_names = [field.name for field in dependant.path_params]
    request_name = dependant.request_param_name
    subs = [(sub.name, sub.call, _arguments(sub)) for sub in dependant.dependencies]

    async def resolve(request: Request, cache: dict[Any, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {name: request.path_params[name] for name in path_names}
        if request_name:
            values[request_name] = request
        for name, call, arguments in subs:
            if call not in cache:
                assert call is not None
                cache[call] = await call(**await arguments(request, cache))
            if name:
                values[name] = cache[call]
        return values

    return resolve


def _returns_response(call: Callable[..., Any]) -> bool:
    try:
        returned = get_type_hints(call).get("return")
    except (NameError, TypeError):
        return False
    return isinstance(returned, type) and issubclass(returned, Response)


class LeanRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        # As APIRoute does: a route included into another router runs with the included
        # context's dependant (prefix-level dependencies added at include time).
        context = _effective_route_context_var.get()
        dependant: Dependant = self.dependant
        if context is not None and context.original_route is self:
            dependant = context.dependant
        endpoint = dependant.call
        if endpoint is None or not _is_simple(dependant) or not _returns_response(endpoint):
            return super().get_route_handler()
        arguments = _arguments(dependant)

        async def handler(request: Request) -> Response:
            response: Response = await endpoint(**await arguments(request, {}))
            return response

        return handler
