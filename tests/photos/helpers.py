"""Small factories for photo and printer tests, all through the real API."""

from __future__ import annotations

from typing import Any

import httpx


async def add_printer(
    client: httpx.AsyncClient, headers: dict[str, str], name: str = "Printer", **fields: Any
) -> dict[str, Any]:
    body = {"name": name, "type": "dye-sublimation", "connection_type": "usb", **fields}
    response = await client.post("/api/printers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    printer: dict[str, Any] = response.json()
    return printer


async def add_photo(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    response = await client.post("/api/photos", json=fields, headers=headers)
    assert response.status_code == 201, response.text
    photo: dict[str, Any] = response.json()
    return photo
