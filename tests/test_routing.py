"""LeanRoute: the simple endpoints skip FastAPI's solver, with the same meaning."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from boothcloud.routing import LeanRoute, _is_simple, _returns_response

CALLS: list[str] = []
router = APIRouter(prefix="/things", route_class=LeanRoute)


async def who(request: Request) -> str:
    CALLS.append("who")
    return request.headers.get("x-who", "nobody")


async def loud(name: Annotated[str, Depends(who)]) -> str:
    return name.upper()


@router.get("/{thing_id}")
async def get_thing(
    thing_id: str, name: Annotated[str, Depends(who)], shout: Annotated[str, Depends(loud)]
) -> Response:
    return Response(f"{thing_id}:{name}:{shout}")


@router.get("")
async def list_things(limit: int = 5) -> Response:
    return Response(f"limit={limit}")


async def test_simple_routes_resolve_path_and_cached_dependencies() -> None:
    app = FastAPI()
    app.include_router(router)
    CALLS.clear()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        answer = await c.get("/things/abc", headers={"x-who": "booth"})
        assert answer.text == "abc:booth:BOOTH"
        assert CALLS == ["who"]  # once per request, as FastAPI caches dependencies
        assert (await c.get("/things?limit=7")).text == "limit=7"  # FastAPI's own handler
        assert (await c.get("/things?limit=x")).status_code == 422


def test_which_boothcloud_routes_take_the_lean_path() -> None:
    from boothcloud.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(Path("unused")))
    lean = set()
    for included in app.routes:
        for route in getattr(getattr(included, "original_router", None), "routes", []):
            simple = isinstance(route, LeanRoute) and _is_simple(route.dependant)
            if simple and _returns_response(route.dependant.call):
                lean.add((next(iter(route.methods)), route.path))
    assert ("GET", "/api/customers/{customer_id}") in lean
    assert ("POST", "/api/printers/{printer_id}/claim") in lean
    assert ("POST", "/api/licenses/validate") not in lean  # a body: FastAPI's handler
    assert ("GET", "/api/customers") not in lean  # query parameters: FastAPI's handler
