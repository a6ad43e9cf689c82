"""Retention and housekeeping with an injected clock: ended galleries lose their objects
(originals and thumbnails), queued and printing photos are never touched, rows and
counts stay; open sessions the booth never closed become abandoned."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from boothcloud.deps import Services
from boothcloud.sessions.retention import abandon_stale, purge_expired
from boothcloud.sessions.thumbnails import thumbnail_key
from boothcloud.timeutil import utcnow
from tests.conftest import ADMIN
from tests.photos.helpers import add_printer
from tests.sessions.helpers import add_session_photo, jpeg, open_session


async def _stats(client: httpx.AsyncClient, customer_id: str) -> dict[str, Any]:
    today = utcnow().date().isoformat()
    response = await client.get(
        "/api/sessions/stats",
        params={"from": today, "to": today, "customer_id": customer_id},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    assert len(items) == 1
    return items[0]


async def test_expired_galleries_are_purged_but_queued_prints_are_not(
    client: httpx.AsyncClient, booth: dict[str, str], customer: dict[str, Any], services: Services
) -> None:
    printer = await add_printer(client, booth)
    session = await open_session(client, booth)
    done, printing, queued = [
        await add_session_photo(client, booth, session["id"], jpeg(n)) for n in range(3)
    ]
    assert (await client.get(f"/s/{session['share_code']}")).status_code == 200  # thumbnails

    async def claim() -> str:
        claimed = await client.post(f"/api/printers/{printer['id']}/claim", headers=booth)
        return str(claimed.json()["id"])

    async def mark(photo: dict[str, Any], status: str) -> None:
        path = f"/api/photos/{photo['id']}"
        answer = await client.patch(path, json={"print_status": status}, headers=booth)
        assert answer.status_code == 200, answer.text

    # done: printed; printing: claimed by the printer; queued: still waiting to print
    assert await claim() == done["id"]
    await mark(done, "completed")
    assert await claim() == printing["id"]
    counts_before = await _stats(client, customer["id"])

    store = services.store
    keys = {p["id"]: (p["r2_key"], thumbnail_key(p["r2_key"])) for p in (done, queued, printing)}
    now = utcnow()
    nothing = await purge_expired(services.db, store, now + timedelta(days=6))
    assert nothing.photos == 0  # starter: 7 days
    purged = await purge_expired(services.db, store, now + timedelta(days=8))
    assert purged.photos == 1
    assert purged.objects == 2
    assert purged.sessions == 0
    for key in keys[done["id"]]:
        assert await store.head(key) is None
    for photo in (queued, printing):
        for key in keys[photo["id"]]:
            assert await store.head(key) is not None
    read = (await client.get(f"/api/photos/{done['id']}", headers=booth)).json()
    assert read["purged_at"] is not None
    assert read["download_url"] is None
    # (the real clock has not moved: the page still answers, without the purged photo)
    page = await client.get(f"/s/{session['share_code']}")
    assert page.text.count('class="thumb"') == 2
    assert await _stats(client, customer["id"]) == {
        **counts_before,
        "gallery_opens": counts_before["gallery_opens"] + 1,
    }

    # Once the prints are done, the next run purges the rest and the gallery is purged.
    await mark(printing, "completed")
    assert await claim() == queued["id"]
    await mark(queued, "failed")
    rest = await purge_expired(services.db, store, now + timedelta(days=8))
    assert rest.photos == 2
    assert rest.sessions == 1
    for photo_keys in keys.values():
        for key in photo_keys:
            assert await store.head(key) is None
    after = (await client.get(f"/api/sessions/{session['id']}", headers=ADMIN)).json()
    assert after["purged_at"] is not None
    extend = await client.patch(
        f"/api/sessions/{session['id']}",
        json={"expires_at": (now + timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")},
        headers=ADMIN,
    )
    assert extend.status_code == 409
    assert extend.json()["code"] == "GALLERY_PURGED"
    listed = (await client.get("/api/photos", headers=booth)).json()["items"]
    assert len(listed) == 3  # rows stay for accounting
    stats = await _stats(client, customer["id"])
    assert stats["photos"] == 3
    assert stats["prints"] == 2  # done and printing completed; queued failed


async def test_a_revoked_gallery_is_purged_at_the_next_run(
    client: httpx.AsyncClient, booth: dict[str, str], services: Services
) -> None:
    session = await open_session(client, booth)
    photo = await add_session_photo(client, booth, session["id"], jpeg(5))
    await services.db.execute(
        "UPDATE photos SET print_status = 'completed' WHERE id = ?", (photo["id"],)
    )
    await client.patch(f"/api/sessions/{session['id']}", json={"revoked": True}, headers=ADMIN)
    purged = await purge_expired(services.db, services.store, utcnow())
    assert purged.sessions == 1
    assert await services.store.head(photo["r2_key"]) is None


async def test_open_sessions_are_abandoned_after_the_timeout(
    client: httpx.AsyncClient, booth: dict[str, str], services: Services
) -> None:
    stale = await open_session(client, booth)
    closed = await open_session(client, booth)
    await client.patch(f"/api/sessions/{closed['id']}", json={"status": "closed"}, headers=booth)
    now = utcnow()
    assert await abandon_stale(services.db, services.settings, now + timedelta(minutes=60)) == 0
    assert await abandon_stale(services.db, services.settings, now + timedelta(minutes=121)) == 1
    statuses = {
        s["id"]: s["status"]
        for s in (await client.get("/api/sessions", headers=booth)).json()["items"]
    }
    assert statuses == {stale["id"]: "abandoned", closed["id"]: "closed"}
    refused = await client.patch(
        f"/api/sessions/{stale['id']}", json={"status": "closed"}, headers=booth
    )
    assert refused.status_code == 409


async def test_stats_count_sessions_photos_prints_opens_and_downloads(
    client: httpx.AsyncClient, booth: dict[str, str], customer: dict[str, Any]
) -> None:
    first = await open_session(client, booth)
    await open_session(client, booth)
    photo = await add_session_photo(client, booth, first["id"], jpeg(1))
    await add_session_photo(client, booth, first["id"], jpeg(2))
    for _ in range(2):
        await client.get(f"/s/{first['share_code']}")
    await client.get(f"/s/{first['share_code']}/photos/{photo['id']}")
    await client.get(f"/s/{first['share_code']}/download.zip")
    await client.get("/s/not-a-code")  # counts nothing
    stats = await _stats(client, customer["id"])
    assert stats == {
        "customer_id": customer["id"],
        "day": utcnow().date().isoformat(),
        "sessions": 2,
        "paid_sessions": 0,
        "photos": 2,
        "prints": 0,
        "gallery_opens": 2,
        "downloads": 2,
    }
    own = await client.get(
        "/api/sessions/stats",
        params={"from": stats["day"], "to": stats["day"], "customer_id": "cus_other"},
        headers=booth,
    )
    assert [i["customer_id"] for i in own.json()["items"]] == [customer["id"]]
    backwards = await client.get(
        "/api/sessions/stats", params={"from": "2026-02-02", "to": "2026-02-01"}, headers=ADMIN
    )
    assert backwards.status_code == 422
    # customer_id is an id, as on every other list (pagination.CustomerQuery).
    not_an_id = await client.get(
        "/api/sessions/stats",
        params={"from": stats["day"], "to": stats["day"], "customer_id": "cus x;--"},
        headers=ADMIN,
    )
    assert not_an_id.status_code == 422
    assert [e["field"] for e in not_an_id.json()["errors"]] == ["customer_id"]
    # The range's end is the next midnight: the calendar's last day has none.
    last_day = await client.get(
        "/api/sessions/stats", params={"from": "9999-12-30", "to": "9999-12-31"}, headers=ADMIN
    )
    assert last_day.status_code == 422, last_day.text
    assert [e["field"] for e in last_day.json()["errors"]] == ["to"]
    day_before = await client.get(
        "/api/sessions/stats", params={"from": "9999-12-30", "to": "9999-12-30"}, headers=ADMIN
    )
    assert (day_before.status_code, day_before.json()["items"]) == (200, [])
