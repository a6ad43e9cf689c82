"""`boothcloud printers ...`: the operator's view of customers' printers."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from boothcloud.photos.cli import OPERATOR, run_with_db

app = typer.Typer(no_args_is_help=True)
console = Console()


@app.command("list")
def list_printers(
    customer_id: Annotated[str | None, typer.Option(help="Only this customer's printers.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """List printers, each customer's default first."""
    from boothcloud.printers import service

    page = run_with_db(
        lambda db: service.list_page(
            db, OPERATOR, customer_id=customer_id, cursor=None, limit=limit
        )
    )
    table = Table("id", "customer", "name", "type", "connection", "default", "created")
    for p in page.items:
        table.add_row(
            p.id,
            p.customer_id,
            p.name,
            p.type,
            p.connection_type,
            "yes" if p.is_default else "",
            p.created_at.isoformat(),
        )
    console.print(table)
