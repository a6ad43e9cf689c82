"""Daily payment figures: count by status and method, and money (gross, and its parts:
platform fees, venue shares, net for the owner; and refunds).

Money counts only `completed` payments (money that actually arrived); `count` and
`by_status` count every payment created that UTC day. The range defaults to the 30 whole
UTC days up to today and may span at most `MAX_DAYS`, so one request never scans the whole table.
`refunded` counts refunds that succeeded, on the UTC day each was made (money that went
back that day, whatever day it came in), so a day may show refunds and no payments.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from boothcloud.auth import Caller
from boothcloud.db.base import Database, Row
from boothcloud.errors import invalid
from boothcloud.payments import repository
from boothcloud.payments.schemas import (
    MethodBreakdown,
    MethodFigures,
    PaymentSummary,
    StatusCounts,
    SummaryDay,
    SummaryFigures,
)
from boothcloud.refunds import repository as refunds
from boothcloud.timeutil import to_db, utcnow

DEFAULT_DAYS = 30
MAX_DAYS = 366


def _figures(rows: list[Row], refund_rows: list[Row]) -> SummaryFigures:
    counts = StatusCounts()
    methods = MethodBreakdown()
    gross = fees = venue = 0
    for row in rows:
        if row["status"] in StatusCounts.model_fields:
            setattr(counts, row["status"], getattr(counts, row["status"]) + int(row["count"]))
        method: MethodFigures | None = getattr(methods, str(row["method"]), None)
        if method is not None:
            method.count += int(row["count"])
        if row["status"] == "completed":
            gross += int(row["gross"])
            fees += int(row["fees"])
            venue += int(row["venue"])
            if method is not None:
                method.gross += int(row["gross"])
    total = sum(int(r["count"]) for r in rows)
    return SummaryFigures(
        count=total,
        gross=gross,
        platform_fees=fees,
        venue_shares=venue,
        net=gross - fees - venue,
        refunded=sum(int(r["total"]) for r in refund_rows),
        refunds=sum(int(r["count"]) for r in refund_rows),
        by_status=counts,
        by_method=methods,
    )


def _days_before(moment: datetime, days: int) -> datetime:
    """`days` before `moment`, or the first moment there is (an end in year 1's January)."""
    try:
        return moment - timedelta(days=days)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def report_range(
    created_from: datetime | None, created_to: datetime | None
) -> tuple[datetime, datetime]:
    """A report's range (the summary's and the CSV export's): by default the
    `DEFAULT_DAYS` whole UTC days up to today, at most `MAX_DAYS`."""
    tomorrow = datetime.combine(utcnow().date() + timedelta(days=1), time(), tzinfo=UTC)
    end = created_to or tomorrow  # default: whole UTC days, today included
    start = created_from or _days_before(end, DEFAULT_DAYS)
    if start >= end:
        raise invalid("created_to", "must be after created_from")
    if end - start > timedelta(days=MAX_DAYS):
        raise invalid("created_from", f"the range may span at most {MAX_DAYS} days")
    return start, end


async def summarize(
    db: Database,
    caller: Caller,
    *,
    customer_id: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
) -> PaymentSummary:
    start, end = report_range(created_from, created_to)
    scope = caller.scope(customer_id)
    filters = repository.Filters(
        customer_id=scope, created_from=to_db(start), created_to=to_db(end)
    )
    rows = await repository.summary_rows(db, filters)
    refund_rows = await refunds.succeeded_rows(db, *filters.where())
    by_day: dict[str, list[Row]] = defaultdict(list)
    refunds_by_day: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_day[str(row["day"])].append(row)
    for row in refund_rows:
        refunds_by_day[str(row["day"])].append(row)
    days = [
        SummaryDay(
            day=date.fromisoformat(day),
            **_figures(by_day[day], refunds_by_day[day]).model_dump(),
        )
        for day in sorted(by_day.keys() | refunds_by_day.keys())
    ]
    return PaymentSummary(
        customer_id=scope,
        created_from=start,
        created_to=end,
        days=days,
        totals=_figures(rows, refund_rows),
    )
