"""Refund request and response bodies, and Xendit's refund callback."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from boothcloud.payments.schemas import Rupiah, XenditText
from boothcloud.schemas import INTEGER_MAX, STRICT_BODY, NoControl, Utf8
from boothcloud.timeutil import Timestamp

# Xendit's `CreateRefund.reason` enum (xendit-python / xendit-node SDK models).
RefundReason = Literal["FRAUDULENT", "DUPLICATE", "REQUESTED_BY_CUSTOMER", "CANCELLATION", "OTHERS"]
RefundStatus = Literal["pending", "succeeded", "failed"]
RefundSource = Literal["operator", "automatic"]


class RefundCreate(BaseModel):
    model_config = STRICT_BODY

    amount: StrictInt | None = Field(
        default=None,
        gt=0,
        le=INTEGER_MAX,
        description="Whole rupiah; omitted: everything that is still refundable (a full "
        "refund). Never more than the paid amount less pending and succeeded refunds.",
    )
    reason: RefundReason = Field(
        default="REQUESTED_BY_CUSTOMER", description="Sent to Xendit as the refund's reason."
    )
    note: Annotated[str, StringConstraints(max_length=500), Utf8, NoControl] | None = Field(
        default=None, description="Why, in words, for the operator's records."
    )


class Refund(BaseModel):
    id: str = Field(description="Ours (`rfd_...`); sent to Xendit as reference_id.")
    payment_id: str
    customer_id: str
    amount: int
    reason: RefundReason
    note: str | None = Field(
        description="Why: the operator's words, or for `automatic` the guarantee's."
    )
    source: RefundSource = Field(
        description="`operator`, or `automatic`: the paid-but-not-printed guarantee."
    )
    status: RefundStatus = Field(
        description="`pending` until Xendit's answer or callback says `succeeded` or "
        "`failed`; a failed refund's amount is refundable again."
    )
    xendit_refund_id: str | None
    failure_code: str | None
    created_at: Timestamp
    updated_at: Timestamp


class RefundList(BaseModel):
    items: list[Refund] = Field(description="Oldest first.")


class RefundCallbackData(BaseModel):
    """`data` of Xendit's refund callback (the SDK's `RefundCallbackData`): fields read."""

    model_config = ConfigDict(extra="allow")

    id: XenditText
    status: XenditText
    amount: Rupiah | None = None
    reference_id: XenditText | None = None
    failure_code: XenditText | None = None
    payment_id: XenditText | None = None
    invoice_id: XenditText | None = None


class RefundCallback(BaseModel):
    """Xendit's `refund.succeeded` / `refund.failed` callback (the SDK's `RefundCallback`)."""

    model_config = ConfigDict(extra="allow")

    event: Literal["refund.succeeded", "refund.failed"]
    data: RefundCallbackData
