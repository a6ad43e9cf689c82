"""Request and response bodies for venues (a cafe or mall hosting a booth)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, Field, StrictInt, model_validator

from boothcloud.schemas import STRICT_BODY, Matches, Name, Ref
from boothcloud.timeutil import Timestamp

XenditAccount = Annotated[
    str, Matches(r"^[A-Za-z0-9_\-]{1,64}$", "not a Xendit account id (1-64 letters, digits)")
]


class VenueCreate(BaseModel):
    """Exactly one of `share_basis_points` and `share_amount`. A venue is never edited:
    a new agreement is a new venue (the device is placed there), so the share every past
    payment carried stays explained."""

    model_config = STRICT_BODY

    customer_id: Ref = Field(description="Whose booths stand at this venue.")
    name: Name
    xendit_sub_account_id: XenditAccount = Field(
        description="The venue's own xenPlatform sub-account: where its share goes."
    )
    share_basis_points: StrictInt | None = Field(
        default=None, ge=1, le=10_000, description="1-10,000: 250 is 2.5% of each payment."
    )
    share_amount: StrictInt | None = Field(
        default=None, ge=1, le=10_000_000, description="A flat share in whole rupiah."
    )

    @model_validator(mode="after")
    def _one_share(self) -> Self:
        if (self.share_basis_points is None) == (self.share_amount is None):
            raise ValueError("give exactly one of share_basis_points and share_amount")
        return self


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
