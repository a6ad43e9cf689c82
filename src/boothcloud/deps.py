"""What a request handler may depend on, as `Annotated` aliases.

The app builds one `Services` at start-up (lifespan) and keeps it on `app.state`; routes
ask for the piece they need (`DbDep`, `SettingsDep`, ...) and tests get the same objects
through the same app, on real files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from boothcloud.db.base import Database
from boothcloud.settings import Settings
from boothcloud.storage import ObjectStore

if TYPE_CHECKING:
    from boothcloud.licenses.certificates import CertificateSigner
    from boothcloud.licenses.ratelimit import RateLimiter


@dataclass
class Services:
    settings: Settings
    db: Database
    store: ObjectStore
    signer: CertificateSigner
    validate_limiter: RateLimiter
    auth_limiter: RateLimiter  # failed authentication per client
    # Per-domain extras (payment provider client, ...), set by the domain at start-up.
    extras: dict[str, Any] = field(default_factory=dict)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


# `async def`, not `def`: FastAPI runs a plain-`def` dependency in its thread pool (one
# thread hop per dependency per request); these only read an attribute.
async def get_services(request: Request) -> Services:
    return _services(request)


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_db(request: Request) -> Database:
    return _services(request).db


async def get_settings_dep(request: Request) -> Settings:
    return _services(request).settings


async def get_store(request: Request) -> ObjectStore:
    return _services(request).store


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
StoreDep = Annotated[ObjectStore, Depends(get_store)]
