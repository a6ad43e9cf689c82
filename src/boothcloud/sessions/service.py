"""Session rules: a booth opens sessions from its own activated devices, scoping, the
share code and URL, gallery expiry per tier, closing, revoking and extending, and the
check that a photo's or payment's session is the caller's customer's."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta

from boothcloud.auth import Caller
from boothcloud.db.base import Database, Row
from boothcloud.errors import Conflict, Forbidden, NotFound, invalid
from boothcloud.ids import new_id
from boothcloud.pagination import page_of
from boothcloud.sessions import repository
from boothcloud.sessions.schemas import (
    DayStats,
    Session,
    SessionCreate,
    SessionFilters,
    SessionPage,
    SessionPatch,
    StatsPage,
)
from boothcloud.settings import Settings, tier_of
from boothcloud.timeutil import day_after, from_db, to_db, utcnow

SHARE_CODE_BYTES = 24  # 192 bits from the OS's CSPRNG, 32 URL-safe characters
MAX_STATS_DAYS = 366


def new_share_code() -> str:
    return secrets.token_urlsafe(SHARE_CODE_BYTES)


def share_hash(code: str) -> str:
    """What lookups search for: the code's SHA-256, so a lookup's timing in the index says
    nothing about how close a guessed code came to a real one."""
    return hashlib.sha256(code.encode()).hexdigest()


def share_url(settings: Settings, code: str) -> str:
    return f"{settings.base_url}/s/{code}"


def to_model(settings: Settings, row: Row) -> Session:
    return Session.model_validate({**row, "share_url": share_url(settings, row["share_code"])})


def gallery_expiry(settings: Settings, tier: str | None, opened: datetime) -> datetime:
    days = settings.gallery_days[tier_of(tier)]
    return opened + timedelta(days=days)


async def open_session(
    db: Database, settings: Settings, caller: Caller, body: SessionCreate
) -> Session:
    assert caller.customer_id is not None
    code = new_share_code()
    row = await repository.insert(
        db,
        {
            "id": new_id("ses"),
            "customer_id": caller.customer_id,
            "activation_id": body.activation_id,
            "payment_id": body.payment_id,
            "share_code": code,
            "share_hash": share_hash(code),
            "expires_at": to_db(gallery_expiry(settings, caller.license_type, utcnow())),
        },
    )
    if row is None:  # the conditional INSERT refused: say which reference was not ours
        if not await repository.activation_of(db, body.activation_id, caller.customer_id):
            raise invalid("activation_id", "no such activation for this customer")
        raise invalid("payment_id", "no such payment for this customer")
    return to_model(settings, row)


async def _owned(db: Database, caller: Caller, session_id: str) -> Row:
    row = await repository.get(db, session_id)
    if row is None:
        raise NotFound(f"session {session_id} not found")
    caller.check_owns(str(row["customer_id"]), "session", session_id)
    return row


async def get(db: Database, settings: Settings, caller: Caller, session_id: str) -> Session:
    return to_model(settings, await _owned(db, caller, session_id))


async def owned_share_url(db: Database, settings: Settings, caller: Caller, session_id: str) -> str:
    row = await _owned(db, caller, session_id)
    return share_url(settings, str(row["share_code"]))


async def list_page(
    db: Database,
    settings: Settings,
    caller: Caller,
    *,
    customer_id: str | None,
    filters: SessionFilters,
    cursor: str | None,
    limit: int,
) -> SessionPage:
    rows = await repository.page(
        db,
        customer_id=caller.scope(customer_id),
        status=filters.status,
        activation_id=filters.activation_id,
        created_from=to_db(filters.created_from) if filters.created_from else None,
        created_to=to_db(filters.created_to) if filters.created_to else None,
        cursor=cursor,
        limit=limit,
    )
    items, next_cursor = page_of(rows, limit)
    return SessionPage(items=[to_model(settings, r) for r in items], next_cursor=next_cursor)


async def patch(
    db: Database, settings: Settings, caller: Caller, session_id: str, body: SessionPatch
) -> Session:
    """Each change is checked against the row first (a clear 409/422), then applied by
    one conditional UPDATE that re-checks it, so a racing change cannot slip between."""
    current = await _owned(db, caller, session_id)
    if (body.revoked or body.expires_at is not None) and not caller.is_operator:
        raise Forbidden("only the operator revokes or extends a gallery")
    close = body.status == "closed" and current["status"] != "closed"
    if close and current["status"] != "open":
        raise Conflict(
            f"status cannot move from {current['status']} to closed", code="INVALID_TRANSITION"
        )
    payment_id = body.payment_id if body.payment_id != current["payment_id"] else None
    if payment_id is not None:
        if current["payment_id"] is not None:
            raise Conflict("the session already has a payment", code="PAYMENT_ALREADY_SET")
        if not await repository.payment_of(db, payment_id, str(current["customer_id"])):
            raise invalid("payment_id", "no such payment for this customer")
    revoke = bool(body.revoked) and current["revoked_at"] is None
    expires_at = to_db(body.expires_at) if body.expires_at is not None else None
    if revoke or expires_at is not None:
        if current["purged_at"] is not None:
            raise Conflict("the gallery's photos were already purged", code="GALLERY_PURGED")
        if expires_at is not None and current["revoked_at"] is not None:
            raise Conflict("a revoked gallery cannot be extended", code="GALLERY_REVOKED")
    if expires_at is not None and from_db(expires_at) <= utcnow():
        raise invalid("expires_at", "must be in the future")
    if not (close or payment_id or revoke or expires_at):
        return to_model(settings, current)
    row = await repository.update(
        db,
        str(current["id"]),
        close=close,
        payment_id=payment_id,
        revoke=revoke,
        expires_at=expires_at,
    )
    if row is None:
        raise Conflict("the session changed meanwhile: read it and retry", code="CONFLICT")
    return to_model(settings, row)


async def check_session(db: Database, session_id: str | None, customer_id: str) -> None:
    """422 on `session_id` unless it names a session of this customer (after an INSERT
    whose `belongs_clause` refused, to say why)."""
    if session_id is not None and not await repository.belongs(db, session_id, customer_id):
        raise invalid("session_id", "no such session for this customer")


async def stats(
    db: Database, caller: Caller, customer_id: str | None, day_from: date, day_to: date
) -> StatsPage:
    if day_to < day_from:
        raise invalid("to", "must not be before `from`")
    until = day_after("to", day_to)
    if (day_to - day_from).days >= MAX_STATS_DAYS:
        raise invalid("to", f"at most {MAX_STATS_DAYS} days per request")
    rows = await repository.daily_stats(
        db, caller.scope(customer_id), day_from.isoformat(), until.isoformat()
    )
    return StatsPage(items=[DayStats.model_validate(r) for r in rows])
