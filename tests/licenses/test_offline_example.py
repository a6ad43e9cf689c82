"""The documented offline check (docs/examples/verify_certificate.py) works as documented."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx

from tests.conftest import create_customer, license_auth

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "verify_certificate.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_certificate", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_documented_offline_check(client: httpx.AsyncClient, tmp_path: Path) -> None:
    customer = await create_customer(client)
    activation = (
        await client.post(
            "/api/licenses/activations",
            json={"fingerprint": "booth-pc-0001"},
            headers=license_auth(customer["license_key"]),
        )
    ).json()
    pem = (await client.get("/api/licenses/public-key")).json()["public_key_pem"]
    check = load_example().check_offline
    certificate = activation["certificate"]
    claims = check(certificate, pem, "booth-pc-0001")[2]
    assert check(certificate, pem, "booth-pc-0001")[:2] == (True, "valid")
    assert check(certificate, pem, "other-machine")[0] is False
    assert check(certificate, pem, "booth-pc-0001", now=claims["exp"] + 1)[:2] == (
        True,
        "in grace period: refresh when online",
    )
    assert check(certificate, pem, "booth-pc-0001", now=claims["grace_until"] + 1)[0] is False
    # One character of the signature changed (a whole 6 bits, well before its last
    # character, whose spare bits the decoder ignores: `[:-3] + "AAA"` was 1 in 16,384
    # times the same signature).
    at = len(certificate) - 10
    flipped = "B" if certificate[at] == "A" else "A"
    assert (
        check(certificate[:at] + flipped + certificate[at + 1 :], pem, "booth-pc-0001")[0] is False
    )

    (tmp_path / "key.pem").write_text(pem)
    (tmp_path / "cert.txt").write_text(certificate)
    run = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            str(EXAMPLE),
            str(tmp_path / "key.pem"),
            str(tmp_path / "cert.txt"),
            "booth-pc-0001",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (run.returncode, run.stdout.strip()) == (0, "valid")
