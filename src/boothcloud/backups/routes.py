"""Backup routes for the operator: thin, the work lives in `service`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from boothcloud.auth import OperatorDep
from boothcloud.backups import service
from boothcloud.backups.schemas import Backup, BackupList
from boothcloud.deps import ServicesDep
from boothcloud.http import respond
from boothcloud.openapi import problems

router = APIRouter(prefix="/api/admin/backups", tags=["backups"])


@router.post(
    "",
    status_code=201,
    response_model=Backup,
    summary="Take a backup now (consistent snapshot; writers are not blocked)",
    responses=problems(401, 403),
)
async def create_backup(services: ServicesDep, _: OperatorDep) -> Response:
    backup = await service.create_backup(
        services.db, services.store, retention=services.settings.backup_retention
    )
    return respond(backup, 201)


@router.get(
    "",
    response_model=BackupList,
    summary="List backups, newest first",
    responses=problems(401, 403),
)
async def list_backups(services: ServicesDep, _: OperatorDep) -> Response:
    return respond(BackupList(items=await service.list_backups(services.store)))
