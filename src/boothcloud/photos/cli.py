"""`boothcloud photos ...`: the operator's view of the photo log and the print queue."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from boothcloud.auth import Caller
from boothcloud.db import open_database
from boothcloud.db.base import Database
from boothcloud.settings import get_settings

app = typer.Typer(no_args_is_help=True)
console = Console()
OPERATOR = Caller(kind="operator")
T = TypeVar("T")


def run_with_db(work: Callable[[Database], Awaitable[T]]) -> T:
    """Open the configured database, run one unit of async work, close it."""

    async def run() -> T:
        db = open_database(get_settings())
        try:
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(run())


@app.command("list")
def list_photos(
    customer_id: Annotated[str | None, typer.Option(help="Only this customer's photos.")] = None,
    status: Annotated[
        str | None, typer.Option(help="pending, printing, completed or failed.")
    ] = None,
    printer_id: Annotated[str | None, typer.Option(help="Only photos for this printer.")] = None,
    uploaded: Annotated[
        bool | None, typer.Option("--uploaded/--not-uploaded", help="By upload state.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """List photos, newest first."""
    from boothcloud.photos import service
    from boothcloud.photos.schemas import PhotoFilters

    try:
        filters = PhotoFilters.model_validate(
            {"print_status": status, "printer_id": printer_id, "uploaded": uploaded}
        )
    except ValidationError as error:
        raise typer.BadParameter(error.errors()[0]["msg"], param_hint="--status") from None
    page = run_with_db(
        lambda db: service.list_page(
            db, OPERATOR, customer_id=customer_id, filters=filters, cursor=None, limit=limit
        )
    )
    table = Table("id", "customer", "status", "printer", "r2_key", "created", "uploaded")
    for p in page.items:
        table.add_row(
            p.id,
            p.customer_id,
            p.print_status,
            p.printer_id or "-",
            p.r2_key,
            p.created_at.isoformat(),
            p.uploaded_at.isoformat() if p.uploaded_at else "-",
        )
    console.print(table)


@app.command("requeue-stuck")
def requeue_stuck() -> None:
    """Send prints stuck in `printing` (past print_stuck_after_seconds) back to pending."""
    from boothcloud.photos import service

    moved = run_with_db(lambda db: service.requeue_stuck(db, get_settings()))
    console.print(f"requeued {moved} photo(s)")
