"""The app end to end on D1: the route tests, run again on the D1 backend.

The route tests written for the embedded backend (customers, licenses, photos, the print
queue, printers, sessions and their gallery; payments, with their Xendit fixtures, in
test_d1_payments.py) are collected here again with `settings` pointing the app at a local
D1 through the bridge, so the same requests go through the same domain code to D1 instead
of SQLite. Each test gets
an empty D1 (every table dropped), and the app's start-up applies the migrations with
`boothcloud migrate` on the D1 backend.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from boothcloud.db.base import Statement
from boothcloud.db.d1 import D1Database
from boothcloud.settings import Settings
from tests.conftest import make_settings
from tests.customers import test_routes as customer_routes
from tests.db.d1server import Bridge, start_bridge
from tests.licenses import test_heartbeat as heartbeat_routes
from tests.licenses import test_routes as license_routes
from tests.photos import test_photos as photo_routes
from tests.photos import test_print_queue as print_queue_routes
from tests.printers import test_printers as printer_routes
from tests.sessions import test_gallery as gallery_routes
from tests.sessions import test_retention as retention_routes
from tests.sessions import test_sessions as session_routes

pytestmark = pytest.mark.d1


@pytest.fixture(scope="module")
def app_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    if os.environ.get("BOOTHCLOUD_SKIP_D1") == "1":
        pytest.skip("BOOTHCLOUD_SKIP_D1=1: no local D1")
    bridge = start_bridge(tmp_path_factory.mktemp("d1app"), migrate=False)
    try:
        yield bridge
    finally:
        bridge.stop()


async def drop_everything(bridge: Bridge) -> None:
    db = D1Database(bridge.url, bridge.token)
    try:
        rows = await db.fetch_all(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'"
        )
        # Newest first: a child table goes before the parents its foreign keys name.
        drops = [
            Statement(f'DROP {r["type"].upper()} IF EXISTS "{r["name"]}"') for r in reversed(rows)
        ]
        if drops:
            await db.batch([Statement("PRAGMA defer_foreign_keys = TRUE"), *drops])
    finally:
        await db.close()


@pytest.fixture
async def settings(app_bridge: Bridge, tmp_path: Path) -> Settings:
    """Overrides tests/conftest.py's: the same app settings, on an empty D1."""
    await drop_everything(app_bridge)
    return make_settings(
        tmp_path / "data",
        database_backend="d1",
        d1_url=app_bridge.url,
        d1_token=app_bridge.token,
    )


def _route_tests(module: ModuleType) -> dict[str, Any]:
    """The module's tests that run through the shared `client` (and so our `settings`)."""
    found: dict[str, Any] = {}
    for name, function in vars(module).items():
        if not name.startswith("test_") or not inspect.iscoroutinefunction(function):
            continue
        wanted = set(inspect.signature(function).parameters)
        if "tmp_path" in wanted or not wanted & {"client", "customer", "booth", "services"}:
            continue  # builds its own app (on SQLite): nothing to learn here
        found[f"{name}_on_d1"] = function
    return found


for _module in (
    customer_routes,
    license_routes,
    heartbeat_routes,
    photo_routes,
    print_queue_routes,
    printer_routes,
    session_routes,
    gallery_routes,
    retention_routes,
):
    globals().update(_route_tests(_module))


async def test_the_app_runs_on_d1(settings: Settings) -> None:
    from boothcloud.app import create_app

    app = create_app(settings, apply_migrations=True)
    async with app.router.lifespan_context(app):
        assert isinstance(app.state.services.db, D1Database)
