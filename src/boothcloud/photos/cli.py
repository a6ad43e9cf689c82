"""`boothcloud photos ...`: the operator's view of the photo log and the print queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from pydantic import ValidationError

from boothcloud.clikit import (
    OPERATOR,
    CursorOption,
    JsonOption,
    LimitOption,
    friendly,
    load_settings,
    out,
    print_page,
    with_database,
)
from boothcloud.photos.schemas import Photo

app = typer.Typer(no_args_is_help=True)


@app.command("list")
@friendly
def list_photos(
    customer_id: Annotated[str | None, typer.Option(help="Only this customer's photos.")] = None,
    status: Annotated[
        str | None, typer.Option(help="pending, printing, completed or failed.")
    ] = None,
    printer_id: Annotated[str | None, typer.Option(help="Only photos for this printer.")] = None,
    uploaded: Annotated[
        bool | None, typer.Option("--uploaded/--not-uploaded", help="By upload state.")
    ] = None,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
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
    page = with_database(
        lambda db: service.list_page(
            db, OPERATOR, customer_id=customer_id, filters=filters, cursor=cursor, limit=limit
        )
    )
    columns: list[tuple[str, Callable[[Photo], object]]] = [
        ("id", lambda p: p.id),
        ("customer_id", lambda p: p.customer_id),
        ("status", lambda p: p.print_status),
        ("printer_id", lambda p: p.printer_id),
        ("r2_key", lambda p: p.r2_key),
        ("created", lambda p: p.created_at),
        ("uploaded", lambda p: p.uploaded_at),
    ]
    print_page(page.items, page.next_cursor, columns, as_json=as_json)


@app.command("requeue-stuck")
@friendly
def requeue_stuck() -> None:
    """Send prints stuck in `printing` (past print_stuck_after_seconds) back to pending."""
    from boothcloud.photos import service

    settings = load_settings()
    moved = with_database(lambda db: service.requeue_stuck(db, settings), settings)
    out().print(f"requeued {moved} photo(s)")
