"""Request and response bodies for license validation and device activations."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from boothcloud.schemas import STRICT_BODY, Fingerprint, Name, NoControl, Utf8
from boothcloud.settings import Tier
from boothcloud.timeutil import Timestamp

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


class ActivationWithCertificate(Activation):
    certificate: str = Field(description="Compact JWS (EdDSA) to verify offline.")
    certificate_expires_at: Timestamp
    certificate_grace_until: Timestamp


class ActivationList(BaseModel):
    items: list[Activation]
    device_limit: int | None = Field(description="null: unlimited")


class PublicKey(BaseModel):
    algorithm: Literal["Ed25519"] = "Ed25519"
    format: Literal["JWS compact, alg EdDSA"] = "JWS compact, alg EdDSA"
    public_key_pem: str
