"""The booth's whole flow on both object stores: register a printer, log a photo, upload
to the presigned URL, claim it, download it, complete it, erase it."""

from __future__ import annotations

from tests.conftest import ADMIN, create_customer, license_auth
from tests.storage.conftest import Backend


async def test_booth_flow(backend: Backend) -> None:
    customer = await create_customer(backend.api)
    booth = license_auth(customer["license_key"])
    api = backend.api
    printer = await api.post(
        "/api/printers",
        json={"name": "DNP RX1", "type": "dye-sublimation", "connection_type": "usb"},
        headers=booth,
    )
    assert printer.status_code == 201, printer.text
    logged = await api.post("/api/photos", json={}, headers=booth)
    assert logged.status_code == 201, logged.text
    photo = logged.json()
    assert photo["r2_key"].startswith(f"photos/{customer['id']}/")
    body = b"\xff\xd8jpeg bytes\xff\xd9"
    uploaded = await backend.http.put(photo["upload_url"], content=body)
    assert uploaded.status_code == 200, uploaded.text

    claimed = await api.post(f"/api/printers/{printer.json()['id']}/claim", headers=booth)
    assert claimed.status_code == 200
    assert claimed.json()["id"] == photo["id"]
    assert (await backend.http.get(claimed.json()["download_url"])).content == body

    done = await api.patch(
        f"/api/photos/{photo['id']}", json={"print_status": "completed"}, headers=booth
    )
    assert done.json()["print_status"] == "completed"

    erased = await api.delete(f"/api/photos/{photo['id']}", headers=ADMIN)
    assert erased.status_code == 204
    assert await backend.store.head(photo["r2_key"]) is None
    assert (await api.get(f"/api/photos/{photo['id']}", headers=booth)).status_code == 404
