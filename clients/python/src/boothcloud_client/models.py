"""What the server answers, as frozen dataclasses (typed; unknown fields are ignored).

Ignoring fields a newer server adds is what lets an old booth keep working after a
deploy: the API version only changes for removals and changed meanings (see `version`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

PrintStatus = Literal["pending", "printing", "completed", "failed"]
PrinterStateName = Literal["idle", "printing", "stopped"]
PaymentMethod = Literal["invoice", "qris"]

T = TypeVar("T")


def _moment(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def build(cls: type[T], data: Mapping[str, Any]) -> T:
    """`cls` from a JSON object: known fields only, ISO timestamps to aware datetimes.

    A field is a timestamp when its annotation names `datetime`; nested models convert
    themselves in their own `from_json`.
    """
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name not in data:
            continue
        value = data[field.name]
        values[field.name] = _moment(value) if "datetime" in str(field.type) else value
    return cls(**values)


@dataclass(frozen=True, slots=True)
class ValidationResult:
    valid: bool
    code: str  # VALID, NOT_FOUND, SUSPENDED, EXPIRED, NOT_ACTIVATED
    detail: str
    customer_id: str | None = None
    license_type: str | None = None
    license_expires_at: datetime | None = None
    activation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Certificate:
    """The offline certificate: a compact JWS to verify with the server's public key."""

    token: str
    expires_at: datetime
    grace_until: datetime


@dataclass(frozen=True, slots=True)
class Activation:
    id: str
    customer_id: str
    fingerprint: str
    name: str | None
    created_at: datetime
    last_validated_at: datetime | None = None
    last_seen_at: datetime | None = None
    status: str | None = None  # ALIVE or DEAD (heartbeat window)
    agent_version: str | None = None
    free_disk_bytes: int | None = None
    queue_depth: int | None = None
    outbox_depth: int | None = None
    certificate: Certificate | None = None  # activation answers and refreshing heartbeats

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Activation:
        plain = {k: v for k, v in data.items() if k != "certificate"}
        activation = build(cls, plain)
        if not data.get("certificate"):
            return activation
        certificate = Certificate(
            token=str(data["certificate"]),
            expires_at=_required(data, "certificate_expires_at"),
            grace_until=_required(data, "certificate_grace_until"),
        )
        return dataclasses.replace(activation, certificate=certificate)


def _required(data: Mapping[str, Any], name: str) -> datetime:
    moment = _moment(data.get(name))
    if moment is None:
        raise ValueError(f"answer lacks {name}")
    return moment


@dataclass(frozen=True, slots=True)
class ActivationList:
    items: tuple[Activation, ...]
    device_limit: int | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ActivationList:
        return cls(
            tuple(Activation.from_json(item) for item in data["items"]), data.get("device_limit")
        )


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The heartbeat's answer: the activation as the server now sees it, and a fresh
    certificate when the booth's current one is within the refresh window."""

    activation: Activation
    certificate: Certificate | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Heartbeat:
        activation = Activation.from_json(data["activation"])
        issued = data.get("certificate")
        certificate = (
            None
            if not issued
            else Certificate(
                token=str(issued["token"]),
                expires_at=_required(issued, "expires_at"),
                grace_until=_required(issued, "grace_until"),
            )
        )
        return cls(activation, certificate)


@dataclass(frozen=True, slots=True)
class Photo:
    id: str
    customer_id: str
    r2_key: str
    print_status: str
    printer_id: str | None
    created_at: datetime
    updated_at: datetime
    session_id: str | None = None
    claimed_at: datetime | None = None
    uploaded_at: datetime | None = None
    object_size: int | None = None
    content_type: str | None = None
    purged_at: datetime | None = None
    upload_url: str | None = None
    download_url: str | None = None


@dataclass(frozen=True, slots=True)
class Printer:
    id: str
    customer_id: str
    name: str
    type: str
    connection_type: str
    is_default: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Payment:
    id: str
    customer_id: str
    amount: int
    currency: str
    status: str  # pending, processing, completed, failed
    created_at: datetime
    platform_fee: int = 0
    net_amount: int = 0
    method: str = "invoice"
    description: str | None = None
    payer_email: str | None = None
    xendit_payment_id: str | None = None
    invoice_url: str | None = None
    qr_string: str | None = None
    expires_at: datetime | None = None
    paid_at: datetime | None = None
    paid_amount: int | None = None
    payment_method: str | None = None
    payment_channel: str | None = None
    failure_reason: str | None = None
    flagged: bool = False
    review_reason: str | None = None
    session_id: str | None = None
    updated_at: datetime | None = None

    @property
    def settled(self) -> bool:
        """No further change will come (stop long-polling)."""
        return self.status in ("completed", "failed")


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    customer_id: str
    activation_id: str | None
    status: str  # open, closed, abandoned
    payment_id: str | None
    share_code: str
    share_url: str
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    revoked_at: datetime | None = None
    purged_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ServerVersion:
    api_version: int
    server_version: str


@dataclass(frozen=True, slots=True)
class Marker:
    """A CUPS marker (ink, ribbon, paper): `level` 0-100, None when the driver reports none."""

    name: str
    level: int | None = None
    type: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class PrinterState:
    """One CUPS queue on the booth PC, as the heartbeat reports it."""

    name: str
    state: PrinterStateName
    printer_id: str | None = None  # the boothcloud printer this queue prints for
    reason: str | None = None  # CUPS's printer-state-reasons / message, when stopped
    markers: tuple[Marker, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "printer_id": self.printer_id,
            "reason": self.reason,
            "markers": [marker.to_json() for marker in self.markers],
        }
