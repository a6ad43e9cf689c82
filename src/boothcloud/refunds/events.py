"""Xendit refund callbacks (`refund.succeeded`, `refund.failed`): read like every callback
(`payments.events.read_callback` records refusals), recorded under the key (Xendit refund
id, status) and applied once, only out of `pending` (`repository.apply_event`)."""

from __future__ import annotations

import logging

from boothcloud.db.base import Database
from boothcloud.payments.events import whole_rupiah
from boothcloud.payments.repository import set_event_outcome
from boothcloud.payments.schemas import WebhookAck
from boothcloud.refunds import repository
from boothcloud.refunds.repository import RefundEvent
from boothcloud.refunds.schemas import RefundCallback
from boothcloud.timeutil import now_db

log = logging.getLogger("boothcloud.refunds")


def from_callback(callback: RefundCallback, raw: bytes) -> RefundEvent:
    data = callback.data
    ours = data.reference_id if data.reference_id and data.reference_id.startswith("rfd_") else None
    return RefundEvent(
        xendit_refund_id=data.id,
        refund_id=ours,
        status=data.status.upper(),
        amount=whole_rupiah(data.amount),
        failure_code=data.failure_code,
        payload=raw.decode("utf-8", errors="replace"),
    )


async def apply(db: Database, event: RefundEvent) -> WebhookAck:
    applied = await repository.apply_event(db, event, now_db())
    if applied.duplicate:
        return WebhookAck(duplicate=True, outcome="duplicate")
    if applied.refund is None:
        log.warning("refund callback for unknown refund %s", event.xendit_refund_id)
        outcome = "unknown_refund"
    elif applied.transitioned:
        log.info("refund %s -> %s", applied.refund["id"], applied.refund["status"])
        outcome = "applied"
    elif event.status not in ("SUCCEEDED", "FAILED"):
        outcome = "ignored"  # PENDING says nothing new
    elif applied.refund["status"] == "pending":
        log.warning(
            "refund %s: callback %s with amount %s does not match; not applied",
            applied.refund["id"],
            event.status,
            event.amount,
        )
        outcome = "flagged"
    else:
        outcome = "unchanged"  # already ended (never backwards)
    await set_event_outcome(db, event.key, outcome)
    return WebhookAck(duplicate=False, outcome=outcome)
