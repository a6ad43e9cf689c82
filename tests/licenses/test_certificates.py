"""Activation certificates verify offline with only the public key, and tampering fails.

The independent check uses `cryptography` directly on the JWS parts, not boothcloud's own
verifier, so a bug shared by signer and verifier cannot hide.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from boothcloud.licenses.certificates import InvalidCertificate, verify_certificate
from tests.conftest import ADMIN, create_customer, license_auth


def b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def issued(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any], str]:
    customer = await create_customer(client, license_type="pro")
    activation = (
        await client.post(
            "/api/licenses/activations",
            json={"fingerprint": "booth-pc-0001"},
            headers=license_auth(customer["license_key"]),
        )
    ).json()
    pem = (await client.get("/api/licenses/public-key")).json()["public_key_pem"]
    return customer, activation, pem


async def test_certificate_verifies_independently(client: httpx.AsyncClient) -> None:
    customer, activation, pem = await issued(client)
    header_b64, payload_b64, signature_b64 = activation["certificate"].split(".")
    key = load_pem_public_key(pem.encode())
    assert isinstance(key, Ed25519PublicKey)
    key.verify(b64decode(signature_b64), f"{header_b64}.{payload_b64}".encode())
    assert json.loads(b64decode(header_b64))["alg"] == "EdDSA"
    claims = json.loads(b64decode(payload_b64))
    assert claims["sub"] == activation["id"]
    assert claims["customer_id"] == customer["id"]
    assert claims["license_type"] == "pro"
    assert claims["fingerprint"] == "booth-pc-0001"
    assert claims["exp"] - claims["iat"] == 30 * 86400
    assert claims["grace_until"] - claims["exp"] == 7 * 86400
    assert verify_certificate(activation["certificate"], pem) == claims


async def test_tampered_certificate_is_rejected(client: httpx.AsyncClient) -> None:
    _, activation, pem = await issued(client)
    header_b64, payload_b64, signature_b64 = activation["certificate"].split(".")
    claims = json.loads(b64decode(payload_b64))
    claims["fingerprint"] = "someone-elses-pc"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    forged = f"{header_b64}.{forged_payload}.{signature_b64}"
    key = load_pem_public_key(pem.encode())
    assert isinstance(key, Ed25519PublicKey)
    with pytest.raises(InvalidSignature):
        key.verify(b64decode(signature_b64), f"{header_b64}.{forged_payload}".encode())
    with pytest.raises(InvalidCertificate):
        verify_certificate(forged, pem)
    flipped = signature_b64[:-2] + ("A" if signature_b64[-2] != "A" else "B") + signature_b64[-1]
    with pytest.raises(InvalidCertificate):
        verify_certificate(f"{header_b64}.{payload_b64}.{flipped}", pem)


async def test_certificate_never_outlives_the_license(client: httpx.AsyncClient) -> None:
    customer = await create_customer(client)
    license_end = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    iso_end = license_end.strftime("%Y-%m-%dT%H:%M:%SZ")
    patched = await client.patch(
        f"/api/customers/{customer['id']}", json={"license_expires_at": iso_end}, headers=ADMIN
    )
    assert patched.status_code == 200
    activation = (
        await client.post(
            "/api/licenses/activations",
            json={"fingerprint": "booth-pc-0001"},
            headers=license_auth(customer["license_key"]),
        )
    ).json()
    assert activation["certificate_expires_at"] == iso_end
    claims = json.loads(b64decode(activation["certificate"].split(".")[1]))
    assert claims["exp"] == int(license_end.timestamp())
    assert claims["grace_until"] == int((license_end + timedelta(days=7)).timestamp())


async def test_signing_key_persists_across_restarts(tmp_path: Any) -> None:
    from boothcloud.app import create_app
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "data")
    pems = []
    for _ in range(2):
        app = create_app(settings, apply_migrations=True)
        async with app.router.lifespan_context(app):
            pems.append(app.state.services.signer.public_key_pem())
    assert pems[0] == pems[1]
    assert (settings.signing_key_path.stat().st_mode & 0o777) == 0o600
