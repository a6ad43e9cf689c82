"""`/docs` from the package itself: Swagger UI's assets are served here, never from a CDN.

FastAPI's default `/docs` page loads Swagger UI from jsDelivr, so it is blank offline (a
booth operator's laptop at a venue) and tells a third party who reads the docs. The assets
come from the pinned `swagger-ui-bundle-v2` wheel; the page is FastAPI's public
`get_swagger_ui_html` pointed at them. Swagger UI's online validator badge is off too (it
would send the schema's URL to validator.swagger.io). ReDoc is not served: no pinned
package ships it, and one documentation page is enough.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from boothcloud.errors import NotFound

DOCS_URL = "/docs"
ASSETS_URL = f"{DOCS_URL}/assets"
ASSET_DIR = Path(str(swagger_ui_path))
# Only what the page loads; the bundle's templates and other builds stay unserved.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


# The page is the same for every app (this service's title and schema URL), so it is built
# once; create the app with `docs_url=None, redoc_url=None` and include `router`.
PAGE = get_swagger_ui_html(
    openapi_url="/openapi.json",
    title="boothcloud API",
    swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
    swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
    swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
    swagger_ui_parameters={"validatorUrl": None},
).body

router = APIRouter(include_in_schema=False)


@router.get(DOCS_URL)
async def docs() -> HTMLResponse:
    return HTMLResponse(PAGE)


@router.get(ASSETS_URL + "/{name}")
async def asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"no documentation asset {name}")
    return FileResponse(
        ASSET_DIR / name, media_type=media_type, headers={"Cache-Control": "max-age=86400"}
    )
