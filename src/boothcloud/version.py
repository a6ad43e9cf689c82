"""The API's version, stated on every answer and at `GET /api/version`.

Booth software outlives server deploys by months, so a client must learn before it acts
whether it speaks this server's API. `API_VERSION` is one integer, raised only for a change
that breaks existing clients (a removed field or route, a changed meaning); additions keep
it. Every response carries it in `Boothcloud-Api-Version` (`VERSION_HEADER`, stamped by the
outermost middleware, `accesslog.access_log`, so error answers and 404s carry it too), and a
client checks it on whatever call it makes, with no extra round trip.
"""

from __future__ import annotations

from importlib.metadata import version

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from boothcloud.http import respond

API_VERSION = 1
API_VERSION_HEADER = "Boothcloud-Api-Version"
VERSION_HEADER = (API_VERSION_HEADER.lower().encode(), str(API_VERSION).encode())

router = APIRouter(prefix="/api", tags=["version"])


class VersionInfo(BaseModel):
    api_version: int = Field(
        description="Raised only by a change that breaks existing clients; additions keep it."
    )
    server_version: str = Field(description="The boothcloud release serving this answer.")


@router.get("/version", response_model=VersionInfo, summary="The API version this server speaks")
async def api_version() -> Response:
    return respond(VersionInfo(api_version=API_VERSION, server_version=version("boothcloud")))
