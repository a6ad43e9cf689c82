"""What each console page shows, read through the API's own services with the console's
`Caller`: no SQL and no rule of its own here, only choosing what to ask for.

What the other issues brought shows in one place each:
- refunds: `payment_actions` lists what a payment row offers (the refund form);
- split payments: `payment_parts` gives a payment's parts (and its refunds) under its row;
- booth heartbeats: `booth_health` lists dead devices, stopped printers, then alive ones.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from boothcloud.backups import service as backups
from boothcloud.backups.schemas import Backup
from boothcloud.console.access import Console
from boothcloud.customers import service as customers
from boothcloud.errors import invalid
from boothcloud.licenses import service as licenses
from boothcloud.payments import service as payments
from boothcloud.payments import summary
from boothcloud.payments.schemas import STATUSES, Payment, PaymentSummary
from boothcloud.photos import service as photos
from boothcloud.photos.schemas import PhotoFilters
from boothcloud.printers import service as printers
from boothcloud.refunds import service as refund_rules
from boothcloud.refunds.schemas import Refund
from boothcloud.sessions import service as sessions
from boothcloud.sessions.schemas import SessionFilters
from boothcloud.settings import TIERS
from boothcloud.timeutil import day_after
from boothcloud.venues import service as venue_rules
from boothcloud.venues.schemas import Venue

PAGE = 25  # rows per list page: every list is paginated with the API's cursors
METHODS = ("invoice", "qris")
LICENSE_STATUSES = ("active", "suspended")
CSV_COLUMNS = (
    "id",
    "customer_id",
    "created_at",
    "status",
    "method",
    "amount",
    "platform_fee",
    "net_amount",
    "currency",
    "paid_at",
    "paid_amount",
    "payment_channel",
    "flagged",
    "review_reason",
    "session_id",
)


def choice(name: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    """A select's value: None for "any", 422 for a value the select never offers."""
    if not value:
        return None
    if value not in allowed:
        raise invalid(name, f"must be one of {', '.join(allowed)}")
    return value


def day(name: str, value: str | None, *, end: bool = False) -> datetime | None:
    """A date field (YYYY-MM-DD, UTC): its midnight, or the next one for an inclusive end."""
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError as error:
        raise invalid(name, "must be a date, YYYY-MM-DD") from error
    return datetime.combine(day_after(name, parsed) if end else parsed, time(), tzinfo=UTC)


# -- customers ------------------------------------------------------------------------


async def customer_list(
    console: Console, q: str | None, tier: str | None, status: str | None, cursor: str | None
) -> dict[str, Any]:
    found = await customers.list_page(
        console.services.db,
        email=None,
        license_type=choice("tier", tier, TIERS),
        license_status=choice("status", status, LICENSE_STATUSES),
        search=(q or "").strip()[:100] or None,
        cursor=cursor or None,
        limit=PAGE,
    )
    return {
        "customers": found.items,
        "next_cursor": found.next_cursor,
        "filters": {"q": q or "", "tier": tier or "", "status": status or ""},
        "tiers": TIERS,
        "statuses": LICENSE_STATUSES,
    }


async def customer_detail(console: Console, customer_id: str) -> dict[str, Any]:
    services = console.services
    customer = await customers.get(services.db, console.caller, customer_id)
    devices = await licenses.list_activations(
        services.db, console.caller, services.settings, customer.id
    )
    return {
        "customer": customer,
        "devices": devices.items,
        "device_limit": devices.device_limit,
        "tiers": TIERS,
    }


# -- payments -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentFilters:
    status: str | None = None
    method: str | None = None
    customer_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    @classmethod
    def read(
        cls,
        status: str | None,
        method: str | None,
        customer_id: str | None,
        day_from: str | None,
        day_to: str | None,
    ) -> PaymentFilters:
        return cls(
            status=choice("status", status, STATUSES),
            method=choice("method", method, METHODS),
            customer_id=(customer_id or "").strip()[:64] or None,
            created_from=day("from", day_from),
            created_to=day("to", day_to, end=True),
        )

    def query(self) -> dict[str, str]:
        """The filters as the page's query string (for polling, CSV and paging links)."""
        last_day = self.created_to - timedelta(days=1) if self.created_to else None
        values = {
            "status": self.status,
            "method": self.method,
            "customer_id": self.customer_id,
            "from": self.created_from.date().isoformat() if self.created_from else None,
            "to": last_day.date().isoformat() if last_day else None,
        }
        return {k: v for k, v in values.items() if v}


async def payment_page(
    console: Console, filters: PaymentFilters, cursor: str | None, flagged: bool | None = None
) -> tuple[list[Payment], str | None]:
    found = await payments.list_page(
        console.services.db,
        console.caller,
        status=filters.status,
        method=filters.method,
        customer_id=filters.customer_id,
        created_from=filters.created_from,
        created_to=filters.created_to,
        flagged=flagged,
        cursor=cursor or None,
        limit=PAGE,
    )
    return found.items, found.next_cursor


def payment_actions(payment: Payment, refunds: list[Refund]) -> list[dict[str, Any]]:
    """Buttons a payment row offers: a refund form while something is left to refund.
    `seen` (how many refunds the row showed) makes the form's Idempotency-Key
    (`refund_key`): a double submit replays, the next refund gets a fresh key."""
    rest = refund_rules.refundable(payment)
    if rest <= 0:
        return []
    return [
        {
            "action": f"/console/payments/{payment.id}/refunds",
            "label": "Refund",
            "kind": "refund",
            "rest": rest,
            "seen": len(refunds),
        }
    ]


def refund_key(console: Console, payment_id: str, seen: str | None) -> str:
    """The refund form's Idempotency-Key: this session's CSRF token, the payment and the
    refunds its row showed, hashed (the token itself is never stored)."""
    material = f"{console.csrf}:{payment_id}:{seen or ''}".encode()
    return "console-" + hashlib.sha256(material).hexdigest()[:40]


def payment_parts(
    payment: Payment, venue: Venue | None, refunds: list[Refund]
) -> list[dict[str, Any]]:
    """A payment's split parts under its row (platform, venue, owner), then its refunds."""
    parts: list[dict[str, Any]] = [{"label": "Platform", "amount": payment.platform_fee}]
    if payment.venue_id is not None:
        name = f"{venue.name} ({venue.id})" if venue else payment.venue_id
        parts.append({"label": f"Venue {name}", "amount": payment.venue_amount})
    parts.append({"label": "Owner", "amount": payment.net_amount})
    for refund in refunds:
        note = f", {refund.note}" if refund.note else ""
        label = f"Refund {refund.id} ({refund.status}, {refund.source}{note})"
        parts.append({"label": label, "amount": refund.amount})
    return parts


async def payment_rows(console: Console, items: list[Payment]) -> dict[str, Any]:
    """The payments table's context: the rows and, read once for the whole page, each
    row's refunds and venue for its actions and parts."""
    db, caller = console.services.db, console.caller
    refunds = await refund_rules.of_payments(db, items)
    venues = {
        venue_id: await venue_rules.get(db, caller, venue_id)
        for venue_id in {p.venue_id for p in items if p.venue_id is not None}
    }

    def actions(payment: Payment) -> list[dict[str, Any]]:
        return payment_actions(payment, refunds[payment.id])

    def parts(payment: Payment) -> list[dict[str, Any]]:
        venue = venues.get(payment.venue_id) if payment.venue_id else None
        return payment_parts(payment, venue, refunds[payment.id])

    return {"payments": items, "actions": actions, "parts": parts}


async def payments_overview(
    console: Console, filters: PaymentFilters, cursor: str | None
) -> dict[str, Any]:
    items, next_cursor = await payment_page(console, filters, cursor)
    flagged, _ = await payment_page(console, PaymentFilters(), None, flagged=True)
    return {
        **await payment_rows(console, items),
        "next_cursor": next_cursor,
        "flagged": flagged,
        "filters": filters,
        "statuses": STATUSES,
        "methods": METHODS,
    }


async def daily_summary(console: Console, filters: PaymentFilters) -> PaymentSummary:
    """The chart's figures: the API's summary of the filters' customer and days."""
    return await summary.summarize(
        console.services.db,
        console.caller,
        customer_id=filters.customer_id,
        created_from=filters.created_from,
        created_to=filters.created_to,
    )


async def payments_csv(console: Console, filters: PaymentFilters) -> AsyncIterator[str]:
    """Every payment the filters select, as CSV, a page of the API's list at a time."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    cursor: str | None = None
    while True:
        items, cursor = await payment_page(console, filters, cursor)
        for payment in items:
            row = payment.model_dump(mode="json")
            writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if cursor is None:
            return


# -- print queues ---------------------------------------------------------------------


async def print_queues(
    console: Console, customer_id: str | None, printer_id: str | None
) -> dict[str, Any]:
    services, caller = console.services, console.caller
    customer_id = (customer_id or "").strip()[:64] or None
    printer_id = (printer_id or "").strip()[:64] or None

    async def queue(status: str) -> list[Any]:
        found = await photos.list_page(
            services.db,
            caller,
            customer_id=customer_id,
            filters=PhotoFilters.model_validate({"print_status": status, "printer_id": printer_id}),
            cursor=None,
            limit=PAGE,
        )
        return list(found.items)

    own_printers = (
        (
            await printers.list_page(
                services.db, caller, customer_id=customer_id, cursor=None, limit=PAGE
            )
        ).items
        if customer_id
        else []
    )

    async def printing(stuck: bool) -> list[Any]:
        return await photos.printing(
            services.db, services.settings, caller, customer_id, printer_id, PAGE, stuck=stuck
        )

    return {
        "customer_id": customer_id or "",
        "printer_id": printer_id or "",
        "printers": own_printers,
        "stuck": await printing(stuck=True),
        "pending": await queue("pending"),
        "printing": await printing(stuck=False),
        "failed": await queue("failed"),
        "stuck_after": services.settings.print_stuck_after_seconds,
    }


# -- booths ---------------------------------------------------------------------------


async def booth_health(console: Console, customer_id: str | None) -> dict[str, Any]:
    """Dead devices first, then stopped printers (why, and their ink or ribbon), then the
    alive devices: each a page of the heartbeat API's own lists (operator only)."""
    services = console.services
    db, settings = services.db, services.settings
    customer_id = (customer_id or "").strip()[:64] or None
    dead = await licenses.dead_devices(db, settings, customer_id, None, PAGE)
    stopped = await licenses.stopped_printers(db, settings, customer_id, None, PAGE)
    alive = await licenses.alive_devices(db, settings, customer_id, None, PAGE)
    return {
        "dead": dead,
        "stopped": stopped,
        "alive": alive,
        "customer_id": customer_id or "",
        "window": settings.heartbeat_window_seconds,
    }


# -- backups --------------------------------------------------------------------------


async def backup_list(console: Console) -> list[Backup]:
    return await backups.list_backups(console.services.store)


# -- the owner's view -----------------------------------------------------------------


async def owner_overview(console: Console) -> dict[str, Any]:
    """The owner's own figures, each through the API's service with the owner's caller
    (a booth caller), so the scoping is the API's: no customer id is ever passed."""
    services, caller = console.services, console.caller
    db = services.db
    assert caller.customer_id is not None
    customer = await customers.get(db, caller, caller.customer_id)
    revenue = await summary.summarize(
        db, caller, customer_id=None, created_from=None, created_to=None
    )
    recent = await sessions.list_page(
        db,
        services.settings,
        caller,
        customer_id=None,
        filters=SessionFilters(),
        cursor=None,
        limit=PAGE,
    )
    shots = await photos.list_page(
        db, caller, customer_id=None, filters=PhotoFilters(), cursor=None, limit=PAGE
    )
    own_printers = await printers.list_page(db, caller, customer_id=None, cursor=None, limit=PAGE)
    return {
        "customer": customer,
        "summary": revenue,
        "sessions": recent.items,
        "photos": shots.items,
        "printers": own_printers.items,
    }
