"""The CSV export of payments: the JSON list's rows, streamed page by page.

Scoping and filters are the list's (a booth gets its own customer's payments, the
operator all or one customer's), over the summary's range rules (`summary.report_range`:
30 days by default, at most 366). The body is produced one keyset page at a time while it
is sent, so an export of a year costs one page of memory, never the whole year.

`COLUMNS` is the one place the columns are named: each is a field of `Payment`, written
as the JSON list writes it (numbers as integers, times as ISO 8601, booleans as
`true`/`false`, null as an empty cell). A text cell starting with `=`, `+`, `-`, `@`, tab
or carriage return gets a leading `'`, as OWASP advises against formula injection when
the file is opened in a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from boothcloud.auth import Caller
from boothcloud.db.base import Database
from boothcloud.pagination import page_of
from boothcloud.payments import repository
from boothcloud.payments.schemas import PaymentStatus
from boothcloud.payments.service import to_model
from boothcloud.payments.summary import report_range
from boothcloud.timeutil import to_db

COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "customer_id",
    "status",
    "method",
    "currency",
    "amount",
    "platform_fee",
    "venue_amount",
    "net_amount",
    "refunded_amount",
    "paid_amount",
    "paid_at",
    "payment_method",
    "payment_channel",
    "venue_id",
    "xendit_payment_id",
    "xendit_split_rule_id",
    "session_id",
    "flagged",
    "review_reason",
    "failure_reason",
    "description",
)
PAGE_SIZE = 500
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


def filters(
    caller: Caller,
    *,
    customer_id: str | None,
    status: PaymentStatus | None,
    created_from: datetime | None,
    created_to: datetime | None,
) -> repository.Filters:
    """Checked before the first byte is sent: a bad range is a 422, not a cut stream."""
    start, end = report_range(created_from, created_to)
    return repository.Filters(
        customer_id=caller.scope(customer_id),
        status=status,
        created_from=to_db(start),
        created_to=to_db(end),
    )


async def rows(db: Database, chosen: repository.Filters) -> AsyncIterator[str]:
    """The header, then every payment in the list's order (newest first)."""
    yield _line(list(COLUMNS))
    cursor: str | None = None
    while True:
        page, cursor = page_of(await repository.page(db, chosen, cursor, PAGE_SIZE), PAGE_SIZE)
        for row in page:
            data = to_model(row).model_dump(mode="json")
            yield _line([cell(data[name]) for name in COLUMNS])
        if cursor is None:
            return
