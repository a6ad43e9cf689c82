"""`app.dependency_overrides` means what FastAPI says on every route.

The app once had a custom route class that skipped FastAPI's solver and silently ignored
overrides (issue 12, item 10); it was dropped. This walks the route table so a route that
stops honouring an override, whatever the reason, fails here.
"""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from boothcloud.app import api_routes
from boothcloud.auth import require_caller
from boothcloud.errors import ProblemError


class Overridden(ProblemError):
    status = 418
    slug = "overridden"
    title = "The override ran"


async def _refuse() -> None:
    raise Overridden("override")


def _depends_on(route: APIRoute, call: object) -> bool:
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        if dependant.call is call:
            return True
        pending.extend(dependant.dependencies)
    return False


async def test_every_authenticated_route_honours_an_override(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    routes = [r for r in api_routes() if _depends_on(r, require_caller)]
    assert len(routes) > 20  # the whole API, not a sample
    app.dependency_overrides[require_caller] = _refuse
    try:
        for route in routes:
            path = re.sub(r"\{[^}]+\}", "x", route.path)
            for method in route.methods:
                # Dependencies are solved before the body is validated: the override
                # answers whatever the body.
                answer = await client.request(method, path, json={})
                assert answer.status_code == 418, (method, route.path, answer.text)
    finally:
        app.dependency_overrides.clear()
