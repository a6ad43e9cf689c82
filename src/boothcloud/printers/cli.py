"""`boothcloud printers ...`: the operator's view of customers' printers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from boothcloud.clikit import (
    OPERATOR,
    CursorOption,
    JsonOption,
    LimitOption,
    friendly,
    print_page,
    with_database,
)
from boothcloud.printers.schemas import Printer

app = typer.Typer(no_args_is_help=True)


@app.command("list")
@friendly
def list_printers(
    customer_id: Annotated[str | None, typer.Option(help="Only this customer's printers.")] = None,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> None:
    """List printers, each customer's default first."""
    from boothcloud.printers import service

    page = with_database(
        lambda db: service.list_page(
            db, OPERATOR, customer_id=customer_id, cursor=cursor, limit=limit
        )
    )
    columns: list[tuple[str, Callable[[Printer], object]]] = [
        ("id", lambda p: p.id),
        ("customer_id", lambda p: p.customer_id),
        ("name", lambda p: p.name),
        ("type", lambda p: p.type),
        ("connection", lambda p: p.connection_type),
        ("default", lambda p: p.is_default),
        ("created", lambda p: p.created_at),
    ]
    print_page(page.items, page.next_cursor, columns, as_json=as_json)
