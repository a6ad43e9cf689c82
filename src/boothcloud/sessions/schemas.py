"""Request and response bodies for sessions and their operator statistics."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from boothcloud.pagination import SCOPE_HELP, PageQuery
from boothcloud.schemas import STRICT_BODY, InputDatetime, Ref
from boothcloud.timeutil import Timestamp

SessionStatus = Literal["open", "closed", "abandoned"]


class SessionCreate(BaseModel):
    """A booth opens a session from one of its activated devices."""

    model_config = STRICT_BODY

    activation_id: Ref = Field(description="The booth device (`POST /api/licenses/activations`).")
    payment_id: Ref | None = Field(
        default=None,
        description="A payment of this customer that paid for the visit (null: free, or "
        "create the payment later with `session_id`).",
    )


class SessionPatch(BaseModel):
    """The booth closes its session; the operator revokes or extends the gallery."""

    model_config = STRICT_BODY

    status: Literal["closed"] | None = Field(
        default=None, description="`closed`: the visit is over (from `open` only)."
    )
    payment_id: Ref | None = Field(default=None, description="Attach the payment that paid for it.")
    revoked: Literal[True] | None = Field(
        default=None, description="Operator: the gallery answers 404 at once, for good."
    )
    expires_at: InputDatetime | None = Field(
        default=None, description="Operator: a new gallery expiry (in the future)."
    )


class Session(BaseModel):
    id: str
    customer_id: str
    activation_id: str | None
    status: SessionStatus
    payment_id: str | None
    share_code: str = Field(description="At least 128 bits of randomness; the gallery's key.")
    share_url: str = Field(description="`{BOOTHCLOUD_PUBLIC_URL}/s/{share_code}`.")
    expires_at: Timestamp = Field(description="When the gallery stops answering.")
    revoked_at: Timestamp | None
    purged_at: Timestamp | None = Field(description="When the gallery's objects were deleted.")
    closed_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class SessionPage(BaseModel):
    items: list[Session]
    next_cursor: str | None


class SessionFilters(BaseModel):
    status: SessionStatus | None = None
    activation_id: Ref | None = None
    created_from: InputDatetime | None = None
    created_to: InputDatetime | None = None


class SessionListQuery(SessionFilters, PageQuery):
    """Every query parameter of `GET /api/sessions` (see `PageQuery`)."""

    customer_id: str | None = Field(default=None, max_length=64, description=SCOPE_HELP)


class DayStats(BaseModel):
    customer_id: str
    day: date
    sessions: int = Field(description="Sessions opened that day.")
    paid_sessions: int = Field(description="Of those, sessions whose payment is completed.")
    photos: int = Field(description="Photos logged that day in any session.")
    prints: int = Field(description="Of those photos, the ones printed (`completed`).")
    gallery_opens: int = Field(description="Share-page views that day (not per guest).")
    downloads: int = Field(description="Single-photo and ZIP downloads that day.")


class StatsPage(BaseModel):
    items: list[DayStats]
