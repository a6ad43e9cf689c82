"""The API's version, stated on every answer and at `GET /api/version`.

Booth software outlives server deploys by months, so a client must learn before it acts
whether it speaks this server's API. `API_VERSION` is one integer, raised only for a change
that breaks existing clients (a removed field or route, a changed meaning); additions keep
it. Every response carries it in `Boothcloud-Api-Version` (set by `state_api_version`,
outermost, so error answers and 404s carry it too), and a client checks it on whatever call
it makes, with no extra round trip.
"""

from __future__ import annotations

from importlib.metadata import version

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from boothcloud.http import respond

API_VERSION = 1
API_VERSION_HEADER = "Boothcloud-Api-Version"

router = APIRouter(prefix="/api", tags=["version"])


class VersionInfo(BaseModel):
    api_version: int = Field(
        description="Raised only by a change that breaks existing clients; additions keep it."
    )
    server_version: str = Field(description="The boothcloud release serving this answer.")


@router.get("/version", response_model=VersionInfo, summary="The API version this server speaks")
async def api_version() -> Response:
    return respond(VersionInfo(api_version=API_VERSION, server_version=version("boothcloud")))


class state_api_version:
    """Add `Boothcloud-Api-Version` to every HTTP response (pure ASGI: streams untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.header = (API_VERSION_HEADER.lower().encode(), str(API_VERSION).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, stamped)
