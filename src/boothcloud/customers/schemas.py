"""Request and response bodies for customers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from boothcloud.schemas import STRICT_BODY, Email, InputDatetime, Name, NoControl, Phone, Utf8
from boothcloud.settings import Tier
from boothcloud.timeutil import Timestamp

LicenseStatus = Literal["active", "suspended"]
EmailQuery = Annotated[str, StringConstraints(max_length=254), Utf8, NoControl]
SearchQuery = Annotated[str, StringConstraints(max_length=100), Utf8, NoControl]


class CustomerCreate(BaseModel):
    model_config = STRICT_BODY

    name: Name
    email: Email
    phone: Phone | None = None
    license_type: Tier = "starter"
    purchase_date: InputDatetime | None = Field(
        default=None, description="When the license was bought; defaults to now."
    )


class CustomerPatch(BaseModel):
    """Only the fields sent change; `license_expires_at: null` makes the license perpetual."""

    model_config = STRICT_BODY

    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    license_type: Tier | None = None
    license_status: LicenseStatus | None = None
    license_expires_at: InputDatetime | None = None


class Customer(BaseModel):
    id: str
    name: str
    email: str
    phone: str | None
    license_key: str
    license_type: Tier
    license_status: LicenseStatus
    license_expires_at: Timestamp | None
    purchase_date: Timestamp
    created_at: Timestamp
    updated_at: Timestamp


class CustomerPage(BaseModel):
    items: list[Customer]
    next_cursor: str | None
