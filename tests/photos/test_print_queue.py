"""The print queue: the full transition matrix, the atomic claim under a race, and the
recovery of prints stuck in `printing`."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import httpx
import pytest

from boothcloud.db.base import Statement
from boothcloud.deps import Services
from boothcloud.photos.service import requeue_stuck
from tests.conftest import create_customer, license_auth
from tests.photos.helpers import JPEG, add_photo, add_printer

STATUSES = ("pending", "printing", "completed", "failed")
ALLOWED = {("pending", "printing"), ("printing", "completed"), ("printing", "failed")}
ALLOWED |= {("failed", "pending")}
# How to bring a new (pending) photo to each status through the API itself.
PATH_TO = {
    "pending": [],
    "printing": ["printing"],
    "completed": ["printing", "completed"],
    "failed": ["printing", "failed"],
}


@pytest.mark.parametrize(("start", "target"), list(itertools.product(STATUSES, STATUSES)))
async def test_transition_matrix(
    client: httpx.AsyncClient, booth: dict[str, str], start: str, target: str
) -> None:
    photo = await add_photo(client, booth)
    path = f"/api/photos/{photo['id']}"
    for step in PATH_TO[start]:
        moved = await client.patch(path, json={"print_status": step}, headers=booth)
        assert moved.status_code == 200, moved.text
    response = await client.patch(path, json={"print_status": target}, headers=booth)
    if (start, target) in ALLOWED:
        assert response.status_code == 200, response.text
        assert response.json()["print_status"] == target
        assert (response.json()["claimed_at"] is not None) == (
            target == "printing" or start == "printing"
        )
    else:
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "INVALID_TRANSITION"
        current = (await client.get(path, headers=booth)).json()
        assert current["print_status"] == start


async def test_concurrent_transitions_apply_once(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    photo = await add_photo(client, booth)
    path = f"/api/photos/{photo['id']}"
    responses = await asyncio.gather(
        *(client.patch(path, json={"print_status": "printing"}, headers=booth) for _ in range(10))
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 9


async def test_claim_takes_oldest_for_this_printer_or_unassigned(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str]
) -> None:
    first = await add_printer(client, booth, "A")
    second = await add_printer(client, booth, "B")
    for_second = await add_photo(client, booth, printer_id=second["id"])
    unassigned = await add_photo(client, booth)
    await services.db.execute(
        "UPDATE photos SET created_at = '2020-01-01 00:00:00' WHERE id = ?", (for_second["id"],)
    )
    claim = f"/api/printers/{first['id']}/claim"
    taken = await client.post(claim, headers=booth)
    assert taken.status_code == 200
    assert taken.json()["id"] == unassigned["id"]  # the older one belongs to printer B
    assert taken.json()["printer_id"] == first["id"]
    assert taken.json()["print_status"] == "printing"
    assert taken.json()["download_url"]
    assert (await client.post(claim, headers=booth)).status_code == 204
    other = await client.post(f"/api/printers/{second['id']}/claim", headers=booth)
    assert other.json()["id"] == for_second["id"]


async def test_claim_is_for_booths_on_their_own_printers(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    from tests.conftest import ADMIN

    stranger = await create_customer(client)
    theirs = await add_printer(client, license_auth(stranger["license_key"]))
    assert (
        await client.post(f"/api/printers/{theirs['id']}/claim", headers=booth)
    ).status_code == 404
    assert (await client.post("/api/printers/prt_nope/claim", headers=booth)).status_code == 404
    assert (
        await client.post(f"/api/printers/{theirs['id']}/claim", headers=ADMIN)
    ).status_code == 403


async def test_claim_race_each_uploaded_photo_exactly_once(
    client: httpx.AsyncClient, services: Services, customer: dict[str, Any], booth: dict[str, str]
) -> None:
    """8 claimers (two per printer) race over 2000 photos, a third of them never
    uploaded and interleaved with the rest: every uploaded photo is claimed exactly once,
    by a printer it may go to, and no photo without its object is ever handed out."""
    printers = [(await add_printer(client, booth, f"P{i}"))["id"] for i in range(4)]
    total = 2000
    assigned: dict[str, str | None] = {}
    waiting: set[str] = set()
    rows: list[Statement] = []
    for i in range(total):
        photo_id = str(uuid.uuid4())
        printer = printers[i % 5] if i % 5 < 4 else None
        uploaded = i % 3 != 0
        (assigned.__setitem__(photo_id, printer) if uploaded else waiting.add(photo_id))
        rows.append(
            Statement(
                "INSERT INTO photos (id, customer_id, r2_key, printer_id, created_at, "
                "uploaded_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    photo_id,
                    customer["id"],
                    f"photos/{customer['id']}/race/{photo_id}.jpg",
                    printer,
                    f"2026-01-01 00:{i // 60 % 60:02d}:{i % 60:02d}",
                    "2026-01-01 01:00:00" if uploaded else None,
                ),
            )
        )
    await services.db.batch(rows)  # one atomic bulk insert

    async def claimer(printer_id: str) -> list[str]:
        got: list[str] = []
        while True:
            response = await client.post(f"/api/printers/{printer_id}/claim", headers=booth)
            if response.status_code == 204:
                return got
            assert response.status_code == 200, response.text
            assert response.json()["printer_id"] == printer_id
            assert response.json()["uploaded_at"] is not None
            got.append(response.json()["id"])

    claimers = [printers[i % 4] for i in range(8)]  # 8 claimers, two per printer
    results = await asyncio.gather(*(claimer(p) for p in claimers))
    claimed = [photo for got in results for photo in got]
    assert len(claimed) == len(assigned)
    assert set(claimed) == set(assigned)  # every uploaded photo, and none twice
    for printer_id, got in zip(claimers, results, strict=True):
        for photo_id in got:
            assert assigned[photo_id] in (None, printer_id)
    left = await services.db.fetch_all(
        "SELECT id FROM photos WHERE print_status != 'printing' OR uploaded_at IS NULL"
    )
    assert {row["id"] for row in left} == waiting  # still pending, untouched


async def test_two_claimers_never_get_a_photo_without_its_object(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    """Issue #12's reproduction: two claimers on one printer while photos are logged and
    only some uploaded. Each download_url of a claim answers the photo's bytes."""
    printer = await add_printer(client, booth)
    uploaded = [await add_photo(client, booth) for _ in range(6)]
    never = [await add_photo(client, booth, uploaded=False) for _ in range(6)]
    claim = f"/api/printers/{printer['id']}/claim"

    async def claimer() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        while (response := await client.post(claim, headers=booth)).status_code == 200:
            got.append(response.json())
        assert response.status_code == 204, response.text
        return got

    first, second = await asyncio.gather(claimer(), claimer())
    jobs = first + second
    assert sorted(j["id"] for j in jobs) == sorted(p["id"] for p in uploaded)
    for job in jobs:
        download = await client.get(job["download_url"])
        assert download.status_code == 200, download.text
        assert download.content == JPEG
    for photo in never:
        current = await client.get(f"/api/photos/{photo['id']}", headers=booth)
        assert (current.json()["print_status"], current.json()["uploaded_at"]) == (
            "pending",
            None,
        )


async def test_printing_needs_the_upload(client: httpx.AsyncClient, booth: dict[str, str]) -> None:
    """A manual `pending -> printing` is a claim by hand: it needs the object too."""
    photo = await add_photo(client, booth, uploaded=False)
    path = f"/api/photos/{photo['id']}"
    refused = await client.patch(path, json={"print_status": "printing"}, headers=booth)
    assert refused.status_code == 409
    assert refused.json()["code"] == "NOT_UPLOADED"
    await client.put(photo["upload_url"], content=JPEG)
    moved = await client.patch(path, json={"print_status": "printing"}, headers=booth)
    assert moved.status_code == 200, moved.text


async def test_stuck_prints_return_to_pending(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str]
) -> None:
    printer = await add_printer(client, booth)
    crashed = await add_photo(client, booth)
    fresh = await add_photo(client, booth)
    claim = f"/api/printers/{printer['id']}/claim"
    assert (await client.post(claim, headers=booth)).json()["id"] == crashed["id"]
    assert (await client.post(claim, headers=booth)).json()["id"] == fresh["id"]
    assert (await client.post(claim, headers=booth)).status_code == 204
    await services.db.execute(
        "UPDATE photos SET claimed_at = '2020-01-01 00:00:00' WHERE id = ?", (crashed["id"],)
    )
    # the claim path itself recovers the crashed booth's print
    again = await client.post(claim, headers=booth)
    assert again.json()["id"] == crashed["id"]
    # and so does the background job, for customers whose booths are all down
    await services.db.execute(
        "UPDATE photos SET claimed_at = '2020-01-01 00:00:00' WHERE id = ?", (fresh["id"],)
    )
    assert await requeue_stuck(services.db, services.settings) == 1
    current = await client.get(f"/api/photos/{fresh['id']}", headers=booth)
    assert current.json()["print_status"] == "pending"
    assert current.json()["claimed_at"] is None
