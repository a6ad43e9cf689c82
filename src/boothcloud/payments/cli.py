"""`boothcloud payments list|show|reconcile|set-sub-account`: the operator's console view.

Each command opens the configured database (SQLite or D1), does one thing and closes it.
Failures print one clear line on stderr and exit 1, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from boothcloud.clikit import (
    OPERATOR,
    CursorOption,
    JsonOption,
    LimitOption,
    fail,
    friendly,
    load_settings,
    out,
    print_page,
    with_database,
)
from boothcloud.db.base import Database
from boothcloud.payments import repository, service
from boothcloud.payments.reconcile import reconcile as run_reconcile
from boothcloud.payments.schemas import STATUSES, Payment
from boothcloud.payments.xendit import XenditClient

app = typer.Typer(no_args_is_help=True, help="Payments: list, inspect, reconcile with Xendit.")


def _rupiah(value: int | None) -> str:
    return "-" if value is None else f"Rp {value:,}".replace(",", ".")


@app.command("list")
@friendly
def list_payments(
    status: Annotated[str | None, typer.Option(help="pending|processing|completed|failed")] = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer id.")] = None,
    flagged: Annotated[bool, typer.Option("--flagged", help="Only flagged for review.")] = False,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> None:
    """List payments, newest first."""
    if status is not None and status not in STATUSES:
        raise typer.BadParameter(f"must be one of {', '.join(STATUSES)}", param_hint="--status")
    page = with_database(
        lambda db: service.list_page(
            db,
            OPERATOR,
            status=status,
            customer_id=customer,
            created_from=None,
            created_to=None,
            flagged=True if flagged else None,
            cursor=cursor,
            limit=limit,
        )
    )
    columns: list[tuple[str, Callable[[Payment], object]]] = [
        ("id", lambda p: p.id),
        ("customer_id", lambda p: p.customer_id),
        ("amount", lambda p: _rupiah(p.amount)),
        ("fee", lambda p: _rupiah(p.platform_fee)),
        ("status", lambda p: p.status),
        ("flag", lambda p: "!" if p.flagged else ""),
        ("created", lambda p: p.created_at.strftime("%Y-%m-%d %H:%M")),
    ]
    title = f"payments ({len(page.items)})"
    print_page(page.items, page.next_cursor, columns, as_json=as_json, title=title)


@app.command("show")
@friendly
def show(
    payment_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print the payment as JSON.")] = False,
) -> None:
    """Show one payment with its Xendit invoice and review state."""
    payment = with_database(lambda db: service.get(db, OPERATOR, payment_id))
    if as_json:
        print(payment.model_dump_json(indent=2))
        return
    for name, value in payment.model_dump(mode="json").items():
        shown = "-" if value is None else value
        out().print(f"{name:<20} {shown}", highlight=False, soft_wrap=True)


@app.command("reconcile")
@friendly
def reconcile() -> None:
    """Ask Xendit about stale pending payments and apply what it says."""
    settings = load_settings()
    client = XenditClient.from_settings(settings)
    if client is None:
        typer.echo("warning: no Xendit key: only expiring payments past expiry", err=True)
    report = with_database(lambda db: run_reconcile(db, settings, client), settings)
    out().print(
        f"checked {report.checked}: {report.completed} completed, {report.failed} failed, "
        f"{report.flagged} flagged, {report.unchanged} unchanged, {report.errors} errors"
    )
    if report.errors:
        raise typer.Exit(1)


@app.command("set-sub-account")
@friendly
def set_sub_account(
    customer_id: str,
    user_id: Annotated[
        str | None, typer.Argument(help="Xendit sub-account id; omit to clear.")
    ] = None,
) -> None:
    """Route a customer's invoices to its xenPlatform sub-account (`for-user-id`)."""

    async def work(db: Database) -> bool:
        return await repository.set_sub_account(db, customer_id, user_id)

    if not with_database(work):
        raise fail(f"customer {customer_id} not found")
    out().print(f"customer {customer_id}: sub-account {user_id or '(none)'}")
