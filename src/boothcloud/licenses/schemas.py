"""Request and response bodies for license validation and device activations."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from boothcloud.schemas import (
    INTEGER_MAX,
    STRICT_BODY,
    Fingerprint,
    InputDatetime,
    Name,
    NoControl,
    Ref,
    Utf8,
    not_a_boolean,
)
from boothcloud.settings import Tier
from boothcloud.timeutil import Timestamp

DeviceStatus = Literal["ALIVE", "DEAD"]
PrinterStateName = Literal["idle", "printing", "stopped"]
ValidationCode = Literal["VALID", "NOT_FOUND", "SUSPENDED", "EXPIRED", "NOT_ACTIVATED"]


class ValidateRequest(BaseModel):
    model_config = STRICT_BODY

    license_key: Annotated[str, StringConstraints(min_length=1, max_length=128), Utf8, NoControl]
    fingerprint: Fingerprint | None = None


class ValidateResponse(BaseModel):
    valid: bool
    code: ValidationCode
    detail: str
    customer_id: str | None = None
    license_type: Tier | None = None
    license_expires_at: Timestamp | None = None
    activation_id: str | None = None


class ActivationCreate(BaseModel):
    model_config = STRICT_BODY

    fingerprint: Fingerprint = Field(description="Stable id of the booth PC, 8-256 chars.")
    name: Name | None = None


class Activation(BaseModel):
    id: str
    customer_id: str
    fingerprint: str
    name: str | None
    created_at: Timestamp
    last_validated_at: Timestamp | None
    last_seen_at: Timestamp | None = Field(
        default=None, description="Last heartbeat (or the activation itself)."
    )
    status: DeviceStatus = Field(
        default="DEAD",
        description="`ALIVE` while `last_seen_at` is within `BOOTHCLOUD_HEARTBEAT_WINDOW_SECONDS`.",
    )
    agent_version: str | None = None
    free_disk_bytes: int | None = None
    queue_depth: int | None = Field(default=None, description="Print jobs waiting at the booth.")
    outbox_depth: int | None = Field(
        default=None, description="Entries the booth has not synced yet."
    )


class ActivationWithCertificate(Activation):
    certificate: str = Field(description="Compact JWS (EdDSA) to verify offline.")
    certificate_expires_at: Timestamp
    certificate_grace_until: Timestamp


class ActivationList(BaseModel):
    items: list[Activation]
    device_limit: int | None = Field(description="null: unlimited")


Label = Annotated[str, StringConstraints(min_length=1, max_length=128), Utf8, NoControl]
Reason = Annotated[str, StringConstraints(max_length=500), Utf8, NoControl]
# Integral numbers (`5.0` reads as 5, `true` is refused); the schema is stated in full
# because a before-validator hides the bounds from the generated one.
Count = Annotated[
    int,
    BeforeValidator(not_a_boolean),
    Field(ge=0, le=INTEGER_MAX),
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": INTEGER_MAX}),
]
Percent = Annotated[
    int,
    BeforeValidator(not_a_boolean),
    Field(ge=0, le=100),
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 100}),
]


class Marker(BaseModel):
    """A CUPS marker (`marker-names` / `marker-levels`): ink, ribbon, paper."""

    model_config = STRICT_BODY

    name: Label
    level: Percent | None = Field(
        default=None, description="Percent left; null when the driver reports none."
    )
    type: Label | None = Field(default=None, description="CUPS `marker-types`, e.g. `ribbon`.")


class PrinterReport(BaseModel):
    model_config = STRICT_BODY

    name: Label = Field(description="The CUPS queue name on the booth PC.")
    printer_id: Ref | None = Field(
        default=None, description="The boothcloud printer this queue prints for."
    )
    state: PrinterStateName = Field(description="CUPS `printer-state`: idle, printing, stopped.")
    reason: Reason | None = Field(
        default=None, description="CUPS `printer-state-reasons` / message (why it stopped)."
    )
    markers: list[Marker] = Field(default_factory=list, max_length=16)


class HeartbeatCreate(BaseModel):
    model_config = STRICT_BODY

    agent_version: Annotated[str, StringConstraints(min_length=1, max_length=64), Utf8, NoControl]
    free_disk_bytes: Count | None = None
    queue_depth: Count = Field(default=0, description="Print jobs waiting at the booth.")
    outbox_depth: Count | None = Field(
        default=None, description="Entries the booth has not synced yet."
    )
    printers: list[PrinterReport] = Field(
        default_factory=list,
        max_length=32,
        description="Every CUPS queue the agent drives (replaces the previous report).",
    )
    certificate_expires_at: InputDatetime | None = Field(
        default=None,
        description="`exp` of the certificate the booth holds: within "
        "`BOOTHCLOUD_CERTIFICATE_REFRESH_DAYS` of now (or omitted), the answer carries a "
        "fresh one.",
    )

    @field_validator("printers")
    @classmethod
    def _names_unique(cls, printers: list[PrinterReport]) -> list[PrinterReport]:
        """A 422 on `printers` (JSON Schema's `uniqueItems` compares whole items, not names)."""
        names = [printer.name for printer in printers]
        if len(set(names)) != len(names):
            raise ValueError("each CUPS queue name once")
        return printers


class IssuedCertificate(BaseModel):
    token: str = Field(description="Compact JWS (EdDSA) to verify offline.")
    expires_at: Timestamp
    grace_until: Timestamp


class HeartbeatAnswer(BaseModel):
    activation: Activation
    certificate: IssuedCertificate | None = Field(
        description="A fresh certificate when the booth's is within the refresh window."
    )


class DevicePrinter(BaseModel):
    activation_id: str
    customer_id: str
    device_name: str | None
    device_status: DeviceStatus
    name: str = Field(description="The CUPS queue name on the booth PC.")
    printer_id: str | None
    state: PrinterStateName
    reason: str | None
    markers: list[Marker]
    reported_at: Timestamp


class ActivationPage(BaseModel):
    items: list[Activation]
    next_cursor: str | None


class DevicePrinterPage(BaseModel):
    items: list[DevicePrinter]
    next_cursor: str | None


class PublicKey(BaseModel):
    algorithm: Literal["Ed25519"] = "Ed25519"
    format: Literal["JWS compact, alg EdDSA"] = "JWS compact, alg EdDSA"
    public_key_pem: str
