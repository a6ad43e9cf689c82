"""Offline activation certificates: compact JWS (EdDSA / Ed25519) a booth verifies alone.

A booth may lose its network for days at a mall; it keeps working while it holds a
certificate signed by the server's Ed25519 key. The format is a standard compact JWS
(`header.payload.signature`, base64url, `alg: EdDSA`), so any JOSE library, or twenty
lines of code with the public key from `GET /api/licenses/public-key`, can check it.
"""

from __future__ import annotations

import base64
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
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


class SigningKeyError(ValueError):
    """The signing key file exists but cannot be used; the message names the file."""


def _create_once(path: Path) -> None:
    """Put a new key at `path` unless another process got there first (see load_or_create)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:  # mkstemp: mode 0600
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return  # another worker's key is in place, complete: use that one
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the new name survives a power loss
        finally:
            os.close(folder)
    finally:
        os.unlink(temporary)


def _load(path: Path) -> Ed25519PrivateKey:
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise SigningKeyError(
            f"license signing key {path} is damaged ({len(data)} bytes, not an unencrypted "
            "PEM private key): restore it from a backup. boothcloud never replaces it, "
            "because booths hold certificates it signed; delete it only to start a new "
            "deployment."
        ) from error
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"license signing key {path} is not an Ed25519 private key")
    return key


@dataclass(frozen=True, slots=True)
class CertificateSigner:
    private_key: Ed25519PrivateKey

    @classmethod
    def load_or_create(cls, settings: Settings) -> CertificateSigner:
        """Load the PEM key, creating it once, atomically, on the first start.

        Every worker of a fresh deployment starts here at the same moment. Each that finds
        no key writes a complete one to its own temporary file in the same folder, fsyncs
        it and `os.link`s it to the final name; the link fails when the name exists, so
        exactly one key wins, every other worker reads the winner's, and a crash leaves at
        most a stray temporary file, never a partial key. An existing key file that does
        not load is refused, never replaced: it signed certificates booths still hold.
        """
        path: Path = settings.signing_key_path
        if not path.exists():
            _create_once(path)
        return cls(_load(path))

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
