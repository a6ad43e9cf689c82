"""Small factories for photo and printer tests, all through the real API."""

from __future__ import annotations

from typing import Any

import httpx

# A few bytes are enough: the server checks size and type, not the picture.
JPEG = b"\xff\xd8\xff\xe0 test photo \xff\xd9"


async def add_printer(
    client: httpx.AsyncClient, headers: dict[str, str], name: str = "Printer", **fields: Any
) -> dict[str, Any]:
    body = {"name": name, "type": "dye-sublimation", "connection_type": "usb", **fields}
    response = await client.post("/api/printers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    printer: dict[str, Any] = response.json()
    return printer


async def add_photo(
    client: httpx.AsyncClient, headers: dict[str, str], *, uploaded: bool = True, **fields: Any
) -> dict[str, Any]:
    """Log a photo and, when the server chose its key and `uploaded`, upload its bytes to
    the presigned URL (the local store, served by the app: that marks it uploaded)."""
    response = await client.post("/api/photos", json=fields, headers=headers)
    assert response.status_code == 201, response.text
    photo: dict[str, Any] = response.json()
    if uploaded and photo["upload_url"]:
        put = await client.put(
            photo["upload_url"], content=JPEG, headers={"Content-Type": "image/jpeg"}
        )
        assert put.status_code == 200, put.text
    return photo
