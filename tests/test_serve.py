"""`boothcloud serve` as a user runs it: a real process, one or two workers on one SQLite file.

Walks a booth through the whole flow over real HTTP: create customer, register printer,
log photo, upload through the presigned URL, claim, download the same bytes, complete;
then reads what the server printed: no URL signature, license key or admin token in it.
Also: failed authentication is limited per client, and rotating `X-Forwarded-For` does not
buy a fresh limit unless the proxy is trusted.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.live import Served, serve_process


@pytest.fixture(params=[1, 2], ids=["one-worker", "two-workers"])
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Served]:
    with serve_process(tmp_path / "data", workers=request.param) as server:
        yield server


def signature(url: str) -> str:
    return parse_qs(urlsplit(url).query)["signature"][0]


def test_booth_flow_over_real_http(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=10) as http:
        customer = http.post(
            "/api/customers", json={"name": "Mall", "email": "m@example.com"}, headers=ADMIN
        ).json()
        booth = {"Authorization": f"License {customer['license_key']}"}
        printer = http.post(
            "/api/printers",
            json={"name": "DNP", "type": "dye-sublimation", "connection_type": "usb"},
            headers=booth,
        ).json()
        assert printer["is_default"] is True
        photo = http.post("/api/photos", json={"id": str(uuid.uuid4())}, headers=booth).json()
        assert photo["upload_url"].startswith(f"{served.url}/objects/photos/{customer['id']}/")
        image = os.urandom(200_000)
        assert httpx.put(photo["upload_url"], content=image).status_code in (200, 201, 204)
        job = http.post(f"/api/printers/{printer['id']}/claim", headers=booth)
        assert job.status_code == 200
        assert job.json()["id"] == photo["id"]
        assert httpx.get(job.json()["download_url"]).content == image
        done = http.patch(
            f"/api/photos/{photo['id']}", json={"print_status": "completed"}, headers=booth
        )
        assert done.json()["print_status"] == "completed"
        assert http.post(f"/api/printers/{printer['id']}/claim", headers=booth).status_code == 204
    output = served.stop()
    # The signed requests were logged (redacted), and no secret is in any line.
    assert f"method=PUT path=/objects/photos/{customer['id']}/" in output
    assert "?[redacted]" in output
    for secret in (
        signature(photo["upload_url"]),
        signature(job.json()["download_url"]),
        customer["license_key"],
        ADMIN_TOKEN,
    ):
        assert secret not in output
    assert "signature=" not in output


def wrong_tokens(served: Served, addresses: list[str]) -> list[httpx.Response]:
    """One wrong admin token from each claimed address, over one real connection."""
    with httpx.Client(base_url=served.url, timeout=10) as http:
        return [
            http.get(
                "/api/customers",
                headers={"Authorization": "Bearer wrong-admin-token", "X-Forwarded-For": ip},
            )
            for ip in addresses
        ]


ROTATED = [f"203.0.113.{n}" for n in range(1, 7)]


def test_rotating_forwarded_for_does_not_bypass_the_failure_limit(tmp_path: Path) -> None:
    real_token = "a-real-admin-token-that-is-long-enough-0123456789"
    with serve_process(
        tmp_path / "data",
        environment="development",
        admin_token=real_token,
        auth_failure_limit_per_minute="3",
    ) as served:
        answers = wrong_tokens(served, ROTATED)
        assert [r.status_code for r in answers] == [401, 401, 401, 429, 429, 429]
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert answers[-1].headers["content-type"] == "application/problem+json"
        output = served.stop()
    # Development with a real token: serve does not print it.
    assert "boothcloud on http://" in output
    assert real_token not in output


def test_forwarded_for_counts_from_a_trusted_proxy(tmp_path: Path) -> None:
    with serve_process(
        tmp_path / "data", forwarded_allow_ips="127.0.0.1", auth_failure_limit_per_minute="3"
    ) as served:
        same = wrong_tokens(served, ["198.51.100.7"] * 4)
        assert [r.status_code for r in same] == [401, 401, 401, 429]
        other = wrong_tokens(served, ["198.51.100.8"])
        assert other[0].status_code == 401
