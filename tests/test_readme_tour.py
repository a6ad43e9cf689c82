"""The README's tour, run literally: every ```sh tour block, in order, in one bash.

It runs against `boothcloud serve` as a user starts it (a real process on the embedded
default, development settings) and the local Xendit test server delivering callbacks, so
a README that drifts from what runs fails here. Afterwards the API must show what the
tour's comments promise.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.fakes.xendit_server import SECRET_KEY, RunningFake
from tests.live import serve_process

README = Path(__file__).resolve().parents[1] / "README.md"
DEV_ADMIN = {"Authorization": "Bearer dev-admin-token"}


def jpeg() -> bytes:
    """A real JPEG: the gallery derives its thumbnail from it."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


def tour_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh tour\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`boothcloud serve` with the development defaults the tour names, and the local Xendit
    server delivering its callbacks to it."""
    running = RunningFake()
    fake = running.start()
    try:
        with serve_process(
            tmp_path / "data",
            environment="development",
            admin_token="dev-admin-token",
            xendit_secret_key=SECRET_KEY,
            xendit_base_url=fake.url,
        ) as server:
            fake.webhook_url = f"{server.url}/api/webhooks/xendit"
            fake.callback_token = "dev-xendit-callback-token"
            yield server.url, fake.url
    finally:
        running.stop()


def test_readme_has_a_tour() -> None:
    blocks = tour_blocks(README.read_text())
    assert len(blocks) >= 4
    assert any("license-key" in block for block in blocks)


def test_the_tour_runs_as_written(served: tuple[str, str], tmp_path: Path) -> None:
    base, xendit = served
    work = tmp_path / "tour"
    work.mkdir()
    photo_bytes = jpeg()
    (work / "photo.jpg").write_bytes(photo_bytes)
    script = "set -euo pipefail\n" + "\n".join(tour_blocks(README.read_text()))
    env = {**os.environ, "BASE": base, "XENDIT": xendit}
    done = subprocess.run(
        ["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"

    # What the tour's comments promise, read back through the API.
    with httpx.Client(base_url=base, headers=DEV_ADMIN) as http:
        [customer] = http.get("/api/customers").json()["items"]
        assert customer["license_type"] == "pro"
        payments = {p["method"]: p for p in http.get("/api/payments").json()["items"]}
        invoice, qris = payments["invoice"], payments["qris"]
        assert (invoice["status"], invoice["platform_fee"], invoice["net_amount"]) == (
            "completed",
            750,
            24250,
        )
        assert qris["status"] == "completed"
        photos = http.get("/api/photos").json()["items"]
        assert sorted(p["print_status"] for p in photos) == ["completed", "pending"]
        assert all(p["uploaded_at"] for p in photos)
        [session] = http.get("/api/sessions").json()["items"]
        assert session["status"] == "closed"
        assert [p["session_id"] for p in photos].count(session["id"]) == 1
        assert len(http.get("/api/admin/backups").json()["items"]) == 1
        old_key_answer = re.search(r'"code":\s*"NOT_FOUND"', done.stdout)
        assert old_key_answer, "validating the rotated-away key must say NOT_FOUND"
    assert (work / "print.jpg").read_bytes() == photo_bytes
    assert "<svg" in (work / "qr.svg").read_text()
    assert "<svg" in (work / "pay.svg").read_text()
    assert '"status":"completed"' in (work / "waited.json").read_text()
    assert (work / "gallery.html").read_text().count("<img") == 1
    assert (work / "boothcloud-public-key.pem").read_text().startswith("-----BEGIN PUBLIC KEY")
