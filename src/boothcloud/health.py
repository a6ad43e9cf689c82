"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter

from boothcloud.db.migrate import pending
from boothcloud.deps import ServicesDep
from boothcloud.errors import ServiceUnavailable

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: database reachable and migrations current",
    responses={503: {"description": "Not ready", "content": {"application/problem+json": {}}}},
)
async def readyz(services: ServicesDep) -> dict[str, str]:
    try:
        await services.db.fetch_one("SELECT 1 AS ok")
        waiting = await pending(services.db, services.settings.migrations_path)
    except Exception as error:
        raise ServiceUnavailable(f"database unreachable: {type(error).__name__}") from error
    if waiting:
        raise ServiceUnavailable(f"{len(waiting)} migration(s) pending")
    return {"status": "ready", "database": "ok", "migrations": "current"}
