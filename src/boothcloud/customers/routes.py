"""Customer routes: thin, rules live in `service`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from boothcloud.auth import CallerDep, OperatorDep
from boothcloud.customers import service
from boothcloud.customers.schemas import (
    Customer,
    CustomerCreate,
    CustomerPage,
    CustomerPatch,
    EmailQuery,
    LicenseStatus,
    SearchQuery,
)
from boothcloud.deps import DbDep
from boothcloud.http import respond
from boothcloud.openapi import problems
from boothcloud.pagination import CursorQuery, LimitQuery
from boothcloud.settings import Tier

router = APIRouter(prefix="/api/customers", tags=["customers"])


@router.post(
    "",
    status_code=201,
    response_model=Customer,
    summary="Create a customer and its license key",
    responses=problems(400, 401, 403, 409, 413, 422),
)
async def create_customer(body: CustomerCreate, db: DbDep, _: OperatorDep) -> Response:
    customer = await service.create(db, body)
    return respond(customer, 201, {"Location": f"/api/customers/{customer.id}"})


@router.get(
    "",
    response_model=CustomerPage,
    summary="List customers, newest first",
    responses=problems(401, 403, 422),
)
async def list_customers(
    db: DbDep,
    _: OperatorDep,
    email: Annotated[EmailQuery | None, Query(description="Exactly this email.")] = None,
    license_type: Tier | None = None,
    license_status: LicenseStatus | None = None,
    q: Annotated[
        SearchQuery | None, Query(description="Part of the name or the email, any case.")
    ] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Response:
    return respond(
        await service.list_page(
            db,
            email=email,
            license_type=license_type,
            cursor=cursor,
            limit=limit,
            search=q,
            license_status=license_status,
        )
    )


@router.get(
    "/{customer_id}",
    response_model=Customer,
    summary="Get a customer (operator, or the customer's own booth)",
    responses=problems(401, 403, 404),
)
async def get_customer(customer_id: str, db: DbDep, caller: CallerDep) -> Response:
    return respond(await service.get(db, caller, customer_id))


@router.patch(
    "/{customer_id}",
    response_model=Customer,
    summary="Update a customer, its tier, status or expiry",
    responses=problems(400, 401, 403, 404, 409, 413, 422),
)
async def patch_customer(
    customer_id: str, body: CustomerPatch, db: DbDep, _: OperatorDep
) -> Response:
    return respond(await service.patch(db, customer_id, body))


@router.post(
    "/{customer_id}/license-key",
    response_model=Customer,
    summary="Rotate the license key; the old key stops working at once",
    responses=problems(401, 403, 404),
)
async def rotate_license_key(customer_id: str, db: DbDep, _: OperatorDep) -> Response:
    return respond(await service.rotate_key(db, customer_id))
