"""Printer rules: scoping, the first printer is the default, the default is never unset
directly (make another one default instead), and deleting it promotes the oldest."""

from __future__ import annotations

from typing import Any

from boothcloud.auth import Caller, not_found
from boothcloud.customers import repository as customers
from boothcloud.db.base import Database, Row
from boothcloud.errors import Conflict, Forbidden, invalid
from boothcloud.ids import new_id
from boothcloud.printers import repository
from boothcloud.printers.schemas import Printer, PrinterCreate, PrinterPage, PrinterPatch


async def owner_for_create(db: Database, caller: Caller, requested: str | None) -> str:
    """The customer a new photo or printer belongs to: a booth's own, the operator's pick."""
    if not caller.is_operator:
        assert caller.customer_id is not None
        if requested is not None and requested != caller.customer_id:
            raise Forbidden("a booth creates resources for its own customer only")
        return caller.customer_id
    if requested is None:
        raise invalid("customer_id", "required when the operator creates this")
    if await customers.get(db, requested) is None:
        raise invalid("customer_id", "no such customer")
    return requested


async def _owned(db: Database, caller: Caller, printer_id: str) -> Row:
    return caller.owned(await repository.get(db, printer_id), "printer", printer_id)


async def create(db: Database, caller: Caller, body: PrinterCreate) -> Printer:
    customer_id = await owner_for_create(db, caller, body.customer_id)
    row = await repository.insert(
        db,
        {
            "id": new_id("prt"),
            "customer_id": customer_id,
            "name": body.name,
            "type": body.type,
            "connection_type": body.connection_type,
        },
        make_default=body.is_default is True,
    )
    return Printer.model_validate(row)


async def get(db: Database, caller: Caller, printer_id: str) -> Printer:
    return Printer.model_validate(await _owned(db, caller, printer_id))


async def list_page(
    db: Database, caller: Caller, *, customer_id: str | None, cursor: str | None, limit: int
) -> PrinterPage:
    rows, next_cursor = await repository.page(
        db, customer_id=caller.scope(customer_id), cursor=cursor, limit=limit
    )
    return PrinterPage(items=[Printer.model_validate(r) for r in rows], next_cursor=next_cursor)


async def patch(db: Database, caller: Caller, printer_id: str, body: PrinterPatch) -> Printer:
    current = await _owned(db, caller, printer_id)
    if body.is_default is False and current["is_default"]:
        raise Conflict(
            "the default printer cannot be unset directly: make another printer the default",
            code="DEFAULT_PRINTER_REQUIRED",
        )
    changes: dict[str, Any] = {
        name: getattr(body, name)
        for name in repository.PATCHABLE
        if name in body.model_fields_set and getattr(body, name) is not None
    }
    row = await repository.update(
        db,
        printer_id,
        str(current["customer_id"]),
        changes,
        make_default=body.is_default is True and not current["is_default"],
    )
    if row is None:
        raise not_found("printer", printer_id)
    return Printer.model_validate(row)


async def delete(db: Database, caller: Caller, printer_id: str) -> None:
    current = await _owned(db, caller, printer_id)
    if await repository.delete(db, printer_id, str(current["customer_id"])) is None:
        raise not_found("printer", printer_id)
