"""The paid-but-not-printed guarantee: a guest who paid and got no print gets the money
back, once, without anyone asking.

A completed payment of a session whose prints all ended `failed`, none reprinted (a reprint
moves a print back to `pending`) for `auto_refund_after_seconds`, is refunded in full of
what is still refundable, with source `automatic` and a note saying why. Exactly once: the
refund's INSERT re-checks every condition in one statement and the unique index
`refunds_automatic` takes at most one per payment, so concurrent print failures, two
workers or an operator's CLI running the check at the same time make one refund. Then the
refund is sent like any other (`service.resume_unsent`).

It runs as a periodic job, not on the print-status change: the window means the decision
is due later anyway, and a job also catches payments that complete after their prints
failed (docs/decisions.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from boothcloud.db.base import Database
from boothcloud.ids import new_id
from boothcloud.payments.xendit import XenditClient
from boothcloud.refunds import repository, service
from boothcloud.settings import Settings
from boothcloud.timeutil import to_db, utcnow

log = logging.getLogger("boothcloud.refunds")

REASON = "CANCELLATION"  # Xendit's reason: the service paid for was not delivered
BATCH = 100


def note(session_id: str, window: int) -> str:
    return (
        f"paid but not printed: every print of session {session_id} failed and none was "
        f"reprinted within {window} s (automatic refund)"
    )


@dataclass(frozen=True, slots=True)
class GuaranteeReport:
    created: int
    sent: int


async def run(
    db: Database,
    settings: Settings,
    client: XenditClient | None,
    *,
    now: datetime | None = None,
) -> GuaranteeReport:
    """Create the refunds that are due, then send every unsent refund."""
    window = settings.auto_refund_after_seconds
    created = 0
    if window > 0:
        moment = now or utcnow()
        failed_before = to_db(moment - timedelta(seconds=window))
        for due in await repository.unprinted_paid(db, failed_before, BATCH):
            values = {
                "id": new_id("rfd"),
                "reason": REASON,
                "note": note(due.session_id, window),
                "claimed_at": None,  # released: the send below takes it over
                "created_at": to_db(moment),
            }
            if await repository.insert_automatic(db, values, due.payment_id, failed_before):
                created += 1
                log.warning("payment %s: %s", due.payment_id, values["note"])
    sent = 0 if client is None else await service.resume_unsent(db, settings, client)
    return GuaranteeReport(created=created, sent=sent)
