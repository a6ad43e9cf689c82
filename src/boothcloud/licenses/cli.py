"""`boothcloud devices ...`: the operator's fleet view from the booths' heartbeats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from boothcloud.clikit import (
    CursorOption,
    JsonOption,
    LimitOption,
    friendly,
    load_settings,
    print_page,
    with_database,
)
from boothcloud.licenses.schemas import Activation, DevicePrinter

app = typer.Typer(no_args_is_help=True)
CustomerOption = Annotated[str | None, typer.Option(help="Only this customer's.")]


@app.command("dead")
@friendly
def dead(
    customer_id: CustomerOption = None,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Devices not heard from within BOOTHCLOUD_HEARTBEAT_WINDOW_SECONDS, longest first."""
    from boothcloud.licenses import service

    settings = load_settings()
    page = with_database(
        lambda db: service.dead_devices(db, settings, customer_id, cursor, limit), settings
    )
    columns: list[tuple[str, Callable[[Activation], object]]] = [
        ("id", lambda a: a.id),
        ("customer_id", lambda a: a.customer_id),
        ("name", lambda a: a.name),
        ("last_seen", lambda a: a.last_seen_at),
        ("agent", lambda a: a.agent_version),
    ]
    print_page(page.items, page.next_cursor, columns, as_json=as_json)


@app.command("stopped-printers")
@friendly
def stopped_printers(
    customer_id: CustomerOption = None,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Booth printers whose last heartbeat reported them stopped, with CUPS's reason."""
    from boothcloud.licenses import service

    settings = load_settings()
    page = with_database(
        lambda db: service.stopped_printers(db, settings, customer_id, cursor, limit), settings
    )
    columns: list[tuple[str, Callable[[DevicePrinter], object]]] = [
        ("activation_id", lambda p: p.activation_id),
        ("customer_id", lambda p: p.customer_id),
        ("device", lambda p: p.device_name),
        ("device_status", lambda p: p.device_status),
        ("printer", lambda p: p.name),
        ("reason", lambda p: p.reason),
        ("reported", lambda p: p.reported_at),
    ]
    print_page(page.items, page.next_cursor, columns, as_json=as_json)
