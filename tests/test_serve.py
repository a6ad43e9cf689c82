"""`boothcloud serve` as a user runs it: a real process, one or two workers on one SQLite file.

Walks a booth through the whole flow over real HTTP: create customer, register printer,
log photo, upload through the presigned URL, claim, download the same bytes, complete.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.live import free_port


@pytest.fixture(params=[1, 2], ids=["one-worker", "two-workers"])
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BOOTHCLOUD_")},
        "BOOTHCLOUD_DATA_DIR": str(tmp_path / "data"),
        "BOOTHCLOUD_ADMIN_TOKEN": ADMIN_TOKEN,
        "BOOTHCLOUD_ENVIRONMENT": "test",
        "BOOTHCLOUD_BACKUP_ENABLED": "false",
    }
    command = [
        sys.executable,
        "-m",
        "boothcloud",
        "serve",
        "--migrate",
        "--port",
        str(port),
        "--workers",
        str(request.param),
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                raise RuntimeError(f"serve did not become ready:\n{output}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_booth_flow_over_real_http(served: str) -> None:
    with httpx.Client(base_url=served, timeout=10) as http:
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
        assert photo["upload_url"].startswith(f"{served}/objects/photos/{customer['id']}/")
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
