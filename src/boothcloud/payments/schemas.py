"""Request and response bodies for payments, the Xendit callback, and summaries."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
)

from boothcloud.schemas import (
    INTEGER_MAX,
    STRICT_BODY,
    Email,
    NoControl,
    Ref,
    Utf8,
    not_a_boolean,
)
from boothcloud.timeutil import Timestamp

PaymentStatus = Literal["pending", "processing", "completed", "failed"]
STATUSES: tuple[PaymentStatus, ...] = ("pending", "processing", "completed", "failed")
PaymentMethod = Literal["invoice", "qris"]


class PaymentCreate(BaseModel):
    """Amount in whole rupiah; min and max come from settings (checked by the service)."""

    model_config = STRICT_BODY

    amount: StrictInt = Field(
        gt=0, le=INTEGER_MAX, description="Whole rupiah (IDR), an integer; see settings."
    )
    description: Annotated[str, StringConstraints(max_length=1000), Utf8, NoControl] | None = None
    payer_email: Email | None = None
    customer_id: Ref | None = Field(
        default=None,
        description="Required for the operator: whose payment this is; a booth pays for its "
        "own customer (its own id, or omitted).",
    )
    session_id: Ref | None = Field(
        default=None,
        description="The guest session this pays for (the customer's own); it becomes the "
        "session's `payment_id` when the session has none yet.",
    )
    method: PaymentMethod = Field(
        default="invoice",
        description="`invoice`: a Xendit Invoice (hosted page, `invoice_url`). `qris`: a "
        "dynamic QRIS code for the booth's screen (`qr_string`, or `GET .../qr.svg`); "
        "QRIS takes 1 to 10,000,000 rupiah.",
    )


class Payment(BaseModel):
    id: str
    customer_id: str
    amount: int
    platform_fee: int = Field(description="The platform's part (whole rupiah).")
    venue_amount: int = Field(
        default=0, description="The venue's part: its share, routed to its sub-account."
    )
    net_amount: int = Field(
        description="The owner's part, what the customer keeps: "
        "`amount - platform_fee - venue_amount`."
    )
    currency: str
    status: PaymentStatus
    description: str | None
    payer_email: str | None
    method: PaymentMethod = "invoice"
    xendit_payment_id: str | None = Field(
        description="The Xendit invoice id, or the QR code id (`qr_...`) for `qris`."
    )
    invoice_url: str | None
    qr_string: str | None = Field(
        default=None, description="`qris` only: the QRIS payload to render as a QR code."
    )
    expires_at: Timestamp | None
    paid_at: Timestamp | None
    paid_amount: int | None
    payment_method: str | None
    payment_channel: str | None
    failure_reason: str | None
    flagged: bool = Field(description="Needs the operator's review (see `review_reason`).")
    review_reason: str | None
    session_id: str | None = None
    venue_id: str | None = Field(
        default=None, description="The venue whose share this payment carries, if any."
    )
    xendit_split_rule_id: str | None = Field(
        default=None,
        description="The xenPlatform split rule (`splitru_...`) sent in `with-split-rule`; "
        "null: no split rule (the customer has no sub-account, or none is configured).",
    )
    refunded_amount: int = Field(
        default=0,
        description="Rupiah refunded or being refunded (pending and succeeded refunds; "
        "`GET .../refunds` says which). The status stays `completed`.",
    )
    created_at: Timestamp
    updated_at: Timestamp | None


class PaymentPage(BaseModel):
    items: list[Payment]
    next_cursor: str | None


XenditText = Annotated[str, StringConstraints(min_length=1, max_length=256), Utf8, NoControl]


_RUPIAH_TEXT = (
    "Whole rupiah: an integral number (`30000.0` is read as 30000; `30000.5` is refused)."
)
Rupiah = Annotated[
    int,
    BeforeValidator(not_a_boolean),
    Field(ge=0, le=INTEGER_MAX, description=_RUPIAH_TEXT),
    # Stated in full: a before-validator hides the bounds from the generated schema.
    WithJsonSchema(
        {"type": "integer", "minimum": 0, "maximum": INTEGER_MAX, "description": _RUPIAH_TEXT}
    ),
]


class InvoiceCallback(BaseModel):
    """The fields of Xendit's invoice callback this service reads; others are kept raw.

    Bounded like every body: a callback these types refuse is recorded as rejected and
    answered 4xx (see `events.reject`), never stored half-read.
    """

    model_config = ConfigDict(extra="allow")

    id: XenditText
    external_id: XenditText
    status: XenditText
    amount: Rupiah | None = None
    paid_amount: Rupiah | None = None
    paid_at: XenditText | None = None
    payment_method: XenditText | None = None
    payment_channel: XenditText | None = None


class QrPaymentData(BaseModel):
    """`data` of Xendit's `qr.payment` callback (QR Codes API 2022-07-31): the fields read."""

    model_config = ConfigDict(extra="allow")

    id: XenditText
    qr_id: XenditText
    reference_id: XenditText
    status: XenditText
    amount: Rupiah | None = None
    currency: XenditText | None = None
    channel_code: XenditText | None = None
    created: XenditText | None = None


class QrPaymentCallback(BaseModel):
    """Xendit's `qr.payment` callback: `{"event": "qr.payment", ..., "data": {...}}`."""

    model_config = ConfigDict(extra="allow")

    event: Literal["qr.payment"]
    data: QrPaymentData


class WebhookAck(BaseModel):
    received: bool = True
    duplicate: bool = Field(description="This (invoice, status) was processed before.")
    outcome: str = Field(
        description="applied, unchanged, flagged, unknown_payment, ignored or duplicate."
    )


class StatusCounts(BaseModel):
    pending: int = 0
    processing: int = 0
    completed: int = 0
    failed: int = 0


class MethodFigures(BaseModel):
    count: int = Field(default=0, description="Payments created with this method, any status.")
    gross: int = Field(default=0, description="Sum of completed amounts.")


class MethodBreakdown(BaseModel):
    invoice: MethodFigures = Field(default_factory=MethodFigures)
    qris: MethodFigures = Field(default_factory=MethodFigures)


class SummaryFigures(BaseModel):
    count: int = Field(description="Payments created, any status.")
    gross: int = Field(description="Sum of completed amounts.")
    platform_fees: int = Field(description="Sum of completed platform parts.")
    venue_shares: int = Field(default=0, description="Sum of completed venue parts.")
    net: int = Field(
        description="Sum of completed owner parts: gross - platform_fees - venue_shares."
    )
    refunded: int = Field(
        default=0, description="Sum of refunds that succeeded, by the UTC day they were made."
    )
    refunds: int = Field(default=0, description="How many refunds succeeded.")
    by_status: StatusCounts
    by_method: MethodBreakdown = Field(default_factory=MethodBreakdown)


class SummaryDay(SummaryFigures):
    day: date = Field(description="UTC day the payments were created.")


class PaymentSummary(BaseModel):
    customer_id: str | None = Field(description="null: every customer (operator only).")
    created_from: Timestamp
    created_to: Timestamp
    days: list[SummaryDay]
    totals: SummaryFigures


class ReconcileReport(BaseModel):
    checked: int = 0
    completed: int = 0
    failed: int = 0
    flagged: int = 0
    unchanged: int = 0
    errors: int = 0
