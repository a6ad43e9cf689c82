"""Customer rules: server-chosen ids and keys, scoping, partial updates, key rotation."""

from __future__ import annotations

from typing import Any

from boothcloud.auth import Caller, not_found
from boothcloud.customers import repository
from boothcloud.customers.schemas import Customer, CustomerCreate, CustomerPage, CustomerPatch
from boothcloud.db.base import Database
from boothcloud.ids import new_id
from boothcloud.licenses.keys import generate_license_key
from boothcloud.pagination import page_of
from boothcloud.timeutil import now_db, to_db


async def create(db: Database, body: CustomerCreate) -> Customer:
    row = await repository.insert(
        db,
        {
            "id": new_id("cus"),
            "name": body.name,
            "email": body.email,
            "phone": body.phone,
            "license_key": generate_license_key(),
            "license_type": body.license_type,
            "purchase_date": to_db(body.purchase_date) if body.purchase_date else now_db(),
        },
    )
    return Customer.model_validate(row)


async def get(db: Database, caller: Caller, customer_id: str) -> Customer:
    row = caller.own_record(customer_id) or await repository.get(db, customer_id)
    if row is None:
        raise not_found("customer", customer_id)
    caller.check_owns(str(row["id"]), "customer", customer_id)
    return Customer.model_validate(row)


async def list_page(
    db: Database,
    *,
    email: str | None,
    license_type: str | None,
    cursor: str | None,
    limit: int,
    search: str | None = None,
    license_status: str | None = None,
) -> CustomerPage:
    rows = await repository.page(
        db,
        email=email,
        license_type=license_type,
        cursor=cursor,
        limit=limit,
        search=search,
        license_status=license_status,
    )
    items, next_cursor = page_of(rows, limit)
    return CustomerPage(items=[Customer.model_validate(r) for r in items], next_cursor=next_cursor)


async def patch(db: Database, customer_id: str, body: CustomerPatch) -> Customer:
    changes: dict[str, Any] = {}
    for name in body.model_fields_set:
        value = getattr(body, name)
        if value is None and name not in {"phone", "license_expires_at"}:
            continue  # null for a required field means "leave as is"
        changes[name] = to_db(value) if name == "license_expires_at" and value else value
    row = (
        await repository.update(db, customer_id, changes)
        if changes
        else await repository.get(db, customer_id)
    )
    if row is None:
        raise not_found("customer", customer_id)
    return Customer.model_validate(row)


async def rotate_key(db: Database, customer_id: str) -> Customer:
    row = await repository.update(db, customer_id, {"license_key": generate_license_key()})
    if row is None:
        raise not_found("customer", customer_id)
    return Customer.model_validate(row)
