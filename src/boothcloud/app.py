"""The application factory: services, routers, problem+json handlers, background jobs."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from boothcloud import jobs
from boothcloud.accesslog import access_log
from boothcloud.apidocs import router as docs_router
from boothcloud.backups.routes import router as backups_router
from boothcloud.console.routes import router as console_router
from boothcloud.customers.routes import router as customers_router
from boothcloud.db import open_database
from boothcloud.db.migrate import migrate, pending
from boothcloud.deps import Services
from boothcloud.health import router as health_router
from boothcloud.http import (
    install_error_handlers,
    limit_body_size,
    refuse_repeated_query,
    require_json_body,
)
from boothcloud.licenses.certificates import CertificateSigner
from boothcloud.licenses.ratelimit import RateLimiter
from boothcloud.licenses.routes import router as licenses_router
from boothcloud.openapi import problem_openapi
from boothcloud.payments.routes import router as payments_router
from boothcloud.payments.routes import webhook_router
from boothcloud.photos.routes import router as photos_router
from boothcloud.printers.routes import router as printers_router
from boothcloud.refunds.routes import router as refunds_router
from boothcloud.refunds.routes import webhook_router as refund_webhook_router
from boothcloud.sessions.gallery import install_gallery_pages
from boothcloud.sessions.gallery import router as gallery_router
from boothcloud.sessions.routes import branding_router
from boothcloud.sessions.routes import router as sessions_router
from boothcloud.settings import Settings, get_settings
from boothcloud.storage.factory import open_store
from boothcloud.storage.routes import OBJECTS_PREFIX
from boothcloud.storage.routes import router as objects_router
from boothcloud.venues.routes import router as venues_router
from boothcloud.version import VERSION_HEADER
from boothcloud.version import router as version_router

log = logging.getLogger("boothcloud")

API_DESCRIPTION = """\
Cloud backend for photobooth businesses: customers and license keys, device activations
with offline certificates, guest payments through Xendit, photos and their print queue,
printers, and database backups.

**Auth**: operator `Authorization: Bearer <admin token>`; booth
`Authorization: License <license key>` (scoped to its own customer).
**Errors**: RFC 9457 `application/problem+json` everywhere.
**Version**: every answer carries `Boothcloud-Api-Version` (see `GET /api/version`).
"""


# Every router of the API, matched in this order (the booths' busiest first; no paths
# overlap). Tests and the 405 handler walk these rather than the app's route table, whose
# included-router wrappers are FastAPI internals.
ROUTERS: tuple[APIRouter, ...] = (
    customers_router,
    licenses_router,
    photos_router,
    printers_router,
    payments_router,
    venues_router,
    refunds_router,
    sessions_router,
    branding_router,
    gallery_router,
    webhook_router,
    refund_webhook_router,
    objects_router,
    backups_router,
    console_router,
    health_router,
    version_router,
    docs_router,
)


def api_routes() -> list[APIRoute]:
    """Every route this service declares, with its full path."""
    return [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]


class PendingMigrations(RuntimeError):
    """`serve` refuses a database whose schema is behind the code."""


async def build_services(settings: Settings, *, apply_migrations: bool) -> Services:
    db = open_database(settings)
    waiting = await pending(db, settings.migrations_path)
    if waiting and not apply_migrations:
        await db.close()
        names = ", ".join(m.name for m in waiting)
        raise PendingMigrations(
            f"database has pending migrations ({names}): run `boothcloud migrate` "
            "or serve with --migrate"
        )
    if waiting:
        applied = await migrate(db, settings.migrations_path)
        log.info("applied migrations: %s", ", ".join(applied))
    return Services(
        settings=settings,
        db=db,
        store=open_store(settings),
        signer=CertificateSigner.load_or_create(settings),
        validate_limiter=RateLimiter(settings.validate_rate_limit_per_minute),
        auth_limiter=RateLimiter(settings.auth_failure_limit_per_minute),
    )


def create_app(settings: Settings | None = None, *, apply_migrations: bool = False) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await build_services(settings, apply_migrations=apply_migrations)
        app.state.services = services
        # What is alive now (modules, routes, schemas, services) lives as long as the
        # process: moved out of the collector's generations, no collection rescans it.
        gc.freeze()
        runner = jobs.start(services)
        try:
            yield
        finally:
            await runner.stop()
            await services.store.close()
            await services.db.close()

    app = FastAPI(
        title="boothcloud",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from the package (apidocs), not from a CDN
        redoc_url=None,
    )
    app.openapi = problem_openapi(app)  # type: ignore[method-assign]
    install_error_handlers(app)
    install_gallery_pages(app)
    app.add_middleware(limit_body_size, max_bytes=settings.max_body_bytes, exempt=(OBJECTS_PREFIX,))
    app.add_middleware(require_json_body, api=app)
    app.add_middleware(refuse_repeated_query)
    # Outermost: times and logs everything (413/415 too) and stamps every answer, errors
    # and 404s included, with its Request-Id and the API version.
    app.add_middleware(access_log, stamp=(VERSION_HEADER,))
    for router in ROUTERS:
        app.include_router(router)
    return app
