"""`boothcloud payments list|show|reconcile|set-sub-account`: the operator's console view.

Each command opens the configured database (SQLite or D1), does one thing and closes it.
Failures print one clear line on stderr and exit 1, never a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from boothcloud.auth import Caller
from boothcloud.db import open_database
from boothcloud.db.base import Database
from boothcloud.errors import ProblemError
from boothcloud.payments import repository, service
from boothcloud.payments.reconcile import reconcile as run_reconcile
from boothcloud.payments.schemas import STATUSES, Payment
from boothcloud.payments.xendit import XenditClient
from boothcloud.settings import get_settings

app = typer.Typer(no_args_is_help=True, help="Payments: list, inspect, reconcile with Xendit.")
console = Console()
errors = Console(stderr=True)
OPERATOR = Caller(kind="operator")
T = TypeVar("T")


def _run(work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` against the configured database; any failure is one line and exit 1."""

    async def main() -> T:
        db = open_database(get_settings())
        try:
            return await work(db)
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except ProblemError as error:
        errors.print(f"[red]error:[/red] {error.detail}", highlight=False)
    except Exception as error:  # a CLI user wants the reason, not a traceback
        hint = " (run `boothcloud migrate`?)" if "no such" in str(error) else ""
        errors.print(f"[red]error:[/red] {type(error).__name__}: {error}{hint}", highlight=False)
    raise typer.Exit(1)


def _rupiah(value: int | None) -> str:
    return "-" if value is None else f"Rp {value:,}".replace(",", ".")


@app.command("list")
def list_payments(
    status: Annotated[str | None, typer.Option(help="pending|processing|completed|failed")] = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer id.")] = None,
    flagged: Annotated[bool, typer.Option("--flagged", help="Only flagged for review.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """List payments, newest first."""
    if status is not None and status not in STATUSES:
        errors.print(f"[red]error:[/red] --status must be one of {', '.join(STATUSES)}")
        raise typer.Exit(2)

    async def work(db: Database) -> list[Payment]:
        page = await service.list_page(
            db,
            OPERATOR,
            status=status,
            customer_id=customer,
            created_from=None,
            created_to=None,
            flagged=True if flagged else None,
            cursor=None,
            limit=limit,
        )
        return page.items

    items = _run(work)
    table = Table(title=f"payments ({len(items)})")
    for column in ("id", "customer", "amount", "fee", "status", "flag", "created"):
        table.add_column(column)
    for p in items:
        table.add_row(
            p.id,
            p.customer_id,
            _rupiah(p.amount),
            _rupiah(p.platform_fee),
            p.status,
            "!" if p.flagged else "",
            p.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@app.command("show")
def show(payment_id: str) -> None:
    """Show one payment with its Xendit invoice and review state."""
    payment = _run(lambda db: service.get(db, OPERATOR, payment_id))
    table = Table(show_header=False, title=payment.id)
    for name, value in payment.model_dump(mode="json").items():
        table.add_row(name, "-" if value is None else str(value))
    console.print(table)


@app.command("reconcile")
def reconcile() -> None:
    """Ask Xendit about stale pending payments and apply what it says."""
    settings = get_settings()
    client = XenditClient.from_settings(settings)
    if client is None:
        errors.print("[yellow]warning:[/yellow] no Xendit key: only expiring payments past expiry")
    report = _run(lambda db: run_reconcile(db, settings, client))
    console.print(
        f"checked {report.checked}: {report.completed} completed, {report.failed} failed, "
        f"{report.flagged} flagged, {report.unchanged} unchanged, {report.errors} errors"
    )
    if report.errors:
        raise typer.Exit(1)


@app.command("set-sub-account")
def set_sub_account(
    customer_id: str,
    user_id: Annotated[
        str | None, typer.Argument(help="Xendit sub-account id; omit to clear.")
    ] = None,
) -> None:
    """Route a customer's invoices to its xenPlatform sub-account (`for-user-id`)."""

    async def work(db: Database) -> bool:
        return await repository.set_sub_account(db, customer_id, user_id)

    if not _run(work):
        errors.print(f"[red]error:[/red] customer {customer_id} not found")
        raise typer.Exit(1)
    console.print(f"customer {customer_id}: sub-account {user_id or '(none)'}")
