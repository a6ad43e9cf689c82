"""How a booth checks its activation certificate offline (runnable example).

Needs only the `cryptography` package and the PEM from `GET /api/licenses/public-key`
(fetched once, while online, and shipped with or cached by the booth software).

    python verify_certificate.py public_key.pem certificate.txt my-machine-fingerprint
"""

from __future__ import annotations

import base64
import json
import sys
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def check_offline(
    certificate: str, public_key_pem: str, fingerprint: str, now: float | None = None
) -> tuple[bool, str, dict[str, Any]]:
    """Return (may_run, reason, claims). `may_run` is False for a forged, foreign or stale one."""
    key = load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        return False, "public key is not Ed25519", {}
    try:
        header_b64, payload_b64, signature_b64 = certificate.strip().split(".")
        if json.loads(_b64(header_b64)).get("alg") != "EdDSA":
            return False, "unexpected algorithm", {}
        key.verify(_b64(signature_b64), f"{header_b64}.{payload_b64}".encode())
    except (ValueError, InvalidSignature):
        return False, "signature does not verify", {}
    claims: dict[str, Any] = json.loads(_b64(payload_b64))
    now = time.time() if now is None else now
    if claims["fingerprint"] != fingerprint:
        return False, "certificate is for another machine", claims
    if now > claims["grace_until"]:
        return False, "certificate expired: go online to refresh", claims
    if now > claims["exp"]:
        return True, "in grace period: refresh when online", claims
    return True, "valid", claims


if __name__ == "__main__":
    pem_path, certificate_path, machine = sys.argv[1:4]
    with open(pem_path) as pem, open(certificate_path) as cert:
        ok, reason, _ = check_offline(cert.read(), pem.read(), machine)
    print(reason)
    sys.exit(0 if ok else 1)
