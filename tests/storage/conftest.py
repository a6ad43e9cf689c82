"""The object-store tests run every test against both backends: the local folder (its
presigned URLs served by the app itself) and a real SeaweedFS S3 server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from boothcloud.app import create_app
from boothcloud.deps import Services
from boothcloud.storage import ObjectStore
from tests.conftest import make_settings
from tests.s3server import S3Server, s3_server  # noqa: F401 - the session fixture


@dataclass
class Backend:
    name: str
    store: ObjectStore
    http: httpx.AsyncClient  # fetches presigned URLs: the app (local) or the network (S3)
    api: httpx.AsyncClient  # the app's API
    services: Services
    prefix: str  # keys of this test live under it (the S3 bucket is shared)


@pytest.fixture(params=["local", "s3"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    overrides: dict[str, Any] = {"max_object_bytes": 4096}
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        overrides.update(server.settings())
    app = create_app(make_settings(tmp_path / "data", **overrides), apply_migrations=True)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as api,
            httpx.AsyncClient(transport=transport)
            if request.param == "local"
            else httpx.AsyncClient() as http,
        ):
            yield Backend(request.param, services.store, http, api, services, f"t/{tmp_path.name}/")
