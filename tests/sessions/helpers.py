"""Factories for session tests, all through the real API."""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image

from tests.photos.helpers import add_photo

_device = 0
_devices: dict[str, str] = {}


def jpeg(seed: int, size: tuple[int, int] = (640, 480)) -> bytes:
    """A real JPEG, different for each seed (the gallery derives thumbnails from it)."""
    image = Image.new("RGB", size, ((seed * 47) % 256, (seed * 91) % 256, (seed * 13) % 256))
    image.paste(
        (255 - seed % 256, 40, 90), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2)
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


async def activate(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    global _device
    _device += 1
    response = await client.post(
        "/api/licenses/activations",
        json={"fingerprint": f"booth-device-{_device:04d}", "name": f"Booth {_device}"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    activation: dict[str, Any] = response.json()
    return activation


async def open_session(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    activation_id: str | None = None,
    **body: Any,
) -> dict[str, Any]:
    if activation_id is None:  # the booth's first device (starter allows one)
        known = _devices.get(headers["Authorization"])
        activation_id = known or (await activate(client, headers))["id"]
        _devices[headers["Authorization"]] = activation_id
    response = await client.post(
        "/api/sessions", json={"activation_id": activation_id, **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    session: dict[str, Any] = response.json()
    return session


async def add_session_photo(
    client: httpx.AsyncClient, headers: dict[str, str], session_id: str, data: bytes
) -> dict[str, Any]:
    """A photo of the session, its real JPEG bytes uploaded to the presigned URL."""
    photo = await add_photo(client, headers, uploaded=False, session_id=session_id)
    put = await client.put(
        photo["upload_url"], content=data, headers={"Content-Type": "image/jpeg"}
    )
    assert put.status_code == 200, put.text
    return photo
