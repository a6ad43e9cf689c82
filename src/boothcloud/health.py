"""Liveness and readiness probes for load balancers and orchestrators.

Both answer HEAD as well as GET (one endpoint, two documented operations): many probes
(and `curl -I`) send HEAD, and a 405 there reads as "down".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from boothcloud.db.migrate import pending
from boothcloud.deps import ServicesDep
from boothcloud.errors import ServiceUnavailable
from boothcloud.replication.status import replication_status

router = APIRouter(tags=["health"])
NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"description": "Not ready", "content": {"application/problem+json": {}}}
}


@router.head("/healthz", summary="Liveness, headers only")
@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.head("/readyz", summary="Readiness, headers only", responses=NOT_READY)
@router.get(
    "/readyz",
    summary="Readiness: database reachable and migrations current; replication reported",
    responses=NOT_READY,
)
async def readyz(services: ServicesDep) -> dict[str, str]:
    try:
        await services.db.fetch_one("SELECT 1 AS ok")
        waiting = await pending(services.db, services.settings.migrations_path)
    except Exception as error:
        raise ServiceUnavailable(f"database unreachable: {type(error).__name__}") from error
    if waiting:
        raise ServiceUnavailable(f"{len(waiting)} migration(s) pending")
    # Reported, not gating: a replica store outage must not take the API down with it
    # (docs/decisions.md, "Replication health in /readyz").
    replication = await replication_status(services.settings)
    return {
        "status": "ready",
        "database": "ok",
        "migrations": "current",
        "replication": replication.state,
        "replication_detail": replication.detail,
    }
