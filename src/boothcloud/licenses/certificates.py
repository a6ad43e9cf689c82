"""Offline activation certificates: compact JWS (EdDSA / Ed25519) a booth verifies alone.

A booth may lose its network for days at a mall; it keeps working while it holds a
certificate signed by the server's Ed25519 key. The format is a standard compact JWS
(`header.payload.signature`, base64url, `alg: EdDSA`), so any JOSE library, or twenty
lines of code with the public key from `GET /api/licenses/public-key`, can check it.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from boothcloud.settings import Settings

HEADER = {"alg": "EdDSA", "typ": "JWT", "kid": "boothcloud-license-v1"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class InvalidCertificate(Exception):
    """The certificate's format or signature does not check out."""


@dataclass(frozen=True, slots=True)
class CertificateSigner:
    private_key: Ed25519PrivateKey

    @classmethod
    def load_or_create(cls, settings: Settings) -> CertificateSigner:
        """Load the PEM key, or create one (mode 0600) on first start."""
        path: Path = settings.signing_key_path
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an Ed25519 private key")
            return cls(key)
        key = Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return cls(key)

    def public_key_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, claims: dict[str, Any]) -> str:
        signing_input = (
            b64url(orjson.dumps(HEADER))
            + "."
            + b64url(orjson.dumps(claims, option=orjson.OPT_SORT_KEYS))
        )
        signature = self.private_key.sign(signing_input.encode())
        return signing_input + "." + b64url(signature)


def certificate_claims(
    *,
    activation_id: str,
    customer_id: str,
    license_type: str,
    fingerprint: str,
    issued_at: datetime,
    license_expires_at: datetime | None,
    ttl_days: int,
    grace_days: int,
) -> dict[str, Any]:
    """What the booth may rely on offline: who, which device, and until when.

    `exp` is when the booth should refresh (never later than the license's own expiry);
    `grace_until` is the last moment a booth that could not refresh may keep working.
    """
    expires = issued_at + timedelta(days=ttl_days)
    if license_expires_at is not None:
        expires = min(expires, license_expires_at)
    return {
        "iss": "boothcloud",
        "sub": activation_id,
        "customer_id": customer_id,
        "license_type": license_type,
        "fingerprint": fingerprint,
        "iat": int(issued_at.timestamp()),
        "exp": int(expires.timestamp()),
        "grace_until": int((expires + timedelta(days=grace_days)).timestamp()),
    }


def verify_certificate(token: str, public_key_pem: str) -> dict[str, Any]:
    """What a booth runs offline: check the signature, return the claims.

    Checking `fingerprint` against the machine and `grace_until` against the clock is the
    caller's part (see docs/licenses.md).
    """
    key = serialization.load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidCertificate("public key is not Ed25519")
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = orjson.loads(b64url_decode(header_b64))
        if header.get("alg") != "EdDSA":
            raise InvalidCertificate("unexpected algorithm")
        key.verify(b64url_decode(signature_b64), f"{header_b64}.{payload_b64}".encode())
        claims: dict[str, Any] = orjson.loads(b64url_decode(payload_b64))
    except (ValueError, InvalidSignature, orjson.JSONDecodeError) as error:
        raise InvalidCertificate("certificate does not verify") from error
    return claims
