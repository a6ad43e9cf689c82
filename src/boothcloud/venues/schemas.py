"""Request and response bodies for venues (a cafe or mall hosting a booth)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema

from boothcloud.schemas import STRICT_BODY, Matches, Name, Ref
from boothcloud.timeutil import Timestamp

XenditAccount = Annotated[
    str, Matches(r"^[A-Za-z0-9_\-]{1,64}$", "not a Xendit account id (1-64 letters, digits)")
]


def _whole_number(value: object) -> object:
    """A JSON integer, or a number with no fraction (`2500.0`, an integer to JSON Schema);
    never a boolean or a string."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be a whole number")
        return int(value)
    return value


BasisPoints = Annotated[
    int,
    BeforeValidator(_whole_number),
    Field(ge=1, le=10_000),
    # Stated in full: a before-validator hides the bounds from the generated schema.
    WithJsonSchema(
        {"type": "integer", "minimum": 1, "maximum": 10_000, "description": "250 is 2.5%."}
    ),
]
FlatRupiah = Annotated[
    int,
    BeforeValidator(_whole_number),
    Field(ge=1, le=10_000_000),
    WithJsonSchema(
        {"type": "integer", "minimum": 1, "maximum": 10_000_000, "description": "Whole rupiah."}
    ),
]


class PercentShare(BaseModel):
    model_config = STRICT_BODY

    basis_points: BasisPoints


class FlatShare(BaseModel):
    model_config = STRICT_BODY

    amount: FlatRupiah


class VenueCreate(BaseModel):
    """A venue is never edited: a new agreement is a new venue (the device is placed
    there), so the share every past payment carried stays explained."""

    model_config = STRICT_BODY

    customer_id: Ref = Field(description="Whose booths stand at this venue.")
    name: Name
    xendit_sub_account_id: XenditAccount = Field(
        description="The venue's own xenPlatform sub-account: where its share goes."
    )
    share: PercentShare | FlatShare = Field(
        description='`{"basis_points": n}` (a percentage) or `{"amount": n}` (flat rupiah).'
    )


class Venue(BaseModel):
    id: str
    customer_id: str
    name: str
    xendit_sub_account_id: str
    share_basis_points: int | None
    share_amount: int | None
    created_at: Timestamp


class VenuePage(BaseModel):
    items: list[Venue]
    next_cursor: str | None


class Placement(BaseModel):
    activation_id: str
    venue_id: str | None = Field(description="The venue the device stands at; null: none.")
