"""`/docs` works offline (every asset from this server) and the probes answer HEAD."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest

from boothcloud.app import create_app
from boothcloud.settings import Settings
from tests.live import serve_in_thread

URL_ATTRIBUTE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
ABSOLUTE_URL = re.compile(r"""\b[a-z][a-z0-9+.-]*://|["']//""", re.IGNORECASE)


async def test_docs_load_nothing_from_another_origin(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert ABSOLUTE_URL.search(page.text) is None, "the page names another origin"
    referenced = URL_ATTRIBUTE.findall(page.text)
    assert len(referenced) == 3  # stylesheet, favicon, script
    for url in [*referenced, "/openapi.json"]:
        assert urlsplit(url).netloc == ""
        assert url.startswith("/")
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 0
    script = await client.get(next(u for u in referenced if u.endswith(".js")))
    assert "SwaggerUIBundle" in script.text
    assert '"validatorUrl": null' in page.text  # no badge fetched from validator.swagger.io


async def test_redoc_is_not_served_from_a_cdn(client: httpx.AsyncClient) -> None:
    assert (await client.get("/redoc")).status_code == 404


async def test_unknown_docs_asset_is_a_problem_not_a_file(client: httpx.AsyncClient) -> None:
    for name in ("index.j2", "..%2Fpyproject.toml", "swagger-ui.js.map"):
        response = await client.get(f"/docs/assets/{name}")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_head_over_real_http(settings: Settings, path: str) -> None:
    # A real server: uvicorn, not the ASGI test transport, decides what HEAD sends.
    with serve_in_thread(create_app(settings, apply_migrations=True)) as url:
        get = httpx.get(url + path)
        head = httpx.head(url + path)
    assert get.status_code == head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
