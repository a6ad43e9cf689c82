"""xenPlatform split rules: created at Xendit once per distinct set of routes, then reused.

Xendit can neither edit nor delete a split rule, so a rule here is immutable and named by
what it does: the SHA-256 of its canonical routes. A changed fee policy (or venue share,
or platform account) gives other routes, hence a new row, numbered as the next version of
its scope (the tier, and the venue); payments made under the old rule keep naming it.

Creating one is two steps around the network call, like a payment: the row is recorded
first (UNIQUE rule_hash: concurrent requests agree on one row), then ONE request holds the
lease (a conditional UPDATE) and asks Xendit, with an `idempotency-key` derived from the
hash; the others wait for its answer and read the stored `splitru_...` id. A lease older
than a Xendit call can take (its holder died) is taken over; a failed call releases it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import orjson

from boothcloud.db.base import Database, Row
from boothcloud.ids import new_id
from boothcloud.payments import repository
from boothcloud.payments.split import Split
from boothcloud.payments.xendit import XenditClient, XenditError
from boothcloud.timeutil import to_db, utcnow

WAIT_POLL_SECONDS = 0.05


async def record(db: Database, split: Split, scope: str) -> str | None:
    """Our id of the rule `split`'s routes make (recorded if new); None: no routes."""
    if not split.routes:
        return None
    routes = orjson.dumps([r.to_xendit() for r in split.routes]).decode()
    row = await repository.record_split_rule(db, new_id("spr"), split.rule_hash, scope, routes)
    return str(row["id"])


def request_body(row: Row) -> dict[str, Any]:
    """The `POST /split_rules` body of a stored rule."""
    return {
        "name": f"boothcloud {row['scope']} v{row['version']}",
        "description": "Platform fee (and venue share) of boothcloud photobooth payments",
        "routes": orjson.loads(row["routes"]),
    }


async def xendit_id(db: Database, client: XenditClient, rule_id: str, in_flight: float) -> str:
    """The rule's `splitru_...` id, creating it at Xendit if no request did yet."""
    deadline = time.monotonic() + in_flight
    while True:
        row = await repository.get_split_rule(db, rule_id)
        assert row is not None  # the payment's foreign key holds it
        if row["xendit_split_rule_id"]:
            return str(row["xendit_split_rule_id"])
        now = to_db(utcnow())
        stale = to_db(utcnow() - timedelta(seconds=in_flight))
        if await repository.claim_split_rule(db, rule_id, now, stale):
            try:
                created = await client.create_split_rule(
                    request_body(row), idempotency_key=f"boothcloud-split-{row['rule_hash']}"
                )
            except XenditError:
                await repository.release_split_rule(db, rule_id, now)
                raise
            await repository.store_split_rule_id(db, rule_id, created.id)
            continue  # read what is stored: another creator's id wins if it was first
        if time.monotonic() > deadline:
            raise XenditError("timeout", "another request is still creating the split rule")
        await asyncio.sleep(WAIT_POLL_SECONDS)
