"""Who this booth PC is (its fingerprint) and whether its offline certificate lets it run.

The certificate is the server's compact JWS (EdDSA, Ed25519) described in the server's
docs/licenses.md; it is verified here with the public key fetched once while online, so a
booth with no network still knows whether it may run: until `grace_until`, with a warning
after `exp`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


def machine_fingerprint() -> str:
    """A stable, non-identifying id of this machine: SHA-256 of systemd's machine id (or
    the MAC address where there is none), never the raw id. `BOOTHCLOUD_AGENT_FINGERPRINT`
    overrides it (several test booths on one machine, or a replaced disk keeping its slot)."""
    chosen = os.environ.get("BOOTHCLOUD_AGENT_FINGERPRINT")
    if chosen:
        return chosen
    raw = next(
        (p.read_text().strip() for p in MACHINE_ID_FILES if p.is_file() and p.read_text().strip()),
        f"mac:{uuid.getnode():012x}",
    )
    return hashlib.sha256(f"boothcloud-agent:{raw}".encode()).hexdigest()


class CertificateRefused(Exception):
    """The booth must not run: no, a forged, a foreign or an expired certificate."""


@dataclass(frozen=True, slots=True)
class CertificateCheck:
    claims: dict[str, Any]
    in_grace: bool

    @property
    def message(self) -> str:
        if self.in_grace:
            return "certificate expired; running in its grace period: go online to refresh"
        return "certificate valid"


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def check_certificate(
    certificate: str | None, public_key_pem: str | None, fingerprint: str, now: float | None = None
) -> CertificateCheck:
    """Verify signature, machine and dates offline; raise CertificateRefused otherwise."""
    if not certificate or not public_key_pem:
        raise CertificateRefused("not activated: run `boothcloud-agent activate` while online")
    key = load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise CertificateRefused("the stored public key is not Ed25519")
    try:
        header, payload, signature = certificate.strip().split(".")
        if json.loads(_b64(header)).get("alg") != "EdDSA":
            raise CertificateRefused("the certificate is not signed with EdDSA")
        key.verify(_b64(signature), f"{header}.{payload}".encode())
        claims: dict[str, Any] = json.loads(_b64(payload))
    except (ValueError, InvalidSignature) as error:
        raise CertificateRefused("the certificate's signature does not verify") from error
    if claims.get("fingerprint") != fingerprint:
        raise CertificateRefused("the certificate is for another machine")
    moment = time.time() if now is None else now
    if moment > float(claims["grace_until"]):
        raise CertificateRefused("the certificate expired past its grace: go online to refresh")
    return CertificateCheck(claims=claims, in_grace=moment > float(claims["exp"]))
