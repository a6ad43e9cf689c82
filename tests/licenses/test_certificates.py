"""Activation certificates verify offline with only the public key, and tampering fails.

The independent check uses `cryptography` directly on the JWS parts, not boothcloud's own
verifier, so a bug shared by signer and verifier cannot hide.
"""

from __future__ import annotations

import base64
import json
import multiprocessing
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from boothcloud.app import create_app
from boothcloud.licenses.certificates import (
    CertificateSigner,
    InvalidCertificate,
    SigningKeyError,
    verify_certificate,
)
from tests.conftest import ADMIN, create_customer, license_auth, make_settings


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


async def test_signing_key_persists_across_restarts(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    pems = []
    for _ in range(2):
        app = create_app(settings, apply_migrations=True)
        async with app.router.lifespan_context(app):
            pems.append(app.state.services.signer.public_key_pem())
    assert pems[0] == pems[1]
    assert (settings.signing_key_path.stat().st_mode & 0o777) == 0o600


def _start_worker(key_path: str, barrier: Any, results: Any) -> None:
    """One server worker's start-up, in its own process.

    Every worker passes the "is there a key?" check before any of them goes on (the
    barrier), which is the interleaving `--workers 2` on a fresh folder hit by chance.
    """
    import pathlib

    from boothcloud.licenses.certificates import CertificateSigner
    from tests.conftest import make_settings

    real_exists = pathlib.Path.exists

    def exists_then_wait(self: pathlib.Path, *args: Any, **kwargs: Any) -> bool:
        found = real_exists(self, *args, **kwargs)
        if str(self) == key_path:
            barrier.wait(timeout=60)
        return found

    pathlib.Path.exists = exists_then_wait  # type: ignore[method-assign]
    settings = make_settings(pathlib.Path(key_path).parent, license_signing_key_path=key_path)
    try:
        results.put(CertificateSigner.load_or_create(settings).public_key_pem())
    except Exception as error:
        results.put(f"{type(error).__name__}: {error}")


def test_workers_starting_together_create_one_key(tmp_path: Path) -> None:
    workers = 4
    key_path = tmp_path / "data" / "license_signing_key.pem"
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(workers), context.Queue()
    processes = [
        context.Process(target=_start_worker, args=(str(key_path), barrier, results))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    answers = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert all(a.startswith("-----BEGIN PUBLIC KEY-----") for a in answers), answers
    assert len(set(answers)) == 1
    assert (
        CertificateSigner.load_or_create(make_settings(tmp_path / "data")).public_key_pem()
        == (answers[0])
    )
    assert [p.name for p in key_path.parent.iterdir()] == [key_path.name]  # no temp files
    assert (key_path.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\x17garbage",
        b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI",  # cut off mid-write
    ],
    ids=["empty", "garbage", "truncated"],
)
async def test_damaged_key_file_is_refused_and_kept(tmp_path: Path, content: bytes) -> None:
    settings = make_settings(tmp_path / "data")
    settings.signing_key_path.parent.mkdir(parents=True)
    settings.signing_key_path.write_bytes(content)
    app = create_app(settings, apply_migrations=True)
    with pytest.raises(SigningKeyError, match=re.escape(str(settings.signing_key_path))):
        async with app.router.lifespan_context(app):
            pass
    assert settings.signing_key_path.read_bytes() == content  # never silently replaced


def test_key_of_another_kind_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    settings.signing_key_path.parent.mkdir(parents=True)
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    settings.signing_key_path.write_bytes(other)
    with pytest.raises(SigningKeyError, match="is not an Ed25519 private key") as raised:
        CertificateSigner.load_or_create(settings)
    assert str(settings.signing_key_path) in str(raised.value)
