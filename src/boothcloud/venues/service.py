"""Venue rules: the operator sets up venues and places devices; a booth reads its own.

Why operator-only writes: a venue's sub-account receives part of every payment the
device takes, so who may redirect a booth owner's money is the platform's decision (the
owner agrees it with the venue and the operator records it), not something a leaked booth
key may change. A venue is never edited (see `VenueCreate`).
"""

from __future__ import annotations

from boothcloud.auth import Caller, not_found
from boothcloud.db.base import Database
from boothcloud.ids import new_id
from boothcloud.printers.service import owner_for_create
from boothcloud.venues import repository
from boothcloud.venues.schemas import FlatShare, Placement, Venue, VenueCreate, VenuePage


async def create(db: Database, caller: Caller, body: VenueCreate) -> Venue:
    customer_id = await owner_for_create(db, caller, body.customer_id)
    row = await repository.insert(
        db,
        {
            "id": new_id("ven"),
            "customer_id": customer_id,
            "name": body.name,
            "xendit_sub_account_id": body.xendit_sub_account_id,
            "share_basis_points": None
            if isinstance(body.share, FlatShare)
            else body.share.basis_points,
            "share_amount": body.share.amount if isinstance(body.share, FlatShare) else None,
        },
    )
    return Venue.model_validate(row)


async def get(db: Database, caller: Caller, venue_id: str) -> Venue:
    return Venue.model_validate(caller.owned(await repository.get(db, venue_id), "venue", venue_id))


async def list_page(
    db: Database, caller: Caller, *, customer_id: str | None, cursor: str | None, limit: int
) -> VenuePage:
    rows, next_cursor = await repository.page(db, caller.scope(customer_id), cursor, limit)
    return VenuePage(items=[Venue.model_validate(r) for r in rows], next_cursor=next_cursor)


async def place(db: Database, caller: Caller, venue_id: str, activation_id: str) -> Placement:
    """Payments of sessions on this device carry the venue's share from now on (a device
    stands at one venue at a time: placing it elsewhere moves it)."""
    venue = await get(db, caller, venue_id)
    if not await repository.place(db, activation_id, venue.id, venue.customer_id):
        raise not_found("activation", activation_id)
    return Placement(activation_id=activation_id, venue_id=venue.id)


async def unplace(db: Database, caller: Caller, venue_id: str, activation_id: str) -> None:
    venue = await get(db, caller, venue_id)
    if not await repository.unplace(db, activation_id, venue.id):
        raise not_found("activation", activation_id)
